//! The HyperLogLog sketch in Redis's own string layout: a 16-byte header (`HYLL`, encoding,
//! 3 unused bytes, cached cardinality little endian whose top bit marks it stale), then either
//! 16384 6-bit registers packed LSB first (dense) or run-length opcodes (sparse: ZERO
//! `00xxxxxx`, XZERO `01xxxxxx xxxxxxxx`, VAL `1vvvvvxx`), edited as Redis's `hllSparseSet`
//! edits them so the bytes match. Elements hash with MurmurHash64A (seed 0xadc83b19); the
//! estimate is Ertl's, as Redis's `hllCount`.

pub(super) const HDR: usize = 16;
const P: u32 = 14;
const Q: usize = 64 - P as usize;
pub(super) const REGISTERS: usize = 1 << P;
const DENSE_LEN: usize = HDR + (REGISTERS * 6).div_ceil(8);
pub(super) const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
/// Redis's `hll-sparse-max-bytes` default: a longer sparse string turns dense.
const SPARSE_MAX_BYTES: usize = 3000;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The HLL's bytes are not a valid sketch.
#[derive(Debug)]
pub(super) struct Corrupt;

pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the length of its `000...1` pattern.
pub(super) fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn is_zero(op: u8) -> bool {
    op & 0xc0 == 0
}

fn is_xzero(op: u8) -> bool {
    op & 0xc0 == 0x40
}

fn val_value(op: u8) -> u8 {
    ((op >> 2) & 0x1f) + 1
}

fn val_len(op: u8) -> usize {
    usize::from(op & 0x3) + 1
}

fn val_op(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len as u8 - 1)
}

/// The opcode at `p`: (registers it covers, its length in bytes).
fn op_at(h: &[u8], p: usize) -> (usize, usize) {
    let op = h[p];
    if is_zero(op) {
        (usize::from(op & 0x3f) + 1, 1)
    } else if is_xzero(op) {
        let lo = h.get(p + 1).copied().unwrap_or(0);
        (((usize::from(op & 0x3f) << 8) | usize::from(lo)) + 1, 2)
    } else {
        (val_len(op), 1)
    }
}

fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        seq.push((l >> 8) as u8 | 0x40);
        seq.push((l & 0xff) as u8);
    } else {
        seq.push(len as u8 - 1);
    }
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u16::from(regs.get(byte).copied().unwrap_or(0));
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u16::from(val);
    if let Some(b) = regs.get_mut(byte) {
        *b = ((u16::from(*b) & !(63 << fb)) | (v << fb)) as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b = ((u16::from(*b) & !(63 >> (8 - fb))) | (v >> (8 - fb))) as u8;
    }
}

/// Every register of a dense sketch in order: each 3 bytes pack 4 registers, LSB first.
fn dense_registers(h: &[u8]) -> impl Iterator<Item = u8> + '_ {
    h[HDR..].chunks_exact(3).flat_map(|b| {
        [
            b[0] & 63,
            (b[0] >> 6 | b[1] << 2) & 63,
            (b[1] >> 4 | b[2] << 4) & 63,
            b[2] >> 2,
        ]
    })
}

/// Raise register `i` to `count` if lower; true when it changed.
fn dense_set(h: &mut [u8], i: usize, count: u8) -> bool {
    let regs = &mut h[HDR..];
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// An empty sketch: sparse, one XZERO covering every register, cached cardinality 0.
pub(super) fn new_sparse() -> Vec<u8> {
    let mut h = Vec::with_capacity(HDR + 2);
    h.extend_from_slice(b"HYLL");
    h.push(SPARSE);
    h.resize(HDR, 0);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_zeros(&mut h, n);
        left -= n;
    }
    h
}

pub(super) fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_LEN)
}

pub(super) fn invalidate(h: &mut [u8]) {
    h[15] |= 0x80;
}

/// Rewrite a sparse sketch as dense, keeping the header (and its cached cardinality).
pub(super) fn to_dense(h: &mut Vec<u8>) -> Result<(), Corrupt> {
    if h[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HDR].copy_from_slice(&h[..HDR]);
    dense[4] = DENSE;
    let mut idx = 0;
    let mut p = HDR;
    while p < h.len() {
        let (span, len) = op_at(h, p);
        if !is_zero(h[p]) && !is_xzero(h[p]) {
            if idx + span > REGISTERS {
                break;
            }
            let val = val_value(h[p]);
            for i in idx..idx + span {
                dense_put(&mut dense[HDR..], i, val);
            }
        }
        idx += span;
        p += len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    *h = dense;
    Ok(())
}

/// Raise register `index` of a sparse sketch to `count`, editing the opcodes in place as
/// Redis's `hllSparseSet` does (so the bytes match), promoting to dense when needed.
fn sparse_set(h: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(h, index, count);
    }
    let mut p = HDR;
    let (mut first, mut span) = (0, 0);
    let mut prev = None;
    while p < h.len() {
        let (s, len) = op_at(h, p);
        span = s;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += len;
        first += span;
    }
    if span == 0 || p >= h.len() {
        return Err(Corrupt);
    }
    let op = h[p];
    let (zero, xzero) = (is_zero(op), is_xzero(op));
    let runlen = span;
    if !zero && !xzero {
        if val_value(op) >= count {
            return Ok(false);
        }
        if runlen == 1 {
            h[p] = val_op(count, 1);
            merge_adjacent(h, prev.unwrap_or(HDR));
            return Ok(true);
        }
    }
    if zero && runlen == 1 {
        h[p] = val_op(count, 1);
        merge_adjacent(h, prev.unwrap_or(HDR));
        return Ok(true);
    }
    let last = first + span - 1;
    let mut seq = Vec::with_capacity(5);
    if zero || xzero {
        if index != first {
            push_zeros(&mut seq, index - first);
        }
        seq.push(val_op(count, 1));
        if index != last {
            push_zeros(&mut seq, last - index);
        }
    } else {
        let cur = val_value(op);
        if index != first {
            seq.push(val_op(cur, index - first));
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.push(val_op(cur, last - index));
        }
    }
    let old_len = if xzero { 2 } else { 1 };
    if seq.len() > old_len && h.len() + seq.len() - old_len > SPARSE_MAX_BYTES {
        return promote(h, index, count);
    }
    let end = (p + old_len).min(h.len());
    h.splice(p..end, seq);
    merge_adjacent(h, prev.unwrap_or(HDR));
    Ok(true)
}

/// Merge runs of equal VAL opcodes, scanning at most five opcodes from `p`.
fn merge_adjacent(h: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < h.len() && scan > 0 {
        scan -= 1;
        let op = h[p];
        if is_xzero(op) {
            p += 2;
            continue;
        }
        if is_zero(op) {
            p += 1;
            continue;
        }
        if let Some(&next) = h.get(p + 1)
            && next & 0x80 != 0
            && val_value(op) == val_value(next)
        {
            let len = val_len(op) + val_len(next);
            if len <= VAL_MAX_LEN {
                h[p + 1] = val_op(val_value(op), len);
                h.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate(h);
}

fn promote(h: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(h)?;
    Ok(dense_set(h, index, count))
}

/// Raise register `index` to `count` in either encoding.
pub(super) fn set_register(h: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if h[4] == DENSE {
        Ok(dense_set(h, index, count))
    } else {
        sparse_set(h, index, count)
    }
}

/// Fold the sketch's registers into `max` (register-wise maximum).
pub(super) fn merge_into(max: &mut [u8; REGISTERS], h: &[u8]) -> Result<(), Corrupt> {
    if h[4] == DENSE {
        for (m, r) in max.iter_mut().zip(dense_registers(h)) {
            *m = (*m).max(r);
        }
        return Ok(());
    }
    let (mut i, mut p) = (0, HDR);
    while p < h.len() {
        let (span, len) = op_at(h, p);
        if !is_zero(h[p]) && !is_xzero(h[p]) {
            if i + span > REGISTERS {
                break;
            }
            let val = val_value(h[p]);
            for m in &mut max[i..i + span] {
                *m = (*m).max(val);
            }
        }
        i += span;
        p += len;
    }
    if i != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// The register histogram of a sketch.
pub(super) fn histogram(h: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut histo = [0u32; 64];
    if h[4] == DENSE {
        for r in dense_registers(h) {
            histo[usize::from(r)] += 1;
        }
        return Ok(histo);
    }
    let (mut idx, mut p) = (0, HDR);
    while p < h.len() {
        let (span, len) = op_at(h, p);
        let val = if is_zero(h[p]) || is_xzero(h[p]) {
            0
        } else {
            val_value(h[p])
        };
        histo[usize::from(val)] += span as u32;
        idx += span;
        p += len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(histo)
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// Ertl's estimator over a register histogram, as Redis's `hllCount`.
pub(super) fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_reference_values() {
        // Vectors of MurmurHash64A (seed 0) from the reference implementation.
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"a", 0xadc8_3b19), murmur64a(b"b", 0xadc8_3b19));
    }

    #[test]
    fn empty_sketch_counts_zero_and_grows_sparse() {
        let mut h = new_sparse();
        assert_eq!(h.len(), HDR + 2);
        assert_eq!(estimate(&histogram(&h).unwrap()), 0);
        for i in 0..200u32 {
            let (idx, c) = pattern(&i.to_le_bytes());
            set_register(&mut h, idx, c).unwrap();
        }
        assert_eq!(h[4], SPARSE);
        let n = estimate(&histogram(&h).unwrap());
        assert!((190..=210).contains(&n), "{n}");
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, &h).unwrap();
        let mut dense = h.clone();
        to_dense(&mut dense).unwrap();
        assert_eq!(estimate(&histogram(&dense).unwrap()), n);
        let unpacked: Vec<u8> = (0..REGISTERS)
            .map(|i| dense_get(&dense[HDR..], i))
            .collect();
        assert_eq!(dense_registers(&dense).collect::<Vec<_>>(), unpacked);
        assert_eq!(unpacked, max);
    }

    #[test]
    fn large_counts_promote_to_dense() {
        let mut h = new_sparse();
        for i in 0..5000u32 {
            let (idx, c) = pattern(&i.to_be_bytes());
            set_register(&mut h, idx, c).unwrap();
        }
        assert_eq!(h[4], DENSE);
        assert_eq!(h.len(), DENSE_LEN);
        let n = estimate(&histogram(&h).unwrap()) as i64;
        assert!((n - 5000).abs() < 200, "{n}");
    }

    #[test]
    fn corrupt_sketches_are_errors_not_panics() {
        for bad in [
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f".to_vec(),
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff".to_vec(),
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x00".to_vec(),
        ] {
            assert!(is_hll(&bad));
            let mut h = bad.clone();
            let _ = set_register(&mut h, 16383, 5);
            let _ = set_register(&mut h.clone(), 0, 40);
            let _ = histogram(&bad);
            let _ = merge_into(&mut [0; REGISTERS], &bad);
            let _ = to_dense(&mut bad.clone());
        }
        // Random opcode soup after a sparse header: every path answers, none panics.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut h = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
            let len = (next() % 40) as usize;
            h.extend((0..len).map(|_| next() as u8));
            let _ = histogram(&h);
            let _ = merge_into(&mut [0; REGISTERS], &h);
            for _ in 0..4 {
                let idx = (next() % REGISTERS as u64) as usize;
                let count = (next() % 51) as u8 + 1;
                if set_register(&mut h, idx, count).is_err() {
                    break;
                }
            }
        }
        assert!(!is_hll(b"HYLL\x00short"));
        assert!(!is_hll(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"));
    }
}
