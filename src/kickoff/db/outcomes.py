"""Kick-off outcomes in Kickoff's database: one per cycle of an onboarding, never replaced.

A booked run completes at its goal; how the kick-off then went (and who said so) is data
about the customer, so it lives here rather than in a run kept open for it.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from kickoff.crypto.fields import FieldSealer
from kickoff.db.database import Database, utc_aware
from kickoff.db.schema import kickoff_outcomes
from kickoff.domain import KickoffOutcome


class RecordedOutcome(KickoffOutcome):
    """An outcome as stored: whose (onboarding, cycle, pipeline), what, by whom and when."""

    onboarding_id: str
    cycle: int
    pipeline: str


class AlreadyRecordedError(Exception):
    """This cycle of the onboarding has its outcome already."""


class OutcomeStore:
    def __init__(self, database: Database, sealer: FieldSealer | None = None) -> None:
        self.database = database
        # The advisor's and the recorder's names are sealed with the onboarding's data key.
        self.sealer = sealer

    async def add(self, outcome: RecordedOutcome) -> None:
        """Record ``outcome``; ``AlreadyRecordedError`` if its cycle has one (also when two race)."""
        values = outcome.model_dump(include=set(kickoff_outcomes.c.keys()))
        values["recorded_at"] = outcome.recorded_at.astimezone(UTC)
        if self.sealer is not None:
            for name in ("owner", "recorded_by"):
                if values[name] is not None:
                    values[name] = await self.sealer.seal(outcome.onboarding_id, values[name])
        try:
            async with self.database.engine.begin() as connection:
                await connection.execute(insert(kickoff_outcomes).values(**values))
        except IntegrityError:
            raise AlreadyRecordedError(f"{outcome.onboarding_id} cycle {outcome.cycle}") from None

    async def withdraw(self, onboarding_id: str, cycle: int) -> None:
        """Forget a cycle's outcome: only when what it had to cause (a restart) did not happen."""
        table = kickoff_outcomes
        async with self.database.engine.begin() as connection:
            await connection.execute(
                delete(table).where(table.c.onboarding_id == onboarding_id, table.c.cycle == cycle)
            )

    async def of_onboarding(self, onboarding_id: str) -> list[RecordedOutcome]:
        """Every cycle's outcome, oldest cycle first."""
        table = kickoff_outcomes
        query = select(table).where(table.c.onboarding_id == onboarding_id).order_by(table.c.cycle)
        async with self.database.engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        found = [
            RecordedOutcome.model_validate({**row, "recorded_at": utc_aware(row["recorded_at"])})
            for row in rows
        ]
        if self.sealer is None:
            return found
        sealer = self.sealer
        return [
            outcome.model_copy(
                update={
                    "owner": await sealer.open(onboarding_id, outcome.owner),
                    "recorded_by": await sealer.open(onboarding_id, outcome.recorded_by),
                }
            )
            for outcome in found
        ]
