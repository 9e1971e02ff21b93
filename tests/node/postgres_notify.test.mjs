// node-postgres LISTEN/NOTIFY across connections through dotdo.
import { test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { startDotdo } from "./harness.mjs";

test("node-postgres: notifications between connections, a block's at COMMIT", async () => {
  const d = await startDotdo();
  const [host, port] = d.addrs.postgres.split(":");
  const config = { host, port: Number(port), user: "postgres", database: "app" };
  const listener = new pg.Client(config);
  const sender = new pg.Client(config);
  try {
    await listener.connect();
    await sender.connect();
    const received = [];
    let wake = () => {};
    listener.on("notification", (n) => {
      received.push(n);
      wake();
    });
    const waitFor = (count) =>
      new Promise((resolve) => {
        const check = () => (received.length >= count ? resolve() : (wake = check));
        check();
      });
    await listener.query("LISTEN events");
    const pid = (await sender.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    await sender.query("NOTIFY events, 'first'");
    await sender.query("SELECT pg_notify($1, $2)", ["events", "second"]);
    await sender.query("BEGIN");
    await sender.query("NOTIFY events, 'rolled back'");
    await sender.query("ROLLBACK");
    await sender.query("BEGIN");
    await sender.query("NOTIFY events, 'committed'");
    await sender.query("COMMIT");
    await waitFor(3);
    assert.deepEqual(
      received.map((n) => [n.channel, n.payload, n.processId]),
      [
        ["events", "first", pid],
        ["events", "second", pid],
        ["events", "committed", pid],
      ],
    );
  } finally {
    await listener.end();
    await sender.end();
    d.stop();
  }
});
