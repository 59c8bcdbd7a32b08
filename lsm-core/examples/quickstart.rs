//! The prototype's scenario, end to end: three flushes, two full compactions,
//! reads, a delete, and a reopen.
//!
//! Run with `cargo run -p lsm-core --example quickstart [DIR]` (default: a fresh
//! directory under the system's temp dir).

use std::path::PathBuf;

use lsm_core::{Db, Options};

fn show(db: &Db, key: &str) -> lsm_core::Result<Option<String>> {
    let v = db
        .get(key)?
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    println!("  get({key:?}) = {v:?}");
    Ok(v)
}

fn levels(db: &Db) -> String {
    db.stats()
        .levels
        .iter()
        .map(|l| format!("L{}: {} segment(s)", l.level, l.segments))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> lsm_core::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("lsm-quickstart-{}", std::process::id()))
        });
    let options = Options::default()
        .with_memtable_size(64 << 10)
        .with_segment_size(4 << 10);
    println!("opening {}", dir.display());
    let db = Db::open(&dir, options.clone())?;

    for (round, pairs) in [
        [("1", "10"), ("2", "20")],
        [("4", "40"), ("3", "30")],
        [("1", "100"), ("3", "300")],
    ]
    .iter()
    .enumerate()
    {
        for (k, v) in pairs {
            println!("put {k} = {v}");
            db.put(k, v)?;
        }
        db.flush()?;
        println!("flush #{}: {}", round + 1, levels(&db));
    }
    for n in 1..=2 {
        db.compact()?;
        println!("compact #{n}: {}", levels(&db));
    }

    println!("reads after compaction:");
    assert_eq!(show(&db, "1")?.as_deref(), Some("100"));
    assert_eq!(show(&db, "3")?.as_deref(), Some("300"));
    assert_eq!(show(&db, "2")?.as_deref(), Some("20"));
    assert_eq!(show(&db, "4")?.as_deref(), Some("40"));

    let stats = db.stats();
    println!(
        "stats: {} flushes, {} compactions, write amplification {:.2}",
        stats.flushes,
        stats.compactions,
        stats.write_amplification()
    );

    println!("delete 2, close, reopen");
    db.delete("2")?;
    db.close()?;
    let db = Db::open(&dir, options)?;
    assert_eq!(show(&db, "2")?, None);
    print!("all keys:");
    for item in db.scan::<&[u8], _>(..) {
        let (k, v) = item?;
        print!(
            " {}={}",
            String::from_utf8_lossy(&k),
            String::from_utf8_lossy(&v)
        );
    }
    println!();
    db.close()?;
    Ok(())
}
