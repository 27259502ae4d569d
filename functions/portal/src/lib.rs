//! The client's portal pages: the home with what the rules show today, one page per
//! proposal and invoice, and the login page or service-request form for visitors.
//!
//! - `GET /p/{slug}`: the login page, the account chooser, or the portal home;
//!   `?leadform=true` opens the service-request form.
//! - `GET /p/{slug}/proposals/{id}` and `GET /p/{slug}/invoices/{id}`: one document the
//!   client may see. An invoice the company takes card payments for also has the pay form
//!   (JSON `payment`), which posts to the `checkout` function.
//! - `GET /p/{slug}/login` (the sign-in form's address, reloaded): back to the portal.
//! - `GET /p/{slug}/payments`: the client's payment history (see the `payments` module).
//! - `GET /p/{slug}/calendar/{client}/{token}.ics`: the client's visits as an iCalendar
//!   feed (see the `calendar` module); a wrong, old or revoked token gets the one 404.
//! - Every address no other route has (the API's `$default` route): the one 404.
//!
//! Every page answers `Accept: application/json` with its data. A document of another
//! client or company gets the same 404 as one that does not exist. The function only reads:
//! what a client changes goes through the `preferences` function.

mod calendar;
mod payments;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use porchlight_shared::auth::{self, SignedIn};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::Company;
use porchlight_shared::http::{self, Failure, PortalPath};
use porchlight_shared::ids::DocumentId;
use porchlight_shared::lead_form::LeadForm;
use porchlight_shared::payments::stripe_api;
use porchlight_shared::portal::{ClientControls, InvoiceDetail, PayOffer, PortalDay, PortalHome};
use porchlight_shared::store::ClientPortal;
use porchlight_shared::views::{self, portal as pages};

pub async fn handle(ctx: &AppContext, req: Request) -> Response<Body> {
    let routed = route(ctx, &req).await;
    http::finish("portal", &req, routed)
}

type Answer = http::Routed;

async fn route(ctx: &AppContext, req: &Request) -> Answer {
    let json = http::wants_json(req);
    let Some(path) = PortalPath::parse(http::path(req)) else {
        return Ok(("-", http::not_found(json, None)));
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(("-", http::not_found(json, None)));
    }
    let Some(company) = ctx.store.company(&path.slug).await? else {
        return Ok(("-", http::not_found(json, None)));
    };
    match path.rest().as_slice() {
        [] => Ok(("/p/{slug}", home(ctx, req, &company).await?)),
        ["proposals", id] => Ok((
            "/p/{slug}/proposals/{id}",
            proposal(ctx, req, &company, id).await?,
        )),
        ["login"] => Ok((
            "/p/{slug}/login",
            http::see_other(&format!("/p/{}/", company.slug)),
        )),
        ["invoices", id] => Ok((
            "/p/{slug}/invoices/{id}",
            invoice(ctx, req, &company, id).await?,
        )),
        ["payments"] => Ok((
            "/p/{slug}/payments",
            payments::history(ctx, req, &company).await?,
        )),
        ["calendar", client, feed] => Ok((
            "/p/{slug}/calendar/{client}/{feed}",
            calendar::feed(ctx, req, &company, client, feed).await?,
        )),
        _ => Ok((
            "-",
            http::not_found(json, Some((&company.slug, &company.name))),
        )),
    }
}

/// The signed-in client's account, if the session has chosen one and it still exists.
struct Viewing {
    signed_in: SignedIn,
    portal: ClientPortal,
}

async fn viewing(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Option<Viewing>, Failure> {
    let now = ctx.clock.now();
    let Some(signed_in) = auth::signed_in(&ctx.store, req, &company.slug, now).await? else {
        return Ok(None);
    };
    let Some(active) = signed_in.session.active() else {
        return Ok(None);
    };
    let portal = signed_in
        .client_portal(&ctx.store, &company.slug, &active.id)
        .await?;
    Ok(portal.map(|portal| Viewing { signed_in, portal }))
}

fn sign_in_first(json: bool, company: &Company) -> Response<Body> {
    let names = (&company.slug, company.name.as_str());
    http::sign_in_first(json, names, "Please sign in to see this page.")
}

async fn home(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let now = ctx.clock.now();
    let signed_in = auth::signed_in(&ctx.store, req, &company.slug, now).await?;

    if http::query_param(req, "leadform").as_deref() == Some("true") {
        return lead_form(ctx, company, signed_in.as_ref(), json).await;
    }
    // The front door itself: the sign-in form, or for a program the problem saying so.
    let front_door = || {
        if json {
            sign_in_first(json, company)
        } else {
            http::html(StatusCode::OK, views::login::login(names, None, ""))
        }
    };
    let Some(signed_in) = signed_in else {
        return Ok(front_door());
    };

    let session = &signed_in.session;
    let choosing = http::query_param(req, "choose").as_deref() == Some("account");
    let active = session.active().filter(|_| !choosing);
    let chooser = || {
        if json {
            http::json(
                StatusCode::OK,
                &serde_json::json!({
                    "company": { "slug": company.slug, "name": company.name },
                    "accounts": session.clients,
                }),
            )
        } else {
            http::html(
                StatusCode::OK,
                views::login::choose_account(names, &session.email, &session.clients),
            )
        }
    };
    let Some(active) = active else {
        return Ok(chooser());
    };
    let Some(portal) = signed_in
        .client_portal(&ctx.store, &company.slug, &active.id)
        .await?
    else {
        tracing::warn!(slug = %company.slug, "session names a client it no longer reaches");
        // An address on several accounts may still reach the others.
        return Ok(if session.clients.len() > 1 {
            chooser()
        } else {
            front_door()
        });
    };

    let day = PortalDay::new(company, &portal, company.today(now));
    let home = day.home();
    let controls = ClientControls::new(company, &portal, &ctx.config.base_url);
    let visits: usize = home.upcoming_visits.iter().map(|g| g.visits.len()).sum();
    tracing::info!(slug = %company.slug, client = %portal.client.id,
        proposals = home.proposals.len(), invoices = home.invoices.len(), visits,
        "portal home");
    Ok(if json {
        let body = HomeJson {
            home: &home,
            preferences: &controls,
        };
        http::json(StatusCode::OK, &body)
    } else {
        let viewer = pages::Viewer {
            email: &session.email,
            can_switch: session.clients.len() > 1,
        };
        http::html(StatusCode::OK, pages::home(&home, &viewer, &controls))
    })
}

/// The home's JSON: what the portal shows, and the client's own switches beside it.
#[derive(serde::Serialize)]
struct HomeJson<'a> {
    #[serde(flatten)]
    home: &'a PortalHome,
    preferences: &'a ClientControls,
}

async fn lead_form(
    ctx: &AppContext,
    company: &Company,
    signed_in: Option<&SignedIn>,
    json: bool,
) -> Result<Response<Body>, Failure> {
    let client = match signed_in.and_then(|s| s.session.active().map(|a| (s, a))) {
        Some((signed_in, active)) => signed_in
            .client_portal(&ctx.store, &company.slug, &active.id)
            .await?
            .map(|p| p.client),
        None => None,
    };
    let email = signed_in.map(|s| s.session.email.as_str());
    let form = LeadForm::fresh(client.as_ref(), email);
    let names = (&company.slug, company.name.as_str());
    if json {
        return Ok(http::json(StatusCode::OK, &form.description(names, email)));
    }
    Ok(http::html(
        StatusCode::OK,
        views::lead::form(names, &form, &[], email),
    ))
}

/// The signed-in viewer and the document id a detail page names, or the answer to give
/// instead: sign in first, or the one 404.
async fn open_document(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_id: &str,
) -> Result<Result<(Viewing, DocumentId), Response<Body>>, Failure> {
    let json = http::wants_json(req);
    let Some(viewing) = viewing(ctx, req, company).await? else {
        return Ok(Err(sign_in_first(json, company)));
    };
    match DocumentId::parse(raw_id) {
        Ok(id) => Ok(Ok((viewing, id))),
        Err(_) => Ok(Err(http::not_found(
            json,
            Some((&company.slug, &company.name)),
        ))),
    }
}

async fn proposal(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_id: &str,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let (viewing, id) = match open_document(ctx, req, company, raw_id).await? {
        Ok(opened) => opened,
        Err(answer) => return Ok(answer),
    };

    let day = PortalDay::new(company, &viewing.portal, company.today(ctx.clock.now()));
    let Some(detail) = day.proposal(&id) else {
        return Ok(http::not_found(json, Some(names)));
    };
    if json {
        return Ok(http::json(StatusCode::OK, &detail));
    }
    let notice = (http::query_param(req, "accepted").as_deref() == Some("1"))
        .then_some(pages::AcceptNotice::Accepted);
    let page = pages::proposal(names, &detail, &viewer(&viewing.signed_in), notice);
    Ok(http::html(StatusCode::OK, page))
}

async fn invoice(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_id: &str,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let (viewing, id) = match open_document(ctx, req, company, raw_id).await? {
        Ok(opened) => opened,
        Err(answer) => return Ok(answer),
    };

    let now = ctx.clock.now();
    let day = PortalDay::new(company, &viewing.portal, company.today(now));
    let Some(detail) = day.invoice(&id) else {
        return Ok(http::not_found(json, Some(names)));
    };
    let offer = day.pay_offer(&id, now);
    if json {
        let body = InvoiceJson {
            detail: &detail,
            payment: offer.as_ref(),
        };
        return Ok(http::json(StatusCode::OK, &body));
    }
    let pay = offer.as_ref().map(|offer| pages::PayForm {
        offer,
        amount: None,
        error: None,
    });
    let page = pages::invoice(names, &detail, &viewer(&viewing.signed_in), pay.as_ref());
    let mut response = http::html(StatusCode::OK, page);
    if offer.is_some() {
        stripe_api::allow_checkout_redirect(&mut response, &ctx.config.stripe);
    }
    Ok(response)
}

/// An invoice's JSON: the detail, and the card payment offer (`null` when the invoice
/// cannot be paid online now).
#[derive(serde::Serialize)]
struct InvoiceJson<'a> {
    #[serde(flatten)]
    detail: &'a InvoiceDetail,
    payment: Option<&'a PayOffer>,
}

fn viewer(signed_in: &SignedIn) -> pages::Viewer<'_> {
    pages::Viewer {
        email: &signed_in.session.email,
        can_switch: signed_in.session.clients.len() > 1,
    }
}
