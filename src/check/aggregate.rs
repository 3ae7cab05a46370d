//! `aggregate`: count / sum / min / max of mapped expressions on both sides, optionally per
//! group, and which groups differ and by how much. Groups are formed from canonical values
//! (byte-exact, whatever the collation), so every system forms the same groups; sums of
//! decimals are compared exactly, with an optional `tolerance` for rounding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::columns::infer;
use super::context::{CheckError, Context};
use super::finding::{plural, verb_s, Finding};
use super::report::{
    largest, per_system, per_system_json, show, shown_of, Difference, Graded, KindReport, Table,
};
use crate::compare::normalize::LogicalType;
use crate::compare::{Col, Native, SideSpec};
use crate::config::{AggFn, AggregateSpec};
use crate::metrics::Metrics;
use crate::system::Aggregate;

type Row = Vec<Option<String>>;

/// What an `aggregate` run found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregateReport {
    /// The differing groups listed, with both sides' values and the delta.
    pub samples: Vec<Difference>,
    pub groups: GroupStats,
}

/// What an aggregate check compared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// Groups seen on each system.
    #[serde(with = "per_system", default)]
    pub seen: Vec<(String, i64)>,
    /// Groups whose values differ beyond the tolerance or that exist on one side only.
    pub differing: u64,
}

pub async fn run(spec: &AggregateSpec, cx: &Context<'_>) -> Result<AggregateReport, CheckError> {
    let readers = [
        cx.system(&spec.sides[0].system)?.reader(),
        cx.system(&spec.sides[1].system)?.reader(),
    ];
    let sys = [&readers[0], &readers[1]];
    let names = [sys[0].name().to_string(), sys[1].name().to_string()];
    // Types: declared, or inferred from what each database says the expressions are.
    let mut natives: Vec<Vec<Native>> = Vec::new();
    for i in 0..2 {
        let mut exprs: Vec<String> = spec.group_by.iter().map(|g| g.exprs[i].clone()).collect();
        exprs.extend(
            spec.measures
                .iter()
                .filter_map(|m| m.exprs.as_ref().map(|e| e[i].clone())),
        );
        natives.push(if exprs.is_empty() {
            Vec::new()
        } else {
            sys[i].natives(&spec.sides[i].table, &exprs).await?
        });
    }
    let mut groups: [Vec<Col>; 2] = Default::default();
    for (k, g) in spec.group_by.iter().enumerate() {
        let ty = infer(&g.name, g.ty, [&natives[0][k], &natives[1][k]], sys)?;
        for i in 0..2 {
            groups[i].push(Col {
                expr: g.exprs[i].clone(),
                ty,
                native: natives[i][k].clone(),
                plain: false,
            });
        }
    }
    let mut aggs: [Vec<Aggregate>; 2] = Default::default();
    let mut kinds: Vec<Option<LogicalType>> = Vec::new();
    let mut j = spec.group_by.len();
    for m in &spec.measures {
        let Some(exprs) = &m.exprs else {
            for a in &mut aggs {
                a.push(Aggregate::Count(None));
            }
            kinds.push(None);
            continue;
        };
        let n = [&natives[0][j], &natives[1][j]];
        j += 1;
        let ty = match (m.func, m.ty) {
            (AggFn::Count, _) => None,
            (_, declared) => Some(infer(&m.name, declared, n, sys)?),
        };
        if m.func == AggFn::Sum
            && !matches!(
                ty,
                Some(
                    LogicalType::Int
                        | LogicalType::Decimal(_)
                        | LogicalType::Number
                        | LogicalType::Float(_)
                )
            )
        {
            return Err(CheckError::Config(format!(
                "measure `{}`: `sum` needs a number, but it compares as {} (declare `type: decimal(S)`, `int` or `float`)",
                m.name,
                ty.map(|t| t.to_string()).unwrap_or_default()
            )));
        }
        for i in 0..2 {
            let col = |ty: LogicalType, native: Native| Col {
                expr: exprs[i].clone(),
                ty,
                native,
                plain: false,
            };
            aggs[i].push(match (m.func, ty) {
                (AggFn::Count, _) => Aggregate::Count(Some(col(LogicalType::Int, n[i].clone()))),
                // A sum of integers can outgrow any database's integer: render it as a decimal.
                (AggFn::Sum, Some(LogicalType::Int)) => Aggregate::Sum(col(
                    LogicalType::Decimal(0),
                    Native::Decimal { scale: None },
                )),
                (AggFn::Sum, Some(t)) => Aggregate::Sum(col(t, n[i].clone())),
                (AggFn::Min, Some(t)) => Aggregate::Min(col(t, n[i].clone())),
                (AggFn::Max, Some(t)) => Aggregate::Max(col(t, n[i].clone())),
                (_, None) => unreachable!("only count has no type"),
            });
        }
        kinds.push(ty);
    }
    let [ga, gb] = groups;
    let side = |i: usize, key| SideSpec {
        table: spec.sides[i].table.clone(),
        filter: spec.sides[i].filter.clone(),
        key,
        columns: Vec::new(),
        extra: Vec::new(),
        by_agent: Vec::new(),
        tz: sys[i].timezone(),
    };
    let sides = [side(0, ga), side(1, gb)];
    let (a, b) = tokio::join!(
        sys[0].aggregates(&sides[0], &aggs[0]),
        sys[1].aggregates(&sides[1], &aggs[1])
    );
    let (a, b) = CheckError::both(a, b)?;
    let (ma, mb): (BTreeMap<Row, Row>, BTreeMap<Row, Row>) =
        (a.into_iter().collect(), b.into_iter().collect());
    let mut keys: Vec<&Row> = ma.keys().chain(mb.keys()).collect();
    keys.sort();
    keys.dedup();
    let limit = cx.limit();
    let mut differing = 0u64;
    let mut samples = Vec::new();
    for key in keys {
        let group: Map<String, Value> = spec
            .group_by
            .iter()
            .zip(key)
            .map(|(g, v)| {
                (
                    g.name.clone(),
                    v.clone().map(Value::String).unwrap_or(Value::Null),
                )
            })
            .collect();
        let diff = match (ma.get(key), mb.get(key)) {
            (Some(va), Some(vb)) => {
                let mut columns = Vec::new();
                let (mut xa, mut xb, mut delta) = (Map::new(), Map::new(), Map::new());
                for (k, m) in spec.measures.iter().enumerate() {
                    let (x, y) = (va[k].as_deref(), vb[k].as_deref());
                    if let Some(d) = differs(x, y, kinds[k], m.tolerance.as_deref()) {
                        columns.push(m.name.clone());
                        xa.insert(m.name.clone(), x.map(Into::into).unwrap_or(Value::Null));
                        xb.insert(m.name.clone(), y.map(Into::into).unwrap_or(Value::Null));
                        if let Some(d) = d {
                            delta.insert(m.name.clone(), d);
                        }
                    }
                }
                (!columns.is_empty()).then(|| {
                    let mut values = Map::new();
                    values.insert(names[0].clone(), xa.into());
                    values.insert(names[1].clone(), xb.into());
                    Difference {
                        columns,
                        values: Some(values),
                        delta: (!delta.is_empty()).then_some(delta),
                        ..Difference::new(group.clone(), "changed")
                    }
                })
            }
            (present_a, _) => {
                let (missing, there, vals) = match present_a {
                    Some(v) => (&names[1], &names[0], v),
                    None => (
                        &names[0],
                        &names[1],
                        mb.get(key).expect("key from one side"),
                    ),
                };
                let mut shown = Map::new();
                for (k, m) in spec.measures.iter().enumerate() {
                    shown.insert(
                        m.name.clone(),
                        vals[k].clone().map(Value::String).unwrap_or(Value::Null),
                    );
                }
                let mut values = Map::new();
                values.insert(there.clone(), shown.into());
                Some(Difference {
                    values: Some(values),
                    ..Difference::new(group, format!("missing_in_{missing}"))
                })
            }
        };
        if let Some(d) = diff {
            differing += 1;
            if samples.len() < limit {
                samples.push(d);
            }
        }
    }
    let seen = vec![
        (names[0].clone(), ma.len() as i64),
        (names[1].clone(), mb.len() as i64),
    ];
    Ok(AggregateReport {
        samples,
        groups: GroupStats { seen, differing },
    })
}

impl KindReport for AggregateReport {
    fn graded(&self) -> Graded {
        Graded {
            amount: self.groups.differing as f64,
            total: largest(&self.groups.seen),
        }
    }

    fn export(&self, check: &str, metrics: &Metrics) {
        metrics
            .differing_groups
            .with_label_values(&[check])
            .set(self.groups.differing as i64);
    }

    fn describe(&self, f: &mut Finding) {
        let g = &self.groups;
        f.headline(format!(
            "{} group{} differ{}",
            g.differing,
            plural(g.differing as i64),
            verb_s(g.differing)
        ));
        f.fact("groups", "Groups", per_system_json(&g.seen));
        f.fact("differing_groups", "Differing groups", json!(g.differing));
    }

    fn samples(&self) -> &[Difference] {
        &self.samples
    }

    fn details(&self, check: &str) -> Option<Table> {
        if self.samples.is_empty() {
            return None;
        }
        let g = &self.groups;
        let systems: Vec<&str> = g.seen.iter().map(|(s, _)| s.as_str()).collect();
        let mut header = vec!["GROUP".to_string(), "KIND".into(), "MEASURE".into()];
        header.extend(systems.iter().map(|s| s.to_uppercase()));
        header.push("DELTA".into());
        let mut lines = Vec::new();
        for s in &self.samples {
            if s.columns.is_empty() {
                // A group on one side only: its values there.
                let there = s
                    .values
                    .as_ref()
                    .and_then(|v| v.iter().next())
                    .and_then(|(_, v)| v.as_object())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", show(Some(v))))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                lines.push(vec![
                    s.key_text(),
                    s.kind.clone(),
                    there,
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                continue;
            }
            for (i, m) in s.columns.iter().enumerate() {
                let first = i == 0;
                lines.push(vec![
                    if first { s.key_text() } else { String::new() },
                    if first { s.kind.clone() } else { String::new() },
                    m.clone(),
                    s.value_text(systems.first().copied().unwrap_or(""), m),
                    s.value_text(systems.get(1).copied().unwrap_or(""), m),
                    s.delta
                        .as_ref()
                        .and_then(|d| d.get(m))
                        .map(|d| show(Some(d)))
                        .unwrap_or_default(),
                ]);
            }
        }
        Some(Table {
            title: format!(
                "{check}: {} differing groups{}:",
                g.differing,
                shown_of(self.samples.len(), g.differing)
            ),
            header,
            rows: lines,
        })
    }
}

/// A decimal as (digits, scale): exact arithmetic on canonical decimal text.
fn decimal(s: &str) -> Option<(i128, u32)> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: i128 = format!("{int}{frac}").parse().ok()?;
    Some((if neg { -digits } else { digits }, frac.len() as u32))
}

fn rescale((v, s): (i128, u32), to: u32) -> Option<i128> {
    v.checked_mul(10i128.checked_pow(to - s)?)
}

fn format_decimal(v: i128, scale: u32) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let digits = v.unsigned_abs().to_string();
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let s = scale as usize;
    let padded = format!("{digits:0>width$}", width = s + 1);
    let (i, f) = padded.split_at(padded.len() - s);
    format!("{sign}{i}.{f}")
}

/// `None` when two aggregate values agree; otherwise `Some(delta)`, the second minus the
/// first where both are numbers.
fn differs(
    a: Option<&str>,
    b: Option<&str>,
    ty: Option<LogicalType>,
    tolerance: Option<&str>,
) -> Option<Option<Value>> {
    let (a, b) = match (a, b) {
        (None, None) => return None,
        (Some(a), Some(b)) => (a, b),
        _ => return Some(None),
    };
    match ty {
        None | Some(LogicalType::Int | LogicalType::Decimal(_) | LogicalType::Number) => {
            let (Some(x), Some(y)) = (decimal(a), decimal(b)) else {
                return (a != b).then_some(None);
            };
            let tol = tolerance.and_then(decimal).unwrap_or((0, 0));
            let scale = x.1.max(y.1).max(tol.1);
            let (Some(xv), Some(yv), Some(tv)) =
                (rescale(x, scale), rescale(y, scale), rescale(tol, scale))
            else {
                return (a != b).then_some(None);
            };
            let d = yv - xv;
            if d.abs() <= tv {
                return None;
            }
            let shown = if ty.is_none() {
                i64::try_from(d)
                    .map(Value::from)
                    .unwrap_or_else(|_| d.to_string().into())
            } else {
                Value::String(format_decimal(d, scale))
            };
            Some(Some(shown))
        }
        Some(LogicalType::Float(_)) => {
            let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) else {
                return (a != b).then_some(None);
            };
            // Engines add floats in different orders: the last digits of a sum may differ.
            let tol = tolerance
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(0.0)
                .max(x.abs().max(y.abs()) * 1e-12);
            let d = y - x;
            (d.abs() > tol).then(|| Some(Value::from(d)))
        }
        Some(_) => (a != b).then_some(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_groups_are_described() {
        let r = AggregateReport {
            samples: Vec::new(),
            groups: GroupStats {
                seen: vec![("legacy".into(), 6), ("modern".into(), 6)],
                differing: 1,
            },
        };
        let mut f = Finding::default();
        r.describe(&mut f);
        assert_eq!(f.headline, "1 group differs");
    }

    #[test]
    fn decimals_compare_exactly_with_tolerance() {
        let dec = Some(LogicalType::Decimal(2));
        assert_eq!(differs(Some("10.00"), Some("10.00"), dec, None), None);
        assert_eq!(differs(Some("10.00"), Some("10.0"), dec, None), None);
        assert_eq!(
            differs(Some("10.00"), Some("9.99"), dec, None),
            Some(Some(Value::String("-0.01".into())))
        );
        assert_eq!(
            differs(Some("10.00"), Some("9.99"), dec, Some("0.01")),
            None
        );
        assert_eq!(
            differs(Some("-0.50"), Some("1.25"), dec, None),
            Some(Some(Value::String("1.75".into())))
        );
        assert_eq!(
            differs(
                Some("123456789012345678901234.5"),
                Some("123456789012345678901234.6"),
                dec,
                None
            ),
            Some(Some(Value::String("0.1".into())))
        );
    }

    #[test]
    fn counts_nulls_and_text() {
        assert_eq!(
            differs(Some("7"), Some("9"), None, None),
            Some(Some(Value::from(2)))
        );
        assert_eq!(differs(None, None, None, None), None);
        assert_eq!(
            differs(Some("1"), None, Some(LogicalType::Int), None),
            Some(None)
        );
        assert_eq!(
            differs(Some("b"), Some("b"), Some(LogicalType::Text), None),
            None
        );
        assert_eq!(
            differs(Some("a"), Some("b"), Some(LogicalType::Text), None),
            Some(None)
        );
    }

    #[test]
    fn float_sums_in_another_order_are_equal() {
        let f = Some(LogicalType::Float(15));
        assert_eq!(
            differs(Some("3e-1"), Some("30000000000000004e-17"), f, None),
            None
        );
        assert!(differs(Some("3e-1"), Some("31e-2"), f, None).is_some());
    }
}
