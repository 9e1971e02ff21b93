"""Kafka transactions through confluent-kafka (librdkafka): commit, abort, offsets sent to
the transaction, read_committed against read_uncommitted consumers, fencing, and a restart
in the middle of a transaction."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def bootstrap(d):
    host, port = d.addr("kafka")
    return f"{host}:{port}"


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(d, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap(d)})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(30)


def txn_producer(d, txn_id, **extra):
    p = Producer({
        "bootstrap.servers": bootstrap(d),
        "transactional.id": txn_id,
        "linger.ms": 2,
        **extra,
    })
    p.init_transactions(30)
    return p


def read(d, topic, partitions, isolation, until_count=None, timeout=15):
    """Every message value in the topic, read with `isolation` from the beginning."""
    c = Consumer({
        "bootstrap.servers": bootstrap(d),
        "group.id": name("reader"),
        "enable.auto.commit": False,
        "isolation.level": isolation,
        "enable.partition.eof": True,
    })
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got, eof = [], set()
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
                done = until_count is None or len(got) >= until_count
                if len(eof) == partitions and done:
                    break
                continue
            raise KafkaException(m.error())
        got.append(m.value())
    c.close()
    return got


@pytest.fixture(scope="module")
def kafka():
    from conftest import Dotdo

    d = Dotdo("[kafka]\ngroup_initial_rebalance_delay_ms = 100\n")
    yield d
    d.close()


def test_commit_and_abort_seen_by_read_committed_and_read_uncommitted(kafka):
    topic = name("txn")
    create_topic(kafka, topic, 3)
    p = txn_producer(kafka, name("tid"))
    p.begin_transaction()
    for i in range(30):
        p.produce(topic, value=f"committed-{i}".encode(), partition=i % 3)
    p.commit_transaction(30)
    p.begin_transaction()
    for i in range(30):
        p.produce(topic, value=f"aborted-{i}".encode(), partition=i % 3)
    p.flush(30)
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic, value=b"after", partition=0)
    p.commit_transaction(30)

    committed = read(kafka, topic, 3, "read_committed", until_count=31)
    assert sorted(committed) == sorted([f"committed-{i}".encode() for i in range(30)] + [b"after"])
    everything = read(kafka, topic, 3, "read_uncommitted", until_count=61)
    assert len(everything) == 61
    assert sum(v.startswith(b"aborted-") for v in everything) == 30


def test_open_transaction_holds_back_read_committed(kafka):
    topic = name("lso")
    create_topic(kafka, topic, 1)
    plain = Producer({"bootstrap.servers": bootstrap(kafka)})
    plain.produce(topic, value=b"before", partition=0)
    plain.flush(10)
    p = txn_producer(kafka, name("tid"))
    p.begin_transaction()
    p.produce(topic, value=b"open", partition=0)
    p.flush(10)
    plain.produce(topic, value=b"behind-open", partition=0)
    plain.flush(10)

    # The last stable offset stops at the open transaction's first message.
    assert read(kafka, topic, 1, "read_committed", timeout=5) == [b"before"]
    assert read(kafka, topic, 1, "read_uncommitted", until_count=3) == [b"before", b"open", b"behind-open"]
    # ListOffsets(latest) answers the last stable offset to read_committed clients.
    for isolation, latest in [("read_committed", 1), ("read_uncommitted", 3)]:
        c = Consumer({"bootstrap.servers": bootstrap(kafka), "group.id": name("wm"), "isolation.level": isolation})
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False) == (0, latest)
        c.close()

    p.commit_transaction(30)
    assert read(kafka, topic, 1, "read_committed", until_count=3) == [b"before", b"open", b"behind-open"]


def test_send_offsets_to_transaction_commits_offsets_only_on_commit(kafka):
    source, sink = name("src"), name("sink")
    create_topic(kafka, source, 1)
    create_topic(kafka, sink, 1)
    plain = Producer({"bootstrap.servers": bootstrap(kafka)})
    for i in range(10):
        plain.produce(source, value=f"in-{i}".encode(), partition=0)
    plain.flush(10)

    group = name("etl")
    consumer = Consumer({
        "bootstrap.servers": bootstrap(kafka),
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    consumer.subscribe([source])
    seen = []
    deadline = time.time() + 30
    while len(seen) < 10 and time.time() < deadline:
        m = consumer.poll(0.5)
        if m is not None and m.error() is None:
            seen.append(m)
    assert len(seen) == 10

    p = txn_producer(kafka, name("tid"))
    # An aborted attempt commits nothing.
    p.begin_transaction()
    p.produce(sink, value=b"attempt", partition=0)
    p.send_offsets_to_transaction([TopicPartition(source, 0, 5)], consumer.consumer_group_metadata(), 30)
    p.abort_transaction(30)
    assert consumer.committed([TopicPartition(source, 0)], 10)[0].offset < 0

    p.begin_transaction()
    for m in seen:
        p.produce(sink, value=m.value().replace(b"in", b"out"), partition=0)
    p.send_offsets_to_transaction([TopicPartition(source, 0, 10)], consumer.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    assert consumer.committed([TopicPartition(source, 0)], 10)[0].offset == 10
    consumer.close()
    assert read(kafka, sink, 1, "read_committed", until_count=10) == [f"out-{i}".encode() for i in range(10)]


def test_new_producer_with_same_transactional_id_fences_the_old_one(kafka):
    topic = name("fence")
    create_topic(kafka, topic, 1)
    tid = name("tid")
    old = txn_producer(kafka, tid)
    old.begin_transaction()
    old.produce(topic, value=b"zombie", partition=0)
    old.flush(10)

    new = txn_producer(kafka, tid)  # aborts the old producer's transaction
    new.begin_transaction()
    new.produce(topic, value=b"fresh", partition=0)
    new.commit_transaction(30)

    with pytest.raises(KafkaException) as e:
        old.produce(topic, value=b"zombie-2", partition=0)
        old.commit_transaction(10)
    assert e.value.args[0].fatal() or "fenced" in str(e.value).lower()
    assert read(kafka, topic, 1, "read_committed", until_count=1) == [b"fresh"]


def test_restart_mid_transaction_aborts_it_after_its_timeout(dotdo_factory):
    d = dotdo_factory("[kafka]\ngroup_initial_rebalance_delay_ms = 100\n")
    topic = name("restart")
    create_topic(d, topic, 2)
    p = txn_producer(d, name("tid"), **{"transaction.timeout.ms": 3000})
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, value=f"lost-{i}".encode(), partition=i % 2)
    p.flush(10)
    d.kill_and_restart()

    # After the restart the open transaction still holds back read_committed readers until
    # the coordinator aborts it; then only what commits afterwards is visible.
    q = txn_producer(d, name("tid2"))
    q.begin_transaction()
    q.produce(topic, value=b"kept", partition=1)
    q.commit_transaction(30)
    committed = read(d, topic, 2, "read_committed", until_count=1, timeout=30)
    assert committed == [b"kept"]
    assert len(read(d, topic, 2, "read_uncommitted", until_count=11)) == 11
