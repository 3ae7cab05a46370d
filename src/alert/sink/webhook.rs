//! Generic webhook: the JSON body of Alertmanager's webhook receiver (version 4), so anything
//! that accepts Alertmanager webhooks accepts driftwatch, signed so a receiver can reject
//! forgeries and replays.
//!
//! Signature scheme (when the sink has a `secret`):
//!
//! ```text
//! X-Driftwatch-Timestamp: 1763719200                   (Unix seconds when sent)
//! X-Driftwatch-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//! X-Driftwatch-Delivery:  <id, the same on every retry of one notification>
//! ```
//!
//! A receiver recomputes the HMAC over the raw body, compares in constant time, and rejects a
//! timestamp too far from its clock (five minutes with [`verify`]'s usual tolerance). Each
//! retry is signed anew with a fresh timestamp; the delivery id lets a receiver drop a
//! notification it has already processed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::request::{Request, Sink};
use crate::alert::notification::{rfc3339, Notification};
use crate::alert::state::AlertKind;
use crate::secret::{Secret, SecretUrl};

pub const TIMESTAMP_HEADER: &str = "x-driftwatch-timestamp";
pub const SIGNATURE_HEADER: &str = "x-driftwatch-signature";
pub const DELIVERY_HEADER: &str = "x-driftwatch-delivery";
/// How far a signed timestamp may be from the receiver's clock, for [`verify`] callers that
/// have no better idea.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

pub struct Webhook {
    /// The sink's name: the `receiver` of the payload.
    pub receiver: String,
    pub url: SecretUrl,
    pub secret: Option<Secret>,
}

impl Sink for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn request(&self, n: &Notification, now: DateTime<Utc>) -> Request {
        let mut req = Request::json(self.url.expose(), &payload(n, &self.receiver));
        req.headers.push((DELIVERY_HEADER, delivery_id(n)));
        if let Some(secret) = &self.secret {
            let ts = now.timestamp().to_string();
            let sig = sign(secret.expose(), &ts, &req.body);
            req.headers.push((TIMESTAMP_HEADER, ts));
            req.headers.push((SIGNATURE_HEADER, format!("v1={sig}")));
        }
        req
    }
}

/// The same id on every attempt to deliver one notification.
fn delivery_id(n: &Notification) -> String {
    let mut h = Sha256::new();
    h.update(n.dedup_key.as_bytes());
    h.update(n.reason.as_str().as_bytes());
    h.update(rfc3339(n.created_at).as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Hex HMAC-SHA256 of `timestamp + "." + body`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Why a signed request was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp header is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is {0}s away from now: a replay or a wrong clock")]
    Stale(i64),
    #[error("the signature header has no `v1=` signature")]
    NoSignature,
    #[error("the signature does not match the body and timestamp")]
    Mismatch,
}

/// Check a request as a receiver: `timestamp` and `signature` are the header values, `body`
/// the raw bytes received. Fails when the signature does not match (a forgery or a changed
/// body) or the timestamp is more than `tolerance` from `now` (a replay).
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = (now.timestamp() - ts).abs();
    if skew as u64 > tolerance.as_secs() {
        return Err(SignatureError::Stale(skew));
    }
    // Several `v1=` entries may be sent while a secret is rotated; one must match.
    let candidates: Vec<Vec<u8>> = signature
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h).ok())
        .collect();
    if candidates.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    for candidate in candidates {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(timestamp.trim().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&candidate).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The alert's labels: what identifies it, plus its severity.
fn labels(n: &Notification) -> Map<String, Value> {
    let mut l = Map::new();
    l.insert(
        "alertname".into(),
        json!(match n.alert {
            AlertKind::Drift => "DriftwatchDrift",
            AlertKind::Broken => "DriftwatchCheckBroken",
        }),
    );
    l.insert("check".into(), json!(n.check));
    l.insert("kind".into(), json!(n.check_kind));
    l.insert("severity".into(), json!(n.severity.as_str()));
    l
}

fn annotations(n: &Notification) -> Map<String, Value> {
    let mut a = Map::new();
    a.insert("summary".into(), json!(n.summary));
    let mut description = n.finding.headline.clone();
    for fact in &n.finding.facts {
        description.push_str(&format!("\n{}: {}", fact.label, fact.text));
    }
    if let Some(d) = &n.description {
        description.push_str(&format!("\n{d}"));
    }
    a.insert("description".into(), json!(description));
    if let Some(u) = &n.runbook_url {
        a.insert("runbook_url".into(), json!(u));
    }
    if let Some(u) = &n.dashboard_url {
        a.insert("dashboard_url".into(), json!(u));
    }
    a
}

/// Alertmanager's stable alert identity: here per check and alert, not per severity.
fn fingerprint(n: &Notification) -> String {
    hex::encode(&Sha256::digest(n.dedup_key.as_bytes())[..8])
}

/// The Alertmanager webhook (version 4) body for `n`, as sent to `receiver`.
pub fn payload(n: &Notification, receiver: &str) -> Value {
    let status = if n.is_resolve() { "resolved" } else { "firing" };
    let labels = labels(n);
    let annotations = annotations(n);
    let mut group_labels = Map::new();
    group_labels.insert("alertname".into(), labels["alertname"].clone());
    group_labels.insert("check".into(), json!(n.check));
    let group_key = format!(
        "{{}}:{{alertname=\"{}\", check=\"{}\"}}",
        labels["alertname"].as_str().unwrap_or(""),
        n.check
    );
    json!({
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": n.agent_url,
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(n.starts_at),
            // Alertmanager's "no end yet".
            "endsAt": n.ends_at.map(rfc3339).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            "generatorURL": n.result_url(),
            "fingerprint": fingerprint(n),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::notification;
    use crate::alert::{Reason, Severity};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
    }

    fn sink(secret: Option<&str>) -> Webhook {
        Webhook {
            receiver: "audit".into(),
            url: SecretUrl::webhook("https://hooks.example/drift"),
            secret: secret.map(Secret::new),
        }
    }

    #[test]
    fn the_body_is_an_alertmanager_v4_webhook() {
        let p = payload(&notification(), "audit");
        assert_eq!(p["version"], "4");
        assert_eq!(p["status"], "firing");
        assert_eq!(p["receiver"], "audit");
        assert_eq!(p["commonLabels"]["alertname"], "DriftwatchDrift");
        let a = &p["alerts"][0];
        assert_eq!(a["labels"]["check"], "patients_content");
        assert_eq!(a["labels"]["kind"], "hash_diff");
        assert_eq!(a["labels"]["severity"], "critical");
        assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(
            a["annotations"]["runbook_url"],
            "https://wiki.example/runbooks/patients"
        );
        assert!(a["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("Missing in legacy: 25"));
        assert_eq!(a["fingerprint"].as_str().unwrap().len(), 16);
    }

    #[test]
    fn escalation_and_resolve_keep_the_fingerprint() {
        let n = notification();
        let mut warning = n.clone();
        warning.severity = Severity::Warning;
        let mut resolved = n.clone();
        resolved.reason = Reason::Resolved;
        resolved.ends_at = Some(now());
        let fp = |n: &Notification| payload(n, "x")["alerts"][0]["fingerprint"].clone();
        assert_eq!(fp(&n), fp(&warning));
        assert_eq!(fp(&n), fp(&resolved));
        let r = payload(&resolved, "x");
        assert_eq!(r["status"], "resolved");
        assert_eq!(r["alerts"][0]["endsAt"], rfc3339(now()));
    }

    #[test]
    fn a_signed_request_verifies_and_a_tampered_one_does_not() {
        let req = sink(Some("s3cret-hmac")).request(&notification(), now());
        let ts = req.header(TIMESTAMP_HEADER).unwrap().to_string();
        let sig = req.header(SIGNATURE_HEADER).unwrap().to_string();
        assert!(sig.starts_with("v1="));
        let ok = |ts: &str, body: &[u8], at| {
            verify("s3cret-hmac", ts, &sig, body, at, DEFAULT_TOLERANCE)
        };
        assert_eq!(ok(&ts, &req.body, now()), Ok(()));
        let mut tampered = req.body.clone();
        tampered[10] ^= 1;
        assert_eq!(ok(&ts, &tampered, now()), Err(SignatureError::Mismatch));
        let other = (now().timestamp() + 1).to_string();
        assert_eq!(ok(&other, &req.body, now()), Err(SignatureError::Mismatch));
        // A replay ten minutes later is refused even with a good signature.
        assert_eq!(
            ok(&ts, &req.body, now() + chrono::Duration::minutes(10)),
            Err(SignatureError::Stale(600))
        );
        assert_eq!(
            verify("wrong", &ts, &sig, &req.body, now(), DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        // The secret is not in the body or the headers.
        assert!(!String::from_utf8_lossy(&req.body).contains("s3cret-hmac"));
    }

    #[test]
    fn without_a_secret_requests_are_unsigned_but_carry_a_delivery_id() {
        let req = sink(None).request(&notification(), now());
        assert!(req.header(SIGNATURE_HEADER).is_none());
        let again = sink(None).request(&notification(), now() + chrono::Duration::seconds(30));
        assert_eq!(req.header(DELIVERY_HEADER), again.header(DELIVERY_HEADER));
    }
}
