//! Scatter-gather: run per-object work concurrently, then merge.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;

use futures::{StreamExt, TryStreamExt};

/// Run `work` on every item with at most `concurrency` at once; results come back in the
/// order of `items`. The first error stops the gather and is returned.
pub async fn scatter_gather<T, R, E, F, Fut>(
    items: impl IntoIterator<Item = T>,
    concurrency: usize,
    work: F,
) -> Result<Vec<R>, E>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    futures::stream::iter(items)
        .map(work)
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// Merge runs that are each sorted by `cmp` into one sorted sequence, lazily (a k-way merge
/// over a heap), taking at most `limit` items.
pub fn merge_sorted<T, F>(runs: Vec<Vec<T>>, limit: Option<usize>, cmp: F) -> Vec<T>
where
    F: Fn(&T, &T) -> Ordering,
{
    struct Head<'c, T, F> {
        item: T,
        run: usize,
        order: &'c F,
    }
    impl<T, F: Fn(&T, &T) -> Ordering> PartialEq for Head<'_, T, F> {
        fn eq(&self, other: &Self) -> bool {
            self.cmp(other) == Ordering::Equal
        }
    }
    impl<T, F: Fn(&T, &T) -> Ordering> Eq for Head<'_, T, F> {}
    impl<T, F: Fn(&T, &T) -> Ordering> PartialOrd for Head<'_, T, F> {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl<T, F: Fn(&T, &T) -> Ordering> Ord for Head<'_, T, F> {
        fn cmp(&self, other: &Self) -> Ordering {
            // BinaryHeap is a max-heap: reverse, and keep equal items in run order.
            (self.order)(&other.item, &self.item).then(other.run.cmp(&self.run))
        }
    }

    let total: usize = runs.iter().map(Vec::len).sum();
    let limit = limit.unwrap_or(total).min(total);
    let mut iters: Vec<_> = runs.into_iter().map(Vec::into_iter).collect();
    let mut heap = BinaryHeap::with_capacity(iters.len());
    for (run, it) in iters.iter_mut().enumerate() {
        if let Some(item) = it.next() {
            heap.push(Head {
                item,
                run,
                order: &cmp,
            });
        }
    }
    let mut out = Vec::with_capacity(limit);
    while out.len() < limit {
        let Some(Head { item, run, .. }) = heap.pop() else {
            break;
        };
        out.push(item);
        if let Some(next) = iters[run].next() {
            heap.push(Head {
                item: next,
                run,
                order: &cmp,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gathers_in_input_order_and_stops_at_errors() {
        let out: Result<Vec<u32>, ()> =
            scatter_gather(0..10u32, 4, |i| async move { Ok(i * 2) }).await;
        assert_eq!(out.unwrap(), (0..10).map(|i| i * 2).collect::<Vec<_>>());
        let err: Result<Vec<u32>, u32> = scatter_gather(0..10u32, 4, |i| async move {
            if i == 3 { Err(i) } else { Ok(i) }
        })
        .await;
        assert_eq!(err, Err(3));
    }

    #[test]
    fn merges_sorted_runs_with_a_limit() {
        let runs = vec![vec![1, 4, 9], vec![2, 3, 10], vec![], vec![5]];
        assert_eq!(
            merge_sorted(runs.clone(), None, Ord::cmp),
            vec![1, 2, 3, 4, 5, 9, 10]
        );
        assert_eq!(merge_sorted(runs, Some(3), Ord::cmp), vec![1, 2, 3]);
        let desc = vec![vec![9, 4, 1], vec![10, 3]];
        assert_eq!(
            merge_sorted(desc, None, |a: &i32, b: &i32| b.cmp(a)),
            vec![10, 9, 4, 3, 1]
        );
    }
}
