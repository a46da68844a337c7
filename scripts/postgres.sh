#!/usr/bin/env bash
# A private PostgreSQL cluster for `make run` and `make test`.
#   scripts/postgres.sh start DIR PORT PASSWORD   initdb on first use, start, create database "revmesh"
#   scripts/postgres.sh stop DIR
# As root the server runs as the postgres user (initdb refuses root); the binaries are installed when missing.
set -euo pipefail

PG_BIN="${PG_BIN:-}"
find_bin() {
  if [ -z "$PG_BIN" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "PostgreSQL server binaries not found; installing the Debian package" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd="${1:-}"
dir="${2:?usage: postgres.sh start|stop DIR [PORT PASSWORD]}"
case "$cmd" in
  start)
    port="${3:?port}"
    password="${4:?password}"
    find_bin
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      pwfile=$(mktemp)
      printf '%s' "$password" > "$pwfile"
      [ "$(id -u)" -eq 0 ] && chown postgres "$pwfile"
      as_owner "$PG_BIN/initdb" -D "$dir" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" -E UTF8 >/dev/null
      rm -f "$pwfile"
    fi
    as_owner "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
    PGPASSWORD="$password" "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'revmesh'" | grep -q 1 \
      || PGPASSWORD="$password" "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres revmesh
    ;;
  stop)
    find_bin
    [ -f "$dir/postmaster.pid" ] && as_owner "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    ;;
  *)
    echo "usage: postgres.sh start DIR PORT PASSWORD | stop DIR" >&2
    exit 2
    ;;
esac
