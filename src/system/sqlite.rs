//! SQLite: the file is opened read-only (`SQLITE_OPEN_READONLY`, enforced by the library),
//! never created, and a statement running past `statement_timeout` is interrupted by a
//! progress handler inside SQLite, the nearest thing it has to a server-side timeout.
//!
//! SQLite has neither MD5 nor the formatting functions the servers use to canonicalise
//! values, so two SQL functions are registered on every connection: `dw_canon(value, type,
//! zone)` (the agent's own canonicaliser, `compare::normalize`) and `dw_hash60(text)`. With
//! them, SQLite runs the same comparison queries as the servers and gets the same hashes.

use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::ConnectOptions;

use super::dialect::{Dialect, Param, Query};
use super::engine::{classify_common, DbErrorKind, Engine, RowSender};
use crate::compare::normalize::{self, LogicalType, Raw};
use crate::compare::{Col, ColumnFacts, Native};
use crate::config::{EngineKind, SystemConfig};
use sqlx::{Column, Executor, Row, TypeInfo};

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
            .log_statements(tracing::log::LevelFilter::Trace)
            // Long statements are this agent's normal work, not a warning.
            .log_slow_statements(
                tracing::log::LevelFilter::Debug,
                std::time::Duration::from_secs(60),
            );
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(0)
            .acquire_timeout(config.connect_timeout)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    let mut handle = conn.lock_handle().await?;
                    functions::register(handle.as_raw_handle().as_ptr())
                        .map_err(|e| sqlx::Error::Configuration(e.into()))
                })
            })
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

    driver_glue!(describe_and_close);

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

    fn dialect(&self) -> &dyn Dialect {
        &SqliteDialect
    }

    fn fetch_strings<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, sqlx::Error>> {
        async move {
            let mut conn = self.timed().await?;
            let q = driver_glue!(bind query);
            let rows = q.fetch_all(&mut *conn).await?;
            driver_glue!(text_rows rows)
        }
        .boxed()
    }

    fn stream_strings<'a>(
        &'a self,
        query: &'a Query,
        tx: RowSender,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        async move {
            let mut conn = self.timed().await?;
            driver_glue!(stream query, &mut *conn, tx)
        }
        .boxed()
    }
}

/// SQLite's comparison SQL: plain SQL plus the two registered functions.
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    fn placeholder(&self, n: usize, _col: &Col, _big: bool) -> String {
        format!("?{n}")
    }

    fn key_operand(&self, col: &Col) -> String {
        match col.ty {
            LogicalType::Int => format!("({})", col.expr),
            // Byte order of the UTF-8 text, whatever collation the column declares.
            LogicalType::Text => format!("(({}) COLLATE BINARY)", col.expr),
            _ => format!(
                "(dw_canon(({}), '{}', 'UTC') COLLATE BINARY)",
                col.expr, col.ty
            ),
        }
    }

    fn canonical(&self, col: &Col, tz: chrono_tz::Tz) -> String {
        format!(
            "dw_canon(({}), '{}', '{}')",
            col.expr,
            col.ty,
            tz.name().replace('\'', "''")
        )
    }

    fn text_token(&self, c: &str) -> String {
        format!("COALESCE('V' || LENGTH({c}) || ':' || {c}, 'N')")
    }

    fn join(&self, parts: &[String]) -> String {
        format!("({})", parts.join(" || '|' || "))
    }

    fn hash60(&self, text: &str) -> String {
        format!("dw_hash60({text})")
    }

    fn to_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS TEXT)")
    }

    fn greatest(&self, a: &str, b: &str) -> String {
        format!("MAX({a}, {b})")
    }

    fn split_sum(&self) -> bool {
        true
    }

    fn json_form(&self) -> &'static str {
        "the agent's own (SQLite)"
    }

    fn says_little(&self, _native: &Native) -> bool {
        // A column's declared type does not bind its values, and expressions have none.
        true
    }

    fn catalog(&self, table: &str) -> String {
        // The declared type (`NUMERIC(10,2)`, `DATETIME`, `NVARCHAR(40)`) is all there is.
        let name = table.rsplit('.').next().unwrap_or(table).trim();
        format!(
            "SELECT name, lower(type), lower(type), NULL, NULL, NULL, NULL FROM pragma_table_info('{}')",
            name.replace('\'', "''")
        )
    }

    fn native_of(&self, f: &ColumnFacts) -> Option<Native> {
        let t = f.data_type.trim();
        let (name, args) = match t.split_once('(') {
            Some((n, a)) => (n.trim(), a.trim_end_matches(')')),
            None => (t, ""),
        };
        let scale = args
            .split(',')
            .nth(1)
            .and_then(|s| s.trim().parse::<u8>().ok());
        Some(match name {
            "" => return None,
            n if n.contains("int") => Native::Int { unsigned: false },
            "bool" | "boolean" => Native::Bool,
            "numeric" | "decimal" => Native::Decimal { scale },
            "real" | "float" | "double" | "double precision" => Native::Float { single: false },
            n if n.contains("char") || n.contains("clob") || n.contains("text") => Native::Text,
            "date" => Native::Date,
            "time" => Native::Time { precision: None },
            "datetime" | "timestamp" => Native::Timestamp {
                zoned: false,
                precision: None,
            },
            "blob" => Native::Bytes,
            "uuid" => Native::Uuid,
            "json" => Native::Json,
            other => Native::other(other),
        })
    }

    fn sample_from(&self, table: &str, fraction: f64) -> (String, Option<String>) {
        let per_million = (fraction * 1_000_000.0).round() as i64;
        (
            table.to_string(),
            Some(format!("(ABS(RANDOM()) % 1000000) < {per_million}")),
        )
    }
}

/// SQLite's declared types, as far as comparison cares; expressions have none.
fn native(type_name: &str) -> Native {
    match type_name.to_ascii_uppercase().as_str() {
        "INTEGER" | "INT" | "BIGINT" => Native::Int { unsigned: false },
        "BOOLEAN" => Native::Bool,
        "TEXT" => Native::Text,
        "REAL" => Native::Float { single: false },
        "BLOB" => Native::Bytes,
        "DATE" => Native::Date,
        "DATETIME" => Native::Timestamp {
            zoned: false,
            precision: None,
        },
        // NULL (an expression's type is unknown) and NUMERIC (which may hold anything).
        _ => Native::other("?"),
    }
}

/// The SQL functions registered on every SQLite connection.
mod functions {
    use std::ffi::{c_char, c_int};

    use libsqlite3_sys as ffi;

    use super::{normalize, Raw};

    pub fn register(db: *mut ffi::sqlite3) -> Result<(), String> {
        let flags = ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC;
        for (name, args, f) in [
            (c"dw_canon", 3, canon as unsafe extern "C" fn(_, _, _)),
            (c"dw_hash60", 1, hash60 as unsafe extern "C" fn(_, _, _)),
        ] {
            // SAFETY: `db` is a live connection handle held locked by the caller; the
            // function pointers are plain `extern "C"` functions with no user data.
            let rc = unsafe {
                ffi::sqlite3_create_function_v2(
                    db,
                    name.as_ptr(),
                    args,
                    flags,
                    std::ptr::null_mut(),
                    Some(f),
                    None,
                    None,
                    None,
                )
            };
            if rc != ffi::SQLITE_OK {
                return Err(format!(
                    "cannot register SQLite function {name:?} (code {rc})"
                ));
            }
        }
        Ok(())
    }

    /// SAFETY: `v` must be a valid `sqlite3_value` for the duration of the call.
    unsafe fn raw(v: *mut ffi::sqlite3_value) -> Raw {
        unsafe {
            match ffi::sqlite3_value_type(v) {
                ffi::SQLITE_INTEGER => Raw::Int(ffi::sqlite3_value_int64(v)),
                ffi::SQLITE_FLOAT => Raw::Float(ffi::sqlite3_value_double(v)),
                ffi::SQLITE_TEXT => {
                    let p = ffi::sqlite3_value_text(v);
                    let n = ffi::sqlite3_value_bytes(v);
                    if p.is_null() {
                        Raw::Text(String::new())
                    } else {
                        let bytes = std::slice::from_raw_parts(p, n as usize);
                        Raw::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                }
                ffi::SQLITE_BLOB => {
                    let p = ffi::sqlite3_value_blob(v) as *const u8;
                    let n = ffi::sqlite3_value_bytes(v);
                    if p.is_null() {
                        Raw::Bytes(Vec::new())
                    } else {
                        Raw::Bytes(std::slice::from_raw_parts(p, n as usize).to_vec())
                    }
                }
                _ => Raw::Null,
            }
        }
    }

    /// SAFETY: `ctx` is the live context SQLite passed to the function.
    unsafe fn result_text(ctx: *mut ffi::sqlite3_context, s: &str) {
        unsafe {
            ffi::sqlite3_result_text(
                ctx,
                s.as_ptr() as *const c_char,
                s.len() as c_int,
                ffi::SQLITE_TRANSIENT(),
            );
        }
    }

    /// SAFETY: `ctx` is the live context SQLite passed to the function.
    unsafe fn result_error(ctx: *mut ffi::sqlite3_context, message: &str) {
        unsafe {
            ffi::sqlite3_result_error(
                ctx,
                message.as_ptr() as *const c_char,
                message.len() as c_int,
            );
        }
    }

    unsafe extern "C" fn canon(
        ctx: *mut ffi::sqlite3_context,
        argc: c_int,
        argv: *mut *mut ffi::sqlite3_value,
    ) {
        // SAFETY: SQLite passes `argc` valid values; nothing here unwinds across the FFI edge.
        unsafe {
            let args = std::slice::from_raw_parts(argv, argc as usize);
            let value = raw(args[0]);
            let (Raw::Text(ty), Raw::Text(zone)) = (raw(args[1]), raw(args[2])) else {
                return result_error(ctx, "dw_canon(value, type, zone) needs a type and a zone");
            };
            let outcome = std::panic::catch_unwind(|| {
                let ty: normalize::LogicalType = ty.parse()?;
                let tz: chrono_tz::Tz = zone
                    .parse()
                    .map_err(|_| format!("unknown time zone `{zone}`"))?;
                normalize::canonical(&value, ty, tz)
            });
            match outcome {
                Ok(Ok(Some(s))) => result_text(ctx, &s),
                Ok(Ok(None)) => ffi::sqlite3_result_null(ctx),
                Ok(Err(e)) => result_error(ctx, &e),
                Err(_) => result_error(ctx, "internal error in dw_canon"),
            }
        }
    }

    unsafe extern "C" fn hash60(
        ctx: *mut ffi::sqlite3_context,
        argc: c_int,
        argv: *mut *mut ffi::sqlite3_value,
    ) {
        // SAFETY: as in `canon`.
        unsafe {
            let args = std::slice::from_raw_parts(argv, argc as usize);
            match raw(args[0]) {
                Raw::Null => ffi::sqlite3_result_null(ctx),
                Raw::Text(s) => ffi::sqlite3_result_int64(ctx, normalize::hash60(&s) as i64),
                other => {
                    let s = match other {
                        Raw::Int(i) => i.to_string(),
                        Raw::Float(f) => f.to_string(),
                        Raw::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                        _ => String::new(),
                    };
                    ffi::sqlite3_result_int64(ctx, normalize::hash60(&s) as i64)
                }
            }
        }
    }
}

/// A result cell as text: text columns as they are, integer columns (counts, block numbers,
/// which need no cast in SQL) printed.
fn text_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    driver_glue!(text_cell row, i)
}
