"""Readiness apart from liveness: the API's /readyz and the worker's health endpoint say which
part (database, Temporal, the worker itself) is not ready, and nothing secret."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import httpx
import pytest
from temporalio.client import Client

from kickoff.api import create_app
from kickoff.db import Database
from kickoff.health import (
    HealthServer,
    Readiness,
    WorkerReadiness,
    WorkerState,
    parse_address,
    worker_readiness,
)
from kickoff.mailcatcher import MailCatcher, free_port
from tests.conftest import Api, api_settings, serve_app
from tests.databases import migrated_sqlite
from tests.support import ROOT

PASSWORD = "s3cret-db-pw"


def unreachable_postgres() -> str:
    """A PostgreSQL URL with a password, on a port nothing listens on."""
    return f"postgresql+asyncpg://kickoff:{PASSWORD}@127.0.0.1:{free_port()}/kickoff"


async def test_api_is_ready_with_its_database_migrated_and_temporal_up(api: Api) -> None:
    """/readyz answers 200 naming each part ok; /healthz keeps its own answer."""
    response = await api.http.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "database": "ok", "temporal": "ok"}
    assert (await api.http.get("/healthz")).json()["status"] == "ok"


async def readyz_of(
    client: Client, settings_overrides: dict[str, str], tmp_path: Path, smtp: MailCatcher
) -> httpx.Response:
    settings = api_settings("readyz", tmp_path, smtp, **settings_overrides)
    async with (
        serve_app(create_app(client=client, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        return await http.get("/readyz")


async def test_api_is_not_ready_before_migrations(
    dev_server: Client, tmp_path: Path, smtp: MailCatcher
) -> None:
    """A database that `kickoff-admin migrate` has not brought to the newest revision: 503, not_migrated."""
    response = await readyz_of(
        dev_server, {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"}, tmp_path, smtp
    )
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "database": "not_migrated", "temporal": "ok"}


async def test_api_is_not_ready_without_its_database_and_says_nothing_secret(
    dev_server: Client, tmp_path: Path, smtp: MailCatcher
) -> None:
    """An unreachable database: 503 `unreachable`, without the URL, its host or its password."""
    response = await readyz_of(dev_server, {"database_url": unreachable_postgres()}, tmp_path, smtp)
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "database": "unreachable", "temporal": "ok"}
    assert PASSWORD not in response.text
    assert "127.0.0.1" not in response.text


async def test_api_is_not_ready_without_temporal(tmp_path: Path, smtp: MailCatcher) -> None:
    """Temporal not answering: 503 with temporal `unreachable`, the database still ok."""
    gone = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    response = await readyz_of(gone, {}, tmp_path, smtp)
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "database": "ok", "temporal": "unreachable"}


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = migrated_sqlite(tmp_path / "kickoff.sqlite3")
    yield database
    await database.dispose()


@pytest.mark.parametrize(
    ("state", "status"), [("running", "ready"), ("starting", "not_ready"), ("stopping", "not_ready")]
)
async def test_a_worker_is_ready_only_while_it_polls(
    dev_server: Client, sqlite_db: Database, state: WorkerState, status: Literal["ready", "not_ready"]
) -> None:
    """Database and Temporal ok: ready when running; not while starting or draining after SIGTERM."""
    checked = await worker_readiness(sqlite_db, dev_server, state)
    assert checked == WorkerReadiness(status=status, database="ok", temporal="ok", worker=state)


@pytest.fixture
async def health() -> AsyncIterator[tuple[httpx.AsyncClient, list[Readiness]]]:
    """A HealthServer on a free port answering what the test puts in ``answers``."""
    answers = [Readiness(status="ready", database="ok", temporal="ok")]

    async def ready() -> Readiness:
        return answers[-1]

    async with (
        HealthServer("127.0.0.1:0", ready) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http,
    ):
        yield http, answers


async def test_the_worker_endpoint_answers_liveness_and_readiness(
    health: tuple[httpx.AsyncClient, list[Readiness]],
) -> None:
    """/healthz is 200 while the process runs; /readyz is 200 or 503 with the readiness body."""
    http, answers = health
    alive = await http.get("/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert (await http.get("/readyz?verbose=1")).json() == answers[-1].model_dump()
    answers.append(Readiness(status="not_ready", database="not_migrated", temporal="ok"))
    not_ready = await http.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json() == {"status": "not_ready", "database": "not_migrated", "temporal": "ok"}
    assert alive.headers["content-type"] == "application/json"


async def test_the_worker_endpoint_refuses_other_paths_methods_and_garbage(
    health: tuple[httpx.AsyncClient, list[Readiness]],
) -> None:
    """Unknown path 404; POST 405 with Allow: GET; a garbage request is dropped, the server goes on."""
    http, _ = health
    assert (await http.get("/metrics")).status_code == 404
    posted = await http.post("/readyz")
    assert (posted.status_code, posted.headers["allow"]) == (405, "GET")
    host, port = parse_address(str(http.base_url.netloc.decode()), "test")
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"\x00\xffnonsense\r\n\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("address", ["9465", "localhost:", ":9465", "localhost:99999", "localhost:http"])
def test_a_bad_health_address_is_refused_naming_the_setting(address: str) -> None:
    """KICKOFF_WORKER_HEALTH_ADDRESS must be host:port; anything else says so."""
    with pytest.raises(ValueError, match="KICKOFF_WORKER_HEALTH_ADDRESS must be host:port"):
        HealthServer(address, lambda: asyncio.sleep(0))  # type: ignore[arg-type,return-value]


def test_ipv6_health_addresses_take_brackets() -> None:
    """[::]:9465 is IPv6's any-address on port 9465; an IPv4 host:port splits at its colon."""
    assert parse_address("[::]:9465", "x") == ("::", 9465)
    assert parse_address("10.0.0.5:9465", "x") == ("10.0.0.5", 9465)


async def test_the_worker_process_serves_readiness_and_stops_on_sigterm(
    dev_server_address: str, dev_server: Client, task_queue: str, tmp_path: Path
) -> None:
    """`python -m kickoff.worker` with KICKOFF_WORKER_HEALTH_ADDRESS: /readyz turns 200 once it
    polls (database migrated, Temporal up), and SIGTERM stops it cleanly."""
    migrated_sqlite(tmp_path / "kickoff.sqlite3")
    port = free_port()
    env = {
        **os.environ,
        "KICKOFF_TEMPORAL_ADDRESS": dev_server_address,
        "KICKOFF_TASK_QUEUE": task_queue,
        "KICKOFF_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'kickoff.sqlite3'}",
        "KICKOFF_PIPELINES_FILE": str(ROOT / "pipelines.yaml"),
        "KICKOFF_WORKER_HEALTH_ADDRESS": f"127.0.0.1:{port}",
        "KICKOFF_WORKER_METRICS_ADDRESS": "",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kickoff.worker", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        body = await _ready_body(f"http://127.0.0.1:{port}/readyz", process)
        assert body == {"status": "ready", "database": "ok", "temporal": "ok", "worker": "running"}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 40) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _ready_body(url: str, process: asyncio.subprocess.Process, within: float = 30) -> object:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with httpx.AsyncClient(timeout=5) as http:
        while loop.time() < deadline:
            assert process.returncode is None, "the worker exited before it was ready"
            try:
                response = await http.get(url)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered 200 within {within} s")
