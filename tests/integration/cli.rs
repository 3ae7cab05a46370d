//! The command line as a user runs it: exit codes, JSON results, config errors.

use std::process::Command;

use crate::common::{bin, Backend, Db};

fn run(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("DRIFTWATCH_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_config_with_three_mistakes_exits_2_and_names_all_three() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("driftwatch.yaml"),
        "systems:\n  legacy:\n    url: ${DW_TEST_UNSET_LEGACY_URL}\n  modern:\n    url: postgres://localhost/x\nchecks: [checks.yaml]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks.yaml"),
        "checks:\n  - name: a\n    kind: row_count\n    schedule: '*/5 * * * *'\n    legacy: {table: t}\n    modern: {table: t, wher: x}\n  - name: b\n    kind: row_count\n    schedule: '0 25 * * *'\n    legacy: {table: t}\n    modern: {table: t}\n",
    )
    .unwrap();
    for cmd in [&["validate"][..], &["check"][..]] {
        let (code, _, err) = run(cmd, dir.path());
        assert_eq!(code, 2, "{cmd:?}: {err}");
        assert!(
            err.contains("checks.yaml:6:24: unknown field `wher`"),
            "{err}"
        );
        assert!(
            err.contains("checks.yaml:9:15: invalid cron expression `0 25 * * *`"),
            "{err}"
        );
        assert!(
            err.contains(
                "driftwatch.yaml:3:10: environment variable `DW_TEST_UNSET_LEGACY_URL` is not set"
            ),
            "{err}"
        );
        assert!(err.contains("3 errors in the configuration"), "{err}");
    }
}

/// `check --format json` against a PostgreSQL and a MariaDB table, as a new user would.
#[tokio::test]
async fn check_reports_exact_counts_from_postgres_and_mariadb() {
    let (Some(pg), Some(my)) = (
        Db::connect(Backend::Postgres).await,
        Db::connect(Backend::MySql).await,
    ) else {
        return;
    };
    let tp = pg.table("cli", 2500, 4).await;
    let tm = my.table("cli", 2480, 4).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("driftwatch.yaml"),
        format!(
            "systems:\n  modern: {{url: \"{}\"}}\n  legacy: {{url: \"{}\", max_connections: 1}}\nchecks: [checks.yaml]\n",
            pg.url,
            my.url.replace("mysql://", "mariadb://")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks.yaml"),
        format!(
            "checks:
  - name: all_rows
    kind: row_count
    schedule: '@hourly'
    legacy: {{table: {tm}}}
    modern: {{table: public.{tp}}}
    thresholds: {{warning: 1, critical: '1%'}}
  - name: active_rows
    kind: row_count
    schedule: '@hourly'
    legacy: {{table: {tm}, where: 'active = 1 AND id < 2480'}}
    modern: {{table: {tp}, where: 'active AND id < 2480'}}
    thresholds: {{warning: 1}}
"
        ),
    )
    .unwrap();
    let (code, out, err) = run(&["check", "--format", "json"], dir.path());
    assert_eq!(code, 1, "a threshold is breached: {out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks[0]["name"], "all_rows");
    assert_eq!(checks[0]["kind"], "row_count");
    assert_eq!(checks[0]["status"], "warning");
    assert_eq!(checks[0]["rows"]["legacy"], 2480);
    assert_eq!(checks[0]["rows"]["modern"], 2500);
    assert_eq!(checks[0]["row_count_difference"], 20);
    assert_eq!(checks[0]["error"], serde_json::Value::Null);
    assert!(checks[0]["started_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(checks[1]["status"], "ok");
    assert_eq!(checks[1]["rows"]["legacy"], 620);
    assert_eq!(checks[1]["rows"]["modern"], 620);

    let (code, out, _) = run(&["check", "active_rows"], dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("active_rows") && out.contains("OK") && out.contains("legacy=620 modern=620"),
        "{out}"
    );
    assert!(!out.contains("all_rows"));

    let (code, _, err) = run(&["check", "nope"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("no check named `nope`") && err.contains("available: all_rows, active_rows"),
        "{err}"
    );

    let (code, out, _) = run(&["validate", "--connect"], dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("check all_rows: tables and columns found"),
        "{out}"
    );
    pg.drop_table(&tp).await;
    my.drop_table(&tm).await;
}

#[tokio::test]
async fn a_missing_table_is_an_error_that_names_check_system_and_table() {
    let Some(pg) = Db::connect(Backend::Postgres).await else {
        return;
    };
    let t = pg.table("present", 3, 1).await;
    let dir = both_systems_on(&pg.url);
    std::fs::write(
        dir.path().join("c.yaml"),
        format!("checks:\n  - {{name: gone, kind: row_count, schedule: '@hourly', legacy: {{table: {t}}}, modern: {{table: {t}_gone}}}}\n"),
    )
    .unwrap();
    let (code, out, _) = run(&["check", "--format", "json"], dir.path());
    assert_eq!(code, 2, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["checks"][0]["status"], "error");
    let error = doc["checks"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("system `modern`:") && error.contains(&format!("{t}_gone")),
        "{error}"
    );
    let (code, out, _) = run(&["validate", "--connect"], dir.path());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("check gone (") && out.contains(&format!("{t}_gone")),
        "{out}"
    );
    pg.drop_table(&t).await;
}

/// A folder with a `driftwatch.yaml` whose `legacy` and `modern` systems are both `url` and
/// whose checks are in `c.yaml` (for the test to write).
fn both_systems_on(url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("driftwatch.yaml"),
        format!(
            "systems:\n  legacy: {{url: \"{url}\"}}\n  modern: {{url: \"{url}\"}}\nchecks: [c.yaml]\n"
        ),
    )
    .unwrap();
    dir
}

/// `validate --connect` reads no rows but checks every column a check names, not just tables.
#[tokio::test]
async fn validate_connect_names_a_misspelt_column() {
    let Some(pg) = Db::connect(Backend::Postgres).await else {
        return;
    };
    let t = pg.table("cols", 3, 1).await;
    let dir = both_systems_on(&pg.url);
    std::fs::write(
        dir.path().join("c.yaml"),
        format!(
            "checks:
  - {{name: ok_refs, kind: ref_integrity, schedule: '@hourly', child: {{system: legacy, table: {t}, column: id}}, parent: {{system: modern, table: {t}, column: id}}}}
  - {{name: bad_lag, kind: lag, schedule: '@hourly', from: modern, to: legacy, legacy: {{table: {t}, timestamp: id}}, modern: {{table: {t}, timestamp: updatd_at}}}}
"
        ),
    )
    .unwrap();
    let (code, out, _) = run(&["validate", "--connect"], dir.path());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("check ok_refs: tables and columns found"),
        "{out}"
    );
    assert!(
        out.contains("check bad_lag (")
            && out.contains("system `modern`")
            && out.contains("updatd_at"),
        "{out}"
    );
    pg.drop_table(&t).await;
}

#[test]
fn secrets_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("driftwatch.yaml"),
        "systems:\n  legacy: {url: 'postgres://app:Sup3rS3cret@127.0.0.1:1/x', connect_timeout: 1s}\n  modern: {url: 'postgres://app:Sup3rS3cret@127.0.0.1:1/y', connect_timeout: 1s}\nchecks: [c.yaml]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        "checks:\n  - {name: a, kind: row_count, schedule: '@hourly', legacy: {table: t}, modern: {table: t}}\n",
    )
    .unwrap();
    for args in [
        &["check", "--format", "json"][..],
        &["check"][..],
        &["validate", "--connect"][..],
    ] {
        let (code, out, err) = run(args, dir.path());
        assert_eq!(code, 2);
        assert!(
            !out.contains("Sup3rS3cret") && !err.contains("Sup3rS3cret"),
            "{args:?}\n{out}\n{err}"
        );
        assert!(out.contains("cannot reach the database"), "{out}");
    }
}

/// The README's first command: `driftwatch demo` serves drift on /metrics within seconds.
#[tokio::test]
async fn the_demo_serves_its_drift_on_metrics() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(rest) = line.trim().strip_prefix("metrics:") {
            addr = Some(
                rest.trim()
                    .trim_start_matches("http://")
                    .trim_end_matches("/metrics")
                    .parse::<std::net::SocketAddr>()
                    .unwrap(),
            );
            break;
        }
    }
    let addr = addr.expect("the demo prints where it serves metrics");
    let m = crate::common::eventually("the demo's checks ran", || async move {
        let m = crate::common::scrape(addr).await?;
        [
            "patients_rows",
            "active_patients_rows",
            "appointments_rows",
            "patients_content",
            "patients_lag",
            "appointments_have_patients",
            "balance_by_insurer",
        ]
        .iter()
        .all(|c| m.contains(&format!("driftwatch_check_status{{check=\"{c}\"}}")))
        .then_some(m)
    })
    .await;
    use crate::common::sample;
    use driftwatch::demo::data::INJECTED;
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_rows{check="patients_rows",system="legacy"}"#
        ),
        Some(INJECTED.legacy_patients as f64)
    );
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_rows{check="patients_rows",system="modern"}"#
        ),
        Some(INJECTED.modern_patients as f64)
    );
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_row_count_difference{check="patients_rows"}"#
        ),
        Some((INJECTED.patients_missing_in_legacy - INJECTED.patients_missing_in_modern) as f64)
    );
    assert_eq!(
        sample(&m, r#"driftwatch_check_status{check="patients_rows"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&m, r#"driftwatch_check_status{check="appointments_rows"}"#),
        Some(0.0)
    );
    // The content check finds exactly what was injected.
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_missing_rows{check="patients_content",system="legacy"}"#
        ),
        Some(INJECTED.patients_missing_in_legacy as f64)
    );
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_missing_rows{check="patients_content",system="modern"}"#
        ),
        Some(INJECTED.patients_missing_in_modern as f64)
    );
    assert_eq!(
        sample(&m, r#"driftwatch_changed_rows{check="patients_content"}"#),
        Some(INJECTED.patients_changed as f64)
    );
    assert_eq!(
        sample(&m, r#"driftwatch_check_status{check="patients_content"}"#),
        Some(2.0)
    );
    // Lag, orphans and totals: what was injected.
    let lag = sample(&m, r#"driftwatch_lag_seconds{check="patients_lag"}"#).unwrap();
    assert!(
        lag >= INJECTED.lag_seconds as f64 && lag < INJECTED.lag_seconds as f64 + 60.0,
        "lag {lag}"
    );
    assert_eq!(
        sample(&m, r#"driftwatch_check_status{check="patients_lag"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_orphan_rows{check="appointments_have_patients"}"#
        ),
        Some(INJECTED.appointments_orphaned_in_legacy as f64)
    );
    assert_eq!(
        sample(
            &m,
            r#"driftwatch_aggregate_differing_groups{check="balance_by_insurer"}"#
        ),
        Some(6.0)
    );
    // The config it wrote works with the other commands too.
    let (code, out, _) = run(
        &["check", "-c", "driftwatch.yaml", "appointments_rows"],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
    child.kill().await.unwrap();
}

/// A check's own `timeout` ends a run that takes too long, as an error that says so.
#[tokio::test]
async fn a_check_that_runs_past_its_timeout_is_an_error() {
    let Some(pg) = Db::connect(Backend::Postgres).await else {
        return;
    };
    let t = pg.table("slowcheck", 2, 1).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("driftwatch.yaml"),
        format!("systems:\n  legacy: {{url: \"{0}\", statement_timeout: 10s}}\n  modern: {{url: \"{0}\"}}\nchecks: [c.yaml]\n", pg.url),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        format!("checks:\n  - {{name: slow, kind: row_count, schedule: '@hourly', timeout: 1s, legacy: {{table: {t}, where: 'pg_sleep(3) IS NOT NULL'}}, modern: {{table: {t}}}}}\n"),
    )
    .unwrap();
    let (code, out, _) = run(&["check", "--format", "json"], dir.path());
    assert_eq!(code, 2, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let error = doc["checks"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("timed out after 1s (the check's `timeout`)"),
        "{error}"
    );
    pg.drop_table(&t).await;
}
