//! The versioned schema on real SQLite files: a new store, a store written before the schema
//! was versioned, a second opening, and stores this build must refuse.

use std::path::Path;

use chrono::TimeZone;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use super::*;
use crate::check::{Report, RowCountReport, Status, ThresholdsOut};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
}

fn run(name: &str) -> CheckRun {
    CheckRun {
        name: name.to_string(),
        kind: "row_count".into(),
        status: Status::Warning,
        started_at: t0(),
        duration_seconds: 0.0,
        outcome: Ok(Report::RowCount(RowCountReport {
            rows: vec![("legacy".into(), 100), ("modern".into(), 125)],
            row_count_difference: 25,
        })),
        thresholds: ThresholdsOut::default(),
    }
}

/// The row count difference a stored run reads back with.
fn difference(run: &CheckRun) -> Option<i64> {
    match &run.outcome {
        Ok(Report::RowCount(r)) => Some(r.row_count_difference),
        _ => None,
    }
}

/// A plain connection to the file, as another program would have (no migrations).
async fn raw(path: &Path) -> SqlitePool {
    SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true),
    )
    .await
    .unwrap()
}

/// Names of the tables and indexes in the file (SQLite's own excluded).
async fn schema(pool: &SqlitePool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT type, name FROM sqlite_master
         WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The versions recorded in `_sqlx_migrations`, with their checksums and install times.
async fn applied(pool: &SqlitePool) -> Vec<(i64, bool, Vec<u8>, String)> {
    sqlx::query_as(
        "SELECT version, success, checksum, CAST(installed_on AS TEXT)
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn expected_schema() -> Vec<(String, String)> {
    [
        ("index", "check_runs_by_check"),
        ("index", "outbox_pending"),
        ("table", "_sqlx_migrations"),
        ("table", "alert_state"),
        ("table", "check_runs"),
        ("table", "outbox"),
    ]
    .iter()
    .map(|(t, n)| (t.to_string(), n.to_string()))
    .collect()
}

#[tokio::test]
async fn a_new_store_gets_the_schema_and_records_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let state = State::open(&path).await.unwrap();
    state.record(&run("patients_rows")).await.unwrap();
    let latest = state.latest("patients_rows").await.unwrap().unwrap();
    assert_eq!(latest.name, "patients_rows");
    assert_eq!(latest.status, Status::Warning);
    assert_eq!(difference(&latest), Some(25));
    assert_eq!(schema(state.pool_for_tests()).await, expected_schema());
    let versions: Vec<i64> = applied(state.pool_for_tests())
        .await
        .into_iter()
        .map(|(v, ok, ..)| {
            assert!(ok, "migration {v} recorded as failed");
            v
        })
        .collect();
    let known: Vec<i64> = SQLITE_MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(versions, known);
    state.close().await;
}

/// The DDL `State::open` ran before the schema was versioned, copied as it was.
const UNVERSIONED_DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS check_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        check_name TEXT NOT NULL,
        started_at TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS check_runs_by_check ON check_runs (check_name, id)",
    "CREATE TABLE IF NOT EXISTS alert_state (
        check_name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sink TEXT NOT NULL,
        alert_key TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        done_at INTEGER,
        notification TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sink, status, alert_key, id)",
];

/// A store as the unversioned code left it: a run, an alert state and a queued notification.
async fn unversioned_store(path: &Path) {
    let pool = raw(path).await;
    for ddl in UNVERSIONED_DDL {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let old = run("patients_rows");
    sqlx::query(
        "INSERT INTO check_runs (check_name, started_at, status, result) VALUES (?, ?, ?, ?)",
    )
    .bind(&old.name)
    .bind(old.started_at.to_rfc3339())
    .bind(old.status.as_str())
    .bind(serde_json::to_string(&old).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO alert_state (check_name, state, updated_at) VALUES ('patients_rows', '{\"firing\":true}', 1)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO outbox (sink, alert_key, created_at, next_attempt_at, notification)
         VALUES ('team', 'patients_rows/row_count', 1, 1, '{}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn a_store_written_before_the_schema_was_versioned_opens_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    unversioned_store(&path).await;

    let state = State::open(&path).await.unwrap();
    let latest = state.latest("patients_rows").await.unwrap();
    assert_eq!(
        latest
            .map(|r| (difference(&r), r.name))
            .map(|(d, n)| (n, d)),
        Some(("patients_rows".to_string(), Some(25)))
    );
    assert_eq!(
        state.alert_states().await.unwrap(),
        vec![("patients_rows".to_string(), "{\"firing\":true}".to_string())]
    );
    let outbox = state.outbox_rows("team").await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].alert_key.as_str(), outbox[0].status.as_str()),
        ("patients_rows/row_count", "pending")
    );
    assert_eq!(schema(state.pool_for_tests()).await, expected_schema());
    let versions: Vec<i64> = applied(state.pool_for_tests())
        .await
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(versions, vec![1], "migration 1 adopts the old schema");
    // The adopted store keeps working: new rows go after the old ones.
    state.record(&run("patients_rows")).await.unwrap();
    assert_eq!(state.history("patients_rows", 10).await.unwrap().len(), 2);
    state.close().await;
}

#[tokio::test]
async fn opening_a_store_twice_does_not_run_its_migrations_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let first = State::open(&path).await.unwrap();
    first.record(&run("patients_rows")).await.unwrap();
    let before = applied(first.pool_for_tests()).await;
    first.close().await;

    let second = State::open(&path).await.unwrap();
    assert_eq!(
        applied(second.pool_for_tests()).await,
        before,
        "the same versions, checksums and install times"
    );
    assert_eq!(second.history("patients_rows", 10).await.unwrap().len(), 1);
    second.close().await;
}

/// Record a migration in the store as another build would have.
async fn record_foreign_migration(path: &Path, version: i64) {
    let pool = raw(path).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (?, 'from another build', TRUE, x'00', 0)",
    )
    .bind(version)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn a_store_from_a_newer_driftwatch_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    State::open(&path).await.unwrap().close().await;
    let newer = latest_known() + 1;
    record_foreign_migration(&path, newer).await;

    let e = State::open(&path)
        .await
        .err()
        .expect("a newer store is refused");
    assert!(
        matches!(e, StateError::Newer { found, known, .. } if found == newer && known == latest_known()),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "state store {}: it was written by a newer driftwatch (schema version {newer}; \
             this driftwatch knows versions up to {}); upgrade driftwatch or point `state:` \
             at another file",
            path.display(),
            latest_known()
        )
    );
}

#[tokio::test]
async fn a_store_whose_applied_migration_differs_from_this_builds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    State::open(&path).await.unwrap().close().await;
    let pool = raw(&path).await;
    sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let e = State::open(&path)
        .await
        .err()
        .expect("an edited migration is refused");
    let message = e.to_string();
    assert!(
        message.contains("migration 1 was previously applied but has been modified")
            && message.contains("restore it and add a new migration instead"),
        "{message}"
    );
}

/// The list the binary embeds is the folder's content: no file forgotten, none edited apart.
#[test]
fn every_migration_file_is_embedded_in_order() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/state/migrations/sqlite");
    let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let (version, rest) = name
                .split_once('_')
                .unwrap_or_else(|| panic!("{name}: expected NNNN_description.sql"));
            let description = rest
                .strip_suffix(".sql")
                .unwrap_or_else(|| panic!("{name}: expected NNNN_description.sql"))
                .replace('_', " ");
            let version = version
                .parse()
                .unwrap_or_else(|_| panic!("{name}: expected NNNN_description.sql"));
            (
                version,
                description,
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    let embedded: Vec<(i64, String, String)> = SQLITE_MIGRATIONS
        .iter()
        .map(|&(v, d, sql)| (v, d.to_string(), sql.to_string()))
        .collect();
    assert_eq!(
        embedded.iter().map(|m| (m.0, &m.1)).collect::<Vec<_>>(),
        files.iter().map(|m| (m.0, &m.1)).collect::<Vec<_>>(),
        "SQLITE_MIGRATIONS must list every file in {}, in order",
        folder.display()
    );
    assert_eq!(embedded, files);
    // Every migration runs inside the one transaction `migrate` opens.
    for (version, _, sql) in &files {
        assert!(
            !sql.starts_with("-- no-transaction"),
            "migration {version}: `-- no-transaction` is not supported"
        );
    }
    let versions: Vec<i64> = files.iter().map(|m| m.0).collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]) && versions.first() == Some(&1),
        "versions start at 1 and increase: {versions:?}"
    );
}
