"""The reports' own app and worker on their own task queue, and a few onboardings in known stages.

Funnel counts are per task queue (the deployment's runs), so a queue of their own lets the tests
check them exactly while other tests start onboardings on theirs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from temporalio.client import Client

from kickoff.api import create_app
from kickoff.mailcatcher import MailCatcher
from kickoff.worker import create_worker
from tests.api.conftest import Kickoff
from tests.conftest import Api, api_settings, serve_app
from tests.support import days_ahead

MEETING = {"meeting_at": days_ahead(3, 10).isoformat()}  # 10:00 in Stockholm three days from now
COMPLETED = {"outcome": "completed", "segment": "B", "owner": "Sara Lind"}


@pytest.fixture(scope="module")
async def reports_api(
    dev_server: Client, smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """The API and a worker on a task queue only this module's tests use."""
    settings = api_settings(f"reports-{uuid.uuid4().hex}", tmp_path_factory.mktemp("reports"), smtp)
    async with (
        create_worker(dev_server, settings),
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
    ):
        yield Api(http=http, settings=settings, client=dev_server)


@dataclass(frozen=True)
class Scenario:
    """Six assist-se onboardings and where each one is."""

    waiting: str
    """In onboarding (entered new, left it for onboarding at once)."""
    parked: str
    """Parked: manual_follow_up."""
    booked: str
    """Meeting booked: the run completed in closed, its kick-off outcome awaited."""
    finished: str
    """Booked and the kick-off recorded as completed: the run completed in closed."""
    restarted: str
    """Booked, then a no-show: cycle 2 in onboarding (a new run of the same id)."""
    restarted_after_completion: str
    """Booked, completed, then restarted: a completed run and a newer one (cycle 2, onboarding)
    under the same workflow id."""


async def _book(kickoff: Kickoff, oid: str) -> None:
    response = await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)
    assert response.status_code == 202, response.text
    await kickoff.until(oid, lambda s: s["stage"] == "closed")


async def _parked(kickoff: Kickoff) -> str:
    oid = await kickoff.start()
    response = await kickoff.post(f"/onboardings/{oid}/park", {"reason": "x"})
    assert response.status_code == 202, response.text
    await kickoff.until(oid, lambda s: s["stage"] == "manual_follow_up")
    return oid


async def _booked(kickoff: Kickoff) -> str:
    oid = await kickoff.start()
    await _book(kickoff, oid)
    return oid


async def _finished(kickoff: Kickoff) -> str:
    oid = await _booked(kickoff)
    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", COMPLETED)
    assert response.status_code == 202, response.text
    await kickoff.until(oid, lambda s: s["status"] == "completed")
    return oid


async def _restarted(kickoff: Kickoff, after_completion: bool = False) -> str:
    oid = await (_finished(kickoff) if after_completion else _booked(kickoff))
    response = await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "no_show"})
    assert response.status_code == 202, response.text
    await kickoff.until(oid, lambda s: s["cycle"] == 2 and s["stage"] == "onboarding")
    return oid


@pytest.fixture(scope="module")
async def scenario(reports_api: Api, smtp: MailCatcher) -> AsyncIterator[Scenario]:
    """Starts the six onboardings (concurrently) and terminates what is still running afterwards."""
    kickoff = Kickoff(reports_api, smtp)
    try:
        ids = await asyncio.gather(
            kickoff.start(),
            _parked(kickoff),
            _booked(kickoff),
            _finished(kickoff),
            _restarted(kickoff),
            _restarted(kickoff, after_completion=True),
        )
        yield Scenario(*ids)
    finally:
        await kickoff.terminate_started()
