//! Dedicated event-loop threads: each runs a single-threaded runtime, so a connection
//! placed on one never migrates and a request and its reply cost no cross-thread wake-ups.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// A thread running a single-threaded runtime until the front-end is dropped.
pub struct EventLoop {
    handle: Handle,
    /// Dropped with the front-end: the thread then leaves its runtime and ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl EventLoop {
    /// `count` loops on threads named `{name}-loop-{i}`.
    pub fn start_many(name: &str, count: usize) -> anyhow::Result<Vec<Self>> {
        (0..count)
            .map(|i| Self::start(format!("{name}-loop-{i}")))
            .collect()
    }

    fn start(thread_name: String) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Self {
            handle,
            _stop: stop,
        })
    }

    /// Run `task` on this loop.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(task)
    }
}
