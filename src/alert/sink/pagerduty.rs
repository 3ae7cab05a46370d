//! PagerDuty Events API v2: `trigger` and `resolve` events with a `dedup_key` per check and
//! alert (drift or broken, not per severity: an escalation updates the open incident).
//!
//! A trigger's `custom_details` carry the finding's counts, the thresholds, when the breach
//! began and was first seen, and up to [`super::super::MAX_SAMPLES`] differing records; the
//! event is kept under PagerDuty's 512 KB limit by cutting long values and then listing
//! fewer records until it fits.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::request::{short_value, truncate, Request, Sink};
use crate::alert::notification::{rfc3339, Notification};
use crate::alert::state::AlertKind;
use crate::secret::Secret;

/// PagerDuty refuses events of 512 KB or more.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;
/// `payload.summary` is cut at 1024 characters by PagerDuty; we cut it ourselves.
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// Ways to shrink the listed records, tried in order until the event fits: (records listed,
/// characters per value).
const SHRINK: &[(usize, usize)] = &[
    (20, 4096),
    (20, 512),
    (20, 128),
    (10, 64),
    (5, 32),
    (1, 32),
    (0, 0),
];

pub struct PagerDuty {
    pub routing_key: Secret,
    pub url: String,
}

impl Sink for PagerDuty {
    fn kind(&self) -> &'static str {
        "pagerduty"
    }

    fn request(&self, n: &Notification, _now: DateTime<Utc>) -> Request {
        Request::json(&self.url, &event(self.routing_key.expose(), n))
    }
}

/// The Events API v2 event for `n`.
pub fn event(routing_key: &str, n: &Notification) -> Value {
    if n.is_resolve() {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": n.dedup_key,
        });
    }
    let fits =
        |e: &Value| serde_json::to_vec(e).map(|b| b.len()).unwrap_or(usize::MAX) < MAX_EVENT_BYTES;
    for (samples, value_chars) in SHRINK {
        let e = trigger(routing_key, n, *samples, *value_chars, 4096);
        if fits(&e) {
            return e;
        }
    }
    // Only an absurd description or error could get here: cut every text short.
    let e = trigger(routing_key, n, 0, 0, 256);
    if fits(&e) {
        return e;
    }
    let mut e = trigger(routing_key, n, 0, 0, 0);
    e["payload"]["custom_details"] = json!({"note": "details left out: too large for PagerDuty"});
    e
}

fn trigger(
    routing_key: &str,
    n: &Notification,
    samples: usize,
    value_chars: usize,
    text_chars: usize,
) -> Value {
    let mut links = Vec::new();
    if let Some(u) = &n.runbook_url {
        links.push(json!({"href": u, "text": "Runbook"}));
    }
    if let Some(u) = &n.dashboard_url {
        links.push(json!({"href": u, "text": "Dashboard"}));
    }
    let source = if n.systems.is_empty() {
        "driftwatch".to_string()
    } else {
        n.systems.join(" vs ")
    };
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": n.dedup_key,
        "payload": {
            "summary": truncate(&n.summary, MAX_SUMMARY_CHARS),
            "source": source,
            "severity": n.severity.as_str(),
            "timestamp": rfc3339(n.created_at),
            "component": n.check,
            "group": n.check_kind,
            "class": match n.alert {
                AlertKind::Drift => "drift",
                AlertKind::Broken => "check broken",
            },
            "custom_details": details(n, samples, value_chars, text_chars),
        },
        "client": "driftwatch",
        "client_url": n.result_url(),
        "links": links,
    })
}

/// What on-call reads under the incident's details.
fn details(n: &Notification, samples: usize, value_chars: usize, text_chars: usize) -> Value {
    let mut d = Map::new();
    d.insert("check".into(), json!(n.check));
    d.insert("check_kind".into(), json!(n.check_kind));
    d.insert("alert".into(), json!(n.alert.as_str()));
    d.insert("reason".into(), json!(n.reason.as_str()));
    if let Some(desc) = &n.description {
        d.insert("description".into(), json!(truncate(desc, text_chars)));
    }
    d.insert(
        "finding".into(),
        json!(truncate(&n.finding.headline, text_chars)),
    );
    for fact in &n.finding.facts {
        let value = match &fact.value {
            Value::String(s) => json!(truncate(s, text_chars)),
            v => v.clone(),
        };
        d.insert(fact.key.clone(), value);
    }
    d.insert(
        "thresholds".into(),
        json!({"warning": n.thresholds.warning, "critical": n.thresholds.critical}),
    );
    d.insert("since".into(), json!(rfc3339(n.starts_at)));
    if let Some(t) = n.first_seen {
        d.insert("first_seen".into(), json!(rfc3339(t)));
    }
    if let Some(t) = n.run_started_at {
        d.insert("run_started_at".into(), json!(rfc3339(t)));
    }
    if !n.samples.is_empty() {
        let listed: Vec<Value> = n
            .samples
            .iter()
            .take(samples)
            .map(|s| sample(s, &n.systems, value_chars))
            .collect();
        let total = n.differences_total.unwrap_or(n.samples.len() as u64);
        d.insert(
            "samples_listed".into(),
            json!(format!("{} of {total}", listed.len())),
        );
        d.insert("samples".into(), Value::Array(listed));
    }
    d.insert("result".into(), json!(n.result_url()));
    Value::Object(d)
}

/// One differing record: its key, how it differs, and the differing values (cut short).
fn sample(s: &crate::check::Difference, systems: &[String], value_chars: usize) -> Value {
    let key: Map<String, Value> = s
        .key
        .iter()
        .map(|(k, v)| (k.clone(), cut(v, value_chars.max(32))))
        .collect();
    let mut out = Map::new();
    out.insert("key".into(), Value::Object(key));
    out.insert("kind".into(), json!(s.kind));
    if !s.columns.is_empty() {
        out.insert("columns".into(), json!(s.columns));
    }
    if value_chars > 0 {
        if let Some(values) = &s.values {
            let mut per_system = Map::new();
            for system in systems {
                let Some(Value::Object(cols)) = values.get(system) else {
                    continue;
                };
                let cols: Map<String, Value> = cols
                    .iter()
                    .map(|(c, v)| (c.clone(), cut(v, value_chars)))
                    .collect();
                per_system.insert(system.clone(), Value::Object(cols));
            }
            if !per_system.is_empty() {
                out.insert("values".into(), Value::Object(per_system));
            }
        }
    }
    if let Some(t) = s.first_seen {
        out.insert("first_seen".into(), json!(rfc3339(t)));
    }
    if let Some(newer) = &s.newer {
        out.insert("newer".into(), json!(newer));
    }
    Value::Object(out)
}

fn cut(v: &Value, max: usize) -> Value {
    match v {
        Value::String(s) => json!(truncate(s, max)),
        Value::Null | Value::Bool(_) | Value::Number(_) => v.clone(),
        other => json!(short_value(Some(other), max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::{notification, sample_with};
    use crate::alert::Reason;

    #[test]
    fn a_trigger_carries_what_on_call_needs() {
        let n = notification();
        let e = event("rk-123456", &n);
        assert_eq!(e["routing_key"], "rk-123456");
        assert_eq!(e["event_action"], "trigger");
        assert_eq!(e["dedup_key"], "driftwatch/patients_content/drift");
        let p = &e["payload"];
        assert_eq!(p["severity"], "critical");
        assert_eq!(p["source"], "legacy vs modern");
        assert_eq!(p["component"], "patients_content");
        let d = &p["custom_details"];
        assert_eq!(d["rows"]["legacy"], 100);
        assert_eq!(d["missing_in_legacy"], 25);
        assert_eq!(d["changed"], 52);
        assert_eq!(d["thresholds"]["critical"], "50");
        assert_eq!(d["samples"][0]["columns"][0], "insurance");
        assert_eq!(d["samples"][0]["values"]["legacy"]["insurance"], "Acme");
        assert!(d["first_seen"].is_string());
        assert_eq!(
            e["links"][0]["href"],
            "https://wiki.example/runbooks/patients"
        );
        assert_eq!(e["links"][1]["text"], "Dashboard");
    }

    #[test]
    fn a_resolve_is_just_the_key() {
        let mut n = notification();
        n.reason = Reason::Resolved;
        let e = event("rk", &n);
        assert_eq!(
            e,
            json!({"routing_key": "rk", "event_action": "resolve", "dedup_key": "driftwatch/patients_content/drift"})
        );
    }

    #[test]
    fn huge_values_are_shrunk_under_512_kb_and_the_summary_under_1024_chars() {
        let mut n = notification();
        n.summary = "x".repeat(5000);
        n.samples = (0..20)
            .map(|i| sample_with(i, &"v".repeat(200_000)))
            .collect();
        let e = event("rk", &n);
        let bytes = serde_json::to_vec(&e).unwrap().len();
        assert!(bytes < MAX_EVENT_BYTES, "{bytes}");
        assert_eq!(
            e["payload"]["summary"].as_str().unwrap().chars().count(),
            MAX_SUMMARY_CHARS
        );
        let listed = e["payload"]["custom_details"]["samples"]
            .as_array()
            .unwrap();
        assert!(!listed.is_empty(), "keys are still listed");
    }
}
