//! What differs between databases at the connection level: the [`Engine`] trait each engine
//! module implements (connect, run a statement, stream rows, describe a query, sort an error),
//! and the error a failed query becomes ([`DbError`]). SQL text is not written here: every
//! piece of it comes from the engine's [`Dialect`]. Nothing outside `system/` sees an engine.

use futures::future::BoxFuture;

use super::dialect::{Dialect, Query};
use crate::compare::Native;
use crate::config::EngineKind;
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
    /// The server answered, but not in the shape the question expects (a NULL key, a value
    /// that cannot be read as its type, a key seen twice).
    Answer,
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
    pub(super) fn new(system: &str, kind: DbErrorKind, detail: &str, sql: Option<&str>) -> Self {
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
            DbErrorKind::Answer => format!("unexpected result from a comparison query: {detail}"),
        };
        DbError {
            kind,
            system: system.to_string(),
            message,
            sql: sql.map(str::to_string),
        }
    }
}

/// What an engine does that differs between databases at the connection level. Implemented
/// once per engine; reached only through [`super::System`].
pub trait Engine: Send + Sync + 'static {
    fn kind(&self) -> EngineKind;

    /// Run a query returning one integer.
    fn fetch_i64<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<i64, sqlx::Error>>;

    /// Run a statement, returning the rows it affected (used to prove that writes fail).
    fn execute<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    /// Connect (if needed) and return the server's version string.
    fn version(&self) -> BoxFuture<'_, Result<String, sqlx::Error>>;

    /// Sort an error into what an operator acts on.
    fn classify(&self, error: &sqlx::Error) -> DbErrorKind;

    /// How this engine writes SQL: the one place its quoting, canonical values and hashes live.
    fn dialect(&self) -> &dyn Dialect;

    /// Run a query whose result columns are all text (or NULL).
    fn fetch_strings<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, sqlx::Error>>;

    /// Run a query whose result columns are all text, sending each row to `tx` as it
    /// arrives, so memory stays bounded however many rows come back. Returns the rows sent.
    fn stream_strings<'a>(
        &'a self,
        query: &'a Query,
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
pub(super) fn classify_common(error: &sqlx::Error) -> Option<DbErrorKind> {
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

/// The message of a driver error, with the driver's own decoration removed.
pub(super) fn error_text(e: &sqlx::Error) -> String {
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
