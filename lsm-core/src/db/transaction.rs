//! Optimistic transactions: beginning one, and running a closure in one with
//! retries on conflict.

use super::Db;
use crate::error::{Error, Result};
use crate::transaction::Transaction;

/// How many times [`Db::transaction`] runs its closure before it gives up on
/// conflicts.
const ATTEMPTS: usize = 16;

impl Db {
    /// Begins a [`Transaction`]: it reads the database as of now (a snapshot)
    /// plus its own writes, and [`commits`](Transaction::commit) them atomically
    /// unless something it read was written meanwhile.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("stock", "5")?;
    /// let mut txn = db.begin();
    /// let stock: u32 = std::str::from_utf8(&txn.get("stock")?.unwrap())?.parse()?;
    /// txn.put("stock", (stock - 1).to_string())?;
    /// txn.commit()?;
    /// assert_eq!(db.get("stock")?.as_deref(), Some(&b"4"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn begin(&self) -> Transaction<'_> {
        Transaction::new(self, self.snapshot())
    }

    /// Runs `f` in a fresh transaction and commits it; when the commit fails with
    /// [`Error::Conflict`] (or `f` returns it), runs `f` again in a new
    /// transaction, up to 16 attempts in all, then returns the last conflict.
    /// Any other error from `f` or from the commit is returned at once (the
    /// transaction is rolled back). `f` may run several times: keep its effects
    /// outside the transaction idempotent.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("counter", "41")?;
    /// let new = db.transaction(|txn| {
    ///     let n: u64 = match txn.get("counter")? {
    ///         Some(v) => String::from_utf8_lossy(&v).parse().unwrap_or(0),
    ///         None => 0,
    ///     };
    ///     txn.put("counter", (n + 1).to_string())?;
    ///     Ok(n + 1)
    /// })?;
    /// assert_eq!(new, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] when all 16 attempts conflicted; any other error of
    /// `f` or of [`Transaction::commit`].
    pub fn transaction<T>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 1;
        loop {
            let mut txn = self.begin();
            let result = f(&mut txn).and_then(|value| txn.commit().map(|()| value));
            match result {
                Err(Error::Conflict { .. }) if attempt < ATTEMPTS => {
                    attempt += 1;
                    // Let the writer that won run on before trying again.
                    std::thread::yield_now();
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::transaction::Transaction;
    use crate::{Db, Error, Options};

    /// A transaction's snapshot is recorded as live in the same step as its view is
    /// taken. Here a write to the key the transaction reads is committed, flushed
    /// and compacted to the bottom level while the view is being taken: had the
    /// compaction not seen the snapshot, it would have renumbered that write to
    /// sequence number 0, the commit check would have found nothing written after
    /// the transaction began, and the commit would have overwritten the write (a
    /// lost update; a bank transfer test saw money appear this way).
    #[test]
    fn a_write_compacted_while_a_transaction_begins_still_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.put("k", "1").unwrap();
        db.flush().unwrap();
        db.compact().unwrap();
        let snapshot = std::thread::scope(|s| {
            db.snapshot_of(|| {
                let view = db.engine.view();
                let (done_tx, done) = mpsc::channel();
                let db = &db;
                s.spawn(move || {
                    db.put("k", "2").unwrap();
                    db.flush().unwrap();
                    db.compact().unwrap();
                    let _ = done_tx.send(());
                });
                // With the snapshot recorded in the same step, the flush waits for
                // it and this times out; without, the compaction finishes here.
                let _ = done.recv_timeout(Duration::from_millis(500));
                view
            })
        });
        let mut t = Transaction::new(&db, snapshot);
        assert_eq!(t.get("k").unwrap().as_deref(), Some(&b"1"[..]));
        t.put("k", "1+1").unwrap();
        let err = t.commit().unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"2"[..]));
    }
}
