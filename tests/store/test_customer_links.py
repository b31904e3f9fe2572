"""The customer's personal links in Kickoff's database, on SQLite and PostgreSQL: one live link per
onboarding however many mails ask at once, stored only as a hash and a sealed copy, revocable,
and a new one after revoking."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from kickoff.customer.access import csrf_ok, csrf_token
from kickoff.customer.links import CustomerLinks, page_url, plausible_token, token_hash
from kickoff.db import Database
from kickoff.db.schema import customer_links


async def test_concurrent_mails_agree_on_one_link(database: Database) -> None:
    """Ten mails asking at once for an onboarding's link all get the same token, and one row exists."""
    links = CustomerLinks(database, None)
    tokens = await asyncio.gather(*(links.ensure("SE-C-1") for _ in range(10)))
    assert len(set(tokens)) == 1
    assert plausible_token(tokens[0])
    async with database.engine.connect() as db:
        rows = (await db.execute(select(customer_links))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == token_hash(tokens[0])


async def test_the_table_never_holds_the_token_in_clear_when_sealed(database: Database) -> None:
    """With a sealer the stored copy is ciphertext; the hash is what a request is looked up by."""

    class Sealer:
        async def seal(self, onboarding_id: str, value: str) -> str:
            return "enc1:" + value[::-1]

        async def open(self, onboarding_id: str, stored: str | None) -> str | None:
            return None if stored is None else stored[len("enc1:") :][::-1]

    links = CustomerLinks(database, Sealer())  # type: ignore[arg-type]
    token = await links.ensure("SE-C-2")
    async with database.engine.connect() as db:
        row = (await db.execute(select(customer_links))).mappings().one()
    assert token not in row["token_sealed"]
    assert row["token_hash"] != token
    assert await links.ensure("SE-C-2") == token
    found = await links.resolve(token)
    assert found is not None
    assert found.onboarding_id == "SE-C-2"
    assert found.revoked_at is None


async def test_a_revoked_link_resolves_as_revoked_and_the_next_mail_gets_a_new_one(
    database: Database,
) -> None:
    """Revoking keeps the old link known (so its page can say it was replaced); ensure makes a new one."""
    links = CustomerLinks(database, None)
    old = await links.ensure("SE-C-3")
    assert await links.revoke("SE-C-3", "anna@assist.example")
    assert not await links.revoke("SE-C-3", "anna@assist.example")  # nothing live left to revoke
    revoked = await links.resolve(old)
    assert revoked is not None
    assert revoked.revoked_at is not None
    new = await links.ensure("SE-C-3")
    assert new != old
    live = await links.live("SE-C-3")
    assert live is not None
    assert live.token_hash == token_hash(new)


async def test_unknown_and_malformed_tokens_resolve_to_nothing(database: Database) -> None:
    """A token never issued, or not even shaped like one, opens nothing (and costs no query)."""
    links = CustomerLinks(database, None)
    await links.ensure("SE-C-4")
    assert await links.resolve("A" * 43) is None
    assert await links.resolve("../../etc/passwd") is None
    assert await links.resolve("") is None


async def test_the_form_token_is_bound_to_its_link(database: Database) -> None:
    """A CSRF token made for one link is refused for another, and a missing one is refused."""
    links = CustomerLinks(database, None)
    one = await links.resolve(await links.ensure("SE-C-5"))
    other = await links.resolve(await links.ensure("SE-C-6"))
    assert one is not None
    assert other is not None
    token = csrf_token("secret", one)
    assert csrf_ok("secret", one, token)
    assert not csrf_ok("secret", other, token)
    assert not csrf_ok("another secret", one, token)
    assert not csrf_ok("secret", one, None)
    assert page_url("https://kickoff.example/", "abc") == "https://kickoff.example/c/abc"
    assert datetime.now(UTC) >= one.created_at
