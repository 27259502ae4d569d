//! The records Porchlight keeps: companies, clients, jobs, visits, proposals, invoices,
//! payments, acceptances and service requests. Plain data; rules live in [`crate::rules`].

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ids::{ClientId, CompanySlug, DocumentId};
use crate::money::{Currency, Money};
use crate::schedule::Schedule;

/// A service company and the settings its clients' portals follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub slug: CompanySlug,
    pub name: String,
    /// IANA time zone; "today" for every rule is the calendar date here.
    pub time_zone: Tz,
    pub currency: Currency,
    /// Where service requests and acceptance notices are sent.
    pub notify_email: String,
    /// Key for ids derived from imported records (see [`crate::ids`]); never shown.
    pub id_secret: String,
    #[serde(default)]
    pub settings: Settings,
    pub created_at: DateTime<Utc>,
}

impl Company {
    /// The company's calendar date at `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone).date_naive()
    }
}

/// What a company's admin can change about the portal. Stored with the company and read on
/// every page, so a change reaches every client at once. Fields added later default, so
/// older stored companies read without a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// How long a paid invoice stays, counted in months from its invoice date.
    pub paid_invoice_months: u32,
    /// Days a proposal stays open when its source gives no expiry date.
    pub proposal_open_days: u32,
    /// When invoices of one-off jobs appear.
    pub one_off_invoices: Appearance,
    /// When invoices of single visits of recurring jobs appear.
    pub per_visit_invoices: Appearance,
    /// Zero-total invoices (a free visit, a credit) are left out of the portal.
    pub hide_zero_total: bool,
    /// Card payment is offered (only once the company has connected a processor).
    pub payments_enabled: bool,
    /// The company's connected Stripe account (`acct_...`); payments go to it, and a
    /// webhook event from any other account is refused.
    pub stripe_account: Option<String>,
    /// The least a client may pay at once, in minor units, when paying part of a balance
    /// (a balance below it can still be paid in full).
    pub minimum_payment_minor: i64,
    /// How tax is rounded when Porchlight computes it (case C07).
    pub tax_rounding: TaxRounding,
}

/// How a tax line is rounded to the currency's minor unit (case C07). One method per
/// company, so the page, the Stripe amount and the recorded payment agree to the cent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxRounding {
    /// Tax of the whole document's taxable net, rounded once, half away from zero.
    #[default]
    WholeDocument,
    /// Each taxable line's tax rounded, then added up.
    PerLine,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            paid_invoice_months: 12,
            proposal_open_days: 30,
            one_off_invoices: Appearance::DateRules,
            per_visit_invoices: Appearance::DateRules,
            hide_zero_total: false,
            payments_enabled: false,
            stripe_account: None,
            minimum_payment_minor: 0,
            tax_rounding: TaxRounding::WholeDocument,
        }
    }
}

/// When a kind of invoice enters the portal. Every choice also waits for the default date
/// rule's day: the stricter choices only add a condition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Appearance {
    /// The default rules of DESIGN.md: invoice date, else work or visit date, else completion.
    #[default]
    DateRules,
    /// Also once the job (or the visit) is completed.
    OnceCompleted,
    /// Also once the invoice is approved in the back office.
    OnceApproved,
    /// Also once the invoice is marked sent.
    OnceSent,
}

/// One account of a company: a person or business, with its properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    /// Lowercased addresses that can sign in to this account.
    pub emails: Vec<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub billing_address: Option<String>,
    #[serde(default)]
    pub properties: Vec<Property>,
}

/// What a client chose about Porchlight's emails and calendar feed. Stored beside the
/// client and read with the portal; absent means the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientPreferences {
    /// The daily "new documents are waiting" email; on until the client turns it off.
    pub new_documents_email: bool,
    /// Counts the calendar feed URLs ever made; only the current one works.
    pub calendar_generation: u64,
    /// Whether the current calendar feed URL works (off once revoked).
    pub calendar_enabled: bool,
}

impl Default for ClientPreferences {
    fn default() -> Self {
        Self {
            new_documents_email: true,
            calendar_generation: 0,
            calendar_enabled: false,
        }
    }
}

/// A service address of a client (QuickBooks calls these sub-customers or jobs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Property {
    pub id: DocumentId,
    pub name: String,
    #[serde(default)]
    pub address: Option<String>,
}

/// The short form of a client that an email address or a session points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRef {
    pub id: ClientId,
    pub name: String,
}

/// The stages a job moves through in the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Lead,
    Proposal,
    Active,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    OneOff,
    Recurring,
}

/// A piece of work for a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: DocumentId,
    pub title: String,
    pub kind: JobKind,
    /// The stage the job was created in. It never changes: it decides whether the job's
    /// proposal is ever shown.
    pub created_stage: Stage,
    pub stage: Stage,
    /// The scheduled work date of a one-off job.
    #[serde(default)]
    pub work_date: Option<NaiveDate>,
    #[serde(default)]
    pub completed_on: Option<NaiveDate>,
    /// The client's property the work is at; its visits are listed under it.
    #[serde(default)]
    pub property_id: Option<DocumentId>,
    /// A recurring job billed a fixed amount on a schedule, apart from any visits.
    #[serde(default)]
    pub fixed_invoice: Option<FixedInvoicing>,
}

/// A fixed amount invoiced on every date of a schedule. Each date becomes one invoice,
/// created by the sweep on that date in the company's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedInvoicing {
    pub schedule: Schedule,
    pub amount: Money,
    /// The invoice line's text, e.g. "Monthly grounds maintenance".
    pub description: String,
}

/// When a visit is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum VisitDate {
    On {
        date: NaiveDate,
    },
    /// "To be determined" within a month (a custom visit frequency).
    WithinMonth {
        year: i32,
        month: u32,
    },
}

impl VisitDate {
    /// The first day the visit can fall on.
    pub fn earliest(&self) -> Option<NaiveDate> {
        match *self {
            VisitDate::On { date } => Some(date),
            VisitDate::WithinMonth { year, month } => NaiveDate::from_ymd_opt(year, month, 1),
        }
    }

    pub fn month_of(date: NaiveDate) -> Self {
        VisitDate::WithinMonth {
            year: date.year(),
            month: date.month(),
        }
    }
}

/// One visit of a recurring job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    pub id: DocumentId,
    pub job_id: DocumentId,
    #[serde(default)]
    pub scheduled: Option<VisitDate>,
    #[serde(default)]
    pub completed_on: Option<NaiveDate>,
    /// The day staff cancelled the visit; its invoice leaves the portal.
    #[serde(default)]
    pub cancelled_on: Option<NaiveDate>,
}

impl Visit {
    /// Still to happen on or after `today`: neither done nor cancelled, and dated today or
    /// later (or "to be determined" in this month or a later one).
    pub fn is_upcoming(&self, today: NaiveDate) -> bool {
        if self.completed_on.is_some() || self.cancelled_on.is_some() {
            return false;
        }
        match self.scheduled {
            Some(VisitDate::On { date }) => date >= today,
            Some(VisitDate::WithinMonth { year, month }) => {
                (year, month) >= (today.year(), today.month())
            }
            None => false,
        }
    }
}

/// What a line of a document is: work or goods, or an adjustment of the lines above it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    #[default]
    Item,
    /// A discount; its amount is negative.
    Discount,
    Tax,
}

/// One line of a proposal or invoice. The amounts of all lines add up to the total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    #[serde(default)]
    pub kind: LineKind,
    pub description: String,
    #[serde(default)]
    pub quantity: Option<String>,
    #[serde(default)]
    pub unit_price: Option<Money>,
    pub amount: Money,
}

/// Where a proposal stands in the back office, apart from any acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    Open,
    Declined,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: DocumentId,
    pub number: String,
    #[serde(default)]
    pub job_id: Option<DocumentId>,
    #[serde(default)]
    pub property_name: Option<String>,
    pub created_on: NaiveDate,
    /// The last day the proposal can be accepted, in the company's time zone.
    pub valid_until: NaiveDate,
    pub state: ProposalState,
    pub lines: Vec<Line>,
    pub total: Money,
    #[serde(default)]
    pub message: Option<String>,
}

/// How a proposal came to be accepted; it decides whether the proposal stays in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Portal,
    EmailLink,
    Staff,
}

/// The one acceptance a proposal can have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acceptance {
    pub proposal_id: DocumentId,
    pub channel: Channel,
    pub accepted_at: DateTime<Utc>,
    /// The company's date of acceptance, kept so it reads the same in every time zone.
    pub accepted_on: NaiveDate,
    pub accepted_by: String,
    #[serde(default)]
    pub accepted_by_email: Option<String>,
    #[serde(default)]
    pub source_ip: Option<String>,
}

/// Which rule decides when an invoice appears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Billing {
    /// An invoice of a one-off job.
    OneOff,
    /// The invoice of one visit of a recurring job.
    PerVisit { visit_id: DocumentId },
    /// One date of a recurring job's fixed-invoice schedule; `period` labels it for the
    /// client ("2026-10" for a monthly schedule, the date itself otherwise).
    Fixed {
        occurrence: NaiveDate,
        period: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: DocumentId,
    pub number: String,
    pub billing: Billing,
    #[serde(default)]
    pub job_id: Option<DocumentId>,
    #[serde(default)]
    pub property_name: Option<String>,
    #[serde(default)]
    pub invoice_date: Option<NaiveDate>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    pub lines: Vec<Line>,
    pub total: Money,
    pub balance: Money,
    /// Voided invoices are kept for the record and never shown.
    #[serde(default)]
    pub voided: bool,
    /// The day staff approved the invoice, for [`Appearance::OnceApproved`].
    #[serde(default)]
    pub approved_on: Option<NaiveDate>,
    /// The day the invoice was marked sent, for [`Appearance::OnceSent`].
    #[serde(default)]
    pub sent_on: Option<NaiveDate>,
    #[serde(default)]
    pub memo: Option<String>,
}

impl Invoice {
    pub fn is_paid(&self) -> bool {
        self.balance.minor <= 0
    }

    pub fn payment_status(&self) -> PaymentStatus {
        if self.is_paid() {
            PaymentStatus::Paid
        } else if self.balance.minor < self.total.minor {
            PaymentStatus::PartlyPaid
        } else {
            PaymentStatus::Unpaid
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Unpaid,
    PartlyPaid,
    Paid,
}

impl PaymentStatus {
    pub fn label(self) -> &'static str {
        match self {
            PaymentStatus::Unpaid => "Unpaid",
            PaymentStatus::PartlyPaid => "Partly paid",
            PaymentStatus::Paid => "Paid",
        }
    }
}

/// A payment recorded against a client's invoices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: DocumentId,
    pub received_on: NaiveDate,
    pub amount: Money,
    pub unapplied: Money,
    /// Invoices the payment was applied to, with the amount applied to each.
    pub applied: Vec<AppliedPayment>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub voided: bool,
    /// Given back so far by card refunds (written by the Stripe webhook's booking, never
    /// by a plain save, so it is left out when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedPayment {
    pub invoice_id: DocumentId,
    pub amount: Money,
}

/// A service request sent through the public form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    pub id: DocumentId,
    pub received_at: DateTime<Utc>,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub service_address: String,
    pub service_wanted: String,
    pub preferred_timing: String,
    pub notes: String,
    /// Set when a signed-in client sent it, or when staff turned the request into a client.
    #[serde(default)]
    pub client_id: Option<ClientId>,
    #[serde(default)]
    pub source_ip: Option<String>,
    /// When staff marked the request handled; set once and never moved.
    #[serde(default)]
    pub handled_at: Option<DateTime<Utc>>,
    /// The lead-stage job made when staff turned the request into a client. Its presence
    /// tells a converted request from one a signed-in client sent.
    #[serde(default)]
    pub job_id: Option<DocumentId>,
}

impl Lead {
    pub fn status(&self) -> LeadStatus {
        if self.handled_at.is_some() {
            LeadStatus::Handled
        } else {
            LeadStatus::Open
        }
    }
}

/// Whether staff have dealt with a service request yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    Open,
    Handled,
}

impl LeadStatus {
    /// The name the API, the CLI and the CSV export use.
    pub fn name(self) -> &'static str {
        match self {
            LeadStatus::Open => "open",
            LeadStatus::Handled => "handled",
        }
    }
}
