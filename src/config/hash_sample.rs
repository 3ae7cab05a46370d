//! The `hash_sample` kind's config: a keyed comparison as for `hash_diff` (sides, key,
//! columns; see `hash_diff::keyed`) on a random sample of keys, with its own
//! `sample: {size}`. Raw shapes and their validation into [`HashSampleSpec`]; no I/O.

use serde::Deserialize;

use super::diag::Diag;
use super::hash_diff::{keyed, keyed_reads, HashDiffSpec, KeyedFields};
use super::kind::{Input, Parsed};
use super::yaml::{Node, Spanned};

/// Keys sampled per run when `sample:` is left out.
const DEFAULT_SIZE: u32 = 1000;

/// A sampled content comparison: random keys from both sides, compared row by row.
#[derive(Clone, Debug)]
pub struct HashSampleSpec {
    /// Sides, key and columns, as for `hash_diff` (without `grace`).
    pub compare: HashDiffSpec,
    /// Keys to sample per run (about half from each side).
    pub size: u32,
}

/// hash_sample's own fields, in the order messages list them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHashSample {
    columns: Option<Node>,
    key_names: Option<Spanned<Vec<String>>>,
    key_types: Option<Spanned<Vec<String>>>,
    sample: Option<RawSample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    size: Spanned<u32>,
}

pub(super) fn parse(input: &Input<'_>, d: &mut Diag<'_>) -> Option<Parsed<HashSampleSpec>> {
    let (raw, clean) = input.own::<RawHashSample>(d)?;
    let size = match raw.sample {
        None => Some(DEFAULT_SIZE),
        Some(s) if s.size.value == 0 || s.size.value > 1_000_000 => {
            d.err(s.size.pos, "`sample.size` must be between 1 and 1000000");
            None
        }
        Some(s) => Some(s.size.value),
    };
    let fields = KeyedFields {
        columns: raw.columns,
        key_names: raw.key_names,
        key_types: raw.key_types,
    };
    let compare = keyed(input, fields, clean, d)?;
    Some(Parsed {
        reads: keyed_reads(&compare),
        spec: HashSampleSpec {
            compare,
            size: size?,
        },
    })
}
