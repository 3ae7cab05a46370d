//! The `ref_integrity` kind's config: a `child` and a `parent`, each naming its own system,
//! table and reference column(s), and the optional `types` they compare as. It has no
//! system-named sides. Raw shapes and their validation into [`RefIntegritySpec`]; no I/O.

use serde::Deserialize;

use super::diag::{list, suggestion, Diag};
use super::kind::{Input, Parsed};
use super::side::{key_types, table_side, TableSide};
use super::yaml::{Node, Pos, Spanned};
use crate::compare::normalize::LogicalType;

/// One end of a reference: the columns of a table on a system.
#[derive(Clone, Debug)]
pub struct RefSide {
    pub table: TableSide,
    pub columns: Vec<String>,
}

/// A `ref_integrity` check: child rows whose parent is missing.
#[derive(Clone, Debug)]
pub struct RefIntegritySpec {
    pub child: RefSide,
    pub parent: RefSide,
    /// How each reference column compares; inferred when omitted.
    pub types: Option<Vec<LogicalType>>,
}

/// ref_integrity's own fields, in the order messages list them. `child` and `parent` are its
/// sides, read one by one so that a mistake in one does not hide the other's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRefIntegrity {
    child: Option<Node>,
    parent: Option<Node>,
    types: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRefSide {
    system: Spanned<String>,
    table: Spanned<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
    column: Option<Spanned<String>>,
    columns: Option<Spanned<Vec<String>>>,
}

pub(super) fn parse(input: &Input<'_>, d: &mut Diag<'_>) -> Option<Parsed<RefIntegritySpec>> {
    let (raw, clean) = input.own::<RawRefIntegrity>(d)?;
    if let Some((k, _)) = input.sides.first() {
        d.err(k.pos, format!("a ref_integrity check names its systems inside `child:` and `parent:`{}, e.g. `child: {{system: {}, table: ..., column: ...}}`", input.label, k.as_str().unwrap_or("legacy")));
        return None;
    }
    let mut ends = Vec::new();
    for (field, node) in [("child", &raw.child), ("parent", &raw.parent)] {
        let Some(node) = node else {
            d.err(input.pos, format!("missing field `{field}`{}: name its system, table and column(s), e.g. `{field}: {{system: legacy, table: APPT, column: PAT_ID}}`", input.label));
            ends.push(None);
            continue;
        };
        ends.push(ref_side(field, node, input.systems, d));
    }
    let types = match &raw.types {
        None => None,
        Some(t) => Some((t.pos, key_types(t, "reference columns compare", d)?)),
    };
    if !clean {
        return None;
    }
    let parent = ends.pop()??;
    let child = ends.pop()??;
    if child.1.columns.len() != parent.1.columns.len() {
        d.err(
            parent.0,
            format!(
                "the child has {} reference column(s) and the parent {}: list matching columns in the same order",
                child.1.columns.len(),
                parent.1.columns.len()
            ),
        );
        return None;
    }
    if let Some((tpos, t)) = &types {
        if t.len() != child.1.columns.len() {
            d.err(
                *tpos,
                format!(
                    "`types` has {} entries for {} reference column(s)",
                    t.len(),
                    child.1.columns.len()
                ),
            );
            return None;
        }
    }
    let spec = RefIntegritySpec {
        child: child.1,
        parent: parent.1,
        types: types.map(|(_, t)| t),
    };
    Some(Parsed {
        reads: vec![
            (spec.child.table.clone(), spec.child.columns.clone()),
            (spec.parent.table.clone(), spec.parent.columns.clone()),
        ],
        spec,
    })
}

/// `child:` or `parent:`, and where it is written.
fn ref_side(
    field: &str,
    node: &Node,
    systems: &[String],
    d: &mut Diag<'_>,
) -> Option<(Pos, RefSide)> {
    let raw = d.deserialize::<RawRefSide>(node)?;
    let system = raw.system.value.trim().to_string();
    if !systems.contains(&system) {
        let names: Vec<&str> = systems.iter().map(String::as_str).collect();
        d.err(
            raw.system.pos,
            format!(
                "unknown system `{system}` in `{field}` (available: {}){}",
                list(&names),
                suggestion(&system, &names)
            ),
        );
        return None;
    }
    let columns: Vec<String> = match (&raw.column, &raw.columns) {
        (Some(c), None) => vec![c.value.trim().to_string()],
        (None, Some(cs)) => cs.value.iter().map(|c| c.trim().to_string()).collect(),
        (Some(c), Some(_)) => {
            d.err(c.pos, "write either `column` or `columns`, not both");
            return None;
        }
        (None, None) => {
            d.err(node.pos, format!("missing field `column`: `{field}` needs the referencing column (or `columns: [a, b]` for a composite reference)"));
            return None;
        }
    };
    if columns.is_empty() || columns.iter().any(String::is_empty) {
        d.err(node.pos, format!("`{field}` columns must not be empty"));
        return None;
    }
    let table = table_side(&system, raw.table, raw.filter, d)?;
    Some((node.pos, RefSide { table, columns }))
}
