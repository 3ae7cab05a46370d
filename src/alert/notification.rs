//! [`Notification`]: one decision of the alert engine as every sink receives it, and the
//! identity (`dedup_key`) that ties an alert's notifications together across incidents.
//! Stored in the outbox as JSON; each sink renders it its own way. Decides nothing and sends
//! nothing.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::state::{AlertKind, Reason, Severity};
use crate::check::{Difference, Finding, ThresholdsOut};

/// One decision of the alert module, for every sink of the alert: what happened, to which
/// check, and what the run that caused it found. Stored in the outbox as JSON; each sink
/// renders it its own way.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notification {
    pub check: String,
    /// The check's kind (`row_count`, `hash_diff`...).
    pub check_kind: String,
    pub alert: AlertKind,
    pub reason: Reason,
    pub severity: Severity,
    /// The alert's identity, the same for every notification of every incident of this
    /// check's alert (PagerDuty `dedup_key`, webhook `fingerprint`).
    pub dedup_key: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// When the decision was made.
    pub created_at: DateTime<Utc>,
    /// One line for people.
    pub summary: String,
    pub finding: Finding,
    pub description: Option<String>,
    /// The check's systems, in side order.
    pub systems: Vec<String>,
    pub thresholds: ThresholdsOut,
    /// When the oldest listed difference was first seen.
    pub first_seen: Option<DateTime<Utc>>,
    /// The first differing records (at most the alert module's `MAX_SAMPLES`).
    pub samples: Vec<Difference>,
    /// How many records differ in all, when the check lists differences.
    pub differences_total: Option<u64>,
    pub runbook_url: Option<String>,
    pub dashboard_url: Option<String>,
    /// Where the agent serves (the result API), e.g. `http://host:9187`.
    pub agent_url: String,
    /// When the run behind this notification started.
    pub run_started_at: Option<DateTime<Utc>>,
}

impl Notification {
    pub fn is_resolve(&self) -> bool {
        self.reason == Reason::Resolved
    }

    /// The latest result of the check in the agent's API.
    pub fn result_url(&self) -> String {
        format!(
            "{}/api/v1/checks/{}/runs/latest",
            self.agent_url.trim_end_matches('/'),
            self.check
        )
    }

    /// Alert and check, e.g. "drift in patients_rows".
    pub fn title(&self) -> String {
        match self.alert {
            AlertKind::Drift => format!("drift in {}", self.check),
            AlertKind::Broken => format!("check {} is broken", self.check),
        }
    }
}

/// A notification's identity, the same across incidents and severities.
pub fn dedup_key(check: &str, alert: AlertKind) -> String {
    format!("driftwatch/{check}/{}", alert.as_str())
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
