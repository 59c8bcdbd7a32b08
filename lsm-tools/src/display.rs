//! Readable printing of keys and values, and parsing them back from the command line.
//!
//! One convention everywhere (dumps, the shell, error messages): a byte string that is
//! printable UTF-8 is shown as text; anything else is shown as `0x` followed by
//! lowercase hex. Text that itself starts with `0x`, or is empty, would be ambiguous,
//! so it is shown in hex too (the empty string is `""`). The shell parses the same
//! syntax back with [`parse_bytes`], so what a dump prints can be pasted as input.

use std::fmt::Write as _;

/// How [`show`] renders bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Always print hex, even for printable text.
    pub hex: Hex,
    /// Longest byte string printed whole; longer ones are cut and their length shown.
    /// `None` prints everything.
    pub max_len: Option<usize>,
}

/// Whether to force hex output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hex {
    /// Text when printable, hex otherwise.
    Auto,
    /// Always hex.
    Always,
}

/// Values longer than this many bytes are shortened unless `--full` is given.
pub const DEFAULT_MAX_LEN: usize = 64;

impl Default for Style {
    fn default() -> Self {
        Style {
            hex: Hex::Auto,
            max_len: Some(DEFAULT_MAX_LEN),
        }
    }
}

impl Style {
    /// The style chosen by the common `--hex` and `--full` flags.
    pub fn from_flags(hex: bool, full: bool) -> Self {
        Style {
            hex: if hex { Hex::Always } else { Hex::Auto },
            max_len: if full { None } else { Some(DEFAULT_MAX_LEN) },
        }
    }

    /// The same style without shortening (keys are always printed whole, and JSON
    /// never loses data).
    pub fn whole(self) -> Self {
        Style {
            max_len: None,
            ..self
        }
    }
}

/// True when `bytes` can be shown as text without ambiguity: valid UTF-8, non-empty,
/// no control characters, and not starting with the hex prefix `0x`.
pub fn is_printable(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => !s.is_empty() && !s.starts_with("0x") && !s.chars().any(char::is_control),
        Err(_) => false,
    }
}

/// Renders `bytes` as text or hex according to `style`, shortening long strings to
/// `max_len` bytes followed by `… (N bytes)`.
pub fn show(bytes: &[u8], style: Style) -> String {
    if bytes.is_empty() {
        return "\"\"".to_string();
    }
    let (shown, cut) = match style.max_len {
        Some(max) if bytes.len() > max => (bytes.get(..max).unwrap_or(bytes), true),
        _ => (bytes, false),
    };
    // A cut may split a UTF-8 character: decide printability on the whole string and
    // render the cut part lossily.
    let mut out = if style.hex == Hex::Auto && is_printable(bytes) {
        String::from_utf8_lossy(shown).into_owned()
    } else {
        hex(shown)
    };
    if cut {
        let _ = write!(out, "… ({} bytes)", bytes.len());
    }
    out
}

/// `0x` followed by the lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    out.push_str("0x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Parses a key or value typed by a user: `0x` followed by an even number of hex
/// digits is those bytes; `""` is the empty string; anything else is its UTF-8 text.
///
/// # Errors
/// A message when the text starts with `0x` but is not valid hex.
pub fn parse_bytes(text: &str) -> Result<Vec<u8>, String> {
    if text == "\"\"" {
        return Ok(Vec::new());
    }
    let Some(digits) = text.strip_prefix("0x") else {
        return Ok(text.as_bytes().to_vec());
    };
    if digits.len() % 2 != 0 {
        return Err(format!("`{text}`: hex needs an even number of digits"));
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    digits
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => match (nibble(*hi), nibble(*lo)) {
                (Some(h), Some(l)) => Ok(h << 4 | l),
                _ => Err(format!("`{text}`: not valid hex")),
            },
            _ => Err(format!("`{text}`: not valid hex")),
        })
        .collect()
}

/// `n` and the noun, plural unless `n` is 1: `1 record`, `3 records`.
pub fn plural(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    // "entry" -> "entries", but "key" -> "keys": only a consonant before the y.
    let consonant_y = noun
        .strip_suffix('y')
        .filter(|stem| stem.chars().last().is_some_and(|c| !"aeiou".contains(c)));
    let sibilant = noun.ends_with("sh") || noun.ends_with("ch") || noun.ends_with('s');
    match (n, consonant_y) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) if sibilant => format!("{n} {noun}es"),
        (_, None) => format!("{n} {noun}s"),
    }
}

/// Renders a byte count for people: `512 B`, `4.0 KiB`, `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("?")),
    }
}

/// A time given in milliseconds since the Unix epoch, as ISO 8601 in UTC:
/// `2023-11-14T22:13:20.000Z`.
pub fn utc_time(unix_ms: u64) -> String {
    let (days, ms_of_day) = (unix_ms / 86_400_000, unix_ms % 86_400_000);
    // Days to a civil date in the proleptic Gregorian calendar (Howard Hinnant's
    // `civil_from_days`), on unsigned numbers since the epoch comes first.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let (h, m) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (s, ms) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hex_and_shortening() {
        let auto = Style::default();
        assert_eq!(show(b"apple", auto), "apple");
        assert_eq!(show(b"\x00\xff", auto), "0x00ff");
        assert_eq!(show(b"0xab", auto), "0x30786162");
        assert_eq!(show(b"", auto), "\"\"");
        assert_eq!(show(b"tab\there", auto), hex(b"tab\there"));
        assert_eq!(
            show(b"apple", Style::from_flags(true, false)),
            "0x6170706c65"
        );
        let long = vec![b'v'; 100];
        assert_eq!(
            show(&long, auto),
            format!("{}… (100 bytes)", "v".repeat(64))
        );
        assert_eq!(show(&long, Style::from_flags(false, true)), "v".repeat(100));
    }

    #[test]
    fn parsing_round_trips_what_show_prints() {
        for bytes in [&b"apple"[..], b"\x00\xff", b"0xab", b"", b"with space"] {
            let shown = show(bytes, Style::default());
            assert_eq!(parse_bytes(&shown).unwrap(), bytes, "{shown}");
        }
        assert_eq!(parse_bytes("0xABcd").unwrap(), vec![0xab, 0xcd]);
        assert!(parse_bytes("0xabc").is_err());
        assert!(parse_bytes("0xzz").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(utc_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_time(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(utc_time(951_782_400_000 + 1), "2000-02-29T00:00:00.001Z");
        assert_eq!(utc_time(1_795_621_160_555), "2026-11-25T15:39:20.555Z");
        assert_eq!(utc_time(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn byte_counts() {
        assert_eq!(plural(1u64, "entry"), "1 entry");
        assert_eq!(plural(2u64, "entry"), "2 entries");
        assert_eq!(plural(0u64, "block"), "0 blocks");
        assert_eq!(plural(3u64, "key"), "3 keys");
        assert_eq!(plural(2u64, "flush"), "2 flushes");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
