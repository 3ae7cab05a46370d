//! The systems a check reads: one module per engine (PostgreSQL, MySQL/MariaDB, SQLite) behind
//! the [`engine::Engine`] trait, and [`System`], which wraps an engine with what every query
//! needs whatever the engine: the per-system connection limit, tracing spans, load counters
//! and `driftwatch_system_up`.
//!
//! Checks ask typed questions through a [`Reader`] ("the count and hash sum of every segment
//! cut by these keys", "the rows with these keys", "the newest change time") and get typed
//! answers; they never see SQL or an engine. Each question's query shape and the reading of
//! its rows sit side by side in [`content`] (content comparison) and [`lookups`] (everything
//! else), composed from the engine's [`dialect::Dialect`]. Engine modules own everything
//! engine-specific: connecting, making the session read-only (enforced by the server), the
//! server-side statement timeout, and the dialect. Every session only reads.

#[macro_use]
mod glue;
mod content;
pub mod dialect;
pub mod engine;
mod lookups;
mod mysql;
mod postgres;
pub mod sql;
mod sqlite;

use std::sync::atomic::{AtomicI8, AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::compare::Native;
use crate::config::{EngineKind, SystemConfig};
use crate::metrics::Metrics;
pub use dialect::Query;
use engine::error_text;
pub use engine::{DbError, DbErrorKind, Engine, RowSender};
pub use sql::{Aggregate, Window};
use sql::{Question, Row};

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

    /// How this system's zone-less timestamps are read.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.config.timezone
    }

    /// Whether the last contact with the system succeeded (`None` before the first).
    pub fn is_up(&self) -> Option<bool> {
        match self.up.load(Ordering::Relaxed) {
            -1 => None,
            v => Some(v == 1),
        }
    }

    /// A reader for one check: asks this system's typed questions and counts their load.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            system: self,
            queries: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            catalogs: Default::default(),
        }
    }

    fn dialect(&self) -> &dyn dialect::Dialect {
        self.engine.dialect()
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
        let sql = sql::count_sql(self.dialect(), table, filter);
        self.query(&sql, |_| 1, |engine, sql| engine.fetch_i64(sql))
            .await
    }

    /// Fails unless `table` exists and `filter` is valid on it; reads no rows.
    pub async fn probe_table(&self, table: &str, filter: Option<&str>) -> Result<(), DbError> {
        let sql = sql::probe_sql(self.dialect(), table, filter);
        self.query(&sql, |_| 0, |engine, sql| engine.execute(sql))
            .await
            .map(|_| ())
    }

    /// Names and types of the result columns of `SELECT <exprs> FROM table` (all columns
    /// when `exprs` is empty); reads no rows.
    pub async fn describe(
        &self,
        table: &str,
        exprs: &[String],
    ) -> Result<Vec<(String, Native)>, DbError> {
        let sql = sql::describe_sql(self.dialect(), table, exprs);
        self.query(&sql, |_| 0, |engine, sql| engine.describe(sql))
            .await
    }

    /// Run a query whose columns are all text, instrumented like every other query.
    async fn fetch_strings(&self, query: &Query) -> Result<Vec<Row>, DbError> {
        self.query(
            &query.sql,
            |rows: &Vec<Row>| rows.len() as u64,
            |engine, _| engine.fetch_strings(query),
        )
        .await
    }

    /// Run a query whose columns are all text, streaming its rows into `tx` (bounded
    /// memory); instrumented like every other query. Returns the rows sent.
    async fn stream_strings(&self, query: &Query, tx: RowSender) -> Result<u64, DbError> {
        self.query(
            &query.sql,
            |n: &u64| *n,
            |engine, _| engine.stream_strings(query, tx),
        )
        .await
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

/// The work one check put on one system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Load {
    pub queries: u64,
    /// Result rows transferred to the agent.
    pub rows: u64,
}

/// One system as one check reads it: every typed question a check may ask (see [`content`]
/// and [`lookups`]), with the queries and rows they cost counted for the check's result.
pub struct Reader<'a> {
    system: &'a System,
    queries: AtomicU64,
    rows: AtomicU64,
    /// What the catalog said of each table asked about, so one run asks once.
    catalogs: std::sync::Mutex<std::collections::HashMap<String, Arc<Catalog>>>,
}

/// A table's columns as its catalog describes them, by lower-case name.
type Catalog = std::collections::HashMap<String, crate::compare::ColumnFacts>;

impl Reader<'_> {
    pub fn name(&self) -> &str {
        self.system.name()
    }

    pub fn system(&self) -> &System {
        self.system
    }

    /// How this system's zone-less timestamps are read.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.system.timezone()
    }

    /// The most connections this system allows the agent at once.
    pub fn max_connections(&self) -> u32 {
        self.system.config.max_connections
    }

    /// What this reader's questions cost so far.
    pub fn load(&self) -> Load {
        Load {
            queries: self.queries.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
        }
    }

    fn dialect(&self) -> &dyn dialect::Dialect {
        self.system.dialect()
    }

    fn tally(&self, rows: u64) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }

    fn unexpected(&self, query: &Query, detail: String) -> DbError {
        DbError::new(
            self.name(),
            DbErrorKind::Answer,
            &detail,
            Some(query.sql.as_str()),
        )
    }

    /// Ask one question and read its answer.
    async fn ask<T>(&self, question: Question<T>) -> Result<T, DbError> {
        let rows = self.system.fetch_strings(&question.query).await?;
        self.tally(rows.len() as u64);
        let query = question.query.clone();
        question.read(rows).map_err(|e| self.unexpected(&query, e))
    }

    /// Stream the rows of `query` into `tx`, counting them.
    async fn stream(&self, query: &Query, tx: RowSender) -> Result<u64, DbError> {
        let n = self.system.stream_strings(query, tx).await?;
        self.tally(n);
        Ok(n)
    }

    /// See [`System::count_rows`].
    pub async fn count_rows(&self, table: &str, filter: Option<&str>) -> Result<i64, DbError> {
        let n = self.system.count_rows(table, filter).await?;
        self.tally(1);
        Ok(n)
    }

    /// See [`System::describe`].
    pub async fn describe(
        &self,
        table: &str,
        exprs: &[String],
    ) -> Result<Vec<(String, Native)>, DbError> {
        self.system.describe(table, exprs).await
    }

    /// `ident` quoted as a column name on this system.
    pub fn quote_ident(&self, ident: &str) -> String {
        self.dialect().quote_ident(ident)
    }

    /// How this system writes a JSON document canonically (two systems compare JSON only
    /// when they write it the same way).
    pub fn json_form(&self) -> &'static str {
        self.dialect().json_form()
    }

    /// Whether this system's word on an expression's type says little about its values
    /// (the other side's type then decides how the two compare).
    pub fn says_little(&self, native: &Native) -> bool {
        self.dialect().says_little(native)
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
