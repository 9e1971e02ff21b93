// The gateway <-> node wire (deploy/WIRE.md), JavaScript side. Mirrors
// backends/src/remote/wire.rs. Little-endian; every length is checked against the bytes
// that remain before anything is allocated.

export const VERSION = 1;
export const MAX_FRAME = 64 << 20;

export const Kind = {
  Execute: 1,
  DryRun: 2,
  ListObjects: 3,
  DeleteObject: 4,
  Ping: 5,
  ExecuteChecked: 6,
};

export const ErrorCode = {
  Forbidden: 1,
  Sqlite: 2,
  LockTimeout: 3,
  TransactionClosed: 4,
  SerializationFailure: 5,
  Unavailable: 6,
  UnknownOutcome: 7,
  Invalid: 8,
  Io: 9,
  ShuttingDown: 10,
};

// SQLite error kinds as the wire numbers them.
export const SqliteKind = {
  Error: 0,
  Busy: 1,
  ReadOnly: 2,
  Interrupted: 3,
  TooBig: 4,
  Mismatch: 5,
  Range: 6,
  Full: 7,
  Corrupt: 8,
  Other: 9,
  Unique: 16,
  PrimaryKey: 17,
  ForeignKey: 18,
  NotNull: 19,
  Check: 20,
  OtherConstraint: 21,
};

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

export class FrameError extends Error {}

// A value on the wire: {t: "null"} | {t: "int", v: BigInt} | {t: "real", v: number}
// | {t: "text", v: string} | {t: "blob", v: Uint8Array}.

export class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.p = 0;
  }
  need(n) {
    if (n > this.b.length - this.p) throw new FrameError("truncated");
  }
  u8() {
    this.need(1);
    return this.b[this.p++];
  }
  u32() {
    this.need(4);
    const x = this.v.getUint32(this.p, true);
    this.p += 4;
    return x;
  }
  u64() {
    this.need(8);
    const x = this.v.getBigUint64(this.p, true);
    this.p += 8;
    return x;
  }
  i64() {
    this.need(8);
    const x = this.v.getBigInt64(this.p, true);
    this.p += 8;
    return x;
  }
  f64() {
    this.need(8);
    const x = this.v.getFloat64(this.p, true);
    this.p += 8;
    return x;
  }
  count(minSize) {
    const n = this.u32();
    if (n * Math.max(minSize, 1) > this.b.length - this.p) throw new FrameError("count exceeds frame");
    return n;
  }
  bytes() {
    const n = this.u32();
    this.need(n);
    const out = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }
  str() {
    try {
      return fromUtf8.decode(this.bytes());
    } catch (e) {
      if (e instanceof FrameError) throw e;
      throw new FrameError("text is not UTF-8");
    }
  }
  value() {
    switch (this.u8()) {
      case 0: return { t: "null" };
      case 1: return { t: "int", v: this.i64() };
      case 2: return { t: "real", v: this.f64() };
      case 3: return { t: "text", v: this.str() };
      case 4: return { t: "blob", v: this.bytes().slice() };
      default: throw new FrameError("unknown value tag");
    }
  }
  statements() {
    const n = this.count(8);
    const out = [];
    for (let i = 0; i < n; i++) {
      const sql = this.str();
      const np = this.count(1);
      const params = [];
      for (let j = 0; j < np; j++) params.push(this.value());
      out.push({ sql, params });
    }
    return out;
  }
  results() {
    const n = this.count(24);
    const out = [];
    for (let i = 0; i < n; i++) {
      const nc = this.count(4);
      const columns = [];
      for (let c = 0; c < nc; c++) columns.push(this.str());
      const nr = this.count(nc);
      if (nc === 0 && nr > MAX_FRAME) throw new FrameError("row count exceeds frame");
      const rows = [];
      for (let r = 0; r < nr; r++) {
        const row = [];
        for (let c = 0; c < nc; c++) row.push(this.value());
        rows.push(row);
      }
      const rowsChanged = this.u64();
      const lastInsertId = this.i64();
      out.push({ columns, rows, rowsChanged, lastInsertId });
    }
    return out;
  }
  end() {
    if (this.p !== this.b.length) throw new FrameError("trailing bytes");
  }
}

// The request id of a frame, if its header is intact.
export function peekRequestId(bytes) {
  if (bytes.length < 10) return 0n;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(2, true);
}

// Only the header: enough to route a request to its object.
export function decodeHeader(bytes) {
  const r = new Reader(bytes);
  if (r.u8() !== VERSION) throw new FrameError("unsupported version");
  const kind = r.u8();
  if (kind < 1 || kind > 6) throw new FrameError("unknown request kind");
  const id = r.u64();
  const namespace = r.str();
  const name = r.str();
  return { kind, id, namespace, name, reader: r };
}

export function decodeRequest(bytes) {
  const h = decodeHeader(bytes);
  const r = h.reader;
  let batch = [];
  let expected = [];
  if (h.kind === Kind.Execute || h.kind === Kind.DryRun) batch = r.statements();
  if (h.kind === Kind.ExecuteChecked) {
    batch = r.statements();
    expected = r.results();
  }
  r.end();
  return { kind: h.kind, id: h.id, namespace: h.namespace, name: h.name, batch, expected };
}

export class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.p = 0;
  }
  room(n) {
    if (this.p + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.p + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.p));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(x) {
    this.room(1);
    this.buf[this.p++] = x;
  }
  u32(x) {
    this.room(4);
    this.view.setUint32(this.p, x, true);
    this.p += 4;
  }
  i32(x) {
    this.room(4);
    this.view.setInt32(this.p, x, true);
    this.p += 4;
  }
  u64(x) {
    this.room(8);
    this.view.setBigUint64(this.p, BigInt(x), true);
    this.p += 8;
  }
  i64(x) {
    this.room(8);
    this.view.setBigInt64(this.p, BigInt(x), true);
    this.p += 8;
  }
  f64(x) {
    this.room(8);
    this.view.setFloat64(this.p, x, true);
    this.p += 8;
  }
  bytes(b) {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.p);
    this.p += b.length;
  }
  str(s) {
    this.bytes(utf8.encode(s));
  }
  value(v) {
    switch (v.t) {
      case "null": this.u8(0); break;
      case "int": this.u8(1); this.i64(v.v); break;
      case "real": this.u8(2); this.f64(v.v); break;
      case "text": this.u8(3); this.str(v.v); break;
      case "blob": this.u8(4); this.bytes(v.v); break;
      default: throw new Error("unknown value");
    }
  }
  results(results) {
    this.u32(results.length);
    for (const r of results) {
      this.u32(r.columns.length);
      for (const c of r.columns) this.str(c);
      this.u32(r.rows.length);
      for (const row of r.rows) for (const v of row) this.value(v);
      this.u64(r.rowsChanged);
      this.i64(r.lastInsertId);
    }
  }
  finish() {
    return this.buf.slice(0, this.p);
  }
}

function header(id, tag) {
  const w = new Writer();
  w.u8(VERSION);
  w.u64(id);
  w.u8(tag);
  return w;
}

export function encodeResults(id, results) {
  const w = header(id, 0);
  w.results(results);
  return w.finish();
}

export function encodeNames(id, names) {
  const w = header(id, 1);
  w.u32(names.length);
  for (const n of names) w.str(n);
  return w.finish();
}

export function encodeDone(id) {
  return header(id, 2).finish();
}

// err: {code, index, sqliteCode, kind, message}
export function encodeError(id, err) {
  const w = header(id, 3);
  w.u8(err.code);
  w.u32(err.index || 0);
  w.i32(err.sqliteCode || 0);
  w.u8(err.kind || 0);
  w.str(err.message || "");
  return w.finish();
}

// Two values are the same SQLite value (blobs by content, reals by bits).
export function sameValue(a, b) {
  if (a.t !== b.t) return false;
  switch (a.t) {
    case "null": return true;
    case "int": return a.v === b.v;
    case "real": return Object.is(a.v, b.v) || a.v === b.v;
    case "text": return a.v === b.v;
    case "blob":
      if (a.v.length !== b.v.length) return false;
      for (let i = 0; i < a.v.length; i++) if (a.v[i] !== b.v[i]) return false;
      return true;
  }
  return false;
}

export function sameResult(a, b) {
  if (a.columns.length !== b.columns.length || a.rows.length !== b.rows.length) return false;
  if (BigInt(a.rowsChanged) !== BigInt(b.rowsChanged)) return false;
  // lastInsertId is left out, as in backends/src/remote/server.rs: a row inserted without
  // RETURNING may take another rowid at commit, and the client never saw it.
  for (let i = 0; i < a.columns.length; i++) if (a.columns[i] !== b.columns[i]) return false;
  for (let r = 0; r < a.rows.length; r++) {
    for (let c = 0; c < a.columns.length; c++) if (!sameValue(a.rows[r][c], b.rows[r][c])) return false;
  }
  return true;
}

// Several frames in one WebSocket message (see BUNDLE in deploy/WIRE.md).
export const BUNDLE = 0xb1;

export function splitBundle(bytes) {
  if (bytes[0] !== BUNDLE) return [bytes];
  const r = new Reader(bytes.subarray(1));
  const n = r.count(4);
  const out = [];
  for (let i = 0; i < n; i++) out.push(r.bytes());
  r.end();
  return out;
}

export function encodeBundle(frames) {
  if (frames.length === 1) return frames[0];
  const w = new Writer();
  w.u8(BUNDLE);
  w.u32(frames.length);
  for (const f of frames) w.bytes(f);
  return w.finish();
}
