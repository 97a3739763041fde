#!/bin/bash
# The failover drill's create_replica_method: Debian 12's pg_basebackup (PostgreSQL 15) refuses the embedded 16
# server, so a node is cloned the way `mordomo-db replica create` does it (src/ops/base-backups.ts): pg_backup_start,
# a copy of the leader's data directory (all nodes share this machine), pg_backup_stop's label written into the
# copy, then the WAL the copy needs. Patroni calls it as --scope=… --role=replica --datadir=… --connstring=…
# (the leader, as the replication user, which in the drill is the superuser). Production uses pg_basebackup.
set -euo pipefail
if [ "${1-}" = --copy-files ]; then
  # Run by psql's \! between pg_backup_start and pg_backup_stop (psql's shell is sh: no exported functions).
  source=$2 datadir=$3
  # A live data directory: files change or vanish while copied (WAL replay repairs what changed).
  (cd "$source" && find . -path ./pg_wal -prune -o -path ./pg_replslot -prune -o -path ./log -prune -o -type f \
    ! -name postmaster.pid ! -name postmaster.opts ! -name 'patroni.*' -print0 |
    xargs -0 cp --parents -p -t "$datadir" 2>/dev/null) || true
  for dir in pg_wal/archive_status pg_replslot pg_dynshmem pg_notify pg_serial pg_snapshots pg_stat_tmp pg_subtrans \
    pg_tblspc pg_twophase pg_commit_ts pg_logical/snapshots pg_logical/mappings; do
    mkdir -p "$datadir/$dir"
  done
  exit 0
fi
for arg; do
  case $arg in
  --datadir=*) datadir=${arg#*=} ;;
  --connstring=*) conn=${arg#*=} ;;
  esac
done
source=$(psql "$conn" -XAtc 'SHOW data_directory')
rm -rf "$datadir"
mkdir -p "$datadir"
chmod 700 "$datadir"
label=$(mktemp)
psql "$conn" -XAtq -v ON_ERROR_STOP=1 <<SQL
SELECT pg_backup_start('patroni clone', true) \g /dev/null
\\! "$0" --copy-files "$source" "$datadir"
\o $label
SELECT labelfile FROM pg_backup_stop(false);
\o
SQL
cp "$label" "$datadir/backup_label"
rm -f "$label"
# The WAL from the backup's start on is still in the leader's pg_wal (wal_keep_size keeps it).
for segment in "$source"/pg_wal/0*; do cp -p "$segment" "$datadir/pg_wal/" 2>/dev/null || true; done
chmod -R go-rwx "$datadir"
test -f "$datadir/global/pg_control"
