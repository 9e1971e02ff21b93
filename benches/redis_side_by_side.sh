#!/usr/bin/env bash
# Side by side: redis-benchmark against redis-server and dotdo (release build) in one run,
# printing dotdo/redis ratios per test.
#
# Write tests are compared with redis-server at `appendonly yes` + `appendfsync always`
# (dotdo acknowledges only durable writes); read tests with redis-server without persistence.
#
#   benches/redis_side_by_side.sh            # -n 200000 -c 50, -P 1 and -P 16
#   N=50000 benches/redis_side_by_side.sh    # quicker
#   R=100000 benches/redis_side_by_side.sh   # keys spread over 100 000 (redis-benchmark -r)
#
# Besides requests/s, each line gives the CPU time (user + system, all threads, from
# /proc/<pid>/stat) each server spent per request during that test: it moves far less with
# the machine's load than requests/s, and is what an optimisation can actually change.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dotdo/target}"
N="${N:-200000}"
C="${C:-50}"
R="${R:-}"
PIPELINES="${PIPELINES:-1 16}"
WRITE_TESTS="${WRITE_TESTS-set,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,mset}"
READ_TESTS="${READ_TESTS-get,lrange_100}"
EXTRA_SET=("$@")

cargo build --release -p dotdo --bin dotdo >&2
# shellcheck source=benches/redis_servers.sh
source benches/redis_servers.sh

# Prints "TEST rps" lines.
bench() { # port, tests, pipeline
  redis-benchmark -p "$1" -q -n "$N" -c "$C" -P "$3" ${R:+-r "$R"} -t "$2" 2>/dev/null | tr '\r' '\n' |
    grep 'requests per second' | grep -v 'needed to benchmark' |
    sed -E 's/^([A-Z_0-9]+)( \([^)]*\))?: ([0-9.]+) requests per second.*/\1 \3/'
}

aof=$(start_redis aof --appendonly yes --appendfsync always)
mem=$(start_redis mem --appendonly no)
dotdo=$(start_dotdo "${EXTRA_SET[@]}")
aof_pid=$(cat "$work/aof.pid")
mem_pid=$(cat "$work/mem.pid")
dotdo_pid=$(cat "$work/dotdo.pid")
hz=$(getconf CLK_TCK)
# µs of CPU per request from two tick counts.
per_req() { python3 -c "print(f'{($2 - $1) * 1e6 / $hz / $N:.1f}')"; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %3s %10s %10s %7s %8s %8s  %s\n' test P redis dotdo ratio 'redis µs' 'dotdo µs' peer
for P in $PIPELINES; do
  for kind in write read; do
    if [ $kind = write ]; then tests=$WRITE_TESTS; peer=$aof; peer_pid=$aof_pid; label="aof always"; bar=1.0
    else tests=$READ_TESTS; peer=$mem; peer_pid=$mem_pid; label="no persistence"; bar=0.5; fi
    redis-cli -p "$peer" flushall >/dev/null
    redis-cli -p "$dotdo" flushall >/dev/null
    # One test at a time on each server in turn, in the same order on both (LPOP pops what
    # LPUSH pushed), so that load from elsewhere drifting during the run hits both alike.
    IFS=, read -ra each <<< "$tests"
    for one in "${each[@]}"; do
      c0=$(ticks "$peer_pid")
      read -r t r < <(bench "$peer" "$one" "$P")
      c1=$(ticks "$peer_pid")
      d0=$(ticks "$dotdo_pid")
      read -r _ rps < <(bench "$dotdo" "$one" "$P")
      d1=$(ticks "$dotdo_pid")
      rus=$(per_req "$c0" "$c1")
      dus=$(per_req "$d0" "$d1")
      r=${r:-0}
      rps=${rps:-0}
      ratio=$(python3 -c "print(f'{$rps/$r:.2f}' if $r else 'n/a')")
      ok=$(python3 -c "print('ok' if $r and $rps/$r >= $bar else 'BELOW')")
      printf '%-12s %3s %10s %10s %7s %8s %8s  %s (bar %sx: %s)\n' "$t" "$P" "$r" "$rps" "$ratio" "$rus" "$dus" "$label" "$bar" "$ok"
    done
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
