//! The alert engine on a real state store, with a clock the test moves: what is queued in the
//! outbox for each run, and what a restarted engine continues. Fixtures for the sink tests.

use std::cell::Cell;
use std::path::Path;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::check::{Differences, HashDiffReport, Report, Status, ThresholdsOut};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
}

thread_local! {
    /// The engine's clock in these tests: seconds after [`t0`]. (Tokio tests run on one thread.)
    static NOW: Cell<i64> = const { Cell::new(0) };
}

fn clock() -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(NOW.with(Cell::get))
}

fn set_now(secs: i64) {
    NOW.with(|n| n.set(secs));
}

pub fn sample_with(id: i64, legacy_value: &str) -> Difference {
    let mut key = serde_json::Map::new();
    key.insert("id".into(), json!(id));
    let values = json!({
        "legacy": {"insurance": legacy_value},
        "modern": {"insurance": "Globex"},
    });
    Difference {
        key,
        kind: "changed".into(),
        columns: vec!["insurance".into()],
        values: values.as_object().cloned(),
        first_seen: Some(t0() - chrono::Duration::minutes(30)),
        newer: None,
        delta: None,
        rows: None,
    }
}

/// A critical hash_diff run: 25 rows missing in legacy, 52 changed.
pub fn run(status: Status, at_secs: i64) -> CheckRun {
    CheckRun {
        name: "patients_content".into(),
        kind: "hash_diff".into(),
        status,
        started_at: t0() + chrono::Duration::seconds(at_secs),
        duration_seconds: 0.5,
        outcome: Ok(Report::HashDiff(HashDiffReport {
            rows: vec![("legacy".into(), 100), ("modern".into(), 125)],
            differences: Differences {
                missing: vec![("legacy".into(), 25), ("modern".into(), 0)],
                changed: 52,
            },
            samples: vec![sample_with(37, "Acme"), sample_with(38, "Acme")],
            transient: 0,
            load: Vec::new(),
        })),
        thresholds: ThresholdsOut {
            warning: Some("1".into()),
            critical: Some("50".into()),
        },
    }
}

/// The notification of [`run`] firing.
pub fn notification() -> Notification {
    let alert = AlertConfig {
        sinks: vec!["oncall".into()],
        for_: Duration::ZERO,
        repeat_interval: None,
        runbook_url: Some("https://wiki.example/runbooks/patients".into()),
        dashboard_url: Some("https://grafana.example/d/drift".into()),
        error_after: 3,
    };
    let subject = Subject {
        name: "patients_content",
        kind: "hash_diff",
        description: Some("Every patient, column by column."),
        systems: vec!["legacy".into(), "modern".into()],
        alert: Some(&alert),
    };
    let t = Transition {
        alert: AlertKind::Drift,
        reason: Reason::Fired,
        severity: Severity::Critical,
        starts_at: t0(),
        ends_at: None,
    };
    notification_for(&subject, Some(&run(Status::Critical, 0)), &t, 0, t0())
}

fn notification_for(
    subject: &Subject<'_>,
    run: Option<&CheckRun>,
    t: &Transition,
    errors: u32,
    now: DateTime<Utc>,
) -> Notification {
    super::notification(subject, run, t, errors, "http://127.0.0.1:9187", now)
}

/// A config with two sinks and `patients_content` alerting to both (`alert` is its fields).
fn config(dir: &Path, alert: &str) -> Arc<Config> {
    std::fs::write(
        dir.join("driftwatch.yaml"),
        "systems:
  legacy: {url: sqlite://legacy.db}
  modern: {url: sqlite://modern.db}
sinks:
  oncall: {type: pagerduty, routing_key: rk-123456, url: http://127.0.0.1:9/pd}
  team: {type: slack, url: http://127.0.0.1:9/slack}
checks: [c.yaml]
",
    )
    .unwrap();
    std::fs::write(
        dir.join("c.yaml"),
        format!(
            "checks:
  - name: patients_content
    kind: hash_diff
    schedule: '@every 1m'
    legacy: {{table: PATIENT, key: [PAT_ID]}}
    modern: {{table: patients, key: [id]}}
    thresholds: {{warning: 1, critical: 50}}
    {alert}
  - name: quiet
    kind: row_count
    schedule: '@every 1m'
    legacy: {{table: PATIENT}}
    modern: {{table: patients}}
"
        ),
    )
    .unwrap();
    Arc::new(crate::config::load(&dir.join("driftwatch.yaml")).unwrap())
}

struct Engine {
    alerts: Arc<Alerts>,
    state: State,
    metrics: Arc<Metrics>,
    config: Arc<Config>,
}

async fn engine(dir: &Path, alert: &str) -> Engine {
    let config = config(dir, alert);
    let state = State::open(&dir.join("state.db")).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let alerts = Alerts::open(
        config.clone(),
        state.clone(),
        metrics.clone(),
        "http://127.0.0.1:9187".into(),
        clock,
    )
    .await
    .unwrap();
    Engine {
        alerts,
        state,
        metrics,
        config,
    }
}

impl Engine {
    async fn observe(&self, status: Status, at: i64) {
        set_now(at);
        let mut r = run(status, at);
        if status == Status::Error {
            r.outcome = Err("system `legacy`: no such table: PATIENT".into());
        }
        let check = self.config.check("patients_content").unwrap();
        self.alerts.observe(check, &r).await;
    }

    /// (reason, severity, dedup_key) of every notification queued for `sink`, oldest first.
    async fn queued(&self, sink: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT notification FROM outbox WHERE sink = ? ORDER BY id")
                .bind(sink)
                .fetch_all(self.state.pool_for_tests())
                .await
                .unwrap();
        for (json,) in rows {
            let n: Notification = serde_json::from_str(&json).unwrap();
            out.push((
                n.reason.as_str().to_string(),
                n.severity.as_str().to_string(),
                n.dedup_key,
            ));
        }
        out
    }

    fn firing(&self, severity: &str) -> i64 {
        self.metrics
            .alert_firing
            .with_label_values(&["patients_content", severity])
            .get()
    }
}

fn q(reason: &str, severity: &str, alert: &str) -> (String, String, String) {
    (
        reason.into(),
        severity.into(),
        format!("driftwatch/patients_content/{alert}"),
    )
}

#[tokio::test]
async fn every_transition_is_queued_for_every_sink_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), "alert: {sinks: [oncall, team]}").await;
    e.observe(Status::Warning, 0).await;
    e.observe(Status::Warning, 60).await;
    assert_eq!(e.firing("warning"), 1);
    e.observe(Status::Critical, 120).await;
    assert_eq!((e.firing("warning"), e.firing("critical")), (0, 1));
    e.observe(Status::Ok, 180).await;
    assert_eq!(e.firing("critical"), 0);
    let want = vec![
        q("fired", "warning", "drift"),
        q("escalated", "critical", "drift"),
        q("resolved", "critical", "drift"),
    ];
    assert_eq!(e.queued("oncall").await, want);
    assert_eq!(e.queued("team").await, want);
    assert_eq!(e.state.outbox_pending("oncall").await.unwrap(), 3);
}

#[tokio::test]
async fn a_check_without_alert_never_queues_anything() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), "alert: {sinks: [oncall]}").await;
    let check = e.config.check("quiet").unwrap();
    let mut r = run(Status::Critical, 0);
    r.name = "quiet".into();
    e.alerts.observe(check, &r).await;
    assert!(e.queued("oncall").await.is_empty());
    assert!(e.alerts.views().await.is_empty());
}

#[tokio::test]
async fn a_restarted_engine_continues_the_alert_and_still_sends_the_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), "alert: {sinks: [oncall]}").await;
    e.observe(Status::Critical, 0).await;
    e.state.close().await;
    drop(e);

    let e = engine(dir.path(), "alert: {sinks: [oncall]}").await;
    assert_eq!(
        e.firing("critical"),
        1,
        "the restored alert is exported at once"
    );
    e.observe(Status::Critical, 60).await;
    e.observe(Status::Ok, 120).await;
    assert_eq!(
        e.queued("oncall").await,
        vec![
            q("fired", "critical", "drift"),
            q("resolved", "critical", "drift")
        ]
    );
}

#[tokio::test]
async fn a_broken_check_alerts_on_its_own_key_after_error_after_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), "alert: {sinks: [oncall], error_after: 2}").await;
    e.observe(Status::Warning, 0).await;
    e.observe(Status::Error, 60).await;
    e.observe(Status::Error, 120).await;
    assert_eq!((e.firing("error"), e.firing("warning")), (1, 1));
    e.observe(Status::Ok, 180).await;
    assert_eq!(
        e.queued("oncall").await,
        vec![
            q("fired", "warning", "drift"),
            q("fired", "error", "broken"),
            q("resolved", "error", "broken"),
            q("resolved", "warning", "drift"),
        ]
    );
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT notification FROM outbox WHERE alert_key = 'patients_content/broken' ORDER BY id",
    )
    .fetch_all(e.state.pool_for_tests())
    .await
    .unwrap();
    let fired: Notification = serde_json::from_str(&rows[0].0).unwrap();
    assert_eq!(
        fired.summary,
        "patients_content: check broken (2 failed runs in a row): system `legacy`: no such table: PATIENT"
    );
    assert!(fired.samples.is_empty());
}

#[tokio::test]
async fn repeats_are_sent_between_runs_by_the_timer() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), "alert: {sinks: [oncall], repeat_interval: 1h}").await;
    e.observe(Status::Critical, 0).await;
    set_now(3599);
    e.alerts.send_due_repeats().await;
    set_now(3600);
    e.alerts.send_due_repeats().await;
    e.alerts.send_due_repeats().await;
    assert_eq!(
        e.queued("oncall").await,
        vec![
            q("fired", "critical", "drift"),
            q("repeated", "critical", "drift")
        ]
    );
}

#[tokio::test]
async fn removing_a_checks_alert_resolves_what_was_firing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), "alert: {sinks: [oncall]}").await;
    e.observe(Status::Critical, 0).await;
    e.state.close().await;
    drop(e);
    let e = engine(dir.path(), "description: no alert any more").await;
    assert_eq!(
        e.queued("oncall").await,
        vec![
            q("fired", "critical", "drift"),
            q("resolved", "critical", "drift")
        ]
    );
    assert!(e.alerts.views().await.is_empty());
}

#[test]
fn a_notification_describes_the_run() {
    let n = notification();
    assert_eq!(
        n.summary,
        "patients_content: critical drift: 77 rows differ: 25 missing in legacy, 52 changed"
    );
    assert_eq!(n.dedup_key, "driftwatch/patients_content/drift");
    assert_eq!(n.samples.len(), 2);
    assert_eq!(n.differences_total, Some(77));
    assert_eq!(n.first_seen, Some(t0() - chrono::Duration::minutes(30)));
    assert_eq!(
        n.result_url(),
        "http://127.0.0.1:9187/api/v1/checks/patients_content/runs/latest"
    );
}
