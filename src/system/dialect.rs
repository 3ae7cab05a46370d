//! How each engine writes SQL: the [`Dialect`] trait (quoting, placeholders, canonical values,
//! hashing, sampling, catalog queries), implemented once per engine, and the [`Query`] it
//! produces. The question builders in `sql`, `content` and `lookups` compose a dialect's pieces
//! into the queries checks ask; nothing here knows which check asks.

use crate::compare::{Col, ColumnFacts, Native};

/// A possibly schema-qualified table name as two SQL string literals for catalog queries:
/// the schema (or `current`, the engine's expression for the session's schema) and the name.
pub fn schema_and_name(table: &str, current: &str) -> (String, String) {
    let literal = |s: &str| format!("'{}'", s.trim().replace('\'', "''"));
    match table.rsplit_once('.') {
        Some((s, n)) => (literal(s), literal(n)),
        None => (current.to_string(), literal(table)),
    }
}

/// A bound parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Int(i64),
    Text(String),
}

/// SQL text with its parameters, in order.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Query {
    /// A query without parameters.
    pub fn text(sql: String) -> Query {
        Query {
            sql,
            params: Vec::new(),
        }
    }
}

/// Low bits of the row hash summed separately from the high bits, so no engine's SUM can
/// overflow (SQLite's integer SUM is 64-bit).
pub const SPLIT_BITS: u32 = 30;

/// What differs between engines when building comparison SQL.
pub trait Dialect: Send + Sync {
    fn quote_ident(&self, ident: &str) -> String;

    fn quote_table(&self, table: &str) -> String {
        table
            .split('.')
            .map(|part| self.quote_ident(part.trim()))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Placeholder for the `n`-th (1-based) parameter, a value of key column `col`; `big`: an
    /// integer beyond 64 bits, bound as its decimal text.
    fn placeholder(&self, n: usize, col: &Col, big: bool) -> String;

    /// A key expression as it is compared: in byte order for text on every engine.
    fn key_operand(&self, col: &Col) -> String;

    /// The canonical text of `col` (see `compare::normalize`), NULL for NULL.
    fn canonical(&self, col: &Col, tz: chrono_tz::Tz) -> String;

    /// `COALESCE('V' || chars || ':' || x, 'N')` in this dialect.
    fn text_token(&self, canonical: &str) -> String;

    /// A query listing the table's columns as (name, data type, column type, numeric scale,
    /// datetime precision, character set, type kind) — see [`ColumnFacts`] — all text.
    fn catalog(&self, table: &str) -> String;

    /// What a column with these catalog facts holds, where the facts say more than the
    /// driver's description of a result column does.
    fn native_of(&self, facts: &ColumnFacts) -> Option<Native>;

    /// Whether `col` (a bare column with these catalog facts, read in `tz`) can be rendered
    /// with a plain cast (see [`Col::plain`]).
    fn plain(&self, _col: &Col, _facts: &ColumnFacts, _tz: chrono_tz::Tz) -> bool {
        false
    }

    /// `COALESCE('V' || x, 'N')`: the token of the row's last free-text value, which needs
    /// no length (see [`tokens`]).
    fn text_token_tail(&self, canonical: &str) -> String {
        format!("COALESCE('V' || {canonical}, 'N')")
    }

    /// Join non-NULL strings with `|`.
    fn join(&self, parts: &[String]) -> String {
        format!("CONCAT_WS('|', {})", parts.join(", "))
    }

    /// The first 60 bits of MD5 of a string, as a non-negative integer.
    fn hash60(&self, text: &str) -> String;

    /// An integer or count as text.
    fn to_text(&self, expr: &str) -> String;

    /// Bitwise AND of a non-negative integer with a mask.
    fn bit_and(&self, expr: &str, mask: u64) -> String {
        format!("({expr} & {mask})")
    }

    fn shift_right(&self, expr: &str, bits: u32) -> String {
        format!("({expr} >> {bits})")
    }

    /// An integer key as a signed 64-bit integer, for block arithmetic (only ever applied to
    /// keys that fit): MySQL and MariaDB would otherwise mix unsigned and signed branches into
    /// a DECIMAL.
    fn signed_int(&self, expr: &str) -> String {
        expr.to_string()
    }

    /// Integer division of two integers.
    fn int_div(&self, a: &str, b: &str) -> String {
        format!("({a} / {b})")
    }

    /// The larger of two integers.
    fn greatest(&self, a: &str, b: &str) -> String {
        format!("GREATEST({a}, {b})")
    }

    /// Whether hash sums must be split in two (the engine's integer SUM is only 64-bit).
    fn split_sum(&self) -> bool {
        false
    }

    /// An expression giving how many of the sorted integer `bounds` are <= `key`, when the
    /// engine has a fast built-in for it.
    fn int_bucket(&self, _key: &str, _bounds: &[i64]) -> Option<String> {
        None
    }

    /// The FROM item and extra condition that read about `fraction` of a table's rows,
    /// chosen at random by the engine without sorting the table.
    fn sample_from(&self, table: &str, fraction: f64) -> (String, Option<String>);

    /// How this engine writes a JSON document canonically: two systems compare JSON only
    /// when their forms are the same.
    fn json_form(&self) -> &'static str;

    /// Whether what this engine says an expression's type is says little about its values
    /// (a declared type that does not bind them), so the other side's type decides.
    fn says_little(&self, _native: &Native) -> bool {
        false
    }

    /// A query estimating a table's rows from the catalog, where the engine keeps one.
    fn row_estimate(&self, _table: &str) -> Option<String> {
        None
    }
}
