//! The binary wire between a gateway and a node (sans-IO): requests and replies as bytes.
//!
//! Specified in `deploy/WIRE.md`; the JavaScript side is `deploy/cloudflare/src/wire.js`.
//! Everything is little-endian. Every length read off the wire is checked against the bytes
//! that remain before anything is allocated, so a hostile frame cannot make us allocate more
//! than its own size.

use crate::{ConstraintKind, Error, ObjectId, SqliteErrorKind, Statement, StatementResult, Value};

pub const VERSION: u8 = 1;
/// Largest frame either side accepts by default (64 MiB).
pub const MAX_FRAME: usize = 64 << 20;

/// First byte of a WebSocket message that carries several frames: `BUNDLE`, `u32` count,
/// then count × (`u32` length, frame). Either side may bundle; a frame's own first byte is
/// [`VERSION`], so the two never clash.
pub const BUNDLE: u8 = 0xB1;
/// Most frames a sender puts in one bundle.
pub const MAX_BUNDLE: usize = 256;

/// The WebSocket message for the frames queued (draining them): the frame itself when
/// there is one, else a bundle of them.
pub fn take_message(frames: &mut Vec<Vec<u8>>) -> Vec<u8> {
    if frames.len() == 1 {
        frames.pop().unwrap_or_default()
    } else {
        encode_bundle(&std::mem::take(frames))
    }
}

pub fn encode_bundle(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(BUNDLE);
    w.u32(frames.len());
    for f in frames {
        w.bytes(f);
    }
    w.0
}

/// The frames of one WebSocket message: itself, or the frames of its bundle.
pub fn split_bundle(message: &[u8]) -> Result<Vec<&[u8]>, FrameError> {
    if message.first() != Some(&BUNDLE) {
        return Ok(vec![message]);
    }
    let mut r = Reader(&message[1..]);
    let n = r.count(4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.bytes()?);
    }
    r.end()?;
    Ok(out)
}

/// What a request asks the node to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Execute = 1,
    DryRun = 2,
    ListObjects = 3,
    DeleteObject = 4,
    Ping = 5,
    /// Run the batch and commit only if every statement's result equals the expected one
    /// (replay with validation); otherwise roll back and answer `SerializationFailure`.
    ExecuteChecked = 6,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Kind::Execute,
            2 => Kind::DryRun,
            3 => Kind::ListObjects,
            4 => Kind::DeleteObject,
            5 => Kind::Ping,
            6 => Kind::ExecuteChecked,
            _ => return None,
        })
    }

    /// True when running the request twice is the same as running it once, so a lost reply
    /// may be retried.
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            Kind::DryRun | Kind::ListObjects | Kind::DeleteObject | Kind::Ping
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub id: u64,
    pub kind: Kind,
    pub object: ObjectId,
    pub batch: Vec<Statement>,
    /// For `ExecuteChecked`: the answer each statement gave before.
    pub expected: Vec<StatementResult>,
}

/// What a node answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Results(Vec<StatementResult>),
    Names(Vec<String>),
    Done,
    Error(Error),
}

/// A decoded reply frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub id: u64,
    pub reply: Reply,
}

/// Malformed bytes on the wire.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed frame: {0}")]
pub struct FrameError(pub &'static str);

// ---------------------------------------------------------------- encoding

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: usize) {
        // Lengths above u32 are refused by the frame limit long before this.
        self.0.extend_from_slice(&(v as u32).to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.u8(0),
            Value::Integer(i) => {
                self.u8(1);
                self.0.extend_from_slice(&i.to_le_bytes());
            }
            Value::Real(f) => {
                self.u8(2);
                self.0.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::Text(s) => {
                self.u8(3);
                self.str(s);
            }
            Value::Blob(b) => {
                self.u8(4);
                self.bytes(b);
            }
        }
    }
    fn statements(&mut self, batch: &[Statement]) {
        self.u32(batch.len());
        for s in batch {
            self.str(&s.sql);
            self.u32(s.params.len());
            s.params.iter().for_each(|v| self.value(v));
        }
    }
    fn results(&mut self, results: &[StatementResult]) {
        self.u32(results.len());
        for r in results {
            self.u32(r.columns.len());
            r.columns.iter().for_each(|c| self.str(c));
            self.u32(r.rows.len());
            for row in &r.rows {
                // Rows are as wide as the columns; a short row is padded so frames stay
                // self-consistent.
                for i in 0..r.columns.len() {
                    self.value(row.get(i).unwrap_or(&Value::Null));
                }
            }
            self.u64(r.rows_changed);
            self.u64(r.last_insert_id as u64);
        }
    }
}

pub fn encode_request(req: &Request) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(VERSION);
    w.u8(req.kind as u8);
    w.u64(req.id);
    w.str(&req.object.namespace);
    w.str(&req.object.name);
    match req.kind {
        Kind::Execute | Kind::DryRun => w.statements(&req.batch),
        Kind::ExecuteChecked => {
            w.statements(&req.batch);
            w.results(&req.expected);
        }
        Kind::ListObjects | Kind::DeleteObject | Kind::Ping => {}
    }
    w.0
}

pub fn encode_response(resp: &Response) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(VERSION);
    w.u64(resp.id);
    match &resp.reply {
        Reply::Results(r) => {
            w.u8(0);
            w.results(r);
        }
        Reply::Names(n) => {
            w.u8(1);
            w.u32(n.len());
            n.iter().for_each(|s| w.str(s));
        }
        Reply::Done => w.u8(2),
        Reply::Error(e) => {
            w.u8(3);
            encode_error(&mut w, e);
        }
    }
    w.0
}

fn encode_error(w: &mut Writer, e: &Error) {
    let (code, index, sqlite_code, kind, message) = match e {
        Error::Forbidden { index, reason } => (1, *index, 0, 0, reason.clone()),
        Error::Sqlite {
            index,
            kind,
            code,
            message,
        } => (2, *index, *code, kind_code(*kind), message.clone()),
        Error::LockTimeout(m) => (3, 0, 0, 0, m.clone()),
        Error::TransactionClosed(m) => (4, 0, 0, 0, m.clone()),
        Error::SerializationFailure(m) => (5, 0, 0, 0, m.clone()),
        Error::Unavailable(m) => (6, 0, 0, 0, m.clone()),
        Error::UnknownOutcome(m) => (7, 0, 0, 0, m.clone()),
        Error::Invalid(m) => (8, 0, 0, 0, m.clone()),
        Error::Io(m) => (9, 0, 0, 0, m.clone()),
        Error::ShuttingDown => (10, 0, 0, 0, String::new()),
    };
    w.u8(code);
    w.u32(index);
    w.i32(sqlite_code);
    w.u8(kind);
    w.str(&message);
}

fn kind_code(k: SqliteErrorKind) -> u8 {
    match k {
        SqliteErrorKind::Error => 0,
        SqliteErrorKind::Constraint(c) => {
            16 + match c {
                ConstraintKind::Unique => 0,
                ConstraintKind::PrimaryKey => 1,
                ConstraintKind::ForeignKey => 2,
                ConstraintKind::NotNull => 3,
                ConstraintKind::Check => 4,
                ConstraintKind::Other => 5,
            }
        }
        SqliteErrorKind::Busy => 1,
        SqliteErrorKind::ReadOnly => 2,
        SqliteErrorKind::Interrupted => 3,
        SqliteErrorKind::TooBig => 4,
        SqliteErrorKind::Mismatch => 5,
        SqliteErrorKind::Range => 6,
        SqliteErrorKind::Full => 7,
        SqliteErrorKind::Corrupt => 8,
        SqliteErrorKind::Other => 9,
    }
}

fn kind_from_code(b: u8) -> SqliteErrorKind {
    use ConstraintKind as C;
    match b {
        0 => SqliteErrorKind::Error,
        1 => SqliteErrorKind::Busy,
        2 => SqliteErrorKind::ReadOnly,
        3 => SqliteErrorKind::Interrupted,
        4 => SqliteErrorKind::TooBig,
        5 => SqliteErrorKind::Mismatch,
        6 => SqliteErrorKind::Range,
        7 => SqliteErrorKind::Full,
        8 => SqliteErrorKind::Corrupt,
        16 => SqliteErrorKind::Constraint(C::Unique),
        17 => SqliteErrorKind::Constraint(C::PrimaryKey),
        18 => SqliteErrorKind::Constraint(C::ForeignKey),
        19 => SqliteErrorKind::Constraint(C::NotNull),
        20 => SqliteErrorKind::Constraint(C::Check),
        21 => SqliteErrorKind::Constraint(C::Other),
        _ => SqliteErrorKind::Other,
    }
}

// ---------------------------------------------------------------- decoding

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if n > self.0.len() {
            return Err(FrameError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<usize, FrameError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }
    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, FrameError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    /// A count of items each at least `min_size` bytes long, bounded by what remains.
    fn count(&mut self, min_size: usize) -> Result<usize, FrameError> {
        let n = self.u32()?;
        if n.saturating_mul(min_size.max(1)) > self.0.len() {
            return Err(FrameError("count exceeds frame"));
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8], FrameError> {
        let n = self.u32()?;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, FrameError> {
        std::str::from_utf8(self.bytes()?)
            .map(str::to_owned)
            .map_err(|_| FrameError("text is not UTF-8"))
    }
    fn value(&mut self) -> Result<Value, FrameError> {
        Ok(match self.u8()? {
            0 => Value::Null,
            1 => Value::Integer(i64::from_le_bytes(self.array()?)),
            2 => Value::Real(f64::from_bits(u64::from_le_bytes(self.array()?))),
            3 => Value::Text(self.string()?),
            4 => Value::Blob(bytes::Bytes::copy_from_slice(self.bytes()?)),
            _ => return Err(FrameError("unknown value tag")),
        })
    }
    fn statements(&mut self) -> Result<Vec<Statement>, FrameError> {
        let n = self.count(8)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let sql = self.string()?;
            let np = self.count(1)?;
            let mut params = Vec::with_capacity(np);
            for _ in 0..np {
                params.push(self.value()?);
            }
            out.push(Statement::with_params(sql, params));
        }
        Ok(out)
    }
    fn results(&mut self) -> Result<Vec<StatementResult>, FrameError> {
        let n = self.count(24)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let nc = self.count(4)?;
            let mut columns = Vec::with_capacity(nc);
            for _ in 0..nc {
                columns.push(self.string()?);
            }
            // Each row holds `nc` values of at least one byte; zero-column rows are free, so
            // bound their count separately.
            let nr = self.count(nc)?;
            if nc == 0 && nr > MAX_FRAME {
                return Err(FrameError("row count exceeds frame"));
            }
            let mut rows = Vec::with_capacity(if nc == 0 { 0 } else { nr });
            for _ in 0..nr {
                let mut row = Vec::with_capacity(nc);
                for _ in 0..nc {
                    row.push(self.value()?);
                }
                rows.push(row);
            }
            let rows_changed = self.u64()?;
            let last_insert_id = self.u64()? as i64;
            out.push(StatementResult {
                columns,
                rows,
                rows_changed,
                last_insert_id,
            });
        }
        Ok(out)
    }
    fn end(&self) -> Result<(), FrameError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(FrameError("trailing bytes"))
        }
    }
}

/// The request id of a frame that failed to decode, if its header is intact, so the error
/// reply can still be matched.
pub fn peek_request_id(frame: &[u8]) -> Option<u64> {
    let mut r = Reader(frame.get(2..)?);
    r.u64().ok()
}

pub fn decode_request(frame: &[u8]) -> Result<Request, FrameError> {
    let mut r = Reader(frame);
    if r.u8()? != VERSION {
        return Err(FrameError("unsupported version"));
    }
    let kind = Kind::from_u8(r.u8()?).ok_or(FrameError("unknown request kind"))?;
    let id = r.u64()?;
    let object = ObjectId::new(r.string()?, r.string()?);
    let (batch, expected) = match kind {
        Kind::Execute | Kind::DryRun => (r.statements()?, Vec::new()),
        Kind::ExecuteChecked => (r.statements()?, r.results()?),
        Kind::ListObjects | Kind::DeleteObject | Kind::Ping => (Vec::new(), Vec::new()),
    };
    r.end()?;
    Ok(Request {
        id,
        kind,
        object,
        batch,
        expected,
    })
}

pub fn decode_response(frame: &[u8]) -> Result<Response, FrameError> {
    let mut r = Reader(frame);
    if r.u8()? != VERSION {
        return Err(FrameError("unsupported version"));
    }
    let id = r.u64()?;
    let reply = match r.u8()? {
        0 => Reply::Results(r.results()?),
        1 => {
            let n = r.count(4)?;
            let mut names = Vec::with_capacity(n);
            for _ in 0..n {
                names.push(r.string()?);
            }
            Reply::Names(names)
        }
        2 => Reply::Done,
        3 => Reply::Error(decode_error(&mut r)?),
        _ => return Err(FrameError("unknown reply tag")),
    };
    r.end()?;
    Ok(Response { id, reply })
}

fn decode_error(r: &mut Reader<'_>) -> Result<Error, FrameError> {
    let code = r.u8()?;
    let index = r.u32()?;
    let sqlite_code = r.i32()?;
    let kind = r.u8()?;
    let m = r.string()?;
    Ok(match code {
        1 => Error::Forbidden { index, reason: m },
        2 => Error::Sqlite {
            index,
            kind: kind_from_code(kind),
            code: sqlite_code,
            message: m,
        },
        3 => Error::LockTimeout(m),
        4 => Error::TransactionClosed(m),
        5 => Error::SerializationFailure(m),
        6 => Error::Unavailable(m),
        7 => Error::UnknownOutcome(m),
        8 => Error::Invalid(m),
        9 => Error::Io(m),
        10 => Error::ShuttingDown,
        _ => Error::Invalid(format!("node sent unknown error code {code}: {m}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_request(kind: Kind) -> Request {
        Request {
            id: u64::MAX - 3,
            kind,
            object: ObjectId::new("redis/0", "shard-7/é"),
            batch: vec![
                Statement::new("SELECT ?1, ?2, ?3, ?4, ?5")
                    .bind(i64::MIN)
                    .bind(f64::MIN_POSITIVE)
                    .bind("tëxt")
                    .bind(vec![0u8, 255])
                    .bind(Value::Null),
                Statement::new("SELECT 1"),
            ],
            expected: if kind == Kind::ExecuteChecked {
                vec![sample_result()]
            } else {
                Vec::new()
            },
        }
    }

    fn sample_result() -> StatementResult {
        StatementResult {
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![Value::Integer(i64::MAX), Value::Blob(vec![1, 2, 3].into())],
                vec![Value::Real(-0.5), Value::Text(String::new())],
            ],
            rows_changed: 7,
            last_insert_id: -9,
        }
    }

    #[test]
    fn requests_round_trip() {
        for kind in [
            Kind::Execute,
            Kind::DryRun,
            Kind::ExecuteChecked,
            Kind::ListObjects,
            Kind::DeleteObject,
            Kind::Ping,
        ] {
            let mut req = sample_request(kind);
            if !matches!(kind, Kind::Execute | Kind::DryRun | Kind::ExecuteChecked) {
                req.batch.clear();
            }
            let bytes = encode_request(&req);
            assert_eq!(decode_request(&bytes).unwrap(), req);
            assert_eq!(peek_request_id(&bytes), Some(req.id));
        }
    }

    #[test]
    fn replies_round_trip() {
        let errors = [
            Error::Forbidden {
                index: 3,
                reason: "no".into(),
            },
            Error::Sqlite {
                index: 1,
                kind: SqliteErrorKind::Constraint(ConstraintKind::Unique),
                code: 2067,
                message: "UNIQUE constraint failed: t.u".into(),
            },
            Error::SerializationFailure("x".into()),
            Error::ShuttingDown,
        ];
        let mut replies = vec![
            Reply::Results(vec![sample_result(), StatementResult::default()]),
            Reply::Names(vec!["a".into(), "b/c".into()]),
            Reply::Done,
        ];
        replies.extend(errors.into_iter().map(Reply::Error));
        for reply in replies {
            let resp = Response { id: 42, reply };
            assert_eq!(decode_response(&encode_response(&resp)).unwrap(), resp);
        }
    }

    #[test]
    fn bundles_split_into_their_frames() {
        let frames = vec![vec![1u8, 2, 3], Vec::new(), vec![VERSION; 9]];
        let b = encode_bundle(&frames);
        let got: Vec<Vec<u8>> = split_bundle(&b)
            .unwrap()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(got, frames);
        assert_eq!(
            split_bundle(&[VERSION, 5]).unwrap(),
            vec![&[VERSION, 5][..]]
        );
        assert!(split_bundle(&[BUNDLE, 255, 255, 255, 255]).is_err());
        assert!(split_bundle(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn hostile_frames_are_refused_without_allocating() {
        // A batch claiming 2^32-1 statements in a 30-byte frame.
        let mut frame = vec![VERSION, Kind::Execute as u8];
        frame.extend_from_slice(&1u64.to_le_bytes());
        frame.extend_from_slice(&0u32.to_le_bytes());
        frame.extend_from_slice(&0u32.to_le_bytes());
        frame.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_request(&frame),
            Err(FrameError("count exceeds frame"))
        );
        // Every truncation of a valid frame fails cleanly.
        let good = encode_request(&sample_request(Kind::ExecuteChecked));
        for n in 0..good.len() {
            assert!(decode_request(&good[..n]).is_err());
        }
        let good = encode_response(&Response {
            id: 1,
            reply: Reply::Results(vec![sample_result()]),
        });
        for n in 0..good.len() {
            assert!(decode_response(&good[..n]).is_err());
        }
        assert!(decode_request(&[9, 1]).is_err());
    }
}
