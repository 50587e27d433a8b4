#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL (with PostGIS) for the PostgreSQL store's tests.
#
#   eval "$(scripts/postgres.sh start)"   # sets RABTA_TEST_POSTGRES and RABTA_TEST_POSTGRES_DIR
#   go test ./internal/store/...
#   scripts/postgres.sh stop              # stops the cluster and removes its directory
#
# As root on Debian it installs postgresql and the PostGIS package when they are missing. The
# cluster lives in a temporary directory, listens on a free loopback port of its own (never
# 5432, so a PostgreSQL already running there is left alone) and a Unix socket in the same
# directory, trusts local connections, and keeps fsync on (tests measure real commits). Only
# the export lines go to standard output; progress goes to standard error.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
POSTGIS_PKG=postgresql-${PG_MAJOR}-postgis-3 # Debian 12 (bookworm): PostGIS 3.3 for PostgreSQL 15
STATE=${TMPDIR:-/tmp}/rabta-postgres.dir     # remembers the last started cluster, for stop

log() { printf '==> postgres.sh: %s\n' "$*" >&2; }

bindir() {
  local d=/usr/lib/postgresql/${PG_MAJOR}/bin
  if [ -x "$d/pg_ctl" ]; then
    echo "$d"
  elif command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pg_ctl" ]; then
    pg_config --bindir
  else
    dirname "$(command -v pg_ctl)"
  fi
}

install() {
  local need=()
  [ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_ctl" ] || need+=(postgresql "postgresql-${PG_MAJOR}")
  [ -f "/usr/share/postgresql/${PG_MAJOR}/extension/postgis.control" ] || need+=("$POSTGIS_PKG")
  ((${#need[@]})) || return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${need[*]}: install them (as root: apt-get install ${need[*]})"
    exit 1
  fi
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # the Debian package would create and start a cluster on 5432: not wanted here
  mkdir -p /etc/postgresql-common
  [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  local aptlog
  aptlog=$(mktemp)
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$aptlog" 2>&1; then
    cat "$aptlog" >&2
    rm -f "$aptlog"
    exit 1
  fi
  rm -f "$aptlog"
}

# as_pg runs a command as the user that owns the cluster: postgres when we are root
# (PostgreSQL refuses to run as root), else ourselves.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local t0=$SECONDS
  install
  local bin dir port tries=0
  bin=$(bindir)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/rabta-pg.XXXXXX")
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  while :; do
    port=$((20000 + RANDOM % 40000))
    port_free "$port" || continue
    if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200 -c shared_buffers=128MB" start >&2; then
      break
    fi
    tries=$((tries + 1))
    if ((tries >= 5)); then
      tail -n 30 "$dir/postgres.log" >&2
      exit 1
    fi
    log "port $port taken meanwhile; trying another"
  done
  echo "$port" >"$dir/port"
  echo "$dir" >"$STATE"
  local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
  "${psql[@]}" -d postgres -c "CREATE DATABASE rabta_test" >&2
  "${psql[@]}" -d rabta_test -c "CREATE EXTENSION postgis" >&2
  log "PostgreSQL $("${psql[@]}" -d rabta_test -At -c "SELECT current_setting('server_version') || ', PostGIS ' || postgis_lib_version()") on 127.0.0.1:$port in $dir (ready in $((SECONDS - t0)) s)"
  echo "export RABTA_TEST_POSTGRES='postgres://postgres@127.0.0.1:$port/rabta_test?sslmode=disable'"
  echo "export RABTA_TEST_POSTGRES_DIR='$dir'"
}

stop() {
  local dir=${RABTA_TEST_POSTGRES_DIR:-}
  if [ -z "$dir" ] && [ -f "$STATE" ]; then
    dir=$(cat "$STATE")
  fi
  if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
    log "no cluster to stop"
    return 0
  fi
  as_pg "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
  if [ -f "$STATE" ] && [ "$(cat "$STATE")" = "$dir" ]; then
    rm -f "$STATE"
  fi
  log "stopped and removed $dir"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
install) install ;;
*)
  echo "usage: $0 start|stop|install" >&2
  exit 2
  ;;
esac
