#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: installs PostgreSQL from apt
# when it is missing, runs initdb into a fresh temporary directory as the
# postgres user, and starts it on an ephemeral loopback port with fsync on.
#
#   scripts/postgres.sh start   prints `export STRATUS_TEST_POSTGRES=postgres://...`
#                               and `export STRATUS_TEST_POSTGRES_DIR=...`
#   scripts/postgres.sh stop DIR
set -euo pipefail

bin_dir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

install() {
  if bin_dir >/dev/null; then
    return 0
  fi
  echo "postgres.sh: installing PostgreSQL from apt" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

# Runs a command as the postgres user (initdb and the server refuse root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "${1:-}" in
  start)
    install
    bin=$(bin_dir)
    dir=$(mktemp -d /tmp/stratus-pg.XXXXXX)
    if [ "$(id -u)" = 0 ]; then
      chown postgres "$dir"
    fi
    as_postgres "$bin/initdb" -D "$dir/data" -U stratus -A trust --no-sync >/dev/null
    port=$(free_port)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
      "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" \
      start >/dev/null
    echo "export STRATUS_TEST_POSTGRES=postgres://stratus@127.0.0.1:$port/postgres"
    echo "export STRATUS_TEST_POSTGRES_DIR=$dir"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    bin=$(bin_dir)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: scripts/postgres.sh start | stop DIR" >&2
    exit 2
    ;;
esac
