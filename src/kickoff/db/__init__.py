"""Kickoff's own database (SQLite embedded, PostgreSQL in production): engine, schema, migrations."""

from kickoff.db.database import Database
from kickoff.db.migrate import migrate

__all__ = ["Database", "migrate"]
