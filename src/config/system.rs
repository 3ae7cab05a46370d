//! The `systems:` section: each named database the checks compare, its URL (engine and, for
//! SQLite, the file), and the bounds on the load the agent puts on it.
//!
//! Validation only: nothing here connects (that is `crate::system`), and a URL, which may
//! hold a password, is never echoed in a message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::diag::Diag;
use super::value::duration_or;
use super::yaml::{Node, Spanned};
use crate::secret::SecretUrl;

const DEFAULT_MAX_CONNECTIONS: u32 = 2;
const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The database engines driftwatch speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Postgres,
    /// MySQL and MariaDB; which one is found out on connecting.
    MySql,
    Sqlite,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Postgres => "postgres",
            EngineKind::MySql => "mysql",
            EngineKind::Sqlite => "sqlite",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SystemConfig {
    pub name: String,
    pub url: SecretUrl,
    pub engine: EngineKind,
    /// For SQLite: the database file, resolved against the config file's folder.
    pub sqlite_path: Option<PathBuf>,
    pub max_connections: u32,
    pub statement_timeout: Duration,
    pub connect_timeout: Duration,
    pub timezone: chrono_tz::Tz,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    url: Spanned<String>,
    max_connections: Option<Spanned<u32>>,
    statement_timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
}

/// The file of a `sqlite://` URL, resolved against `base`; `None` when `url` names none.
pub fn sqlite_path(url: &str, base: &Path) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    if rest.is_empty() {
        return None;
    }
    let p = PathBuf::from(rest);
    Some(if p.is_absolute() { p } else { base.join(p) })
}

/// The system `name` from its YAML node.
pub fn system(name: &str, node: &Node, base: &Path, d: &mut Diag<'_>) -> Option<SystemConfig> {
    let raw: RawSystem = d.deserialize(node)?;
    let url_text = raw.url.value.trim();
    let scheme = url_text
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase());
    let (engine, sqlite) = match scheme.as_deref() {
        Some("postgres" | "postgresql") => (EngineKind::Postgres, None),
        Some("mysql" | "mariadb") => (EngineKind::MySql, None),
        Some("sqlite") => match sqlite_path(url_text, base) {
            Some(p) => (EngineKind::Sqlite, Some(p)),
            None => {
                d.err(
                    raw.url.pos,
                    format!(
                        "system `{name}`: a SQLite URL needs a file, e.g. `sqlite://legacy.db`"
                    ),
                );
                return None;
            }
        },
        _ => {
            // The URL may hold a password: never echo it.
            d.err(raw.url.pos, format!("system `{name}`: unsupported database URL (available schemes: postgres://, mysql://, mariadb://, sqlite://)"));
            return None;
        }
    };
    if engine != EngineKind::Sqlite && url::Url::parse(url_text).is_err() {
        d.err(raw.url.pos, format!("system `{name}`: the URL is not valid (write e.g. `postgres://user:password@host:5432/db`; percent-encode special characters in the password)"));
        return None;
    }
    let max_connections = match raw.max_connections {
        Some(m) if m.value == 0 => {
            d.err(
                m.pos,
                format!("system `{name}`: `max_connections` must be at least 1"),
            );
            None
        }
        Some(m) => Some(m.value),
        None => Some(DEFAULT_MAX_CONNECTIONS),
    };
    let statement_timeout = duration_or(&raw.statement_timeout, DEFAULT_STATEMENT_TIMEOUT, d);
    let connect_timeout = duration_or(&raw.connect_timeout, DEFAULT_CONNECT_TIMEOUT, d);
    let timezone = match &raw.timezone {
        Some(tz) => match tz.value.trim().parse::<chrono_tz::Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                d.err(tz.pos, format!("system `{name}`: unknown time zone `{}` (use an IANA name such as `Europe/Berlin` or `UTC`)", tz.value));
                None
            }
        },
        None => Some(chrono_tz::UTC),
    };
    Some(SystemConfig {
        name: name.to_string(),
        url: SecretUrl::database(url_text),
        engine,
        sqlite_path: sqlite,
        max_connections: max_connections?,
        statement_timeout: statement_timeout?,
        connect_timeout: connect_timeout?,
        timezone: timezone?,
    })
}
