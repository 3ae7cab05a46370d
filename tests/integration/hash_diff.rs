//! `hash_diff` against real engines in every pairing: equal data compares equal, and every
//! injected difference is found and classified.

use std::sync::Arc;

use crate::common::Seen;
use driftwatch::check::{RunOptions, Status};

use crate::common::{config_in, unique, Backend, Db};

/// One row of the test table; `None` is NULL.
#[derive(Clone)]
struct Row {
    id: i64,
    amount: &'static str,
    name: Option<String>,
    updated_at: String,
    flag: bool,
}

const NAMES: &[&str] = &[
    "Zoë",
    "O'Brien",
    "",
    "trailing ",
    "a|b",
    "😀 emoji",
    "e\u{301}",
    "NULL",
    "N",
    "plain",
];

fn rows(n: i64) -> Vec<Row> {
    (1..=n)
        .map(|i| Row {
            id: i * 10,
            amount: ["0.00", "12.30", "-5.55", "99999.99", "0.10", "1234.50"][(i % 6) as usize],
            name: if i % 11 == 0 {
                None
            } else {
                Some(NAMES[(i % NAMES.len() as i64) as usize].to_string())
            },
            updated_at: format!(
                "2026-0{}-1{} 0{}:1{}:2{}.{:06}",
                1 + i % 9,
                i % 10,
                i % 10,
                i % 6,
                i % 10,
                (i * 7919) % 1_000_000
            ),
            flag: i % 3 == 0,
        })
        .collect()
}

fn literal(db: &Db, r: &Row) -> String {
    let text = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let name = r.name.as_deref().map(text).unwrap_or_else(|| "NULL".into());
    let flag = match db.backend {
        Backend::Postgres => r.flag.to_string(),
        _ => i32::from(r.flag).to_string(),
    };
    let amount = match db.backend {
        Backend::Sqlite => text(r.amount),
        _ => r.amount.to_string(),
    };
    format!(
        "({}, {amount}, {name}, {}, {flag})",
        r.id,
        text(&r.updated_at)
    )
}

async fn load(db: &Db, prefix: &str, data: &[Row]) -> String {
    let t = unique(prefix);
    let ddl = match db.backend {
        Backend::Postgres => "id BIGINT PRIMARY KEY, amount NUMERIC(12,2), name TEXT, updated_at TIMESTAMP(6), flag BOOLEAN",
        Backend::MySql => "id BIGINT PRIMARY KEY, amount DECIMAL(12,2), name VARCHAR(100) CHARACTER SET utf8mb4, updated_at DATETIME(6), flag BOOLEAN",
        Backend::Sqlite => "id INTEGER PRIMARY KEY, amount TEXT, name TEXT, updated_at TEXT, flag INTEGER",
    };
    db.exec(&format!("CREATE TABLE {t} ({ddl})")).await;
    for chunk in data.chunks(500) {
        let values: Vec<String> = chunk.iter().map(|r| literal(db, r)).collect();
        db.exec(&format!(
            "INSERT INTO {t} (id, amount, name, updated_at, flag) VALUES {}",
            values.join(", ")
        ))
        .await;
    }
    t
}

async fn hash_diff(a: &Db, ta: &str, b: &Db, tb: &str, columns: &str, extra: &str) -> Seen {
    let options = RunOptions {
        samples: None,
        ..Default::default()
    };
    hash_diff_with(a, ta, b, tb, columns, extra, &options).await
}

async fn hash_diff_with(
    a: &Db,
    ta: &str,
    b: &Db,
    tb: &str,
    columns: &str,
    extra: &str,
    options: &RunOptions,
) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        &[
            (
                "driftwatch.yaml",
                &format!(
                    "systems:\n  alpha: {{url: \"{}\"}}\n  beta: {{url: \"{}\"}}\nchecks: [c.yaml]\n",
                    a.url, b.url
                ),
            ),
            (
                "c.yaml",
                &format!(
                    "checks:\n  - name: content\n    kind: hash_diff\n    schedule: '@hourly'\n    alpha: {{table: {ta}, key: [id]}}\n    beta: {{table: {tb}, key: [id]}}\n{columns}{extra}"
                ),
            ),
        ],
    );
    crate::common::run_first_check(&config, options).await
}

const TYPED: &str = "    columns:
      amount: {alpha: amount, beta: amount, type: \"decimal(2)\"}
      name: {alpha: name, beta: name, type: text}
      updated_at: {alpha: updated_at, beta: updated_at, type: \"timestamp(6)\"}
      flag: {alpha: flag, beta: flag, type: bool}
";

async fn pairing(ba: Backend, bb: Backend) {
    let (Some(a), Some(b)) = (Db::connect(ba).await, Db::connect(bb).await) else {
        return;
    };
    let data = rows(700);
    let ta = load(&a, "hd_a", &data).await;
    let tb = load(&b, "hd_b", &data).await;

    let run = hash_diff(&a, &ta, &b, &tb, TYPED, "").await;
    assert_eq!(run.error, None);
    assert_eq!(
        run.status,
        Status::Ok,
        "{ba:?} vs {bb:?}: equal data must compare equal: {:#?}",
        run.samples
    );
    assert_eq!(
        run.rows,
        vec![("alpha".to_string(), 700), ("beta".to_string(), 700)]
    );

    // One of each kind of difference, on the beta side.
    let bool_lit = |v: bool| {
        if bb == Backend::Postgres {
            v.to_string()
        } else {
            i32::from(v).to_string()
        }
    };
    let dec = |v: &str| {
        if bb == Backend::Sqlite {
            format!("'{v}'")
        } else {
            v.to_string()
        }
    };
    b.exec(&format!(
        "UPDATE {tb} SET amount = {} WHERE id = 50",
        dec("12.31")
    ))
    .await;
    b.exec(&format!("UPDATE {tb} SET name = NULL WHERE id = 70"))
        .await;
    b.exec(&format!("UPDATE {tb} SET name = '' WHERE id = 110"))
        .await; // NULL -> ''
    b.exec(&format!(
        "UPDATE {tb} SET updated_at = '2026-01-12 02:13:22.000001' WHERE id = 130"
    ))
    .await;
    b.exec(&format!(
        "UPDATE {tb} SET flag = {} WHERE id = 30",
        bool_lit(false)
    ))
    .await;
    b.exec(&format!("UPDATE {tb} SET name = 'trailing' WHERE id = 40"))
        .await; // 'trailing ' lost its space
    b.exec(&format!("DELETE FROM {tb} WHERE id IN (20, 6990)"))
        .await;
    b.exec(&format!("INSERT INTO {tb} (id, amount, name, updated_at, flag) VALUES (7005, {}, 'new', '2026-11-21 10:00:00', {})", dec("1.00"), bool_lit(true))).await;

    let run = hash_diff(&a, &ta, &b, &tb, TYPED, "").await;
    assert_eq!(run.error, None);
    let d = run.differences.as_ref().unwrap();
    assert_eq!(
        d.missing,
        vec![("alpha".to_string(), 1), ("beta".to_string(), 2)],
        "{ba:?} vs {bb:?}"
    );
    assert_eq!(d.changed, 6, "{ba:?} vs {bb:?}: {:#?}", run.samples);
    let samples = run.samples.as_ref().unwrap();
    let find = |id: i64| {
        samples
            .iter()
            .find(|s| s.key["id"] == id)
            .unwrap_or_else(|| panic!("no sample for {id}: {samples:#?}"))
    };
    assert_eq!(find(20).kind, "missing_in_beta");
    assert_eq!(find(6990).kind, "missing_in_beta");
    assert_eq!(find(7005).kind, "missing_in_alpha");
    for (id, col) in [
        (50, "amount"),
        (70, "name"),
        (110, "name"),
        (130, "updated_at"),
        (30, "flag"),
        (40, "name"),
    ] {
        let s = find(id);
        assert_eq!(s.kind, "changed", "{id}");
        assert_eq!(
            s.columns,
            vec![col.to_string()],
            "{ba:?} vs {bb:?} id {id}: {s:?}"
        );
    }
    let v = find(50).values.clone().unwrap();
    assert_eq!(v["alpha"]["amount"], "1234.50");
    assert_eq!(v["beta"]["amount"], "12.31");
    let v = find(110).values.clone().unwrap();
    assert_eq!(v["alpha"]["name"], serde_json::Value::Null);
    assert_eq!(v["beta"]["name"], "");
    assert_eq!(
        run.status,
        Status::Warning,
        "without thresholds any difference warns"
    );
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

stamp_tests! {
    pairing;
    postgres_vs_mariadb: Backend::Postgres, Backend::MySql;
    mariadb_vs_postgres: Backend::MySql, Backend::Postgres;
    postgres_vs_sqlite: Backend::Postgres, Backend::Sqlite;
    sqlite_vs_mariadb: Backend::Sqlite, Backend::MySql;
    postgres_vs_postgres: Backend::Postgres, Backend::Postgres;
}

#[tokio::test]
async fn types_are_inferred_between_servers() {
    let (Some(a), Some(b)) = (
        Db::connect(Backend::Postgres).await,
        Db::connect(Backend::MySql).await,
    ) else {
        return;
    };
    let data = rows(50);
    let ta = load(&a, "hd_infer", &data).await;
    let tb = load(&b, "hd_infer", &data).await;
    // Decimals need a declared scale; everything else is inferred.
    let run = hash_diff(&a, &ta, &b, &tb, "    columns:\n      amount: {alpha: amount, beta: amount, type: \"decimal(2)\"}\n      name: {alpha: name, beta: name}\n      updated_at: {alpha: updated_at, beta: updated_at}\n      flag: {alpha: flag, beta: flag}\n", "").await;
    assert_eq!(run.error, None);
    assert_eq!(run.status, Status::Ok, "{:#?}", run.samples);
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

#[tokio::test]
async fn tiny_empty_and_sparse_tables() {
    let (Some(a), Some(b)) = (
        Db::connect(Backend::Postgres).await,
        Db::connect(Backend::MySql).await,
    ) else {
        return;
    };
    for n in [0, 1, 10] {
        let data = rows(n);
        let ta = load(&a, "hd_small", &data).await;
        let tb = load(&b, "hd_small", &data).await;
        let run = hash_diff(&a, &ta, &b, &tb, TYPED, "").await;
        assert_eq!(run.error, None, "{n} rows");
        assert_eq!(run.status, Status::Ok, "{n} rows: {:#?}", run.samples);
        assert_eq!(run.differences.as_ref().unwrap().changed, 0);
        a.drop_table(&ta).await;
        b.drop_table(&tb).await;
    }
    // Sparse keys with huge gaps, one row deleted far out.
    let mut data = rows(3000);
    for (i, r) in data.iter_mut().enumerate() {
        r.id = (i as i64).pow(3) * 1000 - 5_000_000_000;
    }
    let ta = load(&a, "hd_sparse", &data).await;
    let tb = load(&b, "hd_sparse", &data).await;
    let far = data[2990].id;
    b.exec(&format!("DELETE FROM {tb} WHERE id = {far}")).await;
    let run = hash_diff(&a, &ta, &b, &tb, TYPED, "").await;
    assert_eq!(run.error, None);
    let samples = run.samples.unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].key["id"], far);
    assert_eq!(samples[0].kind, "missing_in_beta");
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

/// On `b`'s copy: change the amount of `changed`, delete `deleted`, insert `inserted` (with
/// `flag` as the flag literal); then a diff finds exactly those, classified.
async fn inject_and_find(
    (a, ta): (&Db, &str),
    (b, tb): (&Db, &str),
    mut changed: Vec<i64>,
    deleted: &[i64],
    inserted: Vec<i64>,
    flag: &str,
) -> Seen {
    let list = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    b.exec(&format!(
        "UPDATE {tb} SET amount = amount + 1 WHERE id IN ({})",
        list(&changed)
    ))
    .await;
    b.exec(&format!("DELETE FROM {tb} WHERE id IN ({})", list(deleted)))
        .await;
    let values: Vec<String> = inserted
        .iter()
        .map(|id| format!("({id}, 1.00, 'x', '2026-01-01 00:00:00', {flag})"))
        .collect();
    b.exec(&format!(
        "INSERT INTO {tb} (id, amount, name, updated_at, flag) VALUES {}",
        values.join(",")
    ))
    .await;
    let run = hash_diff(a, ta, b, tb, TYPED, "").await;
    assert_eq!(run.error, None);
    let samples = run.samples.clone().unwrap();
    let of = |kind: &str| {
        let mut ids: Vec<i64> = samples
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.key["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    changed.sort_unstable();
    let mut deleted = deleted.to_vec();
    deleted.sort_unstable();
    assert_eq!(of("changed"), changed);
    assert_eq!(of("missing_in_beta"), deleted);
    let mut inserted = inserted;
    inserted.sort_unstable();
    assert_eq!(of("missing_in_alpha"), inserted);
    run
}

/// Differences on segment boundaries, past the last key, and clustered in one segment (so
/// buckets of one segment reach the leaves at different depths) are all found.
#[tokio::test]
async fn differences_at_segment_edges_and_in_clusters() {
    let (Some(a), Some(b)) = (
        Db::connect(Backend::Postgres).await,
        Db::connect(Backend::MySql).await,
    ) else {
        return;
    };
    let data = rows(9000); // ids 10..=90000; segments of 2000 rows start at ids 20010, 40010...
    let ta = load(&a, "hd_edges", &data).await;
    let tb = load(&b, "hd_edges", &data).await;
    let mut changed = vec![20000, 20010, 40000, 40010, 60010, 80010, 10, 90000];
    changed.extend((0..40).map(|i| 50_000 + i * 30)); // a cluster of 40 in one segment
    let inserted: Vec<i64> = (1..=30).map(|i| 90_000 + i * 7).collect();
    let run = inject_and_find(
        (&a, &ta),
        (&b, &tb),
        changed,
        &[30010, 70000, 90000 - 10],
        inserted,
        "1",
    )
    .await;
    let load = &run.load;
    assert!(
        load.iter().all(|(_, l)| l.rows < 9000),
        "rows transferred: {load:?}"
    );
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

/// The same for a dense integer key, which is cut into blocks of consecutive values: block
/// edges, keys below the first and past the last, and a cluster in one block.
#[tokio::test]
async fn dense_keys_differences_at_block_edges_and_in_clusters() {
    let (Some(a), Some(b)) = (
        Db::connect(Backend::MySql).await,
        Db::connect(Backend::Postgres).await,
    ) else {
        return;
    };
    let mut data = rows(20_000);
    for (i, r) in data.iter_mut().enumerate() {
        r.id = i as i64 + 1; // 1..=20000, dense
    }
    let ta = load(&a, "hd_dense", &data).await;
    let tb = load(&b, "hd_dense", &data).await;
    let mut changed: Vec<i64> = vec![1, 2048, 2049, 4096, 4097, 20_000, 19_999];
    changed.extend((0..40).map(|i| 10_000 + i * 13));
    let run = inject_and_find(
        (&a, &ta),
        (&b, &tb),
        changed,
        &[2047, 8192, 16_385],
        vec![-5, 0, 20_001, 25_000, 1_000_000_000],
        "true",
    )
    .await;
    assert_eq!(
        run.rows,
        vec![("alpha".to_string(), 20_000), ("beta".to_string(), 20_002)]
    );
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

/// With `grace`, differences the sync repairs while the agent waits are transient, not
/// drift; the rest are reported with when they were first seen.
#[tokio::test]
async fn grace_separates_transient_differences_from_drift() {
    let (Some(a), Some(b)) = (
        Db::connect(Backend::Postgres).await,
        Db::connect(Backend::MySql).await,
    ) else {
        return;
    };
    let data = rows(60);
    let ta = load(&a, "hd_grace", &data).await;
    let tb = load(&b, "hd_grace", &data).await;
    let original = data
        .iter()
        .find(|r| r.id == 300)
        .map(|r| literal(&b, r))
        .unwrap();
    b.exec(&format!(
        "UPDATE {tb} SET amount = amount + 1 WHERE id IN (100, 200)"
    ))
    .await;
    b.exec(&format!("DELETE FROM {tb} WHERE id = 300")).await;

    // When the grace period starts, the "sync" repairs two of the three differences.
    let tb2 = tb.clone();
    let hook = driftwatch::check::GraceHook(Arc::new(move || {
        let (tb, original) = (tb2.clone(), original.clone());
        Box::pin(async move {
            let b = Db::connect(Backend::MySql).await.unwrap();
            b.exec(&format!(
                "UPDATE {tb} SET amount = amount - 1 WHERE id = 100"
            ))
            .await;
            b.exec(&format!(
                "INSERT INTO {tb} (id, amount, name, updated_at, flag) VALUES {original}"
            ))
            .await;
        })
    }));
    let options = RunOptions {
        samples: None,
        previous: None,
        on_grace: Some(hook),
        progress: None,
    };
    let run = hash_diff_with(&a, &ta, &b, &tb, TYPED, "    grace: 1s\n", &options).await;
    assert_eq!(run.error, None);
    assert_eq!(run.transient, Some(2));
    let d = run.differences.as_ref().unwrap();
    assert_eq!(d.changed, 1);
    assert_eq!(
        d.missing,
        vec![("alpha".to_string(), 0), ("beta".to_string(), 0)]
    );
    let samples = run.samples.as_ref().unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].key["id"], 200);
    assert_eq!(samples[0].columns, vec!["amount".to_string()]);
    let first = samples[0].first_seen.expect("first_seen");

    // A later run that sees the same difference keeps when it was first seen.
    let options = RunOptions {
        samples: None,
        previous: run.run.clone(),
        on_grace: None,
        progress: None,
    };
    let again = hash_diff_with(&a, &ta, &b, &tb, TYPED, "", &options).await;
    assert_eq!(again.samples.as_ref().unwrap()[0].first_seen, Some(first));
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

async fn hash_sample(a: &Db, ta: &str, b: &Db, tb: &str, size: u32) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        &[
            (
                "driftwatch.yaml",
                &format!("systems:\n  alpha: {{url: \"{}\"}}\n  beta: {{url: \"{}\"}}\nchecks: [c.yaml]\n", a.url, b.url),
            ),
            (
                "c.yaml",
                &format!(
                    "checks:\n  - name: sampled\n    kind: hash_sample\n    schedule: '@hourly'\n    sample: {{size: {size}}}\n    alpha: {{table: {ta}, key: [id]}}\n    beta: {{table: {tb}, key: [id]}}\n{TYPED}"
                ),
            ),
        ],
    );
    crate::common::run_first_check(
        &config,
        &RunOptions {
            samples: None,
            ..Default::default()
        },
    )
    .await
}

/// `hash_sample` draws keys on both engines, finds no difference in equal tables, and only
/// real differences (about the share injected) in tables that differ.
#[tokio::test]
async fn hash_sample_estimates_drift_without_false_positives() {
    let (Some(a), Some(b)) = (
        Db::connect(Backend::Postgres).await,
        Db::connect(Backend::MySql).await,
    ) else {
        return;
    };
    let mut data = rows(5000);
    for (i, r) in data.iter_mut().enumerate() {
        r.id = i as i64 + 1;
    }
    let ta = load(&a, "hs", &data).await;
    let tb = load(&b, "hs", &data).await;
    a.exec(&format!("ANALYZE {ta}")).await;
    let run = hash_sample(&a, &ta, &b, &tb, 600).await;
    assert_eq!(run.error, None);
    let st = run.sample.clone().unwrap();
    assert!(st.size >= 300, "sampled only {} keys", st.size);
    assert_eq!(st.mismatches, 0);
    assert_eq!(run.status, Status::Ok);

    // Every even id changed on beta: about half of any sample differs.
    b.exec(&format!(
        "UPDATE {tb} SET amount = amount + 1 WHERE MOD(id, 2) = 0"
    ))
    .await;
    let run = hash_sample(&a, &ta, &b, &tb, 600).await;
    assert_eq!(run.error, None);
    let st = run.sample.clone().unwrap();
    assert!(st.mismatches > 0);
    let samples = run.samples.unwrap();
    assert_eq!(samples.len() as u64, st.mismatches);
    assert!(
        samples
            .iter()
            .all(|s| s.key["id"].as_i64().unwrap() % 2 == 0
                && s.columns == vec!["amount".to_string()]),
        "only real differences"
    );
    // 2500 of 5000 rows differ; with a few hundred keys drawn the estimate is within a few
    // percent (this bound is more than ten standard deviations wide, so it does not flake).
    assert!(
        (1000.0..=4000.0).contains(&st.estimated_differences),
        "{st:?}"
    );
    assert!(st.ci95[0] <= st.estimated_differences && st.estimated_differences <= st.ci95[1]);
    assert_eq!(run.status, Status::Warning);
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

/// `version` says which side holds the newer version of a changed row (a two-way sync tells
/// on-call which direction failed); `window` compares only recently changed rows, and a row
/// updated on one side only is reported as changed, not missing.
#[tokio::test]
async fn version_says_which_side_is_newer_and_window_checks_recent_rows() {
    let (Some(a), Some(b)) = (
        Db::connect(Backend::Postgres).await,
        Db::connect(Backend::MySql).await,
    ) else {
        return;
    };
    let data = rows(80);
    let ta = load(&a, "hd_version", &data).await;
    let tb = load(&b, "hd_version", &data).await;
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    // id 100: the change reached beta only; id 200: alpha only; id 300: an old difference.
    b.exec(&format!(
        "UPDATE {tb} SET amount = amount + 1, updated_at = '{now}' WHERE id = 100"
    ))
    .await;
    a.exec(&format!(
        "UPDATE {ta} SET amount = amount + 1, updated_at = '{now}' WHERE id = 200"
    ))
    .await;
    b.exec(&format!(
        "UPDATE {tb} SET name = 'old drift' WHERE id = 300"
    ))
    .await;
    let columns = "    columns:
      amount: {alpha: amount, beta: amount, type: \"decimal(2)\"}
      name: {alpha: name, beta: name, type: text}
      updated_at: {alpha: updated_at, beta: updated_at, type: \"timestamp(6)\"}
    version: updated_at
";
    let run = hash_diff(&a, &ta, &b, &tb, columns, "").await;
    assert_eq!(run.error, None);
    let samples = run.samples.unwrap();
    let find = |id: i64| {
        samples
            .iter()
            .find(|s| s.key["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {samples:#?}"))
    };
    assert_eq!(find(100).newer.as_deref(), Some("beta"));
    assert_eq!(
        find(100).columns,
        vec!["amount".to_string()],
        "the version column is not compared"
    );
    assert_eq!(find(200).newer.as_deref(), Some("alpha"));
    assert_eq!(find(300).newer, None);
    assert_eq!(samples.len(), 3);

    let run = hash_diff(
        &a,
        &ta,
        &b,
        &tb,
        columns,
        "    window: {column: updated_at, since: 1h}\n",
    )
    .await;
    assert_eq!(run.error, None);
    let samples = run.samples.unwrap();
    let ids: Vec<i64> = samples
        .iter()
        .map(|s| s.key["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![100, 200], "only the recent rows: {samples:#?}");
    assert!(samples.iter().all(|s| s.kind == "changed"));
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}
