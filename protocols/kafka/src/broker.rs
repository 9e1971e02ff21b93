//! The broker's shared state: settings, the store, the topic registry, partition logs and
//! the group coordinator.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dotdo_backend::SharedBackend;
use parking_lot::{Mutex, RwLock};
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::error::Result;
use crate::errors;
use crate::group::{Coordinator, Timing};
use crate::partition::PartitionLog;
use crate::store::{Names, Store, cluster};

/// A topic as the broker knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Topic {
    pub id: uuid::Uuid,
    pub partitions: i32,
    pub retention_ms: i64,
    pub retention_bytes: i64,
}

pub struct Broker {
    pub config: Config,
    pub store: Arc<Store>,
    pub groups: Coordinator,
    pub txns: crate::txn::Transactions,
    topics: RwLock<BTreeMap<String, Topic>>,
    loaded: OnceCell<()>,
    admin: tokio::sync::Mutex<()>,
    logs: Mutex<HashMap<(String, i32), Arc<PartitionLog>>>,
    advertised: RwLock<(String, i32)>,
}

impl Broker {
    pub fn new(config: Config, backend: SharedBackend) -> Self {
        let names = Names::new(&config.tenant);
        let timing = Timing {
            initial_rebalance_delay: Duration::from_millis(config.group_initial_rebalance_delay_ms),
            min_session_timeout: Duration::from_millis(
                config.group_min_session_timeout_ms.max(0) as u64
            ),
            max_session_timeout: Duration::from_millis(
                config.group_max_session_timeout_ms.max(0) as u64
            ),
        };
        let host = if config.advertised_host.is_empty() {
            "127.0.0.1".to_owned()
        } else {
            config.advertised_host.clone()
        };
        let port = i32::from(config.advertised_port);
        Self {
            store: Arc::new(Store::new(backend, names)),
            groups: Coordinator::new(timing),
            txns: Default::default(),
            topics: RwLock::new(BTreeMap::new()),
            loaded: OnceCell::new(),
            admin: tokio::sync::Mutex::new(()),
            logs: Mutex::new(HashMap::new()),
            advertised: RwLock::new((host, port)),
            config,
        }
    }

    /// Fill in the advertised address from the listener, where the config left it open.
    pub fn listening_on(&self, addr: SocketAddr) {
        let mut adv = self.advertised.write();
        if self.config.advertised_host.is_empty() && !addr.ip().is_unspecified() {
            adv.0 = addr.ip().to_string();
        }
        if self.config.advertised_port == 0 {
            adv.1 = i32::from(addr.port());
        }
    }

    pub fn advertised(&self) -> (String, i32) {
        self.advertised.read().clone()
    }

    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// Load the topic registry from the cluster object, once.
    pub async fn ensure_loaded(&self) -> Result<()> {
        self.loaded
            .get_or_try_init(|| async {
                let rows = cluster::load_topics(&self.store).await?;
                let mut topics = self.topics.write();
                for row in rows {
                    topics.insert(
                        row.name,
                        Topic {
                            id: uuid::Uuid::from_bytes(row.id),
                            partitions: row.partitions,
                            retention_ms: row.retention_ms,
                            retention_bytes: row.retention_bytes,
                        },
                    );
                }
                Ok::<_, crate::Error>(())
            })
            .await?;
        Ok(())
    }

    /// Whether the registry is loaded (so lookups need no await).
    pub fn is_loaded(&self) -> bool {
        self.loaded.initialized()
    }

    pub fn topic(&self, name: &str) -> Option<Topic> {
        self.topics.read().get(name).cloned()
    }

    pub fn topics(&self) -> Vec<(String, Topic)> {
        self.topics
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Create a topic. Returns Kafka's error code (NONE on success).
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        validate_only: bool,
        configs: &[(String, Option<String>)],
    ) -> Result<i16> {
        self.ensure_loaded().await?;
        if !valid_topic_name(name) {
            return Ok(errors::INVALID_TOPIC_EXCEPTION);
        }
        let mut retention_ms = self.config.retention_ms;
        let mut retention_bytes = self.config.retention_bytes;
        for (key, value) in configs {
            let parsed = value.as_deref().map(str::parse::<i64>);
            match (key.as_str(), parsed) {
                ("retention.ms", Some(Ok(v))) if v >= -1 => retention_ms = v,
                ("retention.bytes", Some(Ok(v))) if v >= -1 => retention_bytes = v,
                ("retention.ms" | "retention.bytes", _) => return Ok(errors::INVALID_CONFIG),
                // Other topic configs are accepted and not applied (see DescribeConfigs).
                _ => {}
            }
        }
        let partitions = if partitions == -1 {
            self.config.default_partitions
        } else {
            partitions
        };
        if partitions < 1 || partitions > self.config.max_partitions {
            return Ok(errors::INVALID_PARTITIONS);
        }
        let _admin = self.admin.lock().await;
        if self.topic(name).is_some() {
            return Ok(errors::TOPIC_ALREADY_EXISTS);
        }
        if validate_only {
            return Ok(errors::NONE);
        }
        let id = uuid::Uuid::new_v4();
        let row = cluster::TopicRow {
            name: name.to_owned(),
            id: *id.as_bytes(),
            partitions,
            retention_ms,
            retention_bytes,
        };
        if !cluster::create_topic(&self.store, &row).await? {
            return Ok(errors::TOPIC_ALREADY_EXISTS);
        }
        self.topics.write().insert(
            name.to_owned(),
            Topic {
                id,
                partitions,
                retention_ms,
                retention_bytes,
            },
        );
        tracing::info!(topic = name, partitions, "created topic");
        Ok(errors::NONE)
    }

    /// The topic, auto-creating it when allowed. `Err(code)` when it cannot be had.
    pub async fn topic_or_create(
        &self,
        name: &str,
        allow: bool,
    ) -> Result<std::result::Result<Topic, i16>> {
        self.ensure_loaded().await?;
        if let Some(t) = self.topic(name) {
            return Ok(Ok(t));
        }
        if !(allow && self.config.auto_create_topics) {
            return Ok(Err(errors::UNKNOWN_TOPIC_OR_PARTITION));
        }
        match self
            .create_topic(name, self.config.default_partitions, false, &[])
            .await?
        {
            errors::NONE | errors::TOPIC_ALREADY_EXISTS => {
                Ok(self.topic(name).ok_or(errors::UNKNOWN_TOPIC_OR_PARTITION))
            }
            code => Ok(Err(code)),
        }
    }

    pub async fn delete_topic(&self, name: &str) -> Result<i16> {
        self.ensure_loaded().await?;
        let _admin = self.admin.lock().await;
        let Some(topic) = self.topic(name) else {
            return Ok(errors::UNKNOWN_TOPIC_OR_PARTITION);
        };
        self.topics.write().remove(name);
        cluster::delete_topic(&self.store, name).await?;
        for p in 0..topic.partitions {
            self.logs.lock().remove(&(name.to_owned(), p));
            let obj = self.store.names.partition(name, p);
            self.store.backend.delete_object(&obj).await?;
            self.store.forget(&obj);
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(errors::NONE)
    }

    pub async fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<i16> {
        self.ensure_loaded().await?;
        let _admin = self.admin.lock().await;
        let Some(topic) = self.topic(name) else {
            return Ok(errors::UNKNOWN_TOPIC_OR_PARTITION);
        };
        if count <= topic.partitions || count > self.config.max_partitions {
            return Ok(errors::INVALID_PARTITIONS);
        }
        if validate_only {
            return Ok(errors::NONE);
        }
        cluster::set_partitions(&self.store, name, count).await?;
        if let Some(t) = self.topics.write().get_mut(name) {
            t.partitions = count;
        }
        Ok(errors::NONE)
    }

    /// Set a topic's retention (-1: unlimited).
    pub async fn set_retention(
        &self,
        name: &str,
        retention_ms: i64,
        retention_bytes: i64,
    ) -> Result<()> {
        let _admin = self.admin.lock().await;
        cluster::set_retention(&self.store, name, retention_ms, retention_bytes).await?;
        if let Some(t) = self.topics.write().get_mut(name) {
            t.retention_ms = retention_ms;
            t.retention_bytes = retention_bytes;
        }
        Ok(())
    }

    /// The partition's log handle, if the partition exists.
    pub fn log(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        let t = self.topic(topic)?;
        if partition < 0 || partition >= t.partitions {
            return None;
        }
        let mut logs = self.logs.lock();
        let log = logs
            .entry((topic.to_owned(), partition))
            .or_insert_with(|| {
                PartitionLog::start(
                    self.store.clone(),
                    self.store.names.partition(topic, partition),
                    self.config.max_append_group,
                )
            });
        Some(log.clone())
    }
}

impl Broker {
    /// Enforce every topic's retention once.
    pub async fn enforce_retention(&self) -> Result<()> {
        self.ensure_loaded().await?;
        for (name, topic) in self.topics() {
            if topic.retention_ms < 0 && topic.retention_bytes < 0 {
                continue;
            }
            for p in 0..topic.partitions {
                if let Some(log) = self.log(&name, p) {
                    log.apply_retention(topic.retention_ms, topic.retention_bytes)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// Run retention every `retention_check_interval_ms` while the broker lives.
pub fn spawn_retention(broker: &Arc<Broker>) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(broker);
    let every = Duration::from_millis(broker.config.retention_check_interval_ms.max(1000));
    rt.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(b) = weak.upgrade() else { return };
            if let Err(e) = b.enforce_retention().await {
                tracing::warn!(error = %e, "retention failed");
            }
        }
    });
}

/// Kafka's topic name rule: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}
