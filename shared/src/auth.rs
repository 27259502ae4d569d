//! Sessions: the cookie a signed-in browser carries, and finding the session it names.
//!
//! The cookie is scoped to one company's portal path, so it is never sent to another
//! company's portal, and a session is stored under its company: even a cookie replayed
//! against another slug names nothing there.

use chrono::{DateTime, Duration, Utc};
use lambda_http::Request;

use crate::domain::Client;
use crate::http::cookie;
use crate::ids::{ClientId, CompanySlug, SecretToken, TokenHash};
use crate::store::{ClientPortal, Session, Store, StoreError};

pub const SESSION_COOKIE: &str = "porchlight_session";
/// How long a sign-in lasts.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
/// How long an emailed login link works.
pub const LOGIN_LINK_LIFETIME: Duration = Duration::minutes(15);

/// The `Set-Cookie` value that opens a session in this company's portal.
pub fn session_cookie(slug: &CompanySlug, token: &SecretToken, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={}; Path=/p/{slug}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        token.expose(),
        SESSION_LIFETIME.num_seconds()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(slug: &CompanySlug, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/p/{slug}; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
}

/// A live session found from the request's cookie.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: TokenHash,
    pub session: Session,
}

/// The live session the request's cookie names in this company, if any. Expiry is checked
/// here because DynamoDB's TTL deletion can lag by days.
pub async fn signed_in(
    store: &Store,
    req: &Request,
    slug: &CompanySlug,
    now: DateTime<Utc>,
) -> Result<Option<SignedIn>, StoreError> {
    let Some(token) = cookie(req, SESSION_COOKIE).and_then(|raw| SecretToken::parse(&raw)) else {
        return Ok(None);
    };
    let token = token.hash();
    let session = store.session(slug, &token).await?;
    Ok(session
        .filter(|s| s.is_live(now))
        .map(|session| SignedIn { token, session }))
}

impl SignedIn {
    /// Whether this session may still see `client`: it was offered the account at sign-in,
    /// and its address is still one of the client's. Staff can take an address off a
    /// client at any time, and that must end its access then, not when the session expires.
    pub fn still_reaches(&self, client: &Client) -> bool {
        self.session.may_see(&client.id)
            && client
                .emails
                .iter()
                .any(|email| email.eq_ignore_ascii_case(&self.session.email))
    }

    /// The client's whole partition (one Query), if the session still reaches the client.
    pub async fn client_portal(
        &self,
        store: &Store,
        slug: &CompanySlug,
        client: &ClientId,
    ) -> Result<Option<ClientPortal>, StoreError> {
        let portal = store.client_portal(slug, client).await?;
        Ok(portal.filter(|portal| {
            let reaches = self.still_reaches(&portal.client);
            if !reaches {
                tracing::info!(slug = %slug, client = %client,
                    "session refused: its address no longer reaches the client");
            }
            reaches
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_scoped_and_hardened() {
        let slug = CompanySlug::parse("greenridge").expect("test data is valid");
        let token = SecretToken::generate();
        let cookie = session_cookie(&slug, &token, true);
        for part in [
            "Path=/p/greenridge;",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Max-Age=43200",
        ] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(!session_cookie(&slug, &token, false).contains("Secure"));
        assert!(clear_session_cookie(&slug, false).contains("Max-Age=0"));
    }
}
