//! Stripe-shaped ids (a type prefix and random letters and digits) and the clock.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `prefix` followed by `length` random characters of `[0-9A-Za-z]`, as Stripe's ids are.
pub(super) fn random(prefix: &str, length: usize) -> String {
    let mut id = String::with_capacity(prefix.len() + length);
    id.push_str(prefix);
    while id.len() < prefix.len() + length {
        for byte in porchlight_shared::ids::random_bytes::<32>() {
            // 248 is the largest multiple of 62 below 256: rejecting above it keeps every
            // character equally likely.
            if byte < 248 && id.len() < prefix.len() + length {
                id.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    id
}

pub(super) fn checkout_session() -> String {
    random("cs_test_", 58)
}

pub(super) fn payment_intent() -> String {
    random("pi_", 24)
}

pub(super) fn charge() -> String {
    random("ch_", 24)
}

pub(super) fn refund() -> String {
    random("re_", 24)
}

pub(super) fn event() -> String {
    random("evt_", 24)
}

pub(super) fn request() -> String {
    random("req_", 14)
}

/// Unix seconds, the unit of every `created` and `expires_at`.
pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Unix milliseconds, for delivery records.
pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_carry_their_prefix_and_length() {
        let id = super::checkout_session();
        assert!(id.starts_with("cs_test_"));
        assert_eq!(id.len(), 66);
        assert!(id[8..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(super::payment_intent(), super::payment_intent());
    }
}
