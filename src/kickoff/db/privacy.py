"""What Kickoff's own tables hold of one onboarding, and erasing the personal part of it.

Personal data in these tables: the read model's customer name and its open tasks' titles, a
kick-off outcome's advisor (``owner``) and who recorded it (``recorded_by``). Everything else is
kept after an erasure: stages and dates (visits, the row's stage and status), outcomes and
segments, and the mail ledger, which holds Message-IDs (``<onboarding.cycle.stage.visit.step@
team domain>``: the onboarding id and the pipeline's own domain, nothing of the customer), a
state and a random claim token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, delete, select, update

from kickoff.db.database import Database, utc_aware
from kickoff.db.schema import kickoff_outcomes, mail_ledger, read_onboardings, read_tasks, read_visits
from kickoff.domain import Task
from kickoff.readmodel.snapshot import VisitEntry

ERASED = "(erased)"
"""What an erased name reads as (as a sealed value whose data key was destroyed reads)."""
ERASED_REVISION = 2**63 - 1
"""An erased row's revision: above any a run writes (microseconds x 1000), so a snapshot still on
its way when the run was ended can never put the customer's name back."""


@dataclass(frozen=True)
class LedgerRow:
    message_id: str
    state: str
    updated_at: datetime


@dataclass(frozen=True)
class KeptRow:
    """The read model's row of an erased onboarding, without anything personal."""

    cycle: int
    pipeline: str
    pipeline_version: str
    stage: str
    stage_label: str
    stage_entered_at: datetime
    status: str


@dataclass(frozen=True)
class KeptOutcome:
    """A recorded kick-off outcome without the advisor's and the recorder's names."""

    cycle: int
    outcome: str
    segment: str | None
    recorded_at: datetime


class PrivacyStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def scrub(self, onboarding_id: str, status: str) -> None:
        """Remove the onboarding's personal data from Kickoff's tables, in one transaction
        (idempotent): the row's customer becomes ``ERASED`` and its run ``status`` (ended), its
        open tasks go, and its outcomes lose the advisor's and the recorder's names."""
        o, k = read_onboardings, kickoff_outcomes
        async with self.database.engine.begin() as db:
            await db.execute(delete(read_tasks).where(read_tasks.c.onboarding_id == onboarding_id))
            await db.execute(
                update(o)
                .where(o.c.id == onboarding_id)
                .values(
                    customer=ERASED,
                    status=status,
                    revision=ERASED_REVISION,
                    next_step=None,
                    next_step_at=None,
                    open_tasks=0,
                    open_task_roles=[],
                    awaiting_outcome=False,
                    updated_at=datetime.now(UTC),
                )
            )
            await db.execute(
                update(k)
                .where(k.c.onboarding_id == onboarding_id)
                .values(recorded_by=ERASED, owner=case((k.c.owner.is_(None), None), else_=ERASED))
            )

    async def kept_row(self, onboarding_id: str) -> KeptRow | None:
        o = read_onboardings
        columns = [o.c[name] for name in KeptRow.__dataclass_fields__]
        async with self.database.engine.connect() as db:
            row = (await db.execute(select(*columns).where(o.c.id == onboarding_id))).mappings().first()
        if row is None:
            return None
        return KeptRow(**{**row, "stage_entered_at": utc_aware(row["stage_entered_at"])})

    async def kept_outcomes(self, onboarding_id: str) -> list[KeptOutcome]:
        k = kickoff_outcomes
        query = (
            select(k.c.cycle, k.c.outcome, k.c.segment, k.c.recorded_at)
            .where(k.c.onboarding_id == onboarding_id)
            .order_by(k.c.cycle)
        )
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return [KeptOutcome(**{**row, "recorded_at": utc_aware(row["recorded_at"])}) for row in rows]

    async def visits(self, onboarding_id: str) -> list[VisitEntry]:
        """Every cycle's stage visits, oldest first."""
        v = read_visits
        query = select(v).where(v.c.onboarding_id == onboarding_id).order_by(v.c.cycle, v.c.position)
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return [
            VisitEntry(
                cycle=row["cycle"],
                position=row["position"],
                stage=row["stage"],
                entered_at=utc_aware(row["entered_at"]),
                left_at=utc_aware(row["left_at"]) if row["left_at"] else None,
            )
            for row in rows
        ]

    async def open_tasks(self, onboarding_id: str) -> list[Task]:
        """The onboarding's open tasks as the read model holds them (the inbox's rows)."""
        t = read_tasks
        query = select(t).where(t.c.onboarding_id == onboarding_id).order_by(t.c.due_at, t.c.id)
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return [
            Task.model_validate(
                {
                    **{name: value for name, value in row.items() if name != "onboarding_id"},
                    "due_at": utc_aware(row["due_at"]),
                    "created_at": utc_aware(row["created_at"]),
                }
            )
            for row in rows
        ]

    async def ledger(self, onboarding_id: str) -> list[LedgerRow]:
        """The mail ledger's entries of the onboarding's mails (Message-IDs begin with its id)."""
        m = mail_ledger
        query = (
            select(m.c.message_id, m.c.state, m.c.updated_at)
            .where(m.c.message_id.startswith(f"<{onboarding_id}.", autoescape=True))
            .order_by(m.c.updated_at, m.c.message_id)
        )
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return [LedgerRow(row["message_id"], row["state"], utc_aware(row["updated_at"])) for row in rows]
