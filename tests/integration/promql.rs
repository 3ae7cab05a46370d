//! The shipped alerting rules and dashboards speak the agent's language: every PromQL
//! expression in `alerts/*.yml` (each rule's `expr`) and `dashboards/*.json` (each target's
//! `expr` and each templating query) parses, and every metric it names is one the agent
//! exports ([`Metrics::names`], a histogram's `_bucket`/`_sum`/`_count`, and Prometheus's own
//! `up` and `ALERTS`). A renamed metric or a typo fails here, naming the file and the
//! expression, instead of leaving a panel blank or an alert silent in production.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use driftwatch::metrics::Metrics;
use promql_parser::label::{MatchOp, METRIC_NAME};
use promql_parser::parser::{self, Expr, VectorSelector};
use yaml_rust2::{Yaml, YamlLoader};

/// Histogram families: queries read them through their `_bucket`, `_sum` and `_count` series.
const HISTOGRAMS: &[&str] = &["driftwatch_check_duration_seconds"];

/// Series Prometheus itself provides, which rules and dashboards may use.
const PROMETHEUS_SERIES: &[&str] = &["up", "ALERTS", "ALERTS_FOR_STATE"];

/// Where the runbook links of the shipped rules point.
const RUNBOOK_BASE: &str = "https://github.com/driftwatch/driftwatch/blob/main/docs/runbook.md#";

/// A PromQL expression found in a shipped file.
#[derive(Debug)]
pub(crate) struct Found {
    pub file: PathBuf,
    /// Where in the file, as a reader finds it (group and alert, panel and target).
    pub place: String,
    pub expr: String,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files in `dir` whose name ends with one of `extensions`, sorted.
pub(crate) fn files(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.contains(&e))
        })
        .collect();
    out.sort();
    out
}

fn known_metrics() -> BTreeSet<String> {
    let metrics = Metrics::new();
    let mut known: BTreeSet<String> = metrics.names().iter().map(|s| s.to_string()).collect();
    for h in HISTOGRAMS {
        assert!(
            known.contains(*h),
            "{h} is listed as a histogram here but the agent does not export it"
        );
        for suffix in ["_bucket", "_sum", "_count"] {
            known.insert(format!("{h}{suffix}"));
        }
    }
    known.extend(PROMETHEUS_SERIES.iter().map(|s| s.to_string()));
    known
}

/// Parses `expr` and checks that every metric it selects is in `known`.
fn check_expr(expr: &str, known: &BTreeSet<String>) -> Result<(), String> {
    let ast = parser::parse(expr).map_err(|e| format!("does not parse: {e}"))?;
    let mut selected = Vec::new();
    selectors(&ast, &mut selected);
    let mut unknown = Vec::new();
    for vs in selected {
        match metric_name(vs) {
            Some(name) if known.contains(&name) => {}
            Some(name) => unknown.push(name),
            None => {
                return Err(format!(
                    "selects `{vs}` without naming a metric, so it cannot be checked"
                ))
            }
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        unknown.sort();
        unknown.dedup();
        Err(format!(
            "names metrics the agent does not export: {} (see src/metrics.rs)",
            unknown.join(", ")
        ))
    }
}

fn selectors<'a>(e: &'a Expr, out: &mut Vec<&'a VectorSelector>) {
    match e {
        Expr::Aggregate(a) => {
            selectors(&a.expr, out);
            if let Some(p) = &a.param {
                selectors(p, out);
            }
        }
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Subquery(s) => selectors(&s.expr, out),
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Call(c) => {
            for a in &c.args.args {
                selectors(a, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// `metric{...}` or `{__name__="metric", ...}`.
fn metric_name(vs: &VectorSelector) -> Option<String> {
    vs.name.clone().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone())
    })
}

/// Grafana's variables replaced by values that keep the expression's shape: its time
/// variables by a duration or number, any other (such as `$check` in a label matcher) by a
/// regex that matches everything.
fn substitute_grafana_variables(expr: &str) -> String {
    const DURATIONS: &[&str] = &["__rate_interval", "__interval", "__range"];
    const NUMBERS: &[(&str, &str)] = &[
        ("__interval_ms", "300000"),
        ("__range_ms", "300000"),
        ("__range_s", "300"),
    ];
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        // `${name}` and `${name:format}`, or `$name`.
        let (name, used) = match after
            .strip_prefix('{')
            .and_then(|b| Some((b, b.find('}')?)))
        {
            Some((braced, end)) => (braced[..end].split(':').next().unwrap_or(""), end + 2),
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        let value = NUMBERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .or_else(|| DURATIONS.contains(&name).then_some("5m"))
            .unwrap_or(".*");
        out.push_str(value);
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

/// The PromQL inside a Grafana templating query: `label_values(selector, label)` selects
/// `selector`, `query_result(expr)` runs `expr`; `label_values(label)`, `label_names()` and
/// `metrics(regex)` hold none.
fn template_query_expr(query: &str) -> Option<String> {
    let q = query.trim();
    let call = |prefix: &str| {
        q.strip_prefix(prefix)
            .and_then(|r| r.trim_start().strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
    };
    if let Some(args) = call("label_values") {
        return args
            .rsplit_once(',')
            .map(|(sel, _label)| sel.trim().to_string());
    }
    if let Some(inner) = call("query_result") {
        return Some(inner.to_string());
    }
    if call("label_names").is_some() || call("metrics").is_some() {
        return None;
    }
    Some(q.to_string())
}

/// Every rule's `expr` in a Prometheus rule file.
fn rule_exprs(path: &Path) -> Vec<Found> {
    let mut out = Vec::new();
    for rule in rules(path) {
        let place = format!(
            "group `{}`, {}",
            rule.group,
            rule.name
                .as_deref()
                .map_or_else(|| "a rule".to_string(), |n| format!("rule `{n}`"))
        );
        out.push(Found {
            file: path.to_path_buf(),
            place,
            expr: rule.expr,
        });
    }
    out
}

struct Rule {
    group: String,
    /// `alert` or `record`.
    name: Option<String>,
    expr: String,
    yaml: Yaml,
}

fn rules(path: &Path) -> Vec<Rule> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    let mut out = Vec::new();
    for doc in &docs {
        let groups = doc["groups"]
            .as_vec()
            .unwrap_or_else(|| panic!("{}: no `groups:` list", path.display()));
        for g in groups {
            let group = g["name"].as_str().unwrap_or("?").to_string();
            for r in g["rules"].as_vec().into_iter().flatten() {
                let name = r["alert"]
                    .as_str()
                    .or(r["record"].as_str())
                    .map(String::from);
                let expr = r["expr"].as_str().unwrap_or_else(|| {
                    panic!(
                        "{}: group `{group}`, {name:?}: `expr` is not a string",
                        path.display()
                    )
                });
                out.push(Rule {
                    group: group.clone(),
                    name,
                    expr: expr.to_string(),
                    yaml: r.clone(),
                });
            }
        }
    }
    out
}

/// Every target's `expr` (in rows too) and every templating query of a Grafana dashboard,
/// with Grafana's variables substituted.
pub(crate) fn dashboard_exprs(path: &Path) -> Vec<Found> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let dashboard: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    let mut out = Vec::new();
    fn panels(list: &serde_json::Value, path: &Path, out: &mut Vec<Found>) {
        for p in list.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("untitled");
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    out.push(Found {
                        file: path.to_path_buf(),
                        place: format!(
                            "panel `{title}`, target {}",
                            t["refId"].as_str().unwrap_or("?")
                        ),
                        expr: substitute_grafana_variables(expr),
                    });
                }
            }
            // A collapsed row holds its panels.
            panels(&p["panels"], path, out);
        }
    }
    panels(&dashboard["panels"], path, &mut out);
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["type"] != "query" {
            continue;
        }
        // A plain string, or (newer Grafana) an object holding it.
        let query = v["query"].as_str().or(v["query"]["query"].as_str());
        if let Some(expr) = query.and_then(template_query_expr) {
            out.push(Found {
                file: path.to_path_buf(),
                place: format!("variable `{}`", v["name"].as_str().unwrap_or("?")),
                expr: substitute_grafana_variables(&expr),
            });
        }
    }
    out
}

/// One line per expression that does not parse or names an unknown metric.
fn problems(found: &[Found], known: &BTreeSet<String>) -> Vec<String> {
    found
        .iter()
        .filter_map(|f| {
            check_expr(&f.expr, known).err().map(|why| {
                format!(
                    "{}: {}: {why}\n    {}",
                    f.file.strip_prefix(repo()).unwrap_or(&f.file).display(),
                    f.place,
                    f.expr.replace('\n', "\n    ")
                )
            })
        })
        .collect()
}

#[test]
fn every_shipped_rule_and_dashboard_query_parses_and_names_exported_metrics() {
    let known = known_metrics();
    let mut found = Vec::new();
    let rule_files = files(&repo().join("alerts"), &["yml", "yaml"]);
    let dashboards = files(&repo().join("dashboards"), &["json"]);
    assert!(!rule_files.is_empty(), "no rule files in alerts/");
    assert!(!dashboards.is_empty(), "no dashboards in dashboards/");
    for f in &rule_files {
        let exprs = rule_exprs(f);
        assert!(!exprs.is_empty(), "{}: no rules found", f.display());
        found.extend(exprs);
    }
    for f in &dashboards {
        let exprs = dashboard_exprs(f);
        assert!(!exprs.is_empty(), "{}: no queries found", f.display());
        found.extend(exprs);
    }
    let bad = problems(&found, &known);
    assert!(
        bad.is_empty(),
        "{} of {} expressions are wrong:\n{}",
        bad.len(),
        found.len(),
        bad.join("\n")
    );
}

/// The checker itself: a misspelt metric, a syntax error and a selector without a metric name
/// are caught; what the agent exports passes.
#[test]
fn the_checker_catches_a_misspelt_metric_and_a_broken_expression() {
    let known = known_metrics();
    let misspelt = check_expr(
        r#"driftwatch_missing_row{check="a"} > 0 and on(check) driftwatch_changed_rows"#,
        &known,
    )
    .unwrap_err();
    assert!(
        misspelt.contains("driftwatch_missing_row")
            && !misspelt.contains("driftwatch_changed_rows"),
        "{misspelt}"
    );
    let broken = check_expr("sum by (check) (driftwatch_rows", &known).unwrap_err();
    assert!(broken.starts_with("does not parse"), "{broken}");
    let unnamed = check_expr(r#"{job="driftwatch"}"#, &known).unwrap_err();
    assert!(unnamed.contains("without naming a metric"), "{unnamed}");
    for ok in [
        r#"histogram_quantile(0.95, sum by (check, le) (rate(driftwatch_check_duration_seconds_bucket[5m])))"#,
        r#"{__name__="driftwatch_rows", check="a"}"#,
        r#"absent(up{job="driftwatch"}) or ALERTS{alertname="DriftwatchSyncLag"}"#,
    ] {
        check_expr(ok, &known).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

/// Grafana's variables and templating queries become PromQL the parser accepts.
#[test]
fn grafana_variables_and_templating_queries_become_plain_promql() {
    assert_eq!(
        substitute_grafana_variables(
            r#"sum by (check) (rate(driftwatch_check_runs_total{check=~"$check"}[$__rate_interval])) / ${__range_s}"#
        ),
        r#"sum by (check) (rate(driftwatch_check_runs_total{check=~".*"}[5m])) / 300"#
    );
    assert_eq!(
        substitute_grafana_variables(r#"driftwatch_rows{check=~"${check:regex}"}"#),
        r#"driftwatch_rows{check=~".*"}"#
    );
    assert_eq!(
        template_query_expr(r#"label_values(driftwatch_rows{system="a,b"}, check)"#).as_deref(),
        Some(r#"driftwatch_rows{system="a,b"}"#)
    );
    assert_eq!(template_query_expr("label_values(check)"), None);
    assert_eq!(
        template_query_expr("query_result(topk(5, driftwatch_rows))").as_deref(),
        Some("topk(5, driftwatch_rows)")
    );
}

/// A dashboard and a rule file with a misspelt metric fail, naming the file, the place and the
/// expression.
#[test]
fn a_misspelt_metric_in_a_dashboard_or_rule_file_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let dashboard = dir.path().join("bad.json");
    std::fs::write(
        &dashboard,
        r#"{"panels": [{"type": "row", "title": "Drift", "panels": [
             {"title": "Changed", "targets": [{"refId": "A", "expr": "driftwatch_changed_row{check=~\"$check\"}"}]}]}],
           "templating": {"list": [{"type": "query", "name": "check",
             "query": {"query": "label_values(driftwatch_check_intervals, check)"}}]}}"#,
    )
    .unwrap();
    let rules = dir.path().join("bad.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: Lag\n        expr: driftwatch_lag > 60\n",
    )
    .unwrap();
    let known = known_metrics();
    let mut found = dashboard_exprs(&dashboard);
    found.extend(rule_exprs(&rules));
    let bad = problems(&found, &known).join("\n");
    for expected in [
        "bad.json: panel `Changed`, target A: names metrics the agent does not export: driftwatch_changed_row",
        r#"driftwatch_changed_row{check=~".*"}"#,
        "bad.json: variable `check`: names metrics the agent does not export: driftwatch_check_intervals",
        "bad.yml: group `g`, rule `Lag`: names metrics the agent does not export: driftwatch_lag ",
    ] {
        assert!(bad.contains(expected), "missing {expected:?} in:\n{bad}");
    }
}

/// GitHub's anchor for a Markdown heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// What on-call gets with every alert: a severity Alertmanager can route on, a summary, a
/// description, a runbook link to a section that exists, and template queries that name real
/// metrics.
#[test]
fn every_alert_has_a_severity_a_description_and_a_runbook_section() {
    let runbook = std::fs::read_to_string(repo().join("docs/runbook.md")).unwrap();
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| slug(h.trim_start_matches('#')))
        .collect();
    let known = known_metrics();
    let mut bad = Vec::new();
    let mut alerts = 0;
    for f in files(&repo().join("alerts"), &["yml", "yaml"]) {
        for rule in rules(&f) {
            let Some(name) = rule.yaml["alert"].as_str() else {
                continue;
            };
            alerts += 1;
            let at = format!(
                "{}: alert `{name}`",
                f.strip_prefix(repo()).unwrap_or(&f).display()
            );
            let severity = rule.yaml["labels"]["severity"].as_str().unwrap_or("");
            if !["warning", "critical"].contains(&severity) {
                bad.push(format!(
                    "{at}: severity `{severity}` is not warning or critical"
                ));
            }
            let a = &rule.yaml["annotations"];
            for key in ["summary", "description", "runbook_url"] {
                if a[key].as_str().is_none_or(|s| s.trim().is_empty()) {
                    bad.push(format!("{at}: no `{key}` annotation"));
                }
            }
            let description = a["description"].as_str().unwrap_or("");
            if !description.contains("$value") && !description.contains("$labels") {
                bad.push(format!("{at}: the description shows no labels or values"));
            }
            match a["runbook_url"].as_str().and_then(|u| u.strip_prefix(RUNBOOK_BASE)) {
                Some(anchor) if anchor == name.to_lowercase() && anchors.contains(anchor) => {}
                Some(anchor) => bad.push(format!(
                    "{at}: runbook anchor `#{anchor}` is not a section of docs/runbook.md named after the alert (`## {name}`)"
                )),
                None => bad.push(format!("{at}: runbook_url does not start with {RUNBOOK_BASE}")),
            }
            // Metrics the annotations' template queries read.
            for text in [description, a["summary"].as_str().unwrap_or("")] {
                for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if word.starts_with("driftwatch_") && !known.contains(word) {
                        bad.push(format!(
                            "{at}: an annotation reads `{word}`, which the agent does not export"
                        ));
                    }
                }
            }
        }
    }
    assert!(alerts > 0, "no alerts found in alerts/");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The dashboard can be provisioned as documented and switched between data sources and checks.
#[test]
fn the_dashboard_has_its_uid_and_variables() {
    let d: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("dashboards/driftwatch.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(d["uid"], "driftwatch");
    assert!(d["schemaVersion"].as_u64().unwrap() >= 36);
    let vars = d["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}` variable"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    let check = var("check");
    assert_eq!(check["type"], "query");
    assert_eq!(check["multi"], true);
    assert_eq!(check["includeAll"], true);
    // Every query goes to the chosen data source.
    fn all_panels(list: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p.clone());
            all_panels(&p["panels"], out);
        }
    }
    let mut panels = Vec::new();
    all_panels(&d["panels"], &mut panels);
    for p in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(
            p["datasource"]["uid"], "${datasource}",
            "panel `{}` does not use the datasource variable",
            p["title"]
        );
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        }
    }
}
