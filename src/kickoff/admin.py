"""``kickoff-admin``: operator commands beside the API and the worker.

``kickoff-admin migrate`` brings Kickoff's database (KICKOFF_DATABASE_URL) to the newest
schema. It is idempotent: compose runs it once before the API and workers start, ``make
run`` on every start. If the data folder still holds an earlier release's per-host mail
ledger, it copies it into the database too (``import-mail-ledger`` does that for a file
elsewhere, e.g. one per former worker host).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from kickoff.activities.ledger import LEGACY_LEDGER, MailLedger, import_legacy_ledger
from kickoff.db import Database, migrate
from kickoff.db.migrate import current_revision
from kickoff.settings import get_settings


async def _migrate() -> str | None:
    database = Database(get_settings().database_url)
    try:
        await migrate(database)
        return await current_revision(database)
    finally:
        await database.dispose()


async def _import_file(path: Path) -> int:
    database = Database(get_settings().database_url)
    try:
        await migrate(database)
        return await import_legacy_ledger(path, MailLedger(database))
    finally:
        await database.dispose()


def _import_and_set_aside(path: Path) -> None:
    copied = asyncio.run(_import_file(path))
    # Renamed, not deleted: the file stays for an audit, and is not imported on every start.
    path.rename(path.with_name(path.name + ".imported"))
    print(f"kickoff-admin: copied {copied} mail ledger rows from {path.name}")


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except (OSError, SQLAlchemyError) as exc:
        # Only the kind of failure: the URL (and a driver's message quoting it) may hold a password.
        print(f"kickoff-admin: the database did not answer ({type(exc).__name__})", file=sys.stderr)
        return 1


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="kickoff-admin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations (idempotent)")
    importing = commands.add_parser(
        "import-mail-ledger", help="copy an earlier release's mail-ledger.sqlite3 into the database"
    )
    importing.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    match args.command:
        case "migrate":
            revision = asyncio.run(_migrate())
            legacy = get_settings().data_dir / LEGACY_LEDGER
            if legacy.exists():
                _import_and_set_aside(legacy)
            # The URL may hold a password: say where the schema is, not where the database is.
            print(f"kickoff-admin: database at revision {revision}")
            return 0
        case "import-mail-ledger":
            if not args.path.is_file():
                parser.error(f"no such file: {args.path}")
            _import_and_set_aside(args.path)
            return 0
        case _:  # argparse refuses unknown commands before this
            parser.error(f"unknown command {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())
