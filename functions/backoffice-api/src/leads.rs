//! Service requests reach staff: `GET /api/v1/leads` lists them newest first
//! (`?status=open|handled`), `GET /api/v1/leads.csv` exports them for a spreadsheet,
//! `POST /api/v1/leads/{lead}/handled` marks one handled, and
//! `POST /api/v1/leads/{lead}/convert` turns a request from someone the company does not
//! know yet into a client with a lead-stage job, able to sign in to the portal at once.
//!
//! Both writes are safe to repeat: marking keeps the first `handled_at`, and converting again
//! answers with the client and job the first call made.

use chrono::{DateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use porchlight_shared::domain::{Client, Company, Job, JobKind, Lead, LeadStatus, Property, Stage};
use porchlight_shared::http;
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::lead_export;
use porchlight_shared::store::{ConvertRefusal, WriteOutcome};

use crate::input::Fields;
use crate::reply::{self, ApiError};
use crate::{Call, Handler, Route};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    List,
    Csv,
    MarkHandled,
    Convert,
}

pub fn routes() -> Vec<Route> {
    let route = |method, path, endpoint| Route {
        method,
        path,
        handler: Handler::Leads(endpoint),
    };
    vec![
        route(Method::GET, "leads", Endpoint::List),
        route(Method::GET, "leads.csv", Endpoint::Csv),
        route(Method::POST, "leads/{lead}/handled", Endpoint::MarkHandled),
        route(Method::POST, "leads/{lead}/convert", Endpoint::Convert),
    ]
}

pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::List => {
            let leads = listed(call).await?;
            let views: Vec<LeadView<'_>> = leads.iter().map(LeadView::of).collect();
            Ok(reply::ok(StatusCode::OK, &json!({ "leads": views })))
        }
        Endpoint::Csv => {
            let leads = listed(call).await?;
            let filename = format!(
                "service-requests-{}-{}.csv",
                call.company.slug,
                call.company.today(call.now)
            );
            Ok(http::download(
                "text/csv; charset=utf-8",
                &filename,
                lead_export::leads_csv(&leads),
            ))
        }
        Endpoint::MarkHandled => mark_handled(call).await,
        Endpoint::Convert => convert(call).await,
    }
}

/// A request as the API shows it; where it was sent from stays in the store's records.
#[derive(Debug, Serialize)]
struct LeadView<'a> {
    id: &'a DocumentId,
    received_at: DateTime<Utc>,
    name: &'a str,
    email: &'a str,
    phone: &'a str,
    service_address: &'a str,
    service_wanted: &'a str,
    preferred_timing: &'a str,
    notes: &'a str,
    client_id: Option<&'a ClientId>,
    job_id: Option<&'a DocumentId>,
    status: LeadStatus,
    handled_at: Option<DateTime<Utc>>,
}

impl<'a> LeadView<'a> {
    fn of(lead: &'a Lead) -> Self {
        Self {
            id: &lead.id,
            received_at: lead.received_at,
            name: &lead.name,
            email: &lead.email,
            phone: &lead.phone,
            service_address: &lead.service_address,
            service_wanted: &lead.service_wanted,
            preferred_timing: &lead.preferred_timing,
            notes: &lead.notes,
            client_id: lead.client_id.as_ref(),
            job_id: lead.job_id.as_ref(),
            status: lead.status(),
            handled_at: lead.handled_at,
        }
    }
}

/// The company's requests, newest first, narrowed by `?status=` if given.
async fn listed(call: &Call<'_>) -> Result<Vec<Lead>, ApiError> {
    let wanted = match call.query("status") {
        None => None,
        Some("open") => Some(LeadStatus::Open),
        Some("handled") => Some(LeadStatus::Handled),
        Some(_) => return Err(ApiError::invalid("status", "must be open or handled")),
    };
    let mut leads = call.ctx.store.leads(&call.company.slug).await?;
    if let Some(wanted) = wanted {
        leads.retain(|lead| lead.status() == wanted);
    }
    Ok(leads)
}

/// These actions take no fields; a body naming some is refused rather than ignored.
fn no_fields(call: &Call<'_>) -> Result<(), ApiError> {
    if call.body().is_null() {
        return Ok(());
    }
    let mut fields = Fields::of(call.body())?;
    fields.only(&[]);
    fields.finish()
}

async fn mark_handled(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    no_fields(call)?;
    let id = call.document_id("lead")?;
    let slug = &call.company.slug;
    let (lead, outcome) = call
        .ctx
        .store
        .mark_lead_handled(slug, &id, call.now)
        .await?
        .ok_or(ApiError::NotFound)?;
    if outcome == WriteOutcome::Updated {
        tracing::info!(slug = %slug, lead = %id, "service request marked handled");
    }
    Ok(reply::ok(StatusCode::OK, &LeadView::of(&lead)))
}

#[derive(Debug, Serialize)]
struct Converted<'a> {
    lead: LeadView<'a>,
    client: &'a Client,
    job: &'a Job,
}

async fn convert(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    no_fields(call)?;
    let id = call.document_id("lead")?;
    let slug = &call.company.slug;
    let store = &call.ctx.store;
    // A request marked handled or converted between reading it and writing is read again;
    // a few rounds are plenty, as each one that loses means another call just won.
    for _ in 0..CONVERT_ATTEMPTS {
        let mut lead = store.lead(slug, &id).await?.ok_or(ApiError::NotFound)?;
        if let Some(answer) = settled(call, &lead).await? {
            return Ok(answer);
        }
        let (client, job) = client_from(&call.company, &lead);
        if let Some(known) = clients_reached(call, &lead.email).await? {
            // The address reaches the client this very request became: a concurrent call
            // converted it after the read above, so reading again answers as a repeat.
            if known.contains(&client.id) {
                continue;
            }
            return Ok(email_taken(&known));
        }
        match store
            .convert_lead(slug, &lead, &client, &job, call.now)
            .await?
        {
            Ok(()) => {
                tracing::info!(slug = %slug, lead = %id, client = %client.id,
                    "service request turned into a client");
                lead.client_id = Some(client.id.clone());
                lead.job_id = Some(job.id.clone());
                lead.handled_at.get_or_insert(call.now);
                let body = Converted {
                    lead: LeadView::of(&lead),
                    client: &client,
                    job: &job,
                };
                return Ok(reply::ok(StatusCode::CREATED, &body));
            }
            Err(ConvertRefusal::NoSuchLead) => return Err(ApiError::NotFound),
            Err(ConvertRefusal::LeadChanged) | Err(ConvertRefusal::EmailTaken) => continue,
        }
    }
    Err(ApiError::Conflict(TRY_AGAIN.to_owned()))
}

const CONVERT_ATTEMPTS: u32 = 3;

const TRY_AGAIN: &str = "the request kept changing while it was being converted; try again";

/// The answer for a request that already names a client: the first conversion's result
/// again, or a refusal if a signed-in client sent it. `None` if it names no client yet.
async fn settled(call: &Call<'_>, lead: &Lead) -> Result<Option<Response<Body>>, ApiError> {
    let Some(client_id) = &lead.client_id else {
        return Ok(None);
    };
    let Some(job_id) = &lead.job_id else {
        let detail = "the request was sent by a signed-in client, who is on record already";
        return Ok(Some(conflict_naming(
            detail,
            std::slice::from_ref(client_id),
        )));
    };
    let gone =
        || ApiError::Conflict("the client made from this request is no longer on record".into());
    let portal = call
        .ctx
        .store
        .client_portal(&call.company.slug, client_id)
        .await?
        .ok_or_else(gone)?;
    let job = portal.jobs.get(job_id).ok_or_else(gone)?;
    let body = Converted {
        lead: LeadView::of(lead),
        client: &portal.client,
        job,
    };
    Ok(Some(reply::ok(StatusCode::OK, &body)))
}

/// The clients of this company that `email` signs in to, if any.
async fn clients_reached(call: &Call<'_>, email: &str) -> Result<Option<Vec<ClientId>>, ApiError> {
    if email.trim().is_empty() {
        return Ok(None);
    }
    let entry = call
        .ctx
        .store
        .email_entry(&call.company.slug, email)
        .await?;
    let known: Vec<ClientId> = entry
        .map(|entry| entry.clients.into_iter().map(|c| c.id).collect())
        .unwrap_or_default();
    Ok((!known.is_empty()).then_some(known))
}

fn email_taken(known: &[ClientId]) -> Response<Body> {
    conflict_naming(
        "the request's email address already belongs to a client of this company",
        known,
    )
}

/// A 409 problem that names the client(s) in the way, so the caller can link to them
/// instead of creating a duplicate.
fn conflict_naming(detail: &str, clients: &[ClientId]) -> Response<Body> {
    let body = json!({
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": detail,
        "client_id": clients.first(),
        "client_ids": clients,
    });
    let mut response = http::problem(StatusCode::CONFLICT, "Conflict", Some(detail));
    *response.body_mut() = Body::Text(body.to_string());
    response
}

/// The client and lead-stage job a request becomes. Their ids are derived from the
/// request's, so every attempt at converting one request names the same records and a
/// retry can never make a second client.
fn client_from(company: &Company, lead: &Lead) -> (Client, Job) {
    let secret = &company.id_secret;
    let source = |what: &str| format!("lead#{}#{what}", lead.id);
    let address = lead.service_address.trim();
    let properties = if address.is_empty() {
        vec![]
    } else {
        vec![Property {
            id: DocumentId::derived(secret, &source("property")),
            name: first_line(address, 120),
            address: Some(address.to_owned()),
        }]
    };
    let email = lead.email.trim().to_lowercase();
    let phone = lead.phone.trim();
    let client = Client {
        id: ClientId::derived(secret, &source("client")),
        name: lead.name.trim().to_owned(),
        emails: if email.is_empty() {
            vec![]
        } else {
            vec![email]
        },
        phone: (!phone.is_empty()).then(|| phone.to_owned()),
        billing_address: None,
        properties,
    };
    let title = first_line(&lead.service_wanted, 80);
    let job = Job {
        id: DocumentId::derived(secret, &source("job")),
        title: if title.is_empty() {
            "Service request".to_owned()
        } else {
            title
        },
        kind: JobKind::OneOff,
        created_stage: Stage::Lead,
        stage: Stage::Lead,
        work_date: None,
        completed_on: None,
        property_id: None,
        fixed_invoice: None,
    };
    (client, job)
}

/// The first non-empty line of `text`, shortened to `max` characters at a word boundary
/// where there is one, with an ellipsis when cut: a title, not the whole message.
fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

/// The OpenAPI description of these endpoints.
pub fn openapi_paths() -> serde_json::Value {
    let nullable = |schema: serde_json::Value| json!({ "oneOf": [schema, { "type": "null" }] });
    let lead = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" },
            "received_at": { "type": "string", "format": "date-time" },
            "name": { "type": "string" },
            "email": { "type": "string", "format": "email" },
            "phone": { "type": "string" },
            "service_address": { "type": "string" },
            "service_wanted": { "type": "string" },
            "preferred_timing": { "type": "string" },
            "notes": { "type": "string" },
            "client_id": nullable(json!({ "type": "string" })),
            "job_id": nullable(json!({ "type": "string" })),
            "status": { "type": "string", "enum": ["open", "handled"] },
            "handled_at": nullable(json!({ "type": "string", "format": "date-time" }))
        }
    });
    let status = json!({ "name": "status", "in": "query", "required": false,
        "description": "Only requests that are open, or only those handled",
        "schema": { "type": "string", "enum": ["open", "handled"] } });
    let lead_id = json!({ "name": "lead", "in": "path", "required": true,
        "schema": { "type": "string" } });
    let conflict = json!({ "type": "object", "description": "Problem details naming the client",
        "properties": { "detail": { "type": "string" }, "client_id": { "type": "string" },
            "client_ids": { "type": "array", "items": { "type": "string" } } } });
    let converted = json!({ "type": "object", "properties": {
        "lead": lead,
        "client": { "type": "object", "description": "The new client, with its property" },
        "job": { "type": "object", "description": "The job, in the lead stage" } } });
    json!({
        "/api/v1/leads": {
            "get": {
                "summary": "Service requests sent through the portal, newest first",
                "parameters": [status],
                "responses": {
                    "200": { "description": "The requests",
                        "content": { "application/json": { "schema": { "type": "object",
                            "properties": { "leads": { "type": "array", "items": lead } } } } } },
                    "422": { "description": "`status` is not open or handled" }
                }
            }
        },
        "/api/v1/leads.csv": {
            "get": {
                "summary": "The same requests as CSV; text that a spreadsheet would run as a \
                    formula is written with a leading '",
                "parameters": [status],
                "responses": {
                    "200": { "description": "A CSV file (Content-Disposition: attachment)",
                        "content": { "text/csv": { "schema": { "type": "string" } } } },
                    "422": { "description": "`status` is not open or handled" }
                }
            }
        },
        "/api/v1/leads/{lead}/handled": {
            "post": {
                "summary": "Mark a request handled; repeating it keeps the first handled_at",
                "parameters": [lead_id],
                "responses": {
                    "200": { "description": "The request as stored",
                        "content": { "application/json": { "schema": lead } } },
                    "404": { "description": "No such request in this company" }
                }
            }
        },
        "/api/v1/leads/{lead}/convert": {
            "post": {
                "summary": "Turn a request into a new client (who can sign in to the portal \
                    with the request's email) and a job in the lead stage; marks it handled",
                "parameters": [lead_id],
                "responses": {
                    "201": { "description": "The client and job were created",
                        "content": { "application/json": { "schema": converted } } },
                    "200": { "description": "Converted before: the same client and job" },
                    "404": { "description": "No such request in this company" },
                    "409": { "description": "The email already reaches a client of this \
                        company, or a signed-in client sent the request",
                        "content": { "application/problem+json": { "schema": conflict } } },
                    "422": { "description": "The body names fields; this call takes none" }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_the_first_line_shortened_at_a_word() {
        assert_eq!(
            first_line("\n  Prune the oak \nand more", 80),
            "Prune the oak"
        );
        let long = "Remove the storm-damaged maple limbs over the garage roof and haul away";
        let title = first_line(long, 40);
        assert_eq!(title, "Remove the storm-damaged maple limbs…");
        assert!(title.chars().count() <= 40);
        assert_eq!(first_line("", 80), "");
    }
}
