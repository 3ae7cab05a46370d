//! Config errors and how they are collected: [`ConfigError`] (one problem at `file:line:col`),
//! [`ConfigErrors`] (all of them), [`Diag`] (the collector every section and kind writes to),
//! and the "did you mean" and list wording every message shares.
//!
//! Every other config module reports through here; this one knows no section, kind or field
//! of the config, and must not grow any.

use std::fmt;
use std::path::{Path, PathBuf};

use super::yaml::{self, Node, Pos};

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
pub struct Diag<'a> {
    file: &'a Path,
    errors: &'a mut Vec<ConfigError>,
}

impl<'a> Diag<'a> {
    pub fn new(file: &'a Path, errors: &'a mut Vec<ConfigError>) -> Diag<'a> {
        Diag { file, errors }
    }

    pub fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            pos,
            message: message.into(),
        });
    }

    /// Errors collected apart, reported now.
    pub fn append(&mut self, errors: Vec<ConfigError>) {
        self.errors.extend(errors);
    }

    pub fn yaml(&mut self, e: yaml::YamlError) {
        let message = with_suggestion(&e.message);
        self.err(e.pos, message);
    }

    /// The value, or `None` after reporting every error in it.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&mut self, node: &Node) -> Option<T> {
        self.deserialize_hinted(node, &[])
    }

    /// [`Diag::deserialize`], with a word of advice after the message for a key the struct does
    /// not take but users write anyway: `(field, hint)`.
    pub fn deserialize_hinted<T: serde::de::DeserializeOwned>(
        &mut self,
        node: &Node,
        hints: &[(&str, &str)],
    ) -> Option<T> {
        match yaml::from_node_collect(node) {
            Ok(v) => Some(v),
            Err(errors) => {
                for e in errors {
                    let mut message = with_suggestion(&e.message);
                    if let Some((_, hint)) = hints
                        .iter()
                        .find(|(f, _)| e.message.starts_with(&format!("unknown field `{f}`,")))
                    {
                        message.push_str(&format!(" ({hint})"));
                    }
                    self.err(e.pos, message);
                }
                None
            }
        }
    }

    /// A kind's own fields: the value with every bad field left out (each reported), as if
    /// each field were read on its own, and whether all of them were good. `None` only when
    /// not even that could be read.
    pub fn partial<T: serde::de::DeserializeOwned>(&mut self, node: &Node) -> (Option<T>, bool) {
        let (value, errors) = yaml::from_node_partial(node);
        let clean = errors.is_empty();
        for e in errors {
            self.yaml(e);
        }
        (value, clean)
    }
}

/// Appends "did you mean ...?" to an unknown-field message when a listed name is close.
pub fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    format!("{message}{}", suggestion(field, &candidates))
}

/// The candidate `word` is most likely a typo of, if any is close enough.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
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

/// ` (did you mean `x`?)` when one of `candidates` is close to `word`, else nothing.
pub fn suggestion(word: &str, candidates: &[&str]) -> String {
    closest(word, candidates)
        .map(|best| format!(" (did you mean `{best}`?)"))
        .unwrap_or_default()
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

/// `` `a`, `b`, `c` ``
pub fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
