//! Back-office API keys: what a key looks like, and the record kept for it. A key is shown
//! once when created and stored only as its SHA-256 hash; each key belongs to one company,
//! and every API call acts inside that company alone.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CompanySlug, SecretToken, TokenHash, random_bytes};

/// The prefix that makes a Porchlight key recognisable in a leaked config file.
const PREFIX: &str = "plk_";

/// A key as handed to an integrator: `plk_` and 64 hex digits. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(SecretToken);

impl ApiKey {
    pub fn generate() -> Self {
        Self(SecretToken::generate())
    }

    /// Accepts the key as sent in `Authorization: Bearer plk_...`.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.trim()
            .strip_prefix(PREFIX)
            .and_then(SecretToken::parse)
            .map(Self)
    }

    /// The key itself, to print once for the operator.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", self.0.expose())
    }

    pub fn hash(&self) -> TokenHash {
        self.0.hash()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

/// A short public name for a key, safe to log and to show in listings.
pub fn new_key_id() -> String {
    hex::encode(random_bytes::<6>())
}

/// What is stored about a key (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub company: CompanySlug,
    pub label: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_hide() {
        let key = ApiKey::generate();
        let text = key.expose();
        assert!(text.starts_with("plk_"));
        assert_eq!(text.len(), 68);
        assert_eq!(ApiKey::parse(&text).map(|k| k.hash()), Some(key.hash()));
        assert_eq!(format!("{key:?}"), "ApiKey(..)");
        assert!(
            ApiKey::parse(&text[4..]).is_none(),
            "the prefix is required"
        );
        assert!(ApiKey::parse("plk_short").is_none());
    }
}
