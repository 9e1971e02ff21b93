// node-postgres (pg) against dotdo's PostgreSQL front-end, through the real binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join } from "node:path";
import pg from "pg";

function dotdoBin() {
  if (process.env.DOTDO_BIN) return process.env.DOTDO_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache/dotdo/target");
  return join(target, "debug", "dotdo");
}

async function startDotdo() {
  const dir = mkdtempSync(join(tmpdir(), "dotdo-node-"));
  const config = join(dir, "dotdo.toml");
  writeFileSync(config, `[backend.embedded]\ndata_dir = "${join(dir, "data")}"\n`);
  const proc = spawn(dotdoBin(), ["serve", "--ephemeral-ports", "--config", config], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const addrs = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (chunk) => {
      buf += chunk;
      const line = buf.split("\n").find((l) => l.startsWith("DOTDO_LISTENING "));
      if (line) resolve(JSON.parse(line.slice("DOTDO_LISTENING ".length)));
    });
    proc.on("exit", (code) => reject(new Error(`dotdo exited with ${code}`)));
  });
  const [host, port] = addrs.postgres.split(":");
  return { host, port: Number(port), stop: () => proc.kill("SIGTERM") };
}

test("node-postgres: typed rows, parameters, transactions and errors", async () => {
  const d = await startDotdo();
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
