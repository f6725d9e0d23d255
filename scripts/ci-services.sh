#!/usr/bin/env bash
# Install and start what CI needs beyond the virtualenv: a PostgreSQL 15 server of our own
# and Debian's Chromium (with the fonts and libraries Chromium and WeasyPrint render with);
# install redis-server, which the tests start themselves.
#
# Idempotent: run it as often as you like. It installs only what is missing, reuses a
# cluster that an earlier run created (re-initialising one that is half-made or from an
# other major version), starts it if it is stopped, and (re)asserts the role and database.
#
# The last (and only) line on stdout is the DATABASE_URL; everything else goes to stderr,
# so callers can write   DATABASE_URL=$(scripts/ci-services.sh)
#
# Settings (environment):
#   KINDWAVE_CI_PG_PORT  TCP port on 127.0.0.1 (default 5433, beside a system cluster on 5432)
#   KINDWAVE_CI_PG_DIR   cluster directory (default var/ci-pg in the project, or
#                        ${TMPDIR:-/tmp}/kindwave-ci-pg-PORT when the postgres user cannot
#                        reach the project, e.g. a checkout under /root)
#   KINDWAVE_CI_SKIP_APT=1  never call apt-get (fail if something is missing instead)
set -euo pipefail

PORT=${KINDWAVE_CI_PG_PORT:-5433}
DB_NAME=kindwave
DB_USER=kindwave
DB_PASSWORD=kindwave
PG_MAJOR=15
DATABASE_URL="postgres://${DB_USER}:${DB_PASSWORD}@127.0.0.1:${PORT}/${DB_NAME}"
PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf 'ci-services: %s\n' "$*" >&2; }
die() { printf 'ci-services: error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

# --- 1. Debian packages ------------------------------------------------------------------
# postgresql: the server; chromium: the browser Playwright drives (never Playwright's own
# download); fonts-dejavu-core: so pages and screenshots render text; libpango*/harfbuzz:
# what WeasyPrint loads to lay out PDF invoices (Chromium brings its own dependencies);
# gettext: xgettext, for the test that no UI string is missing from the French catalogue;
# openjdk-17-jre-headless: the Java that PySpark (the rating engine's second backend) runs on.
# poppler-utils: pdftotext, for the tests that read what an invoice PDF says.
# redis-server: the binary the Redis home-timeline tests start on a port of their own
# (tests/community/test_redis_store.py); this script never starts or uses its service.
PACKAGES=(postgresql poppler-utils chromium fonts-dejavu-core gettext openjdk-17-jre-headless libpango-1.0-0 libpangoft2-1.0-0
          libharfbuzz-subset0 redis-server)
missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "${KINDWAVE_CI_SKIP_APT:-0}" = 1 ] && die "missing Debian packages: ${missing[*]}"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Debian's postgresql package creates and starts a "main" cluster on 5432; we do not
    # use it (ours is project-local), and policy-rc.d is not ours to change, so let it be.
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
    log "Debian packages already installed"
fi

PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL ${PG_MAJOR} binaries not found in $PG_BIN"

# --- 2. Who owns the cluster -------------------------------------------------------------
# initdb refuses to run as root, so as root the cluster belongs to the "postgres" system
# user (created by the postgresql package); otherwise to whoever runs this script.
if [ "$(id -u)" -eq 0 ]; then
    PG_OWNER=postgres
    as_owner() { runuser -u "$PG_OWNER" -- "$@"; }
else
    PG_OWNER=$(id -un)
    as_owner() { "$@"; }
fi

# The postgres server puts its unix socket inside the data directory (private to the
# owner, so "trust" for local connections admits only the owner); socket paths are
# limited to ~107 bytes, so a long project path falls back to a short temporary one.
if [ -n "${KINDWAVE_CI_PG_DIR:-}" ]; then
    PGDATA=$KINDWAVE_CI_PG_DIR
else
    PGDATA=$PROJECT_DIR/var/ci-pg
    mkdir -p "$PROJECT_DIR/var"
    if ! as_owner test -x "$PROJECT_DIR/var" || [ ${#PGDATA} -gt 80 ]; then
        PGDATA=${TMPDIR:-/tmp}/kindwave-ci-pg-$PORT
    fi
fi
case $PGDATA in /*) ;; *) PGDATA=$(pwd)/$PGDATA ;; esac
LOGFILE=$PGDATA.log   # beside, not inside: initdb wants an empty directory

pg_ctl_() { as_owner "$PG_BIN/pg_ctl" -D "$PGDATA" "$@"; }
admin_psql() {
    as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGDATA" -p "$PORT" -U postgres \
        -d postgres
}
ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1; }
ours_running() { [ -f "$PGDATA/PG_VERSION" ] && pg_ctl_ status >/dev/null 2>&1; }
url_works() {
    PGPASSWORD=$DB_PASSWORD PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -qtA "$DATABASE_URL" \
        -c "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user" 2>/dev/null \
        | grep -qx t
}

# --- 3. The cluster ----------------------------------------------------------------------
if ! ours_running && ready; then
    # Someone else listens on our port: fine if it is a Kindwave CI server (another
    # checkout on this machine ran this script), otherwise say what to do.
    if url_works; then
        log "reusing the PostgreSQL server already on 127.0.0.1:$PORT (not started from $PGDATA)"
        echo "$DATABASE_URL"
        exit 0
    fi
    die "127.0.0.1:$PORT is taken by a server that does not accept" \
        "$DB_USER/$DB_PASSWORD; set KINDWAVE_CI_PG_PORT to a free port"
fi

if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ] \
    && [ "$(cat "$PGDATA/PG_VERSION" 2>/dev/null || true)" != "$PG_MAJOR" ]; then
    # Half-made by an interrupted initdb, or from another major version: it holds only
    # throwaway CI data, so start again rather than fail -- but only if it looks like a
    # cluster, so a mistaken KINDWAVE_CI_PG_DIR never deletes anything else.
    if [ -e "$PGDATA/PG_VERSION" ] || [ -e "$PGDATA/global" ] || [ -e "$PGDATA/base" ]; then
        log "discarding unusable cluster directory $PGDATA"
        rm -rf "$PGDATA"
    else
        die "$PGDATA is not empty and is not a PostgreSQL cluster; remove it or set KINDWAVE_CI_PG_DIR"
    fi
fi

if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "creating a PostgreSQL $PG_MAJOR cluster in $PGDATA (owner $PG_OWNER)"
    mkdir -p "$PGDATA"
    chown "$PG_OWNER" "$PGDATA"
    chmod 700 "$PGDATA"
    as_owner "$PG_BIN/initdb" -D "$PGDATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    # A throwaway test server: durability is not worth the fsyncs.
    as_owner tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF

# --- Kindwave CI (scripts/ci-services.sh) ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$PGDATA'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
CONF
fi

# The port may have been changed since the cluster was made: the command line wins.
START_OPTS="-p $PORT -c listen_addresses=127.0.0.1 -k $PGDATA"
start_if_stopped() {
    ours_running && return 0
    # A postmaster.pid left by a killed server whose PID now belongs to another process
    # makes pg_ctl think it still runs; "status" said no, so the file is stale.
    rm -f "$PGDATA/postmaster.pid"
    touch "$LOGFILE"
    chown "$PG_OWNER" "$LOGFILE"
    log "starting PostgreSQL on 127.0.0.1:$PORT (log: $LOGFILE)"
    # Retried: after a crash the old server's children can hold the socket lock a moment.
    for attempt in 1 2 3; do
        pg_ctl_ start -w -t 60 -l "$LOGFILE" -o "$START_OPTS" >/dev/null && return 0
        [ "$attempt" -eq 3 ] || sleep 3
    done
    tail -n 20 "$LOGFILE" >&2 || true
    die "PostgreSQL did not start (log: $LOGFILE)"
}

ours_running && log "PostgreSQL already running from $PGDATA"
# A server that was just killed still looks "running" until its process is gone, so
# keep checking while waiting for it to answer.
for _ in $(seq 1 60); do
    start_if_stopped
    ready && break
    sleep 1
done
ready || die "PostgreSQL on 127.0.0.1:$PORT is not accepting connections (log: $LOGFILE)"

# --- 4. Role and database (password auth over TCP; CREATEDB for pytest's test_kindwave) ---
admin_psql <<SQL
SELECT format('CREATE ROLE %I', '$DB_USER')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') \\gexec
ALTER ROLE $DB_USER WITH LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \\gexec
SQL

url_works || die "cannot connect as $DB_USER with a password to $DATABASE_URL"
log "PostgreSQL $("$PG_BIN/psql" -X -qtA "$DATABASE_URL" -c 'SHOW server_version') ready"
echo "$DATABASE_URL"
