"""The declared measures aggregated by the database give the pure reference's figures, on SQLite
and on a real PostgreSQL server: record sums and counts per group, the recent-anchor share, and
the share reached within a target in business days, at its very edges too."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kickoff.db import Database
from kickoff.db.read_model import ReadModelStore
from kickoff.pipelines import Pipeline
from kickoff.pipelines.reports import ComplianceMeasure, ReachedWithin, RecentAnchor, RecordMeasure
from kickoff.readmodel.snapshot import AnchorEntry, OnboardingEntry, RecordEntry, ReportFacts, Snapshot
from kickoff.reports.measures import (
    compliance_figures,
    compliance_figures_of,
    record_figures,
    record_figures_of,
    target_moment,
)
from kickoff.schedule import zone
from tests.support import catalog

PIPELINES = catalog().pipelines
KUNDPROCESS, WISENETWORK = PIPELINES["kundprocess-se"], PIPELINES["wisenetwork-fi"]
NOW = datetime(2027, 3, 15, 12, tzinfo=UTC)
"""The reports' "now", passed explicitly: nothing here depends on today's date."""
STAGES = sorted({*KUNDPROCESS.stage_ids(), *WISENETWORK.stage_ids()})

RECORD_MEASURES = {
    "value_by_status": RecordMeasure(label="Value", record="opportunities", sum="value", by="status"),
    "count_by_stage": RecordMeasure(label="Count", record="opportunities", by="stage"),
    "value": RecordMeasure(label="Total", record="opportunities", sum="value"),
    "count_in_expansion": RecordMeasure(
        label="In expansion", record="opportunities", in_stages=("expansion",)
    ),
}
CONTACT = ComplianceMeasure(
    label="Contact",
    recent=RecentAnchor(
        anchor=("last_contact", "entered:partnership"), days=90, in_stages=("partnership", "expansion")
    ),
)
LIVE_BY_EIGHT = ComplianceMeasure(
    label="Live",
    reached_within=ReachedWithin(anchor="kickoff_held", days=20, unit="business_days", time=time(8)),
)
LIVE_BY_DAY_END = ComplianceMeasure(
    label="Live",
    reached_within=ReachedWithin(anchor="kickoff_held", days=3, unit="days", stages=("training", "live")),
)

ANCHOR_NAMES = ["last_contact", "entered:partnership", "kickoff_held", "entered:live", "entered:training"]
# Moments before NOW: whole days around the 90-day and 20-business-day edges, and microseconds.
AGES = st.one_of(
    st.integers(0, 200).map(lambda days: timedelta(days=days)),
    st.just(timedelta(days=90)),
    st.integers(-(10**6), 10**6).map(lambda us: timedelta(days=90, microseconds=us)),
    # A fraction of a second of .9995 and more: SQLite parses times to milliseconds.
    st.integers(-600, 600).map(lambda us: timedelta(days=90, microseconds=us)),
    st.integers(0, 10**13).map(lambda us: timedelta(microseconds=us)),
)
ANCHORS = st.dictionaries(st.sampled_from(ANCHOR_NAMES), AGES, max_size=5)
NUMBERS = st.one_of(
    st.integers(-(2**53) + 1, 2**53 - 1).map(float),
    st.floats(-1e9, 1e9, allow_nan=False),
    st.sampled_from([0.0, 85000.0, 0.1]),
)
RECORDS = st.lists(
    st.tuples(
        st.sampled_from(["opportunities", "opportunities", "other"]),
        st.one_of(st.none(), NUMBERS),
        st.one_of(st.none(), st.sampled_from(["invoiced", "recurring", "pipeline", "withdrawn"])),
    ),
    max_size=4,
)
ONBOARDINGS = st.lists(
    st.tuples(
        st.sampled_from(["kundprocess-se", "wisenetwork-fi"]),
        st.sampled_from(["running", "completed", "terminated"]),
        st.sampled_from(STAGES),
        st.one_of(st.none(), st.tuples(ANCHORS, RECORDS)),
    ),
    max_size=10,
)

Facts = tuple[dict[str, timedelta], list[tuple[str, float | None, str | None]]]


def _snapshot(number: int, pipeline: str, status: str, stage: str, facts: Facts | None) -> Snapshot:
    entry = OnboardingEntry.model_validate(
        {
            "id": f"KP-C-{number}",
            "run_id": "run-1",
            "revision": 1,
            "cycle": 1,
            "pipeline": pipeline,
            "pipeline_version": "v1",
            "stage": stage,
            "stage_label": stage,
            "stage_entered_at": NOW - timedelta(days=1),
            "status": status,
            "customer": "Acme AB",
        }
    )
    if facts is None:
        return Snapshot(entry=entry)
    tz = zone(PIPELINES[pipeline].timezone)
    anchors, records = facts
    kept = ReportFacts(
        anchors=[
            AnchorEntry(name=name, at=NOW - age, day=(NOW - age).astimezone(tz).date())
            for name, age in sorted(anchors.items())
        ],
        records=[
            RecordEntry(
                record=record,
                position=position,
                logged_at=NOW,
                numbers={} if value is None else {"value": value},
                values={} if status_ is None else {"status": status_},
            )
            for position, (record, value, status_) in enumerate(records)
        ],
    )
    return Snapshot(entry=entry, facts=kept)


def _approx(value: float | None) -> Any:
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-6)


def _close(found: Any, expected: Any) -> None:
    """Equal, sums within floating-point rounding (the database may add in another order)."""
    a, b = found.model_dump(), expected.model_dump()
    assert a.pop("total") == _approx(b.pop("total"))
    groups_a, groups_b = a.pop("groups"), b.pop("groups")
    assert a == b
    assert [g["key"] for g in groups_a] == [g["key"] for g in groups_b]
    for ga, gb in zip(groups_a, groups_b, strict=True):
        assert (ga["label"], ga["records"]) == (gb["label"], gb["records"])
        assert ga["sum"] == _approx(gb["sum"])


async def _store(database: Database, snapshots: list[Snapshot]) -> None:
    store = ReadModelStore(database)
    await store.clear()
    for snapshot in snapshots:
        await store.write(snapshot)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(onboardings=ONBOARDINGS)
async def test_the_database_adds_up_records_as_the_pure_reference(
    database: Database, onboardings: list[tuple[str, str, str, Facts | None]]
) -> None:
    """Sums by a choice field, counts by stage, an ungrouped sum and a count limited to stages:
    the same records, groups (zeros and undeclared values included) and sums."""
    snapshots = [_snapshot(n, *shape) for n, shape in enumerate(onboardings)]
    await _store(database, snapshots)
    for mid, measure in RECORD_MEASURES.items():
        found = await record_figures(database, KUNDPROCESS, mid, measure)
        _close(found, record_figures_of(KUNDPROCESS, mid, measure, snapshots))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(onboardings=ONBOARDINGS)
async def test_the_database_counts_compliance_as_the_pure_reference(
    database: Database, onboardings: list[tuple[str, str, str, Facts | None]]
) -> None:
    """The recent-contact share (latest of two anchors, 90 days to the microsecond) and the shares
    reached within 20 Finnish business days at 08:00 and within 3 days by the day's end."""
    snapshots = [_snapshot(n, *shape) for n, shape in enumerate(onboardings)]
    await _store(database, snapshots)
    checks = [(KUNDPROCESS, "contact", CONTACT), (WISENETWORK, "live", LIVE_BY_EIGHT)]
    checks.append((WISENETWORK, "live_day", LIVE_BY_DAY_END))
    for pipeline, mid, measure in checks:
        found = await compliance_figures(database, pipeline, mid, measure, NOW)
        assert found == compliance_figures_of(pipeline, mid, measure, snapshots, NOW), mid


def _held(pipeline: Pipeline, number: int, held: datetime, reached: datetime | None) -> Snapshot:
    tz = zone(pipeline.timezone)
    anchors = [AnchorEntry(name="kickoff_held", at=held, day=held.astimezone(tz).date())]
    if reached is not None:
        anchors.append(AnchorEntry(name="entered:live", at=reached, day=reached.astimezone(tz).date()))
    snapshot = _snapshot(number, pipeline.id, "completed" if reached else "running", "live", None)
    return snapshot.model_copy(update={"facts": ReportFacts(anchors=sorted(anchors, key=lambda a: a.name))})


async def test_live_at_08_00_on_business_day_20_is_in_time_and_a_microsecond_later_is_not(
    database: Database,
) -> None:
    """A kick-off held on the Monday before Finnish Midsummer: business day 20 skips Midsummer
    Eve (Friday 25 June 2027, closed in Finland), so the target is 08:00 Helsinki time on
    Tuesday 20 July, exactly; one not live when its target has passed counts as late, and one
    whose target is still ahead is undecided."""
    helsinki = zone("Europe/Helsinki")
    held = datetime(2027, 6, 21, 10, tzinfo=helsinki).astimezone(UTC)
    spec = LIVE_BY_EIGHT.reached_within
    assert spec is not None
    target = target_moment(WISENETWORK, spec, date(2027, 6, 21))
    assert target == datetime(2027, 7, 20, 8, tzinfo=helsinki).astimezone(UTC)
    judged = target + timedelta(days=1)
    tick = timedelta(microseconds=1)
    snapshots = [
        _held(WISENETWORK, 1, held, target),
        _held(WISENETWORK, 2, held, target + tick),
        _held(WISENETWORK, 3, held, None),
        _held(WISENETWORK, 4, judged - timedelta(days=1), None),
    ]
    await _store(database, snapshots)
    found = await compliance_figures(database, WISENETWORK, "live", LIVE_BY_EIGHT, judged)
    assert (found.met, found.of, found.undecided) == (1, 3, 1)
    assert found == compliance_figures_of(WISENETWORK, "live", LIVE_BY_EIGHT, snapshots, judged)


async def test_a_contact_exactly_90_days_old_counts_and_a_microsecond_older_does_not(
    database: Database,
) -> None:
    """Two partnerships whose only anchor is a contact 90 days ago and 90 days and 1 µs ago; an
    onboarding in another stage is not counted at all."""
    days90 = timedelta(days=90)
    shapes: list[tuple[str, str, str, Facts | None]] = [
        ("kundprocess-se", "running", "partnership", ({"last_contact": days90}, [])),
        (
            "kundprocess-se",
            "running",
            "expansion",
            ({"last_contact": days90 + timedelta(microseconds=1)}, []),
        ),
        ("kundprocess-se", "running", "delivery", ({"last_contact": timedelta(0)}, [])),
    ]
    await _store(database, [_snapshot(n, *shape) for n, shape in enumerate(shapes)])
    found = await compliance_figures(database, KUNDPROCESS, "contact", CONTACT, NOW)
    assert (found.met, found.of, found.share) == (1, 2, 0.5)


async def test_measures_of_a_pipeline_without_data_are_zero_with_every_declared_group(
    database: Database,
) -> None:
    """No records at all: every declared status is listed with zero records and a zero sum, and
    the shares are None (no onboarding counts)."""
    await _store(database, [])
    found = await record_figures(database, KUNDPROCESS, "value_by_status", RECORD_MEASURES["value_by_status"])
    assert [(g.key, g.records, g.sum) for g in found.groups] == [
        ("invoiced", 0, 0.0),
        ("recurring", 0, 0.0),
        ("pipeline", 0, 0.0),
    ]
    assert (found.records, found.total) == (0, 0.0)
    for pipeline, measure in ((KUNDPROCESS, CONTACT), (WISENETWORK, LIVE_BY_EIGHT)):
        share = await compliance_figures(database, pipeline, "m", measure, NOW)
        assert (share.met, share.of, share.share) == (0, 0, None)
