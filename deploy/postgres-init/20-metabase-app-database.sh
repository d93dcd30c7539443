#!/bin/sh
# Runs once, when the postgres service initializes an empty data volume
# (docker-entrypoint-initdb.d). It creates Metabase's own application database,
# `metabase_app`, owned by the login `metabase_app`, which can do nothing in the
# warehouse. On a volume initialized before, run the same statements by hand (README, Deploy).
set -eu
if [ -z "${METABASE_APP_DB_PASSWORD:-}" ]; then
  echo "METABASE_APP_DB_PASSWORD is empty: no Metabase application database created (set it in .env, see README, Deploy)" >&2
  exit 0
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v password="$METABASE_APP_DB_PASSWORD" <<'SQL'
create role metabase_app login password :'password';
create database metabase_app owner metabase_app;
SQL
