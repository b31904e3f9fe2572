"""Time in stage aggregated by the database gives exactly the pure computation's figures, on
SQLite and on a real PostgreSQL server: the same percentiles to the microsecond, the same
30-day share, also at the window's very edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kickoff.db import Database
from kickoff.db.read_model import ReadModelStore
from kickoff.db.stage_times import goal_figures, stage_figures
from kickoff.domain import StageVisit
from kickoff.readmodel.snapshot import OnboardingEntry, Snapshot, VisitEntry
from kickoff.reports.compute import GOAL_WINDOW, stage_times_of
from tests.support import catalog

ASSIST = catalog().pipelines["assist-se"]
GOALS = [stage.id for stage in ASSIST.stages if stage.goal]
STAGES = [stage.id for stage in ASSIST.stages]
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
"""The report's "now", passed explicitly: nothing here depends on today's date."""

# A visit: its stage, how long after the previous one it was entered, and how long it lasted
# (None: still open). Spans include whole days, the 30-day edge and single microseconds.
SPANS = st.one_of(
    st.integers(0, 10**6).map(lambda us: timedelta(microseconds=us)),
    st.integers(0, 60).map(lambda days: timedelta(days=days)),
    st.just(GOAL_WINDOW),
    st.integers(0, 10**13).map(lambda us: timedelta(microseconds=us)),
)
VISITS = st.lists(st.tuples(st.sampled_from(STAGES), SPANS, st.one_of(st.none(), SPANS)), max_size=5)
ONBOARDINGS = st.lists(
    st.tuples(
        st.integers(0, 200).map(lambda days: NOW - timedelta(days=days)),
        st.one_of(st.none(), st.integers(-3, 3).map(lambda days: timedelta(days=days))),
        VISITS,
        st.sampled_from(["running", "completed", "terminated"]),
        st.sampled_from(["assist-se", "pakkepilot-no"]),
    ),
    max_size=12,
)


Shape = list[tuple[str, timedelta, timedelta | None]]


def _snapshot(
    number: int,
    first: datetime,
    window: timedelta | None,
    shape: Shape,
    status: str = "running",
    pipeline: str = "assist-se",
) -> Snapshot:
    visits, moment = [], first
    for position, (stage, gap, spent) in enumerate(shape):
        moment += gap
        visits.append(
            VisitEntry(
                cycle=1,
                position=position,
                stage=stage,
                entered_at=moment,
                left_at=None if spent is None else moment + spent,
            )
        )
    entry = OnboardingEntry.model_validate(
        {
            "id": f"SE-C-{number}",
            "run_id": "run-1",
            "revision": 1,
            "cycle": 1,
            "pipeline": pipeline,
            "pipeline_version": "v1",
            "stage": "new",
            "stage_label": "Ny",
            "stage_entered_at": first,
            "status": status,
            "customer": "Acme AB",
            "window_start": None if window is None else first + window,
        }
    )
    return Snapshot(entry=entry, tasks=[], visits=visits)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(onboardings=ONBOARDINGS)
async def test_the_database_aggregates_exactly_what_the_pure_report_computes(
    database: Database, onboardings: list[tuple[datetime, timedelta | None, Shape, str, str]]
) -> None:
    store = ReadModelStore(database)
    await store.clear()
    snapshots = [_snapshot(number, *shape) for number, shape in enumerate(onboardings)]
    for snapshot in snapshots:
        await store.write(snapshot)
    counted = [s for s in snapshots if s.entry.pipeline == "assist-se" and s.entry.status != "terminated"]
    visit_lists = [
        [StageVisit(**v.model_dump(exclude={"cycle", "position"})) for v in o.visits] for o in counted
    ]
    expected = stage_times_of(
        ASSIST,
        visit_lists,
        NOW,
        starts=[s.entry.window_start for s in counted],
    )

    figures = await stage_figures(database, "assist-se")
    goals = await goal_figures(database, "assist-se", GOALS, NOW, GOAL_WINDOW)

    for row in expected.stages:
        found = figures.get(row.stage)
        assert (found.visits if found else 0) == row.visits, row.stage
        assert (found.median.total_seconds() / 3600 if found else None) == row.median_hours, row.stage
        assert (found.p90.total_seconds() / 3600 if found else None) == row.p90_hours, row.stage
    assert goals.onboardings == expected.onboardings
    assert goals.decided == expected.closed_within_30_days_of
    share = goals.quick / goals.decided if goals.decided else None
    assert share == expected.closed_within_30_days


async def test_a_goal_reached_exactly_at_the_window_s_end_counts_and_a_microsecond_later_does_not(
    database: Database,
) -> None:
    store = ReadModelStore(database)
    start = NOW - timedelta(days=60)
    goal, tick = GOALS[0], timedelta(microseconds=1)
    # Each gap is measured from the previous visit's entry: the goal is entered as "new" is left.
    on_time: Shape = [("new", timedelta(0), GOAL_WINDOW), (goal, GOAL_WINDOW, None)]
    late: Shape = [("new", timedelta(0), GOAL_WINDOW + tick), (goal, GOAL_WINDOW + tick, None)]
    await store.write(_snapshot(1, start, None, on_time))
    await store.write(_snapshot(2, start, None, late))
    found = await goal_figures(database, "assist-se", GOALS, NOW, GOAL_WINDOW)
    assert (found.onboardings, found.quick, found.decided) == (2, 1, 2)
    figures = await stage_figures(database, "assist-se")
    # Nearest rank of two values: the median is the lower, the 90th percentile the higher.
    assert (figures["new"].visits, figures["new"].median, figures["new"].p90) == (
        2,
        GOAL_WINDOW,
        GOAL_WINDOW + tick,
    )
