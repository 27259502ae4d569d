//! What one client's portal shows on a given day: the document rules applied to everything in
//! the client's partition, and the client's visits still to come. The portal pages, their
//! JSON, the calendar feed and `porchlight portal show` all read from here, so they can never
//! disagree.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Serialize;

use crate::client_links;
use crate::domain::{
    Acceptance, Billing, ClientRef, Company, Invoice, Job, Line, PaymentStatus, Property, Proposal,
    Visit, VisitDate,
};
use crate::ids::{ClientId, CompanySlug, DocumentId};
use crate::money::Money;
use crate::rules::{self, Decision, ProposalStatus};
use crate::store::ClientPortal;
use crate::store::payments::CheckoutStatus;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanySummary {
    pub slug: CompanySlug,
    pub name: String,
}

/// The portal home, in the shape of the JSON contract in DESIGN.md.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortalHome {
    pub company: CompanySummary,
    pub client: ClientRef,
    pub today: NaiveDate,
    pub proposals: Vec<ProposalSummary>,
    pub invoices: Vec<InvoiceSummary>,
    /// The open balance of the invoices shown.
    pub balance_due: Money,
    /// Visits still to come, grouped by the property they are at.
    pub upcoming_visits: Vec<PropertyVisits>,
}

/// The most visits the home lists per property: enough for a season of monthly work, short
/// enough that a weekly mowing job does not bury the documents. The calendar feed has them all.
pub const VISITS_PER_PROPERTY: usize = 12;

/// The upcoming visits at one property (or, for visits tied to none, under the client's
/// name, or "Other visits" when the client has properties).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyVisits {
    pub property: String,
    pub visits: Vec<VisitSummary>,
}

/// One visit as the client reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitSummary {
    pub id: DocumentId,
    pub job_title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// `YYYY-MM` for a visit "to be determined" within that month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_month: Option<String>,
    /// The date in words, or "To be determined in March 2026".
    pub label: String,
}

/// A visit with what the calendar feed says about it: its job and where it is.
#[derive(Debug, Clone, Copy)]
pub struct ScheduledVisit<'a> {
    pub visit: &'a Visit,
    pub scheduled: VisitDate,
    pub job: &'a Job,
    pub property: Option<&'a Property>,
}

impl ScheduledVisit<'_> {
    /// Where the visit sorts: its date, or the 1st of its month when still to be determined.
    pub fn sort_day(&self) -> NaiveDate {
        self.scheduled.earliest().unwrap_or(NaiveDate::MAX)
    }

    /// The last day the visit can fall on.
    fn latest(&self) -> Option<NaiveDate> {
        match self.scheduled {
            VisitDate::On { date } => Some(date),
            VisitDate::WithinMonth { .. } => self
                .scheduled
                .earliest()?
                .checked_add_months(Months::new(1))?
                .pred_opt(),
        }
    }

    fn sort_key(&self) -> (NaiveDate, bool, &str, &DocumentId) {
        // On one day, a dated visit comes before one still to be determined.
        let undetermined = matches!(self.scheduled, VisitDate::WithinMonth { .. });
        (
            self.sort_day(),
            undetermined,
            &self.job.title,
            &self.visit.id,
        )
    }

    fn summary(&self) -> VisitSummary {
        let (date, within_month, label) = match self.scheduled {
            VisitDate::On { date } => (Some(date), None, date.format("%a, %b %-d, %Y").to_string()),
            VisitDate::WithinMonth { year, month } => (
                None,
                Some(format!("{year:04}-{month:02}")),
                format!("To be determined in {}", month_name(self.sort_day())),
            ),
        };
        VisitSummary {
            id: self.visit.id.clone(),
            job_title: self.job.title.clone(),
            date,
            within_month,
            label,
        }
    }
}

/// "March 2026".
pub fn month_name(day: NaiveDate) -> String {
    day.format("%B %Y").to_string()
}

/// What the signed-in client can switch on the portal home, with where each switch posts.
/// The portal function builds it; staff previews and `portal show` leave it out, since it
/// carries the client's own links.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientControls {
    pub new_documents_email: bool,
    /// The path a POST to turns the email the other way.
    pub new_documents_email_switch: String,
    pub calendar_enabled: bool,
    /// The feed URL to subscribe to, while there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_url: Option<String>,
    /// The path that makes a new feed URL (`action=create`) or stops it (`action=revoke`).
    pub calendar_switch: String,
}

impl ClientControls {
    pub fn new(company: &Company, portal: &ClientPortal, base_url: &str) -> Self {
        let client = &portal.client.id;
        let preferences = &portal.preferences;
        let email_switch = if preferences.new_documents_email {
            client_links::email_opt_out_path(company, client)
        } else {
            email_opt_in_path(company, client)
        };
        let calendar_url = preferences.calendar_enabled.then(|| {
            let path =
                client_links::calendar_path(company, client, preferences.calendar_generation);
            format!("{}{path}", base_url.trim_end_matches('/'))
        });
        Self {
            new_documents_email: preferences.new_documents_email,
            new_documents_email_switch: email_switch,
            calendar_enabled: preferences.calendar_enabled,
            calendar_url,
            calendar_switch: format!("/p/{}/calendar", company.slug),
        }
    }
}

/// The path that turns the new-documents email back on. The opt-out link's token authorises
/// both directions, so whoever could stop the email can undo it.
pub fn email_opt_in_path(company: &Company, client: &ClientId) -> String {
    format!(
        "/p/{}/emails/on?client={client}&token={}",
        company.slug,
        client_links::email_opt_out_token(company, client)
    )
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposalSummary {
    pub id: DocumentId,
    pub number: String,
    pub status: ProposalStatus,
    pub total: Money,
    pub created_on: NaiveDate,
    pub valid_until: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceSummary {
    pub id: DocumentId,
    pub number: String,
    /// The invoice date, or for an undated invoice the day it appeared.
    pub invoice_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    pub status: PaymentStatus,
    pub total: Money,
    pub balance: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// The last day a paid invoice stays in the portal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shown_until: Option<NaiveDate>,
}

/// A document and the rule's decision about it on the day: shown or not, since and until
/// when, the reason, and the reason in plain words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainedDocument {
    pub id: DocumentId,
    pub number: String,
    pub kind: DocumentKind,
    pub explanation: &'static str,
    /// What a recurring job's invoice bills: "fixed fee for 2026-10 of ...", "the visit
    /// of 2026-12-08", "the visit to be determined in March 2026".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_for: Option<String>,
    #[serde(flatten)]
    pub decision: Decision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Proposal,
    Invoice,
}

/// A proposal with everything its detail page needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposalDetail {
    #[serde(flatten)]
    pub summary: ProposalSummary,
    pub lines: Vec<Line>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    pub can_accept: bool,
}

/// An invoice with everything its detail page needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceDetail {
    #[serde(flatten)]
    pub summary: InvoiceSummary,
    pub lines: Vec<Line>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    /// The payments applied to this invoice, newest first.
    pub payments: Vec<InvoicePayment>,
}

/// One payment as an invoice's page lists it: how much of it went to this invoice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoicePayment {
    pub payment_id: DocumentId,
    pub received_on: NaiveDate,
    /// The part of the payment applied to this invoice.
    pub amount: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The live (not voided) payments applied to `invoice`, newest first.
fn invoice_payments(portal: &ClientPortal, invoice: &DocumentId) -> Vec<InvoicePayment> {
    let mut listed: Vec<InvoicePayment> = portal
        .payments
        .iter()
        .filter(|payment| !payment.voided)
        .flat_map(|payment| {
            payment
                .applied
                .iter()
                .filter(|applied| &applied.invoice_id == invoice)
                .map(|applied| InvoicePayment {
                    payment_id: payment.id.clone(),
                    received_on: payment.received_on,
                    amount: applied.amount.clone(),
                    reference: payment.reference.clone(),
                })
        })
        .collect();
    listed.sort_by(|a, b| (b.received_on, &b.payment_id).cmp(&(a.received_on, &a.payment_id)));
    listed
}

/// Applies the rules to one client's documents for `today`.
pub struct PortalDay<'a> {
    company: &'a Company,
    portal: &'a ClientPortal,
    today: NaiveDate,
}

impl<'a> PortalDay<'a> {
    pub fn new(company: &'a Company, portal: &'a ClientPortal, today: NaiveDate) -> Self {
        Self {
            company,
            portal,
            today,
        }
    }

    fn acceptance(&self, proposal: &Proposal) -> Option<&'a Acceptance> {
        self.portal.acceptances.get(&proposal.id)
    }

    pub fn proposal_decision(&self, proposal: &Proposal) -> Decision {
        let job = proposal
            .job_id
            .as_ref()
            .and_then(|id| self.portal.jobs.get(id));
        rules::proposal_decision(proposal, job, self.acceptance(proposal), self.today)
    }

    pub fn invoice_decision(&self, invoice: &Invoice) -> Decision {
        let job = invoice
            .job_id
            .as_ref()
            .and_then(|id| self.portal.jobs.get(id));
        let visit = match &invoice.billing {
            Billing::PerVisit { visit_id } => self.portal.visits.get(visit_id),
            Billing::OneOff | Billing::Fixed { .. } => None,
        };
        rules::invoice_decision(invoice, job, visit, &self.company.settings, self.today)
    }

    fn proposal_summary(&self, proposal: &Proposal) -> ProposalSummary {
        let acceptance = self.acceptance(proposal);
        ProposalSummary {
            id: proposal.id.clone(),
            number: proposal.number.clone(),
            status: rules::proposal_status(proposal, acceptance, self.today),
            total: proposal.total.clone(),
            created_on: proposal.created_on,
            valid_until: proposal.valid_until,
            property: proposal.property_name.clone(),
            accepted_on: acceptance.map(|a| a.accepted_on),
        }
    }

    fn invoice_summary(&self, invoice: &Invoice, decision: &Decision) -> InvoiceSummary {
        InvoiceSummary {
            id: invoice.id.clone(),
            number: invoice.number.clone(),
            invoice_date: invoice.invoice_date.or(decision.shown_since),
            due_date: invoice.due_date,
            status: invoice.payment_status(),
            total: invoice.total.clone(),
            balance: invoice.balance.clone(),
            property: invoice.property_name.clone(),
            shown_until: decision.shown_until,
        }
    }

    /// The portal home: shown proposals and invoices, newest first.
    pub fn home(&self) -> PortalHome {
        let mut proposals: Vec<ProposalSummary> = self
            .portal
            .proposals
            .iter()
            .filter(|p| self.proposal_decision(p).shown)
            .map(|p| self.proposal_summary(p))
            .collect();
        proposals.sort_by(|a, b| {
            b.created_on
                .cmp(&a.created_on)
                .then(b.number.cmp(&a.number))
        });

        let mut invoices: Vec<InvoiceSummary> = self
            .portal
            .invoices
            .iter()
            .filter_map(|invoice| {
                let decision = self.invoice_decision(invoice);
                decision
                    .shown
                    .then(|| self.invoice_summary(invoice, &decision))
            })
            .collect();
        invoices.sort_by(|a, b| {
            b.invoice_date
                .cmp(&a.invoice_date)
                .then(b.number.cmp(&a.number))
        });

        // Amounts are bounded when they come in; saturating keeps a bad stored one from
        // taking the whole page down.
        let due = invoices
            .iter()
            .fold(0i64, |due, i| due.saturating_add(i.balance.minor.max(0)));
        PortalHome {
            company: CompanySummary {
                slug: self.company.slug.clone(),
                name: self.company.name.clone(),
            },
            client: ClientRef {
                id: self.portal.client.id.clone(),
                name: self.portal.client.name.clone(),
            },
            today: self.today,
            proposals,
            invoices,
            balance_due: Money::new(due, self.company.currency.clone()),
            upcoming_visits: self.upcoming_visits(),
        }
    }

    /// Every visit of a job in the portal that has a date or month, is neither done nor
    /// cancelled, and can still fall on or after `since`; soonest first.
    pub fn scheduled_visits(&self, since: NaiveDate) -> Vec<ScheduledVisit<'a>> {
        let portal = self.portal;
        let mut visits: Vec<ScheduledVisit<'a>> = portal
            .visits
            .values()
            .filter(|visit| visit.completed_on.is_none() && visit.cancelled_on.is_none())
            .filter_map(|visit| {
                let job = portal.jobs.get(&visit.job_id)?;
                let property = job
                    .property_id
                    .as_ref()
                    .and_then(|id| portal.client.properties.iter().find(|p| &p.id == id));
                Some(ScheduledVisit {
                    visit,
                    scheduled: visit.scheduled?,
                    job,
                    property,
                })
            })
            .filter(|scheduled| scheduled.latest().is_some_and(|last| last >= since))
            .collect();
        visits.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        visits
    }

    /// The visits still to come ([`Visit::is_upcoming`]), by property in the order the
    /// client's properties are listed, visits tied to no known property last.
    pub fn upcoming_visits(&self) -> Vec<PropertyVisits> {
        let properties = &self.portal.client.properties;
        let mut groups: BTreeMap<usize, Vec<VisitSummary>> = BTreeMap::new();
        for scheduled in self.scheduled_visits(self.today) {
            if !scheduled.visit.is_upcoming(self.today) {
                continue;
            }
            let index = scheduled
                .property
                .and_then(|p| properties.iter().position(|q| q.id == p.id))
                .unwrap_or(properties.len());
            let group = groups.entry(index).or_default();
            if group.len() < VISITS_PER_PROPERTY {
                group.push(scheduled.summary());
            }
        }
        groups
            .into_iter()
            .map(|(index, visits)| PropertyVisits {
                property: match properties.get(index) {
                    Some(property) => property.name.clone(),
                    None if properties.is_empty() => self.portal.client.name.clone(),
                    None => "Other visits".to_owned(),
                },
                visits,
            })
            .collect()
    }

    /// Every document of the client with the rule's decision, by number: what staff ask
    /// "why is this shown?" about.
    pub fn documents(&self) -> Vec<ExplainedDocument> {
        let proposals = self.portal.proposals.iter().map(|p| {
            explained(
                &p.id,
                &p.number,
                DocumentKind::Proposal,
                self.proposal_decision(p),
            )
        });
        let invoices = self.portal.invoices.iter().map(|i| ExplainedDocument {
            billed_for: self.billed_for(i),
            ..explained(
                &i.id,
                &i.number,
                DocumentKind::Invoice,
                self.invoice_decision(i),
            )
        });
        let mut all: Vec<ExplainedDocument> = proposals.chain(invoices).collect();
        all.sort_by(|a, b| a.number.cmp(&b.number));
        all
    }

    /// What an invoice of a recurring job is for, in words for staff.
    fn billed_for(&self, invoice: &Invoice) -> Option<String> {
        let job_title = invoice
            .job_id
            .as_ref()
            .and_then(|id| self.portal.jobs.get(id))
            .map(|job| job.title.as_str());
        let of_job = job_title.map_or_else(String::new, |title| format!(" of {title}"));
        match &invoice.billing {
            Billing::OneOff => None,
            Billing::Fixed { period, .. } => Some(format!("the fixed fee for {period}{of_job}")),
            Billing::PerVisit { visit_id } => {
                let visit = self.portal.visits.get(visit_id)?;
                let when = match visit.scheduled {
                    Some(VisitDate::On { date }) => format!("the visit of {date}"),
                    Some(VisitDate::WithinMonth { year, month }) => {
                        format!("the visit to be determined in {year:04}-{month:02}")
                    }
                    None => "a visit not scheduled yet".to_owned(),
                };
                let cancelled = visit
                    .cancelled_on
                    .map_or_else(String::new, |day| format!(", cancelled on {day}"));
                Some(format!("{when}{of_job}{cancelled}"))
            }
        }
    }

    /// Everything the home leaves out, with the rule's reason.
    pub fn hidden(&self) -> Vec<ExplainedDocument> {
        self.documents()
            .into_iter()
            .filter(|d| !d.decision.shown)
            .collect()
    }

    /// A shown proposal's detail; `None` for one not shown, exactly as for one not on record.
    pub fn proposal(&self, id: &DocumentId) -> Option<ProposalDetail> {
        let proposal = self.portal.proposals.iter().find(|p| &p.id == id)?;
        if !self.proposal_decision(proposal).shown {
            return None;
        }
        let summary = self.proposal_summary(proposal);
        let acceptance = self.acceptance(proposal);
        Some(ProposalDetail {
            can_accept: summary.status == ProposalStatus::Open,
            summary,
            lines: proposal.lines.clone(),
            message: proposal.message.clone(),
            accepted_by: acceptance.map(|a| a.accepted_by.clone()),
        })
    }

    /// A shown invoice's detail; `None` for one not shown, exactly as for one not on record.
    pub fn invoice(&self, id: &DocumentId) -> Option<InvoiceDetail> {
        let invoice = self.portal.invoices.iter().find(|i| &i.id == id)?;
        let decision = self.invoice_decision(invoice);
        if !decision.shown {
            return None;
        }
        Some(InvoiceDetail {
            summary: self.invoice_summary(invoice, &decision),
            lines: invoice.lines.clone(),
            memo: invoice.memo.clone(),
            payments: invoice_payments(self.portal, &invoice.id),
        })
    }

    /// The proposal record itself, when the client may act on it.
    pub fn proposal_record(&self, id: &DocumentId) -> Option<&'a Proposal> {
        self.portal
            .proposals
            .iter()
            .find(|p| &p.id == id && self.proposal_decision(p).shown)
    }
}

fn explained(
    id: &DocumentId,
    number: &str,
    kind: DocumentKind,
    decision: Decision,
) -> ExplainedDocument {
    ExplainedDocument {
        id: id.clone(),
        number: number.to_owned(),
        kind,
        explanation: decision.reason.explain(),
        billed_for: None,
        decision,
    }
}

// Card payment of one invoice: what the invoice page offers and what the pay route accepts.
// Kept apart from the invoice detail so that both read the same rule.

/// How long after starting a checkout the invoice page says the payment is being processed:
/// the least lifetime of a Stripe Checkout Session.
pub const CHECKOUT_PROCESSING_MINUTES: i64 = 30;

/// The "Pay" offer of an invoice the client may pay by card now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayOffer {
    /// Where the pay form posts.
    pub pay_path: String,
    /// The whole balance; the amount the form starts with.
    pub balance: Money,
    /// The least part payment the company accepts, when it sets one. The whole balance may
    /// always be paid, even when it is smaller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<Money>,
    /// A checkout was started less than [`CHECKOUT_PROCESSING_MINUTES`] ago and Stripe has
    /// not confirmed it yet.
    pub processing: bool,
}

impl PayOffer {
    /// The amount a pay form asks for: absent or blank means the whole balance. The message
    /// of a refusal is for the client.
    pub fn amount_from_form(&self, raw: Option<&str>) -> Result<Money, String> {
        let currency = self.balance.currency.clone();
        let raw = raw.map(str::trim).unwrap_or("");
        if raw.is_empty() {
            return self.chargeable(self.balance.clone());
        }
        let amount = Money::parse_decimal(raw, currency.clone()).map_err(|_| {
            let example = self.balance.to_decimal_string();
            format!(
                "`{raw}` is not an amount in {}; write it like {example}.",
                currency.code()
            )
        })?;
        if amount.minor <= 0 {
            return Err("The amount must be more than zero.".to_owned());
        }
        if amount.minor > self.balance.minor {
            return Err(format!(
                "You can pay at most the balance of {}.",
                self.balance
            ));
        }
        if let Some(minimum) = &self.minimum
            && amount.minor < minimum.minor
            && amount != self.balance
        {
            return Err(format!(
                "The least you can pay at once is {minimum}, or the whole balance of {}.",
                self.balance
            ));
        }
        self.chargeable(amount)
    }

    /// An amount the rules allow, checked against what one card charge can be.
    fn chargeable(&self, amount: Money) -> Result<Money, String> {
        use crate::payments::amounts::{MAX_CHARGE, to_stripe};
        if amount.minor > MAX_CHARGE {
            let most = Money::new(MAX_CHARGE, amount.currency.clone());
            return Err(format!(
                "A card payment can be at most {most}; please pay the balance in parts."
            ));
        }
        to_stripe(&amount).map_err(|e| format!("{e}."))?;
        Ok(amount)
    }
}

impl PortalDay<'_> {
    /// The card payment offer of a shown invoice: only when the company takes card payments
    /// (switched on, with a connected Stripe account) and a balance is open in a currency
    /// Stripe can charge. `None` means the page offers no payment at all.
    pub fn pay_offer(&self, id: &DocumentId, now: DateTime<Utc>) -> Option<PayOffer> {
        let settings = &self.company.settings;
        if !settings.payments_enabled || settings.stripe_account.is_none() {
            return None;
        }
        let invoice = self.portal.invoices.iter().find(|i| &i.id == id)?;
        if invoice.voided || invoice.is_paid() || !self.invoice_decision(invoice).shown {
            return None;
        }
        let balance = invoice.balance.clone();
        crate::payments::amounts::to_stripe(&balance).ok()?;
        let minimum = (settings.minimum_payment_minor > 0)
            .then(|| Money::new(settings.minimum_payment_minor, balance.currency.clone()));
        Some(PayOffer {
            pay_path: format!("/p/{}/invoices/{}/pay", self.company.slug, id),
            balance,
            minimum,
            processing: self.checkout_in_progress(id, now),
        })
    }

    /// Whether a checkout of the invoice started recently and is still open.
    pub fn checkout_in_progress(&self, id: &DocumentId, now: DateTime<Utc>) -> bool {
        let since = now - chrono::Duration::minutes(CHECKOUT_PROCESSING_MINUTES);
        self.portal.checkouts.iter().any(|attempt| {
            &attempt.invoice_id == id
                && attempt.status == CheckoutStatus::Open
                && attempt.created_at > since
        })
    }
}

#[cfg(test)]
mod pay_offer_tests {
    use super::*;
    use crate::money::Currency;

    fn offer(balance: i64, code: &str, minimum: Option<i64>) -> PayOffer {
        let currency = Currency::parse(code).expect("a currency");
        PayOffer {
            pay_path: "/p/a/invoices/i/pay".into(),
            balance: Money::new(balance, currency.clone()),
            minimum: minimum.map(|m| Money::new(m, currency)),
            processing: false,
        }
    }

    #[test]
    fn the_form_amount_is_checked_against_balance_and_minimum() {
        let usd = offer(8_800, "USD", Some(2_000));
        assert_eq!(usd.amount_from_form(None).map(|m| m.minor), Ok(8_800));
        assert_eq!(usd.amount_from_form(Some("  ")).map(|m| m.minor), Ok(8_800));
        assert_eq!(
            usd.amount_from_form(Some("25.50")).map(|m| m.minor),
            Ok(2_550)
        );
        assert_eq!(usd.amount_from_form(Some("88")).map(|m| m.minor), Ok(8_800));
        for bad in [
            "0", "0.00", "-5", "88.01", "19.99", "abc", "1e3", "12.345", "$20",
        ] {
            assert!(usd.amount_from_form(Some(bad)).is_err(), "{bad}");
        }
        let small = offer(1_500, "USD", Some(2_000));
        assert_eq!(
            small.amount_from_form(Some("15.00")).map(|m| m.minor),
            Ok(1_500)
        );
        assert!(small.amount_from_form(Some("10")).is_err());

        let million = offer(100_000_000, "USD", None);
        let whole = million.amount_from_form(None);
        assert!(
            whole
                .as_ref()
                .is_err_and(|why| why.contains("at most $999,999.99")),
            "{whole:?}"
        );
        assert_eq!(
            million.amount_from_form(Some("999999.99")).map(|m| m.minor),
            Ok(99_999_999),
            "a part of it Stripe can charge"
        );
    }

    #[test]
    fn c06_yen_amounts_have_no_decimals() {
        let yen = offer(8_800, "JPY", None);
        assert_eq!(
            yen.amount_from_form(Some("8800")).map(|m| m.minor),
            Ok(8_800)
        );
        assert_eq!(
            yen.amount_from_form(Some("1000")).map(|m| m.minor),
            Ok(1_000)
        );
        assert!(yen.amount_from_form(Some("88.50")).is_err());
        assert!(yen.amount_from_form(Some("8,800")).is_err());
    }
}
