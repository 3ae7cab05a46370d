//! Delivery that loses nothing: one worker per sink reads that sink's notifications from the
//! outbox table of the state store (written before anything is sent), posts them, and marks
//! a row delivered only after a 2xx answer.
//!
//! Failures are retried with exponential backoff and jitter; a 429's (or 5xx's)
//! `Retry-After` is honoured; any other 4xx is a refusal that retrying cannot fix, so the row
//! is given up on at once; a row still failing at its sink's `deadline` is given up on too.
//! A notification of an alert waits for the earlier ones of the same alert, so a resolve
//! never overtakes its trigger. A row sent twice (the agent was killed between the answer
//! and the mark) keeps its PagerDuty `dedup_key` and webhook delivery id, so receivers see
//! one incident.
//!
//! Workers are separate tasks: a slow or dead receiver delays nothing but its own sink.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};

use super::notification::Notification;
use super::sink::{Request, Sink};
use crate::metrics::Metrics;
use crate::schedule::Clock;
use crate::state::{OutboxRow, State};

/// First retry delay; each failure doubles it, up to [`BACKOFF_MAX`].
const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How much of a receiver's answer a log line quotes.
const REASON_CHARS: usize = 300;

/// The agent's HTTP client for receivers. It does not follow redirects: a POST redirected is
/// a misconfigured URL, better reported than silently turned into a GET.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("driftwatch/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the HTTP client builds")
}

/// What a receiver's answer means for a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again, not before `after` when the receiver said so.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The receiver refused it: sending it again would not help.
    Rejected {
        reason: String,
    },
}

/// Classify an HTTP answer.
pub fn classify(status: u16, retry_after: Option<&str>, body: &str, now: DateTime<Utc>) -> Outcome {
    let reason = || {
        let body = crate::secret::scrub(body.trim());
        let body = super::sink::truncate(&body, REASON_CHARS);
        if body.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {body}")
        }
    };
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Retry {
            after: retry_after.and_then(|v| parse_retry_after(v, now)),
            reason: reason(),
        },
        _ => Outcome::Rejected { reason: reason() },
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The delay before retry number `attempt` (1 for the first retry): exponential, capped,
/// with jitter so that many agents (or many rows) do not retry in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_INITIAL
        .saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(BACKOFF_MAX);
    // Between half and all of the exponential delay.
    exp.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// POST `req`, and say what the answer means.
pub async fn send(
    client: &reqwest::Client,
    req: Request,
    timeout: Duration,
    now: impl Fn() -> DateTime<Utc>,
) -> Outcome {
    let mut builder = client.post(req.url()).timeout(timeout);
    for (name, value) in &req.headers {
        builder = builder.header(*name, value);
    }
    match builder.body(req.body).send().await {
        Err(e) => Outcome::Retry {
            after: None,
            reason: describe_error(e, timeout),
        },
        Ok(resp) => {
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = if resp.status().is_success() {
                String::new()
            } else {
                resp.text().await.unwrap_or_default()
            };
            classify(status, retry_after.as_deref(), &body, now())
        }
    }
}

/// A transport error in words, without the URL (which may be the credential).
fn describe_error(e: reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!(
            "no answer within {} (the sink's `timeout`)",
            humantime::format_duration(timeout)
        );
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::secret::scrub(&text)
}

/// Delivers one sink's notifications, oldest first per alert.
pub struct Worker {
    pub name: String,
    pub sink: Box<dyn Sink>,
    pub timeout: Duration,
    pub deadline: Duration,
    pub state: State,
    pub metrics: std::sync::Arc<Metrics>,
    pub client: reqwest::Client,
    pub wake: std::sync::Arc<Notify>,
    pub clock: Clock,
}

impl Worker {
    /// Deliver until `stop` holds a deadline, then deliver what is due before it and return.
    pub async fn run(self, mut stop: watch::Receiver<Option<tokio::time::Instant>>) {
        loop {
            let flush = *stop.borrow_and_update();
            self.refresh_gauge().await;
            let next = match self.state.outbox_next(&self.name).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(sink = %self.name, error = %e, "cannot read the outbox");
                    if flush.is_some() {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        r = stop.changed() => if r.is_err() { return },
                    }
                    continue;
                }
            };
            let now = (self.clock)();
            match next {
                None => {
                    if flush.is_some() {
                        return;
                    }
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        r = stop.changed() => if r.is_err() { return },
                    }
                }
                Some(row) if row.next_attempt_at > now => {
                    let wait = (row.next_attempt_at - now)
                        .to_std()
                        .unwrap_or(Duration::ZERO);
                    if let Some(deadline) = flush {
                        if tokio::time::Instant::now() + wait > deadline {
                            return;
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.wake.notified() => {}
                        r = stop.changed() => if r.is_err() { return },
                    }
                }
                Some(row) => self.attempt(row).await,
            }
        }
    }

    async fn refresh_gauge(&self) {
        if let Ok(n) = self.state.outbox_pending(&self.name).await {
            self.metrics
                .outbox_pending
                .with_label_values(&[&self.name])
                .set(n);
        }
    }

    async fn attempt(&self, row: OutboxRow) {
        let now = (self.clock)();
        let n: Notification = match serde_json::from_str(&row.notification) {
            Ok(n) => n,
            Err(e) => {
                let reason = format!("unreadable notification in the outbox: {e}");
                self.give_up(&row, None, &reason, now).await;
                return;
            }
        };
        let request = self.sink.request(&n, now);
        let outcome = send(&self.client, request, self.timeout, self.clock).await;
        let now = (self.clock)();
        let attempts = row.attempts + 1;
        match outcome {
            Outcome::Delivered => {
                if let Err(e) = self.state.outbox_delivered(row.id, now).await {
                    // It stays pending and goes again: receivers dedupe by key.
                    tracing::error!(sink = %self.name, error = %e, "notification delivered but not marked so");
                }
                self.metrics
                    .notifications
                    .with_label_values(&[&self.name])
                    .inc();
                tracing::info!(
                    sink = %self.name,
                    sink_kind = self.sink.kind(),
                    check = %n.check,
                    alert = n.alert.as_str(),
                    reason = n.reason.as_str(),
                    attempts,
                    "notification delivered"
                );
            }
            Outcome::Rejected { reason } => {
                self.give_up(&row, Some(&n), &format!("rejected: {reason}"), now)
                    .await;
            }
            Outcome::Retry { after, reason } => {
                let delay = after.unwrap_or_else(|| backoff(attempts));
                let next =
                    now + chrono::Duration::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
                let deadline = row.created_at
                    + chrono::Duration::from_std(self.deadline).unwrap_or(chrono::TimeDelta::MAX);
                if next > deadline {
                    let reason = format!(
                        "still failing at the sink's `deadline` ({}) after {attempts} attempt{}: {reason}",
                        humantime::format_duration(self.deadline),
                        if attempts == 1 { "" } else { "s" }
                    );
                    self.give_up(&row, Some(&n), &reason, now).await;
                    return;
                }
                tracing::warn!(
                    sink = %self.name,
                    sink_kind = self.sink.kind(),
                    check = %n.check,
                    alert = n.alert.as_str(),
                    attempts,
                    retry_in = %humantime::format_duration(Duration::from_millis(delay.as_millis() as u64)),
                    error = %reason,
                    "notification not delivered yet; will retry"
                );
                if let Err(e) = self.state.outbox_retry(row.id, &reason, next).await {
                    tracing::error!(sink = %self.name, error = %e, "cannot reschedule the notification");
                }
            }
        }
    }

    /// The telemetry event of a notification given up on: logs it, counts it, marks it.
    async fn give_up(
        &self,
        row: &OutboxRow,
        n: Option<&Notification>,
        reason: &str,
        now: DateTime<Utc>,
    ) {
        self.metrics
            .notifications_failed
            .with_label_values(&[&self.name])
            .inc();
        tracing::error!(
            sink = %self.name,
            sink_kind = self.sink.kind(),
            check = n.map(|n| n.check.as_str()).unwrap_or(row.alert_key.as_str()),
            alert = n.map(|n| n.alert.as_str()).unwrap_or(""),
            reason = n.map(|n| n.reason.as_str()).unwrap_or(""),
            error = %reason,
            "notification given up on"
        );
        if let Err(e) = self.state.outbox_failed(row.id, reason, now).await {
            tracing::error!(sink = %self.name, error = %e, "cannot mark the notification failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
    }

    #[test]
    fn answers_are_classified_as_users_expect() {
        assert_eq!(classify(202, None, "", now()), Outcome::Delivered);
        assert_eq!(
            classify(429, Some("7"), "slow down", now()),
            Outcome::Retry {
                after: Some(Duration::from_secs(7)),
                reason: "HTTP 429: slow down".into()
            }
        );
        assert!(matches!(
            classify(503, None, "", now()),
            Outcome::Retry { after: None, .. }
        ));
        assert_eq!(
            classify(400, None, "{\"status\":\"invalid event\"}", now()),
            Outcome::Rejected {
                reason: "HTTP 400: {\"status\":\"invalid event\"}".into()
            }
        );
        assert!(matches!(
            classify(302, None, "", now()),
            Outcome::Rejected { .. }
        ));
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(
            parse_retry_after("120", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sat, 21 Nov 2026 10:00:30 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now()), None);
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        for attempt in 1..=40 {
            let exp = BACKOFF_INITIAL
                .saturating_mul(1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX))
                .min(BACKOFF_MAX);
            let d = backoff(attempt);
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(40) <= BACKOFF_MAX);
    }
}
