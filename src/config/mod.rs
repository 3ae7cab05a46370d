//! Configuration: the agent file (`driftwatch.yaml`) and the check files it names, parsed,
//! then validated into the types the rest of the agent uses.
//!
//! Parse, then validate, then build: YAML becomes a positioned tree ([`yaml`]), `${VAR}`
//! references are expanded, raw serde structs mirror the files (`deny_unknown_fields`
//! everywhere), and validation turns them into [`Config`] with parsed schedules, thresholds
//! and resolved system and sink references. Every error found is collected, each with
//! `file:line:column`. Nothing here touches a database: `validate --connect` is a separate
//! step in [`crate::app`].

mod kinds;
pub mod yaml;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::compare::normalize::LogicalType;
use crate::schedule::Schedule;
use crate::secret::{Secret, SecretUrl};
use yaml::{Node, NodeKind, Pos, Spanned};

pub use kinds::{
    AggFn, AggregateSpec, LagMode, LagSide, LagSpec, Measure, RefIntegritySpec, RefSide,
};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9187";
pub const DEFAULT_STATE: &str = "sqlite://driftwatch-state.db";
const DEFAULT_MAX_CONNECTIONS: u32 = 2;
const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(300);
const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_SINK_DEADLINE: Duration = Duration::from_secs(3600);
const DEFAULT_ERROR_AFTER: u32 = 3;

// ---------------------------------------------------------------------------------------------
// Errors

/// One problem in one file, at one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.message
        )
    }
}

/// Every problem found in a configuration, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        let n = self.0.len();
        write!(
            f,
            "{n} error{} in the configuration; fix {} and run `driftwatch validate` again",
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" }
        )
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects errors for one file.
struct Diag<'a> {
    file: &'a Path,
    errors: &'a mut Vec<ConfigError>,
}

impl Diag<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            pos,
            message: message.into(),
        });
    }

    fn yaml(&mut self, e: yaml::YamlError) {
        let message = with_suggestion(&e.message);
        self.err(e.pos, message);
    }

    fn deserialize<T: serde::de::DeserializeOwned>(&mut self, node: &Node) -> Option<T> {
        match yaml::from_node_collect(node) {
            Ok(v) => Some(v),
            Err(errors) => {
                for e in errors {
                    self.yaml(e);
                }
                None
            }
        }
    }
}

/// Appends "did you mean ...?" to an unknown-field message when a listed name is close.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match closest(field, &candidates) {
        Some(best) => format!("{message} (did you mean `{best}`?)"),
        None => message.to_string(),
    }
}

fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| {
            // A prefix (`warn` for `warning`) is as good as one typo.
            let d = if word.len() >= 3 && c.starts_with(word) {
                1
            } else {
                edit_distance(word, c)
            };
            (d, *c)
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Validated configuration

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

#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
    /// How long one delivery attempt may take.
    pub timeout: Duration,
    /// How long a notification is retried before it is given up on.
    pub deadline: Duration,
}

#[derive(Clone, Debug)]
pub enum SinkKind {
    PagerDuty {
        routing_key: Secret,
        url: String,
    },
    Slack {
        url: SecretUrl,
    },
    Webhook {
        url: SecretUrl,
        secret: Option<Secret>,
    },
}

/// The kinds of check this version runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckKind {
    RowCount,
    HashDiff,
    HashSample,
    Lag,
    RefIntegrity,
    Aggregate,
}

impl CheckKind {
    pub const ALL: &'static [CheckKind] = &[
        CheckKind::RowCount,
        CheckKind::HashDiff,
        CheckKind::HashSample,
        CheckKind::Lag,
        CheckKind::RefIntegrity,
        CheckKind::Aggregate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::RowCount => "row_count",
            CheckKind::HashDiff => "hash_diff",
            CheckKind::HashSample => "hash_sample",
            CheckKind::Lag => "lag",
            CheckKind::RefIntegrity => "ref_integrity",
            CheckKind::Aggregate => "aggregate",
        }
    }

    fn parse(s: &str) -> Option<CheckKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Keys a check of this kind takes besides the common ones and its system sides.
    fn own_fields(self) -> &'static [&'static str] {
        match self {
            CheckKind::RowCount => &[],
            CheckKind::HashDiff => &[
                "columns",
                "key_names",
                "key_types",
                "grace",
                "window",
                "version",
            ],
            CheckKind::HashSample => &["columns", "key_names", "key_types", "sample"],
            CheckKind::Lag => &["mode", "from", "to", "max_age", "per_key"],
            CheckKind::RefIntegrity => &["child", "parent", "types"],
            CheckKind::Aggregate => &["group_by", "measures"],
        }
    }

    /// Every key a check of this kind takes besides its system sides.
    fn fields(self) -> Vec<&'static str> {
        COMMON_CHECK_FIELDS
            .iter()
            .chain(self.own_fields())
            .copied()
            .collect()
    }
}

const COMMON_CHECK_FIELDS: &[&str] = &[
    "name",
    "kind",
    "description",
    "schedule",
    "timeout",
    "thresholds",
    "alert",
];

#[derive(Clone, Debug)]
pub struct CheckConfig {
    pub name: String,
    pub kind: CheckKind,
    pub description: Option<String>,
    pub schedule: Arc<Schedule>,
    pub timeout: Duration,
    pub thresholds: Thresholds,
    pub alert: Option<AlertConfig>,
    pub spec: CheckSpec,
    /// Where the check is defined, for messages.
    pub file: PathBuf,
    pub pos: Pos,
}

impl CheckConfig {
    /// The systems this check reads, in the order its sides are written.
    pub fn systems(&self) -> Vec<&str> {
        self.sides().iter().map(|s| s.system.as_str()).collect()
    }

    /// Each side's table and filter, in side order.
    pub fn sides(&self) -> Vec<&TableSide> {
        match &self.spec {
            CheckSpec::RowCount(spec) => spec.sides.iter().collect(),
            CheckSpec::HashDiff(spec) => spec.sides.iter().map(|s| &s.table).collect(),
            CheckSpec::HashSample(spec) => spec.compare.sides.iter().map(|s| &s.table).collect(),
            CheckSpec::Lag(spec) => spec.sides.iter().map(|s| &s.table).collect(),
            CheckSpec::RefIntegrity(spec) => vec![&spec.child.table, &spec.parent.table],
            CheckSpec::Aggregate(spec) => spec.sides.iter().collect(),
        }
    }
}

impl CheckConfig {
    /// Each side with the column expressions the check reads there (keys, mapped columns,
    /// timestamps, references, groups, measures), for `validate --connect`.
    pub fn expressions(&self) -> Vec<(&TableSide, Vec<String>)> {
        fn mapped(cols: &Option<Vec<ColumnMapping>>, i: usize) -> Vec<String> {
            cols.iter().flatten().map(|c| c.exprs[i].clone()).collect()
        }
        match &self.spec {
            CheckSpec::RowCount(spec) => spec.sides.iter().map(|s| (s, Vec::new())).collect(),
            CheckSpec::HashDiff(spec)
            | CheckSpec::HashSample(HashSampleSpec { compare: spec, .. }) => spec
                .sides
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut e = s.key.clone();
                    e.extend(mapped(&spec.columns, i));
                    (&s.table, e)
                })
                .collect(),
            CheckSpec::Lag(spec) => spec
                .sides
                .iter()
                .map(|s| {
                    let mut e = vec![s.timestamp.clone()];
                    e.extend(s.key.iter().cloned());
                    (&s.table, e)
                })
                .collect(),
            CheckSpec::RefIntegrity(spec) => vec![
                (&spec.child.table, spec.child.columns.clone()),
                (&spec.parent.table, spec.parent.columns.clone()),
            ],
            CheckSpec::Aggregate(spec) => spec
                .sides
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut e: Vec<String> =
                        spec.group_by.iter().map(|g| g.exprs[i].clone()).collect();
                    e.extend(
                        spec.measures
                            .iter()
                            .filter_map(|m| m.exprs.as_ref().map(|x| x[i].clone())),
                    );
                    (s, e)
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug)]
pub enum CheckSpec {
    RowCount(RowCountSpec),
    HashDiff(HashDiffSpec),
    HashSample(HashSampleSpec),
    Lag(LagSpec),
    RefIntegrity(RefIntegritySpec),
    Aggregate(AggregateSpec),
}

/// A sampled content comparison: random keys from both sides, compared row by row.
#[derive(Clone, Debug)]
pub struct HashSampleSpec {
    /// Sides, key and columns, as for `hash_diff` (without `grace`).
    pub compare: HashDiffSpec,
    /// Keys to sample per run (about half from each side).
    pub size: u32,
}

/// A content comparison: rows matched by key, mapped columns compared by canonical value.
#[derive(Clone, Debug)]
pub struct HashDiffSpec {
    pub sides: [KeyedSide; 2],
    /// The key's logical names, as results report them.
    pub key_names: Vec<String>,
    /// How each key column compares, where the databases disagree (a CHAR(36) uuid against
    /// a UUID); inferred when omitted.
    pub key_types: Option<Vec<LogicalType>>,
    /// The mapped columns; `None` compares every column both tables share by name.
    pub columns: Option<Vec<ColumnMapping>>,
    /// How long a difference must persist before it counts as drift.
    pub grace: Option<Duration>,
    /// Compare only rows whose `column` (a logical timestamp column) is within `since`.
    pub window: Option<Window>,
    /// A logical column (updated_at, a version counter) left out of the comparison and
    /// used to say which system holds the newer version of a changed row.
    pub version: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Window {
    pub column: String,
    pub since: Duration,
}

#[derive(Clone, Debug)]
pub struct KeyedSide {
    pub table: TableSide,
    /// Key column expressions, in order.
    pub key: Vec<String>,
}

/// One logical column: an expression per side (in side order) and how to compare it.
#[derive(Clone, Debug)]
pub struct ColumnMapping {
    pub name: String,
    pub exprs: [String; 2],
    pub ty: Option<LogicalType>,
}

#[derive(Clone, Debug)]
pub struct RowCountSpec {
    pub sides: [TableSide; 2],
}

/// One system's side of a check: which table, filtered how.
#[derive(Clone, Debug)]
pub struct TableSide {
    pub system: String,
    pub table: String,
    /// A SQL boolean expression in the system's own dialect, written by the config's author.
    pub filter: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds {
    pub warning: Option<Threshold>,
    pub critical: Option<Threshold>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// An absolute amount (rows).
    Count(f64),
    /// A share of the larger side, in percent.
    Percent(f64),
}

impl Threshold {
    fn parse(text: &str) -> Result<Threshold, String> {
        let t = text.trim();
        let (number, percent) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (t, false),
        };
        let value: f64 = number.parse().map_err(|_| {
            format!("invalid threshold `{t}`: write a number of rows such as `10`, or a percentage such as `0.5%`")
        })?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("invalid threshold `{t}`: it must be zero or more"));
        }
        Ok(if percent {
            Threshold::Percent(value)
        } else {
            Threshold::Count(value)
        })
    }

    /// Whether `value` (out of `total`) reaches this threshold.
    pub fn breached_by(self, value: f64, total: f64) -> bool {
        match self {
            Threshold::Count(limit) => value >= limit && value > 0.0,
            Threshold::Percent(pct) => {
                value > 0.0 && (total <= 0.0 || value * 100.0 >= pct * total)
            }
        }
    }

    /// The threshold as an absolute amount, for the `driftwatch_threshold` metric.
    pub fn absolute(self, total: f64) -> f64 {
        match self {
            Threshold::Count(v) => v,
            Threshold::Percent(p) => p * total / 100.0,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Count(v) => write!(f, "{v}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AlertConfig {
    pub sinks: Vec<String>,
    pub for_: Duration,
    pub repeat_interval: Option<Duration>,
    pub runbook_url: Option<String>,
    pub dashboard_url: Option<String>,
    /// Errors in a row after which the check's own "broken" alert fires.
    pub error_after: u32,
}

// ---------------------------------------------------------------------------------------------
// Raw file shapes

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    url: Spanned<String>,
    max_connections: Option<Spanned<u32>>,
    statement_timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    routing_key: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    deadline: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: Spanned<String>,
    #[allow(dead_code)] // read before deserialising, kept so the field is accepted
    kind: Spanned<String>,
    description: Option<String>,
    schedule: Spanned<String>,
    timeout: Option<Spanned<String>>,
    thresholds: Option<RawThresholds>,
    alert: Option<RawAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    warning: Option<Spanned<String>>,
    critical: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    sinks: Vec<Spanned<String>>,
    #[serde(rename = "for")]
    for_: Option<Spanned<String>>,
    repeat_interval: Option<Spanned<String>>,
    runbook_url: Option<String>,
    dashboard_url: Option<String>,
    error_after: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTableSide {
    table: Spanned<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
    key: Option<Spanned<Vec<String>>>,
}

// ---------------------------------------------------------------------------------------------
// Loading

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
            let mut d = Diag {
                file: path,
                errors: &mut errors,
            };
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
        builder.resolve_references(&mut errors);
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
    sink_refs: Vec<(PathBuf, Pos, String)>,
    /// Every sink name declared, valid or not (as for systems).
    declared_sinks: Vec<String>,
}

impl Builder<'_> {
    fn parse_file(&self, file: &Path, text: &str, errors: &mut Vec<ConfigError>) -> Option<Node> {
        let mut d = Diag { file, errors };
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
        const FIELDS: &[&str] = &[
            "listen",
            "external_url",
            "state",
            "checks",
            "systems",
            "sinks",
        ];
        let mut d = Diag { file, errors };
        let Some(entries) = root.as_map() else {
            if !matches!(root.kind, NodeKind::Null) {
                d.err(
                    root.pos,
                    format!(
                        "the config must be a mapping with keys {}, found {}",
                        list(FIELDS),
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
        };
        let mut saw_systems = false;
        for (key, value) in entries {
            let name = key.as_str().unwrap_or("");
            match name {
                "listen" => {
                    if let Some(s) = d.deserialize::<Spanned<String>>(value) {
                        match s.value.parse::<SocketAddr>() {
                            Ok(a) => self.listen = Some(a),
                            Err(_) => d.err(s.pos, format!("invalid listen address `{}`: write host:port, e.g. `127.0.0.1:9187`", s.value)),
                        }
                    }
                }
                "external_url" => {
                    if let Some(s) = d.deserialize::<Spanned<String>>(value) {
                        let u = s.value.trim().trim_end_matches('/');
                        match url::Url::parse(u) {
                            Ok(p) if matches!(p.scheme(), "http" | "https") => {
                                self.external_url = Some(u.to_string())
                            }
                            _ => d.err(s.pos, format!("invalid external_url `{}`: write the URL people open to reach this agent, e.g. `https://driftwatch.example.com`", s.value)),
                        }
                    }
                }
                "state" => {
                    if let Some(s) = d.deserialize::<Spanned<String>>(value) {
                        match sqlite_path(&s.value, &self.base) {
                            Some(p) => self.state = Some(p),
                            None => d.err(s.pos, format!("invalid state store `{}`: write `sqlite://FILE` (the state store is SQLite)", s.value)),
                        }
                    }
                }
                "checks" => {
                    if let Some(paths) = d.deserialize::<Vec<Spanned<String>>>(value) {
                        self.check_paths
                            .extend(paths.into_iter().map(|p| (p.pos, p.value)));
                    }
                }
                "systems" => {
                    saw_systems = true;
                    self.systems_section(value, &mut d);
                }
                "sinks" => self.sinks_section(value, &mut d),
                other => {
                    let mut msg =
                        format!("unknown field `{other}`, expected one of {}", list(FIELDS));
                    msg = with_suggestion(&msg);
                    d.err(key.pos, msg);
                }
            }
        }
        if !saw_systems {
            d.err(root.pos, "missing field `systems`: name the two databases to compare, e.g. `systems: {legacy: {url: ...}, modern: {url: ...}}`");
        }
    }

    fn systems_section(&mut self, node: &Node, d: &mut Diag<'_>) {
        let Some(entries) = node.as_map() else {
            d.err(
                node.pos,
                format!(
                    "`systems` must be a mapping of names to systems, found {}",
                    node.describe()
                ),
            );
            return;
        };
        for (key, value) in entries {
            let name = key.as_str().unwrap_or("").to_string();
            self.declared_systems.push(name.clone());
            if !valid_name(&name) {
                d.err(
                    key.pos,
                    format!("invalid system name `{name}`: use lowercase letters, digits and `_`"),
                );
                continue;
            }
            let Some(raw) = d.deserialize::<RawSystem>(value) else {
                continue;
            };
            if let Some(sys) = build_system(&name, raw, &self.base, d) {
                self.systems.push(sys);
            }
        }
    }

    fn sinks_section(&mut self, node: &Node, d: &mut Diag<'_>) {
        let Some(entries) = node.as_map() else {
            d.err(
                node.pos,
                format!(
                    "`sinks` must be a mapping of names to sinks, found {}",
                    node.describe()
                ),
            );
            return;
        };
        for (key, value) in entries {
            let name = key.as_str().unwrap_or("").to_string();
            self.declared_sinks.push(name.clone());
            if !valid_name(&name) {
                d.err(
                    key.pos,
                    format!("invalid sink name `{name}`: use lowercase letters, digits and `_`"),
                );
                continue;
            }
            let Some(raw) = d.deserialize::<RawSink>(value) else {
                continue;
            };
            if let Some(sink) = build_sink(name, raw, value.pos, d) {
                self.sinks.push(sink);
            }
        }
    }

    fn check_file(&mut self, file: &Path, text: &str, errors: &mut Vec<ConfigError>) {
        let Some(root) = self.parse_file(file, text, errors) else {
            return;
        };
        let mut d = Diag { file, errors };
        let Some(entries) = root.as_map() else {
            d.err(
                root.pos,
                format!(
                    "a check file must be a mapping with a `checks:` list, found {}",
                    root.describe()
                ),
            );
            return;
        };
        for (key, value) in entries {
            match key.as_str().unwrap_or("") {
                "checks" => {
                    let Some(items) = value.as_seq() else {
                        if !matches!(value.kind, NodeKind::Null) {
                            d.err(
                                value.pos,
                                format!("`checks` must be a list, found {}", value.describe()),
                            );
                        }
                        continue;
                    };
                    for item in items {
                        if let Some(check) = self.check(file, item, &mut d) {
                            self.checks.push(check);
                        }
                    }
                }
                other => d.err(
                    key.pos,
                    with_suggestion(&format!("unknown field `{other}`, expected `checks`")),
                ),
            }
        }
    }

    fn check(&mut self, file: &Path, node: &Node, d: &mut Diag<'_>) -> Option<CheckConfig> {
        let Some(entries) = node.as_map() else {
            d.err(
                node.pos,
                format!("a check must be a mapping, found {}", node.describe()),
            );
            return None;
        };
        let label = node
            .get("name")
            .and_then(Node::as_str)
            .map(|n| format!(" in check `{n}`"))
            .unwrap_or_default();
        let kind = match node.get("kind") {
            None => {
                d.err(
                    node.pos,
                    format!("missing field `kind`{label} (available: {})", kind_names()),
                );
                None
            }
            Some(k) => {
                let s = k.as_str().unwrap_or("");
                let kind = CheckKind::parse(s);
                if kind.is_none() {
                    d.err(
                        k.pos,
                        format!("unknown kind `{s}`{label} (available: {})", kind_names()),
                    );
                }
                kind
            }
        };
        let system_names: Vec<&str> = self.declared_systems.iter().map(String::as_str).collect();
        // Known keys go to serde; a key naming a system is that system's side; the rest is a typo.
        let allowed = kind
            .map(CheckKind::fields)
            .unwrap_or_else(|| COMMON_CHECK_FIELDS.to_vec());
        let mut own = Vec::new();
        let mut extras: Vec<(Node, Node)> = Vec::new();
        let mut sides = Vec::new();
        for (key, value) in entries {
            let k = key.as_str().unwrap_or("");
            if COMMON_CHECK_FIELDS.contains(&k) {
                own.push((key.clone(), value.clone()));
            } else if allowed.contains(&k) {
                extras.push((key.clone(), value.clone()));
            } else if system_names.contains(&k) {
                sides.push((key, value));
            } else if kind.is_some() {
                let mut candidates: Vec<&str> = allowed.to_vec();
                candidates.extend(system_names.iter().copied());
                let mut msg = format!(
                    "unknown field `{k}`{label}, expected one of {} or a system name",
                    list(&allowed)
                );
                if system_names.is_empty() {
                    msg.push_str(" (no systems are defined)");
                } else {
                    msg.push_str(&format!(" ({})", list(&system_names)));
                }
                let best = closest(k, &candidates);
                if let Some(best) = best {
                    msg.push_str(&format!(" (did you mean `{best}`?)"));
                }
                d.err(key.pos, msg);
                // Go on as if the suggestion had been written, so its value is still checked
                // and no "missing field" follows from the typo.
                if let Some(best) = best.filter(|b| allowed.contains(b) && node.get(b).is_none()) {
                    let renamed = Node {
                        kind: NodeKind::Scalar {
                            value: best.to_string(),
                            quoted: false,
                        },
                        pos: key.pos,
                    };
                    if COMMON_CHECK_FIELDS.contains(&best) {
                        own.push((renamed, value.clone()));
                    } else {
                        extras.push((renamed, value.clone()));
                    }
                }
            }
        }
        let kind = kind?;
        // Sides are validated even when the common fields are not, so one pass shows both.
        let spec = match kind {
            CheckKind::RowCount => {
                row_count_spec(node.pos, &label, &sides, d).map(CheckSpec::RowCount)
            }
            CheckKind::HashDiff => {
                hash_diff_spec(node.pos, &label, &sides, &extras, d).map(CheckSpec::HashDiff)
            }
            CheckKind::HashSample => {
                let size = sample_size(&extras, d);
                let compare = hash_diff_spec(node.pos, &label, &sides, &extras, d);
                match (compare, size) {
                    (Some(compare), Some(size)) => {
                        Some(CheckSpec::HashSample(HashSampleSpec { compare, size }))
                    }
                    _ => None,
                }
            }
            CheckKind::Lag => {
                kinds::lag_spec(node.pos, &label, &sides, &extras, d).map(CheckSpec::Lag)
            }
            CheckKind::RefIntegrity => kinds::ref_integrity_spec(
                node.pos,
                &label,
                &sides,
                &extras,
                &self.declared_systems,
                d,
            )
            .map(CheckSpec::RefIntegrity),
            CheckKind::Aggregate => kinds::aggregate_spec(node.pos, &label, &sides, &extras, d)
                .map(CheckSpec::Aggregate),
        };
        let raw: RawCheck = d.deserialize(&Node {
            kind: NodeKind::Map(own),
            pos: node.pos,
        })?;
        let name = raw.name.value.clone();
        let mut ok = true;
        if !valid_name(&name) {
            d.err(raw.name.pos, format!("invalid check name `{name}`: use lowercase letters, digits and `_` (it becomes a metric label)"));
            ok = false;
        } else if let Some((f, p)) = self.seen_checks.get(&name) {
            d.err(
                raw.name.pos,
                format!(
                    "duplicate check name `{name}`: already defined at {}:{}:{}",
                    f.display(),
                    p.line,
                    p.col
                ),
            );
            ok = false;
        } else {
            self.seen_checks
                .insert(name.clone(), (file.to_path_buf(), raw.name.pos));
        }
        let schedule = match Schedule::parse(&raw.schedule.value) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                d.err(raw.schedule.pos, e);
                None
            }
        };

        let timeout = match &raw.timeout {
            Some(t) => duration(t, d),
            None => Some(DEFAULT_CHECK_TIMEOUT),
        };
        let thresholds = match &raw.thresholds {
            Some(t) => thresholds(t, kind, d),
            // Drift must never look like health: without thresholds, any finding warns.
            None => Some(Thresholds {
                warning: Some(Threshold::Count(1.0)),
                critical: None,
            }),
        };
        let alert = match raw.alert {
            Some(a) => alert(file, a, d, &mut self.sink_refs),
            None => Some(None),
        };
        if let (Some(CheckSpec::HashDiff(h)), Some(t)) = (&spec, timeout) {
            if let Some(grace) = h.grace.filter(|g| *g >= t) {
                d.err(
                    node.pos,
                    format!(
                        "`grace` ({}) must be shorter than the check's `timeout` ({}){label}: differences are re-checked within the run",
                        humantime::format_duration(grace),
                        humantime::format_duration(t)
                    ),
                );
                return None;
            }
        }
        if !ok {
            return None;
        }
        Some(CheckConfig {
            name,
            kind,
            description: raw.description,
            schedule: schedule?,
            timeout: timeout?,
            thresholds: thresholds?,
            alert: alert?,
            spec: spec?,
            file: file.to_path_buf(),
            pos: node.pos,
        })
    }

    /// Sink names used by `alert:` can only be checked once every sink is known.
    fn resolve_references(&mut self, errors: &mut Vec<ConfigError>) {
        let sinks: Vec<&str> = self.sinks.iter().map(|s| s.name.as_str()).collect();
        for (file, pos, name) in std::mem::take(&mut self.sink_refs) {
            // A sink with errors of its own is reported there, not again here.
            if !self.declared_sinks.contains(&name) {
                let mut msg = format!("unknown sink `{name}`");
                if sinks.is_empty() {
                    msg.push_str(
                        ": no sinks are defined; add it under `sinks:` in the config file",
                    );
                } else {
                    msg.push_str(&format!(" (available: {})", list(&sinks)));
                    if let Some(best) = closest(&name, &sinks) {
                        msg.push_str(&format!(" (did you mean `{best}`?)"));
                    }
                }
                errors.push(ConfigError {
                    file,
                    pos,
                    message: msg,
                });
            }
        }
    }
}

fn kind_names() -> String {
    CheckKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn duration(s: &Spanned<String>, d: &mut Diag<'_>) -> Option<Duration> {
    match humantime::parse_duration(s.value.trim()) {
        Ok(v) if !v.is_zero() => Some(v),
        Ok(_) => {
            d.err(
                s.pos,
                format!("duration `{}` must be more than zero", s.value),
            );
            None
        }
        Err(e) => {
            d.err(
                s.pos,
                format!(
                    "invalid duration `{}`: {e} (write e.g. `30s`, `5m`, `1h`)",
                    s.value
                ),
            );
            None
        }
    }
}

fn thresholds(raw: &RawThresholds, kind: CheckKind, d: &mut Diag<'_>) -> Option<Thresholds> {
    let mut parse = |t: &Option<Spanned<String>>| -> Result<Option<Threshold>, ()> {
        match t {
            None => Ok(None),
            // Lag is a duration: thresholds are seconds, written as durations.
            Some(s) if kind == CheckKind::Lag => kinds::lag_threshold(&s.value)
                .map(|v| Some(Threshold::Count(v)))
                .map_err(|e| d.err(s.pos, e)),
            Some(s) => Threshold::parse(&s.value)
                .map(Some)
                .map_err(|e| d.err(s.pos, e)),
        }
    };
    let warning = parse(&raw.warning);
    let critical = parse(&raw.critical);
    let (Ok(warning), Ok(critical)) = (warning, critical) else {
        return None;
    };
    if let (Some(Threshold::Count(w)), Some(Threshold::Count(c)), Some(pos)) =
        (warning, critical, raw.critical.as_ref().map(|c| c.pos))
    {
        if c < w {
            d.err(
                pos,
                format!("critical threshold {c} is below the warning threshold {w}"),
            );
            return None;
        }
    }
    Some(Thresholds { warning, critical })
}

fn alert(
    file: &Path,
    raw: RawAlert,
    d: &mut Diag<'_>,
    refs: &mut Vec<(PathBuf, Pos, String)>,
) -> Option<Option<AlertConfig>> {
    for s in &raw.sinks {
        refs.push((file.to_path_buf(), s.pos, s.value.clone()));
    }
    let for_ = match &raw.for_ {
        Some(f) => match humantime::parse_duration(f.value.trim()) {
            Ok(v) => Some(v),
            Err(e) => {
                d.err(
                    f.pos,
                    format!("invalid duration `{}`: {e} (write e.g. `10m`)", f.value),
                );
                None
            }
        },
        None => Some(Duration::ZERO),
    };
    let repeat = match &raw.repeat_interval {
        Some(r) => duration(r, d).map(Some),
        None => Some(None),
    };
    let error_after = match raw.error_after {
        Some(n) if n.value == 0 => {
            d.err(
                n.pos,
                "`error_after` must be at least 1 (failed runs in a row before the check counts as broken)",
            );
            None
        }
        Some(n) => Some(n.value),
        None => Some(DEFAULT_ERROR_AFTER),
    };
    Some(Some(AlertConfig {
        sinks: raw.sinks.into_iter().map(|s| s.value).collect(),
        for_: for_?,
        repeat_interval: repeat?,
        runbook_url: raw.runbook_url,
        dashboard_url: raw.dashboard_url,
        error_after: error_after?,
    }))
}

fn row_count_spec(
    pos: Pos,
    label: &str,
    sides: &[(&Node, &Node)],
    d: &mut Diag<'_>,
) -> Option<RowCountSpec> {
    let sides = two_sides(pos, label, "row_count", sides, d)?;
    let mut out = Vec::new();
    for (key, value) in sides {
        let raw: RawTableSide = d.deserialize(value)?;
        if raw.table.value.trim().is_empty() {
            d.err(
                raw.table.pos,
                "`table` is empty: name the table, e.g. `table: clinic.patients`",
            );
            return None;
        }
        out.push(TableSide {
            system: key.as_str().unwrap_or_default().to_string(),
            table: raw.table.value.trim().to_string(),
            filter: raw.filter.filter(|f| !f.trim().is_empty()),
        });
    }
    let [a, b]: [TableSide; 2] = out.try_into().ok()?;
    Some(RowCountSpec { sides: [a, b] })
}

fn table_side(key: &Node, raw: RawTableSide, d: &mut Diag<'_>) -> Option<TableSide> {
    if raw.table.value.trim().is_empty() {
        d.err(
            raw.table.pos,
            "`table` is empty: name the table, e.g. `table: clinic.patients`",
        );
        return None;
    }
    Some(TableSide {
        system: key.as_str().unwrap_or_default().to_string(),
        table: raw.table.value.trim().to_string(),
        filter: raw.filter.filter(|f| !f.trim().is_empty()),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    column: Spanned<String>,
    since: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    size: Spanned<u32>,
}

/// `sample: {size: N}` (default 1000 keys).
fn sample_size(extras: &[(Node, Node)], d: &mut Diag<'_>) -> Option<u32> {
    match extras.iter().find(|(k, _)| k.as_str() == Some("sample")) {
        None => Some(1000),
        Some((_, value)) => {
            let raw: RawSample = d.deserialize(value)?;
            if raw.size.value == 0 || raw.size.value > 1_000_000 {
                d.err(raw.size.pos, "`sample.size` must be between 1 and 1000000");
                return None;
            }
            Some(raw.size.value)
        }
    }
}

fn hash_diff_spec(
    pos: Pos,
    label: &str,
    sides: &[(&Node, &Node)],
    extras: &[(Node, Node)],
    d: &mut Diag<'_>,
) -> Option<HashDiffSpec> {
    let sides = two_sides(pos, label, "hash_diff", sides, d)?;
    let mut keyed = Vec::new();
    let mut ok = true;
    for (key, value) in sides {
        let Some(raw) = d.deserialize::<RawTableSide>(value) else {
            ok = false;
            continue;
        };
        let Some(columns) = raw.key.clone() else {
            d.err(value.pos, format!("missing field `key`: a hash_diff side needs the key column(s) that match rows, e.g. `key: [id]`{label}"));
            ok = false;
            continue;
        };
        if columns.value.is_empty() || columns.value.iter().any(|c| c.trim().is_empty()) {
            d.err(
                columns.pos,
                "`key` must list at least one column, none of them empty",
            );
            ok = false;
            continue;
        }
        let Some(table) = table_side(key, raw, d) else {
            ok = false;
            continue;
        };
        keyed.push((
            columns.pos,
            KeyedSide {
                table,
                key: columns.value.iter().map(|c| c.trim().to_string()).collect(),
            },
        ));
    }
    let system_names: Vec<String> = sides
        .iter()
        .map(|(k, _)| k.as_str().unwrap_or("").to_string())
        .collect();
    let mut columns = None;
    let mut key_names = None;
    let mut key_types: Option<Spanned<Vec<LogicalType>>> = None;
    let mut grace = None;
    let mut window: Option<(Pos, Window)> = None;
    let mut version: Option<Spanned<String>> = None;
    for (key, value) in extras {
        match key.as_str().unwrap_or("") {
            "columns" => columns = column_mappings(value, &system_names, d),
            "key_types" => match d.deserialize::<Spanned<Vec<String>>>(value) {
                Some(types) => {
                    let mut parsed = Vec::new();
                    for t in &types.value {
                        match t.parse::<LogicalType>() {
                            Ok(ty) if crate::compare::key_type_supported(ty) => parsed.push(ty),
                            Ok(ty) => {
                                d.err(
                                    types.pos,
                                    format!("a key compares as int, text, uuid or date, not {ty}"),
                                );
                                ok = false;
                            }
                            Err(e) => {
                                d.err(types.pos, e);
                                ok = false;
                            }
                        }
                    }
                    key_types = Some(Spanned {
                        value: parsed,
                        pos: types.pos,
                    });
                }
                None => ok = false,
            },
            "key_names" => match d.deserialize::<Spanned<Vec<String>>>(value) {
                Some(names) => key_names = Some(names),
                None => ok = false,
            },
            "window" => match d.deserialize::<RawWindow>(value) {
                Some(w) => match duration(&w.since, d) {
                    Some(since) => {
                        window = Some((
                            w.column.pos,
                            Window {
                                column: w.column.value,
                                since,
                            },
                        ))
                    }
                    None => ok = false,
                },
                None => ok = false,
            },
            "version" => match d.deserialize::<Spanned<String>>(value) {
                Some(v) => version = Some(v),
                None => ok = false,
            },
            "grace" => match d.deserialize::<Spanned<String>>(value) {
                Some(g) => match duration(&g, d) {
                    Some(v) => grace = Some(v),
                    None => ok = false,
                },
                None => ok = false,
            },
            _ => {}
        }
        if key.as_str() == Some("columns") && columns.is_none() {
            ok = false;
        }
    }
    if !ok || keyed.len() != 2 {
        return None;
    }
    let (pos_b, b) = keyed.pop()?;
    let (_, a) = keyed.pop()?;
    if a.key.len() != b.key.len() {
        d.err(pos_b, format!("the two sides' keys have different lengths ({} and {}): list the matching key columns in the same order on both sides", a.key.len(), b.key.len()));
        return None;
    }
    if let Some(t) = key_types
        .as_ref()
        .filter(|t| ok && t.value.len() != a.key.len())
    {
        d.err(
            t.pos,
            format!(
                "`key_types` has {} types for a key of {} columns",
                t.value.len(),
                a.key.len()
            ),
        );
        return None;
    }
    let key_names = match key_names {
        Some(names) if names.value.len() != a.key.len() => {
            d.err(
                names.pos,
                format!(
                    "`key_names` has {} names for a key of {} columns",
                    names.value.len(),
                    a.key.len()
                ),
            );
            return None;
        }
        Some(names) => names.value,
        // Results name the key as the second side (usually the new system) does.
        None => b
            .key
            .iter()
            .map(|k| k.rsplit('.').next().unwrap_or(k).to_string())
            .collect(),
    };
    // `window` and `version` name logical columns: check them against the mapping.
    if let Some(cols) = &columns {
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        for (pos, field, name) in window
            .iter()
            .map(|(p, w)| (*p, "window.column", w.column.as_str()))
            .chain(version.iter().map(|v| (v.pos, "version", v.value.as_str())))
        {
            if !names.contains(&name) {
                d.err(
                    pos,
                    format!(
                        "`{field}` names `{name}`, which is not one of the mapped `columns` ({})",
                        list(&names)
                    ),
                );
                return None;
            }
        }
    }
    Some(HashDiffSpec {
        sides: [a, b],
        key_names,
        key_types: key_types.map(|t| t.value),
        columns,
        grace,
        window: window.map(|(_, w)| w),
        version: version.map(|v| v.value),
    })
}

/// `columns:` maps logical names to one expression per system and an optional `type`.
fn column_mappings(
    node: &Node,
    systems: &[String],
    d: &mut Diag<'_>,
) -> Option<Vec<ColumnMapping>> {
    let Some(entries) = node.as_map() else {
        d.err(node.pos, format!("`columns` must be a mapping of logical column names to `{{{}: <expr>, {}: <expr>, type: <type>}}`, found {}", systems[0], systems[1], node.describe()));
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name_node, value) in entries {
        let name = name_node.as_str().unwrap_or("").to_string();
        if name.is_empty() {
            d.err(name_node.pos, "a column needs a name");
            ok = false;
            continue;
        }
        let Some(fields) = value.as_map() else {
            d.err(value.pos, format!("column `{name}` must be a mapping such as `{{{}: EXPR, {}: EXPR, type: text}}`, found {}", systems[0], systems[1], value.describe()));
            ok = false;
            continue;
        };
        let mut exprs: [Option<String>; 2] = [None, None];
        let mut ty = None;
        for (k, v) in fields {
            let field = k.as_str().unwrap_or("");
            if field == "type" {
                match d.deserialize::<Spanned<String>>(v) {
                    Some(t) => match t.value.parse::<LogicalType>() {
                        Ok(parsed) => ty = Some(parsed),
                        Err(e) => {
                            d.err(t.pos, e);
                            ok = false;
                        }
                    },
                    None => ok = false,
                }
            } else if let Some(i) = systems.iter().position(|s| s == field) {
                match d.deserialize::<String>(v) {
                    Some(e) if !e.trim().is_empty() => exprs[i] = Some(e.trim().to_string()),
                    Some(_) => {
                        d.err(
                            v.pos,
                            format!("column `{name}`: the expression for `{field}` is empty"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            } else {
                let mut candidates: Vec<&str> = systems.iter().map(String::as_str).collect();
                candidates.push("type");
                let mut msg = format!(
                    "unknown field `{field}` in column `{name}`, expected {} or `type`",
                    list(&candidates[..2])
                );
                if let Some(best) = closest(field, &candidates) {
                    msg.push_str(&format!(" (did you mean `{best}`?)"));
                }
                d.err(k.pos, msg);
                ok = false;
            }
        }
        match exprs {
            [Some(a), Some(b)] => out.push(ColumnMapping {
                name,
                exprs: [a, b],
                ty,
            }),
            [a, _] => {
                let missing = if a.is_none() {
                    &systems[0]
                } else {
                    &systems[1]
                };
                d.err(value.pos, format!("column `{name}` has no expression for `{missing}`: write the SQL that gives this column on that system"));
                ok = false;
            }
        }
    }
    if out.is_empty() && ok {
        d.err(node.pos, "`columns` is empty: map at least one column, or leave `columns` out to compare every column both tables share");
        return None;
    }
    ok.then_some(out)
}

fn two_sides<'n>(
    pos: Pos,
    label: &str,
    kind: &str,
    sides: &[(&'n Node, &'n Node)],
    d: &mut Diag<'_>,
) -> Option<[(&'n Node, &'n Node); 2]> {
    match sides {
        [a, b] => Some([*a, *b]),
        _ => {
            let names: Vec<&str> = sides.iter().filter_map(|(k, _)| k.as_str()).collect();
            d.err(
                pos,
                format!(
                    "a {kind} check compares two systems{label}: found {} ({}); add one key per system, named as under `systems:`",
                    sides.len(),
                    if names.is_empty() { "none".to_string() } else { list(&names) }
                ),
            );
            None
        }
    }
}

fn sqlite_path(url: &str, base: &Path) -> Option<PathBuf> {
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

fn build_system(name: &str, raw: RawSystem, base: &Path, d: &mut Diag<'_>) -> Option<SystemConfig> {
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
    let statement_timeout = match &raw.statement_timeout {
        Some(t) => duration(t, d),
        None => Some(DEFAULT_STATEMENT_TIMEOUT),
    };
    let connect_timeout = match &raw.connect_timeout {
        Some(t) => duration(t, d),
        None => Some(DEFAULT_CONNECT_TIMEOUT),
    };
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

fn build_sink(name: String, raw: RawSink, pos: Pos, d: &mut Diag<'_>) -> Option<SinkConfig> {
    let timeout = match &raw.timeout {
        Some(t) => duration(t, d),
        None => Some(DEFAULT_SINK_TIMEOUT),
    };
    let deadline = match &raw.deadline {
        Some(t) => duration(t, d),
        None => Some(DEFAULT_SINK_DEADLINE),
    };
    if let (Some(t), Some(dl), Some(raw_dl)) = (timeout, deadline, &raw.deadline) {
        if dl < t {
            d.err(
                raw_dl.pos,
                format!(
                    "sink `{name}`: `deadline` ({}) is shorter than one attempt's `timeout` ({}): give retries at least that long",
                    humantime::format_duration(dl),
                    humantime::format_duration(t)
                ),
            );
            return None;
        }
    }
    let kind = sink_kind(raw, pos, d)?;
    Some(SinkConfig {
        name,
        kind,
        timeout: timeout?,
        deadline: deadline?,
    })
}

fn sink_kind(raw: RawSink, pos: Pos, d: &mut Diag<'_>) -> Option<SinkKind> {
    let kind = raw.kind.value.as_str();
    let not_for = |d: &mut Diag<'_>, field: &Option<Spanned<String>>, name: &str| {
        if let Some(f) = field {
            d.err(f.pos, format!("`{name}` is not used by a {kind} sink"));
        }
    };
    let need_url = |d: &mut Diag<'_>, url: &Option<Spanned<String>>| -> Option<SecretUrl> {
        match url {
            Some(u) if url::Url::parse(u.value.trim()).is_ok() => {
                Some(SecretUrl::webhook(u.value.trim()))
            }
            Some(u) => {
                d.err(u.pos, format!("the {kind} sink's `url` is not a valid URL"));
                None
            }
            None => {
                d.err(
                    pos,
                    format!("missing field `url`: a {kind} sink needs the URL to post to"),
                );
                None
            }
        }
    };
    match kind {
        "pagerduty" => {
            not_for(d, &raw.secret, "secret");
            let url = match &raw.url {
                Some(u) if url::Url::parse(u.value.trim()).is_ok() => u.value.trim().to_string(),
                Some(u) => {
                    d.err(u.pos, "the pagerduty sink's `url` is not a valid URL");
                    return None;
                }
                None => PAGERDUTY_EVENTS_URL.to_string(),
            };
            let Some(key) = raw.routing_key.filter(|k| !k.value.trim().is_empty()) else {
                d.err(pos, "missing field `routing_key`: a pagerduty sink needs the integration's routing key (Events API v2)");
                return None;
            };
            Some(SinkKind::PagerDuty {
                routing_key: Secret::new(key.value.trim()),
                url,
            })
        }
        "slack" => {
            not_for(d, &raw.secret, "secret");
            not_for(d, &raw.routing_key, "routing_key");
            Some(SinkKind::Slack {
                url: need_url(d, &raw.url)?,
            })
        }
        "webhook" => {
            not_for(d, &raw.routing_key, "routing_key");
            let url = need_url(d, &raw.url)?;
            let secret = match raw.secret {
                Some(s) if s.value.is_empty() => {
                    d.err(s.pos, "the webhook sink's `secret` is empty: set it, or leave `secret` out to send unsigned requests");
                    return None;
                }
                s => s.map(|s| Secret::new(s.value)),
            };
            Some(SinkKind::Webhook { url, secret })
        }
        other => {
            d.err(
                raw.kind.pos,
                format!("unknown sink type `{other}` (available: pagerduty, slack, webhook)"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests;
