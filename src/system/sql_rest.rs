/// The tokens of a row's values, to be joined with `|`: `N` for NULL, the canonical text for
/// values that never contain `|` (numbers, dates, times, uuids, hex), and `V<chars>:<text>` for
/// free text, whose length makes a `|` inside it harmless. The last free-text value needs no
/// length: every token before it is self-delimiting read from the left, every token after it
/// contains no `|` read from the right, so the joined string still decodes one way only, and
/// two different rows never join to the same string. Dropping that length (and the character
/// count it costs) makes the checksum scan of a table with one text column cheaper.
fn tokens(d: &dyn Dialect, cols: &[&Col], tz: chrono_tz::Tz) -> Vec<String> {
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

/// The key's canonical string (`part|part`) and the row's (`key|col|col`).
fn key_string(d: &dyn Dialect, side: &SideSpec) -> String {
    let cols: Vec<&Col> = side.key.iter().collect();
    let parts = tokens(d, &cols, side.tz);
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        d.join(&parts)
    }
}

fn row_hash(d: &dyn Dialect, side: &SideSpec) -> String {
    let cols: Vec<&Col> = side.key.iter().chain(&side.columns).collect();
    d.hash60(&d.join(&tokens(d, &cols, side.tz)))
}

fn key_hash(d: &dyn Dialect, side: &SideSpec) -> String {
    // The key string alone: rows with the same key fall in the same bucket on both sides.
    d.hash60(&key_string(d, side))
}

fn from_where(d: &dyn Dialect, side: &SideSpec, extra: Option<String>) -> String {
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
struct Binder<'a> {
    d: &'a dyn Dialect,
    side: &'a SideSpec,
    params: Vec<Param>,
}

impl Binder<'_> {
    fn bind(&mut self, key: &Key) -> Vec<String> {
        key.iter()
            .zip(&self.side.key)
            .map(|(part, col)| {
                self.params.push(match part {
                    KeyPart::Int(i) => Param::Int(*i),
                    KeyPart::Text(s) => Param::Text(s.clone()),
                });
                self.d.placeholder(self.params.len(), col.ty)
            })
            .collect()
    }

    fn compare(&mut self, op: &str, key: &Key) -> String {
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

    fn range(&mut self, r: &Range) -> String {
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
    fn segment_of(&mut self, bounds: &[Key], offset: usize) -> String {
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
fn hash_sums(d: &dyn Dialect, h: &str) -> String {
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
fn floor_div(d: &dyn Dialect, key: &str, origin: i64, width: i64) -> String {
    format!(
        "CASE WHEN {key} >= {origin} THEN {} ELSE -{} - 1 END",
        d.int_div(&format!("({key} - {origin})"), &width.to_string()),
        d.int_div(&format!("({origin} - {key} - 1)"), &width.to_string()),
    )
}

/// MIN and MAX of a single integer key (an index lookup where the key is indexed).
pub fn key_range(d: &dyn Dialect, side: &SideSpec) -> Query {
    let k = d.key_operand(&side.key[0]);
    let sql = format!(
        "SELECT {}, {} {}",
        d.to_text(&format!("MIN({k})")),
        d.to_text(&format!("MAX({k})")),
        from_where(d, side, None)
    );
    Query {
        sql,
        params: Vec::new(),
    }
}

/// Count and hash sum per block of `width` consecutive integer keys from `origin`, over the
/// whole side or only the inclusive key ranges `within`.
pub fn block_sums(
    d: &dyn Dialect,
    side: &SideSpec,
    origin: i64,
    width: i64,
    within: &[(i64, i64)],
) -> Query {
    let mut b = Binder {
        d,
        side,
        params: Vec::new(),
    };
    let k = d.key_operand(&side.key[0]);
    let block = floor_div(d, &k, origin, width);
    let hash = row_hash(d, side);
    let filter = if within.is_empty() {
        None
    } else {
        Some(int_ranges(&mut b, within))
    };
    // Block number and count stay integers: grouping by an integer is much cheaper than
    // by its text.
    let sql = format!(
        "SELECT {block}, COUNT(*), {} {} GROUP BY 1",
        hash_sums(d, &hash),
        from_where(d, side, filter),
    );
    Query {
        sql,
        params: b.params,
    }
}

/// Key and row hash of every row in the inclusive integer key ranges `within`.
pub fn block_rows(d: &dyn Dialect, side: &SideSpec, within: &[(i64, i64)]) -> Query {
    let mut b = Binder {
        d,
        side,
        params: Vec::new(),
    };
    let keys: Vec<String> = side.key.iter().map(|c| d.canonical(c, side.tz)).collect();
    let h = d.to_text(&row_hash(d, side));
    let filter = int_ranges(&mut b, within);
    let sql = format!(
        "SELECT {}, {h} {}",
        keys.join(", "),
        from_where(d, side, Some(filter))
    );
    Query {
        sql,
        params: b.params,
    }
}

fn int_ranges(b: &mut Binder<'_>, within: &[(i64, i64)]) -> String {
    within
        .iter()
        .map(|(lo, hi)| {
            let lo = b.compare(">=", &vec![KeyPart::Int(*lo)]);
            let hi = b.compare("<=", &vec![KeyPart::Int(*hi)]);
            format!("({lo} AND {hi})")
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Keys cutting the side's rows into segments of `segment_rows` rows by row position (or
/// more rows each, so that there are at most `max_segments`).
pub fn boundaries(d: &dyn Dialect, side: &SideSpec, segment_rows: u64, max_segments: u64) -> Query {
    let keys: Vec<String> = side.key.iter().map(|c| d.canonical(c, side.tz)).collect();
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
    Query {
        sql,
        params: Vec::new(),
    }
}

/// Count and hash sum of every segment cut by `bounds`: one scan of the side.
pub fn segment_sums(d: &dyn Dialect, side: &SideSpec, bounds: &[Key]) -> Query {
    let mut b = Binder {
        d,
        side,
        params: Vec::new(),
    };
    let ints: Option<Vec<i64>> = (side.key.len() == 1 && side.key[0].ty == LogicalType::Int)
        .then(|| {
            bounds
                .iter()
                .map(|k| match k.first() {
                    Some(KeyPart::Int(i)) => Some(*i),
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
    Query {
        sql,
        params: b.params,
    }
}

/// Rows of the given `parents` (same number of bits each), grouped by the low `bits` bits
/// of their key hash: count and hash sum per (range, bucket).
///
/// Placeholders are bound in the order they appear in the text (MySQL's `?` is positional),
/// so every piece is built in text order and a range used twice is bound twice.
pub fn bucket_sums(
    d: &dyn Dialect,
    side: &SideSpec,
    ranges: &[Range],
    parents: &[Bucket],
    bits: u8,
) -> Query {
    let mut b = Binder {
        d,
        side,
        params: Vec::new(),
    };
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
    Query {
        sql,
        params: b.params,
    }
}

/// Key and row hash of every row in `leaves`.
pub fn leaf_hashes(d: &dyn Dialect, side: &SideSpec, ranges: &[Range], leaves: &[Bucket]) -> Query {
    let mut b = Binder {
        d,
        side,
        params: Vec::new(),
    };
    let keys: Vec<String> = side.key.iter().map(|c| d.canonical(c, side.tz)).collect();
    let h = d.to_text(&row_hash(d, side));
    let kh = key_hash(d, side);
    let inner = range_union(&mut b, ranges, leaves);
    let from = from_where(d, side, Some(inner));
    let filter = parent_filter(&mut b, ranges, leaves, "dw_kh");
    let sql = format!(
        "SELECT {keys}, {h} FROM (SELECT *, {kh} AS dw_kh {from}) dw_k WHERE {filter}",
        keys = keys.join(", "),
    );
    Query {
        sql,
        params: b.params,
    }
}

/// The side's row count: the catalog's estimate where there is one (cheap on a large
/// legacy table), else an exact count.
pub fn row_estimate(d: &dyn Dialect, side: &SideSpec) -> Query {
    let sql = match (&side.filter, d.row_estimate(&side.table)) {
        (None, Some(sql)) => sql,
        _ => format!(
            "SELECT {} {}",
            d.to_text("COUNT(*)"),
            from_where(d, side, None)
        ),
    };
    Query {
        sql,
        params: Vec::new(),
    }
}

/// Canonical keys of about `fraction` of the side's rows, chosen at random, at most `limit`.
pub fn sample_keys(d: &dyn Dialect, side: &SideSpec, fraction: f64, limit: u32) -> Query {
    let (from, random) = d.sample_from(&d.quote_table(&side.table), fraction.clamp(0.0, 1.0));
    let conds: Vec<String> = side
        .filter
        .iter()
        .map(|f| format!("({f})"))
        .chain(random)
        .collect();
    let keys: Vec<String> = side.key.iter().map(|c| d.canonical(c, side.tz)).collect();
    let sql = format!(
        "SELECT {} FROM {from}{} LIMIT {limit}",
        keys.join(", "),
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    );
    Query {
        sql,
        params: Vec::new(),
    }
}

/// Canonical keys of the side's rows that also meet `condition`.
pub fn keys_where(d: &dyn Dialect, side: &SideSpec, condition: Option<&str>) -> Query {
    let keys: Vec<String> = side.key.iter().map(|c| d.canonical(c, side.tz)).collect();
    let sql = format!(
        "SELECT {} {}",
        keys.join(", "),
        from_where(d, side, condition.map(str::to_string))
    );
    Query {
        sql,
        params: Vec::new(),
    }
}

/// Key and row hash of the rows with the given keys.
pub fn key_hashes(d: &dyn Dialect, side: &SideSpec, keys: &[Key]) -> Query {
    let mut b = Binder {
        d,
        side,
        params: Vec::new(),
    };
    let cols: Vec<String> = side.key.iter().map(|c| d.canonical(c, side.tz)).collect();
    let h = d.to_text(&row_hash(d, side));
    let conds: Vec<String> = keys.iter().map(|k| b.compare("=", k)).collect();
    let sql = format!(
        "SELECT {}, {h} {}",
        cols.join(", "),
        from_where(d, side, Some(conds.join(" OR ")))
    );
    Query {
        sql,
        params: b.params,
    }
}

/// Canonical key and column values of the rows with the given keys.
pub fn fetch_rows(d: &dyn Dialect, side: &SideSpec, keys: &[Key]) -> Query {
    let mut b = Binder {
        d,
        side,
        params: Vec::new(),
    };
    let conds: Vec<String> = keys.iter().map(|k| b.compare("=", k)).collect();
    let mut cols: Vec<String> = side.key.iter().map(|c| d.canonical(c, side.tz)).collect();
    cols.extend(side.columns.iter().map(|c| d.canonical(c, side.tz)));
    cols.extend(side.extra.iter().map(|c| d.canonical(c, side.tz)));
    let sql = format!(
        "SELECT {} {}",
        cols.join(", "),
        from_where(d, side, Some(conds.join(" OR ")))
    );
    Query {
        sql,
        params: b.params,
    }
}

/// Result columns of `SELECT <exprs> FROM table` without reading a row, for type inference.
pub fn describe(d: &dyn Dialect, table: &str, exprs: &[String]) -> String {
    let cols = if exprs.is_empty() {
        "*".to_string()
    } else {
        exprs.join(", ")
    };
    format!("SELECT {cols} FROM {} WHERE 1=0", d.quote_table(table))
}

fn range_union(b: &mut Binder<'_>, ranges: &[Range], buckets: &[Bucket]) -> String {
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
fn parent_filter(b: &mut Binder<'_>, ranges: &[Range], buckets: &[Bucket], kh: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// lag, ref_integrity and aggregate

/// An expression that orders values the same way on every engine: integers by value,
/// everything else by the bytes of its canonical text.
fn order_key(d: &dyn Dialect, col: &Col, tz: chrono_tz::Tz) -> String {
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

fn not_null(cols: &[Col]) -> String {
    cols.iter()
        .map(|c| format!("({}) IS NOT NULL", c.expr))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The newest value of a timestamp expression (canonical, or NULL when no row matches).
pub fn newest(d: &dyn Dialect, side: &SideSpec, ts: &Col) -> Query {
    let max = Col {
        expr: format!("MAX({})", ts.expr),
        ..ts.clone()
    };
    Query {
        sql: format!(
            "SELECT {} {}",
            d.canonical(&max, side.tz),
            from_where(d, side, None)
        ),
        params: Vec::new(),
    }
}

/// Key and canonical change time of the rows changed at or after `cutoff` (a canonical UTC
/// timestamp), newest first, at most `limit`. `side.columns[0]` is the timestamp.
pub fn recent_changes(d: &dyn Dialect, side: &SideSpec, cutoff: &str, limit: u32) -> Query {
    let ts = &side.columns[0];
    let mut cols: Vec<String> = side.key.iter().map(|c| d.canonical(c, side.tz)).collect();
    cols.push(d.canonical(ts, side.tz));
    // `cutoff` is formatted by the agent (digits, '-', ':', '.', ' '): safe to inline.
    let cond = format!("{} >= '{cutoff}'", d.canonical(ts, side.tz));
    Query {
        sql: format!(
            "SELECT {} {} ORDER BY ({}) DESC LIMIT {limit}",
            cols.join(", "),
            from_where(d, side, Some(cond)),
            ts.expr
        ),
        params: Vec::new(),
    }
}

/// Child rows (`child.key` = the referencing columns) whose parent row (`parent.key`) does
/// not exist, both on this system: (count of orphan rows, a sample of up to `limit` orphan
/// keys with their row counts, in key order). Rows with a NULL reference are skipped, as a
/// foreign key skips them; equality is the database's own, as its foreign keys would use.
pub fn orphans_local(
    d: &dyn Dialect,
    child: &SideSpec,
    parent: &SideSpec,
    limit: u32,
) -> (Query, Query) {
    let alias = |side: &SideSpec, prefix: &str| -> String {
        let cols: Vec<String> = side
            .key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("({}) AS {prefix}{i}", c.expr))
            .collect();
        let mut s = format!("SELECT {} ", cols.join(", "));
        s.push_str(&from_where(d, side, None));
        s
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
    let count = Query {
        sql: format!("SELECT {} {body}", d.to_text("COUNT(*)")),
        params: Vec::new(),
    };
    let canon: Vec<String> = child
        .key
        .iter()
        .enumerate()
        .map(|(i, c)| {
            d.canonical(
                &Col {
                    expr: format!("c.c{i}"),
                    ..c.clone()
                },
                child.tz,
            )
        })
        .collect();
    let order: Vec<String> = child
        .key
        .iter()
        .enumerate()
        .map(|(i, c)| {
            order_key(
                d,
                &Col {
                    expr: format!("c.c{i}"),
                    ..c.clone()
                },
                child.tz,
            )
        })
        .collect();
    let sample = Query {
        sql: format!(
            "SELECT {}, {} {body} GROUP BY {} ORDER BY {} LIMIT {limit}",
            canon.join(", "),
            d.to_text("COUNT(*)"),
            (0..n)
                .map(|i| format!("c.c{i}"))
                .collect::<Vec<_>>()
                .join(", "),
            order.join(", ")
        ),
        params: Vec::new(),
    };
    (count, sample)
}

/// The distinct non-NULL keys of `side.key`, in the engine-independent order of
/// [`order_key`], each with its row count when `counted`: one side of a cross-system
/// reference check, streamed and merged by the agent.
pub fn ordered_keys(d: &dyn Dialect, side: &SideSpec, counted: bool) -> Query {
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
    Query {
        sql,
        params: Vec::new(),
    }
}

/// What an aggregate check computes per group.
#[derive(Clone, Debug)]
pub enum Aggregate {
    /// `COUNT(*)`, or `COUNT(col)` (non-NULL values).
    Count(Option<Col>),
    /// SUM, MIN or MAX of a column, rendered canonically as `Col::ty`.
    Sum(Col),
    Min(Col),
    Max(Col),
}

/// One row per group: the group's canonical values, then each aggregate as text. Groups are
/// formed by byte-exact canonical values, so every engine forms the same groups.
pub fn aggregates(d: &dyn Dialect, side: &SideSpec, aggs: &[Aggregate]) -> Query {
    let mut inner: Vec<String> = Vec::new();
    for (i, c) in side.key.iter().enumerate() {
        inner.push(format!("{} AS g{i}", d.canonical(c, side.tz)));
        inner.push(format!("{} AS o{i}", order_key(d, c, side.tz)));
    }
    let mut outer: Vec<String> = (0..side.key.len()).map(|i| format!("g{i}")).collect();
    for (j, a) in aggs.iter().enumerate() {
        let m = format!("m{j}");
        match a {
            Aggregate::Count(None) => outer.push(d.to_text("COUNT(*)")),
            Aggregate::Count(Some(c)) => {
                inner.push(format!("({}) AS {m}", c.expr));
                outer.push(d.to_text(&format!("COUNT({m})")));
            }
            Aggregate::Sum(c) => {
                inner.push(format!("({}) AS {m}", c.expr));
                outer.push(d.canonical(
                    &Col {
                        expr: format!("SUM({m})"),
                        ..c.clone()
                    },
                    side.tz,
                ));
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
                    outer.push(d.canonical(
                        &Col {
                            expr: format!("{f}({m})"),
                            ..c.clone()
                        },
                        side.tz,
                    ));
                } else {
                    // Text-like values: the least or greatest canonical text in byte order,
                    // whatever the column's collation.
                    inner.push(format!("{} AS {m}", order_key(d, c, side.tz)));
                    outer.push(d.canonical(
                        &Col {
                            expr: format!("{f}({m})"),
                            ty: LogicalType::Text,
                            native: crate::compare::Native::Other,
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
        format!(
            " GROUP BY {}, {}",
            (0..side.key.len())
                .map(|i| format!("o{i}"))
                .collect::<Vec<_>>()
                .join(", "),
            (0..side.key.len())
                .map(|i| format!("g{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Query {
        sql: format!(
            "SELECT {} FROM (SELECT {inner_sql} {}) t{group}",
            outer.join(", "),
            from_where(d, side, None)
        ),
        params: Vec::new(),
    }
}
