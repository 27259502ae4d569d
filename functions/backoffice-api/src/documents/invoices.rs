//! Invoices and payments recorded outside the portal: `POST clients/{client}/invoices`,
//! `GET`/`PATCH clients/{client}/invoices/{invoice}` and `POST
//! clients/{client}/invoices/{invoice}/payments`.
//!
//! An invoice (or a proposal) created with a `tax` rate gets its tax line computed here, with
//! the company's rounding (case C07), so its lines always add up to its total and a payment
//! of the amount shown leaves exactly nothing to pay.
//!
//! A voided invoice is kept for the record and never shown; it changes no more. A payment
//! is recorded in one transaction with the lowering of the invoice's balance, which must
//! still cover it; its id comes from the required `Idempotency-Key`, so a retried payment
//! is recorded once.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

use porchlight_shared::domain::{
    AppliedPayment, Billing, Invoice, Line, LineKind, Payment, PaymentStatus, TaxRounding,
};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::money::{Currency, Money};
use porchlight_shared::store::backoffice::{ApiRecord, InvoiceRefusal, PaymentOutcome};
use porchlight_shared::store::{Entity, keys};
use porchlight_shared::tax::{self, TaxRate};

use super::jobs::{stored_job, stored_visit};
use super::{
    Guard, IDEMPOTENCY_KEY, check_total, doc, expected_version, idempotency_key, insert,
    new_document_id, optional_change, optional_id, read_lines, read_version, replay,
    require_client, route, stale,
};
use crate::input::Fields;
use crate::reply::{self, ApiError};
use crate::{Call, Route};

/// The invoice and payment endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Create,
    Show,
    Change,
    Pay,
}

/// The invoice and payment routes.
pub fn routes() -> Vec<Route> {
    let at = |e| super::Endpoint::Invoices(e);
    vec![
        route(
            Method::POST,
            "clients/{client}/invoices",
            at(Endpoint::Create),
        ),
        route(
            Method::GET,
            "clients/{client}/invoices/{invoice}",
            at(Endpoint::Show),
        ),
        route(
            Method::PATCH,
            "clients/{client}/invoices/{invoice}",
            at(Endpoint::Change),
        ),
        route(
            Method::POST,
            "clients/{client}/invoices/{invoice}/payments",
            at(Endpoint::Pay),
        ),
    ]
}

/// Answers one call to an invoice or payment endpoint.
pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::Create => create(call).await,
        Endpoint::Show => show(call).await,
        Endpoint::Change => change(call).await,
        Endpoint::Pay => pay(call).await,
    }
}

/// An invoice as the API shows it, with its payment status.
#[derive(Serialize)]
struct InvoiceView<'a> {
    #[serde(flatten)]
    invoice: &'a Invoice,
    client_id: &'a ClientId,
    status: PaymentStatus,
    version: u64,
}

impl<'a> InvoiceView<'a> {
    fn of(client: &'a ClientId, stored: &'a ApiRecord<Invoice>) -> Self {
        Self {
            invoice: &stored.record,
            client_id: client,
            status: stored.record.payment_status(),
            version: stored.version,
        }
    }
}

fn answer(status: StatusCode, client: &ClientId, stored: &ApiRecord<Invoice>) -> Response<Body> {
    reply::ok(status, &InvoiceView::of(client, stored))
}

async fn stored_invoice(
    call: &Call<'_>,
    client: &ClientId,
    id: &DocumentId,
) -> Result<ApiRecord<Invoice>, ApiError> {
    let key = keys::invoice(&call.company.slug, client, id);
    call.ctx
        .store
        .api_record(&key, Entity::Invoice)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn show(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("invoice")?;
    let stored = stored_invoice(call, &client, &id).await?;
    Ok(answer(StatusCode::OK, &client, &stored))
}

/// `billing`: `{"kind": "one_off"}` or `{"kind": "per_visit", "visit_id": ...}`.
fn read_billing(fields: &mut Fields<'_>) -> Option<Billing> {
    let mut inner = fields.optional_object("billing")?;
    inner.only(&["kind", "visit_id"]);
    let per_visit = inner.required_choice("kind", &[("one_off", false), ("per_visit", true)]);
    let visit = optional_id(&mut inner, "visit_id");
    let billing = match per_visit {
        Some(false) => {
            if inner.has("visit_id") {
                inner.problem("visit_id", "belongs only to per_visit billing");
            }
            Some(Billing::OneOff)
        }
        Some(true) => {
            if !inner.has("visit_id") {
                inner.problem("visit_id", "is required for per_visit billing");
            }
            visit.map(|visit_id| Billing::PerVisit { visit_id })
        }
        None => None,
    };
    fields.absorb(inner);
    billing
}

/// The checks that need no reading: dates in order, a balance within the total.
fn check_invoice(fields: &mut Fields<'_>, invoice: &Invoice) {
    if let (Some(dated), Some(due)) = (invoice.invoice_date, invoice.due_date)
        && due < dated
    {
        fields.problem("due_date", "must not be before invoice_date");
    }
    let most = invoice.total.minor.max(0);
    if invoice.balance.minor < 0 || invoice.balance.minor > most {
        fields.problem("balance", "must be from zero to the total");
    }
}

/// A `tax` to compute on a new document: `{"rate": "8.25", "description": "Sales tax"}`.
pub(super) struct TaxRequest {
    rate: TaxRate,
    description: String,
}

/// What a create said about tax.
pub(super) enum Taxing {
    /// No `tax`: the caller's lines and total are taken as they are.
    None,
    Compute(TaxRequest),
    /// A `tax` with problems, already named.
    Invalid,
}

/// The `tax` object of a create. The rate is a decimal string, never a JSON number: a
/// number would reach us through floating point, which cannot hold 8.25 exactly.
pub(super) fn read_tax(fields: &mut Fields<'_>) -> Taxing {
    if !fields.has("tax") {
        return Taxing::None;
    }
    let Some(mut inner) = fields.optional_object("tax") else {
        return Taxing::Invalid;
    };
    inner.only(&["rate", "description"]);
    let rate = match inner.value("rate") {
        None => {
            inner.problem("rate", "is required");
            None
        }
        Some(Value::String(text)) => match TaxRate::parse(text.trim()) {
            Ok(rate) => Some(rate),
            Err(_) => {
                inner.problem(
                    "rate",
                    "must be a percentage from 0 to 100 with at most 6 decimals, such as \
                     `8.25`",
                );
                None
            }
        },
        Some(_) => {
            inner.problem("rate", "must be a string such as `8.25`, not a number");
            None
        }
    };
    let description = inner
        .optional_text("description", 200)
        .unwrap_or_else(|| "Tax".to_owned());
    fields.absorb(inner);
    match rate {
        Some(rate) => Taxing::Compute(TaxRequest { rate, description }),
        None => Taxing::Invalid,
    }
}

/// The `total` of a create: required unless Porchlight computes it from a `tax`.
pub(super) fn read_total(
    fields: &mut Fields<'_>,
    taxing: &Taxing,
    currency: &Currency,
) -> Option<Money> {
    match taxing {
        Taxing::None => fields.required_money("total", currency),
        Taxing::Compute(_) | Taxing::Invalid => fields.optional_money("total", currency),
    }
}

/// The lines and total a new document is stored with. With a tax to compute, the tax line
/// is added with the company's rounding and the total is their sum; a `total` the caller
/// sent must then equal it to the cent. Without, the total sent must equal the lines' sum.
pub(super) fn priced(
    fields: &mut Fields<'_>,
    lines: Vec<Line>,
    taxing: Taxing,
    total: Option<Money>,
    rounding: TaxRounding,
    currency: &Currency,
) -> Option<(Vec<Line>, Money)> {
    let request = match taxing {
        Taxing::Invalid => return None,
        Taxing::None => {
            let total = total?;
            check_total(fields, &lines, &total);
            return Some((lines, total));
        }
        Taxing::Compute(request) => request,
    };
    if let Some(i) = lines.iter().position(|line| line.kind == LineKind::Tax) {
        fields.problem(
            &format!("lines[{i}].kind"),
            "must not be tax when `tax` is sent: Porchlight computes the tax line",
        );
        return None;
    }
    let rate = request.rate;
    let taxed = match tax::add_tax(lines, rate, &request.description, rounding, currency) {
        Ok(taxed) => taxed,
        Err(_) => {
            fields.problem("lines", "add up to more than can be stored");
            return None;
        }
    };
    if let Some(sent) = total
        && sent != taxed.total
    {
        let how = match rounding {
            TaxRounding::WholeDocument => "rounded once over the taxable net",
            TaxRounding::PerLine => "rounded line by line",
        };
        let reason = format!(
            "must equal the computed total, which is {} (tax {} at {rate}%, {how}); or leave \
             it out",
            taxed.total, taxed.tax
        );
        fields.problem("total", &reason);
        return None;
    }
    check_total(fields, &taxed.lines, &taxed.total);
    Some((taxed.lines, taxed.total))
}

/// The invoice's visit and job must be the client's. A per-visit invoice that names no job
/// is linked to its visit's job, which its appearance rules read.
async fn check_links(
    call: &Call<'_>,
    client: &ClientId,
    invoice: &mut Invoice,
) -> Result<(), ApiError> {
    if let Billing::PerVisit { visit_id } = &invoice.billing {
        let visit = stored_visit(call, client, visit_id).await?.ok_or_else(|| {
            ApiError::invalid("billing.visit_id", "is not a visit of this client")
        })?;
        let job = visit.record.job_id;
        return match &invoice.job_id {
            None => {
                invoice.job_id = Some(job);
                Ok(())
            }
            Some(named) if named == &job => Ok(()),
            Some(_) => Err(ApiError::invalid(
                "job_id",
                "is not the job of the invoice's visit",
            )),
        };
    }
    match &invoice.job_id {
        Some(job) if stored_job(call, client, job).await?.is_none() => {
            Err(ApiError::invalid("job_id", "is not a job of this client"))
        }
        _ => Ok(()),
    }
}

async fn create(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let currency = &call.company.currency;
    let mut fields = Fields::of(call.body())?;
    fields.only(&[
        "number",
        "billing",
        "job_id",
        "property_name",
        "invoice_date",
        "due_date",
        "lines",
        "tax",
        "total",
        "balance",
        "sent_on",
        "approved_on",
        "memo",
    ]);
    let number = fields.required_text("number", 40);
    if !fields.has("billing") {
        fields.problem("billing", "is required");
    }
    let billing = read_billing(&mut fields);
    let job_id = optional_id(&mut fields, "job_id");
    let property_name = fields.optional_text("property_name", 200);
    let invoice_date = fields.optional_date("invoice_date");
    let due_date = fields.optional_date("due_date");
    let lines = read_lines(&mut fields, currency, true);
    let taxing = read_tax(&mut fields);
    let total = read_total(&mut fields, &taxing, currency);
    let balance = fields.optional_money("balance", currency);
    let sent_on = fields.optional_date("sent_on");
    let approved_on = fields.optional_date("approved_on");
    let memo = fields.optional_paragraphs("memo", 4000);
    let rounding = call.company.settings.tax_rounding;
    let priced =
        lines.and_then(|lines| priced(&mut fields, lines, taxing, total, rounding, currency));
    let (Some(number), Some(billing), Some((lines, total))) = (number, billing, priced) else {
        fields.finish()?;
        return Err(ApiError::invalid("lines", "is required"));
    };
    let (id, guard) = new_document_id(call, "invoice")?;
    let mut invoice = Invoice {
        id,
        number,
        billing,
        job_id,
        property_name,
        invoice_date,
        due_date,
        lines,
        balance: balance.unwrap_or_else(|| total.clone()),
        total,
        voided: false,
        approved_on,
        sent_on,
        memo,
    };
    check_invoice(&mut fields, &invoice);
    fields.finish()?;

    let key = keys::invoice(&call.company.slug, &client, &invoice.id);
    if let Some(stored) = replay(call, guard.as_ref(), &key, Entity::Invoice).await? {
        return Ok(answer(StatusCode::OK, &client, &stored));
    }
    require_client(call, &client).await?;
    check_links(call, &client, &mut invoice).await?;
    let notes = Guard::notes(guard.as_ref());
    let (status, stored) =
        insert(call, guard.as_ref(), &key, Entity::Invoice, invoice, notes).await?;
    Ok(answer(status, &client, &stored))
}

async fn change(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let id = call.document_id("invoice")?;
    let currency = &call.company.currency;
    let mut fields = Fields::of(call.body())?;
    let stored = stored_invoice(call, &client, &id).await?;
    if stored.record.voided {
        return Err(ApiError::Conflict(
            "the invoice is voided: it is kept as it was and changes no more".into(),
        ));
    }

    fields.only(&[
        "version",
        "number",
        "billing",
        "job_id",
        "property_name",
        "invoice_date",
        "due_date",
        "lines",
        "total",
        "balance",
        "sent_on",
        "approved_on",
        "memo",
        "voided",
    ]);
    let version = read_version(&mut fields);
    let before = &stored.record;
    let mut invoice = before.clone();
    if let Some(number) = fields.optional_text("number", 40) {
        invoice.number = number;
    }
    let relinked = fields.has("billing") || fields.has("job_id") || fields.is_cleared("job_id");
    if let Some(billing) = read_billing(&mut fields) {
        // A new visit brings its own job unless the change names one.
        if !fields.has("job_id") {
            invoice.job_id = None;
        }
        invoice.billing = billing;
    }
    if let Some(job) = optional_change(&mut fields, "job_id", optional_id) {
        invoice.job_id = job;
    }
    let property = optional_change(&mut fields, "property_name", |f, name| {
        f.optional_text(name, 200)
    });
    if let Some(property) = property {
        invoice.property_name = property;
    }
    for (field, slot) in [
        ("invoice_date", &mut invoice.invoice_date),
        ("due_date", &mut invoice.due_date),
        ("sent_on", &mut invoice.sent_on),
        ("approved_on", &mut invoice.approved_on),
    ] {
        if let Some(day) = optional_change(&mut fields, field, Fields::optional_date) {
            *slot = day;
        }
    }
    let repriced = fields.has("lines") || fields.has("total");
    if let Some(lines) = read_lines(&mut fields, currency, false) {
        invoice.lines = lines;
    }
    if let Some(total) = fields.optional_money("total", currency) {
        invoice.total = total;
    }
    if repriced {
        check_total(&mut fields, &invoice.lines, &invoice.total);
    }
    match fields.optional_money("balance", currency) {
        Some(balance) => invoice.balance = balance,
        // What was paid stays paid when the total changes.
        None if invoice.total != before.total => {
            let paid = before.total.minor - before.balance.minor;
            let left = (invoice.total.minor - paid).max(0);
            invoice.balance = Money::new(left, invoice.total.currency.clone());
        }
        None => {}
    }
    let memo = optional_change(&mut fields, "memo", |f, name| {
        f.optional_paragraphs(name, 4000)
    });
    if let Some(memo) = memo {
        invoice.memo = memo;
    }
    // Voiding is for good: `false` leaves the invoice as it is.
    if fields.optional_bool("voided") == Some(true) {
        invoice.voided = true;
    }
    check_invoice(&mut fields, &invoice);
    fields.finish()?;

    let expected = expected_version(version)?;
    if expected != stored.version {
        return Err(stale("invoice", Some(stored.version)));
    }
    if relinked {
        check_links(call, &client, &mut invoice).await?;
    }
    let key = keys::invoice(&call.company.slug, &client, &id);
    let replaced = call
        .ctx
        .store
        .replace_api_record(&key, Entity::Invoice, &invoice, &stored.notes, expected)
        .await?;
    match replaced {
        Ok(version) => {
            tracing::info!(
                voided = invoice.voided,
                version,
                "invoice changed through the API"
            );
            let changed = ApiRecord {
                record: invoice,
                version,
                notes: stored.notes,
            };
            Ok(answer(StatusCode::OK, &client, &changed))
        }
        Err(conflict) => Err(stale("invoice", conflict.current)),
    }
}

/// A payment as the API shows it, with the invoice it was applied to as it is now.
#[derive(Serialize)]
struct PaymentView<'a> {
    #[serde(flatten)]
    payment: &'a Payment,
    client_id: &'a ClientId,
    version: u64,
    invoice: InvoiceView<'a>,
}

async fn payment_answer(
    call: &Call<'_>,
    status: StatusCode,
    client: &ClientId,
    stored: &ApiRecord<Payment>,
    invoice: &DocumentId,
) -> Result<Response<Body>, ApiError> {
    let invoice = stored_invoice(call, client, invoice).await?;
    let view = PaymentView {
        payment: &stored.record,
        client_id: client,
        version: stored.version,
        invoice: InvoiceView::of(client, &invoice),
    };
    Ok(reply::ok(status, &view))
}

/// Records a payment received outside the portal (a check, cash, a bank transfer).
async fn pay(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let invoice_id = call.document_id("invoice")?;
    let currency = &call.company.currency;
    let mut fields = Fields::of(call.body())?;
    fields.only(&["amount", "received_on", "reference"]);
    let amount = fields.required_money("amount", currency);
    if amount.as_ref().is_some_and(|a| a.minor <= 0) {
        fields.problem("amount", "must be more than zero");
    }
    let received_on = fields.required_date("received_on");
    // Money not yet received is not a payment; a day's grace covers a back office whose
    // clock or time zone runs ahead of the company's.
    let latest = call.company.today(call.now) + chrono::Days::new(1);
    if received_on.is_some_and(|day| day > latest) {
        fields.problem("received_on", "must not be in the future");
    }
    let reference = fields.optional_text("reference", 100);
    let retry_key = idempotency_key(call)?;
    if retry_key.is_none() {
        fields.problem(
            IDEMPOTENCY_KEY,
            "is required: the header makes recording a payment safe to retry",
        );
    }
    fields.finish()?;
    let (Some(amount), Some(received_on), Some(retry_key)) = (amount, received_on, retry_key)
    else {
        return Err(ApiError::invalid("amount", "is required"));
    };

    let source = format!("api:payment:{client}:{invoice_id}:{retry_key}");
    let id = DocumentId::derived(&call.company.id_secret, &source);
    let guard = Guard::new(IDEMPOTENCY_KEY, call.body());
    let key = keys::payment(&call.company.slug, &client, &id);
    let target = Target {
        client: &client,
        invoice: &invoice_id,
        guard: &guard,
        key: &key,
    };
    if let Some(answer) = answer_retry(call, &target).await? {
        return Ok(answer);
    }

    let payment = Payment {
        id,
        received_on,
        unapplied: Money::zero(amount.currency.clone()),
        applied: vec![AppliedPayment {
            invoice_id: invoice_id.clone(),
            amount: amount.clone(),
        }],
        amount,
        reference,
        voided: false,
        refunded: None,
    };
    match record(call, &target, payment).await {
        // The same request sent twice at once: the twin may have recorded the payment
        // between this one's first look and its refusal (the balance it saw was then
        // already lowered by it), so a refusal is answered as the retry it really is.
        Err(refusal @ (ApiError::Invalid(_) | ApiError::Conflict(_) | ApiError::NotFound)) => {
            match answer_retry(call, &target).await? {
                Some(answer) => Ok(answer),
                None => Err(refusal),
            }
        }
        other => other,
    }
}

/// Where a payment goes, and how its retries are recognised.
struct Target<'t> {
    client: &'t ClientId,
    invoice: &'t DocumentId,
    guard: &'t Guard,
    key: &'t keys::Key,
}

/// 200 with the payment an earlier request with the same key recorded, if one did.
async fn answer_retry(
    call: &Call<'_>,
    target: &Target<'_>,
) -> Result<Option<Response<Body>>, ApiError> {
    let stored = replay::<Payment>(call, Some(target.guard), target.key, Entity::Payment).await?;
    match stored {
        Some(stored) => {
            let answer =
                payment_answer(call, StatusCode::OK, target.client, &stored, target.invoice)
                    .await?;
            Ok(Some(answer))
        }
        None => Ok(None),
    }
}

/// Checks the invoice can take the payment, then records both in one transaction.
async fn record(
    call: &Call<'_>,
    target: &Target<'_>,
    payment: Payment,
) -> Result<Response<Body>, ApiError> {
    let invoice = stored_invoice(call, target.client, target.invoice)
        .await?
        .record;
    if invoice.voided {
        return Err(ApiError::Conflict(
            "the invoice is voided: no payment can be recorded against it".into(),
        ));
    }
    covers(&invoice.balance, &payment.amount)?;

    let notes = Guard::notes(Some(target.guard));
    let outcome = call
        .ctx
        .store
        .record_payment(&call.company.slug, target.client, &payment, &notes)
        .await?;
    match outcome {
        PaymentOutcome::Recorded => {
            tracing::info!(slug = %call.company.slug, "payment recorded through the API");
            let stored = ApiRecord {
                record: payment,
                version: 1,
                notes,
            };
            payment_answer(
                call,
                StatusCode::CREATED,
                target.client,
                &stored,
                target.invoice,
            )
            .await
        }
        PaymentOutcome::AlreadyRecorded(_) => Err(ApiError::Conflict(
            "a payment with this Idempotency-Key is being recorded; send the request again".into(),
        )),
        PaymentOutcome::Refused { why, .. } => Err(match why {
            InvoiceRefusal::Missing => ApiError::NotFound,
            InvoiceRefusal::Voided => ApiError::Conflict(
                "the invoice was voided meanwhile: no payment was recorded".into(),
            ),
            InvoiceRefusal::OtherCurrency => ApiError::invalid(
                "amount",
                "must be in the invoice's currency, which is not the company's",
            ),
            InvoiceRefusal::ExceedsBalance(left) => exceeds(&left),
        }),
    }
}

/// Whether what is left to pay covers `amount`; the 422 naming `amount` if not.
fn covers(balance: &Money, amount: &Money) -> Result<(), ApiError> {
    if balance.currency != amount.currency {
        return Err(ApiError::invalid(
            "amount",
            &format!(
                "must be in the invoice's currency, {}",
                balance.currency.code()
            ),
        ));
    }
    if amount.minor > balance.minor {
        return Err(exceeds(balance));
    }
    Ok(())
}

fn exceeds(balance: &Money) -> ApiError {
    ApiError::invalid(
        "amount",
        &format!("must not be more than the invoice's balance, which is {balance}"),
    )
}

/// The OpenAPI description of a create's `tax`, shared with proposals.
pub(super) fn tax_doc() -> Value {
    json!({ "type": "object", "required": ["rate"],
        "description": "Porchlight computes the tax line (kind `tax`, the description with \
            the rate in brackets) from the item and discount lines, rounded half away from \
            zero as the company's `tax_rounding` says, and the total from all lines. Lines \
            of kind `tax` may not be sent with it.",
        "properties": {
            "rate": { "type": "string", "pattern": "^[0-9]{1,3}(\\.[0-9]{1,6})?$",
                "example": "8.25", "description": "Percent, as a decimal string" },
            "description": { "type": "string", "maxLength": 200, "default": "Tax" }
        } })
}

/// The OpenAPI description of the invoice and payment routes.
pub fn openapi_paths() -> Value {
    let billing = json!({ "oneOf": [
        { "type": "object", "required": ["kind"],
          "properties": { "kind": { "const": "one_off" } } },
        { "type": "object", "required": ["kind", "visit_id"],
          "properties": { "kind": { "const": "per_visit" }, "visit_id": { "type": "string" } } }
    ] });
    let fields = json!({
        "number": { "type": "string", "maxLength": 40 },
        "billing": billing,
        "job_id": { "type": ["string", "null"],
            "description": "A per-visit invoice is linked to its visit's job if omitted" },
        "property_name": { "type": ["string", "null"] },
        "invoice_date": { "type": ["string", "null"], "format": "date",
            "description": "Without it the invoice appears on the job's work date, else on \
                its completion day" },
        "due_date": doc::nullable_date(),
        "lines": doc::lines(),
        "total": { "allOf": [doc::money()], "description": "Must equal the lines' sum; \
            required unless `tax` is sent, when it may be left out" },
        "balance": { "allOf": [doc::money()], "description": "The total if omitted" },
        "sent_on": doc::nullable_date(),
        "approved_on": doc::nullable_date(),
        "memo": { "type": ["string", "null"] }
    });
    let mut create = fields.clone();
    create["tax"] = tax_doc();
    let mut change = fields.clone();
    change["version"] = doc::version();
    change["voided"] = json!({ "type": "boolean",
        "description": "true voids the invoice: kept for the record, never shown" });
    let payment = json!({ "type": "object", "required": ["amount", "received_on"],
        "properties": { "amount": doc::money(), "received_on": doc::date(),
            "reference": { "type": "string", "maxLength": 100 } } });
    json!({
        "/api/v1/clients/{client}/invoices": { "post": {
            "summary": "Create an invoice of a one-off job or of one visit",
            "parameters": doc::create_params(&["client"], false),
            "requestBody": doc::json_body(json!({ "type": "object",
                "required": ["number", "billing", "lines"], "properties": create })),
            "responses": doc::created("invoice")
        } },
        "/api/v1/clients/{client}/invoices/{invoice}": {
            "get": {
                "summary": "An invoice",
                "parameters": doc::path_params(&["client", "invoice"]),
                "responses": doc::shown("invoice")
            },
            "patch": {
                "summary": "Change, mark sent or approved, or void an invoice",
                "parameters": doc::path_params(&["client", "invoice"]),
                "requestBody": doc::json_body(json!({ "type": "object",
                    "required": ["version"], "properties": change })),
                "responses": doc::changed("invoice")
            }
        },
        "/api/v1/clients/{client}/invoices/{invoice}/payments": { "post": {
            "summary": "Record a payment received outside the portal; lowers the balance",
            "parameters": doc::create_params(&["client", "invoice"], true),
            "requestBody": doc::json_body(payment),
            "responses": {
                "201": { "description": "The payment, and the invoice as it is now" },
                "200": { "description": "A retry: the payment recorded the first time" },
                "404": { "description": "No such invoice of this client" },
                "409": { "description": "The invoice is voided" },
                "422": { "description": "Invalid fields, a missing Idempotency-Key, or more \
                    than the balance" }
            }
        } }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn price(body: Value, rounding: TaxRounding) -> Result<(Vec<Line>, Money), Vec<String>> {
        let usd = Currency::usd();
        let mut fields = Fields::of(&body).expect("an object");
        let lines = super::super::read_lines(&mut fields, &usd, true);
        let taxing = read_tax(&mut fields);
        let total = read_total(&mut fields, &taxing, &usd);
        let priced = lines.and_then(|l| priced(&mut fields, l, taxing, total, rounding, &usd));
        match fields.finish() {
            Ok(()) => Ok(priced.expect("priced when nothing is wrong")),
            Err(ApiError::Invalid(problems)) => Err(problems
                .into_iter()
                .map(|p| format!("{}: {}", p.name, p.reason))
                .collect()),
            Err(other) => panic!("{other}"),
        }
    }

    fn c07(extra: Value) -> Value {
        let mut body = json!({ "lines": [
            { "description": "Hedge trimming", "amount": { "minor": 4210, "currency": "USD" } },
            { "description": "Mulch", "amount": { "minor": 4500, "currency": "USD" } }
        ], "tax": { "rate": "8.25", "description": "Sales tax" } });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        body
    }

    #[test]
    fn the_tax_line_and_total_follow_the_companys_rounding() {
        let (lines, total) = price(c07(json!({})), TaxRounding::WholeDocument).expect("valid");
        assert_eq!(total.minor, 9429);
        let tax = lines.last().expect("a tax line");
        assert_eq!((tax.kind, tax.amount.minor), (LineKind::Tax, 719));
        assert_eq!(tax.description, "Sales tax (8.25%)");

        let (_, total) = price(c07(json!({})), TaxRounding::PerLine).expect("valid");
        assert_eq!(total.minor, 9428);
        let sent = c07(json!({ "total": { "minor": 9428, "currency": "USD" } }));
        assert!(price(sent, TaxRounding::PerLine).is_ok());
    }

    #[test]
    fn a_total_that_disagrees_is_refused_naming_the_computed_one() {
        let sent = c07(json!({ "total": { "minor": 9428, "currency": "USD" } }));
        let problems = price(sent, TaxRounding::WholeDocument).expect_err("a cent off");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("total: "), "{problems:?}");
        assert!(problems[0].contains("$94.29"), "{problems:?}");
    }

    #[test]
    fn bad_rates_and_sent_tax_lines_are_refused() {
        let number = c07(json!({ "tax": { "rate": 8.25 } }));
        let problems = price(number, TaxRounding::WholeDocument).expect_err("a float");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("tax.rate: "), "{problems:?}");

        let mut both = c07(json!({}));
        both["lines"][1]["kind"] = json!("tax");
        let problems = price(both, TaxRounding::WholeDocument).expect_err("a tax line");
        assert!(problems[0].starts_with("lines[1].kind: "), "{problems:?}");

        let missing = json!({ "lines": [{ "description": "Mulch",
            "amount": { "minor": 4500, "currency": "USD" } }] });
        let problems = price(missing, TaxRounding::WholeDocument).expect_err("no total");
        assert_eq!(problems, ["total: is required"]);
    }
}
