//! `lsm`: a shell over a database: one command, or an interactive prompt.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lsm_core::Options;
use lsm_tools::display::Style;
use lsm_tools::shell::{
    is_operation, run_operation, Access, LineOutcome, OperationLine, Session, ShellCommand,
};

/// Open a database and run one command, or, without a command, read commands at a
/// prompt (with line editing on a terminal; one command per line from a pipe). Keys
/// and values are text, or hex with a 0x prefix. Type `help` at the prompt for the
/// commands, `quit` to leave. Exit status: 0 on success, 1 when a command failed
/// (including a `get` of a missing key, and a write command in a read-only
/// session) or the database cannot be opened, 2 on usage errors. A database that
/// another process holds open is opened read-only (see --read-only).
///
/// Operations on whole databases name their directories after the operation:
/// `lsm checkpoint DIR DEST`, `lsm backup DIR BACKUP_DIR`,
/// `lsm restore BACKUP_DIR ID DEST`, `lsm backups BACKUP_DIR`,
/// `lsm verify-backup BACKUP_DIR ID`, `lsm delete-backup BACKUP_DIR ID`,
/// `lsm purge-backups BACKUP_DIR --keep N` (`lsm backup --help` and so on). A first
/// argument that is one of these words is the operation; a database directory of
/// that name is reached as `./NAME`.
#[derive(Debug, Parser)]
#[command(name = "lsm", version)]
struct Args {
    /// The database directory; it must hold a database unless --create is given.
    dir: PathBuf,
    /// Create the database (and the directory) when missing.
    #[arg(long, conflicts_with = "read_only")]
    create: bool,
    /// Open the database read-only, never taking its lock (beside a running writer
    /// or not): read commands see the state made durable when the shell started;
    /// write commands (put, delete, flush, compact) and stats fail. Without it, a
    /// database another process holds is opened this way anyway, with a note on
    /// stderr.
    #[arg(long)]
    read_only: bool,
    /// Print keys and values in hex even when they are printable text.
    #[arg(long, global = true)]
    hex: bool,
    /// In `scan`, print values longer than 64 bytes whole instead of shortening them
    /// (`get` always prints the whole value).
    #[arg(long, global = true)]
    full: bool,
    /// The keyspace commands act on (it must exist; `use --create NAME` at the
    /// prompt creates one). Default: the database's default keyspace.
    #[arg(long, value_name = "NAME")]
    keyspace: Option<String>,
    /// When commands come from a pipe: print each one after a `lsm> ` prompt before
    /// its output, making a transcript.
    #[arg(long)]
    echo: bool,
    /// The command; without one, a prompt.
    #[command(subcommand)]
    command: Option<ShellCommand>,
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| is_operation(&a)) {
        return operation();
    }
    let args = Args::parse();
    let options = Options::default().with_create_if_missing(args.create);
    let style = Style::from_flags(args.hex, args.full);
    let opened = if args.read_only {
        Session::open_read_only(&args.dir, style)
    } else {
        Session::open(&args.dir, options, style)
    };
    let session = match opened {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lsm: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(name) = &args.keyspace {
        if let Err(e) = session.use_keyspace(name, false) {
            eprintln!("lsm: {e}");
            let _ = session.close();
            return ExitCode::from(1);
        }
    }
    if session.access() == Access::ReadOnlyLocked {
        eprintln!(
            "lsm: {} is locked by another process: opened read-only (its state when the \
             shell started; write commands fail)",
            args.dir.display()
        );
    }
    let stdout = std::io::stdout();
    let ok = match &args.command {
        Some(cmd) => {
            let mut out = stdout.lock();
            match session.execute(cmd, &mut out) {
                Ok(()) => true,
                // The reader of the output went away (`| head`): stop quietly.
                Err(e) if e.is_broken_pipe() => true,
                Err(e) => {
                    eprintln!("lsm: {e}");
                    false
                }
            }
        }
        None if std::io::stdin().is_terminal() => interactive(&session),
        None => {
            let stdin = std::io::stdin();
            let mut out = stdout.lock();
            match session.run_lines(&mut stdin.lock(), &mut out, args.echo.then_some("lsm> ")) {
                Ok(failed) => failed == 0,
                Err(e) if e.is_broken_pipe() => true,
                Err(e) => {
                    eprintln!("lsm: {e}");
                    false
                }
            }
        }
    };
    let _ = std::io::stdout().flush();
    if let Err(e) = session.close() {
        eprintln!("lsm: closing: {e}");
        return ExitCode::from(1);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `lsm OPERATION ...`: one whole-database operation.
fn operation() -> ExitCode {
    let line = OperationLine::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = run_operation(&line.operation, &mut out);
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lsm: {e}");
            ExitCode::from(1)
        }
    }
}

/// The prompt, with line editing and in-memory history.
fn interactive(session: &Session) -> bool {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("lsm: cannot start the line editor: {e}");
            return false;
        }
    };
    println!("type `help` for the commands, `quit` to leave");
    loop {
        match editor.readline("lsm> ") {
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                let mut out = std::io::stdout().lock();
                match session.run_line(&line, &mut out) {
                    Ok(LineOutcome::Quit) => return true,
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("lsm: {e}");
                        return false;
                    }
                }
            }
            Err(
                rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof,
            ) => return true,
            Err(e) => {
                eprintln!("lsm: {e}");
                return false;
            }
        }
    }
}
