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
    pub build_info: IntGaugeVec,
}

macro_rules! register {
    ($registry:expr, $kind:ident, $name:expr, $help:expr, $labels:expr) => {{
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
            check_success: register!(r, IntGaugeVec, "driftwatch_check_success",
                "1 if the check's last run finished without error, 0 if it errored.", &["check", "kind"]),
            check_status: register!(r, IntGaugeVec, "driftwatch_check_status",
                "Outcome of the check's last successful run: 0 ok, 1 warning, 2 critical.", &["check"]),
            check_last_run: register!(r, GaugeVec, "driftwatch_check_last_run_timestamp_seconds",
                "Unix time at which the check's last run started.", &["check"]),
            check_last_success: register!(r, GaugeVec, "driftwatch_check_last_success_timestamp_seconds",
                "Unix time at which the check's last run without error started.", &["check"]),
            check_duration,
            check_runs: register!(r, IntCounterVec, "driftwatch_check_runs_total",
                "Check runs started.", &["check"]),
            check_errors: register!(r, IntCounterVec, "driftwatch_check_errors_total",
                "Check runs that ended in error (unreachable system, missing table, timeout...).", &["check"]),
            check_skipped: register!(r, IntCounterVec, "driftwatch_check_skipped_runs_total",
                "Scheduled runs skipped because the previous run of the check was still going.", &["check"]),
            check_interval: register!(r, GaugeVec, "driftwatch_check_interval_seconds",
                "Usual time between two scheduled runs of the check, for staleness rules.", &["check"]),
            rows: register!(r, IntGaugeVec, "driftwatch_rows",
                "Rows the check counted on each system at its last successful run.", &["check", "system"]),
            row_count_difference: register!(r, IntGaugeVec, "driftwatch_row_count_difference",
                "Rows on the check's second system minus rows on its first, at the last successful run.", &["check"]),
            missing_rows: register!(r, IntGaugeVec, "driftwatch_missing_rows",
                "Rows present on the check's other system but missing on this one, at the last successful run.", &["check", "system"]),
            changed_rows: register!(r, IntGaugeVec, "driftwatch_changed_rows",
                "Rows present on both systems whose mapped values differ, at the last successful run.", &["check"]),
            transient_rows: register!(r, IntCounterVec, "driftwatch_transient_rows_total",
                "Differences that were gone when re-checked after the check's grace period (the sync was catching up), not counted as drift.", &["check"]),
            sample_mismatch_ratio: register!(r, GaugeVec, "driftwatch_sample_mismatch_ratio",
                "Share of the keys a hash_sample check drew that differ between the systems, at its last successful run.", &["check"]),
            estimated_differences: register!(r, GaugeVec, "driftwatch_estimated_differences",
                "A hash_sample check's estimate of the table's differing rows (mismatch ratio times rows).", &["check"]),
            threshold: register!(r, GaugeVec, "driftwatch_threshold",
                "The check's configured threshold per severity, in the unit of its finding (rows; a percentage threshold is shown as rows of the last run).", &["check", "severity"]),
            system_up: register!(r, IntGaugeVec, "driftwatch_system_up",
                "1 if the agent's last contact with the system succeeded, 0 if it could not connect.", &["system"]),
            queries: register!(r, IntCounterVec, "driftwatch_queries_total",
                "Queries the agent sent to the system.", &["system"]),
            query_errors: register!(r, IntCounterVec, "driftwatch_query_errors_total",
                "Queries to the system that failed.", &["system"]),
            rows_read: register!(r, IntCounterVec, "driftwatch_rows_read_total",
                "Rows the agent fetched from the system (result rows transferred, not rows scanned by the server).", &["system"]),
            build_info: register!(r, IntGaugeVec, "driftwatch_build_info",
                "Always 1; the label carries the agent's version.", &["version"]),
            registry: r,
        };
        m.build_info.with_label_values(&[VERSION]).set(1);
        m
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
