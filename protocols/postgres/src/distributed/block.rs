//! A transaction block's shard objects: at most one written, the others read and
//! validated before it commits.

use dotdo_backend::replay::ReplayTransaction;
use dotdo_backend::{ObjectId, Statement};
use dotdo_sql::{SqlError, code};

use super::{ONE_WRITER, refused};
use crate::TransactionMode;
use crate::session::{Session, Txn};

/// A shard object a transaction block has used.
pub(crate) struct Participant {
    object: ObjectId,
    txn: Txn,
    wrote: bool,
}

/// A block's shard objects, beside the coordinator's own transaction.
#[derive(Default)]
pub(crate) struct BlockShards {
    participants: Vec<Participant>,
    /// The coordinator's transaction has written.
    pub(crate) coordinator_wrote: bool,
}

impl BlockShards {
    pub(crate) fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    pub(crate) fn any_wrote(&self) -> bool {
        self.participants.iter().any(|p| p.wrote)
    }

    /// End the block: the objects only read are committed (validated) before the one
    /// written, so a failed validation leaves nothing written.
    pub(crate) async fn finish(&mut self, commit: bool) -> Result<(), SqlError> {
        self.coordinator_wrote = false;
        let mut all = std::mem::take(&mut self.participants);
        all.sort_by_key(|p| p.wrote);
        let mut result = Ok(());
        for p in all {
            let handle = p.txn.into_handle();
            if commit && result.is_ok() {
                if let Err(e) = handle.commit().await {
                    result = Err(SqlError::from(e));
                }
            } else {
                let _ = handle.rollback().await;
            }
        }
        result
    }
}

impl Session {
    /// The block's transaction on a shard object, opened on first use; `write` claims the
    /// block's one writable object.
    pub(super) async fn participant(
        &mut self,
        object: &ObjectId,
        write: bool,
        batch: &[Statement],
    ) -> Result<&mut Txn, SqlError> {
        if write
            && (self.shards.coordinator_wrote
                || self
                    .shards
                    .participants
                    .iter()
                    .any(|p| p.wrote && p.object != *object))
        {
            return Err(refused(ONE_WRITER));
        }
        if self.has_savepoints {
            return Err(refused(
                "savepoints are not supported in a transaction block that uses distributed tables",
            ));
        }
        let found = self
            .shards
            .participants
            .iter()
            .position(|p| p.object == *object);
        let pos = match found {
            Some(i) => i,
            None => {
                let backend = self.server.backend.clone();
                let txn = match self.server.config.transactions {
                    TransactionMode::Optimistic => Txn::Replay(ReplayTransaction::new(
                        self.server.backend.clone(),
                        object.clone(),
                    )),
                    TransactionMode::Locking => Txn::Locking(backend.begin(object).await?),
                };
                self.shards.participants.push(Participant {
                    object: object.clone(),
                    txn,
                    wrote: false,
                });
                self.shards.participants.len() - 1
            }
        };
        let p = &mut self.shards.participants[pos];
        p.wrote |= write;
        // As on the coordinator: random values cannot be replayed, and a long block would
        // replay its whole prefix at every statement.
        let escalate = match &p.txn {
            Txn::Replay(r) => {
                r.len() + batch.len() > crate::session::MAX_REPLAY_STATEMENTS
                    || r.bytes() > crate::session::MAX_REPLAY_BYTES
                    || batch
                        .iter()
                        .any(|s| dotdo_sql::translate::draws_random(&s.sql))
            }
            Txn::Locking(_) => false,
        };
        if escalate {
            let Txn::Replay(r) = std::mem::replace(
                &mut p.txn,
                Txn::Replay(ReplayTransaction::new(
                    self.server.backend.clone(),
                    object.clone(),
                )),
            ) else {
                return Err(SqlError::new(code::INTERNAL_ERROR, "no transaction"));
            };
            p.txn = Txn::Locking(r.into_locking().await?);
        }
        Ok(&mut p.txn)
    }
}
