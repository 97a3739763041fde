#!/bin/sh
# Patroni's bootstrap.post_init: runs once, on the node that initialised the cluster, with a superuser connection
# string as its argument. It creates the mordomo database; mordomo-db's migrations create the rest (roles, schema)
# on the leader, and the standbys receive them by replication.
set -eu
"${PSQL:-psql}" "$1" -v ON_ERROR_STOP=1 -qc 'CREATE DATABASE mordomo'
