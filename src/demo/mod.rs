//! `driftwatch demo`: the embedded default a new user runs first. It creates a "legacy" and a
//! "modern" SQLite database with different data models and injected drift ([`data`]), writes
//! a ready-to-edit `driftwatch.yaml` and the bundled checks beside them, and runs the agent on
//! them. Given a webhook URL, every demo check also alerts to it, so a receiver sees drift
//! alerts within one check interval.

pub mod data;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The bundled demo checks, as shipped in `checks/demo/`.
pub const CHECK_FILES: &[(&str, &str)] = &[
    (
        "row_counts.yaml",
        include_str!("../../checks/demo/row_counts.yaml"),
    ),
    (
        "content.yaml",
        include_str!("../../checks/demo/content.yaml"),
    ),
    ("sample.yaml", include_str!("../../checks/demo/sample.yaml")),
    (
        "relations.yaml",
        include_str!("../../checks/demo/relations.yaml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot write the demo files in {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the demo databases in {dir}: {source}")]
    Db { dir: PathBuf, source: sqlx::Error },
}

/// Creates the databases, the checks and `driftwatch.yaml` in `dir`; returns the config path.
/// With `webhook_url`, the config gets a `webhook` sink and every check alerts to it.
pub async fn prepare(
    dir: &Path,
    listen: SocketAddr,
    webhook_url: Option<&str>,
) -> Result<PathBuf, DemoError> {
    let io = |source| DemoError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir.join("checks")).map_err(io)?;
    let dbs = data::create_databases(dir)
        .await
        .map_err(|source| DemoError::Db {
            dir: dir.to_path_buf(),
            source,
        })?;
    for (name, text) in CHECK_FILES {
        let text = match webhook_url {
            Some(_) => with_alert(text),
            None => text.to_string(),
        };
        std::fs::write(dir.join("checks").join(name), text).map_err(io)?;
    }
    let config = format!(
        "# Written by `driftwatch demo`: a working config to copy from.\n\
         listen: {listen}\n\
         state: sqlite://{state}\n\
         checks: [checks/]\n\
         systems:\n\
         \x20 legacy:\n\
         \x20   url: sqlite://{legacy}\n\
         \x20   max_connections: 2\n\
         \x20   statement_timeout: 30s\n\
         \x20   timezone: Europe/Berlin   # the legacy system stores local time\n\
         \x20 modern:\n\
         \x20   url: sqlite://{modern}\n",
        state = dir.join("state.db").display(),
        legacy = dbs.legacy.display(),
        modern = dbs.modern.display(),
    );
    let mut config = config;
    if let Some(url) = webhook_url {
        // JSON string syntax is YAML's double-quoted scalar.
        let quoted = serde_json::to_string(url).expect("a string serialises");
        config.push_str(&format!(
            "sinks:\n\x20 webhook: {{type: webhook, url: {quoted}}}   # added by --webhook-url\n"
        ));
    }
    let path = dir.join("driftwatch.yaml");
    std::fs::write(&path, config).map_err(io)?;
    Ok(path)
}

/// The alert the demo checks get with `--webhook-url`: at once, to the `webhook` sink.
const DEMO_ALERT: &str = "    alert: {sinks: [webhook], for: 0s}";

/// A bundled check file with [`DEMO_ALERT`] added to every check (after its `schedule`).
fn with_alert(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("    schedule:") {
            out.push_str(DEMO_ALERT);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn with_a_webhook_url_every_demo_check_alerts_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let listen = "127.0.0.1:0".parse().unwrap();
        let path = prepare(dir.path(), listen, Some("http://127.0.0.1:9/hook"))
            .await
            .unwrap();
        let config = crate::config::load(&path).unwrap();
        assert_eq!(config.sinks.len(), 1);
        assert!(!config.checks.is_empty());
        for check in &config.checks {
            let alert = check
                .alert
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no alert", check.name));
            assert_eq!(alert.sinks, ["webhook"]);
        }

        let plain = tempfile::tempdir().unwrap();
        let path = prepare(plain.path(), listen, None).await.unwrap();
        let config = crate::config::load(&path).unwrap();
        assert!(config.sinks.is_empty());
        assert!(config.checks.iter().all(|c| c.alert.is_none()));
    }
}
