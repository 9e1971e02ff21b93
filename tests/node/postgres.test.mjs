// node-postgres (pg) against dotdo's PostgreSQL front-end, through the real binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { startDotdo } from "./harness.mjs";

async function startPostgres() {
  const d = await startDotdo();
  const [host, port] = d.addrs.postgres.split(":");
  return { host, port: Number(port), stop: d.stop };
}

test("node-postgres: typed rows, parameters, transactions and errors", async () => {
  const d = await startPostgres();
  const client = new pg.Client({ host: d.host, port: d.port, user: "postgres", database: "app" });
  try {
    await client.connect();
    await client.query("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int, ok boolean, big bigint)");
    const ins = await client.query(
      "INSERT INTO items (name, qty, ok, big) VALUES ($1, $2, $3, $4) RETURNING id",
      ["apple", 3, true, "9007199254740993"],
    );
    assert.equal(ins.rows[0].id, 1);
    const res = await client.query({ name: "by-name", text: "SELECT name, qty, ok, big FROM items WHERE name = $1", values: ["apple"] });
    assert.deepEqual(res.rows, [{ name: "apple", qty: 3, ok: true, big: "9007199254740993" }]);
    await client.query("BEGIN");
    await client.query("UPDATE items SET qty = qty + 1");
    await client.query("ROLLBACK");
    const again = await client.query({ name: "by-name", text: "SELECT name, qty, ok, big FROM items WHERE name = $1", values: ["apple"] });
    assert.equal(again.rows[0].qty, 3);
    await assert.rejects(client.query("INSERT INTO items (id, name) VALUES (1, 'dup')"), (e) => e.code === "23505");
    await assert.rejects(client.query("SELECT * FROM nope"), (e) => e.code === "42P01");
    const v = await client.query("SELECT version()");
    assert.match(v.rows[0].version, /^PostgreSQL 15/);
  } finally {
    await client.end();
    d.stop();
  }
});
