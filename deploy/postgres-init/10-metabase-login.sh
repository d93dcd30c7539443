#!/bin/sh
# Runs once, when the postgres service initializes an empty data volume
# (docker-entrypoint-initdb.d). It creates the login Metabase connects with,
# `metabase`, as a member of the read-only role `calltouch_metabase`. The
# pipeline's migration finds that role already there and grants it SELECT on
# the analytics and calltouch schemas only (migrations/20261129095500_create_metabase_role.ts).
# On a volume initialized before, run the same two statements by hand (README, Deploy).
set -eu
if [ -z "${METABASE_DB_PASSWORD:-}" ]; then
  echo "METABASE_DB_PASSWORD is empty: no Metabase login created (set it in .env, see README, Deploy)" >&2
  exit 0
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v password="$METABASE_DB_PASSWORD" <<'SQL'
create role calltouch_metabase nologin;
create role metabase login password :'password' in role calltouch_metabase;
SQL
