#!/bin/sh
# Start PostgreSQL as the `postgres` user. On the first start (empty data volume) create the
# cluster with the superuser password read from a secret file, then the application database.
set -eu

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD_FILE:=/run/secrets/db_password}"

if [ "$(id -u)" = 0 ]; then
    # The named volume starts out owned by root: hand it to postgres, then drop privileges.
    mkdir -p "$PGDATA" /run/postgresql
    chown postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ ! -r "$POSTGRES_PASSWORD_FILE" ]; then
        echo "db: no password: mount a secret at $POSTGRES_PASSWORD_FILE" >&2
        exit 1
    fi
    echo "db: initialising a new cluster in $PGDATA for user $POSTGRES_USER"
    initdb --username="$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    # Other containers connect over the project network, always with the password.
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        # A private, socket-only server just long enough to create the database.
        pg_ctl --pgdata="$PGDATA" --silent --wait --options="-c listen_addresses=''" start
        psql --username="$POSTGRES_USER" --dbname=postgres --quiet --set=ON_ERROR_STOP=1 \
            --set=db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
        pg_ctl --pgdata="$PGDATA" --silent --wait --mode=fast stop
    fi
    echo "db: cluster ready"
fi

if [ "$1" = postgres ]; then
    shift
    exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
