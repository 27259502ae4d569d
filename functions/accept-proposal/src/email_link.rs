//! The emailed accept link: `/p/{slug}/proposals/{id}/accept/{token}`.
//!
//! The token is the only credential, so everything is checked on every use: it must be one
//! this company issued (it is looked up under the slug), for exactly the proposal in the path,
//! before the end of the proposal's last valid day, and the proposal must still be open. The
//! acceptance then goes through the same transaction as the portal's, so whichever path
//! commits first is the one acceptance on record.

use chrono::{DateTime, NaiveDate, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Acceptance, Channel, Company, Proposal, ProposalState};
use porchlight_shared::http::{self, Failure};
use porchlight_shared::ids::{DocumentId, SecretToken};
use porchlight_shared::store::{AcceptLink, AcceptRefusal, ClientPortal};
use porchlight_shared::views::{self, accept_link as pages, date};

use crate::{already_accepted, notify};

/// A link that names a proposal of this company, with what the client's partition holds.
struct Found {
    link: AcceptLink,
    portal: ClientPortal,
}

impl Found {
    fn proposal(&self) -> &Proposal {
        self.portal
            .proposals
            .iter()
            .find(|p| p.id == self.link.proposal_id)
            .expect("found() keeps only links whose proposal is in the partition")
    }
}

/// The link a token names, if it exists in this company and was made for `raw_id`; every
/// other case is the same "not found", so a token cannot be probed against other proposals.
async fn found(
    ctx: &AppContext,
    company: &Company,
    raw_id: &str,
    raw_token: &str,
) -> Result<Option<Found>, Failure> {
    let (Ok(id), Some(token)) = (DocumentId::parse(raw_id), SecretToken::parse(raw_token)) else {
        return Ok(None);
    };
    let hash = token.hash();
    let Some(link) = ctx.store.accept_link(&company.slug, &hash).await? else {
        return Ok(None);
    };
    if link.proposal_id != id {
        tracing::warn!(slug = %company.slug, link = hash.log_prefix(),
            "accept link used with another proposal's id");
        return Ok(None);
    }
    let portal = ctx
        .store
        .client_portal(&company.slug, &link.client_id)
        .await?;
    // The address the link went to must still be one of the client's: staff may have taken
    // it off since, and that ends what the address can do, as it ends its sessions.
    let still_reaches = |portal: &ClientPortal| {
        portal
            .client
            .emails
            .iter()
            .any(|email| email.eq_ignore_ascii_case(&link.email))
    };
    Ok(portal
        .filter(|portal| portal.proposals.iter().any(|p| p.id == id) && still_reaches(portal))
        .map(|portal| Found { link, portal }))
}

/// Why the link can no longer accept, in words for the person holding it; `None` if it can.
fn refusal(found: &Found, now: DateTime<Utc>, today: NaiveDate) -> Option<String> {
    let proposal = found.proposal();
    if let Some(acceptance) = found.portal.acceptances.get(&proposal.id) {
        return Some(already_accepted(acceptance));
    }
    if proposal.state == ProposalState::Declined {
        return Some("This proposal was declined and can no longer be accepted.".into());
    }
    // The link's own expiry and the proposal's current last day: the back office may have
    // shortened the proposal since the link was mailed.
    if !found.link.is_live(now) || today > proposal.valid_until {
        return Some(format!(
            "This proposal expired after {}; it can no longer be accepted. Please contact us \
             for a new one.",
            date(proposal.valid_until)
        ));
    }
    None
}

fn refused(json: bool, company: &Company, why: &str) -> Response<Body> {
    if json {
        http::problem(
            StatusCode::CONFLICT,
            "Proposal cannot be accepted",
            Some(why),
        )
    } else {
        http::html(
            StatusCode::CONFLICT,
            views::message_page(
                "Cannot accept",
                Some((&company.slug, company.name.as_str())),
                why,
            ),
        )
    }
}

fn link_path(company: &Company, proposal: &Proposal, token: &str) -> String {
    format!(
        "/p/{}/proposals/{}/accept/{}",
        company.slug, proposal.id, token
    )
}

/// GET: what the client is about to accept, and the button. Changes nothing.
pub async fn confirm(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_id: &str,
    raw_token: &str,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let Some(found) = found(ctx, company, raw_id, raw_token).await? else {
        return Ok(http::not_found(json, Some(names)));
    };

    let now = ctx.clock.now();
    if let Some(why) = refusal(&found, now, company.today(now)) {
        return Ok(refused(json, company, &why));
    }
    let proposal = found.proposal();
    Ok(if json {
        http::json(
            StatusCode::OK,
            &serde_json::json!({
                "status": "open",
                "proposal": {
                    "id": proposal.id, "number": proposal.number, "total": proposal.total,
                    "valid_until": proposal.valid_until, "lines": proposal.lines,
                },
                "client": { "id": found.portal.client.id, "name": found.portal.client.name },
                "confirm": "POST this address to accept the proposal",
            }),
        )
    } else {
        let action = link_path(company, proposal, raw_token);
        http::html(
            StatusCode::OK,
            pages::confirm(names, &found.portal.client, proposal, &action),
        )
    })
}

/// POST: accepts through the email channel, as the client the link was made for.
pub async fn accept(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_id: &str,
    raw_token: &str,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let Some(found) = found(ctx, company, raw_id, raw_token).await? else {
        return Ok(http::not_found(json, Some(names)));
    };
    let now = ctx.clock.now();
    let today = company.today(now);
    if let Some(why) = refusal(&found, now, today) {
        return Ok(refused(json, company, &why));
    }

    let proposal = found.proposal();
    let client = &found.portal.client;
    let acceptance = Acceptance {
        proposal_id: proposal.id.clone(),
        channel: Channel::EmailLink,
        accepted_at: now,
        accepted_on: today,
        accepted_by: client.name.clone(),
        accepted_by_email: Some(found.link.email.clone()),
        source_ip: http::source_ip(req),
    };
    let outcome = ctx
        .store
        .accept_proposal(
            &company.slug,
            &client.id,
            &acceptance,
            proposal.job_id.as_ref(),
            today,
        )
        .await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(AcceptRefusal::AlreadyAccepted(winner))) => {
            return Ok(refused(json, company, &already_accepted(&winner)));
        }
        Ok(Err(AcceptRefusal::NotAcceptable)) => {
            let why = "This proposal can no longer be accepted.";
            return Ok(refused(json, company, why));
        }
        Err(error) if error.is_condition_failed() => {
            // Lost a race with a concurrent accept of the same proposal.
            return Ok(refused(json, company, "This proposal was just accepted."));
        }
        Err(error) => return Err(error.into()),
    }

    tracing::info!(slug = %company.slug, client = %client.id, proposal = %proposal.id,
        channel = "email_link", "proposal accepted");
    notify(ctx, company, proposal, &acceptance).await;

    Ok(if json {
        http::json(
            StatusCode::OK,
            &serde_json::json!({
                "status": "accepted", "proposal": proposal.id, "accepted_on": today,
                "channel": "email_link",
            }),
        )
    } else {
        // No redirect to the proposal's page: an email-link acceptance takes it out of the
        // portal, and the client holding the link need not be signed in.
        http::html(
            StatusCode::OK,
            pages::accepted(names, proposal, &found.link.email),
        )
    })
}
