//! When checks run: parsing of schedule expressions (crontab, macros, `@every`) and the loop
//! that fires every check on its own schedule.
//!
//! The scheduler owns timing only: it never overlaps two runs of one check (a tick that falls
//! while the previous run is still going is skipped and counted), adds a small random start
//! jitter so that many checks on the same minute do not hit a system in the same millisecond,
//! and leaves per-system load limits to `system/` (every query takes one of the system's
//! `max_connections` permits). It sleeps with `tokio::time`, so tests can drive it on a
//! paused clock.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A parsed `schedule:` value.
#[derive(Clone, Debug)]
pub enum Schedule {
    /// A crontab expression (5 fields, or 6 with seconds first, or a macro), evaluated in UTC.
    Cron {
        source: String,
        schedule: Box<cron::Schedule>,
    },
    /// `@every 30s`: a fixed interval from the agent's start.
    Every(Duration),
}

impl Schedule {
    /// Parse a schedule as users write it. Errors are messages for the config loader.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("@every") {
            let rest = rest.trim();
            let every = humantime::parse_duration(rest).map_err(|e| {
                format!("invalid interval `{rest}` in `@every`: {e} (write e.g. `@every 30s` or `@every 5m`)")
            })?;
            if every < Duration::from_secs(1) {
                return Err(format!(
                    "interval `{rest}` is shorter than one second; use at least `@every 1s`"
                ));
            }
            return Ok(Schedule::Every(every));
        }
        let expr = match text {
            "@yearly" | "@annually" => "0 0 0 1 1 *".to_string(),
            "@monthly" => "0 0 0 1 * *".to_string(),
            "@weekly" => "0 0 0 * * SUN".to_string(),
            "@daily" | "@midnight" => "0 0 0 * * *".to_string(),
            "@hourly" => "0 0 * * * *".to_string(),
            t if t.starts_with('@') => {
                return Err(format!(
                    "unknown schedule macro `{t}` (available: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>)"
                ))
            }
            t => {
                let fields: Vec<&str> = t.split_whitespace().collect();
                let (seconds, rest) = match fields.len() {
                    5 => ("0", &fields[..]),
                    6 => (fields[0], &fields[1..]),
                    n => {
                        return Err(format!(
                            "invalid cron expression `{t}`: expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found {n}"
                        ))
                    }
                };
                for (field, (name, lo, hi)) in rest.iter().zip(FIELD_RANGES) {
                    check_range(field, name, lo, hi)
                        .map_err(|e| format!("invalid cron expression `{t}`: {e}"))?;
                }
                if fields.len() == 6 {
                    check_range(seconds, "second", 0, 59)
                        .map_err(|e| format!("invalid cron expression `{t}`: {e}"))?;
                }
                let dow = crontab_day_of_week(rest[4])
                    .map_err(|e| format!("invalid cron expression `{t}`: {e}"))?;
                format!(
                    "{seconds} {} {} {} {} {dow}",
                    rest[0], rest[1], rest[2], rest[3]
                )
            }
        };
        let schedule = cron::Schedule::from_str(&expr).map_err(|e| {
            // The crate's message is multi-line with a caret under the (rewritten) expression;
            // its last line is the reason.
            let text_e = e.to_string();
            let reason = text_e
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty() && l.trim() != "^")
                .unwrap_or("")
                .trim()
                .trim_end_matches('.');
            format!("invalid cron expression `{text}`: {reason}")
        })?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err(format!("cron expression `{text}` never fires"));
        }
        Ok(Schedule::Cron {
            source: text.to_string(),
            schedule: Box::new(schedule),
        })
    }

    /// The first time strictly after `after` at which the schedule fires.
    pub fn next_after(&self, after: DateTime<Utc>, started: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Cron { schedule, .. } => schedule
                .after(&after)
                .next()
                .unwrap_or(after + chrono::Duration::days(36500)),
            Schedule::Every(every) => {
                let every = chrono::Duration::from_std(*every).unwrap_or(chrono::Duration::MAX);
                if after < started {
                    return started;
                }
                let elapsed = after - started;
                let n = elapsed.num_milliseconds() / every.num_milliseconds().max(1) + 1;
                started + every * n as i32
            }
        }
    }

    /// The usual time between two runs (for jitter and staleness).
    pub fn nominal_interval(&self) -> Duration {
        match self {
            Schedule::Every(every) => *every,
            Schedule::Cron { schedule, .. } => {
                let mut it = schedule.upcoming(Utc);
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::from_secs(60)),
                    _ => Duration::from_secs(60),
                }
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Cron { source, .. } => f.write_str(source),
            Schedule::Every(d) => write!(f, "@every {}", humantime::format_duration(*d)),
        }
    }
}

/// Name and range of the five crontab fields (day of week is checked on translation).
const FIELD_RANGES: [(&str, u32, u32); 4] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
];

/// Numbers in a crontab field must be in range; the `cron` crate's own messages for this are
/// misleading ("Hours must be less than 23").
fn check_range(field: &str, name: &str, lo: u32, hi: u32) -> Result<(), String> {
    for item in field.split(',') {
        let (range, step) = item.split_once('/').unwrap_or((item, ""));
        if let Ok(step) = step.parse::<u32>() {
            if step == 0 || step > hi {
                return Err(format!("{name} step `{step}` is out of range 1-{hi}"));
            }
        }
        for n in range.split('-') {
            if let Ok(v) = n.parse::<u32>() {
                if v < lo || v > hi {
                    return Err(format!("{name} `{v}` is out of range {lo}-{hi}"));
                }
            }
        }
    }
    Ok(())
}

/// The `cron` crate numbers days of the week 1-7 from Sunday; crontab numbers them 0-7 with
/// both 0 and 7 for Sunday. Translate a crontab day-of-week field into day names, which both
/// agree on, so `1-5` keeps meaning Monday to Friday.
fn crontab_day_of_week(field: &str) -> Result<String, String> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let day = |s: &str| -> Result<usize, String> {
        if let Ok(n) = s.parse::<usize>() {
            return if n <= 7 {
                Ok(n % 7)
            } else {
                Err(format!("day of week `{n}` is out of range 0-7"))
            };
        }
        let lower = s.to_ascii_lowercase();
        NAMES
            .iter()
            .position(|name| lower.starts_with(&name.to_ascii_lowercase()) && lower.len() >= 3)
            .ok_or_else(|| format!("`{s}` is not a day of the week (0-7 or SUN-SAT)"))
    };
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<usize>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("invalid step `{s}` in day of week"))?,
            ),
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            let lo = day(a)?;
            // `5-7` means Friday to Sunday: 7 closes a range as 7, not 0.
            let hi = if b == "7" { 7 } else { day(b)? };
            if hi < lo {
                return Err(format!("day-of-week range `{range}` runs backwards"));
            }
            (lo, hi)
        } else {
            let d = day(range)?;
            (d, if step > 1 { 6 } else { d })
        };
        let mut d = lo;
        while d <= hi {
            days[d % 7] = true;
            d += step;
        }
    }
    let names: Vec<&str> = (0..7).filter(|d| days[*d]).map(|d| NAMES[d]).collect();
    Ok(names.join(","))
}

/// A uniformly random start delay in `[0, min(interval / 10, 10s))`, so checks sharing a
/// schedule spread out instead of arriving together.
pub fn jitter(interval: Duration) -> Duration {
    let cap = (interval / 10).min(Duration::from_secs(10));
    if cap.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(fastrand::u64(0..cap.as_millis().max(1) as u64))
}

/// The wall clock the scheduler reads: `Utc::now` in the agent; tests pass a clock driven by
/// tokio's paused time.
pub type Clock = fn() -> DateTime<Utc>;

/// Runs `tick` on `schedule` until `shutdown` resolves. Missed ticks (because the previous run
/// was still going) are reported to `on_skip`, never run late or concurrently.
pub async fn drive<F, Fut>(
    schedule: Arc<Schedule>,
    run_now: bool,
    clock: Clock,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    mut tick: F,
    on_skip: impl Fn(u64),
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = clock();
    let interval = schedule.nominal_interval();
    let mut due = if run_now {
        started
    } else {
        schedule.next_after(started, started)
    };
    loop {
        let wait = (due - clock()).to_std().unwrap_or(Duration::ZERO) + jitter(interval);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = tick() => {}
            _ = shutdown.changed() => return,
        }
        // Ticks that fell due while this run was going are skipped, not queued.
        let now = clock();
        let mut next = schedule.next_after(due, started);
        let mut skipped = 0;
        while next <= now {
            skipped += 1;
            next = schedule.next_after(next, started);
        }
        if skipped > 0 {
            on_skip(skipped);
        }
        due = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike};

    fn next(expr: &str, after: DateTime<Utc>) -> DateTime<Utc> {
        Schedule::parse(expr).unwrap().next_after(after, after)
    }

    #[test]
    fn five_field_crontab_gets_a_seconds_field() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 10, 2, 30).unwrap();
        assert_eq!(
            next("*/5 * * * *", t),
            Utc.with_ymd_and_hms(2026, 11, 21, 10, 5, 0).unwrap()
        );
        assert_eq!(
            next("30 */5 * * * *", t),
            Utc.with_ymd_and_hms(2026, 11, 21, 10, 5, 30).unwrap()
        );
    }

    #[test]
    fn crontab_weekdays_mean_monday_to_friday() {
        // 2026-11-21 is a Saturday.
        let sat = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let n = next("0 9 * * 1-5", sat);
        assert_eq!(n.weekday(), chrono::Weekday::Mon);
        assert_eq!(n.hour(), 9);
        assert_eq!(next("0 9 * * 0", sat).weekday(), chrono::Weekday::Sun);
        assert_eq!(next("0 9 * * 7", sat).weekday(), chrono::Weekday::Sun);
        assert_eq!(next("0 9 * * 5-7", sat).weekday(), chrono::Weekday::Sun);
        assert_eq!(next("0 9 * * 6", sat).weekday(), chrono::Weekday::Sat);
        assert_eq!(next("0 9 * * MON", sat).weekday(), chrono::Weekday::Mon);
    }

    #[test]
    fn macros_and_every() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 10, 2, 30).unwrap();
        assert_eq!(
            next("@hourly", t),
            Utc.with_ymd_and_hms(2026, 11, 21, 11, 0, 0).unwrap()
        );
        assert_eq!(
            next("@daily", t),
            Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
        );
        let every = Schedule::parse("@every 30s").unwrap();
        assert_eq!(every.nominal_interval(), Duration::from_secs(30));
        assert_eq!(every.next_after(t, t), t + chrono::Duration::seconds(30));
        assert_eq!(
            every.next_after(t + chrono::Duration::seconds(31), t),
            t + chrono::Duration::seconds(60)
        );
        assert_eq!(
            Schedule::parse("*/5 * * * *").unwrap().nominal_interval(),
            Duration::from_secs(300)
        );
    }

    /// A wall clock that follows tokio's (paused) time.
    fn virtual_now() -> DateTime<Utc> {
        use std::sync::OnceLock;
        static ORIGIN: OnceLock<(DateTime<Utc>, tokio::time::Instant)> = OnceLock::new();
        let (wall, mono) = ORIGIN.get_or_init(|| (Utc::now(), tokio::time::Instant::now()));
        *wall + chrono::Duration::from_std(tokio::time::Instant::now() - *mono).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_run_is_never_overlapped_and_missed_ticks_are_counted() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let running = Arc::new(AtomicU64::new(0));
        let runs = Arc::new(AtomicU64::new(0));
        let skipped = Arc::new(AtomicU64::new(0));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let schedule = Arc::new(Schedule::parse("@every 10s").unwrap());
        let task = {
            let (running, runs, skipped) = (running.clone(), runs.clone(), skipped.clone());
            tokio::spawn(async move {
                drive(
                    schedule,
                    true,
                    virtual_now,
                    stop_rx,
                    || {
                        let (running, runs) = (running.clone(), runs.clone());
                        async move {
                            assert_eq!(
                                running.fetch_add(1, Ordering::SeqCst),
                                0,
                                "runs overlapped"
                            );
                            runs.fetch_add(1, Ordering::SeqCst);
                            // Each run takes 25s against a 10s interval.
                            tokio::time::sleep(Duration::from_secs(25)).await;
                            running.fetch_sub(1, Ordering::SeqCst);
                        }
                    },
                    |n| {
                        skipped.fetch_add(n, Ordering::SeqCst);
                    },
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_secs(119)).await;
        stop.send(true).unwrap();
        task.await.unwrap();
        let (runs, skipped) = (runs.load(Ordering::SeqCst), skipped.load(Ordering::SeqCst));
        // Runs start at 0, 30, 60, 90 (+ jitter); the two ticks that fall inside each run
        // (10 and 20, 40 and 50, ...) are skipped.
        assert_eq!(runs, 4, "runs");
        assert_eq!(skipped, 8, "skipped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cron_schedule_waits_for_its_tick_unless_told_to_run_now() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let runs = Arc::new(AtomicU64::new(0));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let schedule = Arc::new(Schedule::parse("@yearly").unwrap());
        let task = {
            let runs = runs.clone();
            tokio::spawn(async move {
                drive(
                    schedule,
                    false,
                    virtual_now,
                    stop_rx,
                    || {
                        let runs = runs.clone();
                        async move {
                            runs.fetch_add(1, Ordering::SeqCst);
                        }
                    },
                    |_| {},
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_secs(3600)).await;
        stop.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn bad_expressions_say_why() {
        let e = Schedule::parse("*/5 * * *").unwrap_err();
        assert!(e.contains("expected 5 fields"), "{e}");
        let e = Schedule::parse("61 * * * *").unwrap_err();
        assert_eq!(
            e,
            "invalid cron expression `61 * * * *`: minute `61` is out of range 0-59"
        );
        let e = Schedule::parse("0 25 * * *").unwrap_err();
        assert_eq!(
            e,
            "invalid cron expression `0 25 * * *`: hour `25` is out of range 0-23"
        );
        let e = Schedule::parse("0 0 0 * 13 *").unwrap_err();
        assert_eq!(
            e,
            "invalid cron expression `0 0 0 * 13 *`: month `13` is out of range 1-12"
        );
        assert!(Schedule::parse("@fortnightly")
            .unwrap_err()
            .contains("unknown schedule macro"));
        assert!(Schedule::parse("@every soon")
            .unwrap_err()
            .contains("invalid interval"));
        assert!(Schedule::parse("0 9 * * 8")
            .unwrap_err()
            .contains("out of range"));
    }
}
