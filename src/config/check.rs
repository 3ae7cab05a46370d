//! One check: its common fields (`name`, `kind`, `description`, `schedule`, `timeout`,
//! `thresholds`, `alert`), the split of its keys into those, its kind's own fields and its
//! system-named sides, and the hand-over of the kind's part to the kind's module through the
//! registry.
//!
//! Nothing here knows what any kind's fields mean or names a kind: a kind's rules, including
//! those that involve a common field (a timeout, how thresholds are written), are in its
//! module.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::alert::{alert, AlertConfig, RawAlert, SinkRef};
use super::diag::{closest, list, Diag};
use super::kind::Input;
use super::registry::{self, CheckSpec, Kind};
use super::side::TableSide;
use super::threshold::{thresholds, RawThresholds, Thresholds};
use super::value::{duration_or, valid_name};
use super::yaml::{fields, Node, NodeKind, Pos, Spanned};
use crate::schedule::Schedule;

const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
pub struct CheckConfig {
    pub name: String,
    /// The kind's name, as written after `kind:`.
    pub kind: &'static str,
    pub description: Option<String>,
    pub schedule: Arc<Schedule>,
    pub timeout: Duration,
    pub thresholds: Thresholds,
    pub alert: Option<AlertConfig>,
    pub spec: CheckSpec,
    /// Where the check is defined, for messages.
    pub file: PathBuf,
    pub pos: Pos,
    /// What the check reads on each side, as its kind said.
    reads: Vec<(TableSide, Vec<String>)>,
}

impl CheckConfig {
    /// The systems this check reads, in the order its sides are written.
    pub fn systems(&self) -> Vec<&str> {
        self.reads.iter().map(|(s, _)| s.system.as_str()).collect()
    }

    /// Each side's table and filter, in side order.
    pub fn sides(&self) -> Vec<&TableSide> {
        self.reads.iter().map(|(s, _)| s).collect()
    }

    /// Each side with the column expressions the check reads there (keys, mapped columns,
    /// timestamps, references, groups, measures), for `validate --connect`.
    pub fn expressions(&self) -> Vec<(&TableSide, Vec<String>)> {
        self.reads.iter().map(|(s, e)| (s, e.clone())).collect()
    }
}

/// The fields every check takes, whatever its kind, in the order messages list them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: Spanned<String>,
    // Read before the rest, to know which kind's fields to allow.
    #[serde(rename = "kind")]
    _kind: IgnoredAny,
    description: Option<String>,
    schedule: Spanned<String>,
    timeout: Option<Spanned<String>>,
    thresholds: Option<RawThresholds>,
    alert: Option<RawAlert>,
}

/// What checks are checked against, and what they leave for the loader to resolve.
pub struct Context<'a> {
    /// Every system name declared, valid or not, so a broken system does not also make
    /// every check that names it look misspelt.
    pub systems: &'a [String],
    /// Check names seen so far, with where.
    pub seen: &'a mut HashMap<String, (PathBuf, Pos)>,
    pub sink_refs: &'a mut Vec<SinkRef>,
}

/// One item of a `checks:` list.
pub fn check(
    file: &Path,
    node: &Node,
    ctx: &mut Context<'_>,
    d: &mut Diag<'_>,
) -> Option<CheckConfig> {
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
    let kind = kind_of(node, &label, d);
    let Keys {
        common: common_entries,
        own: own_entries,
        sides,
    } = split_keys(node, entries, kind, &label, ctx.systems, d);
    let kind = kind?;
    let mapping = |entries| Node {
        kind: NodeKind::Map(entries),
        pos: node.pos,
    };
    // The kind's rules need the timeout, so the common fields are read first; their errors
    // are told after the kind's, so that where both point at the check, its sides come first.
    let mut common_errors = Vec::new();
    let mut cd = Diag::new(file, &mut common_errors);
    let raw = cd.deserialize::<RawCheck>(&mapping(common_entries));
    let timeout = raw
        .as_ref()
        .and_then(|r| duration_or(&r.timeout, DEFAULT_CHECK_TIMEOUT, &mut cd));
    // Sides are validated even when the common fields are not, so one pass shows both.
    let own_node = mapping(own_entries);
    let input = Input {
        kind: kind.name,
        pos: node.pos,
        label: &label,
        sides: &sides,
        own: &own_node,
        systems: ctx.systems,
        timeout,
    };
    let parsed = (kind.parse)(&input, d);
    d.append(common_errors);
    let raw = raw?;
    let name = raw.name.value.clone();
    let mut ok = true;
    if !valid_name(&name) {
        d.err(raw.name.pos, format!("invalid check name `{name}`: use lowercase letters, digits and `_` (it becomes a metric label)"));
        ok = false;
    } else if let Some((f, p)) = ctx.seen.get(&name) {
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
        ctx.seen
            .insert(name.clone(), (file.to_path_buf(), raw.name.pos));
    }
    let schedule = match Schedule::parse(&raw.schedule.value) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            d.err(raw.schedule.pos, e);
            None
        }
    };
    let thresholds = thresholds(raw.thresholds.as_ref(), kind.threshold, d);
    let alert = match raw.alert {
        Some(a) => alert(file, a, d, ctx.sink_refs).map(Some),
        None => Some(None),
    };
    if !ok {
        return None;
    }
    let parsed = parsed?;
    Some(CheckConfig {
        name,
        kind: kind.name,
        description: raw.description,
        schedule: schedule?,
        timeout: timeout?,
        thresholds: thresholds?,
        alert: alert?,
        spec: parsed.spec,
        file: file.to_path_buf(),
        pos: node.pos,
        reads: parsed.reads,
    })
}

fn kind_of(node: &Node, label: &str, d: &mut Diag<'_>) -> Option<&'static Kind> {
    let Some(k) = node.get("kind") else {
        d.err(
            node.pos,
            format!(
                "missing field `kind`{label} (available: {})",
                registry::names()
            ),
        );
        return None;
    };
    let s = k.as_str().unwrap_or("");
    let kind = registry::find(s);
    if kind.is_none() {
        d.err(
            k.pos,
            format!(
                "unknown kind `{s}`{label} (available: {})",
                registry::names()
            ),
        );
    }
    kind
}

/// A check's entries, sorted by whom they are for.
struct Keys<'n> {
    common: Vec<(Node, Node)>,
    own: Vec<(Node, Node)>,
    sides: Vec<(&'n Node, &'n Node)>,
}

/// Known keys go to serde (the common fields, the kind's own); a key naming a system is that
/// system's side; the rest is a typo, reported with every key the check could take. Without
/// a kind, only the common fields are sorted out (the kind's own are not known).
fn split_keys<'n>(
    node: &Node,
    entries: &'n [(Node, Node)],
    kind: Option<&Kind>,
    label: &str,
    systems: &[String],
    d: &mut Diag<'_>,
) -> Keys<'n> {
    let system_names: Vec<&str> = systems.iter().map(String::as_str).collect();
    let common = fields::<RawCheck>();
    let own = kind.map_or(&[][..], |k| (k.fields)());
    let allowed: Vec<&str> = common.iter().chain(own).copied().collect();
    let mut keys = Keys {
        common: Vec::new(),
        own: Vec::new(),
        sides: Vec::new(),
    };
    for (key, value) in entries {
        let k = key.as_str().unwrap_or("");
        if common.contains(&k) {
            keys.common.push((key.clone(), value.clone()));
        } else if own.contains(&k) {
            keys.own.push((key.clone(), value.clone()));
        } else if system_names.contains(&k) {
            keys.sides.push((key, value));
        } else if kind.is_some() {
            let mut candidates = allowed.clone();
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
                if common.contains(&best) {
                    keys.common.push((renamed, value.clone()));
                } else {
                    keys.own.push((renamed, value.clone()));
                }
            }
        }
    }
    keys
}
