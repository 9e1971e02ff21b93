"""The Kafka front-end through kafka-python and confluent-kafka (librdkafka)."""

import subprocess
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.admin import NewTopic as KNewTopic

KAFKA_TOML = "[kafka]\ngroup_initial_rebalance_delay_ms = 200\n"


@pytest.fixture(scope="module")
def kafka(request):
    from conftest import Dotdo

    d = Dotdo(KAFKA_TOML)
    yield d
    d.close()


def bootstrap(d):
    host, port = d.addr("kafka")
    return f"{host}:{port}"


def topic_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(d, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap(d)})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    futures[name].result(30)


def consume_all(d, topic, expected, group=None, timeout=60):
    conf = {
        "bootstrap.servers": bootstrap(d),
        "group.id": group or topic_name("g"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    c = Consumer(conf)
    c.subscribe([topic])
    got = []
    deadline = time.time() + timeout
    while len(got) < expected and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        assert m.error() is None, m.error()
        got.append((m.partition(), m.offset(), m.key(), m.value()))
    c.close()
    return got


def test_confluent_idempotent_compressed_produce_and_consume(kafka):
    topic = topic_name("idem")
    create_topic(kafka, topic, 4)
    for codec in ["gzip", "snappy", "lz4", "zstd"]:
        p = Producer({
            "bootstrap.servers": bootstrap(kafka),
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": codec,
            "linger.ms": 5,
        })
        acked = []

        def report(err, msg):
            assert err is None, err
            acked.append((msg.partition(), msg.offset()))

        for i in range(500):
            p.produce(topic, key=f"k{i % 16}".encode(), value=f"{codec}-{i}".encode(), on_delivery=report)
        assert p.flush(30) == 0
        assert len(acked) == 500
    got = consume_all(kafka, topic, 2000)
    assert len(got) == 2000
    # Exactly once and in order per partition: offsets are 0..n-1 with no gaps or repeats.
    by_partition = {}
    for part, off, key, value in got:
        by_partition.setdefault(part, []).append(off)
    for offs in by_partition.values():
        assert offs == list(range(len(offs)))
    # A key always lands on one partition (the producer's partitioner, kept by the broker).
    placement = {}
    for part, _, key, _ in got:
        assert placement.setdefault(key, part) == part


def test_confluent_admin_metadata_and_partitions(kafka):
    topic = topic_name("admin")
    create_topic(kafka, topic, 2)
    admin = AdminClient({"bootstrap.servers": bootstrap(kafka)})
    md = admin.list_topics(timeout=10)
    assert len(md.topics[topic].partitions) == 2
    admin.create_partitions([NewPartitions(topic, 5)])[topic].result(30)
    md = admin.list_topics(topic=topic, timeout=10)
    assert len(md.topics[topic].partitions) == 5
    again = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    with pytest.raises(Exception) as e:
        again[topic].result(30)
    assert "TOPIC_ALREADY_EXISTS" in str(e.value) or "already exists" in str(e.value)
    admin.delete_topics([topic])[topic].result(30)
    assert topic not in admin.list_topics(timeout=10).topics


def test_confluent_offsets_and_watermarks(kafka):
    topic = topic_name("wm")
    create_topic(kafka, topic, 1)
    p = Producer({"bootstrap.servers": bootstrap(kafka), "acks": "all"})
    for i in range(10):
        p.produce(topic, value=str(i).encode())
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": bootstrap(kafka), "group.id": topic_name("wm")})
    low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    assert (low, high) == (0, 10)
    # Fetching from inside a batch returns the whole batch; the client skips to its offset.
    c.assign([TopicPartition(topic, 0, 7)])
    values = []
    deadline = time.time() + 30
    while len(values) < 3 and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            values.append(m.value())
    assert values == [b"7", b"8", b"9"]
    c.commit(offsets=[TopicPartition(topic, 0, 9)], asynchronous=False)
    assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 9
    c.close()


def test_kafka_python_producer_and_consumer(kafka):
    topic = topic_name("kp")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap(kafka))
    admin.create_topics([KNewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap(kafka), acks="all")
    futures = [producer.send(topic, key=str(i % 5).encode(), value=f"v{i}".encode()) for i in range(300)]
    metas = [f.get(timeout=30) for f in futures]
    producer.close()
    assert all(m.offset >= 0 for m in metas)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap(kafka),
        group_id=topic_name("kpg"),
        auto_offset_reset="earliest",
        consumer_timeout_ms=10000,
    )
    values = sorted(m.value for m in consumer)
    consumer.close()
    assert values == sorted(f"v{i}".encode() for i in range(300))


def test_kafka_python_group_rebalances_when_a_member_leaves(kafka):
    topic = topic_name("reb")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap(kafka))
    admin.create_topics([KNewTopic(topic, num_partitions=4, replication_factor=1)])
    admin.close()
    group = topic_name("rg")

    def member():
        return KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap(kafka),
            group_id=group,
            auto_offset_reset="earliest",
            session_timeout_ms=10000,
            heartbeat_interval_ms=500,
        )

    # Each member polls on its own thread, as an application does: a member blocked in
    # JoinGroup must not keep the other from rejoining.
    a, b = member(), member()
    stop = {a: threading.Event(), b: threading.Event()}

    def run(consumer):
        while not stop[consumer].is_set():
            consumer.poll(200)
        consumer.close()  # a member that leaves sends LeaveGroup

    threads = {c: threading.Thread(target=run, args=(c,), daemon=True) for c in (a, b)}
    for t in threads.values():
        t.start()

    def settled(check, seconds=90):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if check():
                return True
            time.sleep(0.1)
        return check()

    assert settled(lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2), (
        a.assignment(), b.assignment())
    assert a.assignment().isdisjoint(b.assignment())
    stop[a].set()
    threads[a].join(60)
    assert settled(lambda: len(b.assignment()) == 4), b.assignment()
    stop[b].set()
    threads[b].join(60)


def test_kcat_list_produce_consume_and_group(kafka):
    topic = topic_name("kcat")
    b = bootstrap(kafka)
    lines = "".join(f"line{i}\n" for i in range(100))
    subprocess.run(["kcat", "-b", b, "-P", "-t", topic, "-X", "topic.request.required.acks=-1"],
                   input=lines.encode(), check=True, timeout=60)
    listing = subprocess.run(["kcat", "-b", b, "-L", "-t", topic], capture_output=True, timeout=60, check=True)
    assert f'topic "{topic}"'.encode() in listing.stdout
    out = subprocess.run(["kcat", "-b", b, "-C", "-t", topic, "-e", "-f", "%o %s\\n"],
                         capture_output=True, timeout=60, check=True)
    assert out.stdout.decode().splitlines() == [f"{i} line{i}" for i in range(100)]
    group = topic_name("kg")
    first = subprocess.run(["kcat", "-b", b, "-X", "auto.offset.reset=earliest", "-G", group, topic, "-e", "-f", "%s\\n"],
                           capture_output=True, timeout=60, check=True)
    assert len(first.stdout.decode().splitlines()) == 100
    # The group committed its offsets: a second run reads nothing new.
    second = subprocess.run(["kcat", "-b", b, "-X", "auto.offset.reset=earliest", "-G", group, topic, "-e", "-f", "%s\\n"],
                            capture_output=True, timeout=60, check=True)
    assert second.stdout.decode().splitlines() == []


SASL_TOML = """[kafka]
group_initial_rebalance_delay_ms = 100
sasl_users = [{ username = "alice", password = "s3cret" }]
"""


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_confluent_sasl(dotdo_factory, mechanism):
    d = dotdo_factory(SASL_TOML)
    topic = topic_name("sasl")
    conf = {
        "bootstrap.servers": bootstrap(d),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": "alice",
        "sasl.password": "s3cret",
    }
    p = Producer({**conf, "acks": "all"})
    p.produce(topic, value=b"secret message")
    assert p.flush(30) == 0
    c = Consumer({**conf, "group.id": topic_name("sg"), "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    deadline = time.time() + 30
    got = None
    while got is None and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got = m.value()
    c.close()
    assert got == b"secret message"
    # A wrong password is refused, and so is a client that does not authenticate.
    bad = AdminClient({**conf, "sasl.password": "wrong"})
    with pytest.raises(Exception):
        bad.list_topics(timeout=5)
    anonymous = AdminClient({"bootstrap.servers": bootstrap(d)})
    with pytest.raises(Exception):
        anonymous.list_topics(timeout=5)


def test_kafka_python_sasl_scram(dotdo_factory):
    d = dotdo_factory(SASL_TOML)
    topic = topic_name("ksasl")
    conf = dict(
        bootstrap_servers=bootstrap(d),
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_plain_username="alice",
        sasl_plain_password="s3cret",
    )
    producer = KafkaProducer(acks="all", **conf)
    producer.send(topic, b"hello").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10000,
                             group_id=topic_name("ksg"), **conf)
    assert [m.value for m in consumer] == [b"hello"]
    consumer.close()


def test_confluent_delete_records_moves_the_log_start(kafka):
    topic = topic_name("delrec")
    create_topic(kafka, topic, 1)
    p = Producer({"bootstrap.servers": bootstrap(kafka), "acks": "all", "linger.ms": 0})
    for i in range(10):
        p.produce(topic, value=str(i).encode())
        p.flush(10)  # one batch per message
    admin = AdminClient({"bootstrap.servers": bootstrap(kafka)})
    fut = admin.delete_records([TopicPartition(topic, 0, 6)])
    deleted = list(fut.values())[0].result(30)
    assert deleted.low_watermark == 6
    c = Consumer({"bootstrap.servers": bootstrap(kafka), "group.id": topic_name("delrec"), "auto.offset.reset": "earliest"})
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False) == (6, 10)
    c.assign([TopicPartition(topic, 0, -2)])  # OFFSET_BEGINNING
    values = []
    deadline = time.time() + 30
    while len(values) < 4 and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            values.append(m.value())
    c.close()
    assert values == [b"6", b"7", b"8", b"9"]
    # Beyond the high watermark: OFFSET_OUT_OF_RANGE.
    with pytest.raises(Exception):
        list(admin.delete_records([TopicPartition(topic, 0, 99)]).values())[0].result(30)


def test_confluent_alter_topic_retention(kafka):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    topic = topic_name("cfg")
    create_topic(kafka, topic, 1)
    admin = AdminClient({"bootstrap.servers": bootstrap(kafka)})
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
    ])
    list(admin.incremental_alter_configs([res]).values())[0].result(30)
    described = list(admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values())[0].result(30)
    assert described["retention.ms"].value == "3600000"
    assert not described["retention.ms"].is_read_only
    # Settings this broker does not apply are refused, not silently accepted.
    bad = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("segment.bytes", "1000", incremental_operation=AlterConfigOpType.SET),
    ])
    with pytest.raises(Exception):
        list(admin.incremental_alter_configs([bad]).values())[0].result(30)
    reset = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    list(admin.incremental_alter_configs([reset]).values())[0].result(30)
    described = list(admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values())[0].result(30)
    assert described["retention.ms"].value == "604800000"  # the broker default
