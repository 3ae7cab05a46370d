//! Config loading: every rule, with the exact message and position a user sees.

use super::*;
use crate::compare::normalize::LogicalType;
use std::collections::HashMap;
use std::time::Duration;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(files: &[(&str, &str)]) -> Files {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Files { dir }
    }

    fn load(&self, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.get(k).cloned();
        load_with(&self.dir.path().join("driftwatch.yaml"), &lookup).map_err(|e| {
            e.0.iter()
                .map(|e| {
                    let file = e.file.strip_prefix(self.dir.path()).unwrap_or(&e.file);
                    format!(
                        "{}:{}:{}: {}",
                        file.display(),
                        e.pos.line,
                        e.pos.col,
                        e.message
                    )
                })
                .collect()
        })
    }
}

const MAIN: &str = "\
systems:
  legacy:
    url: postgres://app:pw@localhost/legacy
  modern:
    url: mysql://root@localhost/modern
checks: [checks/]
";

fn with_check(check: &str) -> Files {
    Files::new(&[("driftwatch.yaml", MAIN), ("checks/a.yaml", check)])
}

#[test]
fn a_valid_row_count_check_loads() {
    let f = with_check(
        "\
checks:
  - name: patients_rows
    kind: row_count
    schedule: \"*/5 * * * *\"
    legacy: {table: PATIENT, where: \"ACTIVE_FLG = 'Y'\"}
    modern: {table: clinic.patients}
    thresholds: {warning: 1, critical: \"0.5%\"}
",
    );
    let config = f.load(&[]).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:9187");
    assert_eq!(config.systems.len(), 2);
    assert_eq!(config.systems[1].engine, EngineKind::MySql);
    let check = &config.checks[0];
    assert_eq!(check.name, "patients_rows");
    assert_eq!(check.thresholds.warning, Some(Threshold::Count(1.0)));
    assert_eq!(check.thresholds.critical, Some(Threshold::Percent(0.5)));
    let CheckSpec::RowCount(spec) = &check.spec else {
        panic!("a row_count spec")
    };
    assert_eq!(spec.sides[0].system, "legacy");
    assert_eq!(spec.sides[0].filter.as_deref(), Some("ACTIVE_FLG = 'Y'"));
    assert_eq!(spec.sides[1].table, "clinic.patients");
    assert_eq!(spec.sides[1].filter, None);
    // The password never prints.
    assert!(!format!("{:?}", config.systems[0]).contains("pw@"));
}

#[test]
fn misspelt_key_bad_cron_and_unset_variable_are_all_reported() {
    let f = Files::new(&[
        (
            "driftwatch.yaml",
            "\
systems:
  legacy:
    url: ${LEGACY_DATABASE_URL}
  modern:
    url: postgres://localhost/modern
checks: [checks.yaml]
",
        ),
        (
            "checks.yaml",
            "\
checks:
  - name: a
    kind: row_count
    schedul: \"*/5 * * * *\"
    legacy: {table: t}
    modern: {table: t}
  - name: b
    kind: row_count
    schedule: \"*/61 * * * *\"
    legacy: {table: t}
    modern: {table: t}
",
        ),
    ]);
    let errors = f.load(&[]).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_eq!(
        errors[0],
        "checks.yaml:4:5: unknown field `schedul` in check `a`, expected one of `name`, `kind`, `description`, `schedule`, `timeout`, `thresholds`, `alert` or a system name (`legacy`, `modern`) (did you mean `schedule`?)"
    );
    assert_eq!(
        errors[1],
        "checks.yaml:9:15: invalid cron expression `*/61 * * * *`: minute step `61` is out of range 1-59"
    );
    assert_eq!(
        errors[2],
        "driftwatch.yaml:3:10: environment variable `LEGACY_DATABASE_URL` is not set (set it, or write ${LEGACY_DATABASE_URL:-default})"
    );
}

#[test]
fn misspelt_keys_at_every_level_name_the_place() {
    let f = Files::new(&[
        (
            "driftwatch.yaml",
            "\
listn: 127.0.0.1:1
systems:
  legacy:
    url: postgres://localhost/legacy
    max_conections: 2
  modern:
    url: postgres://localhost/modern
sinks:
  team: {type: slack, url: https://hooks.example/x, secrt: y}
checks: [c.yaml]
",
        ),
        (
            "c.yaml",
            "\
checks:
  - name: a
    kind: row_count
    schedule: \"@hourly\"
    legacy: {table: t, were: \"x\"}
    modern: {table: t}
    thresholds: {warn: 1}
    alert: {sinks: [team], fro: 10m}
chekcs: []
",
        ),
    ]);
    let errors = f.load(&[]).unwrap_err();
    let expected = [
        "c.yaml:5:24: unknown field `were`, expected one of `table`, `where` (did you mean `where`?)",
        "c.yaml:7:18: unknown field `warn`, expected one of `warning`, `critical` (did you mean `warning`?)",
        "c.yaml:8:28: unknown field `fro`, expected one of `sinks`, `for`, `repeat_interval`, `runbook_url`, `dashboard_url`, `error_after` (did you mean `for`?)",
        "c.yaml:9:1: unknown field `chekcs`, expected `checks` (did you mean `checks`?)",
        "driftwatch.yaml:1:1: unknown field `listn`, expected one of `listen`, `external_url`, `state`, `checks`, `systems`, `sinks` (did you mean `listen`?)",
        "driftwatch.yaml:5:5: unknown field `max_conections`, expected one of `url`, `max_connections`, `statement_timeout`, `connect_timeout`, `timezone` (did you mean `max_connections`?)",
        "driftwatch.yaml:9:53: unknown field `secrt`, expected one of `type`, `url`, `timeout`, `deadline`",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (got, want) in errors.iter().zip(expected) {
        assert_eq!(got, want);
    }
}

#[test]
fn duplicate_names_and_unknown_references_are_rejected() {
    let f = with_check(
        "\
checks:
  - name: a
    kind: row_count
    schedule: \"@hourly\"
    legacy: {table: t}
    modern: {table: t}
    alert: {sinks: [oncall]}
  - name: a
    kind: row_count
    schedule: \"@hourly\"
    legacy: {table: t}
    billing: {table: t}
  - name: c
    kind: row_cont
    schedule: \"@hourly\"
",
    );
    let errors = f.load(&[]).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e
                .starts_with("checks/a.yaml:7:21: unknown sink `oncall`: no sinks are defined")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e
                .starts_with("checks/a.yaml:8:11: duplicate check name `a`: already defined at")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("checks/a.yaml:12:5: unknown field `billing` in check `a`")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e
            == "checks/a.yaml:14:11: unknown kind `row_cont` in check `c` (available: row_count, hash_diff, hash_sample, lag, ref_integrity, aggregate)"),
        "{errors:#?}"
    );
}

#[test]
fn env_expansion_feeds_values_and_defaults() {
    let f = Files::new(&[(
        "driftwatch.yaml",
        "\
listen: ${LISTEN:-127.0.0.1:9999}
systems:
  legacy:
    url: ${LEGACY_URL}
    max_connections: ${MAXC}
checks: []
",
    )]);
    let config = f
        .load(&[("LEGACY_URL", "postgres://u:hunter22@db/x"), ("MAXC", "3")])
        .unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:9999");
    assert_eq!(config.systems[0].max_connections, 3);
    assert_eq!(
        config.systems[0].url.to_string(),
        "postgres://u:**REDACTED**@db/x"
    );
}

#[test]
fn bad_values_say_what_to_write() {
    let f = with_check(
        "\
checks:
  - name: Bad-Name
    kind: row_count
    schedule: \"@every soon\"
    timeout: forever
    legacy: {table: t}
    thresholds: {warning: lots}
",
    );
    let errors = f.load(&[]).unwrap_err();
    let joined = errors.join("\n");
    assert!(
        joined.contains("checks/a.yaml:2:11: invalid check name `Bad-Name`"),
        "{joined}"
    );
    assert!(
        joined.contains("checks/a.yaml:4:15: invalid interval `soon`"),
        "{joined}"
    );
    assert!(
        joined.contains("checks/a.yaml:5:14: invalid duration `forever`"),
        "{joined}"
    );
    assert!(
        joined.contains("checks/a.yaml:7:27: invalid threshold `lots`"),
        "{joined}"
    );
    assert!(
        joined.contains(
            "a row_count check compares two systems in check `Bad-Name`: found 1 (`legacy`)"
        ),
        "{joined}"
    );
}

#[test]
fn secrets_do_not_appear_in_url_errors() {
    let f = Files::new(&[(
        "driftwatch.yaml",
        "systems:\n  legacy:\n    url: oracle://scott:tiger99@db/x\n",
    )]);
    let errors = f.load(&[]).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("driftwatch.yaml:3:10: system `legacy`: unsupported database URL")
    );
    assert!(!errors[0].contains("tiger99"));
}

#[test]
fn missing_config_file_says_how_to_point_at_one() {
    let f = Files::new(&[]);
    let errors = f.load(&[]).unwrap_err();
    assert!(
        errors[0].contains("cannot read the config file"),
        "{errors:?}"
    );
    assert!(errors[0].contains("-c FILE"));
}

#[test]
fn lag_ref_integrity_and_aggregate_checks_load() {
    let f = with_check(
        "\
checks:
  - name: lag
    kind: lag
    schedule: '@every 1m'
    from: modern
    to: legacy
    legacy: {table: PATIENT, timestamp: UPD_TS, where: \"ACTIVE_FLG = 'Y'\"}
    modern: {table: patients, timestamp: updated_at}
    thresholds: {warning: 60s, critical: 10m}
  - name: per_key
    kind: lag
    mode: per_key
    per_key: {size: 50, window: 30m}
    schedule: '@every 1m'
    from: legacy
    to: modern
    legacy: {table: PATIENT, timestamp: UPD_TS, key: [PAT_ID]}
    modern: {table: patients, timestamp: synced_at, key: [id]}
  - name: refs
    kind: ref_integrity
    schedule: '@hourly'
    child: {system: legacy, table: APPT, columns: [CLINIC, PAT_ID], where: 'CANCELLED = 0'}
    parent: {system: modern, table: patients, columns: [clinic, id]}
    types: [text, int]
  - name: totals
    kind: aggregate
    schedule: '@daily'
    legacy: {table: APPT}
    modern: {table: appointments}
    group_by:
      day: {legacy: DATE(APPT_TS), modern: 'starts_at::date', type: date}
    measures:
      n: {fn: count}
      fees: {fn: sum, legacy: FEE_CENTS / 100, modern: fee, type: 'decimal(2)', tolerance: 0.01}
",
    );
    let config = f.load(&[]).unwrap();
    let CheckSpec::Lag(lag) = &config.checks[0].spec else {
        panic!("lag spec")
    };
    assert_eq!((lag.from, lag.to, &lag.mode), (1, 0, &LagMode::Watermark));
    assert_eq!(
        config.checks[0].thresholds.critical,
        Some(Threshold::Count(600.0))
    );
    let CheckSpec::Lag(pk) = &config.checks[1].spec else {
        panic!("per_key spec")
    };
    assert_eq!(
        pk.mode,
        LagMode::PerKey {
            size: 50,
            window: Duration::from_secs(1800)
        }
    );
    let CheckSpec::RefIntegrity(r) = &config.checks[2].spec else {
        panic!("ref spec")
    };
    assert_eq!(r.child.columns, vec!["CLINIC", "PAT_ID"]);
    assert_eq!(r.parent.table.system, "modern");
    assert_eq!(r.types, Some(vec![LogicalType::Text, LogicalType::Int]));
    let CheckSpec::Aggregate(a) = &config.checks[3].spec else {
        panic!("aggregate spec")
    };
    assert_eq!(a.group_by[0].name, "day");
    assert_eq!(a.measures[1].func, AggFn::Sum);
    assert_eq!(a.measures[1].tolerance.as_deref(), Some("0.01"));
}

#[test]
fn lag_ref_integrity_and_aggregate_mistakes_are_positioned() {
    let f = with_check(
        "\
checks:
  - name: lag
    kind: lag
    schedule: '@every 1m'
    from: modren
    legacy: {table: PATIENT}
    modern: {table: patients, timestamp: updated_at}
    thresholds: {warning: soon}
  - name: refs
    kind: ref_integrity
    schedule: '@hourly'
    child: {system: legacy, table: APPT, column: PAT_ID}
    parent: {system: moderm, table: patients, column: id}
  - name: totals
    kind: aggregate
    schedule: '@daily'
    legacy: {table: APPT}
    modern: {table: appointments}
    measures:
      fees: {fn: average, legacy: FEE, modern: fee}
      n: {fn: sum, legacy: X}
",
    );
    let errors = f.load(&[]).unwrap_err();
    let want = [
        "checks/a.yaml:5:11: `from: modren` is not one of the check's sides (`legacy`, `modern`)",
        "checks/a.yaml:2:5: missing field `to` in check `lag`: a lag check says which way the sync runs, e.g. `from: legacy` and `to: modern`",
        "checks/a.yaml:6:13: missing field `timestamp`: a lag side needs the column (or expression) holding each row's change time in check `lag`",
        "checks/a.yaml:8:27: invalid lag threshold `soon`: write a duration such as `60s` or `10m`",
        "checks/a.yaml:13:22: unknown system `moderm` in `parent` (available: `legacy`, `modern`) (did you mean `modern`?)",
        "checks/a.yaml:20:18: unknown aggregate function `average` in measure `fees` (available: count, sum, min, max)",
        "checks/a.yaml:21:10: measure `n` has no expression for `modern`: write the SQL to sum on that system",
    ];
    for w in want {
        assert!(
            errors.iter().any(|e| e == w),
            "missing {w:?} in {errors:#?}"
        );
    }
}

#[test]
fn key_types_are_key_types_one_per_key_column() {
    let f = with_check(
        "\
checks:
  - name: a
    kind: hash_diff
    schedule: '@hourly'
    legacy: {table: T, key: [ID]}
    modern: {table: t, key: [id]}
    key_types: [uuid, int]
  - name: b
    kind: hash_diff
    schedule: '@hourly'
    legacy: {table: T, key: [ID]}
    modern: {table: t, key: [id]}
    key_types: [float]
  - name: c
    kind: hash_sample
    schedule: '@hourly'
    legacy: {table: T, key: [ID]}
    modern: {table: t, key: [id]}
    key_types: [uuid]
",
    );
    let errors = f.load(&[]).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e == "checks/a.yaml:7:16: `key_types` has 2 types for a key of 1 columns"),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e
            == "checks/a.yaml:13:16: a key compares as int, text, uuid or date, not float(15)"),
        "{errors:#?}"
    );
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

/// A config with the given sinks and one check alerting with `alert`.
fn with_sinks_and_alert(sinks: &str, alert: &str) -> Files {
    Files::new(&[
        ("driftwatch.yaml", &format!("{MAIN}sinks:\n{sinks}")),
        (
            "checks/a.yaml",
            &format!(
                "\
checks:
  - name: a
    kind: row_count
    schedule: \"@hourly\"
    legacy: {{table: t}}
    modern: {{table: t}}
    alert: {alert}
"
            ),
        ),
    ])
}

#[test]
fn sinks_and_alerts_take_their_defaults() {
    let f = with_sinks_and_alert(
        "  oncall: {type: pagerduty, routing_key: rk-123456}\n",
        "{sinks: [oncall]}",
    );
    let config = f.load(&[]).unwrap();
    let sink = &config.sinks[0];
    assert_eq!(sink.timeout, Duration::from_secs(10));
    assert_eq!(sink.deadline, Duration::from_secs(3600));
    let SinkKind::PagerDuty { url, .. } = &sink.kind else {
        panic!("a pagerduty sink")
    };
    assert_eq!(url, "https://events.pagerduty.com/v2/enqueue");
    let alert = config.checks[0].alert.as_ref().unwrap();
    assert_eq!(alert.for_, Duration::ZERO);
    assert_eq!(alert.repeat_interval, None);
    assert_eq!(alert.error_after, 3);
}

#[test]
fn sink_timeout_is_one_attempts_limit() {
    let f = with_sinks_and_alert(
        "  team: {type: slack, url: https://hooks.example/x, timeout: 3s}\n",
        "{sinks: [team]}",
    );
    assert_eq!(
        f.load(&[]).unwrap().sinks[0].timeout,
        Duration::from_secs(3)
    );
    let f = with_sinks_and_alert(
        "  team: {type: slack, url: https://hooks.example/x, timeout: soon}\n",
        "{sinks: [team]}",
    );
    let errors = f.load(&[]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("driftwatch.yaml:8:62: invalid duration `soon`"),
        "{errors:#?}"
    );
}

#[test]
fn sink_deadline_bounds_the_retries_and_outlasts_one_attempt() {
    let f = with_sinks_and_alert(
        "  audit: {type: webhook, url: https://hooks.example/x, secret: abcd1234, deadline: 15m}\n",
        "{sinks: [audit]}",
    );
    assert_eq!(
        f.load(&[]).unwrap().sinks[0].deadline,
        Duration::from_secs(900)
    );
    let f = with_sinks_and_alert(
        "  audit: {type: webhook, url: https://hooks.example/x, timeout: 30s, deadline: 10s}\n",
        "{sinks: [audit]}",
    );
    assert_eq!(
        f.load(&[]).unwrap_err(),
        ["driftwatch.yaml:8:80: sink `audit`: `deadline` (10s) is shorter than one attempt's `timeout` (30s): give retries at least that long"]
    );
}

#[test]
fn webhook_secret_may_be_left_out_but_not_empty() {
    let f = with_sinks_and_alert(
        "  audit: {type: webhook, url: https://hooks.example/x, secret: \"\"}\n",
        "{sinks: [audit]}",
    );
    assert_eq!(
        f.load(&[]).unwrap_err(),
        ["driftwatch.yaml:8:64: the webhook sink's `secret` is empty: set it, or leave `secret` out to send unsigned requests"]
    );
    let f = with_sinks_and_alert(
        "  audit: {type: webhook, url: https://hooks.example/x}\n",
        "{sinks: [audit]}",
    );
    let config = f.load(&[]).unwrap();
    assert!(matches!(
        &config.sinks[0].kind,
        SinkKind::Webhook { secret: None, .. }
    ));
}

#[test]
fn alert_error_after_counts_failed_runs_and_is_at_least_one() {
    let sinks = "  oncall: {type: pagerduty, routing_key: rk-123456}\n";
    let f = with_sinks_and_alert(sinks, "{sinks: [oncall], error_after: 5}");
    assert_eq!(
        f.load(&[]).unwrap().checks[0]
            .alert
            .as_ref()
            .unwrap()
            .error_after,
        5
    );
    let f = with_sinks_and_alert(sinks, "{sinks: [oncall], error_after: 0}");
    assert_eq!(
        f.load(&[]).unwrap_err(),
        ["checks/a.yaml:7:43: `error_after` must be at least 1 (failed runs in a row before the check counts as broken)"]
    );
}

#[test]
fn alert_for_and_repeat_interval_are_durations() {
    let sinks = "  oncall: {type: pagerduty, routing_key: rk-123456}\n";
    let f = with_sinks_and_alert(
        sinks,
        "{sinks: [oncall], for: 10m, repeat_interval: 4h, runbook_url: https://wiki.example/r}",
    );
    let config = f.load(&[]).unwrap();
    let alert = config.checks[0].alert.as_ref().unwrap();
    assert_eq!(alert.for_, Duration::from_secs(600));
    assert_eq!(alert.repeat_interval, Some(Duration::from_secs(4 * 3600)));
    assert_eq!(alert.runbook_url.as_deref(), Some("https://wiki.example/r"));
    let f = with_sinks_and_alert(sinks, "{sinks: [oncall], repeat_interval: 0s}");
    assert_eq!(
        f.load(&[]).unwrap_err(),
        ["checks/a.yaml:7:47: duration `0s` must be more than zero"]
    );
}

#[test]
fn a_routing_key_never_appears_in_errors_or_debug_output() {
    let f = with_sinks_and_alert(
        "  oncall: {type: pagerduty, routing_key: R0UT1NGKEY99, url: \"not a url\"}\n",
        "{sinks: [oncall]}",
    );
    let errors = f.load(&[]).unwrap_err();
    assert!(
        errors.iter().all(|e| !e.contains("R0UT1NGKEY99")),
        "{errors:#?}"
    );
    let f = with_sinks_and_alert(
        "  oncall: {type: pagerduty, routing_key: R0UT1NGKEY99}\n",
        "{sinks: [oncall]}",
    );
    let config = f.load(&[]).unwrap();
    assert!(!format!("{:?}", config.sinks).contains("R0UT1NGKEY99"));
}

#[test]
fn external_url_is_where_alert_links_point() {
    let f = Files::new(&[
        (
            "driftwatch.yaml",
            &format!("{MAIN}external_url: https://drift.example.com/\n"),
        ),
        ("checks/a.yaml", "checks: []\n"),
    ]);
    let config = f.load(&[]).unwrap();
    assert_eq!(
        config.external_url.as_deref(),
        Some("https://drift.example.com")
    );
    let f = Files::new(&[
        (
            "driftwatch.yaml",
            &format!("{MAIN}external_url: drift.example.com\n"),
        ),
        ("checks/a.yaml", "checks: []\n"),
    ]);
    let errors = f.load(&[]).unwrap_err();
    assert_eq!(
        errors,
        vec!["driftwatch.yaml:7:15: invalid external_url `drift.example.com`: write the URL people open to reach this agent, e.g. `https://driftwatch.example.com`".to_string()]
    );
}

/// The errors of a config whose one check file is `check`.
fn check_errors(check: &str) -> Vec<String> {
    with_check(check).load(&[]).unwrap_err()
}

/// The errors of a config with the given sinks, which no check uses.
fn sink_errors(sinks: &str) -> Vec<String> {
    with_sinks_and_alert(sinks, "{sinks: []}")
        .load(&[])
        .unwrap_err()
}

#[test]
fn a_row_count_side_takes_no_key() {
    assert_eq!(
        check_errors(
            "\
checks:
  - name: rows
    kind: row_count
    schedule: '@hourly'
    legacy: {table: T, key: [ID]}
    modern: {table: t}
"
        ),
        ["checks/a.yaml:5:24: unknown field `key`, expected one of `table`, `where`"]
    );
}

#[test]
fn an_aggregate_side_takes_no_key_and_says_what_to_use() {
    assert_eq!(
        check_errors(
            "\
checks:
  - name: totals
    kind: aggregate
    schedule: '@daily'
    legacy: {table: APPT, key: [ID]}
    modern: {table: appointments}
    measures: {n: {fn: count}}
"
        ),
        ["checks/a.yaml:5:27: unknown field `key`, expected one of `table`, `where` (`key` is not used by an aggregate check: compare per group with `group_by`)"]
    );
}

#[test]
fn a_misspelt_own_field_is_told_its_kinds_fields() {
    let errors = check_errors(
        "\
checks:
  - name: rc
    kind: row_count
    schedule: '@hourly'
    legacy: {table: T}
    modern: {table: t}
    colums: {}
  - name: hd
    kind: hash_diff
    schedule: '@hourly'
    legacy: {table: T, key: [ID]}
    modern: {table: t, key: [id]}
    gracee: 1m
  - name: hs
    kind: hash_sample
    schedule: '@hourly'
    legacy: {table: T, key: [ID]}
    modern: {table: t, key: [id]}
    sampel: {size: 10}
  - name: lg
    kind: lag
    schedule: '@hourly'
    from: legacy
    to: modern
    legacy: {table: T, timestamp: TS}
    modern: {table: t, timestamp: ts}
    mdoe: watermark
  - name: ri
    kind: ref_integrity
    schedule: '@hourly'
    child: {system: legacy, table: APPT, column: PAT_ID}
    parnet: {system: modern, table: patients, column: id}
  - name: ag
    kind: aggregate
    schedule: '@daily'
    legacy: {table: APPT}
    modern: {table: appointments}
    measure: {n: {fn: count}}
",
    );
    let common = "`name`, `kind`, `description`, `schedule`, `timeout`, `thresholds`, `alert`";
    let systems = "or a system name (`legacy`, `modern`)";
    assert_eq!(
        errors,
        [
            format!("checks/a.yaml:7:5: unknown field `colums` in check `rc`, expected one of {common} {systems}"),
            format!("checks/a.yaml:13:5: unknown field `gracee` in check `hd`, expected one of {common}, `columns`, `key_names`, `key_types`, `grace`, `window`, `version` {systems} (did you mean `grace`?)"),
            format!("checks/a.yaml:19:5: unknown field `sampel` in check `hs`, expected one of {common}, `columns`, `key_names`, `key_types`, `sample` {systems} (did you mean `sample`?)"),
            format!("checks/a.yaml:27:5: unknown field `mdoe` in check `lg`, expected one of {common}, `mode`, `from`, `to`, `max_age`, `per_key` {systems} (did you mean `mode`?)"),
            format!("checks/a.yaml:32:5: unknown field `parnet` in check `ri`, expected one of {common}, `child`, `parent`, `types` {systems} (did you mean `parent`?)"),
            format!("checks/a.yaml:38:5: unknown field `measure` in check `ag`, expected one of {common}, `group_by`, `measures` {systems} (did you mean `measures`?)"),
        ]
    );
}

#[test]
fn a_sink_is_told_only_its_own_types_fields() {
    assert_eq!(
        sink_errors(
            "  team: {type: slack, url: https://hooks.example/x, timout: 3s, routing_key: rk}\n"
        ),
        [
            "driftwatch.yaml:8:53: unknown field `timout`, expected one of `type`, `url`, `timeout`, `deadline` (did you mean `timeout`?)",
            "driftwatch.yaml:8:65: unknown field `routing_key`, expected one of `type`, `url`, `timeout`, `deadline`",
        ]
    );
}

#[test]
fn a_pagerduty_sink_has_no_secret() {
    assert_eq!(
        sink_errors("  oncall: {type: pagerduty, routing_key: rk-123456, secret: s3cr3t}\n"),
        ["driftwatch.yaml:8:53: unknown field `secret`, expected one of `type`, `routing_key`, `url`, `timeout`, `deadline`"]
    );
}

#[test]
fn a_sink_without_a_type_or_of_an_unknown_type_says_which_there_are() {
    assert_eq!(
        sink_errors("  team: {url: https://hooks.example/x}\n  page: {type: pager}\n"),
        [
            "driftwatch.yaml:8:9: missing field `type`: say which kind of sink `team` is (available: pagerduty, slack, webhook)",
            "driftwatch.yaml:9:16: unknown sink type `pager` (available: pagerduty, slack, webhook)",
        ]
    );
}

#[test]
fn hash_diff_grace_must_end_before_the_timeout() {
    assert_eq!(
        check_errors(
            "\
checks:
  - name: content
    kind: hash_diff
    schedule: '@hourly'
    timeout: 1m
    legacy: {table: T, key: [ID]}
    modern: {table: t, key: [id]}
    grace: 5m
"
        ),
        ["checks/a.yaml:2:5: `grace` (5m) must be shorter than the check's `timeout` (1m) in check `content`: differences are re-checked within the run"]
    );
}

#[test]
fn every_bad_value_of_a_check_is_reported_in_one_pass() {
    assert_eq!(
        check_errors(
            "\
checks:
  - name: content
    kind: hash_diff
    schedule: '@hourly'
    timeout: [5m]
    legacy: {table: T, key: ID}
    modern: {table: t, key: [id]}
    key_names: id
    window: {column: updated_at}
"
        ),
        [
            "checks/a.yaml:5:14: invalid type: expected a string, found a list",
            "checks/a.yaml:6:29: invalid type: expected a list, found a string",
            "checks/a.yaml:8:16: invalid type: expected a list, found a string",
            "checks/a.yaml:9:13: missing field `since`",
        ]
    );
}

#[test]
fn each_kind_says_what_it_reads_on_each_side() {
    let f = with_check(
        "\
checks:
  - name: rows
    kind: row_count
    schedule: '@hourly'
    legacy: {table: PATIENT, where: \"ACTIVE_FLG = 'Y'\"}
    modern: {table: patients}
  - name: content
    kind: hash_diff
    schedule: '@hourly'
    legacy: {table: PATIENT, key: [PAT_ID]}
    modern: {table: patients, key: [id]}
    columns:
      last_name: {legacy: LAST_NM, modern: last_name}
  - name: sample
    kind: hash_sample
    schedule: '@hourly'
    legacy: {table: PATIENT, key: [PAT_ID]}
    modern: {table: patients, key: [id]}
  - name: lag
    kind: lag
    schedule: '@hourly'
    from: modern
    to: legacy
    legacy: {table: PATIENT, timestamp: UPD_TS}
    modern: {table: patients, timestamp: updated_at}
  - name: refs
    kind: ref_integrity
    schedule: '@hourly'
    child: {system: legacy, table: APPT, column: PAT_ID}
    parent: {system: modern, table: patients, column: id}
  - name: totals
    kind: aggregate
    schedule: '@daily'
    legacy: {table: APPT}
    modern: {table: appointments}
    group_by:
      day: {legacy: DATE(APPT_TS), modern: 'starts_at::date', type: date}
    measures:
      n: {fn: count}
      fees: {fn: sum, legacy: FEE, modern: fee}
",
    );
    let config = f.load(&[]).unwrap();
    // One line per side: kind, system, table, then what is read there.
    let reads: Vec<String> = config
        .checks
        .iter()
        .flat_map(|c| {
            c.expressions()
                .into_iter()
                .map(|(s, e)| format!("{} {} {}: {}", c.kind, s.system, s.table, e.join(", ")))
        })
        .collect();
    assert_eq!(
        reads,
        [
            "row_count legacy PATIENT: ",
            "row_count modern patients: ",
            "hash_diff legacy PATIENT: PAT_ID, LAST_NM",
            "hash_diff modern patients: id, last_name",
            "hash_sample legacy PATIENT: PAT_ID",
            "hash_sample modern patients: id",
            "lag legacy PATIENT: UPD_TS",
            "lag modern patients: updated_at",
            "ref_integrity legacy APPT: PAT_ID",
            "ref_integrity modern patients: id",
            "aggregate legacy APPT: DATE(APPT_TS), FEE",
            "aggregate modern appointments: starts_at::date, fee",
        ]
    );
    assert_eq!(config.checks[0].systems(), ["legacy", "modern"]);
    assert_eq!(
        config.checks[0].sides()[0].filter.as_deref(),
        Some("ACTIVE_FLG = 'Y'")
    );
}
