#!/usr/bin/env bash
# Side-by-side Kafka throughput with a librdkafka client in C (benches/kafka/load.c, linked
# against the librdkafka that confluent-kafka ships, since tansu cannot answer Debian's
# older librdkafka): 1 KiB messages, acks=all, 8 partitions, by default one producer process
# for all partitions and then one consumer process for all of them (on a 2-core machine, 8
# client processes spend a third more CPU per message than one, CPU the brokers then lack;
# tansu, though, is several times slower with one client process than with eight), against
# dotdo (release build) and tansu (SQLite storage) on this machine, plus the disk's fsync'd
# sequential write bandwidth as the physical ceiling. Prints a table with ratios, and each
# broker's CPU time (user + system, from /proc/<pid>/stat) per MB moved, which the machine's
# load moves far less than throughput.
#
# usage: benches/kafka/run.sh [MESSAGES]      (default 400000, spread over the partitions)
# env:   TANSU_BIN=path to a tansu binary (default: installed into ~/.cache/dotdo/tansu with
#        `cargo install tansu --features libsql` when missing)
#        PARTITIONS (default 8)
#        PROCS=client processes per phase, each with its share of the partitions (default 1;
#        PROCS=8 is one process per partition). The same for both brokers.
#        DOTDO_BIN=path to a dotdo binary (default: the release build, built first)
set -euo pipefail
cd "$(dirname "$0")/../.."
MESSAGES=${1:-400000}
PARTITIONS=${PARTITIONS:-8}
PROCS=${PROCS:-1}
if [ $((PARTITIONS % PROCS)) -ne 0 ]; then echo "PROCS must divide PARTITIONS" >&2; exit 2; fi
PER_PROC=$((MESSAGES / PROCS))
MESSAGES=$((PER_PROC * PROCS))
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/dotdo/target}
WORK=$(mktemp -d /tmp/kafka-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

[ -f /usr/include/librdkafka/rdkafka.h ] || apt-get install -y -q librdkafka-dev >/dev/null
python3 -c "import confluent_kafka" 2>/dev/null || pip install -q confluent-kafka
RDKAFKA=$(python3 -c "import confluent_kafka, glob, os; print(glob.glob(os.path.dirname(os.path.dirname(confluent_kafka.__file__)) + '/confluent_kafka.libs/librdkafka-*.so*')[0])")
cc -O2 -o "$WORK/load" benches/kafka/load.c "$RDKAFKA" -Wl,-rpath,"$(dirname "$RDKAFKA")"
DOTDO_BIN=${DOTDO_BIN:-}
if [ -z "$DOTDO_BIN" ]; then
  cargo build --release -q -p dotdo
  DOTDO_BIN=$TARGET/release/dotdo
fi
TANSU_BIN=${TANSU_BIN:-$HOME/.cache/dotdo/tansu/bin/tansu}
if [ ! -x "$TANSU_BIN" ]; then
  cargo install -q tansu --features libsql --root "$HOME/.cache/dotdo/tansu"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The disk's ceiling: 256 MiB of 1 MiB sequential writes, each synced (oflag=dsync), in
# the file system the brokers write to. The disk is shared and its speed drifts, so it is
# measured before and after the brokers run and the higher figure is the ceiling.
disk_mb_s() {
  local out
  out=$(dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=256 oflag=dsync 2>&1 | tail -1)
  rm -f "$WORK/dd.bin"
  python3 - "$out" <<'PY'
import re, sys
m = re.search(r"([\d.,]+) (\w?B)/s", sys.argv[1])
scale = {"B": 1e-6, "kB": 1e-3, "KB": 1e-3, "MB": 1, "GB": 1e3}[m.group(2)]
print(f"{float(m.group(1).replace(',', '.')) * scale:.1f}")
PY
}

create_topic() {
  python3 - "$1" "$2" "$PARTITIONS" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(60)
PY
  sleep 1
}

# The partitions client process $1 of $PROCS produces to and consumes from.
range() { echo "$(($1 * PARTITIONS / PROCS))-$((($1 + 1) * PARTITIONS / PROCS - 1))"; }

# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }

# Produce then consume everything against the broker whose pid is $2; prints
# "produce_seconds consume_seconds produce_cpu_seconds consume_cpu_seconds".
load() {
  local bootstrap=$1 pid=$2 topic=bench-$RANDOM$RANDOM start mid end c0 c1 c2
  create_topic "$bootstrap" "$topic"
  c0=$(cpu_s "$pid")
  start=$(date +%s.%N)
  local pids=() i
  for i in $(seq 0 $((PROCS - 1))); do
    "$WORK/load" produce "$bootstrap" "$topic" "$(range "$i")" "$PER_PROC" 1024 \
      acks=all linger.ms=5 batch.size=1000000 \
      queue.buffering.max.kbytes=1048576 queue.buffering.max.messages=1000000 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  mid=$(date +%s.%N)
  c1=$(cpu_s "$pid")
  pids=()
  for i in $(seq 0 $((PROCS - 1))); do
    "$WORK/load" consume "$bootstrap" "$topic" "$(range "$i")" "$PER_PROC" \
      fetch.wait.max.ms=100 fetch.max.bytes=52428800 max.partition.fetch.bytes=10485760 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  end=$(date +%s.%N)
  c2=$(cpu_s "$pid")
  echo "$(python3 -c "print($mid - $start, $end - $mid, $c1 - $c0, $c2 - $c1)")"
}

disk_before=$(disk_mb_s)

# dotdo, release build, defaults (durable group commit).
mkdir -p "$WORK/dotdo"
cat > "$WORK/dotdo/dotdo.toml" <<TOML
[backend.embedded]
data_dir = "$WORK/dotdo/data"
[admin]
enabled = false
TOML
"$DOTDO_BIN" serve --ephemeral-ports --config "$WORK/dotdo/dotdo.toml" \
  > "$WORK/dotdo/stdout" 2> "$WORK/dotdo/log" &
PIDS+=($!)
DOTDO_PID=$!
for _ in $(seq 100); do grep -q DOTDO_LISTENING "$WORK/dotdo/stdout" && break; sleep 0.1; done
DOTDO_ADDR=$(sed -n 's/^DOTDO_LISTENING //p' "$WORK/dotdo/stdout" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kafka"])')

# tansu with its SQLite storage engine.
TANSU_PORT=$(free_port)
mkdir -p "$WORK/tansu"
( cd "$WORK/tansu" && exec "$TANSU_BIN" broker \
    --storage-engine "sqlite://tansu.db" \
    --listener-url "tcp://127.0.0.1:$TANSU_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$TANSU_PORT" ) > "$WORK/tansu/log" 2>&1 &
PIDS+=($!)
TANSU_PID=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$TANSU_PORT) 2>/dev/null && break; sleep 0.1; done

echo "dotdo: $DOTDO_ADDR   tansu: 127.0.0.1:$TANSU_PORT   $MESSAGES x 1 KiB, $PARTITIONS partitions, $PROCS client process(es), acks=all, librdkafka $(python3 -c 'import confluent_kafka; print(confluent_kafka.libversion()[0])')"
uptime
dotdo_s=$(load "$DOTDO_ADDR" "$DOTDO_PID")
tansu_s=$(load "127.0.0.1:$TANSU_PORT" "$TANSU_PID" || echo "0 0 0 0")
disk_after=$(disk_mb_s)

python3 - "$MESSAGES" "$dotdo_s" "$tansu_s" "$disk_before" "$disk_after" <<'PY'
import sys
n = int(sys.argv[1])
d = [float(x) for x in sys.argv[2].split()]
t = [float(x) for x in sys.argv[3].split()]
before, after = float(sys.argv[4]), float(sys.argv[5])
disk = max(before, after)
mb = n * 1024 / 1e6
def rates(s):
    return [mb / x if x else 0 for x in s], [n / x if x else 0 for x in s]
(dmb, dmsg), (tmb, tmsg) = rates(d[:2]), rates(t[:2])
def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"
print(f"disk ceiling (dd 256 MiB, bs=1M oflag=dsync): {before:.1f} MB/s before, {after:.1f} MB/s after; ceiling {disk:.1f} MB/s")
print("| metric | dotdo | tansu | dotdo/tansu |")
print("|---|---|---|---|")
for i, what in enumerate(["produce", "consume"]):
    print(f"| {what} MB/s | {dmb[i]:,.1f} | {tmb[i]:,.1f} | {ratio(dmb[i], tmb[i])} |")
    print(f"| {what} msgs/s | {dmsg[i]:,.0f} | {tmsg[i]:,.0f} | {ratio(dmsg[i], tmsg[i])} |")
print(f"| produce / disk ceiling | {dmb[0] / disk:.2f} | {tmb[0] / disk:.2f} | |")
for i, what in enumerate(["produce", "consume"]):
    dc, tc = d[2 + i] * 1e3 / mb, t[2 + i] * 1e3 / mb
    print(f"| broker CPU ms per MB, {what} | {dc:.2f} | {tc:.2f} | {ratio(dc, tc)} |")
PY
uptime
