//! `ref_integrity`: child rows whose parent row is missing. On one system this is one
//! anti-join in SQL. Across systems both sides stream their distinct keys in the same
//! engine-independent order (integers by value, everything else by the bytes of its canonical
//! text) and the agent merges the two streams, so memory stays bounded however many keys
//! there are. Rows whose reference is NULL are skipped, as a foreign key skips them.

use tokio::sync::mpsc;

use super::hash_diff::key_columns;
use super::{CheckError, Difference, Outcome, RunOptions};
use crate::compare::{Col, Key, KeyPart, Native, SideSpec};
use crate::config::RefIntegritySpec;
use crate::system::{sql, System, Systems};

/// Rows in flight between a side's stream and the merge.
const STREAM_BUFFER: usize = 1024;

pub async fn run(
    spec: &RefIntegritySpec,
    systems: &Systems,
    options: &RunOptions,
) -> Result<Outcome, CheckError> {
    let sys = [
        super::system(systems, &spec.child.table.system)?,
        super::system(systems, &spec.parent.table.system)?,
    ];
    let ends = [&spec.child, &spec.parent];
    let mut natives: Vec<Vec<Native>> = Vec::new();
    for i in 0..2 {
        let described = sys[i]
            .describe(&ends[i].table.table, &ends[i].columns)
            .await?;
        natives.push(described.into_iter().map(|(_, n)| n).collect());
    }
    let names: Vec<String> = spec
        .child
        .columns
        .iter()
        .map(|c| c.rsplit('.').next().unwrap_or(c).to_string())
        .collect();
    let cols = key_columns(
        &names,
        spec.types.as_deref(),
        [&ends[0].columns, &ends[1].columns],
        [&natives[0], &natives[1]],
        sys,
        "reference column",
    )?;
    let [cc, pc] = cols;
    let side = |i: usize, key| SideSpec {
        table: ends[i].table.table.clone(),
        filter: ends[i].table.filter.clone(),
        key,
        columns: Vec::new(),
        extra: Vec::new(),
        tz: sys[i].config.timezone,
    };
    let (child, parent) = (side(0, cc), side(1, pc));
    let limit = options.samples.unwrap_or(usize::MAX);
    let (orphans, total, samples) = if spec.child.table.system == spec.parent.table.system {
        local(sys[0], &child, &parent, &names, limit).await?
    } else {
        merged(sys, &child, &parent, &names, limit).await?
    };
    Ok(Outcome {
        finding: orphans as f64,
        total: total as f64,
        orphans: Some(orphans),
        samples,
        ..Outcome::default()
    })
}

fn orphan(names: &[String], key: &[KeyPart], rows: u64) -> Difference {
    Difference {
        key: names
            .iter()
            .cloned()
            .zip(key.iter().map(KeyPart::to_json))
            .collect(),
        kind: "orphan".to_string(),
        columns: Vec::new(),
        values: None,
        first_seen: None,
        newer: None,
        delta: None,
        rows: Some(rows),
    }
}

fn parse_key(row: &[Option<String>], cols: &[Col]) -> Option<Key> {
    row.iter()
        .zip(cols)
        .map(|(v, c)| v.as_deref().and_then(|t| KeyPart::parse(t, c.ty)))
        .collect()
}

fn bad_row(system: &System) -> CheckError {
    CheckError::Config(format!(
        "system `{}` returned a reference that cannot be read as its type: declare `types:`",
        system.name()
    ))
}

/// Both ends on one system: one anti-join (count), one sample, one count of child rows.
async fn local(
    sys: &System,
    child: &SideSpec,
    parent: &SideSpec,
    names: &[String],
    limit: usize,
) -> Result<(u64, u64, Vec<Difference>), CheckError> {
    let (count, sample) = sql::orphans_local(
        sys.engine().dialect(),
        child,
        parent,
        limit.min(u32::MAX as usize) as u32,
    );
    let (count, sample, total) = tokio::join!(
        sys.fetch_strings(&count),
        sys.fetch_strings(&sample),
        sys.count_rows(&child.table, child.filter.as_deref()),
    );
    let orphans: u64 = count?
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| bad_row(sys))?;
    let n = child.key.len();
    let mut samples = Vec::new();
    for row in sample? {
        let key = parse_key(&row[..n], &child.key).ok_or_else(|| bad_row(sys))?;
        let rows = row
            .get(n)
            .cloned()
            .flatten()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        samples.push(orphan(names, &key, rows));
    }
    Ok((orphans, total?.max(0) as u64, samples))
}

/// Child and parent on different systems: stream both sides' ordered distinct keys and
/// merge them; only the current key of each side and the samples are held.
async fn merged(
    sys: [&System; 2],
    child: &SideSpec,
    parent: &SideSpec,
    names: &[String],
    limit: usize,
) -> Result<(u64, u64, Vec<Difference>), CheckError> {
    let cq = sql::ordered_keys(sys[0].engine().dialect(), child, true);
    let pq = sql::ordered_keys(sys[1].engine().dialect(), parent, false);
    let (ctx, mut crx) = mpsc::channel::<Vec<Option<String>>>(STREAM_BUFFER);
    let (ptx, mut prx) = mpsc::channel::<Vec<Option<String>>>(STREAM_BUFFER);
    let n = child.key.len();
    let merge = async move {
        let mut orphans = 0u64;
        let mut total = 0u64;
        let mut samples = Vec::new();
        let mut last_child: Option<Key> = None;
        let mut last_parent: Option<Key> = None;
        let mut parent_key: Option<Key> = None;
        let mut parents_done = false;
        while let Some(row) = crx.recv().await {
            let key = parse_key(&row[..n], &child.key).ok_or_else(|| bad_row(sys[0]))?;
            let rows: u64 = row
                .get(n)
                .cloned()
                .flatten()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            if last_child.as_ref().is_some_and(|l| *l >= key) {
                return Err(order_error(sys[0]));
            }
            total += rows;
            // Advance the parents to the first key not below this child's.
            while !parents_done && parent_key.as_ref().is_none_or(|p| *p < key) {
                match prx.recv().await {
                    Some(prow) => {
                        let pk =
                            parse_key(&prow[..n], &parent.key).ok_or_else(|| bad_row(sys[1]))?;
                        if last_parent.as_ref().is_some_and(|l| *l >= pk) {
                            return Err(order_error(sys[1]));
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
        sys[0].stream_strings(&cq, ctx),
        sys[1].stream_strings(&pq, ptx),
        merge
    );
    // A failed stream ends early and would look like missing keys: its error wins.
    match (c, p) {
        (Err(a), Err(b)) => return Err(CheckError::Both(Box::new(a.into()), Box::new(b.into()))),
        (Err(e), _) | (_, Err(e)) => return Err(e.into()),
        _ => {}
    }
    m
}

fn order_error(system: &System) -> CheckError {
    CheckError::Config(format!(
        "system `{}` returned references out of the expected order, so they cannot be merged: declare `types:` so both sides compare the columns the same way",
        system.name()
    ))
}
