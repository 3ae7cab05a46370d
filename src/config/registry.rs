//! The one place a check kind is registered on the config side: [`KINDS`] names each kind and
//! wires its module's field list, parser and threshold reader, and [`CheckSpec`] holds the
//! spec each parser gives. "Unknown kind" messages, the allowed keys of a check and dispatch
//! all come from here.
//!
//! Nothing here reads YAML or validates anything: each kind's module does that.

use super::aggregate::{self, AggregateSpec};
use super::diag::Diag;
use super::hash_diff::{self, HashDiffSpec};
use super::hash_sample::{self, HashSampleSpec};
use super::kind::{Input, Parsed};
use super::lag::{self, LagSpec};
use super::ref_integrity::{self, RefIntegritySpec};
use super::row_count::{self, RowCountSpec};
use super::threshold::{ParseThreshold, Threshold};
use super::yaml::fields;

/// A check's validated, kind-specific definition.
#[derive(Clone, Debug)]
pub enum CheckSpec {
    RowCount(RowCountSpec),
    HashDiff(HashDiffSpec),
    HashSample(HashSampleSpec),
    Lag(LagSpec),
    RefIntegrity(RefIntegritySpec),
    Aggregate(AggregateSpec),
}

/// One kind of check, as the common check code sees it.
pub struct Kind {
    /// As written after `kind:`, and as results and metrics label it.
    pub name: &'static str,
    /// The keys a check of this kind takes besides the common ones and its sides: the
    /// fields of its raw struct.
    pub fields: fn() -> &'static [&'static str],
    pub parse: fn(&Input<'_>, &mut Diag<'_>) -> Option<Parsed<CheckSpec>>,
    /// How one of its thresholds is written.
    pub threshold: ParseThreshold,
}

/// A [`Kind`] from its module and the raw struct of its own fields, its [`CheckSpec`]
/// variant and, where it is not rows or a percentage, its threshold reader. A kind is named
/// as its module is.
macro_rules! kind {
    ($module:ident::$raw:ident, $variant:ident) => {
        kind!($module::$raw, $variant, Threshold::parse)
    };
    ($module:ident::$raw:ident, $variant:ident, $threshold:expr) => {
        Kind {
            name: stringify!($module),
            fields: fields::<$module::$raw>,
            parse: |input, d| $module::parse(input, d).map(|p| p.map(CheckSpec::$variant)),
            threshold: $threshold,
        }
    };
}

/// Every kind this version runs, in the order messages list them.
pub const KINDS: &[Kind] = &[
    kind!(row_count::RawRowCount, RowCount),
    kind!(hash_diff::RawHashDiff, HashDiff),
    kind!(hash_sample::RawHashSample, HashSample),
    // Lag is a duration: thresholds are seconds, written as durations.
    kind!(lag::RawLag, Lag, lag::threshold),
    kind!(ref_integrity::RawRefIntegrity, RefIntegrity),
    kind!(aggregate::RawAggregate, Aggregate),
];

pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// `row_count, hash_diff, ...` for "unknown kind" messages.
pub fn names() -> String {
    KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}
