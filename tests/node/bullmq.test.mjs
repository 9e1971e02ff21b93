// BullMQ (queues on Redis streams, Lua scripts with cmsgpack/cjson) against dotdo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Queue, Worker, QueueEvents } from 'bullmq';

function dotdoBin() {
  if (process.env.DOTDO_BIN) return process.env.DOTDO_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache/dotdo/target');
  return join(target, 'debug', 'dotdo');
}

async function startDotdo() {
  const dir = mkdtempSync(join(tmpdir(), 'dotdo-node-'));
  const config = join(dir, 'dotdo.toml');
  writeFileSync(config, `[backend.embedded]\ndata_dir = "${join(dir, 'data')}"\n`);
  const bin = dotdoBin();
  assert.ok(existsSync(bin), `${bin} missing: run cargo build -p dotdo`);
  const proc = spawn(bin, ['serve', '--ephemeral-ports', '--config', config], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const addrs = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      if (line.startsWith('DOTDO_LISTENING ')) resolve(JSON.parse(line.slice(16)));
    });
    proc.on('exit', () => reject(new Error('dotdo exited before listening')));
  });
  return {
    addrs,
    stop() {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

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
