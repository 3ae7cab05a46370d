//! PostgreSQL: read-only sessions (`default_transaction_read_only`), `statement_timeout` set
//! at connection start, identifiers quoted with `"`.

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::ConnectOptions;
use std::str::FromStr;

use super::dialect::{schema_and_name, Dialect, Param, Query};
use super::engine::{classify_common, DbErrorKind, Engine, RowSender};
use crate::compare::normalize::LogicalType;
use crate::compare::{Col, ColumnFacts, Native};
use crate::config::{EngineKind, SystemConfig};
use sqlx::{Column, Executor, Row, TypeInfo};

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
            // Timestamps as text are ISO (the canonical form relies on it).
            ("DateStyle", "ISO"),
        ])
        .log_statements(tracing::log::LevelFilter::Trace)
        // Long statements are this agent's normal work, not a warning.
        .log_slow_statements(
            tracing::log::LevelFilter::Debug,
            std::time::Duration::from_secs(60),
        );
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

    driver_glue!(describe_and_close);
    driver_glue!(pooled "SELECT version()");

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

    fn dialect(&self) -> &dyn Dialect {
        &PgDialect
    }

    fn fetch_strings<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, sqlx::Error>> {
        async move {
            let q = driver_glue!(bind query);
            let rows = q.fetch_all(&self.pool).await?;
            driver_glue!(text_rows rows)
        }
        .boxed()
    }

    fn stream_strings<'a>(
        &'a self,
        query: &'a Query,
        tx: RowSender,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        async move { driver_glue!(stream query, &self.pool, tx) }.boxed()
    }
}

/// PostgreSQL's comparison SQL.
pub struct PgDialect;

impl Dialect for PgDialect {
    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    fn placeholder(&self, n: usize, col: &Col, big: bool) -> String {
        match col.ty {
            // A BIGINT compares with a NUMERIC column by value (and keeps a BIGINT column's
            // index usable); only a value beyond 64 bits needs NUMERIC.
            LogicalType::Int if big => format!("${n}::NUMERIC"),
            LogicalType::Int => format!("${n}::BIGINT"),
            LogicalType::Uuid => format!("${n}::UUID"),
            LogicalType::Date => format!("${n}::DATE"),
            _ => format!("${n}::TEXT"),
        }
    }

    fn key_operand(&self, col: &Col) -> String {
        match col.ty {
            // Byte order, whatever the column's collation: the same order as the other engines.
            LogicalType::Text => format!("CAST(({}) AS TEXT) COLLATE \"C\"", col.expr),
            LogicalType::Uuid if col.native != Native::Uuid => {
                format!("CAST(CAST(({}) AS TEXT) AS UUID)", col.expr)
            }
            LogicalType::Date if col.native != Native::Date => {
                format!("CAST(({}) AS DATE)", col.expr)
            }
            _ => format!("({})", col.expr),
        }
    }

    fn canonical(&self, col: &Col, tz: chrono_tz::Tz) -> String {
        let e = &col.expr;
        match col.ty {
            LogicalType::Int => match col.native {
                Native::Int { .. } => format!("CAST(({e}) AS TEXT)"),
                Native::Bool => format!("CASE WHEN ({e}) THEN '1' WHEN NOT ({e}) THEN '0' END"),
                _ => format!("CAST(ROUND(CAST(({e}) AS NUMERIC)) AS TEXT)"),
            },
            LogicalType::Decimal(_) if col.plain => format!("CAST(({e}) AS TEXT)"),
            LogicalType::Decimal(s) => format!("CAST(ROUND(CAST(({e}) AS NUMERIC), {s}) AS TEXT)"),
            LogicalType::Number => format!("CAST(TRIM_SCALE(CAST(({e}) AS NUMERIC)) AS TEXT)"),
            LogicalType::Float(p) => {
                // `normalize::float_canonical` step for step: LOG and POWER on doubles are
                // glibc's log10 and pow, ROUND(double) is rint (ties to even).
                let x = format!("CAST(({e}) AS DOUBLE PRECISION)");
                let k = format!("(FLOOR(LOG(ABS({x}))) - {})", p.saturating_sub(1));
                let ten = "CAST(10 AS DOUBLE PRECISION)";
                let m = format!(
                    "CASE WHEN {k} >= 0 THEN {x} / POWER({ten}, {k}) \
                     WHEN {k} >= -308 THEN {x} * POWER({ten}, -{k}) \
                     ELSE {x} * POWER({ten}, -{k} - 308) * CAST(1e308 AS DOUBLE PRECISION) END"
                );
                let digits = format!("CAST(CAST(ROUND({m}) AS BIGINT) AS TEXT)");
                format!(
                    "CASE WHEN {x} = 'NaN' THEN 'NaN' WHEN {x} = 'Infinity' THEN 'Inf' \
                     WHEN {x} = '-Infinity' THEN '-Inf' WHEN {x} = 0 THEN '0' \
                     ELSE RTRIM({digits}, '0') || 'e' || CAST(CAST({k} AS BIGINT) \
                     + LENGTH({digits}) - LENGTH(RTRIM({digits}, '0')) AS TEXT) END"
                )
            }
            LogicalType::Bool => match col.native {
                Native::Bool => format!("CASE WHEN ({e}) THEN '1' WHEN NOT ({e}) THEN '0' END"),
                Native::Int { .. } | Native::Decimal { .. } | Native::Float { .. } => {
                    format!("CASE WHEN ({e}) <> 0 THEN '1' WHEN ({e}) = 0 THEN '0' END")
                }
                // Text that is no boolean fails the query (a cast error naming the value)
                // rather than reading as NULL.
                _ => format!(
                    "CASE WHEN LOWER(CAST(({e}) AS TEXT)) IN ('1','t','true','y','yes','on') THEN '1' \
                     WHEN LOWER(CAST(({e}) AS TEXT)) IN ('0','f','false','n','no','off') THEN '0' \
                     WHEN ({e}) IS NOT NULL THEN CAST(CAST('cannot read ' || CAST(({e}) AS TEXT) || ' as bool' AS INT) AS TEXT) END"
                ),
            },
            LogicalType::Text => format!("CAST(({e}) AS TEXT)"),
            LogicalType::Date => format!("TO_CHAR(CAST(({e}) AS DATE), 'YYYY-MM-DD')"),
            LogicalType::Time(p) => {
                let len = if p == 0 { 8 } else { 9 + p as usize };
                format!("LEFT(TO_CHAR(CAST(({e}) AS TIME), 'HH24:MI:SS.US'), {len})")
            }
            LogicalType::Set => format!(
                "CASE WHEN ({e}) IS NOT NULL THEN ARRAY_TO_STRING(ARRAY(SELECT DISTINCT CAST(dw_m AS TEXT) COLLATE \"C\" FROM UNNEST(({e})) AS dw_m WHERE dw_m <> '' ORDER BY 1), ',') END"
            ),
            LogicalType::Timestamp(p) => {
                // `cheap`: the UTC expression is cheap enough to evaluate several times.
                let (utc, cheap) = match col.native {
                    Native::Timestamp { zoned: true, .. } => {
                        (format!("(({e}) AT TIME ZONE 'UTC')"), true)
                    }
                    _ if tz == chrono_tz::UTC => (
                        format!("CAST(({e}) AS TIMESTAMP)"),
                        matches!(col.native, Native::Timestamp { zoned: false, .. }),
                    ),
                    _ => (
                        format!(
                            "((CAST(({e}) AS TIMESTAMP) AT TIME ZONE '{}') AT TIME ZONE 'UTC')",
                            tz.name().replace('\'', "''")
                        ),
                        false,
                    ),
                };
                let len = if p == 0 { 19 } else { 20 + p as usize };
                let to_char = format!("LEFT(TO_CHAR({utc}, 'YYYY-MM-DD HH24:MI:SS.US'), {len})");
                if !cheap {
                    return to_char;
                }
                // TO_CHAR is slow (a third of a full-table checksum). For years 1000-9999 the
                // ISO text of a timestamp (DateStyle ISO is set on every session) is the same
                // once its trimmed fraction is padded back to six digits.
                let text = format!("CAST({utc} AS TEXT)");
                let fast = if p == 0 {
                    format!("LEFT({text}, 19)")
                } else {
                    format!(
                        "LEFT(CASE WHEN LENGTH({text}) = 19 THEN {text} || '.000000' ELSE RPAD({text}, 26, '0') END, {len})"
                    )
                };
                format!(
                    "CASE WHEN {utc} >= TIMESTAMP '1000-01-01' AND {utc} < TIMESTAMP '10000-01-01' THEN {fast} ELSE {to_char} END"
                )
            }
            LogicalType::Uuid => match col.native {
                Native::Uuid => format!("CAST(({e}) AS TEXT)"),
                Native::Bytes => format!("CAST(CAST(ENCODE(({e}), 'hex') AS UUID) AS TEXT)"),
                // PostgreSQL's own uuid parser: any accepted spelling, lowercase hyphenated out.
                _ => format!("CAST(CAST(CAST(({e}) AS TEXT) AS UUID) AS TEXT)"),
            },
            LogicalType::Bytes => format!("ENCODE(CAST(({e}) AS BYTEA), 'hex')"),
            // jsonb's text: keys in its own order, one spacing, escapes resolved.
            LogicalType::Json => format!("CAST(CAST(({e}) AS JSONB) AS TEXT)"),
        }
    }

    fn text_token(&self, c: &str) -> String {
        format!("COALESCE('V' || LENGTH({c}) || ':' || {c}, 'N')")
    }

    fn hash60(&self, text: &str) -> String {
        format!("CAST(CAST(('x' || SUBSTR(MD5({text}), 1, 15)) AS BIT(60)) AS BIGINT)")
    }

    fn json_form(&self) -> &'static str {
        "PostgreSQL's jsonb"
    }

    fn to_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS TEXT)")
    }

    fn sample_from(&self, table: &str, fraction: f64) -> (String, Option<String>) {
        // Row-level sampling inside the scan; no sort, no hashing.
        (
            format!("{table} TABLESAMPLE BERNOULLI ({})", fraction * 100.0),
            None,
        )
    }

    fn catalog(&self, table: &str) -> String {
        let (schema, name) = schema_and_name(table, "current_schema()");
        // A domain's column reports its base type (data_type, udt_name, scale), so a domain
        // compares as the type it is made of.
        format!(
            "SELECT CAST(c.column_name AS TEXT), CAST(c.data_type AS TEXT), CAST(c.udt_name AS TEXT), \
             CAST(c.numeric_scale AS TEXT), CAST(c.datetime_precision AS TEXT), \
             CAST(c.character_set_name AS TEXT), CAST(t.typtype AS TEXT) \
             FROM information_schema.columns c \
             LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = c.udt_schema \
             LEFT JOIN pg_catalog.pg_type t ON t.typname = c.udt_name AND t.typnamespace = n.oid \
             WHERE c.table_schema = {schema} AND c.table_name = {name}"
        )
    }

    fn native_of(&self, f: &ColumnFacts) -> Option<Native> {
        let scale = f.scale.and_then(|s| u8::try_from(s).ok());
        let precision = f.precision.and_then(|p| u8::try_from(p).ok());
        Some(match f.data_type.as_str() {
            "smallint" | "integer" | "bigint" => Native::Int { unsigned: false },
            "numeric" => Native::Decimal { scale },
            "real" => Native::Float { single: true },
            "double precision" => Native::Float { single: false },
            "boolean" => Native::Bool,
            "text" | "character varying" | "character" | "\"char\"" | "name" => Native::Text,
            "date" => Native::Date,
            "time without time zone" => Native::Time { precision },
            "timestamp without time zone" => Native::Timestamp {
                zoned: false,
                precision,
            },
            "timestamp with time zone" => Native::Timestamp {
                zoned: true,
                precision,
            },
            "uuid" => Native::Uuid,
            "bytea" => Native::Bytes,
            "json" | "jsonb" => Native::Json,
            "array" => Native::Array(std::sync::Arc::from(f.column_type.trim_start_matches('_'))),
            "user-defined" if f.kind.as_deref() == Some("e") => Native::Enum,
            "user-defined" if f.column_type == "citext" => Native::Text,
            _ => Native::other(if f.data_type == "user-defined" {
                &f.column_type
            } else {
                &f.data_type
            }),
        })
    }

    fn plain(&self, col: &Col, facts: &ColumnFacts, _tz: chrono_tz::Tz) -> bool {
        // NUMERIC(P,S) prints exactly S fractional digits.
        matches!(col.ty, LogicalType::Decimal(s)
            if facts.data_type == "numeric" && facts.scale == Some(i64::from(s)))
    }

    fn row_estimate(&self, table: &str) -> Option<String> {
        let quoted = self.quote_table(table).replace('\'', "''");
        Some(format!(
            "SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class WHERE oid = to_regclass('{quoted}')"
        ))
    }

    fn int_bucket(&self, key: &str, bounds: &[i64]) -> Option<String> {
        let list: Vec<String> = bounds.iter().map(i64::to_string).collect();
        Some(format!(
            "WIDTH_BUCKET({key}, CAST('{{{}}}' AS BIGINT[]))",
            list.join(",")
        ))
    }
}

/// Maps PostgreSQL type names to what comparison needs to know.
fn native(type_name: &str) -> Native {
    match type_name.to_ascii_uppercase().as_str() {
        "INT2" | "INT4" | "INT8" | "OID" => Native::Int { unsigned: false },
        "NUMERIC" => Native::Decimal { scale: None },
        "FLOAT4" => Native::Float { single: true },
        "FLOAT8" => Native::Float { single: false },
        "BOOL" => Native::Bool,
        "TEXT" | "VARCHAR" | "BPCHAR" | "CHAR" | "NAME" | "CITEXT" => Native::Text,
        "DATE" => Native::Date,
        "TIME" => Native::Time { precision: None },
        "TIMESTAMP" => Native::Timestamp {
            zoned: false,
            precision: None,
        },
        "TIMESTAMPTZ" => Native::Timestamp {
            zoned: true,
            precision: None,
        },
        "UUID" => Native::Uuid,
        "BYTEA" => Native::Bytes,
        "JSON" | "JSONB" => Native::Json,
        t => match t.strip_suffix("[]") {
            Some(element) => {
                Native::Array(std::sync::Arc::from(element.to_ascii_lowercase().as_str()))
            }
            None => Native::other(type_name),
        },
    }
}

/// A result cell as text: text columns as they are, integer columns (counts, block numbers,
/// which need no cast in SQL) printed.
fn text_cell(row: &sqlx::postgres::PgRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    driver_glue!(text_cell row, i)
}
