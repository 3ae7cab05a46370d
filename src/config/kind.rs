//! The contract between the common check code and a kind's module: what a kind's `parse` is
//! given ([`Input`]) and what it gives back ([`Parsed`]).
//!
//! A kind module reads its own fields and sides from an `Input` and nothing else; it does not
//! look at the common fields' YAML, at other checks, or at the registry of kinds.

use std::time::Duration;

use super::diag::{list, Diag};
use super::side::TableSide;
use super::yaml::{Node, Pos};

/// One check's YAML as a kind sees it, once the common fields are lifted off.
pub struct Input<'a> {
    /// The kind's name, for messages.
    pub kind: &'static str,
    /// Where the check starts, for mistakes about the check as a whole.
    pub pos: Pos,
    /// ` in check `name`` (empty when the check has no name yet), for messages.
    pub label: &'a str,
    /// The check's keys that name a system, with their values, in written order.
    pub sides: &'a [(&'a Node, &'a Node)],
    /// A mapping of the kind's own fields, as written (and as the check-level typo check
    /// renamed them): nothing else is in it.
    pub own: &'a Node,
    /// Every system declared under `systems:`, valid or not.
    pub systems: &'a [String],
    /// The check's `timeout`, when it is valid.
    pub timeout: Option<Duration>,
}

impl<'a> Input<'a> {
    /// The kind's own fields, each bad one reported and left out, and whether all were good.
    pub fn own<T: serde::de::DeserializeOwned>(&self, d: &mut Diag<'_>) -> Option<(T, bool)> {
        match d.partial::<T>(self.own) {
            (Some(raw), clean) => Some((raw, clean)),
            (None, _) => None,
        }
    }

    /// The two system-named sides of a comparing check, or `None` after saying how many
    /// there are.
    pub fn two_sides(&self, d: &mut Diag<'_>) -> Option<[(&'a Node, &'a Node); 2]> {
        match self.sides {
            [a, b] => Some([*a, *b]),
            _ => {
                let names: Vec<&str> = self.sides.iter().filter_map(|(k, _)| k.as_str()).collect();
                d.err(
                    self.pos,
                    format!(
                        "a {} check compares two systems{}: found {} ({}); add one key per system, named as under `systems:`",
                        self.kind,
                        self.label,
                        self.sides.len(),
                        if names.is_empty() { "none".to_string() } else { list(&names) }
                    ),
                );
                None
            }
        }
    }
}

/// The system names of sides, in side order.
pub fn system_names(sides: &[(&Node, &Node)]) -> Vec<String> {
    sides
        .iter()
        .map(|(k, _)| k.as_str().unwrap_or("").to_string())
        .collect()
}

/// A kind's validated spec, and what the check reads on each side.
pub struct Parsed<S> {
    pub spec: S,
    /// Each side's table and filter with the column expressions read there (keys, mapped
    /// columns, timestamps, references, groups, measures), in side order; `validate --connect`
    /// checks them against the catalogs.
    pub reads: Vec<(TableSide, Vec<String>)>,
}

impl<S> Parsed<S> {
    pub fn map<T>(self, f: impl FnOnce(S) -> T) -> Parsed<T> {
        Parsed {
            spec: f(self.spec),
            reads: self.reads,
        }
    }
}
