#!/bin/sh
# Run once by the postgres image on a new data directory (/docker-entrypoint-initdb.d): the role the optional
# standby service replicates with, and the pg_hba line that lets it in over the compose network.
set -eu
if [ -z "${POSTGRES_REPLICATION_PASSWORD:-}" ]; then
  echo "POSTGRES_REPLICATION_PASSWORD is not set: no replication role (set it before the first start to use the standby)"
  exit 0
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v password="$POSTGRES_REPLICATION_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE mordomo_replicator WITH REPLICATION LOGIN PASSWORD %L', :'password') \gexec
SQL
echo "host replication mordomo_replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
