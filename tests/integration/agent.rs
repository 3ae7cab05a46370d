//! The agent end to end: scheduled checks, /metrics, the API, and recovery from an outage of
//! a real MariaDB server.

use std::process::{Child, Command, Stdio};

use driftwatch::agent::Agent;

use crate::common::{self, config_in, eventually, sample, scrape, Backend, Db};

#[tokio::test]
async fn the_agent_serves_row_counts_and_drift_on_metrics_and_api() {
    let legacy = Db::connect(Backend::Sqlite).await.unwrap();
    let modern = Db::connect(Backend::Sqlite).await.unwrap();
    let t1 = legacy.table("patients", 100, 2).await;
    let t2 = modern.table("patients", 125, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        &[
            (
                "driftwatch.yaml",
                &format!(
                    "listen: 127.0.0.1:0\nstate: sqlite://state.db\nchecks: [checks]\nsystems:\n  legacy: {{url: \"{}\"}}\n  modern: {{url: \"{}\"}}\n",
                    legacy.url, modern.url
                ),
            ),
            (
                "checks/rows.yaml",
                &format!(
                    "checks:
  - name: patients_rows
    kind: row_count
    schedule: '@every 1s'
    legacy: {{table: {t1}}}
    modern: {{table: {t2}}}
    thresholds: {{warning: 1, critical: 10}}
  - name: active_rows
    kind: row_count
    schedule: '* * * * *'
    legacy: {{table: {t1}, where: active = 1}}
    modern: {{table: {t2}, where: \"active = 1 AND id < 100\"}}
    thresholds: {{warning: 1}}
"
                ),
            ),
        ],
    );
    let agent = Agent::start(config).await.unwrap();
    let addr = agent.local_addr;
    let metrics = eventually("both checks ran", || async move {
        let m = scrape(addr).await?;
        (sample(&m, "driftwatch_check_runs_total{check=\"active_rows\"}")? >= 1.0
            && sample(&m, "driftwatch_check_runs_total{check=\"patients_rows\"}")? >= 2.0)
            .then_some(m)
    })
    .await;
    assert_eq!(
        sample(
            &metrics,
            r#"driftwatch_rows{check="patients_rows",system="legacy"}"#
        ),
        Some(100.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"driftwatch_rows{check="patients_rows",system="modern"}"#
        ),
        Some(125.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"driftwatch_row_count_difference{check="patients_rows"}"#
        ),
        Some(25.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"driftwatch_check_status{check="patients_rows"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(&metrics, r#"driftwatch_check_status{check="active_rows"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"driftwatch_check_success{check="patients_rows",kind="row_count"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"driftwatch_threshold{check="patients_rows",severity="critical"}"#
        ),
        Some(10.0)
    );
    assert_eq!(
        sample(&metrics, r#"driftwatch_system_up{system="legacy"}"#),
        Some(1.0)
    );
    assert!(sample(&metrics, r#"driftwatch_queries_total{system="legacy"}"#).unwrap() >= 3.0);
    assert!(metrics.contains("driftwatch_build_info{version="));
    assert!(metrics.contains("# HELP driftwatch_check_duration_seconds "));
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("# TYPE driftwatch_"))
    {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
    }

    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("http://{addr}{path}")).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready: serde_json::Value = get("/readyz").await.unwrap().json().await.unwrap();
    assert_eq!(ready["ready"], true);
    let latest: serde_json::Value = get("/api/v1/checks/patients_rows/runs/latest")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = &latest["checks"][0];
    assert_eq!(run["name"], "patients_rows");
    assert_eq!(run["status"], "critical");
    assert_eq!(run["rows"]["legacy"], 100);
    assert_eq!(run["rows"]["modern"], 125);
    assert_eq!(run["error"], serde_json::Value::Null);
    assert_eq!(
        get("/api/v1/checks/nope/runs/latest")
            .await
            .unwrap()
            .status(),
        404
    );
    let history: serde_json::Value = get("/api/v1/checks/patients_rows/runs?limit=5")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(history["runs"].as_array().unwrap().len() >= 2);
    agent.shutdown().await;
}

#[tokio::test]
async fn a_restarted_agent_restores_the_last_results_from_its_state() {
    let legacy = Db::connect(Backend::Sqlite).await.unwrap();
    let t = legacy.table("restore", 7, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "driftwatch.yaml",
            format!("listen: 127.0.0.1:0\nchecks: [c.yaml]\nsystems:\n  a: {{url: \"{}\"}}\n  b: {{url: \"{}\"}}\n", legacy.url, legacy.url),
        ),
        (
            "c.yaml",
            format!("checks:\n  - {{name: hourly, kind: row_count, schedule: '@hourly', a: {{table: {t}}}, b: {{table: {t}, where: id < 5}}, thresholds: {{critical: 1}}}}\n"),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let agent = Agent::start(config_in(dir.path(), &files)).await.unwrap();
    let addr = agent.local_addr;
    eventually("first run", || async move {
        sample(
            &scrape(addr).await?,
            "driftwatch_check_runs_total{check=\"hourly\"}",
        )
        .filter(|n| *n >= 1.0)
    })
    .await;
    agent.shutdown().await;
    // The next @hourly tick is up to an hour away: the new agent shows the last result now.
    let agent = Agent::start(config_in(dir.path(), &files)).await.unwrap();
    let m = scrape(agent.local_addr).await.unwrap();
    assert_eq!(
        sample(&m, r#"driftwatch_rows{check="hourly",system="b"}"#),
        Some(5.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"driftwatch_check_status{check="hourly"}"#),
        Some(2.0)
    );
    agent.shutdown().await;
}

/// A private MariaDB server in a temp folder, so the test can stop and restart it.
struct PrivateMariaDb {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl PrivateMariaDb {
    fn install() -> Option<PrivateMariaDb> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                common::unavailable("mariadb-install-db", &String::from_utf8_lossy(&o.stderr));
                return None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                common::missing_program(
                    "mariadb-install-db",
                    "install it with `apt-get install mariadb-server`",
                );
                return None;
            }
            Err(e) => {
                common::unavailable("mariadb-install-db", &e.to_string());
                return None;
            }
        }
        Some(PrivateMariaDb {
            dir,
            port: common::free_port(),
            child: None,
        })
    }

    fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/dw", self.port)
    }

    async fn start(&mut self) {
        let d = self.dir.path();
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--socket={}", d.join("sock").display()))
            .arg(format!("--pid-file={}", d.join("pid").display()))
            .arg(format!("--log-error={}", d.join("error.log").display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=16M",
                "--skip-log-bin",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        let url = format!("mysql://root@127.0.0.1:{}/mysql", self.port);
        eventually("private MariaDB accepts connections", || {
            let url = url.clone();
            async move { common::mysql_ready(&url).await.then_some(()) }
        })
        .await;
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn admin_exec(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
    for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(stmt).execute(&mut conn).await.unwrap();
    }
}

#[tokio::test]
async fn the_agent_survives_a_mariadb_outage_and_recovers_by_itself() {
    let Some(mut maria) = PrivateMariaDb::install() else {
        return;
    };
    maria.start().await;
    admin_exec(
        &format!("mysql://root@127.0.0.1:{}/mysql", maria.port),
        "CREATE DATABASE dw; CREATE TABLE dw.patients (id INT PRIMARY KEY); INSERT INTO dw.patients VALUES (1),(2),(3)",
    )
    .await;
    let modern = Db::connect(Backend::Sqlite).await.unwrap();
    let t = modern.table("patients", 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        &[(
            "driftwatch.yaml",
            &format!(
                "listen: 127.0.0.1:0\nchecks: [c.yaml]\nsystems:\n  legacy: {{url: \"{}\", connect_timeout: 2s}}\n  modern: {{url: \"{}\"}}\n",
                maria.url(),
                modern.url
            ),
        ), (
            "c.yaml",
            &format!("checks:\n  - {{name: patients_rows, kind: row_count, schedule: '@every 1s', legacy: {{table: patients}}, modern: {{table: {t}}}, thresholds: {{critical: 1}}}}\n"),
        )],
    );
    let agent = Agent::start(config).await.unwrap();
    let addr = agent.local_addr;
    let ok = |want_success: f64, want_up: f64| async move {
        let m = scrape(addr).await?;
        (sample(
            &m,
            r#"driftwatch_check_success{check="patients_rows",kind="row_count"}"#,
        )? == want_success
            && sample(&m, r#"driftwatch_system_up{system="legacy"}"#)? == want_up)
            .then_some(m)
    };
    let m = eventually("a successful run against MariaDB", || ok(1.0, 1.0)).await;
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_rows{check="patients_rows",system="legacy"}"#
        ),
        Some(3.0)
    );

    maria.stop();
    eventually("the check reports error and the system down", || {
        ok(0.0, 0.0)
    })
    .await;
    let latest: serde_json::Value = reqwest::get(format!(
        "http://{addr}/api/v1/checks/patients_rows/runs/latest"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let run = &latest["checks"][0];
    assert_eq!(run["status"], "error");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("system `legacy`: cannot reach the database"),
        "{error}"
    );

    maria.start().await;
    let m = eventually("recovery without a restart", || ok(1.0, 1.0)).await;
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_rows{check="patients_rows",system="legacy"}"#
        ),
        Some(3.0)
    );
    assert!(
        sample(
            &m,
            r#"driftwatch_check_errors_total{check="patients_rows"}"#
        )
        .unwrap()
            >= 1.0
    );
    agent.shutdown().await;
}
