"""Reports: nearest-rank percentiles, time in stage, the 30-day goal share, the funnel."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.client import WorkflowExecutionStatus

from kickoff.domain import StageVisit
from kickoff.reports.compute import (
    GOAL_WINDOW,
    finished_hours,
    funnel_of,
    goal_share,
    percentile,
    reached_goal_within,
    stage_times_of,
)
from tests.support import catalog

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
ASSIST = catalog().pipelines["assist-se"]
RUNNING = WorkflowExecutionStatus.RUNNING
COMPLETED = WorkflowExecutionStatus.COMPLETED


def h(hours: float) -> datetime:
    """``hours`` after T0."""
    return T0 + timedelta(hours=hours)


def visit(stage: str, entered: float, left: float | None = None) -> StageVisit:
    """A visit entered ``entered`` hours after T0 and left ``left`` hours after T0 (open if None)."""
    return StageVisit(stage=stage, entered_at=h(entered), left_at=None if left is None else h(left))


def path(*stops: tuple[str, float], open_end: bool = True) -> list[StageVisit]:
    """Visits of one onboarding, each left when the next is entered (like the workflow records them)."""
    visits = [visit(stage, at, stops[i + 1][1]) for i, (stage, at) in enumerate(stops[:-1])]
    last_stage, last_at = stops[-1]
    visits.append(visit(last_stage, last_at, None if open_end else last_at + 1))
    return visits


# ---------------------------------------------------------------- percentiles


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 90, 5.0),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.0),  # even count: the lower middle value, not 2.5
        ([float(v) for v in range(1, 11)], 90, 9.0),  # rank ceil(0.9 * 10) = 9
        ([float(v) for v in range(1, 12)], 90, 10.0),  # rank ceil(9.9) = 10
        ([float(v) for v in range(1, 21)], 90, 18.0),
        ([float(v) for v in range(1, 71)], 90, 63.0),  # 0.9 * 70 is 63.00000000000001 in floats
        ([15.0, 20.0, 35.0, 40.0, 50.0], 30, 20.0),  # the textbook nearest-rank example
        ([15.0, 20.0, 35.0, 40.0, 50.0], 40, 20.0),
        ([15.0, 20.0, 35.0, 40.0, 50.0], 100, 50.0),
        ([15.0, 20.0, 35.0, 40.0, 50.0], 0, 15.0),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], percent: int, expected: float) -> None:
    """The p-th percentile is the value at rank ceil(p/100 · n) of the sorted values, never interpolated."""
    assert percentile(values, percent) == expected


def test_percentile_of_no_values_is_none() -> None:
    """No finished visits give no figure rather than zero."""
    assert percentile([], 50) is None
    assert percentile([], 90) is None


@pytest.mark.parametrize("percent", [-1, 101])
def test_percentile_outside_0_to_100_is_refused(percent: int) -> None:
    """A percent outside 0..100 is a programming error, not a figure."""
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], percent)


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60), st.integers(0, 100))
def test_percentile_is_a_value_with_at_least_p_percent_at_or_below_it(
    values: list[float], percent: int
) -> None:
    """The result is one of the values, at least p % of the values do not exceed it, and the least such."""
    result = percentile(values, percent)
    assert result in values
    at_or_below = sum(v <= result for v in values)
    assert at_or_below * 100 >= percent * len(values)
    smaller = [v for v in values if v < result]
    if smaller:  # the next smaller value would not do: fewer than p % are at or below it
        assert sum(v <= max(smaller) for v in values) * 100 < percent * len(values)


# ---------------------------------------------------------------- time in stage


def test_finished_hours_counts_only_visits_that_were_left() -> None:
    """Hours per finished visit, by stage; the open visit of a running onboarding is not counted."""
    visits = path(("new", 0), ("onboarding", 0.5), ("manual_follow_up", 48.5), ("onboarding", 60))
    assert finished_hours([visits]) == {"new": [0.5], "onboarding": [48.0], "manual_follow_up": [11.5]}


def test_stage_times_give_median_and_p90_per_stage_in_pipeline_order() -> None:
    """Each stage's median and p90 come from the finished visits of all onboardings, in pipeline order."""
    onboardings = [path(("new", 0), ("onboarding", hours)) for hours in (1, 2, 3, 4, 10)]
    onboardings.append(path(("new", 0), ("onboarding", 5), ("closed", 29)))
    report = stage_times_of(ASSIST, onboardings, now=h(24 * 100))

    assert [s.stage for s in report.stages] == ASSIST.stage_ids()
    by_stage = {s.stage: s for s in report.stages}
    new = by_stage["new"]
    assert (new.label, new.visits, new.median_hours, new.p90_hours) == ("Ny", 6, 3.0, 10.0)
    onboarding = by_stage["onboarding"]
    assert (onboarding.visits, onboarding.median_hours, onboarding.p90_hours) == (1, 24.0, 24.0)
    closed = by_stage["closed"]
    assert (closed.visits, closed.median_hours, closed.p90_hours) == (0, None, None)
    assert report.onboardings == 6
    assert report.goal_stages == ["closed"]


def test_visits_of_stages_the_pipeline_no_longer_has_are_ignored() -> None:
    """A run on an older pipeline snapshot may have visited a removed stage: it appears nowhere."""
    report = stage_times_of(ASSIST, [path(("triage", 0), ("onboarding", 3))], now=h(1))
    assert "triage" not in [s.stage for s in report.stages]
    assert all(s.visits == 0 for s in report.stages)


def test_stage_times_without_onboardings_have_no_figures() -> None:
    """No onboardings: every stage has zero visits and no figures, and the share is None."""
    report = stage_times_of(ASSIST, [], now=T0)
    assert all((s.visits, s.median_hours, s.p90_hours) == (0, None, None) for s in report.stages)
    assert (report.onboardings, report.closed_within_30_days, report.closed_within_30_days_of) == (0, None, 0)


# ---------------------------------------------------------------- the 30-day goal share


@pytest.mark.parametrize(
    ("goal_after", "reached"),
    [(24 * 29, True), (24 * 30, True), (24 * 30 + 1, False), (None, False)],
    ids=["day-29", "exactly-30-days", "30-days-and-an-hour", "never"],
)
def test_reaching_a_goal_counts_within_30_days_of_the_first_visit(
    goal_after: float | None, reached: bool
) -> None:
    """30 days are counted from the first visit's entered_at; exactly 30 days still counts."""
    stops: list[tuple[str, float]] = [("new", 0), ("onboarding", 2)]
    if goal_after is not None:
        stops.append(("closed", goal_after))
    assert reached_goal_within(path(*stops), ["closed"]) is reached


def test_no_visits_never_reached_a_goal() -> None:
    """An onboarding without recorded visits has not reached a goal as far as the report knows."""
    assert reached_goal_within([], ["closed"]) is False


def test_goal_share_is_over_decided_onboardings_only() -> None:
    """Quick ones and ones past their 30 days count; ones inside their window or without visits do not."""
    now = h(24 * 40)
    quick = path(("new", 0), ("onboarding", 1), ("closed", 24 * 10))
    late = path(("new", 0), ("onboarding", 1), ("closed", 24 * 35))
    stuck = path(("new", 0), ("onboarding", 1), ("follow_up", 24 * 30))
    young = path(("new", 24 * 30), ("onboarding", 24 * 30 + 1))  # 10 days old: undecided
    share, over = goal_share([quick, late, stuck, young, []], ["closed"], now)
    assert over == 3
    assert share == pytest.approx(1 / 3)


def test_goal_share_counts_a_young_onboarding_that_already_reached_its_goal() -> None:
    """An onboarding that reached its goal on day 2 is decided though its 30 days have not passed."""
    share, over = goal_share([path(("new", 0), ("closed", 48))], ["closed"], now=h(72))
    assert (share, over) == (1.0, 1)


def test_goal_share_is_none_when_no_onboarding_is_decided() -> None:
    """Only young onboardings (or none): no share rather than a misleading zero."""
    assert goal_share([], ["closed"], now=T0) == (None, 0)
    assert goal_share([path(("new", 0), ("onboarding", 1))], ["closed"], now=h(24)) == (None, 0)


def test_goal_share_accepts_any_goal_stage_of_the_pipeline() -> None:
    """Pipelines may have several goal stages; reaching any of them counts."""
    share, over = goal_share(
        [path(("a", 0), ("done", 5)), path(("a", 0), ("live", 5))], ["done", "live"], now=h(10)
    )
    assert (share, over) == (1.0, 2)


def test_report_share_uses_the_pipelines_goal_stages() -> None:
    """assist-se's goal stage is closed: the report's share is computed against it."""
    quick = path(("new", 0), ("onboarding", 1), ("closed", 24 * 3))
    stuck = path(("new", 0), ("onboarding", 1), ("inactive", 24 * 60))
    report = stage_times_of(ASSIST, [quick, stuck], now=h(24 * 61), unreadable=2)
    assert (report.closed_within_30_days, report.closed_within_30_days_of) == (0.5, 2)
    assert report.unreadable == 2
    assert timedelta(days=30) == GOAL_WINDOW


# ---------------------------------------------------------------- the funnel


def test_funnel_counts_per_stage_in_pipeline_order_with_zeros() -> None:
    """Every stage appears, in pipeline order, with its label; stages no longer declared count nowhere."""
    report = funnel_of(ASSIST, ["onboarding", "onboarding", "closed", "manual_follow_up", "retired", None])
    assert [(s.stage, s.count) for s in report.stages] == [
        ("new", 0),
        ("onboarding", 2),
        ("follow_up", 0),
        ("manual_follow_up", 1),
        ("inactive", 0),
        ("closed", 1),
    ]
    assert report.stages[1].label == "Onboarding – Pågår"
    assert report.total == 4
    assert report.pipeline == "assist-se"


def test_hours_are_exact_fractions_of_an_hour() -> None:
    """A visit of 90 minutes is 1.5 hours; seconds are kept."""
    visits = [StageVisit(stage="new", entered_at=T0, left_at=T0 + timedelta(minutes=90, seconds=36))]
    [hours] = finished_hours([visits])["new"]
    assert math.isclose(hours, 1.51)


def test_the_30_days_count_from_when_onboarding_could_begin_not_from_the_contract():
    """Received 45 days before its delivery start and closed 10 days after it: within 30 days of
    when onboarding could begin; counted from the contract's receipt it would not be."""
    days = 24
    visits = [
        visit("new", 0, 45 * days),
        visit("onboarding", 45 * days, 55 * days),
        visit("closed", 55 * days),
    ]
    now = T0 + timedelta(days=100)
    delivery_start = T0 + timedelta(days=45)

    assert goal_share([visits], ["closed"], now) == (0.0, 1)
    assert goal_share([visits], ["closed"], now, starts=[delivery_start]) == (1.0, 1)


def test_funnel_from_counts_equals_funnel_from_stages() -> None:
    """The read model hands counts per stage; they give the same report as one stage per run."""
    stages = ["onboarding", "onboarding", "closed", "retired"]
    assert funnel_of(ASSIST, {"onboarding": 2, "closed": 1, "retired": 1}) == funnel_of(ASSIST, stages)
