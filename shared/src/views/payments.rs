//! The client's payment history (`/p/{slug}/payments`): every payment on record, newest
//! first, with the invoices each one paid, and the list of payments on an invoice's page.
//!
//! Both read only the client's partition (the portal's one Query). An invoice a payment was
//! applied to is linked only while the portal shows it, since its page would otherwise be the
//! one 404; an invoice moved to the archive is no longer in that partition, so it is named
//! without its number.

use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Serialize;

use super::portal::Viewer;
use super::{date, layout};
use crate::domain::{ClientRef, Company, Payment};
use crate::ids::DocumentId;
use crate::money::Money;
use crate::portal::{CompanySummary, InvoicePayment, PortalDay};
use crate::store::ClientPortal;

/// The history page's data; its JSON is this.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentHistory {
    pub company: CompanySummary,
    pub client: ClientRef,
    pub payments: Vec<PaymentEntry>,
}

/// One payment as the client reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentEntry {
    pub id: DocumentId,
    pub received_on: NaiveDate,
    pub amount: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub applied: Vec<AppliedTo>,
    /// What is kept as credit, not applied to any invoice, less what was refunded of it.
    pub unapplied: Money,
    /// Refunded so far (absent when nothing was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded: Option<Money>,
    /// Cancelled in the back office (a returned check): kept in the list, marked.
    pub voided: bool,
}

/// An invoice a payment went to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedTo {
    pub invoice_id: DocumentId,
    /// Absent for an invoice archived since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub amount: Money,
    /// The portal shows the invoice today, so its page can be linked.
    pub shown: bool,
}

impl PaymentHistory {
    /// Every payment of the client, newest first (by the day received, then by id so the
    /// order never changes between two loads).
    pub fn new(company: &Company, portal: &ClientPortal, day: &PortalDay<'_>) -> Self {
        let mut payments: Vec<PaymentEntry> = portal
            .payments
            .iter()
            .map(|payment| entry(portal, day, payment))
            .collect();
        payments.sort_by(|a, b| (b.received_on, &b.id).cmp(&(a.received_on, &a.id)));
        Self {
            company: CompanySummary {
                slug: company.slug.clone(),
                name: company.name.clone(),
            },
            client: ClientRef {
                id: portal.client.id.clone(),
                name: portal.client.name.clone(),
            },
            payments,
        }
    }
}

fn entry(portal: &ClientPortal, day: &PortalDay<'_>, payment: &Payment) -> PaymentEntry {
    let applied = payment
        .applied
        .iter()
        .map(|applied| {
            let invoice = portal
                .invoices
                .iter()
                .find(|invoice| invoice.id == applied.invoice_id);
            AppliedTo {
                invoice_id: applied.invoice_id.clone(),
                number: invoice.map(|invoice| invoice.number.clone()),
                amount: applied.amount.clone(),
                shown: invoice.is_some_and(|invoice| day.invoice_decision(invoice).shown),
            }
        })
        .collect();
    PaymentEntry {
        id: payment.id.clone(),
        received_on: payment.received_on,
        amount: payment.amount.clone(),
        reference: payment.reference.clone(),
        applied,
        unapplied: credit_left(payment),
        refunded: payment.refunded.clone().filter(|money| money.minor > 0),
        voided: payment.voided,
    }
}

/// A refund comes out of the payment's credit first (as the booking divides it), so the
/// credit left is what was unapplied less what was refunded, never below zero.
fn credit_left(payment: &Payment) -> Money {
    let refunded = payment.refunded.as_ref().map_or(0, |money| money.minor);
    let left = (payment.unapplied.minor - refunded).max(0);
    Money::new(left, payment.unapplied.currency.clone())
}

/// The payment history page.
pub fn history(history: &PaymentHistory, viewer: &Viewer) -> Markup {
    let slug = &history.company.slug;
    let company = (slug, history.company.name.as_str());
    let content = html! {
        p { a href={ "/p/" (slug) "/" } { "← Back to your portal" } }
        h1 { "Your payments" }
        @if history.payments.is_empty() {
            p.muted { "No payments are on record yet." }
        } @else {
            table {
                thead { tr { th { "Date" } th.num { "Amount" } th.optional { "Reference" }
                    th { "Paid toward" } } }
                tbody {
                    @for payment in &history.payments {
                        tr.adjustment[payment.voided] {
                            td {
                                (date(payment.received_on))
                                @if payment.voided { br; span.status { "Voided" } }
                            }
                            td.num {
                                (payment.amount)
                                @if let Some(refunded) = &payment.refunded {
                                    br; span.muted { "Refunded " (refunded) }
                                }
                            }
                            td.optional {
                                @if let Some(reference) = &payment.reference { (reference) }
                            }
                            td { (applied_to(slug.as_str(), payment)) }
                        }
                    }
                }
            }
        }
    };
    layout("Your payments", Some(company), Some(viewer.email), content)
}

fn applied_to(slug: &str, payment: &PaymentEntry) -> Markup {
    html! {
        @for applied in &payment.applied {
            div {
                @match (&applied.number, applied.shown) {
                    (Some(number), true) => {
                        a href={ "/p/" (slug) "/invoices/" (applied.invoice_id) } {
                            "Invoice #" (number)
                        }
                    }
                    (Some(number), false) => { "Invoice #" (number) }
                    (None, _) => { "An earlier invoice" }
                }
                @if applied.amount != payment.amount { " · " (applied.amount) }
            }
        }
        @if payment.unapplied.minor > 0 {
            div.muted { "Credit: " (payment.unapplied) }
        }
    }
}

/// The payments on an invoice's page: kept to itself so the invoice page only calls it.
pub fn invoice_payments(slug: &str, payments: &[InvoicePayment]) -> Markup {
    html! {
        @if !payments.is_empty() {
            div.card {
                h2 { "Payments" }
                table {
                    thead { tr { th { "Date" } th.optional { "Reference" }
                        th.num { "Amount" } } }
                    tbody {
                        @for payment in payments {
                            tr {
                                td { (date(payment.received_on)) }
                                td.optional {
                                    @if let Some(reference) = &payment.reference { (reference) }
                                }
                                td.num { (payment.amount) }
                            }
                        }
                    }
                }
                p { a href={ "/p/" (slug) "/payments" } { "All your payments" } }
            }
        }
    }
}
