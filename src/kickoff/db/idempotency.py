"""Idempotency-Keys in Kickoff's database: which request a caller's key named, and its answer.

A key is claimed by one INSERT ... ON CONFLICT DO NOTHING, so of two requests (two API
replicas, two retries at once) exactly one runs; the other finds the row. While the request
is in flight the row has no status and expires after a short lease (a crashed API process
does not block the key for a day); once answered it holds the answer until ``ttl`` after the
claim. A row past its expiry is as good as absent: the next claim takes it over.

Every method takes the clock as ``now``; the rows' moments are written in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.sql.elements import ColumnElement

from kickoff.db.database import Database, insert_if_absent, utc_aware
from kickoff.db.schema import idempotency_keys

DEFAULT_TTL = timedelta(hours=24)
"""How long an answer is remembered, from the first request."""
IN_FLIGHT_LEASE = timedelta(minutes=2)
"""How long a claim without an answer holds the key: far longer than any request takes (the
slowest, a restart waiting for a closing run and then its update, is about 30 s), so only a
request whose API process died leaves the key to be taken over."""


@dataclass(frozen=True)
class KeyRow:
    """One version of a key's row: the claim made at ``claimed_at`` (its ``created_at``)."""

    principal: str
    key: str
    claimed_at: datetime


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Claimed:
    """This request holds the key: answer it, then ``complete`` or ``release`` the claim."""

    row: KeyRow


@dataclass(frozen=True)
class InFlight:
    """The same request is being answered elsewhere (another replica, an earlier attempt)."""

    row: KeyRow


@dataclass(frozen=True)
class Answered:
    """The same request was answered: this is its answer."""

    row: KeyRow
    answer: StoredAnswer


@dataclass(frozen=True)
class OtherRequest:
    """The key was used for a different request (method, path, query or body)."""


ClaimResult = Claimed | InFlight | Answered | OtherRequest

_CLAIM_ATTEMPTS = 3
"""A row can vanish between the insert and the read (released, purged): claim again."""


class IdempotencyStore:
    def __init__(
        self, database: Database, *, ttl: timedelta = DEFAULT_TTL, lease: timedelta = IN_FLIGHT_LEASE
    ) -> None:
        self.database = database
        self.ttl = ttl
        self.lease = lease

    async def claim(self, principal: str, key: str, request_hash: str, now: datetime) -> ClaimResult:
        """Claim ``key`` for the request ``request_hash``, or say who has it and with what."""
        now = now.astimezone(UTC)
        table = idempotency_keys
        fresh = {
            "request_hash": request_hash,
            "status_code": None,
            "response_headers": None,
            "response_body": None,
            "created_at": now,
            "expires_at": now + self.lease,
        }
        claimed = Claimed(KeyRow(principal, key, now))
        for _ in range(_CLAIM_ATTEMPTS):
            async with self.database.engine.begin() as db:
                values = {"principal": principal, "key": key, **fresh}
                inserted = await db.execute(insert_if_absent(self.database.dialect, table, values))
                if inserted.rowcount == 1:
                    return claimed
                # An expired row (an old answer, an abandoned claim) is taken over in one
                # conditional UPDATE: of two requests taking it, one matches the condition.
                taken = await db.execute(
                    update(table).where(*_key_is(principal, key), table.c.expires_at <= now).values(fresh)
                )
                if taken.rowcount == 1:
                    return claimed
                found = (
                    (await db.execute(select(table).where(*_key_is(principal, key)))).mappings().one_or_none()
                )
            if found is None:
                continue
            row = KeyRow(principal, key, utc_aware(found["created_at"]))
            if found["request_hash"] != request_hash:
                return OtherRequest()
            if found["status_code"] is None:
                return InFlight(row)
            headers = [(str(name), str(value)) for name, value in found["response_headers"] or []]
            answer = StoredAnswer(found["status_code"], headers, bytes(found["response_body"] or b""))
            return Answered(row, answer)
        raise RuntimeError(f"an Idempotency-Key's row kept vanishing ({_CLAIM_ATTEMPTS} claims)")

    async def complete(self, row: KeyRow, answer: StoredAnswer) -> bool:
        """Remember ``answer`` for the claim ``row`` until ``ttl`` after it was made; False when
        the claim was lost meanwhile (its lease expired and another request took the key)."""
        table = idempotency_keys
        async with self.database.engine.begin() as db:
            done = await db.execute(
                update(table)
                .where(*_version_is(row), table.c.status_code.is_(None))
                .values(
                    status_code=answer.status_code,
                    response_headers=[list(pair) for pair in answer.headers],
                    response_body=answer.body,
                    expires_at=row.claimed_at.astimezone(UTC) + self.ttl,
                )
            )
        return done.rowcount == 1

    async def release(self, row: KeyRow) -> bool:
        """Forget the key's row ``row`` (a claim whose answer is not remembered, or an answer
        that can no longer be read), so the next request with the key runs afresh; False when
        that version of the row is gone already."""
        async with self.database.engine.begin() as db:
            gone = await db.execute(delete(idempotency_keys).where(*_version_is(row)))
        return gone.rowcount == 1

    async def purge_expired(self, now: datetime) -> int:
        """Delete every row past its expiry (answers and abandoned claims); how many."""
        table = idempotency_keys
        async with self.database.engine.begin() as db:
            purged = await db.execute(delete(table).where(table.c.expires_at <= now.astimezone(UTC)))
        return purged.rowcount


def _key_is(principal: str, key: str) -> list[ColumnElement[bool]]:
    table = idempotency_keys
    return [table.c.principal == principal, table.c.key == key]


def _version_is(row: KeyRow) -> list[ColumnElement[bool]]:
    # The claim's moment tells this claim from a later one of the same key (a takeover).
    return [*_key_is(row.principal, row.key), idempotency_keys.c.created_at == row.claimed_at.astimezone(UTC)]
