// BullMQ against dotdo: its Lua scripts (cmsgpack, cjson), streams for events, blocking pops,
// MULTI with scripts (flows), all under one hash tag so every key lives on one shard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowProducer, Queue, QueueEvents, Worker } from 'bullmq';
import { startDotdo } from './harness.mjs';

test('a BullMQ worker processes the jobs a queue adds', async () => {
  const dotdo = await startDotdo();
  const [host, port] = dotdo.addrs.redis.split(':');
  const connection = { host, port: Number(port), maxRetriesPerRequest: null };
  const prefix = '{bull}';
  const queue = new Queue('emails', { connection, prefix });
  const events = new QueueEvents('emails', { connection, prefix });
  await events.waitUntilReady();
  const worker = new Worker(
    'emails',
    async (job) => {
      if (job.data.fail) throw new Error('boom');
      return { sent: job.data.to.toUpperCase() };
    },
    { connection, prefix, concurrency: 2 },
  );
  try {
    const jobs = [];
    for (let i = 0; i < 5; i++) {
      jobs.push(await queue.add('send', { to: `user${i}@example.com` }));
    }
    const failed = await queue.add('send', { fail: true }, { attempts: 2 });
    // waitUntilFinished listens on the events stream (XREAD BLOCK) and checks the job's state.
    const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 10000)));
    assert.deepEqual(
      results,
      jobs.map((j) => ({ sent: j.data.to.toUpperCase() })),
    );
    for (const j of jobs) {
      const back = await queue.getJob(j.id);
      assert.equal(await back.getState(), 'completed');
      assert.deepEqual(back.returnvalue, { sent: j.data.to.toUpperCase() });
    }
    // The failing job is retried once, then stays failed.
    await assert.rejects(failed.waitUntilFinished(events, 10000), /boom/);
    const f = await queue.getJob(failed.id);
    assert.equal(await f.getState(), 'failed');
    assert.equal(f.attemptsMade, 2);
    assert.equal(f.failedReason, 'boom');
    const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active');
    assert.deepEqual(counts, { completed: 5, failed: 1, waiting: 0, paused: 0, active: 0 });
    // Delayed jobs go through the delayed set, and the worker picks them up when due.
    const delayed = await queue.add('send', { to: 'later@example.com' }, { delay: 300 });
    assert.equal(await delayed.getState(), 'delayed');
    const finished = await delayed.waitUntilFinished(events, 10000);
    assert.deepEqual(finished, { sent: 'LATER@EXAMPLE.COM' });
  } finally {
    await worker.close();
    await events.close();
    await queue.close();
    dotdo.stop();
  }
});

test('BullMQ priorities, pause/resume, flows, logs, schedulers and obliterate', async () => {
  const dotdo = await startDotdo();
  const [host, port] = dotdo.addrs.redis.split(':');
  const connection = { host, port: Number(port), maxRetriesPerRequest: null };
  const prefix = '{bull}';
  const queue = new Queue('more', { connection, prefix });
  const events = new QueueEvents('more', { connection, prefix });
  await events.waitUntilReady();
  const flow = new FlowProducer({ connection, prefix });
  const order = [];
  let tick;
  const ticked = new Promise((resolve) => {
    tick = resolve;
  });
  let worker;
  try {
    // Jobs added to a paused queue wait; once resumed, priority decides the order.
    await queue.pause();
    const jobs = [];
    for (const p of [5, 1, 3]) jobs.push(await queue.add('p', { p }, { priority: p }));
    assert.equal(await queue.isPaused(), true);
    assert.equal((await queue.getJobCounts('prioritized')).prioritized, 3);
    worker = new Worker(
      'more',
      async (job) => {
        order.push(job.name === 'p' ? job.data.p : job.name);
        await job.updateProgress(50);
        await job.log('halfway');
        if (job.name === 'parent') {
          const kids = await job.getChildrenValues();
          return Object.values(kids).reduce((a, b) => a + b, 0);
        }
        if (job.name === 'child') return job.data.n * 10;
        if (job.name === 'tick') tick();
        return job.data;
      },
      { connection, prefix, concurrency: 1 },
    );
    await queue.resume();
    await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 10000)));
    assert.deepEqual(order, [1, 3, 5]);
    assert.deepEqual(await queue.getJobLogs(jobs[0].id), { logs: ['halfway'], count: 1 });
    assert.equal((await queue.getJob(jobs[0].id)).progress, 50);
    // A flow (added in one MULTI of scripts): the parent runs after its children.
    const tree = await flow.add({
      name: 'parent',
      queueName: 'more',
      children: [
        { name: 'child', data: { n: 1 }, queueName: 'more' },
        { name: 'child', data: { n: 2 }, queueName: 'more' },
      ],
    });
    assert.equal(await tree.job.waitUntilFinished(events, 10000), 30);
    assert.equal(order.at(-1), 'parent');
    assert.equal((await queue.clean(0, 100, 'completed')).length, 6);
    // A job scheduler (repeatable job) produces jobs the worker runs.
    await queue.upsertJobScheduler('every', { every: 100 }, { name: 'tick', data: {} });
    assert.equal((await queue.getJobSchedulers()).length, 1);
    await ticked;
    await queue.removeJobScheduler('every');
    assert.equal((await queue.getJobSchedulers()).length, 0);
    await worker.close();
    await queue.obliterate({ force: true });
    assert.deepEqual(await queue.getJobCounts('completed', 'waiting', 'delayed'), {
      completed: 0,
      waiting: 0,
      paused: 0,
      delayed: 0,
    });
  } finally {
    await worker?.close();
    await flow.close();
    await events.close();
    await queue.close();
    dotdo.stop();
  }
});
