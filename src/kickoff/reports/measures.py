"""The measures a pipeline declares (``reports:`` in pipelines.yaml), computed by the database.

Record measures add up a number field of a pipeline's records (or count them), per value of a
choice or boolean field or per current stage; compliance measures are shares of onboardings
(an anchor recent enough; a stage reached within a target time). Like the other reports they
count each onboarding once, in its latest run, if that is running or completed, and read only
the read model (its report facts: ``kickoff.readmodel.snapshot.ReportFacts``).

The database aggregates; Python only names and orders the groups, and works out each anchor
day's target moment in the pipeline's calendar (business days as the engine counts them), which
the query then joins as a small table of days. ``*_of`` are the same figures computed over
snapshots in Python: the reference a property test holds the queries to, on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import BigInteger, ColumnElement, FromClause, String, and_, case, column, func, select, values

from kickoff.db.database import Database
from kickoff.db.schema import read_anchors, read_onboardings, read_record_fields, read_records
from kickoff.db.stage_times import SHOWN, epoch_us
from kickoff.engine.plan import closed_days
from kickoff.pipelines import Pipeline
from kickoff.pipelines.reports import (
    BY_STAGE,
    ComplianceMeasure,
    ReachedWithin,
    RecentAnchor,
    RecordMeasure,
    record_fields,
)
from kickoff.readmodel.snapshot import Snapshot
from kickoff.reports.compute import _cached, _pipeline
from kickoff.schedule import local_moment, shift_date, start_of_day
from kickoff.service import OnboardingService
from kickoff.service.read_views import database_answers, store_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


NONE_LABEL = "(none)"
"""The group of records that do not carry the field grouped by."""


class RecordGroup(BaseModel):
    key: str | None
    """A choice, ``true`` / ``false``, or a stage id; None for records without the field."""
    label: str
    records: int
    sum: float | None = None
    """The sum of the measure's field over the group's records (sum measures only)."""


class RecordFigures(BaseModel):
    id: str
    label: str
    record: str
    sum_of: str | None
    """The number field added up; None when the measure counts records."""
    by: str | None
    records: int
    total: float | None
    groups: list[RecordGroup]
    """Every declared choice (or stage) in order, with zeros, then any other value found;
    empty when the measure is not grouped."""


class RecordsReport(BaseModel):
    pipeline: str
    measures: list[RecordFigures]


class ComplianceFigures(BaseModel):
    id: str
    label: str
    kind: Literal["recent", "reached_within"]
    met: int
    of: int
    share: float | None
    """``met / of`` (0..1); None when no onboarding counts."""
    undecided: int = 0
    """reached_within: onboardings on the clock that neither reached in time nor passed their
    target yet (left out of the share)."""


class ComplianceReport(BaseModel):
    pipeline: str
    as_of: datetime
    """The moment "recent" and "past its target" are judged at."""
    measures: list[ComplianceFigures]


# ---------------------------------------------------------------- naming and ordering


def _groups(
    pipeline: Pipeline, measure: RecordMeasure, found: dict[str | None, tuple[int, float | None]]
) -> list[RecordGroup]:
    """Each group's figures under its label, in declaration order (zeros included)."""
    if measure.by is None:
        return []
    labels: dict[str | None, str] = {}
    if measure.by == BY_STAGE:
        shown = measure.in_stages or tuple(pipeline.stage_ids())
        labels = {stage.id: stage.label for stage in pipeline.stages if stage.id in shown}
    else:
        spec = record_fields(pipeline.events).get(measure.record, {}).get(measure.by)
        if spec is not None and spec.type == "boolean":
            labels = {"true": "yes", "false": "no"}
        elif spec is not None:
            labels = {choice: choice for choice in spec.choices or ()}
    others = sorted(key for key in found if key is not None and key not in labels)
    keys = [*labels, *others, *([None] if None in found else [])]
    zero = 0.0 if measure.sum is not None else None
    return [
        RecordGroup(
            key=key,
            label=labels.get(key, key if key is not None else NONE_LABEL),
            records=found.get(key, (0, zero))[0],
            sum=found.get(key, (0, zero))[1],
        )
        for key in keys
    ]


def _record_figures(
    pipeline: Pipeline, mid: str, measure: RecordMeasure, found: dict[str | None, tuple[int, float | None]]
) -> RecordFigures:
    sums = [s for _, s in found.values() if s is not None]
    return RecordFigures(
        id=mid,
        label=measure.label,
        record=measure.record,
        sum_of=measure.sum,
        by=measure.by,
        records=sum(n for n, _ in found.values()),
        total=sum(sums, 0.0) if measure.sum is not None else None,
        groups=_groups(pipeline, measure, found),
    )


def recent_stages(pipeline: Pipeline, spec: RecentAnchor) -> tuple[str, ...]:
    return spec.in_stages or tuple(stage.id for stage in pipeline.stages if not stage.goal)


def reached_anchors(pipeline: Pipeline, spec: ReachedWithin) -> tuple[str, ...]:
    """The anchors that say a counted stage was reached: ``entered:<stage>``."""
    stages = spec.stages or tuple(stage.id for stage in pipeline.stages if stage.goal)
    return tuple(f"entered:{sid}" for sid in stages)


def target_moment(pipeline: Pipeline, spec: ReachedWithin, day: date) -> datetime:
    """The last moment an onboarding whose anchor fell on local ``day`` reaches in time: ``time``
    on the target day, or the last microsecond of that day."""
    target = shift_date(day, spec.days, spec.unit, closed_days(pipeline))
    if spec.time is not None:
        return local_moment(target, spec.time, pipeline.timezone)
    return start_of_day(target + timedelta(days=1), pipeline.timezone) - timedelta(microseconds=1)


def _share(mid: str, measure: ComplianceMeasure, met: int, of: int, undecided: int = 0) -> ComplianceFigures:
    kind: Literal["recent", "reached_within"] = "recent" if measure.recent is not None else "reached_within"
    share = met / of if of else None
    return ComplianceFigures(
        id=mid, label=measure.label, kind=kind, met=met, of=of, share=share, undecided=undecided
    )


# ---------------------------------------------------------------- the pure reference


def _counted(snapshots: Iterable[Snapshot], pipeline: Pipeline) -> list[Snapshot]:
    return [s for s in snapshots if s.entry.pipeline == pipeline.id and s.entry.status in SHOWN]


def record_figures_of(
    pipeline: Pipeline, mid: str, measure: RecordMeasure, snapshots: Iterable[Snapshot]
) -> RecordFigures:
    """``record_figures`` over snapshots, in Python."""
    found: dict[str | None, tuple[int, float | None]] = {}
    for snapshot in _counted(snapshots, pipeline):
        if snapshot.facts is None or (measure.in_stages and snapshot.entry.stage not in measure.in_stages):
            continue
        for record in snapshot.facts.records:
            if record.record != measure.record:
                continue
            key = None
            if measure.by == BY_STAGE:
                key = snapshot.entry.stage
            elif measure.by is not None:
                key = record.values.get(measure.by)
            count, total = found.get(key, (0, None))
            number = record.numbers.get(measure.sum) if measure.sum is not None else None
            if number is not None:
                total = (total or 0.0) + number
            found[key] = (count + 1, total)
    if measure.sum is not None:
        found = {key: (n, total or 0.0) for key, (n, total) in found.items()}
    return _record_figures(pipeline, mid, measure, found)


def compliance_figures_of(
    pipeline: Pipeline, mid: str, measure: ComplianceMeasure, snapshots: Iterable[Snapshot], now: datetime
) -> ComplianceFigures:
    """``compliance_figures`` over snapshots, in Python."""
    counted = _counted(snapshots, pipeline)
    if measure.recent is not None:
        spec = measure.recent
        stages, names, since = (
            recent_stages(pipeline, spec),
            spec.anchor_names(),
            now - timedelta(days=spec.days),
        )
        of = met = 0
        for snapshot in counted:
            if snapshot.entry.stage not in stages:
                continue
            of += 1
            moments = [a.at for a in (snapshot.facts.anchors if snapshot.facts else []) if a.name in names]
            met += bool(moments) and max(moments) >= since
        return _share(mid, measure, met, of)
    within = measure.reached_within
    assert within is not None
    goals = reached_anchors(pipeline, within)
    anchored = met = decided = 0
    for snapshot in counted:
        anchors = {a.name: a for a in snapshot.facts.anchors} if snapshot.facts else {}
        start = anchors.get(within.anchor)
        if start is None:
            continue
        anchored += 1
        due = target_moment(pipeline, within, start.day)
        reached = [anchors[name].at for name in goals if name in anchors]
        in_time = bool(reached) and min(reached) <= due
        met += in_time
        decided += in_time or now > due
    return _share(mid, measure, met, decided, anchored - decided)


# ---------------------------------------------------------------- the database


def _micros(moment: datetime) -> int:
    span = moment - _EPOCH
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


async def record_figures(
    database: Database, pipeline: Pipeline, mid: str, measure: RecordMeasure
) -> RecordFigures:
    """One row per group from the database: how many records, and the sum of the field."""
    o, r = read_onboardings, read_records
    summed, grouped = read_record_fields.alias("summed"), read_record_fields.alias("grouped")

    def same_record(f: FromClause, name: str) -> ColumnElement[bool]:
        """The field ``name`` of the record in hand."""
        return and_(
            f.c.onboarding_id == r.c.onboarding_id,
            f.c.record == r.c.record,
            f.c.position == r.c.position,
            f.c.field == name,
        )

    source = r.join(o, o.c.id == r.c.onboarding_id)
    total: ColumnElement[float | None] = func.sum(summed.c.number)
    if measure.sum is not None:
        source = source.outerjoin(summed, same_record(summed, measure.sum))
    key: ColumnElement[str | None] | None = None
    if measure.by == BY_STAGE:
        key = o.c.stage
    elif measure.by is not None:
        source = source.outerjoin(grouped, same_record(grouped, measure.by))
        key = grouped.c.value
    picked = [func.count().label("n"), *([total.label("total")] if measure.sum is not None else [])]
    query = select(*([key.label("key")] if key is not None else []), *picked).select_from(source)
    query = query.where(o.c.pipeline == pipeline.id, o.c.status.in_(SHOWN), r.c.record == measure.record)
    if measure.in_stages:
        query = query.where(o.c.stage.in_(measure.in_stages))
    if key is not None:
        query = query.group_by(key)
    found: dict[str | None, tuple[int, float | None]] = {}
    async with database.engine.connect() as db:
        for row in (await db.execute(query)).mappings():
            n = int(row["n"])
            if n == 0:
                continue  # no group at all: the ungrouped count of nothing
            sum_ = float(row["total"] or 0.0) if measure.sum is not None else None
            found[row["key"] if key is not None else None] = (n, sum_)
    return _record_figures(pipeline, mid, measure, found)


async def compliance_figures(
    database: Database, pipeline: Pipeline, mid: str, measure: ComplianceMeasure, now: datetime
) -> ComplianceFigures:
    """The share from the database: two aggregate queries (a third for the target's days)."""
    if measure.recent is not None:
        met, of = await _recent(database, pipeline, measure.recent, now)
        return _share(mid, measure, met, of)
    assert measure.reached_within is not None
    anchored, met, decided = await _reached(database, pipeline, measure.reached_within, now)
    return _share(mid, measure, met, decided, anchored - decided)


async def _recent(
    database: Database, pipeline: Pipeline, spec: RecentAnchor, now: datetime
) -> tuple[int, int]:
    o, a = read_onboardings, read_anchors
    per_onboarding = (
        select(func.max(epoch_us(a.c.at)).label("latest"))
        .select_from(o.outerjoin(a, and_(a.c.onboarding_id == o.c.id, a.c.name.in_(spec.anchor_names()))))
        .where(
            o.c.pipeline == pipeline.id,
            o.c.status.in_(SHOWN),
            o.c.stage.in_(recent_stages(pipeline, spec)),
        )
        .group_by(o.c.id)
        .subquery()
    )
    since = _micros(now - timedelta(days=spec.days))
    query = select(
        func.coalesce(func.sum(case((per_onboarding.c.latest >= since, 1), else_=0)), 0),
        func.count(),
    ).select_from(per_onboarding)
    async with database.engine.connect() as db:
        met, of = (await db.execute(query)).one()
    return int(met), int(of)


async def _reached(
    database: Database, pipeline: Pipeline, spec: ReachedWithin, now: datetime
) -> tuple[int, int, int]:
    o = read_onboardings
    start, reached = read_anchors.alias("start"), read_anchors.alias("reached")
    counted = (o.c.pipeline == pipeline.id, o.c.status.in_(SHOWN))
    anchored = o.join(start, and_(start.c.onboarding_id == o.c.id, start.c.name == spec.anchor))
    async with database.engine.connect() as db:
        days = (
            await db.execute(select(start.c.day).distinct().select_from(anchored).where(*counted))
        ).scalars()
        targets = [(day, _micros(target_moment(pipeline, spec, date.fromisoformat(day)))) for day in days]
        if not targets:
            return 0, 0, 0
        # Each anchor day's target as a table; plain literals (ISO dates and integers), so any
        # number of days fits in one statement without a parameter per value.
        due = (
            values(column("day", String), column("due", BigInteger), name="due", literal_binds=True)
            .data(targets)
            .cte("due")
        )
        per_onboarding = (
            select(due.c.due.label("due"), func.min(epoch_us(reached.c.at)).label("reached"))
            .select_from(
                anchored.join(due, due.c.day == start.c.day).outerjoin(
                    reached,
                    and_(
                        reached.c.onboarding_id == o.c.id,
                        reached.c.name.in_(reached_anchors(pipeline, spec)),
                    ),
                )
            )
            .where(*counted)
            .group_by(o.c.id, due.c.due)
            .subquery()
        )
        p = per_onboarding.c
        in_time = p.reached.is_not(None) & (p.reached <= p.due)
        query = select(
            func.count(),
            func.coalesce(func.sum(case((in_time, 1), else_=0)), 0),
            func.coalesce(func.sum(case((in_time | (p.due < _micros(now)), 1), else_=0)), 0),
        ).select_from(per_onboarding)
        total, met, decided = (await db.execute(query)).one()
    return int(total), int(met), int(decided)


async def records_of(database: Database, pipeline: Pipeline) -> RecordsReport:
    """Every record measure ``pipeline`` declares."""
    declared = pipeline.reports.records if pipeline.reports else {}
    measures = [await record_figures(database, pipeline, mid, m) for mid, m in declared.items()]
    return RecordsReport(pipeline=pipeline.id, measures=measures)


async def compliance_of(database: Database, pipeline: Pipeline, now: datetime) -> ComplianceReport:
    """Every compliance measure ``pipeline`` declares, as of ``now``."""
    declared = pipeline.reports.compliance if pipeline.reports else {}
    measures = [await compliance_figures(database, pipeline, mid, m, now) for mid, m in declared.items()]
    return ComplianceReport(pipeline=pipeline.id, as_of=now, measures=measures)


# ---------------------------------------------------------------- the service's reports


async def records_report(service: OnboardingService, pipeline: str) -> RecordsReport:
    """The record measures of ``pipeline``, reused for ``report_cache_seconds`` as the other
    reports are. Raises UnprocessableError (422) for a pipeline the catalog does not know."""
    spec = _pipeline(service, pipeline)

    async def compute() -> RecordsReport:
        async with database_answers():
            return await records_of(store_of(service).database, spec)

    return await _cached(service, "records", spec.id, compute)


async def compliance_report(service: OnboardingService, pipeline: str) -> ComplianceReport:
    """The compliance measures of ``pipeline`` as of now, reused for ``report_cache_seconds``."""
    spec = _pipeline(service, pipeline)

    async def compute() -> ComplianceReport:
        async with database_answers():
            return await compliance_of(store_of(service).database, spec, datetime.now(UTC))

    return await _cached(service, "compliance", spec.id, compute)
