//! A check's `alert:` block: which sinks hear about it, after how long, how often again, and
//! after how many failed runs the check itself counts as broken.
//!
//! Sink names are only collected here; whether they exist is known once every file is read,
//! so the loader resolves them. Nothing here decides whether to alert (that is `crate::alert`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::diag::Diag;
use super::value::duration;
use super::yaml::{Pos, Spanned};

/// Failed runs in a row before a check's own "broken" alert fires, unless `error_after` says.
const DEFAULT_ERROR_AFTER: u32 = 3;

#[derive(Clone, Debug)]
pub struct AlertConfig {
    pub sinks: Vec<String>,
    pub for_: Duration,
    pub repeat_interval: Option<Duration>,
    pub runbook_url: Option<String>,
    pub dashboard_url: Option<String>,
    /// Errors in a row after which the check's own "broken" alert fires.
    pub error_after: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    sinks: Vec<Spanned<String>>,
    #[serde(rename = "for")]
    for_: Option<Spanned<String>>,
    repeat_interval: Option<Spanned<String>>,
    runbook_url: Option<String>,
    dashboard_url: Option<String>,
    error_after: Option<Spanned<u32>>,
}

/// A sink named by a check, to be resolved once every sink is known: (file, position, name).
pub type SinkRef = (PathBuf, Pos, String);

pub fn alert(
    file: &Path,
    raw: RawAlert,
    d: &mut Diag<'_>,
    refs: &mut Vec<SinkRef>,
) -> Option<AlertConfig> {
    for s in &raw.sinks {
        refs.push((file.to_path_buf(), s.pos, s.value.clone()));
    }
    let for_ = match &raw.for_ {
        // Zero is allowed here: alert on the first breaching run.
        Some(f) => match humantime::parse_duration(f.value.trim()) {
            Ok(v) => Some(v),
            Err(e) => {
                d.err(
                    f.pos,
                    format!("invalid duration `{}`: {e} (write e.g. `10m`)", f.value),
                );
                None
            }
        },
        None => Some(Duration::ZERO),
    };
    let repeat = match &raw.repeat_interval {
        Some(r) => duration(r, d).map(Some),
        None => Some(None),
    };
    let error_after = match raw.error_after {
        Some(n) if n.value == 0 => {
            d.err(
                n.pos,
                "`error_after` must be at least 1 (failed runs in a row before the check counts as broken)",
            );
            None
        }
        Some(n) => Some(n.value),
        None => Some(DEFAULT_ERROR_AFTER),
    };
    Some(AlertConfig {
        sinks: raw.sinks.into_iter().map(|s| s.value).collect(),
        for_: for_?,
        repeat_interval: repeat?,
        runbook_url: raw.runbook_url,
        dashboard_url: raw.dashboard_url,
        error_after: error_after?,
    })
}
