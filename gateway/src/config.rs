//! The gateway's configuration: a TOML file, then `DOTDO_*` environment variables, then
//! `--set` flags, each overriding the one before. Every field has a documented default, so
//! `dotdo serve` with nothing configured runs every front-end on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use dotdo_backend::embedded::EmbeddedConfig;
use dotdo_backend::remote::RemoteConfig;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub backend: BackendConfig,
    /// `dotdo store`: serving objects to gateways over the remote wire.
    pub store: StoreConfig,
    pub admin: AdminConfig,
    pub limits: Limits,
    pub shutdown: ShutdownConfig,
    pub log: LogConfig,
    pub redis: RedisSection,
    pub postgres: PostgresSection,
    pub kafka: KafkaConfig,
}

/// `[postgres]`: the PostgreSQL front-end (wire protocol, SQL on objects).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresSection {
    /// Default true.
    pub enabled: bool,
    /// Default `127.0.0.1:5432`.
    pub listen: SocketAddr,
    /// Certificate and key for SSLRequest (in-band TLS). Default none: SSL is refused.
    pub tls: Option<TlsFiles>,
    /// SCRAM-SHA-256 users, `[{ name = "...", password = "..." }]`. Default none (trust).
    pub users: Vec<dotdo_postgres::User>,
    /// Trust clients on loopback without a password even when users are set. Default true.
    pub trust_loopback: bool,
    /// SCRAM iteration count. Default 4096.
    pub scram_iterations: usize,
    /// Rows per batch while loading COPY FROM STDIN. Default 5000.
    pub copy_batch_rows: usize,
    /// `"optimistic"` (replay with validation, 40001 on conflict) or `"locking"` (a block
    /// holds its database's writer). Default optimistic.
    pub transactions: dotdo_postgres::TransactionMode,
    /// Shards of a Citus distributed table when `create_distributed_table` names no
    /// `shard_count` (1 to 64000). Default 8.
    pub shard_count: u32,
    /// Threads that each run a single-threaded event loop for connections, placed round
    /// robin; 0 keeps connections on the shared runtime. Default 1: a query and its reply
    /// then cost no cross-thread wake-ups, and SQLite (on the objects' threads, or inline
    /// for short reads, see the embedded backend's direct-read budget) does the rest.
    pub event_loops: usize,
}

impl Default for PostgresSection {
    fn default() -> Self {
        let p = dotdo_postgres::Config::default();
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 5432)),
            tls: None,
            users: p.users,
            trust_loopback: p.trust_loopback,
            scram_iterations: p.scram_iterations,
            copy_batch_rows: p.copy_batch_rows,
            transactions: p.transactions,
            shard_count: p.shard_count,
            event_loops: 1,
        }
    }
}

impl PostgresSection {
    pub fn protocol_config(&self) -> dotdo_postgres::Config {
        dotdo_postgres::Config {
            users: self.users.clone(),
            trust_loopback: self.trust_loopback,
            scram_iterations: self.scram_iterations,
            copy_batch_rows: self.copy_batch_rows,
            transactions: self.transactions,
            shard_count: self.shard_count,
        }
    }

    pub fn plan(&self) -> ListenerPlan {
        ListenerPlan {
            name: "postgres",
            listen: self.listen,
            tls: self.tls.clone(),
            authenticated: !self.users.is_empty(),
            auth_hint: "postgres.users (SCRAM-SHA-256)",
        }
    }
}

/// The `[kafka]` section: the listener plus the Kafka front-end's own settings
/// (documented in `dotdo_kafka::Config`; unknown fields are errors there too).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, try_from = "RawKafkaConfig")]
pub struct KafkaConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `127.0.0.1:9092`.
    pub listen: SocketAddr,
    /// Default none (plaintext).
    pub tls: Option<TlsFiles>,
    #[serde(flatten)]
    pub protocol: dotdo_kafka::Config,
}

/// `[kafka]` as written: the listener fields, the rest kept for `dotdo_kafka::Config`
/// (serde's `flatten` cannot reject unknown fields, so they are checked in `try_from`).
#[derive(Deserialize)]
#[serde(default)]
struct RawKafkaConfig {
    enabled: bool,
    listen: SocketAddr,
    tls: Option<TlsFiles>,
    #[serde(flatten)]
    rest: Table,
}

impl Default for RawKafkaConfig {
    fn default() -> Self {
        let d = KafkaConfig::default();
        Self {
            enabled: d.enabled,
            listen: d.listen,
            tls: d.tls,
            rest: Table::new(),
        }
    }
}

impl TryFrom<RawKafkaConfig> for KafkaConfig {
    type Error = String;
    fn try_from(raw: RawKafkaConfig) -> Result<Self, String> {
        let protocol = Value::Table(raw.rest)
            .try_into()
            .map_err(|e| format!("{e}"))?;
        Ok(Self {
            enabled: raw.enabled,
            listen: raw.listen,
            tls: raw.tls,
            protocol,
        })
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            tls: None,
            protocol: dotdo_kafka::Config::default(),
        }
    }
}

/// Where objects live.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendConfig {
    pub kind: BackendKind,
    /// Settings of the embedded SQLite backend (`kind = "embedded"`; also the storage of
    /// `dotdo store`).
    pub embedded: EmbeddedConfig,
    /// Settings of the remote backend (`kind = "remote"`): the node URLs (`dotdo store`
    /// processes, or the workerd/Cloudflare worker) and the shared secret.
    pub remote: RemoteConfig,
}

/// `dotdo store`: a node holding objects for gateways whose backend is `remote`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Where the store serves the wire (and `/healthz`, `/readyz`). Default `127.0.0.1:7700`.
    pub listen: SocketAddr,
    /// The shared secret gateways present (`DOTDO_STORE__SECRET`). Required; never printed.
    /// Default none.
    #[serde(skip_serializing)]
    pub secret: Option<String>,
    /// Threads that read and write the gateways' sockets (SQLite work runs on each object's
    /// own thread). One keeps a request's hops on one thread, which measured faster than
    /// more; raise it when many gateways saturate it. 0 means one per core. Default 1.
    pub io_threads: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7700)),
            secret: None,
            io_threads: 1,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// SQLite files under `backend.embedded.data_dir`. Default.
    #[default]
    Embedded,
    /// Objects on `dotdo store` nodes or a workerd/Cloudflare worker (`backend.remote`).
    Remote,
}

/// `[redis]`: the Redis front-end's listener, and its own settings (`dotdo_redis::Config`,
/// flattened into this section: `databases`, `shards`, `requirepass`, `users`, ...).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, try_from = "RawRedisSection")]
pub struct RedisSection {
    /// Default true.
    pub enabled: bool,
    /// Default `127.0.0.1:6379`.
    pub listen: SocketAddr,
    /// Implicit TLS (as `redis-cli --tls`). Default none.
    pub tls: Option<TlsFiles>,
    #[serde(flatten)]
    pub protocol: dotdo_redis::Config,
}

/// `[redis]` as written: the listener fields, the rest for `dotdo_redis::Config`, which
/// rejects unknown fields (serde's `flatten` alone would let typos through).
#[derive(Deserialize)]
#[serde(default)]
struct RawRedisSection {
    enabled: bool,
    listen: SocketAddr,
    tls: Option<TlsFiles>,
    #[serde(flatten)]
    rest: Table,
}

impl Default for RawRedisSection {
    fn default() -> Self {
        let d = RedisSection::default();
        Self {
            enabled: d.enabled,
            listen: d.listen,
            tls: d.tls,
            rest: Table::new(),
        }
    }
}

impl TryFrom<RawRedisSection> for RedisSection {
    type Error = String;
    fn try_from(raw: RawRedisSection) -> Result<Self, String> {
        let protocol = Value::Table(raw.rest)
            .try_into()
            .map_err(|e| format!("redis: {e}"))?;
        Ok(Self {
            enabled: raw.enabled,
            listen: raw.listen,
            tls: raw.tls,
            protocol,
        })
    }
}

impl Default for RedisSection {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 6379)),
            tls: None,
            protocol: dotdo_redis::Config::default(),
        }
    }
}

/// The admin HTTP server: `/healthz`, `/readyz`, `/metrics`, and a status page at `/`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    pub enabled: bool,
    /// Default `127.0.0.1:9180`.
    pub listen: SocketAddr,
    /// Bearer token required for `/metrics` and `/`; required itself when `listen` is not
    /// loopback. `/healthz` and `/readyz` stay open for orchestrators' probes. Default none.
    pub token: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9180)),
            token: None,
        }
    }
}

/// Bounds applied to every front-end's listener.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Connections open at once per front-end; more are refused. Default 10 000.
    pub max_connections: usize,
    /// Time allowed for a TLS handshake. Default 10 000 ms.
    pub handshake_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            handshake_timeout_ms: 10_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// On SIGTERM/SIGINT, how long connections get to finish their work before they are cut.
    /// A second signal cuts them at once. Default 10 000 ms.
    pub drain_timeout_ms: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            drain_timeout_ms: 10_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `dotdo=debug`; `DOTDO_LOG` overrides it.
    /// Default `info`.
    pub filter: String,
    /// `text` or `json`. Default `text`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// TLS certificate and key, PEM files. With this set, the listener speaks TLS (rustls).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A listener as the gateway checks and binds it.
#[derive(Clone, Debug)]
pub struct ListenerPlan {
    pub name: &'static str,
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// Whether the front-end requires credentials from every client.
    pub authenticated: bool,
    /// How to configure authentication, for the error when it is missing.
    pub auth_hint: &'static str,
}

impl Config {
    /// Load from an optional file, then the environment, then `--set` overrides.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        sets: &[String],
    ) -> anyhow::Result<Self> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                text.parse::<Table>()
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => Table::new(),
        };
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("DOTDO_") else {
                continue;
            };
            // DOTDO_LOG and DOTDO_BIN are read elsewhere; only sectioned keys are settings.
            if !rest.contains("__") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut table, &path, parse_value(&value))
                .with_context(|| format!("environment variable {key}"))?;
        }
        for set in sets {
            let (key, value) = set
                .split_once('=')
                .with_context(|| format!("--set {set}: expected section.field=value"))?;
            let path: Vec<String> = key.trim().split('.').map(str::to_owned).collect();
            set_path(&mut table, &path, parse_value(value.trim()))
                .with_context(|| format!("--set {set}"))?;
        }
        let config: Config = Value::Table(table)
            .try_into()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// The effective configuration as TOML, with every password, secret and token shown as
    /// `***` (what `dotdo check-config` prints).
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        let mut value = Value::try_from(self)?;
        redact(&mut value);
        Ok(toml::to_string_pretty(&value)?)
    }

    /// Every listener the gateway will bind, enabled ones only.
    pub fn listeners(&self) -> Vec<ListenerPlan> {
        let mut plans = Vec::new();
        if self.redis.enabled {
            plans.push(ListenerPlan {
                name: "redis",
                listen: self.redis.listen,
                tls: self.redis.tls.clone(),
                authenticated: self.redis.protocol.auth_required(),
                auth_hint: "redis.requirepass or redis.users",
            });
        }
        if self.postgres.enabled {
            plans.push(self.postgres.plan());
        }
        if self.kafka.enabled {
            plans.push(ListenerPlan {
                name: "kafka",
                listen: self.kafka.listen,
                tls: self.kafka.tls.clone(),
                authenticated: !self.kafka.protocol.sasl_users.is_empty(),
                auth_hint: "kafka.sasl_users (SASL PLAIN / SCRAM-SHA-256)",
            });
        }
        plans
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.backend
            .embedded
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if self.backend.kind == BackendKind::Remote {
            self.backend
                .remote
                .validate()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        self.redis
            .protocol
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.postgres
            .protocol_config()
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.kafka
            .protocol
            .validate()
            .map_err(|e| anyhow::anyhow!("kafka: {e}"))?;
        if self.postgres.event_loops > 256 {
            bail!("postgres.event_loops must be at most 256");
        }
        if self.limits.max_connections == 0 {
            bail!("limits.max_connections must be greater than 0");
        }
        for plan in self.listeners() {
            if !plan.listen.ip().is_loopback() && !plan.authenticated {
                bail!(
                    "refusing to listen on {} for {} without authentication: clients from other \
                     machines could read and write all data. Configure {}, or listen on \
                     127.0.0.1.",
                    plan.listen,
                    plan.name,
                    plan.auth_hint
                );
            }
        }
        if self.admin.enabled && !self.admin.listen.ip().is_loopback() && self.admin.token.is_none()
        {
            bail!(
                "refusing to serve the admin endpoints on {} without a token: set admin.token \
                 (DOTDO_ADMIN__TOKEN), or listen on 127.0.0.1",
                self.admin.listen
            );
        }
        Ok(())
    }

    /// Move every listener to port 0 on its host, so tests never guess ports.
    pub fn use_ephemeral_ports(&mut self) {
        self.admin.listen.set_port(0);
        self.store.listen.set_port(0);
        self.redis.listen.set_port(0);
        self.postgres.listen.set_port(0);
        self.kafka.listen.set_port(0);
    }
}

fn redact(value: &mut Value) {
    const SECRET_KEYS: [&str; 4] = ["password", "requirepass", "secret", "token"];
    match value {
        Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && v.is_str() {
                    *v = Value::String("***".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

fn set_path(table: &mut Table, path: &[String], value: Value) -> anyhow::Result<()> {
    let Some((last, parents)) = path.split_last() else {
        bail!("empty key");
    };
    let mut t = table;
    for p in parents {
        if p.is_empty() {
            bail!("empty key segment");
        }
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        t = match entry {
            Value::Table(inner) => inner,
            _ => bail!("{p} is not a section"),
        };
    }
    t.insert(last.clone(), value);
    Ok(())
}

/// A TOML value if the text is one (numbers, booleans, arrays, inline tables), else a string.
fn parse_value(text: &str) -> Value {
    format!("v = {text}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_and_embedded() {
        let c = Config::load(None, [], &[]).unwrap();
        assert_eq!(c.backend.kind, BackendKind::Embedded);
        assert_eq!(c.backend.embedded.data_dir, PathBuf::from("./data"));
        assert!(c.admin.listen.ip().is_loopback());
    }

    #[test]
    fn flags_override_env_which_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dotdo.toml");
        std::fs::write(
            &file,
            "[limits]\nmax_connections = 5\nhandshake_timeout_ms = 7\n[backend.embedded]\ndata_dir = \"/f\"\n",
        )
        .unwrap();
        let env = [
            ("DOTDO_LIMITS__MAX_CONNECTIONS".to_string(), "6".to_string()),
            (
                "DOTDO_BACKEND__EMBEDDED__DATA_DIR".to_string(),
                "/e".to_string(),
            ),
            ("DOTDO_LOG".to_string(), "debug".to_string()),
        ];
        let c = Config::load(
            Some(&file),
            env,
            &["backend.embedded.data_dir=/flag".into()],
        )
        .unwrap();
        assert_eq!(c.limits.max_connections, 6);
        assert_eq!(c.limits.handshake_timeout_ms, 7);
        assert_eq!(c.backend.embedded.data_dir, PathBuf::from("/flag"));
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        assert!(Config::load(None, [], &["limits.max_conections=5".into()]).is_err());
        assert!(Config::load(None, [], &["limits.max_connections=0".into()]).is_err());
        assert!(Config::load(None, [], &["limits.max_connections=many".into()]).is_err());
    }

    #[test]
    fn kafka_section_checks_its_fields_and_needs_sasl_to_go_public() {
        assert!(Config::load(None, [], &["kafka.defualt_partitions=3".into()]).is_err());
        assert!(Config::load(None, [], &["kafka.default_partitions=0".into()]).is_err());
        let c = Config::load(None, [], &["kafka.default_partitions=3".into()]).unwrap();
        assert_eq!(c.kafka.protocol.default_partitions, 3);
        assert!(Config::load(None, [], &["kafka.listen=0.0.0.0:9092".into()]).is_err());
        let public = [
            "kafka.listen=0.0.0.0:9092".into(),
            r#"kafka.sasl_users=[{username="a",password="b"}]"#.into(),
        ];
        assert!(Config::load(None, [], &public).is_ok());
    }

    #[test]
    fn redis_section_takes_its_fields_and_rejects_typos() {
        let c = Config::load(
            None,
            [],
            &["redis.shards=8".into(), "redis.requirepass=pw".into()],
        )
        .unwrap();
        assert_eq!(c.redis.protocol.shards, 8);
        assert!(c.redis.protocol.auth_required());
        assert!(Config::load(None, [], &["redis.shard=8".into()]).is_err());
        assert!(Config::load(None, [], &["redis.shards=0".into()]).is_err());
        let err = Config::load(None, [], &["redis.listen=0.0.0.0:6379".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("requirepass"), "{err:#}");
    }

    #[test]
    fn printed_configuration_hides_every_secret() {
        let c = Config::load(
            None,
            [],
            &[
                "admin.token=S1".into(),
                "redis.requirepass=S2".into(),
                r#"redis.users=[{name="u",password="S3"}]"#.into(),
                r#"postgres.users=[{name="p",password="S4"}]"#.into(),
                r#"kafka.sasl_users=[{username="k",password="S5"}]"#.into(),
            ],
        )
        .unwrap();
        let printed = c.to_redacted_toml().unwrap();
        for secret in ["S1", "S2", "S3", "S4", "S5"] {
            assert!(
                !printed.contains(&format!("\"{secret}\"")),
                "{secret} printed:\n{printed}"
            );
        }
        assert!(printed.contains("requirepass = \"***\""), "{printed}");
    }

    #[test]
    fn public_admin_needs_a_token() {
        let err = Config::load(None, [], &["admin.listen=0.0.0.0:9180".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("admin.token"), "{err:#}");
        Config::load(
            None,
            [],
            &[
                "admin.listen=0.0.0.0:9180".into(),
                "admin.token=s3cret".into(),
            ],
        )
        .unwrap();
    }
}
