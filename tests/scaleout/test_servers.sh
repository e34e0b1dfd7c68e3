#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers on loopback for the scale-out tests.
#
#   test_servers.sh start DIR [all|postgres|redis]   start them, write DIR/env
#   test_servers.sh stop DIR                         stop what DIR/env names, remove its data
#   test_servers.sh postgres-kill DIR                stop PostgreSQL at once (as a crash would)
#   test_servers.sh postgres-restart DIR             start it again on the same port and data
#
# DIR/env holds shell assignments the tests read (tests/scaleout/test_servers.h):
#   PASSGATE_TEST_POSTGRES_URL      postgres://postgres@127.0.0.1:PORT/postgres (trust auth)
#   PASSGATE_TEST_POSTGRES_DATA     the cluster's data directory (for pg_ctl)
#   PASSGATE_TEST_REDIS_ADDRESS     127.0.0.1:PORT
#   PASSGATE_TEST_REDIS_PASSWORD    the password Redis requires (requirepass)
# The packaged clusters are never touched: each run makes a new cluster in a temp dir.
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail
command=${1:?usage: test_servers.sh start|stop DIR [all|postgres|redis]}
dir=${2:?usage: test_servers.sh start|stop DIR [all|postgres|redis]}
what=${3:-all}

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$bin" ]] || { echo "test_servers.sh: PostgreSQL server not installed (tools/install-deps --test)" >&2; exit 1; }
  echo "$bin"
}

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# free_port asks the kernel for an unused loopback port.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_start BIN DATA PORT. fsync=off by default: the tests kill PostgreSQL, never the machine,
# so WAL written to the OS survives; synchronous_commit stays on, so an acknowledged commit is
# in it. The bench sets PASSGATE_TEST_POSTGRES_FSYNC=on to measure what production pays.
pg_start() {
  as_postgres "$1/pg_ctl" -D "$2/data" -w -t 60 -l "$2/log" start \
    -o "-p $3 -k $2 -c listen_addresses=127.0.0.1 -c fsync=${PASSGATE_TEST_POSTGRES_FSYNC:-off} -c max_connections=200" \
    >/dev/null 2>&1
}

env_value() { sed -n "s/^$1=//p" "$dir/env"; }

start_postgres() {
  local bin data port
  bin=$(pg_bin)
  data=$(mktemp -d /tmp/passgate-test-pg.XXXXXX)
  [[ $(id -u) -eq 0 ]] && chown postgres: "$data"
  as_postgres "$bin/initdb" -D "$data/data" -A trust -U postgres --no-sync >"$dir/postgres-initdb.log" 2>&1 ||
    { cat "$dir/postgres-initdb.log" >&2; exit 1; }
  for attempt in 1 2 3; do
    port=$(free_port)
    if pg_start "$bin" "$data" "$port"; then
      echo "PASSGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres" >>"$dir/env"
      echo "PASSGATE_TEST_POSTGRES_DATA=$data" >>"$dir/env"
      echo "PASSGATE_TEST_POSTGRES_BIN=$bin" >>"$dir/env"
      echo "PASSGATE_TEST_POSTGRES_PORT=$port" >>"$dir/env"
      return 0
    fi
  done
  cat "$data/log" >&2
  exit 1
}

start_redis() {
  local port password
  password=$(openssl rand -hex 16)
  for attempt in 1 2 3; do
    port=$(free_port)
    if redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --requirepass "$password" --daemonize yes --pidfile "$dir/redis.pid" \
        --logfile "$dir/redis.log" --dir "$dir"; then
      for _ in $(seq 50); do
        if redis-cli -h 127.0.0.1 -p "$port" -a "$password" --no-auth-warning ping 2>/dev/null |
            grep -q PONG; then
          echo "PASSGATE_TEST_REDIS_ADDRESS=127.0.0.1:$port" >>"$dir/env"
          echo "PASSGATE_TEST_REDIS_PASSWORD=$password" >>"$dir/env"
          return 0
        fi
        sleep 0.1
      done
      [[ -f "$dir/redis.pid" ]] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    fi
  done
  cat "$dir/redis.log" >&2
  exit 1
}

stop_all() {
  [[ -f "$dir/env" ]] || return 0
  local data bin
  data=$(env_value PASSGATE_TEST_POSTGRES_DATA)
  bin=$(env_value PASSGATE_TEST_POSTGRES_BIN)
  if [[ -n "$data" && -d "$data/data" ]]; then
    as_postgres "$bin/pg_ctl" -D "$data/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$data"
  fi
  if [[ -f "$dir/redis.pid" ]]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    rm -f "$dir/redis.pid"
  fi
  rm -f "$dir/env"
}

case "$command" in
  start)
    mkdir -p "$dir"
    stop_all
    : >"$dir/env.partial"
    mv "$dir/env.partial" "$dir/env"
    case "$what" in
      all) start_postgres; start_redis ;;
      postgres) start_postgres ;;
      redis) start_redis ;;
      *) echo "test_servers.sh: unknown server set $what" >&2; exit 2 ;;
    esac
    ;;
  stop) stop_all ;;
  postgres-kill)
    as_postgres "$(env_value PASSGATE_TEST_POSTGRES_BIN)/pg_ctl" \
      -D "$(env_value PASSGATE_TEST_POSTGRES_DATA)/data" -m immediate stop >/dev/null
    ;;
  postgres-restart)
    pg_start "$(env_value PASSGATE_TEST_POSTGRES_BIN)" "$(env_value PASSGATE_TEST_POSTGRES_DATA)" \
      "$(env_value PASSGATE_TEST_POSTGRES_PORT)" ||
      { cat "$(env_value PASSGATE_TEST_POSTGRES_DATA)/log" >&2; exit 1; }
    ;;
  *) echo "test_servers.sh: unknown command $command" >&2; exit 2 ;;
esac
