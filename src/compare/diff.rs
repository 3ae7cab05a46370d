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
}

impl Default for DiffConfig {
    fn default() -> Self {
        DiffConfig {
            segment_rows: 2000,
            max_segments: 4000,
            leaf_rows: 24,
            fanout_bits: 3,
            batch: 256,
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

    fn protocol(&self, side: usize, detail: impl Into<String>) -> DiffError {
        DiffError::Protocol {
            system: self.sides[side].system.name().to_string(),
            detail: detail.into(),
        }
    }

    fn parse_sum(&self, side: usize, cells: &[Option<String>]) -> Result<Sum, DiffError> {
        let num = |c: &Option<String>| -> Option<u128> { c.as_deref().unwrap_or("0").parse().ok() };
        match (num(&cells[0]), num(&cells[1]), num(&cells[2])) {
            (Some(count), Some(hi), Some(lo)) => Ok(Sum {
                count: count as u64,
                sum: (hi << SPLIT_BITS) + lo,
            }),
            _ => Err(self.protocol(side, format!("bad sums {cells:?}"))),
        }
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

pub async fn diff(sides: [SideRef<'_>; 2], cfg: &DiffConfig) -> Result<DiffOutcome, DiffError> {
    let mut run = Runner {
        sides,
        load: [Load::default(); 2],
    };

    // 1. Boundaries from the second side (the new system, usually the sturdier one).
    let bside = 1;
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
            let sum = run.parse_sum(side, &r[1..4])?;
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
                    let sum = run.parse_sum(side, &r[2..5])?;
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
    for chunk in leaves.chunks(cfg.batch) {
        let (sub_ranges, local) = localise(&ranges, chunk);
        let result = run
            .both(|spec, d| sql::leaf_hashes(d, spec, &sub_ranges, &local))
            .await?;
        for (side, rows) in result.iter().enumerate() {
            let nkey = sides[side].spec.key.len();
            for r in rows {
                let key = run.parse_key(side, &r[..nkey])?;
                let h: u64 = r[nkey]
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| run.protocol(side, "bad row hash"))?;
                if hashes[side].insert(key.clone(), h).is_some() {
                    return Err(DiffError::DuplicateKey {
                        system: sides[side].system.name().to_string(),
                        key: key
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            }
        }
    }
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
    Ok(DiffOutcome {
        rows: totals,
        differences,
        load: run.load,
    })
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
