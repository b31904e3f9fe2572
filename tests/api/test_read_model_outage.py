"""A read model that cannot be written (on a real PostgreSQL server) never blocks or loses a mail
or a stage move: the run goes on, the views say they may be stale, and the read model catches
up by itself once writes work again. A database that cannot be read is a 503 with a reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from temporalio.client import Client, WorkflowExecutionStatus

from kickoff import search_attributes as sa
from kickoff.api.app import create_app
from kickoff.crypto.fields import sealer_of
from kickoff.db import Database, migrate
from kickoff.db.read_model import ReadModelStore
from kickoff.mailcatcher import MailCatcher
from kickoff.readmodel.from_temporal import sweep_closed
from kickoff.worker import create_worker
from tests.api.conftest import MEETING, Kickoff
from tests.conftest import Api, api_settings, serve_app
from tests.databases import PostgresServer
from tests.support import eventually

BEHIND = "X-Kickoff-Runs-Behind"


@pytest.fixture
async def on_postgres(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path, postgres: PostgresServer
) -> AsyncIterator[Kickoff]:
    with postgres.new_database() as url:
        database = Database(url)
        await migrate(database)
        settings = api_settings(f"outage-{uuid.uuid4().hex}", tmp_path, smtp, database_url=url)
        async with (
            create_worker(dev_server, settings, database),
            serve_app(create_app(client=dev_server, settings=settings)) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            helper = Kickoff(Api(http=http, settings=settings, client=dev_server), smtp)
            yield helper
            await helper.terminate_started()
        await database.dispose()


async def _rename(kickoff: Kickoff, table: str, to: str) -> None:
    database = Database(kickoff.api.settings.database_url)
    async with database.engine.begin() as db:
        await db.execute(text(f"ALTER TABLE {table} RENAME TO {to}"))
    await database.dispose()


async def _tasks(kickoff: Kickoff) -> httpx.Response:
    return await kickoff.get("/tasks", limit=1000)


async def test_failing_writes_block_nothing_and_catch_up_by_themselves(
    on_postgres: Kickoff, dev_server: Client
) -> None:
    kickoff = on_postgres
    working = await kickoff.start()
    booked = await kickoff.start()
    [first, *_] = [t for t in (await _tasks(kickoff)).json() if t["onboarding_id"] == working]

    # Every read-model write now fails (its transaction replaces the visits), reads still work.
    await _rename(kickoff, "read_visits", "read_visits_away")
    try:
        done = await kickoff.post(f"/tasks/{first['id']}/done")
        assert done.status_code == 202, done.text
        # A stage move with its mail, and the run completing: none of it waits for the database.
        moved = await kickoff.post(f"/onboardings/{booked}/meeting-booked", MEETING)
        assert moved.status_code == 202, moved.text
        state = await kickoff.until(booked, lambda s: s["status"] == "completed")
        assert state["stage"] == "closed"
        assert kickoff.mails(booked, "kickoff_booked")
        # The run ends once its last write failed too: it does not wait for the database.
        description = await eventually(
            lambda: dev_server.get_workflow_handle(booked).describe(),
            lambda d: d.status == WorkflowExecutionStatus.COMPLETED,
            within=20,
        )
        assert description.close_time is not None
        assert (await kickoff.state(working))["tasks"][0]["status"] in ("open", "done")

        # The views say they may be stale, and for which many runs.
        stale = await eventually(
            lambda: _tasks(kickoff), lambda r: r.headers.get(BEHIND) is not None, within=20
        )
        assert int(stale.headers[BEHIND]) >= 1
        assert first["id"] in {t["id"] for t in stale.json()}  # not yet written: stale, as said
        working_run = await dev_server.get_workflow_handle(working).describe()
        assert working_run.typed_search_attributes.get(sa.READ_MODEL_BEHIND) is True
    finally:
        await _rename(kickoff, "read_visits_away", "read_visits")

    # The running run writes again by itself (backing off); the completed one is swept.
    caught_up = await eventually(
        lambda: _tasks(kickoff),
        lambda r: first["id"] not in {t["id"] for t in r.json()} and BEHIND not in r.headers,
        within=60,
    )
    assert caught_up.status_code == 200
    store = ReadModelStore(Database(kickoff.api.settings.database_url), sealer_of(dev_server.data_converter))
    assert await sweep_closed(dev_server, store, kickoff.api.settings.task_queue, datetime.now(UTC)) == 1
    entry = await store.entry(booked)
    assert entry is not None
    assert (entry.status, entry.stage, entry.awaiting_outcome) == ("completed", "closed", True)


async def test_a_database_that_cannot_be_read_is_a_503_with_a_reason(on_postgres: Kickoff) -> None:
    await _rename(on_postgres, "read_tasks", "read_tasks_away")
    try:
        response = await _tasks(on_postgres)
    finally:
        await _rename(on_postgres, "read_tasks_away", "read_tasks")
    assert response.status_code == 503
    assert "Kickoff's database did not answer" in response.json()["detail"]
    assert (await _tasks(on_postgres)).status_code == 200
