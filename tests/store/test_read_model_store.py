"""The read model's store, on SQLite and on a real PostgreSQL server: order-safe, idempotent
writes, the inbox's pages, the board's and the reports' reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from kickoff.db import Database
from kickoff.db.outcomes import OutcomeStore, RecordedOutcome
from kickoff.db.read_model import ReadModelStore
from kickoff.domain import Task
from kickoff.readmodel.snapshot import OnboardingEntry, Snapshot, VisitEntry

T0 = datetime.now(UTC).replace(microsecond=0)


def _task(oid: str, number: int, due_hours: int, **fields: object) -> Task:
    values: dict[str, object] = {
        "id": f"{oid}.1.{number}",
        "kind": "call",
        "title": f"Call {number}",
        "due_at": T0 + timedelta(hours=due_hours),
        "stage": "onboarding",
        "created_at": T0,
    }
    return Task.model_validate(values | fields)


def _snapshot(
    oid: str = "SE-C-1", revision: int = 10, tasks: list[Task] | None = None, **fields: object
) -> Snapshot:
    tasks = [] if tasks is None else tasks
    entry: dict[str, object] = {
        "id": oid,
        "run_id": "run-1",
        "revision": revision,
        "cycle": 1,
        "pipeline": "assist-se",
        "pipeline_version": "v1",
        "stage": "onboarding",
        "stage_label": "Onboarding",
        "stage_entered_at": T0,
        "status": "running",
        "customer": "Acme AB",
        "open_tasks": len(tasks),
        "open_task_roles": [t.owner_role for t in tasks],
        "window_start": T0 - timedelta(days=1),
    }
    visits = [VisitEntry(cycle=1, position=0, stage="new", entered_at=T0 - timedelta(days=1), left_at=T0)]
    return Snapshot(entry=OnboardingEntry.model_validate(entry | fields), tasks=tasks, visits=visits)


async def test_a_snapshot_is_stored_and_read_back_as_written(database: Database) -> None:
    store = ReadModelStore(database)
    written = _snapshot(tasks=[_task("SE-C-1", 1, 5, owner_role="onboarding_lead")])
    assert await store.write(written)
    assert await store.dump() == [written]


async def test_an_older_revision_never_replaces_a_newer_one_and_the_same_one_is_idempotent(
    database: Database,
) -> None:
    store = ReadModelStore(database)
    newer = _snapshot(revision=20, stage="closed", tasks=[])
    older = _snapshot(revision=10, tasks=[_task("SE-C-1", 1, 5)])
    assert await store.write(newer)
    assert not await store.write(older)  # a late or repeated write of an earlier state
    assert await store.write(newer)  # the same write twice stores it once
    assert await store.dump() == [newer]


async def test_concurrent_writes_of_one_onboarding_end_with_the_highest_revision(database: Database) -> None:
    store = ReadModelStore(database)
    snapshots = [_snapshot(revision=r, tasks=[_task("SE-C-1", r, r)]) for r in range(1, 11)]
    await asyncio.gather(*(store.write(s) for s in reversed(snapshots)))
    [stored] = await store.dump()
    assert stored.entry.revision == 10
    assert [t.id for t in stored.tasks] == ["SE-C-1.1.10"]  # children follow their row


async def test_open_tasks_come_in_pages_soonest_due_first(database: Database) -> None:
    store = ReadModelStore(database)
    await store.write(_snapshot("SE-C-1", tasks=[_task("SE-C-1", n, n) for n in (1, 3, 5)]))
    await store.write(_snapshot("SE-C-2", tasks=[_task("SE-C-2", n, n) for n in (2, 3, 4)]))
    seen: list[str] = []
    after = None
    while True:
        page = await store.open_tasks(limit=2, after=after)
        seen += [task.id for task, _ in page.tasks]
        if page.next_after is None:
            break
        after = page.next_after
    # Due 3 twice: the id breaks the tie, so no task is skipped or repeated across pages.
    assert seen == ["SE-C-1.1.1", "SE-C-2.1.2", "SE-C-1.1.3", "SE-C-2.1.3", "SE-C-2.1.4", "SE-C-1.1.5"]


async def test_open_tasks_filter_by_owner_and_role_and_carry_their_onboarding(database: Database) -> None:
    store = ReadModelStore(database)
    tasks = [
        _task("SE-C-1", 1, 1, owner_role="onboarding_lead"),
        _task("SE-C-1", 2, 2, owner="customer"),
    ]
    await store.write(_snapshot(tasks=tasks))
    lead = await store.open_tasks(owner_role="onboarding_lead")
    assert [(t.id, e.customer, e.stage) for t, e in lead.tasks] == [("SE-C-1.1.1", "Acme AB", "onboarding")]
    customer = await store.open_tasks(owner="customer")
    assert [t.id for t, _ in customer.tasks] == ["SE-C-1.1.2"]


async def test_a_run_ops_ended_leaves_the_board_the_inbox_and_the_funnel(database: Database) -> None:
    store = ReadModelStore(database)
    await store.write(_snapshot("SE-C-1", tasks=[_task("SE-C-1", 1, 1)]))
    await store.write(_snapshot("SE-C-2"))
    assert not await store.mark_ended("SE-C-1", "another-run", "terminated")  # not its latest run
    assert await store.mark_ended("SE-C-1", "run-1", "terminated")
    assert [e.id for e in await store.entries("assist-se")] == ["SE-C-2"]
    assert (await store.open_tasks()).tasks == []
    assert await store.stage_counts("assist-se") == {"onboarding": 1}
    assert await store.count_by_status("assist-se") == {"running": 1, "terminated": 1}


async def test_a_recorded_outcome_closes_the_reminder_and_survives_a_later_write(database: Database) -> None:
    store = ReadModelStore(database)
    reminder = _task("SE-C-1", 0, 30, kind="kickoff_outcome", blocks_completion=True)
    booked = _snapshot(status="completed", stage="closed", awaiting_outcome=True, tasks=[reminder])
    await store.write(booked)
    assert [t.id for t, _ in (await store.open_tasks()).tasks] == ["SE-C-1.1.0"]
    await OutcomeStore(database).add(
        RecordedOutcome(
            onboarding_id="SE-C-1",
            cycle=1,
            pipeline="assist-se",
            outcome="completed",
            segment="B",
            recorded_at=T0,
            recorded_by="api",
        )
    )
    await store.outcome_recorded("SE-C-1", 1, "completed", "B")
    entry = await store.entry("SE-C-1")
    assert entry is not None
    assert (entry.awaiting_outcome, entry.outcome, entry.segment, entry.open_tasks) == (
        False,
        "completed",
        "B",
        0,
    )
    assert (await store.open_tasks()).tasks == []
    # A rebuild writes the run's own snapshot again (it does not know the outcome): still recorded.
    await store.write(booked)
    again = await store.entry("SE-C-1")
    assert again is not None
    assert (again.awaiting_outcome, again.outcome) == (False, "completed")
    assert (await store.open_tasks()).tasks == []


async def test_visits_come_per_onboarding_with_their_window_start(database: Database) -> None:
    store = ReadModelStore(database)
    await store.write(_snapshot("SE-C-1"))
    await store.write(_snapshot("SE-C-2", pipeline="pakkepilot-no"))
    [(start, visits)] = await store.visits("assist-se")
    assert start == T0 - timedelta(days=1)
    assert [(v.stage, v.left_at) for v in visits] == [("new", T0)]


async def test_rows_of_onboardings_temporal_no_longer_has_are_removed(database: Database) -> None:
    store = ReadModelStore(database)
    for oid in ("SE-C-1", "SE-C-2", "SE-C-3"):
        await store.write(_snapshot(oid, tasks=[_task(oid, 1, 1)]))
    assert await store.remove_except({"SE-C-2"}) == 2
    assert [s.entry.id for s in await store.dump()] == ["SE-C-2"]
    assert [t.id for t, _ in (await store.open_tasks()).tasks] == ["SE-C-2.1.1"]
