"""End to end through the HTTP API on a time-skipping Temporal server.

Each test gets its own time-skipping server (it starts in a tenth of a
second), so its clock starts at the real "now" and a test may jump it forward
to the dates it needs without disturbing another test's calendar. The clock
never goes back, so those dates are picked from it (tests/e2e/calendars.py),
never written down.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kickoff.activities import MailActivities
from kickoff.api import create_app
from kickoff.converter import encrypted
from kickoff.crypto import DataKeys
from kickoff.db import Database
from kickoff.domain import OnboardingState
from kickoff.mailcatcher import MailCatcher
from kickoff.signature import sign
from kickoff.temporal import ensure_search_attributes
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.conftest import API_KEY, WEBHOOK_SECRET, api_settings, serve_app
from tests.support import kickoff_activities, settled_state, skip_to

BIN = Path(sys.executable).parent


@dataclass
class Journey:
    """One onboarding's way through the API, with the test server's clock in hand."""

    env: WorkflowEnvironment
    http: httpx.AsyncClient
    smtp: MailCatcher
    auth: ClassVar[dict[str, str]] = {"Authorization": f"Bearer {API_KEY}"}

    async def post_contract(self, payload: dict[str, Any]) -> httpx.Response:
        """POST /contracts, signed like the contract-signing system signs it."""
        body = json.dumps(payload).encode()
        return await self.http.post(
            "/contracts",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Kickoff-Signature": sign(WEBHOOK_SECRET, body, int(time.time())),
            },
        )

    async def start(self, payload: dict[str, Any]) -> str:
        """Post a contract that must be accepted; returns the onboarding id."""
        response = await self.post_contract(payload)
        assert response.status_code == 202, response.text
        oid: str = response.json()["id"]
        return oid

    async def event(self, oid: str, name: str, payload: dict[str, Any] | None = None) -> httpx.Response:
        """POST /onboardings/{id}/events/{name}."""
        return await self.http.post(
            f"/onboardings/{oid}/events/{name}", json=payload or {}, headers=self.auth
        )

    async def tick(self, oid: str, item: str, **body: Any) -> httpx.Response:
        """POST /onboardings/{id}/checklist/{item}."""
        return await self.http.post(
            f"/onboardings/{oid}/checklist/{item}", json=body or None, headers=self.auth
        )

    async def onboarding(self, oid: str) -> dict[str, Any]:
        """GET /onboardings/{id} once the run has caught up with the clock."""
        await self.settled(oid)
        response = await self.http.get(f"/onboardings/{oid}", headers=self.auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def settled(self, oid: str) -> OnboardingState:
        """Wait (with a deadline) until the run has done everything already due."""
        return await settled_state(self.env, self.env.client.get_workflow_handle(oid))

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def skip_to(self, moment: datetime) -> None:
        """Move the test server's clock to ``moment`` (the runs' timers fire on the way)."""
        await skip_to(self.env, moment)

    def mails(self, oid: str) -> list[Any]:
        """The messages the SMTP catcher received for this onboarding."""
        return self.smtp.for_onboarding(oid)


@pytest.fixture
async def journey(
    mail_activities: MailActivities, smtp: MailCatcher, tmp_path: Path, data_keys: DataKeys
) -> AsyncIterator[Journey]:
    """A fresh time-skipping server, a worker, and the API over real HTTP on loopback."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=encrypted(data_keys),
        test_server_existing_path=str(BIN / "temporal-test-server"),
    )
    try:
        await ensure_search_attributes(env.client)
        task_queue = f"e2e-{uuid.uuid4().hex}"
        settings = api_settings(task_queue, tmp_path, smtp)
        async with (
            Worker(
                env.client,
                task_queue=task_queue,
                workflows=[OnboardingWorkflow],
                activities=kickoff_activities(mail_activities, Database(settings.database_url)),
            ),
            serve_app(create_app(client=env.client, settings=settings)) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            yield Journey(env=env, http=http, smtp=smtp)
    finally:
        await env.shutdown()
