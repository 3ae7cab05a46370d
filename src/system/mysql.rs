//! MySQL and MariaDB: `SET SESSION TRANSACTION READ ONLY` and a server-side statement timeout
//! on every new connection (MariaDB `max_statement_time` in seconds, MySQL
//! `max_execution_time` in milliseconds, chosen from the server's version), identifiers quoted
//! with backticks.

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Executor};
use std::str::FromStr;

use super::{classify_common, DbErrorKind, Engine};
use crate::config::{EngineKind, SystemConfig};

pub struct MySqlEngine {
    pool: MySqlPool,
}

impl MySqlEngine {
    pub fn new(config: &SystemConfig) -> Self {
        // sqlx knows only mysql://; MariaDB speaks the same protocol.
        let url = config.url.expose();
        let url = match url.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => url.to_string(),
        };
        let options = MySqlConnectOptions::from_str(&url)
            .unwrap_or_else(|_| MySqlConnectOptions::new())
            .charset("utf8mb4")
            .timezone(Some("+00:00".to_string()))
            .log_statements(tracing::log::LevelFilter::Trace);
        let timeout = config.statement_timeout;
        let pool = MySqlPoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(0)
            .acquire_timeout(config.connect_timeout)
            .idle_timeout(std::time::Duration::from_secs(300))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    let version: String = sqlx::query_scalar("SELECT VERSION()")
                        .fetch_one(&mut *conn)
                        .await?;
                    let limit = if version.to_ascii_lowercase().contains("mariadb") {
                        format!("SET SESSION max_statement_time = {}", timeout.as_secs_f64())
                    } else {
                        format!("SET SESSION max_execution_time = {}", timeout.as_millis())
                    };
                    conn.execute(limit.as_str()).await?;
                    conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        MySqlEngine { pool }
    }
}

impl Engine for MySqlEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::MySql
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }

    fn fetch_i64<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<i64, sqlx::Error>> {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .boxed()
    }

    fn execute<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        async move { Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected()) }.boxed()
    }

    fn version(&self) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        sqlx::query_scalar::<_, String>("SELECT VERSION()")
            .fetch_one(&self.pool)
            .boxed()
    }

    fn classify(&self, error: &sqlx::Error) -> DbErrorKind {
        if let Some(kind) = classify_common(error) {
            return kind;
        }
        let number = match error {
            sqlx::Error::Database(db) => db
                .try_downcast_ref::<MySqlDatabaseError>()
                .map(|e| e.number())
                .unwrap_or(0),
            _ => 0,
        };
        match number {
            // no such table, unknown column, unknown table in a multi-table statement, no such function
            1146 | 1054 | 1109 | 1305 => DbErrorKind::MissingObject,
            // MariaDB max_statement_time, MySQL max_execution_time
            1969 | 3024 => DbErrorKind::Timeout,
            1792 => DbErrorKind::ReadOnly,
            // access denied, unknown database, too many connections, server shutdown
            1044 | 1045 | 1049 | 1040 | 1053 | 1152 | 1129 => DbErrorKind::Unreachable,
            _ => DbErrorKind::Query,
        }
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.pool.close().boxed()
    }
}
