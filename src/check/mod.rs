//! Checks: one module per kind (`row_count`, `hash_diff`, `hash_sample`, `lag`,
//! `ref_integrity`, `aggregate`), each with `run(spec, context) -> <Kind>Report` and that
//! report's [`KindReport`] implementation (the graded amount, its metrics, its finding in
//! words, the records it lists). Kinds ask the systems typed questions through
//! [`crate::system::Reader`]; none of them writes SQL or names a database.
//!
//! This module is where the kinds meet: [`Report`] (the enum the agent, state store, alerts
//! and CLI match on), [`CheckRun`] (one run: when, how long, graded how, the report or the
//! error), and [`run`], which runs a check under its timeout and grades its report. Adding a
//! kind is one arm in [`run`] and one in [`Report::kind_report`].

mod aggregate;
mod columns;
mod context;
mod diff;
pub mod finding;
mod hash_diff;
mod hash_sample;
mod lag;
mod ref_integrity;
pub mod report;
mod row_count;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

pub use aggregate::{AggregateReport, GroupStats};
pub use context::{CheckError, GraceHook, ProgressCallback, ProgressFn};
pub use finding::{Fact, Finding};
pub use hash_diff::HashDiffReport;
pub use hash_sample::{HashSampleReport, SampleStats};
pub use lag::{LagMeasure, LagQuantiles, LagReport};
pub use ref_integrity::RefIntegrityReport;
pub use report::{Difference, Differences, KindReport, Status, Table};
pub use row_count::RowCountReport;

use crate::config::{CheckConfig, CheckSpec, Threshold};
use crate::metrics::Metrics;
use crate::system::Systems;
use context::Context;

/// What a run of each kind found. Serialized with its kind's fields next to the run's own
/// (see [`CheckRun`]); the `kind` tag tells them apart when a stored run is read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    RowCount(RowCountReport),
    HashDiff(HashDiffReport),
    HashSample(HashSampleReport),
    Lag(LagReport),
    RefIntegrity(RefIntegrityReport),
    Aggregate(AggregateReport),
}

impl Report {
    /// What every kind answers.
    pub fn kind_report(&self) -> &dyn KindReport {
        match self {
            Report::RowCount(r) => r,
            Report::HashDiff(r) => r,
            Report::HashSample(r) => r,
            Report::Lag(r) => r,
            Report::RefIntegrity(r) => r,
            Report::Aggregate(r) => r,
        }
    }
}

/// How a run is asked for.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Most differences listed in a result; `None` lists all.
    pub samples: Option<usize>,
    /// The previous run of the same check, for when each difference was first seen.
    pub previous: Option<CheckRun>,
    /// Awaited when a grace period starts (tests use it to change data deterministically).
    pub on_grace: Option<GraceHook>,
    /// Told (check name, phase) as long runs progress.
    pub progress: Option<ProgressFn>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            samples: Some(20),
            previous: None,
            on_grace: None,
            progress: None,
        }
    }
}

/// The thresholds a run was graded against, as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThresholdsOut {
    pub warning: Option<String>,
    pub critical: Option<String>,
}

/// One run of one check: the result JSON of `check --format json` and the API.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckRun {
    pub name: String,
    pub kind: String,
    pub status: Status,
    pub started_at: DateTime<Utc>,
    pub duration_seconds: f64,
    /// What the run found, or why it found nothing.
    pub outcome: Result<Report, String>,
    pub thresholds: ThresholdsOut,
}

impl CheckRun {
    /// The report, when the run did not fail.
    pub fn report(&self) -> Option<&dyn KindReport> {
        self.outcome.as_ref().ok().map(Report::kind_report)
    }

    /// Why the run failed.
    pub fn error(&self) -> Option<&str> {
        self.outcome.as_ref().err().map(String::as_str)
    }

    /// The records the run lists (none for a failed run or a kind that lists none).
    pub fn samples(&self) -> &[Difference] {
        self.report().map(|r| r.samples()).unwrap_or(&[])
    }

    /// The run described for people: the one wording the table, logs and alerts use.
    pub fn finding(&self) -> Finding {
        let mut f = Finding::default();
        match &self.outcome {
            Ok(report) => report.kind_report().describe(&mut f),
            Err(e) => {
                let e = crate::secret::scrub(e);
                f.headline(format!("the check failed: {e}"));
                f.fact("error", "Error", serde_json::Value::String(e));
            }
        }
        if f.headline.is_empty() {
            f.headline = format!("status {}", self.status.as_str());
        }
        f
    }

    /// The telemetry event of a finished run: logs it and updates every metric it touches.
    pub fn record(&self, check: &CheckConfig, metrics: &Metrics) {
        let name = self.name.as_str();
        metrics.check_runs.with_label_values(&[name]).inc();
        metrics
            .check_duration
            .with_label_values(&[name])
            .observe(self.duration_seconds);
        self.export(check, metrics);
        let Some(report) = self.report() else {
            metrics.check_errors.with_label_values(&[name]).inc();
            let error = self.error().unwrap_or_default();
            tracing::warn!(check = name, kind = %self.kind, error = %error, "check failed");
            return;
        };
        if let transient @ 1.. = report.transient() {
            metrics
                .transient_rows
                .with_label_values(&[name])
                .inc_by(transient);
        }
        let found = self.finding().headline;
        match self.status {
            Status::Ok => {
                tracing::info!(check = name, status = "ok", finding = %found, duration_seconds = self.duration_seconds, "check passed")
            }
            status => {
                tracing::warn!(check = name, status = status.as_str(), finding = %found, duration_seconds = self.duration_seconds, "check found drift")
            }
        }
    }

    /// Re-export a run a previous agent recorded, without counting it as a new run.
    pub fn record_restored(&self, check: &CheckConfig, metrics: &Metrics) {
        self.export(check, metrics);
    }

    /// The gauges that describe the latest run.
    fn export(&self, check: &CheckConfig, metrics: &Metrics) {
        let name = self.name.as_str();
        let started = self.started_at.timestamp_millis() as f64 / 1000.0;
        metrics
            .check_last_run
            .with_label_values(&[name])
            .set(started);
        let report = self.report();
        metrics
            .check_success
            .with_label_values(&[name, &self.kind])
            .set(i64::from(report.is_some()));
        let Some(report) = report else {
            return;
        };
        metrics
            .check_last_success
            .with_label_values(&[name])
            .set(started);
        if let Some(g) = self.status.gauge() {
            metrics.check_status.with_label_values(&[name]).set(g);
        }
        report.export(name, metrics);
        let total = report::largest(report.rows());
        for (severity, t) in [
            ("warning", check.thresholds.warning),
            ("critical", check.thresholds.critical),
        ] {
            if let Some(t) = t {
                metrics
                    .threshold
                    .with_label_values(&[name, severity])
                    .set(t.absolute(total));
            }
        }
    }
}

/// The JSON of a run: its own fields, then its report's fields, then thresholds and error.
#[derive(Serialize, Deserialize)]
struct Wire {
    name: String,
    kind: String,
    status: Status,
    #[serde(serialize_with = "report::rfc3339")]
    started_at: DateTime<Utc>,
    duration_seconds: f64,
    #[serde(flatten)]
    found: serde_json::Map<String, serde_json::Value>,
    thresholds: ThresholdsOut,
    error: Option<String>,
}

impl Serialize for CheckRun {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let found = match &self.outcome {
            Ok(report) => match serde_json::to_value(report).map_err(serde::ser::Error::custom)? {
                serde_json::Value::Object(mut m) => {
                    m.shift_remove("kind");
                    m
                }
                _ => serde_json::Map::new(),
            },
            Err(_) => serde_json::Map::new(),
        };
        Wire {
            name: self.name.clone(),
            kind: self.kind.clone(),
            status: self.status,
            started_at: self.started_at,
            duration_seconds: self.duration_seconds,
            found,
            thresholds: self.thresholds.clone(),
            error: self.error().map(str::to_string),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for CheckRun {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        let outcome = match w.error {
            Some(e) => Err(e),
            None => {
                let mut tagged = w.found;
                tagged.insert("kind".into(), serde_json::Value::String(w.kind.clone()));
                Ok(Report::deserialize(serde_json::Value::Object(tagged))
                    .map_err(serde::de::Error::custom)?)
            }
        };
        Ok(CheckRun {
            name: w.name,
            kind: w.kind,
            status: w.status,
            started_at: w.started_at,
            duration_seconds: w.duration_seconds,
            outcome,
            thresholds: w.thresholds,
        })
    }
}

/// Run `check` once, now, within its timeout.
pub async fn run(check: &CheckConfig, systems: &Systems, options: &RunOptions) -> CheckRun {
    let started_at = Utc::now();
    let clock = Instant::now();
    let span = tracing::info_span!("check", check = %check.name, kind = check.kind);
    let previous = options
        .previous
        .as_ref()
        .map(CheckRun::samples)
        .unwrap_or(&[]);
    let cx = Context {
        check: &check.name,
        systems,
        samples: options.samples,
        previous,
        on_grace: options.on_grace.as_ref(),
        progress: options.progress.as_ref(),
    };
    let result = tokio::time::timeout(check.timeout, evaluate(&check.spec, &cx))
        .instrument(span)
        .await;
    let outcome = match result {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "timed out after {} (the check's `timeout`); the systems' statement_timeout cancels any query still running on the server",
            humantime::format_duration(check.timeout)
        )),
    };
    CheckRun {
        name: check.name.clone(),
        kind: check.kind.to_string(),
        status: match &outcome {
            Ok(report) => grade(report.kind_report(), check),
            Err(_) => Status::Error,
        },
        started_at,
        duration_seconds: clock.elapsed().as_secs_f64(),
        outcome,
        thresholds: ThresholdsOut {
            warning: check.thresholds.warning.map(|t| t.to_string()),
            critical: check.thresholds.critical.map(|t| t.to_string()),
        },
    }
}

async fn evaluate(spec: &CheckSpec, cx: &Context<'_>) -> Result<Report, CheckError> {
    Ok(match spec {
        CheckSpec::RowCount(spec) => Report::RowCount(row_count::run(spec, cx).await?),
        CheckSpec::HashDiff(spec) => Report::HashDiff(hash_diff::run(spec, cx).await?),
        CheckSpec::HashSample(spec) => Report::HashSample(hash_sample::run(spec, cx).await?),
        CheckSpec::Lag(spec) => Report::Lag(lag::run(spec, cx).await?),
        CheckSpec::RefIntegrity(spec) => Report::RefIntegrity(ref_integrity::run(spec, cx).await?),
        CheckSpec::Aggregate(spec) => Report::Aggregate(aggregate::run(spec, cx).await?),
    })
}

/// Critical if the graded amount reaches the critical threshold, else warning if it reaches
/// the warning one, else ok.
fn grade(report: &dyn KindReport, check: &CheckConfig) -> Status {
    let g = report.graded();
    let reached = |t: Option<Threshold>| t.is_some_and(|t| t.breached_by(g.amount, g.total));
    if reached(check.thresholds.critical) {
        Status::Critical
    } else if reached(check.thresholds.warning) {
        Status::Warning
    } else {
        Status::Ok
    }
}

/// Set the gauges a check exports before it has ever run (so rules and dashboards have them).
pub fn announce(check: &CheckConfig, metrics: &Metrics) {
    let name = check.name.as_str();
    metrics.check_runs.with_label_values(&[name]);
    metrics.check_errors.with_label_values(&[name]);
    metrics.check_skipped.with_label_values(&[name]);
    metrics
        .check_interval
        .with_label_values(&[name])
        .set(check.schedule.nominal_interval().as_secs_f64());
    for (severity, t) in [
        ("warning", check.thresholds.warning),
        ("critical", check.thresholds.critical),
    ] {
        if let Some(Threshold::Count(v)) = t {
            metrics
                .threshold
                .with_label_values(&[name, severity])
                .set(v);
        }
    }
}

/// Runs every given check once, concurrently (each system's `max_connections` still bounds
/// the load), in the given order.
pub async fn run_all(
    checks: &[Arc<CheckConfig>],
    systems: &Systems,
    options: &RunOptions,
) -> Vec<CheckRun> {
    futures::future::join_all(checks.iter().map(|c| run(c, systems, options))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(outcome: Result<Report, String>) -> CheckRun {
        CheckRun {
            name: "patients_rows".into(),
            kind: "row_count".into(),
            status: if outcome.is_ok() {
                Status::Critical
            } else {
                Status::Error
            },
            started_at: Utc::now(),
            duration_seconds: 0.1,
            outcome,
            thresholds: ThresholdsOut::default(),
        }
    }

    #[test]
    fn an_error_is_the_headline() {
        let r = run_of(Err("system `legacy`: table `t` not found".into()));
        assert_eq!(
            r.finding().headline,
            "the check failed: system `legacy`: table `t` not found"
        );
    }

    #[test]
    fn a_run_reads_back_as_it_was_written() {
        let r = run_of(Ok(Report::RowCount(RowCountReport {
            rows: vec![("legacy".into(), 100), ("modern".into(), 125)],
            row_count_difference: 25,
        })));
        let json = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "name",
                "kind",
                "status",
                "started_at",
                "duration_seconds",
                "rows",
                "row_count_difference",
                "thresholds",
                "error"
            ]
        );
        let back: CheckRun = serde_json::from_value(json).unwrap();
        assert_eq!(back.outcome, r.outcome);
        let failed = run_of(Err("boom".into()));
        let back: CheckRun =
            serde_json::from_value(serde_json::to_value(&failed).unwrap()).unwrap();
        assert_eq!(back.error(), Some("boom"));
    }
}
