// What a batch may contain: the same rules as backends/src/policy.rs, plus one statement per
// entry (the Durable Object SQL API would silently run every statement of "a; b").

// Upper-cased leading words of sql, skipping white space and comments.
function keywords(sql, max) {
  const words = [];
  let i = 0;
  while (words.length < max && i < sql.length) {
    const rest = sql.slice(i);
    const ws = rest.match(/^\s+/);
    if (ws) { i += ws[0].length; continue; }
    if (rest.startsWith("--")) {
      const nl = rest.indexOf("\n");
      i = nl < 0 ? sql.length : i + nl;
      continue;
    }
    if (rest.startsWith("/*")) {
      const end = rest.indexOf("*/");
      i = end < 0 ? sql.length : i + end + 2;
      continue;
    }
    const w = rest.match(/^[A-Za-z0-9_.]+/);
    if (!w) break;
    words.push(w[0].toUpperCase());
    i += w[0].length;
  }
  return words;
}

const MANAGED_PRAGMAS = new Set([
  "JOURNAL_MODE", "SYNCHRONOUS", "LOCKING_MODE", "WRITABLE_SCHEMA", "WAL_CHECKPOINT",
  "WAL_AUTOCHECKPOINT", "JOURNAL_SIZE_LIMIT", "TEMP_STORE", "MMAP_SIZE",
]);

// True for statements that insert rows (INSERT, REPLACE, upserts): the same rule as
// backends/src/policy.rs, so last_insert_id means "last row this batch inserted" everywhere.
export function inserts(sql) {
  const [first = ""] = keywords(sql, 1);
  if (first === "INSERT" || first === "REPLACE") return true;
  return first === "WITH" && sql.toUpperCase().includes("INSERT");
}

// If a quoted string, quoted identifier or comment starts at i, the index just past it;
// else i. SQLite's quoting: '..', "..", `..` (doubled to escape) and [..].
export function skipQuotedOrComment(sql, i) {
  const c = sql[i];
  if (c === "'" || c === '"' || c === "`" || c === "[") {
    const close = c === "[" ? "]" : c;
    let j = i + 1;
    while (j < sql.length) {
      if (sql[j] === close) {
        if (close !== "]" && sql[j + 1] === close) { j += 2; continue; }
        break;
      }
      j++;
    }
    return j + 1;
  }
  if (c === "-" && sql[i + 1] === "-") {
    const nl = sql.indexOf("\n", i);
    return nl < 0 ? sql.length : nl + 1;
  }
  if (c === "/" && sql[i + 1] === "*") {
    const end = sql.indexOf("*/", i + 2);
    return end < 0 ? sql.length : end + 2;
  }
  return i;
}

// null if allowed, else the reason.
export function forbiddenReason(sql) {
  const [first = "", second = ""] = keywords(sql, 2);
  switch (first) {
    case "BEGIN": case "COMMIT": case "END": case "ROLLBACK": case "SAVEPOINT": case "RELEASE":
      return "transaction control is done by the batch itself; use an interactive Transaction";
    case "ATTACH": case "DETACH":
      return "ATTACH and DETACH are not available";
    case "VACUUM":
      return "VACUUM is not available";
    case "PRAGMA": {
      const name = second.split(".").pop();
      return MANAGED_PRAGMAS.has(name) ? "this PRAGMA is managed by the storage layer" : null;
    }
  }
  return null;
}

// True when sql holds more than one statement: a ';' outside strings, identifiers and
// comments followed by anything but white space and comments.
export function isMultiStatement(sql) {
  let i = 0;
  let sawEnd = false;
  while (i < sql.length) {
    const c = sql[i];
    const next = skipQuotedOrComment(sql, i);
    if (next !== i) {
      if (sawEnd && sql[i] !== "-" && sql[i] !== "/") return true;
      i = next;
      continue;
    }
    if (c === ";") { sawEnd = true; i++; continue; }
    if (sawEnd && !/\s/.test(c)) return true;
    i++;
  }
  return false;
}
