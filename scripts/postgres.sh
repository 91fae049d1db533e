# Sourced by scripts/test. ensure_postgres exports BROKER_TEST_POSTGRES_DSN:
# the one given, else a server on 127.0.0.1:5432, else a throwaway cluster
# started from Debian's postgresql package (installed when missing) and
# stopped when the script exits.

pg_reachable() { # host port
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$1" -p "$2" -t 3
  else
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
  fi
}

ensure_postgres() {
  if [ -n "${BROKER_TEST_POSTGRES_DSN:-}" ]; then return 0; fi
  if pg_reachable 127.0.0.1 5432 && psql_ok "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"; then
    export BROKER_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
    return 0
  fi
  start_throwaway_postgres
}

psql_ok() {
  command -v psql >/dev/null 2>&1 || return 0 # no client: trust pg_isready
  psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

start_throwaway_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "installing Debian's postgresql package for a throwaway test cluster"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PG_TMP=$(mktemp -d /tmp/broker-pg.XXXXXX)
  local port=55432
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  # PostgreSQL refuses to run as root: run it as the postgres user then.
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_TMP"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bindir/initdb" -D "$PG_TMP/data" -U postgres -A trust >/dev/null
  "${as[@]}" "$bindir/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c max_connections=300 -c fsync=off" start >/dev/null
  PG_STOP=("${as[@]}" "$bindir/pg_ctl" -D "$PG_TMP/data" -m immediate stop)
  trap 'stop_throwaway_postgres' EXIT
  export BROKER_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  echo "started a throwaway PostgreSQL on port $port"
}

stop_throwaway_postgres() {
  if [ -n "${PG_TMP:-}" ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}
