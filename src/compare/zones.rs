//! Time zone rules as data, for engines that cannot convert a zone themselves (MariaDB and
//! MySQL need their time zone tables loaded, which many servers lack, and even then only
//! convert 1970-2038). The agent's own zone database (chrono-tz, the IANA data) is turned into
//! the wall-time boundaries at which a zone's UTC offset changes, so an engine can read a
//! zone-less wall time as UTC with plain comparisons and arithmetic.
//!
//! A wall time `L` is read with the offset of the last boundary at or before it. Boundaries
//! are in wall time after the change (`T + new offset` for a change at instant `T`), which
//! gives exactly the rules of [`super::normalize::local_to_utc`]: a repeated wall time is the
//! later instant (the new, smaller offset applies from the start of the repeated hour), and a
//! wall time in a skipped hour keeps the offset in force before it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};

/// Wall times from this year (inclusive)...
pub const FIRST_YEAR: i32 = 1800;
/// ...to this one (exclusive) are converted; others make the check fail rather than guess.
pub const END_YEAR: i32 = 2100;

/// Where a zone's UTC offset changes, in wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Offset (seconds east of UTC) before the first boundary.
    pub initial: i32,
    /// (wall time from which `offset` applies, offset), ascending.
    pub boundaries: Vec<(NaiveDateTime, i32)>,
}

impl Rules {
    /// The offset a wall time is read with.
    pub fn offset_at(&self, wall: NaiveDateTime) -> i32 {
        match self.boundaries.partition_point(|(b, _)| *b <= wall) {
            0 => self.initial,
            i => self.boundaries[i - 1].1,
        }
    }
}

fn offset(tz: chrono_tz::Tz, utc: NaiveDateTime) -> i32 {
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

fn compute(tz: chrono_tz::Tz) -> Rules {
    let start = NaiveDate::from_ymd_opt(FIRST_YEAR - 1, 1, 1)
        .expect("valid date")
        .and_hms_opt(0, 0, 0)
        .expect("valid time");
    let end = NaiveDate::from_ymd_opt(END_YEAR + 1, 1, 1)
        .expect("valid date")
        .and_hms_opt(0, 0, 0)
        .expect("valid time");
    let initial = offset(tz, start);
    let mut boundaries: Vec<(NaiveDateTime, i32)> = Vec::new();
    let mut t = start;
    let mut current = initial;
    // Offsets change at most a few times a year: step a day, then find the second.
    let step = Duration::hours(12);
    while t < end {
        let next = t + step;
        let o = offset(tz, next);
        if o != current {
            // In whole seconds: the first second with the new offset.
            let secs = |x: NaiveDateTime| x.and_utc().timestamp();
            let at = |x: i64| {
                chrono::DateTime::from_timestamp(x, 0)
                    .expect("in range")
                    .naive_utc()
            };
            let (mut lo, mut hi) = (secs(t), secs(next));
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(tz, at(mid)) == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            boundaries.push((at(hi) + Duration::seconds(i64::from(o)), o));
            current = o;
        }
        t = next;
    }
    // Boundaries in wall time are ascending for every real zone; keep the table usable even
    // if one were not.
    boundaries.sort_by_key(|(b, _)| *b);
    Rules {
        initial,
        boundaries,
    }
}

/// The rules of `tz`, computed once per process.
pub fn rules(tz: chrono_tz::Tz) -> Arc<Rules> {
    static CACHE: OnceLock<Mutex<HashMap<chrono_tz::Tz, Arc<Rules>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(tz)
        .or_insert_with(|| Arc::new(compute(tz)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::normalize::local_to_utc;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn berlin_matches_the_agents_own_conversion_everywhere() {
        let tz = chrono_tz::Europe::Berlin;
        let r = rules(tz);
        assert!(r.boundaries.len() > 200, "{}", r.boundaries.len());
        // Every 37 hours and 11 seconds over the whole range, and around every boundary.
        let mut wall = at("1800-01-01 00:00:00");
        let mut probes = Vec::new();
        while wall < at("2100-01-01 00:00:00") {
            probes.push(wall);
            wall += Duration::seconds(37 * 3600 + 11);
        }
        for (b, _) in &r.boundaries {
            for d in [-7201, -3601, -3600, -1, 0, 1, 1799, 3599, 3600, 7200] {
                probes.push(*b + Duration::seconds(d));
            }
        }
        for wall in probes {
            let ours = wall - Duration::seconds(i64::from(r.offset_at(wall)));
            assert_eq!(ours, local_to_utc(wall, tz), "wall time {wall}");
        }
    }

    #[test]
    fn the_repeated_hour_is_the_later_instant_and_the_skipped_hour_keeps_the_old_offset() {
        let r = rules(chrono_tz::Europe::Berlin);
        let utc = |s: &str| at(s) - Duration::seconds(i64::from(r.offset_at(at(s))));
        assert_eq!(utc("2026-10-25 02:30:00"), at("2026-10-25 01:30:00"));
        assert_eq!(
            utc("2026-10-25 01:59:59.999999"),
            at("2026-10-24 23:59:59.999999")
        );
        assert_eq!(utc("2026-03-29 02:30:00"), at("2026-03-29 01:30:00"));
        assert_eq!(utc("2026-03-29 03:00:00"), at("2026-03-29 01:00:00"));
        assert_eq!(utc("1900-01-01 00:00:00"), at("1899-12-31 23:00:00"));
    }

    #[test]
    fn a_zone_without_changes_has_no_boundaries() {
        let r = rules(chrono_tz::UTC);
        assert_eq!((r.initial, r.boundaries.len()), (0, 0));
    }
}
