//! The systems a check reads: one module per engine (PostgreSQL, MySQL/MariaDB, SQLite) behind
//! the [`Engine`] trait, and [`System`], which wraps an engine with what every query needs
//! whatever the engine: the per-system connection limit, tracing spans, load counters and
//! `driftwatch_system_up`.
//!
//! Engine modules own everything engine-specific: connecting, making the session read-only
//! (enforced by the server), the server-side statement timeout, identifier quoting and the SQL
//! text itself. Checks ask a [`System`] for an answer ("how many rows in this table?") and never
//! format SQL for an engine. Every session only reads.

/// The parts of running a comparison query that are the same for every sqlx driver; the
/// engine modules differ only in the pool and the row type.
macro_rules! driver_glue {
    (bind $query:expr) => {{
        let mut q = sqlx::query(&$query.sql);
        for p in &$query.params {
            q = match p {
                Param::Int(i) => q.bind(*i),
                Param::Text(s) => q.bind(s.clone()),
            };
        }
        q
    }};
    // A result cell as text: text columns as they are, integer columns (counts, block
    // numbers, which need no cast in SQL) printed; `$extra` lists more integer types.
    (text_cell $row:expr, $i:expr $(, $extra:ty)*) => {
        $row.try_get::<Option<String>, _>($i)
            .or_else(|_| $row.try_get::<Option<i64>, _>($i).map(|v| v.map(|v| v.to_string())))
            .or_else(|_| $row.try_get::<Option<i32>, _>($i).map(|v| v.map(|v| v.to_string())))
            $(.or_else(|_| $row.try_get::<Option<$extra>, _>($i).map(|v| v.map(|v| v.to_string()))))*
    };
    (text_rows $rows:expr) => {
        $rows
            .iter()
            .map(|r| (0..r.len()).map(|i| text_cell(r, i)).collect())
            .collect()
    };
    // Stream a query's rows (all text) into `$tx` as they arrive; stops early when the
    // receiver is gone. Evaluates to the number of rows sent.
    (stream $query:expr, $executor:expr, $tx:expr) => {{
        use futures::TryStreamExt;
        let q = driver_glue!(bind $query);
        let mut rows = q.fetch($executor);
        let mut n: u64 = 0;
        while let Some(row) = rows.try_next().await? {
            let cells = (0..row.len())
                .map(|i| text_cell(&row, i))
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            n += 1;
            if $tx.send(cells).await.is_err() {
                break;
            }
        }
        Ok(n)
    }};
    (columns $described:expr) => {
        Ok($described
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), native(c.type_info().name())))
            .collect())
    };
}

mod mysql;
mod postgres;
pub mod sql;
mod sqlite;

use std::sync::atomic::{AtomicI8, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::compare::Native;
use crate::config::{EngineKind, SystemConfig};
use crate::metrics::Metrics;
use crate::secret::scrub;

/// What went wrong with a query, in the terms an operator acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbErrorKind {
    /// Could not connect or authenticate, or the connection broke.
    Unreachable,
    /// A table, column, schema or function named by the check does not exist.
    MissingObject,
    /// The server cancelled the statement at `statement_timeout`.
    Timeout,
    /// The statement tried to write; sessions are read-only.
    ReadOnly,
    /// Anything else the server refused (syntax error in a `where`, a type error...).
    Query,
}

/// A failed query, with the system and the statement that failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("system `{system}`: {message}")]
pub struct DbError {
    pub kind: DbErrorKind,
    pub system: String,
    pub message: String,
    pub sql: Option<String>,
}

impl DbError {
    fn new(system: &str, kind: DbErrorKind, detail: &str, sql: Option<&str>) -> Self {
        let detail = scrub(detail);
        let message = match kind {
            DbErrorKind::Unreachable => format!(
                "cannot reach the database: {detail} (is it running, and are the URL and credentials right?)"
            ),
            DbErrorKind::MissingObject => format!(
                "{detail} (check the table and column names of this side of the check; quoted names are case-sensitive; `driftwatch validate --connect` checks every check)"
            ),
            DbErrorKind::Timeout => format!(
                "the server cancelled the query at the system's statement_timeout: {detail} (raise `statement_timeout` for this system, or narrow the check with `where`)"
            ),
            DbErrorKind::ReadOnly => format!("refused to write (driftwatch sessions are read-only): {detail}"),
            DbErrorKind::Query => match sql {
                Some(sql) => format!("query failed: {detail} (query: {sql})"),
                None => format!("query failed: {detail}"),
            },
        };
        DbError {
            kind,
            system: system.to_string(),
            message,
            sql: sql.map(str::to_string),
        }
    }
}

/// What an engine does that differs between databases. Implemented once per engine; checks
/// reach it only through [`System`].
pub trait Engine: Send + Sync + 'static {
    fn kind(&self) -> EngineKind;

    /// Quote one identifier (no dots) for this engine.
    fn quote_ident(&self, ident: &str) -> String;

    /// Quote a possibly schema-qualified name such as `clinic.patients`.
    fn quote_table(&self, table: &str) -> String {
        table
            .split('.')
            .map(|part| self.quote_ident(part.trim()))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// `SELECT COUNT(*)` of a table, optionally filtered by the check's `where`.
    fn count_sql(&self, table: &str, filter: Option<&str>) -> String {
        match filter {
            Some(f) => format!(
                "SELECT COUNT(*) FROM {} WHERE ({f})",
                self.quote_table(table)
            ),
            None => format!("SELECT COUNT(*) FROM {}", self.quote_table(table)),
        }
    }

    /// A query that touches no rows but fails if the table, or a column the filter names,
    /// does not exist.
    fn probe_sql(&self, table: &str, filter: Option<&str>) -> String {
        match filter {
            Some(f) => format!(
                "SELECT 1 FROM {} WHERE ({f}) LIMIT 0",
                self.quote_table(table)
            ),
            None => format!("SELECT 1 FROM {} LIMIT 0", self.quote_table(table)),
        }
    }

    /// Run a query returning one integer.
    fn fetch_i64<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<i64, sqlx::Error>>;

    /// Run a statement, returning the rows it affected (used to prove that writes fail).
    fn execute<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    /// Connect (if needed) and return the server's version string.
    fn version(&self) -> BoxFuture<'_, Result<String, sqlx::Error>>;

    /// Sort an error into what an operator acts on.
    fn classify(&self, error: &sqlx::Error) -> DbErrorKind;

    /// How this engine writes the comparison queries.
    fn dialect(&self) -> &dyn sql::Dialect;

    /// Run a query whose result columns are all text (or NULL).
    fn fetch_strings<'a>(
        &'a self,
        query: &'a sql::Query,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, sqlx::Error>>;

    /// Run a query whose result columns are all text, sending each row to `tx` as it
    /// arrives, so memory stays bounded however many rows come back. Returns the rows sent.
    fn stream_strings<'a>(
        &'a self,
        query: &'a sql::Query,
        tx: RowSender,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    /// Names and types of a query's result columns, without running it.
    fn describe<'a>(
        &'a self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, Native)>, sqlx::Error>>;

    /// Close every connection.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// Where [`Engine::stream_strings`] sends rows.
pub type RowSender = tokio::sync::mpsc::Sender<Vec<Option<String>>>;

/// Errors every engine sorts the same way: the ones that never reached the server.
fn classify_common(error: &sqlx::Error) -> Option<DbErrorKind> {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Configuration(_) => Some(DbErrorKind::Unreachable),
        sqlx::Error::Database(_) => None,
        _ => Some(DbErrorKind::Query),
    }
}

/// A system named in the config: its engine, its connection limit and its telemetry.
pub struct System {
    pub config: Arc<SystemConfig>,
    engine: Box<dyn Engine>,
    /// One permit per allowed connection: a query waits here rather than in the pool, so a
    /// pool timeout only ever means the server could not be reached.
    permits: Semaphore,
    metrics: Arc<Metrics>,
    /// -1 unknown, 0 down, 1 up.
    up: AtomicI8,
}

impl System {
    /// Prepare a system without connecting: connections open on first use, so the agent
    /// starts even when a system is down.
    pub fn new(config: Arc<SystemConfig>, metrics: Arc<Metrics>) -> Arc<System> {
        let engine: Box<dyn Engine> = match config.engine {
            EngineKind::Postgres => Box::new(postgres::PostgresEngine::new(&config)),
            EngineKind::MySql => Box::new(mysql::MySqlEngine::new(&config)),
            EngineKind::Sqlite => Box::new(sqlite::SqliteEngine::new(&config)),
        };
        Arc::new(System {
            permits: Semaphore::new(config.max_connections as usize),
            engine,
            config,
            metrics,
            up: AtomicI8::new(-1),
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// Whether the last contact with the system succeeded (`None` before the first).
    pub fn is_up(&self) -> Option<bool> {
        match self.up.load(Ordering::Relaxed) {
            -1 => None,
            v => Some(v == 1),
        }
    }

    fn set_up(&self, up: bool) {
        let previous = self.up.swap(i8::from(up), Ordering::Relaxed);
        self.metrics
            .system_up
            .with_label_values(&[self.name()])
            .set(i64::from(up));
        match (previous, up) {
            (0, true) => tracing::info!(system = self.name(), "system is reachable again"),
            (-1, true) => tracing::debug!(system = self.name(), "system is reachable"),
            (-1 | 1, false) => tracing::warn!(system = self.name(), "system is unreachable"),
            _ => {}
        }
    }

    /// Run one statement under the system's limits, instrumented.
    async fn query<'a, T>(
        &'a self,
        sql: &'a str,
        rows_returned: impl Fn(&T) -> u64,
        run: impl FnOnce(&'a dyn Engine, &'a str) -> BoxFuture<'a, Result<T, sqlx::Error>>,
    ) -> Result<T, DbError> {
        let span = tracing::info_span!(
            "query",
            system = self.name(),
            db.system = self.engine.kind().as_str(),
            db.statement = sql,
            otel.kind = "client",
        );
        async {
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("system semaphore is never closed");
            self.metrics.queries.with_label_values(&[self.name()]).inc();
            let started = std::time::Instant::now();
            let result = run(self.engine.as_ref(), sql).await;
            tracing::debug!(
                system = self.name(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                ok = result.is_ok(),
                "query finished"
            );
            match result {
                Ok(value) => {
                    self.set_up(true);
                    self.metrics
                        .rows_read
                        .with_label_values(&[self.name()])
                        .inc_by(rows_returned(&value));
                    Ok(value)
                }
                Err(e) => {
                    let kind = self.engine.classify(&e);
                    self.set_up(kind != DbErrorKind::Unreachable);
                    self.metrics
                        .query_errors
                        .with_label_values(&[self.name()])
                        .inc();
                    let err = DbError::new(self.name(), kind, &error_text(&e), Some(sql));
                    tracing::debug!(system = self.name(), error = %err.message, "query failed");
                    Err(err)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// The number of rows in `table` matching `filter`.
    pub async fn count_rows(&self, table: &str, filter: Option<&str>) -> Result<i64, DbError> {
        let sql = self.engine.count_sql(table, filter);
        self.query(&sql, |_| 1, |engine, sql| engine.fetch_i64(sql))
            .await
    }

    /// Fails unless `table` exists and `filter` is valid on it; reads no rows.
    pub async fn probe_table(&self, table: &str, filter: Option<&str>) -> Result<(), DbError> {
        let sql = self.engine.probe_sql(table, filter);
        self.query(&sql, |_| 0, |engine, sql| engine.execute(sql))
            .await
            .map(|_| ())
    }

    /// Run a comparison query (all-text result), instrumented like every other query.
    pub async fn fetch_strings(
        &self,
        query: &sql::Query,
    ) -> Result<Vec<Vec<Option<String>>>, DbError> {
        self.query(
            &query.sql,
            |rows: &Vec<Vec<Option<String>>>| rows.len() as u64,
            |engine, _| engine.fetch_strings(query),
        )
        .await
    }

    /// Run a comparison query, streaming its rows into `tx` (bounded memory); instrumented
    /// like every other query. Returns the rows sent.
    pub async fn stream_strings(&self, query: &sql::Query, tx: RowSender) -> Result<u64, DbError> {
        self.query(
            &query.sql,
            |n: &u64| *n,
            |engine, _| engine.stream_strings(query, tx),
        )
        .await
    }

    /// Names and types of the result columns of `SELECT <exprs> FROM table` (all columns
    /// when `exprs` is empty); reads no rows.
    pub async fn describe(
        &self,
        table: &str,
        exprs: &[String],
    ) -> Result<Vec<(String, Native)>, DbError> {
        let sql = sql::describe(self.engine.dialect(), table, exprs);
        self.query(&sql, |_| 0, |engine, sql| engine.describe(sql))
            .await
    }

    /// What the catalog says of `table`'s columns, by lower-case column name (empty where
    /// the engine has no catalog to ask).
    pub async fn catalog(
        &self,
        table: &str,
    ) -> Result<std::collections::HashMap<String, crate::compare::ColumnFacts>, DbError> {
        let Some(sql) = self.engine.dialect().catalog(table) else {
            return Ok(Default::default());
        };
        let rows = self
            .fetch_strings(&sql::Query {
                sql,
                params: Vec::new(),
            })
            .await?;
        let num = |v: &Option<String>| v.as_deref().and_then(|t| t.parse().ok());
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let name = r.first()?.clone()?.to_ascii_lowercase();
                Some((
                    name,
                    crate::compare::ColumnFacts {
                        data_type: r.get(1)?.clone()?.to_ascii_lowercase(),
                        scale: num(r.get(2)?),
                        precision: num(r.get(3)?),
                        charset: r.get(4)?.clone().map(|c| c.to_ascii_lowercase()),
                    },
                ))
            })
            .collect())
    }

    /// Connect if needed and return the server version; updates `driftwatch_system_up`.
    pub async fn ping(&self) -> Result<String, DbError> {
        self.query(
            "-- health probe: server version",
            |_| 0,
            |engine, _| engine.version(),
        )
        .await
    }

    /// Run any statement. Sessions are read-only, so a write fails; tests use this to prove it.
    pub async fn execute(&self, sql: &str) -> Result<u64, DbError> {
        self.query(sql, |_| 0, |engine, sql| engine.execute(sql))
            .await
    }

    pub async fn close(&self) {
        self.engine.close().await;
    }
}

/// The message of a driver error, with the driver's own decoration removed.
fn error_text(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        // Raised by an engine itself (e.g. a lossy read): the message is the whole story.
        sqlx::Error::Decode(e) => e.to_string(),
        sqlx::Error::PoolTimedOut => {
            "timed out connecting (connect_timeout): no connection could be opened".to_string()
        }
        other => other.to_string(),
    }
}

/// The systems of a config, by name.
#[derive(Clone, Default)]
pub struct Systems(Vec<Arc<System>>);

impl Systems {
    pub fn new(configs: &[Arc<SystemConfig>], metrics: &Arc<Metrics>) -> Systems {
        Systems(
            configs
                .iter()
                .map(|c| System::new(c.clone(), metrics.clone()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&Arc<System>> {
        self.0.iter().find(|s| s.name() == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<System>> {
        self.0.iter()
    }

    pub async fn close(&self) {
        for s in &self.0 {
            s.close().await;
        }
    }
}
