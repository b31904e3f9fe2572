"""Staff identity in Kickoff's database, on SQLite and on a real PostgreSQL server: accounts and
passwords with lockout, server-side sessions, personal tokens, single sign-on linking,
assignments and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from kickoff.db import Database
from kickoff.db.schema import staff_accounts, staff_sessions
from kickoff.identity import AccountError, AccountStore, Principal, SignInRefusedError
from kickoff.identity.assignments import AssignmentStore
from kickoff.identity.audit import AuditLog
from kickoff.identity.sessions import SessionStore
from kickoff.identity.tokens import TokenStore

PASSWORD = "a long enough password"
WRONG = "That e-mail address and password do not match an account."


async def test_an_account_is_created_once_per_address_with_a_long_enough_password(database: Database) -> None:
    accounts = AccountStore(database)
    made = await accounts.create(" Emelie.Larsson@Assist.example ", "staff", "Emelie Larsson", PASSWORD)
    assert (made.email, made.role, made.has_password, made.disabled) == (
        "emelie.larsson@assist.example",
        "staff",
        True,
        False,
    )
    with pytest.raises(AccountError, match="exists already"):
        await accounts.create("emelie.larsson@assist.example", "viewer")
    with pytest.raises(AccountError, match="at least 12 characters"):
        await accounts.create("kort@assist.example", "staff", password="short")
    with pytest.raises(AccountError, match="e-mail address"):
        await accounts.create("no address", "staff")
    with pytest.raises(ValueError, match="unknown role"):
        await accounts.create("x@assist.example", "owner")
    assert [a.email for a in await accounts.all()] == ["emelie.larsson@assist.example"]


async def test_a_password_signs_in_and_a_wrong_one_says_the_same_as_an_unknown_address(
    database: Database,
) -> None:
    accounts = AccountStore(database)
    await accounts.create("anna@assist.example", "staff", password=PASSWORD)
    assert (await accounts.password_sign_in("ANNA@assist.example", PASSWORD)).email == "anna@assist.example"
    for email, password in (("anna@assist.example", "wrong password!"), ("nobody@assist.example", PASSWORD)):
        with pytest.raises(SignInRefusedError) as refused:
            await accounts.password_sign_in(email, password)
        assert (str(refused.value), refused.value.retry_after) == (WRONG, None)


async def test_five_wrong_passwords_lock_the_account_with_a_growing_backoff(database: Database) -> None:
    accounts = AccountStore(database)
    anna = await accounts.create("anna@assist.example", "staff", password=PASSWORD)
    for _ in range(4):
        with pytest.raises(SignInRefusedError):
            await accounts.password_sign_in(anna.email, "wrong password!")
    # The fifth failure locks it for a minute: even the right password is refused meanwhile.
    with pytest.raises(SignInRefusedError):
        await accounts.password_sign_in(anna.email, "wrong password!")
    with pytest.raises(SignInRefusedError) as locked:
        await accounts.password_sign_in(anna.email, PASSWORD)
    assert locked.value.retry_after is not None
    assert 55 <= locked.value.retry_after <= 61
    # The minute passes (moved back in the database, not waited for); one more failure locks
    # it for two minutes.
    await _unlock(database, anna.email)
    with pytest.raises(SignInRefusedError):
        await accounts.password_sign_in(anna.email, "wrong password!")
    with pytest.raises(SignInRefusedError) as longer:
        await accounts.password_sign_in(anna.email, PASSWORD)
    assert longer.value.retry_after is not None
    assert 115 <= longer.value.retry_after <= 121
    # Once the lock has passed the right password signs in and the count starts again.
    await _unlock(database, anna.email)
    assert (await accounts.password_sign_in(anna.email, PASSWORD)).id == anna.id
    with pytest.raises(SignInRefusedError) as after:
        await accounts.password_sign_in(anna.email, "wrong password!")
    assert after.value.retry_after is None


async def _unlock(database: Database, email: str) -> None:
    async with database.engine.begin() as db:
        await db.execute(
            update(staff_accounts)
            .where(staff_accounts.c.email == email)
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )


async def test_a_disabled_account_cannot_sign_in(database: Database) -> None:
    accounts = AccountStore(database)
    anna = await accounts.create("anna@assist.example", "staff", password=PASSWORD)
    await accounts.set_disabled(anna.id, True)
    with pytest.raises(SignInRefusedError, match="disabled"):
        await accounts.password_sign_in(anna.email, PASSWORD)
    # A wrong password on a disabled account says only that it is wrong.
    with pytest.raises(SignInRefusedError, match="do not match"):
        await accounts.password_sign_in(anna.email, "wrong password!")


async def test_a_session_lives_until_it_ends_expires_or_its_account_is_disabled(database: Database) -> None:
    accounts, sessions = AccountStore(database), SessionStore(database)
    anna = await accounts.create("anna@assist.example", "staff", password=PASSWORD)
    first = await sessions.start(anna, timedelta(hours=8))
    second = await sessions.start(anna, timedelta(hours=8))
    found = await sessions.resolve(first)
    assert found is not None
    assert found.account.id == anna.id
    assert len(found.csrf) >= 32
    assert await sessions.resolve("not-a-token") is None
    await sessions.end(first)
    assert await sessions.resolve(first) is None
    assert await sessions.resolve(second) is not None
    await accounts.set_disabled(anna.id, True)
    assert await sessions.resolve(second) is None
    await accounts.set_disabled(anna.id, False)
    assert await sessions.resolve(second) is not None
    assert await sessions.end_all(anna.id) == 1
    assert await sessions.resolve(second) is None
    expiring = await sessions.start(anna, timedelta(hours=8))
    async with database.engine.begin() as db:
        await db.execute(update(staff_sessions).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert await sessions.resolve(expiring) is None


async def test_a_token_acts_as_its_account_until_revoked_and_is_stored_only_hashed(
    database: Database,
) -> None:
    accounts, tokens = AccountStore(database), TokenStore(database)
    anna = await accounts.create("anna@assist.example", "staff", password=PASSWORD)
    text, info = await tokens.create(anna, "CRM sync")
    assert text.startswith(f"kt_{info.id}_")
    found = await tokens.authenticate(text)
    assert found is not None
    assert found.id == anna.id
    [listed] = await tokens.of_account(anna.id)
    assert listed.last_used_at is not None
    assert not listed.revoked
    async with database.engine.connect() as db:
        dumped = repr((await db.exec_driver_sql("SELECT * FROM api_tokens")).all())
    assert text.rsplit("_", 1)[1] not in dumped  # the secret is nowhere in the table
    for wrong in (text + "x", text[:-1] + ("A" if text[-1] != "A" else "B"), "kt_nothing", "kt_x_y", ""):
        assert await tokens.authenticate(wrong) is None
    await accounts.set_disabled(anna.id, True)
    assert await tokens.authenticate(text) is None
    await accounts.set_disabled(anna.id, False)
    assert not await tokens.revoke(info.id, account_id="someone-else")
    assert await tokens.revoke(info.id, account_id=anna.id)
    assert await tokens.authenticate(text) is None
    assert not await tokens.revoke(info.id)
    with pytest.raises(AccountError, match="needs a name"):
        await tokens.create(anna, "  ")


async def test_single_sign_on_creates_links_and_refuses_as_it_should(database: Database) -> None:
    accounts = AccountStore(database)
    issuer = "https://idp.assist.example"
    made = await accounts.sso_sign_in(issuer, "sub-1", "Alice@Assist.example", "Alice", "staff")
    assert (made.email, made.role, made.sso, made.has_password) == (
        "alice@assist.example",
        "staff",
        True,
        False,
    )
    again = await accounts.sso_sign_in(issuer, "sub-1", "alice@assist.example", "Alice", "admin")
    assert (again.id, again.role) == (made.id, "admin")  # raised to what the provider maps
    lower = await accounts.sso_sign_in(issuer, "sub-1", "alice@assist.example", "Alice", "viewer")
    assert lower.role == "admin"  # never lowered by a mapping: an admin lowers roles
    # An account an admin created links on its first single sign-on, also without a mapped role.
    bob = await accounts.create("bob@assist.example", "viewer")
    linked = await accounts.sso_sign_in(issuer, "sub-2", "bob@assist.example", "Bob", None)
    assert (linked.id, linked.role, linked.sso) == (bob.id, "viewer", True)
    with pytest.raises(SignInRefusedError, match="ask an admin"):
        await accounts.sso_sign_in(issuer, "sub-3", "carol@elsewhere.example", "Carol", None)
    with pytest.raises(SignInRefusedError, match="another single sign-on identity"):
        await accounts.sso_sign_in(issuer, "sub-4", "alice@assist.example", "Not Alice", "staff")
    await accounts.set_disabled(made.id, True)
    with pytest.raises(SignInRefusedError, match="disabled"):
        await accounts.sso_sign_in(issuer, "sub-1", "alice@assist.example", "Alice", "staff")


async def test_owners_assignees_and_the_audit_log(database: Database) -> None:
    accounts, assignments, audit = AccountStore(database), AssignmentStore(database), AuditLog(database)
    anna = await accounts.create("anna@assist.example", "staff")
    sara = await accounts.create("sara@assist.example", "staff")
    await assignments.set_owner("SE-C-1", anna)
    await assignments.set_owner("SE-C-1", sara)
    owner = await assignments.owner("SE-C-1")
    assert owner is not None
    assert owner.id == sara.id
    await assignments.set_owner("SE-C-1", None)
    assert await assignments.owner("SE-C-1") is None
    await assignments.assign_task("SE-C-1.1.1", "SE-C-1", anna)
    await assignments.assign_task("SE-C-1.1.2", "SE-C-1", anna)
    await assignments.assign_task("SE-C-1.1.2", "SE-C-1", sara)
    await assignments.assign_task("SE-C-1.1.1", "SE-C-1", None)
    assert {task: a.email for task, a in (await assignments.assignees("SE-C-1")).items()} == {
        "SE-C-1.1.2": "sara@assist.example"
    }
    await audit.record(Principal(account=anna), "event", "SE-C-1", {"event": "call_logged"})
    await audit.record(Principal(account=None, service_key="ab12cd34"), "tick", "SE-C-2", {"item": "x"})
    await audit.record(Principal(account=sara), "task_done", "SE-C-1", {"task": "SE-C-1.1.2"})
    newest_first = await audit.entries()
    assert [(e.actor, e.action) for e in newest_first] == [
        ("sara@assist.example", "task_done"),
        ("service key ab12cd34", "tick"),
        ("anna@assist.example", "event"),
    ]
    assert [e.action for e in await audit.entries(onboarding_id="SE-C-1")] == ["task_done", "event"]
    assert [e.detail for e in await audit.entries(account_id=anna.id)] == [{"event": "call_logged"}]
