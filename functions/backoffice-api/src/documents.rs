//! Clients, jobs, visits, proposals, invoices and payments as the back office syncs them.
//!
//! Every record is answered with its `id` and `version`. A change names the version it was
//! based on; a stale one gets 409 and changes nothing. A create that carries an
//! `Idempotency-Key` header gets an id derived from the key, so a retry of the same request
//! finds what the first attempt stored (200) and writes nothing, while the key reused for a
//! different request is refused (422). Every key is built from the caller's company and the
//! client in the path, so another company's or another client's ids are simply not found.

mod clients;
mod invoices;
mod jobs;
mod proposals;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use porchlight_shared::domain::{Client, Line, LineKind};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::money::{Currency, Money};
use porchlight_shared::store::backoffice::{ApiNotes, ApiRecord, request_fingerprint};
use porchlight_shared::store::{Entity, Key, keys};

use crate::input::Fields;
use crate::reply::ApiError;
use crate::{Call, Handler, Route};

/// The endpoints of this module, by resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Clients(clients::Endpoint),
    Jobs(jobs::Endpoint),
    Proposals(proposals::Endpoint),
    Invoices(invoices::Endpoint),
}

/// The routes of clients, jobs, visits, proposals, invoices and payments.
pub fn routes() -> Vec<Route> {
    let mut all = clients::routes();
    all.extend(jobs::routes());
    all.extend(proposals::routes());
    all.extend(invoices::routes());
    all
}

fn route(method: Method, path: &'static str, endpoint: Endpoint) -> Route {
    Route {
        method,
        path,
        handler: Handler::Documents(endpoint),
    }
}

/// Answers one call to an endpoint of this module.
pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::Clients(endpoint) => clients::serve(endpoint, call).await,
        Endpoint::Jobs(endpoint) => jobs::serve(endpoint, call).await,
        Endpoint::Proposals(endpoint) => proposals::serve(endpoint, call).await,
        Endpoint::Invoices(endpoint) => invoices::serve(endpoint, call).await,
    }
}

/// The OpenAPI description of every route of this module.
pub fn openapi_paths() -> Value {
    let mut paths = serde_json::Map::new();
    let parts = [
        clients::openapi_paths(),
        jobs::openapi_paths(),
        proposals::openapi_paths(),
        invoices::openapi_paths(),
    ];
    for part in parts {
        if let Value::Object(entries) = part {
            for (path, operations) in entries {
                match (paths.get_mut(&path), operations) {
                    (Some(Value::Object(known)), Value::Object(more)) => known.extend(more),
                    (_, operations) => {
                        paths.insert(path, operations);
                    }
                }
            }
        }
    }
    Value::Object(paths)
}

/// The header that makes a create (or an email) safe to retry.
pub(crate) const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The longest idempotency or natural key accepted; ids derived from it are fixed-size.
pub(crate) const MAX_KEY: usize = 200;

/// The most lines a proposal or invoice may have.
const MAX_LINES: usize = 200;

/// How a create recognises its own retries: the field that carried the key, and the
/// fingerprint of the request that first used it.
struct Guard {
    field: &'static str,
    fingerprint: String,
}

impl Guard {
    fn new(field: &'static str, body: &Value) -> Self {
        Self {
            field,
            fingerprint: request_fingerprint(body),
        }
    }

    /// The notes a record created under this guard keeps.
    fn notes(guard: Option<&Guard>) -> ApiNotes {
        ApiNotes {
            request_fingerprint: guard.map(|g| g.fingerprint.clone()),
            ..ApiNotes::default()
        }
    }
}

/// The caller's `Idempotency-Key`, if it sent a usable one. Emails check it the same way.
pub(crate) fn idempotency_key<'c>(call: &'c Call<'_>) -> Result<Option<&'c str>, ApiError> {
    match call.idempotency_key() {
        Some(key) if key.chars().count() > MAX_KEY || key.chars().any(char::is_control) => {
            Err(ApiError::invalid(
                IDEMPOTENCY_KEY,
                "must be at most 200 characters, without control characters",
            ))
        }
        key => Ok(key),
    }
}

/// A new document's id: derived from the `Idempotency-Key` when one was sent, so a retry
/// lands on the same item; random otherwise.
fn new_document_id(call: &Call<'_>, entity: &str) -> Result<(DocumentId, Option<Guard>), ApiError> {
    Ok(match idempotency_key(call)? {
        Some(key) => {
            let source = format!("api:{entity}:{key}");
            (
                DocumentId::derived(&call.company.id_secret, &source),
                Some(Guard::new(IDEMPOTENCY_KEY, call.body())),
            )
        }
        None => (DocumentId::random(), None),
    })
}

/// What the first request with this key stored, when this call is its retry; 422 when the
/// key was first used for a different request. Nothing when there is no key or no record.
async fn replay<T: DeserializeOwned>(
    call: &Call<'_>,
    guard: Option<&Guard>,
    key: &Key,
    entity: Entity,
) -> Result<Option<ApiRecord<T>>, ApiError> {
    let Some(guard) = guard else {
        return Ok(None);
    };
    let Some(stored) = call.ctx.store.api_record::<T>(key, entity).await? else {
        return Ok(None);
    };
    if stored.notes.request_fingerprint.as_deref() == Some(guard.fingerprint.as_str()) {
        tracing::info!(
            entity = entity.name(),
            "idempotent retry answered from the store"
        );
        Ok(Some(stored))
    } else {
        Err(ApiError::invalid(
            guard.field,
            "was already used for a different request; use a new key for a new record",
        ))
    }
}

/// Stores a new record at version 1: 201. When a concurrent request with the same key got
/// there first, this call is that request's retry: 200 with what it stored.
async fn insert<T: Serialize + DeserializeOwned>(
    call: &Call<'_>,
    guard: Option<&Guard>,
    key: &Key,
    entity: Entity,
    record: T,
    notes: ApiNotes,
) -> Result<(StatusCode, ApiRecord<T>), ApiError> {
    let created = call
        .ctx
        .store
        .create_api_record(key, entity, &record, &notes)
        .await?;
    inserted(call, guard, key, entity, created, record, notes).await
}

/// What a create came to once its conditional write was tried (`created`: it stored the
/// record). Records written by a method of their own (jobs, with their schedule cursor)
/// share the answer, and the retry it may turn out to be, with [`insert`].
async fn inserted<T: DeserializeOwned>(
    call: &Call<'_>,
    guard: Option<&Guard>,
    key: &Key,
    entity: Entity,
    created: bool,
    record: T,
    notes: ApiNotes,
) -> Result<(StatusCode, ApiRecord<T>), ApiError> {
    if created {
        tracing::info!(entity = entity.name(), "record created through the API");
        let created = ApiRecord {
            record,
            version: 1,
            notes,
        };
        return Ok((StatusCode::CREATED, created));
    }

    match replay(call, guard, key, entity).await? {
        Some(stored) => Ok((StatusCode::OK, stored)),
        None => Err(ApiError::Conflict(
            "a record with this id exists already; send the request again".into(),
        )),
    }
}

/// The `version` a change is based on.
fn read_version(fields: &mut Fields<'_>) -> Option<u64> {
    let version = fields.value("version").and_then(Value::as_u64);
    if version.is_none() {
        fields.problem("version", "is required: the version of the record you read");
    }
    version
}

/// The version once the body was found valid.
fn expected_version(version: Option<u64>) -> Result<u64, ApiError> {
    version.ok_or_else(|| ApiError::invalid("version", "is required"))
}

/// The 409 for a change based on an old version.
fn stale(what: &str, current: Option<u64>) -> ApiError {
    let now = current.map_or_else(String::new, |v| format!(" (now version {v})"));
    ApiError::Conflict(format!(
        "the {what} changed since you read it{now}; read it again and reapply your change"
    ))
}

/// A 404 unless the client is on record in the caller's company.
async fn require_client(call: &Call<'_>, client: &ClientId) -> Result<(), ApiError> {
    stored_client(call, client)
        .await?
        .map(|_| ())
        .ok_or(ApiError::NotFound)
}

/// The client in the caller's company, if it is on record; what a record of it may name
/// (a job's property) is checked against it.
async fn stored_client(call: &Call<'_>, client: &ClientId) -> Result<Option<Client>, ApiError> {
    let key = keys::client(&call.company.slug, client);
    let stored = call
        .ctx
        .store
        .api_record::<Client>(&key, Entity::Client)
        .await?;
    Ok(stored.map(|stored| stored.record))
}

/// A document id in the body, e.g. `job_id`.
fn optional_id(fields: &mut Fields<'_>, field: &str) -> Option<DocumentId> {
    let text = fields.optional_text(field, 32)?;
    match DocumentId::parse(&text) {
        Ok(id) => Some(id),
        Err(_) => {
            fields.problem(field, "must be an id (32 lowercase hex digits)");
            None
        }
    }
}

/// A change of an optional field: `Some(None)` when sent as `null`, which clears it.
fn optional_change<'a, T>(
    fields: &mut Fields<'a>,
    field: &str,
    read: impl FnOnce(&mut Fields<'a>, &str) -> Option<T>,
) -> Option<Option<T>> {
    if fields.is_cleared(field) {
        Some(None)
    } else {
        read(fields, field).map(Some)
    }
}

const LINE_KINDS: [(&str, LineKind); 3] = [
    ("item", LineKind::Item),
    ("discount", LineKind::Discount),
    ("tax", LineKind::Tax),
];

/// The `lines` of a proposal or invoice, in the company's currency.
fn read_lines(fields: &mut Fields<'_>, currency: &Currency, required: bool) -> Option<Vec<Line>> {
    if required && !fields.has("lines") {
        fields.problem("lines", "is required");
        return None;
    }
    let readers = fields.optional_objects("lines", MAX_LINES)?;
    if readers.is_empty() {
        fields.problem("lines", "must have at least one line");
        return None;
    }

    let mut lines = Vec::with_capacity(readers.len());
    let mut complete = true;
    for mut line in readers {
        line.only(&["kind", "description", "quantity", "unit_price", "amount"]);
        let kind = line
            .optional_choice("kind", &LINE_KINDS)
            .unwrap_or_default();
        let description = line.required_text("description", 500);
        let quantity = read_quantity(&mut line);
        let unit_price = line.optional_money("unit_price", currency);
        let amount = line.required_money("amount", currency);
        if kind == LineKind::Discount && amount.as_ref().is_some_and(|a| a.minor > 0) {
            line.problem(
                "amount",
                "must not be positive: a discount lowers the total",
            );
        }
        if let (Some(description), Some(amount)) = (description, amount) {
            lines.push(Line {
                kind,
                description,
                quantity,
                unit_price,
                amount,
            });
        } else {
            complete = false;
        }
        fields.absorb(line);
    }
    // A total checked against only some of the lines would be named wrong for nothing.
    complete.then_some(lines)
}

/// A quantity as a number or as text (`"2.5"`, `"3 hours"`); kept as text, as imported.
fn read_quantity(line: &mut Fields<'_>) -> Option<String> {
    match line.value("quantity")? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(_) => line.optional_text("quantity", 20),
        _ => {
            line.problem("quantity", "must be a number or a string");
            None
        }
    }
}

/// The lines must add up to the total, as the portal shows both.
fn check_total(fields: &mut Fields<'_>, lines: &[Line], total: &Money) {
    let sum = lines
        .iter()
        .try_fold(0i64, |sum, line| sum.checked_add(line.amount.minor));
    if total.minor < 0 {
        // A credit is not a proposal or an invoice; a discount is a line inside a positive
        // total.
        fields.problem("total", "must not be negative");
        return;
    }
    if !total.in_bounds() {
        // A total computed from many large lines and their tax can pass the bound that each
        // amount sent was held to.
        let most = Money::new(Money::MAX_MINOR, total.currency.clone());
        fields.problem("total", &format!("must be at most {most}"));
        return;
    }
    match sum {
        Some(sum) if sum == total.minor => {}
        Some(sum) => {
            let sum = Money::new(sum, total.currency.clone());
            fields.problem(
                "total",
                &format!("must equal the sum of the lines, which is {sum}"),
            );
        }
        None => fields.problem("lines", "add up to more than can be stored"),
    }
}

/// OpenAPI pieces shared by the modules' descriptions.
mod doc {
    use serde_json::{Value, json};

    /// Required string parameters of the path, by name.
    pub fn path_params(names: &[&str]) -> Value {
        let params: Vec<Value> = names
            .iter()
            .map(|name| {
                json!({ "name": name, "in": "path", "required": true,
                    "schema": { "type": "string" } })
            })
            .collect();
        Value::Array(params)
    }

    /// The parameters of a create: the path's, and the optional `Idempotency-Key`.
    pub fn create_params(names: &[&str], key_required: bool) -> Value {
        let mut params = path_params(names);
        if let Value::Array(list) = &mut params {
            list.push(json!({ "name": "Idempotency-Key", "in": "header",
                "required": key_required,
                "description": "Makes the create safe to retry: the same key with the same \
                    body answers the stored record (200) and writes nothing; with another \
                    body it is refused (422)",
                "schema": { "type": "string", "maxLength": 200 } }));
        }
        params
    }

    /// A required JSON request body of this schema.
    pub fn json_body(schema: Value) -> Value {
        json!({ "required": true, "content": { "application/json": { "schema": schema } } })
    }

    /// The shared money schema.
    pub fn money() -> Value {
        json!({ "$ref": "#/components/schemas/Money" })
    }

    /// A calendar date, YYYY-MM-DD.
    pub fn date() -> Value {
        json!({ "type": "string", "format": "date" })
    }

    /// A calendar date, or `null` to clear it.
    pub fn nullable_date() -> Value {
        json!({ "type": ["string", "null"], "format": "date" })
    }

    /// The lines of a proposal or invoice.
    pub fn lines() -> Value {
        json!({ "type": "array", "minItems": 1, "maxItems": 200, "items": {
            "type": "object", "required": ["description", "amount"],
            "properties": {
                "kind": { "type": "string", "enum": ["item", "discount", "tax"] },
                "description": { "type": "string" },
                "quantity": { "type": ["string", "number"] },
                "unit_price": money(),
                "amount": money()
            } } })
    }

    /// The version a change is based on.
    pub fn version() -> Value {
        json!({ "type": "integer", "description": "The version you read" })
    }

    /// Responses of a create.
    pub fn created(what: &str) -> Value {
        json!({
            "201": { "description": format!("The new {what}, with its id and version") },
            "200": { "description": format!("A retry: the {what} the first request stored") },
            "404": { "description": "No such client (or parent record) in this company" },
            "422": { "description": "Invalid fields, each named" }
        })
    }

    /// Responses of a read.
    pub fn shown(what: &str) -> Value {
        json!({
            "200": { "description": format!("The {what}, with its version") },
            "404": { "description": format!("No such {what} of this client") }
        })
    }

    /// Responses of a change.
    pub fn changed(what: &str) -> Value {
        json!({
            "200": { "description": format!("The changed {what}, with its new version") },
            "404": { "description": format!("No such {what} of this client") },
            "409": { "description": "Changed since it was read (stale version), or its \
                state forbids the change; nothing changed" },
            "422": { "description": "Invalid fields, each named" }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lines_name_each_bad_field_and_check_the_total() {
        let body = json!({
            "lines": [
                {"description": "Crown thinning", "amount": {"minor": 40000, "currency": "USD"}},
                {"description": "Discount", "kind": "discount",
                 "amount": {"minor": 500, "currency": "USD"}},
                {"amount": {"minor": 1, "currency": "EUR"}, "colour": "red"}
            ],
            "total": {"minor": 1, "currency": "USD"}
        });
        let mut fields = Fields::of(&body).expect("an object");
        assert!(read_lines(&mut fields, &Currency::usd(), true).is_none());
        let Err(ApiError::Invalid(problems)) = fields.finish() else {
            panic!("the body is invalid");
        };
        let names: Vec<&str> = problems.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "lines[1].amount",
                "lines[2].colour",
                "lines[2].description",
                "lines[2].amount",
            ]
        );

        let body = json!({
            "lines": [{"description": "Stump grinding",
                "amount": {"minor": 12000, "currency": "USD"}}],
            "total": {"minor": 12500, "currency": "USD"}
        });
        let mut fields = Fields::of(&body).expect("an object");
        let lines = read_lines(&mut fields, &Currency::usd(), true).expect("complete lines");
        let total = fields.required_money("total", &Currency::usd());
        check_total(&mut fields, &lines, &total.expect("money"));
        let Err(ApiError::Invalid(problems)) = fields.finish() else {
            panic!("the total is wrong");
        };
        assert_eq!(problems[0].name, "total");
        assert!(
            problems[0].reason.contains("$120.00"),
            "{}",
            problems[0].reason
        );
    }

    #[test]
    fn null_clears_and_absence_keeps() {
        let body = json!({"work_date": null, "completed_on": "2026-05-04"});
        let mut fields = Fields::of(&body).expect("an object");
        assert_eq!(
            optional_change(&mut fields, "work_date", Fields::optional_date),
            Some(None)
        );
        assert!(
            optional_change(&mut fields, "completed_on", Fields::optional_date)
                .is_some_and(|d| d.is_some())
        );
        assert_eq!(
            optional_change(&mut fields, "invoice_date", Fields::optional_date),
            None
        );
    }
}
