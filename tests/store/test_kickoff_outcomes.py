"""Kick-off outcomes in Kickoff's database, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kickoff.db import Database
from kickoff.db.outcomes import AlreadyRecordedError, OutcomeStore, RecordedOutcome

RECORDED_AT = datetime.now(UTC).replace(microsecond=0)


def _outcome(cycle: int = 1, outcome: str = "completed", **fields: object) -> RecordedOutcome:
    values: dict[str, object] = {
        "onboarding_id": "SE-C-1",
        "cycle": cycle,
        "pipeline": "assist-se",
        "outcome": outcome,
        "recorded_at": RECORDED_AT,
        "recorded_by": "api",
    }
    if outcome == "completed":
        values |= {"segment": "B", "owner": "Sara Lind"}
    return RecordedOutcome.model_validate(values | fields)


async def test_an_outcome_reads_back_as_recorded_with_who_and_when(database: Database) -> None:
    """Every field comes back, the moment as the same aware instant whatever zone it was given in."""
    store = OutcomeStore(database)
    local = RECORDED_AT.astimezone(ZoneInfo("Europe/Stockholm"))
    await store.add(_outcome(recorded_at=local, recorded_by="Emelie Larsson"))

    [read] = await store.of_onboarding("SE-C-1")

    assert read == _outcome(recorded_by="Emelie Larsson")
    assert read.recorded_at == RECORDED_AT
    assert read.recorded_at.tzinfo is not None


async def test_a_second_outcome_for_the_same_cycle_is_refused_and_the_first_stays(database: Database) -> None:
    """The key (onboarding, cycle) admits one outcome; another cycle may have its own."""
    store = OutcomeStore(database)
    await store.add(_outcome(outcome="no_show"))
    with pytest.raises(AlreadyRecordedError):
        await store.add(_outcome())
    await store.add(_outcome(cycle=2, recorded_at=RECORDED_AT + timedelta(days=9)))

    read = await store.of_onboarding("SE-C-1")

    assert [(o.cycle, o.outcome) for o in read] == [(1, "no_show"), (2, "completed")]
    assert await store.of_onboarding("SE-C-2") == []


async def test_two_racing_outcomes_record_exactly_one(database: Database) -> None:
    """A double-submitted outcome: one insert wins, the other is AlreadyRecordedError."""
    store = OutcomeStore(database)
    results = await asyncio.gather(
        store.add(_outcome(outcome="no_show")),
        store.add(_outcome(outcome="rescheduled")),
        return_exceptions=True,
    )

    assert sum(isinstance(r, AlreadyRecordedError) for r in results) == 1
    assert len(await store.of_onboarding("SE-C-1")) == 1


async def test_a_withdrawn_outcome_can_be_recorded_again(database: Database) -> None:
    """Withdrawing (a restart that did not happen) forgets only that cycle's outcome."""
    store = OutcomeStore(database)
    await store.add(_outcome(outcome="no_show"))
    await store.add(_outcome(cycle=2))
    await store.withdraw("SE-C-1", 1)
    await store.add(_outcome(outcome="rescheduled"))

    assert [(o.cycle, o.outcome) for o in await store.of_onboarding("SE-C-1")] == [
        (1, "rescheduled"),
        (2, "completed"),
    ]
