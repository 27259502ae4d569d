//! Identifiers and secrets: newtypes for ids, random tokens, and the hashes they are stored as.
//!
//! Ids that appear in URLs are 128 random-looking bits, never document numbers, so one client
//! cannot reach another's documents by editing an address.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A company's portal slug: 2–40 of `a-z`, `0-9` and `-`, not starting or ending with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CompanySlug(String);

impl CompanySlug {
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        let ok_len = (2..=40).contains(&raw.len());
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_ends = !raw.starts_with('-') && !raw.ends_with('-');
        if ok_len && ok_chars && ok_ends {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidId {
                kind: "company slug",
                value: raw.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CompanySlug {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CompanySlug> for String {
    fn from(value: CompanySlug) -> Self {
        value.0
    }
}

impl fmt::Display for CompanySlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An id was not in the expected shape.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{value}` is not a valid {kind}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(hex::encode(random_bytes::<16>()))
            }

            /// An id derived from a company secret and a stable source key, so that importing
            /// the same record twice gives the same id while the id stays unguessable.
            pub fn derived(secret: &str, source_key: &str) -> Self {
                let digest = Sha256::new()
                    .chain_update(secret.as_bytes())
                    .chain_update(b"\x00")
                    .chain_update(source_key.as_bytes())
                    .finalize();
                Self(hex::encode(&digest[..16]))
            }

            /// Accepts exactly 32 lowercase hex digits.
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                let ok = raw.len() == 32
                    && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if ok {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind, value: raw.to_owned() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// A client (a customer account) of one company.
    ClientId,
    "client id"
);
opaque_id!(
    /// A proposal, invoice, job, visit, payment or lead: any document a URL can name.
    DocumentId,
    "document id"
);

/// A secret handed to a person (login link, session cookie). `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// 256 random bits, hex encoded.
    pub fn generate() -> Self {
        Self(hex::encode(random_bytes::<32>()))
    }

    /// Accepts what a browser sent back; anything not 64 hex digits cannot be ours.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Self(raw.to_ascii_lowercase()))
    }

    /// The raw value, for putting into a link or a cookie (never into a log).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: SHA-256 of the token, so a leaked table grants no logins.
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(..)")
    }
}

/// The stored form of a [`SecretToken`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short prefix that is safe to log for correlating events.
    pub fn log_prefix(&self) -> &str {
        &self.0[..8]
    }
}

/// Bytes from the operating system's secure random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked() {
        assert!(CompanySlug::parse("greenridge").is_ok());
        assert!(CompanySlug::parse("craigs-design-2").is_ok());
        for bad in [
            "",
            "a",
            "-x",
            "x-",
            "Upper",
            "sp ace",
            "dot.ted",
            &"x".repeat(41),
        ] {
            assert!(
                CompanySlug::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn random_ids_are_128_bits_and_distinct() {
        let a = DocumentId::random();
        let b = DocumentId::random();
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, b);
        assert!(DocumentId::parse(a.as_str()).is_ok());
    }

    #[test]
    fn derived_ids_are_stable_per_secret() {
        let one = ClientId::derived("secret-a", "qbo:customer:1");
        assert_eq!(one, ClientId::derived("secret-a", "qbo:customer:1"));
        assert_ne!(one, ClientId::derived("secret-b", "qbo:customer:1"));
        assert_ne!(one, ClientId::derived("secret-a", "qbo:customer:2"));
    }

    #[test]
    fn tokens_hash_and_hide() {
        let token = SecretToken::generate();
        assert_eq!(token.expose().len(), 64);
        assert_eq!(
            token.hash(),
            SecretToken::parse(token.expose())
                .expect("test data is valid")
                .hash()
        );
        assert_ne!(token.hash().as_str(), token.expose());
        assert_eq!(format!("{token:?}"), "SecretToken(..)");
        assert!(SecretToken::parse("short").is_none());
    }
}
