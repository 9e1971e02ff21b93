//! The backend the configuration names.

use dotdo_backend::SharedBackend;
use dotdo_backend::embedded::EmbeddedBackend;

use crate::config::{BackendConfig, BackendKind};

pub fn open(config: &BackendConfig) -> anyhow::Result<SharedBackend> {
    match config.kind {
        BackendKind::Embedded => {
            let backend = EmbeddedBackend::open(config.embedded.clone())
                .map_err(|e| anyhow::anyhow!("opening the embedded backend: {e}"))?;
            Ok(backend)
        }
    }
}
