//! The commands behind the CLI: `run`, `check`, `validate`, `demo`. Each returns the process
//! exit code; `main.rs` only parses arguments and calls these.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::agent::Agent;
use crate::check::{self, CheckRun, Status};
use crate::config::{self, Config};
use crate::metrics::Metrics;
use crate::system::Systems;

pub const EXIT_OK: i32 = 0;
pub const EXIT_BREACH: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

fn load(path: &Path) -> Option<Config> {
    match config::load(path) {
        Ok(c) => Some(c),
        Err(errors) => {
            eprintln!("{errors}");
            None
        }
    }
}

/// `driftwatch run`: the agent, until SIGINT/SIGTERM.
pub async fn run(config_path: &Path) -> i32 {
    let Some(config) = load(config_path) else {
        return EXIT_ERROR;
    };
    run_config(config).await
}

pub async fn run_config(config: Config) -> i32 {
    let agent = match Agent::start(config).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("driftwatch: {e}");
            return EXIT_ERROR;
        }
    };
    crate::agent::shutdown_signal().await;
    agent.shutdown().await;
    EXIT_OK
}

/// `driftwatch check`: run checks once, print, exit 0/1/2.
pub async fn check(
    config_path: &Path,
    names: &[String],
    format: OutputFormat,
    options: &check::RunOptions,
    out: &mut dyn Write,
) -> i32 {
    let Some(config) = load(config_path) else {
        return EXIT_ERROR;
    };
    let mut selected = Vec::new();
    for name in names {
        match config.check(name) {
            Some(c) => selected.push(c.clone()),
            None => {
                let available: Vec<&str> = config.checks.iter().map(|c| c.name.as_str()).collect();
                eprintln!(
                    "driftwatch: no check named `{name}` in {} (available: {})",
                    config_path.display(),
                    if available.is_empty() {
                        "none".to_string()
                    } else {
                        available.join(", ")
                    }
                );
                return EXIT_ERROR;
            }
        }
    }
    if names.is_empty() {
        selected = config.checks.clone();
    }
    let metrics = Arc::new(Metrics::new());
    let systems = Systems::new(&config.systems, &metrics);
    // On a terminal, a progress line on stderr while checks run.
    let mut options = options.clone();
    let ticker = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let phases: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
        let sink = phases.clone();
        options.progress = Some(check::ProgressFn(Arc::new(
            move |name: &str, what: String| {
                let mut p = sink.lock().unwrap_or_else(|e| e.into_inner());
                p.retain(|(n, _)| n != name);
                p.push((name.to_string(), what));
            },
        )));
        let total = selected.len();
        Some(tokio::spawn(async move {
            const SPIN: [char; 4] = ['|', '/', '-', '\\'];
            for i in 0usize.. {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let line = {
                    let p = phases.lock().unwrap_or_else(|e| e.into_inner());
                    match p.last() {
                        Some((name, what)) => format!("{name}: {what}"),
                        None => String::new(),
                    }
                };
                let mut err = std::io::stderr();
                let _ = write!(
                    err,
                    "\r\x1b[K{} running {total} check{}  {line}",
                    SPIN[i % 4],
                    if total == 1 { "" } else { "s" }
                );
                let _ = err.flush();
            }
        }))
    } else {
        None
    };
    let runs = check::run_all(&selected, &systems, &options).await;
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[K");
    }
    systems.close().await;
    let written = match format {
        OutputFormat::Json => {
            let doc = serde_json::json!({ "checks": runs });
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).expect("results serialise")
            )
        }
        OutputFormat::Table => write_table(&runs, out),
    };
    if let Err(e) = written {
        eprintln!("driftwatch: cannot write the results: {e}");
        return EXIT_ERROR;
    }
    exit_code(&runs)
}

/// 2 if any check errored, else 1 if any breached a threshold, else 0.
pub fn exit_code(runs: &[CheckRun]) -> i32 {
    if runs.iter().any(|r| r.status == Status::Error) {
        EXIT_ERROR
    } else if runs
        .iter()
        .any(|r| matches!(r.status, Status::Warning | Status::Critical))
    {
        EXIT_BREACH
    } else {
        EXIT_OK
    }
}

/// What a run found, in one line.
fn finding(r: &CheckRun) -> String {
    if r.error.is_some() {
        return "-".into();
    }
    let counts = r
        .rows
        .iter()
        .map(|(s, n)| format!("{s}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(st) = &r.sample {
        return format!(
            "{counts}  sampled {} keys: {} differ ({:.2}%), est. {} rows [{}-{}]",
            st.size,
            st.mismatches,
            st.mismatch_ratio * 100.0,
            st.estimated_differences,
            st.ci95[0],
            st.ci95[1]
        );
    }
    if let Some(lag) = &r.lag {
        let mut text = match r.lag_seconds {
            Some(v) => format!("{} -> {} lag {}", lag.from, lag.to, seconds(v)),
            None => format!("{} -> {} lag unknown", lag.from, lag.to),
        };
        if let Some(q) = lag.quantiles {
            text.push_str(&format!(
                " (p50 {}, p95 {}, {} of {} keys pending)",
                seconds(q.p50),
                seconds(q.p95),
                lag.pending.unwrap_or(0),
                lag.keys.unwrap_or(0)
            ));
        }
        if let Some(a) = lag.target_ahead_seconds {
            text.push_str(&format!("; {} is ahead by {}", lag.to, seconds(a)));
        }
        if let Some(note) = lag.note.as_ref().filter(|_| r.lag_seconds.is_none()) {
            text.push_str(&format!(": {note}"));
        }
        return text;
    }
    if let Some(n) = r.orphans {
        return format!("orphans={n}");
    }
    if let Some(g) = &r.groups {
        let seen = g
            .seen
            .iter()
            .map(|(s, n)| format!("{s}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        return format!("groups {seen}  differing={}", g.differing);
    }
    if let Some(d) = &r.differences {
        let mut parts: Vec<String> = d
            .missing
            .iter()
            .map(|(s, n)| format!("missing_in_{s}={n}"))
            .collect();
        parts.push(format!("changed={}", d.changed));
        if let Some(t) = r.transient.filter(|t| *t > 0) {
            parts.push(format!("transient={t}"));
        }
        return format!("{counts}  {}", parts.join(" "));
    }
    match r.row_count_difference {
        Some(d) => format!("{counts}  diff {d:+}"),
        None => counts,
    }
}

/// Seconds as a person reads them: `95s`, `12m 3s`.
fn seconds(v: f64) -> String {
    if v < 60.0 {
        let shown = format!("{v:.1}");
        return format!("{}s", shown.trim_end_matches(".0"));
    }
    humantime::format_duration(std::time::Duration::from_secs(v.round() as u64)).to_string()
}

/// Orphan keys and differing aggregate groups, under the summary table.
fn write_findings(r: &CheckRun, out: &mut dyn Write) -> std::io::Result<()> {
    let Some(samples) = r.samples.as_ref().filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let key = |s: &check::Difference| {
        s.key
            .iter()
            .map(|(k, v)| format!("{k}={}", show(Some(v))))
            .collect::<Vec<_>>()
            .join(",")
    };
    if let Some(n) = r.orphans {
        writeln!(
            out,
            "\n{}: {n} child rows without a parent{}:",
            r.name,
            if samples.len() as u64 > 0 && samples.iter().filter_map(|s| s.rows).sum::<u64>() < n {
                format!(", {} keys shown", samples.len())
            } else {
                String::new()
            }
        )?;
        let lines: Vec<Vec<String>> = samples
            .iter()
            .map(|s| vec![key(s), s.rows.unwrap_or(0).to_string()])
            .collect();
        return writeln!(
            out,
            "{}",
            render_table(&["MISSING PARENT", "CHILD ROWS"], &lines, "  ")
        );
    }
    let Some(g) = &r.groups else {
        return Ok(());
    };
    let systems: Vec<&str> = g.seen.iter().map(|(s, _)| s.as_str()).collect();
    writeln!(
        out,
        "\n{}: {} differing groups{}:",
        r.name,
        g.differing,
        if (samples.len() as u64) < g.differing {
            format!(", the first {}", samples.len())
        } else {
            String::new()
        }
    )?;
    let upper: Vec<String> = systems.iter().map(|s| s.to_uppercase()).collect();
    let mut header = vec!["GROUP", "KIND", "MEASURE"];
    header.extend(upper.iter().map(String::as_str));
    header.push("DELTA");
    let mut lines = Vec::new();
    for s in samples {
        let value = |system: &str, m: &str| {
            show(
                s.values
                    .as_ref()
                    .and_then(|v| v.get(system))
                    .and_then(|v| v.get(m)),
            )
        };
        if s.columns.is_empty() {
            // A group on one side only: its values there.
            let there = s
                .values
                .as_ref()
                .and_then(|v| v.iter().next())
                .and_then(|(_, v)| v.as_object())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", show(Some(v))))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            lines.push(vec![
                key(s),
                s.kind.clone(),
                there,
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        for (i, m) in s.columns.iter().enumerate() {
            lines.push(vec![
                if i == 0 { key(s) } else { String::new() },
                if i == 0 {
                    s.kind.clone()
                } else {
                    String::new()
                },
                m.clone(),
                value(systems.first().copied().unwrap_or(""), m),
                value(systems.get(1).copied().unwrap_or(""), m),
                s.delta
                    .as_ref()
                    .and_then(|d| d.get(m))
                    .map(|d| show(Some(d)))
                    .unwrap_or_default(),
            ]);
        }
    }
    writeln!(out, "{}", render_table(&header, &lines, "  "))
}

/// Left-aligned columns, two spaces apart, trailing blanks trimmed.
fn render_table(header: &[&str], rows: &[Vec<String>], indent: &str) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from(indent);
        for (cell, w) in cells.iter().zip(&widths) {
            s.push_str(cell);
            s.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A value as a person reads it in a table: NULL spelled out, text quoted when it has
/// surrounding blanks or is empty.
fn show(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "NULL".into(),
        Some(serde_json::Value::String(s)) if s.is_empty() || s.trim() != s || s == "NULL" => {
            format!("{s:?}")
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn write_table(runs: &[CheckRun], out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.kind.clone(),
                r.status.as_str().to_uppercase(),
                finding(r),
                format!("{:.2}s", r.duration_seconds),
            ]
        })
        .collect();
    writeln!(
        out,
        "{}",
        render_table(&["CHECK", "KIND", "STATUS", "FINDING", "TIME"], &rows, "")
    )?;
    for r in runs {
        write_findings(r, out)?;
        let (Some(d), Some(samples)) = (&r.differences, &r.samples) else {
            continue;
        };
        if samples.is_empty() {
            continue;
        }
        let total = d.changed + d.missing.iter().map(|(_, n)| n).sum::<u64>();
        let systems: Vec<&str> = r.rows.iter().map(|(s, _)| s.as_str()).collect();
        writeln!(
            out,
            "\n{}: {total} differing rows{}:",
            r.name,
            if (samples.len() as u64) < total {
                format!(", the first {}", samples.len())
            } else {
                String::new()
            }
        )?;
        let upper: Vec<String> = systems.iter().map(|s| s.to_uppercase()).collect();
        let mut header = vec!["KEY", "KIND", "COLUMN"];
        header.extend(upper.iter().map(String::as_str));
        let mut lines = Vec::new();
        for s in samples {
            let key = s
                .key
                .iter()
                .map(|(k, v)| format!("{k}={}", show(Some(v))))
                .collect::<Vec<_>>()
                .join(",");
            if s.columns.is_empty() {
                lines.push(vec![
                    key,
                    s.kind.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                continue;
            }
            for (i, c) in s.columns.iter().enumerate() {
                let value = |system: &str| {
                    show(
                        s.values
                            .as_ref()
                            .and_then(|v| v.get(system))
                            .and_then(|v| v.get(c)),
                    )
                };
                lines.push(vec![
                    if i == 0 { key.clone() } else { String::new() },
                    if i == 0 {
                        s.kind.clone()
                    } else {
                        String::new()
                    },
                    c.clone(),
                    value(systems.first().copied().unwrap_or("")),
                    value(systems.get(1).copied().unwrap_or("")),
                ]);
            }
        }
        writeln!(out, "{}", render_table(&header, &lines, "  "))?;
    }
    let errors: Vec<&CheckRun> = runs.iter().filter(|r| r.error.is_some()).collect();
    if !errors.is_empty() {
        writeln!(out)?;
        for r in errors {
            writeln!(
                out,
                "{}: error: {}",
                r.name,
                r.error.as_deref().unwrap_or("")
            )?;
        }
    }
    let count = |s: Status| runs.iter().filter(|r| r.status == s).count();
    writeln!(
        out,
        "\n{} check{}: {} ok, {} warning, {} critical, {} error",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        count(Status::Ok),
        count(Status::Warning),
        count(Status::Critical),
        count(Status::Error)
    )
}

/// `driftwatch validate [--connect]`.
pub async fn validate(config_path: &Path, connect: bool, out: &mut dyn Write) -> i32 {
    let Some(config) = load(config_path) else {
        return EXIT_ERROR;
    };
    let _ = writeln!(
        out,
        "{}: valid ({} systems, {} sinks, {} checks)",
        config_path.display(),
        config.systems.len(),
        config.sinks.len(),
        config.checks.len()
    );
    if !connect {
        return EXIT_OK;
    }
    let metrics = Arc::new(Metrics::new());
    let systems = Systems::new(&config.systems, &metrics);
    let mut failed = 0;
    for system in systems.iter() {
        match system.ping().await {
            Ok(version) => {
                let _ = writeln!(
                    out,
                    "system {}: connected ({}; {})",
                    system.name(),
                    system.config.url,
                    version.lines().next().unwrap_or("")
                );
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(out, "{e}");
            }
        }
    }
    for check in &config.checks {
        let mut problems = Vec::new();
        for (side, exprs) in check.expressions() {
            let (system, table, filter) = (
                side.system.as_str(),
                side.table.as_str(),
                side.filter.as_deref(),
            );
            let Some(sys) = systems.get(system) else {
                continue;
            };
            if sys.is_up() == Some(false) {
                continue;
            }
            if let Err(e) = sys.probe_table(table, filter).await {
                problems.push(e.to_string());
            } else if !exprs.is_empty() {
                // Every column and expression the check reads, without reading a row.
                if let Err(e) = sys.describe(table, &exprs).await {
                    problems.push(e.to_string());
                }
            }
        }
        if problems.is_empty() {
            let _ = writeln!(out, "check {}: tables and columns found", check.name);
        } else {
            failed += 1;
            for p in problems {
                let _ = writeln!(
                    out,
                    "check {} ({}:{}:{}): {p}",
                    check.name,
                    check.file.display(),
                    check.pos.line,
                    check.pos.col
                );
            }
        }
    }
    systems.close().await;
    if failed > 0 {
        let _ = writeln!(out, "{failed} problem(s) found");
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

/// `driftwatch demo`: prepare the demo files and run the agent on them; with `webhook_url`,
/// every demo check alerts to it.
pub async fn demo(
    listen: std::net::SocketAddr,
    dir: Option<std::path::PathBuf>,
    webhook_url: Option<String>,
) -> i32 {
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("driftwatch-demo-{}", std::process::id()))
    });
    let config_path = match crate::demo::prepare(&dir, listen, webhook_url.as_deref()).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("driftwatch: {e}");
            return EXIT_ERROR;
        }
    };
    let Some(config) = load(&config_path) else {
        return EXIT_ERROR;
    };
    let agent = match Agent::start(config).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("driftwatch: {e}");
            return EXIT_ERROR;
        }
    };
    let addr = agent.local_addr;
    println!(
        "driftwatch demo: a legacy and a modern SQLite database with injected drift, in {}",
        dir.display()
    );
    println!("  metrics:  http://{addr}/metrics");
    println!("  results:  http://{addr}/api/v1/checks");
    println!("  config:   {}", config_path.display());
    if let Some(url) = &webhook_url {
        println!(
            "  alerts:   webhook to {}",
            crate::secret::SecretUrl::webhook(url)
        );
    }
    println!("  one-off:  driftwatch check -c {}", config_path.display());
    println!("press Ctrl-C to stop");
    let _ = std::io::stdout().flush();
    crate::agent::shutdown_signal().await;
    agent.shutdown().await;
    EXIT_OK
}
