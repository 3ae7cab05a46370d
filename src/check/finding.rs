//! What a run found, in words and numbers, for people reading an alert: one headline and a
//! list of labelled facts (rows per system, missing and changed rows, the sample estimate...).
//! Every sink renders the same [`Finding`], and the agent logs its headline; no sink reads a
//! [`CheckRun`] itself.
//!
//! Each part of a run is described by one small function in [`DESCRIBERS`]: a new kind of
//! finding (lag, orphans, aggregate groups) is one more function there.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::check::CheckRun;

/// A run described for people.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// One sentence, e.g. "modern has 25 more rows than legacy".
    pub headline: String,
    pub facts: Vec<Fact>,
}

/// One labelled number or value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Machine name (PagerDuty `custom_details`, webhook receivers), e.g. `missing_in_legacy`.
    pub key: String,
    /// Human label, e.g. "Missing in legacy".
    pub label: String,
    pub value: Value,
    /// The value as a person reads it.
    pub text: String,
}

impl Finding {
    fn headline(&mut self, part: impl Into<String>) {
        let part = part.into();
        if self.headline.is_empty() {
            self.headline = part;
        } else {
            self.headline.push_str("; ");
            self.headline.push_str(&part);
        }
    }

    fn fact(&mut self, key: impl Into<String>, label: impl Into<String>, value: Value) {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            v => v.to_string(),
        };
        self.facts.push(Fact {
            key: key.into(),
            label: label.into(),
            value,
            text,
        });
    }
}

/// One part of a run, described: adds to the headline and facts when the run has that part.
pub type Describe = fn(&CheckRun, &mut Finding);

/// Every part of a run an alert describes, in the order people read them.
pub const DESCRIBERS: &[Describe] = &[
    error,
    rows,
    row_count_difference,
    differences,
    sample,
    transient,
    lag,
    orphans,
    groups,
];

/// Describe a run.
pub fn describe(run: &CheckRun) -> Finding {
    let mut f = Finding::default();
    for d in DESCRIBERS {
        d(run, &mut f);
    }
    if f.headline.is_empty() {
        f.headline = format!("status {}", run.status.as_str());
    }
    f
}

fn error(run: &CheckRun, f: &mut Finding) {
    if let Some(e) = &run.error {
        let e = crate::secret::scrub(e);
        f.headline(format!("the check failed: {e}"));
        f.fact("error", "Error", Value::String(e));
    }
}

fn rows(run: &CheckRun, f: &mut Finding) {
    if run.rows.is_empty() {
        return;
    }
    let map: serde_json::Map<String, Value> = run
        .rows
        .iter()
        .map(|(s, n)| (s.clone(), json!(n)))
        .collect();
    f.fact("rows", "Rows", Value::Object(map));
}

fn row_count_difference(run: &CheckRun, f: &mut Finding) {
    let (Some(d), [(a, _), (b, _)]) = (run.row_count_difference, run.rows.as_slice()) else {
        return;
    };
    // A content check says more than the counts; the difference is then only a fact.
    if run.differences.is_none() {
        f.headline(match d {
            0 => format!("{a} and {b} have the same number of rows"),
            d if d > 0 => format!("{b} has {d} more row{} than {a}", plural(d)),
            d => format!("{a} has {} more row{} than {b}", -d, plural(-d)),
        });
    }
    f.fact(
        "row_count_difference",
        format!("Difference ({b} - {a})"),
        json!(d),
    );
}

fn differences(run: &CheckRun, f: &mut Finding) {
    let Some(d) = &run.differences else {
        return;
    };
    let total = d.changed + d.missing.iter().map(|(_, n)| n).sum::<u64>();
    if run.sample.is_none() {
        let mut parts: Vec<String> = d
            .missing
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} missing in {s}"))
            .collect();
        if d.changed > 0 {
            parts.push(format!("{} changed", d.changed));
        }
        f.headline(if total == 0 {
            "no rows differ".to_string()
        } else {
            format!(
                "{total} row{} differ{}: {}",
                plural(total as i64),
                if total == 1 { "s" } else { "" },
                parts.join(", ")
            )
        });
    }
    // A sampled check's counts are of the sampled keys, not of the table.
    let (key, label) = if run.sample.is_some() {
        ("sampled_", " (of sampled keys)")
    } else {
        ("", "")
    };
    for (system, n) in &d.missing {
        f.fact(
            format!("{key}missing_in_{system}"),
            format!("Missing in {system}{label}"),
            json!(n),
        );
    }
    f.fact(
        format!("{key}changed"),
        format!("Changed{label}"),
        json!(d.changed),
    );
}

fn sample(run: &CheckRun, f: &mut Finding) {
    let Some(s) = &run.sample else {
        return;
    };
    f.headline(format!(
        "{} of {} sampled keys differ ({:.2}%): about {:.0} rows in all (95% CI {:.0}-{:.0})",
        s.mismatches,
        s.size,
        s.mismatch_ratio * 100.0,
        s.estimated_differences,
        s.ci95[0],
        s.ci95[1]
    ));
    f.fact("sample_size", "Keys sampled", json!(s.size));
    f.fact(
        "sample_mismatches",
        "Sampled keys differing",
        json!(s.mismatches),
    );
    f.fact(
        "estimated_differences",
        "Estimated differing rows",
        json!(s.estimated_differences.round()),
    );
}

fn transient(run: &CheckRun, f: &mut Finding) {
    if let Some(n) = run.transient.filter(|n| *n > 0) {
        f.fact("transient", "Transient (caught up during grace)", json!(n));
    }
}

fn lag(run: &CheckRun, f: &mut Finding) {
    let Some(l) = &run.lag else {
        return;
    };
    match run.lag_seconds {
        Some(v) => {
            f.headline(format!(
                "{} is {} behind {}",
                l.to,
                humantime::format_duration(std::time::Duration::from_secs(v.round() as u64)),
                l.from
            ));
            f.fact("lag_seconds", "Lag (seconds)", json!(v));
        }
        None => f.headline(format!(
            "lag from {} to {} unknown: {}",
            l.from,
            l.to,
            l.note.as_deref().unwrap_or("a side has no rows")
        )),
    }
    for (key, label, t) in [
        (
            "source_newest",
            format!("Newest change on {}", l.from),
            l.source_newest,
        ),
        (
            "target_newest",
            format!("Newest change on {}", l.to),
            l.target_newest,
        ),
    ] {
        f.fact(
            key,
            label,
            t.map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
                .unwrap_or(Value::String("no rows".into())),
        );
    }
    if let Some(q) = l.quantiles {
        f.fact(
            "propagation_seconds",
            "Propagation delay (seconds)",
            json!({"p50": q.p50, "p95": q.p95, "max": q.max}),
        );
        f.fact(
            "keys_pending",
            "Sampled keys not yet on the target",
            json!(l.pending),
        );
    }
    if let Some(a) = l.target_ahead_seconds {
        f.fact(
            "target_ahead_seconds",
            format!("{} ahead by (seconds)", l.to),
            json!(a),
        );
    }
}

fn orphans(run: &CheckRun, f: &mut Finding) {
    let Some(n) = run.orphans else {
        return;
    };
    f.headline(format!(
        "{n} child row{} without a parent",
        plural(n as i64)
    ));
    f.fact("orphan_rows", "Orphan child rows", json!(n));
}

fn groups(run: &CheckRun, f: &mut Finding) {
    let Some(g) = &run.groups else {
        return;
    };
    f.headline(format!(
        "{} group{} differ{}",
        g.differing,
        plural(g.differing as i64),
        if g.differing == 1 { "s" } else { "" }
    ));
    let seen: serde_json::Map<String, Value> =
        g.seen.iter().map(|(s, n)| (s.clone(), json!(n))).collect();
    f.fact("groups", "Groups", Value::Object(seen));
    f.fact("differing_groups", "Differing groups", json!(g.differing));
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Differences, Status};

    fn run() -> CheckRun {
        CheckRun {
            duration_seconds: 0.1,
            rows: vec![("legacy".into(), 100), ("modern".into(), 125)],
            row_count_difference: Some(25),
            ..CheckRun::new(
                "patients_rows",
                "row_count",
                Status::Critical,
                chrono::Utc::now(),
            )
        }
    }

    #[test]
    fn lag_orphans_and_groups_are_described() {
        let mut r = run();
        r.rows.clear();
        r.row_count_difference = None;
        r.kind = "lag".into();
        r.lag_seconds = Some(95.0);
        r.lag = Some(crate::check::LagReport {
            from: "modern".into(),
            to: "legacy".into(),
            ..Default::default()
        });
        let f = describe(&r);
        assert_eq!(f.headline, "legacy is 1m 35s behind modern");
        assert!(f
            .facts
            .iter()
            .any(|x| x.key == "target_newest" && x.text == "no rows"));
        let mut r = run();
        r.rows.clear();
        r.row_count_difference = None;
        r.orphans = Some(12);
        assert_eq!(describe(&r).headline, "12 child rows without a parent");
        let mut r = run();
        r.rows.clear();
        r.row_count_difference = None;
        r.groups = Some(crate::check::GroupStats {
            seen: vec![("legacy".into(), 6), ("modern".into(), 6)],
            differing: 1,
        });
        assert_eq!(describe(&r).headline, "1 group differs");
    }

    #[test]
    fn a_row_count_says_which_side_has_more() {
        let f = describe(&run());
        assert_eq!(f.headline, "modern has 25 more rows than legacy");
        assert_eq!(f.facts[0].key, "rows");
        assert_eq!(f.facts[0].text, "legacy 100, modern 125");
        assert_eq!(f.facts[1].key, "row_count_difference");
        assert_eq!(f.facts[1].value, json!(25));
    }

    #[test]
    fn a_content_check_lists_missing_and_changed() {
        let mut r = run();
        r.kind = "hash_diff".into();
        r.row_count_difference = None;
        r.differences = Some(Differences {
            missing: vec![("legacy".into(), 25), ("modern".into(), 0)],
            changed: 52,
        });
        let f = describe(&r);
        assert_eq!(
            f.headline,
            "77 rows differ: 25 missing in legacy, 52 changed"
        );
        let keys: Vec<&str> = f.facts.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["rows", "missing_in_legacy", "missing_in_modern", "changed"]
        );
    }

    #[test]
    fn a_sample_gives_its_estimate_and_says_its_counts_are_sampled() {
        let mut r = run();
        r.kind = "hash_sample".into();
        r.row_count_difference = None;
        r.differences = Some(Differences {
            missing: vec![("legacy".into(), 3), ("modern".into(), 1)],
            changed: 8,
        });
        r.sample = Some(crate::check::SampleStats {
            size: 400,
            mismatches: 12,
            mismatch_ratio: 0.03,
            estimated_differences: 90.4,
            ci95: [60.2, 130.9],
        });
        let f = describe(&r);
        assert_eq!(
            f.headline,
            "12 of 400 sampled keys differ (3.00%): about 90 rows in all (95% CI 60-131)"
        );
        let keys: Vec<&str> = f.facts.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "rows",
                "sampled_missing_in_legacy",
                "sampled_missing_in_modern",
                "sampled_changed",
                "sample_size",
                "sample_mismatches",
                "estimated_differences"
            ]
        );
    }

    #[test]
    fn an_error_is_the_headline() {
        let mut r = run();
        r.status = Status::Error;
        r.rows.clear();
        r.row_count_difference = None;
        r.error = Some("system `legacy`: table `t` not found".into());
        let f = describe(&r);
        assert_eq!(
            f.headline,
            "the check failed: system `legacy`: table `t` not found"
        );
    }
}
