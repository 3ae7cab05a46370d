//! Alerts: from each finished run to notifications that reach their receivers.
//!
//! The agent hands every finished run of a check with an `alert:` to [`Alerts::observe`].
//! [`state`] decides, per check, whether its `drift` or `broken` alert fires, changes
//! severity, repeats or resolves; this module turns each decision into a [`Notification`]
//! (described by [`finding`]) and writes the new state and one outbox row per sink in one
//! transaction of the state store, before anything is sent. [`outbox`] then delivers, with
//! one worker per sink, so a check run only ever enqueues and a dead receiver delays nothing
//! but itself. [`sink`] knows how each receiver is called.
//!
//! This module decides; it never speaks HTTP. The one-shot `driftwatch check` never builds it,
//! so it sends nothing.

pub mod notification;
pub mod outbox;
pub mod sink;
pub mod state;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex, Notify};
use tokio::task::JoinSet;

pub use crate::check::finding::Finding;
use crate::check::{CheckRun, Difference};
use crate::config::{AlertConfig, CheckConfig, Config};
use crate::metrics::Metrics;
use crate::schedule::Clock;
use crate::state::{NewNotification, State, StateError};
pub use notification::{dedup_key, rfc3339, Notification};
pub use state::{AlertKind, CheckAlerts, Phase, Reason, Rules, Severity, Transition};

/// Differences a notification carries (receivers may show fewer to stay within their limits).
pub const MAX_SAMPLES: usize = 20;

/// Delivered and failed notifications are kept this long in the outbox, for inspection.
const OUTBOX_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// Longest wait between two looks for due repeats (new alerts may have started meanwhile).
const REPEAT_POLL: Duration = Duration::from_secs(60);

/// What the agent knows about the check a notification is about.
struct Subject<'a> {
    name: &'a str,
    kind: &'a str,
    description: Option<&'a str>,
    systems: Vec<String>,
    alert: Option<&'a AlertConfig>,
}

impl<'a> Subject<'a> {
    fn of(check: &'a CheckConfig) -> Subject<'a> {
        Subject {
            name: &check.name,
            kind: check.kind,
            description: check.description.as_deref(),
            systems: check.systems().into_iter().map(String::from).collect(),
            alert: check.alert.as_ref(),
        }
    }
}

/// Build the notification for one transition.
fn notification(
    subject: &Subject<'_>,
    run: Option<&CheckRun>,
    t: &Transition,
    consecutive_errors: u32,
    agent_url: &str,
    now: DateTime<Utc>,
) -> Notification {
    let finding = run.map(CheckRun::finding).unwrap_or_default();
    let check = subject.name;
    let headline = &finding.headline;
    let summary = match (t.alert, t.reason) {
        (_, Reason::Resolved) if run.is_none() => format!(
            "{check}: resolved (alerting for this check was removed from the configuration)"
        ),
        (AlertKind::Drift, Reason::Fired) => {
            format!("{check}: {} drift: {headline}", t.severity.as_str())
        }
        (AlertKind::Drift, Reason::Escalated) => {
            format!("{check}: drift escalated to critical: {headline}")
        }
        (AlertKind::Drift, Reason::Deescalated) => {
            format!("{check}: drift down to warning: {headline}")
        }
        (AlertKind::Drift, Reason::Repeated) => {
            format!("{check}: still {} drift: {headline}", t.severity.as_str())
        }
        (AlertKind::Drift, Reason::Resolved) => format!("{check}: drift resolved: {headline}"),
        (AlertKind::Broken, Reason::Resolved) => {
            format!("{check}: the check works again: {headline}")
        }
        (AlertKind::Broken, _) => {
            let error = run
                .and_then(CheckRun::error)
                .unwrap_or("the check keeps failing");
            let runs = consecutive_errors.max(1);
            format!(
                "{check}: check broken ({runs} failed run{} in a row): {error}",
                if runs == 1 { "" } else { "s" }
            )
        }
    };
    // Samples belong to a drift finding; a broken check has none worth showing.
    let samples: Vec<Difference> = match (t.alert, run) {
        (AlertKind::Drift, Some(r)) => r.samples().iter().take(MAX_SAMPLES).cloned().collect(),
        _ => Vec::new(),
    };
    let first_seen = samples.iter().filter_map(|s| s.first_seen).min();
    let differences_total = run
        .and_then(CheckRun::report)
        .and_then(|r| r.differences_total());
    Notification {
        check: check.to_string(),
        check_kind: subject.kind.to_string(),
        alert: t.alert,
        reason: t.reason,
        severity: t.severity,
        dedup_key: dedup_key(check, t.alert),
        starts_at: t.starts_at,
        ends_at: t.ends_at,
        created_at: now,
        summary: crate::secret::scrub(&summary),
        finding,
        description: subject.description.map(String::from),
        systems: subject.systems.clone(),
        thresholds: run.map(|r| r.thresholds.clone()).unwrap_or_default(),
        first_seen,
        samples,
        differences_total,
        runbook_url: subject.alert.and_then(|a| a.runbook_url.clone()),
        dashboard_url: subject.alert.and_then(|a| a.dashboard_url.clone()),
        agent_url: agent_url.to_string(),
        run_started_at: run.map(|r| r.started_at),
    }
}

fn rules(a: &AlertConfig) -> Rules {
    Rules {
        for_: a.for_,
        repeat_interval: a.repeat_interval,
        error_after: a.error_after,
    }
}

/// A check's alert state as the state store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Stored {
    alerts: CheckAlerts,
    check_kind: String,
    /// Sinks notified during the current incidents: each gets the resolve.
    notified: BTreeSet<String>,
}

/// An alert as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct AlertView {
    pub check: String,
    pub alert: AlertKind,
    pub phase: Phase,
    pub severity: Option<Severity>,
    pub since: Option<String>,
    pub fired_at: Option<String>,
    pub last_notified: Option<String>,
    pub resolved_at: Option<String>,
    pub dedup_key: String,
}

struct Inner {
    checks: HashMap<String, Stored>,
    /// The latest run of each check, for repeats sent between runs.
    last_runs: HashMap<String, CheckRun>,
}

/// The alert engine of a running agent, with its delivery workers.
pub struct Alerts {
    config: Arc<Config>,
    state: State,
    metrics: Arc<Metrics>,
    clock: Clock,
    agent_url: String,
    inner: Mutex<Inner>,
    /// Wakes each sink's worker when its outbox grows.
    wakes: HashMap<String, Arc<Notify>>,
    repeat_wake: Notify,
    /// `Some(deadline)` once the agent stops: workers flush until then.
    stop: watch::Sender<Option<tokio::time::Instant>>,
    tasks: std::sync::Mutex<Option<JoinSet<()>>>,
}

impl Alerts {
    /// Load the alert state, resolve alerts whose check no longer alerts, and start one
    /// delivery worker per sink (which picks up whatever a previous agent left pending)
    /// and the repeat timer.
    pub async fn start(
        config: Arc<Config>,
        state: State,
        metrics: Arc<Metrics>,
        agent_url: String,
        clock: Clock,
    ) -> Result<Arc<Alerts>, StateError> {
        let alerts = Alerts::open(config, state, metrics, agent_url, clock).await?;
        alerts.spawn_workers();
        Ok(alerts)
    }

    /// [`Alerts::start`] without the workers: decisions are queued, nothing is sent.
    pub async fn open(
        config: Arc<Config>,
        state: State,
        metrics: Arc<Metrics>,
        agent_url: String,
        clock: Clock,
    ) -> Result<Arc<Alerts>, StateError> {
        let now = clock();
        if let Err(e) = state.outbox_prune(now - OUTBOX_RETENTION).await {
            tracing::warn!(error = %e, "could not prune the outbox");
        }
        let sinks: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
        match state.outbox_abandon_unknown(&sinks, now).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                notifications = n,
                "notifications for sinks no longer in the configuration given up on"
            ),
            Err(e) => tracing::warn!(error = %e, "could not clean up the outbox"),
        }
        let mut checks = HashMap::new();
        for (name, json) in state.alert_states().await? {
            match serde_json::from_str::<Stored>(&json) {
                Ok(s) => {
                    checks.insert(name, s);
                }
                Err(e) => {
                    tracing::warn!(check = %name, error = %e, "ignoring unreadable alert state")
                }
            }
        }
        let (stop, _) = watch::channel(None);
        let wakes: HashMap<String, Arc<Notify>> = config
            .sinks
            .iter()
            .map(|s| (s.name.clone(), Arc::new(Notify::new())))
            .collect();
        let alerts = Arc::new(Alerts {
            config,
            state,
            metrics,
            clock,
            agent_url,
            inner: Mutex::new(Inner {
                checks,
                last_runs: HashMap::new(),
            }),
            wakes,
            repeat_wake: Notify::new(),
            stop,
            tasks: std::sync::Mutex::new(None),
        });
        alerts.reconcile().await;
        alerts.announce().await;
        Ok(alerts)
    }

    /// Start one delivery worker per sink, and the repeat timer if any alert repeats.
    pub fn spawn_workers(self: &Arc<Self>) {
        let mut tasks = JoinSet::new();
        let client = outbox::client();
        for sink in &self.config.sinks {
            let worker = outbox::Worker {
                name: sink.name.clone(),
                sink: sink::build(sink),
                timeout: sink.timeout,
                deadline: sink.deadline,
                state: self.state.clone(),
                metrics: self.metrics.clone(),
                client: client.clone(),
                wake: self.wakes[&sink.name].clone(),
                clock: self.clock,
            };
            tasks.spawn(worker.run(self.stop.subscribe()));
        }
        if self.config.checks.iter().any(|c| {
            c.alert
                .as_ref()
                .is_some_and(|a| a.repeat_interval.is_some())
        }) {
            tasks.spawn(Alerts::repeat_loop(
                Arc::downgrade(self),
                self.stop.subscribe(),
            ));
        }
        *self.tasks.lock().unwrap_or_else(|e| e.into_inner()) = Some(tasks);
    }

    /// Decide on a finished run of `check`: queue whatever notifications it causes.
    pub async fn observe(&self, check: &CheckConfig, run: &CheckRun) {
        let Some(alert) = &check.alert else {
            return;
        };
        let now = (self.clock)();
        let mut inner = self.inner.lock().await;
        inner.last_runs.insert(check.name.clone(), run.clone());
        let before = inner.checks.get(&check.name).cloned().unwrap_or_default();
        let mut after = before.clone();
        after.check_kind = check.kind.to_string();
        let transitions = after
            .alerts
            .observe(run.status, run.started_at, now, &rules(alert));
        if after == before {
            return;
        }
        let subject = Subject::of(check);
        self.commit(&mut inner, &subject, Some(run), after, &transitions, now)
            .await;
    }

    /// Persist `after` and queue one notification per transition and sink, in one
    /// transaction; on success, make it the current state and wake the sinks.
    async fn commit(
        &self,
        inner: &mut Inner,
        subject: &Subject<'_>,
        run: Option<&CheckRun>,
        mut after: Stored,
        transitions: &[Transition],
        now: DateTime<Utc>,
    ) {
        let configured: Vec<&str> = self.config.sinks.iter().map(|s| s.name.as_str()).collect();
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for t in transitions {
            let n = notification(
                subject,
                run,
                t,
                after.alerts.consecutive_errors,
                &self.agent_url,
                now,
            );
            let mut sinks: BTreeSet<String> = subject
                .alert
                .map(|a| a.sinks.iter().cloned().collect())
                .unwrap_or_default();
            if t.reason == Reason::Resolved {
                sinks.extend(after.notified.iter().cloned());
            } else {
                after.notified.extend(sinks.iter().cloned());
            }
            let json = serde_json::to_string(&n).expect("a notification serialises");
            let key = format!("{}/{}", subject.name, t.alert.as_str());
            for sink in sinks.iter().filter(|s| configured.contains(&s.as_str())) {
                tracing::info!(
                    check = subject.name,
                    alert = t.alert.as_str(),
                    reason = t.reason.as_str(),
                    severity = t.severity.as_str(),
                    sink = %sink,
                    "alert notification queued"
                );
                rows.push((sink.clone(), key.clone(), json.clone()));
            }
        }
        let firing = |a: &CheckAlerts| a.drift.is_firing() || a.broken.is_firing();
        if !firing(&after.alerts) {
            after.notified.clear();
        }
        let forget = subject.alert.is_none();
        let json = serde_json::to_string(&after).expect("alert state serialises");
        let new: Vec<NewNotification<'_>> = rows
            .iter()
            .map(|(sink, key, n)| NewNotification {
                sink,
                alert_key: key,
                notification: n,
            })
            .collect();
        let stored = self
            .state
            .commit_alert(subject.name, (!forget).then_some(json.as_str()), &new, now)
            .await;
        if let Err(e) = stored {
            // The state stays as it was, so the next run decides again.
            tracing::error!(check = subject.name, error = %e, "could not store the alert state and its notifications");
            return;
        }
        if forget {
            inner.checks.remove(subject.name);
        } else {
            self.set_gauges(subject.name, &after.alerts);
            inner.checks.insert(subject.name.to_string(), after);
        }
        for (sink, _, _) in &rows {
            if let Some(w) = self.wakes.get(sink) {
                w.notify_one();
            }
        }
        self.repeat_wake.notify_one();
    }

    /// Alerts whose check is gone or no longer has `alert:`: resolve what fires, forget them.
    async fn reconcile(&self) {
        let now = (self.clock)();
        let mut inner = self.inner.lock().await;
        let orphans: Vec<(String, Stored)> = inner
            .checks
            .iter()
            .filter(|(name, _)| self.config.check(name).is_none_or(|c| c.alert.is_none()))
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        for (name, before) in orphans {
            let mut after = before.clone();
            let transitions = after.alerts.resolve_all(now);
            let subject = Subject {
                name: &name,
                kind: &before.check_kind,
                description: None,
                systems: Vec::new(),
                alert: None,
            };
            tracing::info!(check = %name, "alerting stopped for this check: resolving its alerts");
            self.commit(&mut inner, &subject, None, after, &transitions, now)
                .await;
        }
    }

    /// Export the restored state, and zeros for checks that alert and for every sink, so
    /// rules find the series before anything happens.
    async fn announce(&self) {
        for sink in &self.config.sinks {
            let name = [sink.name.as_str()];
            self.metrics.notifications.with_label_values(&name);
            self.metrics.notifications_failed.with_label_values(&name);
            let pending = self.state.outbox_pending(&sink.name).await.unwrap_or(0);
            self.metrics
                .outbox_pending
                .with_label_values(&name)
                .set(pending);
        }
        let inner = self.inner.lock().await;
        for check in self.config.checks.iter().filter(|c| c.alert.is_some()) {
            let alerts = inner
                .checks
                .get(&check.name)
                .map(|s| s.alerts.clone())
                .unwrap_or_default();
            self.set_gauges(&check.name, &alerts);
        }
    }

    fn set_gauges(&self, check: &str, alerts: &CheckAlerts) {
        let drift = alerts.firing(AlertKind::Drift);
        for severity in Severity::ALL {
            let on = match severity {
                Severity::Error => alerts.broken.is_firing(),
                s => drift == Some(s),
            };
            self.metrics
                .alert_firing
                .with_label_values(&[check, severity.as_str()])
                .set(i64::from(on));
        }
    }

    /// Send the repeats that are due, between runs.
    pub async fn send_due_repeats(&self) {
        let now = (self.clock)();
        let mut inner = self.inner.lock().await;
        for check in self.config.checks.iter() {
            let Some(alert) = &check.alert else {
                continue;
            };
            let Some(before) = inner.checks.get(&check.name).cloned() else {
                continue;
            };
            let mut after = before.clone();
            let transitions = after.alerts.due_repeats(now, &rules(alert));
            if transitions.is_empty() {
                continue;
            }
            let run = match inner.last_runs.get(&check.name) {
                Some(r) => Some(r.clone()),
                None => self.state.latest(&check.name).await.ok().flatten(),
            };
            let subject = Subject::of(check);
            self.commit(&mut inner, &subject, run.as_ref(), after, &transitions, now)
                .await;
        }
    }

    /// Holds the engine weakly: an engine dropped without [`Alerts::shutdown`] is not kept
    /// alive by its own timer.
    async fn repeat_loop(
        this: std::sync::Weak<Alerts>,
        mut stop: watch::Receiver<Option<tokio::time::Instant>>,
    ) {
        loop {
            let Some(engine) = this.upgrade() else {
                return;
            };
            engine.repeat_once(&mut stop).await;
            if stop.borrow().is_some() {
                return;
            }
        }
    }

    /// Wait for the earliest repeat (or a change, or the stop), then send what is due.
    async fn repeat_once(&self, stop: &mut watch::Receiver<Option<tokio::time::Instant>>) {
        let next = {
            let inner = self.inner.lock().await;
            self.config
                .checks
                .iter()
                .filter_map(|c| {
                    let rules = rules(c.alert.as_ref()?);
                    inner.checks.get(&c.name)?.alerts.next_repeat(&rules)
                })
                .min()
        };
        let wait = next
            .map(|t| (t - (self.clock)()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(REPEAT_POLL)
            .min(REPEAT_POLL);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = self.repeat_wake.notified() => return,
            _ = stop.wait_for(|s| s.is_some()) => return,
        }
        self.send_due_repeats().await;
    }

    /// Every alert the agent holds state for, for the API.
    pub async fn views(&self) -> Vec<AlertView> {
        let inner = self.inner.lock().await;
        let mut names: Vec<&String> = inner.checks.keys().collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let s = &inner.checks[name];
            for kind in [AlertKind::Drift, AlertKind::Broken] {
                let a = s.alerts.alert(kind);
                if a.phase == Phase::Inactive {
                    continue;
                }
                out.push(AlertView {
                    check: name.clone(),
                    alert: kind,
                    phase: a.phase,
                    severity: a.severity,
                    since: a.since.map(rfc3339),
                    fired_at: a.fired_at.map(rfc3339),
                    last_notified: a.last_notified.map(rfc3339),
                    resolved_at: a.resolved_at.map(rfc3339),
                    dedup_key: dedup_key(name, kind),
                });
            }
        }
        out
    }

    /// Stop: let the workers deliver what is due for at most `flush`, then end them; what is
    /// still pending stays in the outbox for the next start.
    pub async fn shutdown(&self, flush: Duration) {
        let deadline = tokio::time::Instant::now() + flush;
        self.stop.send_replace(Some(deadline));
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut tasks) = tasks else {
            return;
        };
        // A worker mid-request may overrun the deadline by its timeout; do not wait for it.
        let grace = tokio::time::sleep_until(deadline + Duration::from_secs(1));
        tokio::pin!(grace);
        loop {
            tokio::select! {
                next = tasks.join_next() => if next.is_none() { break },
                _ = &mut grace => {
                    tasks.abort_all();
                    break;
                }
            }
        }
        let mut left = 0;
        for sink in &self.config.sinks {
            left += self.state.outbox_pending(&sink.name).await.unwrap_or(0);
        }
        if left > 0 {
            tracing::warn!(
                pending = left,
                "notifications still pending at shutdown: they are delivered when the agent starts again"
            );
        }
    }
}

#[cfg(test)]
mod tests;
