"""``kickoff-admin``'s account commands: staff accounts and personal API tokens.

``create-user EMAIL --role ROLE`` asks for the password (or reads it from standard input when
that is not a terminal, e.g. ``printf '%s' "$PW" | kickoff-admin create-user …``); ``--sso``
makes an account that signs in by single sign-on only. ``create-token EMAIL --name NAME``
prints a personal API token once. ``ensure-first-admin`` (``make run`` calls it) creates
``admin@kickoff.localhost`` with a random password when there is no account at all, and keeps
that password in the data folder for the developer to read.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from pathlib import Path

from kickoff.db import Database
from kickoff.identity import AccountError, AccountStore
from kickoff.identity.roles import ROLES
from kickoff.identity.sessions import SessionStore
from kickoff.identity.tokens import TokenStore
from kickoff.settings import get_settings

FIRST_ADMIN = "admin@kickoff.localhost"
FIRST_ADMIN_FILE = "first-admin-password"
COMMANDS = ("create-user", "create-token", "disable-user", "enable-user", "ensure-first-admin")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    creating = commands.add_parser("create-user", help="create a staff account")
    creating.add_argument("email")
    creating.add_argument("--role", choices=ROLES, required=True)
    creating.add_argument("--name", default="")
    creating.add_argument("--sso", action="store_true", help="no password: signs in by single sign-on only")
    token = commands.add_parser("create-token", help="create a personal API token for an account")
    token.add_argument("email")
    token.add_argument("--name", required=True, help="what the token is for")
    for command, text in (("disable-user", "disable"), ("enable-user", "enable again")):
        changing = commands.add_parser(command, help=f"{text} an account (disabling ends its sessions)")
        changing.add_argument("email")
    commands.add_parser("ensure-first-admin", help="create a first admin when there is no account (make run)")


def run_command(args: argparse.Namespace) -> int:
    try:
        match args.command:
            case "create-user":
                password = None if args.sso else _read_password()
                account = asyncio.run(_create_user(args.email, args.role, args.name, password))
                print(f"kickoff-admin: account {account} created ({args.role})")
            case "create-token":
                print(asyncio.run(_create_token(args.email, args.name)))
            case "disable-user" | "enable-user":
                disabling = args.command == "disable-user"
                asyncio.run(_set_disabled(args.email, disabling))
                print(f"kickoff-admin: {args.email} {'disabled' if disabling else 'enabled'}")
            case "ensure-first-admin":
                print(asyncio.run(_ensure_first_admin()))
            case _:
                raise AssertionError(args.command)
    except AccountError as err:
        print(f"kickoff-admin: {err}", file=sys.stderr)
        return 1
    return 0


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.read().rstrip("\n")
    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("the passwords differ")
    return first


async def _create_user(email: str, role: str, name: str, password: str | None) -> str:
    async with _database() as database:
        return (await AccountStore(database).create(email, role, name, password)).email


async def _create_token(email: str, name: str) -> str:
    async with _database() as database:
        account = await AccountStore(database).by_email(email)
        if account is None:
            raise AccountError(f"no account {email.strip().lower()}")
        text, _ = await TokenStore(database).create(account, name)
        return text


async def _set_disabled(email: str, disabled: bool) -> None:
    async with _database() as database:
        accounts = AccountStore(database)
        account = await accounts.by_email(email)
        if account is None:
            raise AccountError(f"no account {email.strip().lower()}")
        await accounts.set_disabled(account.id, disabled)
        if disabled:
            await SessionStore(database).end_all(account.id)


async def _ensure_first_admin() -> str:
    settings = get_settings()
    kept = settings.data_dir / FIRST_ADMIN_FILE
    async with _database() as database:
        accounts = AccountStore(database)
        if await accounts.count() == 0:
            password = secrets.token_urlsafe(12)
            await accounts.create(FIRST_ADMIN, "admin", "First admin", password)
            _keep(kept, password)
    if kept.exists():
        return f"kickoff-admin: sign in to the board as {FIRST_ADMIN} with the password in {kept}"
    return "kickoff-admin: staff accounts exist already"


def _keep(path: Path, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n", encoding="utf-8")


class _database:  # noqa: N801 (used as a context manager, named as one)
    async def __aenter__(self) -> Database:
        self.database = Database(get_settings().database_url)
        return self.database

    async def __aexit__(self, *exc: object) -> None:
        await self.database.dispose()
