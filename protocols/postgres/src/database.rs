//! Databases: one namespace (`pg/<db>`) and object each, with a cached catalog.

use std::collections::HashMap;
use std::sync::Arc;

use dotdo_backend::{ObjectId, SharedBackend, Transaction};
use dotdo_sql::{Catalog, SqlError, catalog};
use parking_lot::{Mutex, RwLock};
use tokio::sync::OnceCell;

/// The object holding a database's tables.
pub fn object_of(database: &str) -> ObjectId {
    ObjectId::new(format!("pg/{database}"), "main")
}

pub struct Database {
    pub name: String,
    pub object: ObjectId,
    migrated: OnceCell<()>,
    /// The catalog and a generation that changes whenever it is reloaded.
    catalog: RwLock<Option<(u64, Arc<Catalog>)>>,
}

impl Database {
    /// The current catalog, loading it (and creating the catalog tables) on first use.
    pub async fn catalog(&self, backend: &SharedBackend) -> Result<(u64, Arc<Catalog>), SqlError> {
        self.migrated
            .get_or_try_init(|| async {
                let mut batch = catalog::migrations(&self.name);
                batch.extend(dotdo_sql::citus::migrations());
                backend.execute(&self.object, batch).await.map(|_| ())
            })
            .await?;
        if let Some(c) = self.catalog.read().clone() {
            return Ok(c);
        }
        let result = backend.execute(&self.object, load_batch()).await?;
        Ok(self.publish(from_results(&result)))
    }

    pub fn cached(&self) -> Option<(u64, Arc<Catalog>)> {
        self.catalog.read().clone()
    }

    /// Reload through an open transaction, which may hold uncommitted DDL.
    pub async fn reload_in(&self, txn: &mut dyn Transaction) -> Result<(), SqlError> {
        let result = txn.execute(load_batch()).await?;
        self.publish(from_results(&result));
        Ok(())
    }

    pub async fn reload(&self, backend: &SharedBackend) -> Result<(), SqlError> {
        self.invalidate();
        self.catalog(backend).await.map(|_| ())
    }

    /// Forget the cached catalog (after a rollback that may have undone DDL).
    pub fn invalidate(&self) {
        *self.catalog.write() = None;
    }

    fn publish(&self, catalog: Catalog) -> (u64, Arc<Catalog>) {
        let mut slot = self.catalog.write();
        let generation = slot
            .as_ref()
            .map_or(0, |(g, _)| g + 1)
            .max(next_generation());
        let entry = (generation, Arc::new(catalog));
        *slot = Some(entry.clone());
        entry
    }
}

/// The catalog and the Citus metadata, read together.
fn load_batch() -> Vec<dotdo_backend::Statement> {
    vec![
        catalog::load_statement(),
        dotdo_sql::citus::load_statement(),
    ]
}

fn from_results(results: &[dotdo_backend::StatementResult]) -> Catalog {
    let catalog = results
        .first()
        .map(Catalog::from_result)
        .unwrap_or_default();
    match results.get(1) {
        Some(meta) => catalog.with_distribution(dotdo_sql::citus::Metadata::from_result(meta)),
        None => catalog,
    }
}

fn next_generation() -> u64 {
    static GEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    GEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Every database this process has opened.
pub struct Databases {
    backend: SharedBackend,
    open: Mutex<HashMap<String, Arc<Database>>>,
}

impl Databases {
    pub fn new(backend: SharedBackend) -> Self {
        Self {
            backend,
            open: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, name: &str) -> Arc<Database> {
        self.open
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(Database {
                    name: name.to_owned(),
                    object: object_of(name),
                    migrated: OnceCell::new(),
                    catalog: RwLock::new(None),
                })
            })
            .clone()
    }

    pub async fn drop_database(&self, name: &str) -> Result<(), SqlError> {
        let db = self.open.lock().remove(name);
        let object = db.map_or_else(|| object_of(name), |d| d.object.clone());
        // Shard objects of distributed tables live beside the database's own object.
        for other in self.backend.list_objects(&object.namespace).await? {
            if other != object.name {
                let id = ObjectId::new(object.namespace.clone(), other);
                self.backend.delete_object(&id).await?;
            }
        }
        self.backend.delete_object(&object).await?;
        Ok(())
    }
}
