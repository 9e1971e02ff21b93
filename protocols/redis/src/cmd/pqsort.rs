//! Redis's partial quicksort (`pqsort`, from NetBSD's qsort): sorts only as much as needed to
//! put the elements of `lrange..=rrange` in place. SORT ... LIMIT and GEO ... COUNT use it, so
//! the order of equal elements there is this algorithm's, which the port keeps step for step.

use std::cmp::Ordering;

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Sort `v` enough that positions `lrange..=rrange` hold what a full sort would put there.
/// (`rrange` may be -1, as Redis passes for an empty LIMIT.)
pub fn pqsort<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> Ordering, lrange: i64, rrange: i64) {
    let n = v.len();
    run(v, 0, n, &cmp, lrange, rrange);
}

/// Whether `[start, start + len)` holds none of `l..=r`.
fn outside(start: usize, len: usize, l: i64, r: i64) -> bool {
    let (first, last) = (start as i64, (start + len) as i64 - 1);
    (l < first && r < first) || (l > last && r > last)
}

fn run<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
    l: i64,
    r: i64,
) {
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) == Ordering::Greater {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c == Ordering::Greater {
                    break;
                }
                if c == Ordering::Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[a]);
                if c == Ordering::Less {
                    break;
                }
                if c == Ordering::Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let k = (pa - a).min(pb - pa);
        vecswap(v, a, pb - k, k);
        let k = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - k, k);
        let left = pb - pa;
        if left > 1 && !outside(a, left, l, r) {
            run(v, a, left, cmp, l, r);
        }
        let right = pd - pc;
        if right > 1 {
            a = pn - right;
            n = right;
            if !outside(a, n, l, r) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_the_requested_range() {
        let mut seed = 12345u64;
        for len in [0usize, 1, 2, 6, 7, 8, 40, 41, 100, 500] {
            let mut v: Vec<u64> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed % 50
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort();
            if len == 0 {
                pqsort(&mut v, |a, b| a.cmp(b), 0, 0);
                continue;
            }
            let (l, r) = (len / 3, (len / 2).max(len / 3));
            pqsort(&mut v, |a, b| a.cmp(b), l as i64, r as i64);
            assert_eq!(v[l..=r], sorted[l..=r], "len {len}");
        }
    }
}
