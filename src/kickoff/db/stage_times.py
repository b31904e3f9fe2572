"""Time in stage, aggregated by the database: two queries whose answers are a few rows per stage,
whatever the number of onboardings.

Reading every visit into Python (≈ 1.5 per onboarding) and sorting there took 0.4–0.9 s at
10,000 onboardings, most of it building objects; the database ranks the visits with a window
function and hands back only the two ranks each percentile needs.

Every moment is compared as whole microseconds since the epoch, so the figures are exactly those
of the pure ``kickoff.reports.compute.stage_times_of`` over the same visits (a property test
holds the two together, on SQLite and on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from kickoff.db.database import Database
from kickoff.db.schema import read_onboardings, read_visits

SHOWN = ("running", "completed")
"""The statuses the reports count (as ``kickoff.db.read_model.SHOWN``)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class epoch_us(FunctionElement[int]):  # noqa: N801 (a SQL function, named as one)
    """A stored moment as whole microseconds since 1970-01-01 UTC."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT gives a numeric (exact) on PostgreSQL 14 and later.
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000000 AS BIGINT)"


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC, see kickoff.db.database.utc_aware):
    # whole seconds of the first 19 characters, then the six digits after the point as they
    # are. The fraction is cut off before strftime sees it: SQLite parses a time to the
    # millisecond, so .9995 s and more would round up to the next second. julianday() would
    # round to about 50 µs and could move a visit across the 30-day line.
    moment = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', substr({moment}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({moment}, 21, 6) AS INTEGER))"
    )


@dataclass(frozen=True)
class StageFigures:
    visits: int
    """Finished visits of the stage."""
    median: timedelta
    p90: timedelta


@dataclass(frozen=True)
class GoalFigures:
    onboardings: int
    """Shown onboardings of the pipeline, with or without visits."""
    quick: int
    """Those that entered a goal stage within the window of their start."""
    decided: int
    """Those quick, and those with visits whose window has passed without."""


def _nearest_rank(percent: int, count: ColumnElement[int]) -> ColumnElement[int]:
    """``ceil(percent / 100 * count)`` in integers, as ``kickoff.reports.compute.percentile``."""
    return (count * percent + 99) // 100


async def stage_figures(database: Database, pipeline: str) -> dict[str, StageFigures]:
    """Per stage: how many finished visits, their median and 90th percentile (nearest rank)."""
    o, v = read_onboardings, read_visits
    spent = epoch_us(v.c.left_at) - epoch_us(v.c.entered_at)
    ranked = (
        select(
            v.c.stage,
            spent.label("spent"),
            func.row_number().over(partition_by=v.c.stage, order_by=spent).label("rank"),
            func.count().over(partition_by=v.c.stage).label("n"),
        )
        .join(o, o.c.id == v.c.onboarding_id)
        .where(o.c.pipeline == pipeline, o.c.status.in_(SHOWN), v.c.left_at.is_not(None))
        .subquery()
    )
    r = ranked.c
    query = select(r.stage, r.n, r.rank, r.spent).where(
        or_(r.rank == _nearest_rank(50, r.n), r.rank == _nearest_rank(90, r.n))
    )
    picked: dict[str, dict[int, int]] = {}
    counts: dict[str, int] = {}
    async with database.engine.connect() as db:
        for stage, n, rank, micros in (await db.execute(query)).all():
            counts[stage] = n
            picked.setdefault(stage, {})[rank] = micros
    figures = {}
    for stage, n in counts.items():
        ranks = picked[stage]
        figures[stage] = StageFigures(
            visits=n,
            median=timedelta(microseconds=ranks[(n * 50 + 99) // 100]),
            p90=timedelta(microseconds=ranks[(n * 90 + 99) // 100]),
        )
    return figures


async def goal_figures(
    database: Database, pipeline: str, goal_stages: Sequence[str], now: datetime, window: timedelta
) -> GoalFigures:
    """How many onboardings reached a goal stage within ``window`` of their start (the window's
    start the run recorded, else their first visit), and how many are decided (see
    ``kickoff.reports.compute.goal_share``)."""
    o, v = read_onboardings, read_visits
    goal_entered = case((v.c.stage.in_(goal_stages), epoch_us(v.c.entered_at)))
    per_onboarding = (
        select(
            func.coalesce(epoch_us(o.c.window_start), func.min(epoch_us(v.c.entered_at))).label("start"),
            func.min(goal_entered).label("goal"),
            func.count(v.c.stage).label("visits"),
        )
        .join(v, v.c.onboarding_id == o.c.id, isouter=True)
        .where(o.c.pipeline == pipeline, o.c.status.in_(SHOWN))
        .group_by(o.c.id, o.c.window_start)
        .subquery()
    )
    p = per_onboarding.c
    limit = _micros(window)
    in_time = (p.visits > 0) & p.goal.is_not(None) & (p.goal - p.start <= limit)
    passed = (p.visits > 0) & (_micros(now - _EPOCH) - p.start > limit)
    query = select(
        func.count(),
        func.coalesce(func.sum(case((in_time, 1), else_=0)), 0),
        func.coalesce(func.sum(case((in_time | passed, 1), else_=0)), 0),
    ).select_from(per_onboarding)
    async with database.engine.connect() as db:
        onboardings, quick, decided = (await db.execute(query)).one()
    return GoalFigures(int(onboardings), int(quick), int(decided))


def _micros(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
