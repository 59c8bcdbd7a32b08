//! `lsm-verify`: check every checksum and invariant of a file or a database directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lsm_tools::files::Target;
use lsm_tools::verify::verify_path;

/// Check a segment, write-ahead log, manifest, or a whole database directory: every
/// checksum, the order of keys, the index, the Bloom filter, the properties, and on
/// a directory the manifest's consistency with the files. Prints one line per
/// problem (file, offset, what is wrong) and a summary. Exit status: 0 when sound
/// (warnings, such as a blob file nothing points into, lose nothing), 1 when a
/// problem was found (or the path could not be read), 2 on usage errors.
#[derive(Debug, Parser)]
#[command(name = "lsm-verify", version)]
struct Args {
    /// A database directory, or a segment, WAL, blob or MANIFEST file.
    path: PathBuf,
    /// Treat the file as this kind instead of telling it from its name.
    #[arg(long = "type", value_enum)]
    kind: Option<Target>,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let report = match verify_path(&args.path, args.kind) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lsm-verify: {e}");
            return ExitCode::from(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let printed = if args.json {
        report.print_json(&mut out)
    } else {
        report.print_text(&mut out)
    };
    match printed.and_then(|()| out.flush().map_err(lsm_tools::dump::out_err)) {
        Ok(()) => {}
        // The reader of the output went away (`| head`): stop quietly; the status
        // still says whether a problem was found.
        Err(e) if e.is_broken_pipe() => {}
        Err(e) => {
            eprintln!("lsm-verify: {e}");
            return ExitCode::from(1);
        }
    }
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
