//! Engine-neutral comparison values: logical types and canonical values ([`normalize`], with
//! the time-zone rules of [`zones`]), and the vocabulary checks and systems share to describe
//! what to compare ([`SideSpec`], [`Col`], keys, ranges, buckets, sums). A leaf: it imports
//! nothing else of the agent, formats no SQL and runs no query.

pub mod normalize;
pub mod zones;

use std::fmt;

use normalize::LogicalType;

/// What a database says an expression's type is, as far as comparison cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Native {
    Int,
    Decimal,
    Float,
    Bool,
    Text,
    Date,
    Timestamp {
        zoned: bool,
    },
    Uuid,
    Bytes,
    /// The engine cannot say (SQLite expressions, JSON, enums...).
    Other,
}

impl Native {
    /// The logical type a column of this native type compares as, if there is one obvious one.
    pub fn logical(self) -> Option<LogicalType> {
        Some(match self {
            Native::Int => LogicalType::Int,
            Native::Bool => LogicalType::Bool,
            Native::Text => LogicalType::Text,
            Native::Date => LogicalType::Date,
            Native::Timestamp { .. } => LogicalType::Timestamp(6),
            Native::Uuid => LogicalType::Uuid,
            Native::Bytes => LogicalType::Bytes,
            Native::Float => LogicalType::Float(LogicalType::FLOAT_DIGITS),
            Native::Decimal | Native::Other => return None,
        })
    }
}

/// One expression of one side, resolved: its SQL, how it compares, what the engine holds.
#[derive(Clone, Debug)]
pub struct Col {
    pub expr: String,
    pub ty: LogicalType,
    pub native: Native,
    /// The engine's own text of this expression already is its canonical form (the engine
    /// said so from its catalog: a DECIMAL of exactly the compared scale, a DATETIME of
    /// exactly the compared precision read in UTC, text already in UTF-8), so the canonical
    /// expression can be a plain cast: cheaper on every row of a checksum scan.
    pub plain: bool,
}

/// What a database's catalog says of one column of a table (lower-case type name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnFacts {
    pub data_type: String,
    pub scale: Option<i64>,
    pub precision: Option<i64>,
    pub charset: Option<String>,
}

/// Everything an engine needs to hash one side of a comparison.
#[derive(Clone, Debug)]
pub struct SideSpec {
    pub table: String,
    pub filter: Option<String>,
    pub key: Vec<Col>,
    pub columns: Vec<Col>,
    /// Fetched with a changed row's values but not compared (the version column).
    pub extra: Vec<Col>,
    /// How this system's zone-less timestamps are read.
    pub tz: chrono_tz::Tz,
}

/// One part of a row key, typed for binding and ordering.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyPart {
    Int(i64),
    Text(String),
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Int(i) => write!(f, "{i}"),
            KeyPart::Text(s) => f.write_str(s),
        }
    }
}

pub type Key = Vec<KeyPart>;

impl KeyPart {
    /// Read a key part from its canonical text.
    pub fn parse(canonical: &str, ty: LogicalType) -> Option<KeyPart> {
        match ty {
            LogicalType::Int => canonical.parse().ok().map(KeyPart::Int),
            _ => Some(KeyPart::Text(canonical.to_string())),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            KeyPart::Int(i) => serde_json::json!(i),
            KeyPart::Text(s) => serde_json::json!(s),
        }
    }
}

/// Keys from `lo` (inclusive) to `hi` (exclusive); `None` is unbounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub lo: Option<Key>,
    pub hi: Option<Key>,
}

/// Rows of `ranges[range]` whose key hash has `value` in its low `bits` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    pub range: usize,
    pub bits: u8,
    pub value: u64,
}

/// Row count and sum of row hashes of a set of rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sum {
    pub count: u64,
    pub sum: u128,
}

/// Which key types can be cut into byte-ordered ranges identically on every engine.
pub fn key_type_supported(ty: LogicalType) -> bool {
    matches!(
        ty,
        LogicalType::Int | LogicalType::Text | LogicalType::Uuid | LogicalType::Date
    )
}
