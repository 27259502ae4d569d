//! A client's own choices: whether the daily new-documents email comes, and the calendar
//! feed's secret URL.
//!
//! - `GET|HEAD /p/{slug}/emails/off?client={id}&token={t}`: what the email is, and a button
//!   to stop it. It changes nothing, because mail scanners open links too.
//! - `POST /p/{slug}/emails/off?client={id}&token={t}`: stops the email. This is also the
//!   RFC 8058 one-click address of the email's `List-Unsubscribe` header: mail providers
//!   POST `List-Unsubscribe=One-Click` to it without cookies, from their own site. The token
//!   is the authority here, so a cross-site POST is not refused.
//! - `POST /p/{slug}/emails/on?client={id}&token={t}`: the same token turns it back on.
//! - `POST /p/{slug}/calendar` (form field `action`, `create` or `revoke`): for the
//!   signed-in client, from the portal's own pages only. `create` makes a new feed URL and
//!   kills every older one; `revoke` stops the current one.
//!
//! A wrong token, an unknown client and an unknown company all get the one 404, and change
//! nothing. Every page answers `Accept: application/json` with its data.

mod pages;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use porchlight_shared::auth;
use porchlight_shared::client_links;
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Client, ClientPreferences, Company};
use porchlight_shared::http::{self, Failure, PortalPath};
use porchlight_shared::ids::ClientId;
use porchlight_shared::store::{Entity, keys};
use porchlight_shared::views;

pub async fn handle(ctx: &AppContext, req: Request) -> Response<Body> {
    let routed = route(ctx, &req).await;
    http::finish("preferences", &req, routed)
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
    let method = req.method().clone();
    match (method, path.rest().as_slice()) {
        (Method::GET | Method::HEAD, ["emails", "off"]) => Ok((
            "/p/{slug}/emails/off",
            email_page(ctx, req, &company).await?,
        )),
        (Method::POST, ["emails", "off"]) => Ok((
            "/p/{slug}/emails/off",
            switch_email(ctx, req, &company, false).await?,
        )),
        (Method::POST, ["emails", "on"]) => Ok((
            "/p/{slug}/emails/on",
            switch_email(ctx, req, &company, true).await?,
        )),
        (Method::POST, ["calendar"]) => {
            Ok(("/p/{slug}/calendar", calendar(ctx, req, &company).await?))
        }
        _ => Ok(("-", not_found(json, &company))),
    }
}

fn not_found(json: bool, company: &Company) -> Response<Body> {
    http::not_found(json, Some((&company.slug, &company.name)))
}

/// The client record, if it is still on file.
async fn client_record(
    ctx: &AppContext,
    company: &Company,
    id: &ClientId,
) -> Result<Option<Client>, Failure> {
    let key = keys::client(&company.slug, id);
    Ok(ctx.store.record(&key, Entity::Client).await?)
}

/// The client an emailed link names, with its preferences, when `?client=` and `?token=`
/// hold a client on file and the token of its email link. Anything else is `None`, which
/// every caller answers with the one 404.
async fn linked_client(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Option<(Client, ClientPreferences)>, Failure> {
    let id = http::query_param(req, "client").and_then(|raw| ClientId::parse(&raw).ok());
    let token = http::query_param(req, "token");
    let (Some(id), Some(token)) = (id, token) else {
        return Ok(None);
    };
    if !client_links::is_email_opt_out_token(company, &id, &token) {
        tracing::info!(slug = %company.slug, "email link with a wrong token");
        return Ok(None);
    }
    let Some(client) = client_record(ctx, company, &id).await? else {
        tracing::info!(slug = %company.slug, client = %id, "email link of a client not on file");
        return Ok(None);
    };
    let preferences = ctx.store.client_preferences(&company.slug, &id).await?;
    Ok(Some((client, preferences)))
}

fn email_state(client: &Client, on: bool) -> Response<Body> {
    http::json(
        StatusCode::OK,
        &serde_json::json!({ "client": client.id, "new_documents_email": on }),
    )
}

async fn email_page(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let Some((client, preferences)) = linked_client(ctx, req, company).await? else {
        return Ok(not_found(json, company));
    };

    let on = preferences.new_documents_email;
    if json {
        return Ok(email_state(&client, on));
    }
    let page = pages::email_confirm(company, &client.id, on);
    Ok(http::html(StatusCode::OK, page))
}

/// Sets the new-documents email to `on`. Setting it to what it already is writes nothing
/// and answers the same, so a retried or repeated click is harmless.
async fn switch_email(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    on: bool,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let Some((client, preferences)) = linked_client(ctx, req, company).await? else {
        return Ok(not_found(json, company));
    };

    let changed = preferences.new_documents_email != on;
    if changed {
        ctx.store
            .set_new_documents_email(&company.slug, &client.id, on)
            .await?;
    }
    tracing::info!(slug = %company.slug, client = %client.id, on, changed,
        "new-documents email switched");

    let form = http::form(req);
    if json {
        Ok(email_state(&client, on))
    } else if http::form_value(&form, "next") == Some("portal") {
        // The switch on the portal home: back to it.
        Ok(http::see_other(&format!("/p/{}/", company.slug)))
    } else {
        let page = pages::email_switched(company, &client.id, on);
        Ok(http::html(StatusCode::OK, page))
    }
}

/// What the calendar form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CalendarAction {
    /// A new feed URL; every older one stops working.
    Create,
    /// No feed URL works until the next `Create`.
    Revoke,
}

impl CalendarAction {
    fn parse(raw: Option<&str>) -> Option<Self> {
        match raw? {
            "create" => Some(Self::Create),
            "revoke" => Some(Self::Revoke),
            _ => None,
        }
    }
}

/// A session action, so refused cross-site: another site must not be able to mint or kill
/// a client's feed URL.
async fn calendar(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    if http::is_cross_site(req) {
        tracing::warn!(slug = %company.slug, "cross-site calendar action refused");
        return Ok(http::cross_site_refused(json, Some(names)));
    }
    let now = ctx.clock.now();
    let signed_in = auth::signed_in(&ctx.store, req, &company.slug, now).await?;
    let Some((signed_in, active)) = signed_in
        .as_ref()
        .and_then(|s| s.session.active().map(|a| (s, a)))
    else {
        return Ok(sign_in_first(json, company));
    };
    let form = http::form(req);
    let Some(action) = CalendarAction::parse(http::form_value(&form, "action")) else {
        return Ok(unknown_action(json, company));
    };

    let Some(client) = client_record(ctx, company, &active.id).await? else {
        tracing::warn!(slug = %company.slug, "session names a client that is gone");
        return Ok(not_found(json, company));
    };
    if !signed_in.still_reaches(&client) {
        tracing::info!(slug = %company.slug, client = %client.id,
            "session refused: its address no longer reaches the client");
        return Ok(sign_in_first(json, company));
    }
    let enable = matches!(action, CalendarAction::Create);
    let after = ctx
        .store
        .switch_calendar_feed(&company.slug, &client.id, enable)
        .await?;
    tracing::info!(slug = %company.slug, client = %client.id, action = ?action,
        generation = after.calendar_generation, "calendar feed switched");

    if !json {
        return Ok(http::see_other(&format!("/p/{}/", company.slug)));
    }
    let url = after.calendar_enabled.then(|| {
        let path = client_links::calendar_path(company, &client.id, after.calendar_generation);
        format!("{}{path}", ctx.config.base_url)
    });
    Ok(http::json(
        StatusCode::OK,
        &serde_json::json!({ "calendar_enabled": after.calendar_enabled, "calendar_url": url }),
    ))
}

fn sign_in_first(json: bool, company: &Company) -> Response<Body> {
    let names = (&company.slug, company.name.as_str());
    http::sign_in_first(json, names, "Please sign in to change your calendar link.")
}

fn unknown_action(json: bool, company: &Company) -> Response<Body> {
    let why = "The form field `action` must be `create` or `revoke`.";
    if json {
        http::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unknown action",
            Some(why),
        )
    } else {
        let names = (&company.slug, company.name.as_str());
        let page = views::message_page("Unknown action", Some(names), why);
        http::html(StatusCode::UNPROCESSABLE_ENTITY, page)
    }
}

/// Keeps the switches' paths in one place: the portal home builds the same ones.
fn switch_path(company: &Company, client: &ClientId, on: bool) -> String {
    if on {
        porchlight_shared::portal::email_opt_in_path(company, client)
    } else {
        client_links::email_opt_out_path(company, client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_actions_parse() {
        assert_eq!(
            CalendarAction::parse(Some("create")),
            Some(CalendarAction::Create)
        );
        assert_eq!(
            CalendarAction::parse(Some("revoke")),
            Some(CalendarAction::Revoke)
        );
        assert_eq!(CalendarAction::parse(Some("Create")), None);
        assert_eq!(CalendarAction::parse(None), None);
    }
}
