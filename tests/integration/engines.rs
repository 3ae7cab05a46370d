//! The engine suite, stamped out for PostgreSQL, MariaDB and SQLite: the same behaviour is
//! asserted on every engine through the agent's own `System`.

use std::sync::Arc;

use driftwatch::metrics::Metrics;
use driftwatch::system::{DbErrorKind, System};

use crate::common::{config_in, unique, Backend, Db};

/// A `System` for `db`, built from YAML exactly as a user's config would be.
pub fn system_for(url: &str, extra: &str) -> (Arc<System>, Arc<Metrics>) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        &[(
            "driftwatch.yaml",
            &format!("systems:\n  sut:\n    url: \"{url}\"\n{extra}"),
        )],
    );
    let metrics = Arc::new(Metrics::new());
    (
        System::new(config.systems[0].clone(), metrics.clone()),
        metrics,
    )
}

macro_rules! engine_suite {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            async fn db() -> Option<Db> {
                Db::connect($backend).await
            }

            #[tokio::test]
            async fn counts_rows_with_and_without_where() {
                let Some(db) = db().await else { return };
                let t = db.table("count", 1234, 3).await;
                let (sys, metrics) = system_for(&db.url, "");
                assert_eq!(sys.count_rows(&t, None).await.unwrap(), 1234);
                let active = if $backend == Backend::Postgres {
                    "active"
                } else {
                    "active = 1"
                };
                assert_eq!(sys.count_rows(&t, Some(active)).await.unwrap(), 412);
                assert_eq!(
                    sys.count_rows(&t, Some("id >= 1000 AND name LIKE 'name 1%'"))
                        .await
                        .unwrap(),
                    234
                );
                // The load is visible: two... three queries, one result row each.
                let m = metrics.render();
                assert!(
                    m.contains("driftwatch_queries_total{system=\"sut\"} 3"),
                    "{m}"
                );
                assert!(
                    m.contains("driftwatch_rows_read_total{system=\"sut\"} 3"),
                    "{m}"
                );
                assert!(m.contains("driftwatch_system_up{system=\"sut\"} 1"), "{m}");
                db.drop_table(&t).await;
            }

            #[tokio::test]
            async fn a_write_through_the_engine_is_refused_by_the_database() {
                let Some(db) = db().await else { return };
                let t = db.table("ro", 5, 1).await;
                let (sys, _) = system_for(&db.url, "");
                for sql in [
                    format!(
                        "INSERT INTO {t} (id, name, active) VALUES (99, 'x', {})",
                        if $backend == Backend::Postgres {
                            "true"
                        } else {
                            "1"
                        }
                    ),
                    format!("UPDATE {t} SET name = 'changed'"),
                    format!("DELETE FROM {t}"),
                    format!("CREATE TABLE {}_new (a INTEGER)", t),
                ] {
                    let err = sys.execute(&sql).await.expect_err(&sql);
                    assert_eq!(err.kind, DbErrorKind::ReadOnly, "{sql}: {err}");
                }
                assert_eq!(
                    db.scalar_i64(&format!("SELECT COUNT(*) FROM {t} WHERE name LIKE 'name%'"))
                        .await,
                    5
                );
                db.drop_table(&t).await;
            }

            #[tokio::test]
            async fn a_missing_table_or_column_is_an_error_naming_system_and_object() {
                let Some(db) = db().await else { return };
                let t = db.table("missing", 3, 1).await;
                let (sys, metrics) = system_for(&db.url, "");
                let err = sys
                    .count_rows("no_such_table_here", None)
                    .await
                    .unwrap_err();
                assert_eq!(err.kind, DbErrorKind::MissingObject);
                let text = err.to_string();
                assert!(text.starts_with("system `sut`:"), "{text}");
                assert!(text.contains("no_such_table_here"), "{text}");
                let err = sys
                    .count_rows(&t, Some("no_such_column = 1"))
                    .await
                    .unwrap_err();
                assert_eq!(err.kind, DbErrorKind::MissingObject, "{err}");
                assert!(err.to_string().contains("no_such_column"), "{err}");
                // A missing table is not an outage.
                assert!(metrics
                    .render()
                    .contains("driftwatch_system_up{system=\"sut\"} 1"));
                db.drop_table(&t).await;
            }

            #[tokio::test]
            async fn identifiers_are_quoted_so_odd_names_work() {
                let Some(db) = db().await else { return };
                let name = unique("Odd Name");
                let q = |s: &str| {
                    if $backend == Backend::MySql {
                        format!("`{s}`")
                    } else {
                        format!("\"{s}\"")
                    }
                };
                db.exec(&format!(
                    "CREATE TABLE {} ({} INTEGER)",
                    q(&name),
                    q("Select")
                ))
                .await;
                db.exec(&format!("INSERT INTO {} VALUES (1),(2)", q(&name)))
                    .await;
                let (sys, _) = system_for(&db.url, "");
                assert_eq!(sys.count_rows(&name, None).await.unwrap(), 2);
                // An injection attempt is just a table name that does not exist.
                let err = sys
                    .count_rows(&format!("{name}; DROP TABLE x"), None)
                    .await
                    .unwrap_err();
                assert_eq!(err.kind, DbErrorKind::MissingObject, "{err}");
                db.exec(&format!("DROP TABLE {}", q(&name))).await;
            }

            #[tokio::test]
            async fn an_unreachable_server_is_reported_as_down() {
                let Some(db) = db().await else { return };
                let port = crate::common::free_port();
                let url = match $backend {
                    Backend::Postgres => format!("postgres://postgres@127.0.0.1:{port}/test"),
                    Backend::MySql => format!("mysql://root@127.0.0.1:{port}/test"),
                    Backend::Sqlite => format!("{}-missing", db.url),
                };
                let (sys, metrics) = system_for(&url, "    connect_timeout: 2s\n");
                let err = sys.count_rows("t", None).await.unwrap_err();
                assert_eq!(err.kind, DbErrorKind::Unreachable, "{err}");
                assert!(
                    err.to_string().contains("cannot reach the database"),
                    "{err}"
                );
                assert_eq!(sys.is_up(), Some(false));
                assert!(metrics
                    .render()
                    .contains("driftwatch_system_up{system=\"sut\"} 0"));
            }
        }
    };
}

engine_suite!(postgres, Backend::Postgres);
engine_suite!(mariadb, Backend::MySql);
engine_suite!(sqlite, Backend::Sqlite);

#[tokio::test]
async fn postgres_cancels_a_slow_query_on_the_server() {
    let Some(db) = Db::connect(Backend::Postgres).await else {
        return;
    };
    let (sys, _) = system_for(&db.url, "    statement_timeout: 1s\n");
    let marker = unique("slow");
    let sql = format!("SELECT pg_sleep(30) /* {marker} */");
    let err = sys.execute(&sql).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("statement_timeout"), "{err}");
    let still_running = db
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND state = 'active' AND pid <> pg_backend_pid()"
        ))
        .await;
    assert_eq!(
        still_running, 0,
        "the cancelled query is still running on the server"
    );
}

#[tokio::test]
async fn mariadb_cancels_a_slow_query_on_the_server() {
    let Some(db) = Db::connect(Backend::MySql).await else {
        return;
    };
    let (sys, _) = system_for(&db.url, "    statement_timeout: 1s\n");
    let marker = unique("slow");
    let sql = format!("SELECT SLEEP(30) /* {marker} */");
    let err = sys.execute(&sql).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Timeout, "{err}");
    let still_running = db
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE '%{marker}%' AND info NOT LIKE '%processlist%'"
        ))
        .await;
    assert_eq!(
        still_running, 0,
        "the cancelled query is still in the processlist"
    );
}

#[tokio::test]
async fn sqlite_interrupts_a_slow_query() {
    let Some(db) = Db::connect(Backend::Sqlite).await else {
        return;
    };
    let (sys, _) = system_for(&db.url, "    statement_timeout: 1s\n");
    // An endless recursive query: only the timeout stops it.
    let sql =
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT COUNT(*) FROM r";
    let err = sys.count_rows("x", None).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::MissingObject);
    let err = sys.execute(sql).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Timeout, "{err}");
}

/// Ten concurrent checks against a system with `max_connections: 2` never hold more than two
/// statements (or connections) on the server at once.
async fn load_is_bounded_by_max_connections(db: Db, sleep_filter: &str, active_sql: &str) {
    let t = db.table("bounded", 1, 1).await;
    let (sys, _) = system_for(&db.url, "    max_connections: 2\n");
    let marker = unique("marker");
    let filter = format!("{sleep_filter} AND '{marker}' = '{marker}'");
    let done = std::sync::atomic::AtomicBool::new(false);
    let queries = async {
        let r = futures::future::join_all((0..10).map(|_| sys.count_rows(&t, Some(&filter)))).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        r
    };
    let watch = async {
        let mut most = 0;
        let sql = active_sql.replace("MARKER", &marker);
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            most = most.max(db.scalar_i64(&sql).await);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        most
    };
    let (results, most) = tokio::join!(queries, watch);
    assert!(
        results.iter().all(|r| r.as_ref().is_ok_and(|n| *n == 1)),
        "{results:?}"
    );
    assert!(
        most <= 2,
        "{most} statements ran at once against max_connections 2"
    );
    assert!(
        most >= 1,
        "the watcher never saw a statement running: the test proves nothing"
    );
    db.drop_table(&t).await;
}

#[tokio::test]
async fn postgres_load_is_bounded_by_max_connections() {
    let Some(db) = Db::connect(Backend::Postgres).await else {
        return;
    };
    load_is_bounded_by_max_connections(
        db,
        "pg_sleep(0.3) IS NOT NULL",
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'driftwatch' AND query LIKE '%MARKER%' AND pid <> pg_backend_pid()",
    )
    .await;
}

#[tokio::test]
async fn mariadb_load_is_bounded_by_max_connections() {
    let Some(db) = Db::connect(Backend::MySql).await else {
        return;
    };
    load_is_bounded_by_max_connections(
        db,
        "SLEEP(0.3) = 0",
        "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE '%MARKER%' AND info NOT LIKE '%processlist%'",
    )
    .await;
}
