//! `thresholds: {warning, critical}`: the amounts at which a check's finding becomes a warning
//! or critical, and how they compare with what a run found.
//!
//! How one threshold is written is the kind's to say (rows, a percentage, a lag duration): a
//! kind hands its parser in, and nothing here names a kind.

use std::fmt;

use serde::Deserialize;

use super::diag::Diag;
use super::yaml::Spanned;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds {
    pub warning: Option<Threshold>,
    pub critical: Option<Threshold>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// An absolute amount (rows).
    Count(f64),
    /// A share of the larger side, in percent.
    Percent(f64),
}

/// How a kind reads one threshold.
pub type ParseThreshold = fn(&str) -> Result<Threshold, String>;

impl Threshold {
    /// A number of rows (`10`) or a percentage (`0.5%`): how most kinds count.
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let t = text.trim();
        let (number, percent) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (t, false),
        };
        let value: f64 = number.parse().map_err(|_| {
            format!("invalid threshold `{t}`: write a number of rows such as `10`, or a percentage such as `0.5%`")
        })?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("invalid threshold `{t}`: it must be zero or more"));
        }
        Ok(if percent {
            Threshold::Percent(value)
        } else {
            Threshold::Count(value)
        })
    }

    /// Whether `value` (out of `total`) reaches this threshold.
    pub fn breached_by(self, value: f64, total: f64) -> bool {
        match self {
            Threshold::Count(limit) => value >= limit && value > 0.0,
            Threshold::Percent(pct) => {
                value > 0.0 && (total <= 0.0 || value * 100.0 >= pct * total)
            }
        }
    }

    /// The threshold as an absolute amount, for the `driftwatch_threshold` metric.
    pub fn absolute(self, total: f64) -> f64 {
        match self {
            Threshold::Count(v) => v,
            Threshold::Percent(p) => p * total / 100.0,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Count(v) => write!(f, "{v}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    warning: Option<Spanned<String>>,
    critical: Option<Spanned<String>>,
}

/// A check's thresholds; without `thresholds:`, any finding warns.
pub fn thresholds(
    raw: Option<&RawThresholds>,
    parse: ParseThreshold,
    d: &mut Diag<'_>,
) -> Option<Thresholds> {
    let Some(raw) = raw else {
        // Drift must never look like health.
        return Some(Thresholds {
            warning: Some(Threshold::Count(1.0)),
            critical: None,
        });
    };
    let mut one = |t: &Option<Spanned<String>>| -> Result<Option<Threshold>, ()> {
        match t {
            None => Ok(None),
            Some(s) => parse(&s.value).map(Some).map_err(|e| d.err(s.pos, e)),
        }
    };
    let warning = one(&raw.warning);
    let critical = one(&raw.critical);
    let (Ok(warning), Ok(critical)) = (warning, critical) else {
        return None;
    };
    if let (Some(Threshold::Count(w)), Some(Threshold::Count(c)), Some(pos)) =
        (warning, critical, raw.critical.as_ref().map(|c| c.pos))
    {
        if c < w {
            d.err(
                pos,
                format!("critical threshold {c} is below the warning threshold {w}"),
            );
            return None;
        }
    }
    Some(Thresholds { warning, critical })
}
