"""Server-side board sessions: the cookie carries a random token, the database its hash.

Signing out, disabling the account or an admin ending its sessions takes effect on the very
next request, unlike a signed cookie that stays valid until it expires.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update

from kickoff.db.database import Database, utc_aware
from kickoff.db.schema import staff_accounts, staff_sessions
from kickoff.identity.accounts import Account, _account


@dataclass(frozen=True)
class BoardSession:
    account: Account
    csrf: str


def token_hash(token: str) -> str:
    # The token is 256 random bits: a plain SHA-256 cannot be reversed or guessed.
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def start(self, account: Account, lifetime: timedelta) -> str:
        """A new session for ``account``: the token for its cookie."""
        token = secrets.token_urlsafe(32)
        now = _now()
        async with self.database.engine.begin() as db:
            # Sessions that ended or expired are of no use to anyone: keep the table small.
            await db.execute(
                delete(staff_sessions).where(staff_sessions.c.expires_at < now - timedelta(days=1))
            )
            await db.execute(
                staff_sessions.insert().values(
                    token_hash=token_hash(token),
                    account_id=account.id,
                    csrf=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return token

    async def resolve(self, token: str) -> BoardSession | None:
        """The live session of ``token``: not ended, not expired, its account not disabled."""
        s, a = staff_sessions, staff_accounts
        query = (
            select(s.c.csrf, s.c.expires_at, s.c.ended_at, a)
            .join(a, a.c.id == s.c.account_id)
            .where(s.c.token_hash == token_hash(token))
        )
        async with self.database.engine.connect() as db:
            row = (await db.execute(query)).mappings().first()
        if row is None or row["ended_at"] is not None or row["disabled_at"] is not None:
            return None
        if utc_aware(row["expires_at"]) <= _now():
            return None
        return BoardSession(account=_account(row), csrf=row["csrf"])

    async def end(self, token: str) -> None:
        await self._end(staff_sessions.c.token_hash == token_hash(token))

    async def end_all(self, account_id: str) -> int:
        """End every session of an account (an admin's "sign out everywhere")."""
        return await self._end(staff_sessions.c.account_id == account_id)

    async def _end(self, where: ColumnElement[bool]) -> int:
        async with self.database.engine.begin() as db:
            done = await db.execute(
                update(staff_sessions)
                .where(where, staff_sessions.c.ended_at.is_(None))
                .values(ended_at=_now())
            )
        return done.rowcount


def _now() -> datetime:
    return datetime.now(UTC)
