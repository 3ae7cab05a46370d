//! Check definitions of the kinds that answer "how far behind?", "does every reference
//! resolve?" and "do the totals agree?": `lag`, `ref_integrity` and `aggregate`. Raw shapes
//! and their validation into the spec types; no I/O.

use std::time::Duration;

use serde::Deserialize;

use super::yaml::{Node, Pos, Spanned};
use super::{closest, column_mappings, duration, list, two_sides, ColumnMapping, Diag, TableSide};
use crate::compare::normalize::LogicalType;

/// How a `lag` check measures how far the target is behind.
#[derive(Clone, Debug, PartialEq)]
pub enum LagMode {
    /// Newest change timestamp on each side; lag = source - target.
    Watermark,
    /// A heartbeat row some writer updates on the source; lag = source - target, and the
    /// check errors when the source's heartbeat itself is older than `max_age`.
    Heartbeat { max_age: Duration },
    /// For up to `size` keys changed on the source within `window`: when each reached the
    /// target; reports quantiles of the delay.
    PerKey { size: u32, window: Duration },
}

impl LagMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            LagMode::Watermark => "watermark",
            LagMode::Heartbeat { .. } => "heartbeat",
            LagMode::PerKey { .. } => "per_key",
        }
    }
}

#[derive(Clone, Debug)]
pub struct LagSide {
    pub table: TableSide,
    /// The expression giving a row's change (or arrival) time.
    pub timestamp: String,
    /// Key columns (per_key mode).
    pub key: Vec<String>,
}

/// A `lag` check: sides in written order; `from` and `to` index into them.
#[derive(Clone, Debug)]
pub struct LagSpec {
    pub mode: LagMode,
    pub sides: [LagSide; 2],
    pub from: usize,
    pub to: usize,
}

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFn {
    Count,
    Sum,
    Min,
    Max,
}

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

// ---------------------------------------------------------------------------------------------
// lag

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLagSide {
    table: Spanned<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
    timestamp: Option<Spanned<String>>,
    key: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerKey {
    size: Option<Spanned<u32>>,
    window: Option<Spanned<String>>,
}

fn scalar(extras: &[(Node, Node)], name: &str, d: &mut Diag<'_>) -> Option<Spanned<String>> {
    let (_, value) = extras.iter().find(|(k, _)| k.as_str() == Some(name))?;
    d.deserialize::<Spanned<String>>(value)
}

fn extra<'a>(extras: &'a [(Node, Node)], name: &str) -> Option<&'a Node> {
    extras
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
}

pub(super) fn lag_spec(
    pos: Pos,
    label: &str,
    sides: &[(&Node, &Node)],
    extras: &[(Node, Node)],
    d: &mut Diag<'_>,
) -> Option<LagSpec> {
    let sides = two_sides(pos, label, "lag", sides, d)?;
    let names: Vec<String> = sides
        .iter()
        .map(|(k, _)| k.as_str().unwrap_or("").to_string())
        .collect();
    let mode_text = scalar(extras, "mode", d);
    let mut ok = true;
    let mode = match mode_text.as_ref().map(|m| m.value.as_str()) {
        None | Some("watermark") => LagMode::Watermark,
        Some("heartbeat") => {
            let max_age = match scalar(extras, "max_age", d) {
                Some(a) => duration(&a, d),
                None => Some(Duration::from_secs(300)),
            };
            LagMode::Heartbeat { max_age: max_age? }
        }
        Some("per_key") => {
            let raw = match extra(extras, "per_key") {
                Some(v) => d.deserialize::<RawPerKey>(v)?,
                None => RawPerKey {
                    size: None,
                    window: None,
                },
            };
            let size = raw.size.as_ref().map(|s| s.value).unwrap_or(1000);
            if !(1..=100_000).contains(&size) {
                if let Some(s) = &raw.size {
                    d.err(s.pos, "`per_key.size` must be between 1 and 100000");
                }
                return None;
            }
            let window = match &raw.window {
                Some(w) => duration(w, d)?,
                None => Duration::from_secs(3600),
            };
            LagMode::PerKey { size, window }
        }
        Some(other) => {
            let m = mode_text.as_ref().expect("matched Some");
            let modes = ["watermark", "heartbeat", "per_key"];
            let mut msg = format!("unknown lag mode `{other}` (available: {})", list(&modes));
            if let Some(best) = closest(other, &modes) {
                msg.push_str(&format!(" (did you mean `{best}`?)"));
            }
            d.err(m.pos, msg);
            return None;
        }
    };
    if !matches!(mode, LagMode::Heartbeat { .. }) {
        if let Some((k, _)) = extras.iter().find(|(k, _)| k.as_str() == Some("max_age")) {
            d.err(k.pos, "`max_age` is only used with `mode: heartbeat`");
            ok = false;
        }
    }
    if !matches!(mode, LagMode::PerKey { .. }) {
        if let Some((k, _)) = extras.iter().find(|(k, _)| k.as_str() == Some("per_key")) {
            d.err(
                k.pos,
                "`per_key` settings are only used with `mode: per_key`",
            );
            ok = false;
        }
    }
    // Direction: `from` and `to` name the two sides.
    let mut direction = [None, None];
    for (i, field) in ["from", "to"].iter().enumerate() {
        match scalar(extras, field, d) {
            None => {
                d.err(
                    pos,
                    format!(
                        "missing field `{field}`{label}: a lag check says which way the sync runs, e.g. `from: {}` and `to: {}`",
                        names[0], names[1]
                    ),
                );
                ok = false;
            }
            Some(s) => match names.iter().position(|n| *n == s.value) {
                Some(j) => direction[i] = Some((j, s.pos)),
                None => {
                    d.err(
                        s.pos,
                        format!(
                            "`{field}: {}` is not one of the check's sides ({})",
                            s.value,
                            list(&names.iter().map(String::as_str).collect::<Vec<_>>())
                        ),
                    );
                    ok = false;
                }
            },
        }
    }
    let mut out = Vec::new();
    for (key, value) in sides {
        let Some(raw) = d.deserialize::<RawLagSide>(value) else {
            ok = false;
            continue;
        };
        let Some(ts) = raw.timestamp.filter(|t| !t.value.trim().is_empty()) else {
            d.err(value.pos, format!("missing field `timestamp`: a lag side needs the column (or expression) holding each row's change time{label}"));
            ok = false;
            continue;
        };
        let key_cols: Vec<String> = raw
            .key
            .as_ref()
            .map(|k| k.value.iter().map(|c| c.trim().to_string()).collect())
            .unwrap_or_default();
        if matches!(mode, LagMode::PerKey { .. }) && key_cols.is_empty() {
            d.err(value.pos, format!("missing field `key`: a per_key lag side needs the key column(s) that match rows, e.g. `key: [id]`{label}"));
            ok = false;
            continue;
        }
        let Some(table) = super::table_side(
            key,
            super::RawTableSide {
                table: raw.table,
                filter: raw.filter,
                key: None,
            },
            d,
        ) else {
            ok = false;
            continue;
        };
        out.push(LagSide {
            table,
            timestamp: ts.value.trim().to_string(),
            key: key_cols,
        });
    }
    if !ok || out.len() != 2 {
        return None;
    }
    let (from, from_pos) = direction[0]?;
    let (to, _) = direction[1]?;
    if from == to {
        d.err(from_pos, "`from` and `to` must name different sides");
        return None;
    }
    if out[0].key.len() != out[1].key.len() {
        d.err(pos, "the two sides' keys have different lengths: list the matching key columns in the same order on both sides");
        return None;
    }
    let [a, b]: [LagSide; 2] = out.try_into().ok()?;
    Some(LagSpec {
        mode,
        sides: [a, b],
        from,
        to,
    })
}

// ---------------------------------------------------------------------------------------------
// ref_integrity

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

pub(super) fn ref_integrity_spec(
    pos: Pos,
    label: &str,
    sides: &[(&Node, &Node)],
    extras: &[(Node, Node)],
    systems: &[String],
    d: &mut Diag<'_>,
) -> Option<RefIntegritySpec> {
    if let Some((k, _)) = sides.first() {
        d.err(k.pos, format!("a ref_integrity check names its systems inside `child:` and `parent:`{label}, e.g. `child: {{system: {}, table: ..., column: ...}}`", k.as_str().unwrap_or("legacy")));
        return None;
    }
    let mut ends = Vec::new();
    for field in ["child", "parent"] {
        let Some(node) = extra(extras, field) else {
            d.err(pos, format!("missing field `{field}`{label}: name its system, table and column(s), e.g. `{field}: {{system: legacy, table: APPT, column: PAT_ID}}`"));
            ends.push(None);
            continue;
        };
        let Some(raw) = d.deserialize::<RawRefSide>(node) else {
            ends.push(None);
            continue;
        };
        let system = raw.system.value.trim().to_string();
        if !systems.contains(&system) {
            let names: Vec<&str> = systems.iter().map(String::as_str).collect();
            let mut msg = format!(
                "unknown system `{system}` in `{field}` (available: {})",
                list(&names)
            );
            if let Some(best) = closest(&system, &names) {
                msg.push_str(&format!(" (did you mean `{best}`?)"));
            }
            d.err(raw.system.pos, msg);
            ends.push(None);
            continue;
        }
        let columns: Vec<String> = match (&raw.column, &raw.columns) {
            (Some(c), None) => vec![c.value.trim().to_string()],
            (None, Some(cs)) => cs.value.iter().map(|c| c.trim().to_string()).collect(),
            (Some(c), Some(_)) => {
                d.err(c.pos, "write either `column` or `columns`, not both");
                ends.push(None);
                continue;
            }
            (None, None) => {
                d.err(node.pos, format!("missing field `column`: `{field}` needs the referencing column (or `columns: [a, b]` for a composite reference)"));
                ends.push(None);
                continue;
            }
        };
        if columns.is_empty() || columns.iter().any(String::is_empty) {
            d.err(node.pos, format!("`{field}` columns must not be empty"));
            ends.push(None);
            continue;
        }
        if raw.table.value.trim().is_empty() {
            d.err(
                raw.table.pos,
                "`table` is empty: name the table, e.g. `table: clinic.patients`",
            );
            ends.push(None);
            continue;
        }
        ends.push(Some((
            node.pos,
            RefSide {
                table: TableSide {
                    system,
                    table: raw.table.value.trim().to_string(),
                    filter: raw.filter.filter(|f| !f.trim().is_empty()),
                },
                columns,
            },
        )));
    }
    let types = match extra(extras, "types") {
        None => None,
        Some(node) => {
            let raw: Spanned<Vec<String>> = d.deserialize(node)?;
            let mut types = Vec::new();
            for t in &raw.value {
                match t.parse::<LogicalType>() {
                    Ok(ty) if crate::compare::key_type_supported(ty) => types.push(ty),
                    Ok(ty) => {
                        d.err(
                            raw.pos,
                            format!(
                                "reference columns compare as int, text, uuid or date, not {ty}"
                            ),
                        );
                        return None;
                    }
                    Err(e) => {
                        d.err(raw.pos, e);
                        return None;
                    }
                }
            }
            Some((raw.pos, types))
        }
    };
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
    Some(RefIntegritySpec {
        child: child.1,
        parent: parent.1,
        types: types.map(|(_, t)| t),
    })
}

// ---------------------------------------------------------------------------------------------
// aggregate

pub(super) fn aggregate_spec(
    pos: Pos,
    label: &str,
    sides: &[(&Node, &Node)],
    extras: &[(Node, Node)],
    d: &mut Diag<'_>,
) -> Option<AggregateSpec> {
    let sides = two_sides(pos, label, "aggregate", sides, d)?;
    let names: Vec<String> = sides
        .iter()
        .map(|(k, _)| k.as_str().unwrap_or("").to_string())
        .collect();
    let mut ok = true;
    let mut tables = Vec::new();
    for (key, value) in sides {
        let Some(raw) = d.deserialize::<super::RawTableSide>(value) else {
            ok = false;
            continue;
        };
        if let Some(k) = &raw.key {
            d.err(
                k.pos,
                "`key` is not used by an aggregate check (use `group_by`)",
            );
            ok = false;
            continue;
        }
        match super::table_side(key, raw, d) {
            Some(t) => tables.push(t),
            None => ok = false,
        }
    }
    let group_by = match extra(extras, "group_by") {
        None => Vec::new(),
        Some(node) => match column_mappings(node, &names, d) {
            Some(g) => g,
            None => {
                ok = false;
                Vec::new()
            }
        },
    };
    let measures = match extra(extras, "measures") {
        None => {
            d.err(pos, format!("missing field `measures`{label}: name what to compare, e.g. `measures: {{rows: {{fn: count}}, balance: {{fn: sum, {}: BALANCE, {}: balance, type: \"decimal(2)\"}}}}`", names[0], names[1]));
            None
        }
        Some(node) => measures(node, &names, d),
    };
    if !ok {
        return None;
    }
    let [a, b]: [TableSide; 2] = tables.try_into().ok()?;
    Some(AggregateSpec {
        sides: [a, b],
        group_by,
        measures: measures?,
    })
}

fn measures(node: &Node, systems: &[String], d: &mut Diag<'_>) -> Option<Vec<Measure>> {
    let Some(entries) = node.as_map().filter(|e| !e.is_empty()) else {
        d.err(node.pos, format!("`measures` must be a mapping of names to `{{fn: count|sum|min|max, {}: <expr>, {}: <expr>, type: <type>, tolerance: <number>}}`, found {}", systems[0], systems[1], node.describe()));
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name_node, value) in entries {
        let name = name_node.as_str().unwrap_or("").to_string();
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
            ok = false;
            continue;
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
                    Some(f) => {
                        func = match f.value.as_str() {
                            "count" => Some(AggFn::Count),
                            "sum" => Some(AggFn::Sum),
                            "min" => Some(AggFn::Min),
                            "max" => Some(AggFn::Max),
                            other => {
                                d.err(f.pos, format!("unknown aggregate function `{other}` in measure `{name}` (available: count, sum, min, max)"));
                                good = false;
                                None
                            }
                        }
                    }
                    None => good = false,
                },
                "type" => match d.deserialize::<Spanned<String>>(v) {
                    Some(t) => match t.value.parse::<LogicalType>() {
                        Ok(parsed) => ty = Some(parsed),
                        Err(e) => {
                            d.err(t.pos, e);
                            good = false;
                        }
                    },
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
                            Some(e) if !e.trim().is_empty() => {
                                exprs[i] = Some(e.trim().to_string())
                            }
                            _ => {
                                d.err(
                                    v.pos,
                                    format!(
                                        "measure `{name}`: the expression for `{field}` is empty"
                                    ),
                                );
                                good = false;
                            }
                        }
                    } else {
                        let mut candidates: Vec<&str> =
                            systems.iter().map(String::as_str).collect();
                        candidates.extend(["fn", "type", "tolerance"]);
                        let mut msg = format!(
                            "unknown field `{field}` in measure `{name}`, expected one of {}",
                            list(&candidates)
                        );
                        if let Some(best) = closest(field, &candidates) {
                            msg.push_str(&format!(" (did you mean `{best}`?)"));
                        }
                        d.err(k.pos, msg);
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
            ok = false;
            continue;
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
                ok = false;
                continue;
            }
        };
        if !good {
            ok = false;
            continue;
        }
        out.push(Measure {
            name,
            func,
            exprs,
            ty,
            tolerance,
        });
    }
    ok.then_some(out)
}

/// A lag threshold: a duration (`90s`, `10m`) or a plain number of seconds.
pub(super) fn lag_threshold(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if let Ok(v) = t.parse::<f64>() {
        if v.is_finite() && v >= 0.0 {
            return Ok(v);
        }
    }
    humantime::parse_duration(t)
        .map(|d| d.as_secs_f64())
        .map_err(|_| {
            format!("invalid lag threshold `{t}`: write a duration such as `60s` or `10m`")
        })
}
