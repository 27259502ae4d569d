//! Jobs and their visits: `POST clients/{client}/jobs`, `GET`/`PATCH
//! clients/{client}/jobs/{job}`, `POST clients/{client}/jobs/{job}/visits` and
//! `GET`/`PATCH clients/{client}/visits/{visit}`.
//!
//! A job keeps the stage it was created in for good (it decides whether its proposal is
//! ever shown); its current stage moves freely, active back to proposal included. Setting
//! `completed_on` completes the job, which is the day an undated invoice of it appears.
//!
//! A recurring job may be billed a fixed amount on a schedule (`fixed_invoice`, see
//! [`fixed`]). Jobs are written only through the store's job methods, which rewrite the
//! sweep's copy of the schedule in the same transaction. A visit may be cancelled
//! (`cancelled_on`), which withdraws its per-visit invoice. When a change moves the day an
//! invoice appears on, the invoice is handed back to the sweep, whose hints must never be
//! late.

use chrono::NaiveDate;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

use porchlight_shared::domain::{Billing, Client, Invoice, Job, JobKind, Stage, Visit, VisitDate};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::store::backoffice::ApiRecord;
use porchlight_shared::store::{Entity, StoreError, keys};

use super::{
    Guard, doc, expected_version, insert, inserted, new_document_id, optional_change, optional_id,
    read_version, replay, route, stale, stored_client,
};
use crate::input::Fields;
use crate::reply::{self, ApiError};
use crate::{Call, Route};

mod fixed;

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

/// A job as the API shows it: `fixed_invoice` in the shape it is sent in, with the sweep's
/// progress through it.
#[derive(Serialize)]
struct JobView<'a> {
    id: &'a DocumentId,
    client_id: &'a ClientId,
    title: &'a str,
    kind: JobKind,
    created_stage: Stage,
    stage: Stage,
    work_date: Option<NaiveDate>,
    completed_on: Option<NaiveDate>,
    property_id: Option<&'a DocumentId>,
    fixed_invoice: Option<fixed::FixedInvoiceView>,
    version: u64,
}

/// The job's answer. A job with a fixed invoice costs one more read: the sweep's cursor,
/// which alone knows how far the schedule was invoiced.
async fn job_answer(
    call: &Call<'_>,
    status: StatusCode,
    client: &ClientId,
    stored: &ApiRecord<Job>,
) -> Result<Response<Body>, ApiError> {
    let job = &stored.record;
    let fixed_invoice = match &job.fixed_invoice {
        Some(plan) => {
            let slug = &call.company.slug;
            let cursor = call
                .ctx
                .store
                .schedule_cursor(slug, client, &job.id)
                .await?;
            if cursor.is_none() {
                tracing::warn!(job = %job.id, "a job's fixed invoice has no schedule cursor");
            }
            Some(fixed::view(plan, cursor.as_ref()))
        }
        None => None,
    };
    let view = JobView {
        id: &job.id,
        client_id: client,
        title: &job.title,
        kind: job.kind,
        created_stage: job.created_stage,
        stage: job.stage,
        work_date: job.work_date,
        completed_on: job.completed_on,
        property_id: job.property_id.as_ref(),
        fixed_invoice,
        version: stored.version,
    };
    Ok(reply::ok(status, &view))
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
    job_answer(call, StatusCode::OK, &client, &stored).await
}

/// The name of the client's property `id`, which the job's fixed invoices carry.
fn property_name(client: &Client, id: &DocumentId) -> Option<String> {
    client
        .properties
        .iter()
        .find(|property| &property.id == id)
        .map(|property| property.name.clone())
}

/// [`property_name`], or a problem on `property_id` when the client has no such property.
fn named_property(fields: &mut Fields<'_>, client: &Client, id: &DocumentId) -> Option<String> {
    let name = property_name(client, id);
    if name.is_none() {
        fields.problem(
            "property_id",
            "is not a property of this client; see the client's `properties`",
        );
    }
    name
}

/// Only a recurring job is billed on a schedule. Named after what the request sent: the
/// plan, or else the kind that no longer allows it.
fn check_plan_kind(fields: &mut Fields<'_>, job: &Job) {
    if job.fixed_invoice.is_none() || job.kind == JobKind::Recurring {
        return;
    }
    if fields.has(fixed::FIELD) {
        fields.problem(
            fixed::FIELD,
            "belongs only to recurring jobs (kind `recurring`)",
        );
    } else {
        fields.problem(
            "kind",
            "must stay `recurring` while the job has a fixed_invoice; send `fixed_invoice: null` \
             to end it",
        );
    }
}

async fn create_job(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let mut fields = Fields::of(call.body())?;
    fields.only(&[
        "title",
        "kind",
        "stage",
        "work_date",
        "completed_on",
        "property_id",
        fixed::FIELD,
    ]);
    let title = fields.required_text("title", 200);
    let kind = fields.required_choice("kind", &KINDS);
    let stage = fields.required_choice("stage", &STAGES);
    let work_date = fields.optional_date("work_date");
    let completed_on = fields.optional_date("completed_on");
    let property_id = optional_id(&mut fields, "property_id");
    let fixed_invoice = fixed::read(&mut fields, &call.company.currency).flatten();
    if kind == Some(JobKind::OneOff) && fields.has(fixed::FIELD) {
        fields.problem(
            fixed::FIELD,
            "belongs only to recurring jobs (kind `recurring`)",
        );
    }

    // A retry is answered before the client is read: it was checked the first time.
    let (id, guard) = new_document_id(call, "job")?;
    let key = keys::job(&call.company.slug, &client, &id);
    if let Some(stored) = replay::<Job>(call, guard.as_ref(), &key, Entity::Job).await? {
        return job_answer(call, StatusCode::OK, &client, &stored).await;
    }
    let owner = stored_client(call, &client).await?;
    let property = match (&owner, &property_id) {
        (Some(owner), Some(property_id)) => named_property(&mut fields, owner, property_id),
        _ => None,
    };
    fields.finish()?;
    // The body is valid, so only the client can be missing.
    let (Some(title), Some(kind), Some(stage), Some(_)) = (title, kind, stage, owner) else {
        return Err(ApiError::NotFound);
    };

    let job = Job {
        id,
        title,
        kind,
        created_stage: stage,
        stage,
        work_date,
        completed_on,
        property_id,
        fixed_invoice,
    };
    let notes = Guard::notes(guard.as_ref());
    let slug = &call.company.slug;
    let created = call
        .ctx
        .store
        .create_job(slug, &client, &job, property, &notes)
        .await?;
    if created {
        tracing::info!(
            job = %job.id,
            client = %client,
            fixed_invoice = job.fixed_invoice.is_some(),
            "job created with its schedule cursor"
        );
    }
    let (status, stored) =
        inserted(call, guard.as_ref(), &key, Entity::Job, created, job, notes).await?;
    job_answer(call, status, &client, &stored).await
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
        "property_id",
        fixed::FIELD,
    ]);
    if fields.has("created_stage") {
        fields.problem(
            "created_stage",
            "never changes: the stage a job was created in decides whether its proposal shows",
        );
    }
    let version = read_version(&mut fields);
    let before = &stored.record;
    let mut job = before.clone();
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
    let property_sent = fields.has("property_id");
    if let Some(property) = optional_change(&mut fields, "property_id", optional_id) {
        job.property_id = property;
    }
    if let Some(plan) = fixed::read(&mut fields, &call.company.currency) {
        job.fixed_invoice = plan;
    }
    check_plan_kind(&mut fields, &job);
    let property = job_property(call, &client, &job, property_sent, &mut fields).await?;
    fields.finish()?;

    let expected = expected_version(version)?;
    if expected != stored.version {
        return Err(stale("job", Some(stored.version)));
    }
    let slug = &call.company.slug;
    let replaced = call
        .ctx
        .store
        .replace_job(slug, &client, &job, property, &stored.notes, expected)
        .await?;
    let version = match replaced {
        Ok(version) => version,
        Err(conflict) => return Err(stale("job", conflict.current)),
    };
    tracing::info!(
        job = %job.id,
        stage = ?job.stage,
        fixed_invoice = job.fixed_invoice.is_some(),
        version,
        "job changed through the API"
    );

    if (job.work_date, job.completed_on) != (before.work_date, before.completed_on) {
        // Only a one-off invoice takes its day from the job; visits date the others.
        let job_id = job.id.clone();
        let depends = move |invoice: &Invoice| {
            invoice.billing == Billing::OneOff && invoice.job_id.as_ref() == Some(&job_id)
        };
        rehint(call, &client, &job.id, depends).await;
    }
    let changed = ApiRecord {
        record: job,
        version,
        notes: stored.notes,
    };
    job_answer(call, StatusCode::OK, &client, &changed).await
}

/// The name of the job's property, for its fixed invoices. A property the change names must
/// be the client's (a problem on `property_id` otherwise); one named before and since
/// removed from the client is kept, without a name, rather than refusing unrelated changes.
async fn job_property(
    call: &Call<'_>,
    client: &ClientId,
    job: &Job,
    sent: bool,
    fields: &mut Fields<'_>,
) -> Result<Option<String>, ApiError> {
    let Some(property_id) = &job.property_id else {
        return Ok(None);
    };
    let Some(owner) = stored_client(call, client).await? else {
        return Ok(None);
    };
    if sent {
        return Ok(named_property(fields, &owner, property_id));
    }
    let name = property_name(&owner, property_id);
    if name.is_none() {
        tracing::warn!(job = %job.id, "a job's property is no longer the client's");
    }
    Ok(name)
}

/// Asks the sweep to look again soon at the client's invoices that `depends` picks, after a
/// change to the record (`changed`) their appearance day follows from; a hint may be early,
/// never late. A failure is logged, not answered: the change is stored and the portal
/// decides from it at once, so only the sweep's notice of those invoices may come late.
async fn rehint(
    call: &Call<'_>,
    client: &ClientId,
    changed: &DocumentId,
    depends: impl Fn(&Invoice) -> bool,
) {
    let slug = &call.company.slug;
    let store = &call.ctx.store;
    let hinted = async {
        let Some(portal) = store.client_portal(slug, client).await? else {
            return Ok::<usize, StoreError>(0);
        };
        let mut count = 0;
        for invoice in portal.invoices.iter().filter(|i| !i.voided && depends(i)) {
            store
                .hint_now(slug, &keys::invoice(slug, client, &invoice.id))
                .await?;
            count += 1;
        }
        Ok(count)
    };
    match hinted.await {
        Ok(count) => tracing::info!(record = %changed, count, "invoices handed to the sweep"),
        Err(error) => tracing::error!(
            record = %changed,
            error = %error,
            "invoices not handed to the sweep; it sees them on their old day"
        ),
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
    cancelled_on: Option<NaiveDate>,
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
        cancelled_on: visit.cancelled_on,
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
    fields.only(&["scheduled", "completed_on", "cancelled_on"]);
    let scheduled = read_schedule(&mut fields).flatten();
    let completed_on = fields.optional_date("completed_on");
    let cancelled_on = fields.optional_date("cancelled_on");
    check_done_or_cancelled(&mut fields, completed_on, cancelled_on);
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
        cancelled_on,
    };
    let notes = Guard::notes(guard.as_ref());
    let (status, stored) = insert(call, guard.as_ref(), &key, Entity::Visit, visit, notes).await?;
    Ok(visit_answer(status, &client, &stored))
}

/// A visit is either done or called off, not both. Checked only when the request sends one
/// of the two, so a record that came in otherwise can still be rescheduled.
fn check_done_or_cancelled(
    fields: &mut Fields<'_>,
    completed_on: Option<NaiveDate>,
    cancelled_on: Option<NaiveDate>,
) {
    if completed_on.is_none() || cancelled_on.is_none() {
        return;
    }
    if fields.has("cancelled_on") {
        fields.problem(
            "cancelled_on",
            "must be null while the visit is completed; send `completed_on: null` with it",
        );
    } else if fields.has("completed_on") {
        fields.problem(
            "completed_on",
            "must be null while the visit is cancelled; send `cancelled_on: null` with it",
        );
    }
}

async fn change_visit(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("visit")?;
    let mut fields = Fields::of(call.body())?;
    let stored = stored_visit(call, &client, &id)
        .await?
        .ok_or(ApiError::NotFound)?;

    fields.only(&["version", "scheduled", "completed_on", "cancelled_on"]);
    let version = read_version(&mut fields);
    let before = &stored.record;
    let mut visit = before.clone();
    if let Some(scheduled) = read_schedule(&mut fields) {
        visit.scheduled = scheduled;
    }
    if let Some(day) = optional_change(&mut fields, "completed_on", Fields::optional_date) {
        visit.completed_on = day;
    }
    if let Some(day) = optional_change(&mut fields, "cancelled_on", Fields::optional_date) {
        visit.cancelled_on = day;
    }
    check_done_or_cancelled(&mut fields, visit.completed_on, visit.cancelled_on);
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
    let version = match replaced {
        Ok(version) => version,
        Err(conflict) => return Err(stale("visit", conflict.current)),
    };
    tracing::info!(
        visit = %visit.id,
        cancelled = visit.cancelled_on.is_some(),
        version,
        "visit changed through the API"
    );

    let dates = |v: &Visit| (v.scheduled, v.completed_on, v.cancelled_on);
    if dates(&visit) != dates(before) {
        let visit_id = visit.id.clone();
        let depends = move |invoice: &Invoice| match &invoice.billing {
            Billing::PerVisit { visit_id: of } => of == &visit_id,
            _ => false,
        };
        rehint(call, &client, &visit.id, depends).await;
    }
    let changed = ApiRecord {
        record: visit,
        version,
        notes: stored.notes,
    };
    Ok(visit_answer(StatusCode::OK, &client, &changed))
}

/// The OpenAPI description of the job and visit routes.
pub fn openapi_paths() -> Value {
    let kind = json!({ "type": "string", "enum": ["one_off", "recurring"] });
    let stage = json!({ "type": "string", "enum": ["lead", "proposal", "active"] });
    let property = json!({ "type": ["string", "null"],
        "description": "The id of one of the client's `properties`, where the work is; its \
            name is printed on the job's fixed invoices. null clears it" });
    let new_job = json!({ "type": "object", "required": ["title", "kind", "stage"],
        "properties": {
            "title": { "type": "string" }, "kind": kind,
            "stage": { "allOf": [stage], "description": "The stage the job is created in; \
                kept as `created_stage`, which never changes" },
            "work_date": doc::date(), "completed_on": doc::date(),
            "property_id": property, "fixed_invoice": fixed::openapi_input() } });
    let job_change = json!({ "type": "object", "required": ["version"], "properties": {
        "version": doc::version(), "title": { "type": "string" }, "kind": kind,
        "stage": stage, "work_date": doc::nullable_date(),
        "completed_on": { "type": ["string", "null"], "format": "date",
            "description": "Completes the job on that day (null reopens it)" },
        "property_id": property,
        "fixed_invoice": { "allOf": [fixed::openapi_input()], "description": "Replaces the \
            whole plan; null ends the schedule (invoices already created stay)" } } });
    let scheduled = json!({ "oneOf": [
        { "type": "object", "required": ["date"], "properties": { "date": doc::date() } },
        { "type": "object", "required": ["within_month"], "properties": {
            "within_month": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$",
                "description": "To be determined within that month" } } },
        { "type": "null" } ] });
    let visit = json!({ "type": "object", "properties": {
        "scheduled": scheduled, "completed_on": doc::nullable_date(),
        "cancelled_on": { "type": ["string", "null"], "format": "date",
            "description": "The day the visit was cancelled: its per-visit invoice leaves the \
                portal (reason `visit_cancelled`). null reinstates it. Not together with \
                `completed_on`" } } });
    let mut visit_change = visit.clone();
    visit_change["required"] = json!(["version"]);
    visit_change["properties"]["version"] = doc::version();
    json!({
        "/api/v1/clients/{client}/jobs": { "post": {
            "summary": "Create a job in the lead, proposal or active stage",
            "description": fixed::OPENAPI_ANSWER,
            "parameters": doc::create_params(&["client"], false),
            "requestBody": doc::json_body(new_job),
            "responses": doc::created("job")
        } },
        "/api/v1/clients/{client}/jobs/{job}": {
            "get": {
                "summary": "A job",
                "description": fixed::OPENAPI_ANSWER,
                "parameters": doc::path_params(&["client", "job"]),
                "responses": doc::shown("job")
            },
            "patch": {
                "summary": "Move a job between stages, schedule, bill or complete it",
                "description": fixed::OPENAPI_ANSWER,
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
                "summary": "Reschedule, complete, cancel or reinstate a visit",
                "parameters": doc::path_params(&["client", "visit"]),
                "requestBody": doc::json_body(visit_change),
                "responses": doc::changed("visit")
            }
        }
    })
}
