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

mod request;

use crate::config::{SinkConfig, SinkKind};
pub use request::{short_value, truncate, Request, Sink};

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
