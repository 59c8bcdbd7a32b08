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
