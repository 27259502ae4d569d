//! Paying an invoice by card, through Stripe Checkout.
//!
//! - `POST /p/{slug}/invoices/{id}/pay` (form field `amount`, a decimal in the invoice's
//!   currency; absent means the whole balance): creates a Checkout Session on the
//!   company's connected account and sends the client there (303), or answers JSON
//!   `{checkout_url, session_id, amount}` with 201.
//! - `GET|HEAD /p/{slug}/invoices/{id}/payment?session_id=cs_...`: the page Stripe returns
//!   the client to. The URL proves nothing (anyone can type it), so the page says "received"
//!   only once the webhook has booked the payment, or Stripe itself, asked server-side, says
//!   the session is paid; it then books it through the same exactly-once path the webhook
//!   uses. Otherwise it says "processing" and reloads itself.
//!
//! Both need the client's session, and answer an invoice of another client or company with
//! the portal's one 404. This is the only function that holds the Stripe secret key.

mod pay;
mod returned;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use porchlight_shared::auth::{self, SignedIn};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{ClientRef, Company};
use porchlight_shared::http::{self, Failure, PortalPath};
use porchlight_shared::store::ClientPortal;
use porchlight_shared::views::portal as pages;

const PAY_ROUTE: &str = "/p/{slug}/invoices/{id}/pay";
const RETURN_ROUTE: &str = "/p/{slug}/invoices/{id}/payment";

pub async fn handle(ctx: &AppContext, req: Request) -> Response<Body> {
    let routed = route(ctx, &req).await;
    // The template path, never the raw one with its query.
    http::finish("checkout", &req, routed)
}

type Answer = http::Routed;

async fn route(ctx: &AppContext, req: &Request) -> Answer {
    let json = http::wants_json(req);
    let Some(path) = PortalPath::parse(http::path(req)) else {
        return Ok(("-", http::not_found(json, None)));
    };
    let Some(company) = ctx.store.company(&path.slug).await? else {
        return Ok(("-", http::not_found(json, None)));
    };
    let names = (&company.slug, company.name.as_str());
    let method = req.method().clone();
    if method == Method::POST && http::is_cross_site(req) {
        tracing::warn!(slug = %company.slug, "cross-site pay refused");
        return Ok((PAY_ROUTE, http::cross_site_refused(json, Some(names))));
    }
    match (method, path.rest().as_slice()) {
        (Method::POST, ["invoices", id, "pay"]) => {
            Ok((PAY_ROUTE, pay::start(ctx, req, &company, id).await?))
        }
        (Method::GET, ["invoices", id, "payment"]) => Ok((
            RETURN_ROUTE,
            returned::show(ctx, req, &company, id, returned::Confirm::AskStripe).await?,
        )),
        // HEAD is a safe method: it answers from what is stored, asking Stripe nothing.
        (Method::HEAD, ["invoices", id, "payment"]) => Ok((
            RETURN_ROUTE,
            returned::show(ctx, req, &company, id, returned::Confirm::StoredOnly).await?,
        )),
        _ => Ok(("-", http::not_found(json, Some(names)))),
    }
}

/// The signed-in client and its whole partition, read in one Query.
struct Viewing {
    signed_in: SignedIn,
    active: ClientRef,
    portal: ClientPortal,
}

impl Viewing {
    fn viewer(&self) -> pages::Viewer<'_> {
        pages::Viewer {
            email: &self.signed_in.session.email,
            can_switch: self.signed_in.session.clients.len() > 1,
        }
    }
}

/// The signed-in client, or the answer to give instead: sign in first (401).
async fn viewing(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    why: &str,
) -> Result<Result<Viewing, Response<Body>>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let now = ctx.clock.now();
    let signed_in = auth::signed_in(&ctx.store, req, &company.slug, now).await?;
    let Some((signed_in, active)) =
        signed_in.and_then(|s| s.session.active().cloned().map(|active| (s, active)))
    else {
        return Ok(Err(http::sign_in_first(json, names, why)));
    };
    let Some(portal) = signed_in
        .client_portal(&ctx.store, &company.slug, &active.id)
        .await?
    else {
        // The account is gone, or the address was taken off it: signed out, as elsewhere.
        return Ok(Err(http::sign_in_first(json, names, why)));
    };
    Ok(Ok(Viewing {
        signed_in,
        active,
        portal,
    }))
}
