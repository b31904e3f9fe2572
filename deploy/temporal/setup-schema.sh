#!/bin/sh
# The temporal-schema service (temporalio/admin-tools, same version as the server): brings
# Temporal's two databases to this server version's schema before the server starts.
# Idempotent: setup-schema leaves a versioned schema alone and update-schema applies only
# the versions a database lacks, so it runs on every `docker compose up` and after an
# upgrade of the image tags. The databases themselves come from deploy/postgres.
set -eu
: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${SQL_PASSWORD:?set SQL_PASSWORD}"
PORT=${DB_PORT:-5432}
SCHEMA=/etc/temporal/schema/postgresql/v12

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$PORT" "$@"
}

nc -z -w 10 "$POSTGRES_SEEDS" "$PORT"
sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d "$SCHEMA/temporal/versioned"
sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d "$SCHEMA/visibility/versioned"
echo 'temporal-schema: Temporal schema is current'
