//! What every kind's report is made of and must answer: the [`KindReport`] trait (the graded
//! amount, the metrics it sets, its finding in words, the records it lists, its table for the
//! terminal), and the pieces reports share: [`Status`], [`Difference`], [`Differences`],
//! per-system maps, [`Table`]. A kind's own report type lives in its module; this module knows
//! no kind.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::finding::Finding;
use crate::metrics::Metrics;

/// How a run came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Error => "error",
        }
    }

    /// The value of `driftwatch_check_status` (errors have none: the finding is unknown).
    pub fn gauge(self) -> Option<i64> {
        match self {
            Status::Ok => Some(0),
            Status::Warning => Some(1),
            Status::Critical => Some(2),
            Status::Error => None,
        }
    }
}

/// The amount a run is graded by, and what a percentage threshold is a share of.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Graded {
    pub amount: f64,
    pub total: f64,
}

/// What a report of any kind answers. Each kind implements it once, in its own module.
pub trait KindReport {
    /// The amount graded against the thresholds (e.g. |difference| in rows).
    fn graded(&self) -> Graded;

    /// Sets the gauges this kind exports for the check (the common ones are set for every
    /// run elsewhere).
    fn export(&self, check: &str, metrics: &Metrics);

    /// Adds this report's headline and facts: the one description the table, the logs and
    /// every alert use.
    fn describe(&self, finding: &mut Finding);

    /// Rows per system, where the kind counts them (the basis of a percentage threshold's
    /// `driftwatch_threshold`).
    fn rows(&self) -> &[(String, i64)] {
        &[]
    }

    /// The differing records listed (keys, how they differ, values).
    fn samples(&self) -> &[Difference] {
        &[]
    }

    /// How many records differ in all, where the kind counts whole records.
    fn differences_total(&self) -> Option<u64> {
        None
    }

    /// Differences that went away during the grace period.
    fn transient(&self) -> u64 {
        0
    }

    /// The listed records as a table for the terminal, under the summary.
    fn details(&self, _check: &str) -> Option<Table> {
        None
    }
}

/// How many rows differ, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Differences {
    /// Rows missing on each system.
    pub missing: Vec<(String, u64)>,
    pub changed: u64,
}

impl Differences {
    pub fn total(&self) -> u64 {
        self.changed + self.missing.iter().map(|(_, n)| n).sum::<u64>()
    }
}

impl Serialize for Differences {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.missing.len() + 1))?;
        for (system, n) in &self.missing {
            map.serialize_entry(&format!("missing_in_{system}"), n)?;
        }
        map.serialize_entry("changed", &self.changed)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Differences {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map: serde_json::Map<String, serde_json::Value> = Deserialize::deserialize(d)?;
        Ok(Differences {
            changed: map.get("changed").and_then(|v| v.as_u64()).unwrap_or(0),
            missing: map
                .iter()
                .filter_map(|(k, v)| {
                    let system = k.strip_prefix("missing_in_")?;
                    Some((system.to_string(), v.as_u64()?))
                })
                .collect(),
        })
    }
}

/// One differing record, as on-call reads it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Difference {
    pub key: serde_json::Map<String, serde_json::Value>,
    pub kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub columns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
    /// When this difference was first seen (by this run, or by an earlier one that saw the
    /// same key differ the same way).
    #[serde(
        serialize_with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub first_seen: Option<DateTime<Utc>>,
    /// For a changed row, the system holding the newer version (by the check's `version`
    /// column): on a two-way sync it tells which direction failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub newer: Option<String>,
    /// aggregate checks: per differing measure, the second system's value minus the first's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delta: Option<serde_json::Map<String, serde_json::Value>>,
    /// ref_integrity checks: child rows holding this orphan key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rows: Option<u64>,
}

impl Difference {
    /// A record of `kind` with `key` and nothing else known yet.
    pub fn new(key: serde_json::Map<String, serde_json::Value>, kind: impl Into<String>) -> Self {
        Difference {
            key,
            kind: kind.into(),
            columns: Vec::new(),
            values: None,
            first_seen: None,
            newer: None,
            delta: None,
            rows: None,
        }
    }

    /// The key as a person reads it: `id=42,line=3`.
    pub fn key_text(&self) -> String {
        self.key
            .iter()
            .map(|(k, v)| format!("{k}={}", show(Some(v))))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The value of `column` on `system`, as a person reads it.
    pub fn value_text(&self, system: &str, column: &str) -> String {
        show(
            self.values
                .as_ref()
                .and_then(|v| v.get(system))
                .and_then(|v| v.get(column)),
        )
    }
}

/// A table of listed records for the terminal: a title line, a header and rows of cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A value as a person reads it in a table: NULL spelled out, text quoted when it has
/// surrounding blanks or is empty.
pub fn show(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "NULL".into(),
        Some(serde_json::Value::String(s)) if s.is_empty() || s.trim() != s || s == "NULL" => {
            format!("{s:?}")
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// ", the first N" when only some of `total` listed records are shown.
pub fn shown_of(listed: usize, total: u64) -> String {
    if (listed as u64) < total {
        format!(", the first {listed}")
    } else {
        String::new()
    }
}

pub fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// Per-system values (rows, groups, load) as a JSON object in side order.
pub mod per_system {
    use super::*;

    pub fn serialize<S: Serializer, T: Serialize>(
        v: &[(String, T)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(v.len()))?;
        for (k, n) in v {
            map.serialize_entry(k, n)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<(String, T)>, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Vec<(String, T)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of system to value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(e) = m.next_entry()? {
                    out.push(e);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The largest of per-system counts (what a percentage threshold is a share of).
pub fn largest(v: &[(String, i64)]) -> f64 {
    v.iter().map(|(_, n)| *n).max().unwrap_or(0) as f64
}

/// `driftwatch_rows` for every system counted.
pub fn export_rows(check: &str, rows: &[(String, i64)], metrics: &Metrics) {
    for (system, n) in rows {
        metrics.rows.with_label_values(&[check, system]).set(*n);
    }
}

/// An ordered map from system to count, for facts.
pub fn per_system_json(v: &[(String, i64)]) -> serde_json::Value {
    serde_json::Value::Object(
        v.iter()
            .map(|(s, n)| (s.clone(), serde_json::json!(n)))
            .collect(),
    )
}
