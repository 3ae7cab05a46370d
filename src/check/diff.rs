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

use crate::compare::normalize::LogicalType;
use crate::compare::{Bucket, Key, Range, SideSpec, Sum};
use crate::system::{DbError, Reader};

/// Asks both sides the same question at once: `both!(run, |reader, spec| reader.q(spec, ..))`
/// gives both answers in side order, or the first side's error.
macro_rules! both {
    ($run:expr, |$r:ident, $s:ident| $ask:expr) => {{
        let [a, b] = $run.sides;
        let (x, y) = tokio::join!(
            {
                let ($r, $s) = (a.reader, a.spec);
                $ask
            },
            {
                let ($r, $s) = (b.reader, b.spec);
                $ask
            }
        );
        [x?, y?]
    }};
}

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

/// One side of a diff: the system it is read from and what to read there.
#[derive(Clone, Copy)]
pub struct SideRef<'a> {
    pub reader: &'a Reader<'a>,
    pub spec: &'a SideSpec,
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
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("system `{system}`: the key is not unique: {key} appears more than once; use a key that identifies one row")]
    DuplicateKey { system: String, key: String },
}

#[derive(Clone, Copy)]
struct Runner<'a> {
    sides: [SideRef<'a>; 2],
}

/// Most concurrent queries the first checksum scan of one side is cut into.
const LEVEL1_PARTS: i128 = 4;

impl Runner<'_> {
    /// Every block's sums, over the whole key space of each side. Each side's scan is cut
    /// into as many contiguous key ranges as the system allows connections (at most
    /// [`LEVEL1_PARTS`]), run at once, so a database scans in parallel rather than on one
    /// core; the parts end on block boundaries, so no block is split between two of them.
    async fn level1(
        &self,
        origin: i64,
        width: i64,
        max: i64,
    ) -> Result<HashMap<i64, [Sum; 2]>, DiffError> {
        let nblocks = ((max as i128 - origin as i128) / width as i128 + 1).max(1);
        let parts = |side: &SideRef<'_>| -> Vec<Vec<(i64, i64)>> {
            let p = (side.reader.max_connections() as i128)
                .clamp(1, LEVEL1_PARTS)
                .min(nblocks);
            if p == 1 {
                return vec![Vec::new()];
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
                    vec![(lo, hi)]
                })
                .collect()
        };
        async fn scan(
            side: SideRef<'_>,
            parts: Vec<Vec<(i64, i64)>>,
            origin: i64,
            width: i64,
        ) -> Result<Vec<(i64, Sum)>, DbError> {
            let sums = futures::future::try_join_all(
                parts
                    .iter()
                    .map(|within| side.reader.block_sums(side.spec, origin, width, within)),
            )
            .await?;
            Ok(sums.concat())
        }
        let [a, b] = self.sides;
        let (ra, rb) = tokio::join!(
            scan(a, parts(&a), origin, width),
            scan(b, parts(&b), origin, width)
        );
        Ok(pair_blocks([ra?, rb?]))
    }

    /// Adds leaf rows (key, row hash) of one side; a key seen twice is an error.
    fn record(
        &self,
        hashes: &mut [BTreeMap<Key, u64>; 2],
        side: usize,
        rows: Vec<(Key, u64)>,
    ) -> Result<(), DiffError> {
        for (key, h) in rows {
            if hashes[side].insert(key.clone(), h).is_some() {
                return Err(DiffError::DuplicateKey {
                    system: self.sides[side].reader.name().to_string(),
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
}

pub async fn diff(sides: [SideRef<'_>; 2], cfg: &DiffConfig) -> Result<DiffOutcome, DiffError> {
    let run = Runner { sides };

    // Segments come from the second side (the new system, usually the sturdier one).
    let bside = 1;
    if let Some((origin, width, max)) = dense_int_blocks(&run, bside, cfg).await? {
        return blocks(run, origin, width, max, cfg).await;
    }

    // 1. Boundaries by row position.
    let side = sides[bside];
    let mut bounds = side
        .reader
        .boundaries(side.spec, cfg.segment_rows, cfg.max_segments)
        .await?;
    bounds.dedup();

    // 2. Every segment's sums, one scan per side, both at once.
    cfg.tell(|| format!("checksumming {} segments on both systems", bounds.len() + 1));
    let sums = both!(run, |r, s| r.segment_sums(s, &bounds));
    let mut per_side: [BTreeMap<usize, Sum>; 2] = Default::default();
    let mut totals = [0u64; 2];
    for (side, rows) in sums.into_iter().enumerate() {
        for (seg, sum) in rows {
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
            let (sub_ranges, local, order) = localise(&ranges, &parents);
            let result = both!(run, |r, s| r.bucket_sums(s, &sub_ranges, &local, bits));
            let mut children: HashMap<(usize, u64), [Sum; 2]> = HashMap::new();
            for (side, rows) in result.into_iter().enumerate() {
                for (local_range, value, sum) in rows {
                    children.entry((order[local_range], value)).or_default()[side] = sum;
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
        let (sub_ranges, local, _) = localise(&ranges, chunk);
        let result = both!(run, |r, s| r.leaf_hashes(s, &sub_ranges, &local));
        for (side, rows) in result.into_iter().enumerate() {
            run.record(&mut hashes, side, rows)?;
        }
    }
    Ok(DiffOutcome {
        rows: totals,
        differences: merge(hashes),
    })
}

/// Looks at `keys` again on both sides: the ones that still differ, and how. Used after a
/// grace period, so that a difference the sync was still catching up on is not drift.
pub async fn recheck(
    sides: [SideRef<'_>; 2],
    keys: &[Key],
) -> Result<Vec<(Key, DiffKind)>, DiffError> {
    let run = Runner { sides };
    let mut hashes: [BTreeMap<Key, u64>; 2] = Default::default();
    for chunk in keys.chunks(500) {
        let result = both!(run, |r, s| r.key_hashes(s, chunk));
        for (side, rows) in result.into_iter().enumerate() {
            run.record(&mut hashes, side, rows)?;
        }
    }
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

/// For a single integer key that is dense (at least every other value in use), blocks of
/// consecutive values are as even as row-position segments (none holds more than twice the
/// target) and far cheaper: a row's block is arithmetic, and a differing block narrows into
/// sub-blocks that are index ranges. Returns the origin, block width and largest key, or
/// `None` to cut by row position instead.
async fn dense_int_blocks(
    run: &Runner<'_>,
    side: usize,
    cfg: &DiffConfig,
) -> Result<Option<(i64, i64, i64)>, DiffError> {
    let SideRef { reader, spec } = run.sides[side];
    if spec.key.len() != 1 || spec.key[0].ty != LogicalType::Int {
        return Ok(None);
    }
    // The key range from the index, the row count from the catalog's estimate (exact where
    // there is none): an estimate only sizes the blocks, it never decides a difference.
    let (range, count) = tokio::join!(reader.key_range(spec), reader.row_estimate(spec));
    let Some((min, max)) = range? else {
        // An empty side: cut the other side's keys by row position.
        return Ok(None);
    };
    let count = count? as i128;
    // Block arithmetic is 64-bit on every engine: keys beyond it (an unsigned BIGINT near
    // 2^64) are cut by row position instead.
    if min < i128::from(i64::MIN) || max > i128::from(i64::MAX) {
        return Ok(None);
    }
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
    run: Runner<'_>,
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
    let sums = run.level1(origin, width, max).await?;
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
            let result = both!(run, |r, s| r.block_sums(s, origin, child, &within));
            for (i, [a, b]) in pair_blocks(result) {
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
        let result = both!(run, |r, s| r.block_rows(s, chunk));
        for (side, rows) in result.into_iter().enumerate() {
            run.record(&mut hashes, side, rows)?;
        }
    }
    Ok(DiffOutcome {
        rows: totals,
        differences: merge(hashes),
    })
}

/// Block index -> both sides' sums.
fn pair_blocks(result: [Vec<(i64, Sum)>; 2]) -> HashMap<i64, [Sum; 2]> {
    let mut out: HashMap<i64, [Sum; 2]> = HashMap::new();
    for (side, rows) in result.into_iter().enumerate() {
        for (index, sum) in rows {
            out.entry(index).or_default()[side] = sum;
        }
    }
    out
}

/// The ranges a batch of buckets uses, renumbered from 0, the buckets pointing at them, and
/// each local range's global index.
fn localise(ranges: &[Range], buckets: &[Bucket]) -> (Vec<Range>, Vec<Bucket>, Vec<usize>) {
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
    (sub, local, order)
}
