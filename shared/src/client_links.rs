//! Links a client keeps for good: the one-click "no more new-document emails" link and the
//! calendar feed. Each carries an HMAC-SHA256 token over the company, the client and the
//! link's purpose, keyed with the company's secret, so checking one needs no stored token;
//! the calendar token also covers a generation number, so making a new feed URL (or
//! revoking it) kills every older one.

use sha2::{Digest, Sha256};

use crate::domain::Company;
use crate::ids::ClientId;

const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104), also used to check Stripe webhook signatures.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn token(company: &Company, client: &ClientId, purpose: &str, generation: u64) -> String {
    let message = format!("{purpose}\0{}\0{client}\0{generation}", company.slug);
    hex::encode(hmac_sha256(
        company.id_secret.as_bytes(),
        message.as_bytes(),
    ))
}

/// Compares in time independent of where the texts differ.
fn same(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// The token of a client's "stop these emails" link.
pub fn email_opt_out_token(company: &Company, client: &ClientId) -> String {
    token(company, client, "new-documents-opt-out", 0)
}

pub fn is_email_opt_out_token(company: &Company, client: &ClientId, given: &str) -> bool {
    same(&email_opt_out_token(company, client), given)
}

/// The path of the one-click link; GET shows a confirmation, POST (RFC 8058) turns it off.
pub fn email_opt_out_path(company: &Company, client: &ClientId) -> String {
    format!(
        "/p/{}/emails/off?client={client}&token={}",
        company.slug,
        email_opt_out_token(company, client)
    )
}

/// The token of calendar feed `generation` of a client.
pub fn calendar_token(company: &Company, client: &ClientId, generation: u64) -> String {
    token(company, client, "calendar-feed", generation)
}

pub fn is_calendar_token(
    company: &Company,
    client: &ClientId,
    generation: u64,
    given: &str,
) -> bool {
    same(&calendar_token(company, client, generation), given)
}

/// The path of a client's calendar feed.
pub fn calendar_path(company: &Company, client: &ClientId, generation: u64) -> String {
    format!(
        "/p/{}/calendar/{client}/{}.ics",
        company.slug,
        calendar_token(company, client, generation)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_hashes_long_keys_first() {
        // RFC 4231 test case 6: a 131-byte key.
        let key = [0xaa_u8; 131];
        let mac = hmac_sha256(
            &key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn comparison_needs_every_character() {
        assert!(same("abcd", "abcd"));
        assert!(!same("abcd", "abce"));
        assert!(!same("abcd", "abc"));
    }
}
