"""The ``kickoff`` fixture: the served API plus helpers to start runs, act on them and wait for state."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.api import create_app
from kickoff.db import Database
from kickoff.mailcatcher import MailCatcher
from kickoff.worker import WORKFLOW_RUNNER, create_worker
from tests.conftest import Api, api_settings, serve_app
from tests.support import (
    EarlierRelease,
    contract_payload,
    days_ahead,
    eventually,
    kickoff_activities,
    local_today,
)

# A month before today, so the run moves to `onboarding` and sends its welcome mail at once.
PAST_DELIVERY = (local_today() - timedelta(days=30)).isoformat()
TEAM_EMAIL = "onboarding-team@assist.example"
NO_ANSWER = "Inget svar – försök till kontakt för onboarding"
# How each template's mail is recognised in the SMTP catcher (the rendered subject's start).
SUBJECTS = {
    "welcome": "Välkommen till Assist",
    "booking_reminder": "Påminnelse: boka ert uppstartsmöte",
    "kickoff_booked": "Uppstartsmöte bokat",
}
# A kick-off booked for 10:00 in Stockholm three days from now.
MEETING = {"meeting_at": days_ahead(3, 10).isoformat()}

State = dict[str, Any]


def templates(state: State) -> list[str]:
    """The templates of the mails a run has recorded as sent, in order."""
    return [mail["template"] for mail in state["emails"]]


def events(state: State) -> list[str]:
    return [entry["event"] for entry in state["timeline"]]


@dataclass
class Kickoff:
    """The API under test, the SMTP catcher, and the onboardings this test started."""

    api: Api
    smtp: MailCatcher
    started: list[str] = field(default_factory=list)

    @property
    def http(self) -> httpx.AsyncClient:
        return self.api.http

    async def submit(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        """POST a correctly signed contract (unless ``kwargs`` say otherwise)."""
        response = await self.api.post_contract(payload, **kwargs)
        if response.status_code in (200, 202):
            self.started.append(response.json()["id"])
        return response

    async def start(self, **overrides: Any) -> str:
        """Start an onboarding and wait until it is in `onboarding` with its welcome mail sent."""
        response = await self.submit(contract_payload(**{"delivery_start": PAST_DELIVERY, **overrides}))
        assert response.status_code == 202, response.text
        oid: str = response.json()["id"]
        await self.until(oid, lambda s: s["stage"] == "onboarding" and "welcome" in templates(s))
        return oid

    async def book(self, oid: str, meeting: dict[str, Any] | None = None) -> State:
        """Book the kick-off: the run moves to `closed`, mails the team and completes (a run of
        the earlier release waits there); either way the outcome is awaited."""
        response = await self.post(f"/onboardings/{oid}/meeting-booked", meeting or MEETING)
        assert response.status_code == 202, response.text
        assert response.json() == {"id": oid, "stage": "closed"}
        return await self.until(oid, lambda s: s["awaiting_outcome"])

    async def record_completed(self, oid: str, segment: str = "B", owner: str = "Sara Lind") -> State:
        """The booked kick-off was held: record it (segment and advisor); the run has completed."""
        body = {"outcome": "completed", "segment": segment, "owner": owner}
        response = await self.post(f"/onboardings/{oid}/kickoff-outcome", body)
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert (accepted["id"], accepted["outcome"], accepted["stage"]) == (oid, "completed", "closed")
        state = await self.until(oid, lambda s: s["status"] == "completed")
        assert accepted["cycle"] == state["cycle"]
        recorded = state["kickoff_outcome"]
        assert (recorded["outcome"], recorded["segment"], recorded["owner"]) == ("completed", segment, owner)
        return state

    async def close(self, oid: str, meeting: dict[str, Any] | None = None) -> State:
        """A finished onboarding: book the kick-off, record it as held, wait until completed."""
        response = await self.post(f"/onboardings/{oid}/meeting-booked", meeting or MEETING)
        assert response.status_code == 202, response.text
        return await self.record_completed(oid)

    async def state(self, oid: str) -> State:
        return await self.api.onboarding(oid)

    async def until(self, oid: str, check: Callable[[State], bool], within: float = 15) -> State:
        return await eventually(lambda: self.state(oid), check, within=within)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.api.auth)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.api.auth)

    def mails(self, oid: str, template: str) -> list[EmailMessage]:
        """Mails of ``template`` for ``oid`` that reached the SMTP catcher."""
        return [m for m in self.smtp.for_onboarding(oid) if str(m["Subject"]).startswith(SUBJECTS[template])]

    async def run_id(self, oid: str) -> str:
        description = await self.api.client.get_workflow_handle(oid).describe()
        return description.run_id

    async def terminate_started(self) -> None:
        for oid in self.started:
            with contextlib.suppress(RPCError):  # completed already
                await self.api.client.get_workflow_handle(oid).terminate(reason="test finished")


@pytest.fixture(scope="session")
async def shared_api(
    dev_server: Client, smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """Like the ``api`` fixture, but one app and worker for the whole session.

    Starting uvicorn and a worker costs about half a second, so per-test
    instances would make this suite several times slower; every test still
    works on its own onboardings (unique contract ids).
    """
    settings = api_settings(f"api-{uuid.uuid4().hex}", tmp_path_factory.mktemp("api"), smtp)
    async with (
        create_worker(dev_server, settings),
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield Api(http=http, settings=settings, client=dev_server)


@pytest.fixture(scope="session")
async def earlier_api(
    dev_server: Client, smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """Like ``shared_api``, with a worker that runs the workflow as runs in flight that already
    wait in their goal stage for a kick-off outcome go on running it (``EarlierRelease``)."""
    settings = api_settings(f"earlier-{uuid.uuid4().hex}", tmp_path_factory.mktemp("earlier"), smtp)
    mail = MailActivities(
        SmtpConfig(host=settings.smtp_host, port=settings.smtp_port, mail_from=settings.mail_from),
        MailLedger(Database(settings.database_url)),
    )
    worker = Worker(
        dev_server,
        task_queue=settings.task_queue,
        workflows=[EarlierRelease],
        activities=kickoff_activities(mail),
        workflow_runner=WORKFLOW_RUNNER,
    )
    async with (
        worker,
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield Api(http=http, settings=settings, client=dev_server)


@pytest.fixture
async def kickoff(shared_api: Api, smtp: MailCatcher) -> AsyncIterator[Kickoff]:
    """Runs a test leaves open are terminated afterwards, so cross-onboarding queries
    (GET /tasks) in later tests only see their own onboardings' tasks."""
    helper = Kickoff(shared_api, smtp)
    yield helper
    await helper.terminate_started()


@pytest.fixture(scope="module")
async def bystander(shared_api: Api, smtp: MailCatcher) -> AsyncIterator[str]:
    """One running onboarding (stage `onboarding`) that a module's bad-input tables aim at."""
    helper = Kickoff(shared_api, smtp)
    oid = await helper.start()
    yield oid
    await helper.terminate_started()


def comparable(state: State) -> State:
    """The parts of a run's state that a refused request must leave as they were."""
    return {key: state[key] for key in ("stage", "cycle", "status", "tasks", "emails", "timeline")}
