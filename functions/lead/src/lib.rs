//! The service-request form: `GET /p/{slug}/request` shows it (prefilled for a signed-in
//! client; described as JSON for `Accept: application/json`), `POST` checks it, stores the
//! request once, emails the company and thanks the requester. The portal serves the same
//! form at `/p/{slug}?leadform=true`.
//!
//! A form sent again (same one-time id) is looked up before the per-address limit counts
//! it: with the same content it is thanked again without being counted, stored or
//! announced; with changed content it is answered 409 with the form as typed under a new
//! id, so nothing typed is lost and nothing is silently dropped.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use porchlight_shared::auth::{self, SignedIn};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Client, Company, Lead};
use porchlight_shared::http::{self, Failure, PortalPath};
use porchlight_shared::ids::DocumentId;
use porchlight_shared::lead_form::LeadForm;
use porchlight_shared::mail::{Email, Mailbox};
use porchlight_shared::views::lead::RESUBMITTED_NOTICE;
use porchlight_shared::views::{self, lead as pages};

const ROUTE: &str = "/p/{slug}/request";
/// Requests one address may send in an hour; enough for people, too few for spam runs.
const REQUESTS_PER_HOUR: u32 = 5;

pub async fn handle(ctx: &AppContext, req: Request) -> Response<Body> {
    let response = match route(ctx, &req).await {
        Ok(response) => response,
        Err(failure) => http::failure_response(&failure, http::wants_json(&req)),
    };
    http::log_request("lead", ROUTE, &req, &response);
    response
}

async fn route(ctx: &AppContext, req: &Request) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let Some(path) = PortalPath::parse(http::path(req)) else {
        return Ok(http::not_found(json, None));
    };
    let Some(company) = ctx.store.company(&path.slug).await? else {
        return Ok(http::not_found(json, None));
    };
    if path.rest() != ["request"] {
        return Ok(http::not_found(json, Some((&company.slug, &company.name))));
    }
    let signed_in = auth::signed_in(&ctx.store, req, &company.slug, ctx.clock.now()).await?;
    let client = signed_in_client(ctx, &company, signed_in.as_ref()).await?;
    match *req.method() {
        Method::GET | Method::HEAD => {
            let email = signed_in.as_ref().map(|s| s.session.email.as_str());
            let form = LeadForm::fresh(client.as_ref(), email);
            if json {
                let described = form.description((&company.slug, &company.name), email);
                return Ok(http::json(StatusCode::OK, &described));
            }
            Ok(http::html(
                StatusCode::OK,
                pages::form((&company.slug, &company.name), &form, &[], email),
            ))
        }
        Method::POST => submit(ctx, req, &company, signed_in.as_ref(), client.as_ref()).await,
        _ => Ok(http::not_found(json, Some((&company.slug, &company.name)))),
    }
}

async fn signed_in_client(
    ctx: &AppContext,
    company: &Company,
    signed_in: Option<&SignedIn>,
) -> Result<Option<Client>, Failure> {
    let Some((signed_in, active)) = signed_in.and_then(|s| s.session.active().map(|a| (s, a)))
    else {
        return Ok(None);
    };
    Ok(signed_in
        .client_portal(&ctx.store, &company.slug, &active.id)
        .await?
        .map(|portal| portal.client))
}

async fn submit(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    signed_in: Option<&SignedIn>,
    client: Option<&Client>,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let who = signed_in.map(|s| s.session.email.as_str());
    let form = LeadForm::from_pairs(&http::form(req));
    let now = ctx.clock.now();
    let source = http::source_ip(req).unwrap_or_else(|| "unknown".to_owned());

    if form.is_spam() {
        // Answer as if it worked, with an id like a stored request's, so the robot learns
        // nothing; store and send nothing.
        tracing::warn!(slug = %company.slug, "service request caught by the honeypot");
        return Ok(thanks(json, names, &form, who, &DocumentId::random()));
    }
    let errors = form.check();
    if !errors.is_empty() {
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        tracing::info!(slug = %company.slug, fields = ?fields,
            "service request refused");
        return Ok(if json {
            let fields: Vec<_> = errors
                .iter()
                .map(|e| serde_json::json!({ "name": e.field, "reason": e.message }))
                .collect();
            let mut response = http::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The request has invalid fields",
                None,
            );
            let body = serde_json::json!({ "type": "about:blank", "status": 422,
                "title": "The request has invalid fields", "invalid_fields": fields });
            *response.body_mut() = Body::Text(body.to_string());
            response
        } else {
            http::html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::form(names, &form, &errors, who),
            )
        });
    }
    let id = DocumentId::parse(&form.form_id).expect("check() accepted the form id");
    // A form sent again is answered from what it stored, before the limit counts it: a
    // double click or a flaky connection must not use up an office's requests.
    if let Some(earlier) = ctx.store.lead(&company.slug, &id).await? {
        return Ok(sent_again(json, company, &form, who, &earlier));
    }
    let rate_key = format!("lead:{source}");
    if !ctx
        .store
        .take_rate_slot(&company.slug, &rate_key, now, REQUESTS_PER_HOUR)
        .await?
    {
        tracing::warn!(slug = %company.slug, "service request rate limit reached");
        let why = "Too many requests from your address in the last hour. Please try again later.";
        let mut refused = if json {
            http::problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                Some(why),
            )
        } else {
            http::html(
                StatusCode::TOO_MANY_REQUESTS,
                views::message_page("Please try again later", Some(names), why),
            )
        };
        // The count is kept per clock hour (UTC), so the next hour starts afresh.
        let seconds_left = 3600 - now.timestamp().rem_euclid(3600);
        refused
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds_left));
        return Ok(refused);
    }

    let lead = form.to_lead(id, now, client.map(|c| c.id.clone()), Some(source));
    if ctx.store.put_lead(&company.slug, &lead).await? {
        tracing::info!(slug = %company.slug, lead = %lead.id, "service request stored");
        if let Err(error) = notify_company(ctx, company, &lead).await {
            // The request is stored and listed for staff; a lost notice must not lose it.
            tracing::error!(slug = %company.slug, lead = %lead.id, error = %error,
                "service request notice not sent");
        }
        return Ok(thanks(json, names, &form, who, &lead.id));
    }

    // The same form arrived twice at once and the other copy was stored first: this one
    // must not count against the limit either, and is answered from what that one stored.
    if let Err(error) = ctx
        .store
        .give_back_rate_slot(&company.slug, &rate_key, now)
        .await
    {
        // The request itself is safe; one use too many counted is the lesser harm.
        tracing::error!(slug = %company.slug, error = %error, "rate slot not given back");
    }
    match ctx.store.lead(&company.slug, &lead.id).await? {
        Some(earlier) => Ok(sent_again(json, company, &form, who, &earlier)),
        // Gone between the two requests: nothing to compare with, and the form did arrive.
        None => Ok(thanks(json, names, &form, who, &lead.id)),
    }
}

/// The answer to a form whose one-time id is already stored: the same thanks when it says
/// the same, or 409 with the form as typed under a new id when it was changed.
fn sent_again(
    json: bool,
    company: &Company,
    form: &LeadForm,
    who: Option<&str>,
    earlier: &Lead,
) -> Response<Body> {
    let names = (&company.slug, company.name.as_str());
    if form.says_the_same_as(earlier) {
        tracing::info!(slug = %company.slug, lead = %earlier.id,
            "service request resubmitted unchanged; thanked again");
        return thanks(json, names, form, who, &earlier.id);
    }
    tracing::info!(slug = %company.slug, lead = %earlier.id,
        "service request resubmitted with changes; offered as a new request");
    let renewed = form.renewed();
    if json {
        let mut response = http::problem(
            StatusCode::CONFLICT,
            "Already received",
            Some(RESUBMITTED_NOTICE),
        );
        let body = serde_json::json!({ "type": "about:blank", "status": 409,
            "title": "Already received", "detail": RESUBMITTED_NOTICE,
            "form_id": renewed.form_id });
        *response.body_mut() = Body::Text(body.to_string());
        response
    } else {
        http::html(
            StatusCode::CONFLICT,
            pages::resubmitted(names, &renewed, who),
        )
    }
}

fn thanks(
    json: bool,
    names: (&porchlight_shared::ids::CompanySlug, &str),
    form: &LeadForm,
    who: Option<&str>,
    id: &DocumentId,
) -> Response<Body> {
    if json {
        http::json(
            StatusCode::CREATED,
            &serde_json::json!({ "status": "received", "id": id }),
        )
    } else {
        let name = form.name.trim();
        http::html(
            StatusCode::OK,
            pages::thanks(names, if name.is_empty() { "you" } else { name }, who),
        )
    }
}

/// One message to the company, replying to the requester. Every header value passes
/// through [`Mailbox`] or is stripped of line breaks by the mail module.
async fn notify_company(ctx: &AppContext, company: &Company, lead: &Lead) -> Result<(), Failure> {
    let Ok(to) = Mailbox::parse(&company.notify_email) else {
        tracing::error!(slug = %company.slug, "company has no valid notify address");
        return Ok(());
    };
    let from = match Mailbox::parse_with_name(&ctx.config.mail_from) {
        Ok(sender) => sender.named("Porchlight service requests"),
        Err(_) => to.clone(),
    };
    let reply_to = Mailbox::parse(&lead.email)
        .ok()
        .map(|m| m.named(&lead.name));
    let body = format!(
        "A new service request came in through the portal.\n\n\
         Name: {}\nEmail: {}\nPhone: {}\nService address: {}\nPreferred timing: {}\n\n\
         What is wanted:\n{}\n\nNotes:\n{}\n\nRequest id: {}\n",
        lead.name,
        lead.email,
        lead.phone,
        lead.service_address,
        if lead.preferred_timing.is_empty() {
            "no preference"
        } else {
            &lead.preferred_timing
        },
        lead.service_wanted,
        lead.notes,
        lead.id
    );
    let html = views::email::message("Porchlight service requests", views::email::text(&body));
    let email = Email {
        from,
        to: vec![to],
        reply_to,
        subject: format!("New service request from {}", lead.name),
        body,
        unsubscribe: None,
        html: Some(html),
    };
    ctx.mailer.send(&email, lead.received_at).await?;
    Ok(())
}
