#!/usr/bin/env bash
# Side by side: pgbench against PostgreSQL 15 (fsync on, defaults otherwise) and against
# dotdo (release build), same data set, same runs; prints dotdo/PostgreSQL tps ratios.
# Both run with --max-tries=10: dotdo's optimistic transactions answer a rare conflict with
# 40001 (as PostgreSQL's SERIALIZABLE does), which pgbench then retries instead of counting
# a failure; PostgreSQL's READ COMMITTED never raises one, so its runs are unchanged.
#
#   benches/pgbench_side_by_side.sh            # scale 10, 8 clients, 2 threads, 30 s per run
#   SCALE=1 DURATION=5 benches/pgbench_side_by_side.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
DURATION=${DURATION:-30}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release -p dotdo >/dev/null
DOTDO="$TARGET/release/dotdo"

WORK=$(mktemp -d /tmp/pgbench-sbs.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

PG_PORT=$(free_port)
DOTDO_PORT=$(free_port)
ADMIN_PORT=$(free_port)
[ "$(id -u)" = 0 ] && chown postgres "$WORK"

cleanup() {
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
    if [ -n "${DOTDO_PID:-}" ]; then kill "$DOTDO_PID" 2>/dev/null || true; wait "$DOTDO_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U postgres -A trust -E UTF8 --no-locale >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
    -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=50" start >/dev/null

mkdir -p "$WORK/dotdo"
"$DOTDO" serve --set "postgres.listen=127.0.0.1:$DOTDO_PORT" --set "admin.listen=127.0.0.1:$ADMIN_PORT" \
    --set "backend.embedded.data_dir=$WORK/dotdo/data" >"$WORK/dotdo.out" 2>"$WORK/dotdo.log" &
DOTDO_PID=$!
for _ in $(seq 1 100); do grep -q DOTDO_LISTENING "$WORK/dotdo.out" && break; sleep 0.1; done

bench() { pgbench -h 127.0.0.1 -p "$1" -U postgres "${@:2}" bench; }
tps() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }

echo "initialising scale $SCALE on both..."
as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE bench" postgres
bench "$PG_PORT" -i -q -s "$SCALE" 2>&1 | tail -1
bench "$DOTDO_PORT" -i -q -s "$SCALE" 2>&1 | tail -1

printf '\n%-22s %12s %12s %8s\n' "run" "postgres" "dotdo" "ratio"
for script in "-S" "-b tpcb-like"; do
    for mode in simple prepared; do
        args=(-c "$CLIENTS" -j "$THREADS" -T "$DURATION" -M "$mode" --max-tries=10 $script)
        pg=$(bench "$PG_PORT" "${args[@]}" 2>&1 | tps)
        dd_out=$(bench "$DOTDO_PORT" "${args[@]}" 2>&1)
        dd=$(echo "$dd_out" | tps)
        failed=$(echo "$dd_out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
        retried=$(echo "$dd_out" | sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p')
        ratio=$(python3 -c "print(f'{float(\"$dd\")/float(\"$pg\"):.2f}x')")
        name="${script#-b } $mode"
        printf '%-22s %12.0f %12.0f %8s   (dotdo failed: %s, retried: %s)\n' "$name" "$pg" "$dd" "$ratio" "${failed:-?}" "${retried:-0}"
    done
done
