//! The invented companies and clients of `shared/cases/CASES.md`, and the steps most tests
//! share: adding documents and signing in through the real login flow.

use chrono::NaiveDate;
use porchlight_shared::domain::{
    Billing, Client, Company, Invoice, Job, JobKind, Line, LineKind, Proposal, ProposalState, Stage,
};
use porchlight_shared::ids::DocumentId;
use porchlight_shared::money::{Currency, Money};
use porchlight_shared::store::{Entity, keys};

use crate::{Event, TestStack, login_link_in};

pub fn day(text: &str) -> NaiveDate {
    text.parse().expect("fixture dates are valid")
}

pub fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::usd())
}

/// Company A (Oakleaf, with Sam Ortega), created first, and company B (Greenridge, with Dana
/// Whitfield and Lee Park).
pub struct Cases {
    pub oakleaf: Company,
    pub sam: Client,
    pub sam_invoice: Invoice,
    pub greenridge: Company,
    pub dana: Client,
    pub lee: Client,
}

pub async fn cases(stack: &TestStack) -> Cases {
    let oakleaf = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let sam = stack
        .client(&oakleaf, "Sam Ortega", "sam@example.org")
        .await;
    let sam_invoice = invoice(
        stack,
        &oakleaf,
        &sam,
        "OK-2001",
        "2026-01-15",
        45_000,
        45_000,
    )
    .await;
    let greenridge = stack
        .company("greenridge", "Greenridge Lawn Co.", "America/Chicago")
        .await;
    let dana = stack
        .client(&greenridge, "Dana Whitfield", "dana@example.net")
        .await;
    let lee = stack
        .client(&greenridge, "Lee Park", "lee@example.net")
        .await;
    Cases {
        oakleaf,
        sam,
        sam_invoice,
        greenridge,
        dana,
        lee,
    }
}

/// A one-off invoice dated `date`, in dollars.
pub async fn invoice(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    number: &str,
    date: &str,
    total: i64,
    balance: i64,
) -> Invoice {
    let amounts = (usd(total), usd(balance));
    one_off_invoice(stack, company, client, number, date, amounts).await
}

/// A one-off invoice of one line dated `date`, in any currency: `(total, balance)`.
pub async fn one_off_invoice(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    number: &str,
    date: &str,
    (total, balance): (Money, Money),
) -> Invoice {
    let invoice = Invoice {
        id: DocumentId::random(),
        number: number.into(),
        billing: Billing::OneOff,
        job_id: None,
        property_name: None,
        invoice_date: Some(day(date)),
        due_date: None,
        lines: vec![Line {
            kind: LineKind::Item,
            description: "Lawn care".into(),
            quantity: Some("1".into()),
            unit_price: Some(total.clone()),
            amount: total.clone(),
        }],
        total,
        balance,
        voided: false,
        approved_on: None,
        sent_on: None,
        memo: None,
    };
    let key = keys::invoice(&company.slug, &client.id, &invoice.id);
    stack
        .store()
        .upsert_record(&key, Entity::Invoice, &invoice, None)
        .await
        .expect("stored");
    invoice
}

/// A proposal whose job was created in the proposal stage.
pub async fn proposal(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    number: &str,
    valid_until: &str,
    total: i64,
) -> Proposal {
    let job = Job {
        id: DocumentId::random(),
        title: "Spring cleanup".into(),
        kind: JobKind::OneOff,
        created_stage: Stage::Proposal,
        stage: Stage::Proposal,
        work_date: None,
        completed_on: None,
        property_id: None,
        fixed_invoice: None,
    };
    let job_key = keys::job(&company.slug, &client.id, &job.id);
    stack
        .store()
        .upsert_record(&job_key, Entity::Job, &job, None)
        .await
        .expect("stored");
    let proposal = Proposal {
        id: DocumentId::random(),
        number: number.into(),
        job_id: Some(job.id.clone()),
        property_name: None,
        created_on: day("2026-04-01"),
        valid_until: day(valid_until),
        state: ProposalState::Open,
        lines: vec![Line {
            kind: LineKind::Item,
            description: "Spring cleanup".into(),
            quantity: None,
            unit_price: None,
            amount: usd(total),
        }],
        total: usd(total),
        message: None,
    };
    let key = keys::proposal(&company.slug, &client.id, &proposal.id);
    stack
        .store()
        .upsert_record(&key, Entity::Proposal, &proposal, None)
        .await
        .expect("stored");
    proposal
}

/// Asks for a login link and returns its path, read from the outbox.
pub async fn ask_for_link(stack: &TestStack, slug: &str, email: &str) -> String {
    let before = stack.mail();
    let reply = stack
        .call(Event::post(&format!("/p/{slug}/login")).form(&[("email", email)]))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let new = stack.mail_since(&before);
    assert_eq!(new.len(), 1, "one login email is sent");
    login_link_in(&new[0]).expect("the email holds a login link")
}

/// Signs in through the real flow and returns the session cookie (`name=value`).
pub async fn sign_in(stack: &TestStack, slug: &str, email: &str) -> String {
    let link = ask_for_link(stack, slug, email).await;
    let reply = stack.call(Event::post(&link)).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    reply.session_cookie().expect("a session cookie is set")
}
