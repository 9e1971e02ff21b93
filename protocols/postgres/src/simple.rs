//! Simple-protocol statements translated once per shape: a connection's cache of templates
//! keyed by the statement with its plain literals lifted out (`dotdo_sql::literals`).
//!
//! `pgbench -M simple` sends `SELECT abalance FROM pgbench_accounts WHERE aid = 12345;` with
//! a new literal each time; each shares the first one's translation, its literal bound as a
//! parameter. Entries are tied to the catalog generation they were made against, as prepared
//! statements are, and a statement whose translation does not provably pass its literals
//! through is remembered as such and translated in full every time.

use std::collections::HashMap;
use std::sync::Arc;

use dotdo_backend::Value;
use dotdo_sql::literals::{self, Template};
use dotdo_sql::{Catalog, Plan, SqlError};

use crate::session::Session;

/// Shapes one connection keeps; the cache starts over when full.
const MAX_ENTRIES: usize = 256;

/// Per shape: the catalog generation, and the template (`None`: translate in full).
#[derive(Default)]
pub struct SimpleCache {
    entries: HashMap<String, (u64, Option<Arc<Plan>>)>,
    /// The `search_path` every entry was translated under.
    search_path: String,
}

impl SimpleCache {
    /// The plan of one statement of a simple query, against the catalog of `generation`,
    /// and the parameters to run it with.
    pub fn plan(
        &mut self,
        session: &Session,
        sql: &str,
        generation: u64,
        catalog: &Catalog,
    ) -> Result<(Arc<Plan>, Vec<Value>), SqlError> {
        if self.search_path != session.search_path() {
            self.entries.clear();
            self.search_path = session.search_path().to_owned();
        }
        let Some(lifted) = literals::lift(sql) else {
            let plan = session.translate(sql, catalog)?;
            // Translation may come to depend on session settings: start over when they change.
            if matches!(
                plan,
                Plan::Set { .. } | Plan::SetConfig { .. } | Plan::Reset(_)
            ) {
                self.entries.clear();
            }
            return Ok((Arc::new(plan), Vec::new()));
        };
        match self.entries.get(&lifted.key) {
            Some((g, Some(plan))) if *g == generation => {
                return Ok((plan.clone(), lifted.params()));
            }
            Some((g, None)) if *g == generation => {
                return Ok((Arc::new(session.translate(sql, catalog)?), Vec::new()));
            }
            _ => {}
        }
        // Errors are not remembered: each such statement reports its own.
        let plan = session.translate(sql, catalog)?;
        let template = Template::build(sql, &lifted, &plan, |probe| {
            session.translate(probe, catalog)
        });
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries
            .insert(lifted.key, (generation, template.map(|t| Arc::new(t.plan))));
        Ok((Arc::new(plan), Vec::new()))
    }
}
