//! Accepting a proposal, from the portal or from an emailed link.
//!
//! - `POST /p/{slug}/proposals/{id}/accept`: a signed-in client accepts in the portal.
//! - `GET|HEAD /p/{slug}/proposals/{id}/accept/{token}`: the emailed link's confirm page.
//!   It changes nothing, because mail scanners open links too.
//! - `POST /p/{slug}/proposals/{id}/accept/{token}`: accepts through the email channel,
//!   with no sign-in, only the one proposal the token was made for.
//!
//! The acceptance (who, when, from which address, through which channel) is written in one
//! conditional transaction, so concurrent or repeated accepts record exactly one, whichever
//! path they come by; only the winner sends the staff notice and the client's confirmation.

mod email_link;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use porchlight_shared::auth;
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Acceptance, Channel, Company, Proposal};
use porchlight_shared::http::{self, Failure, PortalPath};
use porchlight_shared::ids::DocumentId;
use porchlight_shared::mail::{Email, Mailbox};
use porchlight_shared::portal::{PortalDay, ProposalDetail};
use porchlight_shared::rules::ProposalStatus;
use porchlight_shared::store::AcceptRefusal;
use porchlight_shared::views::{self, date, portal as pages};

const PORTAL_ROUTE: &str = "/p/{slug}/proposals/{id}/accept";
const LINK_ROUTE: &str = "/p/{slug}/proposals/{id}/accept/{token}";

pub async fn handle(ctx: &AppContext, req: Request) -> Response<Body> {
    let routed = route(ctx, &req).await;
    // The template path, never the raw one: the raw path can hold an accept token.
    http::finish("accept-proposal", &req, routed)
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
        tracing::warn!(slug = %company.slug, "cross-site accept refused");
        return Ok(("-", http::cross_site_refused(json, Some(names))));
    }
    match (method, path.rest().as_slice()) {
        (Method::POST, ["proposals", id, "accept"]) => {
            let Ok(id) = DocumentId::parse(id) else {
                return Ok((PORTAL_ROUTE, http::not_found(json, Some(names))));
            };
            Ok((PORTAL_ROUTE, accept(ctx, req, &company, &id).await?))
        }
        (Method::GET, ["proposals", id, "accept", token]) => Ok((
            LINK_ROUTE,
            email_link::confirm(ctx, req, &company, id, token).await?,
        )),
        (Method::HEAD, ["proposals", id, "accept", token]) => {
            let page = email_link::confirm(ctx, req, &company, id, token).await?;
            Ok((LINK_ROUTE, http::without_body(page)))
        }
        (Method::POST, ["proposals", id, "accept", token]) => Ok((
            LINK_ROUTE,
            email_link::accept(ctx, req, &company, id, token).await?,
        )),
        _ => Ok(("-", http::not_found(json, Some(names)))),
    }
}

/// A refusal with its reason: 409, and the proposal page showing why.
fn refuse(
    json: bool,
    company: &Company,
    detail: Option<&ProposalDetail>,
    viewer: &pages::Viewer,
    why: &str,
) -> Response<Body> {
    let names = (&company.slug, company.name.as_str());
    match detail {
        _ if json => http::problem(
            StatusCode::CONFLICT,
            "Proposal cannot be accepted",
            Some(why),
        ),
        Some(detail) => http::html(
            StatusCode::CONFLICT,
            pages::proposal(
                names,
                detail,
                viewer,
                Some(pages::AcceptNotice::Refused(why)),
            ),
        ),
        None => http::html(
            StatusCode::CONFLICT,
            views::message_page("Cannot accept", Some(names), why),
        ),
    }
}

/// The refusal for a proposal someone accepted first, naming who and when.
fn already_accepted(acceptance: &Acceptance) -> String {
    format!(
        "This proposal was already accepted on {} by {}.",
        date(acceptance.accepted_on),
        acceptance.accepted_by
    )
}

async fn accept(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    id: &DocumentId,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let now = ctx.clock.now();
    let today = company.today(now);

    let signed_in = auth::signed_in(&ctx.store, req, &company.slug, now).await?;
    let why = "Please sign in to accept this proposal.";
    let Some((signed_in, active)) =
        signed_in.and_then(|s| s.session.active().cloned().map(|active| (s, active)))
    else {
        return Ok(http::sign_in_first(json, names, why));
    };
    let viewer = pages::Viewer {
        email: &signed_in.session.email,
        can_switch: signed_in.session.clients.len() > 1,
    };
    let Some(portal) = signed_in
        .client_portal(&ctx.store, &company.slug, &active.id)
        .await?
    else {
        // The account is gone, or the address was taken off it: signed out, as elsewhere.
        return Ok(http::sign_in_first(json, names, why));
    };
    let day = PortalDay::new(company, &portal, today);
    let (Some(proposal), Some(detail)) = (day.proposal_record(id), day.proposal(id)) else {
        return Ok(http::not_found(json, Some(names)));
    };

    match detail.summary.status {
        ProposalStatus::Open => {}
        ProposalStatus::Accepted => {
            let why = portal
                .acceptances
                .get(id)
                .map(already_accepted)
                .unwrap_or_default();
            return Ok(refuse(json, company, Some(&detail), &viewer, &why));
        }
        ProposalStatus::Expired => {
            let why = format!(
                "This proposal expired after {}; it can no longer be accepted.",
                date(proposal.valid_until)
            );
            return Ok(refuse(json, company, Some(&detail), &viewer, &why));
        }
        ProposalStatus::Declined => {
            let why = "This proposal was declined and can no longer be accepted.";
            return Ok(refuse(json, company, Some(&detail), &viewer, why));
        }
    }

    let acceptance = Acceptance {
        proposal_id: id.clone(),
        channel: Channel::Portal,
        accepted_at: now,
        accepted_on: today,
        accepted_by: active.name.clone(),
        accepted_by_email: Some(signed_in.session.email.clone()),
        source_ip: http::source_ip(req),
    };
    let outcome = ctx
        .store
        .accept_proposal(
            &company.slug,
            &active.id,
            &acceptance,
            proposal.job_id.as_ref(),
            today,
        )
        .await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(AcceptRefusal::AlreadyAccepted(winner))) => {
            return Ok(refuse(
                json,
                company,
                Some(&detail),
                &viewer,
                &already_accepted(&winner),
            ));
        }
        Ok(Err(AcceptRefusal::NotAcceptable)) => {
            let why = "This proposal can no longer be accepted.";
            return Ok(refuse(json, company, Some(&detail), &viewer, why));
        }
        Err(error) if error.is_condition_failed() => {
            // Lost a race with a concurrent accept of the same proposal.
            let why = "This proposal was just accepted.";
            return Ok(refuse(json, company, Some(&detail), &viewer, why));
        }
        Err(error) => return Err(error.into()),
    }

    tracing::info!(slug = %company.slug, client = %active.id, proposal = %id,
        channel = "portal", "proposal accepted");
    notify(ctx, company, proposal, &acceptance).await;

    let location = format!("/p/{}/proposals/{}?accepted=1", company.slug, id);
    Ok(if json {
        http::json(
            StatusCode::OK,
            &serde_json::json!({
                "status": "accepted", "proposal": id, "accepted_on": today, "channel": "portal",
            }),
        )
    } else {
        http::see_other(&location)
    })
}

/// Tells the company and the client. The acceptance is already committed, so a mail failure
/// is logged rather than undoing it or showing the client an error.
async fn notify(ctx: &AppContext, company: &Company, proposal: &Proposal, acceptance: &Acceptance) {
    let Ok(sender) = Mailbox::parse_with_name(&ctx.config.mail_from) else {
        tracing::error!("PORCHLIGHT_MAIL_FROM is not an address; no acceptance emails sent");
        return;
    };
    let sender = sender.named(&company.name);
    let who = acceptance
        .accepted_by_email
        .as_deref()
        .unwrap_or("unknown address");
    let (how, by_whom) = match acceptance.channel {
        Channel::EmailLink => ("through the emailed accept link", "Link sent to"),
        Channel::Portal | Channel::Staff => ("in the portal", "Signed in as"),
    };
    let staff_body = format!(
        "{} accepted proposal #{} ({}) {how} on {}.\n{by_whom}: {}\n",
        acceptance.accepted_by,
        proposal.number,
        proposal.total,
        date(acceptance.accepted_on),
        who
    );
    let staff = Mailbox::parse(&company.notify_email).ok().map(|to| Email {
        from: sender.clone(),
        to: vec![to],
        reply_to: acceptance
            .accepted_by_email
            .as_deref()
            .and_then(|e| Mailbox::parse(e).ok()),
        subject: format!(
            "Proposal #{} accepted by {}",
            proposal.number, acceptance.accepted_by
        ),
        unsubscribe: None,
        html: Some(views::email::message(
            &company.name,
            views::email::text(&staff_body),
        )),
        body: staff_body,
    });
    let client_body = format!(
        "Thank you. You accepted proposal #{} for {} on {}.\n\n{} will be in touch \
         to schedule the work.\n",
        proposal.number,
        proposal.total,
        date(acceptance.accepted_on),
        company.name
    );
    let client = acceptance
        .accepted_by_email
        .as_deref()
        .and_then(|e| Mailbox::parse(e).ok())
        .map(|to| Email {
            from: sender.clone(),
            to: vec![to],
            reply_to: Mailbox::parse(&company.notify_email).ok(),
            subject: format!("You accepted proposal #{}", proposal.number),
            unsubscribe: None,
            html: Some(views::email::message(
                &company.name,
                views::email::text(&client_body),
            )),
            body: client_body,
        });
    for email in [staff, client].into_iter().flatten() {
        if let Err(error) = ctx.mailer.send(&email, acceptance.accepted_at).await {
            tracing::error!(error = %error, proposal = %acceptance.proposal_id,
                "acceptance email not sent");
        }
    }
}
