//! `lsm-dump`: print what a segment, WAL, manifest, blob file or database directory
//! holds.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lsm_tools::display::{parse_bytes, Style};
use lsm_tools::dump::{dump, DumpOptions, KeyRange};
use lsm_tools::files::Target;

/// Print the contents of a segment, write-ahead log, manifest, blob file, or a whole
/// database directory. Reads files directly without taking the database lock, so it works
/// beside a running process.
#[derive(Debug, Parser)]
#[command(name = "lsm-dump", version)]
struct Args {
    /// A database directory, or a segment (`NNNNNN.seg`), WAL (`NNNNNN.wal`), blob
    /// (`NNNNNN.blob`) or `MANIFEST` file.
    path: PathBuf,
    /// Treat the file as this kind instead of telling it from its name.
    #[arg(long = "type", value_enum)]
    kind: Option<Target>,
    /// On a directory: every live key in order (the merged view `Db::scan` gives)
    /// instead of the summary.
    #[arg(long)]
    entries: bool,
    /// With `--entries`: the keyspace to list (default: the database's default
    /// keyspace).
    #[arg(long, value_name = "NAME")]
    keyspace: Option<String>,
    /// On a segment: every region of the file with its offset and length (an error
    /// on anything else).
    #[arg(long)]
    layout: bool,
    /// Print one JSON document (JSON lines for `--entries`).
    #[arg(long)]
    json: bool,
    /// Print keys and values in hex even when they are printable text.
    #[arg(long)]
    hex: bool,
    /// Print long values whole instead of shortening them.
    #[arg(long)]
    full: bool,
    /// Only entries with key >= this (text, or hex with a 0x prefix).
    #[arg(long, value_parser = parse_key)]
    from: Option<Key>,
    /// Only entries with key < this (text, or hex with a 0x prefix).
    #[arg(long, value_parser = parse_key)]
    to: Option<Key>,
    /// At most this many entries.
    #[arg(long)]
    limit: Option<usize>,
}

/// A key given on the command line (a newtype, so clap takes it as one value).
#[derive(Debug, Clone)]
struct Key(Vec<u8>);

fn parse_key(s: &str) -> Result<Key, String> {
    parse_bytes(s).map(Key)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = DumpOptions {
        style: Style::from_flags(args.hex, args.full),
        json: args.json,
        layout: args.layout,
        entries: args.entries,
        keyspace: args.keyspace,
        range: KeyRange {
            from: args.from.map(|k| k.0),
            to: args.to.map(|k| k.0),
        },
        limit: args.limit,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = dump(&args.path, args.kind, &options, &mut out);
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        // The reader of the output went away (`| head`): stop quietly.
        (Err(e), _) if e.is_broken_pipe() => ExitCode::SUCCESS,
        (Ok(()), Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("lsm-dump: {e}");
            ExitCode::from(1)
        }
        (_, Err(e)) => {
            eprintln!("lsm-dump: {e}");
            ExitCode::from(1)
        }
    }
}
