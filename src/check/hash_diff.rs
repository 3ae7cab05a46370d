//! `hash_diff`: every row of both sides compared by key, in the databases, through segment
//! checksums and bisection (`compare::diff`); then the changed rows' mapped values are
//! fetched to say which columns differ and how.

use std::collections::BTreeMap;

use super::{CheckError, Difference, Outcome, RunOptions};
use crate::compare::diff::{self, DiffConfig, DiffKind, SideRef};
use crate::compare::normalize::LogicalType;
use crate::compare::{key_type_supported, Col, Key, Native, SideSpec};
use crate::config::{CheckConfig, EngineKind, HashDiffSpec};
use crate::system::sql;
use crate::system::{System, Systems};

/// Most keys in one value-fetch query.
const FETCH_BATCH: usize = 500;

pub async fn run(
    check: &CheckConfig,
    spec: &HashDiffSpec,
    systems: &Systems,
    options: &RunOptions,
) -> Result<Outcome, CheckError> {
    let sys = systems_of(spec, systems)?;
    let Resolved {
        sides,
        names,
        windows,
    } = resolve(spec, sys).await?;
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
    let mut outcome = match &windows {
        // A window compares the recently changed keys of either side, wherever their
        // timestamps stand on the other side (a failed sync leaves the old one there).
        [Some(_), Some(_)] => {
            let mut load = [diff::Load::default(); 2];
            let mut keys: Vec<Key> = Vec::new();
            for i in 0..2 {
                let q =
                    sql::keys_where(sys[i].engine().dialect(), &sides[i], windows[i].as_deref());
                let rows = sys[i].fetch_strings(&q).await?;
                load[i].queries += 1;
                load[i].rows += rows.len() as u64;
                keys.extend(rows.iter().filter_map(|r| {
                    sides[i]
                        .key
                        .iter()
                        .zip(r)
                        .map(|(c, v)| {
                            v.as_deref()
                                .and_then(|t| crate::compare::KeyPart::parse(t, c.ty))
                        })
                        .collect::<Option<Key>>()
                }));
            }
            keys.sort();
            keys.dedup();
            let differences = diff::recheck(refs, &keys, &mut load).await?;
            diff::DiffOutcome {
                rows: [keys.len() as u64; 2],
                differences,
                load,
            }
        }
        _ => {
            let progress = options.progress.clone().map(|p| {
                let name = check.name.clone();
                diff::Progress(std::sync::Arc::new(move |what: String| (p.0)(&name, what)))
            });
            let cfg = DiffConfig {
                progress,
                ..DiffConfig::default()
            };
            diff::diff(refs, &cfg).await?
        }
    };
    // A difference still there after `grace` is drift; one that went away was the sync
    // catching up.
    let mut transient = 0;
    if let (Some(grace), false) = (spec.grace, outcome.differences.is_empty()) {
        tracing::debug!(
            check = %check.name,
            differences = outcome.differences.len(),
            grace = %humantime::format_duration(grace),
            "re-checking the differences after the grace period"
        );
        if let Some(p) = &options.progress {
            (p.0)(
                &check.name,
                format!(
                    "waiting {} before re-checking {} differences",
                    humantime::format_duration(grace),
                    outcome.differences.len()
                ),
            );
        }
        if let Some(hook) = &options.on_grace {
            (hook.0)().await;
        }
        tokio::time::sleep(grace).await;
        let keys: Vec<Key> = outcome.differences.iter().map(|(k, _)| k.clone()).collect();
        let remaining = diff::recheck(refs, &keys, &mut outcome.load).await?;
        transient = (outcome.differences.len() - remaining.len()) as u64;
        outcome.differences = remaining;
    }
    let _ = check;
    explain(
        spec,
        [sys[0], sys[1]],
        &sides,
        &names,
        outcome.differences,
        outcome.rows,
        outcome.load,
        transient,
        options,
    )
    .await
}

/// The systems a content check reads, in side order.
pub(super) fn systems_of<'a>(
    spec: &HashDiffSpec,
    systems: &'a Systems,
) -> Result<[&'a System; 2], CheckError> {
    Ok([
        super::system(systems, &spec.sides[0].table.system)?,
        super::system(systems, &spec.sides[1].table.system)?,
    ])
}

/// Key (or reference) columns typed for comparison on both sides: the declared type, else
/// what the databases agree on; only types that order the same on every engine.
pub(super) fn key_columns(
    names: &[String],
    declared: Option<&[LogicalType]>,
    exprs: [&[String]; 2],
    natives: [&[Native]; 2],
    sys: [&System; 2],
    what: &str,
) -> Result<[Vec<Col>; 2], CheckError> {
    let engines = [sys[0].engine().kind(), sys[1].engine().kind()];
    let mut cols: [Vec<Col>; 2] = Default::default();
    for (k, name) in names.iter().enumerate() {
        let ty = infer(
            name,
            declared.map(|t| t[k]),
            [natives[0][k], natives[1][k]],
            engines,
            &sys,
        )?;
        if !key_type_supported(ty) {
            return Err(CheckError::Config(format!(
                "{what} `{name}` compares as {ty}: it must be an integer, text, a UUID or a date (declare its type)"
            )));
        }
        for i in 0..2 {
            cols[i].push(Col {
                expr: exprs[i][k].clone(),
                ty,
                native: natives[i][k],
                plain: false,
            });
        }
    }
    Ok(cols)
}

/// Turns differing keys into the outcome on-call reads: counts, and for the listed ones the
/// mapped values of both sides and the columns that differ.
#[allow(clippy::too_many_arguments)]
pub(super) async fn explain(
    spec: &HashDiffSpec,
    sys: [&System; 2],
    sides: &[SideSpec; 2],
    names: &[String],
    differences: Vec<(Key, DiffKind)>,
    rows: [u64; 2],
    mut load: [diff::Load; 2],
    transient: u64,
    options: &RunOptions,
) -> Result<Outcome, CheckError> {
    let system_names = [sys[0].name().to_string(), sys[1].name().to_string()];
    let detected_at = chrono::Utc::now();
    let first_seen = |key: &serde_json::Map<String, serde_json::Value>, kind: &str| {
        options
            .previous
            .as_ref()
            .and_then(|p| p.samples.as_ref())
            .and_then(|s| s.iter().find(|d| &d.key == key && d.kind == kind))
            .and_then(|d| d.first_seen)
            .unwrap_or(detected_at)
    };

    let mut missing = [0u64; 2];
    let mut changed = 0u64;
    for (_, kind) in &differences {
        match kind {
            DiffKind::MissingIn(i) => missing[*i] += 1,
            DiffKind::Changed => changed += 1,
        }
    }
    let cap = options.samples.unwrap_or(usize::MAX);
    let listed: Vec<&(Key, DiffKind)> = differences.iter().take(cap).collect();
    let changed_keys: Vec<Key> = listed
        .iter()
        .filter(|(_, k)| *k == DiffKind::Changed)
        .map(|(k, _)| k.clone())
        .collect();
    let mut values: [BTreeMap<Key, Vec<Option<String>>>; 2] = Default::default();
    for chunk in changed_keys.chunks(FETCH_BATCH) {
        for (i, system) in sys.iter().enumerate() {
            let q = sql::fetch_rows(system.engine().dialect(), &sides[i], chunk);
            let rows = system.fetch_strings(&q).await?;
            load[i].queries += 1;
            load[i].rows += rows.len() as u64;
            let nkey = sides[i].key.len();
            for r in rows {
                let key: Option<Key> = sides[i]
                    .key
                    .iter()
                    .zip(&r[..nkey])
                    .map(|(c, v)| {
                        v.as_deref()
                            .and_then(|t| crate::compare::KeyPart::parse(t, c.ty))
                    })
                    .collect();
                if let Some(key) = key {
                    values[i].insert(key, r[nkey..].to_vec());
                }
            }
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
                    Difference {
                        newer: None,
                        first_seen: Some(first_seen(&key_json, &kind)),
                        key: key_json,
                        kind,
                        columns: Vec::new(),
                        values: None,
                        delta: None,
                        rows: None,
                    }
                }
                DiffKind::Changed => {
                    let (a, b) = (values[0].get(key), values[1].get(key));
                    let mut columns = Vec::new();
                    let mut va = serde_json::Map::new();
                    let mut vb = serde_json::Map::new();
                    if let (Some(a), Some(b)) = (a, b) {
                        for (i, name) in names.iter().enumerate() {
                            if a[i] != b[i] {
                                columns.push(name.clone());
                                va.insert(name.clone(), a[i].clone().into());
                                vb.insert(name.clone(), b[i].clone().into());
                            }
                        }
                    }
                    let mut vals = serde_json::Map::new();
                    vals.insert(system_names[0].clone(), va.into());
                    vals.insert(system_names[1].clone(), vb.into());
                    // Which side holds the newer version (by the `version` column).
                    let newer = match (a, b) {
                        (Some(a), Some(b)) if !sides[0].extra.is_empty() => {
                            let (va, vb) = (
                                a.get(names.len()).cloned().flatten(),
                                b.get(names.len()).cloned().flatten(),
                            );
                            match compare_versions(
                                va.as_deref(),
                                vb.as_deref(),
                                sides[0].extra[0].ty,
                            ) {
                                Some(std::cmp::Ordering::Greater) => Some(system_names[0].clone()),
                                Some(std::cmp::Ordering::Less) => Some(system_names[1].clone()),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    Difference {
                        newer,
                        first_seen: Some(first_seen(&key_json, "changed")),
                        key: key_json,
                        kind: "changed".to_string(),
                        columns,
                        values: Some(vals),
                        delta: None,
                        rows: None,
                    }
                }
            }
        })
        .collect();
    let total = rows[0].max(rows[1]) as f64;
    Ok(Outcome {
        rows: vec![
            (system_names[0].clone(), rows[0] as i64),
            (system_names[1].clone(), rows[1] as i64),
        ],
        row_count_difference: None,
        finding: (missing[0] + missing[1] + changed) as f64,
        total,
        differences: Some(super::Differences {
            missing: vec![
                (system_names[0].clone(), missing[0]),
                (system_names[1].clone(), missing[1]),
            ],
            changed,
        }),
        samples,
        transient,
        sample: None,
        load: vec![
            (system_names[0].clone(), load[0]),
            (system_names[1].clone(), load[1]),
        ],
        ..Outcome::default()
    })
}

/// Turns the check's definition into what each engine needs: expressions with logical
/// types, inferred from the databases where the config leaves them out.
/// A content check made concrete for its engines.
pub(super) struct Resolved {
    pub sides: [SideSpec; 2],
    /// Logical names of the compared columns, in order.
    pub names: Vec<String>,
    /// Per side, the condition selecting the rows inside the check's `window`.
    pub windows: [Option<String>; 2],
}

pub(super) async fn resolve(
    spec: &HashDiffSpec,
    sys: [&System; 2],
) -> Result<Resolved, CheckError> {
    // Which columns: the mapping, or every column both tables share.
    let mapped: Vec<(String, [String; 2], Option<LogicalType>)> = match &spec.columns {
        Some(cols) => cols
            .iter()
            .map(|c| (c.name.clone(), c.exprs.clone(), c.ty))
            .collect(),
        None => {
            let mut all = Vec::new();
            for (i, s) in sys.iter().enumerate() {
                all.push(s.describe(&spec.sides[i].table.table, &[]).await?);
            }
            let keys: Vec<Vec<String>> = spec
                .sides
                .iter()
                .map(|s| s.key.iter().map(|k| k.to_ascii_lowercase()).collect())
                .collect();
            let shared: Vec<(String, [String; 2], Option<LogicalType>)> = all[1]
                .iter()
                .filter(|(name, _)| !keys[1].contains(&name.to_ascii_lowercase()))
                .filter_map(|(name, _)| {
                    all[0]
                        .iter()
                        .find(|(other, _)| {
                            other.eq_ignore_ascii_case(name)
                                && !keys[0].contains(&other.to_ascii_lowercase())
                        })
                        .map(|(other, _)| {
                            (
                                name.clone(),
                                [
                                    sys[0].engine().quote_ident(other),
                                    sys[1].engine().quote_ident(name),
                                ],
                                None,
                            )
                        })
                })
                .collect();
            if shared.is_empty() {
                return Err(CheckError::Config(format!(
                    "tables `{}` and `{}` share no column names besides the key: map the columns with `columns:`",
                    spec.sides[0].table.table, spec.sides[1].table.table
                )));
            }
            shared
        }
    };
    let mut natives: Vec<Vec<Native>> = Vec::new();
    for (i, s) in sys.iter().enumerate() {
        let mut exprs: Vec<String> = spec.sides[i].key.clone();
        exprs.extend(mapped.iter().map(|(_, e, _)| e[i].clone()));
        let described = s.describe(&spec.sides[i].table.table, &exprs).await?;
        natives.push(described.into_iter().map(|(_, n)| n).collect());
    }
    let engines = [sys[0].engine().kind(), sys[1].engine().kind()];
    let nkey = spec.sides[0].key.len();
    let mut key_cols = key_columns(
        &spec.key_names[..nkey],
        spec.key_types.as_deref(),
        [&spec.sides[0].key, &spec.sides[1].key],
        [&natives[0][..nkey], &natives[1][..nkey]],
        sys,
        "key",
    )?;
    let mut cols: [Vec<Col>; 2] = Default::default();
    for (j, (name, exprs, ty)) in mapped.iter().enumerate() {
        let n = [natives[0][nkey + j], natives[1][nkey + j]];
        let ty = infer(name, *ty, n, engines, &sys)?;
        for i in 0..2 {
            cols[i].push(Col {
                expr: exprs[i].clone(),
                ty,
                native: n[i],
                plain: false,
            });
        }
    }
    // Bare columns the catalog vouches for are rendered with plain casts.
    for i in 0..2 {
        let catalog = sys[i].catalog(&spec.sides[i].table.table).await?;
        if catalog.is_empty() {
            continue;
        }
        let tz = sys[i].config.timezone;
        let d = sys[i].engine().dialect();
        for col in key_cols[i].iter_mut().chain(cols[i].iter_mut()) {
            let bare = col.expr.trim().trim_matches(|c| c == '`' || c == '"');
            let is_ident = !bare.is_empty()
                && bare
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
            if let Some(facts) = catalog.get(&bare.to_ascii_lowercase()).filter(|_| is_ident) {
                col.plain = d.plain(col, facts, tz);
            }
        }
    }
    let mut names: Vec<String> = mapped.into_iter().map(|(n, _, _)| n).collect();
    let position = |name: &str, field: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            CheckError::Config(format!(
                "`{field}` names `{name}`, which is not a compared column"
            ))
        })
    };
    // `window`: the rows whose timestamp is recent on either side (in UTC).
    let mut windows: [Option<String>; 2] = [None, None];
    if let Some(w) = &spec.window {
        let j = position(&w.column, "window.column")?;
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
            let canon = sys[i]
                .engine()
                .dialect()
                .canonical(&cols[i][j], sys[i].config.timezone);
            windows[i] = Some(format!("{canon} >= '{cutoff}'"));
        }
    }
    // `version`: fetched for changed rows, never compared.
    let mut extra: [Vec<Col>; 2] = Default::default();
    if let Some(v) = &spec.version {
        let j = position(v, "version")?;
        for i in 0..2 {
            extra[i].push(cols[i].remove(j));
        }
        names.remove(j);
    }
    let [ka, kb] = key_cols;
    let [ca, cb] = cols;
    let [ea, eb] = extra;
    let side = |i: usize, key, columns, extra| SideSpec {
        table: spec.sides[i].table.table.clone(),
        filter: spec.sides[i].table.filter.clone(),
        key,
        columns,
        extra,
        tz: sys[i].config.timezone,
    };
    Ok(Resolved {
        sides: [side(0, ka, ca, ea), side(1, kb, cb, eb)],
        names,
        windows,
    })
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

/// The logical type of a column: the declared one, or the one both sides' types agree on.
/// SQLite cannot say much about a value's type, so its side defers to the other.
pub(super) fn infer(
    name: &str,
    declared: Option<LogicalType>,
    natives: [Native; 2],
    engines: [EngineKind; 2],
    sys: &[&System; 2],
) -> Result<LogicalType, CheckError> {
    if let Some(t) = declared {
        return Ok(t);
    }
    let weak = |i: usize| {
        engines[i] == EngineKind::Sqlite
            && matches!(natives[i], Native::Text | Native::Other | Native::Int)
    };
    let logical = [natives[0].logical(), natives[1].logical()];
    let ty = match logical {
        [Some(a), Some(b)] if a == b => Some(a),
        [_, Some(b)] if weak(0) => Some(b),
        [Some(a), _] if weak(1) => Some(a),
        _ => None,
    };
    ty.ok_or_else(|| {
        CheckError::Config(format!(
            "column `{name}`: cannot infer how to compare it ({} says {:?}, {} says {:?}); declare `type:` (one of {})",
            sys[0].name(),
            natives[0],
            sys[1].name(),
            natives[1],
            LogicalType::NAMES
        ))
    })
}
