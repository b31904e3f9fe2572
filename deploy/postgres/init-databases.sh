#!/bin/sh
# PostgreSQL's entrypoint runs this once, when its data folder is new (mounted into
# /docker-entrypoint-initdb.d). It is idempotent, so a volume made before Kickoff had its
# own database gets one by running it again (docs/production.md says how).
#
# temporal, temporal_visibility: Temporal's stores, owned by the superuser Temporal connects
# as (the temporal-schema service fills them). kickoff: Kickoff's own database, owned by
# its own role, which can reach nothing else.
set -eu
: "${POSTGRES_KICKOFF_PASSWORD:?set POSTGRES_KICKOFF_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set kickoff_password="$POSTGRES_KICKOFF_PASSWORD" <<'SQL'
SELECT 'CREATE DATABASE temporal'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal')\gexec
SELECT 'CREATE DATABASE temporal_visibility'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal_visibility')\gexec
SELECT 'CREATE ROLE kickoff'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kickoff')\gexec
-- Set on every run, so changing POSTGRES_KICKOFF_PASSWORD and running this again rotates it.
ALTER ROLE kickoff WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'kickoff_password';
SELECT 'CREATE DATABASE kickoff OWNER kickoff'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kickoff')\gexec
-- Only owners (and the superuser) connect: kickoff cannot open Temporal's databases.
REVOKE ALL ON DATABASE temporal, temporal_visibility, kickoff FROM PUBLIC;
SQL
