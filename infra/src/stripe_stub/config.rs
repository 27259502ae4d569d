//! What the stand-in is told at start, and the checks that keep its traffic on this machine.

use std::net::{Ipv4Addr, SocketAddr};

/// The port the stand-in listens on when `PORCHLIGHT_STRIPE_STUB_PORT` is not set.
pub const DEFAULT_PORT: u16 = 12111;

/// How to start the stand-in.
#[derive(Clone)]
pub struct StubConfig {
    /// Where events are POSTed; must be `http://127.0.0.1:PORT/...` (checked by
    /// [`super::StripeStub::new`]). `None` records events without delivering them.
    pub webhook_url: Option<String>,
    /// The endpoint secret (`whsec_...`) that signs every delivery, as a Stripe webhook
    /// endpoint's secret does.
    pub webhook_secret: String,
    /// Where the browser reaches the stand-in, e.g. `http://127.0.0.1:12111`: the start of
    /// every Checkout Session's `url`.
    pub public_base: String,
}

impl std::fmt::Debug for StubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StubConfig")
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"<set>")
            .field("public_base", &self.public_base)
            .finish()
    }
}

/// Why a configuration is refused. Never carries the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StubConfigError {
    #[error("the webhook URL `{0}` is refused: it must be http://127.0.0.1:PORT/PATH")]
    WebhookUrl(String),
    #[error("the webhook secret must start with `whsec_`")]
    WebhookSecret,
    #[error("the public base `{0}` must be an http:// or https:// URL")]
    PublicBase(String),
    #[error("`{name}` is not valid: {reason}")]
    Variable { name: &'static str, reason: String },
}

impl StubConfig {
    /// The configuration the `porchlight-stripe-stub` binary reads: the webhook URL from
    /// `PORCHLIGHT_STRIPE_STUB_WEBHOOK_URL` and the first of
    /// `PORCHLIGHT_STRIPE_WEBHOOK_SECRETS` (the secret Porchlight checks first), with the
    /// browser reaching the stand-in on `http://127.0.0.1:{port}`.
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        port: u16,
    ) -> Result<Self, StubConfigError> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let webhook_secret = set("PORCHLIGHT_STRIPE_WEBHOOK_SECRETS")
            .and_then(|all| {
                all.split(',')
                    .map(str::trim)
                    .find(|s| !s.is_empty())
                    .map(str::to_owned)
            })
            .ok_or(StubConfigError::Variable {
                name: "PORCHLIGHT_STRIPE_WEBHOOK_SECRETS",
                reason: "it must list at least one whsec_ secret".to_owned(),
            })?;
        Ok(Self {
            webhook_url: set("PORCHLIGHT_STRIPE_STUB_WEBHOOK_URL").map(|v| v.trim().to_owned()),
            webhook_secret,
            public_base: format!("http://127.0.0.1:{port}"),
        })
    }

    /// `PORCHLIGHT_STRIPE_STUB_PORT`, or [`DEFAULT_PORT`].
    pub fn port_from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<u16, StubConfigError> {
        match lookup("PORCHLIGHT_STRIPE_STUB_PORT").filter(|v| !v.trim().is_empty()) {
            None => Ok(DEFAULT_PORT),
            Some(raw) => raw.trim().parse().map_err(|_| StubConfigError::Variable {
                name: "PORCHLIGHT_STRIPE_STUB_PORT",
                reason: format!("`{raw}` is not a port number"),
            }),
        }
    }
}

/// The configuration once checked.
pub(super) struct Settings {
    pub webhook: Option<WebhookTarget>,
    pub secret: String,
    pub public_base: String,
}

/// A webhook URL proven to point at 127.0.0.1: the socket address is built from the parsed
/// port, never resolved from a name, so no delivery can leave the machine.
pub(super) struct WebhookTarget {
    pub url: String,
    pub address: SocketAddr,
    /// The `Host` header: `127.0.0.1:PORT`.
    pub authority: String,
    pub path_and_query: String,
}

impl Settings {
    pub fn from_config(config: StubConfig) -> Result<Self, StubConfigError> {
        let secret = config.webhook_secret.trim();
        if !secret.starts_with("whsec_") || secret.len() <= "whsec_".len() {
            return Err(StubConfigError::WebhookSecret);
        }
        let webhook = config
            .webhook_url
            .as_deref()
            .map(WebhookTarget::parse)
            .transpose()?;
        Ok(Self {
            webhook,
            secret: secret.to_owned(),
            public_base: public_base(&config.public_base)?,
        })
    }
}

fn public_base(raw: &str) -> Result<String, StubConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let refused = || StubConfigError::PublicBase(raw.to_owned());
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(refused)?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(refused());
    }
    Ok(trimmed.to_owned())
}

impl WebhookTarget {
    /// Accepts exactly `http://127.0.0.1[:PORT][/PATH][?QUERY]`: no other host, no name that
    /// might resolve elsewhere, no user info (`http://127.0.0.1@elsewhere/`), no TLS.
    pub fn parse(raw: &str) -> Result<Self, StubConfigError> {
        let refused = || StubConfigError::WebhookUrl(raw.to_owned());
        let url = raw.trim();
        let rest = url.strip_prefix("http://").ok_or_else(refused)?;
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        if tail.contains('#') || tail.contains(char::is_whitespace) {
            return Err(refused());
        }
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| refused())?),
            None => (authority, 80),
        };
        if host != "127.0.0.1" || port == 0 {
            return Err(refused());
        }
        let path_and_query = match tail {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        Ok(Self {
            url: url.to_owned(),
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            authority: format!("127.0.0.1:{port}"),
            path_and_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_loopback_urls_are_webhook_targets() {
        let target = WebhookTarget::parse("http://127.0.0.1:3000/webhooks/stripe").unwrap();
        assert_eq!(target.address, SocketAddr::from(([127, 0, 0, 1], 3000)));
        assert_eq!(target.path_and_query, "/webhooks/stripe");
        assert_eq!(
            WebhookTarget::parse("http://127.0.0.1:9")
                .unwrap()
                .path_and_query,
            "/"
        );

        for refused in [
            "https://127.0.0.1:3000/webhooks/stripe",
            "http://localhost:3000/webhooks/stripe",
            "http://127.0.0.2:3000/",
            "http://0.0.0.0:3000/",
            "http://[::1]:3000/",
            "http://127.0.0.1@example.com/",
            "http://example.com:80@127.0.0.1:3000/",
            "http://127.0.0.1:3000@example.com/",
            "http://127.0.0.1.example.com/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:99999/",
            "ftp://127.0.0.1/",
            "",
        ] {
            assert!(WebhookTarget::parse(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn the_secret_must_look_like_an_endpoint_secret() {
        let config = |secret: &str| StubConfig {
            webhook_url: None,
            webhook_secret: secret.to_owned(),
            public_base: "http://127.0.0.1:12111/".to_owned(),
        };
        assert!(Settings::from_config(config("sk_test_1")).is_err());
        assert!(Settings::from_config(config("whsec_")).is_err());
        let settings = Settings::from_config(config("whsec_abc")).unwrap();
        assert_eq!(settings.public_base, "http://127.0.0.1:12111");
    }
}
