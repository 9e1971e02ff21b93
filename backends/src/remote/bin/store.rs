//! `dotdo-store`: a store node serving the remote wire from the embedded backend.
//!
//! The same server the gateway runs as `dotdo store`; this small binary lets the backend's
//! own tests and benchmarks start real store processes.
//!
//! Usage: `dotdo-store --listen 127.0.0.1:0 --data-dir DIR` with the shared secret in
//! `DOTDO_STORE_SECRET`. Prints `DOTDO_LISTENING {"store":"ADDR"}` once bound.

use std::process::ExitCode;

use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_backend::remote::server;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let mut listen = "127.0.0.1:7700".to_owned();
    let mut data_dir = "./data".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--listen", Some(v)) => listen = v,
            ("--data-dir", Some(v)) => data_dir = v,
            _ => {
                eprintln!("usage: dotdo-store --listen ADDR --data-dir DIR");
                return ExitCode::from(2);
            }
        }
    }
    let secret = std::env::var("DOTDO_STORE_SECRET").unwrap_or_default();
    if secret.is_empty() {
        eprintln!("dotdo-store: DOTDO_STORE_SECRET must be set");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dotdo-store: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&listen, &data_dir, secret)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dotdo-store: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(listen: &str, data_dir: &str, secret: String) -> Result<(), String> {
    let backend = EmbeddedBackend::open(EmbeddedConfig::with_data_dir(data_dir))
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("binding {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("DOTDO_LISTENING {{\"store\":\"{addr}\"}}");
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    #[cfg(unix)]
    {
        let on_term = cancel.clone();
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::spawn(async move {
                term.recv().await;
                on_term.cancel();
            });
        }
    }
    server::serve(listener, backend, secret, cancel)
        .await
        .map_err(|e| e.to_string())
}
