//! CLIENT PAUSE: a deadline until which every command (ALL) or every write (WRITE) waits.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Default)]
pub struct Pause {
    /// Set while a pause may be in force: commands check only this when nothing is paused.
    on: AtomicBool,
    state: Mutex<Option<(Instant, bool)>>,
    lifted: Notify,
}

impl Pause {
    #[inline]
    pub fn active(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// A pause is in force now (not only set and not yet seen to be over).
    pub fn in_force(&self) -> bool {
        self.active() && self.state.lock().is_some_and(|(u, _)| u > Instant::now())
    }

    /// Pause until `until`; `all` pauses every command, otherwise writes only. A later pause
    /// replaces an earlier one, as Redis's does (the longer deadline and the stricter mode win).
    pub fn pause(&self, until: Instant, all: bool) {
        let mut st = self.state.lock();
        let (until, all) = match *st {
            Some((u, a)) => (u.max(until), a || all),
            None => (until, all),
        };
        *st = Some((until, all));
        self.on.store(true, Ordering::Relaxed);
    }

    pub fn unpause(&self) {
        *self.state.lock() = None;
        self.on.store(false, Ordering::Relaxed);
        self.lifted.notify_waiters();
    }

    /// Wait while a pause holds a command that writes (`write`) or any command.
    pub async fn wait(&self, write: bool) {
        loop {
            let lifted = self.lifted.notified();
            tokio::pin!(lifted);
            lifted.as_mut().enable();
            let until = match *self.state.lock() {
                Some((until, all)) if all || write => until,
                _ => return,
            };
            if Instant::now() >= until {
                let mut st = self.state.lock();
                if st.is_some_and(|(u, _)| u <= Instant::now()) {
                    *st = None;
                    self.on.store(false, Ordering::Relaxed);
                }
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = lifted => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // Real time, short: the workspace's tokio has no `test-util` for paused clocks.
    #[tokio::test]
    async fn writes_wait_for_the_deadline_and_reads_pass() {
        let p = Pause::default();
        let start = Instant::now();
        p.pause(start + Duration::from_millis(50), false);
        p.wait(false).await;
        assert!(start.elapsed() < Duration::from_millis(50));
        p.wait(true).await;
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(!p.active());
        p.pause(Instant::now() + Duration::from_millis(20), true);
        assert!(p.in_force());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!p.in_force());
        p.pause(Instant::now() + Duration::from_secs(3600), true);
        let waiting = p.wait(false);
        p.unpause();
        waiting.await;
        assert!(start.elapsed() < Duration::from_secs(60));
    }
}
