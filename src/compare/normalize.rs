//! Logical types and the canonical text of a value: the single definition of "equal" that
//! every engine must reproduce. PostgreSQL and MySQL/MariaDB compute it in SQL (see the engine
//! modules); SQLite values are canonicalised here, in the agent. The conformance suite proves
//! that all three agree.
//!
//! Canonical forms (NULL stays NULL; a NULL column is the token `N` in a row):
//! - `int`: decimal digits with an optional `-` (`42`, `-7`).
//! - `decimal(S)`: exactly S fractional digits, rounded half away from zero (`12.30`, `0.00`).
//! - `number`: a decimal's exact value, without trailing fractional zeros (`12.3`, `0`,
//!   `-0.5`): how decimals compare when one side's scale is not fixed.
//! - `float(P)`: the double rounded to P significant digits, written `<m>e<k>` meaning
//!   m × 10^k, where m is an integer without trailing zeros (`0.1 + 0.2` and `0.3` are both
//!   `3e-1` at P = 15, `1000` is `1e3`, `-2.5` is `-25e-1`); zero (also -0) is `0`, and NaN,
//!   +∞, -∞ are `NaN`, `Inf`, `-Inf`. See [`float_canonical`] for the exact steps, which the
//!   engines repeat in SQL operation for operation so that the results agree bit for bit.
//! - `bool`: `1` or `0`.
//! - `text`: the UTF-8 text as stored (no trimming, no case or Unicode folding).
//! - `date`: `YYYY-MM-DD`.
//! - `timestamp(P)`: UTC, `YYYY-MM-DD HH:MM:SS` plus `.` and P fractional digits, truncated.
//! - `time(P)`: `HH:MM:SS` plus `.` and P fractional digits, truncated (MariaDB's TIME may be
//!   negative or beyond 24 hours: `-01:00:00`, `838:59:59`).
//! - `set`: the members sorted by their bytes, joined with `,` (the empty set is empty text).
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
    /// A decimal compared by exact value (no fixed scale).
    Number,
    /// A binary floating-point number compared at P significant digits (1 to 17).
    Float(u8),
    Bool,
    Text,
    Date,
    Timestamp(u8),
    /// A time of day compared at P fractional digits (0 to 6).
    Time(u8),
    Uuid,
    Bytes,
    /// A set of members, in any order.
    Set,
    /// A JSON document: key order and whitespace don't count.
    Json,
}

impl LogicalType {
    pub const NAMES: &'static str =
        "int, decimal(S), number, float(P), bool, text, date, timestamp(P), time(P), uuid, bytes, set, json";

    /// The precision of a bare `float`: 15 significant digits (C's `DBL_DIG`), the most that
    /// every decimal survives a round trip through a double with, and few enough that
    /// arithmetic noise in the last bits (`0.1 + 0.2`) does not count.
    pub const FLOAT_DIGITS: u8 = 15;

    /// Whether the canonical text can contain the row separator, so needs a length prefix.
    pub fn is_free_text(self) -> bool {
        matches!(
            self,
            LogicalType::Text | LogicalType::Set | LogicalType::Json
        )
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
                return Err(format!(
                    "type `{s}` needs a scale: write e.g. `decimal(2)`, or `number` to compare exact values"
                ))
            }
            ("number", None) => LogicalType::Number,
            ("decimal" | "numeric", Some(_)) => {
                return Err(format!("type `{s}`: the scale must be 0 to 30"))
            }
            ("float" | "double" | "double precision" | "real", None) => {
                LogicalType::Float(LogicalType::FLOAT_DIGITS)
            }
            ("float", Some(p)) if (1..=17).contains(&p) => LogicalType::Float(p),
            ("float", Some(_)) => {
                return Err(format!(
                    "type `{s}`: the precision must be 1 to 17 significant digits"
                ))
            }
            ("bool" | "boolean", None) => LogicalType::Bool,
            ("text" | "string", None) => LogicalType::Text,
            ("date", None) => LogicalType::Date,
            ("timestamp", None) => LogicalType::Timestamp(6),
            ("timestamp", Some(p)) if p <= 6 => LogicalType::Timestamp(p),
            ("timestamp", Some(_)) => {
                return Err(format!("type `{s}`: the precision must be 0 to 6"))
            }
            ("time", None) => LogicalType::Time(6),
            ("time", Some(p)) if p <= 6 => LogicalType::Time(p),
            ("time", Some(_)) => return Err(format!("type `{s}`: the precision must be 0 to 6")),
            ("set", None) => LogicalType::Set,
            ("json", None) => LogicalType::Json,
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
            LogicalType::Number => f.write_str("number"),
            LogicalType::Float(p) => write!(f, "float({p})"),
            LogicalType::Bool => f.write_str("bool"),
            LogicalType::Text => f.write_str("text"),
            LogicalType::Date => f.write_str("date"),
            LogicalType::Timestamp(p) => write!(f, "timestamp({p})"),
            LogicalType::Time(p) => write!(f, "time({p})"),
            LogicalType::Uuid => f.write_str("uuid"),
            LogicalType::Bytes => f.write_str("bytes"),
            LogicalType::Set => f.write_str("set"),
            LogicalType::Json => f.write_str("json"),
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
        LogicalType::Number => {
            let text = match raw {
                Raw::Int(i) => i.to_string(),
                Raw::Float(f) if f.is_finite() => float_text(*f),
                Raw::Text(s) => s.trim().to_string(),
                _ => return Err(bad("this value")),
            };
            exact_decimal(&text).map_err(|_| bad(&format!("`{text}`")))?
        }
        LogicalType::Float(p) => {
            let x = match raw {
                Raw::Float(f) => *f,
                // Rounded to the nearest double, as the engines' casts do.
                Raw::Int(i) => *i as f64,
                // Correctly rounded, like PostgreSQL's and MariaDB's strtod; also reads
                // `NaN`, `inf` and `Infinity` as PostgreSQL writes them.
                Raw::Text(s) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| bad(&format!("`{s}`")))?,
                _ => return Err(bad("this value")),
            };
            float_canonical(x, p)
        }
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
        LogicalType::Time(p) => match raw {
            Raw::Text(s) => format_time(s.trim(), p).ok_or_else(|| bad(&format!("`{s}`")))?,
            _ => return Err(bad("this value")),
        },
        LogicalType::Set => match raw {
            Raw::Text(s) => set_canonical(s.split(',')),
            _ => return Err(bad("this value")),
        },
        LogicalType::Json => {
            // SQLite keeps a document that is a bare number as that number.
            let text = match raw {
                Raw::Text(s) => s.clone(),
                Raw::Int(i) => i.to_string(),
                Raw::Float(f) if f.is_finite() => float_text(*f),
                Raw::Bytes(b) => {
                    String::from_utf8(b.clone()).map_err(|_| bad("non-UTF-8 bytes"))?
                }
                _ => return Err(bad("this value")),
            };
            json_canonical(&text).map_err(|e| bad(&format!("`{text}` ({e})")))?
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

/// A time of day (`HH:MM:SS[.fff]`, hours possibly beyond 24 or negative) at `precision`
/// fractional digits, truncated; `None` when the text is not one.
pub fn format_time(text: &str, precision: u8) -> Option<String> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    let parts: Vec<&str> = hms.split(':').collect();
    let [h, m, s] = parts.as_slice() else {
        return None;
    };
    let digits = |t: &str, n: usize| t.len() >= n && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(h, 1) || !digits(m, 2) || m.len() != 2 || !digits(s, 2) || s.len() != 2 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = format!("{}{:0>2}:{m}:{s}", if neg { "-" } else { "" }, h);
    if precision > 0 {
        let mut f: String = frac.chars().take(precision as usize).collect();
        while f.len() < precision as usize {
            f.push('0');
        }
        out.push('.');
        out.push_str(&f);
    }
    Some(out)
}

/// The agent's canonical text of a JSON document: keys sorted by their bytes at every level,
/// no whitespace, numbers as their exact decimal value (`2.50` and `2.5` are `2.5`).
pub fn json_canonical(text: &str) -> Result<String, String> {
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                let mut entries: Vec<(&String, &serde_json::Value)> = m.iter().collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            serde_json::Value::Number(n) => {
                let text = n.to_string();
                out.push_str(&exact_decimal(&text).unwrap_or(text));
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = String::new();
    write(&v, &mut out);
    Ok(out)
}

/// The canonical text of a set: its members, without repeats, sorted by their bytes and
/// joined with `,`.
pub fn set_canonical<'a>(members: impl Iterator<Item = &'a str>) -> String {
    let mut m: Vec<&str> = members.filter(|s| !s.is_empty()).collect();
    m.sort_unstable();
    m.dedup();
    m.join(",")
}

/// A decimal's exact value without trailing fractional zeros: `1.50` -> `1.5`, `-0.0` -> `0`,
/// `1e3` -> `1000`.
pub fn exact_decimal(s: &str) -> Result<String, String> {
    // Enough digits for any DECIMAL(65,30); round_decimal is exact at any scale.
    let fixed = round_decimal(s, 60)?;
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    Ok(match trimmed {
        "-0" | "" => "0".to_string(),
        t => t.to_string(),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The canonical text of a double at `precision` significant digits (`float(P)`).
///
/// Only IEEE double operations (exact rounding everywhere) and glibc's `log10` and `pow`,
/// which PostgreSQL (`LOG`, `POWER`), MariaDB (`LOG10`, `POW`) and Rust all call, so the
/// engines' SQL repeats these steps operation for operation and agrees bit for bit:
/// 1. NaN, ±∞ and zero (also -0) are `NaN`, `Inf`/`-Inf` and `0`.
/// 2. k = floor(log10(|x|)) - (P - 1): the power of ten of the last kept digit.
/// 3. m = x / 10^k when k >= 0, else x × 10^-k (in two steps, × 10^(-k-308) × 1e308, when
///    10^-k would overflow: subnormals). 10^n is `pow(10, n)`, exact up to 10^22.
/// 4. m is rounded to an integer with ties to even: C's `rint`, which PostgreSQL's
///    `ROUND(double)` and MariaDB's `ROUND(double)` both are (checked: 0.5 -> 0, 1.5 -> 2,
///    2.5 -> 2, 100000000000000.5 -> 100000000000000, 0.49999999999999994 -> 0; `FLOOR(m +
///    0.5)` would round that last one up).
/// 5. Trailing zeros move from m to k, so the text is unique: `1000` and
///    `999.9999999999999` (which rounds up to 10^P × 10^k, or whose log10 already rounds
///    to 3) are both `1e3` at P = 15.
///
/// The result is the value rounded to P significant digits, written `{m}e{k}`. Near a power
/// of ten, log10 may round up to it (|x| a few ulps below 10^n): the value is then rounded
/// at one digit fewer, identically on every engine.
pub fn float_canonical(x: f64, precision: u8) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf" } else { "-Inf" }.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let k = x.abs().log10().floor() - f64::from(precision.saturating_sub(1));
    let m = if k >= 0.0 {
        x / pow10(k)
    } else if k >= -308.0 {
        x * pow10(-k)
    } else {
        x * pow10(-k - 308.0) * 1e308
    };
    let digits = (m.round_ties_even() as i64).to_string();
    let kept = digits.trim_end_matches('0');
    format!("{kept}e{}", k as i64 + (digits.len() - kept.len()) as i64)
}

/// 10^n by glibc's `pow`, as the SQL engines compute it. `black_box` hides the constant base
/// from the optimiser, so that it cannot specialise `pow(10, n)` (into `exp10`, say), which
/// need not agree in the last bit where 10^n is inexact (n > 22).
fn pow10(n: f64) -> f64 {
    std::hint::black_box(10f64).powf(n)
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
            "float(1)",
            "float(15)",
            "float(17)",
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
        for t in ["float", "FLOAT", "double", "double precision", "real"] {
            assert_eq!(t.parse::<LogicalType>().unwrap(), LogicalType::Float(15));
        }
        for t in ["float(0)", "float(18)", "double(10)"] {
            assert!(t.parse::<LogicalType>().is_err(), "{t}");
        }
        assert!("float(18)"
            .parse::<LogicalType>()
            .unwrap_err()
            .contains("1 to 17"));
        assert!(LogicalType::NAMES.contains("float(P)"));
    }

    fn f(x: f64, p: u8) -> String {
        c(Raw::Float(x), &format!("float({p})")).unwrap()
    }

    #[test]
    #[allow(clippy::excessive_precision)] // values as users write them
    fn floats_round_to_significant_digits() {
        // Arithmetic noise below the 15th digit does not count; it does at 17.
        assert_eq!(f(0.1 + 0.2, 15), "3e-1");
        assert_eq!(f(0.3, 15), "3e-1");
        assert_eq!(f(0.1 + 0.2, 17), "30000000000000004e-17");
        // At 16 and 17 digits m passes 2^53 and is itself a rounded double: 0.3 is
        // 0.299999999999999988898 exactly, but 0.3 × 10^17 rounds to 3 × 10^16.
        assert_eq!(f(0.3, 17), "3e-1");
        assert_eq!(c(Raw::Float(0.1 + 0.2), "float").unwrap(), "3e-1");
        // Special values; -0 is 0.
        assert_eq!(f(0.0, 15), "0");
        assert_eq!(f(-0.0, 15), "0");
        assert_eq!(f(f64::NAN, 15), "NaN");
        assert_eq!(f(f64::INFINITY, 15), "Inf");
        assert_eq!(f(f64::NEG_INFINITY, 15), "-Inf");
        // The whole range, subnormals included.
        assert_eq!(f(1e-300, 15), "1e-300");
        assert_eq!(f(f64::MAX, 15), "179769313486232e294");
        assert_eq!(f(-f64::MAX, 16), "-1797693134862316e293");
        assert_eq!(f(f64::MAX, 2), "18e307"); // more than any double: it is only text
        assert_eq!(f(f64::MIN_POSITIVE, 15), "22250738585072e-321");
        assert_eq!(f(5e-324, 15), "494065645841247e-338");
        assert_eq!(f(5e-324, 1), "5e-324");
        // P significant digits, trailing zeros moved to the exponent.
        assert_eq!(f(123456789.123456789, 15), "123456789123457e-6");
        assert_eq!(f(123456789.123456789, 10), "1234567891e-1");
        assert_eq!(f(123456789.123456789, 1), "1e8");
        assert_eq!(f(1000.0, 15), "1e3");
        assert_eq!(f(-1000.0, 3), "-1e3");
        assert_eq!(f(1e22, 15), "1e22");
        assert_eq!(f(1.5, 15), "15e-1");
        // Around a power of ten: a carry into the next digit is the same value.
        assert_eq!(f(999.9999999999999, 15), "1e3");
        // log10(999.99999999999989) rounds to 3: one digit fewer, on every engine alike.
        assert_eq!(f(999.9999999999999, 17), "9999999999999998e-13");
        assert_eq!(f(999.5, 3), "1e3");
        assert_eq!(f(999.4, 3), "999e0");
        assert_eq!(f(0.09999999999999999, 15), "1e-1");
        // Ties go to even (C's rint, as PostgreSQL's and MariaDB's ROUND(double)); only
        // values exactly halfway in binary are ties.
        assert_eq!(f(0.5, 1), "5e-1");
        assert_eq!(f(2.5, 1), "2e0");
        assert_eq!(f(3.5, 1), "4e0");
        assert_eq!(f(-2.5, 1), "-2e0");
        assert_eq!(f(0.25, 1), "2e-1");
        assert_eq!(f(0.125, 2), "12e-2");
        assert_eq!(f(100000000000000.5, 15), "1e14");
        assert_eq!(f(100000000000001.5, 15), "100000000000002e0");
        // 0.15 is 0.1499999999999999944..., but 0.15 × 10 rounds to 1.5: a tie, to even.
        assert_eq!(f(0.15, 1), "2e-1");
        assert_eq!(f(0.35, 1), "4e-1");
        // A change in the 14th significant digit counts at 15 digits, not at 10.
        assert_ne!(f(123456789.123456789, 15), f(123456789.123466789, 15));
        assert_eq!(f(123456789.123456789, 10), f(123456789.123466789, 10));
    }

    #[test]
    fn floats_from_integers_and_text() {
        assert_eq!(c(Raw::Int(1000), "float").unwrap(), "1e3");
        assert_eq!(c(Raw::Int(-7), "float").unwrap(), "-7e0");
        assert_eq!(c(Raw::Int(0), "float").unwrap(), "0");
        // 2^53 + 1 becomes 2^53, as an engine's cast to double makes it.
        assert_eq!(
            c(Raw::Int(9_007_199_254_740_993), "float(17)").unwrap(),
            "9007199254740992e0"
        );
        assert_eq!(
            c(Raw::Text(" 0.30000000000000004 ".into()), "float").unwrap(),
            "3e-1"
        );
        assert_eq!(c(Raw::Text("1e3".into()), "float").unwrap(), "1e3");
        assert_eq!(c(Raw::Text("-0".into()), "float").unwrap(), "0");
        assert_eq!(c(Raw::Text("NaN".into()), "float").unwrap(), "NaN");
        assert_eq!(c(Raw::Text("Infinity".into()), "float").unwrap(), "Inf");
        assert_eq!(c(Raw::Text("-Infinity".into()), "float").unwrap(), "-Inf");
        assert_eq!(c(Raw::Text("-inf".into()), "float").unwrap(), "-Inf");
        assert_eq!(c(Raw::Null, "float"), None);
        let ty = "float".parse().unwrap();
        assert!(canonical(&Raw::Text("n/a".into()), ty, UTC)
            .unwrap_err()
            .contains("`n/a`"));
        assert!(canonical(&Raw::Bytes(vec![1]), ty, UTC).is_err());
    }

    /// Over many doubles and every precision: at most P digits, no trailing zeros, within
    /// half a unit of the P-th digit (one digit fewer just below a power of ten, where
    /// log10 rounds up), and reading the text back gives the same text.
    #[test]
    fn floats_are_rounded_and_stable() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checked = 0;
        while checked < 20_000 {
            let x = f64::from_bits(next());
            if !x.is_normal() {
                continue;
            }
            checked += 1;
            for p in 1..=17u8 {
                let text = f(x, p);
                let (m, _) = text.split_once('e').unwrap();
                let digits = m.trim_start_matches('-');
                assert!(digits.len() <= p as usize, "{x:e} at {p}: {text}");
                assert!(!digits.ends_with('0'), "{x:e} at {p}: {text}");
                let back: f64 = text.parse().unwrap();
                if back.is_infinite() {
                    continue; // rounded up past f64::MAX
                }
                let e = x.abs().log10().floor() as i32;
                // Half a unit of the (P-1)-th digit, plus the rounding of x × 10^n itself,
                // which shows at P = 16 and 17, where m passes 2^53.
                let half: f64 = format!("5e{}", e - i32::from(p) + 1).parse().unwrap();
                let unit = half + x.abs() * f64::EPSILON;
                assert!((back - x).abs() <= unit, "{x:e} at {p}: {text}");
                if p <= 15 && back.is_normal() {
                    assert_eq!(f(back, p), text, "{x:e} at {p}: {text} read back");
                }
            }
        }
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
