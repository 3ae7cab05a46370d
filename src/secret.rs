//! Secrets: values that must never reach a log line, an error, a metric, an alert or the API.
//!
//! A [`Secret`] prints as `**REDACTED**` through `Debug` and `Display`; only [`Secret::expose`]
//! gives the value, and only code that hands it to a driver or an HTTP client may call it.
//! Every secret is also registered with [`scrub`], a last line of defence for text that comes
//! back from a driver or server and might echo a password or token.

use std::fmt;
use std::sync::{OnceLock, RwLock};

/// A string that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    /// The secret value, for handing to a driver or HTTP client, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("**REDACTED**")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("**REDACTED**")
    }
}

fn registry() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remember a value so that [`scrub`] removes it from any text. Values shorter than four
/// characters are not registered: scrubbing them would mangle ordinary text.
pub fn register(value: &str) {
    if value.len() < 4 {
        return;
    }
    let mut secrets = registry().write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == value) {
        secrets.push(value.to_string());
        // Longest first, so a secret that contains another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Replace every registered secret in `text` with `**REDACTED**`.
pub fn scrub(text: &str) -> String {
    let secrets = registry().read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "**REDACTED**");
        }
    }
    out
}

/// A database or webhook URL whose password (and, for webhooks, whole path and query, which
/// carry tokens in Slack and similar URLs) is hidden when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl {
    value: Secret,
    display: String,
}

impl SecretUrl {
    /// A database URL: only the password is secret; user, host, port and database print.
    pub fn database(value: &str) -> Self {
        let display = match url::Url::parse(value) {
            Ok(mut url) => {
                if let Some(password) = url.password() {
                    register(password);
                    register(&percent_decode(password));
                    let _ = url.set_password(Some("**REDACTED**"));
                }
                let mut shown = url.to_string();
                // url percent-encodes the asterisks of the marker; keep it readable.
                shown = shown.replace("%2A%2AREDACTED%2A%2A", "**REDACTED**");
                shown
            }
            Err(_) => "**REDACTED** (not a valid URL)".to_string(),
        };
        SecretUrl {
            value: Secret::new(value),
            display,
        }
    }

    /// A webhook URL: only scheme and host print, since the path often is the credential.
    pub fn webhook(value: &str) -> Self {
        let display = match url::Url::parse(value) {
            Ok(url) => format!(
                "{}://{}/**REDACTED**",
                url.scheme(),
                url.host_str().unwrap_or("")
            ),
            Err(_) => "**REDACTED** (not a valid URL)".to_string(),
        };
        SecretUrl {
            value: Secret::new(value),
            display,
        }
    }

    pub fn expose(&self) -> &str {
        self.value.expose()
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_hides_only_the_password() {
        let url = SecretUrl::database("postgres://app:s3cr3t-pw@db.example:5432/billing");
        assert_eq!(
            url.to_string(),
            "postgres://app:**REDACTED**@db.example:5432/billing"
        );
        assert_eq!(format!("{url:?}"), url.to_string());
        assert_eq!(
            scrub("connect to app:s3cr3t-pw failed"),
            "connect to app:**REDACTED** failed"
        );
    }

    #[test]
    fn webhook_url_hides_path_and_query() {
        let url = SecretUrl::webhook("https://hooks.slack.com/services/T000/B000/XXXXSECRET");
        assert_eq!(url.to_string(), "https://hooks.slack.com/**REDACTED**");
        assert!(
            scrub("posting to https://hooks.slack.com/services/T000/B000/XXXXSECRET")
                .contains("**REDACTED**")
        );
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("routing-key-123456");
        assert_eq!(format!("{s} {s:?}"), "**REDACTED** **REDACTED**");
        assert_eq!(s.expose(), "routing-key-123456");
    }
}
