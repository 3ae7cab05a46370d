//! What the kinds share about sides: a system's table and filter ([`TableSide`], and the plain
//! side that is only that), the logical columns mapped to one expression per side
//! ([`ColumnMapping`] for `group_by:`, [`ColumnRefinement`] for a content check's `columns:`),
//! and the logical types of keys.
//!
//! Which fields a side takes is each kind's own business (it picks or declares its side
//! struct); nothing here decides it, and nothing here names a kind.

use serde::Deserialize;

use super::diag::{list, suggestion, Diag};
use super::yaml::{Node, Spanned};
use crate::compare::normalize::LogicalType;

/// One system's side of a check: which table, filtered how.
#[derive(Clone, Debug)]
pub struct TableSide {
    pub system: String,
    pub table: String,
    /// A SQL boolean expression in the system's own dialect, written by the config's author.
    pub filter: Option<String>,
}

/// A side's `table` and `where`, with the system it belongs to (the key it is written under).
pub fn table_side(
    system: &str,
    table: Spanned<String>,
    filter: Option<String>,
    d: &mut Diag<'_>,
) -> Option<TableSide> {
    if table.value.trim().is_empty() {
        d.err(
            table.pos,
            "`table` is empty: name the table, e.g. `table: clinic.patients`",
        );
        return None;
    }
    Some(TableSide {
        system: system.to_string(),
        table: table.value.trim().to_string(),
        filter: filter.filter(|f| !f.trim().is_empty()),
    })
}

/// A side that is a table and a filter and nothing else, for kinds whose sides are no more.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTableSide {
    pub table: Spanned<String>,
    #[serde(rename = "where")]
    pub filter: Option<String>,
}

/// A [`RawTableSide`] under the system's key, validated; `hints` as for
/// [`Diag::deserialize_hinted`].
pub fn plain_side(
    key: &Node,
    value: &Node,
    hints: &[(&str, &str)],
    d: &mut Diag<'_>,
) -> Option<TableSide> {
    let raw = d.deserialize_hinted::<RawTableSide>(value, hints)?;
    table_side(key.as_str().unwrap_or_default(), raw.table, raw.filter, d)
}

/// One logical column: an expression per side (in side order) and how to compare it.
#[derive(Clone, Debug)]
pub struct ColumnMapping {
    pub name: String,
    pub exprs: [String; 2],
    pub ty: Option<LogicalType>,
}

/// A content check's `columns:`: how the columns both tables share (by name, case and `_`
/// aside) are refined. An entry overrides one column's expressions or type, or adds a column
/// the tables do not share by name; `exclude` drops columns; `only` restricts to the listed
/// ones. No `columns:` compares every shared column as the catalogs type it.
#[derive(Clone, Debug, Default)]
pub struct ColumnRefinement {
    pub entries: Vec<ColumnEntry>,
    /// Logical names of columns not to compare.
    pub exclude: Vec<String>,
    /// When given, only these logical columns (shared or entries) are compared.
    pub only: Option<Vec<String>>,
}

/// One `columns:` entry: a logical column, its expression on each side (`None`: the column of
/// that name on that side) and how it compares (`None`: as the catalogs say).
#[derive(Clone, Debug)]
pub struct ColumnEntry {
    pub name: String,
    pub exprs: [Option<String>; 2],
    pub ty: Option<LogicalType>,
}

impl ColumnRefinement {
    /// The expressions the entries name explicitly, per side (what `validate --connect` can
    /// check without reading the catalogs).
    pub fn explicit(&self, side: usize) -> impl Iterator<Item = &String> {
        self.entries
            .iter()
            .filter_map(move |e| e.exprs[side].as_ref())
    }
}

/// `columns:` of a content check (see [`ColumnRefinement`]).
pub fn column_refinement(
    node: &Node,
    systems: &[String],
    d: &mut Diag<'_>,
) -> Option<ColumnRefinement> {
    let Some(entries) = node.as_map() else {
        d.err(node.pos, format!("`columns` must be a mapping of logical column names to `{{{}: <expr>, {}: <expr>, type: <type>}}` (plus `exclude: [...]` or `only: [...]`), found {}", systems[0], systems[1], node.describe()));
        return None;
    };
    let mut out = ColumnRefinement::default();
    let mut ok = true;
    for (name_node, value) in entries {
        let name = name_node.as_str().unwrap_or("").to_string();
        // `exclude` and `only` with a list are directives; a mapping is a column of that name.
        if matches!(name.as_str(), "exclude" | "only") && value.as_seq().is_some() {
            let Some(names) = d.deserialize::<Vec<String>>(value) else {
                ok = false;
                continue;
            };
            let names: Vec<String> = names.into_iter().map(|n| n.trim().to_string()).collect();
            if names.iter().any(String::is_empty) {
                d.err(value.pos, format!("`{name}` lists an empty column name"));
                ok = false;
            } else if name == "exclude" {
                out.exclude = names;
            } else if names.is_empty() {
                d.err(value.pos, "`only` is empty: list the columns to compare, or leave it out to compare every column both tables share");
                ok = false;
            } else {
                out.only = Some(names);
            }
            continue;
        }
        match column_entry(&name, name_node, value, systems, true, d) {
            Some((n, exprs, ty)) => out.entries.push(ColumnEntry { name: n, exprs, ty }),
            None => ok = false,
        }
    }
    if let (Some(only), false) = (&out.only, out.exclude.is_empty()) {
        let both: Vec<&str> = out
            .exclude
            .iter()
            .filter(|n| only.contains(n))
            .map(String::as_str)
            .collect();
        if !both.is_empty() {
            d.err(
                node.pos,
                format!(
                    "{} both in `only` and in `exclude`: compare a column or leave it out, not both",
                    list(&both)
                ),
            );
            ok = false;
        }
    }
    ok.then_some(out)
}

/// One column entry: its name, an expression per system (both required unless `optional`)
/// and its type.
#[allow(clippy::type_complexity)]
fn column_entry(
    name: &str,
    name_node: &Node,
    value: &Node,
    systems: &[String],
    optional: bool,
    d: &mut Diag<'_>,
) -> Option<(String, [Option<String>; 2], Option<LogicalType>)> {
    if name.is_empty() {
        d.err(name_node.pos, "a column needs a name");
        return None;
    }
    let Some(fields) = value.as_map() else {
        d.err(value.pos, format!("column `{name}` must be a mapping such as `{{{}: EXPR, {}: EXPR, type: text}}`, found {}", systems[0], systems[1], value.describe()));
        return None;
    };
    let mut exprs: [Option<String>; 2] = [None, None];
    let mut ty = None;
    let mut ok = true;
    for (k, v) in fields {
        let field = k.as_str().unwrap_or("");
        if field == "type" {
            match logical_type(v, d) {
                Some(t) => ty = Some(t),
                None => ok = false,
            }
        } else if let Some(i) = systems.iter().position(|s| s == field) {
            match d.deserialize::<String>(v) {
                Some(e) if !e.trim().is_empty() => exprs[i] = Some(e.trim().to_string()),
                Some(_) => {
                    d.err(
                        v.pos,
                        format!("column `{name}`: the expression for `{field}` is empty"),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        } else {
            let mut candidates: Vec<&str> = systems.iter().map(String::as_str).collect();
            candidates.push("type");
            d.err(
                k.pos,
                format!(
                    "unknown field `{field}` in column `{name}`, expected {} or `type`{}",
                    list(&candidates[..2]),
                    suggestion(field, &candidates)
                ),
            );
            ok = false;
        }
    }
    if !optional {
        if let [a, None] | [a @ None, _] = &exprs {
            let missing = if a.is_none() {
                &systems[0]
            } else {
                &systems[1]
            };
            d.err(value.pos, format!("column `{name}` has no expression for `{missing}`: write the SQL that gives this column on that system"));
            ok = false;
        }
    }
    ok.then(|| (name.to_string(), exprs, ty))
}

/// `group_by:` maps logical names to one expression per system and an optional `type`.
pub fn column_mappings(
    node: &Node,
    systems: &[String],
    d: &mut Diag<'_>,
) -> Option<Vec<ColumnMapping>> {
    let Some(entries) = node.as_map() else {
        d.err(node.pos, format!("`columns` must be a mapping of logical column names to `{{{}: <expr>, {}: <expr>, type: <type>}}`, found {}", systems[0], systems[1], node.describe()));
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name_node, value) in entries {
        let name = name_node.as_str().unwrap_or("").to_string();
        match column_entry(&name, name_node, value, systems, false, d) {
            Some((name, [Some(a), Some(b)], ty)) => out.push(ColumnMapping {
                name,
                exprs: [a, b],
                ty,
            }),
            _ => ok = false,
        }
    }
    if out.is_empty() && ok {
        d.err(node.pos, "`columns` is empty: map at least one column, or leave `columns` out to compare every column both tables share");
        return None;
    }
    ok.then_some(out)
}

/// A `type:` value: one of the logical types.
pub fn logical_type(node: &Node, d: &mut Diag<'_>) -> Option<LogicalType> {
    let t = d.deserialize::<Spanned<String>>(node)?;
    match t.value.parse::<LogicalType>() {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            d.err(t.pos, e);
            None
        }
    }
}

/// Logical types of key or reference columns (`key_types:`, `types:`): only types a key can
/// be compared as. `what` opens the message: "a key compares", "reference columns compare".
pub fn key_types(
    raw: &Spanned<Vec<String>>,
    what: &str,
    d: &mut Diag<'_>,
) -> Option<Vec<LogicalType>> {
    let mut parsed = Vec::new();
    let mut ok = true;
    for t in &raw.value {
        match t.parse::<LogicalType>() {
            Ok(ty) if crate::compare::key_type_supported(ty) => parsed.push(ty),
            Ok(ty) => {
                d.err(
                    raw.pos,
                    format!("{what} as int, text, uuid or date, not {ty}"),
                );
                ok = false;
            }
            Err(e) => {
                d.err(raw.pos, e);
                ok = false;
            }
        }
    }
    ok.then_some(parsed)
}
