//! Time: the [`Clock`] that expiring puts are written and read against, and the one
//! rule that says what a stored version means at a given time.
//!
//! Times inside the engine are Unix milliseconds (`u64`), the unit an expiring put
//! stores (`lsm_format::entry::encode_expiring`). The clock is read once per write batch
//! (fixing the expiry of its TTL puts), once when a read or scan starts, once when
//! a snapshot is taken, and once per flush or compaction.
//!
//! Expiry is judged against the clock as it is now, so a clock moved backwards
//! can make a value that had expired readable again until a flush or compaction
//! has turned it into a tombstone. [`SystemClock`] follows the system's wall clock;
//! tests move a [`ManualClock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lsm_format::entry::{decode_expiring, EXPIRY_LEN};
use lsm_format::EntryKind;

/// A source of the current time, against which values written with
/// [`Db::put_with_ttl`](crate::Db::put_with_ttl) expire.
///
/// Set it with [`Options::with_clock`](crate::Options::with_clock); the default is
/// [`SystemClock`]. The engine keeps times as whole milliseconds since the Unix
/// epoch; a time before the epoch counts as the epoch.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use lsm_core::Clock;
///
/// /// A clock that is always one hour late.
/// #[derive(Debug)]
/// struct Late;
///
/// impl Clock for Late {
///     fn now(&self) -> SystemTime {
///         SystemTime::now() - Duration::from_secs(3600)
///     }
/// }
///
/// assert!(Late.now() < SystemTime::now());
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock ([`SystemTime::now`]): the default [`Clock`].
///
/// ```
/// use lsm_core::{Clock, SystemClock};
/// let before = std::time::SystemTime::now();
/// assert!(SystemClock.now() >= before);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A [`Clock`] that stands still until it is moved: for tests of expiry.
///
/// Share it as an `Arc` between the test and the database's options. It keeps
/// whole milliseconds.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, UNIX_EPOCH};
/// use lsm_core::{Clock, Db, ManualClock, Options};
///
/// let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000)));
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default().with_clock(clock.clone()))?;
/// db.put_with_ttl("session", "token", Duration::from_secs(60))?;
/// clock.advance(Duration::from_secs(59));
/// assert!(db.contains_key("session")?);
/// clock.advance(Duration::from_secs(1));
/// assert!(!db.contains_key("session")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    /// Unix milliseconds.
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock showing `start`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use lsm_core::{Clock, ManualClock};
    /// let start = UNIX_EPOCH + Duration::from_secs(7);
    /// assert_eq!(ManualClock::new(start).now(), start);
    /// ```
    pub fn new(start: SystemTime) -> ManualClock {
        ManualClock {
            now_ms: AtomicU64::new(unix_ms(start)),
        }
    }

    /// Moves the clock forward by `by` (saturating).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use lsm_core::{Clock, ManualClock};
    /// let clock = ManualClock::new(UNIX_EPOCH);
    /// clock.advance(Duration::from_millis(1500));
    /// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_millis(1500));
    /// ```
    pub fn advance(&self, by: Duration) {
        let by = duration_ms(by);
        let _ = self
            .now_ms
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(by))
            });
    }

    /// Sets the clock to `to`, forward or backward.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use lsm_core::{Clock, ManualClock};
    /// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(100));
    /// clock.set(UNIX_EPOCH + Duration::from_secs(5));
    /// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(5));
    /// ```
    pub fn set(&self, to: SystemTime) {
        self.now_ms.store(unix_ms(to), Ordering::Release);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_ms.load(Ordering::Acquire))
    }
}

/// `t` as whole Unix milliseconds; times before the epoch count as 0.
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, duration_ms)
}

/// `d` in whole milliseconds, saturating.
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `clock`'s time now, in Unix milliseconds.
pub(crate) fn now_ms(clock: &dyn Clock) -> u64 {
    unix_ms(clock.now())
}

/// The Unix milliseconds at which a value written at `now_ms` with `ttl` expires:
/// `ttl` rounded up to whole milliseconds (a non-zero TTL never expires at the
/// instant it was written), saturating.
pub(crate) fn expiry_ms(now_ms: u64, ttl: Duration) -> u64 {
    let whole = duration_ms(ttl);
    let ttl_ms = if Duration::from_millis(whole) < ttl {
        whole.saturating_add(1)
    } else {
        whole
    };
    now_ms.saturating_add(ttl_ms)
}

/// What one stored version says about its key, read at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning<'a> {
    /// The key has this (user) value.
    Value(&'a [u8]),
    /// The key is absent: a tombstone, or an expiring put whose time has come.
    Absent {
        /// True for an expiring put whose time has come.
        expired: bool,
    },
}

/// What a version of kind `kind` with stored value `stored` means at `now_ms`: the
/// one rule every reader, flush and compaction applies.
///
/// An [`EntryKind::ExpiringPut`] is a value until `expires_at_ms`, and from that
/// instant on (`expires_at_ms <= now_ms`) a deletion at its own sequence number:
/// it hides older versions exactly as a tombstone would. The value handed on is
/// the user's, without the expiry prefix. A stored value too short to hold the
/// prefix cannot come from this engine (the write path builds it, the format's
/// decoders refuse it) and reads as absent.
///
/// An [`EntryKind::BlobPointer`] is a value kept in a blob file: the stored bytes
/// are its pointer, never the user's value, so a reader checks for the kind before
/// it hands a value on, and a compaction filter is not shown them.
pub(crate) fn meaning(kind: EntryKind, stored: &[u8], now_ms: u64) -> Meaning<'_> {
    match kind {
        EntryKind::Put | EntryKind::BlobPointer => Meaning::Value(stored),
        EntryKind::ExpiringPut => match decode_expiring(stored) {
            Some((expires_at, value)) if expires_at > now_ms => Meaning::Value(value),
            Some(_) => Meaning::Absent { expired: true },
            None => {
                debug_assert!(false, "expiring put of {} bytes", stored.len());
                Meaning::Absent { expired: true }
            }
        },
        EntryKind::Tombstone | EntryKind::RangeDelete => Meaning::Absent { expired: false },
    }
}

/// The value a reader at `now_ms` gets from this version: [`meaning`] with the
/// value as a slice of the shared `stored` bytes (no copy).
#[inline]
pub(crate) fn value_at(kind: EntryKind, stored: Bytes, now_ms: u64) -> Option<Bytes> {
    // The common case first, without looking at the bytes.
    if kind == EntryKind::Put {
        return Some(stored);
    }
    debug_assert_ne!(kind, EntryKind::BlobPointer, "a pointer is not a value");
    match meaning(kind, &stored, now_ms) {
        Meaning::Value(_) if kind == EntryKind::ExpiringPut => Some(stored.slice(EXPIRY_LEN..)),
        Meaning::Value(_) => Some(stored),
        Meaning::Absent { .. } => None,
    }
}

/// The expiry of an expiring put's stored value, `None` for every other kind.
pub(crate) fn expires_at(kind: EntryKind, stored: &[u8]) -> Option<u64> {
    (kind == EntryKind::ExpiringPut)
        .then(|| decode_expiring(stored).map(|(t, _)| t))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsm_format::entry::encode_expiring;

    #[test]
    fn an_expiring_put_is_a_value_before_its_time_and_absent_from_it() {
        let stored = encode_expiring(1_000, b"v");
        let kind = EntryKind::ExpiringPut;
        assert_eq!(meaning(kind, &stored, 999), Meaning::Value(b"v"));
        assert_eq!(
            meaning(kind, &stored, 1_000),
            Meaning::Absent { expired: true }
        );
        assert_eq!(
            value_at(kind, Bytes::from(stored.clone()), 0).as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(value_at(kind, Bytes::from(stored), 5_000), None);
        assert_eq!(
            meaning(EntryKind::Put, b"x", u64::MAX),
            Meaning::Value(b"x")
        );
        assert_eq!(
            meaning(EntryKind::Tombstone, b"", 0),
            Meaning::Absent { expired: false }
        );
    }

    #[test]
    fn expiries_round_up_and_saturate() {
        assert_eq!(expiry_ms(10, Duration::from_micros(1)), 11);
        assert_eq!(expiry_ms(10, Duration::from_millis(5)), 15);
        assert_eq!(expiry_ms(10, Duration::ZERO), 10);
        assert_eq!(expiry_ms(10, Duration::MAX), u64::MAX);
        assert_eq!(expiry_ms(u64::MAX - 1, Duration::from_secs(1)), u64::MAX);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::new(UNIX_EPOCH + Duration::from_millis(5));
        assert_eq!(now_ms(&c), 5);
        c.advance(Duration::from_millis(10));
        assert_eq!(now_ms(&c), 15);
        c.set(UNIX_EPOCH);
        assert_eq!(now_ms(&c), 0);
        c.advance(Duration::MAX);
        assert_eq!(now_ms(&c), u64::MAX);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
