//! `GET` and `PATCH /api/v1/settings`: the company's name, time zone, currency, notice
//! address and portal settings. The portal reads them on every page, so a change reaches
//! every client at once, with no migration.
//!
//! Card payment can be switched on only with a connected Stripe account (`acct_...`), in the
//! same request or before, and the account cannot be taken away while payment is on: the
//! portal would otherwise offer a Pay button that leads nowhere.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use porchlight_shared::domain::{Appearance, Company, TaxRounding};
use porchlight_shared::mail::Mailbox;
use porchlight_shared::money::{Currency, Money};

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

/// The company as the API shows it. The settings are named one by one, as the OpenAPI
/// document and `porchlight company settings show --json` name them; the minimum payment is
/// money in the company's currency, like every other amount of the API.
#[derive(Debug, Serialize)]
struct CompanySettings<'a> {
    slug: &'a str,
    name: &'a str,
    time_zone: &'a str,
    currency: &'a str,
    notify_email: &'a str,
    paid_invoice_months: u32,
    proposal_open_days: u32,
    one_off_invoices: Appearance,
    per_visit_invoices: Appearance,
    hide_zero_total: bool,
    payments_enabled: bool,
    stripe_account: Option<&'a str>,
    minimum_payment: Money,
    tax_rounding: TaxRounding,
    version: u64,
}

fn show(company: &Company, version: u64) -> Response<Body> {
    let settings = &company.settings;
    reply::ok(
        StatusCode::OK,
        &CompanySettings {
            slug: company.slug.as_str(),
            name: &company.name,
            time_zone: company.time_zone.name(),
            currency: company.currency.code(),
            notify_email: &company.notify_email,
            paid_invoice_months: settings.paid_invoice_months,
            proposal_open_days: settings.proposal_open_days,
            one_off_invoices: settings.one_off_invoices,
            per_visit_invoices: settings.per_visit_invoices,
            hide_zero_total: settings.hide_zero_total,
            payments_enabled: settings.payments_enabled,
            stripe_account: settings.stripe_account.as_deref(),
            minimum_payment: Money::new(settings.minimum_payment_minor, company.currency.clone()),
            tax_rounding: settings.tax_rounding,
            version,
        },
    )
}

const TAX_ROUNDINGS: [(&str, TaxRounding); 2] = [
    ("whole_document", TaxRounding::WholeDocument),
    ("per_line", TaxRounding::PerLine),
];

/// A Stripe connected-account id: `acct_` and letters or digits.
fn is_stripe_account(text: &str) -> bool {
    text.strip_prefix("acct_").is_some_and(|rest| {
        (1..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
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
        "stripe_account",
        "minimum_payment",
        "tax_rounding",
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
    let enabling = fields.optional_bool("payments_enabled");
    if let Some(flag) = enabling {
        settings.payments_enabled = flag;
    }
    // Checked only when the request touches either, so a company stored before the rule
    // can still change its other settings.
    let touched = ["payments_enabled", "stripe_account"]
        .iter()
        .any(|field| fields.has(field) || fields.is_cleared(field));
    read_payment_settings(&mut fields, &mut company);
    let settings = &company.settings;
    if touched && settings.payments_enabled && settings.stripe_account.is_none() {
        if enabling == Some(true) {
            fields.problem(
                "payments_enabled",
                "needs a connected Stripe account: send `stripe_account` too",
            );
        } else {
            fields.problem(
                "stripe_account",
                "cannot be removed while payments are enabled: send `payments_enabled: false`",
            );
        }
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

/// The Stripe account, the least part payment and the tax rounding. The minimum is read in
/// the currency the company has after this change.
fn read_payment_settings(fields: &mut Fields<'_>, company: &mut Company) {
    if fields.is_cleared("stripe_account") {
        company.settings.stripe_account = None;
    } else if let Some(account) = fields.optional_text("stripe_account", 80) {
        if is_stripe_account(&account) {
            company.settings.stripe_account = Some(account);
        } else {
            fields.problem(
                "stripe_account",
                "must be a Stripe account id: `acct_` and letters or digits, or null",
            );
        }
    }
    if fields.has("minimum_payment") {
        let currency = company.currency.clone();
        match fields.required_amount("minimum_payment", &currency) {
            Some(least) if least.minor < 0 => {
                fields.problem("minimum_payment", "must not be negative");
            }
            Some(least) => company.settings.minimum_payment_minor = least.minor,
            None => {}
        }
    }
    if let Some(rounding) = fields.optional_choice("tax_rounding", &TAX_ROUNDINGS) {
        company.settings.tax_rounding = rounding;
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
            "payments_enabled": { "type": "boolean",
                "description": "Card payment in the portal; needs a stripe_account" },
            "stripe_account": { "type": ["string", "null"], "pattern": "^acct_[A-Za-z0-9]+$",
                "description": "The connected Stripe account payments go to" },
            "minimum_payment": {
                "oneOf": [
                    { "$ref": "#/components/schemas/Money" },
                    { "type": "string", "example": "25.00" }
                ],
                "description": "The least part of a balance a client may pay at once, in \
                    the company's currency (a smaller balance can still be paid in full); \
                    answered as money, sent as money or as a decimal string" },
            "tax_rounding": { "type": "string", "enum": ["whole_document", "per_line"],
                "description": "How tax computed from a `tax` rate is rounded: once over the \
                    taxable net (default), or line by line, each half away from zero" },
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
                    "422": { "description": "Invalid fields, each named; payments enabled \
                        without a Stripe account" }
                }
            }
        }
    })
}
