// The Kafka front-end through kafkajs: admin, producer, consumer group.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { startDotdo } from './harness.mjs';

let dotdo;
let kafka;

before(async () => {
  dotdo = await startDotdo('[kafka]\ngroup_initial_rebalance_delay_ms = 100\n');
  kafka = new Kafka({ clientId: 'dotdo-test', brokers: [dotdo.addrs.kafka], logLevel: logLevel.NOTHING });
});

after(() => dotdo?.stop());

test('kafkajs admin, producer and consumer group', async () => {
  const topic = `js-${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }), true);
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(meta.topics[0].partitions.length, 3);

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}` }));
  const results = await producer.send({ topic, acks: -1, messages });
  assert.ok(results.every((r) => r.errorCode === 0));
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets(topic);
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  assert.equal(total, 200);

  const groupId = `jsg-${Date.now()}`;
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.length} messages`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value.toString());
        if (seen.length === 200) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual([...seen].sort(), messages.map((m) => m.value).sort());

  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committedTotal = committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
  assert.equal(committedTotal, 200);
  const groups = await admin.listGroups();
  assert.ok(groups.groups.some((g) => g.groupId === groupId));
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
});

test('kafkajs transactions: commit, abort, sendOffsets, read_committed consumer', async () => {
  const topic = `jstx-${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });

  const producer = kafka.producer({
    transactionalId: `tx-${Date.now()}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const committed = await producer.transaction();
  await committed.send({ topic, messages: [{ value: 'c1', partition: 0 }, { value: 'c2', partition: 1 }] });
  const groupId = `jstxg-${Date.now()}`;
  await committed.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: '1' }] }] });
  await committed.commit();
  const aborted = await producer.transaction();
  await aborted.send({ topic, messages: [{ value: 'a1', partition: 0 }, { value: 'a2', partition: 1 }] });
  await aborted.abort();
  const last = await producer.transaction();
  await last.send({ topic, messages: [{ value: 'c3', partition: 0 }] });
  await last.commit();
  await producer.disconnect();

  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.equal(offsets[0].partitions.find((p) => p.partition === 0).offset, '1');

  const consumer = kafka.consumer({ groupId: `jsrc-${Date.now()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen}`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value.toString());
        if (seen.length === 3) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual([...seen].sort(), ['c1', 'c2', 'c3']);
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
});
