//! How Kafka's data lives in objects: naming, schema migrations, and the SQL of each object kind.

pub mod cluster;
pub mod group;
pub mod partition;
pub mod txn;

use std::collections::HashSet;

use dotdo_backend::{ObjectId, SharedBackend, Statement, StatementResult, Value};
use parking_lot::Mutex;

use crate::error::{Error, Result};

/// Object names inside the tenant's namespace.
#[derive(Clone, Debug)]
pub struct Names {
    namespace: String,
}

impl Names {
    pub fn new(tenant: &str) -> Self {
        Self {
            namespace: format!("kafka/{tenant}"),
        }
    }
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    pub fn cluster(&self) -> ObjectId {
        ObjectId::new(&self.namespace, "_cluster")
    }
    pub fn partition(&self, topic: &str, partition: i32) -> ObjectId {
        ObjectId::new(&self.namespace, format!("p/{topic}/{partition}"))
    }
    pub fn group(&self, group: &str) -> ObjectId {
        ObjectId::new(&self.namespace, format!("g/{group}"))
    }
    /// The group id of a group object's name, if it is one.
    pub fn group_of(name: &str) -> Option<&str> {
        name.strip_prefix("g/")
    }
}

/// The store: the backend plus which objects this process has already migrated.
pub struct Store {
    pub backend: SharedBackend,
    pub names: Names,
    migrated: Mutex<HashSet<ObjectId>>,
}

/// A schema for one kind of object: numbered migration scripts, applied in order.
pub struct Schema {
    pub kind: &'static str,
    pub migrations: &'static [&'static str],
}

impl Store {
    pub fn new(backend: SharedBackend, names: Names) -> Self {
        Self {
            backend,
            names,
            migrated: Mutex::new(HashSet::new()),
        }
    }

    /// Run `batch` on `object` after making sure its schema is current.
    pub async fn execute(
        &self,
        object: &ObjectId,
        schema: &Schema,
        batch: Vec<Statement>,
    ) -> Result<Vec<StatementResult>> {
        self.migrate(object, schema).await?;
        Ok(self.backend.execute(object, batch).await?)
    }

    /// Apply the migrations `object` has not seen yet; `_meta.schema_version` records them.
    pub async fn migrate(&self, object: &ObjectId, schema: &Schema) -> Result<()> {
        if self.migrated.lock().contains(object) {
            return Ok(());
        }
        let probe = vec![
            Statement::new(
                "CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            ),
            Statement::new("SELECT value FROM _meta WHERE key = 'schema_version'"),
        ];
        let res = self.backend.execute(object, probe).await?;
        let current = res
            .get(1)
            .and_then(|r| r.rows.first())
            .and_then(|row| row.first())
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let mut batch = Vec::new();
        for (i, script) in schema.migrations.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= current {
                continue;
            }
            batch.extend(split_script(script));
            batch.push(Statement::with_params(
                "INSERT OR REPLACE INTO _meta (key, value) VALUES ('schema_version', ?1)",
                vec![Value::Integer(version)],
            ));
        }
        if !batch.is_empty() {
            self.backend.execute(object, batch).await?;
        }
        self.migrated.lock().insert(object.clone());
        Ok(())
    }

    /// Forget that `object` was migrated (it was deleted).
    pub fn forget(&self, object: &ObjectId) {
        self.migrated.lock().remove(object);
    }
}

/// Split a `.sql` file into statements; every statement ends with `;` at the end of a line.
fn split_script(script: &'static str) -> Vec<Statement> {
    script
        .split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Statement::new(s.trim_end_matches(';').to_owned()))
        .collect()
}

/// Read one integer cell.
pub fn int_at(results: &[StatementResult], stmt: usize, row: usize, col: usize) -> Result<i64> {
    results
        .get(stmt)
        .and_then(|r| r.rows.get(row))
        .and_then(|r| r.get(col))
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::Corrupt(format!("expected an integer at {stmt}/{row}/{col}")))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_split_into_statements() {
        let s = split_script(include_str!("../sql/partition_001.sql"));
        assert!(s.len() >= 6);
        assert!(
            s.iter()
                .all(|s| !s.sql.trim().is_empty() && !s.sql.ends_with(';'))
        );
    }
}
