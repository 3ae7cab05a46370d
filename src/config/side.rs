//! What the kinds share about sides: a system's table and filter ([`TableSide`], and the plain
//! side that is only that), the logical columns mapped to one expression per side
//! ([`ColumnMapping`], `columns:` and `group_by:`), and the logical types of keys.
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

/// `columns:` (or `group_by:`) maps logical names to one expression per system and an
/// optional `type`.
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
        if name.is_empty() {
            d.err(name_node.pos, "a column needs a name");
            ok = false;
            continue;
        }
        let Some(fields) = value.as_map() else {
            d.err(value.pos, format!("column `{name}` must be a mapping such as `{{{}: EXPR, {}: EXPR, type: text}}`, found {}", systems[0], systems[1], value.describe()));
            ok = false;
            continue;
        };
        let mut exprs: [Option<String>; 2] = [None, None];
        let mut ty = None;
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
        match exprs {
            [Some(a), Some(b)] => out.push(ColumnMapping {
                name,
                exprs: [a, b],
                ty,
            }),
            [a, _] => {
                let missing = if a.is_none() {
                    &systems[0]
                } else {
                    &systems[1]
                };
                d.err(value.pos, format!("column `{name}` has no expression for `{missing}`: write the SQL that gives this column on that system"));
                ok = false;
            }
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
