//! MySQL and MariaDB: `SET SESSION TRANSACTION READ ONLY` and a server-side statement timeout
//! on every new connection (MariaDB `max_statement_time` in seconds, MySQL
//! `max_execution_time` in milliseconds, chosen from the server's version), identifiers quoted
//! with backticks.

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Executor};
use std::str::FromStr;

use super::dialect::{schema_and_name, Dialect, Param, Query};
use super::engine::{classify_common, DbErrorKind, Engine, RowSender};
use crate::compare::normalize::LogicalType;
use crate::compare::{Col, ColumnFacts, Native};
use crate::config::{EngineKind, SystemConfig};
use sqlx::{Column, Row, TypeInfo};

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
            .log_statements(tracing::log::LevelFilter::Trace)
            // Long statements are this agent's normal work, not a warning.
            .log_slow_statements(
                tracing::log::LevelFilter::Debug,
                std::time::Duration::from_secs(60),
            );
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

    driver_glue!(describe_and_close);
    driver_glue!(pooled "SELECT VERSION()");

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

    fn dialect(&self) -> &dyn Dialect {
        &MySqlDialect
    }

    fn fetch_strings<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, sqlx::Error>> {
        async move {
            let mut conn = self.pool.acquire().await?;
            let q = driver_glue!(bind query);
            let rows = q.fetch_all(&mut *conn).await?;
            let rows: Result<Vec<Vec<Option<String>>>, sqlx::Error> = driver_glue!(text_rows rows);
            let rows = rows?;
            no_lossy_reads(&mut conn).await?;
            Ok(rows)
        }
        .boxed()
    }

    fn stream_strings<'a>(
        &'a self,
        query: &'a Query,
        tx: RowSender,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        async move {
            let mut conn = self.pool.acquire().await?;
            let n: Result<u64, sqlx::Error> = driver_glue!(stream query, &mut *conn, tx);
            let n = n?;
            no_lossy_reads(&mut conn).await?;
            Ok(n)
        }
        .boxed()
    }
}

/// MySQL and MariaDB read a value they cannot convert (`'n/a'` as a decimal, `'2026-02-30'`
/// as a date) as 0 or NULL and only warn: a check must then fail rather than compare what the
/// server made up. Called on the connection that just ran a comparison query.
async fn no_lossy_reads(conn: &mut sqlx::mysql::MySqlConnection) -> Result<(), sqlx::Error> {
    let warnings: Vec<(String, u32, String)> = sqlx::query_as("SHOW WARNINGS LIMIT 5")
        .fetch_all(&mut *conn)
        .await?;
    match warnings
        .into_iter()
        .find(|(level, ..)| level == "Warning" || level == "Error")
    {
        None => Ok(()),
        Some((_, code, message)) => Err(sqlx::Error::Decode(
            format!(
                "the server could not read a value as the type it is compared as and would have compared it as 0 or NULL: {message} (warning {code}; declare the column's `type:` as what it holds, or fix the value)"
            )
            .into(),
        )),
    }
}

/// MySQL's and MariaDB's comparison SQL.
pub struct MySqlDialect;

impl Dialect for MySqlDialect {
    fn quote_ident(&self, ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }

    fn placeholder(&self, _n: usize, col: &Col, big: bool) -> String {
        match col.ty {
            // Beyond 64 bits (an unsigned BIGINT past i64): exact as a DECIMAL, never a double.
            LogicalType::Int if big => "CAST(? AS DECIMAL(65,0))".to_string(),
            LogicalType::Int => "?".to_string(),
            LogicalType::Date => "CAST(? AS DATE)".to_string(),
            // Compared as UTF-8 bytes: no collation, no PAD SPACE.
            _ => "CAST(CONVERT(? USING utf8mb4) AS BINARY)".to_string(),
        }
    }

    fn key_operand(&self, col: &Col) -> String {
        match col.ty {
            LogicalType::Int => format!("({})", col.expr),
            LogicalType::Date => format!("CAST(({}) AS DATE)", col.expr),
            // A uuid held as text (any case, with or without hyphens), as 16 bytes or as
            // MariaDB's UUID (which sorts by swapped segments): order and compare its
            // canonical spelling, as the other engines do.
            LogicalType::Uuid => {
                format!("CAST({} AS BINARY)", self.canonical(col, chrono_tz::UTC))
            }
            _ => format!("CAST(CONVERT(({}) USING utf8mb4) AS BINARY)", col.expr),
        }
    }

    fn canonical(&self, col: &Col, tz: chrono_tz::Tz) -> String {
        let e = &col.expr;
        match col.ty {
            LogicalType::Int => match col.native {
                // `+ 0` turns BIT values into numbers.
                Native::Int { .. } => format!("CAST(({e}) + 0 AS CHAR)"),
                _ => format!("CAST(CAST(({e}) AS DECIMAL(65,0)) AS CHAR)"),
            },
            LogicalType::Decimal(_) if col.plain => format!("CAST(({e}) AS CHAR)"),
            LogicalType::Decimal(s) => format!("CAST(CAST(({e}) AS DECIMAL(65,{s})) AS CHAR)"),
            LogicalType::Number => {
                let text = match col.native {
                    Native::Int { .. } => return format!("CAST(({e}) + 0 AS CHAR)"),
                    Native::Decimal { scale: Some(0) } => return format!("CAST(({e}) AS CHAR)"),
                    Native::Decimal { scale: Some(_) } => format!("CAST(({e}) AS CHAR)"),
                    _ => format!("CAST(CAST(({e}) AS DECIMAL(65,30)) AS CHAR)"),
                };
                // Fractional digits only: trailing zeros, then a bare point, go.
                format!("TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {text}))")
            }
            LogicalType::Float(p) => {
                // `normalize::float_canonical` step for step: LOG10 and POW are glibc's
                // log10 and pow, ROUND(double) is rint (ties to even). No NaN or infinity
                // can be stored here.
                let x = format!("CAST(({e}) AS DOUBLE)");
                let k = format!("(FLOOR(LOG10(ABS({x}))) - {})", p.saturating_sub(1));
                let m = format!(
                    "CASE WHEN {k} >= 0 THEN {x} / POW(10, {k}) \
                     WHEN {k} >= -308 THEN {x} * POW(10, -{k}) \
                     ELSE {x} * POW(10, -{k} - 308) * 1e308 END"
                );
                let digits = format!("CAST(CAST(ROUND({m}) AS SIGNED) AS CHAR)");
                format!(
                    "CASE WHEN {x} = 0 THEN '0' \
                     ELSE CONCAT(TRIM(TRAILING '0' FROM {digits}), 'e', CAST(CAST({k} AS SIGNED) \
                     + CHAR_LENGTH({digits}) - CHAR_LENGTH(TRIM(TRAILING '0' FROM {digits})) AS CHAR)) END"
                )
            }
            LogicalType::Bool => match col.native {
                // Anything else fails the check (as a warning the engine turns into an error)
                // rather than reading as NULL.
                Native::Text | Native::Other(_) => format!(
                    "CASE WHEN LOWER(({e})) IN ('1','t','true','y','yes','on') THEN '1' \
                     WHEN LOWER(({e})) IN ('0','f','false','n','no','off') THEN '0' \
                     WHEN ({e}) IS NOT NULL THEN CAST(CAST(CONCAT('cannot read ', ({e}), ' as bool') AS SIGNED) AS CHAR) END"
                ),
                _ => format!("CASE WHEN ({e}) <> 0 THEN '1' WHEN ({e}) = 0 THEN '0' END"),
            },
            LogicalType::Text if col.plain => format!("({e})"),
            LogicalType::Text => format!("CONVERT(({e}) USING utf8mb4)"),
            // A zero date (`0000-00-00`, which MySQL and MariaDB accept where the SQL mode
            // allows) compares as NULL, as migration tools load it; a partial one
            // (`2020-00-15`) keeps its text, so it never equals a real date.
            LogicalType::Date => format!("NULLIF(DATE_FORMAT(({e}), '%Y-%m-%d'), '0000-00-00')"),
            LogicalType::Timestamp(p) => {
                let len = if p == 0 { 19 } else { 20 + p as usize };
                let zero = &"0000-00-00 00:00:00.000000"[..len];
                if col.plain {
                    return format!("NULLIF(CAST(({e}) AS CHAR), '{zero}')");
                }
                // TIMESTAMP columns arrive in the session zone, which is UTC; DATETIME columns
                // are zone-less and read in the system's zone.
                match col.native {
                    Native::Timestamp { zoned: false, .. } | Native::Date
                        if tz != chrono_tz::UTC =>
                    {
                        // The conversion must not see a zero date.
                        format!(
                            "CASE WHEN CAST(({e}) AS CHAR) LIKE '0000-00-00%' THEN NULL \
                             ELSE LEFT(DATE_FORMAT({}, '%Y-%m-%d %H:%i:%s.%f'), {len}) END",
                            wall_to_utc(e, tz)
                        )
                    }
                    _ => format!(
                        "NULLIF(LEFT(DATE_FORMAT(({e}), '%Y-%m-%d %H:%i:%s.%f'), {len}), '{zero}')"
                    ),
                }
            }
            LogicalType::Time(p) => {
                let hms = format!("TIME_FORMAT(({e}), '%H:%i:%s')");
                if p == 0 {
                    hms
                } else {
                    format!("CONCAT({hms}, '.', LEFT(TIME_FORMAT(({e}), '%f'), {p}))")
                }
            }
            LogicalType::Set => match &col.native {
                // Its members in byte order, each there or not: the order a SET reads back in
                // is its declaration's, not the members'.
                Native::Set(members) if !members.is_empty() => {
                    let arms: Vec<String> = members
                        .iter()
                        .map(|m| {
                            let lit = format!("'{}'", m.replace('\\', "\\\\").replace('\'', "''"));
                            format!("IF(FIND_IN_SET({lit}, ({e})), {lit}, NULL)")
                        })
                        .collect();
                    format!(
                        "CASE WHEN ({e}) IS NOT NULL THEN CONVERT(CONCAT_WS(',', {}) USING utf8mb4) END",
                        arms.join(", ")
                    )
                }
                _ => format!("CONVERT(({e}) USING utf8mb4)"),
            },
            LogicalType::Uuid => {
                let hex = match col.native {
                    Native::Bytes => format!("HEX(({e}))"),
                    _ => format!("REPLACE(CONVERT(CAST(({e}) AS CHAR) USING utf8mb4), '-', '')"),
                };
                format!("LOWER(INSERT(INSERT(INSERT(INSERT({hex}, 9, 0, '-'), 14, 0, '-'), 19, 0, '-'), 24, 0, '-'))")
            }
            LogicalType::Bytes => format!("LOWER(HEX(({e})))"),
            // Keys sorted, no whitespace, numbers in one notation.
            LogicalType::Json => format!("CONVERT(JSON_NORMALIZE(({e})) USING utf8mb4)"),
        }
    }

    fn text_token(&self, c: &str) -> String {
        format!("COALESCE(CONCAT('V', CHAR_LENGTH({c}), ':', {c}), 'N')")
    }

    fn text_token_tail(&self, c: &str) -> String {
        format!("COALESCE(CONCAT('V', {c}), 'N')")
    }

    fn hash60(&self, text: &str) -> String {
        format!("CAST(CONV(SUBSTRING(MD5({text}), 1, 15), 16, 10) AS UNSIGNED)")
    }

    fn json_form(&self) -> &'static str {
        "MariaDB's JSON_NORMALIZE"
    }

    fn to_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS CHAR)")
    }

    fn signed_int(&self, expr: &str) -> String {
        format!("CAST({expr} AS SIGNED)")
    }

    fn int_div(&self, a: &str, b: &str) -> String {
        format!("({a} DIV {b})")
    }

    fn sample_from(&self, table: &str, fraction: f64) -> (String, Option<String>) {
        (table.to_string(), Some(format!("RAND() < {fraction}")))
    }

    fn catalog(&self, table: &str) -> String {
        let (schema, name) = schema_and_name(table, "DATABASE()");
        format!(
            "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), CAST(COLUMN_TYPE AS CHAR), \
             CAST(NUMERIC_SCALE AS CHAR), CAST(DATETIME_PRECISION AS CHAR), \
             CAST(CHARACTER_SET_NAME AS CHAR), \
             (SELECT 'json' FROM information_schema.CHECK_CONSTRAINTS k \
              WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME \
              AND k.CHECK_CLAUSE = CONCAT('json_valid(`', c.COLUMN_NAME, '`)') LIMIT 1) \
             FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = {schema} AND c.TABLE_NAME = {name}",
        )
    }

    fn native_of(&self, f: &ColumnFacts) -> Option<Native> {
        let scale = f.scale.and_then(|s| u8::try_from(s).ok());
        let precision = f.precision.and_then(|p| u8::try_from(p).ok());
        let unsigned = f.column_type.contains("unsigned");
        Some(match f.data_type.as_str() {
            // TINYINT(1) is how MySQL and MariaDB declare BOOLEAN.
            "tinyint" if f.column_type.starts_with("tinyint(1)") => Native::Bool,
            "bit" if f.column_type == "bit(1)" => Native::Bool,
            "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "year" | "bit" => {
                Native::Int { unsigned }
            }
            "decimal" => Native::Decimal { scale },
            "float" => Native::Float { single: true },
            "double" => Native::Float { single: false },
            // MariaDB's JSON is LONGTEXT with a `json_valid` check.
            "longtext" if f.kind.as_deref() == Some("json") => Native::Json,
            "json" => Native::Json,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => Native::Text,
            "enum" => Native::Enum,
            "set" => Native::Set(set_members(&f.column_type).into()),
            "date" => Native::Date,
            "time" => Native::Time { precision },
            "datetime" => Native::Timestamp {
                zoned: false,
                precision,
            },
            "timestamp" => Native::Timestamp {
                zoned: true,
                precision,
            },
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                Native::Bytes
            }
            "uuid" => Native::Uuid,
            other => Native::other(other),
        })
    }

    fn plain(&self, col: &Col, facts: &ColumnFacts, tz: chrono_tz::Tz) -> bool {
        match col.ty {
            // DECIMAL(M,S) prints exactly S fractional digits.
            LogicalType::Decimal(s) => {
                facts.data_type == "decimal" && facts.scale == Some(i64::from(s))
            }
            // DATETIME(P) prints exactly P fractional digits (none for 0); read in UTC, so
            // no conversion either.
            LogicalType::Timestamp(p) => {
                facts.data_type == "datetime"
                    && facts.precision == Some(i64::from(p))
                    && tz == chrono_tz::UTC
            }
            // Already UTF-8: no conversion.
            LogicalType::Text => facts.charset.as_deref() == Some("utf8mb4"),
            _ => false,
        }
    }

    fn row_estimate(&self, table: &str) -> Option<String> {
        let (schema, name) = schema_and_name(table, "DATABASE()");
        Some(format!(
            "SELECT CAST(TABLE_ROWS AS SIGNED) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {name}"
        ))
    }

    fn int_bucket(&self, key: &str, bounds: &[i64]) -> Option<String> {
        if bounds.is_empty() {
            return None;
        }
        let list: Vec<String> = bounds.iter().map(i64::to_string).collect();
        Some(format!("INTERVAL({key}, {})", list.join(", ")))
    }
}

/// A zone-less wall time in `tz` as UTC, with the agent's own zone rules (see
/// [`crate::compare::zones`]): no time zone tables needed on the server, and no 1970-2038
/// limit. A wall time outside the rules' years fails the check (an unreadable datetime is a
/// warning, which the engine turns into an error) rather than being guessed.
fn wall_to_utc(e: &str, tz: chrono_tz::Tz) -> String {
    use crate::compare::zones;
    fn tree(e: &str, bounds: &[(chrono::NaiveDateTime, i32)], before: i32) -> String {
        if bounds.is_empty() {
            return before.to_string();
        }
        let mid = bounds.len() / 2;
        let (at, offset) = bounds[mid];
        format!(
            "CASE WHEN ({e}) < TIMESTAMP'{}' THEN {} ELSE {} END",
            at.format("%Y-%m-%d %H:%M:%S"),
            tree(e, &bounds[..mid], before),
            tree(e, &bounds[mid + 1..], offset)
        )
    }
    let rules = zones::rules(tz);
    format!(
        "CASE WHEN ({e}) >= TIMESTAMP'{first}-01-01 00:00:00' AND ({e}) < TIMESTAMP'{end}-01-01 00:00:00' \
         THEN ({e}) - INTERVAL ({offset}) SECOND \
         WHEN ({e}) IS NOT NULL THEN CAST(CONCAT('cannot convert ', ({e}), ' from {zone}: only wall times from {first} to {end} are') AS DATETIME) END",
        first = zones::FIRST_YEAR,
        end = zones::END_YEAR,
        offset = tree(e, &rules.boundaries, rules.initial),
        zone = tz.name().replace('\'', "''"),
    )
}

/// Maps MySQL/MariaDB type names (as the driver reports them) to what comparison needs.
fn native(type_name: &str) -> Native {
    let unsigned = type_name.ends_with(" UNSIGNED");
    match type_name.trim_end_matches(" UNSIGNED") {
        "BOOLEAN" => Native::Bool,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" | "BIT" => {
            Native::Int { unsigned }
        }
        "DECIMAL" => Native::Decimal { scale: None },
        "FLOAT" => Native::Float { single: true },
        "DOUBLE" => Native::Float { single: false },
        "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" => Native::Text,
        "ENUM" => Native::Enum,
        "SET" => Native::Set(Vec::new().into()),
        "DATE" => Native::Date,
        "TIME" => Native::Time { precision: None },
        "DATETIME" => Native::Timestamp {
            zoned: false,
            precision: None,
        },
        "TIMESTAMP" => Native::Timestamp {
            zoned: true,
            precision: None,
        },
        "VARBINARY" | "BINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => Native::Bytes,
        other => Native::other(other),
    }
}

/// The members of a `set('a','b')` declaration, sorted by their bytes.
fn set_members(column_type: &str) -> Vec<String> {
    let inner = column_type
        .strip_prefix("set(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or("");
    let mut members = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut m = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    m.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        m.push(n);
                    }
                }
                c => m.push(c),
            }
        }
        members.push(m);
    }
    members.sort();
    members
}

/// A result cell as text: text columns as they are, integer columns (counts, block numbers,
/// which need no cast in SQL) printed.
fn text_cell(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    driver_glue!(text_cell row, i, u64)
}
