//! `hash_diff`: every row of both sides compared by key, inside the databases, through
//! segment checksums and bisection ([`super::diff`]); then the changed rows' mapped values
//! are fetched to say which columns differ and how. Also what a content check is made of
//! (resolving its columns and types, turning differing keys into listed records), which
//! `hash_sample` reuses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::columns::{infer_content, key_columns};
use super::context::{CheckError, Context};
use super::diff::{self, DiffConfig, DiffKind, SideRef};
use super::finding::{plural, verb_s, Finding};
use super::report::{
    export_rows, largest, per_system, per_system_json, shown_of, Difference, Differences, Graded,
    KindReport, Table,
};
use crate::compare::normalize::LogicalType;
use crate::compare::{Col, Key, Native, SideSpec};
use crate::config::HashDiffSpec;
use crate::metrics::Metrics;
use crate::system::{Load, Reader, Window};

/// Most keys in one value-fetch query.
const FETCH_BATCH: usize = 500;

/// Columns the agent compares itself (see [`SideSpec::by_agent`]): after the diff, both sides
/// send those columns' values in key order and the agent compares their canonical forms.
pub(super) mod by_agent {
    use std::collections::BTreeSet;

    use tokio::sync::mpsc;

    use super::super::context::CheckError;
    use super::super::diff::{DiffKind, SideRef};
    use crate::compare::normalize::{json_canonical, LogicalType};
    use crate::compare::{Col, Key, SideSpec};

    /// Rows in flight between a side's stream and the merge.
    const STREAM_BUFFER: usize = 1024;

    /// The agent's canonical form of one value of `col`.
    fn canonical(value: &Option<String>, col: &Col) -> Option<String> {
        match (value, col.ty) {
            (Some(v), LogicalType::Json) => Some(json_canonical(v).unwrap_or_else(|_| v.clone())),
            (v, _) => v.clone(),
        }
    }

    fn equal(a: &[Option<String>], b: &[Option<String>], cols: &[Col]) -> bool {
        cols.iter()
            .enumerate()
            .all(|(i, c)| canonical(&a[i], c) == canonical(&b[i], c))
    }

    /// A fetched row's values (compared, extra, by the agent) as listed: compared, by the
    /// agent (in their canonical form), extra.
    pub fn listed(mut values: Vec<Option<String>>, side: &SideSpec) -> Vec<Option<String>> {
        let (n, e) = (side.columns.len(), side.extra.len());
        let agent: Vec<Option<String>> = values
            .split_off((n + e).min(values.len()))
            .iter()
            .zip(&side.by_agent)
            .map(|(v, c)| canonical(v, c))
            .collect();
        let extra = values.split_off(n.min(values.len()));
        values.extend(agent);
        values.extend(extra);
        values
    }

    /// Keys present on both sides whose agent-compared values differ: every row of both
    /// sides, streamed in the key order they share and merged.
    pub async fn merged(sides: [SideRef<'_>; 2]) -> Result<Vec<Key>, CheckError> {
        let (ta, mut ra) = mpsc::channel::<(Key, Vec<Option<String>>)>(STREAM_BUFFER);
        let (tb, mut rb) = mpsc::channel::<(Key, Vec<Option<String>>)>(STREAM_BUFFER);
        let cols = &sides[0].spec.by_agent;
        let merge = async move {
            let mut differ = Vec::new();
            let mut b = rb.recv().await;
            while let Some((ka, va)) = ra.recv().await {
                while b.as_ref().is_some_and(|(kb, _)| *kb < ka) {
                    b = rb.recv().await;
                }
                if let Some((kb, vb)) = &b {
                    if *kb == ka && !equal(&va, vb, cols) {
                        differ.push(ka);
                    }
                }
            }
            differ
        };
        let (a, b, differ) = tokio::join!(
            sides[0].reader.stream_rows(sides[0].spec, ta),
            sides[1].reader.stream_rows(sides[1].spec, tb),
            merge
        );
        // A failed stream ends early and would hide differences: its error wins.
        CheckError::both::<u64, u64>(a, b)?;
        Ok(differ)
    }

    /// Of `keys`, those present on both sides whose agent-compared values differ.
    pub async fn differing(sides: [SideRef<'_>; 2], keys: &[Key]) -> Result<Vec<Key>, CheckError> {
        let mut differ = Vec::new();
        for chunk in keys.chunks(super::FETCH_BATCH) {
            let (a, b) = tokio::join!(
                sides[0].reader.rows_for_keys(sides[0].spec, chunk),
                sides[1].reader.rows_for_keys(sides[1].spec, chunk)
            );
            let (a, b) = CheckError::both(a, b)?;
            let agent_part = |side: &SideSpec, v: &[Option<String>]| {
                let from = side.columns.len() + side.extra.len();
                v[from.min(v.len())..].to_vec()
            };
            let b: std::collections::BTreeMap<Key, Vec<Option<String>>> = b
                .into_iter()
                .map(|(k, v)| (k, agent_part(sides[1].spec, &v)))
                .collect();
            for (k, v) in a {
                let va = agent_part(sides[0].spec, &v);
                if let Some(vb) = b.get(&k) {
                    if !equal(&va, vb, &sides[0].spec.by_agent) {
                        differ.push(k);
                    }
                }
            }
        }
        Ok(differ)
    }

    /// Adds `changed` keys not already listed as differing, keeping key order.
    pub fn add_changed(differences: &mut Vec<(Key, DiffKind)>, changed: Vec<Key>) {
        let known: BTreeSet<Key> = differences.iter().map(|(k, _)| k.clone()).collect();
        differences.extend(
            changed
                .into_iter()
                .filter(|k| !known.contains(k))
                .map(|k| (k, DiffKind::Changed)),
        );
        differences.sort_by(|a, b| a.0.cmp(&b.0));
    }
}

/// What a `hash_diff` run found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HashDiffReport {
    /// Rows compared per system, in side order.
    #[serde(with = "per_system")]
    pub rows: Vec<(String, i64)>,
    pub differences: Differences,
    /// The differing records listed (at most the run's `samples`).
    pub samples: Vec<Difference>,
    /// Differences that resolved during the grace period (the sync caught up).
    pub transient: u64,
    /// Queries and rows the run cost each system.
    #[serde(with = "per_system", skip_serializing_if = "Vec::is_empty", default)]
    pub load: Vec<(String, Load)>,
}

pub async fn run(spec: &HashDiffSpec, cx: &Context<'_>) -> Result<HashDiffReport, CheckError> {
    let readers = readers(spec, cx)?;
    let readers = [&readers[0], &readers[1]];
    let Resolved {
        sides,
        names,
        agent_names,
        windows,
    } = resolve(spec, readers).await?;
    let refs = side_refs(readers, &sides);
    let mut window_keys: Option<Vec<Key>> = None;
    let mut outcome = match &windows {
        // A window compares the recently changed keys of either side, wherever their
        // timestamps stand on the other side (a failed sync leaves the old one there).
        [Some(wa), Some(wb)] => {
            let (ka, kb) = tokio::join!(
                readers[0].keys_in(&sides[0], Some(wa)),
                readers[1].keys_in(&sides[1], Some(wb))
            );
            let mut keys: Vec<Key> = ka?;
            keys.extend(kb?);
            keys.sort();
            keys.dedup();
            let differences = diff::recheck(refs, &keys).await?;
            let rows = [keys.len() as u64; 2];
            window_keys = Some(keys);
            diff::DiffOutcome { rows, differences }
        }
        _ => {
            let progress = cx.progress.map(|p| {
                let (p, name) = (p.clone(), cx.check.to_string());
                diff::Progress(std::sync::Arc::new(move |what: String| (p.0)(&name, what)))
            });
            let cfg = DiffConfig {
                progress,
                ..DiffConfig::default()
            };
            diff::diff(refs, &cfg).await?
        }
    };
    if !agent_names.is_empty() {
        let differ = match &window_keys {
            Some(keys) => by_agent::differing(refs, keys).await?,
            None => {
                cx.tell(|| "comparing the JSON columns row by row".to_string());
                by_agent::merged(refs).await?
            }
        };
        by_agent::add_changed(&mut outcome.differences, differ);
    }
    // A difference still there after `grace` is drift; one that went away was the sync
    // catching up.
    let mut transient = 0;
    if let (Some(grace), false) = (spec.grace, outcome.differences.is_empty()) {
        let n = outcome.differences.len();
        tracing::debug!(
            check = %cx.check,
            differences = n,
            grace = %humantime::format_duration(grace),
            "re-checking the differences after the grace period"
        );
        cx.tell(|| {
            format!(
                "waiting {} before re-checking {n} differences",
                humantime::format_duration(grace)
            )
        });
        if let Some(hook) = cx.on_grace {
            (hook.0)().await;
        }
        tokio::time::sleep(grace).await;
        let keys: Vec<Key> = outcome.differences.iter().map(|(k, _)| k.clone()).collect();
        let mut remaining = diff::recheck(refs, &keys).await?;
        if !agent_names.is_empty() {
            by_agent::add_changed(&mut remaining, by_agent::differing(refs, &keys).await?);
        }
        transient = (n - remaining.len()) as u64;
        outcome.differences = remaining;
    }
    let (differences, samples) = explain(
        spec,
        readers,
        &sides,
        [&names, &agent_names],
        outcome.differences,
        cx,
    )
    .await?;
    Ok(HashDiffReport {
        rows: rows_of(readers, outcome.rows),
        differences,
        samples,
        transient,
        load: load_of(readers),
    })
}

impl KindReport for HashDiffReport {
    fn graded(&self) -> Graded {
        Graded {
            amount: self.differences.total() as f64,
            total: largest(&self.rows),
        }
    }

    fn export(&self, check: &str, metrics: &Metrics) {
        export_rows(check, &self.rows, metrics);
        export_differences(check, &self.differences, metrics);
    }

    fn describe(&self, f: &mut Finding) {
        f.fact("rows", "Rows", per_system_json(&self.rows));
        let d = &self.differences;
        let total = d.total();
        let mut parts: Vec<String> = d
            .missing
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} missing in {s}"))
            .collect();
        if d.changed > 0 {
            parts.push(format!("{} changed", d.changed));
        }
        f.headline(if total == 0 {
            "no rows differ".to_string()
        } else {
            format!(
                "{total} row{} differ{}: {}",
                plural(total as i64),
                verb_s(total),
                parts.join(", ")
            )
        });
        difference_facts(d, "", "", f);
        if self.transient > 0 {
            f.fact(
                "transient",
                "Transient (caught up during grace)",
                json!(self.transient),
            );
        }
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

    fn transient(&self) -> u64 {
        self.transient
    }

    fn details(&self, check: &str) -> Option<Table> {
        record_table(check, &self.rows, &self.samples, self.differences.total())
    }
}

/// `driftwatch_missing_rows` per system and `driftwatch_changed_rows`.
fn export_differences(check: &str, d: &Differences, metrics: &Metrics) {
    for (system, n) in &d.missing {
        metrics
            .missing_rows
            .with_label_values(&[check, system])
            .set(*n as i64);
    }
    metrics
        .changed_rows
        .with_label_values(&[check])
        .set(d.changed as i64);
}

/// The missing and changed counts as facts; `key`/`label` mark counts of sampled keys.
pub(super) fn difference_facts(d: &Differences, key: &str, label: &str, f: &mut Finding) {
    for (system, n) in &d.missing {
        f.fact(
            format!("{key}missing_in_{system}"),
            format!("Missing in {system}{label}"),
            json!(n),
        );
    }
    f.fact(
        format!("{key}changed"),
        format!("Changed{label}"),
        json!(d.changed),
    );
}

/// The listed differing records: one line per differing column, both sides' values.
pub(super) fn record_table(
    check: &str,
    rows: &[(String, i64)],
    samples: &[Difference],
    total: u64,
) -> Option<Table> {
    if samples.is_empty() {
        return None;
    }
    let systems: Vec<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
    let mut header = vec!["KEY".to_string(), "KIND".into(), "COLUMN".into()];
    header.extend(systems.iter().map(|s| s.to_uppercase()));
    let mut lines = Vec::new();
    for s in samples {
        let key = s.key_text();
        if s.columns.is_empty() {
            lines.push(vec![
                key,
                s.kind.clone(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        for (i, c) in s.columns.iter().enumerate() {
            let first = i == 0;
            lines.push(vec![
                if first { key.clone() } else { String::new() },
                if first { s.kind.clone() } else { String::new() },
                c.clone(),
                s.value_text(systems.first().copied().unwrap_or(""), c),
                s.value_text(systems.get(1).copied().unwrap_or(""), c),
            ]);
        }
    }
    Some(Table {
        title: format!(
            "{check}: {total} differing rows{}:",
            shown_of(samples.len(), total)
        ),
        header,
        rows: lines,
    })
}

/// One reader per side, in side order.
pub(super) fn readers<'a>(
    spec: &HashDiffSpec,
    cx: &Context<'a>,
) -> Result<[Reader<'a>; 2], CheckError> {
    Ok([
        cx.system(&spec.sides[0].table.system)?.reader(),
        cx.system(&spec.sides[1].table.system)?.reader(),
    ])
}

pub(super) fn side_refs<'a>(
    readers: [&'a Reader<'a>; 2],
    sides: &'a [SideSpec; 2],
) -> [SideRef<'a>; 2] {
    [
        SideRef {
            reader: readers[0],
            spec: &sides[0],
        },
        SideRef {
            reader: readers[1],
            spec: &sides[1],
        },
    ]
}

pub(super) fn rows_of(readers: [&Reader<'_>; 2], rows: [u64; 2]) -> Vec<(String, i64)> {
    vec![
        (readers[0].name().to_string(), rows[0] as i64),
        (readers[1].name().to_string(), rows[1] as i64),
    ]
}

pub(super) fn load_of(readers: [&Reader<'_>; 2]) -> Vec<(String, Load)> {
    readers
        .iter()
        .map(|r| (r.name().to_string(), r.load()))
        .collect()
}

/// Turns differing keys into what on-call reads: counts, and for the listed ones the mapped
/// values of both sides and the columns that differ.
pub(super) async fn explain(
    spec: &HashDiffSpec,
    readers: [&Reader<'_>; 2],
    sides: &[SideSpec; 2],
    [names, agent_names]: [&[String]; 2],
    differences: Vec<(Key, DiffKind)>,
    cx: &Context<'_>,
) -> Result<(Differences, Vec<Difference>), CheckError> {
    // Columns as listed: the hashed ones, then the ones the agent compares.
    let names: Vec<String> = names.iter().chain(agent_names).cloned().collect();
    let system_names = [readers[0].name().to_string(), readers[1].name().to_string()];
    let detected_at = chrono::Utc::now();
    let mut missing = [0u64; 2];
    let mut changed = 0u64;
    for (_, kind) in &differences {
        match kind {
            DiffKind::MissingIn(i) => missing[*i] += 1,
            DiffKind::Changed => changed += 1,
        }
    }
    let listed: Vec<&(Key, DiffKind)> = differences.iter().take(cx.limit()).collect();
    let changed_keys: Vec<Key> = listed
        .iter()
        .filter(|(_, k)| *k == DiffKind::Changed)
        .map(|(k, _)| k.clone())
        .collect();
    let mut values: [BTreeMap<Key, Vec<Option<String>>>; 2] = Default::default();
    for chunk in changed_keys.chunks(FETCH_BATCH) {
        for i in 0..2 {
            let rows = readers[i].rows_for_keys(&sides[i], chunk).await?;
            values[i].extend(
                rows.into_iter()
                    .map(|(k, v)| (k, by_agent::listed(v, &sides[i]))),
            );
        }
    }
    let samples = listed
        .iter()
        .map(|(key, kind)| {
            let key_json: serde_json::Map<String, serde_json::Value> = spec
                .key_names
                .iter()
                .cloned()
                .zip(key.iter().map(|p| p.to_json()))
                .collect();
            match kind {
                DiffKind::MissingIn(i) => {
                    let kind = format!("missing_in_{}", system_names[*i]);
                    let first_seen = cx.first_seen(&key_json, &kind, detected_at);
                    Difference {
                        first_seen: Some(first_seen),
                        ..Difference::new(key_json, kind)
                    }
                }
                DiffKind::Changed => changed_record(
                    key_json,
                    [values[0].get(key), values[1].get(key)],
                    &names,
                    &system_names,
                    sides[0].extra.first().map(|c| c.ty),
                    |k| cx.first_seen(k, "changed", detected_at),
                ),
            }
        })
        .collect();
    let counts = Differences {
        missing: vec![
            (system_names[0].clone(), missing[0]),
            (system_names[1].clone(), missing[1]),
        ],
        changed,
    };
    Ok((counts, samples))
}

/// A changed row as listed: the columns that differ with both sides' values, and which side
/// holds the newer version when the check has a `version` column (fetched after the compared
/// columns).
fn changed_record(
    key: serde_json::Map<String, serde_json::Value>,
    values: [Option<&Vec<Option<String>>>; 2],
    names: &[String],
    systems: &[String; 2],
    version: Option<LogicalType>,
    first_seen: impl Fn(&serde_json::Map<String, serde_json::Value>) -> chrono::DateTime<chrono::Utc>,
) -> Difference {
    let mut columns = Vec::new();
    let mut va = serde_json::Map::new();
    let mut vb = serde_json::Map::new();
    let mut newer = None;
    if let [Some(a), Some(b)] = values {
        for (i, name) in names.iter().enumerate() {
            if a[i] != b[i] {
                columns.push(name.clone());
                va.insert(name.clone(), a[i].clone().into());
                vb.insert(name.clone(), b[i].clone().into());
            }
        }
        if let Some(ty) = version {
            let (x, y) = (
                a.get(names.len()).cloned().flatten(),
                b.get(names.len()).cloned().flatten(),
            );
            newer = match compare_versions(x.as_deref(), y.as_deref(), ty) {
                Some(std::cmp::Ordering::Greater) => Some(systems[0].clone()),
                Some(std::cmp::Ordering::Less) => Some(systems[1].clone()),
                _ => None,
            };
        }
    }
    let mut vals = serde_json::Map::new();
    vals.insert(systems[0].clone(), va.into());
    vals.insert(systems[1].clone(), vb.into());
    Difference {
        newer,
        first_seen: Some(first_seen(&key)),
        columns,
        values: Some(vals),
        ..Difference::new(key, "changed")
    }
}

/// A content check made concrete for its systems.
pub(super) struct Resolved {
    pub sides: [SideSpec; 2],
    /// Logical names of the columns each database hashes, in order.
    pub names: Vec<String>,
    /// Logical names of the columns the agent compares (`SideSpec::by_agent`), in order.
    pub agent_names: Vec<String>,
    /// Per side, the rows inside the check's `window`.
    pub windows: [Option<Window>; 2],
}

/// Turns the check's definition into what each system needs: expressions with logical
/// types, inferred from the databases where the config leaves them out.
pub(super) async fn resolve(
    spec: &HashDiffSpec,
    readers: [&Reader<'_>; 2],
) -> Result<Resolved, CheckError> {
    let mapped = planned_columns(spec, readers).await?;
    let mut natives: Vec<Vec<Native>> = Vec::new();
    for (i, r) in readers.iter().enumerate() {
        let mut exprs: Vec<String> = spec.sides[i].key.clone();
        exprs.extend(mapped.iter().map(|(_, e, _)| e[i].clone()));
        natives.push(r.natives(&spec.sides[i].table.table, &exprs).await?);
    }
    let nkey = spec.sides[0].key.len();
    let [ka, kb] = key_columns(
        &spec.key_names[..nkey],
        spec.key_types.as_deref(),
        [&spec.sides[0].key, &spec.sides[1].key],
        [&natives[0][..nkey], &natives[1][..nkey]],
        readers,
        "key",
    )?;
    let mut cols: [Vec<Col>; 2] = Default::default();
    let mut by_agent: [Vec<Col>; 2] = Default::default();
    let mut names: Vec<String> = Vec::new();
    let mut agent_names: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (j, (name, exprs, ty)) in mapped.into_iter().enumerate() {
        let n = [&natives[0][nkey + j], &natives[1][nkey + j]];
        let compared = match infer_content(&name, ty, n, readers) {
            Ok(c) => c,
            // Every column that cannot be compared is told at once.
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let (to, named) = if compared.by_agent {
            (&mut by_agent, &mut agent_names)
        } else {
            (&mut cols, &mut names)
        };
        for i in 0..2 {
            to[i].push(Col {
                expr: exprs[i].clone(),
                ty: compared.ty,
                native: n[i].clone(),
                plain: false,
            });
        }
        named.push(name);
    }
    if !problems.is_empty() {
        return Err(CheckError::Config(problems.join("; ")));
    }
    let position = |names: &[String], name: &str, field: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            CheckError::Config(format!(
                "`{field}` names `{name}`, which is not a compared column"
            ))
        })
    };
    // `window`: the rows whose timestamp is recent on either side (in UTC).
    let mut windows: [Option<Window>; 2] = [None, None];
    if let Some(w) = &spec.window {
        let j = position(&names, &w.column, "window.column")?;
        let LogicalType::Timestamp(p) = cols[0][j].ty else {
            return Err(CheckError::Config(format!(
                "`window.column` `{}` compares as {}: it must be a timestamp",
                w.column, cols[0][j].ty
            )));
        };
        let since = chrono::Duration::from_std(w.since).unwrap_or(chrono::Duration::MAX);
        let cutoff = crate::compare::normalize::format_timestamp(
            (chrono::Utc::now() - since).naive_utc(),
            p,
        );
        for i in 0..2 {
            windows[i] = Some(Window {
                column: cols[i][j].clone(),
                cutoff: cutoff.clone(),
            });
        }
    }
    // `version`: fetched for changed rows, never compared.
    let mut extra: [Vec<Col>; 2] = Default::default();
    if let Some(v) = &spec.version {
        let j = position(&names, v, "version")?;
        for i in 0..2 {
            extra[i].push(cols[i].remove(j));
        }
        names.remove(j);
    }
    let [ca, cb] = cols;
    let [ea, eb] = extra;
    let [aa, ab] = by_agent;
    let side = |i: usize, key, columns, extra, by_agent| SideSpec {
        table: spec.sides[i].table.table.clone(),
        filter: spec.sides[i].table.filter.clone(),
        key,
        columns,
        extra,
        by_agent,
        tz: readers[i].timezone(),
    };
    let mut sides = [side(0, ka, ca, ea, aa), side(1, kb, cb, eb, ab)];
    // Bare columns the catalog vouches for are rendered with plain casts.
    for (i, side) in sides.iter_mut().enumerate() {
        readers[i].mark_plain(side).await?;
    }
    Ok(Resolved {
        sides,
        names,
        agent_names,
        windows,
    })
}

/// The column a bare (optionally quoted) identifier names; `None` for any other expression.
fn bare(expr: &str) -> Option<String> {
    let name = expr.trim().trim_matches(|c| c == '`' || c == '"');
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$'))
    .then(|| name.to_string())
}

/// A column's name as the shared-name default matches it: case and `_` aside
/// (`InvoiceDate` is `invoice_date`).
fn match_name(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A column on its way into the plan: its logical name, expressions (where known yet),
/// declared type, and whether a `columns:` entry made it.
struct Planned {
    name: String,
    exprs: [Option<String>; 2],
    ty: Option<LogicalType>,
    entry: bool,
}

/// The columns to compare, as (logical name, expression per side, declared type): every
/// column both tables share by name (the key aside), refined by `columns:` — an entry
/// overrides a shared column's expressions or type or adds a column, `exclude` drops, `only`
/// keeps. Every problem is reported at once. No columns at all is fine: rows compare by key.
async fn planned_columns(
    spec: &HashDiffSpec,
    readers: [&Reader<'_>; 2],
) -> Result<Vec<(String, [String; 2], Option<LogicalType>)>, CheckError> {
    let mut all = Vec::new();
    for (i, r) in readers.iter().enumerate() {
        all.push(r.describe(&spec.sides[i].table.table, &[]).await?);
    }
    let keys: Vec<Vec<String>> = spec
        .sides
        .iter()
        .map(|s| {
            s.key
                .iter()
                .map(|k| match_name(k.trim_matches(|c| c == '`' || c == '"')))
                .collect()
        })
        .collect();
    let mut problems: Vec<String> = Vec::new();
    // Shared columns, named as the second side (usually the new system) names them.
    let mut planned: Vec<Planned> = Vec::new();
    for (name, _) in &all[1] {
        let m = match_name(name);
        if keys[1].contains(&m) {
            continue;
        }
        let twins: Vec<&String> = all[0]
            .iter()
            .map(|(other, _)| other)
            .filter(|other| match_name(other) == m && !keys[0].contains(&m))
            .collect();
        match twins.as_slice() {
            [] => {}
            [other] => planned.push(Planned {
                name: name.clone(),
                exprs: [
                    Some(readers[0].quote_ident(other)),
                    Some(readers[1].quote_ident(name)),
                ],
                ty: None,
                entry: false,
            }),
            several => problems.push(format!(
                "column `{name}` of `{}` matches {} of `{}` by name: map it with a `columns:` entry",
                spec.sides[1].table.table,
                several
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" and "),
                spec.sides[0].table.table
            )),
        }
    }
    let position = |planned: &[Planned], name: &str| {
        planned
            .iter()
            .position(|p| match_name(&p.name) == match_name(name))
    };
    for entry in &spec.columns.entries {
        match position(&planned, &entry.name) {
            Some(j) => {
                let p = &mut planned[j];
                for i in 0..2 {
                    if let Some(e) = &entry.exprs[i] {
                        p.exprs[i] = Some(e.clone());
                    }
                }
                p.name = entry.name.clone();
                p.ty = entry.ty.or(p.ty);
                p.entry = true;
            }
            None => {
                // A shared column an entry maps under another name is that entry's: it is
                // not compared a second time under its own name.
                for i in 0..2 {
                    if let Some(col) = entry.exprs[i].as_deref().and_then(bare) {
                        planned.retain(|p| {
                            p.entry
                                || p.exprs[i].as_deref().and_then(bare).map(|c| match_name(&c))
                                    != Some(match_name(&col))
                        });
                    }
                }
                // Not shared: an expression, or the column of the entry's name, on each side.
                let mut exprs = entry.exprs.clone();
                for i in 0..2 {
                    if exprs[i].is_none() {
                        let found = all[i]
                            .iter()
                            .find(|(c, _)| match_name(c) == match_name(&entry.name));
                        match found {
                            Some((c, _)) => exprs[i] = Some(readers[i].quote_ident(c)),
                            None => problems.push(format!(
                                "column `{}`: `{}` has no column of that name; give its expression for `{}` in the entry",
                                entry.name,
                                spec.sides[i].table.table,
                                readers[i].name()
                            )),
                        }
                    }
                }
                planned.push(Planned {
                    name: entry.name.clone(),
                    exprs,
                    ty: entry.ty,
                    entry: true,
                });
            }
        }
    }
    let mut unknown = |listed: &[String], field: &str, planned: &[Planned]| {
        for name in listed {
            if position(planned, name).is_none() {
                problems.push(format!(
                    "`{field}` names `{name}`, which is not a column both tables have (compared: {})",
                    planned
                        .iter()
                        .map(|p| format!("`{}`", p.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    };
    unknown(&spec.columns.exclude, "exclude", &planned);
    if let Some(only) = &spec.columns.only {
        unknown(only, "only", &planned);
    }
    if !problems.is_empty() {
        return Err(CheckError::Config(problems.join("; ")));
    }
    let listed =
        |list: &[String], name: &str| list.iter().any(|l| match_name(l) == match_name(name));
    Ok(planned
        .into_iter()
        .filter(|p| !listed(&spec.columns.exclude, &p.name))
        .filter(|p| {
            spec.columns
                .only
                .as_ref()
                .is_none_or(|o| listed(o, &p.name))
        })
        .filter_map(|p| {
            let [a, b] = p.exprs;
            Some((p.name, [a?, b?], p.ty))
        })
        .collect())
}

/// Orders two canonical version values: numbers numerically, everything else (timestamps,
/// dates: canonical text sorts in time order) as text. `None` when either is missing.
fn compare_versions(
    a: Option<&str>,
    b: Option<&str>,
    ty: LogicalType,
) -> Option<std::cmp::Ordering> {
    let (a, b) = (a?, b?);
    match ty {
        LogicalType::Int | LogicalType::Decimal(_) | LogicalType::Float(_) => {
            let (x, y) = (a.parse::<f64>().ok()?, b.parse::<f64>().ok()?);
            x.partial_cmp(&y)
        }
        _ => Some(a.cmp(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_check_lists_missing_and_changed() {
        let r = HashDiffReport {
            rows: vec![("legacy".into(), 100), ("modern".into(), 125)],
            differences: Differences {
                missing: vec![("legacy".into(), 25), ("modern".into(), 0)],
                changed: 52,
            },
            samples: Vec::new(),
            transient: 0,
            load: Vec::new(),
        };
        let mut f = Finding::default();
        r.describe(&mut f);
        assert_eq!(
            f.headline,
            "77 rows differ: 25 missing in legacy, 52 changed"
        );
        let keys: Vec<&str> = f.facts.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["rows", "missing_in_legacy", "missing_in_modern", "changed"]
        );
    }
}
