//! The pieces every question is built from (row and key hashes, the `FROM ... WHERE` of a
//! side, bound key comparisons, hash sums), and [`Question`]: a query together with the
//! reading of its answer. The questions themselves (in `content` and `lookups`) are each one
//! function that writes the query and reads its rows side by side, so a result column's
//! position is defined once, next to the code that reads it.
//!
//! Every comparison query returns text columns only, so one reader serves all engines.

use super::dialect::{Dialect, Param, Query, SPLIT_BITS};
use crate::compare::normalize::LogicalType;
use crate::compare::{Bucket, Col, Key, KeyPart, Range, SideSpec, Sum};

/// One result row: every cell text, or NULL.
pub type Row = Vec<Option<String>>;

/// A question one system is asked: the query in its dialect, and how to read the rows that
/// come back into a typed answer (an error says what was unexpected).
pub struct Question<T> {
    pub query: Query,
    read: Box<dyn FnOnce(Vec<Row>) -> Result<T, String> + Send>,
}

impl<T> Question<T> {
    pub(super) fn new(
        query: Query,
        read: impl FnOnce(Vec<Row>) -> Result<T, String> + Send + 'static,
    ) -> Question<T> {
        Question {
            query,
            read: Box::new(read),
        }
    }

    /// Read the rows that answered [`Question::query`].
    pub(super) fn read(self, rows: Vec<Row>) -> Result<T, String> {
        (self.read)(rows)
    }
}

/// Reads a key from its canonical cells; `types` are the key parts' logical types.
pub(super) fn read_key(cells: &[Option<String>], types: &[LogicalType]) -> Result<Key, String> {
    if cells.len() < types.len() {
        return Err(format!(
            "a key has {} parts, expected {}",
            cells.len(),
            types.len()
        ));
    }
    types
        .iter()
        .zip(cells)
        .map(|(ty, cell)| {
            let text = cell.as_deref().ok_or_else(|| {
                "a key is NULL: rows with a NULL key cannot be matched; exclude them with `where`"
                    .to_string()
            })?;
            KeyPart::parse(text, *ty).ok_or_else(|| format!("bad key `{text}`"))
        })
        .collect()
}

/// Reads a key, or `None` when a part is NULL or not of its type (sampled and windowed keys
/// skip such rows rather than fail the run).
pub(super) fn read_key_lenient(cells: &[Option<String>], types: &[LogicalType]) -> Option<Key> {
    types
        .iter()
        .zip(cells)
        .map(|(ty, cell)| cell.as_deref().and_then(|t| KeyPart::parse(t, *ty)))
        .collect()
}

/// The logical types of a side's key parts, for reading keys back.
pub(super) fn key_types(side: &SideSpec) -> Vec<LogicalType> {
    side.key.iter().map(|c| c.ty).collect()
}

/// Reads a non-negative integer cell (NULL reads as 0: the SUM of no rows).
pub(super) fn read_u128(cell: Option<&Option<String>>, what: &str) -> Result<u128, String> {
    match cell {
        Some(c) => c
            .as_deref()
            .unwrap_or("0")
            .parse()
            .map_err(|_| format!("bad {what} {c:?}")),
        None => Err(format!("no {what} column")),
    }
}

/// Reads an integer cell.
pub(super) fn read_i64(cell: Option<&Option<String>>, what: &str) -> Result<i64, String> {
    cell.and_then(|c| c.as_deref())
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("bad {what} {cell:?}"))
}

/// Reads the count and hash sum written by [`hash_sums`] starting at `cells[0]` (the count):
/// returns it and the number of cells it took.
pub(super) fn read_sum(cells: &[Option<String>], split: bool) -> Result<(Sum, usize), String> {
    let count = read_u128(cells.first(), "count")? as u64;
    if split {
        let hi = read_u128(cells.get(1), "hash sum")?;
        let lo = read_u128(cells.get(2), "hash sum")?;
        Ok((
            Sum {
                count,
                sum: (hi << SPLIT_BITS) + lo,
            },
            3,
        ))
    } else {
        let sum = read_u128(cells.get(1), "hash sum")?;
        Ok((Sum { count, sum }, 2))
    }
}

/// Reads (key, row hash) rows, each key once: a key seen twice means the key is not unique.
pub(super) fn read_hashes(
    rows: Vec<Row>,
    types: &[LogicalType],
) -> Result<Vec<(Key, u64)>, String> {
    let n = types.len();
    rows.iter()
        .map(|r| {
            let key = read_key(r, types)?;
            let h = read_u128(r.get(n), "row hash")? as u64;
            Ok((key, h))
        })
        .collect()
}

/// The tokens of a row's values, to be joined with `|`: `N` for NULL, the canonical text for
/// values that never contain `|` (numbers, dates, times, uuids, hex), and `V<chars>:<text>` for
/// free text, whose length makes a `|` inside it harmless. The last free-text value needs no
/// length: every token before it is self-delimiting read from the left, every token after it
/// contains no `|` read from the right, so the joined string still decodes one way only, and
/// two different rows never join to the same string. Dropping that length (and the character
/// count it costs) makes the checksum scan of a table with one text column cheaper.
pub(super) fn tokens(d: &dyn Dialect, cols: &[&Col], tz: chrono_tz::Tz) -> Vec<String> {
    let tail = cols.iter().rposition(|c| c.ty.is_free_text());
    cols.iter()
        .enumerate()
        .map(|(i, col)| {
            let canon = d.canonical(col, tz);
            if !col.ty.is_free_text() {
                format!("COALESCE({canon}, 'N')")
            } else if Some(i) == tail {
                d.text_token_tail(&canon)
            } else {
                d.text_token(&canon)
            }
        })
        .collect()
}

/// The canonical text of each key part, as select-list items.
pub(super) fn canonical_keys(d: &dyn Dialect, side: &SideSpec) -> Vec<String> {
    side.key.iter().map(|c| d.canonical(c, side.tz)).collect()
}

/// The key's canonical string (`part|part`) and the row's (`key|col|col`).
pub(super) fn key_string(d: &dyn Dialect, side: &SideSpec) -> String {
    let cols: Vec<&Col> = side.key.iter().collect();
    let parts = tokens(d, &cols, side.tz);
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        d.join(&parts)
    }
}

pub(super) fn row_hash(d: &dyn Dialect, side: &SideSpec) -> String {
    let cols: Vec<&Col> = side.key.iter().chain(&side.columns).collect();
    d.hash60(&d.join(&tokens(d, &cols, side.tz)))
}

pub(super) fn key_hash(d: &dyn Dialect, side: &SideSpec) -> String {
    // The key string alone: rows with the same key fall in the same bucket on both sides.
    d.hash60(&key_string(d, side))
}

pub(super) fn from_where(d: &dyn Dialect, side: &SideSpec, extra: Option<String>) -> String {
    let mut conds = Vec::new();
    if let Some(f) = &side.filter {
        conds.push(format!("({f})"));
    }
    if let Some(e) = extra {
        conds.push(format!("({e})"));
    }
    let table = d.quote_table(&side.table);
    if conds.is_empty() {
        format!("FROM {table}")
    } else {
        format!("FROM {table} WHERE {}", conds.join(" AND "))
    }
}

/// Binds key parts and writes the comparison `key OP (params)`.
pub(super) struct Binder<'a> {
    pub(super) d: &'a dyn Dialect,
    pub(super) side: &'a SideSpec,
    pub(super) params: Vec<Param>,
}

impl<'a> Binder<'a> {
    pub(super) fn new(d: &'a dyn Dialect, side: &'a SideSpec) -> Binder<'a> {
        Binder {
            d,
            side,
            params: Vec::new(),
        }
    }

    /// `sql` with the parameters bound so far.
    pub(super) fn query(self, sql: String) -> Query {
        Query {
            sql,
            params: self.params,
        }
    }

    pub(super) fn bind(&mut self, key: &Key) -> Vec<String> {
        key.iter()
            .zip(&self.side.key)
            .map(|(part, col)| {
                let (param, big) = match part {
                    KeyPart::Int(i) => match i64::try_from(*i) {
                        Ok(v) => (Param::Int(v), false),
                        // Beyond 64 bits (an unsigned BIGINT): bound as its digits.
                        Err(_) => (Param::Text(i.to_string()), true),
                    },
                    KeyPart::Text(s) => (Param::Text(s.clone()), false),
                };
                self.params.push(param);
                self.d.placeholder(self.params.len(), col, big)
            })
            .collect()
    }

    pub(super) fn compare(&mut self, op: &str, key: &Key) -> String {
        let lhs: Vec<String> = self
            .side
            .key
            .iter()
            .map(|c| self.d.key_operand(c))
            .collect();
        let rhs = self.bind(key);
        if lhs.len() == 1 {
            format!("{} {op} {}", lhs[0], rhs[0])
        } else {
            format!("({}) {op} ({})", lhs.join(", "), rhs.join(", "))
        }
    }

    pub(super) fn range(&mut self, r: &Range) -> String {
        let mut conds = Vec::new();
        if let Some(lo) = &r.lo {
            conds.push(self.compare(">=", lo));
        }
        if let Some(hi) = &r.hi {
            conds.push(self.compare("<", hi));
        }
        if conds.is_empty() {
            "1=1".to_string()
        } else {
            conds.join(" AND ")
        }
    }

    /// An expression giving, for a key, how many of `bounds` (sorted) are <= it: the index
    /// of its segment. A balanced CASE tree: log2(n) comparisons a row.
    pub(super) fn segment_of(&mut self, bounds: &[Key], offset: usize) -> String {
        if bounds.is_empty() {
            return offset.to_string();
        }
        let mid = bounds.len() / 2;
        let cond = self.compare("<", &bounds[mid]);
        let left = self.segment_of(&bounds[..mid], offset);
        let right = self.segment_of(&bounds[mid + 1..], offset + mid + 1);
        format!("CASE WHEN {cond} THEN {left} ELSE {right} END")
    }
}

/// The select-list items summing row hashes: one exact sum, or high and low halves.
pub(super) fn hash_sums(d: &dyn Dialect, h: &str) -> String {
    if d.split_sum() {
        format!(
            "{}, {}",
            d.to_text(&format!("SUM({})", d.shift_right(h, SPLIT_BITS))),
            d.to_text(&format!("SUM({})", d.bit_and(h, (1 << SPLIT_BITS) - 1)))
        )
    } else {
        d.to_text(&format!("SUM({h})"))
    }
}

/// floor((key - origin) / width) with integer arithmetic only (every engine's integer
/// division truncates toward zero).
pub(super) fn floor_div(d: &dyn Dialect, key: &str, origin: i64, width: i64) -> String {
    format!(
        "CASE WHEN {key} >= {origin} THEN {} ELSE -{} - 1 END",
        d.int_div(&format!("({key} - {origin})"), &width.to_string()),
        d.int_div(&format!("({origin} - {key} - 1)"), &width.to_string()),
    )
}

pub(super) fn int_ranges(b: &mut Binder<'_>, within: &[(i64, i64)]) -> String {
    within
        .iter()
        .map(|(lo, hi)| {
            let lo = b.compare(">=", &vec![KeyPart::Int(i128::from(*lo))]);
            let hi = b.compare("<=", &vec![KeyPart::Int(i128::from(*hi))]);
            format!("({lo} AND {hi})")
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

pub(super) fn range_union(b: &mut Binder<'_>, ranges: &[Range], buckets: &[Bucket]) -> String {
    let mut used: Vec<usize> = buckets.iter().map(|x| x.range).collect();
    used.sort_unstable();
    used.dedup();
    used.iter()
        .map(|i| format!("({})", b.range(&ranges[*i])))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// `(range_i AND kh & mask IN (v, ...)) OR ...` for the buckets, grouped by range and depth
/// (buckets of one range can sit at different depths: some became leaves a level earlier).
pub(super) fn parent_filter(
    b: &mut Binder<'_>,
    ranges: &[Range],
    buckets: &[Bucket],
    kh: &str,
) -> String {
    let mut groups: std::collections::BTreeMap<(usize, u8), Vec<u64>> = Default::default();
    for x in buckets {
        groups.entry((x.range, x.bits)).or_default().push(x.value);
    }
    let d = b.d;
    let arms: Vec<String> = groups
        .iter()
        .map(|((r, bits), values)| {
            let range = b.range(&ranges[*r]);
            if *bits == 0 {
                return format!("({range})");
            }
            let mask = (1u64 << bits) - 1;
            let values: Vec<String> = values.iter().map(u64::to_string).collect();
            format!(
                "(({range}) AND {} IN ({}))",
                d.bit_and(kh, mask),
                values.join(", ")
            )
        })
        .collect();
    arms.join(" OR ")
}

/// An expression that orders values the same way on every engine: integers by value,
/// everything else by the bytes of its canonical text.
pub(super) fn order_key(d: &dyn Dialect, col: &Col, tz: chrono_tz::Tz) -> String {
    if col.ty == LogicalType::Int {
        d.key_operand(col)
    } else {
        d.key_operand(&Col {
            expr: d.canonical(col, tz),
            ty: LogicalType::Text,
            native: crate::compare::Native::Text,
            plain: false,
        })
    }
}

pub(super) fn not_null(cols: &[Col]) -> String {
    cols.iter()
        .map(|c| format!("({}) IS NOT NULL", c.expr))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `SELECT COUNT(*)` of a table, optionally filtered by the check's `where`.
pub(super) fn count_sql(d: &dyn Dialect, table: &str, filter: Option<&str>) -> String {
    match filter {
        Some(f) => format!("SELECT COUNT(*) FROM {} WHERE ({f})", d.quote_table(table)),
        None => format!("SELECT COUNT(*) FROM {}", d.quote_table(table)),
    }
}

/// A query that touches no rows but fails if the table, or a column the filter names, does
/// not exist.
pub(super) fn probe_sql(d: &dyn Dialect, table: &str, filter: Option<&str>) -> String {
    match filter {
        Some(f) => format!("SELECT 1 FROM {} WHERE ({f}) LIMIT 0", d.quote_table(table)),
        None => format!("SELECT 1 FROM {} LIMIT 0", d.quote_table(table)),
    }
}

/// Result columns of `SELECT <exprs> FROM table` without reading a row, for type inference.
pub(super) fn describe_sql(d: &dyn Dialect, table: &str, exprs: &[String]) -> String {
    let cols = if exprs.is_empty() {
        "*".to_string()
    } else {
        exprs.join(", ")
    };
    format!("SELECT {cols} FROM {} WHERE 1=0", d.quote_table(table))
}

/// The rows of a side whose timestamp column is recent: `column`'s canonical UTC value at or
/// after `cutoff` (a canonical timestamp the agent formatted).
#[derive(Clone, Debug)]
pub struct Window {
    pub column: Col,
    pub cutoff: String,
}

/// What an aggregate question computes per group.
#[derive(Clone, Debug)]
pub enum Aggregate {
    /// `COUNT(*)`, or `COUNT(col)` (non-NULL values).
    Count(Option<Col>),
    /// SUM, MIN or MAX of a column, rendered canonically as `Col::ty`.
    Sum(Col),
    Min(Col),
    Max(Col),
}
