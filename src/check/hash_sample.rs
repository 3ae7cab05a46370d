//! `hash_sample`: a cheap, continuous look at a table too large to diff often. Each run the
//! engines pick random rows themselves (PostgreSQL `TABLESAMPLE BERNOULLI`, MySQL/MariaDB and
//! SQLite a random filter inside the scan: no sort of the table), about half the sample from
//! each side so that rows missing on either side can be drawn; both sides' row hashes of
//! the sampled keys are compared, and the mismatch ratio gives an estimate of the total
//! drift with a 95% confidence interval.

use super::hash_diff;
use super::{CheckError, Outcome, RunOptions, SampleStats};
use crate::compare::diff::{self, Load, SideRef};
use crate::compare::{Key, KeyPart};
use crate::config::{CheckConfig, HashSampleSpec};
use crate::system::{sql, Systems};

pub async fn run(
    _check: &CheckConfig,
    spec: &HashSampleSpec,
    systems: &Systems,
    options: &RunOptions,
) -> Result<Outcome, CheckError> {
    let cmp = &spec.compare;
    let sys = hash_diff::systems_of(cmp, systems)?;
    let hash_diff::Resolved { sides, names, .. } = hash_diff::resolve(cmp, sys).await?;
    let mut load = [Load::default(); 2];

    // How many rows each side has (the catalog's estimate where there is one).
    let mut rows = [0u64; 2];
    for i in 0..2 {
        let q = sql::row_estimate(sys[i].engine().dialect(), &sides[i]);
        let r = sys[i].fetch_strings(&q).await?;
        load[i].queries += 1;
        load[i].rows += r.len() as u64;
        let estimate = r
            .first()
            .and_then(|r| r.first())
            .cloned()
            .flatten()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        rows[i] = if estimate > 0 {
            estimate as u64
        } else {
            // No statistics yet (a table never analysed): count.
            load[i].queries += 1;
            load[i].rows += 1;
            sys[i]
                .count_rows(&sides[i].table, sides[i].filter.as_deref())
                .await?
                .max(0) as u64
        };
    }

    // Random keys from both sides, at once.
    let per_side = spec.size.div_ceil(2);
    let fraction = |n: u64| (per_side as f64 * 1.5 / n.max(1) as f64).min(1.0);
    // The engine draws about 1.5x what is needed; the agent keeps a uniform subset. (Cutting
    // with LIMIT instead would favour the rows the scan meets first.)
    let cap = per_side.saturating_mul(4);
    let qa = sql::sample_keys(sys[0].engine().dialect(), &sides[0], fraction(rows[0]), cap);
    let qb = sql::sample_keys(sys[1].engine().dialect(), &sides[1], fraction(rows[1]), cap);
    let (ra, rb) = tokio::join!(sys[0].fetch_strings(&qa), sys[1].fetch_strings(&qb));
    let mut keys: Vec<Key> = Vec::new();
    for (i, mut r) in [ra?, rb?].into_iter().enumerate() {
        load[i].queries += 1;
        load[i].rows += r.len() as u64;
        fastrand::shuffle(&mut r);
        r.truncate(per_side as usize);
        for row in r {
            let key: Option<Key> = sides[i]
                .key
                .iter()
                .zip(&row)
                .map(|(c, v)| v.as_deref().and_then(|t| KeyPart::parse(t, c.ty)))
                .collect();
            keys.extend(key);
        }
    }
    keys.sort();
    keys.dedup();

    let refs = [
        SideRef {
            system: sys[0],
            spec: &sides[0],
        },
        SideRef {
            system: sys[1],
            spec: &sides[1],
        },
    ];
    let differences = diff::recheck(refs, &keys, &mut load).await?;
    let stats = SampleStats::new(
        keys.len() as u64,
        differences.len() as u64,
        rows[0].max(rows[1]),
    );
    let mut outcome = hash_diff::explain(
        cmp,
        sys,
        &sides,
        &names,
        differences,
        rows,
        load,
        0,
        options,
    )
    .await?;
    outcome.finding = stats.estimated_differences;
    outcome.sample = Some(stats);
    Ok(outcome)
}

impl SampleStats {
    /// Mismatches among `size` sampled keys of a table of `rows` rows, with the Wilson score
    /// interval (95%) of the mismatch ratio scaled to the table.
    pub fn new(size: u64, mismatches: u64, rows: u64) -> SampleStats {
        let (n, z) = (size.max(1) as f64, 1.96_f64);
        let p = mismatches as f64 / n;
        let denom = 1.0 + z * z / n;
        let center = (p + z * z / (2.0 * n)) / denom;
        let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
        let (lo, hi) = ((center - half).max(0.0), (center + half).min(1.0));
        let rows = rows as f64;
        SampleStats {
            size,
            mismatches,
            mismatch_ratio: if size == 0 { 0.0 } else { p },
            estimated_differences: (p * rows).round(),
            ci95: [(lo * rows).floor(), (hi * rows).ceil()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_brackets_the_estimate() {
        let s = SampleStats::new(1000, 10, 1_000_000);
        assert_eq!(s.mismatch_ratio, 0.01);
        assert_eq!(s.estimated_differences, 10_000.0);
        assert!(s.ci95[0] < 10_000.0 && s.ci95[1] > 10_000.0);
        assert!(s.ci95[0] > 4_000.0 && s.ci95[1] < 19_000.0, "{:?}", s.ci95);
        // No mismatch still leaves an upper bound: a sample cannot prove zero.
        let s = SampleStats::new(1000, 0, 1_000_000);
        assert_eq!(s.estimated_differences, 0.0);
        assert_eq!(s.ci95[0], 0.0);
        assert!(s.ci95[1] > 0.0 && s.ci95[1] < 5_000.0, "{:?}", s.ci95);
    }
}
