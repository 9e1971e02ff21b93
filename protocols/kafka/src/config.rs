//! The Kafka front-end's settings.

use serde::Deserialize;

/// Settings of the `[kafka]` section.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Host advertised to clients in Metadata and FindCoordinator. Default: the host the
    /// gateway listens on (filled in by the gateway), else `127.0.0.1`.
    pub advertised_host: String,
    /// Port advertised to clients. Default 0: the port the listener actually bound.
    pub advertised_port: u16,
    /// Create a topic when a client asks for one that does not exist (Metadata with
    /// `allow_auto_topic_creation`, Produce). Default `true`, as Kafka's `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic, and of CreateTopics with `num_partitions = -1`.
    /// Default 1, as Kafka's `num.partitions`.
    pub default_partitions: i32,
    /// Most partitions one topic may have. Default 10000.
    pub max_partitions: i32,
    /// Largest request frame accepted, in bytes; bigger frames close the connection before
    /// anything is allocated. Default 100 MiB (Kafka's `socket.request.max.bytes`).
    pub max_frame_bytes: usize,
    /// Requests read ahead of their responses on one connection. Default 32.
    pub max_in_flight: usize,
    /// Tenant name; objects live in namespace `kafka/<tenant>`. Default `default`.
    pub tenant: String,
    /// Node id reported for this broker. Default 1.
    pub node_id: i32,
    /// Cluster id reported in Metadata and DescribeCluster. Default `dotdo-kafka`.
    pub cluster_id: String,
    /// How long the first JoinGroup of an empty group waits for more members, in ms.
    /// Default 3000 (Kafka's `group.initial.rebalance.delay.ms`).
    pub group_initial_rebalance_delay_ms: u64,
    /// Smallest and largest session timeout a member may ask for, in ms. Defaults 6000 and
    /// 1800000 (Kafka's `group.min/max.session.timeout.ms`).
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    /// Most batches one partition writer folds into one object batch. Default 256.
    pub max_append_group: usize,
    /// Default `retention.ms` of new topics: 604800000 (7 days), as Kafka's
    /// `log.retention.ms`. -1 keeps records forever.
    pub retention_ms: i64,
    /// Default `retention.bytes` per partition of new topics: -1 (no limit), as Kafka.
    pub retention_bytes: i64,
    /// How often retention is enforced, in ms. Default 300000 (Kafka's
    /// `log.retention.check.interval.ms`).
    pub retention_check_interval_ms: u64,
    /// SASL users (PLAIN and SCRAM-SHA-256). When any are set, every connection must
    /// authenticate before anything but ApiVersions. Default none (no authentication).
    pub sasl_users: Vec<SaslUser>,
}

/// One SASL user: `{ username = "...", password = "..." }`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SaslUser {
    pub username: String,
    /// Shown as `***` when the configuration is printed.
    #[serde(serialize_with = "redact")]
    pub password: String,
}

fn redact<S: serde::Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("***")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            advertised_host: String::new(),
            advertised_port: 0,
            auto_create_topics: true,
            default_partitions: 1,
            max_partitions: 10_000,
            max_frame_bytes: 100 * 1024 * 1024,
            max_in_flight: 32,
            tenant: "default".into(),
            node_id: 1,
            cluster_id: "dotdo-kafka".into(),
            group_initial_rebalance_delay_ms: 3000,
            group_min_session_timeout_ms: 6000,
            group_max_session_timeout_ms: 1_800_000,
            max_append_group: 256,
            sasl_users: Vec::new(),
            retention_ms: 604_800_000,
            retention_bytes: -1,
            retention_check_interval_ms: 300_000,
        }
    }
}

impl Config {
    /// Reject settings that cannot work.
    pub fn validate(&self) -> Result<(), crate::Error> {
        if self.default_partitions < 1 || self.default_partitions > self.max_partitions {
            return Err(crate::Error::Config(
                "default_partitions must be between 1 and max_partitions".into(),
            ));
        }
        if self.max_frame_bytes < 1024 {
            return Err(crate::Error::Config(
                "max_frame_bytes must be at least 1024".into(),
            ));
        }
        if self.max_in_flight == 0 || self.max_append_group == 0 {
            return Err(crate::Error::Config(
                "max_in_flight and max_append_group must be positive".into(),
            ));
        }
        if self
            .sasl_users
            .iter()
            .any(|u| u.username.is_empty() || u.password.is_empty())
        {
            return Err(crate::Error::Config(
                "sasl_users need a username and a password".into(),
            ));
        }
        if self.tenant.is_empty() {
            return Err(crate::Error::Config("tenant must not be empty".into()));
        }
        Ok(())
    }
}
