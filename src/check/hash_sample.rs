//! `hash_sample`: a cheap, continuous look at a table too large to diff often. Each run the
//! systems pick random rows themselves, inside the scan and without sorting the table, about
//! half the sample from each side so that rows missing on either side can be drawn; both
//! sides' row hashes of the sampled keys are compared, and the mismatch ratio gives an
//! estimate of the total drift with a 95% confidence interval.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::context::{CheckError, Context};
use super::diff;
use super::finding::Finding;
use super::hash_diff::{
    by_agent, difference_facts, explain, load_of, readers, record_table, resolve, rows_of,
    side_refs, Resolved,
};
use super::report::{
    export_rows, largest, per_system, per_system_json, Difference, Differences, Graded, KindReport,
    Table,
};
use crate::compare::Key;
use crate::config::HashSampleSpec;
use crate::metrics::Metrics;
use crate::system::Load;

/// What a `hash_sample` run found: counts of sampled keys, and the estimate for the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HashSampleReport {
    /// Rows per system (the catalog's estimate where it keeps one).
    #[serde(with = "per_system")]
    pub rows: Vec<(String, i64)>,
    /// How the sampled keys differ.
    pub differences: Differences,
    pub samples: Vec<Difference>,
    pub sample: SampleStats,
    #[serde(with = "per_system", skip_serializing_if = "Vec::is_empty", default)]
    pub load: Vec<(String, Load)>,
}

/// A sample's findings and the estimate for the whole table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleStats {
    /// Distinct keys compared.
    pub size: u64,
    pub mismatches: u64,
    pub mismatch_ratio: f64,
    /// The mismatch ratio times the table's rows.
    pub estimated_differences: f64,
    /// 95% confidence interval of the estimate (Wilson score interval).
    pub ci95: [f64; 2],
}

pub async fn run(spec: &HashSampleSpec, cx: &Context<'_>) -> Result<HashSampleReport, CheckError> {
    let cmp = &spec.compare;
    let readers = readers(cmp, cx)?;
    let readers = [&readers[0], &readers[1]];
    let Resolved {
        sides,
        names,
        agent_names,
        ..
    } = resolve(cmp, readers).await?;

    // How many rows each side has (the catalog's estimate where there is one).
    let (ra, rb) = tokio::join!(
        readers[0].row_estimate(&sides[0]),
        readers[1].row_estimate(&sides[1])
    );
    let rows = [ra?, rb?];

    // Random keys from both sides, at once.
    let per_side = spec.size.div_ceil(2);
    let fraction = |n: u64| (per_side as f64 * 1.5 / n.max(1) as f64).min(1.0);
    // The engine draws about 1.5x what is needed; the agent keeps a uniform subset. (Cutting
    // with LIMIT instead would favour the rows the scan meets first.)
    let cap = per_side.saturating_mul(4);
    let (ka, kb) = tokio::join!(
        readers[0].sample_keys(&sides[0], fraction(rows[0]), cap),
        readers[1].sample_keys(&sides[1], fraction(rows[1]), cap)
    );
    let mut keys: Vec<Key> = Vec::new();
    for mut drawn in [ka?, kb?] {
        fastrand::shuffle(&mut drawn);
        drawn.truncate(per_side as usize);
        keys.extend(drawn);
    }
    keys.sort();
    keys.dedup();

    let refs = side_refs(readers, &sides);
    let mut differences = diff::recheck(refs, &keys).await?;
    if !agent_names.is_empty() {
        by_agent::add_changed(&mut differences, by_agent::differing(refs, &keys).await?);
    }
    let sample = SampleStats::new(
        keys.len() as u64,
        differences.len() as u64,
        rows[0].max(rows[1]),
    );
    let (differences, samples) = explain(
        cmp,
        readers,
        &sides,
        [&names, &agent_names],
        differences,
        cx,
    )
    .await?;
    Ok(HashSampleReport {
        rows: rows_of(readers, rows),
        differences,
        samples,
        sample,
        load: load_of(readers),
    })
}

impl KindReport for HashSampleReport {
    fn graded(&self) -> Graded {
        Graded {
            amount: self.sample.estimated_differences,
            total: largest(&self.rows),
        }
    }

    fn export(&self, check: &str, metrics: &Metrics) {
        export_rows(check, &self.rows, metrics);
        metrics
            .sample_mismatch_ratio
            .with_label_values(&[check])
            .set(self.sample.mismatch_ratio);
        metrics
            .estimated_differences
            .with_label_values(&[check])
            .set(self.sample.estimated_differences);
    }

    fn describe(&self, f: &mut Finding) {
        f.fact("rows", "Rows", per_system_json(&self.rows));
        // The counts are of the sampled keys, not of the table.
        difference_facts(&self.differences, "sampled_", " (of sampled keys)", f);
        let s = &self.sample;
        f.headline(format!(
            "{} of {} sampled keys differ ({:.2}%): about {:.0} rows in all (95% CI {:.0}-{:.0})",
            s.mismatches,
            s.size,
            s.mismatch_ratio * 100.0,
            s.estimated_differences,
            s.ci95[0],
            s.ci95[1]
        ));
        f.fact("sample_size", "Keys sampled", json!(s.size));
        f.fact(
            "sample_mismatches",
            "Sampled keys differing",
            json!(s.mismatches),
        );
        f.fact(
            "estimated_differences",
            "Estimated differing rows",
            json!(s.estimated_differences.round()),
        );
    }

    fn rows(&self) -> &[(String, i64)] {
        &self.rows
    }

    fn samples(&self) -> &[Difference] {
        &self.samples
    }

    fn differences_total(&self) -> Option<u64> {
        Some(self.differences.total())
    }

    fn details(&self, check: &str) -> Option<Table> {
        record_table(check, &self.rows, &self.samples, self.differences.total())
    }
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

    #[test]
    fn a_sample_gives_its_estimate_and_says_its_counts_are_sampled() {
        let r = HashSampleReport {
            rows: vec![("legacy".into(), 100), ("modern".into(), 125)],
            differences: Differences {
                missing: vec![("legacy".into(), 3), ("modern".into(), 1)],
                changed: 8,
            },
            samples: Vec::new(),
            sample: SampleStats {
                size: 400,
                mismatches: 12,
                mismatch_ratio: 0.03,
                estimated_differences: 90.4,
                ci95: [60.2, 130.9],
            },
            load: Vec::new(),
        };
        let mut f = Finding::default();
        r.describe(&mut f);
        assert_eq!(
            f.headline,
            "12 of 400 sampled keys differ (3.00%): about 90 rows in all (95% CI 60-131)"
        );
        let keys: Vec<&str> = f.facts.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "rows",
                "sampled_missing_in_legacy",
                "sampled_missing_in_modern",
                "sampled_changed",
                "sample_size",
                "sample_mismatches",
                "estimated_differences"
            ]
        );
    }
}
