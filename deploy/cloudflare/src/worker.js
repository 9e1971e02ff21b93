// The dotdo worker: Durable Objects with SQLite storage that run the contract's batches.
//
// The gateway speaks the binary wire of deploy/WIRE.md to the worker's fetch handler, over a
// WebSocket (GET /v1/ws, many requests in flight) or one HTTP POST per request
// (/v1/batch), with `Authorization: Bearer <DOTDO_SECRET>`. The handler routes each request
// to the object idFromName(`${namespace}/${name}`); the object runs the batch inside
// transactionSync (all or nothing), and the runtime's output gate holds the reply until the
// write is durable. Dry runs execute in the same way and then throw, rolling back.

import { DurableObject } from "cloudflare:workers";
import * as wire from "./wire.js";
import { forbiddenReason, inserts, isMultiStatement, skipQuotedOrComment } from "./policy.js";

const { Kind, ErrorCode, SqliteKind } = wire;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz" || url.pathname === "/readyz") return new Response("ok");
    if (!authorized(request, env)) return new Response("bad or missing secret", { status: 401 });
    if (url.pathname === "/v1/ws") {
      if (request.headers.get("Upgrade") !== "websocket") {
        return new Response("expected a WebSocket upgrade", { status: 426 });
      }
      const pair = new WebSocketPair();
      const [client, server] = Object.values(pair);
      serveSocket(server, env);
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname === "/v1/batch" && request.method === "POST") {
      const body = new Uint8Array(await request.arrayBuffer());
      if (body.length > wire.MAX_FRAME) return new Response("frame too large", { status: 413 });
      return new Response(await route(body, env), {
        headers: { "content-type": "application/octet-stream" },
      });
    }
    return new Response("not found", { status: 404 });
  },
};

function authorized(request, env) {
  const secret = env.DOTDO_SECRET || "";
  const given = (request.headers.get("Authorization") || "").replace(/^Bearer /, "");
  if (secret.length === 0) return false;
  // Compare in constant time.
  let diff = given.length ^ secret.length;
  for (let i = 0; i < secret.length; i++) diff |= secret.charCodeAt(i) ^ (given.charCodeAt(i) || 0);
  return diff === 0;
}

// Each message is a frame or a bundle of frames. A bundle's requests for one object go to
// it in one call, and their replies come back in one message.
function serveSocket(ws, env) {
  ws.accept();
  const send = (bytes) => {
    try {
      ws.send(bytes);
    } catch {
      // The gateway went away; its requests' outcomes are unknown to it.
    }
  };
  ws.addEventListener("message", (event) => {
    if (typeof event.data === "string") return;
    let frames;
    try {
      frames = wire.splitBundle(new Uint8Array(event.data));
    } catch (e) {
      send(wire.encodeError(0n, { code: ErrorCode.Invalid, message: e.message }));
      return;
    }
    const groups = new Map();
    for (const frame of frames) {
      let key = null;
      try {
        const h = wire.decodeHeader(frame);
        if (h.kind !== Kind.Ping && h.kind !== Kind.ListObjects) key = `${h.namespace}/${h.name}`;
      } catch {
        // route() answers the malformed frame.
      }
      if (key === null) {
        guarded(frame, route(frame, env)).then((r) => send(r));
        continue;
      }
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(frame);
    }
    for (const [key, group] of groups) {
      const stub = env.OBJECTS.get(env.OBJECTS.idFromName(key));
      // A frame is a view into the whole message, and a call serializes a view's entire
      // buffer: hand each object only its own bytes, its frames bundled in one buffer.
      const replies = group.length === 1
        ? stub.handle(group[0].slice()).then((r) => [r])
        : stub.handleBundle(wire.encodeBundle(group));
      replies.then(
        (rs) => send(wire.encodeBundle(rs)),
        (e) => send(wire.encodeBundle(group.map((f) => workerError(f, e)))),
      );
    }
  });
}

function guarded(frame, promise) {
  return promise.catch((e) => workerError(frame, e));
}

function workerError(frame, e) {
  return wire.encodeError(wire.peekRequestId(frame), {
    code: ErrorCode.Unavailable,
    message: `worker: ${e && e.message}`,
  });
}

// Decode the header, and hand the frame to the object (or the namespace's directory).
async function route(frame, env) {
  let header;
  try {
    header = wire.decodeHeader(frame);
  } catch (e) {
    return wire.encodeError(wire.peekRequestId(frame), { code: ErrorCode.Invalid, message: e.message });
  }
  if (header.kind === Kind.Ping) return wire.encodeDone(header.id);
  if (header.kind === Kind.ListObjects) {
    const names = await directory(env, header.namespace).list();
    return wire.encodeNames(header.id, names);
  }
  const id = env.OBJECTS.idFromName(`${header.namespace}/${header.name}`);
  return await env.OBJECTS.get(id).handle(frame);
}

function directory(env, namespace) {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName(namespace));
}

// Thrown inside transactionSync to roll back a dry run after it answered.
class Discard {
  constructor(results) {
    this.results = results;
  }
}

class Reject {
  constructor(err) {
    this.err = err;
  }
}

// {req} for a frame that decodes, else {reply} with the error to send back.
function decodeOrReply(frame) {
  try {
    return { req: wire.decodeRequest(frame) };
  } catch (e) {
    return { reply: wire.encodeError(wire.peekRequestId(frame), { code: ErrorCode.Invalid, message: e.message }) };
  }
}

export class DotdoObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.registered = false;
    // total_changes() as of the end of the last statement run here (read lazily once per
    // activation); every write in this object goes through run(), which keeps it current.
    this.totalChanges = undefined;
  }

  // Several requests in one call, run back to back with no await between them (each batch
  // still its own transactionSync), so one turn of the object answers them all and the
  // output gate releases them together. Only the first write of an activation (which
  // registers the name) and a delete wait on the directory.
  async handleMany(frames) {
    const reqs = frames.map(decodeOrReply);
    if (!this.registered) {
      const first = reqs.find((r) => r.req && (r.req.kind === Kind.Execute || r.req.kind === Kind.ExecuteChecked));
      if (first) await this.register(first.req);
    }
    const out = [];
    for (const r of reqs) {
      if (r.reply) out.push(r.reply);
      else if (r.req.kind === Kind.DeleteObject) out.push(await this.delete(r.req));
      else out.push(this.answer(r.req));
    }
    return out;
  }

  async handle(frame) {
    return (await this.handleMany([frame]))[0];
  }

  // handleMany for frames bundled in one buffer (as deploy/WIRE.md bundles them).
  async handleBundle(bytes) {
    return this.handleMany(wire.splitBundle(bytes));
  }

  async delete(req) {
    try {
      await this.ctx.storage.deleteAll();
      await directory(this.env, req.namespace).forget(req.name);
      this.registered = false;
      this.totalChanges = undefined;
      return wire.encodeDone(req.id);
    } catch (e) {
      return wire.encodeError(req.id, { code: ErrorCode.Io, message: String(e && e.message) });
    }
  }

  // The reply to a decoded request that needs nothing from outside the object.
  answer(req) {
    try {
      switch (req.kind) {
        case Kind.Execute:
          return wire.encodeResults(req.id, this.transact(req.batch, null, false));
        case Kind.DryRun:
          return wire.encodeResults(req.id, this.transact(req.batch, null, true));
        case Kind.ExecuteChecked:
          this.transact(req.batch, req.expected, false);
          return wire.encodeDone(req.id);
        default:
          return wire.encodeError(req.id, { code: ErrorCode.Invalid, message: "unexpected request kind" });
      }
    } catch (e) {
      if (e instanceof Reject) return wire.encodeError(req.id, e.err);
      return wire.encodeError(req.id, { code: ErrorCode.Io, message: String(e && e.message) });
    }
  }

  // Record the object's name in its namespace's directory (for list_objects), once per
  // activation.
  async register(req) {
    if (this.registered) return;
    await directory(this.env, req.namespace).remember(req.name);
    this.registered = true;
  }

  // Run batch atomically. With `expected`, commit only if every result equals it; with
  // `discard`, answer and roll back.
  transact(batch, expected, discard) {
    batch.forEach((s, index) => {
      const reason = forbiddenReason(s.sql);
      if (reason) throw new Reject({ code: ErrorCode.Forbidden, index, message: reason });
      if (isMultiStatement(s.sql)) {
        throw new Reject({ code: ErrorCode.Invalid, message: `statement ${index} holds more than one SQL statement` });
      }
    });
    const params = batch.map(prepareStatement);
    try {
      return this.ctx.storage.transactionSync(() => {
        const results = this.run(batch, params);
        if (expected) {
          const i = expected.findIndex((e, k) => k >= results.length || !wire.sameResult(e, results[k]));
          if (i >= 0) {
            throw new Reject({
              code: ErrorCode.SerializationFailure,
              message: `statement ${i} of the transaction answers differently at commit`,
            });
          }
        }
        if (discard) throw new Discard(results);
        return results;
      });
    } catch (e) {
      if (e instanceof Discard) return e.results;
      if (e instanceof Reject) throw e;
      throw new Reject({ code: ErrorCode.Io, message: String(e && e.message) });
    }
  }

  run(batch, params) {
    const results = [];
    // last_insert_id is the last row this batch inserted (0 until it inserts), never the
    // connection's leftover value, so a replayed batch answers exactly as before.
    if (this.totalChanges === undefined) {
      [this.totalChanges] = this.sql.exec("SELECT total_changes()").raw().next().value;
    }
    let lastId = "0";
    batch.forEach((s, index) => {
      let cursor;
      let raw;
      const { sql, args } = params[index];
      try {
        cursor = this.sql.exec(sql, ...args);
        raw = Array.from(cursor.raw());
      } catch (e) {
        throw new Reject(sqliteError(index, e));
      }
      const columns = cursor.columnNames;
      const written = cursor.rowsWritten > 0;
      let rows;
      if (raw.some((row) => row.some(isIntegral))) {
        // The API hands integers and reals alike as doubles. A statement that wrote
        // nothing can run again, asking SQLite for each value's type and exact digits.
        if (!written && /^\s*(SELECT|VALUES|WITH)\b/i.test(sql)) {
          rows = this.exactRows(index, sql, args, columns.length);
        } else if (raw.some((row) => row.some((x) => isIntegral(x) && Math.abs(x) > 2 ** 53))) {
          throw new Reject({
            code: ErrorCode.Invalid,
            index,
            message: `statement ${index} returns a number beyond +-2^53 that the Durable Object SQL API cannot return exactly from a writing statement`,
          });
        } else {
          rows = raw.map((row) => row.map(fromJs));
        }
      } else {
        rows = raw.map((row) => row.map(fromJs));
      }
      let rowsChanged = 0;
      if (written) {
        const [t, c, l] = this.sql
          .exec("SELECT total_changes(), changes(), CAST(last_insert_rowid() AS TEXT)")
          .raw()
          .next().value;
        if (t !== this.totalChanges) rowsChanged = c;
        this.totalChanges = t;
        if (rowsChanged > 0 && inserts(sql)) lastId = l;
      }
      results.push({ columns, rows, rowsChanged, lastInsertId: BigInt(lastId) });
    });
    return results;
  }

  // Run a read again wrapped so that SQLite reports each value's type and an integer's
  // exact digits; the CTE's column list renames the columns by position.
  exactRows(index, sql, args, n) {
    const cols = Array.from({ length: n }, (_, i) => `c${i}`);
    const select = cols
      .map((c) => `${c}, typeof(${c}), CASE typeof(${c}) WHEN 'integer' THEN CAST(${c} AS TEXT) END`)
      .join(", ");
    const body = sql.replace(/;\s*$/, "");
    const query = `WITH _dotdo_exact(${cols.join(", ")}) AS (${body}\n) SELECT ${select} FROM _dotdo_exact`;
    let raw;
    try {
      raw = Array.from(this.sql.exec(query, ...args).raw());
    } catch (e) {
      throw new Reject(sqliteError(index, e));
    }
    return raw.map((row) => {
      const out = [];
      for (let i = 0; i < n; i++) {
        const [v, type, digits] = [row[3 * i], row[3 * i + 1], row[3 * i + 2]];
        if (type === "integer") out.push({ t: "int", v: BigInt(digits) });
        else if (type === "real") out.push({ t: "real", v });
        else out.push(fromJs(v));
      }
      return out;
    });
  }
}

function isIntegral(x) {
  return typeof x === "number" && Number.isInteger(x);
}

// The statement as the SQL API can take it. The API binds every number as a REAL, so an
// integer parameter is bound as its decimal digits and its places in the SQL become
// `(+CAST(?N AS INTEGER))`: exact over all 64 bits, and without affinity (the unary plus), as
// a bound integer has none. The rewritten SQL depends only on which parameters are
// integers, so the runtime's statement cache keeps working.
const rewrites = new Map();

function prepareStatement(s, index) {
  const mask = s.params.map((v) => (v.t === "int" ? "i" : "-")).join("");
  if (!mask.includes("i")) return { sql: s.sql, args: s.params.map(bindable) };
  const key = `${mask}\u0000${s.sql}`;
  let rewrite = rewrites.get(key);
  if (rewrite === undefined) {
    const places = placeholders(s.sql);
    const count = places.reduce((m, p) => Math.max(m, p.index), 0);
    let sql = "";
    let at = 0;
    for (const p of places) {
      sql += s.sql.slice(at, p.start);
      sql += mask[p.index - 1] === "i" ? `(+CAST(?${p.index} AS INTEGER))` : `?${p.index}`;
      at = p.end;
    }
    sql += s.sql.slice(at);
    rewrite = { sql, count };
    if (rewrites.size >= 4096) rewrites.clear();
    rewrites.set(key, rewrite);
  }
  if (rewrite.count !== s.params.length) {
    throw new Reject({
      code: ErrorCode.Sqlite,
      index,
      kind: SqliteKind.Range,
      sqliteCode: 25,
      message: `statement takes ${rewrite.count} parameters but ${s.params.length} were supplied`,
    });
  }
  const args = s.params.map((v) => (v.t === "int" ? v.v.toString() : bindable(v)));
  return { sql: rewrite.sql, args };
}

// Parameter places in sql, numbered as SQLite numbers them (`?` takes the next number,
// `?N` is N, a name takes the next number the first time it appears).
function placeholders(sql) {
  const out = [];
  const names = new Map();
  let max = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = skipQuotedOrComment(sql, i);
    if (next !== i) { i = next; continue; }
    if (c === "?") {
      const m = sql.slice(i + 1).match(/^[0-9]*/)[0];
      const index = m ? Number(m) : max + 1;
      max = Math.max(max, index);
      out.push({ start: i, end: i + 1 + m.length, index });
      i += 1 + m.length;
      continue;
    }
    if ((c === ":" || c === "@" || c === "$") && /[A-Za-z_]/.test(sql[i + 1] || "")) {
      const m = sql.slice(i).match(/^.[A-Za-z0-9_]+/)[0];
      if (!names.has(m)) names.set(m, ++max);
      out.push({ start: i, end: i + m.length, index: names.get(m) });
      i += m.length;
      continue;
    }
    i++;
  }
  return out;
}

// A wire value as the SQL API binds it (integers: see prepareStatement).
function bindable(v) {
  return v.t === "null" ? null : v.v;
}

// A value from the SQL API. Integers come back as doubles: an integral double within
// +-2^53 is taken for an integer (the API does not say which it was).
function fromJs(x) {
  if (x === null || x === undefined) return { t: "null" };
  if (typeof x === "number") {
    if (Number.isInteger(x) && Math.abs(x) <= 2 ** 53) return { t: "int", v: BigInt(x) };
    return { t: "real", v: x };
  }
  if (typeof x === "bigint") return { t: "int", v: x };
  if (typeof x === "string") return { t: "text", v: x };
  if (x instanceof ArrayBuffer) return { t: "blob", v: new Uint8Array(x) };
  if (ArrayBuffer.isView(x)) return { t: "blob", v: new Uint8Array(x.buffer, x.byteOffset, x.byteLength) };
  return { t: "text", v: String(x) };
}

// SQLite's message mapped to the contract's kinds (the API gives only the message).
// workerd words it "<SQLite's message>: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)";
// the extended code is the one that tells a primary key from another unique index.
const EXTENDED = {
  SQLITE_CONSTRAINT_PRIMARYKEY: [SqliteKind.PrimaryKey, 1555],
  SQLITE_CONSTRAINT_ROWID: [SqliteKind.PrimaryKey, 2579],
  SQLITE_CONSTRAINT_UNIQUE: [SqliteKind.Unique, 2067],
  SQLITE_CONSTRAINT_NOTNULL: [SqliteKind.NotNull, 1299],
  SQLITE_CONSTRAINT_CHECK: [SqliteKind.Check, 275],
  SQLITE_CONSTRAINT_FOREIGNKEY: [SqliteKind.ForeignKey, 787],
};

function sqliteError(index, e) {
  const raw = String((e && e.message) || e);
  const extended = /\(extended: (SQLITE_[A-Z_]+)\)$/.exec(raw);
  const message = raw.replace(/: SQLITE_[A-Z_]+( \(extended: SQLITE_[A-Z_]+\))?$/, "");
  const known = extended && EXTENDED[extended[1]];
  if (known) return { code: ErrorCode.Sqlite, index, kind: known[0], sqliteCode: known[1], message };
  const rules = [
    [/UNIQUE constraint failed/, SqliteKind.Unique, 2067],
    [/PRIMARY KEY/, SqliteKind.PrimaryKey, 1555],
    [/NOT NULL constraint failed/, SqliteKind.NotNull, 1299],
    [/CHECK constraint failed/, SqliteKind.Check, 275],
    [/FOREIGN KEY constraint failed/, SqliteKind.ForeignKey, 787],
    [/constraint failed/, SqliteKind.OtherConstraint, 19],
    [/datatype mismatch/, SqliteKind.Mismatch, 20],
    [/too big|string or blob too big/, SqliteKind.TooBig, 18],
    [/parameter|bindings/i, SqliteKind.Range, 25],
    [/database or disk is full|exceeded maximum/, SqliteKind.Full, 13],
    [/readonly|read-only|not authorized|access to .* is prohibited/i, SqliteKind.ReadOnly, 8],
  ];
  const rule = rules.find(([re]) => re.test(message));
  const [, kind, sqliteCode] = rule || [null, SqliteKind.Error, 1];
  return { code: ErrorCode.Sqlite, index, kind, sqliteCode, message };
}

// One per namespace: the names of the objects that exist in it (Durable Objects cannot be
// listed otherwise).
export class DotdoDirectory extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS names (name TEXT PRIMARY KEY)");
  }
  remember(name) {
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO names VALUES (?)", name);
  }
  forget(name) {
    this.ctx.storage.sql.exec("DELETE FROM names WHERE name = ?", name);
  }
  list() {
    return this.ctx.storage.sql.exec("SELECT name FROM names ORDER BY name").toArray().map((r) => r.name);
  }
}
