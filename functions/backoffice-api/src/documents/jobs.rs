//! Jobs and their visits: `POST clients/{client}/jobs`, `GET`/`PATCH
//! clients/{client}/jobs/{job}`, `POST clients/{client}/jobs/{job}/visits` and
//! `GET`/`PATCH clients/{client}/visits/{visit}`.
//!
//! A job keeps the stage it was created in for good (it decides whether its proposal is
//! ever shown); its current stage moves freely, active back to proposal included. Setting
//! `completed_on` completes the job, which is the day an undated invoice of it appears.

use chrono::NaiveDate;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

use porchlight_shared::domain::{Job, JobKind, Stage, Visit, VisitDate};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::store::backoffice::ApiRecord;
use porchlight_shared::store::{Entity, keys};

use super::{
    Guard, Stored, doc, expected_version, insert, new_document_id, optional_change, read_version,
    replay, require_client, route, stale,
};
use crate::input::Fields;
use crate::reply::{self, ApiError};
use crate::{Call, Route};

/// The job and visit endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    CreateJob,
    ShowJob,
    ChangeJob,
    CreateVisit,
    ShowVisit,
    ChangeVisit,
}

/// The job and visit routes.
pub fn routes() -> Vec<Route> {
    let at = |e| super::Endpoint::Jobs(e);
    vec![
        route(
            Method::POST,
            "clients/{client}/jobs",
            at(Endpoint::CreateJob),
        ),
        route(
            Method::GET,
            "clients/{client}/jobs/{job}",
            at(Endpoint::ShowJob),
        ),
        route(
            Method::PATCH,
            "clients/{client}/jobs/{job}",
            at(Endpoint::ChangeJob),
        ),
        route(
            Method::POST,
            "clients/{client}/jobs/{job}/visits",
            at(Endpoint::CreateVisit),
        ),
        route(
            Method::GET,
            "clients/{client}/visits/{visit}",
            at(Endpoint::ShowVisit),
        ),
        route(
            Method::PATCH,
            "clients/{client}/visits/{visit}",
            at(Endpoint::ChangeVisit),
        ),
    ]
}

/// Answers one call to a job or visit endpoint.
pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::CreateJob => create_job(call).await,
        Endpoint::ShowJob => show_job(call).await,
        Endpoint::ChangeJob => change_job(call).await,
        Endpoint::CreateVisit => create_visit(call).await,
        Endpoint::ShowVisit => show_visit(call).await,
        Endpoint::ChangeVisit => change_visit(call).await,
    }
}

const KINDS: [(&str, JobKind); 2] = [
    ("one_off", JobKind::OneOff),
    ("recurring", JobKind::Recurring),
];

const STAGES: [(&str, Stage); 3] = [
    ("lead", Stage::Lead),
    ("proposal", Stage::Proposal),
    ("active", Stage::Active),
];

fn job_answer(status: StatusCode, client: &ClientId, stored: &ApiRecord<Job>) -> Response<Body> {
    let view = Stored {
        record: &stored.record,
        client_id: client,
        version: stored.version,
    };
    reply::ok(status, &view)
}

/// A job of `client`, if it has one by that id.
pub(super) async fn stored_job(
    call: &Call<'_>,
    client: &ClientId,
    job: &DocumentId,
) -> Result<Option<ApiRecord<Job>>, ApiError> {
    let key = keys::job(&call.company.slug, client, job);
    Ok(call.ctx.store.api_record(&key, Entity::Job).await?)
}

async fn show_job(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("job")?;
    let stored = stored_job(call, &client, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(job_answer(StatusCode::OK, &client, &stored))
}

async fn create_job(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let mut fields = Fields::of(call.body())?;
    fields.only(&["title", "kind", "stage", "work_date", "completed_on"]);
    let title = fields.required_text("title", 200);
    let kind = fields.required_choice("kind", &KINDS);
    let stage = fields.required_choice("stage", &STAGES);
    let work_date = fields.optional_date("work_date");
    let completed_on = fields.optional_date("completed_on");
    fields.finish()?;
    let (Some(title), Some(kind), Some(stage)) = (title, kind, stage) else {
        return Err(ApiError::invalid("title", "is required"));
    };

    let (id, guard) = new_document_id(call, "job")?;
    let key = keys::job(&call.company.slug, &client, &id);
    if let Some(stored) = replay::<Job>(call, guard.as_ref(), &key, Entity::Job).await? {
        return Ok(job_answer(StatusCode::OK, &client, &stored));
    }
    require_client(call, &client).await?;
    let job = Job {
        id,
        title,
        kind,
        created_stage: stage,
        stage,
        work_date,
        completed_on,
        property_id: None,
        fixed_invoice: None,
    };
    let notes = Guard::notes(guard.as_ref());
    let (status, stored) = insert(call, guard.as_ref(), &key, Entity::Job, job, notes).await?;
    Ok(job_answer(status, &client, &stored))
}

async fn change_job(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("job")?;
    let mut fields = Fields::of(call.body())?;
    let stored = stored_job(call, &client, &id)
        .await?
        .ok_or(ApiError::NotFound)?;

    fields.only(&[
        "version",
        "title",
        "kind",
        "stage",
        "work_date",
        "completed_on",
        "created_stage",
    ]);
    if fields.has("created_stage") {
        fields.problem(
            "created_stage",
            "never changes: the stage a job was created in decides whether its proposal shows",
        );
    }
    let version = read_version(&mut fields);
    let mut job = stored.record.clone();
    if let Some(title) = fields.optional_text("title", 200) {
        job.title = title;
    }
    if let Some(kind) = fields.optional_choice("kind", &KINDS) {
        job.kind = kind;
    }
    if let Some(stage) = fields.optional_choice("stage", &STAGES) {
        job.stage = stage;
    }
    if let Some(day) = optional_change(&mut fields, "work_date", Fields::optional_date) {
        job.work_date = day;
    }
    if let Some(day) = optional_change(&mut fields, "completed_on", Fields::optional_date) {
        job.completed_on = day;
    }
    fields.finish()?;

    let expected = expected_version(version)?;
    if expected != stored.version {
        return Err(stale("job", Some(stored.version)));
    }
    let key = keys::job(&call.company.slug, &client, &id);
    let replaced = call
        .ctx
        .store
        .replace_api_record(&key, Entity::Job, &job, &stored.notes, expected)
        .await?;
    match replaced {
        Ok(version) => {
            tracing::info!(stage = ?job.stage, version, "job changed through the API");
            let changed = ApiRecord {
                record: job,
                version,
                notes: stored.notes,
            };
            Ok(job_answer(StatusCode::OK, &client, &changed))
        }
        Err(conflict) => Err(stale("job", conflict.current)),
    }
}

/// A visit as the API shows it: `scheduled` in the same shape it is sent in.
#[derive(Serialize)]
struct VisitView<'a> {
    id: &'a DocumentId,
    client_id: &'a ClientId,
    job_id: &'a DocumentId,
    scheduled: Option<Value>,
    completed_on: Option<NaiveDate>,
    version: u64,
}

fn schedule_json(scheduled: &VisitDate) -> Value {
    match *scheduled {
        VisitDate::On { date } => json!({ "date": date }),
        VisitDate::WithinMonth { year, month } => {
            json!({ "within_month": format!("{year:04}-{month:02}") })
        }
    }
}

fn visit_answer(
    status: StatusCode,
    client: &ClientId,
    stored: &ApiRecord<Visit>,
) -> Response<Body> {
    let visit = &stored.record;
    let view = VisitView {
        id: &visit.id,
        client_id: client,
        job_id: &visit.job_id,
        scheduled: visit.scheduled.as_ref().map(schedule_json),
        completed_on: visit.completed_on,
        version: stored.version,
    };
    reply::ok(status, &view)
}

/// A visit of `client`, if it has one by that id.
pub(super) async fn stored_visit(
    call: &Call<'_>,
    client: &ClientId,
    visit: &DocumentId,
) -> Result<Option<ApiRecord<Visit>>, ApiError> {
    let key = keys::visit(&call.company.slug, client, visit);
    Ok(call.ctx.store.api_record(&key, Entity::Visit).await?)
}

/// `scheduled`: `{"date": "YYYY-MM-DD"}`, or `{"within_month": "YYYY-MM"}` for a visit to
/// be determined within that month; `null` unschedules. `Some(None)` means cleared.
fn read_schedule(fields: &mut Fields<'_>) -> Option<Option<VisitDate>> {
    if fields.is_cleared("scheduled") {
        return Some(None);
    }
    let mut inner = fields.optional_object("scheduled")?;
    inner.only(&["date", "within_month"]);
    let date = inner.optional_date("date");
    let month = read_month(&mut inner, "within_month");
    let both = inner.has("date") && inner.has("within_month");
    let neither = !inner.has("date") && !inner.has("within_month");
    fields.absorb(inner);
    if both || neither {
        fields.problem(
            "scheduled",
            "must have exactly one of `date` (YYYY-MM-DD) and `within_month` (YYYY-MM)",
        );
        return None;
    }
    match (date, month) {
        (Some(date), _) => Some(Some(VisitDate::On { date })),
        (_, Some(month)) => Some(Some(month)),
        _ => None,
    }
}

fn read_month(fields: &mut Fields<'_>, field: &str) -> Option<VisitDate> {
    let value = fields.value(field)?;
    let first = value
        .as_str()
        .filter(|text| text.len() == 7)
        .and_then(|text| NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok());
    match first {
        Some(first) => Some(VisitDate::month_of(first)),
        None => {
            fields.problem(field, "must be a month as YYYY-MM");
            None
        }
    }
}

async fn show_visit(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("visit")?;
    let stored = stored_visit(call, &client, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(visit_answer(StatusCode::OK, &client, &stored))
}

async fn create_visit(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let job = call.document_id("job")?;
    // A visit "not scheduled yet" needs no fields at all, so no body reads as `{}`.
    let empty = json!({});
    let body = if call.body().is_null() {
        &empty
    } else {
        call.body()
    };
    let mut fields = Fields::of(body)?;
    fields.only(&["scheduled", "completed_on"]);
    let scheduled = read_schedule(&mut fields).flatten();
    let completed_on = fields.optional_date("completed_on");
    fields.finish()?;

    let (id, guard) = new_document_id(call, "visit")?;
    let key = keys::visit(&call.company.slug, &client, &id);
    if let Some(stored) = replay::<Visit>(call, guard.as_ref(), &key, Entity::Visit).await? {
        return Ok(visit_answer(StatusCode::OK, &client, &stored));
    }
    if stored_job(call, &client, &job).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let visit = Visit {
        id,
        job_id: job,
        scheduled,
        completed_on,
        cancelled_on: None,
    };
    let notes = Guard::notes(guard.as_ref());
    let (status, stored) = insert(call, guard.as_ref(), &key, Entity::Visit, visit, notes).await?;
    Ok(visit_answer(status, &client, &stored))
}

async fn change_visit(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("visit")?;
    let mut fields = Fields::of(call.body())?;
    let stored = stored_visit(call, &client, &id)
        .await?
        .ok_or(ApiError::NotFound)?;

    fields.only(&["version", "scheduled", "completed_on"]);
    let version = read_version(&mut fields);
    let mut visit = stored.record.clone();
    if let Some(scheduled) = read_schedule(&mut fields) {
        visit.scheduled = scheduled;
    }
    if let Some(day) = optional_change(&mut fields, "completed_on", Fields::optional_date) {
        visit.completed_on = day;
    }
    fields.finish()?;

    let expected = expected_version(version)?;
    if expected != stored.version {
        return Err(stale("visit", Some(stored.version)));
    }
    let key = keys::visit(&call.company.slug, &client, &id);
    let replaced = call
        .ctx
        .store
        .replace_api_record(&key, Entity::Visit, &visit, &stored.notes, expected)
        .await?;
    match replaced {
        Ok(version) => {
            let changed = ApiRecord {
                record: visit,
                version,
                notes: stored.notes,
            };
            Ok(visit_answer(StatusCode::OK, &client, &changed))
        }
        Err(conflict) => Err(stale("visit", conflict.current)),
    }
}

/// The OpenAPI description of the job and visit routes.
pub fn openapi_paths() -> Value {
    let kind = json!({ "type": "string", "enum": ["one_off", "recurring"] });
    let stage = json!({ "type": "string", "enum": ["lead", "proposal", "active"] });
    let new_job = json!({ "type": "object", "required": ["title", "kind", "stage"],
        "properties": {
            "title": { "type": "string" }, "kind": kind,
            "stage": { "allOf": [stage], "description": "The stage the job is created in; \
                kept as `created_stage`, which never changes" },
            "work_date": doc::date(), "completed_on": doc::date() } });
    let job_change = json!({ "type": "object", "required": ["version"], "properties": {
        "version": doc::version(), "title": { "type": "string" }, "kind": kind,
        "stage": stage, "work_date": doc::nullable_date(),
        "completed_on": { "type": ["string", "null"], "format": "date",
            "description": "Completes the job on that day (null reopens it)" } } });
    let scheduled = json!({ "oneOf": [
        { "type": "object", "required": ["date"], "properties": { "date": doc::date() } },
        { "type": "object", "required": ["within_month"], "properties": {
            "within_month": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$",
                "description": "To be determined within that month" } } },
        { "type": "null" } ] });
    let visit = json!({ "type": "object", "properties": {
        "scheduled": scheduled, "completed_on": doc::nullable_date() } });
    let mut visit_change = visit.clone();
    visit_change["required"] = json!(["version"]);
    visit_change["properties"]["version"] = doc::version();
    json!({
        "/api/v1/clients/{client}/jobs": { "post": {
            "summary": "Create a job in the lead, proposal or active stage",
            "parameters": doc::create_params(&["client"], false),
            "requestBody": doc::json_body(new_job),
            "responses": doc::created("job")
        } },
        "/api/v1/clients/{client}/jobs/{job}": {
            "get": {
                "summary": "A job",
                "parameters": doc::path_params(&["client", "job"]),
                "responses": doc::shown("job")
            },
            "patch": {
                "summary": "Move a job between stages, schedule or complete it",
                "parameters": doc::path_params(&["client", "job"]),
                "requestBody": doc::json_body(job_change),
                "responses": doc::changed("job")
            }
        },
        "/api/v1/clients/{client}/jobs/{job}/visits": { "post": {
            "summary": "Add a visit to a job: on a date, within a month, or not scheduled yet",
            "parameters": doc::create_params(&["client", "job"], false),
            "requestBody": { "required": false,
                "content": { "application/json": { "schema": visit } } },
            "responses": doc::created("visit")
        } },
        "/api/v1/clients/{client}/visits/{visit}": {
            "get": {
                "summary": "A visit",
                "parameters": doc::path_params(&["client", "visit"]),
                "responses": doc::shown("visit")
            },
            "patch": {
                "summary": "Reschedule or complete a visit",
                "parameters": doc::path_params(&["client", "visit"]),
                "requestBody": doc::json_body(visit_change),
                "responses": doc::changed("visit")
            }
        }
    })
}
