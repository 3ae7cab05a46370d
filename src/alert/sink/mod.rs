//! Sinks: how each receiver is called. A sink turns a [`Notification`] the alert module has
//! decided on into the HTTP request its receiver expects (PagerDuty Events API v2, a Slack
//! incoming webhook, an Alertmanager-compatible signed webhook). It never decides whether to
//! alert, never retries and never touches the outbox: [`super::outbox`] sends the request and
//! handles the answer.
//!
//! A sink holds secrets (routing key, webhook URL, HMAC secret). They go into the request and
//! nowhere else: [`Request`] does not print its URL, and no body carries a secret except the
//! PagerDuty routing key, which is how that API authenticates.

pub mod pagerduty;
pub mod slack;
pub mod webhook;

use std::fmt;

use chrono::{DateTime, Utc};

use super::Notification;
use crate::config::{SinkConfig, SinkKind};

/// How one kind of receiver is called.
pub trait Sink: Send + Sync {
    /// The kind of receiver, for logs (`pagerduty`, `slack`, `webhook`).
    fn kind(&self) -> &'static str;

    /// The request that delivers `n`, made at `now` (signatures carry the time).
    fn request(&self, n: &Notification, now: DateTime<Utc>) -> Request;
}

/// An HTTP POST to a receiver. Its URL may be a credential and never prints.
pub struct Request {
    url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(url: &str, body: &serde_json::Value) -> Request {
        Request {
            url: url.to_string(),
            headers: vec![("content-type", "application/json".to_string())],
            body: serde_json::to_vec(body).expect("JSON values serialise"),
        }
    }

    /// The URL to post to: for the HTTP client only, never for printing.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("url", &"**REDACTED**")
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// The sink a configured receiver needs.
pub fn build(config: &SinkConfig) -> Box<dyn Sink> {
    match &config.kind {
        SinkKind::PagerDuty { routing_key, url } => Box::new(pagerduty::PagerDuty {
            routing_key: routing_key.clone(),
            url: url.clone(),
        }),
        SinkKind::Slack { url } => Box::new(slack::Slack { url: url.clone() }),
        SinkKind::Webhook { url, secret } => Box::new(webhook::Webhook {
            receiver: config.name.clone(),
            url: url.clone(),
            secret: secret.clone(),
        }),
    }
}

/// `text` cut to at most `max` characters, marked with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// A sample value as a short string: strings as they are, other JSON as JSON, NULL spelled
/// out; cut to `max` characters.
pub fn short_value(v: Option<&serde_json::Value>, max: usize) -> String {
    let s = match v {
        None | Some(serde_json::Value::Null) => "NULL".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    truncate(&s, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("äöüß", 2), "ä…");
        assert_eq!(truncate("x", 0), "");
    }

    #[test]
    fn a_request_never_prints_its_url() {
        let r = Request::json(
            "https://hooks.slack.com/services/T0/B0/SECRET",
            &serde_json::json!({}),
        );
        assert!(!format!("{r:?}").contains("SECRET"));
    }
}
