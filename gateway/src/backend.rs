//! The backend the configuration names.

use std::sync::Arc;

use dotdo_backend::SharedBackend;
use dotdo_backend::embedded::EmbeddedBackend;
use dotdo_backend::remote::RemoteBackend;

use crate::config::{BackendConfig, BackendKind};

pub fn open(config: &BackendConfig) -> anyhow::Result<SharedBackend> {
    open_with_nodes(config).map(|(backend, _)| backend)
}

/// The backend, and for a remote one the client itself, whose nodes `/readyz` probes.
pub fn open_with_nodes(
    config: &BackendConfig,
) -> anyhow::Result<(SharedBackend, Option<Arc<RemoteBackend>>)> {
    match config.kind {
        BackendKind::Embedded => {
            let backend = EmbeddedBackend::open(config.embedded.clone())
                .map_err(|e| anyhow::anyhow!("opening the embedded backend: {e}"))?;
            Ok((backend, None))
        }
        BackendKind::Remote => {
            let backend = RemoteBackend::open(config.remote.clone())
                .map_err(|e| anyhow::anyhow!("opening the remote backend: {e}"))?;
            Ok((backend.clone(), Some(backend)))
        }
    }
}
