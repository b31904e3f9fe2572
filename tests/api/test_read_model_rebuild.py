"""Temporal stays the source of truth: ``kickoff-admin rebuild-read-model`` rebuilds the read
model from the runs (equal to what they wrote live), brings runs started before the read model
onto it, and the worker's sweep shows runs ops ended as ended."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.api.app import create_app
from kickoff.crypto import DataKeys
from kickoff.crypto.fields import FieldSealer, sealer_of
from kickoff.db import Database
from kickoff.db.read_model import ReadModelStore
from kickoff.domain import OnboardingInput, OnboardingState
from kickoff.mailcatcher import MailCatcher
from kickoff.readmodel.from_temporal import rebuild, sweep_closed
from kickoff.readmodel.snapshot import Snapshot
from kickoff.worker import WORKFLOW_RUNNER, create_worker
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.api.conftest import Kickoff
from tests.conftest import Api, api_settings, serve_app
from tests.store.test_admin import admin
from tests.support import contract_payload, eventually, kickoff_activities


@workflow.defn(name="Onboarding", sandboxed=False)  # a test module: not re-imported per run
class BeforeReadModel(OnboardingWorkflow):
    """The workflow as runs started before the read model run it: no writes of their own."""

    @workflow.init
    def __init__(self, input: OnboardingInput) -> None:
        super().__init__(input)

    @workflow.run
    async def run(self, input: OnboardingInput) -> OnboardingState:
        return await super().run(input)

    def _writes_read_model(self) -> bool:
        return False


@pytest.fixture
async def own(dev_server: Client, smtp: MailCatcher, tmp_path: Path) -> AsyncIterator[Kickoff]:
    """The API on a task queue and database of its own, with no worker: each test runs its own."""
    settings = api_settings(f"rebuild-{uuid.uuid4().hex}", tmp_path, smtp)
    async with (
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        helper = Kickoff(Api(http=http, settings=settings, client=dev_server), smtp)
        yield helper
        await helper.terminate_started()


def _store(kickoff: Kickoff) -> ReadModelStore:
    """The API's read model, as it reads it (customer names unsealed)."""
    sealer = sealer_of(kickoff.api.client.data_converter)
    return ReadModelStore(Database(kickoff.api.settings.database_url), sealer)


async def _settled(store: ReadModelStore) -> list[Snapshot]:
    """The live read model once no run has written for a second (a deadline, then a check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    last = await store.dump()
    while loop.time() < deadline:
        await asyncio.sleep(1)
        now = await store.dump()
        if now == last:
            return now
        last = now
    raise AssertionError("the runs kept writing for 20 s")


async def test_a_rebuilt_read_model_equals_the_live_one(own: Kickoff, dev_server: Client) -> None:
    """Runs in `new`, in onboarding with tasks, and booked (completed, awaiting its outcome):
    emptied and rebuilt from Temporal, the read model is what the runs wrote, row for row."""
    store = _store(own)
    async with create_worker(dev_server, own.api.settings):
        future = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
        waiting = await own.submit(contract_payload(delivery_start=future))
        assert waiting.status_code == 202
        onboarding = await own.start()
        booked = await own.start()
        await own.book(booked)
        await own.until(booked, lambda s: s["status"] == "completed")
        live = await _settled(store)
        assert {s.entry.id for s in live} == {waiting.json()["id"], onboarding, booked}
        assert any(s.tasks for s in live if s.entry.id == onboarding)

        result = await rebuild(dev_server, store, own.api.settings.task_queue, clear=True)

        assert (result.stored, result.failed) == (3, [])
        assert await store.dump() == live
        # Again, without emptying it first: idempotent, and still equal.
        await rebuild(dev_server, store, own.api.settings.task_queue)
        assert await store.dump() == live


async def test_a_run_started_before_the_read_model_joins_it_when_the_rebuild_signals_it(
    own: Kickoff, dev_server: Client, smtp: MailCatcher
) -> None:
    """A run of the earlier release writes nothing (its row stays the API's provisional one) and
    replays that way on this release's worker; the rebuild signals it, and from then on its
    own writes keep the read model current (a done task is gone when the action is answered)."""
    settings = own.api.settings
    store = _store(own)
    mail = MailActivities(SmtpConfig(smtp.host, smtp.port, settings.mail_from), MailLedger(store.database))
    earlier = Worker(
        dev_server,
        task_queue=settings.task_queue,
        workflows=[BeforeReadModel],
        activities=kickoff_activities(mail),
        workflow_runner=WORKFLOW_RUNNER,
    )
    async with earlier:
        oid = await own.start()
        row = await store.entry(oid)
        assert row is not None
        assert row.revision == 0  # only the API's provisional row
    async with create_worker(dev_server, settings):
        tasks = (await own.state(oid))["tasks"]  # the current worker replays the run
        assert (await store.entry(oid)).revision == 0  # type: ignore[union-attr]

        result = await rebuild(dev_server, store, settings.task_queue)
        assert result.joined >= 1

        open_task = next(t for t in tasks if t["status"] == "open")
        assert (await own.post(f"/tasks/{open_task['id']}/done")).status_code == 202
        [snapshot] = [s for s in await store.dump() if s.entry.id == oid]
        assert snapshot.entry.revision > 0
        assert open_task["id"] not in {t.id for t in snapshot.tasks}


async def test_the_sweep_shows_a_run_ops_terminated_as_ended(own: Kickoff, dev_server: Client) -> None:
    """A terminated run cannot write its end: the worker's sweep of closed runs does, and the
    onboarding leaves the board, the inbox and the funnel."""
    store = _store(own)
    async with create_worker(dev_server, own.api.settings):
        oid = await own.start()
        await dev_server.get_workflow_handle(oid).terminate(reason="ops: duplicate contract")
        repaired = await eventually(
            lambda: sweep_closed(dev_server, store, own.api.settings.task_queue, datetime.now(UTC)),
            lambda n: n == 1,
        )
        assert repaired == 1
    entry = await store.entry(oid)
    assert entry is not None
    assert entry.status == "terminated"
    assert oid not in {task.onboarding_id for task in (await own.get("/tasks", limit=1000)).json()}
    funnel = (await own.get("/reports/funnel", pipeline="assist-se")).json()
    assert funnel["total"] == 0
    # Swept once: the next sweep finds nothing more to do.
    assert await sweep_closed(dev_server, store, own.api.settings.task_queue, datetime.now(UTC)) == 0


async def test_kickoff_admin_rebuilds_from_the_command_line(
    own: Kickoff, dev_server: Client, data_keys: DataKeys, key_env: dict[str, str]
) -> None:
    """As ops run it: settings from the environment, where the data keys are in the same
    database as the read model (the tests keep theirs in the session's key database)."""
    settings = own.api.settings
    async with create_worker(dev_server, settings):
        oid = await own.start()
        state = await dev_server.get_workflow_handle_for(OnboardingWorkflow.run, oid).query(
            OnboardingWorkflow.state
        )
        customer = state.contract.customer.name
        done = await asyncio.to_thread(
            admin,
            "rebuild-read-model",
            env={
                **key_env,
                "KICKOFF_TEMPORAL_ADDRESS": dev_server.service_client.config.target_host,
                "KICKOFF_TASK_QUEUE": settings.task_queue,
                "KICKOFF_DATA_DIR": str(settings.data_dir),
                "PATH": os.environ["PATH"],
            },
        )
    assert done.returncode == 0, done.stderr
    assert "1 onboardings stored" in done.stdout
    rebuilt = await ReadModelStore(data_keys.database, FieldSealer(data_keys)).entry(oid)
    assert rebuilt is not None
    assert rebuilt.customer == customer


def test_kickoff_admin_says_so_when_temporal_does_not_answer(tmp_path: Path) -> None:
    done = admin(
        "rebuild-read-model",
        env={
            "KICKOFF_TEMPORAL_ADDRESS": "127.0.0.1:9",
            "KICKOFF_DATA_DIR": str(tmp_path),
            "KICKOFF_DATABASE_URL": "",
        },
    )
    assert done.returncode == 1
    assert "Temporal did not answer" in done.stderr
