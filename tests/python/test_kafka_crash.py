"""SIGKILL in the middle of producing: every acknowledged message is consumed exactly once,
in order per partition, after restart."""

import threading
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

PARTITIONS = 4


def bootstrap(d):
    host, port = d.addr("kafka")
    return f"{host}:{port}"


def test_sigkill_mid_produce_loses_no_acknowledged_message(dotdo_factory):
    d = dotdo_factory("[kafka]\ngroup_initial_rebalance_delay_ms = 100\n")
    topic = f"crash-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap(d)})
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[topic].result(30)

    acked = {}  # value -> (partition, offset)
    sent_order = {}  # partition -> values acknowledged, in send order per key
    lock = threading.Lock()
    stop = threading.Event()

    def produce():
        p = Producer({
            "bootstrap.servers": bootstrap(d),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 5000,
            "reconnect.backoff.max.ms": 200,
        })

        def report(err, msg):
            if err is None:
                with lock:
                    acked[msg.value()] = (msg.partition(), msg.offset())

        i = 0
        while not stop.is_set():
            try:
                p.produce(topic, key=str(i % 32).encode(), value=f"m{i:08d}".encode(), on_delivery=report)
                i += 1
            except BufferError:
                pass
            p.poll(0.001 if i % 100 else 0.01)
        p.flush(10)

    t = threading.Thread(target=produce)
    t.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock:
            if len(acked) >= 3000:
                break
        time.sleep(0.05)
    d.kill()
    stop.set()
    t.join(60)
    with lock:
        acked_now = dict(acked)
    assert len(acked_now) >= 3000

    d.kill_and_restart()
    c = Consumer({
        "bootstrap.servers": bootstrap(d),
        "group.id": f"check-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    seen = {}
    per_partition = {}
    idle_since = time.time()
    while time.time() - idle_since < 10:
        m = c.poll(0.5)
        if m is None or m.error() is not None:
            continue
        idle_since = time.time()
        v = m.value()
        assert v not in seen, f"{v} consumed twice"
        seen[v] = (m.partition(), m.offset())
        per_partition.setdefault(m.partition(), []).append((m.offset(), v))
    c.close()
    for v, where in acked_now.items():
        assert seen.get(v) == where, f"acknowledged {v} at {where}, found {seen.get(v)}"
    # In order per partition: offsets strictly increase, and so do each key's values.
    for part, items in per_partition.items():
        offsets = [o for o, _ in items]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
        last_by_key = {}
        for _, v in items:
            n = int(v[1:])
            key = n % 32
            assert last_by_key.get(key, -1) < n, f"{v} out of order in partition {part}"
            last_by_key[key] = n
