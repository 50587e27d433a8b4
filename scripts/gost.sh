#!/usr/bin/env bash
# Starts and stops GOST (the Go SensorThings server, github.com/gost/server) on a PostgreSQL of
# its own, for `rabta-bench -phases compare` (docs/bench.md, "Comparing with another
# SensorThings server"). Not part of the test suite.
#
#   GOST_BIN=/path/to/gost GOST_SQL=/path/to/gost_init_db.sql bash scripts/gost.sh start
#   eval "$(bash scripts/gost.sh env)"   # GOST_URL, GOST_PG, GOST_DIR of the running setup
#   bash scripts/gost.sh rabta-db         # a new empty database in the same cluster, for -compare-pg
#   bash scripts/gost.sh reset            # empty GOST's tables (between compare runs)
#   bash scripts/gost.sh stop             # stop GOST and the cluster, remove the directory
#
# Nothing of GOST is in this repository and this script builds nothing: it runs the GOST binary
# given as GOST_BIN (built from github.com/gost/server at commit 6cd7eb2, with the dependencies
# pinned in that commit's Gopkg.lock) and loads the schema given as GOST_SQL (gost_init_db.sql of
# github.com/gost/gost-db, the database image GOST's own docker-compose uses). Neither is served
# by the Go module proxy: GOST predates Go modules (no go.mod) and the proxy reachable here
# answers 403 for github.com/gost/*.
#
# As root on Debian it installs PostgreSQL and PostGIS when missing (through scripts/postgres.sh
# install). The cluster lives in $GOST_DIR (default ${TMPDIR:-/tmp}/rabta-gost), listens on
# 127.0.0.1 on a free port of its own, trusts local connections and keeps every commit durable
# (fsync on, synchronous_commit on: GOST's own database image turns synchronous_commit off, and
# Rabta acknowledges a write only after its commit is synced, so the comparison would be unfair).
# GOST listens on another free loopback port, with MQTT off, 100 entities per page at most (the
# compare phase's window asks $top=100 and wants 60) and compact JSON. Only export lines go to
# standard output; progress goes to standard error.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PG_MAJOR=${PG_MAJOR:-15}
DIR=${GOST_DIR:-${TMPDIR:-/tmp}/rabta-gost}

log() { printf '==> gost.sh: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

bindir() {
  local d=/usr/lib/postgresql/${PG_MAJOR}/bin
  if [ -x "$d/pg_ctl" ]; then
    echo "$d"
  else
    dirname "$(command -v pg_ctl)"
  fi
}

# as_pg runs a command as the cluster's owner: postgres when we are root, else ourselves.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    port_free "$p" && { echo "$p"; return; }
  done
}

psql_() { "$(bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$DIR/pg.port")" -U postgres "$@"; }

running() { [ -f "$DIR/gost.pid" ] && kill -0 "$(cat "$DIR/gost.pid")" 2>/dev/null; }

env_() {
  [ -f "$DIR/gost.port" ] || die "no GOST set up in $DIR (run: $0 start)"
  running || log "warning: GOST (pid $(cat "$DIR/gost.pid" 2>/dev/null)) is not running; see $DIR/gost.log"
  echo "export GOST_URL='http://127.0.0.1:$(cat "$DIR/gost.port")/v1.0'"
  echo "export GOST_PG='postgres://postgres@127.0.0.1:$(cat "$DIR/pg.port")/gost?sslmode=disable'"
  echo "export GOST_DIR='$DIR'"
}

start() {
  local t0=$SECONDS
  if [ -d "$DIR" ]; then
    running && die "GOST is already running from $DIR (stop it first: $0 stop)"
    die "$DIR exists (left from a run that did not stop?): $0 stop removes it"
  fi
  [ -x "${GOST_BIN:-}" ] || die "set GOST_BIN to a GOST binary (github.com/gost/server, commit 6cd7eb2)"
  [ -f "${GOST_SQL:-}" ] || die "set GOST_SQL to GOST's schema, gost_init_db.sql of github.com/gost/gost-db"
  bash "$HERE/postgres.sh" install
  local bin pgport gport
  bin=$(bindir)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  as_pg "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
    { cat "$DIR/initdb.log" >&2; exit 1; }
  local tries=0
  while :; do
    pgport=$(free_port)
    if as_pg "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
      -o "-p $pgport -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200 -c shared_buffers=128MB" \
      start >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    ((tries < 5)) || { tail -n 30 "$DIR/postgres.log" >&2; exit 1; }
    log "port $pgport taken meanwhile; trying another"
  done
  echo "$pgport" >"$DIR/pg.port"
  psql_ -d postgres -c "CREATE DATABASE gost"
  psql_ -d gost -f "$GOST_SQL" >/dev/null # CREATE EXTENSION postgis; CREATE SCHEMA v1; the tables
  [ "$(psql_ -d gost -At -c "SHOW synchronous_commit")" = on ] || die "synchronous_commit is not on"

  # GOST reads its settings from a YAML file, then from GOST_* variables; lib/pq takes the
  # database port from PGPORT (GOST passes none of its own).
  gport=$(free_port)
  echo "$gport" >"$DIR/gost.port"
  cat >"$DIR/config.yaml" <<EOF
server:
    name: GOST Server
    host: 127.0.0.1
    port: $gport
    externalUri: http://127.0.0.1:$gport
    maxEntityResponse: 100
    indentedJson: false
    https: false
database:
    host: 127.0.0.1
    port: $pgport
    user: postgres
    password: unused
    database: gost
    schema: v1
    ssl: false
    maxIdleConns: 30
    maxOpenConns: 100
mqtt:
    enabled: false
logger:
    fileName:
    verbose: false
EOF
  (
    cd "$DIR"
    # setsid: GOST outlives this script and the shell that ran it, in a session of its own
    PGPORT=$pgport setsid "$GOST_BIN" -config "$DIR/config.yaml" </dev/null >"$DIR/gost.log" 2>&1 &
    echo $! >"$DIR/gost.pid"
  )
  for _ in $(seq 1 100); do
    if curl -fs -o /dev/null "http://127.0.0.1:$gport/v1.0/Things"; then
      log "GOST ($GOST_BIN, pid $(cat "$DIR/gost.pid")) on http://127.0.0.1:$gport/v1.0, its PostgreSQL $PG_MAJOR on 127.0.0.1:$pgport (synchronous_commit on), in $DIR (ready in $((SECONDS - t0)) s)"
      log "compare: rabta-bench -phases compare -compare-url gost=http://127.0.0.1:$gport/v1.0 -compare-pg \"\$(bash $0 rabta-db)\" -compare-floor"
      env_
      return 0
    fi
    running || break
    sleep 0.1
  done
  tail -n 30 "$DIR/gost.log" >&2
  die "GOST did not answer on 127.0.0.1:$gport (log: $DIR/gost.log; $0 stop cleans up)"
}

# rabta_db creates a new, empty database in GOST's cluster and prints its URL (for -compare-pg:
# Rabta on PostgreSQL then runs on the same cluster, with the same settings, as GOST).
rabta_db() {
  [ -f "$DIR/pg.port" ] || die "no cluster in $DIR (run: $0 start)"
  local name
  name=rabta_$(date +%Y%m%d_%H%M%S)_$RANDOM
  psql_ -d postgres -c "CREATE DATABASE $name"
  echo "postgres://postgres@127.0.0.1:$(cat "$DIR/pg.port")/$name?sslmode=disable"
}

# reset empties GOST's tables, so that each compare run starts from the same (empty) state.
reset() {
  [ -f "$DIR/pg.port" ] || die "no cluster in $DIR (run: $0 start)"
  local tables
  tables=$(psql_ -d gost -At -c "SELECT string_agg('v1.' || quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = 'v1'")
  psql_ -d gost -c "TRUNCATE $tables RESTART IDENTITY CASCADE"
  log "emptied GOST's tables ($tables)"
}

stop() {
  if [ ! -d "$DIR" ]; then
    log "nothing to stop in $DIR"
    return 0
  fi
  if running; then
    local pid
    pid=$(cat "$DIR/gost.pid")
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  if [ -d "$DIR/data" ]; then
    as_pg "$(bindir)/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
  log "stopped GOST and its PostgreSQL, removed $DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) env_ ;;
rabta-db) rabta_db ;;
reset) reset ;;
*)
  echo "usage: $0 start|stop|env|rabta-db|reset" >&2
  exit 2
  ;;
esac
