//! `lag`, `ref_integrity` and `aggregate` against the real servers: a legacy MariaDB that
//! stores local time and a modern PostgreSQL.

use crate::common::Seen;
use driftwatch::check::{RunOptions, Status};

use crate::common::{config_in, unique, Backend, Db};

/// Run one check (YAML list item, indented by 2) with `legacy` = `a` read in `legacy_tz`
/// and `modern` = `b`.
async fn run_check(a: &Db, legacy_tz: &str, b: &Db, check: &str, samples: Option<usize>) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        &[
            (
                "driftwatch.yaml",
                &format!(
                    "systems:\n  legacy: {{url: \"{}\", timezone: {legacy_tz}}}\n  modern: {{url: \"{}\"}}\nchecks: [c.yaml]\n",
                    a.url, b.url
                ),
            ),
            ("c.yaml", &format!("checks:\n{check}")),
        ],
    );
    let options = RunOptions {
        samples,
        ..RunOptions::default()
    };
    crate::common::run_first_check(&config, &options).await
}

async fn pg_and_maria() -> Option<(Db, Db)> {
    let my = Db::connect(Backend::MySql).await?;
    let pg = Db::connect(Backend::Postgres).await?;
    Some((my, pg))
}

fn lag_check(from: &str, to: &str, my_where: &str, pg_where: &str, my: &str, pg: &str) -> String {
    format!(
        "  - name: patients_lag
    kind: lag
    schedule: '@hourly'
    from: {from}
    to: {to}
    legacy: {{table: {my}, timestamp: UPD_TS, where: \"{my_where}\"}}
    modern: {{table: {pg}, timestamp: updated_at, where: \"{pg_where}\"}}
    thresholds: {{warning: 60s, critical: 10m}}
"
    )
}

/// Modern (PostgreSQL `timestamptz`) holds a change at 10:00:00 UTC; legacy (MariaDB
/// `DATETIME` in Europe/Berlin local time, UTC+2 in July) has caught up to 11:58:25 local,
/// i.e. 09:58:25 UTC: 95 s behind.
async fn lag_tables(my: &Db, pg: &Db) -> (String, String) {
    let (tm, tp) = (unique("lag_legacy"), unique("lag_modern"));
    my.exec(&format!(
        "CREATE TABLE {tm} (PAT_ID INT PRIMARY KEY, UPD_TS DATETIME(6));
         INSERT INTO {tm} VALUES (1, '2026-07-15 09:00:00'), (2, '2026-07-15 11:58:25'), (3, NULL)"
    ))
    .await;
    pg.exec(&format!(
        "CREATE TABLE {tp} (id INT PRIMARY KEY, updated_at timestamptz);
         INSERT INTO {tp} VALUES (1, '2026-07-15 07:00:00+00'), (2, '2026-07-15 10:00:00+00'), (4, '2026-07-15 09:59:00+00')"
    ))
    .await;
    (tm, tp)
}

#[tokio::test]
async fn lag_of_a_local_time_mariadb_behind_postgres_is_95_seconds() {
    let Some((my, pg)) = pg_and_maria().await else {
        return;
    };
    let (tm, tp) = lag_tables(&my, &pg).await;
    let run = run_check(
        &my,
        "Europe/Berlin",
        &pg,
        &lag_check("modern", "legacy", "1=1", "true", &tm, &tp),
        None,
    )
    .await;
    assert_eq!(run.error, None);
    let lag = run.lag_seconds.expect("lag measured");
    assert!((lag - 95.0).abs() <= 1.0, "lag {lag}, expected 95 s");
    assert_eq!(
        run.status,
        Status::Warning,
        "95 s is above warning 60s, below critical 10m"
    );
    let report = run.lag.as_ref().unwrap();
    assert_eq!(
        (report.from.as_str(), report.to.as_str()),
        ("modern", "legacy")
    );
    assert_eq!(report.target_ahead_seconds, None);
    let json = serde_json::to_value(&run).unwrap();
    assert_eq!(json["lag"]["target_newest"], "2026-07-15T09:58:25.000Z");
    assert_eq!(json["lag"]["source_newest"], "2026-07-15T10:00:00.000Z");

    // The other direction: legacy is the source, so the target (modern) is ahead, not behind.
    let run2 = run_check(
        &my,
        "Europe/Berlin",
        &pg,
        &lag_check("legacy", "modern", "1=1", "true", &tm, &tp),
        None,
    )
    .await;
    assert_eq!(run2.error, None);
    assert_eq!(
        run2.lag_seconds,
        Some(0.0),
        "a target ahead of its source is not behind"
    );
    let ahead = run2.lag.as_ref().unwrap().target_ahead_seconds.unwrap();
    assert!((ahead - 95.0).abs() <= 1.0, "ahead by {ahead}");
    assert_eq!(run2.status, Status::Ok);
    my.exec(&format!("DROP TABLE {tm}")).await;
    pg.exec(&format!("DROP TABLE {tp}")).await;
}

#[tokio::test]
async fn lag_with_an_empty_side_says_so_instead_of_a_number() {
    let Some((my, pg)) = pg_and_maria().await else {
        return;
    };
    let (tm, tp) = lag_tables(&my, &pg).await;
    // The target has no rows: nothing has arrived. No number, and the worst status.
    let run1 = run_check(
        &my,
        "Europe/Berlin",
        &pg,
        &lag_check("modern", "legacy", "1=0", "true", &tm, &tp),
        None,
    )
    .await;
    assert_eq!(run1.error, None);
    assert_eq!(run1.lag_seconds, None);
    assert_eq!(run1.lag.as_ref().unwrap().empty, vec!["legacy".to_string()]);
    assert_eq!(run1.status, Status::Critical);
    let json = serde_json::to_value(&run1).unwrap();
    assert!(
        json["lag"]["note"].as_str().unwrap().contains("no rows"),
        "{json}"
    );
    // The source has no rows: nothing to sync, lag 0.
    let run2 = run_check(
        &my,
        "Europe/Berlin",
        &pg,
        &lag_check("modern", "legacy", "1=1", "false", &tm, &tp),
        None,
    )
    .await;
    assert_eq!(run2.error, None);
    assert_eq!(run2.lag_seconds, Some(0.0));
    assert_eq!(run2.lag.as_ref().unwrap().empty, vec!["modern".to_string()]);
    assert_eq!(run2.status, Status::Ok);
    my.exec(&format!("DROP TABLE {tm}")).await;
    pg.exec(&format!("DROP TABLE {tp}")).await;
}

#[tokio::test]
async fn heartbeat_lag_and_a_stopped_heartbeat_writer() {
    let Some((my, pg)) = pg_and_maria().await else {
        return;
    };
    let (tm, tp) = (unique("hb_legacy"), unique("hb_modern"));
    // The writer updates modern's heartbeat; the sync copies it to legacy (local time) 30 s late.
    pg.exec(&format!(
        "CREATE TABLE {tp} (id INT PRIMARY KEY, ts timestamptz);
         INSERT INTO {tp} VALUES (1, now() - interval '1 second')"
    ))
    .await;
    my.exec(&format!(
        "CREATE TABLE {tm} (id INT PRIMARY KEY, ts DATETIME(6));
         INSERT INTO {tm} VALUES (1, UTC_TIMESTAMP(6) - INTERVAL 31 SECOND)"
    ))
    .await;
    let check = |max_age: &str| {
        format!(
            "  - name: hb
    kind: lag
    mode: heartbeat
    max_age: {max_age}
    schedule: '@hourly'
    from: modern
    to: legacy
    legacy: {{table: {tm}, timestamp: ts, where: 'id = 1'}}
    modern: {{table: {tp}, timestamp: ts, where: 'id = 1'}}
    thresholds: {{warning: 20s, critical: 5m}}
"
        )
    };
    let r = run_check(&my, "UTC", &pg, &check("5m"), None).await;
    assert_eq!(r.error, None);
    let lag = r.lag_seconds.unwrap();
    assert!((lag - 30.0).abs() <= 1.5, "heartbeat lag {lag}");
    assert_eq!(r.status, Status::Warning);
    assert!(r.lag.as_ref().unwrap().heartbeat_age_seconds.unwrap() < 60.0);
    // The writer stopped an hour ago: lag cannot be measured, which is an error, not ok.
    pg.exec(&format!("UPDATE {tp} SET ts = now() - interval '1 hour'"))
        .await;
    let r = run_check(&my, "UTC", &pg, &check("5m"), None).await;
    assert_eq!(r.status, Status::Error);
    let e = r.error.unwrap();
    assert!(e.contains("heartbeat") && e.contains("max_age"), "{e}");
    my.exec(&format!("DROP TABLE {tm}")).await;
    pg.exec(&format!("DROP TABLE {tp}")).await;
}

#[tokio::test]
async fn per_key_lag_reports_propagation_quantiles_and_pending_keys() {
    let Some((my, pg)) = pg_and_maria().await else {
        return;
    };
    let (src, tgt) = (unique("pk_src"), unique("pk_tgt"));
    // Ten keys changed on modern 10 minutes ago (+i s); legacy (UTC here) received keys 1..8
    // i seconds after their change, holds an older version of key 9 and lacks key 10.
    pg.exec(&format!(
        "CREATE TABLE {src} (id INT PRIMARY KEY, updated_at timestamptz);
         INSERT INTO {src} SELECT i, now() - interval '10 minutes' + i * interval '1 second' FROM generate_series(1, 10) i;
         INSERT INTO {src} VALUES (11, now() - interval '3 hours')"
    ))
    .await;
    my.exec(&format!(
        "CREATE TABLE {tgt} (id INT PRIMARY KEY, synced_at DATETIME(6))"
    ))
    .await;
    let rows: Vec<(i64, String)> = {
        let mut out = Vec::new();
        for i in 1..=10i64 {
            let ts: String = pg_text(&pg, &format!("SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM {src} WHERE id = {i}")).await;
            out.push((i, ts));
        }
        out
    };
    for (i, ts) in &rows {
        let stmt = match i {
            1..=8 => {
                format!("INSERT INTO {tgt} VALUES ({i}, TIMESTAMP '{ts}' + INTERVAL {i} SECOND)")
            }
            9 => format!("INSERT INTO {tgt} VALUES ({i}, TIMESTAMP '{ts}' - INTERVAL 1 HOUR)"),
            _ => continue,
        };
        my.exec(&stmt).await;
    }
    let check = format!(
        "  - name: pk
    kind: lag
    mode: per_key
    per_key: {{size: 100, window: 1h}}
    schedule: '@hourly'
    from: modern
    to: legacy
    legacy: {{table: {tgt}, timestamp: synced_at, key: [id]}}
    modern: {{table: {src}, timestamp: updated_at, key: [id]}}
    thresholds: {{warning: 60s, critical: 1h}}
"
    );
    let r = run_check(&my, "UTC", &pg, &check, None).await;
    assert_eq!(r.error, None);
    let report = r.lag.as_ref().unwrap();
    assert_eq!(report.keys, Some(10), "key 11 changed outside the window");
    assert_eq!(
        report.pending,
        Some(2),
        "key 9 (older version) and key 10 (missing)"
    );
    let q = report.quantiles.unwrap();
    assert!((q.p50 - 5.0).abs() < 0.01, "p50 {}", q.p50);
    assert!(q.max >= 589.0 && q.max < 700.0, "max {}", q.max);
    assert_eq!(r.lag_seconds, Some(q.max));
    assert_eq!(r.status, Status::Warning);
    pg.exec(&format!("DROP TABLE {src}")).await;
    my.exec(&format!("DROP TABLE {tgt}")).await;
}

async fn pg_text(pg: &Db, sql: &str) -> String {
    let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let v: String = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    v
}

/// Children on modern (PostgreSQL) referencing parents on legacy (MariaDB), with a
/// composite reference (clinic code, patient number) whose clinic codes differ only in case.
async fn ref_tables(my: &Db, pg: &Db) -> (String, String) {
    let (parents, children) = (unique("ri_parent"), unique("ri_child"));
    my.exec(&format!(
        "CREATE TABLE {parents} (clinic VARCHAR(8) COLLATE utf8mb4_general_ci, pat INT, active CHAR(1), PRIMARY KEY (clinic, pat));
         INSERT INTO {parents} SELECT 'a', seq, IF(seq % 50 = 0, 'N', 'Y') FROM seq_1_to_300;
         INSERT INTO {parents} SELECT 'B', seq, 'Y' FROM seq_1_to_300"
    ))
    .await;
    // 3000 children: clinic 'a'/'B' alternating, patient 1..320 (21..20 above 300 orphaned),
    // every 7th with a NULL patient (skipped), and 5 children of clinic 'A' (upper case: no
    // such clinic, byte for byte).
    pg.exec(&format!(
        "CREATE TABLE {children} (id INT PRIMARY KEY, clinic TEXT, pat INT);
         INSERT INTO {children} SELECT i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'B' END,
             CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + i % 320 END FROM generate_series(1, 3000) i;
         INSERT INTO {children} VALUES (100001, 'A', 5), (100002, 'A', 5), (100003, 'A', 6), (100004, 'A', 7), (100005, 'A', 8)"
    ))
    .await;
    (parents, children)
}

async fn expected_orphans(pg: &Db, children: &str, parent_ok: &str) -> i64 {
    pg.scalar_i64(&format!(
        "SELECT COUNT(*) FROM {children} WHERE pat IS NOT NULL AND clinic IS NOT NULL AND NOT ({parent_ok})"
    ))
    .await
}

#[tokio::test]
async fn ref_integrity_across_systems_finds_exactly_the_orphans() {
    let Some((my, pg)) = pg_and_maria().await else {
        return;
    };
    let (parents, children) = ref_tables(&my, &pg).await;
    let check = |parent_where: &str| {
        format!(
            "  - name: appts_have_patients
    kind: ref_integrity
    schedule: '@hourly'
    child:  {{system: modern, table: {children}, columns: [clinic, pat]}}
    parent: {{system: legacy, table: {parents}, columns: [clinic, pat]{parent_where}}}
    thresholds: {{warning: 1, critical: 1000}}
"
        )
    };
    let r = run_check(&my, "UTC", &pg, &check(""), Some(1000)).await;
    assert_eq!(r.error, None);
    let want = expected_orphans(
        &pg,
        &children,
        "clinic IN ('a', 'B') AND pat BETWEEN 1 AND 300",
    )
    .await;
    assert_eq!(r.orphans, Some(want as u64));
    assert!(want > 5);
    let samples = r.samples.as_ref().unwrap();
    let listed: u64 = samples.iter().map(|s| s.rows.unwrap()).sum();
    assert_eq!(listed, want as u64, "every orphan key listed with its rows");
    assert!(samples
        .iter()
        .any(|s| s.key["clinic"] == "A" && s.key["pat"] == 5 && s.rows == Some(2)));
    assert!(samples.iter().all(|s| s.kind == "orphan"));
    assert!(
        samples.iter().all(|s| s.key["pat"].is_i64()),
        "keys keep their type"
    );
    assert_eq!(r.status, Status::Warning);
    // `where` on the parent: inactive patients do not count as parents.
    let r = run_check(
        &my,
        "UTC",
        &pg,
        &check(", where: \"active = 'Y'\""),
        Some(20),
    )
    .await;
    let want = expected_orphans(
        &pg,
        &children,
        "clinic IN ('a', 'B') AND pat BETWEEN 1 AND 300 AND NOT (clinic = 'a' AND pat % 50 = 0)",
    )
    .await;
    assert_eq!(r.error, None);
    assert_eq!(r.orphans, Some(want as u64));
    assert_eq!(
        r.samples.as_ref().unwrap().len(),
        20,
        "samples capped at 20 by default"
    );
    my.exec(&format!("DROP TABLE {parents}")).await;
    pg.exec(&format!("DROP TABLE {children}")).await;
}

#[tokio::test]
async fn ref_integrity_on_one_system_is_an_anti_join_on_each_engine() {
    let Some((my, pg)) = pg_and_maria().await else {
        return;
    };
    for db in [&pg, &my] {
        let (p, c) = (unique("ri_p"), unique("ri_c"));
        db.exec(&format!(
            "CREATE TABLE {p} (id INT PRIMARY KEY);
             INSERT INTO {p} VALUES (1), (2), (3);
             CREATE TABLE {c} (id INT PRIMARY KEY, pid INT, kind CHAR(1));
             INSERT INTO {c} VALUES (1, 1, 'x'), (2, 2, 'x'), (3, 4, 'x'), (4, 4, 'y'), (5, NULL, 'x'), (6, 9, 'x'), (7, 9, 'z')"
        ))
        .await;
        let system = if db.backend == Backend::Postgres {
            "modern"
        } else {
            "legacy"
        };
        let check = format!(
            "  - name: local_ref
    kind: ref_integrity
    schedule: '@hourly'
    child:  {{system: {system}, table: {c}, column: pid, where: \"kind <> 'z'\"}}
    parent: {{system: {system}, table: {p}, column: id}}
"
        );
        let r = run_check(&my, "UTC", &pg, &check, None).await;
        assert_eq!(r.error, None, "{:?}", db.backend);
        assert_eq!(
            r.orphans,
            Some(3),
            "{:?}: pid 4 twice, pid 9 once (the `z` row is filtered out, NULL skipped)",
            db.backend
        );
        let samples = r.samples.unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(
            (samples[0].key["pid"].as_i64(), samples[0].rows),
            (Some(4), Some(2))
        );
        assert_eq!(
            (samples[1].key["pid"].as_i64(), samples[1].rows),
            (Some(9), Some(1))
        );
        db.exec(&format!("DROP TABLE {c}")).await;
        db.exec(&format!("DROP TABLE {p}")).await;
    }
}

#[tokio::test]
async fn aggregate_by_day_over_a_year_reports_exactly_the_altered_days() {
    let Some((my, pg)) = pg_and_maria().await else {
        return;
    };
    let (tm, tp) = (unique("agg_legacy"), unique("agg_modern"));
    // Three appointments a day through 2025; legacy stores cents and local time (UTC here
    // to keep days aligned), modern decimals.
    my.exec(&format!(
        "CREATE TABLE {tm} (APPT_ID INT PRIMARY KEY, APPT_TS DATETIME, FEE_CENTS INT, STATUS_CD VARCHAR(10));
         INSERT INTO {tm} SELECT seq, TIMESTAMP '2025-01-01 08:00:00' + INTERVAL (seq DIV 3) DAY + INTERVAL (seq % 3) HOUR,
             1000 + seq % 997, ELT(1 + seq % 3, 'done', 'cancelled', 'Scheduled') FROM seq_0_to_1094"
    ))
    .await;
    pg.exec(&format!(
        "CREATE TABLE {tp} (id INT PRIMARY KEY, starts_at timestamptz, fee NUMERIC(10,2), status TEXT);
         INSERT INTO {tp} SELECT s, TIMESTAMPTZ '2025-01-01 08:00:00+00' + (s / 3) * interval '1 day' + (s % 3) * interval '1 hour',
             (1000 + s % 997) / 100.0, (ARRAY['done', 'cancelled', 'Scheduled'])[1 + s % 3] FROM generate_series(0, 1094) s"
    ))
    .await;
    let check = format!(
        "  - name: appts_per_day
    kind: aggregate
    schedule: '@hourly'
    legacy: {{table: {tm}}}
    modern: {{table: {tp}}}
    group_by:
      day: {{legacy: DATE(APPT_TS), modern: \"CAST(starts_at AT TIME ZONE 'UTC' AS DATE)\", type: date}}
    measures:
      appointments: {{fn: count}}
      fees: {{fn: sum, legacy: FEE_CENTS / 100, modern: fee, type: \"decimal(2)\", tolerance: 0.01}}
      last_status: {{fn: max, legacy: STATUS_CD, modern: status, type: text}}
"
    );
    let r = run_check(&my, "UTC", &pg, &check, Some(100)).await;
    assert_eq!(r.error, None);
    assert_eq!(r.status, Status::Ok, "equal data: {:?}", r.samples);
    assert_eq!(
        r.groups.as_ref().unwrap().seen,
        vec![("legacy".to_string(), 365), ("modern".to_string(), 365)]
    );

    // Alter four days on legacy: a fee off by 2.50 (beyond the tolerance), one off by 0.01
    // (within it: not reported), a deleted appointment, a status that sorts last, and a new day.
    my.exec(&format!(
        "UPDATE {tm} SET FEE_CENTS = FEE_CENTS + 250 WHERE APPT_ID = 30;
         UPDATE {tm} SET FEE_CENTS = FEE_CENTS + 1 WHERE APPT_ID = 60;
         DELETE FROM {tm} WHERE APPT_ID = 301;
         UPDATE {tm} SET STATUS_CD = 'zz-unknown' WHERE APPT_ID = 901;
         INSERT INTO {tm} VALUES (5000, '2026-03-01 09:00:00', 500, 'done')"
    ))
    .await;
    let r = run_check(&my, "UTC", &pg, &check, Some(100)).await;
    assert_eq!(r.error, None);
    let samples = r.samples.as_ref().unwrap();
    let days: Vec<(&str, &str)> = samples
        .iter()
        .map(|s| (s.key["day"].as_str().unwrap(), s.kind.as_str()))
        .collect();
    assert_eq!(
        days,
        vec![
            ("2025-01-11", "changed"),
            ("2025-04-11", "changed"),
            ("2025-10-28", "changed"),
            ("2026-03-01", "missing_in_modern"),
        ],
        "{samples:#?}"
    );
    assert_eq!(samples[0].columns, vec!["fees"]);
    assert_eq!(samples[0].delta.as_ref().unwrap()["fees"], "-2.50");
    assert_eq!(samples[1].columns, vec!["appointments", "fees"]);
    assert_eq!(samples[1].delta.as_ref().unwrap()["appointments"], 1);
    assert_eq!(samples[2].columns, vec!["last_status"]);
    assert_eq!(r.groups.as_ref().unwrap().differing, 4);
    assert_eq!(r.status, Status::Warning);
    my.exec(&format!("DROP TABLE {tm}")).await;
    pg.exec(&format!("DROP TABLE {tp}")).await;
}
