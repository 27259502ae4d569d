//! The signed-in portal: the home with proposals, invoices and upcoming visits (and, for the
//! client, the calendar feed and email switches), and one page for each document.

use maud::{Markup, html};

use super::{date, layout};
use crate::domain::{Line, LineKind, PaymentStatus};
use crate::ids::CompanySlug;
use crate::money::Money;
use crate::portal::{
    ClientControls, InvoiceDetail, PayOffer, PortalHome, PropertyVisits, ProposalDetail,
};
use crate::rules::ProposalStatus;

/// Who is looking, as the header shows it.
pub struct Viewer<'a> {
    pub email: &'a str,
    /// Offer to switch when the address reaches several accounts.
    pub can_switch: bool,
}

fn proposal_status(status: ProposalStatus) -> Markup {
    let (class, label) = match status {
        ProposalStatus::Open => ("open", "Awaiting your answer"),
        ProposalStatus::Expired => ("expired", "Expired"),
        ProposalStatus::Declined => ("declined", "Declined"),
        ProposalStatus::Accepted => ("accepted", "Accepted"),
    };
    html! { span class={ "status " (class) } { (label) } }
}

fn payment_status(status: PaymentStatus) -> Markup {
    let class = match status {
        PaymentStatus::Unpaid => "unpaid",
        PaymentStatus::PartlyPaid => "partly_paid",
        PaymentStatus::Paid => "paid",
    };
    html! { span class={ "status " (class) } { (status.label()) } }
}

pub fn home(home: &PortalHome, viewer: &Viewer, controls: &ClientControls) -> Markup {
    let company = (&home.company.slug, home.company.name.as_str());
    let content = html! {
        h1 { (home.client.name) }
        @if viewer.can_switch {
            p { a href={ "/p/" (home.company.slug) "/?choose=account" } { "Switch account" } }
        }
        (home_documents(home))
        p { a href={ "/p/" (home.company.slug) "/payments" } { "Your payment history" } }
        (client_controls(&home.company.name, controls))
    };
    layout("Your portal", Some(company), Some(viewer.email), content)
}

/// The home exactly as the client sees it on `home.today`, for staff: read-only, with no
/// session and no sign-out, and a banner saying whose portal and which day it is.
pub fn staff_preview(home: &PortalHome) -> Markup {
    let company = (&home.company.slug, home.company.name.as_str());
    let content = html! {
        p.notice role="note" {
            "Staff preview: " strong { (home.client.name) } "'s portal as it shows on "
            (date(home.today)) ". Read-only."
        }
        h1 { (home.client.name) }
        (home_documents(home))
    };
    layout("Portal preview", Some(company), None, content)
}

fn home_documents(home: &PortalHome) -> Markup {
    let slug = &home.company.slug;
    html! {
            div.card {
                strong { "Balance due: " (home.balance_due) }
                p.muted { "As of " (date(home.today)) }
            }

            h2 { "Proposals" }
            @if home.proposals.is_empty() {
                p.muted { "No proposals yet." }
            } @else {
                table {
                    thead { tr { th { "Proposal" } th.optional { "Date" } th { "Status" }
                        th.num { "Total" } } }
                    tbody {
                        @for proposal in &home.proposals {
                            tr {
                                td {
                                    a href={ "/p/" (slug) "/proposals/" (proposal.id) } {
                                        "#" (proposal.number)
                                    }
                                    span.muted.narrow-only { br; (date(proposal.created_on)) }
                                    @if let Some(property) = &proposal.property {
                                        br; span.muted { (property) }
                                    }
                                }
                                td.optional { (date(proposal.created_on)) }
                                td { (proposal_status(proposal.status)) }
                                td.num { (proposal.total) }
                            }
                        }
                    }
                }
            }

            h2 { "Invoices" }
            @if home.invoices.is_empty() {
                p.muted { "No invoices yet." }
            } @else {
                table {
                    thead { tr { th { "Invoice" } th.optional { "Date" } th { "Status" }
                        th.num.optional { "Total" } th.num { "Balance" } } }
                    tbody {
                        @for invoice in &home.invoices {
                            tr {
                                td {
                                    a href={ "/p/" (slug) "/invoices/" (invoice.id) } {
                                        "#" (invoice.number)
                                    }
                                    @if let Some(day) = invoice.invoice_date {
                                        span.muted.narrow-only { br; (date(day)) }
                                    }
                                    @if let Some(property) = &invoice.property {
                                        br; span.muted { (property) }
                                    }
                                }
                                td.optional {
                                    @if let Some(day) = invoice.invoice_date { (date(day)) }
                                }
                                td { (payment_status(invoice.status)) }
                                td.num.optional { (invoice.total) }
                                td.num { (invoice.balance) }
                            }
                        }
                    }
                }
            }

            (upcoming_visits(&home.upcoming_visits))

            h2 { "Need something done?" }
            a.button href={ "/p/" (slug) "/request" } { "Request service" }
    }
}

fn upcoming_visits(groups: &[PropertyVisits]) -> Markup {
    html! {
        h2 { "Upcoming visits" }
        @if groups.is_empty() {
            p.muted { "No visits are scheduled." }
        }
        @for group in groups {
            div.card {
                h3 { (group.property) }
                table {
                    thead { tr { th { "When" } th { "Work" } } }
                    tbody {
                        @for visit in &group.visits {
                            tr { td { (visit.label) } td { (visit.job_title) } }
                        }
                    }
                }
            }
        }
    }
}

/// The switches only the client sees: the calendar feed and the new-documents email.
fn client_controls(company: &str, controls: &ClientControls) -> Markup {
    html! {
        h2 { "Calendar and email" }
        div.card {
            h3 { "Your visits in your calendar" }
            @if let Some(url) = &controls.calendar_url {
                p { "Subscribe to this address in your phone's or computer's calendar app. \
                     Keep it to yourself: anyone with it can see your visits." }
                label for="calendar-url" { "Calendar address" }
                input #calendar-url type="text" readonly value=(url);
                form.inline method="post" action=(controls.calendar_switch) {
                    input type="hidden" name="action" value="create";
                    button type="submit" { "New calendar link" }
                }
                " "
                form.inline method="post" action=(controls.calendar_switch) {
                    input type="hidden" name="action" value="revoke";
                    button.secondary type="submit" { "Stop the calendar link" }
                }
                p.muted { "A new link stops the old one." }
            } @else {
                p { "Get a private address your calendar app can subscribe to, so your visits \
                     show up there and stay up to date." }
                form method="post" action=(controls.calendar_switch) {
                    input type="hidden" name="action" value="create";
                    button type="submit" { "Make a calendar link" }
                }
            }
        }
        div.card {
            h3 { "New-document emails" }
            @if controls.new_documents_email {
                p { "On: " (company) " emails you, at most once a day, when new proposals or \
                     invoices arrive in this portal." }
                form method="post" action=(controls.new_documents_email_switch) {
                    input type="hidden" name="next" value="portal";
                    button.secondary type="submit" { "Stop these emails" }
                }
            } @else {
                p { "Off: you get no email when new proposals or invoices arrive." }
                form method="post" action=(controls.new_documents_email_switch) {
                    input type="hidden" name="next" value="portal";
                    button type="submit" { "Turn these emails on" }
                }
            }
        }
    }
}

pub(crate) fn lines_table(lines: &[Line]) -> Markup {
    html! {
        table {
            thead { tr { th { "Description" } th.num.optional { "Qty" }
                th.num.optional { "Price" } th.num { "Amount" } } }
            tbody {
                @for line in lines {
                    // Adjustments read apart from the work they adjust.
                    tr.adjustment[line.kind != LineKind::Item] {
                        td { (line.description) }
                        td.num.optional { @if let Some(q) = &line.quantity { (q) } }
                        td.num.optional { @if let Some(p) = &line.unit_price { (p) } }
                        td.num { (line.amount) }
                    }
                }
            }
        }
    }
}

/// A flash line shown above a proposal after an accept attempt.
pub enum AcceptNotice<'a> {
    Accepted,
    Refused(&'a str),
}

pub fn proposal(
    company: (&CompanySlug, &str),
    detail: &ProposalDetail,
    viewer: &Viewer,
    notice: Option<AcceptNotice>,
) -> Markup {
    let (slug, _) = company;
    let summary = &detail.summary;
    layout(
        "Proposal",
        Some(company),
        Some(viewer.email),
        html! {
            p { a href={ "/p/" (slug) "/" } { "← Back to your portal" } }
            h1 { "Proposal #" (summary.number) }
            @match notice {
                Some(AcceptNotice::Accepted) => {
                p.ok role="status" { "Thank you: proposal accepted." }
            }
                Some(AcceptNotice::Refused(why)) => p.notice role="alert" { (why) },
                None => {},
            }
            div.card {
                p { (proposal_status(summary.status)) }
                @if let Some(property) = &summary.property { p { "For " (property) } }
                p {
                "Dated " (date(summary.created_on)) ". Valid until "
                (date(summary.valid_until)) "."
            }
                @if let Some(message) = &detail.message { p { (message) } }
                (lines_table(&detail.lines))
                p { strong { "Total: " (summary.total) } }
            }
            @if let (Some(on), Some(by)) = (summary.accepted_on, &detail.accepted_by) {
                p.ok { "Accepted " (date(on)) " by " (by) "." }
            } @else if detail.can_accept {
                form method="post" action={ "/p/" (slug) "/proposals/" (summary.id) "/accept" } {
                    p { "By accepting, you agree to the work and the total above." }
                    button type="submit" { "Accept proposal" }
                }
            } @else if summary.status == ProposalStatus::Expired {
                p.notice { "This proposal has expired and can no longer be accepted. \
                             Please contact us for a new one." }
            }
        },
    )
}

/// An invoice's page; `pay` is the card payment form, when the invoice can be paid now.
pub fn invoice(
    company: (&CompanySlug, &str),
    detail: &InvoiceDetail,
    viewer: &Viewer,
    pay: Option<&PayForm>,
) -> Markup {
    let (slug, _) = company;
    let summary = &detail.summary;
    layout(
        "Invoice",
        Some(company),
        Some(viewer.email),
        html! {
            p { a href={ "/p/" (slug) "/" } { "← Back to your portal" } }
            h1 { "Invoice #" (summary.number) }
            div.card {
                p { (payment_status(summary.status)) }
                @if let Some(property) = &summary.property { p { "For " (property) } }
                @if let Some(day) = summary.invoice_date { p { "Dated " (date(day)) "." } }
                @if let Some(day) = summary.due_date { p { "Due " (date(day)) "." } }
                @if let Some(memo) = &detail.memo { p { (memo) } }
                (lines_table(&detail.lines))
                p { "Total: " (summary.total) }
                @if summary.status == PaymentStatus::PartlyPaid {
                    @let paid = summary.total.minor - summary.balance.minor;
                    p { "Paid so far: " (Money::new(paid, summary.total.currency.clone())) }
                }
                p { strong { "Balance due: " (summary.balance) } }
            }
            (super::payments::invoice_payments(slug.as_str(), &detail.payments))
            @if let Some(pay) = pay { (pay_section(pay)) }
        },
    )
}

// Card payment: the pay form on the invoice page and the page Stripe returns the client to.

/// The pay form as shown: the offer, and after a refused post what was typed and why.
pub struct PayForm<'a> {
    pub offer: &'a PayOffer,
    pub amount: Option<&'a str>,
    pub error: Option<&'a str>,
}

fn pay_section(form: &PayForm) -> Markup {
    let offer = form.offer;
    let code = offer.balance.currency.code();
    let typed = form
        .amount
        .map_or_else(|| offer.balance.to_decimal_string(), str::to_owned);
    html! {
        div.card #pay {
            h2 { "Pay online" }
            @if offer.processing {
                p.notice role="status" {
                    "A card payment for this invoice is being processed. It shows here once \
                     the card is confirmed; if you left the payment page without paying, you \
                     can start again."
                }
            }
            form method="post" action=(offer.pay_path) {
                label for="pay-amount" { "Amount (" (code) ")" }
                input #pay-amount type="text" inputmode="decimal" name="amount" value=(typed)
                    autocomplete="off" required
                    aria-invalid=[form.error.map(|_| "true")]
                    aria-describedby="pay-help";
                @if let Some(error) = form.error {
                    p.error role="alert" { (error) }
                }
                p.muted #pay-help {
                    "The whole balance is " (offer.balance) ". You can pay part of it"
                    @if let Some(minimum) = &offer.minimum {
                        " (at least " (minimum) ")"
                    }
                    "."
                }
                button type="submit" { "Pay by card" }
            }
            p.muted { "You pay on Stripe's secure page; your card details never reach us." }
        }
    }
}

/// Where a card payment stands, as the return page tells it.
pub enum PaymentState<'a> {
    /// Stripe confirmed the money; the invoice's balance now, if it is still on record.
    Received {
        balance: Option<&'a Money>,
    },
    /// Not confirmed yet: the page reloads itself.
    Processing,
    Failed {
        why: Option<&'a str>,
    },
    Expired,
    /// Stripe says paid, but the payment does not match the invoice: staff must look.
    Unconfirmed,
}

/// Where the return page leads: back (`href`, label), and the invoice to try again on.
pub struct ReturnLinks<'a> {
    pub back: (&'a str, &'a str),
    pub invoice: &'a str,
}

/// The page Stripe sends the client back to after paying (or trying to pay).
pub fn payment_return(
    company: (&CompanySlug, &str),
    viewer: &Viewer,
    links: ReturnLinks<'_>,
    invoice_number: Option<&str>,
    amount: &Money,
    state: &PaymentState,
) -> Markup {
    let (_, company_name) = company;
    let title = match state {
        PaymentState::Received { .. } => "Payment received",
        PaymentState::Processing => "Processing your payment…",
        PaymentState::Failed { .. } => "Payment not completed",
        PaymentState::Expired => "Payment not completed",
        PaymentState::Unconfirmed => "Payment being checked",
    };
    let content = html! {
        @if matches!(state, PaymentState::Processing) {
            // Reloads until the payment is confirmed; no script needed.
            meta http-equiv="refresh" content="3";
        }
        p { a href=(links.back.0) { (links.back.1) } }
        h1 { (title) }
        div.card {
            @match state {
                PaymentState::Received { balance } => {
                    p.ok role="status" {
                        "Thank you: we received your payment of " strong { (amount) }
                        @if let Some(number) = invoice_number { " for invoice #" (number) }
                        "."
                    }
                    @if let Some(balance) = balance {
                        @if balance.minor <= 0 {
                            p { "The invoice is now paid in full." }
                        } @else {
                            p { "Balance still due: " strong { (balance) } }
                        }
                    }
                }
                PaymentState::Processing => {
                    p role="status" {
                        "Your payment of " strong { (amount) } " is being confirmed. This page \
                         updates by itself in a few seconds."
                    }
                    p.muted { "You can close it: the payment shows on the invoice once confirmed." }
                }
                PaymentState::Failed { why } => {
                    p.notice role="alert" {
                        "Your payment of " (amount) " did not go through"
                        // Stripe's messages end in a full stop; the sentence goes on.
                        @if let Some(why) = why { ": " (why.trim_end_matches('.')) }
                        ". No money was taken."
                    }
                    a.button href={ (links.invoice) "#pay" } { "Try again" }
                }
                PaymentState::Expired => {
                    p.notice role="alert" {
                        "This payment of " (amount) " was not finished in time, so it was \
                         cancelled. No money was taken."
                    }
                    a.button href={ (links.invoice) "#pay" } { "Try again" }
                }
                PaymentState::Unconfirmed => {
                    p.notice role="alert" {
                        "We could not match this payment of " (amount) " to the invoice yet. "
                        (company_name) " will check it; please do not pay again meanwhile."
                    }
                }
            }
        }
    };
    layout(title, Some(company), Some(viewer.email), content)
}
