//! Plain literals lifted out of simple-protocol statements, so one translation serves every
//! statement that differs from it only in those literals (as `pg_stat_statements` normalises
//! queries).
//!
//! Lifting is conservative twice over. [`lift`] takes only integer literals that fit `int8`
//! and plain `'…'` strings, and only where PostgreSQL gives a parameter the meaning of the
//! literal: an operand of a comparison or arithmetic operator, or an item of an `IN` list or
//! (integers only: strings there are converted to the column's type at translation) of a
//! `VALUES` row; never a cast (`'1'::int`, `CAST`), a typed literal (`DATE '…'`, `interval
//! '…'`), a function argument, `LIMIT`/`OFFSET`, a select-list item or an `ORDER BY`/`GROUP
//! BY` ordinal, and not in DDL or utility statements. Anything the small lexer does not
//! recognise (dollar quotes, `E'…'`, parameters, ambiguous operators) lifts nothing.
//! Integers are keyed by the type PostgreSQL gives the literal (`int4` or `int8`).
//!
//! Then [`Template::build`] proves the translation does not look inside those literals: it
//! translates the statement again with a distinct sentinel in each lifted literal, and keeps
//! the result only if it is the first translation with each sentinel, appearing exactly once
//! in the SQL, in place of its literal, and everything else (result columns and types, tag,
//! flags) equal. The sentinel then becomes a bound parameter; SQLite gives a bound value the
//! same meaning as the literal it replaces (neither has a column affinity). The sentinels are
//! chosen to fail every type's input check (a string no type parses, integers out of `int2`
//! range), so a translation that converts or checks a literal by type rejects the probe and
//! the statement keeps its full translation.

use dotdo_backend::Value;

use crate::Plan;
use crate::error::SqlError;

/// Literals a statement may lift; beyond that it is translated in full.
const MAX_LIFTED: usize = 32;
/// Longer statements are translated in full (and not kept in a cache).
pub const MAX_LIFT_BYTES: usize = 4096;

/// The class a lifted literal is keyed by: the type PostgreSQL gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Int4,
    Int8,
    Text,
}

/// One lifted literal: where it is in the statement and its value.
#[derive(Clone, Debug)]
struct Literal {
    span: std::ops::Range<usize>,
    class: Class,
    value: Value,
}

/// A statement with its liftable literals found.
#[derive(Clone, Debug)]
pub struct Lifted {
    /// The statement with each lifted literal replaced by a marker of its class: statements
    /// with equal keys differ only in the values of lifted literals of the same classes.
    pub key: String,
    literals: Vec<Literal>,
}

impl Lifted {
    /// The lifted literals' values, the parameters of the statement's template.
    pub fn params(&self) -> Vec<Value> {
        self.literals.iter().map(|l| l.value.clone()).collect()
    }
}

/// A translation that takes a statement's lifted literals as parameters `?1`, `?2`, …
#[derive(Clone, Debug)]
pub struct Template {
    pub plan: Plan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    /// A word (keyword or identifier), upper-cased text kept by span.
    Word,
    QuotedIdent,
    /// A number; `true` when it is a plain integer.
    Number(bool),
    Str,
    /// An operator, by its text.
    Op,
    LParen,
    RParen,
    Comma,
    Other,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Tok,
    span: std::ops::Range<usize>,
    /// No whitespace or comment between this token and the previous one.
    adjacent: bool,
}

/// Find the liftable literals of `sql` (one statement, no trailing semicolon). `None` when
/// the statement is not one whose literals may be lifted, or has none.
pub fn lift(sql: &str) -> Option<Lifted> {
    if sql.len() > MAX_LIFT_BYTES {
        return None;
    }
    let tokens = lex(sql)?;
    let word = |t: &Token| -> Option<String> {
        (t.kind == Tok::Word).then(|| sql[t.span.clone()].to_ascii_uppercase())
    };
    let first = tokens.first().and_then(word)?;
    if !matches!(first.as_str(), "SELECT" | "INSERT" | "UPDATE" | "DELETE") {
        return None;
    }
    // Sequence calls are resolved from the translated text; leave them whole.
    if tokens.iter().filter_map(word).any(|w| {
        matches!(
            w.as_str(),
            "NEXTVAL" | "CURRVAL" | "SETVAL" | "LASTVAL" | "COLLATE" | "UESCAPE" | "AT"
        )
    }) {
        return None;
    }
    let lists = list_parens(sql, &tokens);
    let mut literals = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let class = match t.kind {
            Tok::Number(true) => int_class(&sql[t.span.clone()]),
            Tok::Str => Some(Class::Text),
            _ => None,
        };
        let Some(class) = class else { continue };
        if !liftable(sql, &tokens, &lists, i) {
            continue;
        }
        let text = &sql[t.span.clone()];
        let value = match class {
            Class::Text => Value::Text(text[1..text.len() - 1].replace("''", "'")),
            _ => Value::Integer(text.parse().ok()?),
        };
        literals.push(Literal {
            span: t.span.clone(),
            class,
            value,
        });
        if literals.len() > MAX_LIFTED {
            return None;
        }
    }
    if literals.is_empty() {
        return None;
    }
    let mut key = String::with_capacity(sql.len());
    let mut at = 0;
    for l in &literals {
        key.push_str(&sql[at..l.span.start]);
        key.push_str(match l.class {
            Class::Int4 => "\0i",
            Class::Int8 => "\0I",
            Class::Text => "\0s",
        });
        at = l.span.end;
    }
    key.push_str(&sql[at..]);
    Some(Lifted { key, literals })
}

/// PostgreSQL types an integer literal `int4` if it fits, else `int8`, else `numeric`
/// (not lifted). Leading zeros are left alone.
fn int_class(text: &str) -> Option<Class> {
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    if text.parse::<i32>().is_ok() {
        Some(Class::Int4)
    } else if text.parse::<i64>().is_ok() {
        Some(Class::Int8)
    } else {
        None
    }
}

const COMPARISONS: [&str; 7] = ["=", "<>", "!=", "<", ">", "<=", ">="];
const ARITHMETIC: [&str; 5] = ["+", "-", "*", "/", "%"];
/// Words after which `+`/`-` is a sign in a place that is not lifted.
const NOT_AN_OPERAND: [&str; 13] = [
    "LIMIT",
    "OFFSET",
    "FETCH",
    "FIRST",
    "NEXT",
    "BY",
    "SELECT",
    "DISTINCT",
    "ALL",
    "RETURNING",
    "INTERVAL",
    "ROWS",
    "ROW",
];

/// What a `(` opens (and a `,` separates): where an item may be lifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    No,
    /// A `VALUES` row: integers only.
    Values,
    /// An `IN` list.
    In,
}

fn liftable(sql: &str, tokens: &[Token], lists: &[List], i: usize) -> bool {
    let item = |list: List| match list {
        List::No => false,
        List::Values => tokens[i].kind != Tok::Str,
        List::In => true,
    };
    let text = |t: &Token| &sql[t.span.clone()];
    let t = &tokens[i];
    // A string right after a word is a typed or prefixed literal (E'…', DATE '…' is caught
    // by the operator rule below, X'…' here).
    if t.kind == Tok::Str && t.adjacent && i > 0 && tokens[i - 1].kind == Tok::Word {
        return false;
    }
    if let Some(next) = tokens.get(i + 1) {
        let after = text(next);
        // `'a' 'b'` continues the string; `::`, `[` and `.` bind tighter than the operand.
        if next.kind == Tok::Str || after == "::" || after == "[" || after == "." {
            return false;
        }
        // An integer followed by letters (`1e5` lexes as a number already; `123abc`).
        if next.adjacent && matches!(next.kind, Tok::Word | Tok::QuotedIdent) {
            return false;
        }
    }
    let Some(prev) = i.checked_sub(1).map(|p| &tokens[p]) else {
        return false;
    };
    match prev.kind {
        Tok::Op if COMPARISONS.contains(&text(prev)) => true,
        Tok::Op if ARITHMETIC.contains(&text(prev)) => {
            let Some(before) = i.checked_sub(2).map(|p| &tokens[p]) else {
                return false;
            };
            match before.kind {
                Tok::Word => !NOT_AN_OPERAND.contains(&text(before).to_ascii_uppercase().as_str()),
                Tok::QuotedIdent | Tok::Number(_) | Tok::Str | Tok::RParen => true,
                Tok::Op => {
                    COMPARISONS.contains(&text(before)) || ARITHMETIC.contains(&text(before))
                }
                Tok::LParen | Tok::Comma => item(lists[i - 2]),
                Tok::Other => false,
            }
        }
        Tok::LParen | Tok::Comma => item(lists[i - 1]),
        _ => false,
    }
}

/// For each `(` or `,` token: whether it opens or separates the items of a `VALUES` row or
/// an `IN` list.
fn list_parens(sql: &str, tokens: &[Token]) -> Vec<List> {
    let word =
        |t: &Token, w: &str| t.kind == Tok::Word && sql[t.span.clone()].eq_ignore_ascii_case(w);
    let mut out = vec![List::No; tokens.len()];
    // Per open paren: the list it opens.
    let mut stack: Vec<List> = Vec::new();
    // The depth at which a VALUES clause is listing rows.
    let mut values_at: Option<usize> = None;
    for (i, t) in tokens.iter().enumerate() {
        let depth = stack.len();
        let prev = i.checked_sub(1).map(|p| &tokens[p]);
        match t.kind {
            Tok::LParen => {
                let list = match prev {
                    Some(p) if word(p, "IN") => List::In,
                    Some(p)
                        if word(p, "VALUES")
                            || (p.kind == Tok::Comma && values_at == Some(depth)) =>
                    {
                        List::Values
                    }
                    _ => List::No,
                };
                out[i] = list;
                stack.push(list);
            }
            Tok::RParen => {
                stack.pop();
            }
            Tok::Comma => out[i] = stack.last().copied().unwrap_or(List::No),
            Tok::Word if word(t, "VALUES") => values_at = Some(depth),
            _ if values_at == Some(depth) => values_at = None,
            _ => {}
        }
    }
    out
}

/// Tokens of `sql`, or `None` for anything this lexer does not fully understand.
fn lex(sql: &str) -> Option<Vec<Token>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut adjacent = false;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                i += 1;
                adjacent = false;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                adjacent = false;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                loop {
                    if i + 1 >= b.len() {
                        return None;
                    }
                    if b[i] == b'/' && b[i + 1] == b'*' {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b[i + 1] == b'/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                adjacent = false;
                continue;
            }
            b'\'' | b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return None,
                        Some(&q) if q == c => {
                            if b.get(i + 1) == Some(&c) {
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(_) => i += 1,
                    }
                }
                if c == b'\'' {
                    Tok::Str
                } else {
                    Tok::QuotedIdent
                }
            }
            b'0'..=b'9' => {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let mut plain = true;
                if b.get(i) == Some(&b'.') {
                    plain = false;
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if matches!(b.get(i), Some(b'e' | b'E')) {
                    plain = false;
                    i += 1;
                    if matches!(b.get(i), Some(b'+' | b'-')) {
                        i += 1;
                    }
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if b.get(i)
                    .is_some_and(|x| x.is_ascii_alphanumeric() || *x == b'_')
                {
                    return None;
                }
                Tok::Number(plain)
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => return None,
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                Tok::Word
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b':' if b.get(i + 1) == Some(&b':') => {
                i += 2;
                Tok::Op
            }
            b'.' | b'[' | b']' | b':' => {
                i += 1;
                Tok::Other
            }
            b'+' | b'-' | b'*' | b'/' | b'<' | b'>' | b'=' | b'~' | b'!' | b'@' | b'#' | b'%'
            | b'^' | b'&' | b'|' | b'`' => {
                while i < b.len() && b"+-*/<>=~!@#%^&|`".contains(&b[i]) {
                    if (b[i] == b'-' && b.get(i + 1) == Some(&b'-'))
                        || (b[i] == b'/' && b.get(i + 1) == Some(&b'*'))
                    {
                        break;
                    }
                    i += 1;
                }
                let op = &b[start..i];
                // PostgreSQL splits a trailing + or - off some operators (`=-1`): leave
                // such statements alone rather than guess.
                if op.len() > 1 && matches!(op.last(), Some(b'+' | b'-')) {
                    return None;
                }
                Tok::Op
            }
            // `$1`, `$$…$$`, `?`, `;`, backslashes: not for this lexer.
            _ => return None,
        };
        out.push(Token {
            kind,
            span: start..i,
            adjacent,
        });
        adjacent = true;
    }
    Some(out)
}

impl Template {
    /// A template for `lifted`'s statement, given `original`, its translation, and
    /// `translate` to translate another text the same way; `None` unless the translation
    /// provably passes each lifted literal through untouched.
    pub fn build(
        sql: &str,
        lifted: &Lifted,
        original: &Plan,
        translate: impl FnOnce(&str) -> Result<Plan, SqlError>,
    ) -> Option<Template> {
        let Plan::Query(orig) = original else {
            return None;
        };
        if orig.batch.len() != 1 || orig.main != 0 || orig.ddl || !orig.params.is_empty() {
            return None;
        }
        // The statement with a distinct sentinel in each literal, of the same class.
        let mut probe = String::with_capacity(sql.len() + 16 * lifted.literals.len());
        let mut sentinels = Vec::with_capacity(lifted.literals.len());
        let mut at = 0;
        for (i, l) in lifted.literals.iter().enumerate() {
            let original_text = &sql[l.span.clone()];
            let mut s = sentinel(l.class, i, 0);
            if s == original_text {
                s = sentinel(l.class, i, 1);
            }
            probe.push_str(&sql[at..l.span.start]);
            probe.push_str(&s);
            at = l.span.end;
            sentinels.push(s);
        }
        probe.push_str(&sql[at..]);
        let Ok(Plan::Query(probed)) = translate(&probe) else {
            return None;
        };
        if probed.batch.len() != 1
            || probed.main != 0
            || probed.ddl != orig.ddl
            || probed.read_only != orig.read_only
            || probed.tag != orig.tag
            || probed.columns != orig.columns
            || probed.params != orig.params
            || !probed.batch[0].params.is_empty()
            || !orig.batch[0].params.is_empty()
        {
            return None;
        }
        let probed_sql = &probed.batch[0].sql;
        if probed_sql.contains('?') || crate::sequence::find_call(probed_sql).is_some() {
            return None;
        }
        // Each sentinel once, as a whole token.
        let mut places = Vec::with_capacity(sentinels.len());
        for (i, s) in sentinels.iter().enumerate() {
            let mut found = token_positions(probed_sql, s);
            if found.len() != 1 {
                return None;
            }
            places.push((found.remove(0), s.len(), i));
        }
        places.sort_unstable();
        if places.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return None;
        }
        // The original translation is the probe's with the literals put back...
        let mut expected = String::with_capacity(probed_sql.len());
        let mut template = String::with_capacity(probed_sql.len());
        let mut at = 0;
        for &(pos, len, i) in &places {
            expected.push_str(&probed_sql[at..pos]);
            template.push_str(&probed_sql[at..pos]);
            expected.push_str(&rendered(&lifted.literals[i].value)?);
            template.push_str(&format!("?{}", i + 1));
            at = pos + len;
        }
        expected.push_str(&probed_sql[at..]);
        template.push_str(&probed_sql[at..]);
        if expected != orig.batch[0].sql {
            return None;
        }
        // ...so with them as parameters it is the same statement.
        let mut plan = probed;
        plan.batch[0].sql = template.into();
        Some(Template {
            plan: Plan::Query(plan),
        })
    }
}

/// A sentinel of `class` for the `i`th literal, unlike any literal a client is likely to
/// send (and free of the `dotdo_` prefix that marks sequence calls).
fn sentinel(class: Class, i: usize, salt: usize) -> String {
    let n = (i * 2 + salt) as i64;
    match class {
        Class::Int4 => (1_987_654_301 + 7 * n).to_string(),
        Class::Int8 => (8_987_654_321_012_345_601 + 7 * n).to_string(),
        Class::Text => format!("'zQ{n}xLit{}Kq'", 9 - salt),
    }
}

/// How the translation writes a literal of this value (sqlparser's rendering).
fn rendered(v: &Value) -> Option<String> {
    match v {
        Value::Integer(i) => Some(i.to_string()),
        Value::Text(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        _ => None,
    }
}

/// Where `needle` occurs in `hay` as a whole token (not inside a longer number or word).
fn token_positions(hay: &str, needle: &str) -> Vec<usize> {
    let b = hay.as_bytes();
    let glued = |c: Option<&u8>| {
        c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.' || *c == b'\'')
    };
    hay.match_indices(needle)
        .map(|(p, _)| p)
        .filter(|&p| {
            let before = p.checked_sub(1).and_then(|q| b.get(q));
            !glued(before) && !glued(b.get(p + needle.len()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifted(sql: &str) -> Vec<Value> {
        lift(sql).map(|l| l.params()).unwrap_or_default()
    }

    #[test]
    fn lifts_operands_and_list_items() {
        assert_eq!(
            lifted("SELECT abalance FROM pgbench_accounts WHERE aid = 12345"),
            vec![Value::Integer(12345)]
        );
        assert_eq!(
            lifted("UPDATE a SET abalance = abalance + -2983 WHERE aid = 7"),
            vec![Value::Integer(2983), Value::Integer(7)]
        );
        assert_eq!(
            lifted(
                "INSERT INTO h (tid, bid, aid, delta, mtime) VALUES (7, 1, 456, -2983, CURRENT_TIMESTAMP)"
            ),
            vec![
                Value::Integer(7),
                Value::Integer(1),
                Value::Integer(456),
                Value::Integer(2983)
            ]
        );
        assert_eq!(
            lifted("SELECT * FROM t WHERE name = 'it''s' AND id IN (1, 2) "),
            vec![
                Value::Text("it's".into()),
                Value::Integer(1),
                Value::Integer(2)
            ]
        );
        // Strings in VALUES are converted to their column's type at translation.
        assert_eq!(
            lifted("INSERT INTO t VALUES (1, 'a'), (2, 'b') RETURNING id = 3"),
            vec![Value::Integer(1), Value::Integer(2), Value::Integer(3)]
        );
    }

    #[test]
    fn leaves_literals_whose_meaning_depends_on_being_literal() {
        for sql in [
            "SELECT 1",
            "SELECT a FROM t ORDER BY 1",
            "SELECT a FROM t GROUP BY 1, 2",
            "SELECT a FROM t LIMIT 5 OFFSET 2",
            "SELECT a FROM t LIMIT -1",
            "SELECT a FROM t WHERE d = DATE '2020-01-01'",
            "SELECT a FROM t WHERE d = interval '1 day'",
            "SELECT a FROM t WHERE b = '1'::int",
            "SELECT a FROM t WHERE b = CAST('1' AS int)",
            "SELECT a FROM t WHERE b = f('x')",
            "SELECT a FROM t WHERE b = E'x\\n'",
            "SELECT a FROM t WHERE b = 'a' 'b'",
            "SELECT a FROM t WHERE b = 1.5",
            "SELECT a FROM t WHERE b = 1e3",
            "SELECT a FROM t WHERE b = 99999999999999999999",
            "SELECT a FROM t WHERE b = 007",
            "SELECT a FROM t WHERE b = $1",
            "SELECT a FROM t WHERE b = $$x$$",
            "SELECT a FROM t WHERE b =-1",
            "SELECT a FROM t WHERE b ~ 'x'",
            "SELECT a FROM t WHERE b LIKE 'x%'",
            "SELECT a FROM t WHERE j ->> 'k' = j -> 0",
            "SELECT nextval('s') = 1",
            "SELECT a FROM t WHERE b = 'x' COLLATE \"C\"",
            "SELECT a FROM t WHERE b = ARRAY[1][1]",
            "CREATE TABLE t (a int DEFAULT 1)",
            "SET x = 1",
        ] {
            assert_eq!(lifted(sql), Vec::<Value>::new(), "{sql}");
        }
    }

    #[test]
    fn keys_by_class_not_value() {
        let a = lift("SELECT a FROM t WHERE id = 1 AND s = 'x'").map(|l| l.key);
        let b = lift("SELECT a FROM t WHERE id = 2147483647 AND s = 'yy'").map(|l| l.key);
        let c = lift("SELECT a FROM t WHERE id = 2147483648 AND s = 'x'").map(|l| l.key);
        let d = lift("SELECT a FROM t WHERE id = '1' AND s = 'x'").map(|l| l.key);
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    fn catalog() -> crate::Catalog {
        let col = |name: &str, ty: crate::PgType| crate::catalog::Column {
            name: name.into(),
            ty,
            typmod: -1,
            not_null: false,
            default: None,
        };
        crate::Catalog::default().with_table(crate::catalog::Table {
            name: "t".into(),
            columns: vec![
                col("id", crate::PgType::Int4),
                col("s", crate::PgType::Text),
                col("b", crate::PgType::Bool),
                col("d", crate::PgType::Date),
            ],
        })
    }

    fn template(sql: &str) -> Option<(String, Vec<Value>)> {
        let catalog = catalog();
        let ctx = crate::Context {
            database: "db",
            user: "u",
            backend_pid: 1,
            search_path: crate::namespace::DEFAULT_PATH,
        };
        let lifted = lift(sql)?;
        let plan = crate::translate(sql, &catalog, &ctx).ok()?;
        let t = Template::build(sql, &lifted, &plan, |p| crate::translate(p, &catalog, &ctx))?;
        let Plan::Query(q) = t.plan else { return None };
        Some((q.batch[0].sql.to_string(), lifted.params()))
    }

    #[test]
    fn templates_take_the_literals_as_parameters() {
        let (sql, params) = template("SELECT s FROM t WHERE id = 12345").unwrap();
        assert!(sql.ends_with("WHERE id = ?1"), "{sql}");
        assert_eq!(params, vec![Value::Integer(12345)]);
        let (sql, params) = template("UPDATE t SET id = id + -5 WHERE s = 'it''s'").unwrap();
        assert!(sql.contains("id + -?1") && sql.contains("s = ?2"), "{sql}");
        assert_eq!(params, vec![Value::Integer(5), Value::Text("it's".into())]);
        let (sql, _) = template("INSERT INTO t (id, s) VALUES (1, 'x')").unwrap();
        assert!(sql.contains("VALUES (?1, 'x')"), "{sql}");
    }

    #[test]
    fn no_template_where_the_translation_reads_the_literal() {
        // A translation that rewrites a literal (as a conversion by type would) does not
        // show the probe's sentinel where the literal was.
        let catalog = catalog();
        let ctx = crate::Context {
            database: "db",
            user: "u",
            backend_pid: 1,
            search_path: crate::namespace::DEFAULT_PATH,
        };
        let sql = "SELECT s FROM t WHERE id = 5";
        let lifted = lift(sql).unwrap();
        let plan = crate::translate(sql, &catalog, &ctx).unwrap();
        let converted = |p: &str| crate::translate(&p.replace("1987654301", "7"), &catalog, &ctx);
        assert!(Template::build(sql, &lifted, &plan, converted).is_none());
        let twice = |p: &str| crate::translate(&format!("{p} OR id = 1987654301"), &catalog, &ctx);
        assert!(Template::build(sql, &lifted, &plan, twice).is_none());
        // Translation errors are not templated.
        assert!(template("SELECT s FROM t WHERE id = 1 AND").is_none());
    }

    #[test]
    fn comments_and_quoted_names_are_skipped() {
        assert_eq!(
            lifted("SELECT \"a'b\" FROM t /* x = 1 /* nested */ */ WHERE c = 3 -- = 4\n"),
            vec![Value::Integer(3)]
        );
    }
}
