//! Interactive transactions by replay with validation, on any [`Backend`].
//!
//! The client keeps the transaction's statements and the answers they gave; nothing is held
//! on the object between round trips. Each new batch is answered by a dry run of the whole
//! prefix plus the batch (its effects discarded); the prefix must still answer as before, or
//! the transaction has lost a race (`SerializationFailure`).
//!
//! Those answers are provisional ([`crate::Backend::dry_run_provisional`]): they may show
//! data another transaction committed that is not yet durable, so they are not held at the
//! output gate. What makes that safe is that the transaction's end waits instead: `commit`
//! returns only once the commit is durable, and the commit's fsync covers everything
//! committed before it, so everything any answer saw; `rollback` (and a commit with nothing
//! left to apply) waits for [`crate::Backend::sync`]. As PostgreSQL says of its
//! serializable transactions, data read in a transaction is not to be relied on until the
//! transaction has committed; here it is also durable by the time the client hears the
//! transaction ended, either way. Only a crash before the end can leave a client holding an
//! answer whose data is lost, and then the client never heard its transaction end.
//!
//! `commit` hands everything to
//! [`Backend::execute_checked`], which runs it atomically and commits only if every answer
//! is unchanged. The commit is the transaction's serialisation point: if every statement
//! answers there exactly as the client saw it, running the transaction at that instant
//! would have shown the client the same thing, so the history is serialisable.
//!
//! A transaction that grows long, or that must see non-deterministic values, can switch to
//! a locking transaction ([`ReplayTransaction::into_locking`]) without the client noticing.

use async_trait::async_trait;

use crate::{Batch, Error, ObjectId, SharedBackend, Statement, StatementResult, Transaction};

/// Statements one replayed transaction may hold: each new batch replays all of them, so
/// the cost grows with the square of the length.
pub const MAX_STATEMENTS: usize = 10_000;

pub struct ReplayTransaction {
    backend: SharedBackend,
    object: ObjectId,
    statements: Vec<Statement>,
    answers: Vec<StatementResult>,
    /// SQL and parameter bytes held, for callers that bound what a replay costs.
    bytes: usize,
    /// Savepoint names with the number of statements before each.
    savepoints: Vec<(String, usize)>,
    /// An answer was given that may rest on data not yet durable.
    provisional: bool,
    done: bool,
}

impl ReplayTransaction {
    pub fn new(backend: SharedBackend, object: ObjectId) -> Self {
        Self {
            backend,
            object,
            statements: Vec::new(),
            answers: Vec::new(),
            bytes: 0,
            savepoints: Vec::new(),
            provisional: false,
            done: false,
        }
    }

    /// Statements held so far (each later batch replays them all).
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// SQL text and parameter bytes held so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Wait until every answer given stands (see the module's comment).
    async fn settle(&self) -> Result<(), Error> {
        if self.provisional {
            self.backend.sync(&self.object).await
        } else {
            Ok(())
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

    /// Continue as a locking transaction ([`crate::Backend::begin`]): replay what was run so
    /// far, with its savepoints, and check it answers as before (else `SerializationFailure`).
    /// The provisional answers given so far are made to stand first ([`crate::Backend::sync`]),
    /// since the locking transaction's own end covers only what it runs.
    pub async fn into_locking(mut self) -> Result<Box<dyn Transaction>, Error> {
        self.check_open()?;
        self.done = true;
        self.settle().await?;
        let mut tx = self.backend.begin(&self.object).await?;
        let mut from = 0;
        let mut marks = self.savepoints.iter().peekable();
        let mut got = Vec::with_capacity(self.statements.len());
        loop {
            while let Some((name, _)) = marks.next_if(|(_, at)| *at == from) {
                tx.savepoint(name).await?;
            }
            let to = marks.peek().map_or(self.statements.len(), |(_, at)| *at);
            if to > from {
                let batch = self.statements[from..to].to_vec();
                match tx.execute(batch).await {
                    Ok(r) => got.extend(r),
                    Err(e) => {
                        let _ = tx.rollback().await;
                        return Err(replayed_failure(e, usize::MAX));
                    }
                }
            }
            from = to;
            if marks.peek().is_none() && from == self.statements.len() {
                break;
            }
        }
        if let Some(i) = first_difference(&got, &self.answers) {
            let _ = tx.rollback().await;
            return Err(Error::SerializationFailure(format!(
                "statement {i} of the transaction answers differently now"
            )));
        }
        Ok(tx)
    }
}

#[async_trait]
impl Transaction for ReplayTransaction {
    async fn execute(&mut self, batch: Batch) -> Result<Vec<StatementResult>, Error> {
        self.check_open()?;
        let prefix = self.statements.len();
        if prefix + batch.len() > MAX_STATEMENTS {
            return Err(Error::Invalid(format!(
                "a replayed transaction holds at most {MAX_STATEMENTS} statements"
            )));
        }
        let mut all = self.statements.clone();
        all.extend(batch.iter().cloned());
        self.provisional = true;
        let mut got = match self.backend.dry_run_provisional(&self.object, all).await {
            Ok(r) => r,
            Err(e) => return Err(shift_error(e, prefix)),
        };
        if let Some(i) = first_difference(&got[..prefix.min(got.len())], &self.answers) {
            return Err(Error::SerializationFailure(format!(
                "statement {i} of the transaction answers differently now"
            )));
        }
        let mine = got.split_off(prefix.min(got.len()));
        self.bytes += batch.iter().map(statement_bytes).sum::<usize>();
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
        self.bytes = self.statements.iter().map(statement_bytes).sum();
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), Error> {
        self.check_open()?;
        self.done = true;
        if self.statements.is_empty() {
            return self.settle().await;
        }
        let statements = std::mem::take(&mut self.statements);
        let answers = std::mem::take(&mut self.answers);
        self.backend
            .execute_checked(&self.object, statements, answers)
            .await
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), Error> {
        // Nothing reached the object: dropping the statements is the rollback, once what the
        // answers saw is durable.
        self.done = true;
        self.settle().await
    }
}

/// An error of a dry run of prefix + batch, in terms of the batch: a prefix statement that
/// now fails means the data changed underneath the transaction.
fn shift_error(e: Error, prefix: usize) -> Error {
    match e {
        Error::Sqlite { index, message, .. } if index < prefix => Error::SerializationFailure(
            format!("an earlier statement of the transaction now fails: {message}"),
        ),
        Error::Sqlite {
            index,
            kind,
            code,
            message,
        } => Error::Sqlite {
            index: index - prefix,
            kind,
            code,
            message,
        },
        Error::Forbidden { index, reason } if index >= prefix => Error::Forbidden {
            index: index - prefix,
            reason,
        },
        e => e,
    }
}

fn statement_bytes(s: &Statement) -> usize {
    s.sql.len()
        + s.params
            .iter()
            .map(|v| match v {
                crate::Value::Text(t) => t.len(),
                crate::Value::Blob(b) => b.len(),
                _ => 8,
            })
            .sum::<usize>()
}

/// A statement of a checked batch that answered when the client ran it and now fails means
/// the data changed underneath the transaction. `checked` is how many statements had
/// answers (errors beyond them are the batch's own).
pub fn replayed_failure(e: Error, checked: usize) -> Error {
    match e {
        Error::Sqlite { index, message, .. } if index < checked => Error::SerializationFailure(
            format!("statement {index} of the transaction now fails: {message}"),
        ),
        e => e,
    }
}

/// Whether a statement answers as the client saw it: the same columns, rows and rows changed.
/// `last_insert_id` is left out: a row inserted without RETURNING may take another rowid at
/// commit when other transactions inserted meanwhile, and the client never saw it (a front-end
/// that shows a generated key reads it through RETURNING, whose rows are compared).
fn same_answer(a: &StatementResult, b: &StatementResult) -> bool {
    a.columns == b.columns && a.rows == b.rows && a.rows_changed == b.rows_changed
}

/// The first statement whose result differs from what the client saw.
pub fn first_difference(got: &[StatementResult], expected: &[StatementResult]) -> Option<usize> {
    expected
        .iter()
        .zip(got)
        .position(|(e, g)| !same_answer(e, g))
        .or_else(|| (got.len() < expected.len()).then_some(got.len()))
}

/// [`crate::Backend::execute_checked`] on a locking transaction: what a backend without a
/// cheaper way does.
pub async fn execute_checked_by_locking<B: crate::Backend + ?Sized>(
    backend: &B,
    object: &ObjectId,
    batch: Batch,
    expected: Vec<StatementResult>,
) -> Result<(), Error> {
    let mut tx = backend.begin(object).await?;
    let got = match tx.execute(batch).await {
        Ok(got) => got,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(replayed_failure(e, expected.len()));
        }
    };
    if let Some(i) = first_difference(&got, &expected) {
        let _ = tx.rollback().await;
        return Err(Error::SerializationFailure(format!(
            "statement {i} of the transaction answers differently at commit"
        )));
    }
    tx.commit().await
}
