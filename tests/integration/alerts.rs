//! Alerts end to end: a real agent (in process, or the binary) watching SQLite systems whose
//! data the test changes, and real HTTP receivers on loopback standing in for PagerDuty,
//! Slack and webhook receivers. A receiver records every request and answers as scripted.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use driftwatch::agent::Agent;
use driftwatch::alert::sink::webhook::{self, SignatureError};
use serde_json::Value;

use crate::common::{self, config_in, eventually, sample, scrape, Backend, Db};

/// One request a receiver got, and how it answered.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    json: Value,
    /// When it arrived.
    at: Instant,
    /// When the answer was sent.
    answered_at: Instant,
    status: u16,
}

impl Received {
    fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// (event_action, severity, dedup_key) of a PagerDuty event.
    fn pd(&self) -> (String, String, String) {
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        (
            s(&self.json["event_action"]),
            s(&self.json["payload"]["severity"]),
            s(&self.json["dedup_key"]),
        )
    }
}

/// An answer: status and an optional `Retry-After`.
type Answer = (u16, Option<&'static str>);

#[derive(Default)]
struct Script {
    next: VecDeque<Answer>,
    default: Option<u16>,
}

/// A receiver on loopback: records requests, answers from its script, then `default` (202).
struct Receiver {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Mutex<Script>> = Arc::default();
        let (l, s) = (log.clone(), script.clone());
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let (log, script) = (l.clone(), s.clone());
                async move {
                    let at = Instant::now();
                    let (status, retry_after) = {
                        let mut s = script.lock().unwrap();
                        let d = s.default.unwrap_or(202);
                        s.next.pop_front().unwrap_or((d, None))
                    };
                    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let reply = match status {
                        200..=299 => r#"{"status":"success","message":"Event processed"}"#,
                        400 => r#"{"status":"invalid event","message":"Event object is invalid"}"#,
                        429 => r#"{"status":"throttle event","message":"Requests for this service are arriving too quickly"}"#,
                        _ => "internal error",
                    };
                    let mut out = HeaderMap::new();
                    if let Some(ra) = retry_after {
                        out.insert("retry-after", ra.parse().unwrap());
                    }
                    log.lock().unwrap().push(Received {
                        path: uri.path().to_string(),
                        headers,
                        body: body.to_vec(),
                        json,
                        at,
                        answered_at: Instant::now(),
                        status,
                    });
                    (StatusCode::from_u16(status).unwrap(), out, reply).into_response()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, log, script }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    fn answer_next(&self, answers: &[Answer]) {
        self.script
            .lock()
            .unwrap()
            .next
            .extend(answers.iter().copied());
    }

    fn answer_always(&self, status: u16) {
        self.script.lock().unwrap().default = Some(status);
    }

    /// Wait until the requests satisfy `done`; returns them.
    async fn wait(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        eventually(what, || {
            let reqs = self.requests();
            let ok = done(&reqs);
            async move { ok.then_some(reqs) }
        })
        .await
    }

    /// Wait until an accepted request satisfies `matches`; returns it.
    async fn wait_accepted(&self, what: &str, matches: impl Fn(&Received) -> bool) -> Received {
        self.wait(what, |r| r.iter().any(|r| r.accepted() && matches(r)))
            .await
            .into_iter()
            .find(|r| r.accepted() && matches(r))
            .unwrap()
    }
}

fn is_event(action: &'static str) -> impl Fn(&Received) -> bool {
    move |r| r.json["event_action"] == action
}

/// Two SQLite systems with a table each, and a folder for the agent's files.
struct Systems {
    legacy: Db,
    modern: Db,
    lt: String,
    mt: String,
    dir: tempfile::TempDir,
}

impl Systems {
    /// Tables of `legacy` and `modern` rows (ids from 0).
    async fn new(legacy: i64, modern: i64) -> Systems {
        let l = Db::connect(Backend::Sqlite).await.unwrap();
        let m = Db::connect(Backend::Sqlite).await.unwrap();
        let lt = l.table("patients", legacy, 1).await;
        let mt = m.table("patients", modern, 1).await;
        Systems {
            legacy: l,
            modern: m,
            lt,
            mt,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Make the modern table hold ids `0..n`.
    async fn modern_rows(&self, n: i64) {
        let t = &self.mt;
        self.modern
            .exec(&format!("DELETE FROM {t} WHERE id >= {n}"))
            .await;
        self.modern
            .exec(&format!(
                "WITH RECURSIVE k(id) AS (SELECT 0 UNION ALL SELECT id + 1 FROM k WHERE id + 1 < {n})
                 INSERT OR IGNORE INTO {t} (id, name, active) SELECT id, 'name ' || id, 1 FROM k"
            ))
            .await;
    }

    /// `driftwatch.yaml` with `sinks` (YAML lines under `sinks:`) and one row_count check
    /// `patients_rows` every second, with `alert` as its `alert:` value.
    fn config_text(&self, sinks: &str, alert: &str) -> [(String, String); 2] {
        [
            (
                "driftwatch.yaml".into(),
                format!(
                    "listen: 127.0.0.1:0\nstate: sqlite://state.db\nchecks: [checks]\nsystems:\n  legacy: {{url: \"{}\"}}\n  modern: {{url: \"{}\"}}\nsinks:\n{sinks}",
                    self.legacy.url, self.modern.url
                ),
            ),
            (
                "checks/rows.yaml".into(),
                format!(
                    "checks:
  - name: patients_rows
    kind: row_count
    schedule: '@every 1s'
    legacy: {{table: {}}}
    modern: {{table: {}}}
    thresholds: {{warning: 1, critical: 5}}
    alert: {alert}
",
                    self.lt, self.mt
                ),
            ),
        ]
    }

    fn config(&self, sinks: &str, alert: &str) -> driftwatch::config::Config {
        let files = self.config_text(sinks, alert);
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        config_in(self.dir.path(), &files)
    }

    fn write_config(&self, sinks: &str, alert: &str) -> std::path::PathBuf {
        self.config(sinks, alert);
        self.dir.path().join("driftwatch.yaml")
    }
}

async fn metric(addr: SocketAddr, series: &str) -> Option<f64> {
    sample(&scrape(addr).await?, series)
}

/// Wait until the check has run `n` more times than now.
async fn runs_more(addr: SocketAddr, n: f64) {
    let series = r#"driftwatch_check_runs_total{check="patients_rows"}"#;
    let now = metric(addr, series).await.unwrap_or(0.0);
    eventually("more runs of the check", || async move {
        metric(addr, series).await.filter(|v| *v >= now + n)
    })
    .await;
}

const DRIFT_KEY: &str = "driftwatch/patients_rows/drift";

#[tokio::test]
async fn one_pagerduty_trigger_per_breach_escalation_reuses_the_dedup_key_and_one_resolve() {
    let pd = Receiver::start().await;
    let s = Systems::new(10, 10).await;
    let sinks = format!(
        "  oncall: {{type: pagerduty, routing_key: R0UTING-KEY-123, url: \"{}\"}}\n",
        pd.url("/v2/enqueue")
    );
    let agent = Agent::start(s.config(
        &sinks,
        "{sinks: [oncall], for: 0s, runbook_url: https://wiki.example/runbooks/patients}",
    ))
    .await
    .unwrap();
    let addr = agent.local_addr;
    runs_more(addr, 1.0).await;
    assert!(pd.requests().is_empty(), "equal data alerts nobody");

    // Warning: 2 rows missing.
    s.modern_rows(8).await;
    let first = pd.wait_accepted("the trigger", is_event("trigger")).await;
    assert_eq!(
        first.pd(),
        ("trigger".into(), "warning".into(), DRIFT_KEY.into())
    );
    assert_eq!(first.path, "/v2/enqueue");
    assert_eq!(first.json["routing_key"], "R0UTING-KEY-123");
    let payload = &first.json["payload"];
    assert_eq!(
        payload["summary"],
        "patients_rows: warning drift: legacy has 2 more rows than modern"
    );
    assert_eq!(payload["component"], "patients_rows");
    assert_eq!(payload["source"], "legacy vs modern");
    let details = &payload["custom_details"];
    assert_eq!(details["rows"]["legacy"], 10);
    assert_eq!(details["rows"]["modern"], 8);
    assert_eq!(details["row_count_difference"], -2);
    assert_eq!(details["thresholds"]["critical"], "5");
    assert_eq!(
        first.json["links"][0]["href"],
        "https://wiki.example/runbooks/patients"
    );
    assert_eq!(
        metric(
            addr,
            r#"driftwatch_alert_firing{check="patients_rows",severity="warning"}"#
        )
        .await,
        Some(1.0)
    );

    // The breach holds for several runs: still one trigger.
    runs_more(addr, 3.0).await;
    assert_eq!(pd.requests().len(), 1, "one trigger per breach");

    // Critical: the same alert, updated.
    s.modern_rows(3).await;
    let escalated = pd
        .wait_accepted("the escalation", |r| {
            r.json["payload"]["severity"] == "critical"
        })
        .await;
    assert_eq!(
        escalated.pd(),
        ("trigger".into(), "critical".into(), DRIFT_KEY.into())
    );

    // Cleared.
    s.modern_rows(10).await;
    pd.wait_accepted("the resolve", is_event("resolve")).await;
    let events: Vec<_> = pd.requests().iter().map(Received::pd).collect();
    assert_eq!(
        events,
        vec![
            ("trigger".into(), "warning".into(), DRIFT_KEY.into()),
            ("trigger".into(), "critical".into(), DRIFT_KEY.into()),
            ("resolve".into(), "".into(), DRIFT_KEY.into()),
        ]
    );
    let m = scrape(addr).await.unwrap();
    assert_eq!(
        sample(&m, r#"driftwatch_notifications_total{sink="oncall"}"#),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_alert_firing{check="patients_rows",severity="critical"}"#
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&m, r#"driftwatch_outbox_pending{sink="oncall"}"#),
        Some(0.0)
    );
    // The routing key is in the PagerDuty body and nowhere the agent shows.
    let alerts = reqwest::get(format!("http://{addr}/api/v1/alerts"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(alerts.contains(DRIFT_KEY), "{alerts}");
    let checks = reqwest::get(format!("http://{addr}/api/v1/checks/patients_rows"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [&m, &alerts, &checks] {
        assert!(!shown.contains("R0UTING-KEY-123"));
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn a_receiver_failing_with_500_gets_the_event_exactly_once_after_it_recovers() {
    let pd = Receiver::start().await;
    pd.answer_next(&[(500, None), (500, None), (503, None)]);
    let s = Systems::new(10, 2).await;
    let sinks = format!(
        "  oncall: {{type: pagerduty, routing_key: rk-500-test, url: \"{}\"}}\n",
        pd.url("/v2/enqueue")
    );
    let agent = Agent::start(s.config(&sinks, "{sinks: [oncall]}"))
        .await
        .unwrap();
    let delivered = pd
        .wait_accepted("the trigger after recovery", is_event("trigger"))
        .await;
    s.modern_rows(10).await;
    pd.wait_accepted("the resolve", is_event("resolve")).await;

    let reqs = pd.requests();
    let statuses: Vec<(String, u16)> = reqs.iter().map(|r| (r.pd().0, r.status)).collect();
    assert_eq!(
        statuses,
        vec![
            ("trigger".into(), 500),
            ("trigger".into(), 500),
            ("trigger".into(), 503),
            ("trigger".into(), 202),
            ("resolve".into(), 202),
        ],
        "retried until accepted, then never again"
    );
    // Every attempt was the same event.
    assert!(reqs[..4].iter().all(|r| r.body == delivered.body));
    let addr = agent.local_addr;
    assert_eq!(
        metric(
            addr,
            r#"driftwatch_notifications_failed_total{sink="oncall"}"#
        )
        .await,
        Some(0.0)
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn a_429_retry_after_is_honoured() {
    let pd = Receiver::start().await;
    pd.answer_next(&[(429, Some("2"))]);
    let s = Systems::new(10, 2).await;
    let sinks = format!(
        "  oncall: {{type: pagerduty, routing_key: rk-429-test, url: \"{}\"}}\n",
        pd.url("/v2/enqueue")
    );
    let agent = Agent::start(s.config(&sinks, "{sinks: [oncall]}"))
        .await
        .unwrap();
    pd.wait_accepted("the trigger after the 429", is_event("trigger"))
        .await;
    let reqs = pd.requests();
    assert_eq!(reqs[0].status, 429);
    assert_eq!(reqs[1].status, 202);
    assert_eq!(reqs[0].body, reqs[1].body);
    let waited = reqs[1].at.duration_since(reqs[0].answered_at);
    assert!(
        waited >= Duration::from_secs(2),
        "the retry came {waited:?} after the 429 that said to wait 2s"
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn a_400_is_not_retried_and_counts_as_failed() {
    let pd = Receiver::start().await;
    pd.answer_always(400);
    let s = Systems::new(10, 2).await;
    let sinks = format!(
        "  oncall: {{type: pagerduty, routing_key: rk-400-test, url: \"{}\"}}\n",
        pd.url("/v2/enqueue")
    );
    let agent = Agent::start(s.config(&sinks, "{sinks: [oncall]}"))
        .await
        .unwrap();
    let addr = agent.local_addr;
    let failed = r#"driftwatch_notifications_failed_total{sink="oncall"}"#;
    eventually("the rejected trigger is counted", || async move {
        metric(addr, failed).await.filter(|v| *v >= 1.0)
    })
    .await;
    // Given up on and out of the backlog: nothing can send it again.
    let m = scrape(addr).await.unwrap();
    assert_eq!(sample(&m, failed), Some(1.0));
    assert_eq!(
        sample(&m, r#"driftwatch_outbox_pending{sink="oncall"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&m, r#"driftwatch_notifications_total{sink="oncall"}"#),
        Some(0.0)
    );
    assert_eq!(pd.requests().len(), 1, "exactly one request");
    agent.shutdown().await;
    assert_eq!(pd.requests().len(), 1);
}

/// The agent binary, logging to a file.
fn spawn_agent(config: &std::path::Path, log: &std::path::Path) -> std::process::Child {
    std::process::Command::new(common::bin())
        .args(["run", "-c"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn a_notification_pending_when_the_agent_is_killed_is_delivered_once_after_restart() {
    let pd = Receiver::start().await;
    pd.answer_always(500);
    let s = Systems::new(10, 2).await;
    let sinks = format!(
        "  oncall: {{type: pagerduty, routing_key: R0UTING-KEY-KILL9, url: \"{}\"}}\n",
        pd.url("/v2/enqueue")
    );
    let config = s.write_config(&sinks, "{sinks: [oncall]}");
    let log1 = s.dir.path().join("agent1.log");
    let mut agent = spawn_agent(&config, &log1);
    pd.wait("a first, failed attempt", |r| !r.is_empty()).await;
    // SIGKILL: no shutdown, no flush.
    agent.kill().unwrap();
    agent.wait().unwrap();

    pd.answer_always(202);
    let log2 = s.dir.path().join("agent2.log");
    let mut agent = spawn_agent(&config, &log2);
    let delivered = pd
        .wait_accepted("the trigger, after the restart", is_event("trigger"))
        .await;
    assert_eq!(delivered.pd().2, DRIFT_KEY);
    // Anything queued before the resolve arrives before it.
    s.modern_rows(10).await;
    pd.wait_accepted("the resolve", is_event("resolve")).await;
    let _ = std::process::Command::new("kill")
        .arg(agent.id().to_string())
        .status();
    let status = agent.wait().unwrap();
    assert!(status.success(), "{status:?}");

    let reqs = pd.requests();
    let accepted_triggers = reqs
        .iter()
        .filter(|r| r.accepted() && r.pd().0 == "trigger")
        .count();
    assert_eq!(accepted_triggers, 1, "one incident");
    assert_eq!(
        delivered.body, reqs[0].body,
        "the notification queued before the kill is the one delivered"
    );
    assert!(
        reqs.iter().all(|r| r.pd().2 == DRIFT_KEY),
        "every attempt carries the same dedup_key"
    );
    assert!(reqs.iter().all(|r| r.path == "/v2/enqueue"));
    for log in [log1, log2] {
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("notification"), "{text}");
        assert!(!text.contains("R0UTING-KEY-KILL9"), "{text}");
    }
}

#[tokio::test]
async fn webhook_requests_are_alertmanager_v4_and_signed() {
    let hook = Receiver::start().await;
    let s = Systems::new(10, 2).await;
    let sinks = format!(
        "  audit: {{type: webhook, url: \"{}\", secret: hmac-s3cret-value}}\n",
        hook.url("/hooks/T0KEN-IN-PATH")
    );
    let agent = Agent::start(s.config(
        &sinks,
        "{sinks: [audit], runbook_url: https://wiki.example/r}",
    ))
    .await
    .unwrap();
    let r = hook.wait_accepted("the webhook", |_| true).await;
    let body = &r.json;
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "audit");
    let alert = &body["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["alertname"], "DriftwatchDrift");
    assert_eq!(alert["labels"]["check"], "patients_rows");
    assert_eq!(alert["labels"]["kind"], "row_count");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "https://wiki.example/r"
    );
    assert!(alert["generatorURL"]
        .as_str()
        .unwrap()
        .ends_with("/api/v1/checks/patients_rows/runs/latest"));
    assert!(body["externalURL"].as_str().unwrap().starts_with("http://"));

    let ts = r.header("x-driftwatch-timestamp");
    let sig = r.header("x-driftwatch-signature");
    let now = chrono::Utc::now();
    let tol = webhook::DEFAULT_TOLERANCE;
    assert_eq!(
        webhook::verify("hmac-s3cret-value", ts, sig, &r.body, now, tol),
        Ok(())
    );
    let mut tampered = r.body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert_eq!(
        webhook::verify("hmac-s3cret-value", ts, sig, &tampered, now, tol),
        Err(SignatureError::Mismatch)
    );
    let other_ts = (ts.parse::<i64>().unwrap() - 60).to_string();
    assert_eq!(
        webhook::verify("hmac-s3cret-value", &other_ts, sig, &r.body, now, tol),
        Err(SignatureError::Mismatch)
    );
    assert!(matches!(
        webhook::verify(
            "hmac-s3cret-value",
            ts,
            sig,
            &r.body,
            now + chrono::Duration::hours(1),
            tol
        ),
        Err(SignatureError::Stale(_))
    ));
    assert_eq!(
        webhook::verify("another-secret", ts, sig, &r.body, now, tol),
        Err(SignatureError::Mismatch)
    );
    let text = String::from_utf8_lossy(&r.body);
    assert!(!text.contains("hmac-s3cret-value") && !text.contains("T0KEN-IN-PATH"));
    let m = scrape(agent.local_addr).await.unwrap();
    assert!(!m.contains("T0KEN-IN-PATH"));
    agent.shutdown().await;
}

#[tokio::test]
async fn a_check_that_keeps_failing_raises_its_own_alert_until_it_works_again() {
    let hook = Receiver::start().await;
    let s = Systems::new(10, 10).await;
    let sinks = format!(
        "  audit: {{type: webhook, url: \"{}\"}}\n",
        hook.url("/hook")
    );
    let agent = Agent::start(s.config(&sinks, "{sinks: [audit], error_after: 2}"))
        .await
        .unwrap();
    let addr = agent.local_addr;
    runs_more(addr, 1.0).await;
    s.modern.drop_table(&s.mt).await;
    let broken = hook
        .wait_accepted("the broken-check alert", |r| r.json["status"] == "firing")
        .await;
    let labels = &broken.json["alerts"][0]["labels"];
    assert_eq!(labels["alertname"], "DriftwatchCheckBroken");
    assert_eq!(labels["severity"], "error");
    let summary = broken.json["alerts"][0]["annotations"]["summary"]
        .as_str()
        .unwrap();
    assert!(
        summary.starts_with("patients_rows: check broken (2 failed runs in a row): "),
        "{summary}"
    );
    assert!(summary.contains(&s.mt), "names what is missing: {summary}");
    assert_eq!(
        metric(
            addr,
            r#"driftwatch_alert_firing{check="patients_rows",severity="error"}"#
        )
        .await,
        Some(1.0)
    );

    // Back, with the same rows: the broken alert resolves and no drift was ever raised.
    s.modern
        .exec(&format!(
            "CREATE TABLE {} (id INTEGER PRIMARY KEY, name VARCHAR(50), active INTEGER NOT NULL)",
            s.mt
        ))
        .await;
    s.modern_rows(10).await;
    let resolved = hook
        .wait_accepted("the resolve", |r| r.json["status"] == "resolved")
        .await;
    assert_eq!(
        resolved.json["alerts"][0]["labels"]["alertname"],
        "DriftwatchCheckBroken"
    );
    assert_eq!(
        resolved.json["alerts"][0]["fingerprint"],
        broken.json["alerts"][0]["fingerprint"]
    );
    let names: Vec<Value> = hook
        .requests()
        .iter()
        .map(|r| r.json["alerts"][0]["labels"]["alertname"].clone())
        .collect();
    assert_eq!(names, ["DriftwatchCheckBroken", "DriftwatchCheckBroken"]);
    agent.shutdown().await;
}

/// Tables whose 150 rows all differ in three columns, one of them 30 KB long.
async fn huge_drift() -> (Db, Db, String) {
    let legacy = Db::connect(Backend::Sqlite).await.unwrap();
    let modern = Db::connect(Backend::Sqlite).await.unwrap();
    let t = common::unique("huge");
    for (db, side) in [(&legacy, "L"), (&modern, "M")] {
        db.exec(&format!(
            "CREATE TABLE {t} (id INTEGER PRIMARY KEY, insurer TEXT, city TEXT, notes TEXT);\n\
             WITH RECURSIVE k(id) AS (SELECT 0 UNION ALL SELECT id + 1 FROM k WHERE id + 1 < 150)
             INSERT INTO {t} SELECT id, '{side}-insurer-' || id, '{side}-city <&> ' || id,
                    '{side}' || printf('%.30000c', 'x') FROM k"
        ))
        .await;
    }
    (legacy, modern, t)
}

#[tokio::test]
async fn huge_findings_stay_within_slack_and_pagerduty_limits() {
    let rx = Receiver::start().await;
    let (legacy, modern, t) = huge_drift().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        &[
            (
                "driftwatch.yaml",
                &format!(
                    "listen: 127.0.0.1:0\nchecks: [c.yaml]\nsystems:\n  legacy: {{url: \"{}\"}}\n  modern: {{url: \"{}\"}}\nsinks:\n  team: {{type: slack, url: \"{}\"}}\n  oncall: {{type: pagerduty, routing_key: rk-huge-test, url: \"{}\"}}\n",
                    legacy.url,
                    modern.url,
                    rx.url("/slack/T000/B000/XXXX"),
                    rx.url("/v2/enqueue")
                ),
            ),
            (
                "c.yaml",
                &format!(
                    "checks:
  - name: notes_content
    kind: hash_diff
    schedule: '@every 1h'
    legacy: {{table: {t}, key: [id]}}
    modern: {{table: {t}, key: [id]}}
    thresholds: {{warning: 1, critical: 100}}
    alert: {{sinks: [team, oncall], runbook_url: https://wiki.example/r, dashboard_url: https://grafana.example/d}}
"
                ),
            ),
        ],
    );
    let agent = Agent::start(config).await.unwrap();
    let reqs = rx
        .wait("both sinks", |r| {
            r.iter().filter(|r| r.accepted()).count() >= 2
        })
        .await;
    let slack = reqs.iter().find(|r| r.path.starts_with("/slack/")).unwrap();
    let pd = reqs.iter().find(|r| r.path == "/v2/enqueue").unwrap();

    // Slack: Block Kit within every limit, with a fallback text and a table of records.
    let m = &slack.json;
    let blocks = m["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    assert!(!m["text"].as_str().unwrap().is_empty());
    assert!(m["text"].as_str().unwrap().chars().count() <= 3000);
    let mut table = None;
    for b in blocks {
        match b["type"].as_str().unwrap() {
            "header" => assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 150),
            "section" => {
                if let Some(t) = b["text"]["text"].as_str() {
                    assert!(t.chars().count() <= 3000, "{}", t.chars().count());
                    if t.contains("```") {
                        table = Some(t.to_string());
                    }
                }
                if let Some(fields) = b["fields"].as_array() {
                    assert!(fields.len() <= 10);
                    for f in fields {
                        assert!(f["text"].as_str().unwrap().chars().count() <= 2000);
                    }
                }
            }
            _ => {}
        }
    }
    let table = table.expect("a table of differing records");
    assert!(table.contains("KEY") && table.contains("notes"), "{table}");
    assert!(table.contains("more"), "says how many it left out: {table}");
    assert!(
        table.contains("&lt;&amp;&gt;"),
        "escapes Slack markup: {table}"
    );
    assert_eq!(
        blocks[0]["text"]["text"],
        "🔴 Critical: drift in notes_content"
    );

    // PagerDuty: under 512 KB, still listing records with their changed columns.
    assert!(pd.body.len() < 512 * 1024, "{} bytes", pd.body.len());
    let details = &pd.json["payload"]["custom_details"];
    let samples = details["samples"].as_array().unwrap();
    assert!(!samples.is_empty());
    assert!(samples.len() <= 20);
    assert_eq!(samples[0]["kind"], "changed");
    assert_eq!(
        samples[0]["columns"],
        serde_json::json!(["insurer", "city", "notes"])
    );
    assert_eq!(details["changed"], 150);
    assert!(
        pd.json["payload"]["summary"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= 1024
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn the_one_shot_check_command_sends_no_alerts() {
    let hook = Receiver::start().await;
    let s = Systems::new(10, 2).await;
    let sinks = format!(
        "  audit: {{type: webhook, url: \"{}\"}}\n",
        hook.url("/hook")
    );
    let config = s.write_config(&sinks, "{sinks: [audit]}");
    let out = tokio::process::Command::new(common::bin())
        .args(["check", "-c"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the breach is reported");
    // The process has exited: nothing more can arrive.
    assert!(hook.requests().is_empty());
}

#[tokio::test]
async fn the_demo_with_a_webhook_url_delivers_a_drift_alert() {
    use tokio::io::AsyncBufReadExt;
    let hook = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(common::bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--webhook-url"])
        .arg(hook.url("/demo-hook"))
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let done = line.contains("Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    let alerts_line = printed.iter().find(|l| l.contains("alerts:")).unwrap();
    assert!(!alerts_line.contains("/demo-hook"), "{alerts_line}");
    let r = hook
        .wait_accepted("a drift alert for patients_rows", |r| {
            r.json["alerts"][0]["labels"]["check"] == "patients_rows"
        })
        .await;
    assert_eq!(r.path, "/demo-hook");
    assert_eq!(r.json["status"], "firing");
    assert_eq!(
        r.json["alerts"][0]["labels"]["alertname"],
        "DriftwatchDrift"
    );
    assert_eq!(r.json["alerts"][0]["labels"]["severity"], "critical");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_firing_alert_is_repeated_to_slack_every_repeat_interval() {
    let slack = Receiver::start().await;
    let s = Systems::new(10, 2).await;
    let sinks = format!(
        "  team: {{type: slack, url: \"{}\"}}\n",
        slack.url("/services/T0/B0/SLACKTOKEN")
    );
    let agent = Agent::start(s.config(&sinks, "{sinks: [team], repeat_interval: 2s}"))
        .await
        .unwrap();
    let reqs = slack
        .wait("the alert and a repeat", |r| {
            r.iter().filter(|r| r.accepted()).count() >= 2
        })
        .await;
    let headers: Vec<&str> = reqs[..2]
        .iter()
        .map(|r| r.json["blocks"][0]["text"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        headers,
        [
            "🔴 Critical: drift in patients_rows",
            "🔴 Still critical: drift in patients_rows"
        ]
    );
    assert!(reqs[0].json["text"]
        .as_str()
        .unwrap()
        .contains("legacy has 8 more rows than modern"));
    s.modern_rows(10).await;
    let resolved = slack
        .wait_accepted("the resolve", |r| {
            r.json["blocks"][0]["text"]["text"]
                .as_str()
                .is_some_and(|h| h.starts_with("✅"))
        })
        .await;
    assert_eq!(
        resolved.json["blocks"][0]["text"]["text"],
        "✅ Resolved: drift in patients_rows"
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn a_graceful_shutdown_delivers_what_falls_due_while_it_flushes() {
    let pd = Receiver::start().await;
    pd.answer_next(&[(500, None)]);
    let s = Systems::new(10, 2).await;
    let sinks = format!(
        "  oncall: {{type: pagerduty, routing_key: rk-flush-test, url: \"{}\"}}\n",
        pd.url("/v2/enqueue")
    );
    let agent = Agent::start(s.config(&sinks, "{sinks: [oncall]}"))
        .await
        .unwrap();
    pd.wait("the first, failed attempt", |r| !r.is_empty())
        .await;
    // The retry is a second or less away: well within the shutdown's flush.
    agent.shutdown().await;
    let reqs = pd.requests();
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 202],
        "delivered before the agent stopped"
    );
}
