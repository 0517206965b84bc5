#!/bin/sh
# A one-shot step of docker-compose.yml (it runs in the postgres image): give the service its own
# database and role on the PostgreSQL server, next to Temporal's. Idempotent: creates what is
# missing, and sets the role's password to SERVICE_DB_PASSWORD each time (so it can be rotated).
# The schema inside is the migrate step's job (python -m store.migrate). Run it by hand against
# another server the same way, e.g.
#
#   PGHOST=db.internal PGUSER=admin PGPASSWORD=... SERVICE_DB_PASSWORD=... sh deploy/service-database.sh
#
# psql reads PGHOST, PGPORT, PGUSER, PGPASSWORD (an administrator that may create roles and databases).
set -eu

: "${SERVICE_DB_NAME:=disputes}"
: "${SERVICE_DB_USER:=disputes}"
: "${SERVICE_DB_PASSWORD:?set SERVICE_DB_PASSWORD, the service role's password}"
: "${SETUP_ATTEMPTS:=30}"

attempt=1
until pg_isready --quiet --dbname=postgres; do
    if [ "$attempt" -ge "$SETUP_ATTEMPTS" ]; then
        echo "service-database: PostgreSQL at ${PGHOST:-localhost} does not answer" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
done

psql --no-psqlrc --quiet --dbname=postgres -v ON_ERROR_STOP=1 \
    -v name="$SERVICE_DB_NAME" -v role="$SERVICE_DB_USER" -v password="$SERVICE_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
echo "service-database: database $SERVICE_DB_NAME owned by $SERVICE_DB_USER is ready"
