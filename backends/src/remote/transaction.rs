//! Interactive transactions by replay with validation.
//!
//! A remote node cannot hold a transaction open across round trips, so the client keeps the
//! transaction's statements and the answers it gave. Each new batch is answered by a dry run
//! of the whole prefix plus the batch (its effects discarded); the prefix must still answer as
//! before, or the transaction has lost a race (`SerializationFailure`). `commit` sends
//! everything in one `ExecuteChecked` request that the node runs atomically, committing only
//! if every answer is unchanged.

use std::sync::Arc;

use async_trait::async_trait;

use super::RemoteBackend;
use super::server::first_difference;
use super::wire::{Kind, Reply};
use crate::{Batch, Error, ObjectId, Statement, StatementResult, Transaction};

/// Statements one replayed transaction may hold: each new batch replays all of them, so
/// the cost grows with the square of the length.
const MAX_STATEMENTS: usize = 10_000;

pub(crate) struct ReplayTransaction {
    backend: Arc<RemoteBackend>,
    object: ObjectId,
    statements: Vec<Statement>,
    answers: Vec<StatementResult>,
    /// Savepoint names with the number of statements before each.
    savepoints: Vec<(String, usize)>,
    done: bool,
}

impl ReplayTransaction {
    pub(crate) fn new(backend: Arc<RemoteBackend>, object: ObjectId) -> Self {
        Self {
            backend,
            object,
            statements: Vec::new(),
            answers: Vec::new(),
            savepoints: Vec::new(),
            done: false,
        }
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.done {
            Err(Error::TransactionClosed(self.object.to_string()))
        } else {
            Ok(())
        }
    }

    fn savepoint_index(&self, name: &str) -> Result<usize, Error> {
        self.savepoints
            .iter()
            .rposition(|(n, _)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::Invalid(format!("savepoint {name} does not exist")))
    }
}

#[async_trait]
impl Transaction for ReplayTransaction {
    async fn execute(&mut self, batch: Batch) -> Result<Vec<StatementResult>, Error> {
        self.check_open()?;
        let prefix = self.statements.len();
        if prefix + batch.len() > MAX_STATEMENTS {
            return Err(Error::Invalid(format!(
                "a transaction on a remote backend holds at most {MAX_STATEMENTS} statements"
            )));
        }
        let mut all = self.statements.clone();
        all.extend(batch.iter().cloned());
        let mut got = match self
            .backend
            .request(Kind::DryRun, &self.object, all, Vec::new())
            .await
        {
            Ok(Reply::Results(r)) => r,
            Ok(_) => {
                return Err(Error::Invalid(
                    "node answered a dry run without results".into(),
                ));
            }
            Err(Error::Sqlite { index, message, .. }) if index < prefix => {
                return Err(Error::SerializationFailure(format!(
                    "an earlier statement of the transaction now fails: {message}"
                )));
            }
            Err(Error::Sqlite {
                index,
                kind,
                code,
                message,
            }) => {
                return Err(Error::Sqlite {
                    index: index - prefix,
                    kind,
                    code,
                    message,
                });
            }
            Err(Error::Forbidden { index, reason }) if index >= prefix => {
                return Err(Error::Forbidden {
                    index: index - prefix,
                    reason,
                });
            }
            Err(e) => return Err(e),
        };
        if let Some(i) = first_difference(&got[..prefix.min(got.len())], &self.answers) {
            return Err(Error::SerializationFailure(format!(
                "statement {i} of the transaction answers differently now"
            )));
        }
        let mine = got.split_off(prefix.min(got.len()));
        self.statements.extend(batch);
        self.answers.extend(mine.iter().cloned());
        Ok(mine)
    }

    async fn savepoint(&mut self, name: &str) -> Result<(), Error> {
        self.check_open()?;
        self.savepoints
            .push((name.to_owned(), self.statements.len()));
        Ok(())
    }

    async fn release_savepoint(&mut self, name: &str) -> Result<(), Error> {
        self.check_open()?;
        let i = self.savepoint_index(name)?;
        self.savepoints.truncate(i);
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), Error> {
        self.check_open()?;
        let i = self.savepoint_index(name)?;
        let len = self.savepoints[i].1;
        self.savepoints.truncate(i + 1);
        self.statements.truncate(len);
        self.answers.truncate(len);
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), Error> {
        self.check_open()?;
        self.done = true;
        if self.statements.is_empty() {
            return Ok(());
        }
        let statements = std::mem::take(&mut self.statements);
        let answers = std::mem::take(&mut self.answers);
        match self
            .backend
            .request(Kind::ExecuteChecked, &self.object, statements, answers)
            .await?
        {
            Reply::Done | Reply::Results(_) => Ok(()),
            _ => Err(Error::Invalid("node answered a commit oddly".into())),
        }
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), Error> {
        // Nothing reached the node: dropping the statements is the rollback.
        self.done = true;
        Ok(())
    }
}
