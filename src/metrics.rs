//! Every Prometheus metric the agent exports, named and described in one place.
//!
//! Labels are bounded: `check`, `kind`, `system`, `sink`, `severity`, `version`. A key, a
//! value, a URL or an error message never becomes a label.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub struct Metrics {
    registry: Registry,
    pub check_success: IntGaugeVec,
    pub check_status: IntGaugeVec,
    pub check_last_run: GaugeVec,
    pub check_last_success: GaugeVec,
    pub check_duration: HistogramVec,
    pub check_runs: IntCounterVec,
    pub check_errors: IntCounterVec,
    pub check_skipped: IntCounterVec,
    pub check_interval: GaugeVec,
    pub rows: IntGaugeVec,
    pub row_count_difference: IntGaugeVec,
    pub missing_rows: IntGaugeVec,
    pub changed_rows: IntGaugeVec,
    pub transient_rows: IntCounterVec,
    pub sample_mismatch_ratio: GaugeVec,
    pub estimated_differences: GaugeVec,
    pub threshold: GaugeVec,
    pub system_up: IntGaugeVec,
    pub queries: IntCounterVec,
    pub query_errors: IntCounterVec,
    pub rows_read: IntCounterVec,
    pub lag_seconds: GaugeVec,
    pub lag_propagation_seconds: GaugeVec,
    pub orphan_rows: IntGaugeVec,
    pub differing_groups: IntGaugeVec,
    pub alert_firing: IntGaugeVec,
    pub notifications: IntCounterVec,
    pub notifications_failed: IntCounterVec,
    pub outbox_pending: IntGaugeVec,
    pub build_info: IntGaugeVec,
    /// Every metric family name registered, for tests that check rules and dashboards.
    names: Vec<&'static str>,
}

macro_rules! register {
    ($registry:expr, $names:expr, $kind:ident, $name:expr, $help:expr, $labels:expr) => {{
        $names.push($name);
        let m = $kind::new(Opts::new($name, $help), $labels).expect("valid metric definition");
        $registry
            .register(Box::new(m.clone()))
            .expect("metric registered once");
        m
    }};
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let mut names: Vec<&'static str> = vec!["driftwatch_check_duration_seconds"];
        let check_duration = HistogramVec::new(
            HistogramOpts::new(
                "driftwatch_check_duration_seconds",
                "Wall time of a check run, from start to outcome, in seconds.",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                1800.0,
            ]),
            &["check"],
        )
        .expect("valid histogram");
        r.register(Box::new(check_duration.clone()))
            .expect("metric registered once");
        let m = Metrics {
            check_success: register!(r, names, IntGaugeVec, "driftwatch_check_success",
                "1 if the check's last run finished without error, 0 if it errored.", &["check", "kind"]),
            check_status: register!(r, names, IntGaugeVec, "driftwatch_check_status",
                "Outcome of the check's last successful run: 0 ok, 1 warning, 2 critical.", &["check"]),
            check_last_run: register!(r, names, GaugeVec, "driftwatch_check_last_run_timestamp_seconds",
                "Unix time at which the check's last run started.", &["check"]),
            check_last_success: register!(r, names, GaugeVec, "driftwatch_check_last_success_timestamp_seconds",
                "Unix time at which the check's last run without error started.", &["check"]),
            check_duration,
            check_runs: register!(r, names, IntCounterVec, "driftwatch_check_runs_total",
                "Check runs started.", &["check"]),
            check_errors: register!(r, names, IntCounterVec, "driftwatch_check_errors_total",
                "Check runs that ended in error (unreachable system, missing table, timeout...).", &["check"]),
            check_skipped: register!(r, names, IntCounterVec, "driftwatch_check_skipped_runs_total",
                "Scheduled runs skipped because the previous run of the check was still going.", &["check"]),
            check_interval: register!(r, names, GaugeVec, "driftwatch_check_interval_seconds",
                "Usual time between two scheduled runs of the check, for staleness rules.", &["check"]),
            rows: register!(r, names, IntGaugeVec, "driftwatch_rows",
                "Rows the check counted on each system at its last successful run.", &["check", "system"]),
            row_count_difference: register!(r, names, IntGaugeVec, "driftwatch_row_count_difference",
                "Rows on the check's second system minus rows on its first, at the last successful run.", &["check"]),
            missing_rows: register!(r, names, IntGaugeVec, "driftwatch_missing_rows",
                "Rows present on the check's other system but missing on this one, at the last successful run.", &["check", "system"]),
            changed_rows: register!(r, names, IntGaugeVec, "driftwatch_changed_rows",
                "Rows present on both systems whose mapped values differ, at the last successful run.", &["check"]),
            transient_rows: register!(r, names, IntCounterVec, "driftwatch_transient_rows_total",
                "Differences that were gone when re-checked after the check's grace period (the sync was catching up), not counted as drift.", &["check"]),
            sample_mismatch_ratio: register!(r, names, GaugeVec, "driftwatch_sample_mismatch_ratio",
                "Share of the keys a hash_sample check drew that differ between the systems, at its last successful run.", &["check"]),
            estimated_differences: register!(r, names, GaugeVec, "driftwatch_estimated_differences",
                "A hash_sample check's estimate of the table's differing rows (mismatch ratio times rows).", &["check"]),
            threshold: register!(r, names, GaugeVec, "driftwatch_threshold",
                "The check's configured threshold per severity, in the unit of its finding (rows; a percentage threshold is shown as rows of the last run).", &["check", "severity"]),
            system_up: register!(r, names, IntGaugeVec, "driftwatch_system_up",
                "1 if the agent's last contact with the system succeeded, 0 if it could not connect.", &["system"]),
            queries: register!(r, names, IntCounterVec, "driftwatch_queries_total",
                "Queries the agent sent to the system.", &["system"]),
            query_errors: register!(r, names, IntCounterVec, "driftwatch_query_errors_total",
                "Queries to the system that failed.", &["system"]),
            rows_read: register!(r, names, IntCounterVec, "driftwatch_rows_read_total",
                "Rows the agent fetched from the system (result rows transferred, not rows scanned by the server).", &["system"]),
            lag_seconds: register!(r, names, GaugeVec, "driftwatch_lag_seconds",
                "How far the sync's target is behind its source at the last successful run of a lag check (for per_key, the largest delay seen), in seconds.", &["check"]),
            lag_propagation_seconds: register!(r, names, GaugeVec, "driftwatch_lag_propagation_seconds",
                "A per_key lag check's propagation delay of recently changed keys from source to target, by quantile (0.5, 0.95, 1 for the maximum).", &["check", "quantile"]),
            orphan_rows: register!(r, names, IntGaugeVec, "driftwatch_orphan_rows",
                "Child rows whose parent is missing, at the ref_integrity check's last successful run.", &["check"]),
            differing_groups: register!(r, names, IntGaugeVec, "driftwatch_aggregate_differing_groups",
                "Groups whose aggregate differs between the systems beyond the tolerance, at the aggregate check's last successful run.", &["check"]),
            alert_firing: register!(r, names, IntGaugeVec, "driftwatch_alert_firing",
                "1 while the agent's own alert for the check is firing at this severity (severity `error` for a broken check), else 0.", &["check", "severity"]),
            notifications: register!(r, names, IntCounterVec, "driftwatch_notifications_total",
                "Notifications the sink accepted.", &["sink"]),
            notifications_failed: register!(r, names, IntCounterVec, "driftwatch_notifications_failed_total",
                "Notifications given up on: rejected by the sink (4xx other than 429) or still failing at the delivery deadline.", &["sink"]),
            outbox_pending: register!(r, names, IntGaugeVec, "driftwatch_outbox_pending",
                "Notifications written to the outbox and not yet delivered or given up on.", &["sink"]),
            build_info: register!(r, names, IntGaugeVec, "driftwatch_build_info",
                "Always 1; the label carries the agent's version.", &["version"]),
            registry: r,
            names,
        };
        m.build_info.with_label_values(&[VERSION]).set(1);
        m
    }

    /// Names of every metric family the agent exports (a histogram's `_bucket`, `_sum` and
    /// `_count` series are under its family name).
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding into memory does not fail");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
