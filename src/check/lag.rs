//! `lag`: how far the sync's target is behind its source. `watermark` compares the newest
//! change time on each side, `heartbeat` the timestamp of a heartbeat row some writer keeps
//! updating on the source, and `per_key` how long recently changed source keys took to reach
//! the target. All times are compared in UTC: zone-less legacy columns are read in their
//! system's `timezone`.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{CheckError, LagQuantiles, LagReport, Outcome};
use crate::compare::normalize::{self, LogicalType};
use crate::compare::{Col, KeyPart, Native, SideSpec};
use crate::config::{LagMode, LagSide, LagSpec};
use crate::system::{sql, System, Systems};

pub async fn run(spec: &LagSpec, systems: &Systems) -> Result<Outcome, CheckError> {
    let sys = [
        super::system(systems, &spec.sides[0].table.system)?,
        super::system(systems, &spec.sides[1].table.system)?,
    ];
    let (a, b) = tokio::join!(
        resolve(&spec.sides[0], sys[0]),
        resolve(&spec.sides[1], sys[1])
    );
    let (a, b) = both(a, b)?;
    let sides = [a, b];
    let (from, to) = (spec.from, spec.to);
    let names = [sys[from].name().to_string(), sys[to].name().to_string()];
    let mut report = LagReport {
        mode: spec.mode.as_str().to_string(),
        from: names[0].clone(),
        to: names[1].clone(),
        ..LagReport::default()
    };
    let now = Utc::now();
    let lag = match &spec.mode {
        LagMode::Watermark | LagMode::Heartbeat { .. } => {
            let (s, t) = tokio::join!(newest(sys[from], &sides[from]), newest(sys[to], &sides[to]));
            let (s, t) = both(s, t)?;
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
                [sys[from], sys[to]],
                [&sides[from], &sides[to]],
                *size,
                *window,
                now,
                &mut report,
            )
            .await?
        }
    };
    // A target with none of the source's rows is as far behind as it gets.
    let finding = lag.unwrap_or(f64::INFINITY);
    Ok(Outcome {
        finding,
        lag_seconds: lag,
        lag: Some(report),
        ..Outcome::default()
    })
}

fn both<A, B>(a: Result<A, CheckError>, b: Result<B, CheckError>) -> Result<(A, B), CheckError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(ea), Err(eb)) => Err(CheckError::Both(Box::new(ea), Box::new(eb))),
    }
}

/// One side made concrete: the timestamp (first column) and key typed for the engine, which
/// renders them canonically in UTC.
struct Resolved {
    side: SideSpec,
}

async fn resolve(side: &LagSide, sys: &System) -> Result<Resolved, CheckError> {
    let mut exprs = vec![side.timestamp.clone()];
    exprs.extend(side.key.iter().cloned());
    let described = sys.describe(&side.table.table, &exprs).await?;
    let natives: Vec<Native> = described.into_iter().map(|(_, n)| n).collect();
    let ts = Col {
        expr: side.timestamp.clone(),
        ty: LogicalType::Timestamp(6),
        native: natives[0],
        plain: false,
    };
    let key = side
        .key
        .iter()
        .zip(&natives[1..])
        .map(|(expr, n)| Col {
            expr: expr.clone(),
            ty: n
                .logical()
                .filter(|t| *t != LogicalType::Bytes)
                .unwrap_or(LogicalType::Text),
            native: *n,
            plain: false,
        })
        .collect();
    Ok(Resolved {
        side: SideSpec {
            table: side.table.table.clone(),
            filter: side.table.filter.clone(),
            key,
            columns: vec![ts],
            extra: Vec::new(),
            tz: sys.config.timezone,
        },
    })
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_microseconds()
        .map(|us| us as f64 / 1e6)
        .unwrap_or(d.num_seconds() as f64)
}

/// A canonical timestamp read back as UTC.
fn instant(text: &str, side: &Resolved, system: &System) -> Result<DateTime<Utc>, CheckError> {
    normalize::parse_timestamp(text, chrono_tz::UTC)
        .map(|naive: NaiveDateTime| naive.and_utc())
        .ok_or_else(|| {
            CheckError::Config(format!(
                "system `{}`: the timestamp `{}` reads `{text}`, which is not a time (map `timestamp` to a timestamp column or expression)",
                system.name(),
                side.side.columns[0].expr
            ))
        })
}

/// The newest change time on one side; `None` when it has no rows.
async fn newest(sys: &System, side: &Resolved) -> Result<Option<DateTime<Utc>>, CheckError> {
    let q = sql::newest(sys.engine().dialect(), &side.side, &side.side.columns[0]);
    let rows = sys.fetch_strings(&q).await?;
    match rows.first().and_then(|r| r.first()).cloned().flatten() {
        None => Ok(None),
        Some(text) => instant(&text, side, sys).map(Some),
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

/// `per_key`: for the source's most recent changes within `window`, how long each took to
/// show on the target (a key not there yet, or there only in an older version, counts with
/// its age so far: a lower bound). Returns the largest delay.
#[allow(clippy::too_many_arguments)]
async fn per_key(
    sys: [&System; 2],
    sides: [&Resolved; 2],
    size: u32,
    window: std::time::Duration,
    now: DateTime<Utc>,
    report: &mut LagReport,
) -> Result<Option<f64>, CheckError> {
    let since = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let cutoff_naive = since.naive_utc();
    let cutoff = normalize::format_timestamp(cutoff_naive, 6);
    let src = &sides[0].side;
    let nkey = src.key.len();
    let rows = sys[0]
        .fetch_strings(&sql::recent_changes(
            sys[0].engine().dialect(),
            src,
            &cutoff,
            size,
        ))
        .await?;
    let mut changes: Vec<(Vec<String>, DateTime<Utc>)> = Vec::new();
    for row in rows {
        let key: Option<Vec<String>> = row[..nkey].iter().cloned().collect();
        let (Some(key), Some(Some(ts))) = (key, row.get(nkey)) else {
            continue;
        };
        changes.push((key, instant(ts, sides[0], sys[0])?));
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
    let tgt = &sides[1].side;
    let mut arrived: std::collections::HashMap<Vec<String>, DateTime<Utc>> = Default::default();
    for batch in changes.chunks(256) {
        let keys: Vec<Vec<KeyPart>> = batch
            .iter()
            .map(|(k, _)| {
                k.iter()
                    .zip(&tgt.key)
                    .map(|(text, col)| {
                        KeyPart::parse(text, col.ty).unwrap_or_else(|| KeyPart::Text(text.clone()))
                    })
                    .collect()
            })
            .collect();
        let rows = sys[1]
            .fetch_strings(&sql::fetch_rows(sys[1].engine().dialect(), tgt, &keys))
            .await?;
        for row in rows {
            let key: Option<Vec<String>> = row[..nkey].iter().cloned().collect();
            if let (Some(key), Some(Some(ts))) = (key, row.get(nkey)) {
                arrived.insert(key, instant(ts, sides[1], sys[1])?);
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
