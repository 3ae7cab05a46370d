//! Slack incoming webhook: a Block Kit message (header, the finding, its numbers as fields,
//! the differing records as a table in a code block, links) with a plain `text` fallback for
//! notifications and old clients.
//!
//! Slack rejects a message that breaks its limits, so every text is cut to them: at most 50
//! blocks, a header of 150 characters, section text of 3000, at most 10 fields of 2000 each.
//! The record table lists as many records as fit and says how many it left out.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::request::{short_value, truncate, Request, Sink};
use crate::alert::notification::{rfc3339, Notification};
use crate::alert::state::{AlertKind, Reason, Severity};
use crate::secret::SecretUrl;

pub const MAX_BLOCKS: usize = 50;
pub const MAX_HEADER_CHARS: usize = 150;
pub const MAX_SECTION_CHARS: usize = 3000;
pub const MAX_FIELDS: usize = 10;
pub const MAX_FIELD_CHARS: usize = 2000;
/// The `text` fallback (Slack cuts at 40,000; a notification needs far less).
pub const MAX_TEXT_CHARS: usize = 3000;
/// Slack's limit for a button's URL.
const MAX_URL_CHARS: usize = 3000;

pub struct Slack {
    pub url: SecretUrl,
}

impl Sink for Slack {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn request(&self, n: &Notification, _now: DateTime<Utc>) -> Request {
        Request::json(self.url.expose(), &message(n))
    }
}

/// `&`, `<` and `>` are markup in Slack text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn headline(n: &Notification) -> String {
    let icon = match (n.reason, n.severity) {
        (Reason::Resolved, _) => "✅",
        (_, Severity::Critical) => "🔴",
        (_, Severity::Warning) => "🟠",
        (_, Severity::Error) => "⛔",
    };
    let severity = n.severity.as_str();
    let title = n.title();
    match n.reason {
        Reason::Fired => format!("{icon} {}: {title}", capitalise(severity)),
        Reason::Escalated => format!("{icon} Escalated to {severity}: {title}"),
        Reason::Deescalated => format!("{icon} Down to {severity}: {title}"),
        Reason::Repeated => format!("{icon} Still {severity}: {title}"),
        Reason::Resolved if n.alert == AlertKind::Broken => {
            format!("{icon} Check {} works again", n.check)
        }
        Reason::Resolved => format!("{icon} Resolved: {title}"),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The Block Kit message for `n`.
pub fn message(n: &Notification) -> Value {
    let head = headline(n);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&head, MAX_HEADER_CHARS), "emoji": true},
    })];

    let mut intro = format!("*{}*", escape(&n.finding.headline));
    if let Some(d) = &n.description {
        intro.push('\n');
        intro.push_str(&escape(d));
    }
    blocks.push(json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(&intro, MAX_SECTION_CHARS)},
    }));

    let mut fields: Vec<(String, String)> = vec![
        ("Check".into(), format!("`{}` ({})", n.check, n.check_kind)),
        ("Severity".into(), n.severity.as_str().into()),
        ("Since".into(), rfc3339(n.starts_at)),
    ];
    if let Some(end) = n.ends_at {
        fields.push(("Resolved at".into(), rfc3339(end)));
    }
    for fact in &n.finding.facts {
        fields.push((fact.label.clone(), fact.text.clone()));
    }
    let thresholds: Vec<String> = [
        ("warning", &n.thresholds.warning),
        ("critical", &n.thresholds.critical),
    ]
    .into_iter()
    .filter_map(|(s, t)| t.as_ref().map(|t| format!("{s} {t}")))
    .collect();
    if !thresholds.is_empty() {
        fields.push(("Thresholds".into(), thresholds.join(", ")));
    }
    if let Some(t) = n.first_seen {
        fields.push(("First seen".into(), rfc3339(t)));
    }
    let fields: Vec<Value> = fields
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(label, value)| {
            let text = format!("*{}*\n{}", escape(&label), escape(&value));
            json!({"type": "mrkdwn", "text": truncate(&text, MAX_FIELD_CHARS)})
        })
        .collect();
    blocks.push(json!({"type": "section", "fields": fields}));

    if !n.samples.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": sample_table(n)},
        }));
    }

    let mut context = format!("driftwatch · <{}|latest result>", escape(&n.result_url()));
    if let Some(t) = n.run_started_at {
        context.push_str(&format!(" · run of {}", rfc3339(t)));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(&context, MAX_SECTION_CHARS)}],
    }));

    let buttons: Vec<Value> = [("Runbook", &n.runbook_url), ("Dashboard", &n.dashboard_url)]
        .into_iter()
        .filter_map(|(label, url)| {
            let url = url.as_ref()?;
            (url.chars().count() <= MAX_URL_CHARS).then(|| {
                json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": url})
            })
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.truncate(MAX_BLOCKS);

    let text = format!("{head}: {}", n.summary);
    json!({
        "text": truncate(&text, MAX_TEXT_CHARS),
        "blocks": blocks,
    })
}

/// The differing records as an aligned table in a code block, as many as fit in a section.
fn sample_table(n: &Notification) -> String {
    let systems: Vec<&str> = n.systems.iter().map(String::as_str).take(2).collect();
    let mut header = vec!["KEY".to_string(), "KIND".into(), "COLUMN".into()];
    header.extend(systems.iter().map(|s| s.to_uppercase()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Rows per record, so a record is never cut in half.
    let mut records: Vec<Vec<Vec<String>>> = Vec::new();
    for s in &n.samples {
        let key = s
            .key
            .iter()
            .map(|(k, v)| format!("{k}={}", short_value(Some(v), 40)))
            .collect::<Vec<_>>()
            .join(",");
        let key = truncate(&key, 40);
        let mut lines = Vec::new();
        if s.columns.is_empty() {
            let mut line = vec![key.clone(), s.kind.clone(), String::new()];
            line.extend(systems.iter().map(|_| String::new()));
            lines.push(line);
        }
        for (i, c) in s.columns.iter().enumerate() {
            let mut line = vec![
                if i == 0 { key.clone() } else { String::new() },
                if i == 0 {
                    s.kind.clone()
                } else {
                    String::new()
                },
                truncate(c, 24),
            ];
            for system in &systems {
                let v = s
                    .values
                    .as_ref()
                    .and_then(|v| v.get(*system))
                    .and_then(|v| v.get(c));
                line.push(short_value(v, 24));
            }
            lines.push(line);
        }
        records.push(lines);
    }
    let total = n.differences_total.unwrap_or(n.samples.len() as u64);
    // Widths over what could be listed; lines are cut to them.
    for r in &records {
        rows.extend(r.iter().cloned());
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: &[String]| {
        let mut s = String::new();
        for (cell, w) in cells.iter().zip(&widths) {
            s.push_str(cell);
            s.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        escape(s.trim_end())
    };
    let title = |listed: usize| {
        if (listed as u64) < total {
            format!("*Differing records* (the first {listed} of {total})\n")
        } else {
            format!("*Differing records* ({total})\n")
        }
    };
    // Room for the title, the fences and a "more" line.
    let budget = MAX_SECTION_CHARS - title(0).chars().count() - "```\n\n```".len() - 40;
    let mut body = render(&header);
    let mut listed = 0;
    for record in &records {
        let text: String = record.iter().map(|r| format!("\n{}", render(r))).collect();
        if body.chars().count() + text.chars().count() > budget {
            break;
        }
        body.push_str(&text);
        listed += 1;
    }
    let more = total.saturating_sub(listed as u64);
    if more > 0 {
        body.push_str(&format!("\n… {more} more"));
    }
    truncate(
        &format!("{}```\n{body}\n```", title(listed)),
        MAX_SECTION_CHARS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::{notification, sample_with};

    /// Every limit Slack enforces on a message.
    pub fn assert_within_limits(m: &Value) {
        let blocks = m["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS);
        assert!(m["text"].as_str().unwrap().chars().count() <= MAX_TEXT_CHARS);
        for b in blocks {
            match b["type"].as_str().unwrap() {
                "header" => {
                    assert!(b["text"]["text"].as_str().unwrap().chars().count() <= MAX_HEADER_CHARS)
                }
                "section" => {
                    if let Some(t) = b["text"]["text"].as_str() {
                        assert!(t.chars().count() <= MAX_SECTION_CHARS, "{}", t.len());
                    }
                    if let Some(f) = b["fields"].as_array() {
                        assert!(f.len() <= MAX_FIELDS);
                        for f in f {
                            assert!(f["text"].as_str().unwrap().chars().count() <= MAX_FIELD_CHARS);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn a_message_has_a_header_fields_a_table_and_links() {
        let m = message(&notification());
        assert_within_limits(&m);
        let blocks = m["blocks"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"]["text"],
            "🔴 Critical: drift in patients_content"
        );
        let table = blocks[3]["text"]["text"].as_str().unwrap();
        assert!(table.contains("```"), "{table}");
        assert!(table.contains("insurance"), "{table}");
        assert!(table.contains("Acme"), "{table}");
        let actions = blocks.last().unwrap();
        assert_eq!(actions["type"], "actions");
        assert_eq!(
            actions["elements"][0]["url"],
            "https://wiki.example/runbooks/patients"
        );
        assert!(m["text"]
            .as_str()
            .unwrap()
            .starts_with("🔴 Critical: drift in patients_content: "));
    }

    #[test]
    fn huge_samples_and_texts_stay_within_slack_limits() {
        let mut n = notification();
        n.check = "c".repeat(300);
        n.finding.headline = "h <&> ".repeat(2000);
        n.description = Some("d".repeat(10_000));
        n.summary = "s".repeat(100_000);
        for i in 0..30 {
            n.finding.facts.push(crate::check::finding::Fact {
                key: format!("k{i}"),
                label: format!("label {i}"),
                value: json!("x".repeat(5000)),
                text: "x".repeat(5000),
            });
        }
        n.samples = (0..20)
            .map(|i| sample_with(i, &"v".repeat(50_000)))
            .collect();
        n.differences_total = Some(100_000);
        let m = message(&n);
        assert_within_limits(&m);
        let table = m["blocks"][3]["text"]["text"].as_str().unwrap();
        assert!(table.contains("more"), "{table}");
    }
}
