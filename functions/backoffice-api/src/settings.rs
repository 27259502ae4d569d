//! `GET` and `PATCH /api/v1/settings`: the company's name, time zone, currency, notice
//! address and portal settings. The portal reads them on every page, so a change reaches
//! every client at once, with no migration.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use porchlight_shared::domain::{Appearance, Company, Settings};
use porchlight_shared::mail::Mailbox;
use porchlight_shared::money::Currency;

use crate::input::Fields;
use crate::reply::{self, ApiError};
use crate::{Call, Handler, Route};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Show,
    Change,
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "settings",
            handler: Handler::Settings(Endpoint::Show),
        },
        Route {
            method: Method::PATCH,
            path: "settings",
            handler: Handler::Settings(Endpoint::Change),
        },
    ]
}

/// The company as the API shows it.
#[derive(Debug, Serialize)]
struct CompanySettings<'a> {
    slug: &'a str,
    name: &'a str,
    time_zone: &'a str,
    currency: &'a str,
    notify_email: &'a str,
    #[serde(flatten)]
    settings: &'a Settings,
    version: u64,
}

fn show(company: &Company, version: u64) -> Response<Body> {
    reply::ok(
        StatusCode::OK,
        &CompanySettings {
            slug: company.slug.as_str(),
            name: &company.name,
            time_zone: company.time_zone.name(),
            currency: company.currency.code(),
            notify_email: &company.notify_email,
            settings: &company.settings,
            version,
        },
    )
}

const APPEARANCES: [(&str, Appearance); 4] = [
    ("date_rules", Appearance::DateRules),
    ("once_completed", Appearance::OnceCompleted),
    ("once_approved", Appearance::OnceApproved),
    ("once_sent", Appearance::OnceSent),
];

pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let stored = call
        .ctx
        .store
        .company_versioned(&call.company.slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    match endpoint {
        Endpoint::Show => Ok(show(&stored.record, stored.version)),
        Endpoint::Change => change(call, stored.record, stored.version).await,
    }
}

/// Applies the fields present; `version` must be the one last read.
async fn change(
    call: &Call<'_>,
    mut company: Company,
    current: u64,
) -> Result<Response<Body>, ApiError> {
    let mut fields = Fields::of(call.body())?;
    fields.only(&[
        "version",
        "name",
        "time_zone",
        "currency",
        "notify_email",
        "paid_invoice_months",
        "proposal_open_days",
        "one_off_invoices",
        "per_visit_invoices",
        "hide_zero_total",
        "payments_enabled",
    ]);
    let version = fields.value("version").and_then(|v| v.as_u64());
    if version.is_none() {
        fields.problem(
            "version",
            "is required: the version of the settings you read",
        );
    }
    if let Some(name) = fields.optional_text("name", 120) {
        company.name = name;
    }
    if let Some(zone) = fields.optional_text("time_zone", 64) {
        match zone.parse() {
            Ok(zone) => company.time_zone = zone,
            Err(_) => fields.problem(
                "time_zone",
                "must be an IANA time zone such as America/Chicago",
            ),
        }
    }
    if let Some(code) = fields.optional_text("currency", 3) {
        match Currency::parse(&code) {
            Ok(currency) => company.currency = currency,
            Err(_) => fields.problem("currency", "must be an ISO 4217 code such as USD"),
        }
    }
    if let Some(email) = fields.optional_text("notify_email", 254) {
        match Mailbox::parse(&email) {
            Ok(mailbox) => company.notify_email = mailbox.address,
            Err(_) => fields.problem("notify_email", "must be an email address"),
        }
    }
    let settings = &mut company.settings;
    if let Some(months) = fields.optional_u32("paid_invoice_months", 1..=120) {
        settings.paid_invoice_months = months;
    }
    if let Some(days) = fields.optional_u32("proposal_open_days", 1..=365) {
        settings.proposal_open_days = days;
    }
    if let Some(choice) = fields.optional_choice("one_off_invoices", &APPEARANCES) {
        settings.one_off_invoices = choice;
    }
    if let Some(choice) = fields.optional_choice("per_visit_invoices", &APPEARANCES) {
        settings.per_visit_invoices = choice;
    }
    if let Some(flag) = fields.optional_bool("hide_zero_total") {
        settings.hide_zero_total = flag;
    }
    if let Some(flag) = fields.optional_bool("payments_enabled") {
        settings.payments_enabled = flag;
    }
    fields.finish()?;

    let expected = version.expect("finish() refused a missing version");
    if expected != current {
        return Err(stale(current));
    }
    match call.ctx.store.replace_company(&company, expected).await? {
        Ok(next) => {
            tracing::info!(slug = %company.slug, version = next, "settings changed");
            Ok(show(&company, next))
        }
        Err(conflict) => Err(stale(conflict.current.unwrap_or(current))),
    }
}

fn stale(current: u64) -> ApiError {
    ApiError::Conflict(format!(
        "the settings changed since you read them (now version {current}); read them again"
    ))
}

/// The OpenAPI description of these endpoints.
pub fn openapi_paths() -> serde_json::Value {
    let appearance = json!({ "type": "string",
        "enum": ["date_rules", "once_completed", "once_approved", "once_sent"] });
    let settings = json!({
        "type": "object",
        "properties": {
            "slug": { "type": "string", "readOnly": true },
            "name": { "type": "string" },
            "time_zone": { "type": "string", "example": "America/Chicago" },
            "currency": { "type": "string", "example": "USD" },
            "notify_email": { "type": "string", "format": "email" },
            "paid_invoice_months": { "type": "integer", "minimum": 1, "maximum": 120 },
            "proposal_open_days": { "type": "integer", "minimum": 1, "maximum": 365 },
            "one_off_invoices": appearance,
            "per_visit_invoices": appearance,
            "hide_zero_total": { "type": "boolean" },
            "payments_enabled": { "type": "boolean" },
            "version": { "type": "integer" }
        }
    });
    json!({
        "/api/v1/settings": {
            "get": {
                "summary": "The company's settings",
                "responses": { "200": { "description": "The settings",
                    "content": { "application/json": { "schema": settings } } } }
            },
            "patch": {
                "summary": "Change settings; send the version you read",
                "requestBody": { "required": true,
                    "content": { "application/json": { "schema": settings } } },
                "responses": {
                    "200": { "description": "The changed settings" },
                    "409": { "description": "The settings changed since they were read" },
                    "422": { "description": "Invalid fields, each named" }
                }
            }
        }
    })
}
