#!/bin/sh
# The compute copies the upstream with pg_basebackup over the compose network: allow replication
# connections from other containers (the image only opens normal connections).
set -e
echo "host replication all all trust" >> "$PGDATA/pg_hba.conf"
