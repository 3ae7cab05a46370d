//! What a kind's `run` is given besides its spec ([`Context`]: the systems, how many records
//! to list, the previous run's records, hooks), and how it fails ([`CheckError`]). Knows no
//! kind and runs no query.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::diff::DiffError;
use super::report::Difference;
use crate::system::{DbError, System, Systems};

/// Why a check could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("system `{0}` is not defined")]
    UnknownSystem(String),
    #[error("{0}; {1}")]
    Both(Box<CheckError>, Box<CheckError>),
    #[error(transparent)]
    Diff(#[from] DiffError),
    /// The definition cannot be run as written against these systems (a type that cannot be
    /// compared, a column that is not a timestamp...): the message says what to declare.
    #[error("{0}")]
    Config(String),
}

impl CheckError {
    /// Both results, or the error of the side that failed (both errors when both did).
    pub fn both<A, B>(
        a: Result<A, impl Into<CheckError>>,
        b: Result<B, impl Into<CheckError>>,
    ) -> Result<(A, B), CheckError> {
        match (a, b) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            (Err(e), Ok(_)) => Err(e.into()),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(x), Err(y)) => Err(CheckError::Both(Box::new(x.into()), Box::new(y.into()))),
        }
    }
}

/// Awaited when a grace period starts (tests use it to change data deterministically).
#[derive(Clone)]
pub struct GraceHook(pub Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>);

impl std::fmt::Debug for GraceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GraceHook")
    }
}

/// Told (check name, phase) as long runs progress.
#[derive(Clone)]
pub struct ProgressFn(pub Arc<ProgressCallback>);

/// Called with (check name, phase).
pub type ProgressCallback = dyn Fn(&str, String) + Send + Sync;

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// Everything a kind's run needs besides its spec.
pub struct Context<'a> {
    /// The check's name, for progress lines and logs.
    pub check: &'a str,
    pub systems: &'a Systems,
    /// Most records a report lists; `None` lists all.
    pub samples: Option<usize>,
    /// The records the previous run of this check listed, for when each was first seen.
    pub previous: &'a [Difference],
    pub on_grace: Option<&'a GraceHook>,
    pub progress: Option<&'a ProgressFn>,
}

impl<'a> Context<'a> {
    /// The system a side names.
    pub fn system(&self, name: &str) -> Result<&'a System, CheckError> {
        self.systems
            .get(name)
            .map(|s| s.as_ref())
            .ok_or_else(|| CheckError::UnknownSystem(name.to_string()))
    }

    /// Most records to list.
    pub fn limit(&self) -> usize {
        self.samples.unwrap_or(usize::MAX)
    }

    /// When the record `key` was first seen differing as `kind`: by the previous run if it
    /// listed it so, else `now`.
    pub fn first_seen(
        &self,
        key: &serde_json::Map<String, serde_json::Value>,
        kind: &str,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        self.previous
            .iter()
            .find(|d| &d.key == key && d.kind == kind)
            .and_then(|d| d.first_seen)
            .unwrap_or(now)
    }

    /// Says what a long run is doing, where someone watches.
    pub fn tell(&self, what: impl FnOnce() -> String) {
        if let Some(p) = self.progress {
            (p.0)(self.check, what());
        }
    }
}
