//! PostgreSQL: read-only sessions (`default_transaction_read_only`), `statement_timeout` set
//! at connection start, identifiers quoted with `"`.

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::ConnectOptions;
use std::str::FromStr;

use super::{classify_common, DbErrorKind, Engine};
use crate::config::{EngineKind, SystemConfig};

pub struct PostgresEngine {
    pool: PgPool,
}

impl PostgresEngine {
    pub fn new(config: &SystemConfig) -> Self {
        let timeout_ms = config.statement_timeout.as_millis().to_string();
        let options = match PgConnectOptions::from_str(config.url.expose()) {
            Ok(o) => o,
            // Validated earlier; an unparsable URL still must not panic the agent.
            Err(_) => PgConnectOptions::new(),
        }
        .application_name("driftwatch")
        // The server enforces both: a write fails, and a slow statement is cancelled there.
        .options([
            ("default_transaction_read_only", "on"),
            ("statement_timeout", timeout_ms.as_str()),
            ("TimeZone", "UTC"),
        ])
        .log_statements(tracing::log::LevelFilter::Trace);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(0)
            .acquire_timeout(config.connect_timeout)
            .idle_timeout(std::time::Duration::from_secs(300))
            .connect_lazy_with(options);
        PostgresEngine { pool }
    }
}

impl Engine for PostgresEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgres
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
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
        sqlx::query_scalar::<_, String>("SELECT version()")
            .fetch_one(&self.pool)
            .boxed()
    }

    fn classify(&self, error: &sqlx::Error) -> DbErrorKind {
        if let Some(kind) = classify_common(error) {
            return kind;
        }
        let code = match error {
            sqlx::Error::Database(db) => db.code().map(|c| c.to_string()).unwrap_or_default(),
            _ => String::new(),
        };
        match code.as_str() {
            // undefined_table, undefined_column, invalid_schema_name, undefined_function
            "42P01" | "42703" | "3F000" | "42883" => DbErrorKind::MissingObject,
            "57014" => DbErrorKind::Timeout,
            "25006" => DbErrorKind::ReadOnly,
            // authentication, unknown database, too many connections, shutting down
            c if c.starts_with("28") || c.starts_with("08") || c.starts_with("57P") => {
                DbErrorKind::Unreachable
            }
            "3D000" | "53300" => DbErrorKind::Unreachable,
            _ => DbErrorKind::Query,
        }
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.pool.close().boxed()
    }
}
