//! Card payments through Stripe: how Porchlight reaches Stripe, and how an amount becomes
//! Stripe's integer and back. Stripe is reached only over its HTTP API at a configured base
//! URL, so the local stack and the tests point the same code at a stand-in.

pub mod amounts;
pub mod events;
pub mod receipts;
pub mod secret;
pub mod signature;
pub mod stripe_api;

/// How to reach Stripe. Read once at start; secrets are never logged.
#[derive(Clone, Default)]
pub struct StripeConfig {
    /// `PORCHLIGHT_STRIPE_API_BASE`, default `https://api.stripe.com` (no trailing slash).
    pub api_base: String,
    /// `PORCHLIGHT_STRIPE_SECRET_KEY`: the platform's secret key; payments are off without it.
    pub secret_key: Option<String>,
    /// `PORCHLIGHT_STRIPE_WEBHOOK_SECRETS`: comma-separated `whsec_...` endpoint secrets.
    /// During a rotation both the old and the new secret are listed; a signature by any of
    /// them is accepted.
    pub webhook_secrets: Vec<String>,
    /// `PORCHLIGHT_STRIPE_SECRET_ARN`: in AWS, the Secrets Manager secret the key and the
    /// webhook secrets are read from at start (see [`secret`]).
    pub secret_arn: Option<String>,
}

/// Stripe's real API, for when no base URL is configured.
pub const STRIPE_API: &str = "https://api.stripe.com";

impl StripeConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            api_base: set("PORCHLIGHT_STRIPE_API_BASE").map_or_else(
                || STRIPE_API.to_owned(),
                |v| v.trim_end_matches('/').to_owned(),
            ),
            secret_key: set("PORCHLIGHT_STRIPE_SECRET_KEY").map(|v| v.trim().to_owned()),
            webhook_secrets: set("PORCHLIGHT_STRIPE_WEBHOOK_SECRETS")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            secret_arn: set("PORCHLIGHT_STRIPE_SECRET_ARN").map(|v| v.trim().to_owned()),
        }
    }
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_base", &self.api_base)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<set>"))
            .field("webhook_secrets", &self.webhook_secrets.len())
            .finish()
    }
}
