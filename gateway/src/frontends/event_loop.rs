//! Dedicated event-loop threads: each runs a single-threaded runtime, so a connection
//! placed on one never migrates and a request and its reply cost no cross-thread wake-ups.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpStream;
use tokio::runtime::Handle;

/// A front-end's event loops; connections are placed on them round robin.
pub struct EventLoops {
    loops: Vec<EventLoop>,
    next: AtomicUsize,
}

impl EventLoops {
    /// `count` loops on threads named `{name}-loop-{i}`.
    pub fn start(name: &str, count: usize) -> anyhow::Result<Self> {
        let loops = (0..count)
            .map(|i| EventLoop::start(format!("{name}-loop-{i}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            loops,
            next: AtomicUsize::new(0),
        })
    }

    /// The runtime of loop `i`, if there is one.
    pub fn handle(&self, i: usize) -> Option<Handle> {
        self.loops.get(i).map(|l| l.handle.clone())
    }

    pub fn is_empty(&self) -> bool {
        self.loops.is_empty()
    }

    /// Serve `stream` with `serve` on the next loop, its socket moved to that loop's
    /// reactor, and wait for it to end (so the listener's connection count and shutdown see
    /// it). Without loops, serve it here.
    pub async fn run<F, Fut>(&self, stream: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let n = self.loops.len();
        if n == 0 {
            return serve(stream).await;
        }
        let event_loop = &self.loops[self.next.fetch_add(1, Ordering::Relaxed) % n];
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => return tracing::debug!(error = %e, "connection lost before its event loop"),
        };
        let task = event_loop.handle.spawn(async move {
            match TcpStream::from_std(std_stream) {
                Ok(stream) => serve(stream).await,
                Err(e) => tracing::debug!(error = %e, "connection lost before its event loop"),
            }
        });
        let _ = task.await;
    }
}

/// A thread running a single-threaded runtime until the front-end is dropped.
struct EventLoop {
    handle: Handle,
    /// Dropped with the front-end: the thread then leaves its runtime and ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl EventLoop {
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
}
