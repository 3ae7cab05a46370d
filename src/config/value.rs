//! Values written the same way in every section: durations (`30s`, `5m`) and the names of
//! checks, systems and sinks.
//!
//! Shared wording lives here so that every section says the same thing about the same
//! mistake; nothing here knows which section it is reading.

use std::time::Duration;

use super::diag::Diag;
use super::yaml::Spanned;

/// A duration of more than zero, or `None` after saying what to write.
pub fn duration(s: &Spanned<String>, d: &mut Diag<'_>) -> Option<Duration> {
    match humantime::parse_duration(s.value.trim()) {
        Ok(v) if !v.is_zero() => Some(v),
        Ok(_) => {
            d.err(
                s.pos,
                format!("duration `{}` must be more than zero", s.value),
            );
            None
        }
        Err(e) => {
            d.err(
                s.pos,
                format!(
                    "invalid duration `{}`: {e} (write e.g. `30s`, `5m`, `1h`)",
                    s.value
                ),
            );
            None
        }
    }
}

/// [`duration`] of an optional field, `default` when it is left out.
pub fn duration_or(
    s: &Option<Spanned<String>>,
    default: Duration,
    d: &mut Diag<'_>,
) -> Option<Duration> {
    match s {
        Some(s) => duration(s, d),
        None => Some(default),
    }
}

/// Names become metric labels and are matched across files: `[a-z0-9_]+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
