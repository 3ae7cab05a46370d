//! `columns:` refines the columns both tables share instead of replacing them: a legacy table
//! (PascalCase names, MariaDB types) against its modern twin (snake_case, PostgreSQL types),
//! with the config a user writes first. Pinned: shared columns are matched by name with case
//! and `_` aside; an entry overrides one column and leaves the others compared; `exclude`
//! drops and `only` restricts; a table that is all key compares by key; every column problem
//! of a check is told at once.

use crate::common::{config_in, run_first_check, unique, Backend, Db, Seen};
use driftwatch::check::{RunOptions, Status};

/// A legacy and a modern invoice table, equal but for the listed changes; returns the
/// tables.
async fn invoices(legacy: &Db, modern: &Db) -> (String, String) {
    let (tl, tm) = (unique("col_inv_l"), unique("col_inv_m"));
    let legacy_ddl = match legacy.backend {
        Backend::MySql => format!(
            "CREATE TABLE {tl} (InvoiceId INT UNSIGNED PRIMARY KEY, CustomerId INT NOT NULL, \
             InvoiceDate DATETIME NOT NULL, BillingCity VARCHAR(40) CHARACTER SET utf8mb3, \
             Total DECIMAL(10,2) NOT NULL, Notes VARCHAR(200)) DEFAULT CHARSET=utf8mb4"
        ),
        _ => format!(
            "CREATE TABLE {tl} (InvoiceId INTEGER PRIMARY KEY, CustomerId INTEGER NOT NULL, \
             InvoiceDate DATETIME NOT NULL, BillingCity NVARCHAR(40), Total NUMERIC(10,2) NOT NULL, \
             Notes NVARCHAR(200))"
        ),
    };
    legacy.exec(&legacy_ddl).await;
    modern
        .exec(&format!(
            "CREATE TABLE {tm} (invoice_id BIGINT PRIMARY KEY, customer_id INTEGER NOT NULL, \
             invoice_date TIMESTAMP(0) NOT NULL, billing_city VARCHAR(40), total NUMERIC(12,2) NOT NULL, \
             notes TEXT)"
        ))
        .await;
    let rows: Vec<String> = (1..=40)
        .map(|i| {
            format!(
                "({i}, {}, '2024-0{}-1{} 10:00:00', 'City {i}', {}.{:02}, {})",
                i % 7,
                1 + i % 9,
                i % 10,
                i * 3,
                i % 100,
                if i % 4 == 0 {
                    "NULL".to_string()
                } else {
                    format!("'note {i}'")
                }
            )
        })
        .collect();
    let values = rows.join(", ");
    legacy
        .exec(&format!(
            "INSERT INTO {tl} (InvoiceId, CustomerId, InvoiceDate, BillingCity, Total, Notes) VALUES {values}"
        ))
        .await;
    modern
        .exec(&format!(
            "INSERT INTO {tm} (invoice_id, customer_id, invoice_date, billing_city, total, notes) VALUES {values}"
        ))
        .await;
    (tl, tm)
}

async fn check(legacy: &Db, tl: &str, modern: &Db, tm: &str, key: [&str; 2], extra: &str) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        &[
            (
                "driftwatch.yaml",
                &format!(
                    "systems:\n  legacy: {{url: \"{}\"}}\n  modern: {{url: \"{}\"}}\nchecks: [c.yaml]\n",
                    legacy.url, modern.url
                ),
            ),
            (
                "c.yaml",
                &format!(
                    "checks:\n  - name: refine\n    kind: hash_diff\n    schedule: '@hourly'\n    \
                     legacy: {{table: {tl}, key: [{}]}}\n    modern: {{table: {tm}, key: [{}]}}\n{extra}",
                    key[0], key[1]
                ),
            ),
        ],
    );
    run_first_check(
        &config,
        &RunOptions {
            samples: None,
            ..Default::default()
        },
    )
    .await
}

/// (key, kind, columns) of every listed difference.
fn found(run: &Seen) -> Vec<(i64, String, Vec<String>)> {
    run.samples
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|d| (d.key["invoice_id"].as_i64().unwrap(), d.kind, d.columns))
        .collect()
}

async fn refine(legacy_backend: Backend) {
    let (Some(legacy), Some(modern)) = (
        Db::connect(legacy_backend).await,
        Db::connect(Backend::Postgres).await,
    ) else {
        return;
    };
    let (tl, tm) = invoices(&legacy, &modern).await;
    let key = ["InvoiceId", "invoice_id"];

    // The first config: nothing declared. Every column pairs up by name, case and `_` aside.
    let run = check(&legacy, &tl, &modern, &tm, key, "").await;
    assert_eq!(run.error, None);
    assert_eq!(run.status, Status::Ok, "{:#?}", run.samples);

    modern
        .exec(&format!(
            "UPDATE {tm} SET billing_city = 'Elsewhere' WHERE invoice_id = 3"
        ))
        .await;
    modern
        .exec(&format!(
            "UPDATE {tm} SET notes = 'changed' WHERE invoice_id = 5"
        ))
        .await;
    modern
        .exec(&format!(
            "UPDATE {tm} SET total = total + 1 WHERE invoice_id = 7"
        ))
        .await;
    let all = check(&legacy, &tl, &modern, &tm, key, "").await;
    assert_eq!(all.error, None);
    assert_eq!(
        found(&all),
        [
            (3, "changed".into(), vec!["billing_city".to_string()]),
            (5, "changed".into(), vec!["notes".to_string()]),
            (7, "changed".into(), vec!["total".to_string()]),
        ]
    );

    // An entry overrides one column; the other shared columns are still compared (a partial
    // `columns:` used to compare only what it listed, and missed the other differences).
    let entry = check(
        &legacy,
        &tl,
        &modern,
        &tm,
        key,
        "    columns:\n      total: {type: number}\n",
    )
    .await;
    assert_eq!(entry.error, None);
    assert_eq!(found(&entry), found(&all));

    // `exclude` drops a column, `only` keeps the listed ones.
    let excluded = check(
        &legacy,
        &tl,
        &modern,
        &tm,
        key,
        "    columns:\n      exclude: [notes, BillingCity]\n",
    )
    .await;
    assert_eq!(excluded.error, None);
    assert_eq!(
        found(&excluded),
        [(7, "changed".into(), vec!["total".to_string()])]
    );
    let only = check(
        &legacy,
        &tl,
        &modern,
        &tm,
        key,
        "    columns:\n      only: [notes]\n",
    )
    .await;
    assert_eq!(only.error, None);
    assert_eq!(
        found(&only),
        [(5, "changed".into(), vec!["notes".to_string()])]
    );

    // A name that is no column is an error that lists what is compared.
    let unknown = check(
        &legacy,
        &tl,
        &modern,
        &tm,
        key,
        "    columns:\n      exclude: [nots]\n",
    )
    .await;
    let e = unknown.error.unwrap_or_default();
    assert!(
        e.contains("`exclude` names `nots`") && e.contains("`billing_city`"),
        "{e}"
    );
    legacy.drop_table(&tl).await;
    modern.drop_table(&tm).await;
}

stamp_tests! {
    refine;
    columns_refine_the_shared_ones_mariadb_vs_postgres: Backend::MySql;
    columns_refine_the_shared_ones_sqlite_vs_postgres: Backend::Sqlite;
}

/// A junction table (all key) compares by key: a missing pairing is found.
#[tokio::test]
async fn a_table_that_is_all_key_compares_by_key() {
    let (Some(legacy), Some(modern)) = (
        Db::connect(Backend::MySql).await,
        Db::connect(Backend::Postgres).await,
    ) else {
        return;
    };
    let (tl, tm) = (unique("col_pt_l"), unique("col_pt_m"));
    legacy
        .exec(&format!(
            "CREATE TABLE {tl} (PlaylistId INT NOT NULL, TrackId INT NOT NULL, PRIMARY KEY (PlaylistId, TrackId))"
        ))
        .await;
    modern
        .exec(&format!(
            "CREATE TABLE {tm} (playlist_id INTEGER NOT NULL, track_id INTEGER NOT NULL, PRIMARY KEY (playlist_id, track_id))"
        ))
        .await;
    let pairs: Vec<String> = (1..=30).map(|i| format!("({}, {i})", i % 4)).collect();
    for (db, t) in [(&legacy, &tl), (&modern, &tm)] {
        db.exec(&format!("INSERT INTO {t} VALUES {}", pairs.join(", ")))
            .await;
    }
    let key = "PlaylistId, TrackId";
    let key_m = "playlist_id, track_id";
    let run = check(&legacy, &tl, &modern, &tm, [key, key_m], "").await;
    assert_eq!(run.error, None);
    assert_eq!(run.status, Status::Ok);
    legacy
        .exec(&format!("DELETE FROM {tl} WHERE TrackId = 9"))
        .await;
    let run = check(&legacy, &tl, &modern, &tm, [key, key_m], "").await;
    assert_eq!(run.error, None);
    let samples = run.samples.clone().unwrap_or_default();
    assert_eq!(samples.len(), 1, "{samples:#?}");
    assert_eq!(samples[0].kind, "missing_in_legacy");
    assert_eq!(samples[0].key["track_id"], 9);
    legacy.drop_table(&tl).await;
    modern.drop_table(&tm).await;
}

/// Every column that cannot be compared is named in one error, with what to declare.
#[tokio::test]
async fn every_column_problem_is_told_at_once() {
    let (Some(legacy), Some(modern)) = (
        Db::connect(Backend::MySql).await,
        Db::connect(Backend::Postgres).await,
    ) else {
        return;
    };
    let (tl, tm) = (unique("col_bad_l"), unique("col_bad_m"));
    legacy
        .exec(&format!(
            "CREATE TABLE {tl} (id INT PRIMARY KEY, spot VARCHAR(40), words VARCHAR(40))"
        ))
        .await;
    modern
        .exec(&format!(
            "CREATE TABLE {tm} (id BIGINT PRIMARY KEY, spot POINT, words TSVECTOR)"
        ))
        .await;
    let run = check(&legacy, &tl, &modern, &tm, ["id", "id"], "").await;
    let e = run.error.unwrap_or_default();
    assert!(
        e.contains("column `spot`")
            && e.contains("column `words`")
            && e.contains("declare `type:`"),
        "{e}"
    );
    legacy.drop_table(&tl).await;
    modern.drop_table(&tm).await;
}
