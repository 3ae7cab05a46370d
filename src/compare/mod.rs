//! Engine-neutral comparison values: logical types and canonical values ([`normalize`], with
//! the time-zone rules of [`zones`]), and the vocabulary checks and systems share to describe
//! what to compare ([`SideSpec`], [`Col`], keys, ranges, buckets, sums). A leaf: it imports
//! nothing else of the agent, formats no SQL and runs no query.

pub mod infer;
pub mod normalize;
pub mod zones;

use std::fmt;
use std::sync::Arc;

use normalize::LogicalType;

/// What a database says an expression's type is, as far as comparison cares: read from the
/// catalog for a bare column (with its scale, precision, members...), from the driver's
/// description of the result otherwise (which knows less: an expression's DECIMAL has no
/// known scale).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Native {
    /// Any width; `unsigned` where the engine says so (MySQL/MariaDB).
    Int {
        unsigned: bool,
    },
    /// DECIMAL/NUMERIC with its scale; `None`: unconstrained (PostgreSQL `numeric`) or not
    /// known (an expression).
    Decimal {
        scale: Option<u8>,
    },
    /// `single`: 4-byte floats (FLOAT, real), about 7 significant digits.
    Float {
        single: bool,
    },
    Bool,
    Text,
    /// An enumerated type (MariaDB ENUM, a PostgreSQL enum): compared by label.
    Enum,
    /// A MariaDB SET, with its members sorted by bytes (empty: members not known).
    Set(Arc<[String]>),
    /// A PostgreSQL array, of elements of this type name.
    Array(Arc<str>),
    Date,
    /// Time of day, with its fractional-second digits where known.
    Time {
        precision: Option<u8>,
    },
    Timestamp {
        zoned: bool,
        precision: Option<u8>,
    },
    Uuid,
    Bytes,
    Json,
    /// A type comparison has no rule for, by the engine's name for it (`point`, `tsvector`;
    /// SQLite expressions, whose type the engine does not know, say `?`).
    Other(Arc<str>),
}

impl Native {
    /// A type comparison has no rule for.
    pub fn other(name: &str) -> Native {
        Native::Other(Arc::from(name.to_ascii_lowercase().as_str()))
    }

    /// How a person reads the type in a message: `decimal(2)`, `set`, `point`.
    pub fn describe(&self) -> String {
        match self {
            Native::Int { unsigned: true } => "unsigned integer".into(),
            Native::Int { unsigned: false } => "integer".into(),
            Native::Decimal { scale: Some(s) } => format!("decimal(scale {s})"),
            Native::Decimal { scale: None } => "decimal".into(),
            Native::Float { single: true } => "float (single precision)".into(),
            Native::Float { single: false } => "float (double precision)".into(),
            Native::Bool => "boolean".into(),
            Native::Text => "text".into(),
            Native::Enum => "enum".into(),
            Native::Set(_) => "set".into(),
            Native::Array(e) => format!("{e}[]"),
            Native::Date => "date".into(),
            Native::Time { .. } => "time".into(),
            Native::Timestamp { zoned: true, .. } => "timestamp with time zone".into(),
            Native::Timestamp { zoned: false, .. } => "timestamp".into(),
            Native::Uuid => "uuid".into(),
            Native::Bytes => "bytes".into(),
            Native::Json => "json".into(),
            Native::Other(name) => name.to_string(),
        }
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

/// What a database's catalog says of one column of a table (type names in lower case).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnFacts {
    /// The type's name (`decimal`, `character varying`, `USER-DEFINED`...).
    pub data_type: String,
    /// The full declaration where the engine keeps one (MySQL/MariaDB `COLUMN_TYPE`:
    /// `int(10) unsigned`, `set('a','b')`, `tinyint(1)`), or the underlying type's name
    /// (PostgreSQL `udt_name`: `_text` for `text[]`, an enum's name, `citext`).
    pub column_type: String,
    pub scale: Option<i64>,
    /// Fractional-second digits of a time or timestamp.
    pub precision: Option<i64>,
    pub charset: Option<String>,
    /// PostgreSQL: the underlying type's kind (`e` enum, `b` base, `d` domain...).
    pub kind: Option<String>,
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
    /// Compared by the agent rather than inside the database, after the diff (JSON between
    /// two engines that normalise it differently): left out of the row hash.
    pub by_agent: Vec<Col>,
    /// How this system's zone-less timestamps are read.
    pub tz: chrono_tz::Tz,
}

/// One part of a row key, typed for binding and ordering. Integers go to 128 bits, so an
/// unsigned 64-bit key (MySQL `BIGINT UNSIGNED`) fits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyPart {
    Int(i128),
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
            KeyPart::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(v), _) => serde_json::json!(v),
                (_, Ok(v)) => serde_json::json!(v),
                _ => serde_json::json!(i.to_string()),
            },
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
