//! SQLite: the file is opened read-only (`SQLITE_OPEN_READONLY`, enforced by the library),
//! never created, and a statement running past `statement_timeout` is interrupted by a
//! progress handler inside SQLite, the nearest thing it has to a server-side timeout.

use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::ConnectOptions;

use super::{classify_common, DbErrorKind, Engine};
use crate::config::{EngineKind, SystemConfig};

pub struct SqliteEngine {
    pool: SqlitePool,
    timeout: std::time::Duration,
}

impl SqliteEngine {
    pub fn new(config: &SystemConfig) -> Self {
        let path = config.sqlite_path.clone().unwrap_or_default();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false)
            .foreign_keys(false)
            .busy_timeout(config.connect_timeout)
            .log_statements(tracing::log::LevelFilter::Trace);
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(0)
            .acquire_timeout(config.connect_timeout)
            .connect_lazy_with(options);
        SqliteEngine {
            pool,
            timeout: config.statement_timeout,
        }
    }

    /// A connection whose statements are interrupted once `statement_timeout` has passed.
    async fn timed(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let deadline = Instant::now() + self.timeout;
        conn.lock_handle()
            .await?
            .set_progress_handler(10_000, move || Instant::now() < deadline);
        Ok(conn)
    }
}

impl Engine for SqliteEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    fn fetch_i64<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<i64, sqlx::Error>> {
        async move {
            let mut conn = self.timed().await?;
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut *conn)
                .await
        }
        .boxed()
    }

    fn execute<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        async move {
            let mut conn = self.timed().await?;
            Ok(sqlx::query(sql).execute(&mut *conn).await?.rows_affected())
        }
        .boxed()
    }

    fn version(&self) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        async move {
            let v: String = sqlx::query_scalar("SELECT sqlite_version()")
                .fetch_one(&self.pool)
                .await?;
            Ok(format!("SQLite {v}"))
        }
        .boxed()
    }

    fn classify(&self, error: &sqlx::Error) -> DbErrorKind {
        if let Some(kind) = classify_common(error) {
            return kind;
        }
        let message = match error {
            sqlx::Error::Database(db) => db.message().to_ascii_lowercase(),
            _ => String::new(),
        };
        if message.contains("no such table")
            || message.contains("no such column")
            || message.contains("no such function")
        {
            DbErrorKind::MissingObject
        } else if message.contains("interrupted") {
            DbErrorKind::Timeout
        } else if message.contains("readonly") || message.contains("read-only") {
            DbErrorKind::ReadOnly
        } else if message.contains("unable to open") || message.contains("not a database") {
            DbErrorKind::Unreachable
        } else {
            DbErrorKind::Query
        }
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.pool.close().boxed()
    }
}
