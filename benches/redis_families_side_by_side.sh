#!/usr/bin/env bash
# Side by side for bitmaps, HyperLogLog, GEO and SORT: redis-benchmark running one command
# against redis-server and dotdo (release build) in turn, printing dotdo/redis ratios and each
# server's CPU time per command (utime+stime from /proc, steadier than wall clock under load).
#
# Writes are compared with redis-server at `appendonly yes` + `appendfsync always` (dotdo
# acknowledges only durable writes); reads with redis-server without persistence.
#
#   benches/redis_families_side_by_side.sh           # -n 50000 -c 50, -P 1 and -P 16
#   N=20000 PIPELINES=16 benches/redis_families_side_by_side.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dotdo/target}"
N="${N:-50000}"
C="${C:-50}"
PIPELINES="${PIPELINES:-1 16}"

cargo build --release -p dotdo --bin dotdo >&2
# shellcheck source=benches/redis_servers.sh
source benches/redis_servers.sh

# Prints "rps cpu_us_per_command".
bench() { # port, pid, pipeline, command...
  local port=$1 pid=$2 p=$3; shift 3
  local before after rps
  before=$(ticks "$pid")
  rps=$(redis-benchmark -p "$port" -q -n "$N" -c "$C" -P "$p" -r 100000 "$@" 2>/dev/null | tr '\r' '\n' |
    grep 'requests per second' | tail -1 | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')
  after=$(ticks "$pid")
  echo "${rps:-0} $(python3 -c "print(f'{($after - $before) * 1e6 / $(getconf CLK_TCK) / $N:.1f}')")"
}

aof=$(start_redis aof --appendonly yes --appendfsync always)
mem=$(start_redis mem --appendonly no)
dotdo=$(start_dotdo)
aof_pid=$(cat "$work/aof.pid") mem_pid=$(cat "$work/mem.pid") dotdo_pid=$(cat "$work/dotdo.pid")

# Data for the read tests, the same on each server (one hash tag: a script's keys share a slot).
for port in "$mem" "$dotdo"; do
  redis-cli -p "$port" eval "
    for i = 1, 2000 do
      redis.call('geoadd', KEYS[1], 12 + (i % 60) / 10, 36 + (i % 40) / 10, 'm' .. i)
      redis.call('rpush', KEYS[2], (i * 7919) % 2000)
      redis.call('pfadd', KEYS[3], 'e' .. i)
      redis.call('setbit', KEYS[4], i * 3, 1)
    end" 4 {f}geo {f}list {f}hll {f}bits >/dev/null
done
# The read tests mean nothing unless both servers hold the same data.
for check in "zcard {f}geo" "llen {f}list" "pfcount {f}hll" "bitcount {f}bits"; do
  a=$(redis-cli -p "$mem" $check) b=$(redis-cli -p "$dotdo" $check)
  [ "$a" = "$b" ] && [ "$a" != 0 ] || { echo "seed differs: $check: $a vs $b" >&2; exit 1; }
done

printf '%-40s %3s %10s %10s %6s %9s %9s  %s\n' command P redis dotdo ratio 'redis us' 'dotdo us' peer
run() { # kind, command...
  local kind=$1; shift
  local peer peer_pid label
  if [ "$kind" = write ]; then peer=$aof; peer_pid=$aof_pid; label="aof always"
  else peer=$mem; peer_pid=$mem_pid; label="no persistence"; fi
  for P in $PIPELINES; do
    read -r r rcpu < <(bench "$peer" "$peer_pid" "$P" "$@")
    read -r d dcpu < <(bench "$dotdo" "$dotdo_pid" "$P" "$@")
    ratio=$(python3 -c "print(f'{$d/$r:.2f}' if $r else 'n/a')")
    printf '%-40s %3s %10s %10s %6s %9s %9s  %s\n' "$*" "$P" "$r" "$d" "$ratio" "$rcpu" "$dcpu" "$label"
  done
}

run write SETBIT bm 1000 1
run write PFADD hll:w __rand_int__
run write GEOADD geo:w 13.361389 38.115556 m:__rand_int__
run write BITFIELD bf INCRBY u8 100 1
run read GETBIT {f}bits 300
run read BITCOUNT {f}bits
run read PFCOUNT {f}hll {f}hll
run read GEOSEARCH {f}geo FROMLONLAT 15 38 BYRADIUS 50 km ASC COUNT 10
run read GEODIST {f}geo m1 m2
run read SORT {f}list LIMIT 0 10
