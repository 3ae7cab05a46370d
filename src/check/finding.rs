//! What a run found, in words and numbers, for people: one headline and a list of labelled
//! facts. Each kind's report fills a [`Finding`] in (`KindReport::describe`); the table of
//! `driftwatch check`, the agent's log line and every sink render that same finding, so a
//! result is worded once. This module knows no kind.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A run described for people.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// One sentence, e.g. "modern has 25 more rows than legacy".
    pub headline: String,
    pub facts: Vec<Fact>,
}

/// One labelled number or value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Machine name (PagerDuty `custom_details`, webhook receivers), e.g. `missing_in_legacy`.
    pub key: String,
    /// Human label, e.g. "Missing in legacy".
    pub label: String,
    pub value: Value,
    /// The value as a person reads it.
    pub text: String,
}

impl Finding {
    /// Adds a part to the headline (parts are joined with `; `).
    pub fn headline(&mut self, part: impl Into<String>) {
        let part = part.into();
        if self.headline.is_empty() {
            self.headline = part;
        } else {
            self.headline.push_str("; ");
            self.headline.push_str(&part);
        }
    }

    /// Adds a labelled fact.
    pub fn fact(&mut self, key: impl Into<String>, label: impl Into<String>, value: Value) {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            v => v.to_string(),
        };
        self.facts.push(Fact {
            key: key.into(),
            label: label.into(),
            value,
            text,
        });
    }
}

impl Finding {
    /// The finding in one line, as the `driftwatch check` table shows it: the rows per system
    /// (when the run counted them) and the headline.
    pub fn line(&self) -> String {
        let rows = self
            .facts
            .iter()
            .find(|f| f.key == "rows")
            .and_then(|f| f.value.as_object())
            .map(|m| {
                m.iter()
                    .map(|(system, n)| format!("{system}={n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
        match rows {
            Some(rows) => format!("{rows}  {}", self.headline),
            None => self.headline.clone(),
        }
    }
}

/// `s` unless `n` is one.
pub fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `s` when `n` is one (a verb after a count: "1 row differs", "2 rows differ").
pub fn verb_s(n: u64) -> &'static str {
    if n == 1 {
        "s"
    } else {
        ""
    }
}
