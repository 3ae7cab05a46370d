//! The shipped alerting rules against a real Prometheus: `driftwatch demo` is scraped by the
//! Debian `prometheus` binary (`apt-get install prometheus`; `DRIFTWATCH_TEST_PROMETHEUS`
//! points at another one), which loads `alerts/driftwatch.rules.yml`, and the demo's injected
//! drift must show in queries and fire the drift alerts with their descriptions filled in from
//! the agent's metrics; every query of the shipped dashboard must evaluate there too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use driftwatch::demo::data::INJECTED;
use serde_json::Value;

use crate::common::{bin, find_program, free_port, missing_program};

/// How long Prometheus and the demo get to produce what a test waits for: the demo's content
/// check reports after its 15 s grace, on a machine that may be busy with other tests.
const PATIENCE: Duration = Duration::from_secs(180);

/// A child process, killed when the test ends however it ends; its output goes to a log file
/// that failure messages include.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn start(name: &'static str, cmd: &mut Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc { name, child, log }
    }

    /// Panics with the process's log if it has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "{} exited ({status}) before the test was done; its log:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped rules with every `for:` shortened to 1s, so that an alert fires at the
/// evaluation after its condition holds instead of after the shipped 5 to 15 minutes. The
/// expressions, labels and annotations are the shipped ones, unchanged.
fn rules_with_short_for(shipped: &Path) -> String {
    let text = std::fs::read_to_string(shipped).unwrap();
    let mut shortened = 0;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let indent = l.len() - l.trim_start().len();
            if l.trim_start().starts_with("for:") {
                shortened += 1;
                format!("{}for: 1s", &l[..indent])
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(shortened > 0, "no `for:` found in {}", shipped.display());
    out.join("\n") + "\n"
}

/// The API's answer to `path`, once it is `status: success`.
async fn api(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Option<Value> {
    let resp = client
        .get(format!("{base}{path}"))
        .query(query)
        .send()
        .await
        .ok()?;
    let body: Value = resp.json().await.ok()?;
    (body["status"] == "success").then(|| body["data"].clone())
}

/// Polls `probe` until it returns Some, while both processes keep running, for at most
/// [`PATIENCE`] (a wait, not a timing assertion).
async fn until<T, F, Fut>(what: &str, procs: &mut [&mut Proc], mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        for p in procs.iter_mut() {
            p.assert_running();
        }
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = procs
                .iter()
                .map(|p| format!("--- {} log:\n{}", p.name, p.log()))
                .collect();
            panic!("gave up waiting for: {what}\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The value of the single series `query` returns.
fn single_value(data: &Value) -> Option<f64> {
    let result = data["result"].as_array()?;
    match result.as_slice() {
        [one] => one["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

/// The active alerts named `alertname` for `check`.
fn alerts_of<'a>(alerts: &'a Value, alertname: &str, check: &str) -> Vec<&'a Value> {
    alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["labels"]["alertname"] == alertname && a["labels"]["check"] == check)
        .collect()
}

#[tokio::test]
async fn prometheus_scrapes_the_demo_and_fires_the_shipped_drift_alerts() {
    let prometheus = match std::env::var_os("DRIFTWATCH_TEST_PROMETHEUS") {
        Some(p) => PathBuf::from(p),
        None => match find_program("prometheus") {
            Some(p) => p,
            None => {
                missing_program(
                    "prometheus",
                    "install it with `apt-get install prometheus` (or set DRIFTWATCH_TEST_PROMETHEUS)",
                );
                return;
            }
        },
    };
    // Declared first, so dropped last: the processes die before their files go.
    let dir = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));

    let demo_addr = format!("127.0.0.1:{}", free_port());
    let mut demo = Proc::start(
        "driftwatch demo",
        Command::new(bin())
            .args(["demo", "--listen", &demo_addr, "--dir"])
            .arg(dir.path().join("demo")),
        dir.path().join("demo.log"),
    );

    std::fs::write(
        dir.path().join("driftwatch.rules.yml"),
        rules_with_short_for(&repo.join("alerts/driftwatch.rules.yml")),
    )
    .unwrap();
    // The job name is the one the shipped agent-down rules expect.
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [driftwatch.rules.yml]\n\
             scrape_configs:\n  - job_name: driftwatch\n    static_configs:\n      - targets: ['{demo_addr}']\n"
        ),
    )
    .unwrap();
    let prom_addr = format!("127.0.0.1:{}", free_port());
    let mut prom = Proc::start(
        "prometheus",
        Command::new(&prometheus)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}")),
        dir.path().join("prometheus.log"),
    );
    let base = format!("http://{prom_addr}");
    let client = reqwest::Client::new();

    // The rules loaded: Prometheus rejects a file it cannot parse at start.
    let rules = until(
        "Prometheus serves the loaded rules",
        &mut [&mut demo, &mut prom],
        || api(&client, &base, "/api/v1/rules", &[]),
    )
    .await;
    let groups: Vec<&str> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(
        groups,
        [
            "driftwatch-drift",
            "driftwatch-health",
            "driftwatch-notifications"
        ]
    );

    // The demo's findings, as Prometheus scraped them.
    let query = |q: &'static str| {
        let (client, base) = (&client, &base);
        move || async move { single_value(&api(client, base, "/api/v1/query", &[("query", q)]).await?) }
    };
    let missing_in_legacy = until(
        "driftwatch_missing_rows of patients_content in Prometheus",
        &mut [&mut demo, &mut prom],
        query(
            r#"driftwatch_missing_rows{job="driftwatch",check="patients_content",system="legacy"}"#,
        ),
    )
    .await;
    assert_eq!(
        missing_in_legacy,
        INJECTED.patients_missing_in_legacy as f64
    );
    let missing_in_modern = until(
        "driftwatch_missing_rows of patients_content (modern)",
        &mut [&mut demo, &mut prom],
        query(
            r#"driftwatch_missing_rows{job="driftwatch",check="patients_content",system="modern"}"#,
        ),
    )
    .await;
    assert_eq!(
        missing_in_modern,
        INJECTED.patients_missing_in_modern as f64
    );
    let difference = until(
        "driftwatch_row_count_difference of patients_rows",
        &mut [&mut demo, &mut prom],
        query(r#"driftwatch_row_count_difference{job="driftwatch",check="patients_rows"}"#),
    )
    .await;
    assert_eq!(
        difference,
        (INJECTED.patients_missing_in_legacy - INJECTED.patients_missing_in_modern) as f64
    );

    // The shipped drift alerts fire: patients_content differs in 80 rows (critical at 50),
    // patients_rows by 22 (critical at 10).
    let alerts = until(
        "DriftwatchRowsDiffer and DriftwatchRowCountDrift firing at critical",
        &mut [&mut demo, &mut prom],
        || async {
            let alerts = api(&client, &base, "/api/v1/alerts", &[]).await?;
            let firing = |name: &str, check: &str| {
                alerts_of(&alerts, name, check)
                    .iter()
                    .any(|a| a["state"] == "firing" && a["labels"]["severity"] == "critical")
            };
            (firing("DriftwatchRowsDiffer", "patients_content")
                && firing("DriftwatchRowCountDrift", "patients_rows"))
            .then_some(alerts)
        },
    )
    .await;

    // The descriptions' template queries read the agent's metrics in a real Prometheus.
    let content = alerts_of(&alerts, "DriftwatchRowsDiffer", "patients_content");
    let critical = content
        .iter()
        .find(|a| a["labels"]["severity"] == "critical")
        .unwrap();
    let differing = INJECTED.patients_missing_in_legacy
        + INJECTED.patients_missing_in_modern
        + INJECTED.patients_changed;
    assert_eq!(
        critical["annotations"]["description"],
        format!(
            "Check patients_content: {differing} rows differ (missing in legacy: {}, missing in modern: {}, changed: {}) \
             at its last successful run, at or above its critical threshold of 50.",
            INJECTED.patients_missing_in_legacy,
            INJECTED.patients_missing_in_modern,
            INJECTED.patients_changed
        )
    );
    assert_eq!(
        critical["annotations"]["runbook_url"],
        "https://github.com/driftwatch/driftwatch/blob/main/docs/runbook.md#driftwatchrowsdiffer"
    );
    assert_eq!(critical["labels"]["job"], "driftwatch");
    assert_eq!(critical["labels"]["instance"], demo_addr.as_str());
    // Its warning threshold (1) is reached as well.
    assert!(
        content.iter().any(|a| a["labels"]["severity"] == "warning"),
        "{content:?}"
    );

    // Every dashboard query evaluates in this Prometheus (vector matching included, which
    // parsing alone cannot tell), and the status table's queries find the demo's checks.
    let mut failed = Vec::new();
    for file in crate::promql::files(&repo.join("dashboards"), &["json"]) {
        for found in crate::promql::dashboard_exprs(&file) {
            let resp: Value = client
                .get(format!("{base}/api/v1/query"))
                .query(&[("query", found.expr.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if resp["status"] != "success" {
                failed.push(format!(
                    "{}: {}: {}\n    {}",
                    file.display(),
                    found.place,
                    resp["error"],
                    found.expr
                ));
            } else if found.place.starts_with("panel `Checks`")
                && resp["data"]["result"]
                    .as_array()
                    .is_none_or(|r| r.is_empty())
            {
                failed.push(format!(
                    "{}: {}: no result\n    {}",
                    file.display(),
                    found.place,
                    found.expr
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));

    // No alert for a check whose systems agree, and none at critical for one whose
    // difference (20) stays below its critical threshold of 1% of 2534 rows.
    assert!(alerts_of(&alerts, "DriftwatchRowCountDrift", "appointments_rows").is_empty());
    assert!(
        alerts_of(&alerts, "DriftwatchRowCountDrift", "active_patients_rows")
            .iter()
            .all(|a| a["labels"]["severity"] == "warning"),
        "{alerts}"
    );
}
