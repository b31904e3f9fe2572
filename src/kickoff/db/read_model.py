"""The read model in Kickoff's database: what the staff views read instead of asking every run.

Each run writes its snapshot (``kickoff.readmodel``) after a workflow task changed it; writes
are idempotent and order-safe per onboarding: a snapshot replaces the stored one only when its
revision is not lower, and its open tasks and visits are replaced in the same transaction, with
its report facts (anchors and records) when the snapshot carries them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from kickoff.crypto.fields import FieldSealer
from kickoff.db.database import Database, dialect_insert, utc_aware
from kickoff.db.schema import (
    kickoff_outcomes,
    read_anchors,
    read_onboardings,
    read_record_fields,
    read_records,
    read_tasks,
    read_visits,
    task_assignments,
)
from kickoff.domain import Task, TaskSide, task_id
from kickoff.readmodel.snapshot import (
    OUTCOME_TASK_NUMBER,
    AnchorEntry,
    OnboardingEntry,
    RecordEntry,
    ReportFacts,
    Snapshot,
    VisitEntry,
)

SHOWN = ("running", "completed")
"""Statuses that put an onboarding in a stage; runs ops ended are theirs to look at."""
_TASK_COLUMNS = [column.name for column in read_tasks.columns if column.name != "onboarding_id"]
_MOMENTS = ("stage_entered_at", "next_step_at", "window_start")
_FACT_TABLES = (read_anchors, read_records, read_record_fields)
"""The report facts (``Snapshot.facts``): replaced together, and only by a snapshot that has them."""


@dataclass(frozen=True)
class TaskPage:
    tasks: list[tuple[Task, OnboardingEntry]]
    next_after: tuple[datetime, str] | None
    """Where the next page starts (the last task's due time and id), None on the last page."""
    assignees: dict[str, str] = field(default_factory=dict)
    """Task id → the account id it is assigned to (assigned tasks only)."""


class ReadModelStore:
    def __init__(self, database: Database, sealer: FieldSealer | None = None) -> None:
        self.database = database
        # Seals the customer's name with the onboarding's data key (kickoff.crypto.fields).
        self.sealer = sealer

    # ---------------------------------------------------------------- write

    async def write(self, snapshot: Snapshot) -> bool:
        """Store ``snapshot`` unless a newer one is stored; True when it was applied."""
        entry = snapshot.entry
        async with self.database.engine.begin() as db:
            recorded = await _recorded_outcome(db, entry.id, entry.cycle)
            if recorded is not None:
                # Recorded in the database after the run completed: the run does not know it.
                entry = entry.model_copy(
                    update={"awaiting_outcome": False, "outcome": recorded[0], "segment": recorded[1]}
                )
            values = _row(entry)
            if self.sealer is not None:
                values["customer"] = await self.sealer.seal(entry.id, entry.customer)
            stored = await db.execute(_upsert_unless_newer(self.database.dialect, values))
            if stored.rowcount == 0:
                return False  # a newer snapshot is stored
            tasks = [t for t in snapshot.tasks if recorded is None or not _is_outcome_task(t, entry)]
            await _replace_children(db, entry.id, tasks, snapshot.visits)
            if snapshot.facts is not None:
                await _replace_facts(db, entry.id, snapshot.facts)
        return True

    async def outcome_recorded(
        self, onboarding_id: str, cycle: int, outcome: str, segment: str | None
    ) -> None:
        """A completed run's kick-off outcome was recorded: it awaits nothing more."""
        async with self.database.engine.begin() as db:
            table = read_onboardings
            await db.execute(
                update(table)
                .where(table.c.id == onboarding_id, table.c.cycle == cycle)
                .values(awaiting_outcome=False, outcome=outcome, segment=segment)
            )
            gone = task_id(onboarding_id, cycle, OUTCOME_TASK_NUMBER)
            await db.execute(delete(read_tasks).where(read_tasks.c.id == gone))
            left = (
                select(func.count())
                .select_from(read_tasks)
                .where(read_tasks.c.onboarding_id == onboarding_id)
            )
            await db.execute(
                update(table).where(table.c.id == onboarding_id).values(open_tasks=left.scalar_subquery())
            )

    async def mark_ended(self, onboarding_id: str, run_id: str, status: str) -> bool:
        """A run ops terminated (or that failed or timed out) wrote nothing as it ended."""
        table = read_onboardings
        async with self.database.engine.begin() as db:
            moved = await db.execute(
                update(table)
                .where(table.c.id == onboarding_id, table.c.run_id == run_id, table.c.status == "running")
                .values(status=status, next_step=None, next_step_at=None, updated_at=_now())
            )
            if moved.rowcount:
                await db.execute(delete(read_tasks).where(read_tasks.c.onboarding_id == onboarding_id))
                await db.execute(update(table).where(table.c.id == onboarding_id).values(open_tasks=0))
        return bool(moved.rowcount)

    async def remove_except(self, kept: set[str]) -> int:
        """Remove the rows of onboardings not in ``kept`` (gone from Temporal); returns how many."""
        async with self.database.engine.begin() as db:
            stored = set((await db.execute(select(read_onboardings.c.id))).scalars())
            gone = sorted(stored - kept)
            for start in range(0, len(gone), 500):  # bound the statement's parameters
                chunk = gone[start : start + 500]
                for table, column in (
                    *((fact, fact.c.onboarding_id) for fact in _FACT_TABLES),
                    (read_visits, read_visits.c.onboarding_id),
                    (read_tasks, read_tasks.c.onboarding_id),
                    (read_onboardings, read_onboardings.c.id),
                ):
                    await db.execute(delete(table).where(column.in_(chunk)))
        return len(gone)

    async def _opened(self, rows: Sequence[Any]) -> list[OnboardingEntry]:
        """Entries from rows, their customer names unsealed (one key query for all of them)."""
        entries = [_entry(row) for row in rows]
        if self.sealer is None or not entries:
            return entries
        await self.sealer.preload(entry.id for entry in entries)
        return [
            entry.model_copy(update={"customer": await self.sealer.open(entry.id, entry.customer) or ""})
            for entry in entries
        ]

    async def clear(self) -> None:
        async with self.database.engine.begin() as db:
            for table in (*_FACT_TABLES, read_visits, read_tasks, read_onboardings):
                await db.execute(delete(table))

    # ---------------------------------------------------------------- read

    async def open_tasks(
        self,
        *,
        owner_role: str | None = None,
        owner: TaskSide | None = None,
        limit: int = 200,
        after: tuple[datetime, str] | None = None,
        assignee: str | None = None,
    ) -> TaskPage:
        """Open tasks of onboardings in a stage, soonest due first, a page at a time; with
        ``assignee`` (an account id) only the tasks given to that person."""
        t, o, given = read_tasks, read_onboardings, task_assignments
        query = (
            select(
                t,
                given.c.account_id.label("assignee_id"),
                *(o.c[name].label(f"o_{name}") for name in OnboardingEntry.model_fields),
            )
            .join(o, o.c.id == t.c.onboarding_id)
            .join(given, given.c.task_id == t.c.id, isouter=True)
            .where(o.c.status.in_(SHOWN))
            .order_by(t.c.due_at, t.c.id)
            .limit(limit + 1)
        )
        if owner_role is not None:
            query = query.where(t.c.owner_role == owner_role)
        if owner is not None:
            query = query.where(t.c.owner == owner)
        if assignee is not None:
            query = query.where(given.c.account_id == assignee)
        if after is not None:
            due, last = after[0].astimezone(UTC), after[1]
            query = query.where(or_(t.c.due_at > due, and_(t.c.due_at == due, t.c.id > last)))
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        page = rows[:limit]
        entries = await self._opened(
            [{n: row[f"o_{n}"] for n in OnboardingEntry.model_fields} for row in page]
        )
        found = [(_task(row), entry) for row, entry in zip(page, entries, strict=True)]
        more = len(rows) > limit
        assigned = {row["id"]: row["assignee_id"] for row in page if row["assignee_id"] is not None}
        return TaskPage(found, (found[-1][0].due_at, found[-1][0].id) if more and found else None, assigned)

    async def entries(self, pipeline: str | None = None, limit: int | None = None) -> list[OnboardingEntry]:
        """Onboardings in a stage (of ``pipeline``), those that moved most recently first."""
        o = read_onboardings
        query = select(o).where(o.c.status.in_(SHOWN)).order_by(o.c.stage_entered_at.desc(), o.c.id)
        if pipeline is not None:
            query = query.where(o.c.pipeline == pipeline)
        if limit is not None:
            query = query.limit(limit)
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return await self._opened(rows)

    async def entry(self, onboarding_id: str) -> OnboardingEntry | None:
        o = read_onboardings
        async with self.database.engine.connect() as db:
            row = (await db.execute(select(o).where(o.c.id == onboarding_id))).mappings().first()
        return (await self._opened([row]))[0] if row else None

    async def count_by_status(self, pipeline: str) -> dict[str, int]:
        o = read_onboardings
        query = select(o.c.status, func.count()).where(o.c.pipeline == pipeline).group_by(o.c.status)
        async with self.database.engine.connect() as db:
            return {str(status): int(n) for status, n in (await db.execute(query)).all()}

    async def stage_counts(self, pipeline: str) -> dict[str, int]:
        """Onboardings of ``pipeline`` in a stage, per stage (the funnel)."""
        o = read_onboardings
        query = (
            select(o.c.stage, func.count())
            .where(o.c.pipeline == pipeline, o.c.status.in_(SHOWN))
            .group_by(o.c.stage)
        )
        async with self.database.engine.connect() as db:
            return {str(stage): int(n) for stage, n in (await db.execute(query)).all()}

    async def visits(self, pipeline: str) -> list[tuple[datetime | None, list[VisitEntry]]]:
        """Each shown onboarding's window start and visits (every cycle, oldest first)."""
        o, v = read_onboardings, read_visits
        query = (
            select(o.c.id, o.c.window_start, v.c.cycle, v.c.position, v.c.stage, v.c.entered_at, v.c.left_at)
            .join(v, v.c.onboarding_id == o.c.id, isouter=True)
            .where(o.c.pipeline == pipeline, o.c.status.in_(SHOWN))
            .order_by(o.c.id, v.c.cycle, v.c.position)
        )
        found: dict[str, tuple[datetime | None, list[VisitEntry]]] = {}
        async with self.database.engine.connect() as db:
            for row in (await db.execute(query)).mappings():
                start = utc_aware(row["window_start"]) if row["window_start"] else None
                _, visits = found.setdefault(row["id"], (start, []))
                if row["stage"] is not None:
                    visits.append(_visit(row))
        return list(found.values())

    async def dump(self) -> list[Snapshot]:
        """Every stored snapshot (revisions as stored), by onboarding id: what a rebuild compares."""
        async with self.database.engine.connect() as db:
            stored = (await db.execute(select(read_onboardings))).mappings().all()
            tasks = [_task(r) for r in (await db.execute(select(read_tasks))).mappings().all()]
            visits = (await db.execute(select(read_visits))).mappings().all()
            facts = await _facts(db)
        entries = await self._opened(stored)
        by_task: dict[str, list[Task]] = {}
        for task in tasks:
            by_task.setdefault(_onboarding_of(task.id), []).append(task)
        by_visit: dict[str, list[VisitEntry]] = {}
        for row in visits:
            by_visit.setdefault(row["onboarding_id"], []).append(_visit(row))
        return [
            Snapshot(
                entry=entry,
                tasks=sorted(by_task.get(entry.id, []), key=lambda t: t.id),
                visits=sorted(by_visit.get(entry.id, []), key=lambda v: (v.cycle, v.position)),
                facts=facts.get(entry.id),
            )
            for entry in sorted(entries, key=lambda e: e.id)
        ]


def _upsert_unless_newer(dialect: str, values: dict[str, Any]) -> Insert:
    """One statement, so two writers of a new onboarding cannot both miss the row and then lose
    the newer snapshot to the insert that won: insert, or replace a row of no higher revision."""
    table = read_onboardings
    insert = dialect_insert(dialect, table).values(values)
    return insert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={name: insert.excluded[name] for name in values if name != "id"},
        where=table.c.revision <= insert.excluded.revision,
    )


async def _recorded_outcome(
    db: AsyncConnection, onboarding_id: str, cycle: int
) -> tuple[str, str | None] | None:
    k = kickoff_outcomes
    row = (
        await db.execute(
            select(k.c.outcome, k.c.segment).where(k.c.onboarding_id == onboarding_id, k.c.cycle == cycle)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def _replace_children(
    db: AsyncConnection, onboarding_id: str, tasks: Sequence[Task], visits: Sequence[VisitEntry]
) -> None:
    await db.execute(delete(read_tasks).where(read_tasks.c.onboarding_id == onboarding_id))
    await db.execute(delete(read_visits).where(read_visits.c.onboarding_id == onboarding_id))
    if tasks:
        await db.execute(
            insert(read_tasks),
            [
                {
                    **task.model_dump(include=set(_TASK_COLUMNS)),
                    "onboarding_id": onboarding_id,
                    "due_at": task.due_at.astimezone(UTC),
                    "created_at": task.created_at.astimezone(UTC),
                }
                for task in tasks
            ],
        )
    if visits:
        await db.execute(
            insert(read_visits),
            [
                {
                    **visit.model_dump(),
                    "onboarding_id": onboarding_id,
                    "entered_at": visit.entered_at.astimezone(UTC),
                    "left_at": visit.left_at.astimezone(UTC) if visit.left_at else None,
                }
                for visit in visits
            ],
        )


async def _replace_facts(db: AsyncConnection, onboarding_id: str, facts: ReportFacts) -> None:
    for table in _FACT_TABLES:
        await db.execute(delete(table).where(table.c.onboarding_id == onboarding_id))
    if facts.anchors:
        await db.execute(
            insert(read_anchors),
            [
                {
                    "onboarding_id": onboarding_id,
                    "name": anchor.name,
                    "at": anchor.at.astimezone(UTC),
                    "day": anchor.day.isoformat(),
                }
                for anchor in facts.anchors
            ],
        )
    if facts.records:
        await db.execute(
            insert(read_records),
            [
                {
                    "onboarding_id": onboarding_id,
                    "record": record.record,
                    "position": record.position,
                    "logged_at": record.logged_at.astimezone(UTC) if record.logged_at else None,
                }
                for record in facts.records
            ],
        )
    fields = [
        {"record": r.record, "position": r.position, "field": name, "number": number, "value": None}
        for r in facts.records
        for name, number in r.numbers.items()
    ] + [
        {"record": r.record, "position": r.position, "field": name, "number": None, "value": value}
        for r in facts.records
        for name, value in r.values.items()
    ]
    if fields:
        await db.execute(
            insert(read_record_fields), [{**row, "onboarding_id": onboarding_id} for row in fields]
        )


async def _facts(db: AsyncConnection) -> dict[str, ReportFacts]:
    """Every onboarding's stored report facts (none for one whose runs never wrote them), in
    the snapshot's order (sorted here: a database's collation may order names otherwise)."""
    found: dict[str, ReportFacts] = {}
    for row in (await db.execute(select(read_anchors))).mappings():
        found.setdefault(row["onboarding_id"], ReportFacts()).anchors.append(
            AnchorEntry(name=row["name"], at=utc_aware(row["at"]), day=date.fromisoformat(row["day"]))
        )
    r, f = read_records, read_record_fields
    records: dict[tuple[str, str, int], RecordEntry] = {}
    for row in (await db.execute(select(r))).mappings():
        entry = RecordEntry(
            record=row["record"],
            position=row["position"],
            logged_at=utc_aware(row["logged_at"]) if row["logged_at"] else None,
        )
        records[(row["onboarding_id"], row["record"], row["position"])] = entry
        found.setdefault(row["onboarding_id"], ReportFacts()).records.append(entry)
    for row in (await db.execute(select(f))).mappings():
        entry = records[(row["onboarding_id"], row["record"], row["position"])]
        if row["number"] is not None:
            entry.numbers[row["field"]] = row["number"]
        elif row["value"] is not None:
            entry.values[row["field"]] = row["value"]
    for facts in found.values():
        facts.anchors.sort(key=lambda anchor: anchor.name)
        facts.records.sort(key=lambda record: (record.record, record.position))
    return found


def _is_outcome_task(task: Task, entry: OnboardingEntry) -> bool:
    return task.id == task_id(entry.id, entry.cycle, OUTCOME_TASK_NUMBER)


def _onboarding_of(task: str) -> str:
    return task.rsplit(".", 2)[0]


def _row(entry: OnboardingEntry) -> dict[str, Any]:
    values = entry.model_dump()
    for name in _MOMENTS:
        if values[name] is not None:
            values[name] = values[name].astimezone(UTC)
    values["updated_at"] = _now()
    return values


def _entry(row: Any) -> OnboardingEntry:
    values = {name: row[name] for name in OnboardingEntry.model_fields}
    for name in _MOMENTS:
        if values[name] is not None:
            values[name] = utc_aware(values[name])
    return OnboardingEntry.model_validate(values)


def _task(row: Any) -> Task:
    values = {name: row[name] for name in _TASK_COLUMNS}
    values["due_at"] = utc_aware(values["due_at"])
    values["created_at"] = utc_aware(values["created_at"])
    return Task.model_validate(values)


def _visit(row: Any) -> VisitEntry:
    return VisitEntry(
        cycle=row["cycle"],
        position=row["position"],
        stage=row["stage"],
        entered_at=utc_aware(row["entered_at"]),
        left_at=utc_aware(row["left_at"]) if row["left_at"] else None,
    )


def _now() -> datetime:
    return datetime.now(UTC)
