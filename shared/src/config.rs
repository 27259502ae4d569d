//! Configuration, read once from the environment at start, naming what is missing.

use std::path::PathBuf;

use crate::payments::StripeConfig;

/// Settings every function shares.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table (`PORCHLIGHT_TABLE`).
    pub table: String,
    /// Scheme and host the portal is reached at, for links in emails (`PORCHLIGHT_BASE_URL`).
    pub base_url: String,
    /// The sender of every email (`PORCHLIGHT_MAIL_FROM`), an address SES may send as.
    pub mail_from: String,
    /// When set, mail is written here as `.eml` files instead of sent (`PORCHLIGHT_OUTBOX_DIR`).
    pub outbox_dir: Option<PathBuf>,
    /// The least time an answer to "email me a sign-in link" takes
    /// (`PORCHLIGHT_LOGIN_ANSWER_MS`, default 400), so that sending mail to a known address
    /// does not make its answer measurably slower than the one for an unknown address.
    pub login_answer_floor: std::time::Duration,
    /// How to reach Stripe (`PORCHLIGHT_STRIPE_*`); see [`StripeConfig`].
    pub stripe: StripeConfig,
}

/// Long enough to cover an SES send in most cases; short enough not to annoy.
const DEFAULT_LOGIN_ANSWER_MS: u64 = 400;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let base_url = required("PORCHLIGHT_BASE_URL")?
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "PORCHLIGHT_BASE_URL",
                reason: format!("`{base_url}` must start with https:// or http://"),
            });
        }
        Ok(Self {
            table: required("PORCHLIGHT_TABLE")?,
            base_url,
            mail_from: required("PORCHLIGHT_MAIL_FROM")?,
            outbox_dir: lookup("PORCHLIGHT_OUTBOX_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            login_answer_floor: std::time::Duration::from_millis(
                match lookup("PORCHLIGHT_LOGIN_ANSWER_MS").filter(|v| !v.trim().is_empty()) {
                    Some(ms) => ms.trim().parse().map_err(|_| ConfigError::Invalid {
                        name: "PORCHLIGHT_LOGIN_ANSWER_MS",
                        reason: format!("`{ms}` is not a number of milliseconds"),
                    })?,
                    None => DEFAULT_LOGIN_ANSWER_MS,
                },
            ),
            stripe: StripeConfig::from_lookup(&lookup),
        })
    }

    /// Cookies are `Secure` unless the portal is served over plain local http.
    pub fn secure_cookies(&self) -> bool {
        !self.base_url.starts_with("http://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn names_the_missing_variable() {
        let error = Config::from_lookup(lookup(&[("PORCHLIGHT_TABLE", "t")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable PORCHLIGHT_BASE_URL is not set"
        );
    }

    #[test]
    fn secure_cookies_follow_the_scheme() {
        let base = [
            ("PORCHLIGHT_TABLE", "t"),
            ("PORCHLIGHT_MAIL_FROM", "p@example.com"),
        ];
        let with = |url: &'static str| {
            let mut pairs = base.to_vec();
            pairs.push(("PORCHLIGHT_BASE_URL", url));
            Config::from_lookup(lookup(&pairs)).expect("test data is valid")
        };
        assert!(with("https://portal.example.com/").secure_cookies());
        assert!(!with("http://127.0.0.1:3000").secure_cookies());
        assert_eq!(
            with("https://portal.example.com/").base_url,
            "https://portal.example.com"
        );
    }
}
