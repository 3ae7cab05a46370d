//! The diff: which keys are missing on a side and which rows differ, reading each table about
//! once.
//!
//! 1. Boundaries: one side's keys are cut into segments of about `segment_rows` rows by row
//!    position, so sparse or skewed keys give even segments.
//! 2. One grouped scan per side computes (count, sum of row hashes) for every segment; both
//!    sides run at once. Equal sums mean equal segments.
//! 3. A differing segment is narrowed inside its key range (an index range scan) by the low
//!    bits of each row's key hash: `fanout` buckets a level, only differing buckets go on.
//! 4. Once a bucket holds at most `leaf_rows` rows, both sides send key and row hash for it,
//!    and the merge classifies each key: missing on one side, or changed.
//!
//! Sums are of 60-bit hashes in 128-bit arithmetic: no overflow, and no cancelling pairs
//! (unlike XOR).

use std::collections::{BTreeMap, HashMap};

use super::{Bucket, Key, KeyPart, Range, SideSpec, Sum};
use crate::system::sql::{self, Query, SPLIT_BITS};
use crate::system::{DbError, System};

/// Tuning of the diff; the defaults keep rows transferred well under 1% of a large table.
#[derive(Clone, Debug)]
pub struct DiffConfig {
    pub segment_rows: u64,
    pub max_segments: u64,
    pub leaf_rows: u64,
    pub fanout_bits: u8,
    /// Most buckets in one query.
    pub batch: usize,
    /// Told what the diff is doing, for a progress line on a terminal.
    pub progress: Option<Progress>,
}

/// Receives one-line descriptions of a diff's phases.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<dyn Fn(String) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl DiffConfig {
    fn tell(&self, what: impl FnOnce() -> String) {
        if let Some(p) = &self.progress {
            (p.0)(what());
        }
    }
}

impl Default for DiffConfig {
    fn default() -> Self {
        DiffConfig {
            segment_rows: 500,
            max_segments: 4000,
            leaf_rows: 24,
            fanout_bits: 3,
            batch: 256,
            progress: None,
        }
    }
}

/// One side of a diff: the system and what to read from it.
#[derive(Clone, Copy)]
pub struct SideRef<'a> {
    pub system: &'a System,
    pub spec: &'a SideSpec,
}

/// The work a diff put on one system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Load {
    pub queries: u64,
    /// Result rows transferred to the agent.
    pub rows: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffKind {
    /// The key exists on the other side only.
    MissingIn(usize),
    Changed,
}

#[derive(Debug)]
pub struct DiffOutcome {
    /// Rows on each side.
    pub rows: [u64; 2],
    /// Every differing key, in key order.
    pub differences: Vec<(Key, DiffKind)>,
    pub load: [Load; 2],
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("system `{system}`: the key is not unique: {key} appears more than once; use a key that identifies one row")]
    DuplicateKey { system: String, key: String },
    #[error("system `{system}`: unexpected result from a comparison query: {detail}")]
    Protocol { system: String, detail: String },
}

struct Runner<'a> {
    sides: [SideRef<'a>; 2],
    load: [Load; 2],
}

impl Runner<'_> {
    async fn both(
        &mut self,
        build: impl Fn(&SideSpec, &dyn sql::Dialect) -> Query,
    ) -> Result<[Vec<Vec<Option<String>>>; 2], DiffError> {
        let [a, b] = self.sides;
        let qa = build(a.spec, a.system.engine().dialect());
        let qb = build(b.spec, b.system.engine().dialect());
        let (ra, rb) = tokio::join!(a.system.fetch_strings(&qa), b.system.fetch_strings(&qb));
        let (ra, rb) = (ra?, rb?);
        for (i, r) in [&ra, &rb].into_iter().enumerate() {
            self.load[i].queries += 1;
            self.load[i].rows += r.len() as u64;
        }
        Ok([ra, rb])
    }

    /// Every block's sums, over the whole key space of each side. Each side's scan is cut
    /// into as many contiguous key ranges as the system allows connections (at most
    /// [`LEVEL1_PARTS`]), run at once, so a database scans in parallel rather than on one
    /// core; the parts end on block boundaries, so no block is split between two of them.
    async fn level1(
        &mut self,
        origin: i64,
        width: i64,
        max: i64,
    ) -> Result<[Vec<Vec<Option<String>>>; 2], DiffError> {
        let nblocks = ((max as i128 - origin as i128) / width as i128 + 1).max(1);
        let parts = |side: &SideRef<'_>| -> Vec<Query> {
            let d = side.system.engine().dialect();
            let p = (side.system.config.max_connections as i128)
                .clamp(1, LEVEL1_PARTS)
                .min(nblocks);
            if p == 1 {
                return vec![sql::block_sums(d, side.spec, origin, width, &[])];
            }
            (0..p)
                .map(|j| {
                    let lo = if j == 0 {
                        i64::MIN
                    } else {
                        (origin as i128 + (j * nblocks / p) * width as i128) as i64
                    };
                    let hi = if j == p - 1 {
                        i64::MAX
                    } else {
                        (origin as i128 + ((j + 1) * nblocks / p) * width as i128 - 1) as i64
                    };
                    sql::block_sums(d, side.spec, origin, width, &[(lo, hi)])
                })
                .collect()
        };
        let [a, b] = self.sides;
        let (qa, qb) = (parts(&a), parts(&b));
        let (ra, rb) = tokio::join!(
            futures::future::try_join_all(qa.iter().map(|q| a.system.fetch_strings(q))),
            futures::future::try_join_all(qb.iter().map(|q| b.system.fetch_strings(q)))
        );
        let (ra, rb) = (ra?.concat(), rb?.concat());
        for (i, (n, r)) in [(qa.len(), &ra), (qb.len(), &rb)].into_iter().enumerate() {
            self.load[i].queries += n as u64;
            self.load[i].rows += r.len() as u64;
        }
        Ok([ra, rb])
    }

    fn protocol(&self, side: usize, detail: impl Into<String>) -> DiffError {
        DiffError::Protocol {
            system: self.sides[side].system.name().to_string(),
            detail: detail.into(),
        }
    }

    /// Columns a count-and-sum takes in this side's results.
    fn sum_width(&self, side: usize) -> usize {
        if self.sides[side].system.engine().dialect().split_sum() {
            3
        } else {
            2
        }
    }

    fn parse_sum(&self, side: usize, cells: &[Option<String>]) -> Result<Sum, DiffError> {
        let num = |c: &Option<String>| -> Option<u128> { c.as_deref().unwrap_or("0").parse().ok() };
        let bad = || self.protocol(side, format!("bad sums {cells:?}"));
        let count = cells.first().and_then(num).ok_or_else(bad)? as u64;
        let sum = match cells.len() {
            2 => num(&cells[1]).ok_or_else(bad)?,
            3 => {
                (num(&cells[1]).ok_or_else(bad)? << SPLIT_BITS) + num(&cells[2]).ok_or_else(bad)?
            }
            _ => return Err(bad()),
        };
        Ok(Sum { count, sum })
    }

    fn parse_key(&self, side: usize, cells: &[Option<String>]) -> Result<Key, DiffError> {
        self.sides[side]
            .spec
            .key
            .iter()
            .zip(cells)
            .map(|(col, cell)| {
                let text = cell.as_deref().ok_or_else(|| self.protocol(side, "a key is NULL: rows with a NULL key cannot be matched; exclude them with `where`"))?;
                KeyPart::parse(text, col.ty).ok_or_else(|| self.protocol(side, format!("bad key `{text}`")))
            })
            .collect()
    }
}

/// Most concurrent queries the first checksum scan of one side is cut into.
const LEVEL1_PARTS: i128 = 4;

pub async fn diff(sides: [SideRef<'_>; 2], cfg: &DiffConfig) -> Result<DiffOutcome, DiffError> {
    let mut run = Runner {
        sides,
        load: [Load::default(); 2],
    };

    // Segments come from the second side (the new system, usually the sturdier one).
    let bside = 1;
    if let Some((origin, width, max)) = dense_int_blocks(&mut run, bside, cfg).await? {
        return blocks(run, origin, width, max, cfg).await;
    }

    // 1. Boundaries by row position.
    let q = sql::boundaries(
        sides[bside].system.engine().dialect(),
        sides[bside].spec,
        cfg.segment_rows,
        cfg.max_segments,
    );
    let rows = sides[bside].system.fetch_strings(&q).await?;
    run.load[bside].queries += 1;
    run.load[bside].rows += rows.len() as u64;
    let mut bounds: Vec<Key> = rows
        .iter()
        .map(|r| run.parse_key(bside, r))
        .collect::<Result<_, _>>()?;
    bounds.dedup();

    // 2. Every segment's sums, one scan per side, both at once.
    cfg.tell(|| format!("checksumming {} segments on both systems", bounds.len() + 1));
    let sums = run
        .both(|spec, d| sql::segment_sums(d, spec, &bounds))
        .await?;
    let mut per_side: [BTreeMap<usize, Sum>; 2] = Default::default();
    let mut totals = [0u64; 2];
    for (side, rows) in sums.iter().enumerate() {
        for r in rows {
            let seg: usize = r[0]
                .as_deref()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| run.protocol(side, "bad segment"))?;
            let sum = run.parse_sum(side, &r[1..1 + run.sum_width(side)])?;
            totals[side] += sum.count;
            per_side[side].insert(seg, sum);
        }
    }
    let ranges: Vec<Range> = (0..=bounds.len())
        .map(|i| Range {
            lo: if i == 0 {
                None
            } else {
                Some(bounds[i - 1].clone())
            },
            hi: bounds.get(i).cloned(),
        })
        .collect();
    let mut active: Vec<(Bucket, u64)> = Vec::new();
    for seg in 0..ranges.len() {
        let (a, b) = (
            per_side[0].get(&seg).copied().unwrap_or_default(),
            per_side[1].get(&seg).copied().unwrap_or_default(),
        );
        if a != b {
            active.push((
                Bucket {
                    range: seg,
                    bits: 0,
                    value: 0,
                },
                a.count.max(b.count),
            ));
        }
    }

    // 3. Narrow differing segments by key-hash buckets until they are small.
    let mut leaves: Vec<Bucket> = Vec::new();
    while !active.is_empty() {
        cfg.tell(|| format!("narrowing {} differing ranges", active.len()));
        let (small, big): (Vec<_>, Vec<_>) = active
            .into_iter()
            .partition(|(b, n)| *n <= cfg.leaf_rows || b.bits >= 60 - cfg.fanout_bits);
        leaves.extend(small.into_iter().map(|(b, _)| b));
        active = Vec::new();
        for chunk in big.chunks(cfg.batch) {
            let parents: Vec<Bucket> = chunk.iter().map(|(b, _)| *b).collect();
            let bits = parents[0].bits + cfg.fanout_bits;
            let (sub_ranges, local) = localise(&ranges, &parents);
            let result = run
                .both(|spec, d| sql::bucket_sums(d, spec, &sub_ranges, &local, bits))
                .await?;
            let mut children: HashMap<(usize, u64), [Sum; 2]> = HashMap::new();
            for (side, rows) in result.iter().enumerate() {
                for r in rows {
                    let ri: usize = r[0]
                        .as_deref()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| run.protocol(side, "bad range"))?;
                    let value: u64 = r[1]
                        .as_deref()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| run.protocol(side, "bad bucket"))?;
                    let sum = run.parse_sum(side, &r[2..2 + run.sum_width(side)])?;
                    let global = *sub_ranges_index(&parents, &local, ri)
                        .ok_or_else(|| run.protocol(side, "range out of bounds"))?;
                    children.entry((global, value)).or_default()[side] = sum;
                }
            }
            for ((range, value), [a, b]) in children {
                if a != b {
                    active.push((Bucket { range, bits, value }, a.count.max(b.count)));
                }
            }
        }
    }

    // 4. Leaves: keys and row hashes from both sides, merged.
    let mut hashes: [BTreeMap<Key, u64>; 2] = Default::default();
    cfg.tell(|| format!("comparing {} small ranges row by row", leaves.len()));
    for chunk in leaves.chunks(cfg.batch) {
        let (sub_ranges, local) = localise(&ranges, chunk);
        let result = run
            .both(|spec, d| sql::leaf_hashes(d, spec, &sub_ranges, &local))
            .await?;
        for (side, rows) in result.iter().enumerate() {
            record(&run, &mut hashes, side, rows)?;
        }
    }
    let differences = merge(hashes);
    Ok(DiffOutcome {
        rows: totals,
        differences,
        load: run.load,
    })
}

/// Looks at `keys` again on both sides: the ones that still differ, and how. Used after a
/// grace period, so that a difference the sync was still catching up on is not drift.
pub async fn recheck(
    sides: [SideRef<'_>; 2],
    keys: &[Key],
    load: &mut [Load; 2],
) -> Result<Vec<(Key, DiffKind)>, DiffError> {
    let mut run = Runner { sides, load: *load };
    let mut hashes: [BTreeMap<Key, u64>; 2] = Default::default();
    for chunk in keys.chunks(500) {
        let result = run.both(|spec, d| sql::key_hashes(d, spec, chunk)).await?;
        for (side, rows) in result.iter().enumerate() {
            record(&run, &mut hashes, side, rows)?;
        }
    }
    *load = run.load;
    Ok(merge(hashes))
}

/// Every key whose presence or row hash differs between the sides, in key order.
fn merge(hashes: [BTreeMap<Key, u64>; 2]) -> Vec<(Key, DiffKind)> {
    let [ha, hb] = hashes;
    let mut differences = Vec::new();
    let mut ib = hb.into_iter().peekable();
    for (ka, va) in ha {
        while let Some((kb, _)) = ib.peek() {
            if *kb < ka {
                let (kb, _) = ib.next().expect("peeked");
                differences.push((kb, DiffKind::MissingIn(0)));
            } else {
                break;
            }
        }
        match ib.peek() {
            Some((kb, vb)) if *kb == ka => {
                if *vb != va {
                    differences.push((ka, DiffKind::Changed));
                }
                ib.next();
            }
            _ => differences.push((ka, DiffKind::MissingIn(1))),
        }
    }
    differences.extend(ib.map(|(kb, _)| (kb, DiffKind::MissingIn(0))));
    differences.sort_by(|a, b| a.0.cmp(&b.0));
    differences
}

/// Adds leaf rows (key, row hash) of one side; a key seen twice is an error.
fn record(
    run: &Runner<'_>,
    hashes: &mut [BTreeMap<Key, u64>; 2],
    side: usize,
    rows: &[Vec<Option<String>>],
) -> Result<(), DiffError> {
    let nkey = run.sides[side].spec.key.len();
    for r in rows {
        let key = run.parse_key(side, &r[..nkey])?;
        let h: u64 = r[nkey]
            .as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| run.protocol(side, "bad row hash"))?;
        if hashes[side].insert(key.clone(), h).is_some() {
            return Err(DiffError::DuplicateKey {
                system: run.sides[side].system.name().to_string(),
                key: key
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(())
}

/// For a single integer key that is dense (at least every other value in use), blocks of
/// consecutive values are as even as row-position segments (none holds more than twice the
/// target) and far cheaper: a row's block is arithmetic, and a differing block narrows into
/// sub-blocks that are index ranges. Returns the origin and block width, or `None` to cut by
/// row position instead.
async fn dense_int_blocks(
    run: &mut Runner<'_>,
    side: usize,
    cfg: &DiffConfig,
) -> Result<Option<(i64, i64, i64)>, DiffError> {
    let spec = run.sides[side].spec;
    if spec.key.len() != 1 || spec.key[0].ty != super::normalize::LogicalType::Int {
        return Ok(None);
    }
    // The key range from the index, the row count from the catalog's estimate (exact where
    // there is none): an estimate only sizes the blocks, it never decides a difference.
    let system = run.sides[side].system;
    let d = system.engine().dialect();
    let (range_q, estimate_q) = (sql::key_range(d, spec), sql::row_estimate(d, spec));
    let (range, estimate) = tokio::join!(
        system.fetch_strings(&range_q),
        system.fetch_strings(&estimate_q)
    );
    let (range, estimate) = (range?, estimate?);
    run.load[side].queries += 2;
    run.load[side].rows += (range.len() + estimate.len()) as u64;
    let cell = |rows: &[Vec<Option<String>>], i: usize| {
        rows.first()
            .and_then(|r| r.get(i))
            .cloned()
            .flatten()
            .and_then(|v| v.parse::<i128>().ok())
    };
    let (Some(min), Some(max)) = (cell(&range, 0), cell(&range, 1)) else {
        // An empty side: cut the other side's keys by row position.
        return Ok(None);
    };
    let count = match cell(&estimate, 0) {
        Some(n) if n > 0 => n,
        // No statistics yet (a table never analysed): count.
        _ => {
            let q = sql::Query {
                sql: system
                    .engine()
                    .count_sql(&spec.table, spec.filter.as_deref()),
                params: Vec::new(),
            };
            let rows = system.fetch_strings(&q).await?;
            run.load[side].queries += 1;
            run.load[side].rows += rows.len() as u64;
            cell(&rows, 0).unwrap_or(0)
        }
    };
    let span = max - min + 1;
    if count <= 0 || span > 2 * count {
        return Ok(None);
    }
    let target = (cfg.segment_rows as i128).max(count / cfg.max_segments as i128 + 1);
    let width = (target as u64).next_power_of_two() as i64;
    Ok(Some((min as i64, width, max as i64)))
}

/// The diff over integer blocks (see [`dense_int_blocks`]).
async fn blocks(
    mut run: Runner<'_>,
    origin: i64,
    width: i64,
    max: i64,
    cfg: &DiffConfig,
) -> Result<DiffOutcome, DiffError> {
    // Inclusive key range of block `index` of width `w`, clamped to the integer range.
    let range = |index: i64, w: i64| -> (i64, i64) {
        let lo =
            (origin as i128 + index as i128 * w as i128).clamp(i64::MIN as i128, i64::MAX as i128);
        let hi = (lo + w as i128 - 1).clamp(i64::MIN as i128, i64::MAX as i128);
        (lo as i64, hi as i64)
    };
    cfg.tell(|| "checksumming every block of keys on both systems".to_string());
    let level1 = run.level1(origin, width, max).await?;
    let sums = parse_blocks(&run, &level1)?;
    let mut totals = [0u64; 2];
    for [a, b] in sums.values() {
        totals[0] += a.count;
        totals[1] += b.count;
    }
    let mut active: Vec<(i64, u64)> = sums
        .iter()
        .filter(|(_, [a, b])| a != b)
        .map(|(i, [a, b])| (*i, a.count.max(b.count)))
        .collect();
    let mut w = width;
    let mut leaves: Vec<(i64, i64)> = Vec::new();
    while !active.is_empty() {
        cfg.tell(|| format!("narrowing {} differing ranges", active.len()));
        let (small, big): (Vec<_>, Vec<_>) = active
            .into_iter()
            .partition(|(_, n)| *n <= cfg.leaf_rows || w == 1);
        leaves.extend(small.iter().map(|(i, _)| range(*i, w)));
        active = Vec::new();
        let child = (w >> cfg.fanout_bits).max(1);
        for chunk in big.chunks(cfg.batch) {
            let within: Vec<(i64, i64)> = chunk.iter().map(|(i, _)| range(*i, w)).collect();
            let result = run
                .both(|spec, d| sql::block_sums(d, spec, origin, child, &within))
                .await?;
            for (i, [a, b]) in parse_blocks(&run, &result)? {
                if a != b {
                    active.push((i, a.count.max(b.count)));
                }
            }
        }
        w = child;
    }
    let mut hashes: [BTreeMap<Key, u64>; 2] = Default::default();
    cfg.tell(|| format!("comparing {} small ranges row by row", leaves.len()));
    for chunk in leaves.chunks(cfg.batch) {
        let result = run.both(|spec, d| sql::block_rows(d, spec, chunk)).await?;
        for (side, rows) in result.iter().enumerate() {
            record(&run, &mut hashes, side, rows)?;
        }
    }
    Ok(DiffOutcome {
        rows: totals,
        differences: merge(hashes),
        load: run.load,
    })
}

/// Block index -> both sides' sums, from a `block_sums` result.
fn parse_blocks(
    run: &Runner<'_>,
    result: &[Vec<Vec<Option<String>>>; 2],
) -> Result<HashMap<i64, [Sum; 2]>, DiffError> {
    let mut out: HashMap<i64, [Sum; 2]> = HashMap::new();
    for (side, rows) in result.iter().enumerate() {
        for r in rows {
            let index: i64 = r[0]
                .as_deref()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| run.protocol(side, "bad block"))?;
            let sum = run.parse_sum(side, &r[1..1 + run.sum_width(side)])?;
            out.entry(index).or_default()[side] = sum;
        }
    }
    Ok(out)
}

/// The ranges a batch of buckets uses, renumbered from 0, and the buckets pointing at them.
fn localise(ranges: &[Range], buckets: &[Bucket]) -> (Vec<Range>, Vec<Bucket>) {
    let mut order: Vec<usize> = buckets.iter().map(|b| b.range).collect();
    order.sort_unstable();
    order.dedup();
    let sub: Vec<Range> = order.iter().map(|i| ranges[*i].clone()).collect();
    let local = buckets
        .iter()
        .map(|b| Bucket {
            range: order.binary_search(&b.range).expect("range listed"),
            ..*b
        })
        .collect();
    (sub, local)
}

/// The global range index of local range `local_index` in a batch.
fn sub_ranges_index<'a>(
    parents: &'a [Bucket],
    local: &[Bucket],
    local_index: usize,
) -> Option<&'a usize> {
    local
        .iter()
        .zip(parents)
        .find(|(l, _)| l.range == local_index)
        .map(|(_, p)| &p.range)
}
