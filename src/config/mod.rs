//! Configuration: the agent file (`driftwatch.yaml`) and the check files it names, parsed,
//! then validated into the types the rest of the agent uses.
//!
//! Parse, then validate, then build: YAML becomes a positioned tree ([`yaml`]), `${VAR}`
//! references are expanded, raw serde structs mirror the files (`deny_unknown_fields`
//! everywhere), and validation turns them into [`Config`] with parsed schedules, thresholds
//! and resolved system and sink references. Every error found is collected, each with
//! `file:line:column`. Nothing here touches a database: `validate --connect` is a separate
//! step in [`crate::app`].
//!
//! This module only orchestrates loading (files, sections, the order references are
//! resolved in) and re-exports. Each section and each check kind is read and validated in its
//! own module, and a kind is registered in [`registry`]; no child module uses anything
//! defined here.

mod aggregate;
mod alert;
mod check;
mod diag;
mod hash_diff;
mod hash_sample;
mod kind;
mod lag;
mod ref_integrity;
mod registry;
mod row_count;
mod side;
mod sink;
mod system;
mod threshold;
mod value;
pub mod yaml;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use diag::{list, Diag};
use value::valid_name;
use yaml::{Node, NodeKind, Pos, Spanned};

pub use aggregate::{AggFn, AggregateSpec, Measure};
pub use alert::AlertConfig;
pub use check::CheckConfig;
pub use diag::{ConfigError, ConfigErrors};
pub use hash_diff::{HashDiffSpec, KeyedSide, Window};
pub use hash_sample::HashSampleSpec;
pub use lag::{LagMode, LagSide, LagSpec};
pub use ref_integrity::{RefIntegritySpec, RefSide};
pub use registry::CheckSpec;
pub use row_count::RowCountSpec;
pub use side::{ColumnEntry, ColumnMapping, ColumnRefinement, TableSide};
pub use sink::{SinkConfig, SinkKind};
pub use system::{EngineKind, SystemConfig};
pub use threshold::{Threshold, Thresholds};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9187";
pub const DEFAULT_STATE: &str = "sqlite://driftwatch-state.db";

/// The validated configuration: everything the agent needs, nothing left to parse.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where people reach this agent (behind a proxy, say), for links in alerts; `None`:
    /// derived from `listen`.
    pub external_url: Option<String>,
    /// Path of the SQLite state store.
    pub state: PathBuf,
    pub systems: Vec<Arc<SystemConfig>>,
    pub sinks: Vec<SinkConfig>,
    pub checks: Vec<Arc<CheckConfig>>,
}

impl Config {
    pub fn system(&self, name: &str) -> Option<&Arc<SystemConfig>> {
        self.systems.iter().find(|s| s.name == name)
    }

    pub fn check(&self, name: &str) -> Option<&Arc<CheckConfig>> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The agent file's top level. `systems` and `sinks` are keyed by names the user chooses, so
/// their entries are read one by one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTop {
    listen: Option<Spanned<String>>,
    external_url: Option<Spanned<String>>,
    state: Option<Spanned<String>>,
    checks: Option<Vec<Spanned<String>>>,
    systems: Option<Node>,
    sinks: Option<Node>,
}

/// A check file's top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckFile {
    checks: Option<Node>,
}

/// Reads the environment for `${VAR}`.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Load and validate the agent file at `path` and every check file it names, reading
/// `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let lookup = |name: &str| std::env::var(name).ok();
    load_with(path, &lookup)
}

/// [`load`] with an explicit environment.
pub fn load_with(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            pos: Pos { line: 1, col: 1 },
            message: format!("cannot read the config file: {e} (pass its path with `-c FILE`)"),
        }])
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_str(path, &text, &base, env)
}

/// Validate a config given as text; `base` is the folder relative paths are resolved against.
pub fn load_str(
    path: &Path,
    text: &str,
    base: &Path,
    env: EnvLookup<'_>,
) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut builder = Builder {
        env,
        base: base.to_path_buf(),
        systems: Vec::new(),
        sinks: Vec::new(),
        checks: Vec::new(),
        listen: None,
        external_url: None,
        state: None,
        check_paths: Vec::new(),
        seen_checks: HashMap::new(),
        declared_systems: Vec::new(),
        sink_refs: Vec::new(),
        declared_sinks: Vec::new(),
    };
    if let Some(root) = builder.parse_file(path, text, &mut errors) {
        builder.top(path, &root, &mut errors);
        // Systems and sinks must be known before checks can refer to them.
        let mut files = Vec::new();
        for (pos, p) in std::mem::take(&mut builder.check_paths) {
            let mut d = Diag::new(path, &mut errors);
            collect_check_files(&builder.base.join(&p), &p, pos, &mut files, &mut d);
        }
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => builder.check_file(&file, &text, &mut errors),
                Err(e) => errors.push(ConfigError {
                    file: file.clone(),
                    pos: Pos { line: 1, col: 1 },
                    message: format!("cannot read the check file: {e}"),
                }),
            }
        }
        // Sink names used by `alert:` can only be checked once every sink is known.
        sink::resolve(
            std::mem::take(&mut builder.sink_refs),
            &builder.declared_sinks,
            &builder.sinks,
            &mut errors,
        );
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.file, a.pos).cmp(&(&b.file, b.pos)));
        errors.dedup();
        // A value whose variable is unset is not also reported as invalid.
        let unset: Vec<(PathBuf, Pos)> = errors
            .iter()
            .filter(|e| e.message.starts_with("environment variable"))
            .map(|e| (e.file.clone(), e.pos))
            .collect();
        errors.retain(|e| {
            e.message.starts_with("environment variable")
                || !unset.contains(&(e.file.clone(), e.pos))
        });
        return Err(ConfigErrors(errors));
    }
    Ok(Config {
        external_url: builder.external_url,
        listen: builder
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("default listen address")),
        state: builder
            .state
            .unwrap_or_else(|| builder.base.join("driftwatch-state.db")),
        systems: builder.systems.into_iter().map(Arc::new).collect(),
        sinks: builder.sinks,
        checks: builder.checks.into_iter().map(Arc::new).collect(),
    })
}

fn collect_check_files(
    path: &Path,
    shown: &str,
    pos: Pos,
    out: &mut Vec<PathBuf>,
    d: &mut Diag<'_>,
) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    if !path.is_dir() {
        d.err(
            pos,
            format!("checks path `{shown}` does not exist (paths are relative to the config file's folder)"),
        );
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            d.err(pos, format!("cannot read checks folder `{shown}`: {e}"));
            return;
        }
    };
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            let shown = format!(
                "{shown}/{}",
                entry.file_name().unwrap_or_default().to_string_lossy()
            );
            collect_check_files(&entry, &shown, pos, out, d);
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(entry);
        }
    }
}

struct Builder<'e> {
    env: EnvLookup<'e>,
    base: PathBuf,
    systems: Vec<SystemConfig>,
    sinks: Vec<SinkConfig>,
    checks: Vec<CheckConfig>,
    listen: Option<SocketAddr>,
    external_url: Option<String>,
    state: Option<PathBuf>,
    check_paths: Vec<(Pos, String)>,
    seen_checks: HashMap<String, (PathBuf, Pos)>,
    /// Every system name declared, valid or not, so a broken system does not also make
    /// every check that names it look misspelt.
    declared_systems: Vec<String>,
    /// Sink references from checks, resolved once every file is read.
    sink_refs: Vec<alert::SinkRef>,
    /// Every sink name declared, valid or not (as for systems).
    declared_sinks: Vec<String>,
}

impl Builder<'_> {
    fn parse_file(&self, file: &Path, text: &str, errors: &mut Vec<ConfigError>) -> Option<Node> {
        let mut d = Diag::new(file, errors);
        let mut root = match yaml::parse(text) {
            Ok(root) => root,
            Err(e) => {
                d.err(e.pos, format!("invalid YAML: {}", e.message));
                return None;
            }
        };
        for e in root.expand_env(self.env) {
            d.yaml(e);
        }
        Some(root)
    }

    fn top(&mut self, file: &Path, root: &Node, errors: &mut Vec<ConfigError>) {
        let mut d = Diag::new(file, errors);
        if root.as_map().is_none() {
            if !matches!(root.kind, NodeKind::Null) {
                d.err(
                    root.pos,
                    format!(
                        "the config must be a mapping with keys {}, found {}",
                        list(yaml::fields::<RawTop>()),
                        root.describe()
                    ),
                );
            } else {
                d.err(
                    root.pos,
                    "the config file is empty: it needs at least `systems:` and `checks:`",
                );
            }
            return;
        }
        // Each field is read as if on its own: a mistake in one does not hide the others.
        let (Some(raw), _) = d.partial::<RawTop>(root) else {
            return;
        };
        if let Some(s) = raw.listen {
            match s.value.parse::<SocketAddr>() {
                Ok(a) => self.listen = Some(a),
                Err(_) => d.err(
                    s.pos,
                    format!(
                        "invalid listen address `{}`: write host:port, e.g. `127.0.0.1:9187`",
                        s.value
                    ),
                ),
            }
        }
        if let Some(s) = raw.external_url {
            let u = s.value.trim().trim_end_matches('/');
            match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") => {
                    self.external_url = Some(u.to_string())
                }
                _ => d.err(s.pos, format!("invalid external_url `{}`: write the URL people open to reach this agent, e.g. `https://driftwatch.example.com`", s.value)),
            }
        }
        if let Some(s) = raw.state {
            match system::sqlite_path(&s.value, &self.base) {
                Some(p) => self.state = Some(p),
                None => d.err(s.pos, format!("invalid state store `{}`: write `sqlite://FILE` (the state store is SQLite)", s.value)),
            }
        }
        if let Some(paths) = raw.checks {
            self.check_paths
                .extend(paths.into_iter().map(|p| (p.pos, p.value)));
        }
        match &raw.systems {
            Some(node) => self.systems_section(node, &mut d),
            None => d.err(root.pos, "missing field `systems`: name the two databases to compare, e.g. `systems: {legacy: {url: ...}, modern: {url: ...}}`"),
        }
        if let Some(node) = &raw.sinks {
            self.sinks_section(node, &mut d);
        }
    }

    fn systems_section(&mut self, node: &Node, d: &mut Diag<'_>) {
        for (name, value) in named_entries("systems", "system", node, &mut self.declared_systems, d)
        {
            self.systems
                .extend(system::system(&name, value, &self.base, d));
        }
    }

    fn sinks_section(&mut self, node: &Node, d: &mut Diag<'_>) {
        for (name, value) in named_entries("sinks", "sink", node, &mut self.declared_sinks, d) {
            self.sinks.extend(sink::sink(name, value, d));
        }
    }

    fn check_file(&mut self, file: &Path, text: &str, errors: &mut Vec<ConfigError>) {
        let Some(root) = self.parse_file(file, text, errors) else {
            return;
        };
        let mut d = Diag::new(file, errors);
        if root.as_map().is_none() {
            d.err(
                root.pos,
                format!(
                    "a check file must be a mapping with a `checks:` list, found {}",
                    root.describe()
                ),
            );
            return;
        }
        let (Some(raw), _) = d.partial::<RawCheckFile>(&root) else {
            return;
        };
        let Some(checks) = raw.checks else {
            return;
        };
        let Some(items) = checks.as_seq() else {
            if !matches!(checks.kind, NodeKind::Null) {
                d.err(
                    checks.pos,
                    format!("`checks` must be a list, found {}", checks.describe()),
                );
            }
            return;
        };
        let mut ctx = check::Context {
            systems: &self.declared_systems,
            seen: &mut self.seen_checks,
            sink_refs: &mut self.sink_refs,
        };
        for item in items {
            self.checks
                .extend(check::check(file, item, &mut ctx, &mut d));
        }
    }
}

/// The entries of a section keyed by names (`systems:`, `sinks:`) whose names are valid;
/// every name, valid or not, goes to `declared`.
fn named_entries<'n>(
    section: &str,
    what: &str,
    node: &'n Node,
    declared: &mut Vec<String>,
    d: &mut Diag<'_>,
) -> Vec<(String, &'n Node)> {
    let Some(entries) = node.as_map() else {
        d.err(
            node.pos,
            format!(
                "`{section}` must be a mapping of names to {section}, found {}",
                node.describe()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let name = key.as_str().unwrap_or("").to_string();
        declared.push(name.clone());
        if valid_name(&name) {
            out.push((name, value));
        } else {
            d.err(
                key.pos,
                format!("invalid {what} name `{name}`: use lowercase letters, digits and `_`"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests;
