//! `lsm-repair`: repair a database directory that does not open.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lsm_tools::repair::{exit_status, print, run, EXIT_FAILED};

/// Repair a database that does not open: rebuild its manifest from the files that
/// verify, keep every block and WAL record that can be read, move damaged files into
/// DIR/lost/ (nothing is deleted), and report exactly what was lost.
///
/// Exit status: 0 nothing lost (or nothing to repair), 1 data lost (the report names
/// it), 2 usage error, 3 could not repair (locked, no database, I/O error).
#[derive(Debug, Parser)]
#[command(name = "lsm-repair", version)]
struct Args {
    /// The database directory.
    dir: PathBuf,
    /// Report what a repair would do and lose, changing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as one JSON document.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let report = match run(&args.dir, args.dry_run) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("lsm-repair: {message}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let stdout = std::io::stdout();
    match print(&report, args.json, &mut stdout.lock()) {
        Ok(()) => ExitCode::from(exit_status(&report)),
        // The reader of the output went away: the status still says what happened.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(exit_status(&report))
        }
        Err(e) => {
            eprintln!("lsm-repair: {e}");
            // The repair itself is done; only its report could not be printed.
            ExitCode::from(exit_status(&report))
        }
    }
}
