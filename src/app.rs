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

/// What a run found, in one line (errors are listed below the table).
fn finding(r: &CheckRun) -> String {
    match r.error() {
        Some(_) => "-".into(),
        None => r.finding().line(),
    }
}

/// Left-aligned columns, two spaces apart, trailing blanks trimmed.
fn render_table(header: &[String], rows: &[Vec<String>], indent: &str) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from(indent);
        for (cell, w) in cells.iter().zip(&widths) {
            s.push_str(cell);
            s.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        s.trim_end().to_string()
    };
    let mut out = line(header);
    for row in rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
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
    let header = ["CHECK", "KIND", "STATUS", "FINDING", "TIME"].map(String::from);
    writeln!(out, "{}", render_table(&header, &rows, ""))?;
    for r in runs {
        if let Some(t) = r.report().and_then(|report| report.details(&r.name)) {
            writeln!(out, "\n{}", t.title)?;
            writeln!(out, "{}", render_table(&t.header, &t.rows, "  "))?;
        }
    }
    let errors: Vec<&CheckRun> = runs.iter().filter(|r| r.error().is_some()).collect();
    if !errors.is_empty() {
        writeln!(out)?;
        for r in errors {
            writeln!(out, "{}: error: {}", r.name, r.error().unwrap_or(""))?;
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
