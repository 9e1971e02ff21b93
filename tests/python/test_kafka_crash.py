"""SIGKILL in the middle of producing: every acknowledged message is consumed exactly once,
in order per partition, after restart."""

import threading
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
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


def test_group_resumes_from_committed_offsets_after_sigkill(dotdo_factory):
    """A group's committed offsets survive a SIGKILL; its members rejoin the restarted
    broker (membership is not kept, as a Kafka coordinator fail-over also makes members
    rejoin) and resume exactly after them. The committed offsets carry leader epoch 0, and
    seeking to one makes librdkafka validate it with OffsetForLeaderEpoch."""
    import logging

    d = dotdo_factory("[kafka]\ngroup_initial_rebalance_delay_ms = 100\n")
    topic = f"resume-{uuid.uuid4().hex[:8]}"
    group = f"g-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap(d)})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    p = Producer({"bootstrap.servers": bootstrap(d), "acks": "all"})
    for i in range(200):
        p.produce(topic, partition=i % 2, value=f"v{i:04d}".encode())
    assert p.flush(30) == 0

    def consumer(log=None):
        conf = {
            "bootstrap.servers": bootstrap(d),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
        if log is not None:
            conf["debug"] = "protocol"
            return Consumer(conf, logger=log)
        return Consumer(conf)

    first = consumer()
    first.subscribe([topic])
    before = []
    deadline = time.time() + 60
    while len(before) < 70 and time.time() < deadline:
        m = first.poll(0.5)
        if m is not None and m.error() is None:
            before.append(m)
    assert len(before) == 70
    committed = first.commit(asynchronous=False)
    assert all(tp.error is None for tp in committed)
    # The committed offset of a partition: one past the last message consumed from it.
    resume_at = {}
    for m in before:
        resume_at[m.partition()] = m.offset() + 1
    assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == resume_at
    d.kill_and_restart()
    first.close()

    class Capture(logging.Handler):
        def __init__(self):
            super().__init__()
            self.lines = []

        def emit(self, record):
            self.lines.append(record.getMessage())

    capture = Capture()
    log = logging.getLogger(f"rdkafka-{group}")
    log.addHandler(capture)
    log.setLevel(logging.DEBUG)
    second = consumer(log)
    second.subscribe([topic])
    after = []
    deadline = time.time() + 60
    while len(after) < 200 - 70 and time.time() < deadline:
        m = second.poll(0.5)
        if m is not None and m.error() is None:
            after.append(m)
    # The committed positions carry the leader epoch of the batches they were read from;
    # seeking to one makes librdkafka validate it (OffsetForLeaderEpoch) before fetching.
    part = before[-1].partition()
    (tp,) = second.committed([TopicPartition(topic, part)], timeout=30)
    assert (tp.offset, tp.leader_epoch) == (resume_at[part], 0)
    second.seek(tp)
    again = None
    deadline = time.time() + 30
    while again is None and time.time() < deadline:
        m = second.poll(0.5)
        if m is not None and m.error() is None and m.partition() == part:
            again = m
    second.close()
    assert again is not None and again.offset() == resume_at[part]
    first_offsets = {}
    for m in after:
        first_offsets.setdefault(m.partition(), m.offset())
    # Each partition resumes at its committed offset (from the start where none was).
    assert first_offsets == {part: resume_at.get(part, 0) for part in first_offsets}
    assert len(first_offsets) == 2
    consumed = [m.value() for m in before] + [m.value() for m in after]
    assert sorted(consumed) == [f"v{i:04d}".encode() for i in range(200)]
    assert any("OffsetForLeaderEpoch" in line for line in capture.lines), "no epoch validation"
