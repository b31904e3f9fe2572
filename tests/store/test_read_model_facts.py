"""The read model's report facts: what a run's snapshot keeps of its anchors and records (never
free text or dates), and how the store writes them, on SQLite and on a real PostgreSQL server:
read back as written, kept when a snapshot has none, replaced only by a newer snapshot, removed
with their onboarding."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from kickoff.db import Database
from kickoff.db.read_model import ReadModelStore
from kickoff.db.schema import read_anchors, read_record_fields, read_records
from kickoff.domain import EventInput
from kickoff.engine import Run
from kickoff.readmodel.snapshot import RecordEntry, Snapshot, report_facts, snapshot_of
from tests.unit.engine.support import STOCKHOLM, local, start

SIGNED = local(STOCKHOLM, date(2031, 4, 7), 10)
LATE_EVENING = datetime(2031, 6, 2, 22, 30, tzinfo=UTC)
"""00:30 on 3 June in Stockholm (summer time): its local day is the next one."""
OPPORTUNITY = {"title": "Workshop för Anna Svensson", "value": 85000, "expected_on": "2031-09-01"}


def event(run: Run, name: str, now: datetime, **payload: object) -> None:
    """Apply an event as the workflow does once its validator accepted it (the stage it may be
    sent in is not this test's concern: opportunities come in partnership, weeks later)."""
    run.apply_event(EventInput.model_validate({"name": name, "payload": payload}), now)


def _run() -> Run:
    """A kundprocess-se run with a contact logged late one evening and two opportunities."""
    run = start("kundprocess-se", SIGNED, SIGNED.date())
    event(run, "contact_logged", LATE_EVENING, channel="phone", summary="Hälsokontroll")
    event(run, "opportunity_logged", LATE_EVENING, **OPPORTUNITY, status="pipeline")
    event(run, "opportunity_logged", LATE_EVENING, **{**OPPORTUNITY, "value": 1200.5}, status="recurring")
    return run


def _snapshot(run: Run, revision: int) -> Snapshot:
    return snapshot_of(run.state, run.pipeline, "run-1", revision)


def test_a_snapshot_keeps_every_anchor_with_its_local_day_and_only_numbers_and_choices_of_records() -> None:
    """last_contact at 22:30 UTC is on the next day in Stockholm; the opportunities keep value and
    status, never the title (it may name a person) or the expected date."""
    run = _run()
    facts = report_facts(run.state, run.pipeline)
    anchors = {anchor.name: anchor for anchor in facts.anchors}
    assert {"signed_at", "delivery_start", "entered:onboarding", "entered:expansion", "last_contact"} <= set(
        anchors
    )
    assert (anchors["last_contact"].at, anchors["last_contact"].day) == (LATE_EVENING, date(2031, 6, 3))
    assert [a.name for a in facts.anchors] == sorted(anchors)
    assert facts.records == [
        RecordEntry(
            record="opportunities",
            position=0,
            logged_at=LATE_EVENING,
            numbers={"value": 85000.0},
            values={"status": "pipeline"},
        ),
        RecordEntry(
            record="opportunities",
            position=1,
            logged_at=LATE_EVENING,
            numbers={"value": 1200.5},
            values={"status": "recurring"},
        ),
    ]
    assert "Anna" not in facts.model_dump_json()


def test_a_snapshot_without_facts_says_so() -> None:
    """A run that does not write them sends None, not empty facts (which would erase the stored)."""
    run = _run()
    assert snapshot_of(run.state, run.pipeline, "run-1", 1, facts=False).facts is None


async def _rows(database: Database) -> tuple[int, int, int]:
    async with database.engine.connect() as db:
        counts = [
            (await db.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (read_anchors, read_records, read_record_fields)
        ]
    return counts[0], counts[1], counts[2]


async def test_report_facts_are_read_back_as_written(database: Database) -> None:
    """The anchors, records and their fields of a run's snapshot come back from the store equal."""
    store = ReadModelStore(database)
    written = _snapshot(_run(), 10)
    assert await store.write(written)
    assert await store.dump() == [written]
    assert written.facts is not None
    assert await _rows(database) == (len(written.facts.anchors), 2, 4)


async def test_a_snapshot_without_facts_keeps_the_stored_ones_and_a_newer_one_replaces_them(
    database: Database,
) -> None:
    """A run of the release before the facts writes its row and leaves the rebuild's facts; a newer
    snapshot with facts replaces them; an older one with facts changes nothing."""
    store = ReadModelStore(database)
    run = _run()
    first = _snapshot(run, 10)
    await store.write(first)
    without = snapshot_of(run.state, run.pipeline, "run-1", 11, facts=False)
    assert await store.write(without)
    [stored] = await store.dump()
    assert (stored.entry.revision, stored.facts) == (11, first.facts)

    event(run, "opportunity_logged", LATE_EVENING + timedelta(days=1), **OPPORTUNITY, status="invoiced")
    newer = _snapshot(run, 12)
    assert await store.write(newer)
    stale = first.model_copy(update={"entry": first.entry.model_copy(update={"revision": 5})})
    assert not await store.write(stale)
    [stored] = await store.dump()
    assert stored == newer
    assert stored.facts is not None
    assert [r.values["status"] for r in stored.facts.records] == ["pipeline", "recurring", "invoiced"]


async def test_facts_leave_with_their_onboarding(database: Database) -> None:
    """remove_except (an onboarding Temporal no longer has) and clear take its facts too."""
    store = ReadModelStore(database)
    kept = _snapshot(_run(), 10)
    gone_run = start("kundprocess-se", SIGNED, SIGNED.date(), contract_id="C-GONE")
    gone = _snapshot(gone_run, 10)
    await store.write(kept)
    await store.write(gone)
    assert await store.remove_except({kept.entry.id}) == 1
    assert await store.dump() == [kept]
    assert kept.facts is not None
    assert (await _rows(database))[1] == 2
    await store.clear()
    assert await _rows(database) == (0, 0, 0)
