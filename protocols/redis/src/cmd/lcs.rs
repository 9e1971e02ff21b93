//! LCS: the longest common subsequence of two strings.
//!
//! Follows `lcsCommand` (t_string.c) of Redis 7: the classic dynamic-programming table of
//! `u32` lengths, walked back from the ends of both strings, so the matched ranges come out
//! last first. The table's size is checked against proto-max-bulk-len before it is allocated.

use bytes::Bytes;

use super::args::{int, is, syntax};
use crate::frame::{Reply, errors};
use crate::store::View;
use crate::store::view::CmdResult;

/// Redis's default proto-max-bulk-len, which also bounds the LCS table's bytes.
const MAX_TABLE_BYTES: usize = 512 * 1024 * 1024;

const TOO_BIG: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
const NO_MEMORY: &str = "ERR Insufficient memory, failed allocating transient memory for LCS";
const NOT_STRINGS: &str = "ERR The specified keys must contain string values";
const LEN_AND_IDX: &str = "ERR If you want both the length and indexes, please just use IDX.";

/// One run of consecutive matched bytes: inclusive ranges in each string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub a: (usize, usize),
    pub b: (usize, usize),
}

impl Match {
    pub fn run_len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// The longest common subsequence of two strings, with its runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lcs {
    pub seq: Vec<u8>,
    /// Runs of at least the minimum length, from the ends of the strings backwards.
    pub matches: Vec<Match>,
}

/// The number of `u32` cells in the table for strings of these lengths, refused (with
/// Redis 7.2's error) when the table would exceed proto-max-bulk-len bytes.
fn table_cells(alen: usize, blen: usize) -> Result<usize, Reply> {
    alen.checked_add(1)
        .zip(blen.checked_add(1))
        .and_then(|(h, w)| h.checked_mul(w))
        .filter(|c| {
            c.checked_mul(std::mem::size_of::<u32>())
                .is_some_and(|bytes| bytes <= MAX_TABLE_BYTES)
        })
        .ok_or_else(|| Reply::err(TOO_BIG))
}

/// Compute the LCS of `a` and `b` as Redis does, keeping the runs of at least `min_len`
/// bytes (0 keeps all). Refuses, with Redis's error, a table over proto-max-bulk-len.
pub fn compute(a: &[u8], b: &[u8], min_len: u64) -> Result<Lcs, Reply> {
    let width = b.len().checked_add(1).ok_or_else(|| Reply::err(TOO_BIG))?;
    let cells = table_cells(a.len(), b.len())?;
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact(cells)
        .map_err(|_| Reply::err(NO_MEMORY))?;
    t.resize(cells, 0);

    // t[i * width + j] is the LCS length of a[..i] and b[..j]; row and column 0 stay 0.
    for i in 1..=a.len() {
        let (prev, row) = t[(i - 1) * width..(i + 1) * width].split_at_mut(width);
        let ca = a[i - 1];
        for j in 1..width {
            row[j] = if ca == b[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(row[j - 1])
            };
        }
    }

    let total = t[cells - 1] as usize;
    let mut seq = vec![0u8; total];
    let mut matches = Vec::new();
    let mut cur: Option<Match> = None;
    let keep = |m: Match, out: &mut Vec<Match>| {
        if min_len == 0 || m.run_len() as u64 >= min_len {
            out.push(m);
        }
    };
    let (mut i, mut j, mut idx) = (a.len(), b.len(), total);
    while i > 0 && j > 0 && idx > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            seq[idx - 1] = a[i - 1];
            match &mut cur {
                None => {
                    cur = Some(Match {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                Some(m) if m.a.0 == i && m.b.0 == j => {
                    m.a.0 -= 1;
                    m.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            if cur.is_some_and(|m| m.a.0 == 0 || m.b.0 == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * width + j] > t[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = cur.is_some();
        }
        if emit && let Some(m) = cur.take() {
            keep(m, &mut matches);
        }
    }
    // The walk emits the last run on reaching the start of either string; a run left open
    // (only possible had the walk stopped early) is emitted too, as Redis would.
    if let Some(m) = cur {
        keep(m, &mut matches);
    }
    Ok(Lcs { seq, matches })
}

fn string_arg(v: &mut View, key: &Bytes) -> Result<Bytes, Reply> {
    match v.get_str(key) {
        Ok(s) => Ok(s.unwrap_or_default()),
        Err(Reply::Error(e)) if e == errors::WRONGTYPE => Err(Reply::err(NOT_STRINGS)),
        Err(e) => Err(e),
    }
}

fn pair(r: (usize, usize)) -> Reply {
    Reply::Array(vec![Reply::Int(r.0 as i64), Reply::Int(r.1 as i64)])
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`.
pub fn lcs(v: &mut View, a: &[Bytes]) -> CmdResult {
    // Redis looks both keys up before it reads the options.
    let x = string_arg(v, &a[1])?;
    let y = string_arg(v, &a[2])?;

    let (mut get_len, mut get_idx, mut with_len) = (false, false, false);
    let mut min_len = 0u64;
    let mut k = 3;
    while k < a.len() {
        let opt = &a[k];
        if is(opt, "IDX") {
            get_idx = true;
        } else if is(opt, "LEN") {
            get_len = true;
        } else if is(opt, "WITHMATCHLEN") {
            with_len = true;
        } else if is(opt, "MINMATCHLEN") && k + 1 < a.len() {
            // Negative minimums count as 0: every run.
            min_len = u64::try_from(int(&a[k + 1])?).unwrap_or(0);
            k += 1;
        } else {
            return Err(syntax());
        }
        k += 1;
    }
    if get_idx && get_len {
        return Err(Reply::err(LEN_AND_IDX));
    }

    let r = compute(&x, &y, min_len)?;
    Ok(if get_idx {
        let matches = r
            .matches
            .iter()
            .map(|m| {
                let mut e = vec![pair(m.a), pair(m.b)];
                if with_len {
                    e.push(Reply::Int(m.run_len() as i64));
                }
                Reply::Array(e)
            })
            .collect();
        Reply::Map(vec![
            (Reply::bulk("matches"), Reply::Array(matches)),
            (Reply::bulk("len"), Reply::Int(r.seq.len() as i64)),
        ])
    } else if get_len {
        Reply::Int(r.seq.len() as i64)
    } else {
        Reply::Bulk(r.seq.into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(a: (usize, usize), b: (usize, usize)) -> Match {
        Match { a, b }
    }

    #[test]
    fn redis_documented_example() {
        let r = compute(b"ohmytext", b"mynewtext", 0).unwrap();
        assert_eq!(r.seq, b"mytext");
        assert_eq!(r.matches, vec![m((4, 7), (5, 8)), m((2, 3), (0, 1))]);
        assert_eq!(
            r.matches.iter().map(Match::run_len).collect::<Vec<_>>(),
            [4, 2]
        );
        let r = compute(b"ohmytext", b"mynewtext", 4).unwrap();
        assert_eq!(r.matches, vec![m((4, 7), (5, 8))]);
        let r = compute(b"ohmytext", b"mynewtext", 5).unwrap();
        assert!(r.matches.is_empty());
        assert_eq!(r.seq.len(), 6);
    }

    #[test]
    fn empty_and_disjoint() {
        for (a, b) in [
            (&b""[..], &b""[..]),
            (b"abc", b""),
            (b"", b"abc"),
            (b"abc", b"xyz"),
        ] {
            let r = compute(a, b, 0).unwrap();
            assert!(r.seq.is_empty() && r.matches.is_empty());
        }
        let r = compute(b"abc", b"abc", 0).unwrap();
        assert_eq!(r.seq, b"abc");
        assert_eq!(r.matches, vec![m((0, 2), (0, 2))]);
    }

    #[test]
    fn single_byte_runs() {
        let r = compute(b"axbxc", b"abc", 0).unwrap();
        assert_eq!(r.seq, b"abc");
        assert_eq!(
            r.matches,
            vec![m((4, 4), (2, 2)), m((2, 2), (1, 1)), m((0, 0), (0, 0))]
        );
    }

    #[test]
    fn table_is_bounded() {
        // 16384 * 8192 cells of 4 bytes is exactly 512 MiB: allowed; one row more is not.
        assert_eq!(table_cells(16383, 8191), Ok(16384 * 8192));
        assert_eq!(table_cells(16384, 8191), Err(Reply::err(TOO_BIG)));
        assert_eq!(table_cells(usize::MAX, 0), Err(Reply::err(TOO_BIG)));
        assert_eq!(table_cells(1 << 40, 1 << 40), Err(Reply::err(TOO_BIG)));
        assert_eq!(table_cells(0, usize::MAX / 2), Err(Reply::err(TOO_BIG)));
        // Refused before anything is allocated.
        let (a, b) = (vec![b'a'; 16384], vec![b'a'; 8192]);
        assert_eq!(compute(&a, &b, 0), Err(Reply::err(TOO_BIG)));
    }
}
