"""Staff accounts: created by an admin (or on first single sign-on), each with one role.

Passwords are hashed with Argon2 (pwdlib's recommended parameters); hashing runs in a thread so
the event loop keeps serving while it takes its ~0.3 s. Failed password sign-ins in a row lock
the account with a growing backoff, whoever tries: guessing a password takes years, not
seconds, and the owner of the account is told to wait, not refused for ever.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from kickoff.db.database import Database, utc_aware
from kickoff.db.schema import staff_accounts
from kickoff.identity.roles import Role, allows, parse_role

FREE_ATTEMPTS = 5
"""Failed password sign-ins in a row before the account locks."""
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHash.recommended()
# Verified against when the address is unknown: the answer takes as long as for a known one.
_DUMMY_HASH = _hasher.hash("kickoff-no-such-account")


class AccountError(Exception):
    """An account cannot be created or changed as asked (the message says why)."""


class SignInRefusedError(Exception):
    """Wrong address or password, a disabled account, or a locked one (``retry_after`` set)."""

    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    name: str
    role: Role
    disabled: bool
    has_password: bool = False
    sso: bool = False

    @property
    def takes_work(self) -> bool:
        """Whether tasks, onboardings and kick-offs can be given to this account."""
        return not self.disabled and self.role != "viewer"

    @property
    def label(self) -> str:
        """What the board shows: the name, or the address when there is none."""
        return self.name or self.email


def normal_email(email: str) -> str:
    text = email.strip().lower()
    if "@" not in text or len(text) > 320 or any(c.isspace() for c in text):
        raise AccountError("an account needs an e-mail address (name@example.com)")
    return text


class AccountStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # ---------------------------------------------------------------- admin

    async def create(
        self, email: str, role: Role | str, name: str = "", password: str | None = None
    ) -> Account:
        """A new account; AccountError when the address has one or the password is too short."""
        chosen = parse_role(role) if isinstance(role, str) else role
        hashed = await _hash(password) if password is not None else None
        account_id = uuid.uuid4().hex
        values: dict[str, Any] = {
            "id": account_id,
            "email": normal_email(email),
            "name": name.strip()[:200],
            "role": chosen,
            "password_hash": hashed,
            "created_at": _now(),
        }
        try:
            async with self.database.engine.begin() as db:
                await db.execute(staff_accounts.insert().values(values))
        except IntegrityError:
            raise AccountError(f"an account for {values['email']} exists already") from None
        found = await self.get(account_id)
        assert found is not None
        return found

    async def set_password(self, account_id: str, password: str) -> None:
        hashed = await _hash(password)
        await self._update(account_id, password_hash=hashed, failed_sign_ins=0, locked_until=None)

    async def set_role(self, account_id: str, role: Role) -> None:
        await self._update(account_id, role=role)

    async def set_disabled(self, account_id: str, disabled: bool) -> None:
        """Disabling ends the account's sessions and tokens at once: both check the account on
        every request (``kickoff.identity.sessions``, ``tokens``)."""
        await self._update(account_id, disabled_at=_now() if disabled else None)

    async def _update(self, account_id: str, **values: Any) -> None:
        async with self.database.engine.begin() as db:
            done = await db.execute(
                update(staff_accounts).where(staff_accounts.c.id == account_id).values(values)
            )
        if done.rowcount == 0:
            raise AccountError("no such account")

    # ---------------------------------------------------------------- read

    async def get(self, account_id: str) -> Account | None:
        return await self._one(staff_accounts.c.id == account_id)

    async def by_email(self, email: str) -> Account | None:
        return await self._one(staff_accounts.c.email == email.strip().lower())

    async def all(self) -> list[Account]:
        query = select(staff_accounts).order_by(staff_accounts.c.email)
        async with self.database.engine.connect() as db:
            return [_account(row) for row in (await db.execute(query)).mappings()]

    async def count(self) -> int:
        async with self.database.engine.connect() as db:
            return int((await db.execute(select(func.count()).select_from(staff_accounts))).scalar_one())

    async def _one(self, where: Any) -> Account | None:
        async with self.database.engine.connect() as db:
            row = (await db.execute(select(staff_accounts).where(where))).mappings().first()
        return _account(row) if row is not None else None

    # ---------------------------------------------------------------- sign-in

    async def password_sign_in(self, email: str, password: str) -> Account:
        """The account whose address and password these are; SignInRefusedError otherwise (the
        same reason whether the address or the password was wrong)."""
        wrong = SignInRefusedError("That e-mail address and password do not match an account.")
        async with self.database.engine.connect() as db:
            row = (
                (
                    await db.execute(
                        select(staff_accounts).where(staff_accounts.c.email == email.strip().lower())
                    )
                )
                .mappings()
                .first()
            )
        if row is None or row["password_hash"] is None:
            await _verify(password, _DUMMY_HASH)
            raise wrong
        now = _now()
        locked_until = utc_aware(row["locked_until"]) if row["locked_until"] else None
        if locked_until is not None and locked_until > now:
            wait = int((locked_until - now).total_seconds()) + 1
            raise SignInRefusedError(f"Too many failed sign-ins: try again in {wait} seconds.", wait)
        valid, rehashed = await _verify(password, row["password_hash"])
        if not valid:
            failures = row["failed_sign_ins"] + 1
            lock = _lock_for(failures)
            await self._update(
                row["id"], failed_sign_ins=failures, locked_until=now + lock if lock is not None else None
            )
            raise wrong
        if row["disabled_at"] is not None:
            raise SignInRefusedError("This account is disabled: ask an admin.")
        changes: dict[str, Any] = {"failed_sign_ins": 0, "locked_until": None, "last_sign_in_at": now}
        if rehashed is not None:  # stronger parameters than when it was hashed
            changes["password_hash"] = rehashed
        await self._update(row["id"], **changes)
        return _account(row)

    async def sso_sign_in(
        self, issuer: str, subject: str, email: str, name: str, role: Role | None
    ) -> Account:
        """The account the identity provider vouches for: found by issuer and subject, else by
        e-mail address (then linked); created with ``role`` when there is none. ``role`` None
        (no claim maps to a role) signs in only an account an admin created. An existing
        account is raised to the mapped role, never lowered: a domain mapping (everyone in the
        company reads) must not demote an admin at their next sign-in; an admin lowers roles."""
        address = normal_email(email)
        async with self.database.engine.begin() as db:
            c = staff_accounts.c
            row = (
                (
                    await db.execute(
                        select(staff_accounts).where(c.sso_issuer == issuer, c.sso_subject == subject)
                    )
                )
                .mappings()
                .first()
            ) or (await db.execute(select(staff_accounts).where(c.email == address))).mappings().first()
            if row is None:
                if role is None:
                    raise SignInRefusedError("No Kickoff account for this sign-in: ask an admin for access.")
                account_id = uuid.uuid4().hex
                await db.execute(
                    staff_accounts.insert().values(
                        id=account_id,
                        email=address,
                        name=name.strip()[:200],
                        role=role,
                        sso_issuer=issuer,
                        sso_subject=subject,
                        created_at=_now(),
                        last_sign_in_at=_now(),
                    )
                )
            else:
                if row["sso_subject"] is not None and (row["sso_issuer"], row["sso_subject"]) != (
                    issuer,
                    subject,
                ):
                    raise SignInRefusedError(
                        "This e-mail address belongs to another single sign-on identity."
                    )
                if row["disabled_at"] is not None:
                    raise SignInRefusedError("This account is disabled: ask an admin.")
                account_id = row["id"]
                changes: dict[str, Any] = {
                    "sso_issuer": issuer,
                    "sso_subject": subject,
                    "last_sign_in_at": _now(),
                }
                if role is not None and allows(role, parse_role(row["role"])):
                    changes["role"] = role
                if name.strip() and not row["name"]:
                    changes["name"] = name.strip()[:200]
                await db.execute(update(staff_accounts).where(c.id == account_id).values(changes))
        found = await self.get(account_id)
        assert found is not None
        return found


def _lock_for(failures: int) -> timedelta | None:
    """No lock for the first attempts; then 1 min, 2 min, 4 min, … up to an hour."""
    if failures < FREE_ATTEMPTS:
        return None
    lock: timedelta = min(FIRST_LOCK * 2 ** (failures - FREE_ATTEMPTS), LONGEST_LOCK)
    return lock


async def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(password: str, hashed: str) -> tuple[bool, str | None]:
    return await asyncio.to_thread(_hasher.verify_and_update, password, hashed)


def _account(row: Any) -> Account:
    return Account(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=parse_role(row["role"]),
        disabled=row["disabled_at"] is not None,
        has_password=row["password_hash"] is not None,
        sso=row["sso_subject"] is not None,
    )


def _now() -> datetime:
    return datetime.now(UTC)
