//! `driftwatch demo`: the embedded default a new user runs first. It creates a "legacy" and a
//! "modern" SQLite database with different data models and injected drift ([`data`]), writes
//! a ready-to-edit `driftwatch.yaml` and the bundled checks beside them, and runs the agent on
//! them.

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
pub async fn prepare(dir: &Path, listen: SocketAddr) -> Result<PathBuf, DemoError> {
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
    let path = dir.join("driftwatch.yaml");
    std::fs::write(&path, config).map_err(io)?;
    Ok(path)
}
