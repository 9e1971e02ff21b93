//! A node's address (`http://host:port` or `https://host[:port]`) and the byte stream to it,
//! TLS for `https` (Cloudflare's edge, or a TLS proxy in front of a store).

use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

pub(crate) type Stream = Either<TcpStream, TlsStream<TcpStream>>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(format!(
                "node URL {url} must start with http:// or https://"
            ));
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "node URL {url} must be scheme://host[:port] with no path"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (
                h.to_owned(),
                p.parse::<u16>()
                    .map_err(|_| format!("node URL {url} has a bad port"))?,
            ),
            _ => (rest.to_owned(), if tls { 443 } else { 80 }),
        };
        Ok(Self { tls, host, port })
    }

    /// `host:port` as the Host header and the WebSocket URL carry it.
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub(crate) fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/v1/ws", self.authority())
    }

    pub(crate) async fn connect(&self) -> Result<Stream, String> {
        let tcp = TcpStream::connect((self.host.trim_matches(['[', ']']), self.port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        if !self.tls {
            return Ok(Either::Left(tcp));
        }
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|e| format!("bad TLS server name {}: {e}", self.host))?;
        let tls = connector()?
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        Ok(Either::Right(tls))
    }
}

/// One TLS client configuration (the Mozilla roots) for every node.
fn connector() -> Result<TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| format!("TLS setup: {e}"))
    });
    config.clone().map(TlsConnector::from)
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn urls_parse() {
        let e = Endpoint::parse("http://dotdo-store-0.dotdo-store:7700").unwrap();
        assert_eq!(
            (e.tls, e.host.as_str(), e.port),
            (false, "dotdo-store-0.dotdo-store", 7700)
        );
        assert_eq!(e.ws_url(), "ws://dotdo-store-0.dotdo-store:7700/v1/ws");
        let e = Endpoint::parse("https://dotdo.example.workers.dev/").unwrap();
        assert_eq!((e.tls, e.port), (true, 443));
        assert_eq!(e.ws_url(), "wss://dotdo.example.workers.dev:443/v1/ws");
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://x:notaport").is_err());
        assert!(Endpoint::parse("http://x/path").is_err());
    }
}
