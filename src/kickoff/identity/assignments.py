"""Who owns an onboarding (as seed 003's ticket owner, or no one) and who a task is assigned to.

Kept in Kickoff's database beside the runs: giving work to a person changes nothing about what
the run does next, so it needs no workflow update and no history event.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select

from kickoff.db.database import Database, dialect_insert
from kickoff.db.schema import onboarding_owners, staff_accounts, task_assignments
from kickoff.identity.accounts import Account, _account


class AssignmentStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def assign_task(self, task_id: str, onboarding_id: str, account: Account | None) -> None:
        """Give the task to ``account`` (None: to no one)."""
        async with self.database.engine.begin() as db:
            if account is None:
                await db.execute(delete(task_assignments).where(task_assignments.c.task_id == task_id))
                return
            insert = dialect_insert(self.database.dialect, task_assignments).values(
                task_id=task_id, onboarding_id=onboarding_id, account_id=account.id, assigned_at=_now()
            )
            await db.execute(
                insert.on_conflict_do_update(
                    index_elements=["task_id"],
                    set_={"account_id": account.id, "assigned_at": insert.excluded.assigned_at},
                )
            )

    async def set_owner(self, onboarding_id: str, account: Account | None) -> None:
        async with self.database.engine.begin() as db:
            if account is None:
                await db.execute(
                    delete(onboarding_owners).where(onboarding_owners.c.onboarding_id == onboarding_id)
                )
                return
            insert = dialect_insert(self.database.dialect, onboarding_owners).values(
                onboarding_id=onboarding_id, account_id=account.id, assigned_at=_now()
            )
            await db.execute(
                insert.on_conflict_do_update(
                    index_elements=["onboarding_id"],
                    set_={"account_id": account.id, "assigned_at": insert.excluded.assigned_at},
                )
            )

    async def owner(self, onboarding_id: str) -> Account | None:
        o, a = onboarding_owners, staff_accounts
        query = select(a).join(o, o.c.account_id == a.c.id).where(o.c.onboarding_id == onboarding_id)
        async with self.database.engine.connect() as db:
            row = (await db.execute(query)).mappings().first()
        return _account(row) if row is not None else None

    async def assignees(self, onboarding_id: str) -> dict[str, Account]:
        """Each assigned task of an onboarding: task id → its assignee."""
        t, a = task_assignments, staff_accounts
        query = (
            select(t.c.task_id, a).join(a, a.c.id == t.c.account_id).where(t.c.onboarding_id == onboarding_id)
        )
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return {row["task_id"]: _account(row) for row in rows}


def _now() -> datetime:
    return datetime.now(UTC)
