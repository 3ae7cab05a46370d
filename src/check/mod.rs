//! Checks: one module per kind, each turning a validated definition into an [`Outcome`] by
//! asking the systems through [`crate::system::System`] (never by writing engine SQL). This
//! module runs a check under its timeout, grades the outcome against the thresholds, and
//! records the resulting [`CheckRun`] in the metrics and logs.

mod aggregate;
pub mod finding;
mod hash_diff;
mod hash_sample;
mod lag;
mod ref_integrity;
mod row_count;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use tracing::Instrument;

use crate::config::{CheckConfig, CheckSpec, Threshold};
use crate::metrics::Metrics;
use crate::system::{DbError, Systems};

/// How a run came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Error => "error",
        }
    }

    /// The value of `driftwatch_check_status` (errors have none: the finding is unknown).
    fn gauge(self) -> Option<i64> {
        match self {
            Status::Ok => Some(0),
            Status::Warning => Some(1),
            Status::Critical => Some(2),
            Status::Error => None,
        }
    }
}

/// What a check kind found, before grading.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Rows counted per system, in the check's side order.
    pub rows: Vec<(String, i64)>,
    pub row_count_difference: Option<i64>,
    /// The amount graded against the thresholds (e.g. |difference| in rows).
    pub finding: f64,
    /// What a percentage threshold is a share of.
    pub total: f64,
    pub differences: Option<Differences>,
    pub samples: Vec<Difference>,
    /// Differences that were gone when re-checked after the grace period.
    pub transient: u64,
    /// What a sampled check saw and what it infers.
    pub sample: Option<SampleStats>,
    pub load: Vec<(String, crate::compare::diff::Load)>,
    /// Lag checks: seconds the target is behind (`None` when it cannot be said, e.g. a
    /// side has no rows) and how it was measured.
    pub lag_seconds: Option<f64>,
    pub lag: Option<LagReport>,
    /// ref_integrity checks: child rows whose parent is missing.
    pub orphans: Option<u64>,
    /// aggregate checks: groups seen and groups that differ.
    pub groups: Option<GroupStats>,
}

/// How a lag check measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct LagReport {
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct LagQuantiles {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

/// What an aggregate check compared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct GroupStats {
    /// Groups seen on each system.
    #[serde(
        serialize_with = "ordered_map",
        deserialize_with = "ordered_map_de",
        default
    )]
    pub seen: Vec<(String, i64)>,
    /// Groups whose values differ beyond the tolerance or that exist on one side only.
    pub differing: u64,
}

/// A sample's findings and the estimate for the whole table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct SampleStats {
    /// Distinct keys compared.
    pub size: u64,
    pub mismatches: u64,
    pub mismatch_ratio: f64,
    /// The mismatch ratio times the table's rows.
    pub estimated_differences: f64,
    /// 95% confidence interval of the estimate (Wilson score interval).
    pub ci95: [f64; 2],
}

/// How many rows differ, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Differences {
    /// Rows missing on each system.
    pub missing: Vec<(String, u64)>,
    pub changed: u64,
}

impl Serialize for Differences {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.missing.len() + 1))?;
        for (system, n) in &self.missing {
            map.serialize_entry(&format!("missing_in_{system}"), n)?;
        }
        map.serialize_entry("changed", &self.changed)?;
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Differences {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map: BTreeMap<String, u64> = serde::Deserialize::deserialize(d)?;
        Ok(Differences {
            changed: map.get("changed").copied().unwrap_or(0),
            missing: map
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("missing_in_").map(|s| (s.to_string(), *v)))
                .collect(),
        })
    }
}

/// One differing record, as on-call reads it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Difference {
    pub key: serde_json::Map<String, serde_json::Value>,
    pub kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub columns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
    /// When this difference was first seen (by this run, or by an earlier one that saw the
    /// same key differ the same way).
    #[serde(
        serialize_with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub first_seen: Option<DateTime<Utc>>,
    /// For a changed row, the system holding the newer version (by the check's `version`
    /// column): on a two-way sync it tells which direction failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub newer: Option<String>,
    /// aggregate checks: per differing measure, the second system's value minus the first's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delta: Option<serde_json::Map<String, serde_json::Value>>,
    /// ref_integrity checks: child rows holding this orphan key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rows: Option<u64>,
}

fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
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

/// See [`RunOptions::progress`].
#[derive(Clone)]
pub struct ProgressFn(pub Arc<ProgressCallback>);

/// Called with (check name, phase).
pub type ProgressCallback = dyn Fn(&str, String) + Send + Sync;

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// See [`RunOptions::on_grace`].
#[derive(Clone)]
pub struct GraceHook(pub Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>);

impl std::fmt::Debug for GraceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GraceHook")
    }
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

/// One run of one check: the result JSON of `check --format json` and the API.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CheckRun {
    pub name: String,
    pub kind: String,
    pub status: Status,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    pub duration_seconds: f64,
    #[serde(
        serialize_with = "ordered_map",
        deserialize_with = "ordered_map_de",
        skip_serializing_if = "Vec::is_empty",
        default
    )]
    pub rows: Vec<(String, i64)>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub row_count_difference: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub differences: Option<Differences>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub samples: Option<Vec<Difference>>,
    /// Differences that resolved during the grace period (the sync caught up).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transient: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sample: Option<SampleStats>,
    /// Lag checks: seconds the target is behind; `null` when it cannot be said.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lag_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lag: Option<LagReport>,
    /// ref_integrity checks: child rows whose parent is missing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub orphans: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub groups: Option<GroupStats>,
    #[serde(
        serialize_with = "load_map",
        deserialize_with = "load_map_de",
        skip_serializing_if = "Vec::is_empty",
        default
    )]
    pub load: Vec<(String, crate::compare::diff::Load)>,
    pub thresholds: ThresholdsOut,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct ThresholdsOut {
    pub warning: Option<String>,
    pub critical: Option<String>,
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn ordered_map<S: Serializer>(v: &[(String, i64)], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(v.len()))?;
    for (k, n) in v {
        map.serialize_entry(k, n)?;
    }
    map.end()
}

fn load_map<S: Serializer>(
    v: &[(String, crate::compare::diff::Load)],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(v.len()))?;
    for (k, n) in v {
        map.serialize_entry(k, n)?;
    }
    map.end()
}

fn load_map_de<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, crate::compare::diff::Load)>, D::Error> {
    let map: BTreeMap<String, crate::compare::diff::Load> = serde::Deserialize::deserialize(d)?;
    Ok(map.into_iter().collect())
}

fn ordered_map_de<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, i64)>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<(String, i64)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of system to rows")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(e) = m.next_entry()? {
                out.push(e);
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

/// Why a check could not produce an outcome.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("system `{0}` is not defined")]
    UnknownSystem(String),
    #[error("{0}; {1}")]
    Both(Box<CheckError>, Box<CheckError>),
    #[error(transparent)]
    Diff(#[from] crate::compare::diff::DiffError),
    #[error("{0}")]
    Config(String),
}

/// The system a check's side names.
fn system<'a>(systems: &'a Systems, name: &str) -> Result<&'a crate::system::System, CheckError> {
    systems
        .get(name)
        .map(|s| s.as_ref())
        .ok_or_else(|| CheckError::UnknownSystem(name.to_string()))
}

/// Run `check` once, now, within its timeout.
pub async fn run(check: &CheckConfig, systems: &Systems, options: &RunOptions) -> CheckRun {
    let started_at = Utc::now();
    let clock = Instant::now();
    let span = tracing::info_span!("check", check = %check.name, kind = check.kind);
    let result = tokio::time::timeout(check.timeout, evaluate(check, systems, options))
        .instrument(span)
        .await;
    let duration_seconds = clock.elapsed().as_secs_f64();
    let thresholds = ThresholdsOut {
        warning: check.thresholds.warning.map(|t| t.to_string()),
        critical: check.thresholds.critical.map(|t| t.to_string()),
    };
    let base = CheckRun {
        duration_seconds,
        thresholds,
        ..CheckRun::new(&check.name, check.kind, Status::Error, started_at)
    };
    match result {
        Ok(Ok(outcome)) => CheckRun {
            status: grade(&outcome, check),
            samples: (outcome.differences.is_some()
                || outcome.orphans.is_some()
                || outcome.groups.is_some())
            .then(|| outcome.samples.clone()),
            rows: outcome.rows,
            row_count_difference: outcome.row_count_difference,
            transient: outcome
                .differences
                .as_ref()
                .filter(|_| outcome.sample.is_none())
                .map(|_| outcome.transient),
            sample: outcome.sample,
            lag_seconds: outcome.lag_seconds,
            lag: outcome.lag,
            orphans: outcome.orphans,
            groups: outcome.groups,
            differences: outcome.differences,
            load: outcome.load,
            ..base
        },
        Ok(Err(e)) => CheckRun {
            error: Some(e.to_string()),
            ..base
        },
        Err(_) => CheckRun {
            error: Some(format!(
                "timed out after {} (the check's `timeout`); the systems' statement_timeout cancels any query still running on the server",
                humantime::format_duration(check.timeout)
            )),
            ..base
        },
    }
}

async fn evaluate(
    check: &CheckConfig,
    systems: &Systems,
    options: &RunOptions,
) -> Result<Outcome, CheckError> {
    match &check.spec {
        CheckSpec::RowCount(spec) => row_count::run(spec, systems).await,
        CheckSpec::HashDiff(spec) => hash_diff::run(check, spec, systems, options).await,
        CheckSpec::HashSample(spec) => hash_sample::run(check, spec, systems, options).await,
        CheckSpec::Lag(spec) => lag::run(spec, systems).await,
        CheckSpec::RefIntegrity(spec) => ref_integrity::run(spec, systems, options).await,
        CheckSpec::Aggregate(spec) => aggregate::run(spec, systems, options).await,
    }
}

/// Critical if the finding reaches the critical threshold, else warning if it reaches the
/// warning one, else ok.
fn grade(outcome: &Outcome, check: &CheckConfig) -> Status {
    let reached =
        |t: Option<Threshold>| t.is_some_and(|t| t.breached_by(outcome.finding, outcome.total));
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

impl CheckRun {
    /// A run with nothing found yet: what every kind's result starts from.
    pub fn new(name: &str, kind: &str, status: Status, started_at: DateTime<Utc>) -> CheckRun {
        CheckRun {
            name: name.to_string(),
            kind: kind.to_string(),
            status,
            started_at,
            duration_seconds: 0.0,
            rows: Vec::new(),
            row_count_difference: None,
            differences: None,
            samples: None,
            transient: None,
            sample: None,
            lag_seconds: None,
            lag: None,
            orphans: None,
            groups: None,
            load: Vec::new(),
            thresholds: ThresholdsOut::default(),
            error: None,
        }
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
        if let Some(n) = self.transient {
            metrics.transient_rows.with_label_values(&[name]).inc_by(n);
        }
        if let Some(error) = &self.error {
            metrics.check_errors.with_label_values(&[name]).inc();
            tracing::warn!(check = name, kind = %self.kind, error = %error, "check failed");
            return;
        }
        let found = finding::describe(self).headline;
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
        metrics
            .check_success
            .with_label_values(&[name, &self.kind])
            .set(i64::from(self.error.is_none()));
        if self.error.is_some() {
            return;
        }
        metrics
            .check_last_success
            .with_label_values(&[name])
            .set(started);
        if let Some(g) = self.status.gauge() {
            metrics.check_status.with_label_values(&[name]).set(g);
        }
        for (system, n) in &self.rows {
            metrics.rows.with_label_values(&[name, system]).set(*n);
        }
        if let Some(d) = self.row_count_difference {
            metrics
                .row_count_difference
                .with_label_values(&[name])
                .set(d);
        }
        if let Some(stats) = &self.sample {
            metrics
                .sample_mismatch_ratio
                .with_label_values(&[name])
                .set(stats.mismatch_ratio);
            metrics
                .estimated_differences
                .with_label_values(&[name])
                .set(stats.estimated_differences);
        }
        if self.kind == "lag" {
            match self.lag_seconds {
                Some(v) => metrics.lag_seconds.with_label_values(&[name]).set(v),
                // Unknown (a side has no rows): no value rather than a misleading one.
                None => {
                    let _ = metrics.lag_seconds.remove_label_values(&[name]);
                }
            }
            if let Some(q) = self.lag.as_ref().and_then(|l| l.quantiles) {
                for (quantile, v) in [("0.5", q.p50), ("0.95", q.p95), ("1", q.max)] {
                    metrics
                        .lag_propagation_seconds
                        .with_label_values(&[name, quantile])
                        .set(v);
                }
            }
        }
        if let Some(n) = self.orphans {
            metrics.orphan_rows.with_label_values(&[name]).set(n as i64);
        }
        if let Some(g) = &self.groups {
            metrics
                .differing_groups
                .with_label_values(&[name])
                .set(g.differing as i64);
        }
        if let Some(d) = self.differences.as_ref().filter(|_| self.sample.is_none()) {
            for (system, n) in &d.missing {
                metrics
                    .missing_rows
                    .with_label_values(&[name, system])
                    .set(*n as i64);
            }
            metrics
                .changed_rows
                .with_label_values(&[name])
                .set(d.changed as i64);
        }
        let total = self.rows.iter().map(|(_, n)| *n).max().unwrap_or(0) as f64;
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

/// Runs every given check once, concurrently (each system's `max_connections` still bounds
/// the load), in the given order.
pub async fn run_all(
    checks: &[Arc<CheckConfig>],
    systems: &Systems,
    options: &RunOptions,
) -> Vec<CheckRun> {
    futures::future::join_all(checks.iter().map(|c| run(c, systems, options))).await
}
