"""The customer's personal link: ``{public_url}/c/{token}``, one live link per onboarding.

The token is 256 random bits. The table keeps its SHA-256 (what a request is looked up by, so a
leaked table opens no page) and the token sealed with the onboarding's data key, so the welcome
mail and every reminder carry the same link, and erasing the onboarding kills it. Staff revoke a
link; the next mail (or the staff's "send a new link") carries a new one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import RowMapping, select, update
from sqlalchemy.exc import IntegrityError

from kickoff.crypto.fields import ERASED, UNREADABLE, FieldSealer
from kickoff.db.database import Database, utc_aware
from kickoff.db.schema import customer_links

TOKEN_BYTES = 32
"""256 bits: far beyond guessing, even at the rate limit's worst."""
LAST_USE_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class CustomerLink:
    token_hash: str
    onboarding_id: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def page_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/c/{token}"


def plausible_token(token: str) -> bool:
    """Whether ``token`` could be one of ours (URL-safe base64 of 32 bytes), before any lookup."""
    return len(token) == 43 and all(c.isalnum() or c in "-_" for c in token)


class CustomerLinks:
    def __init__(self, database: Database, sealer: FieldSealer | None) -> None:
        self.database = database
        self.sealer = sealer

    async def ensure(self, onboarding_id: str) -> str:
        """The token of the onboarding's live link, made now if it has none.

        Two mails sent at once may both try to make one: the unique index lets one win, and
        the other reads the winner's, so both carry the same link."""
        for _ in range(3):
            token = await self._live_token(onboarding_id)
            if token is not None:
                return token
            token = secrets.token_urlsafe(TOKEN_BYTES)
            sealed = await self.sealer.seal(onboarding_id, token) if self.sealer else token
            try:
                async with self.database.engine.begin() as db:
                    await db.execute(
                        customer_links.insert().values(
                            token_hash=token_hash(token),
                            onboarding_id=onboarding_id,
                            token_sealed=sealed,
                            created_at=datetime.now(UTC),
                        )
                    )
            except IntegrityError:
                continue  # another mail made it first: read theirs
            return token
        raise RuntimeError(f"no customer link could be made for {onboarding_id}")

    async def _live_token(self, onboarding_id: str) -> str | None:
        c = customer_links.c
        query = select(c.token_sealed).where(c.onboarding_id == onboarding_id, c.revoked_at.is_(None))
        async with self.database.engine.connect() as db:
            sealed = (await db.execute(query)).scalar_one_or_none()
        if sealed is None:
            return None
        token = await self.sealer.open(onboarding_id, sealed) if self.sealer else sealed
        if token in (None, ERASED, UNREADABLE):
            raise LookupError(f"the customer link of {onboarding_id} cannot be read (erased?)")
        return token

    async def resolve(self, token: str) -> CustomerLink | None:
        """The link ``token`` belongs to, revoked or not; None if it never existed."""
        if not plausible_token(token):
            return None
        query = select(customer_links).where(customer_links.c.token_hash == token_hash(token))
        async with self.database.engine.connect() as db:
            row = (await db.execute(query)).mappings().first()
        return None if row is None else _link(row)

    async def touch(self, link: CustomerLink, now: datetime) -> None:
        """Note that the link was used (at most every few minutes: not a write per request)."""
        if link.last_used_at is not None and now - link.last_used_at < LAST_USE_RESOLUTION:
            return
        c = customer_links.c
        async with self.database.engine.begin() as db:
            await db.execute(
                update(customer_links).where(c.token_hash == link.token_hash).values(last_used_at=now)
            )

    async def revoke(self, onboarding_id: str, by: str) -> bool:
        """Revoke the onboarding's live link; False if it had none."""
        c = customer_links.c
        async with self.database.engine.begin() as db:
            result = await db.execute(
                update(customer_links)
                .where(c.onboarding_id == onboarding_id, c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC), revoked_by=by[:320])
            )
        return bool(result.rowcount)

    async def live(self, onboarding_id: str) -> CustomerLink | None:
        """The onboarding's live link, if it has one (what the board shows)."""
        c = customer_links.c
        query = select(customer_links).where(c.onboarding_id == onboarding_id, c.revoked_at.is_(None))
        async with self.database.engine.connect() as db:
            row = (await db.execute(query)).mappings().first()
        return None if row is None else _link(row)


def _link(row: RowMapping) -> CustomerLink:
    def moment(name: str) -> datetime | None:
        value = row[name]
        return utc_aware(value) if value is not None else None

    return CustomerLink(
        token_hash=row["token_hash"],
        onboarding_id=row["onboarding_id"],
        created_at=utc_aware(row["created_at"]),
        revoked_at=moment("revoked_at"),
        last_used_at=moment("last_used_at"),
    )
