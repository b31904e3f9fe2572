"""Idempotency-Keys in Kickoff's database, on SQLite and on a real PostgreSQL server: claim,
answer, replay, release and expiry, with the clock passed in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from kickoff.db import Database
from kickoff.db.idempotency import (
    Answered,
    Claimed,
    IdempotencyStore,
    InFlight,
    OtherRequest,
    StoredAnswer,
)
from kickoff.db.schema import idempotency_keys

NOW = datetime(2031, 3, 4, 9, 30, 15, 123456, tzinfo=UTC)
"""The clock the tests hand the store: any moment does, so none is today."""
TTL, LEASE = timedelta(hours=24), timedelta(minutes=2)
PRINCIPAL, KEY = "a" * 64, "key-1"
ANSWER = StoredAnswer(202, [("content-type", "application/json")], b'{"id":"SE-C-1","stage":"onboarding"}')


def _store(database: Database) -> IdempotencyStore:
    return IdempotencyStore(database, ttl=TTL, lease=LEASE)


async def _rows(database: Database) -> int:
    async with database.engine.connect() as db:
        return int((await db.execute(select(func.count()).select_from(idempotency_keys))).scalar_one())


async def test_the_first_request_claims_a_key_and_a_retry_finds_it_in_flight(database: Database) -> None:
    """A key's first claim holds it; the same request again is in flight, another request is refused."""
    store = _store(database)

    first = await store.claim(PRINCIPAL, KEY, "hash-1", NOW)
    again = await store.claim(PRINCIPAL, KEY, "hash-1", NOW + timedelta(seconds=1))
    other = await store.claim(PRINCIPAL, KEY, "hash-2", NOW + timedelta(seconds=1))

    assert isinstance(first, Claimed)
    assert first.row.claimed_at == NOW
    assert isinstance(again, InFlight)
    assert again.row == first.row
    assert isinstance(other, OtherRequest)


async def test_an_answered_key_replays_its_status_headers_and_body(database: Database) -> None:
    """After ``complete`` the same request gets the stored answer byte for byte; another request is
    still refused, and another caller's key of the same name is its own."""
    store = _store(database)
    claim = await store.claim(PRINCIPAL, KEY, "hash-1", NOW)
    assert isinstance(claim, Claimed)
    assert await store.complete(claim.row, ANSWER)

    replay = await store.claim(PRINCIPAL, KEY, "hash-1", NOW + TTL - timedelta(seconds=1))
    other = await store.claim(PRINCIPAL, KEY, "hash-2", NOW + timedelta(hours=1))
    someone_else = await store.claim("b" * 64, KEY, "hash-2", NOW + timedelta(hours=1))

    assert isinstance(replay, Answered)
    assert replay.answer == ANSWER
    assert isinstance(other, OtherRequest)
    assert isinstance(someone_else, Claimed)


async def test_a_released_key_is_claimed_afresh_by_any_request(database: Database) -> None:
    """``release`` forgets the claim: the next request with the key, the same or another, runs."""
    store = _store(database)
    claim = await store.claim(PRINCIPAL, KEY, "hash-1", NOW)
    assert isinstance(claim, Claimed)

    assert await store.release(claim.row)
    assert not await store.release(claim.row)
    after = await store.claim(PRINCIPAL, KEY, "hash-2", NOW + timedelta(seconds=1))

    assert isinstance(after, Claimed)
    assert await _rows(database) == 1


async def test_an_answer_expires_after_the_ttl_and_the_key_is_taken_over(database: Database) -> None:
    """At ``ttl`` after the first request its answer is gone: the key is claimed anew (for any
    request), and the old answer's row cannot be completed or released by its old claim."""
    store = _store(database)
    claim = await store.claim(PRINCIPAL, KEY, "hash-1", NOW)
    assert isinstance(claim, Claimed)
    # Answered a while after the claim: the day counts from the claim.
    assert await store.complete(claim.row, ANSWER)

    later = await store.claim(PRINCIPAL, KEY, "hash-2", NOW + TTL)

    assert isinstance(later, Claimed)
    assert later.row.claimed_at == NOW + TTL
    assert not await store.release(claim.row)
    assert isinstance(await store.claim(PRINCIPAL, KEY, "hash-2", NOW + TTL), InFlight)


async def test_an_abandoned_claim_frees_its_key_after_the_lease(database: Database) -> None:
    """A claim never answered (its API process died) blocks the key for the lease only; once taken
    over, the late first request can neither store its answer nor release the new claim."""
    store = _store(database)
    abandoned = await store.claim(PRINCIPAL, KEY, "hash-1", NOW)
    assert isinstance(abandoned, Claimed)
    still = await store.claim(PRINCIPAL, KEY, "hash-1", NOW + LEASE - timedelta(microseconds=1))
    assert isinstance(still, InFlight)

    taken = await store.claim(PRINCIPAL, KEY, "hash-1", NOW + LEASE)

    assert isinstance(taken, Claimed)
    assert not await store.complete(abandoned.row, ANSWER)
    assert not await store.release(abandoned.row)
    assert await store.complete(taken.row, ANSWER)
    replay = await store.claim(PRINCIPAL, KEY, "hash-1", NOW + LEASE + timedelta(seconds=1))
    assert isinstance(replay, Answered)
    assert replay.row == taken.row


async def test_purge_deletes_only_expired_keys(database: Database) -> None:
    """Expired answers and abandoned claims are deleted; a live answer and a live claim stay."""
    store = _store(database)
    for key, at in (("old-answer", NOW - TTL), ("live-answer", NOW - timedelta(hours=1))):
        claim = await store.claim(PRINCIPAL, key, "hash", at)
        assert isinstance(claim, Claimed)
        assert await store.complete(claim.row, ANSWER)
    for key, at in (("abandoned", NOW - LEASE), ("running", NOW - timedelta(seconds=5))):
        assert isinstance(await store.claim(PRINCIPAL, key, "hash", at), Claimed)

    assert await store.purge_expired(NOW) == 2

    assert await _rows(database) == 2
    assert isinstance(await store.claim(PRINCIPAL, "live-answer", "hash", NOW), Answered)
    assert isinstance(await store.claim(PRINCIPAL, "running", "hash", NOW), InFlight)


async def test_of_many_racing_claims_exactly_one_holds_the_key(database: Database) -> None:
    """Eight requests with one key at once (as from several API replicas): one is Claimed, the
    others find it in flight; after it is answered they all replay it."""
    store = _store(database)
    results = await asyncio.gather(*(store.claim(PRINCIPAL, KEY, "hash-1", NOW) for _ in range(8)))

    claims = [r for r in results if isinstance(r, Claimed)]
    assert len(claims) == 1
    assert all(isinstance(r, InFlight) for r in results if r is not claims[0])
    assert await store.complete(claims[0].row, ANSWER)
    replays = await asyncio.gather(*(store.claim(PRINCIPAL, KEY, "hash-1", NOW) for _ in range(8)))
    assert {r.answer.status_code for r in replays if isinstance(r, Answered)} == {202}
    assert len(replays) == 8
    assert all(isinstance(r, Answered) for r in replays)
