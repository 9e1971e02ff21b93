"""librdkafka (confluent-kafka) produce and consume load against one broker; prints JSON.

usage: load.py BOOTSTRAP [--messages N] [--size BYTES] [--partitions P]
"""

import argparse
import json
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--partitions", type=int, default=8)
    a = ap.parse_args()

    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=a.partitions, replication_factor=1)])[topic].result(60)
    time.sleep(1)

    payload = b"x" * a.size
    producer = Producer({
        "bootstrap.servers": a.bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "compression.type": "none",
    })
    failed = []

    def report(err, _msg):
        if err is not None:
            failed.append(err)

    start = time.perf_counter()
    for i in range(a.messages):
        while True:
            try:
                producer.produce(topic, payload, partition=i % a.partitions, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    remaining = producer.flush(300)
    produce_s = time.perf_counter() - start
    assert remaining == 0 and not failed, (remaining, failed[:3])

    consumer = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": f"bench-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "fetch.max.bytes": 52_428_800,
        "max.partition.fetch.bytes": 10_485_760,
        "fetch.wait.max.ms": 100,
    })
    consumer.assign([TopicPartition(topic, p, 0) for p in range(a.partitions)])
    got = 0
    start = time.perf_counter()
    deadline = time.time() + 300
    while got < a.messages and time.time() < deadline:
        for m in consumer.consume(10_000, 1.0):
            if m.error() is None:
                got += 1
    consume_s = time.perf_counter() - start
    consumer.close()
    assert got == a.messages, f"consumed {got} of {a.messages}"

    mb = a.messages * a.size / 1e6
    print(json.dumps({
        "messages": a.messages,
        "produce_msgs_s": a.messages / produce_s,
        "produce_mb_s": mb / produce_s,
        "consume_msgs_s": a.messages / consume_s,
        "consume_mb_s": mb / consume_s,
    }))


if __name__ == "__main__":
    main()
