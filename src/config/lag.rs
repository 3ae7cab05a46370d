//! The `lag` kind's config: which way the sync runs (`from`, `to`), how lag is measured
//! (`mode`, with `max_age` for heartbeats and `per_key` settings), sides with a change
//! timestamp, and thresholds written as durations. Raw shapes and their validation into
//! [`LagSpec`]; no I/O.

use std::time::Duration;

use serde::Deserialize;

use super::diag::{list, suggestion, Diag};
use super::kind::{system_names, Input, Parsed};
use super::side::{table_side, TableSide};
use super::threshold::Threshold;
use super::value::{duration, duration_or};
use super::yaml::{Node, Spanned};

/// How a `lag` check measures how far the target is behind.
#[derive(Clone, Debug, PartialEq)]
pub enum LagMode {
    /// Newest change timestamp on each side; lag = source - target.
    Watermark,
    /// A heartbeat row some writer updates on the source; lag = source - target, and the
    /// check errors when the source's heartbeat itself is older than `max_age`.
    Heartbeat { max_age: Duration },
    /// For up to `size` keys changed on the source within `window`: when each reached the
    /// target; reports quantiles of the delay.
    PerKey { size: u32, window: Duration },
}

impl LagMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            LagMode::Watermark => "watermark",
            LagMode::Heartbeat { .. } => "heartbeat",
            LagMode::PerKey { .. } => "per_key",
        }
    }
}

#[derive(Clone, Debug)]
pub struct LagSide {
    pub table: TableSide,
    /// The expression giving a row's change (or arrival) time.
    pub timestamp: String,
    /// Key columns (per_key mode).
    pub key: Vec<String>,
}

/// A `lag` check: sides in written order; `from` and `to` index into them.
#[derive(Clone, Debug)]
pub struct LagSpec {
    pub mode: LagMode,
    pub sides: [LagSide; 2],
    pub from: usize,
    pub to: usize,
}

/// lag's own fields, in the order messages list them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLag {
    mode: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    max_age: Option<Spanned<String>>,
    per_key: Option<RawPerKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerKey {
    size: Option<Spanned<u32>>,
    window: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLagSide {
    table: Spanned<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
    timestamp: Option<Spanned<String>>,
    key: Option<Spanned<Vec<String>>>,
}

const MODES: [&str; 3] = ["watermark", "heartbeat", "per_key"];
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const DEFAULT_PER_KEY_SIZE: u32 = 1000;
const DEFAULT_PER_KEY_WINDOW: Duration = Duration::from_secs(3600);

/// A lag threshold: a duration (`90s`, `10m`) or a plain number of seconds.
pub(super) fn threshold(text: &str) -> Result<Threshold, String> {
    let t = text.trim();
    if let Ok(v) = t.parse::<f64>() {
        if v.is_finite() && v >= 0.0 {
            return Ok(Threshold::Count(v));
        }
    }
    humantime::parse_duration(t)
        .map(|d| Threshold::Count(d.as_secs_f64()))
        .map_err(|_| {
            format!("invalid lag threshold `{t}`: write a duration such as `60s` or `10m`")
        })
}

pub(super) fn parse(input: &Input<'_>, d: &mut Diag<'_>) -> Option<Parsed<LagSpec>> {
    // A bad own field is reported and read as left out, whatever else follows.
    let (raw, _) = input.own::<RawLag>(d)?;
    let sides = input.two_sides(d)?;
    let names = system_names(&sides);
    let mut ok = true;
    let mode = match raw.mode.as_ref().map(|m| m.value.as_str()) {
        None | Some("watermark") => LagMode::Watermark,
        Some("heartbeat") => LagMode::Heartbeat {
            max_age: duration_or(&raw.max_age, DEFAULT_MAX_AGE, d)?,
        },
        Some("per_key") => {
            let (size, window) = raw
                .per_key
                .as_ref()
                .map(|p| (p.size.as_ref(), p.window.as_ref()))
                .unwrap_or_default();
            let size_value = size.map(|s| s.value).unwrap_or(DEFAULT_PER_KEY_SIZE);
            if !(1..=100_000).contains(&size_value) {
                if let Some(s) = size {
                    d.err(s.pos, "`per_key.size` must be between 1 and 100000");
                }
                return None;
            }
            let window = match window {
                Some(w) => duration(w, d)?,
                None => DEFAULT_PER_KEY_WINDOW,
            };
            LagMode::PerKey {
                size: size_value,
                window,
            }
        }
        Some(other) => {
            let m = raw.mode.as_ref().expect("matched Some");
            d.err(
                m.pos,
                format!(
                    "unknown lag mode `{other}` (available: {}){}",
                    list(&MODES),
                    suggestion(other, &MODES)
                ),
            );
            return None;
        }
    };
    // Settings of another mode are a mistake about the mode, so they point at their key.
    if !matches!(mode, LagMode::Heartbeat { .. }) {
        if let Some(pos) = input.own.key_pos("max_age") {
            d.err(pos, "`max_age` is only used with `mode: heartbeat`");
            ok = false;
        }
    }
    if !matches!(mode, LagMode::PerKey { .. }) {
        if let Some(pos) = input.own.key_pos("per_key") {
            d.err(pos, "`per_key` settings are only used with `mode: per_key`");
            ok = false;
        }
    }
    // Direction: `from` and `to` name the two sides.
    let mut direction = [None, None];
    for (i, (field, value)) in [("from", &raw.from), ("to", &raw.to)]
        .into_iter()
        .enumerate()
    {
        match value {
            None => {
                d.err(
                    input.pos,
                    format!(
                        "missing field `{field}`{}: a lag check says which way the sync runs, e.g. `from: {}` and `to: {}`",
                        input.label, names[0], names[1]
                    ),
                );
                ok = false;
            }
            Some(s) => match names.iter().position(|n| *n == s.value) {
                Some(j) => direction[i] = Some((j, s.pos)),
                None => {
                    d.err(
                        s.pos,
                        format!(
                            "`{field}: {}` is not one of the check's sides ({})",
                            s.value,
                            list(&names.iter().map(String::as_str).collect::<Vec<_>>())
                        ),
                    );
                    ok = false;
                }
            },
        }
    }
    let per_key = matches!(mode, LagMode::PerKey { .. });
    let mut out = Vec::new();
    for (key, value) in sides {
        let side = lag_side(
            key.as_str().unwrap_or_default(),
            value,
            per_key,
            input.label,
            d,
        );
        ok &= side.is_some();
        out.extend(side);
    }
    if !ok || out.len() != 2 {
        return None;
    }
    let (from, from_pos) = direction[0]?;
    let (to, _) = direction[1]?;
    if from == to {
        d.err(from_pos, "`from` and `to` must name different sides");
        return None;
    }
    if out[0].key.len() != out[1].key.len() {
        d.err(input.pos, "the two sides' keys have different lengths: list the matching key columns in the same order on both sides");
        return None;
    }
    let [a, b]: [LagSide; 2] = out.try_into().ok()?;
    let reads = [&a, &b]
        .iter()
        .map(|s| {
            let mut e = vec![s.timestamp.clone()];
            e.extend(s.key.iter().cloned());
            (s.table.clone(), e)
        })
        .collect();
    Some(Parsed {
        spec: LagSpec {
            mode,
            sides: [a, b],
            from,
            to,
        },
        reads,
    })
}

fn lag_side(
    system: &str,
    value: &Node,
    per_key: bool,
    label: &str,
    d: &mut Diag<'_>,
) -> Option<LagSide> {
    let raw = d.deserialize::<RawLagSide>(value)?;
    let Some(ts) = raw.timestamp.filter(|t| !t.value.trim().is_empty()) else {
        d.err(value.pos, format!("missing field `timestamp`: a lag side needs the column (or expression) holding each row's change time{label}"));
        return None;
    };
    let key: Vec<String> = raw
        .key
        .as_ref()
        .map(|k| k.value.iter().map(|c| c.trim().to_string()).collect())
        .unwrap_or_default();
    if per_key && key.is_empty() {
        d.err(value.pos, format!("missing field `key`: a per_key lag side needs the key column(s) that match rows, e.g. `key: [id]`{label}"));
        return None;
    }
    Some(LagSide {
        table: table_side(system, raw.table, raw.filter, d)?,
        timestamp: ts.value.trim().to_string(),
        key,
    })
}
