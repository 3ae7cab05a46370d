//! The questions a content comparison asks one side (`hash_diff`, `hash_sample`): the side's
//! size, its key range, the count and hash sum of every block, segment or key-hash bucket,
//! the key and row hash of the rows in a small range, the canonical values of given rows, and
//! random or recent keys. Each question is one method that writes the query from the engine's
//! dialect and reads its rows right there. The algorithm that decides which questions to ask
//! lives with the checks; this module never decides anything about a difference.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::sql::{
    canonical_keys, floor_div, from_where, hash_sums, int_ranges, key_hash, key_types, order_key,
    parent_filter, range_union, read_hashes, read_i64, read_key, read_key_lenient, read_sum,
    read_u128, row_hash, Binder, Question, Window,
};
use super::{DbError, Query, Reader};

/// Rows in flight between a streaming query and whoever reads them.
const STREAM_BUFFER: usize = 1024;
use crate::compare::normalize::LogicalType;
use crate::compare::{Bucket, ColumnFacts, Key, KeyPart, Native, Range, SideSpec, Sum};

impl Reader<'_> {
    /// How many rows the side has: the catalog's estimate where the engine keeps one and the
    /// side has no `where` (cheap on a large legacy table), else an exact count. An estimate
    /// only ever sizes work; it never decides a difference.
    pub async fn row_estimate(&self, side: &SideSpec) -> Result<u64, DbError> {
        let d = self.dialect();
        let sql = match (&side.filter, d.row_estimate(&side.table)) {
            (None, Some(sql)) => sql,
            _ => format!(
                "SELECT {} {}",
                d.to_text("COUNT(*)"),
                from_where(d, side, None)
            ),
        };
        let estimate = self
            .ask(Question::new(Query::text(sql), |rows| {
                Ok(rows
                    .first()
                    .and_then(|r| r.first())
                    .cloned()
                    .flatten()
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0))
            }))
            .await?;
        if estimate > 0 {
            return Ok(estimate as u64);
        }
        // No statistics yet (a table never analysed): count.
        Ok(self
            .count_rows(&side.table, side.filter.as_deref())
            .await?
            .max(0) as u64)
    }

    /// MIN and MAX of a single integer key (an index lookup where the key is indexed);
    /// `None` when the side has no rows.
    pub async fn key_range(&self, side: &SideSpec) -> Result<Option<(i128, i128)>, DbError> {
        let d = self.dialect();
        let k = d.key_operand(&side.key[0]);
        let sql = format!(
            "SELECT {}, {} {}",
            d.to_text(&format!("MIN({k})")),
            d.to_text(&format!("MAX({k})")),
            from_where(d, side, None)
        );
        self.ask(Question::new(Query::text(sql), |rows| {
            let cell = |i: usize| {
                rows.first()
                    .and_then(|r| r.get(i))
                    .cloned()
                    .flatten()
                    .and_then(|v| v.parse::<i128>().ok())
            };
            Ok(cell(0).zip(cell(1)))
        }))
        .await
    }

    /// Count and hash sum per block of `width` consecutive integer keys from `origin`, over
    /// the whole side or only the inclusive key ranges `within`: (block index, sums).
    pub async fn block_sums(
        &self,
        side: &SideSpec,
        origin: i64,
        width: i64,
        within: &[(i64, i64)],
    ) -> Result<Vec<(i64, Sum)>, DbError> {
        let d = self.dialect();
        let mut b = Binder::new(d, side);
        let k = d.signed_int(&d.key_operand(&side.key[0]));
        let block = floor_div(d, &k, origin, width);
        let hash = row_hash(d, side);
        let filter = (!within.is_empty()).then(|| int_ranges(&mut b, within));
        // Block number and count stay integers: grouping by an integer is much cheaper than
        // by its text.
        let sql = format!(
            "SELECT {block}, COUNT(*), {} {} GROUP BY 1",
            hash_sums(d, &hash),
            from_where(d, side, filter),
        );
        let split = d.split_sum();
        let query = b.query(sql);
        self.ask(Question::new(query, move |rows| {
            rows.iter()
                .map(|r| Ok((read_i64(r.first(), "block")?, read_sum(&r[1..], split)?.0)))
                .collect()
        }))
        .await
    }

    /// Key and row hash of every row in the inclusive integer key ranges `within`.
    pub async fn block_rows(
        &self,
        side: &SideSpec,
        within: &[(i64, i64)],
    ) -> Result<Vec<(Key, u64)>, DbError> {
        let d = self.dialect();
        let mut b = Binder::new(d, side);
        let keys: Vec<String> = canonical_keys(d, side);
        let h = d.to_text(&row_hash(d, side));
        let filter = int_ranges(&mut b, within);
        let sql = format!(
            "SELECT {}, {h} {}",
            keys.join(", "),
            from_where(d, side, Some(filter))
        );
        self.hashes(b.query(sql), side).await
    }

    /// Keys cutting the side's rows into segments of `segment_rows` rows by row position (or
    /// more rows each, so that there are at most `max_segments`), in key order.
    pub async fn boundaries(
        &self,
        side: &SideSpec,
        segment_rows: u64,
        max_segments: u64,
    ) -> Result<Vec<Key>, DbError> {
        let d = self.dialect();
        let keys: Vec<String> = canonical_keys(d, side);
        let order: Vec<String> = side.key.iter().map(|c| d.key_operand(c)).collect();
        let cols: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} AS k{i}"))
            .collect();
        let firsts: Vec<String> = (0..keys.len()).map(|i| format!("k{i}")).collect();
        let sql = format!(
            "SELECT {firsts} FROM (SELECT {cols}, ROW_NUMBER() OVER (ORDER BY {order}) AS dw_rn, COUNT(*) OVER () AS dw_n {from}) dw_t \
             WHERE dw_rn % {step} = 0 AND dw_rn < dw_n ORDER BY dw_rn",
            step = d.greatest(&segment_rows.to_string(), &format!("{} + 1", d.int_div("dw_n", &max_segments.to_string()))),
            firsts = firsts.join(", "),
            cols = cols.join(", "),
            order = order.join(", "),
            from = from_where(d, side, None),
        );
        let types = key_types(side);
        self.ask(Question::new(Query::text(sql), move |rows| {
            rows.iter().map(|r| read_key(r, &types)).collect()
        }))
        .await
    }

    /// Count and hash sum of every segment cut by `bounds` (sorted keys): one scan of the
    /// side, (segment index, sums) for the segments that have rows.
    pub async fn segment_sums(
        &self,
        side: &SideSpec,
        bounds: &[Key],
    ) -> Result<Vec<(usize, Sum)>, DbError> {
        let d = self.dialect();
        let mut b = Binder::new(d, side);
        let ints: Option<Vec<i64>> = (side.key.len() == 1 && side.key[0].ty == LogicalType::Int)
            .then(|| {
                bounds
                    .iter()
                    .map(|k| match k.first() {
                        Some(KeyPart::Int(i)) => i64::try_from(*i).ok(),
                        _ => None,
                    })
                    .collect()
            })
            .flatten();
        let seg = if bounds.is_empty() {
            "0".to_string()
        } else {
            ints.and_then(|ints| d.int_bucket(&d.key_operand(&side.key[0]), &ints))
                .unwrap_or_else(|| b.segment_of(bounds, 0))
        };
        let sql = format!(
            "SELECT {seg}, COUNT(*), {} {} GROUP BY 1",
            hash_sums(d, &row_hash(d, side)),
            from_where(d, side, None),
        );
        let split = d.split_sum();
        let query = b.query(sql);
        self.ask(Question::new(query, move |rows| {
            rows.iter()
                .map(|r| {
                    let seg = read_u128(r.first(), "segment")? as usize;
                    Ok((seg, read_sum(&r[1..], split)?.0))
                })
                .collect()
        }))
        .await
    }

    /// Rows of the given `parents` (buckets of `ranges`), grouped by the low `bits` bits of
    /// their key hash: (index into `ranges`, bucket value, sums) per non-empty child bucket.
    ///
    /// Placeholders are bound in the order they appear in the text (MySQL's `?` is
    /// positional), so every piece is built in text order and a range used twice is bound
    /// twice.
    pub async fn bucket_sums(
        &self,
        side: &SideSpec,
        ranges: &[Range],
        parents: &[Bucket],
        bits: u8,
    ) -> Result<Vec<(usize, u64, Sum)>, DbError> {
        let d = self.dialect();
        let mut b = Binder::new(d, side);
        let which = if ranges.len() == 1 {
            "0".to_string()
        } else {
            let arms: Vec<String> = ranges
                .iter()
                .enumerate()
                .map(|(i, r)| format!("WHEN {} THEN {i}", b.range(r)))
                .collect();
            format!("CASE {} END", arms.join(" "))
        };
        let hash = row_hash(d, side);
        let kh = key_hash(d, side);
        let inner = range_union(&mut b, ranges, parents);
        let from = from_where(d, side, Some(inner));
        let filter = parent_filter(&mut b, ranges, parents, "dw_kh");
        let sql = format!(
            "SELECT {r_t}, {b_t}, {cnt}, {sums} FROM (SELECT {which} AS dw_r, {bucket} AS dw_b, {hash} AS dw_h \
             FROM (SELECT *, {kh} AS dw_kh {from}) dw_k WHERE {filter}) dw_t GROUP BY dw_r, dw_b",
            r_t = d.to_text("dw_r"),
            b_t = d.to_text("dw_b"),
            cnt = d.to_text("COUNT(*)"),
            sums = hash_sums(d, "dw_h"),
            bucket = d.bit_and("dw_kh", (1u64 << bits) - 1),
        );
        let split = d.split_sum();
        let nranges = ranges.len();
        let query = b.query(sql);
        self.ask(Question::new(query, move |rows| {
            rows.iter()
                .map(|r| {
                    let range = read_u128(r.first(), "range")? as usize;
                    if range >= nranges {
                        return Err(format!("range {range} out of bounds"));
                    }
                    let value = read_u128(r.get(1), "bucket")? as u64;
                    Ok((range, value, read_sum(&r[2..], split)?.0))
                })
                .collect()
        }))
        .await
    }

    /// Key and row hash of every row in `leaves` (buckets of `ranges`).
    pub async fn leaf_hashes(
        &self,
        side: &SideSpec,
        ranges: &[Range],
        leaves: &[Bucket],
    ) -> Result<Vec<(Key, u64)>, DbError> {
        let d = self.dialect();
        let mut b = Binder::new(d, side);
        let keys: Vec<String> = canonical_keys(d, side);
        let h = d.to_text(&row_hash(d, side));
        let kh = key_hash(d, side);
        let inner = range_union(&mut b, ranges, leaves);
        let from = from_where(d, side, Some(inner));
        let filter = parent_filter(&mut b, ranges, leaves, "dw_kh");
        let sql = format!(
            "SELECT {keys}, {h} FROM (SELECT *, {kh} AS dw_kh {from}) dw_k WHERE {filter}",
            keys = keys.join(", "),
        );
        self.hashes(b.query(sql), side).await
    }

    /// Key and row hash of the rows with the given keys.
    pub async fn key_hashes(
        &self,
        side: &SideSpec,
        keys: &[Key],
    ) -> Result<Vec<(Key, u64)>, DbError> {
        let d = self.dialect();
        let mut b = Binder::new(d, side);
        let cols: Vec<String> = canonical_keys(d, side);
        let h = d.to_text(&row_hash(d, side));
        let conds: Vec<String> = keys.iter().map(|k| b.compare("=", k)).collect();
        let sql = format!(
            "SELECT {}, {h} {}",
            cols.join(", "),
            from_where(d, side, Some(conds.join(" OR ")))
        );
        self.hashes(b.query(sql), side).await
    }

    /// The canonical values of the compared columns, then of the extra (fetched, never
    /// compared) columns, then of the columns the agent compares, of the rows with the given
    /// keys.
    pub async fn rows_for_keys(
        &self,
        side: &SideSpec,
        keys: &[Key],
    ) -> Result<Vec<(Key, Vec<Option<String>>)>, DbError> {
        let d = self.dialect();
        let mut b = Binder::new(d, side);
        let conds: Vec<String> = keys.iter().map(|k| b.compare("=", k)).collect();
        let mut cols: Vec<String> = canonical_keys(d, side);
        cols.extend(side.columns.iter().map(|c| d.canonical(c, side.tz)));
        cols.extend(side.extra.iter().map(|c| d.canonical(c, side.tz)));
        cols.extend(side.by_agent.iter().map(|c| d.canonical(c, side.tz)));
        let sql = format!(
            "SELECT {} {}",
            cols.join(", "),
            from_where(d, side, Some(conds.join(" OR ")))
        );
        let types = key_types(side);
        let query = b.query(sql);
        self.ask(Question::new(query, move |rows| {
            let n = types.len();
            Ok(rows
                .into_iter()
                .filter_map(|mut r| {
                    let key = read_key_lenient(&r, &types)?;
                    Some((key, r.split_off(n.min(r.len()))))
                })
                .collect())
        }))
        .await
    }

    /// Streams every row's key and the canonical values of the columns the agent compares
    /// (`side.by_agent`) into `tx`, in the key order both systems share (integers by value,
    /// everything else by the bytes of its canonical text), so two systems' rows can be
    /// merged with bounded memory. Stops early when the receiver is gone.
    pub async fn stream_rows(
        &self,
        side: &SideSpec,
        tx: mpsc::Sender<(Key, Vec<Option<String>>)>,
    ) -> Result<u64, DbError> {
        let d = self.dialect();
        let mut cols = canonical_keys(d, side);
        cols.extend(side.by_agent.iter().map(|c| d.canonical(c, side.tz)));
        let order: Vec<String> = side.key.iter().map(|c| order_key(d, c, side.tz)).collect();
        let sql = format!(
            "SELECT {} {} ORDER BY {}",
            cols.join(", "),
            from_where(d, side, None),
            order.join(", ")
        );
        let query = Query::text(sql);
        let types = key_types(side);
        let (raw_tx, mut raw_rx) = mpsc::channel::<Vec<Option<String>>>(STREAM_BUFFER);
        let read = async {
            let mut sent = 0u64;
            while let Some(mut row) = raw_rx.recv().await {
                let key = read_key(&row, &types)?;
                let values = row.split_off(types.len().min(row.len()));
                if tx.send((key, values)).await.is_err() {
                    break;
                }
                sent += 1;
            }
            Ok::<u64, String>(sent)
        };
        let (streamed, read) = tokio::join!(self.stream(&query, raw_tx), read);
        streamed?;
        read.map_err(|e| self.unexpected(&query, e))
    }

    /// Keys of about `fraction` of the side's rows, chosen at random by the engine inside
    /// the scan (no sort of the table), at most `limit`.
    pub async fn sample_keys(
        &self,
        side: &SideSpec,
        fraction: f64,
        limit: u32,
    ) -> Result<Vec<Key>, DbError> {
        let d = self.dialect();
        let (from, random) = d.sample_from(&d.quote_table(&side.table), fraction.clamp(0.0, 1.0));
        let conds: Vec<String> = side
            .filter
            .iter()
            .map(|f| format!("({f})"))
            .chain(random)
            .collect();
        let keys: Vec<String> = canonical_keys(d, side);
        let sql = format!(
            "SELECT {} FROM {from}{} LIMIT {limit}",
            keys.join(", "),
            if conds.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conds.join(" AND "))
            }
        );
        self.keys(Query::text(sql), side).await
    }

    /// Keys of the side's rows, of only those inside `window` when given.
    pub async fn keys_in(
        &self,
        side: &SideSpec,
        window: Option<&Window>,
    ) -> Result<Vec<Key>, DbError> {
        let d = self.dialect();
        let keys: Vec<String> = canonical_keys(d, side);
        // `cutoff` is formatted by the agent (digits, '-', ':', '.', ' '): safe to inline.
        let condition =
            window.map(|w| format!("{} >= '{}'", d.canonical(&w.column, side.tz), w.cutoff));
        let sql = format!(
            "SELECT {} {}",
            keys.join(", "),
            from_where(d, side, condition)
        );
        self.keys(Query::text(sql), side).await
    }

    /// What each of `exprs` holds on `table`: the catalog's word for a bare column of the
    /// table (its scale, precision, members, sign...), the driver's description of the result
    /// column otherwise. Reads no rows.
    pub async fn natives(&self, table: &str, exprs: &[String]) -> Result<Vec<Native>, DbError> {
        let described = self.describe(table, exprs).await?;
        let catalog = self.catalog(table).await?;
        let d = self.dialect();
        Ok(exprs
            .iter()
            .zip(described)
            .map(|(expr, (_, native))| {
                bare_column(expr)
                    .and_then(|name| catalog.get(&name))
                    .and_then(|facts| d.native_of(facts))
                    .unwrap_or(native)
            })
            .collect())
    }

    /// Marks the key, compared and extra columns of `side` that are bare columns the catalog
    /// vouches for as plain (see [`crate::compare::Col::plain`]).
    pub async fn mark_plain(&self, side: &mut SideSpec) -> Result<(), DbError> {
        let catalog = self.catalog(&side.table).await?;
        let (d, tz) = (self.dialect(), side.tz);
        for col in side
            .key
            .iter_mut()
            .chain(side.columns.iter_mut())
            .chain(side.extra.iter_mut())
        {
            if let Some(facts) = bare_column(&col.expr).and_then(|name| catalog.get(&name)) {
                col.plain = d.plain(col, facts, tz);
            }
        }
        Ok(())
    }

    /// What the catalog says of `table`'s columns, by lower-case column name; asked once per
    /// table per reader.
    async fn catalog(&self, table: &str) -> Result<Arc<super::Catalog>, DbError> {
        if let Some(known) = self.catalogs.lock().expect("catalog cache").get(table) {
            return Ok(known.clone());
        }
        let sql = self.dialect().catalog(table);
        let facts = self
            .ask(Question::new(Query::text(sql), |rows| {
                let text = |v: Option<&Option<String>>| v.cloned().flatten();
                let lower = |v: Option<&Option<String>>| text(v).map(|t| t.to_ascii_lowercase());
                let num = |v: Option<&Option<String>>| text(v).and_then(|t| t.parse().ok());
                Ok(rows
                    .iter()
                    .filter_map(|r| {
                        let name = lower(r.first())?;
                        let data_type = lower(r.get(1))?;
                        Some((
                            name,
                            ColumnFacts {
                                data_type,
                                column_type: lower(r.get(2)).unwrap_or_default(),
                                scale: num(r.get(3)),
                                precision: num(r.get(4)),
                                charset: lower(r.get(5)),
                                kind: text(r.get(6)),
                            },
                        ))
                    })
                    .collect::<HashMap<_, _>>())
            }))
            .await?;
        let facts = Arc::new(facts);
        self.catalogs
            .lock()
            .expect("catalog cache")
            .insert(table.to_string(), facts.clone());
        Ok(facts)
    }

    /// Rows of (key, row hash).
    async fn hashes(&self, query: Query, side: &SideSpec) -> Result<Vec<(Key, u64)>, DbError> {
        let types = key_types(side);
        self.ask(Question::new(query, move |rows| read_hashes(rows, &types)))
            .await
    }

    /// Rows of keys; a row whose key is NULL or not of its type is skipped.
    async fn keys(&self, query: Query, side: &SideSpec) -> Result<Vec<Key>, DbError> {
        let types = key_types(side);
        self.ask(Question::new(query, move |rows| {
            Ok(rows
                .iter()
                .filter_map(|r| read_key_lenient(r, &types))
                .collect())
        }))
        .await
    }
}

/// The column a bare (optionally quoted) identifier names, in lower case; `None` for any
/// other expression.
fn bare_column(expr: &str) -> Option<String> {
    let bare = expr.trim().trim_matches(|c| c == '`' || c == '"');
    let is_ident = !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    is_ident.then(|| bare.to_ascii_lowercase())
}
