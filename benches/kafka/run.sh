#!/usr/bin/env bash
# Side-by-side Kafka throughput: a librdkafka client (confluent-kafka) producing and
# consuming 1 KiB messages with acks=all over 8 partitions, against dotdo (release build)
# and against tansu (SQLite storage) on this machine, plus the disk's fsync'd sequential
# write bandwidth as the physical ceiling. Prints a table with ratios.
#
# usage: benches/kafka/run.sh [MESSAGES]      (default 200000)
# env:   TANSU_BIN=path to a tansu binary (default: installed into ~/.cache/dotdo/tansu with
#        `cargo install tansu --features libsql` when missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
MESSAGES=${1:-200000}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/dotdo/target}
WORK=$(mktemp -d /tmp/kafka-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

python3 -c "import confluent_kafka" 2>/dev/null || pip install -q confluent-kafka
cargo build --release -q -p dotdo
TANSU_BIN=${TANSU_BIN:-$HOME/.cache/dotdo/tansu/bin/tansu}
if [ ! -x "$TANSU_BIN" ]; then
  cargo install -q tansu --features libsql --root "$HOME/.cache/dotdo/tansu"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The disk's ceiling: 1 MiB sequential writes, each synced (oflag=dsync), in the same
# file system the brokers write to.
dd_out=$(dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=256 oflag=dsync 2>&1 | tail -1)
disk_mb_s=$(python3 - "$dd_out" <<'PY'
import re, sys
line = sys.argv[1]
m = re.search(r"([\d.,]+) (\w?B)/s", line)
value = float(m.group(1).replace(",", "."))
scale = {"B": 1e-6, "kB": 1e-3, "KB": 1e-3, "MB": 1, "GB": 1e3}[m.group(2)]
print(f"{value * scale:.1f}")
PY
)
rm -f "$WORK/dd.bin"

# dotdo, release build, defaults (durable group commit).
mkdir -p "$WORK/dotdo"
cat > "$WORK/dotdo/dotdo.toml" <<TOML
[backend.embedded]
data_dir = "$WORK/dotdo/data"
[admin]
enabled = false
TOML
"$TARGET/release/dotdo" serve --ephemeral-ports --config "$WORK/dotdo/dotdo.toml" \
  > "$WORK/dotdo/stdout" 2> "$WORK/dotdo/log" &
PIDS+=($!)
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
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$TANSU_PORT) 2>/dev/null && break; sleep 0.1; done

echo "dotdo: $DOTDO_ADDR   tansu: 127.0.0.1:$TANSU_PORT   messages: $MESSAGES x 1 KiB, 8 partitions, acks=all"
dotdo_json=$(python3 benches/kafka/load.py "$DOTDO_ADDR" --messages "$MESSAGES")
tansu_json=$(python3 benches/kafka/load.py "127.0.0.1:$TANSU_PORT" --messages "$MESSAGES" || echo '{}')

python3 - "$dotdo_json" "$tansu_json" "$disk_mb_s" <<'PY'
import json, sys
d, t, disk = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"
print(f"disk ceiling (dd 1 MiB oflag=dsync): {disk:.1f} MB/s")
print(f"| metric | dotdo | tansu | dotdo/tansu |")
print(f"|---|---|---|---|")
for key, label in [("produce_mb_s", "produce MB/s"), ("produce_msgs_s", "produce msgs/s"),
                   ("consume_mb_s", "consume MB/s"), ("consume_msgs_s", "consume msgs/s")]:
    dv, tv = d.get(key, 0), t.get(key, 0)
    print(f"| {label} | {dv:,.1f} | {tv:,.1f} | {ratio(dv, tv)} |")
print(f"| produce / disk ceiling | {d['produce_mb_s'] / disk:.2f} | {t.get('produce_mb_s', 0) / disk:.2f} | |")
PY
