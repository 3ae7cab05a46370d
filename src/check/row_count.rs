//! `row_count`: rows on each side (with an optional `where` per side), both counted at once;
//! graded by how many rows one side has more than the other.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::context::{CheckError, Context};
use super::finding::{plural, Finding};
use super::report::{export_rows, largest, per_system, per_system_json, Graded, KindReport};
use crate::config::{RowCountSpec, TableSide};
use crate::metrics::Metrics;

/// What a `row_count` run found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowCountReport {
    /// Rows counted per system, in side order.
    #[serde(with = "per_system")]
    pub rows: Vec<(String, i64)>,
    /// The second side's rows minus the first's.
    pub row_count_difference: i64,
}

pub async fn run(spec: &RowCountSpec, cx: &Context<'_>) -> Result<RowCountReport, CheckError> {
    let [a, b] = &spec.sides;
    let (ra, rb) = tokio::join!(count(a, cx), count(b, cx));
    let (na, nb) = CheckError::both(ra, rb)?;
    Ok(RowCountReport {
        rows: vec![(a.system.clone(), na), (b.system.clone(), nb)],
        row_count_difference: nb - na,
    })
}

async fn count(side: &TableSide, cx: &Context<'_>) -> Result<i64, CheckError> {
    let reader = cx.system(&side.system)?.reader();
    Ok(reader
        .count_rows(&side.table, side.filter.as_deref())
        .await?)
}

impl KindReport for RowCountReport {
    fn graded(&self) -> Graded {
        Graded {
            amount: self.row_count_difference.unsigned_abs() as f64,
            total: largest(&self.rows),
        }
    }

    fn export(&self, check: &str, metrics: &Metrics) {
        export_rows(check, &self.rows, metrics);
        metrics
            .row_count_difference
            .with_label_values(&[check])
            .set(self.row_count_difference);
    }

    fn describe(&self, f: &mut Finding) {
        f.fact("rows", "Rows", per_system_json(&self.rows));
        let d = self.row_count_difference;
        let (a, b) = (&self.rows[0].0, &self.rows[1].0);
        f.headline(match d {
            0 => format!("{a} and {b} have the same number of rows"),
            d if d > 0 => format!("{b} has {d} more row{} than {a}", plural(d)),
            d => format!("{a} has {} more row{} than {b}", -d, plural(-d)),
        });
        f.fact(
            "row_count_difference",
            format!("Difference ({b} - {a})"),
            json!(d),
        );
    }

    fn rows(&self) -> &[(String, i64)] {
        &self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_count_says_which_side_has_more() {
        let r = RowCountReport {
            rows: vec![("legacy".into(), 100), ("modern".into(), 125)],
            row_count_difference: 25,
        };
        let mut f = Finding::default();
        r.describe(&mut f);
        assert_eq!(f.headline, "modern has 25 more rows than legacy");
        assert_eq!(f.facts[0].key, "rows");
        assert_eq!(f.facts[0].text, "legacy 100, modern 125");
        assert_eq!(f.facts[1].key, "row_count_difference");
        assert_eq!(f.facts[1].value, json!(25));
    }
}
