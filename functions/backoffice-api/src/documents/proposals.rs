//! Proposals: `POST clients/{client}/proposals`, `GET`/`PATCH
//! clients/{client}/proposals/{proposal}` and staff acceptance, `POST
//! clients/{client}/proposals/{proposal}/accept`.
//!
//! An accepted proposal is what the client agreed to, so it never changes afterwards: a
//! change is refused with 409, checked in the same transaction as the write. Staff
//! acceptance goes through the same conditional transaction as the portal's (channel
//! `staff`, so the proposal leaves the portal); a second acceptance, or one after the last
//! valid day, is refused and changes nothing.

use chrono::{DateTime, Days, NaiveDate, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

use porchlight_shared::domain::{Acceptance, Channel, Proposal, ProposalState};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::rules::{self, ProposalStatus};
use porchlight_shared::store::backoffice::{ApiRecord, ProposalChange};
use porchlight_shared::store::{AcceptRefusal, Entity, keys};

use super::invoices::{priced, read_tax, read_total, tax_doc};
use super::jobs::stored_job;
use super::{
    Guard, check_total, doc, expected_version, insert, new_document_id, optional_change,
    optional_id, read_lines, read_version, replay, require_client, route, stale,
};
use crate::input::Fields;
use crate::reply::{self, ApiError};
use crate::{Call, Route};

/// The proposal endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Create,
    Show,
    Change,
    Accept,
}

/// The proposal routes.
pub fn routes() -> Vec<Route> {
    let at = |e| super::Endpoint::Proposals(e);
    vec![
        route(
            Method::POST,
            "clients/{client}/proposals",
            at(Endpoint::Create),
        ),
        route(
            Method::GET,
            "clients/{client}/proposals/{proposal}",
            at(Endpoint::Show),
        ),
        route(
            Method::PATCH,
            "clients/{client}/proposals/{proposal}",
            at(Endpoint::Change),
        ),
        route(
            Method::POST,
            "clients/{client}/proposals/{proposal}/accept",
            at(Endpoint::Accept),
        ),
    ]
}

/// Answers one call to a proposal endpoint.
pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::Create => create(call).await,
        Endpoint::Show => show(call).await,
        Endpoint::Change => change(call).await,
        Endpoint::Accept => accept(call).await,
    }
}

const STATES: [(&str, ProposalState); 2] = [
    ("open", ProposalState::Open),
    ("declined", ProposalState::Declined),
];

/// A proposal as the API shows it, with its status today and its acceptance.
#[derive(Serialize)]
struct ProposalView<'a> {
    #[serde(flatten)]
    proposal: &'a Proposal,
    client_id: &'a ClientId,
    status: ProposalStatus,
    acceptance: Option<AcceptanceView<'a>>,
    version: u64,
}

#[derive(Serialize)]
struct AcceptanceView<'a> {
    channel: Channel,
    accepted_on: NaiveDate,
    accepted_at: DateTime<Utc>,
    accepted_by: &'a str,
}

fn answer(
    call: &Call<'_>,
    status: StatusCode,
    client: &ClientId,
    stored: &ApiRecord<Proposal>,
    acceptance: Option<&Acceptance>,
) -> Response<Body> {
    let today = call.company.today(call.now);
    let view = ProposalView {
        proposal: &stored.record,
        client_id: client,
        status: rules::proposal_status(&stored.record, acceptance, today),
        acceptance: acceptance.map(|a| AcceptanceView {
            channel: a.channel,
            accepted_on: a.accepted_on,
            accepted_at: a.accepted_at,
            accepted_by: &a.accepted_by,
        }),
        version: stored.version,
    };
    reply::ok(status, &view)
}

async fn stored_proposal(
    call: &Call<'_>,
    client: &ClientId,
    id: &DocumentId,
) -> Result<ApiRecord<Proposal>, ApiError> {
    let key = keys::proposal(&call.company.slug, client, id);
    call.ctx
        .store
        .api_record(&key, Entity::Proposal)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn acceptance_of(
    call: &Call<'_>,
    client: &ClientId,
    id: &DocumentId,
) -> Result<Option<Acceptance>, ApiError> {
    let key = keys::acceptance(&call.company.slug, client, id);
    let stored = call
        .ctx
        .store
        .api_record::<Acceptance>(&key, Entity::Acceptance)
        .await?;
    Ok(stored.map(|s| s.record))
}

fn channel_words(channel: Channel) -> &'static str {
    match channel {
        Channel::Portal => "in the portal",
        Channel::EmailLink => "through the emailed link",
        Channel::Staff => "by staff",
    }
}

fn accepted_already(acceptance: &Acceptance) -> ApiError {
    ApiError::Conflict(format!(
        "the proposal was accepted on {} by {} ({}); an accepted proposal stays as it was \
         accepted",
        acceptance.accepted_on,
        acceptance.accepted_by,
        channel_words(acceptance.channel)
    ))
}

async fn show(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("proposal")?;
    let stored = stored_proposal(call, &client, &id).await?;
    let acceptance = acceptance_of(call, &client, &id).await?;
    Ok(answer(
        call,
        StatusCode::OK,
        &client,
        &stored,
        acceptance.as_ref(),
    ))
}

/// A 422 naming `job_id` unless the job is the client's.
async fn check_job(
    call: &Call<'_>,
    client: &ClientId,
    job: Option<&DocumentId>,
) -> Result<(), ApiError> {
    match job {
        Some(job) if stored_job(call, client, job).await?.is_none() => {
            Err(ApiError::invalid("job_id", "is not a job of this client"))
        }
        _ => Ok(()),
    }
}

fn check_dates(fields: &mut Fields<'_>, proposal: &Proposal) {
    if proposal.valid_until < proposal.created_on {
        fields.problem("valid_until", "must not be before created_on");
    }
}

async fn create(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let currency = &call.company.currency;
    let mut fields = Fields::of(call.body())?;
    fields.only(&[
        "number",
        "job_id",
        "property_name",
        "created_on",
        "valid_until",
        "lines",
        "tax",
        "total",
        "message",
    ]);
    let number = fields.required_text("number", 40);
    let job_id = optional_id(&mut fields, "job_id");
    let property_name = fields.optional_text("property_name", 200);
    let created_on = fields
        .optional_date("created_on")
        .unwrap_or_else(|| call.company.today(call.now));
    let open_days = Days::new(u64::from(call.company.settings.proposal_open_days));
    let valid_until = fields
        .optional_date("valid_until")
        .or_else(|| created_on.checked_add_days(open_days))
        .unwrap_or(created_on);
    let lines = read_lines(&mut fields, currency, true);
    let taxing = read_tax(&mut fields);
    let total = read_total(&mut fields, &taxing, currency);
    let message = fields.optional_paragraphs("message", 4000);
    let rounding = call.company.settings.tax_rounding;
    let priced =
        lines.and_then(|lines| priced(&mut fields, lines, taxing, total, rounding, currency));
    let (Some(number), Some((lines, total))) = (number, priced) else {
        fields.finish()?;
        return Err(ApiError::invalid("lines", "is required"));
    };
    let (id, guard) = new_document_id(call, "proposal")?;
    let proposal = Proposal {
        id,
        number,
        job_id,
        property_name,
        created_on,
        valid_until,
        state: ProposalState::Open,
        lines,
        total,
        message,
    };
    check_dates(&mut fields, &proposal);
    fields.finish()?;

    let key = keys::proposal(&call.company.slug, &client, &proposal.id);
    if let Some(stored) = replay(call, guard.as_ref(), &key, Entity::Proposal).await? {
        let acceptance = acceptance_of(call, &client, &proposal.id).await?;
        return Ok(answer(
            call,
            StatusCode::OK,
            &client,
            &stored,
            acceptance.as_ref(),
        ));
    }
    require_client(call, &client).await?;
    check_job(call, &client, proposal.job_id.as_ref()).await?;
    let notes = Guard::notes(guard.as_ref());
    let (status, stored) = insert(
        call,
        guard.as_ref(),
        &key,
        Entity::Proposal,
        proposal,
        notes,
    )
    .await?;
    Ok(answer(call, status, &client, &stored, None))
}

async fn change(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("proposal")?;
    let currency = &call.company.currency;
    let mut fields = Fields::of(call.body())?;
    let stored = stored_proposal(call, &client, &id).await?;
    if let Some(acceptance) = acceptance_of(call, &client, &id).await? {
        return Err(accepted_already(&acceptance));
    }

    fields.only(&[
        "version",
        "number",
        "job_id",
        "property_name",
        "created_on",
        "valid_until",
        "lines",
        "total",
        "message",
        "state",
    ]);
    let version = read_version(&mut fields);
    let mut proposal = stored.record.clone();
    if let Some(number) = fields.optional_text("number", 40) {
        proposal.number = number;
    }
    if let Some(job) = optional_change(&mut fields, "job_id", optional_id) {
        proposal.job_id = job;
    }
    let property = optional_change(&mut fields, "property_name", |f, name| {
        f.optional_text(name, 200)
    });
    if let Some(property) = property {
        proposal.property_name = property;
    }
    if let Some(day) = fields.optional_date("created_on") {
        proposal.created_on = day;
    }
    if let Some(day) = fields.optional_date("valid_until") {
        proposal.valid_until = day;
    }
    let repriced = fields.has("lines") || fields.has("total");
    if let Some(lines) = read_lines(&mut fields, currency, false) {
        proposal.lines = lines;
    }
    if let Some(total) = fields.optional_money("total", currency) {
        proposal.total = total;
    }
    if repriced {
        check_total(&mut fields, &proposal.lines, &proposal.total);
    }
    let message = optional_change(&mut fields, "message", |f, name| {
        f.optional_paragraphs(name, 4000)
    });
    if let Some(message) = message {
        proposal.message = message;
    }
    if let Some(state) = fields.optional_choice("state", &STATES) {
        proposal.state = state;
    }
    check_dates(&mut fields, &proposal);
    fields.finish()?;

    let expected = expected_version(version)?;
    if expected != stored.version {
        return Err(stale("proposal", Some(stored.version)));
    }
    if proposal.job_id != stored.record.job_id {
        check_job(call, &client, proposal.job_id.as_ref()).await?;
    }
    let outcome = call
        .ctx
        .store
        .replace_unaccepted_proposal(
            &call.company.slug,
            &client,
            &proposal,
            &stored.notes,
            expected,
        )
        .await?;
    match outcome {
        ProposalChange::Changed(version) => {
            let changed = ApiRecord {
                record: proposal,
                version,
                notes: stored.notes,
            };
            Ok(answer(call, StatusCode::OK, &client, &changed, None))
        }
        ProposalChange::Stale(conflict) => Err(stale("proposal", conflict.current)),
        ProposalChange::Accepted => match acceptance_of(call, &client, &id).await? {
            Some(acceptance) => Err(accepted_already(&acceptance)),
            None => Err(ApiError::Conflict(
                "the proposal was accepted meanwhile".into(),
            )),
        },
    }
}

/// Staff accept on the client's behalf: channel `staff`, so the proposal leaves the portal.
async fn accept(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("proposal")?;
    let mut fields = Fields::of(call.body())?;
    fields.only(&["accepted_by"]);
    let accepted_by = fields.required_text("accepted_by", 120);
    fields.finish()?;
    let accepted_by = accepted_by.ok_or_else(|| ApiError::invalid("accepted_by", "is required"))?;

    let stored = stored_proposal(call, &client, &id).await?;
    let today = call.company.today(call.now);
    let acceptance = Acceptance {
        proposal_id: id.clone(),
        channel: Channel::Staff,
        accepted_at: call.now,
        accepted_on: today,
        accepted_by,
        accepted_by_email: None,
        source_ip: None,
    };
    let proposal = &stored.record;
    let outcome = call
        .ctx
        .store
        .accept_proposal(
            &call.company.slug,
            &client,
            &acceptance,
            proposal.job_id.as_ref(),
            today,
        )
        .await?;
    match outcome {
        Ok(()) => {
            tracing::info!(slug = %call.company.slug, "proposal accepted by staff");
            Ok(answer(
                call,
                StatusCode::OK,
                &client,
                &stored,
                Some(&acceptance),
            ))
        }
        Err(AcceptRefusal::AlreadyAccepted(existing)) => Err(ApiError::Conflict(format!(
            "the proposal was already accepted on {} by {} ({}); nothing changed",
            existing.accepted_on,
            existing.accepted_by,
            channel_words(existing.channel)
        ))),
        Err(AcceptRefusal::NotAcceptable) => {
            let why = if proposal.state == ProposalState::Declined {
                "the proposal was declined, so it cannot be accepted".to_owned()
            } else if today > proposal.valid_until {
                format!(
                    "the proposal expired: its last valid day was {}",
                    proposal.valid_until
                )
            } else {
                "the proposal cannot be accepted".to_owned()
            };
            Err(ApiError::Conflict(why))
        }
    }
}

/// The OpenAPI description of the proposal routes.
pub fn openapi_paths() -> Value {
    let fields = json!({
        "number": { "type": "string", "maxLength": 40 },
        "job_id": { "type": ["string", "null"] },
        "property_name": { "type": ["string", "null"] },
        "created_on": { "type": "string", "format": "date",
            "description": "Today in the company's time zone if omitted" },
        "valid_until": { "type": "string", "format": "date",
            "description": "The last day it can be accepted; created_on plus the company's \
                proposal_open_days if omitted" },
        "lines": doc::lines(),
        "total": { "allOf": [doc::money()], "description": "Must equal the lines' sum; \
            required unless `tax` is sent, when it may be left out" },
        "message": { "type": ["string", "null"] }
    });
    let mut create = fields.clone();
    create["tax"] = tax_doc();
    let mut change = fields.clone();
    change["version"] = doc::version();
    change["state"] = json!({ "type": "string", "enum": ["open", "declined"] });
    json!({
        "/api/v1/clients/{client}/proposals": { "post": {
            "summary": "Create a proposal",
            "parameters": doc::create_params(&["client"], false),
            "requestBody": doc::json_body(json!({ "type": "object",
                "required": ["number", "lines"], "properties": create })),
            "responses": doc::created("proposal")
        } },
        "/api/v1/clients/{client}/proposals/{proposal}": {
            "get": {
                "summary": "A proposal, with its status and acceptance",
                "parameters": doc::path_params(&["client", "proposal"]),
                "responses": doc::shown("proposal")
            },
            "patch": {
                "summary": "Change a proposal that is not accepted (accepted ones get 409)",
                "parameters": doc::path_params(&["client", "proposal"]),
                "requestBody": doc::json_body(json!({ "type": "object",
                    "required": ["version"], "properties": change })),
                "responses": doc::changed("proposal")
            }
        },
        "/api/v1/clients/{client}/proposals/{proposal}/accept": { "post": {
            "summary": "Accept on the client's behalf (channel staff: it leaves the portal)",
            "parameters": doc::path_params(&["client", "proposal"]),
            "requestBody": doc::json_body(json!({ "type": "object",
                "required": ["accepted_by"], "properties": {
                    "accepted_by": { "type": "string", "maxLength": 120 } } })),
            "responses": {
                "200": { "description": "The accepted proposal" },
                "404": { "description": "No such proposal of this client" },
                "409": { "description": "Already accepted, declined or expired; nothing \
                    changed" },
                "422": { "description": "Invalid fields, each named" }
            }
        } }
    })
}
