//! Logical types and the canonical text of a value: the single definition of "equal" that
//! every engine must reproduce. PostgreSQL and MySQL/MariaDB compute it in SQL (see the engine
//! modules); SQLite values are canonicalised here, in the agent. The conformance suite proves
//! that all three agree.
//!
//! Canonical forms (NULL stays NULL; a NULL column is the token `N` in a row):
//! - `int`: decimal digits with an optional `-` (`42`, `-7`).
//! - `decimal(S)`: exactly S fractional digits, rounded half away from zero (`12.30`, `0.00`).
//! - `bool`: `1` or `0`.
//! - `text`: the UTF-8 text as stored (no trimming, no case or Unicode folding).
//! - `date`: `YYYY-MM-DD`.
//! - `timestamp(P)`: UTC, `YYYY-MM-DD HH:MM:SS` plus `.` and P fractional digits, truncated.
//! - `uuid`: lowercase, hyphenated. `bytes`: lowercase hex.
//!
//! A row is hashed as MD5 over `key|col1|col2...`, where a text value is written
//! `V<chars>:<text>` (so no separator inside a value can make two rows alike) and NULL `N`;
//! the row hash is the first 60 bits of the digest, summed per segment without overflow.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use md5::{Digest, Md5};

/// How a mapped column is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicalType {
    Int,
    Decimal(u8),
    Bool,
    Text,
    Date,
    Timestamp(u8),
    Uuid,
    Bytes,
}

impl LogicalType {
    pub const NAMES: &'static str = "int, decimal(S), bool, text, date, timestamp(P), uuid, bytes";

    /// Whether the canonical text can contain the row separator, so needs a length prefix.
    pub fn is_free_text(self) -> bool {
        matches!(self, LogicalType::Text)
    }
}

impl FromStr for LogicalType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let (name, arg) = match t.split_once('(') {
            Some((n, rest)) => {
                let arg = rest
                    .strip_suffix(')')
                    .ok_or_else(|| format!("unknown type `{s}`: missing `)`"))?;
                let v: u8 = arg
                    .trim()
                    .parse()
                    .map_err(|_| format!("unknown type `{s}`: `{arg}` is not a number"))?;
                (n.trim(), Some(v))
            }
            None => (t.as_str(), None),
        };
        let ty = match (name, arg) {
            ("int" | "integer" | "bigint", None) => LogicalType::Int,
            ("decimal" | "numeric", Some(s)) if s <= 30 => LogicalType::Decimal(s),
            ("decimal" | "numeric", None) => {
                return Err(format!("type `{s}` needs a scale: write e.g. `decimal(2)`"))
            }
            ("decimal" | "numeric", Some(_)) => {
                return Err(format!("type `{s}`: the scale must be 0 to 30"))
            }
            ("bool" | "boolean", None) => LogicalType::Bool,
            ("text" | "string", None) => LogicalType::Text,
            ("date", None) => LogicalType::Date,
            ("timestamp", None) => LogicalType::Timestamp(6),
            ("timestamp", Some(p)) if p <= 6 => LogicalType::Timestamp(p),
            ("timestamp", Some(_)) => {
                return Err(format!("type `{s}`: the precision must be 0 to 6"))
            }
            ("uuid", None) => LogicalType::Uuid,
            ("bytes" | "binary", None) => LogicalType::Bytes,
            _ => {
                return Err(format!(
                    "unknown type `{s}` (available: {})",
                    LogicalType::NAMES
                ))
            }
        };
        Ok(ty)
    }
}

impl fmt::Display for LogicalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogicalType::Int => f.write_str("int"),
            LogicalType::Decimal(s) => write!(f, "decimal({s})"),
            LogicalType::Bool => f.write_str("bool"),
            LogicalType::Text => f.write_str("text"),
            LogicalType::Date => f.write_str("date"),
            LogicalType::Timestamp(p) => write!(f, "timestamp({p})"),
            LogicalType::Uuid => f.write_str("uuid"),
            LogicalType::Bytes => f.write_str("bytes"),
        }
    }
}

/// A value as a driver hands it over, before canonicalisation.
#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The canonical text of `raw` as `ty` (None for NULL). `tz` is how zone-less timestamps of
/// this system are read.
pub fn canonical(raw: &Raw, ty: LogicalType, tz: chrono_tz::Tz) -> Result<Option<String>, String> {
    if let Raw::Null = raw {
        return Ok(None);
    }
    let bad = |what: &str| format!("cannot read {} as {ty}", what);
    let v = match ty {
        LogicalType::Int => match raw {
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) if f.is_finite() => round_decimal(&float_text(*f), 0)?,
            Raw::Text(s) => round_decimal(s.trim(), 0).map_err(|_| bad(&format!("`{s}`")))?,
            _ => return Err(bad("this value")),
        },
        LogicalType::Decimal(scale) => match raw {
            Raw::Int(i) => round_decimal(&i.to_string(), scale)?,
            Raw::Float(f) if f.is_finite() => round_decimal(&float_text(*f), scale)?,
            Raw::Text(s) => round_decimal(s.trim(), scale).map_err(|_| bad(&format!("`{s}`")))?,
            _ => return Err(bad("this value")),
        },
        LogicalType::Bool => match raw {
            Raw::Int(i) => if *i != 0 { "1" } else { "0" }.to_string(),
            Raw::Float(f) => if *f != 0.0 { "1" } else { "0" }.to_string(),
            Raw::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "t" | "true" | "y" | "yes" | "on" => "1".to_string(),
                "0" | "f" | "false" | "n" | "no" | "off" => "0".to_string(),
                _ => return Err(bad(&format!("`{s}`"))),
            },
            Raw::Bytes(_) | Raw::Null => return Err(bad("this value")),
        },
        LogicalType::Text => match raw {
            Raw::Text(s) => s.clone(),
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => float_text(*f),
            Raw::Bytes(b) => String::from_utf8(b.clone()).map_err(|_| bad("non-UTF-8 bytes"))?,
            Raw::Null => unreachable!(),
        },
        LogicalType::Date => match raw {
            Raw::Text(s) => {
                let t = s.trim();
                let d = NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d")
                    .map_err(|_| bad(&format!("`{s}`")))?;
                d.format("%Y-%m-%d").to_string()
            }
            _ => return Err(bad("this value")),
        },
        LogicalType::Timestamp(p) => {
            let utc = match raw {
                Raw::Text(s) => {
                    parse_timestamp(s.trim(), tz).ok_or_else(|| bad(&format!("`{s}`")))?
                }
                Raw::Int(secs) => chrono::DateTime::from_timestamp(*secs, 0)
                    .ok_or_else(|| bad("this epoch"))?
                    .naive_utc(),
                Raw::Float(f) if f.is_finite() => {
                    let micros = (f * 1e6).round() as i64;
                    chrono::DateTime::from_timestamp_micros(micros)
                        .ok_or_else(|| bad("this epoch"))?
                        .naive_utc()
                }
                _ => return Err(bad("this value")),
            };
            format_timestamp(utc, p)
        }
        LogicalType::Uuid => {
            let hex: String = match raw {
                Raw::Text(s) => s
                    .trim()
                    .chars()
                    .filter(|c| *c != '-')
                    .collect::<String>()
                    .to_ascii_lowercase(),
                Raw::Bytes(b) if b.len() == 16 => hex(b),
                _ => return Err(bad("this value")),
            };
            if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad("this value"));
            }
            format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            )
        }
        LogicalType::Bytes => match raw {
            Raw::Bytes(b) => hex(b),
            Raw::Text(s) => hex(s.as_bytes()),
            _ => return Err(bad("this value")),
        },
    };
    Ok(Some(v))
}

/// A timestamp with an offset is converted to UTC; one without is read in `tz`. An ambiguous
/// local time (the repeated hour in autumn) is read as the later instant (standard time), and
/// a local time that does not exist (the skipped hour in spring) as if the clock had not
/// changed yet: PostgreSQL's rules, so the engines agree.
pub fn parse_timestamp(s: &str, tz: chrono_tz::Tz) -> Option<NaiveDateTime> {
    let s = s.replace('T', " ");
    if let Ok(dt) = chrono::DateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(dt.naive_utc());
    }
    if let Ok(dt) = chrono::DateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Some(dt.naive_utc());
    }
    let (local, is_utc) = match s.strip_suffix('Z') {
        Some(rest) => (rest.trim().to_string(), true),
        None => (s.clone(), false),
    };
    let naive = NaiveDateTime::parse_from_str(&local, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&local, "%Y-%m-%d %H:%M"))
        .or_else(|_| {
            NaiveDate::parse_from_str(&local, "%Y-%m-%d").map(|d| d.and_hms_opt(0, 0, 0).unwrap())
        })
        .ok()?;
    if is_utc || tz == chrono_tz::UTC {
        return Some(naive);
    }
    Some(local_to_utc(naive, tz))
}

/// Local wall time in `tz` to UTC, with the rules of [`parse_timestamp`].
pub fn local_to_utc(naive: NaiveDateTime, tz: chrono_tz::Tz) -> NaiveDateTime {
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.naive_utc(),
        chrono::LocalResult::Ambiguous(_, later) => later.naive_utc(),
        chrono::LocalResult::None => {
            // In the gap: use the offset in force just before it.
            let before = naive - chrono::Duration::hours(3);
            let offset = match tz.from_local_datetime(&before) {
                chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                    chrono::Offset::fix(t.offset()).local_minus_utc()
                }
                chrono::LocalResult::None => 0,
            };
            naive - chrono::Duration::seconds(offset as i64)
        }
    }
}

pub fn format_timestamp(utc: NaiveDateTime, precision: u8) -> String {
    let full = utc.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    if precision == 0 {
        full[..19].to_string()
    } else {
        full[..20 + precision as usize].to_string()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The shortest decimal text that reads back as `f` (what a user typed, in practice).
fn float_text(f: f64) -> String {
    let s = format!("{f}");
    if s.contains('e') || s.contains('E') {
        // Rust prints large/small numbers without exponent in Display; keep the guard anyway.
        format!("{f:.17}")
    } else {
        s
    }
}

/// Round a decimal string (`-12.345`, `1e3`, `.5`) to `scale` fractional digits, half away
/// from zero, exactly (no binary floating point), and print it with exactly `scale` digits.
pub fn round_decimal(s: &str, scale: u8) -> Result<String, String> {
    let err = || format!("`{s}` is not a decimal number");
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| err())?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(err());
    }
    // digits * 10^(point) where point counts digits after the decimal point (shifted by exp).
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .collect();
    let mut frac_len = frac_part.len() as i32 - exp;
    if frac_len < 0 {
        digits.extend(std::iter::repeat_n(0, (-frac_len) as usize));
        frac_len = 0;
    }
    let frac_len = frac_len as usize;
    let scale = scale as usize;
    if frac_len > scale {
        let cut = digits.len() - (frac_len - scale);
        let round_up = digits[cut] >= 5;
        digits.truncate(cut);
        if round_up {
            let mut i = digits.len();
            loop {
                if i == 0 {
                    digits.insert(0, 1);
                    break;
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
    } else {
        digits.extend(std::iter::repeat_n(0, scale - frac_len));
    }
    // Now digits has exactly `scale` fractional digits.
    while digits.len() < scale + 1 {
        digits.insert(0, 0);
    }
    let split = digits.len() - scale;
    let int_digits: Vec<u8> = {
        let d = &digits[..split];
        let first = d.iter().position(|x| *x != 0).unwrap_or(d.len() - 1);
        d[first..].to_vec()
    };
    let is_zero = int_digits.iter().all(|d| *d == 0) && digits[split..].iter().all(|d| *d == 0);
    let mut out = String::new();
    if neg && !is_zero {
        out.push('-');
    }
    out.extend(int_digits.iter().map(|d| (b'0' + d) as char));
    if scale > 0 {
        out.push('.');
        out.extend(digits[split..].iter().map(|d| (b'0' + d) as char));
    }
    Ok(out)
}

/// The token of one value in a row: `N` for NULL, `V<chars>:<text>` for text, else the
/// canonical text itself.
pub fn token(value: Option<&str>, ty: LogicalType) -> String {
    match value {
        None => "N".to_string(),
        Some(v) if ty.is_free_text() => format!("V{}:{v}", v.chars().count()),
        Some(v) => v.to_string(),
    }
}

/// The 60-bit hash of a row (or key) string: the first 15 hex digits of its MD5.
pub fn hash60(s: &str) -> u64 {
    let digest = Md5::digest(s.as_bytes());
    let mut v: u64 = 0;
    for b in &digest[..8] {
        v = (v << 8) | u64::from(*b);
    }
    v >> 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{Europe::Berlin, UTC};

    fn c(raw: Raw, ty: &str) -> Option<String> {
        canonical(&raw, ty.parse().unwrap(), UTC).unwrap()
    }

    #[test]
    fn decimals_round_half_away_from_zero_exactly() {
        assert_eq!(round_decimal("12.345", 2).unwrap(), "12.35");
        assert_eq!(round_decimal("-12.345", 2).unwrap(), "-12.35");
        assert_eq!(round_decimal("12.3", 2).unwrap(), "12.30");
        assert_eq!(round_decimal("0.004", 2).unwrap(), "0.00");
        assert_eq!(round_decimal("-0.004", 2).unwrap(), "0.00");
        assert_eq!(round_decimal("99.995", 2).unwrap(), "100.00");
        assert_eq!(round_decimal(".5", 0).unwrap(), "1");
        assert_eq!(round_decimal("1e3", 1).unwrap(), "1000.0");
        assert_eq!(round_decimal("1.5E-2", 2).unwrap(), "0.02");
        assert_eq!(round_decimal("000123", 0).unwrap(), "123");
        assert!(round_decimal("12a", 2).is_err());
        assert!(round_decimal("", 2).is_err());
        assert_eq!(c(Raw::Float(0.1 + 0.2), "decimal(2)").unwrap(), "0.30");
        assert_eq!(c(Raw::Int(1234), "decimal(2)").unwrap(), "1234.00");
        assert_eq!(
            c(Raw::Text("1234.5".into()), "decimal(2)").unwrap(),
            "1234.50"
        );
    }

    #[test]
    fn types_parse_and_print() {
        for t in [
            "int",
            "decimal(2)",
            "bool",
            "text",
            "date",
            "timestamp(0)",
            "uuid",
            "bytes",
        ] {
            assert_eq!(t.parse::<LogicalType>().unwrap().to_string(), t);
        }
        assert_eq!(
            "timestamp".parse::<LogicalType>().unwrap(),
            LogicalType::Timestamp(6)
        );
        assert!("decimal"
            .parse::<LogicalType>()
            .unwrap_err()
            .contains("needs a scale"));
        assert!("money"
            .parse::<LogicalType>()
            .unwrap_err()
            .contains("available:"));
    }

    #[test]
    fn timestamps_go_to_utc_at_the_declared_precision() {
        let ts = |s: &str, tz, p| {
            canonical(&Raw::Text(s.into()), LogicalType::Timestamp(p), tz)
                .unwrap()
                .unwrap()
        };
        assert_eq!(ts("2026-07-01 12:00:00", Berlin, 0), "2026-07-01 10:00:00");
        assert_eq!(
            ts("2026-01-01 12:00:00.1234567", Berlin, 6),
            "2026-01-01 11:00:00.123456"
        );
        assert_eq!(
            ts("2026-01-01T12:00:00.123456Z", Berlin, 3),
            "2026-01-01 12:00:00.123"
        );
        assert_eq!(
            ts("2026-01-01 12:00:00+02:00", UTC, 0),
            "2026-01-01 10:00:00"
        );
        // The repeated autumn hour reads as the later instant; the skipped spring hour as
        // if the clock had not changed yet.
        assert_eq!(ts("2026-10-25 02:30:00", Berlin, 0), "2026-10-25 01:30:00");
        assert_eq!(ts("2026-03-29 02:30:00", Berlin, 0), "2026-03-29 01:30:00");
        assert_eq!(ts("1969-12-31 23:59:59", UTC, 0), "1969-12-31 23:59:59");
        assert_eq!(
            canonical(&Raw::Int(0), LogicalType::Timestamp(0), UTC)
                .unwrap()
                .unwrap(),
            "1970-01-01 00:00:00"
        );
    }

    #[test]
    fn null_is_distinct_from_empty_and_from_the_word_null() {
        let tok = |v: Option<&str>| token(v, LogicalType::Text);
        assert_ne!(tok(None), tok(Some("")));
        assert_ne!(tok(None), tok(Some("N")));
        assert_ne!(tok(None), tok(Some("NULL")));
        // A separator inside a value cannot make two rows alike.
        let row = |a: &str, b: &str| format!("{}|{}", tok(Some(a)), tok(Some(b)));
        assert_ne!(row("a|b", "c"), row("a", "b|c"));
    }

    #[test]
    fn other_types() {
        assert_eq!(c(Raw::Text("Y".into()), "bool").unwrap(), "1");
        assert_eq!(c(Raw::Int(0), "bool").unwrap(), "0");
        assert_eq!(
            c(Raw::Text("1969-07-20".into()), "date").unwrap(),
            "1969-07-20"
        );
        assert_eq!(
            c(
                Raw::Text("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11".into()),
                "uuid"
            )
            .unwrap(),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        );
        assert_eq!(c(Raw::Bytes(vec![0, 255]), "bytes").unwrap(), "00ff");
        assert_eq!(c(Raw::Text("  x ".into()), "text").unwrap(), "  x ");
        assert_eq!(c(Raw::Null, "text"), None);
        assert_eq!(c(Raw::Int(i64::MIN), "int").unwrap(), i64::MIN.to_string());
    }

    #[test]
    fn hash60_is_the_first_15_hex_digits_of_md5() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(
            hash60(""),
            u64::from_str_radix("d41d8cd98f00b20", 16).unwrap()
        );
        assert!(hash60("anything") < (1 << 60));
    }
}
