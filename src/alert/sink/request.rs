//! What every sink is: the [`Sink`] trait (a notification in, the HTTP request its receiver
//! expects out), the [`Request`] it produces (whose URL never prints), and the text helpers
//! sinks share to stay within their receivers' limits. Names no receiver.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::alert::notification::Notification;

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
