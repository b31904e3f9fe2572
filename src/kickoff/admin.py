"""``kickoff-admin``: operator commands beside the API and the worker.

``kickoff-admin migrate`` brings Kickoff's database (KICKOFF_DATABASE_URL) to the newest
schema. It is idempotent: compose runs it once before the API and workers start, ``make
run`` on every start.
"""

from __future__ import annotations

import argparse
import asyncio

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kickoff-admin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations (idempotent)")
    args = parser.parse_args(argv)
    match args.command:
        case "migrate":
            revision = asyncio.run(_migrate())
            # The URL may hold a password: say where the schema is, not where the database is.
            print(f"kickoff-admin: database at revision {revision}")
            return 0
        case _:  # argparse refuses unknown commands before this
            parser.error(f"unknown command {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())
