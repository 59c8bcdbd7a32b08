//! `lsm`: a shell over an open database, for one command (`lsm DIR get KEY`) or a
//! session at a prompt, and whole-database operations (`lsm backup DIR BACKUP_DIR`,
//! [`ops`]). [`Session::execute`] runs one [`ShellCommand`] and prints its
//! result; [`Session::run_lines`] runs a scripted session (what the prompt does when
//! standard input is not a terminal). `explain` renders the engine's own
//! lookup trace ([`explain`](mod@explain), `Db::explain`).
//!
//! Commands act on one keyspace at a time: `default` unless `--keyspace NAME` or
//! the `use NAME` command chose another ([`Session::use_keyspace`]); `keyspaces`
//! lists them.
//!
//! A database another process holds open is read through the engine's read-only
//! open (`Db::open_read_only`), as is any database with `--read-only`
//! ([`Session::open_read_only`]): read commands work, in every keyspace of the
//! view (`keyspaces` lists them, `use` chooses one), write commands fail
//! ([`Access`]).

pub mod command;
pub mod explain;
pub mod ops;
pub mod stats;

use std::io::{BufRead, Write};
use std::ops::Bound;
use std::path::Path;

use clap::Parser;
use std::sync::Mutex;

use lsm_core::{Db, Keyspace, Options, ReadOnlyDb, ReadOnlyKeyspace};

pub use command::{split_words, PromptCommand, PromptLine, ShellCommand};
pub use ops::{is_operation, run_operation, Operation, OperationLine, OPERATIONS};
pub use stats::{print_stats, Scope};

use crate::display::{parse_bytes, show, Style};
use crate::dump::out_err;
use crate::error::{Error, Result};

/// An open database and how to print what it returns.
pub struct Session {
    db: Handle,
    access: Access,
    style: Style,
    /// The keyspace commands act on; `None` for the default one.
    keyspace: Mutex<Option<Chosen>>,
}

/// A keyspace chosen with `use`, as the session holds the database.
#[derive(Clone)]
enum Chosen {
    Writer(Keyspace),
    Reader(ReadOnlyKeyspace),
}

impl Chosen {
    fn name(&self) -> &str {
        match self {
            Chosen::Writer(ks) => ks.name(),
            Chosen::Reader(ks) => ks.name(),
        }
    }
}

/// How the session holds the database.
enum Handle {
    /// Opened with the lock: every command.
    Writer(Db),
    /// Opened with `Db::open_read_only`: reads only, from a view fixed at open.
    Reader(ReadOnlyDb),
}

impl Handle {
    fn get(&self, ks: Option<&Chosen>, key: &[u8]) -> lsm_core::Result<Option<lsm_core::Bytes>> {
        match (self, ks) {
            (_, Some(Chosen::Writer(ks))) => ks.get(key),
            (_, Some(Chosen::Reader(ks))) => ks.get(key),
            (Handle::Writer(db), None) => db.get(key),
            (Handle::Reader(db), None) => db.get(key),
        }
    }

    fn scan<K: AsRef<[u8]>, R: std::ops::RangeBounds<K>>(
        &self,
        ks: Option<&Chosen>,
        range: R,
    ) -> lsm_core::Scan {
        match (self, ks) {
            (_, Some(Chosen::Writer(ks))) => ks.scan(range),
            (_, Some(Chosen::Reader(ks))) => ks.scan(range),
            (Handle::Writer(db), None) => db.scan(range),
            (Handle::Reader(db), None) => db.scan(range),
        }
    }

    fn prefix(&self, ks: Option<&Chosen>, prefix: Vec<u8>) -> lsm_core::Scan {
        match (self, ks) {
            (_, Some(Chosen::Writer(ks))) => ks.prefix(prefix),
            (_, Some(Chosen::Reader(ks))) => ks.prefix(prefix),
            (Handle::Writer(db), None) => db.prefix(prefix),
            (Handle::Reader(db), None) => db.prefix(prefix),
        }
    }

    fn explain(&self, ks: Option<&Chosen>, key: &[u8]) -> lsm_core::Result<lsm_core::LookupTrace> {
        match (self, ks) {
            (_, Some(Chosen::Writer(ks))) => ks.explain(key),
            (_, Some(Chosen::Reader(ks))) => ks.explain(key),
            (Handle::Writer(db), None) => db.explain(key),
            (Handle::Reader(db), None) => db.explain(key),
        }
    }
}

/// How a [`Session`] came to hold the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// As its writer (the lock taken): every command works.
    Writer,
    /// Read-only because another process holds the lock: read commands work on the
    /// state that process had made durable when the session opened; write commands
    /// fail.
    ReadOnlyLocked,
    /// Read-only because it was asked for (`--read-only`): the lock is never taken.
    ReadOnly,
}

fn arg(text: &str) -> Result<Vec<u8>> {
    parse_bytes(text).map_err(Error::Usage)
}

impl Session {
    /// Opens the database in `dir`; creates it when missing only if
    /// `options.create_if_missing` is set (the shell's `--create`). When another
    /// process holds the lock, the database is opened read-only instead
    /// ([`Access::ReadOnlyLocked`]; see [`Session::access`]).
    ///
    /// # Errors
    /// `Usage` with a clear message when `dir` holds no database and creating one was
    /// not asked for; engine errors.
    pub fn open(dir: &Path, options: Options, style: Style) -> Result<Session> {
        check_database(dir, options.create_if_missing)?;
        match Db::open(dir, options) {
            Ok(db) => Ok(Session {
                db: Handle::Writer(db),
                access: Access::Writer,
                style,
                keyspace: Mutex::new(None),
            }),
            Err(lsm_core::Error::Locked { .. }) => Ok(Session {
                db: Handle::Reader(Db::open_read_only(dir, Options::default())?),
                access: Access::ReadOnlyLocked,
                style,
                keyspace: Mutex::new(None),
            }),
            Err(e) => Err(Error::Db(e)),
        }
    }

    /// Opens the database in `dir` for reading only, without ever taking its lock
    /// (the shell's `--read-only`): beside a running writer or not, nothing in `dir`
    /// is written.
    ///
    /// # Errors
    /// `Usage` when `dir` holds no database; engine errors.
    pub fn open_read_only(dir: &Path, style: Style) -> Result<Session> {
        check_database(dir, false)?;
        Ok(Session {
            db: Handle::Reader(Db::open_read_only(dir, Options::default())?),
            access: Access::ReadOnly,
            style,
            keyspace: Mutex::new(None),
        })
    }

    /// How the database is held. After [`Session::open`], [`Access::ReadOnlyLocked`]
    /// means another process held the lock.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The open database, when the session holds it as its writer.
    pub fn db(&self) -> Option<&Db> {
        match &self.db {
            Handle::Writer(db) => Some(db),
            Handle::Reader(_) => None,
        }
    }

    /// Makes keyspace `name` the one commands act on (`"default"` the database's
    /// default keyspace); with `create`, creates it when missing. A read-only
    /// session reads every keyspace of its view and creates none.
    ///
    /// # Errors
    /// `Usage` for a keyspace that does not exist (without `create`, and always in
    /// a read-only session); engine errors.
    pub fn use_keyspace(&self, name: &str, create: bool) -> Result<()> {
        if !self.keyspace_names().iter().any(|n| n == name) && !create {
            return Err(Error::Usage(format!(
                "no keyspace named {name:?} (`use --create {name}` creates it)"
            )));
        }
        let chosen = if name == "default" {
            None
        } else {
            Some(match &self.db {
                Handle::Writer(db) => Chosen::Writer(db.keyspace(name)?),
                Handle::Reader(db) => {
                    if create && !db.keyspace_names().iter().any(|n| n == name) {
                        self.writer("use --create")?;
                    }
                    Chosen::Reader(db.keyspace(name)?)
                }
            })
        };
        *self.keyspace.lock().unwrap_or_else(|e| e.into_inner()) = chosen;
        Ok(())
    }

    /// The names of the database's keyspaces, sorted (a read-only session's: those
    /// of its view).
    fn keyspace_names(&self) -> Vec<String> {
        match &self.db {
            Handle::Writer(db) => db.keyspace_names(),
            Handle::Reader(db) => db.keyspace_names(),
        }
    }

    /// The keyspace commands act on; `None` for the default one.
    fn current(&self) -> Option<Chosen> {
        self.keyspace
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The writer, or the error a write command gets in a read-only session.
    fn writer(&self, what: &str) -> Result<&Db> {
        match &self.db {
            Handle::Writer(db) => Ok(db),
            Handle::Reader(_) => Err(Error::Usage(if self.access == Access::ReadOnlyLocked {
                format!(
                    "`{what}` needs the database open as its writer, and another process \
                     holds the lock (this session is read-only)"
                )
            } else {
                format!("`{what}` needs the database open as its writer (--read-only given)")
            })),
        }
    }

    /// The writer and the keyspace a write command `what` acts on (`None`: the
    /// default one), or the error it gets in a read-only session.
    fn target<'a>(
        &'a self,
        what: &str,
        ks: Option<&'a Chosen>,
    ) -> Result<(&'a Db, Option<&'a Keyspace>)> {
        let db = self.writer(what)?;
        match ks {
            None => Ok((db, None)),
            Some(Chosen::Writer(ks)) => Ok((db, Some(ks))),
            // A writer session chooses writer handles only.
            Some(Chosen::Reader(_)) => Err(Error::Usage(format!(
                "`{what}` needs the database open as its writer"
            ))),
        }
    }

    /// Runs one command given on the command line (`lsm DIR get KEY`), printing its
    /// result to `out`.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] for a `get` of a missing key; bad key syntax (`Usage`),
    /// engine errors, errors of `out`.
    pub fn execute(&self, command: &ShellCommand, out: &mut dyn Write) -> Result<()> {
        self.run(command, Scope::OneShot, out)
    }

    fn run(&self, command: &ShellCommand, scope: Scope, out: &mut dyn Write) -> Result<()> {
        let style = self.style;
        let ks = self.current();
        let ks = ks.as_ref();
        match command {
            ShellCommand::Get { key } => {
                let key = arg(key)?;
                // Always whole: `get` is how a value is read back, and a cut one would
                // be a different value.
                match self.db.get(ks, &key)? {
                    Some(v) => writeln!(out, "{}", show(&v, style.whole())).map_err(out_err)?,
                    None => return Err(Error::KeyNotFound(show(&key, style.whole()))),
                }
            }
            ShellCommand::Put { key, value, ttl } => {
                let (db, ks) = self.target("put", ks)?;
                match (ttl, ks) {
                    (Some(ttl), Some(ks)) => ks.put_with_ttl(arg(key)?, arg(value)?, *ttl)?,
                    (Some(ttl), None) => db.put_with_ttl(arg(key)?, arg(value)?, *ttl)?,
                    (None, Some(ks)) => ks.put(arg(key)?, arg(value)?)?,
                    (None, None) => db.put(arg(key)?, arg(value)?)?,
                }
                writeln!(out, "ok").map_err(out_err)?;
            }
            ShellCommand::Delete { key } => {
                let (db, ks) = self.target("delete", ks)?;
                match ks {
                    Some(ks) => ks.delete(arg(key)?)?,
                    None => db.delete(arg(key)?)?,
                }
                writeln!(out, "ok").map_err(out_err)?;
            }
            ShellCommand::DeleteRange { start, end } => {
                let (db, ks) = self.target("delete-range", ks)?;
                match ks {
                    Some(ks) => ks.delete_range(arg(start)?, arg(end)?)?,
                    None => db.delete_range(arg(start)?, arg(end)?)?,
                }
                writeln!(out, "ok").map_err(out_err)?;
            }
            ShellCommand::DeletePrefix { prefix } => {
                let (db, ks) = self.target("delete-prefix", ks)?;
                match ks {
                    Some(ks) => ks.delete_prefix(arg(prefix)?)?,
                    None => db.delete_prefix(arg(prefix)?)?,
                }
                writeln!(out, "ok").map_err(out_err)?;
            }
            ShellCommand::Scan {
                from,
                to,
                limit,
                reverse,
                prefix,
            } => {
                self.scan(
                    ks,
                    from.as_deref(),
                    to.as_deref(),
                    *limit,
                    *reverse,
                    prefix.as_deref(),
                    out,
                )?;
            }
            ShellCommand::Stats => {
                print_stats(&self.writer("stats")?.stats(), scope, out).map_err(out_err)?
            }
            ShellCommand::Flush => {
                let (db, ks) = self.target("flush", ks)?;
                match ks {
                    Some(ks) => ks.flush()?,
                    None => db.flush()?,
                }
                writeln!(out, "flushed").map_err(out_err)?;
            }
            ShellCommand::Compact => {
                self.writer("compact")?.compact()?;
                writeln!(out, "compacted").map_err(out_err)?;
            }
            ShellCommand::CompactRange { start, end } => {
                let (db, ks) = self.target("compact-range", ks)?;
                match ks {
                    Some(ks) => ks.compact_range(arg(start)?, arg(end)?)?,
                    None => db.compact_range(arg(start)?, arg(end)?)?,
                }
                writeln!(out, "compacted").map_err(out_err)?;
            }
            ShellCommand::Explain { key } => {
                let key = arg(key)?;
                let trace = self.db.explain(ks, &key)?;
                for line in explain::explain(&trace, style) {
                    writeln!(out, "{line}").map_err(out_err)?;
                }
            }
            ShellCommand::Keyspaces => {
                let current = ks.map_or("default", Chosen::name);
                for name in self.keyspace_names() {
                    let mark = if name == current { "*" } else { " " };
                    writeln!(out, "{mark} {name}").map_err(out_err)?;
                }
            }
            ShellCommand::Use { name, create } => {
                self.use_keyspace(name, *create)?;
                writeln!(out, "using keyspace {name}").map_err(out_err)?;
            }
        }
        Ok(())
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the scan command's options, each used once"
    )]
    fn scan(
        &self,
        ks: Option<&Chosen>,
        from: Option<&str>,
        to: Option<&str>,
        limit: Option<usize>,
        reverse: bool,
        prefix: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<()> {
        let from = from.map(arg).transpose()?;
        let to = to.map(arg).transpose()?;
        let scan = match prefix {
            Some(p) => self.db.prefix(ks, arg(p)?),
            None => {
                let lo = from.clone().map_or(Bound::Unbounded, Bound::Included);
                let hi = to.clone().map_or(Bound::Unbounded, Bound::Excluded);
                self.db.scan::<Vec<u8>, _>(ks, (lo, hi))
            }
        };
        let in_range = |k: &[u8]| {
            from.as_deref().is_none_or(|f| k >= f) && to.as_deref().is_none_or(|t| k < t)
        };
        let pairs: Box<dyn Iterator<Item = lsm_core::Result<_>>> = if reverse {
            Box::new(scan.rev())
        } else {
            Box::new(scan)
        };
        let mut n = 0;
        for pair in pairs {
            if limit.is_some_and(|l| n >= l) {
                break;
            }
            let (k, v) = pair?;
            if !in_range(&k) {
                continue;
            }
            n += 1;
            writeln!(
                out,
                "{} = {}",
                show(&k, self.style.whole()),
                show(&v, self.style)
            )
            .map_err(out_err)?;
        }
        writeln!(out, "({})", crate::display::plural(n as u64, "key")).map_err(out_err)
    }

    /// Runs every line of `input` as a prompt line, printing results to `out` and
    /// errors as `error: ...` lines, until the input ends or `quit`. With `echo`, each
    /// line is printed first after `prompt` (a transcript). Returns the number of
    /// lines that failed.
    ///
    /// # Errors
    /// Errors reading `input` or writing `out`.
    pub fn run_lines(
        &self,
        input: &mut dyn BufRead,
        out: &mut dyn Write,
        echo: Option<&str>,
    ) -> Result<usize> {
        let mut failed = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if input
                .read_line(&mut line)
                .map_err(|e| Error::io("<stdin>", e))?
                == 0
            {
                return Ok(failed);
            }
            if let Some(prompt) = echo {
                writeln!(out, "{prompt}{}", line.trim_end()).map_err(out_err)?;
            }
            match self.run_line(&line, out)? {
                LineOutcome::Quit => return Ok(failed),
                LineOutcome::Failed => failed += 1,
                LineOutcome::Done => {}
            }
        }
    }

    /// Runs one prompt line. Errors of the command are printed to `out`.
    ///
    /// # Errors
    /// Only errors writing to `out`.
    pub fn run_line(&self, line: &str, out: &mut dyn Write) -> Result<LineOutcome> {
        let words = match split_words(line) {
            Ok(w) => w,
            Err(e) => {
                writeln!(out, "error: {e}").map_err(out_err)?;
                return Ok(LineOutcome::Failed);
            }
        };
        if words.is_empty() || words.first().is_some_and(|w| w.starts_with('#')) {
            return Ok(LineOutcome::Done);
        }
        let parsed = match PromptLine::try_parse_from(&words) {
            Ok(p) => p,
            Err(e) => {
                let help = matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp
                        | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                );
                if e.kind() == clap::error::ErrorKind::InvalidSubcommand {
                    // clap's own text names a usage line meant for a binary.
                    let first = words.first().map_or("", String::as_str);
                    writeln!(
                        out,
                        "error: unknown command `{first}` (commands: get, put, delete, \
                         delete-range, delete-prefix, scan, stats, flush, compact, \
                         compact-range, explain, keyspaces, use, quit; `help` for details)"
                    )
                    .map_err(out_err)?;
                } else {
                    write!(out, "{}", e.render()).map_err(out_err)?;
                }
                return Ok(if help {
                    LineOutcome::Done
                } else {
                    LineOutcome::Failed
                });
            }
        };
        match parsed.command {
            PromptCommand::Quit => Ok(LineOutcome::Quit),
            PromptCommand::Db(cmd) => match self.run(&cmd, Scope::Session, out) {
                Ok(()) => Ok(LineOutcome::Done),
                Err(Error::Io { path, source }) if path.as_os_str() == "<output>" => {
                    Err(Error::Io { path, source })
                }
                Err(e) => {
                    writeln!(out, "error: {e}").map_err(out_err)?;
                    Ok(LineOutcome::Failed)
                }
            },
        }
    }

    /// Closes the database, flushing the memtable.
    ///
    /// # Errors
    /// Engine errors.
    pub fn close(self) -> Result<()> {
        match self.db {
            Handle::Writer(db) => Ok(db.close()?),
            Handle::Reader(_) => Ok(()),
        }
    }
}

/// Refuses a `dir` that holds no database (unless it may be created), before the
/// engine is asked: its refusal comes after it has taken the lock, which leaves a
/// `LOCK` file in a directory that is not a database.
fn check_database(dir: &Path, create: bool) -> Result<()> {
    if create || dir.join("MANIFEST").is_file() {
        return Ok(());
    }
    let what = if dir.is_dir() {
        "holds no database (no MANIFEST)"
    } else {
        "does not exist"
    };
    Err(Error::Usage(format!(
        "{} {what}; pass --create to create a database there",
        dir.display()
    )))
}

/// What running one prompt line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// The command ran (or the line was empty, a comment or help).
    Done,
    /// The command failed; the error was printed.
    Failed,
    /// `quit` or `exit`.
    Quit,
}
