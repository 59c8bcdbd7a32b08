//! Transactions over keyspaces ([`Op::Transaction`](super::super::Op)): reads,
//! writes, commit, and maybe a write by another caller after the transaction
//! began. The commit rule (`transaction/validate.rs`) makes the outcome exact: the
//! commit fails with `Error::Conflict` if and only if that other write touched
//! (put, deleted, or covered with a range delete) a key the transaction read
//! before writing it, since every transaction here writes something. A committed
//! transaction is recorded as the batch of its writes at its commit point; a
//! conflict must leave the state as it was.

use super::super::history::{apply_writes, Write};
use super::super::keyspaces::{qualify, read_qualified, txn_get, txn_write};
use super::super::{key, BatchOp, TxnSpec, When};
use super::Runner;
use crate::{Db, Error};

impl Runner {
    pub(super) fn transaction(&mut self, index: usize, spec: &TxnSpec) {
        let db = self.db.take().expect("open");
        self.transaction_on(&db, index, spec);
        self.db = Some(db);
    }

    /// Writes `op` as another caller; false when the write failed (the run is
    /// then broken and the transaction abandoned).
    fn outside_write(&mut self, db: &Db, op: &Write) -> bool {
        self.write_on(db, vec![op.clone()]);
        !self.broken
    }

    fn transaction_on(&mut self, db: &Db, index: usize, spec: &TxnSpec) {
        let reads: Vec<Vec<u8>> = spec
            .reads
            .iter()
            .map(|&(ks, k)| qualify(ks, &key(k)))
            .collect();
        let outside = spec.outside.as_ref().map(|(when, ks, op)| {
            let op = match *op {
                // An empty range delete would touch nothing: a delete instead.
                BatchOp::DeleteRange(a, b) if key(a) == key(b) => BatchOp::Delete(a),
                op => op,
            };
            (*when, self.write_of(*ks, &op))
        });
        let writes: Vec<Write> = spec
            .writes
            .iter()
            .map(|(ks, op)| self.write_of(*ks, op))
            .collect();
        let at_begin = self.history.state();
        let mut txn = db.begin();
        let outside_at = |runner: &mut Runner, now: When| match &outside {
            Some((when, op)) if *when == now => runner.outside_write(db, op),
            _ => true,
        };
        if !outside_at(self, When::BeforeReads) {
            return;
        }
        for q in &reads {
            match txn_get(db, &mut txn, q) {
                Ok(got) => assert_eq!(
                    got.as_ref(),
                    at_begin.get(q),
                    "op {index}: a transaction read {q:?} other than its snapshot holds"
                ),
                Err(e) => return self.failed(index, &format!("transaction get: {e}")),
            }
        }
        if !outside_at(self, When::AfterReads) {
            return;
        }
        for op in &writes {
            if let Err(e) = txn_write(db, &mut txn, op) {
                return self.failed(index, &format!("transaction write: {e}"));
            }
        }
        // Its own writes over its snapshot: what it reads back.
        let mut own = at_begin;
        apply_writes(&mut own, &writes);
        if let Some(q) = reads.first() {
            match txn_get(db, &mut txn, q) {
                Ok(got) => assert_eq!(
                    got.as_ref(),
                    own.get(q),
                    "op {index}: a transaction read back {q:?} other than its writes make it"
                ),
                Err(e) => return self.failed(index, &format!("transaction get: {e}")),
            }
        }
        if !outside_at(self, When::AfterWrites) {
            return;
        }
        let must_conflict = outside.as_ref().is_some_and(|(_, op)| {
            reads.iter().any(|q| match op {
                Write::Put(k, _) => k == q,
                op => op.deletes(q),
            })
        });
        // At its commit point, after the other write.
        let step = self.history.effect(&writes);
        match txn.commit() {
            Ok(()) => {
                assert!(
                    !must_conflict,
                    "op {index}: a transaction committed though another write touched a key \
                     it read"
                );
                self.summary.acked += 1;
                self.summary.keyspace_transactions += 1;
                self.history.ack(step);
                if self.options.sync_writes {
                    self.history.synced();
                }
            }
            Err(Error::Conflict { what }) => {
                assert!(
                    must_conflict,
                    "op {index}: a transaction conflicted on {what}, though no other write \
                     touched a key it read"
                );
                self.summary.conflicts += 1;
                let found = read_qualified(db).unwrap_or_else(|e| panic!("op {index}: {e}"));
                assert!(
                    found == self.history.state(),
                    "op {index}: a transaction that conflicted left a trace"
                );
            }
            Err(e) => {
                assert!(self.power_cut, "op {index}: commit: {e}");
                self.history.attempt(step);
                self.broken = true;
                self.summary.cut_failures += 1;
            }
        }
    }
}
