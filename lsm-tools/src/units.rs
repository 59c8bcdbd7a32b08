//! Counts and sizes on the command line, with units: `--num 1M`, `--block-cache-size
//! 128MiB`, as well as raw numbers.
//!
//! A quantity is a number, optionally with a decimal fraction (`1.5M`) and
//! underscores between digits (`1_000_000`), followed by an optional multiplier:
//! `k`, `M`, `G`, `T` are powers of 1000, `Ki`, `Mi`, `Gi`, `Ti` powers of 1024.
//! A size may end in `B` (`64KiB`, `4096B`); letters are not case-sensitive, and a
//! space may separate the number from the unit. The result must be a whole number:
//! `1.5k` is 1500, `0.5` is refused.

/// Parses a count such as `1000`, `1M` or `2.5k`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_count(text: &str) -> Result<u64, String> {
    parse(text, Kind::Count)
}

/// Parses a size in bytes such as `4096`, `64KiB`, `128MiB` or `1GB`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_size(text: &str) -> Result<u64, String> {
    parse(text, Kind::Size)
}

/// [`parse_count`] for `usize` arguments.
///
/// # Errors
/// As [`parse_count`], and when the count does not fit.
pub fn parse_count_usize(text: &str) -> Result<usize, String> {
    fit(text, parse_count(text)?)
}

/// [`parse_size`] for `usize` arguments.
///
/// # Errors
/// As [`parse_size`], and when the size does not fit.
pub fn parse_size_usize(text: &str) -> Result<usize, String> {
    fit(text, parse_size(text)?)
}

fn fit(text: &str, n: u64) -> Result<usize, String> {
    usize::try_from(n).map_err(|_| format!("`{text}` is too large for this platform"))
}

/// A size in the form [`parse_size`] reads back, for help texts: `64MiB`, `4KiB`,
/// or the raw number when it is not a whole number of KiB, MiB, GiB or TiB.
pub fn format_size(n: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// Parses a duration: a whole number followed by `ms`, `s`, `m`, `h` or `d`
/// (`500ms`, `10s`, `5m`, `2h`, `1d`); zero is refused (a time to live of nothing).
///
/// ```
/// use std::time::Duration;
/// use lsm_tools::units::parse_duration;
/// assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
/// assert!(parse_duration("10").is_err()); // a unit is required
/// ```
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || {
        format!(
            "`{text}` is not a duration: a whole number and a unit, ms, s, m, h or d \
             (500ms, 10s, 5m, 2h, 1d)"
        )
    };
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let ms_per = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let ms = n
        .checked_mul(ms_per)
        .ok_or_else(|| format!("`{text}` is too long a duration"))?;
    if ms == 0 {
        return Err(format!("`{text}`: a duration must be longer than zero"));
    }
    Ok(std::time::Duration::from_millis(ms))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Count,
    Size,
}

fn parse(text: &str, kind: Kind) -> Result<u64, String> {
    let help = || match kind {
        Kind::Count => format!(
            "`{text}` is not a count: use a number, optionally with k, M, G (powers of \
             1000) or Ki, Mi, Gi (powers of 1024), e.g. 1000000 or 1M"
        ),
        Kind::Size => format!(
            "`{text}` is not a size: use a number of bytes, optionally with KB, MB, GB \
             (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. 134217728 or 128MiB"
        ),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = match (kind, unit.strip_suffix('b')) {
        (Kind::Size, Some(stripped)) => stripped.to_string(),
        _ => unit,
    };
    let multiplier: u64 = match unit.as_str() {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        "t" => 1_000_000_000_000,
        "ki" => 1 << 10,
        "mi" => 1 << 20,
        "gi" => 1 << 30,
        "ti" => 1 << 40,
        _ => return Err(help()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| -> Result<String, String> {
        // Underscores only between digits, as in Rust literals.
        if s.starts_with('_') || s.ends_with('_') || s.contains('.') {
            return Err(help());
        }
        Ok(s.chars().filter(|&c| c != '_').collect())
    };
    let (whole, fraction) = (digits(whole)?, digits(fraction)?);
    if whole.is_empty() && fraction.is_empty() {
        return Err(help());
    }
    let too_large = || format!("`{text}` is too large");
    let value = |s: &str| -> Result<u128, String> {
        if s.is_empty() {
            Ok(0)
        } else {
            s.parse::<u128>().map_err(|_| too_large())
        }
    };
    // Exact arithmetic: whole * m + fraction * m / 10^len, which must be whole.
    let scale = 10u128
        .checked_pow(u32::try_from(fraction.len()).map_err(|_| help())?)
        .ok_or_else(too_large)?;
    let m = u128::from(multiplier);
    let frac = value(&fraction)?.checked_mul(m).ok_or_else(too_large)?;
    if !frac.is_multiple_of(scale) {
        return Err(format!("`{text}` is not a whole number"));
    }
    let total = value(&whole)?
        .checked_mul(m)
        .and_then(|w| w.checked_add(frac / scale))
        .ok_or_else(too_large)?;
    u64::try_from(total).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count("1000"), Ok(1000));
        assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("2.5K"), Ok(2_500));
        assert_eq!(parse_count("1Ki"), Ok(1024));
        assert_eq!(parse_count("0"), Ok(0));
        assert!(parse_count("1MB").is_err(), "a count has no byte unit");
        assert!(parse_count("0.5").is_err());
        assert!(parse_count("").is_err());
        assert!(parse_count("M").is_err());
        assert!(parse_count("-1").is_err());
        assert!(parse_count("1..5k").is_err());
        assert!(parse_count("_1").is_err());
        assert!(parse_count("99999999999999999999999").is_err());
        assert!(parse_count("20000000T").is_err());
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        for (text, ms) in [
            ("500ms", 500),
            ("10s", 10_000),
            ("5m", 300_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("3 s", 3000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in [
            "",
            "10",
            "s",
            "1.5s",
            "-1s",
            "10x",
            "0s",
            "99999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4096B"), Ok(4096));
        assert_eq!(parse_size("128MiB"), Ok(128 << 20));
        assert_eq!(parse_size("128 MiB"), Ok(128 << 20));
        assert_eq!(parse_size("128mib"), Ok(128 << 20));
        assert_eq!(parse_size("64KB"), Ok(64_000));
        assert_eq!(parse_size("64k"), Ok(64_000));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("1.3B").is_err());
        for n in [0, 1000, 4096, 64 << 20, 3 << 30, (1 << 20) + 1] {
            assert_eq!(parse_size(&format_size(n)), Ok(n));
        }
        assert_eq!(format_size(128 << 20), "128MiB");
        let err = parse_size("lots").unwrap_err();
        assert!(err.contains("128MiB"), "{err}");
    }
}
