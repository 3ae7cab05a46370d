//! The `hash_diff` kind's config: two keyed sides, the key's names and types, the mapped
//! `columns`, and hash_diff's own `grace`, `window` and `version`. Raw shapes and their
//! validation into [`HashDiffSpec`]; no I/O.
//!
//! The keyed comparison (sides with `key`, `key_names`, `key_types`, `columns`) is shared with
//! `hash_sample` through [`keyed`]; what only a full comparison has stays out of it.

use std::time::Duration;

use serde::Deserialize;

use super::diag::Diag;
use super::kind::{system_names, Input, Parsed};
use super::side::{column_refinement, key_types, table_side, ColumnRefinement, TableSide};
use super::value::duration;
use super::yaml::{Node, Pos, Spanned};
use crate::compare::normalize::LogicalType;

/// A content comparison: rows matched by key, mapped columns compared by canonical value.
#[derive(Clone, Debug)]
pub struct HashDiffSpec {
    pub sides: [KeyedSide; 2],
    /// The key's logical names, as results report them.
    pub key_names: Vec<String>,
    /// How each key column compares, where the databases disagree (a CHAR(36) uuid against
    /// a UUID); inferred when omitted.
    pub key_types: Option<Vec<LogicalType>>,
    /// How the columns both tables share are refined (overrides, additions, `exclude`,
    /// `only`); empty: every shared column, as the catalogs type it.
    pub columns: ColumnRefinement,
    /// How long a difference must persist before it counts as drift.
    pub grace: Option<Duration>,
    /// Compare only rows whose `column` (a logical timestamp column) is within `since`.
    pub window: Option<Window>,
    /// A logical column (updated_at, a version counter) left out of the comparison and
    /// used to say which system holds the newer version of a changed row.
    pub version: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Window {
    pub column: String,
    pub since: Duration,
}

#[derive(Clone, Debug)]
pub struct KeyedSide {
    pub table: TableSide,
    /// Key column expressions, in order.
    pub key: Vec<String>,
}

/// hash_diff's own fields, in the order messages list them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHashDiff {
    columns: Option<Node>,
    key_names: Option<Spanned<Vec<String>>>,
    key_types: Option<Spanned<Vec<String>>>,
    grace: Option<Spanned<String>>,
    window: Option<RawWindow>,
    version: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    column: Spanned<String>,
    since: Spanned<String>,
}

/// A side of a keyed comparison.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyedSide {
    table: Spanned<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
    key: Option<Spanned<Vec<String>>>,
}

pub(super) fn parse(input: &Input<'_>, d: &mut Diag<'_>) -> Option<Parsed<HashDiffSpec>> {
    let (raw, mut ok) = input.own::<RawHashDiff>(d)?;
    let grace = raw.grace.as_ref().and_then(|g| {
        let v = duration(g, d);
        ok &= v.is_some();
        v
    });
    let window = raw.window.and_then(|w| {
        let since = duration(&w.since, d);
        ok &= since.is_some();
        Some((
            w.column.pos,
            Window {
                column: w.column.value,
                since: since?,
            },
        ))
    });
    let fields = KeyedFields {
        columns: raw.columns,
        key_names: raw.key_names,
        key_types: raw.key_types,
    };
    let spec = keyed(input, fields, ok, d)?;
    // `window` and `version` name logical columns, which only the catalogs complete (the
    // shared columns): checked when the check runs. Leaving one out cannot work, though.
    for (pos, field, name) in window
        .iter()
        .map(|(p, w)| (*p, "window.column", w.column.as_str()))
        .chain(
            raw.version
                .iter()
                .map(|v| (v.pos, "version", v.value.as_str())),
        )
    {
        let dropped = spec.columns.exclude.iter().any(|e| e == name)
            || spec
                .columns
                .only
                .as_ref()
                .is_some_and(|only| !only.iter().any(|o| o == name));
        if dropped {
            d.err(
                pos,
                format!("`{field}` names `{name}`, which `columns:` leaves out: compare it, or name another column"),
            );
            return None;
        }
    }
    // Differences are re-checked within the run, so the grace must end before the timeout.
    if let (Some(grace), Some(timeout)) = (grace, input.timeout) {
        if grace >= timeout {
            d.err(
                input.pos,
                format!(
                    "`grace` ({}) must be shorter than the check's `timeout` ({}){}: differences are re-checked within the run",
                    humantime::format_duration(grace),
                    humantime::format_duration(timeout),
                    input.label
                ),
            );
            return None;
        }
    }
    let spec = HashDiffSpec {
        grace,
        window: window.map(|(_, w)| w),
        version: raw.version.map(|v| v.value),
        ..spec
    };
    Some(Parsed {
        reads: keyed_reads(&spec),
        spec,
    })
}

/// The fields a keyed comparison (hash_diff, hash_sample) takes besides its sides.
pub(super) struct KeyedFields {
    pub columns: Option<Node>,
    pub key_names: Option<Spanned<Vec<String>>>,
    pub key_types: Option<Spanned<Vec<String>>>,
}

/// Two keyed sides, the key's names and types and the mapped columns, as a spec with no
/// grace, window or version. `ok` is false when the kind's own fields already had mistakes:
/// then everything is still checked, but nothing that compares fields with each other.
pub(super) fn keyed(
    input: &Input<'_>,
    fields: KeyedFields,
    mut ok: bool,
    d: &mut Diag<'_>,
) -> Option<HashDiffSpec> {
    let sides = input.two_sides(d)?;
    let mut keyed: Vec<(Pos, KeyedSide)> = Vec::new();
    for (key, value) in sides {
        let side = keyed_side(key, value, input.kind, input.label, d);
        ok &= side.is_some();
        keyed.extend(side);
    }
    let columns = match fields.columns.as_ref() {
        Some(node) => {
            let c = column_refinement(node, &system_names(&sides), d);
            ok &= c.is_some();
            c.unwrap_or_default()
        }
        None => ColumnRefinement::default(),
    };
    let key_types = fields.key_types.as_ref().and_then(|t| {
        let parsed = key_types(t, "a key compares", d);
        ok &= parsed.is_some();
        Some((t.pos, parsed?))
    });
    if !ok || keyed.len() != 2 {
        return None;
    }
    let (pos_b, b) = keyed.pop()?;
    let (_, a) = keyed.pop()?;
    if a.key.len() != b.key.len() {
        d.err(pos_b, format!("the two sides' keys have different lengths ({} and {}): list the matching key columns in the same order on both sides", a.key.len(), b.key.len()));
        return None;
    }
    if let Some((pos, t)) = key_types.as_ref().filter(|(_, t)| t.len() != a.key.len()) {
        d.err(
            *pos,
            format!(
                "`key_types` has {} types for a key of {} columns",
                t.len(),
                a.key.len()
            ),
        );
        return None;
    }
    let key_names = match fields.key_names {
        Some(names) if names.value.len() != a.key.len() => {
            d.err(
                names.pos,
                format!(
                    "`key_names` has {} names for a key of {} columns",
                    names.value.len(),
                    a.key.len()
                ),
            );
            return None;
        }
        Some(names) => names.value,
        // Results name the key as the second side (usually the new system) does.
        None => b
            .key
            .iter()
            .map(|k| k.rsplit('.').next().unwrap_or(k).to_string())
            .collect(),
    };
    Some(HashDiffSpec {
        sides: [a, b],
        key_names,
        key_types: key_types.map(|(_, t)| t),
        columns,
        grace: None,
        window: None,
        version: None,
    })
}

/// One side with its key, and where the key is written.
fn keyed_side(
    key: &Node,
    value: &Node,
    kind: &str,
    label: &str,
    d: &mut Diag<'_>,
) -> Option<(Pos, KeyedSide)> {
    let raw = d.deserialize::<RawKeyedSide>(value)?;
    let Some(columns) = raw.key else {
        d.err(value.pos, format!("missing field `key`: a {kind} side needs the key column(s) that match rows, e.g. `key: [id]`{label}"));
        return None;
    };
    if columns.value.is_empty() || columns.value.iter().any(|c| c.trim().is_empty()) {
        d.err(
            columns.pos,
            "`key` must list at least one column, none of them empty",
        );
        return None;
    }
    let table = table_side(key.as_str().unwrap_or_default(), raw.table, raw.filter, d)?;
    Some((
        columns.pos,
        KeyedSide {
            table,
            key: columns.value.iter().map(|c| c.trim().to_string()).collect(),
        },
    ))
}

/// What a keyed comparison reads on each side: the key, then the mapped columns.
pub(super) fn keyed_reads(spec: &HashDiffSpec) -> Vec<(TableSide, Vec<String>)> {
    spec.sides
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut e = s.key.clone();
            e.extend(spec.columns.explicit(i).cloned());
            (s.table.clone(), e)
        })
        .collect()
}
