//! The questions the other kinds ask one side: the newest change time and the recently
//! changed keys (`lag`), child keys without a parent on the same system and every distinct
//! key in an engine-independent order (`ref_integrity`), and per-group aggregates
//! (`aggregate`). Each question is one method that writes the query from the engine's
//! dialect and reads its rows right there; none of them decides what the answer means.

use tokio::sync::mpsc;

use super::sql::{
    canonical_keys, from_where, key_types, not_null, order_key, read_key, read_key_lenient,
    read_u128, Aggregate, Question,
};
use super::{DbError, Query, Reader};
use crate::compare::normalize::LogicalType;
use crate::compare::{Col, Key, Native, SideSpec};

/// Rows in flight between a streaming query and whoever reads its keys.
const STREAM_BUFFER: usize = 1024;

impl Reader<'_> {
    /// The canonical (UTC) text of the newest value of `ts` on the side; `None` when no row
    /// matches.
    pub async fn newest(&self, side: &SideSpec, ts: &Col) -> Result<Option<String>, DbError> {
        let d = self.dialect();
        let max = Col {
            expr: format!("MAX({})", ts.expr),
            ..ts.clone()
        };
        let sql = format!(
            "SELECT {} {}",
            d.canonical(&max, side.tz),
            from_where(d, side, None)
        );
        self.ask(Question::new(Query::text(sql), |rows| {
            Ok(rows.first().and_then(|r| r.first()).cloned().flatten())
        }))
        .await
    }

    /// Key and canonical change time (`side.columns[0]`) of the rows changed at or after
    /// `cutoff` (a canonical UTC timestamp), newest first, at most `limit`; rows with a NULL
    /// key or time are left out.
    pub async fn recent_changes(
        &self,
        side: &SideSpec,
        cutoff: &str,
        limit: u32,
    ) -> Result<Vec<(Key, String)>, DbError> {
        let d = self.dialect();
        let ts = &side.columns[0];
        let mut cols: Vec<String> = canonical_keys(d, side);
        cols.push(d.canonical(ts, side.tz));
        // `cutoff` is formatted by the agent (digits, '-', ':', '.', ' '): safe to inline.
        let cond = format!("{} >= '{cutoff}'", d.canonical(ts, side.tz));
        let sql = format!(
            "SELECT {} {} ORDER BY ({}) DESC LIMIT {limit}",
            cols.join(", "),
            from_where(d, side, Some(cond)),
            ts.expr
        );
        let types = key_types(side);
        self.ask(Question::new(Query::text(sql), move |rows| {
            let n = types.len();
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let key = read_key_lenient(r, &types)?;
                    Some((key, r.get(n)?.clone()?))
                })
                .collect())
        }))
        .await
    }

    /// Child rows (`child.key` = the referencing columns) whose parent row (`parent.key`)
    /// does not exist, both on this system: the count of orphan rows, and up to `limit`
    /// orphan keys with their row counts, in key order. Rows with a NULL reference are
    /// skipped, as a foreign key skips them; equality is the database's own, as its foreign
    /// keys would use.
    pub async fn local_orphans(
        &self,
        child: &SideSpec,
        parent: &SideSpec,
        limit: u32,
    ) -> Result<(u64, Vec<(Key, u64)>), DbError> {
        let d = self.dialect();
        let alias = |side: &SideSpec, prefix: &str| -> String {
            let cols: Vec<String> = side
                .key
                .iter()
                .enumerate()
                .map(|(i, c)| format!("({}) AS {prefix}{i}", c.expr))
                .collect();
            format!("SELECT {} {}", cols.join(", "), from_where(d, side, None))
        };
        let n = child.key.len();
        let join: Vec<String> = (0..n).map(|i| format!("p.p{i} = c.c{i}")).collect();
        let nulls: Vec<String> = (0..n).map(|i| format!("c.c{i} IS NOT NULL")).collect();
        let body = format!(
            "FROM ({}) c WHERE {} AND NOT EXISTS (SELECT 1 FROM ({}) p WHERE {})",
            alias(child, "c"),
            nulls.join(" AND "),
            alias(parent, "p"),
            join.join(" AND ")
        );
        let renamed = |i: usize, c: &Col| Col {
            expr: format!("c.c{i}"),
            ..c.clone()
        };
        let canon: Vec<String> = child
            .key
            .iter()
            .enumerate()
            .map(|(i, c)| d.canonical(&renamed(i, c), child.tz))
            .collect();
        let order: Vec<String> = child
            .key
            .iter()
            .enumerate()
            .map(|(i, c)| order_key(d, &renamed(i, c), child.tz))
            .collect();
        let count = Question::new(
            Query::text(format!("SELECT {} {body}", d.to_text("COUNT(*)"))),
            |rows| Ok(read_u128(rows.first().and_then(|r| r.first()), "count")? as u64),
        );
        let types = key_types(child);
        let sample = Question::new(
            Query::text(format!(
                "SELECT {}, {} {body} GROUP BY {} ORDER BY {} LIMIT {limit}",
                canon.join(", "),
                d.to_text("COUNT(*)"),
                (0..n)
                    .map(|i| format!("c.c{i}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                order.join(", ")
            )),
            move |rows| {
                rows.iter()
                    .map(|r| Ok((read_key(r, &types)?, read_u128(r.get(n), "count")? as u64)))
                    .collect()
            },
        );
        let (count, sample) = tokio::join!(self.ask(count), self.ask(sample));
        Ok((count?, sample?))
    }

    /// Streams the distinct non-NULL keys of `side.key` into `tx` in the engine-independent
    /// order of integers by value and everything else by the bytes of its canonical text,
    /// each with its row count (1 when not `counted`), so two systems' streams can be merged
    /// with bounded memory. Stops early when the receiver is gone. Returns the keys sent.
    pub async fn stream_keys(
        &self,
        side: &SideSpec,
        counted: bool,
        tx: mpsc::Sender<(Key, u64)>,
    ) -> Result<u64, DbError> {
        let d = self.dialect();
        // An integer orders by itself and its text follows from it: group and order by the
        // value alone. Anything else is grouped by the bytes of its canonical text too.
        let mut inner: Vec<String> = Vec::new();
        let mut shown: Vec<String> = Vec::new();
        let mut group: Vec<String> = Vec::new();
        let mut order: Vec<String> = Vec::new();
        for (i, c) in side.key.iter().enumerate() {
            inner.push(format!("{} AS o{i}", order_key(d, c, side.tz)));
            order.push(format!("o{i}"));
            group.push(format!("o{i}"));
            if c.ty == LogicalType::Int {
                // Named apart from `o{i}`: ORDER BY would take an output column of that name.
                shown.push(format!("{} AS key{i}", d.to_text(&format!("o{i}"))));
            } else {
                inner.push(format!("{} AS k{i}", d.canonical(c, side.tz)));
                shown.push(format!("k{i}"));
                group.push(format!("k{i}"));
            }
        }
        let sql = format!(
            "SELECT {}, {} FROM (SELECT {} {}) t GROUP BY {} ORDER BY {}",
            shown.join(", "),
            if counted {
                d.to_text("COUNT(*)")
            } else {
                "'1'".to_string()
            },
            inner.join(", "),
            from_where(d, side, Some(not_null(&side.key))),
            group.join(", "),
            order.join(", "),
        );
        let query = Query::text(sql);
        let types = key_types(side);
        let (raw_tx, mut raw_rx) = mpsc::channel::<Vec<Option<String>>>(STREAM_BUFFER);
        let read = async {
            let mut sent = 0u64;
            while let Some(row) = raw_rx.recv().await {
                let key = read_key(&row, &types).map_err(|e| {
                    format!("{e}: a key or reference that cannot be read as its type; declare how it compares (`types:` or `key_types:`)")
                })?;
                let rows = read_u128(row.get(types.len()), "count")? as u64;
                if tx.send((key, rows)).await.is_err() {
                    break;
                }
                sent += 1;
            }
            Ok::<u64, String>(sent)
        };
        let (streamed, read) = tokio::join!(self.stream(&query, raw_tx), read);
        // A failed stream ends early: its error wins over what was read.
        streamed?;
        read.map_err(|e| self.unexpected(&query, e))
    }

    /// One row per group: the group's canonical values, then each aggregate as text. Groups
    /// are formed by byte-exact canonical values, so every engine forms the same groups.
    pub async fn aggregates(
        &self,
        side: &SideSpec,
        aggs: &[Aggregate],
    ) -> Result<Vec<(Vec<Option<String>>, Vec<Option<String>>)>, DbError> {
        let d = self.dialect();
        let mut inner: Vec<String> = Vec::new();
        for (i, c) in side.key.iter().enumerate() {
            inner.push(format!("{} AS g{i}", d.canonical(c, side.tz)));
            inner.push(format!("{} AS o{i}", order_key(d, c, side.tz)));
        }
        let mut outer: Vec<String> = (0..side.key.len()).map(|i| format!("g{i}")).collect();
        for (j, a) in aggs.iter().enumerate() {
            let m = format!("m{j}");
            let over = |c: &Col, f: &str| Col {
                expr: format!("{f}({m})"),
                ..c.clone()
            };
            match a {
                Aggregate::Count(None) => outer.push(d.to_text("COUNT(*)")),
                Aggregate::Count(Some(c)) => {
                    inner.push(format!("({}) AS {m}", c.expr));
                    outer.push(d.to_text(&format!("COUNT({m})")));
                }
                Aggregate::Sum(c) => {
                    inner.push(format!("({}) AS {m}", c.expr));
                    outer.push(d.canonical(&over(c, "SUM"), side.tz));
                }
                Aggregate::Min(c) | Aggregate::Max(c) => {
                    let f = if matches!(a, Aggregate::Min(_)) {
                        "MIN"
                    } else {
                        "MAX"
                    };
                    if matches!(
                        c.ty,
                        LogicalType::Int
                            | LogicalType::Decimal(_)
                            | LogicalType::Float(_)
                            | LogicalType::Date
                            | LogicalType::Timestamp(_)
                    ) {
                        inner.push(format!("({}) AS {m}", c.expr));
                        outer.push(d.canonical(&over(c, f), side.tz));
                    } else {
                        // Text-like values: the least or greatest canonical text in byte
                        // order, whatever the column's collation.
                        inner.push(format!("{} AS {m}", order_key(d, c, side.tz)));
                        outer.push(d.canonical(
                            &Col {
                                expr: format!("{f}({m})"),
                                ty: LogicalType::Text,
                                native: Native::Text,
                                plain: false,
                            },
                            side.tz,
                        ));
                    }
                }
            }
        }
        let inner_sql = if inner.is_empty() {
            "1 AS one".to_string()
        } else {
            inner.join(", ")
        };
        let group = if side.key.is_empty() {
            String::new()
        } else {
            let list = |p: &str| {
                (0..side.key.len())
                    .map(|i| format!("{p}{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(" GROUP BY {}, {}", list("o"), list("g"))
        };
        let sql = format!(
            "SELECT {} FROM (SELECT {inner_sql} {}) t{group}",
            outer.join(", "),
            from_where(d, side, None)
        );
        let ng = side.key.len();
        self.ask(Question::new(Query::text(sql), move |rows| {
            Ok(rows
                .into_iter()
                .map(|mut r| {
                    let values = r.split_off(ng.min(r.len()));
                    (r, values)
                })
                .collect())
        }))
        .await
    }
}
