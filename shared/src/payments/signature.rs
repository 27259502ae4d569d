//! Stripe's webhook signatures, checked before anything else of a delivery is read.
//!
//! The `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`.
//! Each `v1` is HMAC-SHA256, keyed with the whole endpoint secret (`whsec_...` included),
//! over `"{t}.{raw body}"`: the exact bytes received, never a re-serialised body. Any `v1`
//! matching any configured secret passes, which is how a secret is rotated (both are
//! configured until Stripe stops signing with the old one); `v0` and unknown schemes are
//! ignored. The timestamp must be within [`TOLERANCE_SECONDS`] of now, either way, so a
//! captured delivery cannot be replayed later.

use chrono::{DateTime, Utc};

use crate::client_links::hmac_sha256;

/// How far the signed timestamp may be from the clock, in seconds, before or after.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a delivery's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("no signature matches a configured secret")]
    NoMatch,
    /// Authentic, but signed `skew` seconds away from now (positive: in the past).
    #[error("the signature is {skew} s from now, beyond the tolerance")]
    Stale { skew: i64 },
    /// Our configuration, not the caller: nothing can be checked.
    #[error("no webhook secret is configured")]
    NotConfigured,
}

/// The parts of a `Stripe-Signature` header that count.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    timestamp: i64,
    signatures: Vec<[u8; 32]>,
}

fn parse(header: &str) -> Result<Header, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match name {
            "t" => {
                let parsed = value.parse().map_err(|_| SignatureError::Malformed)?;
                if timestamp.replace(parsed).is_some() {
                    return Err(SignatureError::Malformed);
                }
            }
            "v1" => {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(value, &mut bytes).map_err(|_| SignatureError::Malformed)?;
                signatures.push(bytes);
            }
            // `v0` (a test-mode scheme) and any scheme Stripe adds later.
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !signatures.is_empty() => Ok(Header {
            timestamp,
            signatures,
        }),
        _ => Err(SignatureError::Malformed),
    }
}

/// The `v1` signature of `body` at `timestamp` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut message = timestamp.to_string().into_bytes();
    message.push(b'.');
    message.extend_from_slice(body);
    hmac_sha256(secret.as_bytes(), &message)
}

/// A `Stripe-Signature` header as Stripe writes it, for the local stand-in and the tests.
pub fn header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex::encode(sign(secret, timestamp, body)));
    }
    header
}

/// Compares in time independent of where the values differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Checks a delivery: `Ok` with the signed timestamp when some `v1` of the header is the
/// signature of `body` under some secret of `secrets` and was made within the tolerance.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: DateTime<Utc>,
) -> Result<i64, SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NotConfigured);
    }
    let header = parse(header.ok_or(SignatureError::Missing)?)?;
    let mut matched = false;
    // Every pair is compared, so the time taken does not tell which secret matched.
    for secret in secrets {
        let expected = sign(secret, header.timestamp, body);
        for given in &header.signatures {
            matched |= same(&expected, given);
        }
    }
    if !matched {
        return Err(SignatureError::NoMatch);
    }
    let skew = now.timestamp().saturating_sub(header.timestamp);
    if skew.abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale { skew });
    }
    Ok(header.timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret_for_unit_tests";
    const BODY: &[u8] = br#"{"id":"evt_test_A","object":"event"}"#;
    const T: i64 = 1_796_385_600;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("a valid instant")
    }

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn signs_like_stripe() {
        // Computed apart, with Python's hmac module, over "1796385600." + BODY.
        assert_eq!(
            hex::encode(sign(SECRET, T, BODY)),
            "df687e208b118554c8d89d684bbe729f16662af145d1b880aeb57b479bbcd34b"
        );
    }

    #[test]
    fn accepts_any_v1_of_any_secret_and_ignores_v0() {
        let good = hex::encode(sign(SECRET, T, BODY));
        let other = hex::encode(sign("whsec_other", T, BODY));
        let header = format!("t={T},v0=abc,v1={other},v1={good}");
        let configured = secrets(&["whsec_old", SECRET]);
        assert_eq!(verify(Some(&header), BODY, &configured, at(T)), Ok(T));
        let spaced = format!("t={T}, v1={good}");
        assert_eq!(verify(Some(&spaced), BODY, &configured, at(T)), Ok(T));
    }

    #[test]
    fn refuses_forged_changed_and_unsigned_deliveries() {
        let configured = secrets(&[SECRET]);
        let forged = header(&["whsec_forged"], T, BODY);
        assert_eq!(
            verify(Some(&forged), BODY, &configured, at(T)),
            Err(SignatureError::NoMatch)
        );
        let signed = header(&[SECRET], T, BODY);
        let changed = br#"{"id":"evt_test_A","object":"event" }"#;
        assert_eq!(
            verify(Some(&signed), changed, &configured, at(T)),
            Err(SignatureError::NoMatch)
        );
        let later = header(&[SECRET], T + 1, BODY).replace(&(T + 1).to_string(), &T.to_string());
        assert_eq!(
            verify(Some(&later), BODY, &configured, at(T)),
            Err(SignatureError::NoMatch),
            "the timestamp is part of what is signed"
        );
        assert_eq!(
            verify(None, BODY, &configured, at(T)),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some(&signed), BODY, &[], at(T)),
            Err(SignatureError::NotConfigured)
        );
    }

    #[test]
    fn malformed_headers_are_told_apart() {
        let good = hex::encode(sign(SECRET, T, BODY));
        let configured = secrets(&[SECRET]);
        for bad in [
            String::new(),
            "garbage".into(),
            format!("v1={good}"),
            format!("t={T}"),
            format!("t={T},v0={good}"),
            format!("t=soon,v1={good}"),
            format!("t={T},t={T},v1={good}"),
            format!("t={T},v1=zz{}", &good[2..]),
            format!("t={T},v1={}", &good[..62]),
        ] {
            assert_eq!(
                verify(Some(&bad), BODY, &configured, at(T)),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_tolerance_is_five_minutes_either_way() {
        let configured = secrets(&[SECRET]);
        let signed = header(&[SECRET], T, BODY);
        for (now, ok) in [
            (T + 300, true),
            (T - 300, true),
            (T + 301, false),
            (T - 301, false),
        ] {
            let result = verify(Some(&signed), BODY, &configured, at(now));
            assert_eq!(result.is_ok(), ok, "at {}", now - T);
        }
        assert_eq!(
            verify(Some(&signed), BODY, &configured, at(T + 600)),
            Err(SignatureError::Stale { skew: 600 })
        );
    }
}
