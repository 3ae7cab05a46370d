//! `ref_integrity`: child rows whose parent row is missing. On one system this is one
//! anti-join in the database. Across systems both sides stream their distinct keys in the same
//! engine-independent order (integers by value, everything else by the bytes of its canonical
//! text) and the agent merges the two streams, so memory stays bounded however many keys
//! there are. Rows whose reference is NULL are skipped, as a foreign key skips them.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use super::columns::key_columns;
use super::context::{CheckError, Context};
use super::finding::{plural, Finding};
use super::report::{Difference, Graded, KindReport, Table};
use crate::compare::{Key, KeyPart, Native, SideSpec};
use crate::config::RefIntegritySpec;
use crate::metrics::Metrics;
use crate::system::Reader;

/// Keys in flight between a side's stream and the merge.
const STREAM_BUFFER: usize = 1024;

/// What a `ref_integrity` run found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RefIntegrityReport {
    /// Orphan keys, each with the child rows holding it, in key order.
    pub samples: Vec<Difference>,
    /// Child rows whose parent is missing.
    pub orphans: u64,
    /// Child rows with a reference, what a percentage threshold is a share of (grading
    /// only; not part of the result).
    #[serde(skip)]
    pub child_rows: u64,
}

pub async fn run(
    spec: &RefIntegritySpec,
    cx: &Context<'_>,
) -> Result<RefIntegrityReport, CheckError> {
    let readers = [
        cx.system(&spec.child.table.system)?.reader(),
        cx.system(&spec.parent.table.system)?.reader(),
    ];
    let readers = [&readers[0], &readers[1]];
    let ends = [&spec.child, &spec.parent];
    let mut natives: Vec<Vec<Native>> = Vec::new();
    for i in 0..2 {
        natives.push(
            readers[i]
                .natives(&ends[i].table.table, &ends[i].columns)
                .await?,
        );
    }
    let names: Vec<String> = spec
        .child
        .columns
        .iter()
        .map(|c| c.rsplit('.').next().unwrap_or(c).to_string())
        .collect();
    let [cc, pc] = key_columns(
        &names,
        spec.types.as_deref(),
        [&ends[0].columns, &ends[1].columns],
        [&natives[0], &natives[1]],
        readers,
        "reference column",
    )?;
    let side = |i: usize, key| SideSpec {
        table: ends[i].table.table.clone(),
        filter: ends[i].table.filter.clone(),
        key,
        columns: Vec::new(),
        extra: Vec::new(),
        by_agent: Vec::new(),
        tz: readers[i].timezone(),
    };
    let (child, parent) = (side(0, cc), side(1, pc));
    let limit = cx.limit();
    let (orphans, child_rows, samples) = if spec.child.table.system == spec.parent.table.system {
        local(readers[0], &child, &parent, &names, limit).await?
    } else {
        merged(readers, &child, &parent, &names, limit).await?
    };
    Ok(RefIntegrityReport {
        samples,
        orphans,
        child_rows,
    })
}

impl KindReport for RefIntegrityReport {
    fn graded(&self) -> Graded {
        Graded {
            amount: self.orphans as f64,
            total: self.child_rows as f64,
        }
    }

    fn export(&self, check: &str, metrics: &Metrics) {
        metrics
            .orphan_rows
            .with_label_values(&[check])
            .set(self.orphans as i64);
    }

    fn describe(&self, f: &mut Finding) {
        let n = self.orphans;
        f.headline(format!(
            "{n} child row{} without a parent",
            plural(n as i64)
        ));
        f.fact("orphan_rows", "Orphan child rows", json!(n));
    }

    fn samples(&self) -> &[Difference] {
        &self.samples
    }

    fn details(&self, check: &str) -> Option<Table> {
        if self.samples.is_empty() {
            return None;
        }
        let n = self.orphans;
        let listed: u64 = self.samples.iter().filter_map(|s| s.rows).sum();
        Some(Table {
            title: format!(
                "{check}: {n} child rows without a parent{}:",
                if listed < n {
                    format!(", {} keys shown", self.samples.len())
                } else {
                    String::new()
                }
            ),
            header: vec!["MISSING PARENT".into(), "CHILD ROWS".into()],
            rows: self
                .samples
                .iter()
                .map(|s| vec![s.key_text(), s.rows.unwrap_or(0).to_string()])
                .collect(),
        })
    }
}

fn orphan(names: &[String], key: &[KeyPart], rows: u64) -> Difference {
    let key = names
        .iter()
        .cloned()
        .zip(key.iter().map(KeyPart::to_json))
        .collect();
    Difference {
        rows: Some(rows),
        ..Difference::new(key, "orphan")
    }
}

/// Both ends on one system: one anti-join (count and sample), one count of child rows.
async fn local(
    reader: &Reader<'_>,
    child: &SideSpec,
    parent: &SideSpec,
    names: &[String],
    limit: usize,
) -> Result<(u64, u64, Vec<Difference>), CheckError> {
    let (found, total) = tokio::join!(
        reader.local_orphans(child, parent, limit.min(u32::MAX as usize) as u32),
        reader.count_rows(&child.table, child.filter.as_deref()),
    );
    let (orphans, sample) = found?;
    let samples = sample
        .iter()
        .map(|(key, rows)| orphan(names, key, *rows))
        .collect();
    Ok((orphans, total?.max(0) as u64, samples))
}

/// Child and parent on different systems: stream both sides' ordered distinct keys and
/// merge them; only the current key of each side and the samples are held.
async fn merged(
    readers: [&Reader<'_>; 2],
    child: &SideSpec,
    parent: &SideSpec,
    names: &[String],
    limit: usize,
) -> Result<(u64, u64, Vec<Difference>), CheckError> {
    let (ctx, mut crx) = mpsc::channel::<(Key, u64)>(STREAM_BUFFER);
    let (ptx, mut prx) = mpsc::channel::<(Key, u64)>(STREAM_BUFFER);
    let merge = async move {
        let mut orphans = 0u64;
        let mut total = 0u64;
        let mut samples = Vec::new();
        let mut last_child: Option<Key> = None;
        let mut last_parent: Option<Key> = None;
        let mut parent_key: Option<Key> = None;
        let mut parents_done = false;
        while let Some((key, rows)) = crx.recv().await {
            if last_child.as_ref().is_some_and(|l| *l >= key) {
                return Err(order_error(readers[0]));
            }
            total += rows;
            // Advance the parents to the first key not below this child's.
            while !parents_done && parent_key.as_ref().is_none_or(|p| *p < key) {
                match prx.recv().await {
                    Some((pk, _)) => {
                        if last_parent.as_ref().is_some_and(|l| *l >= pk) {
                            return Err(order_error(readers[1]));
                        }
                        last_parent = Some(pk.clone());
                        parent_key = Some(pk);
                    }
                    None => {
                        parents_done = true;
                        parent_key = None;
                    }
                }
            }
            if parent_key.as_ref() != Some(&key) {
                orphans += rows;
                if samples.len() < limit {
                    samples.push(orphan(names, &key, rows));
                }
            }
            last_child = Some(key);
        }
        // Stop the parent stream early: nothing left to match.
        drop(prx);
        Ok::<_, CheckError>((orphans, total, samples))
    };
    let (c, p, m) = tokio::join!(
        readers[0].stream_keys(child, true, ctx),
        readers[1].stream_keys(parent, false, ptx),
        merge
    );
    // A failed stream ends early and would look like missing keys: its error wins.
    CheckError::both::<u64, u64>(c, p)?;
    m
}

fn order_error(reader: &Reader<'_>) -> CheckError {
    CheckError::Config(format!(
        "system `{}` returned references out of the expected order, so they cannot be merged: declare `types:` so both sides compare the columns the same way",
        reader.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphans_are_counted_in_child_rows() {
        let r = RefIntegrityReport {
            orphans: 12,
            ..Default::default()
        };
        let mut f = Finding::default();
        r.describe(&mut f);
        assert_eq!(f.headline, "12 child rows without a parent");
    }
}
