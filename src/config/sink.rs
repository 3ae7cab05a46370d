//! The `sinks:` section: each named receiver of alerts, read by its `type` (pagerduty, slack,
//! webhook) into that type's own raw struct, so that a field is only accepted, and only
//! suggested, where that type has it.
//!
//! Validation only: nothing here sends anything (that is `crate::alert::sink`), and a routing
//! key, webhook URL or secret is never echoed in a message.

use std::time::Duration;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use super::alert::SinkRef;
use super::diag::{list, suggestion, ConfigError, Diag};
use super::value::duration_or;
use super::yaml::{Node, Pos, Spanned};
use crate::secret::{Secret, SecretUrl};

const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_SINK_DEADLINE: Duration = Duration::from_secs(3600);

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

/// Every sink type, in the order messages list them, with how to read one.
const TYPES: &[(&str, Read)] = &[
    ("pagerduty", read::<RawPagerDuty>),
    ("slack", read::<RawSlack>),
    ("webhook", read::<RawWebhook>),
];

type Read = fn(String, &Node, &mut Diag<'_>) -> Option<SinkConfig>;

/// Only `type`, to know which struct to read the sink with.
#[derive(Deserialize)]
struct RawHead {
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
}

/// A sink type's raw struct: `type`, the type's own fields, then the delivery bounds every
/// type has, in the order messages list them. Serde cannot `flatten` the shared fields into
/// a struct that denies unknown fields, so they are written out by this macro.
macro_rules! sink_type {
    ($name:ident { $($field:ident),* }) => {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            #[serde(rename = "type")]
            _type: IgnoredAny,
            $($field: Option<Spanned<String>>,)*
            timeout: Option<Spanned<String>>,
            deadline: Option<Spanned<String>>,
        }

        impl Bounds for $name {
            fn bounds(&self) -> [&Option<Spanned<String>>; 2] {
                [&self.timeout, &self.deadline]
            }
        }
    };
}

sink_type!(RawPagerDuty { routing_key, url });
sink_type!(RawSlack { url });
sink_type!(RawWebhook { url, secret });

/// `timeout` and `deadline`, which every sink type has.
trait Bounds {
    fn bounds(&self) -> [&Option<Spanned<String>>; 2];
}

/// What a sink type's raw struct gives besides its delivery bounds.
trait SinkType: Bounds + DeserializeOwned {
    /// The type's own settings; `pos` is the sink's, for missing fields.
    fn kind(self, pos: Pos, d: &mut Diag<'_>) -> Option<SinkKind>;
}

impl SinkType for RawPagerDuty {
    fn kind(self, pos: Pos, d: &mut Diag<'_>) -> Option<SinkKind> {
        let url = match &self.url {
            Some(u) if url::Url::parse(u.value.trim()).is_ok() => u.value.trim().to_string(),
            Some(u) => {
                d.err(u.pos, "the pagerduty sink's `url` is not a valid URL");
                return None;
            }
            None => PAGERDUTY_EVENTS_URL.to_string(),
        };
        let Some(key) = self.routing_key.filter(|k| !k.value.trim().is_empty()) else {
            d.err(pos, "missing field `routing_key`: a pagerduty sink needs the integration's routing key (Events API v2)");
            return None;
        };
        Some(SinkKind::PagerDuty {
            routing_key: Secret::new(key.value.trim()),
            url,
        })
    }
}

impl SinkType for RawSlack {
    fn kind(self, pos: Pos, d: &mut Diag<'_>) -> Option<SinkKind> {
        Some(SinkKind::Slack {
            url: post_url("slack", &self.url, pos, d)?,
        })
    }
}

impl SinkType for RawWebhook {
    fn kind(self, pos: Pos, d: &mut Diag<'_>) -> Option<SinkKind> {
        let url = post_url("webhook", &self.url, pos, d)?;
        let secret = match self.secret {
            Some(s) if s.value.is_empty() => {
                d.err(s.pos, "the webhook sink's `secret` is empty: set it, or leave `secret` out to send unsigned requests");
                return None;
            }
            s => s.map(|s| Secret::new(s.value)),
        };
        Some(SinkKind::Webhook { url, secret })
    }
}

/// The URL a slack or webhook sink posts to.
fn post_url(
    kind: &str,
    url: &Option<Spanned<String>>,
    pos: Pos,
    d: &mut Diag<'_>,
) -> Option<SecretUrl> {
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
}

/// The sink `name` from its YAML node.
pub fn sink(name: String, node: &Node, d: &mut Diag<'_>) -> Option<SinkConfig> {
    let head: RawHead = d.deserialize(node)?;
    let names: Vec<&str> = TYPES.iter().map(|(t, _)| *t).collect();
    let Some(kind) = head.kind else {
        d.err(
            node.pos,
            format!(
                "missing field `type`: say which kind of sink `{name}` is (available: {})",
                names.join(", ")
            ),
        );
        return None;
    };
    let Some((_, read)) = TYPES.iter().find(|(t, _)| *t == kind.value) else {
        d.err(
            kind.pos,
            format!(
                "unknown sink type `{}` (available: {})",
                kind.value,
                names.join(", ")
            ),
        );
        return None;
    };
    read(name, node, d)
}

fn read<T: SinkType>(name: String, node: &Node, d: &mut Diag<'_>) -> Option<SinkConfig> {
    let raw: T = d.deserialize(node)?;
    let [timeout, deadline] = raw.bounds();
    let deadline_pos = deadline.as_ref().map(|s| s.pos);
    let timeout = duration_or(timeout, DEFAULT_SINK_TIMEOUT, d);
    let deadline = duration_or(deadline, DEFAULT_SINK_DEADLINE, d);
    if let (Some(t), Some(dl), Some(pos)) = (timeout, deadline, deadline_pos) {
        if dl < t {
            d.err(
                pos,
                format!(
                    "sink `{name}`: `deadline` ({}) is shorter than one attempt's `timeout` ({}): give retries at least that long",
                    humantime::format_duration(dl),
                    humantime::format_duration(t)
                ),
            );
            return None;
        }
    }
    let kind = raw.kind(node.pos, d)?;
    Some(SinkConfig {
        name,
        kind,
        timeout: timeout?,
        deadline: deadline?,
    })
}

/// Reports every sink named by an `alert:` that is not declared. A declared sink with errors
/// of its own is reported there, not again here.
pub fn resolve(
    refs: Vec<SinkRef>,
    declared: &[String],
    sinks: &[SinkConfig],
    errors: &mut Vec<ConfigError>,
) {
    let valid: Vec<&str> = sinks.iter().map(|s| s.name.as_str()).collect();
    for (file, pos, name) in refs {
        if declared.contains(&name) {
            continue;
        }
        let mut msg = format!("unknown sink `{name}`");
        if valid.is_empty() {
            msg.push_str(": no sinks are defined; add it under `sinks:` in the config file");
        } else {
            msg.push_str(&format!(
                " (available: {}){}",
                list(&valid),
                suggestion(&name, &valid)
            ));
        }
        Diag::new(&file, errors).err(pos, msg);
    }
}
