"""Personal API tokens: ``kt_<id>_<secret>``, shown once, stored as a hash of the secret.

The id is public (lists, the audit log); the secret's SHA-256 is compared in constant time.
A token acts as its account, with its role, and stops working when it is revoked or the
account is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from kickoff.db.database import Database, utc_aware
from kickoff.db.schema import api_tokens, staff_accounts
from kickoff.identity.accounts import Account, AccountError, _account

PREFIX = "kt_"
LAST_USE_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token: not one write per request."""


@dataclass(frozen=True)
class TokenInfo:
    id: str
    account_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def looks_like_token(text: str) -> bool:
    return text.startswith(PREFIX) and text.count("_") >= 2


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def create(self, account: Account, name: str) -> tuple[str, TokenInfo]:
        """A new token for ``account``: its full text (shown once, never stored) and its record."""
        label = name.strip()[:100]
        if not label:
            raise AccountError("a token needs a name (what it is for)")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self.database.engine.begin() as db:
            await db.execute(
                api_tokens.insert().values(
                    id=token_id,
                    account_id=account.id,
                    name=label,
                    secret_hash=_secret_hash(secret),
                    created_at=now,
                )
            )
        return f"{PREFIX}{token_id}_{secret}", TokenInfo(token_id, account.id, label, now, None, False)

    async def authenticate(self, text: str) -> Account | None:
        """The account a live token belongs to, None for anything else."""
        if not looks_like_token(text):
            return None
        token_id, _, secret = text[len(PREFIX) :].partition("_")
        t, a = api_tokens, staff_accounts
        query = select(t.c.secret_hash, t.c.revoked_at, t.c.last_used_at, a).join(a, a.c.id == t.c.account_id)
        async with self.database.engine.connect() as db:
            row = (await db.execute(query.where(t.c.id == token_id))).mappings().first()
        if row is None or not hmac.compare_digest(row["secret_hash"], _secret_hash(secret)):
            return None
        if row["revoked_at"] is not None or row["disabled_at"] is not None:
            return None
        now = datetime.now(UTC)
        last = utc_aware(row["last_used_at"]) if row["last_used_at"] else None
        if last is None or now - last >= LAST_USE_RESOLUTION:
            async with self.database.engine.begin() as db:
                await db.execute(update(t).where(t.c.id == token_id).values(last_used_at=now))
        return _account(row)

    async def of_account(self, account_id: str) -> list[TokenInfo]:
        query = (
            select(api_tokens).where(api_tokens.c.account_id == account_id).order_by(api_tokens.c.created_at)
        )
        async with self.database.engine.connect() as db:
            return [_info(row) for row in (await db.execute(query)).mappings()]

    async def revoke(self, token_id: str, account_id: str | None = None) -> bool:
        """Revoke a token (only one of ``account_id``'s when given); False when there is none."""
        where = [api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)]
        if account_id is not None:
            where.append(api_tokens.c.account_id == account_id)
        async with self.database.engine.begin() as db:
            done = await db.execute(update(api_tokens).where(*where).values(revoked_at=datetime.now(UTC)))
        return done.rowcount > 0


def _info(row: object) -> TokenInfo:
    r = row  # a RowMapping
    return TokenInfo(
        id=r["id"],  # type: ignore[index]
        account_id=r["account_id"],  # type: ignore[index]
        name=r["name"],  # type: ignore[index]
        created_at=utc_aware(r["created_at"]),  # type: ignore[index]
        last_used_at=utc_aware(r["last_used_at"]) if r["last_used_at"] else None,  # type: ignore[index]
        revoked=r["revoked_at"] is not None,  # type: ignore[index]
    )
