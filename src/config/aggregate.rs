//! The `aggregate` kind's config: two system-named plain sides (a table and a filter, no
//! key), the `group_by` columns and the `measures` compared per group. Raw shapes and their
//! validation into [`AggregateSpec`]; no I/O.

use serde::Deserialize;

use super::diag::{list, suggestion, Diag};
use super::kind::{system_names, Input, Parsed};
use super::side::{column_mappings, logical_type, plain_side, ColumnMapping, TableSide};
use super::yaml::{Node, Spanned};
use crate::compare::normalize::LogicalType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFn {
    Count,
    Sum,
    Min,
    Max,
}

const FUNCTIONS: [AggFn; 4] = [AggFn::Count, AggFn::Sum, AggFn::Min, AggFn::Max];

impl AggFn {
    pub fn as_str(self) -> &'static str {
        match self {
            AggFn::Count => "count",
            AggFn::Sum => "sum",
            AggFn::Min => "min",
            AggFn::Max => "max",
        }
    }
}

/// One aggregate compared per group.
#[derive(Clone, Debug)]
pub struct Measure {
    pub name: String,
    pub func: AggFn,
    /// The aggregated expression per side; `None` for `count` of rows.
    pub exprs: Option<[String; 2]>,
    pub ty: Option<LogicalType>,
    /// Largest difference still counted as equal (decimal text, e.g. `0.01`).
    pub tolerance: Option<String>,
}

/// An `aggregate` check: count/sum/min/max per side, optionally per group.
#[derive(Clone, Debug)]
pub struct AggregateSpec {
    pub sides: [TableSide; 2],
    pub group_by: Vec<ColumnMapping>,
    pub measures: Vec<Measure>,
}

/// aggregate's own fields, in the order messages list them. Both are keyed by names the
/// user chooses (columns, measures), so they are read by hand.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAggregate {
    group_by: Option<Node>,
    measures: Option<Node>,
}

/// Users coming from the keyed kinds write `key:` on a side.
const SIDE_HINTS: &[(&str, &str)] = &[(
    "key",
    "`key` is not used by an aggregate check: compare per group with `group_by`",
)];

pub(super) fn parse(input: &Input<'_>, d: &mut Diag<'_>) -> Option<Parsed<AggregateSpec>> {
    let (raw, mut ok) = input.own::<RawAggregate>(d)?;
    let sides = input.two_sides(d)?;
    let names = system_names(&sides);
    let mut tables = Vec::new();
    for (key, value) in sides {
        let side = plain_side(key, value, SIDE_HINTS, d);
        ok &= side.is_some();
        tables.extend(side);
    }
    let group_by = match &raw.group_by {
        None => Vec::new(),
        Some(node) => match column_mappings(node, &names, d) {
            Some(g) => g,
            None => {
                ok = false;
                Vec::new()
            }
        },
    };
    let measures = match &raw.measures {
        None => {
            d.err(input.pos, format!("missing field `measures`{}: name what to compare, e.g. `measures: {{rows: {{fn: count}}, balance: {{fn: sum, {}: BALANCE, {}: balance, type: \"decimal(2)\"}}}}`", input.label, names[0], names[1]));
            None
        }
        Some(node) => measures(node, &names, d),
    };
    if !ok {
        return None;
    }
    let [a, b]: [TableSide; 2] = tables.try_into().ok()?;
    let spec = AggregateSpec {
        sides: [a, b],
        group_by,
        measures: measures?,
    };
    let reads = spec
        .sides
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut e: Vec<String> = spec.group_by.iter().map(|g| g.exprs[i].clone()).collect();
            e.extend(
                spec.measures
                    .iter()
                    .filter_map(|m| m.exprs.as_ref().map(|x| x[i].clone())),
            );
            (s.clone(), e)
        })
        .collect();
    Some(Parsed { spec, reads })
}

fn measures(node: &Node, systems: &[String], d: &mut Diag<'_>) -> Option<Vec<Measure>> {
    let Some(entries) = node.as_map().filter(|e| !e.is_empty()) else {
        d.err(node.pos, format!("`measures` must be a mapping of names to `{{fn: count|sum|min|max, {}: <expr>, {}: <expr>, type: <type>, tolerance: <number>}}`, found {}", systems[0], systems[1], node.describe()));
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name_node, value) in entries {
        match measure(name_node.as_str().unwrap_or(""), value, systems, d) {
            Some(m) => out.push(m),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn measure(name: &str, value: &Node, systems: &[String], d: &mut Diag<'_>) -> Option<Measure> {
    let Some(fields) = value.as_map() else {
        d.err(
            value.pos,
            format!(
                "measure `{name}` must be a mapping such as `{{fn: sum, {}: EXPR, {}: EXPR}}`, found {}",
                systems[0],
                systems[1],
                value.describe()
            ),
        );
        return None;
    };
    let mut func = None;
    let mut exprs: [Option<String>; 2] = [None, None];
    let mut ty = None;
    let mut tolerance = None;
    let mut good = true;
    for (k, v) in fields {
        let field = k.as_str().unwrap_or("");
        match field {
            "fn" => match d.deserialize::<Spanned<String>>(v) {
                Some(f) => match FUNCTIONS.into_iter().find(|a| a.as_str() == f.value) {
                    Some(a) => func = Some(a),
                    None => {
                        d.err(f.pos, format!("unknown aggregate function `{}` in measure `{name}` (available: count, sum, min, max)", f.value));
                        good = false;
                    }
                },
                None => good = false,
            },
            "type" => match logical_type(v, d) {
                Some(t) => ty = Some(t),
                None => good = false,
            },
            "tolerance" => match d.deserialize::<Spanned<String>>(v) {
                Some(t) => {
                    let text = t.value.trim().to_string();
                    match text.parse::<f64>() {
                        Ok(x) if x.is_finite() && x >= 0.0 => tolerance = Some(text),
                        _ => {
                            d.err(t.pos, format!("invalid tolerance `{text}` in measure `{name}`: write a number zero or more, e.g. `0.01`"));
                            good = false;
                        }
                    }
                }
                None => good = false,
            },
            _ => {
                if let Some(i) = systems.iter().position(|s| s == field) {
                    match d.deserialize::<String>(v) {
                        Some(e) if !e.trim().is_empty() => exprs[i] = Some(e.trim().to_string()),
                        _ => {
                            d.err(
                                v.pos,
                                format!("measure `{name}`: the expression for `{field}` is empty"),
                            );
                            good = false;
                        }
                    }
                } else {
                    let mut candidates: Vec<&str> = systems.iter().map(String::as_str).collect();
                    candidates.extend(["fn", "type", "tolerance"]);
                    d.err(
                        k.pos,
                        format!(
                            "unknown field `{field}` in measure `{name}`, expected one of {}{}",
                            list(&candidates),
                            suggestion(field, &candidates)
                        ),
                    );
                    good = false;
                }
            }
        }
    }
    let Some(func) = func else {
        if good {
            d.err(
                value.pos,
                format!("measure `{name}` needs `fn: count`, `sum`, `min` or `max`"),
            );
        }
        return None;
    };
    let exprs = match exprs {
        [Some(a), Some(b)] => Some([a, b]),
        [None, None] if func == AggFn::Count => None,
        [a, _] => {
            let missing = if a.is_none() {
                &systems[0]
            } else {
                &systems[1]
            };
            d.err(value.pos, format!("measure `{name}` has no expression for `{missing}`: write the SQL to {} on that system", func.as_str()));
            return None;
        }
    };
    if !good {
        return None;
    }
    Some(Measure {
        name: name.to_string(),
        func,
        exprs,
        ty,
        tolerance,
    })
}
