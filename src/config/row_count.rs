//! The `row_count` kind's config: two system-named sides, each a table and an optional filter
//! (a plain side: no `key`), and no fields of its own. Raw shapes and their validation into
//! [`RowCountSpec`]; no I/O, and nothing about how rows are counted (`check/row_count.rs`).

use serde::Deserialize;

use super::diag::Diag;
use super::kind::{Input, Parsed};
use super::side::{plain_side, TableSide};

#[derive(Clone, Debug)]
pub struct RowCountSpec {
    pub sides: [TableSide; 2],
}

/// A row_count check takes no fields besides the common ones and its sides.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRowCount {}

pub(super) fn parse(input: &Input<'_>, d: &mut Diag<'_>) -> Option<Parsed<RowCountSpec>> {
    let (_, clean) = input.own::<RawRowCount>(d)?;
    let sides = input.two_sides(d)?;
    let out: Vec<TableSide> = sides
        .iter()
        .filter_map(|(key, value)| plain_side(key, value, &[], d))
        .collect();
    if !clean {
        return None;
    }
    let [a, b]: [TableSide; 2] = out.try_into().ok()?;
    Some(Parsed {
        reads: vec![(a.clone(), Vec::new()), (b.clone(), Vec::new())],
        spec: RowCountSpec { sides: [a, b] },
    })
}
