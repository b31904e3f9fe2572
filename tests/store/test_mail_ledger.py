"""The mail ledger's transitions on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio

from kickoff.activities import MailLedger
from kickoff.db import Database

MID = "<KP-1.1.onboarding.1.enter-0@test>"


async def test_a_fresh_claim_then_data_then_sent(database: Database) -> None:
    """claimed → data_started → sent; a later claim is refused with the 'sent' entry."""
    ledger = MailLedger(database)
    assert await ledger.claim(MID, "a") is None
    assert (await ledger.get(MID)).state == "claimed"  # type: ignore[union-attr]
    assert await ledger.start_data(MID, "a") is True
    await ledger.mark_sent(MID)
    entry = await ledger.claim(MID, "b")
    assert entry is not None
    assert entry.state == "sent"
    assert entry.updated_at.tzinfo is not None


async def test_a_bare_claim_is_taken_over_and_its_old_holder_can_no_longer_start_data(
    database: Database,
) -> None:
    """Only a claim (nothing sent): a later attempt takes it; the earlier one then loses DATA."""
    ledger = MailLedger(database)
    assert await ledger.claim(MID, "old") is None
    assert await ledger.claim(MID, "new") is None
    assert await ledger.start_data(MID, "old") is False
    assert await ledger.start_data(MID, "new") is True


async def test_data_started_cannot_be_claimed_and_stays_unknown(database: Database) -> None:
    """Inside DATA the server may have the mail: no claim, no release moves it."""
    ledger = MailLedger(database)
    assert await ledger.claim(MID, "a") is None
    assert await ledger.start_data(MID, "a") is True
    await ledger.release(MID, "a")  # a release only forgets a bare claim
    entry = await ledger.claim(MID, "b")
    assert entry is not None
    assert entry.state == "data_started"


async def test_a_release_forgets_only_its_own_claim(database: Database) -> None:
    ledger = MailLedger(database)
    assert await ledger.claim(MID, "old") is None
    assert await ledger.claim(MID, "new") is None  # took over
    await ledger.release(MID, "old")  # the old holder's late release must not drop "new"
    assert (await ledger.get(MID)).state == "claimed"  # type: ignore[union-attr]
    await ledger.release(MID, "new")
    assert await ledger.get(MID) is None


async def test_a_refused_data_can_be_claimed_again(database: Database) -> None:
    """'failed' (the server refused DATA) delivered nothing: a later attempt may send."""
    ledger = MailLedger(database)
    assert await ledger.claim(MID, "a") is None
    assert await ledger.start_data(MID, "a") is True
    await ledger.mark_failed(MID, "a")
    assert (await ledger.get(MID)).state == "failed"  # type: ignore[union-attr]
    assert await ledger.claim(MID, "b") is None
    assert await ledger.start_data(MID, "b") is True


async def test_the_ledger_is_shared_by_every_engine_on_the_database(database: Database) -> None:
    """A second engine (another worker process) sees what the first wrote."""
    ledger = MailLedger(database)
    assert await ledger.claim(MID, "a") is None
    assert await ledger.start_data(MID, "a") is True
    await ledger.mark_sent(MID)
    other = Database(database.url.render_as_string(hide_password=False))
    try:
        entry = await MailLedger(other).get(MID)
        assert entry is not None
        assert entry.state == "sent"
    finally:
        await other.dispose()


async def test_of_many_racing_attempts_exactly_one_starts_data(database: Database) -> None:
    """Twenty attempts (as on several workers) claim and try to start DATA at once: one wins,
    the others either lost their claim or found DATA started."""
    engines = [Database(database.url.render_as_string(hide_password=False)) for _ in range(4)]
    try:

        async def attempt(n: int) -> bool:
            ledger = MailLedger(engines[n % len(engines)])
            claimant = f"attempt-{n}"
            if await ledger.claim(MID, claimant) is not None:
                return False
            await asyncio.sleep(0)
            return await ledger.start_data(MID, claimant)

        won = await asyncio.gather(*(attempt(n) for n in range(20)))
        assert sum(won) == 1
        assert (await MailLedger(database).get(MID)).state == "data_started"  # type: ignore[union-attr]
    finally:
        for engine in engines:
            await engine.dispose()
