//! Import of a QuickBooks Online export (the `customers.json`, `invoices.json`,
//! `estimates.json` and `payments.json` arrays of API v3 read responses) into one company.
//!
//! The import runs in two halves. [`plan`] is pure: it reads the parsed export and the
//! company and decides every record to write, and every record it cannot take, with the
//! reason. [`apply`] writes the plan through the store's idempotent writes. Every id is
//! derived from the company's secret and the QuickBooks id, so importing the same export
//! twice writes nothing the second time.
//!
//! Amounts are read from the JSON number's own text, never through `f64`, so `226.75`
//! becomes 22675 cents exactly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use porchlight_shared::domain::{
    Acceptance, AppliedPayment, Billing, Channel, Client, ClientRef, Company, Invoice, Job,
    JobKind, Line, LineKind, Payment, Property, Proposal, ProposalState, Stage,
};
use porchlight_shared::ids::{ClientId, CompanySlug, DocumentId};
use porchlight_shared::mail::Mailbox;
use porchlight_shared::money::{Currency, Money};
use porchlight_shared::store::{Entity, Store, StoreError, WriteOutcome, keys};

/// Who QuickBooks acceptances are recorded as.
const ACCEPTED_BY: &str = "QuickBooks";

/// Why an import could not run. Problems with single records are not errors: they are
/// reported in [`ImportSummary::skipped`] and the rest is imported.
#[derive(Debug, thiserror::Error)]
pub enum QboError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a QuickBooks {entity} export", path.display())]
    Parse {
        path: PathBuf,
        entity: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("writing the import failed")]
    Store(#[from] StoreError),
}

// ---------------------------------------------------------------------------------------
// The export as QuickBooks writes it: only the fields the import reads.
// ---------------------------------------------------------------------------------------

/// A JSON number kept as the text it was written as (`100`, `100.0`, `226.75`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(String);

impl Decimal {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The amount in `currency`, exactly; `None` if the text is not a plain decimal or has
    /// more fractional digits than the currency.
    pub fn to_money(&self, currency: &Currency) -> Option<Money> {
        Money::parse_decimal(&self.0, currency.clone()).ok()
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A raw value hands over the number's characters before serde_json turns them
        // into an f64, which could not hold every decimal amount.
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get().trim();
        if text.starts_with('"') {
            // Some QuickBooks tools quote amounts; the quoted text is the same decimal.
            let inner: String = serde_json::from_str(text).map_err(de::Error::custom)?;
            return Ok(Self(inner.trim().to_owned()));
        }
        if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(de::Error::custom(format!(
                "expected a number, found `{text}`"
            )))
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Ref {
    value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LinkedTxn {
    txn_id: String,
    txn_type: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Address {
    line1: Option<String>,
    line2: Option<String>,
    line3: Option<String>,
    line4: Option<String>,
    line5: Option<String>,
    city: Option<String>,
    country_sub_division_code: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmailAddr {
    address: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Phone {
    free_form_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Memo {
    value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QboCustomer {
    id: String,
    display_name: String,
    parent_ref: Option<Ref>,
    primary_email_addr: Option<EmailAddr>,
    primary_phone: Option<Phone>,
    mobile: Option<Phone>,
    bill_addr: Option<Address>,
    ship_addr: Option<Address>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SalesItemDetail {
    item_ref: Option<ItemRef>,
    unit_price: Option<Decimal>,
    qty: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize)]
struct ItemRef {
    name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
/// QuickBooks' tax summary of a document.
struct TaxDetail {
    total_tax: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QboLine {
    description: Option<String>,
    amount: Option<Decimal>,
    #[serde(default)]
    detail_type: String,
    sales_item_line_detail: Option<SalesItemDetail>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QboInvoice {
    id: String,
    doc_number: Option<String>,
    txn_date: String,
    due_date: Option<String>,
    customer_ref: Ref,
    currency_ref: Option<Ref>,
    #[serde(default)]
    line: Vec<QboLine>,
    total_amt: Decimal,
    balance: Decimal,
    txn_tax_detail: Option<TaxDetail>,
    private_note: Option<String>,
    customer_memo: Option<Memo>,
    #[serde(default)]
    linked_txn: Vec<LinkedTxn>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QboEstimate {
    id: String,
    doc_number: Option<String>,
    txn_date: String,
    expiration_date: Option<String>,
    txn_status: Option<String>,
    customer_ref: Ref,
    currency_ref: Option<Ref>,
    #[serde(default)]
    line: Vec<QboLine>,
    total_amt: Decimal,
    txn_tax_detail: Option<TaxDetail>,
    customer_memo: Option<Memo>,
    #[serde(default)]
    linked_txn: Vec<LinkedTxn>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PaymentLine {
    amount: Decimal,
    #[serde(default)]
    linked_txn: Vec<LinkedTxn>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QboPayment {
    id: String,
    txn_date: String,
    customer_ref: Ref,
    currency_ref: Option<Ref>,
    total_amt: Decimal,
    unapplied_amt: Option<Decimal>,
    private_note: Option<String>,
    payment_ref_num: Option<String>,
    #[serde(default)]
    line: Vec<PaymentLine>,
}

#[derive(Deserialize)]
struct CustomerEntry {
    #[serde(rename = "Customer")]
    inner: QboCustomer,
}

#[derive(Deserialize)]
struct InvoiceEntry {
    #[serde(rename = "Invoice")]
    inner: QboInvoice,
}

#[derive(Deserialize)]
struct EstimateEntry {
    #[serde(rename = "Estimate")]
    inner: QboEstimate,
}

#[derive(Deserialize)]
struct PaymentEntry {
    #[serde(rename = "Payment")]
    inner: QboPayment,
}

/// A parsed QuickBooks export directory.
#[derive(Debug, Clone)]
pub struct QboExport {
    source: PathBuf,
    customers: Vec<QboCustomer>,
    invoices: Vec<QboInvoice>,
    estimates: Vec<QboEstimate>,
    payments: Vec<QboPayment>,
}

impl QboExport {
    /// Reads the four files of an export directory; all four must be there, so a
    /// mistyped directory is an error rather than an import of nothing.
    pub fn read_dir(dir: &Path) -> Result<Self, QboError> {
        let customers: Vec<CustomerEntry> = read_array(dir, "customers.json", "customer")?;
        let invoices: Vec<InvoiceEntry> = read_array(dir, "invoices.json", "invoice")?;
        let estimates: Vec<EstimateEntry> = read_array(dir, "estimates.json", "estimate")?;
        let payments: Vec<PaymentEntry> = read_array(dir, "payments.json", "payment")?;
        Ok(Self {
            source: dir.to_path_buf(),
            customers: customers.into_iter().map(|e| e.inner).collect(),
            invoices: invoices.into_iter().map(|e| e.inner).collect(),
            estimates: estimates.into_iter().map(|e| e.inner).collect(),
            payments: payments.into_iter().map(|e| e.inner).collect(),
        })
    }

    /// The directory the export was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }
}

fn read_array<T: DeserializeOwned>(
    dir: &Path,
    file: &str,
    entity: &'static str,
) -> Result<Vec<T>, QboError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|source| QboError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| QboError::Parse {
        path,
        entity,
        source,
    })
}

// ---------------------------------------------------------------------------------------
// The plan: what the export becomes in Porchlight.
// ---------------------------------------------------------------------------------------

/// A record that belongs in one client's partition.
#[derive(Debug, Clone, PartialEq)]
pub struct ForClient<T> {
    pub client_id: ClientId,
    /// The QuickBooks Id the record came from.
    pub qbo_id: String,
    pub record: T,
}

/// The clients one email address reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailReach {
    pub email: String,
    pub clients: Vec<ClientRef>,
}

/// A QuickBooks record the import did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub entity: &'static str,
    pub qbo_id: String,
    pub reason: String,
}

/// Something imported that staff may want to know about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub entity: &'static str,
    pub qbo_id: String,
    pub note: String,
}

/// Everything an import will write, decided before anything is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportPlan {
    pub clients: Vec<Client>,
    pub emails: Vec<EmailReach>,
    pub jobs: Vec<ForClient<Job>>,
    pub proposals: Vec<ForClient<Proposal>>,
    pub acceptances: Vec<ForClient<Acceptance>>,
    pub invoices: Vec<ForClient<Invoice>>,
    pub payments: Vec<ForClient<Payment>>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<Note>,
}

/// What a QuickBooks estimate's `TxnStatus` means for its proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimateOutcome {
    /// Still waiting for the client.
    Open,
    /// The client turned it down.
    Declined,
    /// Accepted in QuickBooks (or already turned into an invoice there).
    AcceptedInQuickBooks,
}

/// Maps `TxnStatus`; `None` for a status this import does not know. QuickBooks treats a
/// missing status as Pending.
pub fn estimate_outcome(status: Option<&str>) -> Option<EstimateOutcome> {
    match status.map(str::trim).unwrap_or("Pending") {
        "Pending" => Some(EstimateOutcome::Open),
        "Rejected" => Some(EstimateOutcome::Declined),
        // "Converted" is what some QuickBooks versions call a Closed estimate.
        "Accepted" | "Closed" | "Converted" => Some(EstimateOutcome::AcceptedInQuickBooks),
        _ => None,
    }
}

/// Whether a transaction is one QuickBooks voided. Voiding zeroes the amounts and puts
/// "Voided" at the start of the private note; both must hold, so neither a zero-amount
/// invoice nor a note that merely mentions voiding is taken for a void.
pub fn is_voided(private_note: Option<&str>, total: &Money) -> bool {
    let marked = private_note
        .map(str::trim_start)
        .and_then(|note| note.get(..6))
        .is_some_and(|word| word.eq_ignore_ascii_case("voided"));
    marked && total.is_zero()
}

/// The client a QuickBooks customer's documents belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub client_id: ClientId,
    pub client_name: String,
    /// Set when the customer is a sub-customer: its name, used as the property name.
    pub property_name: Option<String>,
}

/// The customers of an export, indexed for finding each one's top-level ancestor.
struct Customers<'a> {
    by_id: HashMap<&'a str, &'a QboCustomer>,
    secret: &'a str,
}

impl<'a> Customers<'a> {
    fn new(customers: &'a [QboCustomer], secret: &'a str) -> Self {
        let by_id = customers.iter().map(|c| (c.id.as_str(), c)).collect();
        Self { by_id, secret }
    }

    /// The top-level customer above `id` (itself if it has no parent).
    fn top_level(&self, id: &str) -> Result<&'a QboCustomer, String> {
        let mut current = *self
            .by_id
            .get(id)
            .ok_or_else(|| format!("customer {id} is not in the export"))?;
        let mut seen = HashSet::new();
        while let Some(parent) = parent_of(current) {
            if !seen.insert(current.id.as_str()) {
                return Err(format!("the parents of customer {id} form a loop"));
            }
            current = *self.by_id.get(parent).ok_or_else(|| {
                format!("customer {id} has parent {parent}, which is not in the export")
            })?;
        }
        Ok(current)
    }

    fn owner(&self, id: &str) -> Result<Owner, String> {
        let top = self.top_level(id)?;
        let property_name = (top.id != id)
            .then(|| self.by_id.get(id).map(|c| c.display_name.trim().to_owned()))
            .flatten();
        Ok(Owner {
            client_id: client_id(self.secret, &top.id),
            client_name: top.display_name.trim().to_owned(),
            property_name,
        })
    }
}

/// A sub-customer's parent. QuickBooks marks sub-customers with `Job: true` and a
/// `ParentRef`; the reference is what places the customer, so it alone is followed.
fn parent_of(customer: &QboCustomer) -> Option<&str> {
    customer.parent_ref.as_ref().map(|r| r.value.as_str())
}

fn client_id(secret: &str, customer: &str) -> ClientId {
    ClientId::derived(secret, &format!("qbo:customer:{customer}"))
}

fn property_id(secret: &str, customer: &str) -> DocumentId {
    DocumentId::derived(secret, &format!("qbo:customer:{customer}"))
}

fn invoice_id(secret: &str, invoice: &str) -> DocumentId {
    DocumentId::derived(secret, &format!("qbo:invoice:{invoice}"))
}

fn proposal_id(secret: &str, estimate: &str) -> DocumentId {
    DocumentId::derived(secret, &format!("qbo:estimate:{estimate}"))
}

fn job_id(secret: &str, estimate: &str) -> DocumentId {
    DocumentId::derived(secret, &format!("qbo:estimate:{estimate}:job"))
}

fn payment_id(secret: &str, payment: &str) -> DocumentId {
    DocumentId::derived(secret, &format!("qbo:payment:{payment}"))
}

/// Decides everything an import of `export` into `company` writes.
pub fn plan(export: &QboExport, company: &Company) -> ImportPlan {
    let mut plan = ImportPlan::default();
    let customers = Customers::new(&export.customers, &company.id_secret);

    plan_clients(export, &customers, company, &mut plan);

    let links = EstimateLinks::new(export);
    let mut estimate_clients = HashMap::new();
    for estimate in &export.estimates {
        match plan_estimate(estimate, &customers, &links, export, company) {
            Ok(planned) => {
                estimate_clients.insert(estimate.id.as_str(), planned.job.client_id.clone());
                plan.jobs.push(planned.job);
                plan.proposals.push(planned.proposal);
                plan.acceptances.extend(planned.acceptance);
            }
            Err(reason) => plan.skipped.push(skipped("estimate", &estimate.id, reason)),
        }
    }

    for invoice in &export.invoices {
        match plan_invoice(invoice, &customers, &links, &estimate_clients, company) {
            Ok(planned) => plan.invoices.push(planned),
            Err(reason) => plan.skipped.push(skipped("invoice", &invoice.id, reason)),
        }
    }

    let invoice_ids: HashSet<&str> = export.invoices.iter().map(|i| i.id.as_str()).collect();
    for payment in &export.payments {
        match plan_payment(payment, &customers, company) {
            Ok((planned, applied_to)) => {
                for missing in applied_to
                    .iter()
                    .filter(|id| !invoice_ids.contains(id.as_str()))
                {
                    plan.notes.push(Note {
                        entity: "payment",
                        qbo_id: payment.id.clone(),
                        note: format!("applied to invoice {missing}, which is not in the export"),
                    });
                }
                plan.payments.push(planned);
            }
            Err(reason) => plan.skipped.push(skipped("payment", &payment.id, reason)),
        }
    }
    plan
}

fn owned<T>(owner: &Owner, qbo_id: &str, record: T) -> ForClient<T> {
    ForClient {
        client_id: owner.client_id.clone(),
        qbo_id: qbo_id.to_owned(),
        record,
    }
}

fn skipped(entity: &'static str, qbo_id: &str, reason: String) -> Skipped {
    Skipped {
        entity,
        qbo_id: qbo_id.to_owned(),
        reason,
    }
}

/// Top-level customers become clients; sub-customers become properties of their top-level
/// ancestor and lend it their email addresses.
fn plan_clients(
    export: &QboExport,
    customers: &Customers<'_>,
    company: &Company,
    plan: &mut ImportPlan,
) {
    let secret = company.id_secret.as_str();
    let mut clients: Vec<Client> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for customer in export.customers.iter().filter(|c| parent_of(c).is_none()) {
        index.insert(customer.id.as_str(), clients.len());
        clients.push(Client {
            id: client_id(secret, &customer.id),
            name: customer.display_name.trim().to_owned(),
            emails: usable_emails(customer, &mut plan.notes),
            phone: phone_of(customer),
            billing_address: customer.bill_addr.as_ref().and_then(one_line),
            properties: Vec::new(),
        });
    }

    for customer in export.customers.iter().filter(|c| parent_of(c).is_some()) {
        let top = match customers.top_level(&customer.id) {
            Ok(top) => top,
            Err(reason) => {
                plan.skipped.push(skipped("customer", &customer.id, reason));
                continue;
            }
        };
        let Some(client) = index.get(top.id.as_str()).and_then(|&i| clients.get_mut(i)) else {
            continue;
        };
        for email in usable_emails(customer, &mut plan.notes) {
            if !client.emails.contains(&email) {
                client.emails.push(email);
            }
        }
        client.properties.push(Property {
            id: property_id(secret, &customer.id),
            name: customer.display_name.trim().to_owned(),
            address: customer
                .ship_addr
                .as_ref()
                .or(customer.bill_addr.as_ref())
                .and_then(one_line),
        });
    }

    let mut reach: BTreeMap<String, Vec<ClientRef>> = BTreeMap::new();
    for client in &clients {
        for email in &client.emails {
            reach.entry(email.clone()).or_default().push(ClientRef {
                id: client.id.clone(),
                name: client.name.clone(),
            });
        }
    }
    plan.emails = reach
        .into_iter()
        .map(|(email, mut clients)| {
            // The stored list is compared as a whole on re-import, so its order must not
            // depend on the order of the export.
            clients.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            clients.dedup_by(|a, b| a.id == b.id);
            EmailReach { email, clients }
        })
        .collect();
    plan.clients = clients;
}

/// A customer's sign-in addresses, and the entries that are not addresses. QuickBooks
/// allows several addresses in one field, separated by commas or semicolons.
fn emails_of(customer: &QboCustomer) -> (Vec<String>, Vec<String>) {
    let field = customer
        .primary_email_addr
        .as_ref()
        .and_then(|e| e.address.as_deref())
        .unwrap_or("");
    let mut emails: Vec<String> = Vec::new();
    let mut refused = Vec::new();
    for entry in field
        .split([',', ';'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match Mailbox::parse(entry) {
            Ok(mailbox) if !emails.contains(&mailbox.address) => emails.push(mailbox.address),
            Ok(_) => {}
            Err(_) => refused.push(entry.to_owned()),
        }
    }
    (emails, refused)
}

/// The customer's addresses; entries no login link could be sent to become notes.
fn usable_emails(customer: &QboCustomer, notes: &mut Vec<Note>) -> Vec<String> {
    let (emails, refused) = emails_of(customer);
    for entry in refused {
        notes.push(Note {
            entity: "customer",
            qbo_id: customer.id.clone(),
            note: format!("`{entry}` is not an email address; left out"),
        });
    }
    emails
}

fn phone_of(customer: &QboCustomer) -> Option<String> {
    [&customer.primary_phone, &customer.mobile]
        .into_iter()
        .flatten()
        .filter_map(|p| p.free_form_number.as_deref())
        .map(str::trim)
        .find(|number| !number.is_empty())
        .map(str::to_owned)
}

/// An address on one line: street lines, then `City, ST 94326`, then the country.
fn one_line(address: &Address) -> Option<String> {
    let mut parts: Vec<String> = [
        &address.line1,
        &address.line2,
        &address.line3,
        &address.line4,
        &address.line5,
        &address.city,
    ]
    .into_iter()
    .filter_map(|part| non_empty(part.as_deref()))
    .collect();
    let region: Vec<String> = [&address.country_sub_division_code, &address.postal_code]
        .into_iter()
        .filter_map(|part| non_empty(part.as_deref()))
        .collect();
    if !region.is_empty() {
        parts.push(region.join(" "));
    }
    parts.extend(non_empty(address.country.as_deref()));
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Which invoice each estimate became. QuickBooks records the link on both sides; either
/// side is enough.
struct EstimateLinks<'a> {
    invoice_of: HashMap<&'a str, &'a str>,
    estimate_of: HashMap<&'a str, &'a str>,
}

impl<'a> EstimateLinks<'a> {
    fn new(export: &'a QboExport) -> Self {
        let mut links = Self {
            invoice_of: HashMap::new(),
            estimate_of: HashMap::new(),
        };
        for estimate in &export.estimates {
            for link in estimate
                .linked_txn
                .iter()
                .filter(|l| l.txn_type == "Invoice")
            {
                links.link(&estimate.id, &link.txn_id);
            }
        }
        for invoice in &export.invoices {
            for link in invoice
                .linked_txn
                .iter()
                .filter(|l| l.txn_type == "Estimate")
            {
                links.link(&link.txn_id, &invoice.id);
            }
        }
        links
    }

    fn link(&mut self, estimate: &'a str, invoice: &'a str) {
        self.invoice_of.entry(estimate).or_insert(invoice);
        self.estimate_of.entry(invoice).or_insert(estimate);
    }
}

struct PlannedEstimate {
    job: ForClient<Job>,
    proposal: ForClient<Proposal>,
    acceptance: Option<ForClient<Acceptance>>,
}

/// An estimate becomes a proposal with a job of its own, created in the proposal stage so
/// the portal may show it; an estimate QuickBooks already accepted also gets a staff
/// acceptance, which takes it out of the portal.
fn plan_estimate(
    estimate: &QboEstimate,
    customers: &Customers<'_>,
    links: &EstimateLinks<'_>,
    export: &QboExport,
    company: &Company,
) -> Result<PlannedEstimate, String> {
    let secret = company.id_secret.as_str();
    let owner = customers.owner(&estimate.customer_ref.value)?;
    let currency = currency_of(estimate.currency_ref.as_ref(), company)?;
    let outcome = estimate_outcome(estimate.txn_status.as_deref()).ok_or_else(|| {
        format!(
            "unknown TxnStatus `{}`",
            estimate.txn_status.as_deref().unwrap_or("")
        )
    })?;

    let created_on = date("TxnDate", &estimate.txn_date)?;
    let valid_until = match &estimate.expiration_date {
        Some(text) => date("ExpirationDate", text)?,
        None => created_on
            .checked_add_days(Days::new(u64::from(company.settings.proposal_open_days)))
            .ok_or_else(|| format!("TxnDate `{}` is too late", estimate.txn_date))?,
    };
    let total = money("TotalAmt", &estimate.total_amt, &currency)?;
    let lines = lines(&estimate.line, estimate.txn_tax_detail.as_ref(), &total)?;
    let accepted = outcome == EstimateOutcome::AcceptedInQuickBooks;

    let job = Job {
        id: job_id(secret, &estimate.id),
        title: lines
            .first()
            .map(|line| line.description.clone())
            .unwrap_or_else(|| format!("Estimate {}", number(&estimate.doc_number, &estimate.id))),
        kind: JobKind::OneOff,
        created_stage: Stage::Proposal,
        // Accepting a proposal moves its job to active; an estimate accepted in QuickBooks
        // arrives in that state.
        stage: if accepted {
            Stage::Active
        } else {
            Stage::Proposal
        },
        work_date: None,
        completed_on: None,
        property_id: None,
        fixed_invoice: None,
    };
    let proposal = Proposal {
        id: proposal_id(secret, &estimate.id),
        number: number(&estimate.doc_number, &estimate.id),
        job_id: Some(job.id.clone()),
        property_name: owner.property_name.clone(),
        created_on,
        valid_until,
        state: match outcome {
            EstimateOutcome::Declined => ProposalState::Declined,
            _ => ProposalState::Open,
        },
        lines,
        total,
        message: memo(estimate.customer_memo.as_ref()),
    };

    let acceptance = if accepted {
        let accepted_on = accepted_on(estimate, links, export)?.unwrap_or(created_on);
        Some(Acceptance {
            proposal_id: proposal.id.clone(),
            channel: Channel::Staff,
            accepted_at: noon_in(company, accepted_on),
            accepted_on,
            accepted_by: ACCEPTED_BY.to_owned(),
            accepted_by_email: None,
            source_ip: None,
        })
    } else {
        None
    };

    Ok(PlannedEstimate {
        job: owned(&owner, &estimate.id, job),
        proposal: owned(&owner, &estimate.id, proposal),
        acceptance: acceptance.map(|record| owned(&owner, &estimate.id, record)),
    })
}

/// The date of the invoice an accepted estimate became, when that invoice is in the export.
fn accepted_on(
    estimate: &QboEstimate,
    links: &EstimateLinks<'_>,
    export: &QboExport,
) -> Result<Option<NaiveDate>, String> {
    let Some(invoice) = links.invoice_of.get(estimate.id.as_str()) else {
        return Ok(None);
    };
    export
        .invoices
        .iter()
        .find(|i| i.id == *invoice)
        .map(|i| date("TxnDate of the linked invoice", &i.txn_date))
        .transpose()
}

/// QuickBooks keeps only the day of an acceptance. Noon in the company's zone exists on
/// every date and stays on that date in every zone near it.
fn noon_in(company: &Company, day: NaiveDate) -> DateTime<Utc> {
    let noon = day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN));
    company
        .time_zone
        .from_local_datetime(&noon)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| noon.and_utc())
}

fn plan_invoice(
    invoice: &QboInvoice,
    customers: &Customers<'_>,
    links: &EstimateLinks<'_>,
    estimate_clients: &HashMap<&str, ClientId>,
    company: &Company,
) -> Result<ForClient<Invoice>, String> {
    let secret = company.id_secret.as_str();
    let owner = customers.owner(&invoice.customer_ref.value)?;
    let currency = currency_of(invoice.currency_ref.as_ref(), company)?;

    let total = money("TotalAmt", &invoice.total_amt, &currency)?;
    let balance = money("Balance", &invoice.balance, &currency)?;
    let due_date = invoice
        .due_date
        .as_deref()
        .map(|text| date("DueDate", text))
        .transpose()?;

    // The estimate's job holds the invoice only when it sits in the same client's
    // partition; a job id pointing into another partition would never resolve.
    let job_id = links
        .estimate_of
        .get(invoice.id.as_str())
        .filter(|estimate| estimate_clients.get(**estimate) == Some(&owner.client_id))
        .map(|estimate| job_id(secret, estimate));

    let record = Invoice {
        id: invoice_id(secret, &invoice.id),
        number: number(&invoice.doc_number, &invoice.id),
        billing: Billing::OneOff,
        job_id,
        property_name: owner.property_name.clone(),
        invoice_date: Some(date("TxnDate", &invoice.txn_date)?),
        due_date,
        lines: lines(&invoice.line, invoice.txn_tax_detail.as_ref(), &total)?,
        voided: is_voided(invoice.private_note.as_deref(), &total),
        approved_on: None,
        sent_on: None,
        total,
        balance,
        // The private note is for staff only; clients see the customer memo.
        memo: memo(invoice.customer_memo.as_ref()),
    };
    Ok(owned(&owner, &invoice.id, record))
}

/// A payment and the QuickBooks ids of the invoices it was applied to.
fn plan_payment(
    payment: &QboPayment,
    customers: &Customers<'_>,
    company: &Company,
) -> Result<(ForClient<Payment>, Vec<String>), String> {
    let secret = company.id_secret.as_str();
    let owner = customers.owner(&payment.customer_ref.value)?;
    let currency = currency_of(payment.currency_ref.as_ref(), company)?;

    let amount = money("TotalAmt", &payment.total_amt, &currency)?;
    let unapplied = match &payment.unapplied_amt {
        Some(value) => money("UnappliedAmt", value, &currency)?,
        None => Money::zero(currency.clone()),
    };

    let mut applied = Vec::new();
    let mut invoices = Vec::new();
    for line in &payment.line {
        // A payment line settles one transaction; lines for credit memos or deposits have
        // no invoice to point at.
        let Some(link) = line.linked_txn.iter().find(|l| l.txn_type == "Invoice") else {
            continue;
        };
        applied.push(AppliedPayment {
            invoice_id: invoice_id(secret, &link.txn_id),
            amount: money("Line.Amount", &line.amount, &currency)?,
        });
        invoices.push(link.txn_id.clone());
    }

    let record = Payment {
        id: payment_id(secret, &payment.id),
        received_on: date("TxnDate", &payment.txn_date)?,
        voided: is_voided(payment.private_note.as_deref(), &amount),
        refunded: None,
        amount,
        unapplied,
        applied,
        reference: non_empty(payment.payment_ref_num.as_deref()),
    };
    Ok((owned(&owner, &payment.id, record), invoices))
}

/// Proposal and invoice lines: the item lines, then each discount as a negative line and
/// the sales tax as a last line, so the lines add up to the document's total. Subtotal
/// lines are left out: they only repeat the sum of the lines above them.
fn lines(source: &[QboLine], tax: Option<&TaxDetail>, total: &Money) -> Result<Vec<Line>, String> {
    let currency = &total.currency;
    let mut lines = Vec::new();
    for line in source {
        match line.detail_type.as_str() {
            "SalesItemLineDetail" => lines.push(item_line(line, currency)?),
            "DiscountLineDetail" => {
                let amount = line
                    .amount
                    .as_ref()
                    .ok_or_else(|| "a discount line has no Amount".to_owned())?;
                let amount = money("Line.Amount", amount, currency)?;
                lines.push(Line {
                    kind: LineKind::Discount,
                    description: non_empty(line.description.as_deref())
                        .unwrap_or_else(|| "Discount".to_owned()),
                    quantity: None,
                    unit_price: None,
                    amount: Money::new(-amount.minor.abs(), amount.currency),
                });
            }
            _ => {}
        }
    }
    if let Some(total_tax) = tax.and_then(|t| t.total_tax.as_ref()) {
        let amount = money("TxnTaxDetail.TotalTax", total_tax, currency)?;
        if !amount.is_zero() {
            lines.push(Line {
                kind: LineKind::Tax,
                description: "Sales tax".to_owned(),
                quantity: None,
                unit_price: None,
                amount,
            });
        }
    }
    // Some records list only a subtotal, without the items behind it. Say so in a line
    // rather than show lines that do not add up to what is owed.
    let listed: i64 = lines.iter().map(|l| l.amount.minor).sum();
    if listed != total.minor {
        let at = lines
            .iter()
            .position(|l| l.kind == LineKind::Tax)
            .unwrap_or(lines.len());
        let missing = Line {
            kind: LineKind::Item,
            description: "Items not itemised in the record".to_owned(),
            quantity: None,
            unit_price: None,
            amount: Money::new(total.minor - listed, currency.clone()),
        };
        lines.insert(at, missing);
    }
    Ok(lines)
}

fn item_line(line: &QboLine, currency: &Currency) -> Result<Line, String> {
    let detail = line.sales_item_line_detail.as_ref();
    let amount = line
        .amount
        .as_ref()
        .ok_or_else(|| "an item line has no Amount".to_owned())?;
    let item_name = detail
        .and_then(|d| d.item_ref.as_ref())
        .and_then(|item| item.name.as_deref());
    Ok(Line {
        kind: LineKind::Item,
        description: non_empty(line.description.as_deref())
            .or_else(|| non_empty(item_name))
            .unwrap_or_else(|| "Item".to_owned()),
        quantity: detail
            .and_then(|d| d.qty.as_ref())
            .map(|q| q.as_str().to_owned()),
        // QuickBooks allows unit prices finer than the currency (0.125); such a
        // price cannot be shown as money and the line amount says what is owed.
        unit_price: detail
            .and_then(|d| d.unit_price.as_ref())
            .and_then(|p| p.to_money(currency)),
        amount: money("Line.Amount", amount, currency)?,
    })
}

fn money(field: &str, value: &Decimal, currency: &Currency) -> Result<Money, String> {
    value.to_money(currency).ok_or_else(|| {
        format!(
            "{field} `{}` is not an amount in {}",
            value.as_str(),
            currency.code()
        )
    })
}

fn date(field: &str, text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{field} `{text}` is not a date"))
}

/// A document in another currency than the company's would be summed with the wrong unit.
fn currency_of(currency: Option<&Ref>, company: &Company) -> Result<Currency, String> {
    match currency {
        Some(code) if code.value.trim() != company.currency.code() => Err(format!(
            "currency {} differs from the company's {}",
            code.value.trim(),
            company.currency.code()
        )),
        _ => Ok(company.currency.clone()),
    }
}

fn number(doc_number: &Option<String>, id: &str) -> String {
    non_empty(doc_number.as_deref()).unwrap_or_else(|| id.to_owned())
}

fn memo(memo: Option<&Memo>) -> Option<String> {
    non_empty(memo.and_then(|m| m.value.as_deref()))
}

// ---------------------------------------------------------------------------------------
// Writing the plan.
// ---------------------------------------------------------------------------------------

/// What the writes of one kind of record did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
}

impl Counts {
    fn add(&mut self, outcome: WriteOutcome) {
        match outcome {
            WriteOutcome::Created => self.created += 1,
            WriteOutcome::Updated => self.updated += 1,
            WriteOutcome::Unchanged => self.unchanged += 1,
        }
    }

    /// Records written (created or updated).
    pub fn changed(&self) -> u32 {
        self.created + self.updated
    }

    pub fn total(&self) -> u32 {
        self.changed() + self.unchanged
    }
}

/// What an import did, per kind of record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub company: CompanySlug,
    pub source: String,
    pub clients: Counts,
    /// Email addresses and the clients each reaches.
    pub emails: Counts,
    pub jobs: Counts,
    pub proposals: Counts,
    /// Acceptances recorded in QuickBooks; one already on record is never replaced.
    pub acceptances: Counts,
    pub invoices: Counts,
    pub payments: Counts,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<Note>,
}

impl ImportSummary {
    /// Whether the import wrote anything.
    pub fn changed_anything(&self) -> bool {
        self.rows().iter().any(|(_, counts)| counts.changed() > 0)
    }

    fn rows(&self) -> [(&'static str, Counts); 7] {
        [
            ("clients", self.clients),
            ("emails", self.emails),
            ("jobs", self.jobs),
            ("proposals", self.proposals),
            ("acceptances", self.acceptances),
            ("invoices", self.invoices),
            ("payments", self.payments),
        ]
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "QuickBooks import of {} into {}",
            self.source, self.company
        )?;
        writeln!(
            f,
            "{:<12} {:>8} {:>8} {:>10}",
            "", "created", "updated", "unchanged"
        )?;
        for (name, counts) in self.rows() {
            writeln!(
                f,
                "{name:<12} {:>8} {:>8} {:>10}",
                counts.created, counts.updated, counts.unchanged
            )?;
        }
        if self.skipped.is_empty() {
            writeln!(f, "skipped: none")?;
        } else {
            writeln!(f, "skipped:")?;
            for skip in &self.skipped {
                writeln!(f, "  {} {}: {}", skip.entity, skip.qbo_id, skip.reason)?;
            }
        }
        for note in &self.notes {
            writeln!(f, "note: {} {}: {}", note.entity, note.qbo_id, note.note)?;
        }
        Ok(())
    }
}

/// Reads an export directory and imports it into `company`.
pub async fn import_dir(
    store: &Store,
    company: &Company,
    dir: &Path,
) -> Result<ImportSummary, QboError> {
    let export = QboExport::read_dir(dir)?;
    let plan = plan(&export, company);
    apply(store, company, &plan, &export.source.display().to_string()).await
}

/// Writes a plan. The order keeps every halfway state safe: clients before anything that
/// points at them, an estimate's acceptance before its proposal (so a proposal QuickBooks
/// already accepted is never open for a moment), and email addresses last, so an address
/// never reaches a client whose documents are not on record yet.
///
/// Known gap: the import adds and updates, never removes. An address taken off a customer
/// in QuickBooks keeps reaching the client until staff remove it.
pub async fn apply(
    store: &Store,
    company: &Company,
    plan: &ImportPlan,
    source: &str,
) -> Result<ImportSummary, QboError> {
    let slug = &company.slug;
    let mut summary = ImportSummary {
        company: slug.clone(),
        source: source.to_owned(),
        clients: Counts::default(),
        emails: Counts::default(),
        jobs: Counts::default(),
        proposals: Counts::default(),
        acceptances: Counts::default(),
        invoices: Counts::default(),
        payments: Counts::default(),
        skipped: plan.skipped.clone(),
        notes: plan.notes.clone(),
    };

    for client in &plan.clients {
        summary.clients.add(store.save_client(slug, client).await?);
    }

    for job in &plan.jobs {
        let key = keys::job(slug, &job.client_id, &job.record.id);
        let outcome = store.upsert_record(&key, Entity::Job, &job.record, None);
        summary.jobs.add(outcome.await?);
    }
    for acceptance in &plan.acceptances {
        let outcome =
            store.record_outside_acceptance(slug, &acceptance.client_id, &acceptance.record);
        summary.acceptances.add(outcome.await?);
    }
    for proposal in &plan.proposals {
        let key = keys::proposal(slug, &proposal.client_id, &proposal.record.id);
        let outcome = store.upsert_record(&key, Entity::Proposal, &proposal.record, None);
        summary.proposals.add(outcome.await?);
    }

    for invoice in &plan.invoices {
        let key = keys::invoice(slug, &invoice.client_id, &invoice.record.id);
        let outcome = store.upsert_record(&key, Entity::Invoice, &invoice.record, None);
        summary.invoices.add(outcome.await?);
    }
    for payment in &plan.payments {
        let key = keys::payment(slug, &payment.client_id, &payment.record.id);
        let outcome = store.upsert_record(&key, Entity::Payment, &payment.record, None);
        summary.payments.add(outcome.await?);
    }

    for reach in &plan.emails {
        let outcome = store.set_email_clients(slug, &reach.email, &reach.clients);
        summary.emails.add(outcome.await?);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    use porchlight_shared::domain::Settings;

    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/qbo-sample");

    fn company() -> Company {
        Company {
            slug: CompanySlug::parse("craigs-landscaping").expect("test data is valid"),
            name: "Craig's Design and Landscaping Services".into(),
            time_zone: chrono_tz::America::Los_Angeles,
            currency: Currency::usd(),
            notify_email: "craig@example.com".into(),
            id_secret: "test-secret".into(),
            settings: Settings::default(),
            created_at: "2026-01-01T00:00:00Z".parse().expect("test data is valid"),
        }
    }

    fn sample_plan() -> (ImportPlan, Company) {
        let company = company();
        let export = QboExport::read_dir(Path::new(SAMPLE)).expect("the sample export reads");
        (plan(&export, &company), company)
    }

    /// Item, discount and tax lines add up to QuickBooks' total on every document, so an
    /// invoice page never lists lines that disagree with the amount owed.
    #[test]
    fn lines_add_up_to_every_total() {
        let (plan, _) = sample_plan();
        let sum = |lines: &[Line]| lines.iter().map(|l| l.amount.minor).sum::<i64>();
        for invoice in &plan.invoices {
            let record = &invoice.record;
            assert_eq!(
                sum(&record.lines),
                record.total.minor,
                "invoice {}",
                record.number
            );
        }
        for proposal in &plan.proposals {
            let record = &proposal.record;
            assert_eq!(
                sum(&record.lines),
                record.total.minor,
                "estimate {}",
                proposal.qbo_id
            );
        }
        let invoice = &invoice_numbered(&plan, "1021").record;
        let tax = invoice
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Tax)
            .expect("a tax line");
        assert_eq!(tax.amount.minor, 3400);
    }

    fn client_named<'a>(plan: &'a ImportPlan, name: &str) -> &'a Client {
        plan.clients
            .iter()
            .find(|c| c.name == name)
            .expect("client is planned")
    }

    fn invoice_numbered<'a>(plan: &'a ImportPlan, number: &str) -> &'a ForClient<Invoice> {
        plan.invoices
            .iter()
            .find(|i| i.record.number == number)
            .expect("invoice is planned")
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("test data is valid")
    }

    #[test]
    fn amounts_come_from_the_number_text() {
        #[derive(Deserialize)]
        struct Amounts {
            a: Decimal,
            b: Decimal,
            c: Decimal,
            d: Decimal,
            e: Decimal,
        }
        let json = r#"{"a": 226.75, "b": 100, "c": 100.0, "d": 1675.52, "e": "-15.00"}"#;
        let amounts: Amounts = serde_json::from_str(json).expect("test data is valid");
        let usd = Currency::usd();
        let cents = |d: &Decimal| d.to_money(&usd).map(|m| m.minor);

        assert_eq!(cents(&amounts.a), Some(22675));
        assert_eq!(cents(&amounts.b), Some(10000));
        assert_eq!(cents(&amounts.c), Some(10000));
        assert_eq!(cents(&amounts.d), Some(167552));
        assert_eq!(cents(&amounts.e), Some(-1500));
        assert_eq!(amounts.c.as_str(), "100.0");
    }

    #[test]
    fn amounts_that_are_not_money_are_refused() {
        let usd = Currency::usd();
        let finer: Decimal = serde_json::from_str("0.125").expect("test data is valid");
        assert_eq!(finer.to_money(&usd), None);
        let exponent: Decimal = serde_json::from_str("1e3").expect("test data is valid");
        assert_eq!(exponent.to_money(&usd), None);
        assert!(serde_json::from_str::<Decimal>("true").is_err());
    }

    #[test]
    fn voids_need_the_note_and_a_zero_total() {
        let usd = |minor| Money::new(minor, Currency::usd());
        let rows = [
            (Some("Voided"), 0, true),
            (Some("  voided - entered twice"), 0, true),
            (Some("Voided"), 47750, false),
            (None, 0, false),
            (Some("Front yard, hedges, and sidewalks"), 0, false),
            (Some("Void"), 0, false),
        ];
        for (note, total, expected) in rows {
            assert_eq!(
                is_voided(note, &usd(total)),
                expected,
                "{note:?} with {total}"
            );
        }
    }

    #[test]
    fn estimate_statuses_map_to_outcomes() {
        let rows = [
            (Some("Pending"), Some(EstimateOutcome::Open)),
            (None, Some(EstimateOutcome::Open)),
            (Some("Rejected"), Some(EstimateOutcome::Declined)),
            (
                Some("Accepted"),
                Some(EstimateOutcome::AcceptedInQuickBooks),
            ),
            (Some("Closed"), Some(EstimateOutcome::AcceptedInQuickBooks)),
            (Some("Mystery"), None),
        ];
        for (status, expected) in rows {
            assert_eq!(estimate_outcome(status), expected, "{status:?}");
        }
    }

    #[test]
    fn top_level_customers_become_clients() {
        let (plan, company) = sample_plan();

        assert_eq!(plan.clients.len(), 26);
        assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);

        let amy = client_named(&plan, "Amy's Bird Sanctuary");
        assert_eq!(
            amy.id,
            ClientId::derived(&company.id_secret, "qbo:customer:1")
        );
        assert_eq!(amy.emails, ["birds@example.com"]);
        assert_eq!(amy.phone.as_deref(), Some("(650) 555-0100"));
        assert_eq!(
            amy.billing_address.as_deref(),
            Some("4581 Finch St., Bayshore, CA 94326")
        );
    }

    #[test]
    fn sub_customers_become_properties_of_their_parent() {
        let (plan, _) = sample_plan();

        let freeman = client_named(&plan, "Freeman Sporting Goods");
        let names: Vec<&str> = freeman.properties.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["0969 Ocean View Road", "55 Twin Lane"]);
        assert_eq!(freeman.emails, ["sporting_goods@example.com"]);
        let barnett = client_named(&plan, "Shara Barnett");
        assert_eq!(barnett.properties.len(), 1);
        assert_eq!(barnett.properties[0].name, "Barnett Design");

        let twin_lane = invoice_numbered(&plan, "1005");
        assert_eq!(twin_lane.client_id, freeman.id);
        assert_eq!(
            twin_lane.record.property_name.as_deref(),
            Some("55 Twin Lane")
        );
        assert_eq!(twin_lane.record.balance.minor, 400);
    }

    #[test]
    fn shared_addresses_reach_every_client_they_belong_to() {
        let (plan, _) = sample_plan();
        let reach = |email: &str| -> Vec<String> {
            let entry = plan
                .emails
                .iter()
                .find(|e| e.email == email)
                .expect("email planned");
            entry.clients.iter().map(|c| c.name.clone()).collect()
        };

        assert_eq!(plan.emails.len(), 26);
        assert_eq!(
            reach("qbwebsamplecompany@example.com"),
            ["Kookies by Kathy", "Red Rock Diner"]
        );
        assert_eq!(
            reach("sporting_goods@example.com"),
            ["Freeman Sporting Goods"]
        );
    }

    #[test]
    fn invoices_keep_memo_but_never_the_private_note() {
        let (plan, _) = sample_plan();

        let first = &invoice_numbered(&plan, "1001").record;
        assert_eq!(
            first.memo.as_deref(),
            Some("Thank you for your business and have a great day!")
        );
        assert_eq!(first.lines.len(), 2, "the item and the sales tax");
        assert_eq!(first.lines[1].kind, LineKind::Tax);
        assert_eq!(first.lines[0].quantity.as_deref(), Some("4"));
        assert_eq!(
            first.lines[0].unit_price.as_ref().map(|m| m.minor),
            Some(2500)
        );
        assert_eq!(first.total.minor, 10800);
        let ocean_view = &invoice_numbered(&plan, "1030").record;
        assert_eq!(ocean_view.total.minor, 22675);
    }

    #[test]
    fn the_voided_invoice_is_kept_and_marked() {
        let (plan, _) = sample_plan();

        let voided: Vec<&str> = plan
            .invoices
            .iter()
            .filter(|i| i.record.voided)
            .map(|i| i.record.number.as_str())
            .collect();
        assert_eq!(voided, ["1036"]);
        assert_eq!(plan.invoices.len(), 33);
        let voided_payments: Vec<&str> = plan
            .payments
            .iter()
            .filter(|p| p.record.voided)
            .map(|p| p.qbo_id.as_str())
            .collect();
        assert_eq!(voided_payments, ["33"]);
    }

    #[test]
    fn estimates_become_proposals_with_jobs_and_acceptances() {
        let (plan, company) = sample_plan();

        assert_eq!(plan.proposals.len(), 5);
        assert_eq!(plan.jobs.len(), 5);
        let pending = plan
            .proposals
            .iter()
            .find(|p| p.qbo_id == "177")
            .expect("test data is valid");
        assert_eq!(pending.record.state, ProposalState::Open);
        assert_eq!(pending.record.created_on, day("2015-03-26"));
        assert_eq!(pending.record.valid_until, day("2015-04-25"));
        assert_eq!(pending.record.total.minor, 3150);
        assert_eq!(
            pending.record.lines.len(),
            2,
            "the item and the 10% discount"
        );
        assert_eq!(pending.record.lines[1].amount.minor, -350);

        let accepted: Vec<(&str, NaiveDate)> = plan
            .acceptances
            .iter()
            .map(|a| (a.qbo_id.as_str(), a.record.accepted_on))
            .collect();
        assert_eq!(
            accepted,
            [
                ("41", day("2025-01-09")),
                ("46", day("2025-01-08")),
                ("48", day("2025-01-08")),
                ("100", day("2025-01-10")),
            ]
        );
        assert!(
            plan.acceptances
                .iter()
                .all(|a| a.record.channel == Channel::Staff)
        );
        assert_eq!(
            company.today(plan.acceptances[0].record.accepted_at),
            day("2025-01-09")
        );

        let job = &plan
            .jobs
            .iter()
            .find(|j| j.qbo_id == "46")
            .expect("test data is valid")
            .record;
        assert_eq!(job.title, "Pest Control Services");
        assert_eq!(job.created_stage, Stage::Proposal);
        assert_eq!(
            invoice_numbered(&plan, "1023").record.job_id.as_ref(),
            Some(&job.id)
        );
        assert_eq!(invoice_numbered(&plan, "1024").record.job_id, None);
    }

    #[test]
    fn payments_are_applied_to_derived_invoice_ids() {
        let (plan, company) = sample_plan();

        assert_eq!(plan.payments.len(), 13);
        let partial = plan
            .payments
            .iter()
            .find(|p| p.qbo_id == "163")
            .expect("test data is valid");
        assert_eq!(partial.record.amount.minor, 6500);
        assert_eq!(partial.record.unapplied.minor, 1000);
        assert_eq!(
            partial.record.applied,
            [AppliedPayment {
                invoice_id: DocumentId::derived(&company.id_secret, "qbo:invoice:70"),
                amount: Money::new(5500, Currency::usd()),
            }]
        );
        let sub_customer = plan
            .payments
            .iter()
            .find(|p| p.qbo_id == "128")
            .expect("test data is valid");
        assert_eq!(
            sub_customer.client_id,
            client_named(&plan, "Freeman Sporting Goods").id
        );
        assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    }

    #[test]
    fn documents_of_unknown_customers_are_skipped_with_the_reason() {
        let company = company();
        let mut export = QboExport::read_dir(Path::new(SAMPLE)).expect("test data is valid");
        export.payments[1].customer_ref.value = "999".into();

        let plan = plan(&export, &company);

        assert_eq!(plan.payments.len(), 12);
        assert_eq!(
            plan.skipped,
            [Skipped {
                entity: "payment",
                qbo_id: export.payments[1].id.clone(),
                reason: "customer 999 is not in the export".into(),
            }]
        );
    }
}
