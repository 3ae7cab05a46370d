//! The alert state machine of one check, as pure data: fed the status of each run and the
//! time, it says which notifications are due. It owns no clock, no I/O and no sinks, so every
//! rule is tested here with plain timestamps.
//!
//! A check has two alerts with their own identity: `drift` (the systems disagree beyond a
//! threshold) and `broken` (the check itself keeps failing). Drift goes `inactive` ->
//! `pending` on a warning/critical run -> `firing` once the breach has held for `for` ->
//! `resolved` on an ok run; a change between warning and critical while firing updates the
//! same alert. An erroring run leaves drift exactly as it was (the finding is unknown) and
//! counts towards `broken`, which fires after `error_after` errors in a row and resolves on
//! the next run that finishes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::Status;

/// Which of a check's two alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// The systems disagree beyond a threshold.
    Drift,
    /// The check keeps failing, so drift is not being watched.
    Broken,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Drift => "drift",
            AlertKind::Broken => "broken",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
    /// A broken check.
    Error,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Warning, Severity::Critical, Severity::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
            Severity::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    #[default]
    Inactive,
    /// Breached, waiting for `for` to pass.
    Pending,
    Firing,
    /// Was firing, then cleared; behaves as inactive.
    Resolved,
}

/// Why a notification is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Fired,
    Escalated,
    Deescalated,
    /// `repeat_interval` passed while still firing.
    Repeated,
    Resolved,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Fired => "fired",
            Reason::Escalated => "escalated",
            Reason::Deescalated => "deescalated",
            Reason::Repeated => "repeated",
            Reason::Resolved => "resolved",
        }
    }
}

/// One alert of one check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub phase: Phase,
    /// The current severity while pending or firing, the last one once resolved.
    pub severity: Option<Severity>,
    /// When the breach began (the first breached run, or the first failed run): `startsAt`.
    pub since: Option<DateTime<Utc>>,
    pub fired_at: Option<DateTime<Utc>>,
    pub last_notified: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Alert {
    pub fn is_firing(&self) -> bool {
        self.phase == Phase::Firing
    }

    fn fire(&mut self, severity: Severity, now: DateTime<Utc>) {
        self.phase = Phase::Firing;
        self.severity = Some(severity);
        self.fired_at = Some(now);
        self.last_notified = Some(now);
        self.resolved_at = None;
    }
}

/// The rules of one check's `alert:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// How long a breach must hold before the alert fires.
    pub for_: Duration,
    pub repeat_interval: Option<Duration>,
    /// Errors in a row that make the check `broken`.
    pub error_after: u32,
}

/// A notification the state machine decided on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub alert: AlertKind,
    pub reason: Reason,
    pub severity: Severity,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Both alerts of a check, as persisted in the state store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckAlerts {
    pub drift: Alert,
    pub broken: Alert,
    /// Runs in a row that ended in error.
    pub consecutive_errors: u32,
    /// When the current streak of errors began.
    pub errors_since: Option<DateTime<Utc>>,
}

impl CheckAlerts {
    pub fn alert(&self, kind: AlertKind) -> &Alert {
        match kind {
            AlertKind::Drift => &self.drift,
            AlertKind::Broken => &self.broken,
        }
    }

    fn alert_mut(&mut self, kind: AlertKind) -> &mut Alert {
        match kind {
            AlertKind::Drift => &mut self.drift,
            AlertKind::Broken => &mut self.broken,
        }
    }

    /// Feed one finished run: `status` of the run that started `at`, observed at `now`.
    /// Returns the notifications due, in the order they must be delivered.
    pub fn observe(
        &mut self,
        status: Status,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        rules: &Rules,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        if status == Status::Error {
            self.consecutive_errors = self.consecutive_errors.saturating_add(1);
            let since = *self.errors_since.get_or_insert(at);
            if self.consecutive_errors >= rules.error_after.max(1) && !self.broken.is_firing() {
                self.broken.since = Some(since);
                self.broken.fire(Severity::Error, now);
                out.push(Transition {
                    alert: AlertKind::Broken,
                    reason: Reason::Fired,
                    severity: Severity::Error,
                    starts_at: since,
                    ends_at: None,
                });
            }
            // The drift finding is unknown: drift neither resolves nor escalates.
            out.extend(self.due_repeats(now, rules));
            return out;
        }

        self.consecutive_errors = 0;
        self.errors_since = None;
        if self.broken.is_firing() {
            out.push(resolve(&mut self.broken, AlertKind::Broken, at));
        }

        let drift = &mut self.drift;
        match status {
            Status::Ok | Status::Error => match drift.phase {
                Phase::Firing => out.push(resolve(drift, AlertKind::Drift, at)),
                // A breach that never held for `for` ends silently.
                Phase::Pending => {
                    drift.phase = Phase::Inactive;
                    drift.since = None;
                    drift.severity = None;
                }
                Phase::Inactive | Phase::Resolved => {}
            },
            Status::Warning | Status::Critical => {
                let severity = if status == Status::Critical {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                match drift.phase {
                    Phase::Inactive | Phase::Resolved => {
                        drift.phase = Phase::Pending;
                        drift.since = Some(at);
                        drift.severity = Some(severity);
                        drift.fired_at = None;
                        drift.last_notified = None;
                        drift.resolved_at = None;
                    }
                    Phase::Pending => drift.severity = Some(severity),
                    Phase::Firing => {
                        let before = drift.severity;
                        if before != Some(severity) {
                            drift.severity = Some(severity);
                            drift.last_notified = Some(now);
                            out.push(Transition {
                                alert: AlertKind::Drift,
                                reason: if severity == Severity::Critical {
                                    Reason::Escalated
                                } else {
                                    Reason::Deescalated
                                },
                                severity,
                                starts_at: drift.since.unwrap_or(at),
                                ends_at: None,
                            });
                        }
                    }
                }
                if drift.phase == Phase::Pending {
                    let since = drift.since.unwrap_or(at);
                    let held = (at - since).to_std().unwrap_or(Duration::ZERO);
                    if held >= rules.for_ {
                        drift.fire(severity, now);
                        out.push(Transition {
                            alert: AlertKind::Drift,
                            reason: Reason::Fired,
                            severity,
                            starts_at: since,
                            ends_at: None,
                        });
                    }
                }
            }
        }
        // An alert notified just now is not due again.
        let repeats: Vec<Transition> = self
            .due_repeats(now, rules)
            .into_iter()
            .filter(|r| !out.iter().any(|t| t.alert == r.alert))
            .collect();
        out.extend(repeats);
        out
    }

    /// Re-notifications of firing alerts whose `repeat_interval` has passed at `now`.
    pub fn due_repeats(&mut self, now: DateTime<Utc>, rules: &Rules) -> Vec<Transition> {
        let Some(repeat) = rules.repeat_interval else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for kind in [AlertKind::Drift, AlertKind::Broken] {
            let alert = self.alert_mut(kind);
            if !alert.is_firing() {
                continue;
            }
            let last = alert.last_notified.or(alert.fired_at).unwrap_or(now);
            if (now - last).to_std().unwrap_or(Duration::ZERO) >= repeat {
                alert.last_notified = Some(now);
                out.push(Transition {
                    alert: kind,
                    reason: Reason::Repeated,
                    severity: alert.severity.unwrap_or(Severity::Warning),
                    starts_at: alert.since.unwrap_or(last),
                    ends_at: None,
                });
            }
        }
        out
    }

    /// When the next repeat falls due, if any alert is firing with a `repeat_interval`.
    pub fn next_repeat(&self, rules: &Rules) -> Option<DateTime<Utc>> {
        let repeat = chrono::Duration::from_std(rules.repeat_interval?).ok()?;
        [&self.drift, &self.broken]
            .into_iter()
            .filter(|a| a.is_firing())
            .filter_map(|a| a.last_notified.or(a.fired_at))
            .map(|t| t + repeat)
            .min()
    }

    /// Resolve whatever is firing (the check or its `alert:` left the configuration).
    pub fn resolve_all(&mut self, now: DateTime<Utc>) -> Vec<Transition> {
        let mut out = Vec::new();
        for kind in [AlertKind::Drift, AlertKind::Broken] {
            let alert = self.alert_mut(kind);
            if alert.is_firing() {
                out.push(resolve(alert, kind, now));
            }
        }
        out
    }

    /// The severity firing for `kind`, if it is.
    pub fn firing(&self, kind: AlertKind) -> Option<Severity> {
        let a = self.alert(kind);
        a.is_firing().then_some(a.severity).flatten()
    }
}

fn resolve(alert: &mut Alert, kind: AlertKind, at: DateTime<Utc>) -> Transition {
    alert.phase = Phase::Resolved;
    alert.resolved_at = Some(at);
    Transition {
        alert: kind,
        reason: Reason::Resolved,
        severity: alert.severity.unwrap_or(Severity::Warning),
        starts_at: alert.since.unwrap_or(at),
        ends_at: Some(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    fn rules(for_secs: u64) -> Rules {
        Rules {
            for_: Duration::from_secs(for_secs),
            repeat_interval: None,
            error_after: 3,
        }
    }

    /// Feed runs `(seconds, status)`; returns each run's transitions as (alert, reason, severity).
    fn feed(
        a: &mut CheckAlerts,
        rules: &Rules,
        runs: &[(i64, Status)],
    ) -> Vec<Vec<(AlertKind, Reason, Severity)>> {
        runs.iter()
            .map(|(s, status)| {
                a.observe(*status, t(*s), t(*s), rules)
                    .into_iter()
                    .map(|t| (t.alert, t.reason, t.severity))
                    .collect()
            })
            .collect()
    }

    use AlertKind::{Broken, Drift};
    use Status::{Critical, Error, Ok, Warning};

    #[test]
    fn a_breach_is_pending_until_it_has_held_for_the_for_duration() {
        let mut a = CheckAlerts::default();
        let got = feed(
            &mut a,
            &rules(600),
            &[(0, Warning), (300, Warning), (599, Warning)],
        );
        assert_eq!(got, [vec![], vec![], vec![]]);
        assert_eq!(a.drift.phase, Phase::Pending);
        let got = feed(&mut a, &rules(600), &[(600, Warning)]);
        assert_eq!(got[0], vec![(Drift, Reason::Fired, Severity::Warning)]);
        assert_eq!(a.drift.phase, Phase::Firing);
        assert_eq!(
            a.drift.since,
            Some(t(0)),
            "startsAt is when the breach began"
        );
    }

    #[test]
    fn with_for_zero_the_first_breached_run_fires() {
        let mut a = CheckAlerts::default();
        let got = feed(&mut a, &rules(0), &[(0, Critical)]);
        assert_eq!(got[0], vec![(Drift, Reason::Fired, Severity::Critical)]);
        assert_eq!(a.firing(Drift), Some(Severity::Critical));
    }

    #[test]
    fn a_pending_breach_that_clears_never_notifies() {
        let mut a = CheckAlerts::default();
        let got = feed(
            &mut a,
            &rules(600),
            &[(0, Warning), (300, Ok), (400, Warning)],
        );
        assert!(got.iter().all(Vec::is_empty), "{got:?}");
        assert_eq!(a.drift.phase, Phase::Pending);
        assert_eq!(a.drift.since, Some(t(400)), "the `for` clock restarted");
    }

    #[test]
    fn a_firing_alert_stays_quiet_while_the_breach_holds_and_resolves_once() {
        let mut a = CheckAlerts::default();
        let got = feed(
            &mut a,
            &rules(0),
            &[
                (0, Warning),
                (60, Warning),
                (120, Warning),
                (180, Ok),
                (240, Ok),
            ],
        );
        assert_eq!(got[0], vec![(Drift, Reason::Fired, Severity::Warning)]);
        assert_eq!(got[1], vec![]);
        assert_eq!(got[2], vec![]);
        assert_eq!(got[3], vec![(Drift, Reason::Resolved, Severity::Warning)]);
        assert_eq!(got[4], vec![]);
        assert_eq!(a.drift.phase, Phase::Resolved);
        assert_eq!(a.drift.resolved_at, Some(t(180)));
    }

    #[test]
    fn escalation_and_deescalation_update_the_same_alert() {
        let mut a = CheckAlerts::default();
        let got = feed(
            &mut a,
            &rules(0),
            &[
                (0, Warning),
                (60, Critical),
                (120, Critical),
                (180, Warning),
                (240, Ok),
            ],
        );
        assert_eq!(got[0], vec![(Drift, Reason::Fired, Severity::Warning)]);
        assert_eq!(got[1], vec![(Drift, Reason::Escalated, Severity::Critical)]);
        assert_eq!(got[2], vec![]);
        assert_eq!(
            got[3],
            vec![(Drift, Reason::Deescalated, Severity::Warning)]
        );
        assert_eq!(got[4], vec![(Drift, Reason::Resolved, Severity::Warning)]);
        // One breach, one start: the update does not begin a new alert.
        assert_eq!(a.drift.since, Some(t(0)));
    }

    #[test]
    fn escalation_while_pending_fires_at_the_latest_severity() {
        let mut a = CheckAlerts::default();
        let got = feed(
            &mut a,
            &rules(120),
            &[(0, Warning), (60, Critical), (120, Critical)],
        );
        assert_eq!(got[2], vec![(Drift, Reason::Fired, Severity::Critical)]);
    }

    #[test]
    fn repeat_interval_renotifies_a_firing_alert_and_only_a_firing_one() {
        let mut a = CheckAlerts::default();
        let r = Rules {
            repeat_interval: Some(Duration::from_secs(3600)),
            ..rules(0)
        };
        let got = feed(
            &mut a,
            &r,
            &[(0, Critical), (1800, Critical), (3600, Critical)],
        );
        assert_eq!(got[1], vec![]);
        assert_eq!(got[2], vec![(Drift, Reason::Repeated, Severity::Critical)]);
        // Between runs, the timer asks too.
        assert_eq!(a.next_repeat(&r), Some(t(7200)));
        assert!(a.due_repeats(t(7199), &r).is_empty());
        let due = a.due_repeats(t(7200), &r);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].starts_at, t(0));
        assert_eq!(a.next_repeat(&r), Some(t(10800)));
        // Resolved: nothing more to repeat, the resolve is sent.
        let got = feed(&mut a, &r, &[(7300, Ok)]);
        assert_eq!(got[0], vec![(Drift, Reason::Resolved, Severity::Critical)]);
        assert_eq!(a.next_repeat(&r), None);
        assert!(a.due_repeats(t(20000), &r).is_empty());
    }

    #[test]
    fn an_escalation_counts_as_the_latest_notification_for_repeats() {
        let mut a = CheckAlerts::default();
        let r = Rules {
            repeat_interval: Some(Duration::from_secs(100)),
            ..rules(0)
        };
        let got = feed(
            &mut a,
            &r,
            &[(0, Warning), (150, Critical), (200, Critical)],
        );
        assert_eq!(got[1], vec![(Drift, Reason::Escalated, Severity::Critical)]);
        assert_eq!(got[2], vec![]);
        assert_eq!(a.next_repeat(&r), Some(t(250)));
    }

    #[test]
    fn errors_in_a_row_make_the_check_broken_and_the_next_success_resolves_it() {
        let mut a = CheckAlerts::default();
        let got = feed(
            &mut a,
            &rules(0),
            &[
                (0, Error),
                (60, Error),
                (120, Ok),
                (180, Error),
                (240, Error),
                (300, Error),
                (360, Error),
                (420, Ok),
            ],
        );
        assert_eq!(
            got[0..3],
            [vec![], vec![], vec![]],
            "a success resets the count"
        );
        assert_eq!(got[3..5], [vec![], vec![]]);
        assert_eq!(got[5], vec![(Broken, Reason::Fired, Severity::Error)]);
        assert_eq!(got[6], vec![], "fires once per streak");
        assert_eq!(got[7], vec![(Broken, Reason::Resolved, Severity::Error)]);
        assert_eq!(
            a.broken.since,
            Some(t(180)),
            "startsAt is the first error of the streak"
        );
        assert_eq!(a.consecutive_errors, 0);
    }

    #[test]
    fn an_erroring_run_neither_resolves_nor_escalates_drift() {
        let mut a = CheckAlerts::default();
        let r = Rules {
            error_after: 2,
            ..rules(0)
        };
        let got = feed(&mut a, &r, &[(0, Warning), (60, Error)]);
        assert_eq!(got[0], vec![(Drift, Reason::Fired, Severity::Warning)]);
        assert_eq!(got[1], vec![]);
        assert_eq!(a.firing(Drift), Some(Severity::Warning));
        let got = feed(&mut a, &r, &[(120, Error)]);
        assert_eq!(got[0], vec![(Broken, Reason::Fired, Severity::Error)]);
        assert_eq!(a.firing(Drift), Some(Severity::Warning), "drift untouched");
        assert_eq!(a.drift.since, Some(t(0)));
        // The next successful run resolves `broken` and goes on grading drift.
        let got = feed(&mut a, &r, &[(180, Critical)]);
        assert_eq!(
            got[0],
            vec![
                (Broken, Reason::Resolved, Severity::Error),
                (Drift, Reason::Escalated, Severity::Critical)
            ]
        );
    }

    #[test]
    fn an_error_does_not_advance_a_pending_breach() {
        let mut a = CheckAlerts::default();
        let got = feed(&mut a, &rules(100), &[(0, Warning), (150, Error)]);
        assert_eq!(got[1], vec![]);
        assert_eq!(a.drift.phase, Phase::Pending);
    }

    #[test]
    fn restored_state_continues_the_same_alert() {
        let mut a = CheckAlerts::default();
        feed(&mut a, &rules(0), &[(0, Critical)]);
        // Persisted, the agent restarts, loads it back.
        let json = serde_json::to_string(&a).unwrap();
        let mut b: CheckAlerts = serde_json::from_str(&json).unwrap();
        assert_eq!(a, b);
        let got = feed(&mut b, &rules(0), &[(60, Critical), (120, Ok)]);
        assert_eq!(got[0], vec![], "no second trigger after a restart");
        assert_eq!(got[1], vec![(Drift, Reason::Resolved, Severity::Critical)]);
    }

    #[test]
    fn removing_the_alert_resolves_what_fires() {
        let mut a = CheckAlerts::default();
        feed(
            &mut a,
            &rules(0),
            &[(0, Critical), (10, Error), (20, Error), (30, Error)],
        );
        let got: Vec<_> = a
            .resolve_all(t(40))
            .into_iter()
            .map(|t| (t.alert, t.reason))
            .collect();
        assert_eq!(
            got,
            vec![(Drift, Reason::Resolved), (Broken, Reason::Resolved)]
        );
    }
}
