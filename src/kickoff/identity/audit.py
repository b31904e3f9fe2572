"""The audit log: who did what to which onboarding, when. Admins read it (``GET /audit``).

Entries name the staff member (their e-mail address) and what was done; never the customer's
personal data (names, addresses, notes), which the onboarding's encrypted run holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from kickoff.db.database import Database, utc_aware
from kickoff.db.schema import audit_log
from kickoff.identity.principal import Principal

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    account_id: str | None
    actor: str
    action: str
    onboarding_id: str | None
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def record(
        self,
        who: Principal | str,
        action: str,
        onboarding_id: str | None = None,
        detail: dict[str, Any] | None = None,
        account_id: str | None = None,
    ) -> None:
        actor = who.actor if isinstance(who, Principal) else who
        if isinstance(who, Principal):
            account_id = who.account_id
        async with self.database.engine.begin() as db:
            await db.execute(
                audit_log.insert().values(
                    at=datetime.now(UTC),
                    account_id=account_id,
                    actor=actor,
                    action=action,
                    onboarding_id=onboarding_id,
                    detail=detail or {},
                )
            )

    async def entries(
        self, *, onboarding_id: str | None = None, account_id: str | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        """Newest first."""
        query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        if onboarding_id is not None:
            query = query.where(audit_log.c.onboarding_id == onboarding_id)
        if account_id is not None:
            query = query.where(audit_log.c.account_id == account_id)
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return [
            AuditEntry(
                id=row["id"],
                at=utc_aware(row["at"]),
                account_id=row["account_id"],
                actor=row["actor"],
                action=row["action"],
                onboarding_id=row["onboarding_id"],
                detail=row["detail"] or {},
            )
            for row in rows
        ]


async def audit(
    database: Database | None,
    who: Principal,
    action: str,
    onboarding_id: str | None = None,
    **detail: Any,
) -> None:
    """Record an action that has been done. A database that fails here does not undo it nor turn
    its answer into an error (the caller would retry a done action): the run's timeline names
    who acted too, and the failure is logged for ops."""
    if database is None:
        return
    try:
        await AuditLog(database).record(who, action, onboarding_id, detail)
    except (SQLAlchemyError, OSError) as err:
        log.error("audit.write_failed", action=action, onboarding_id=onboarding_id, error=type(err).__name__)
