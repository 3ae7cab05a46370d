//! `lag`: how far the sync's target is behind its source. `watermark` compares the newest
//! change time on each side, `heartbeat` the timestamp of a heartbeat row some writer keeps
//! updating on the source, and `per_key` how long recently changed source keys took to reach
//! the target. All times are compared in UTC: zone-less legacy columns are read in their
//! system's `timezone`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::context::{CheckError, Context};
use super::finding::Finding;
use super::report::{rfc3339_opt, Graded, KindReport};
use crate::compare::normalize::{self, LogicalType};
use crate::compare::{Col, Key, KeyPart, Native, SideSpec};
use crate::config::{LagMode, LagSide, LagSpec};
use crate::metrics::Metrics;
use crate::system::Reader;

/// What a `lag` run found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LagReport {
    /// Seconds the target is behind; absent when it cannot be said (the target has none of
    /// the source's rows).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lag_seconds: Option<f64>,
    /// How it was measured.
    pub lag: LagMeasure,
}

/// How a lag check measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LagMeasure {
    pub mode: String,
    pub from: String,
    pub to: String,
    /// Newest change time on the source and on the target (UTC); `None`: no rows.
    #[serde(serialize_with = "rfc3339_opt", default)]
    pub source_newest: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt", default)]
    pub target_newest: Option<DateTime<Utc>>,
    /// Systems on which the check's table (with its `where`) has no rows.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub empty: Vec<String>,
    /// When the target's newest change is newer than the source's (writes on the target,
    /// a sync running the other way, or clock skew between the writers): by how much.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target_ahead_seconds: Option<f64>,
    /// Heartbeat mode: how old the source's heartbeat is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub heartbeat_age_seconds: Option<f64>,
    /// per_key mode: keys sampled, keys not yet on the target, delay quantiles.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub keys: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pending: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quantiles: Option<LagQuantiles>,
    /// Why `lag_seconds` is missing or what to read it with.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// Propagation delay of recently changed keys, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LagQuantiles {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

pub async fn run(spec: &LagSpec, cx: &Context<'_>) -> Result<LagReport, CheckError> {
    let readers = [
        cx.system(&spec.sides[0].table.system)?.reader(),
        cx.system(&spec.sides[1].table.system)?.reader(),
    ];
    let (a, b) = tokio::join!(
        resolve(&spec.sides[0], &readers[0]),
        resolve(&spec.sides[1], &readers[1])
    );
    let (a, b) = CheckError::both(a, b)?;
    let sides = [a, b];
    let (from, to) = (spec.from, spec.to);
    let names = [
        readers[from].name().to_string(),
        readers[to].name().to_string(),
    ];
    let mut report = LagMeasure {
        mode: spec.mode.as_str().to_string(),
        from: names[0].clone(),
        to: names[1].clone(),
        ..LagMeasure::default()
    };
    let now = Utc::now();
    let lag = match &spec.mode {
        LagMode::Watermark | LagMode::Heartbeat { .. } => {
            let (s, t) = tokio::join!(
                newest(&readers[from], &sides[from]),
                newest(&readers[to], &sides[to])
            );
            let (s, t) = CheckError::both(s, t)?;
            report.source_newest = s;
            report.target_newest = t;
            for (name, v) in names.iter().zip([s, t]) {
                if v.is_none() {
                    report.empty.push(name.clone());
                }
            }
            if let (LagMode::Heartbeat { max_age }, Some(s)) = (&spec.mode, s) {
                let age = seconds(now - s).max(0.0);
                report.heartbeat_age_seconds = Some(age);
                if age > max_age.as_secs_f64() {
                    return Err(CheckError::Config(format!(
                        "the heartbeat on `{}` was last written {} ago (more than `max_age` {}): the heartbeat writer has stopped, so lag cannot be measured; restart it or raise `max_age`",
                        names[0],
                        humantime::format_duration(std::time::Duration::from_secs(age as u64)),
                        humantime::format_duration(*max_age)
                    )));
                }
            }
            match (s, t) {
                (Some(s), Some(t)) => {
                    let behind = seconds(s - t);
                    if behind < 0.0 {
                        report.target_ahead_seconds = Some(-behind);
                        report.note = Some(format!(
                            "`{}` holds newer changes than `{}`: nothing is waiting to sync this way (writes on the target, a sync running the other way, or the writers' clocks disagree)",
                            names[1], names[0]
                        ));
                    }
                    Some(behind.max(0.0))
                }
                (None, _) => {
                    report.note = Some(format!(
                        "`{}` has no rows: nothing to sync from it",
                        names[0]
                    ));
                    Some(0.0)
                }
                (Some(_), None) => {
                    report.note = Some(format!(
                        "`{}` has no rows while `{}` has: none of the source's changes have arrived",
                        names[1], names[0]
                    ));
                    None
                }
            }
        }
        LagMode::PerKey { size, window } => {
            per_key(
                [&readers[from], &readers[to]],
                [&sides[from], &sides[to]],
                *size,
                *window,
                now,
                &mut report,
            )
            .await?
        }
    };
    Ok(LagReport {
        lag_seconds: lag,
        lag: report,
    })
}

impl KindReport for LagReport {
    fn graded(&self) -> Graded {
        Graded {
            // A target with none of the source's rows is as far behind as it gets.
            amount: self.lag_seconds.unwrap_or(f64::INFINITY),
            total: 0.0,
        }
    }

    fn export(&self, check: &str, metrics: &Metrics) {
        match self.lag_seconds {
            Some(v) => metrics.lag_seconds.with_label_values(&[check]).set(v),
            // Unknown (a side has no rows): no value rather than a misleading one.
            None => {
                let _ = metrics.lag_seconds.remove_label_values(&[check]);
            }
        }
        if let Some(q) = self.lag.quantiles {
            for (quantile, v) in [("0.5", q.p50), ("0.95", q.p95), ("1", q.max)] {
                metrics
                    .lag_propagation_seconds
                    .with_label_values(&[check, quantile])
                    .set(v);
            }
        }
    }

    fn describe(&self, f: &mut Finding) {
        let l = &self.lag;
        match self.lag_seconds {
            Some(v) => {
                let mut headline = format!("{} is {} behind {}", l.to, duration(v), l.from);
                if let Some(q) = l.quantiles {
                    headline.push_str(&format!(
                        " (p50 {}, p95 {}; {} of {} recent keys not there yet)",
                        duration(q.p50),
                        duration(q.p95),
                        l.pending.unwrap_or(0),
                        l.keys.unwrap_or(0)
                    ));
                }
                f.headline(headline);
                f.fact("lag_seconds", "Lag (seconds)", json!(v));
            }
            None => f.headline(format!(
                "lag from {} to {} unknown: {}",
                l.from,
                l.to,
                l.note.as_deref().unwrap_or("a side has no rows")
            )),
        }
        for (key, label, t) in [
            (
                "source_newest",
                format!("Newest change on {}", l.from),
                l.source_newest,
            ),
            (
                "target_newest",
                format!("Newest change on {}", l.to),
                l.target_newest,
            ),
        ] {
            f.fact(
                key,
                label,
                t.map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
                    .unwrap_or(Value::String("no rows".into())),
            );
        }
        if let Some(q) = l.quantiles {
            f.fact(
                "propagation_seconds",
                "Propagation delay (seconds)",
                json!({"p50": q.p50, "p95": q.p95, "max": q.max}),
            );
            f.fact(
                "keys_pending",
                "Sampled keys not yet on the target",
                json!(l.pending),
            );
        }
        if let Some(a) = l.target_ahead_seconds {
            f.fact(
                "target_ahead_seconds",
                format!("{} ahead by (seconds)", l.to),
                json!(a),
            );
        }
    }
}

/// Seconds as a person reads them: `1m 35s`.
fn duration(v: f64) -> humantime::FormattedDuration {
    humantime::format_duration(std::time::Duration::from_secs(v.max(0.0).round() as u64))
}

/// One side made concrete: the timestamp (first column) and key typed for the system, which
/// renders them canonically in UTC.
async fn resolve(side: &LagSide, reader: &Reader<'_>) -> Result<SideSpec, CheckError> {
    let mut exprs = vec![side.timestamp.clone()];
    exprs.extend(side.key.iter().cloned());
    let natives: Vec<Native> = reader.natives(&side.table.table, &exprs).await?;
    let ts = Col {
        expr: side.timestamp.clone(),
        ty: LogicalType::Timestamp(6),
        native: natives[0].clone(),
        plain: false,
    };
    let key = side
        .key
        .iter()
        .zip(&natives[1..])
        .map(|(expr, n)| Col {
            expr: expr.clone(),
            // The type the key compares as with itself, where it is a key type; its text
            // otherwise.
            ty: crate::compare::infer::pair([n, n], [false, false])
                .ok()
                .map(|(t, _)| t)
                .filter(|t| crate::compare::key_type_supported(*t))
                .unwrap_or(LogicalType::Text),
            native: n.clone(),
            plain: false,
        })
        .collect();
    Ok(SideSpec {
        table: side.table.table.clone(),
        filter: side.table.filter.clone(),
        key,
        columns: vec![ts],
        extra: Vec::new(),
        by_agent: Vec::new(),
        tz: reader.timezone(),
    })
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_microseconds()
        .map(|us| us as f64 / 1e6)
        .unwrap_or(d.num_seconds() as f64)
}

/// A canonical timestamp read back as UTC.
fn instant(text: &str, side: &SideSpec, reader: &Reader<'_>) -> Result<DateTime<Utc>, CheckError> {
    normalize::parse_timestamp(text, chrono_tz::UTC)
        .map(|naive: NaiveDateTime| naive.and_utc())
        .ok_or_else(|| {
            CheckError::Config(format!(
                "system `{}`: the timestamp `{}` reads `{text}`, which is not a time (map `timestamp` to a timestamp column or expression)",
                reader.name(),
                side.columns[0].expr
            ))
        })
}

/// The newest change time on one side; `None` when it has no rows.
async fn newest(reader: &Reader<'_>, side: &SideSpec) -> Result<Option<DateTime<Utc>>, CheckError> {
    match reader.newest(side, &side.columns[0]).await? {
        None => Ok(None),
        Some(text) => instant(&text, side, reader).map(Some),
    }
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// A source key as the target's key columns read it.
fn as_target_key(key: &Key, target: &SideSpec) -> Key {
    key.iter()
        .zip(&target.key)
        .map(|(part, col)| {
            let text = part.to_string();
            KeyPart::parse(&text, col.ty).unwrap_or(KeyPart::Text(text))
        })
        .collect()
}

/// `per_key`: for the source's most recent changes within `window`, how long each took to
/// show on the target (a key not there yet, or there only in an older version, counts with
/// its age so far: a lower bound). Returns the largest delay.
async fn per_key(
    readers: [&Reader<'_>; 2],
    sides: [&SideSpec; 2],
    size: u32,
    window: std::time::Duration,
    now: DateTime<Utc>,
    report: &mut LagMeasure,
) -> Result<Option<f64>, CheckError> {
    let since = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let cutoff = normalize::format_timestamp(since.naive_utc(), 6);
    let (src, tgt) = (sides[0], sides[1]);
    let mut changes: Vec<(Key, DateTime<Utc>)> = Vec::new();
    for (key, ts) in readers[0].recent_changes(src, &cutoff, size).await? {
        changes.push((as_target_key(&key, tgt), instant(&ts, src, readers[0])?));
    }
    report.keys = Some(changes.len() as u64);
    if changes.is_empty() {
        report.pending = Some(0);
        report.note = Some(format!(
            "no rows changed on `{}` within the last {}: nothing to measure",
            report.from,
            humantime::format_duration(window)
        ));
        return Ok(Some(0.0));
    }
    // The same keys on the target, in batches.
    let mut arrived: HashMap<Key, DateTime<Utc>> = HashMap::new();
    for batch in changes.chunks(256) {
        let keys: Vec<Key> = batch.iter().map(|(k, _)| k.clone()).collect();
        for (key, values) in readers[1].rows_for_keys(tgt, &keys).await? {
            if let Some(Some(ts)) = values.first() {
                arrived.insert(key, instant(ts, tgt, readers[1])?);
            }
        }
    }
    let mut pending = 0u64;
    let mut delays: Vec<f64> = changes
        .iter()
        .map(|(key, changed)| match arrived.get(key) {
            Some(t) if t >= changed => seconds(*t - *changed),
            _ => {
                pending += 1;
                seconds(now - *changed).max(0.0)
            }
        })
        .collect();
    delays.sort_by(|a, b| a.total_cmp(b));
    let q = LagQuantiles {
        p50: quantile(&delays, 0.5),
        p95: quantile(&delays, 0.95),
        max: quantile(&delays, 1.0),
    };
    report.pending = Some(pending);
    report.quantiles = Some(q);
    Ok(Some(q.max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lag_says_who_is_behind_whom() {
        let r = LagReport {
            lag_seconds: Some(95.0),
            lag: LagMeasure {
                from: "modern".into(),
                to: "legacy".into(),
                ..Default::default()
            },
        };
        let mut f = Finding::default();
        r.describe(&mut f);
        assert_eq!(f.headline, "legacy is 1m 35s behind modern");
        assert!(f
            .facts
            .iter()
            .any(|x| x.key == "target_newest" && x.text == "no rows"));
    }
}
