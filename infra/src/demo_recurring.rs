//! The demo company's recurring clients, beside the QuickBooks sample (which has none):
//! weekly mowing billed per visit, a monthly fixed-fee maintenance contract, and a tree
//! job whose visits are "to be determined" within a month.
//!
//! Dates are counted from the day the demo company was created (in its time zone), so a
//! restart writes the same records and changes nothing; ids are derived from the
//! company's secret for the same reason.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use porchlight_shared::domain::{
    AppliedPayment, Billing, Client, ClientRef, Company, FixedInvoicing, Invoice, Job, JobKind,
    Line, LineKind, Payment, Property, Stage, Visit, VisitDate,
};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::money::Money;
use porchlight_shared::schedule::{Recurrence, Schedule};
use porchlight_shared::store::backoffice::{ApiNotes, PaymentOutcome};
use porchlight_shared::store::keys::{self, Entity};
use porchlight_shared::store::{Store, StoreError};

/// The sign-in addresses of the recurring demo clients, for the console.
pub const DEMO_ADDRESSES: [(&str, &str); 3] = [
    ("rivera@example.com", "weekly mowing, billed per visit"),
    ("hoa@example.com", "monthly fixed-fee maintenance contract"),
    (
        "chen@example.com",
        "tree work, visits to be determined within a month",
    ),
];

/// What the demo's recurring clients are made of.
struct Seed {
    clients: Vec<Client>,
    jobs: Vec<(ClientId, Job, Option<String>)>,
    visits: Vec<(ClientId, Visit)>,
    invoices: Vec<(ClientId, Invoice)>,
    payments: Vec<(ClientId, Payment)>,
}

fn id(company: &Company, what: &str) -> DocumentId {
    DocumentId::derived(&company.id_secret, &format!("demo-recurring:{what}"))
}

fn client_id(company: &Company, what: &str) -> ClientId {
    ClientId::derived(&company.id_secret, &format!("demo-recurring-client:{what}"))
}

fn usd(company: &Company, dollars: i64) -> Money {
    Money::new(dollars * 100, company.currency.clone())
}

fn client(company: &Company, key: &str, name: &str, email: &str, place: (&str, &str)) -> Client {
    Client {
        id: client_id(company, key),
        name: name.into(),
        emails: vec![email.into()],
        phone: None,
        billing_address: Some(place.1.into()),
        properties: vec![Property {
            id: id(company, &format!("{key}:property")),
            name: place.0.into(),
            address: Some(place.1.into()),
        }],
    }
}

fn recurring_job(title: &str, job_id: DocumentId, property: &Client) -> Job {
    Job {
        id: job_id,
        title: title.into(),
        kind: JobKind::Recurring,
        created_stage: Stage::Active,
        stage: Stage::Active,
        work_date: None,
        completed_on: None,
        property_id: property.properties.first().map(|p| p.id.clone()),
        fixed_invoice: None,
    }
}

fn per_visit_invoice(
    company: &Company,
    client: &Client,
    job: &Job,
    visit: &Visit,
    number: String,
    dollars: i64,
    paid: bool,
) -> Invoice {
    let total = usd(company, dollars);
    Invoice {
        id: id(company, &format!("invoice:{}", visit.id)),
        number,
        billing: Billing::PerVisit {
            visit_id: visit.id.clone(),
        },
        job_id: Some(job.id.clone()),
        property_name: client.properties.first().map(|p| p.name.clone()),
        invoice_date: None,
        due_date: None,
        lines: vec![Line {
            kind: LineKind::Item,
            description: job.title.clone(),
            quantity: Some("1".into()),
            unit_price: Some(total.clone()),
            amount: total.clone(),
        }],
        balance: if paid { usd(company, 0) } else { total.clone() },
        total,
        voided: false,
        approved_on: None,
        sent_on: None,
        memo: None,
    }
}

fn payment_for(company: &Company, invoice: &Invoice, on: NaiveDate) -> Payment {
    Payment {
        id: id(company, &format!("payment:{}", invoice.id)),
        received_on: on,
        amount: invoice.total.clone(),
        unapplied: usd(company, 0),
        applied: vec![AppliedPayment {
            invoice_id: invoice.id.clone(),
            amount: invoice.total.clone(),
        }],
        reference: Some("Card on file".into()),
        voided: false,
        refunded: None,
    }
}

fn seed(company: &Company, anchor: NaiveDate) -> Seed {
    let mut seed = Seed {
        clients: Vec::new(),
        jobs: Vec::new(),
        visits: Vec::new(),
        invoices: Vec::new(),
        payments: Vec::new(),
    };

    // Weekly mowing on Tuesdays, each visit billed on its own; a rained-out visit is
    // cancelled, which withdraws its invoice.
    let rivera = client(
        company,
        "rivera",
        "Rivera Family",
        "rivera@example.com",
        ("Rivera home", "41 Oak Street, Mountain View, CA"),
    );
    let mowing = recurring_job("Weekly lawn mowing", id(company, "rivera:mowing"), &rivera);
    let first_tuesday = anchor
        - Days::new(u64::from(
            (7 + anchor.weekday().num_days_from_monday() - Weekday::Tue.num_days_from_monday()) % 7,
        ))
        - Days::new(7 * 6);
    for week in 0..20u64 {
        let date = first_tuesday + Days::new(7 * week);
        let done = date < anchor;
        let visit = Visit {
            id: id(company, &format!("rivera:visit:{week}")),
            job_id: mowing.id.clone(),
            scheduled: Some(VisitDate::On { date }),
            completed_on: done.then_some(date),
            cancelled_on: (week == 8).then_some(anchor),
        };
        let paid = date + Days::new(14) < anchor;
        let number = format!("M-{}", 2001 + week);
        let invoice = per_visit_invoice(company, &rivera, &mowing, &visit, number, 55, paid);
        if paid {
            seed.payments.push((
                rivera.id.clone(),
                payment_for(company, &invoice, date + Days::new(3)),
            ));
        }
        seed.visits.push((rivera.id.clone(), visit));
        seed.invoices.push((rivera.id.clone(), invoice));
    }
    seed.jobs
        .push((rivera.id.clone(), mowing, Some("Rivera home".into())));
    seed.clients.push(rivera);

    // A fixed fee on the 1st of every month since five months before the demo began; the
    // sweep creates each month's invoice on its day.
    let hoa = client(
        company,
        "hoa",
        "Harbor View HOA",
        "hoa@example.com",
        (
            "Harbor View common grounds",
            "1 Harbor View Drive, Mountain View, CA",
        ),
    );
    let mut contract = recurring_job(
        "Grounds maintenance contract",
        id(company, "hoa:contract"),
        &hoa,
    );
    let month_start = anchor.with_day(1).unwrap_or(anchor);
    let first = month_start
        .checked_sub_months(Months::new(5))
        .unwrap_or(month_start);
    if let Ok(schedule) = Schedule::new(first, None, Recurrence::MonthlyOnDay { day: 1 }) {
        contract.fixed_invoice = Some(FixedInvoicing {
            schedule,
            amount: usd(company, 450),
            description: "Monthly grounds maintenance".into(),
        });
    }
    seed.jobs.push((
        hoa.id.clone(),
        contract,
        Some("Harbor View common grounds".into()),
    ));
    seed.clients.push(hoa);

    // Tree work planned by month: a visit some time this month (its invoice shows from the
    // 1st), one next month, and one in three months.
    let chen = client(
        company,
        "chen",
        "Chen Residence",
        "chen@example.com",
        ("Chen residence", "9 Ridge Road, Los Altos, CA"),
    );
    let trees = recurring_job("Oak pruning and cabling", id(company, "chen:trees"), &chen);
    for (i, months) in [0u32, 1, 3].into_iter().enumerate() {
        let month = month_start
            .checked_add_months(Months::new(months))
            .unwrap_or(month_start);
        let visit = Visit {
            id: id(company, &format!("chen:visit:{i}")),
            job_id: trees.id.clone(),
            scheduled: Some(VisitDate::month_of(month)),
            completed_on: None,
            cancelled_on: None,
        };
        let number = format!("T-{}", 301 + i);
        let invoice = per_visit_invoice(company, &chen, &trees, &visit, number, 380, false);
        seed.visits.push((chen.id.clone(), visit));
        seed.invoices.push((chen.id.clone(), invoice));
    }
    seed.jobs
        .push((chen.id.clone(), trees, Some("Chen residence".into())));
    seed.clients.push(chen);
    seed
}

/// The day the demo began: the company's creation date in its own zone.
fn anchor(company: &Company) -> NaiveDate {
    company.today(company.created_at)
}

/// Writes the recurring clients; a second run writes nothing new.
pub async fn load(store: &Store, company: &Company) -> Result<(), StoreError> {
    let slug = &company.slug;
    let seed = seed(company, anchor(company));
    for client in &seed.clients {
        store.save_client(slug, client).await?;
        let reach = [ClientRef {
            id: client.id.clone(),
            name: client.name.clone(),
        }];
        for email in &client.emails {
            store.set_email_clients(slug, email, &reach).await?;
        }
    }
    for (client, job, property) in &seed.jobs {
        if job.fixed_invoice.is_some() {
            // With its schedule cursor, in one transaction; `false` once it exists.
            store
                .create_job(slug, client, job, property.clone(), &ApiNotes::default())
                .await?;
        } else {
            let key = keys::job(slug, client, &job.id);
            store.upsert_record(&key, Entity::Job, job, None).await?;
        }
    }
    for (client, visit) in &seed.visits {
        let key = keys::visit(slug, client, &visit.id);
        store
            .upsert_record(&key, Entity::Visit, visit, None)
            .await?;
    }
    for (client, invoice) in &seed.invoices {
        let key = keys::invoice(slug, client, &invoice.id);
        store
            .upsert_record(&key, Entity::Invoice, invoice, None)
            .await?;
    }
    for (client, payment) in &seed.payments {
        let key = keys::payment(slug, client, &payment.id);
        store
            .upsert_record(&key, Entity::Payment, payment, None)
            .await?;
    }
    Ok(())
}

/// Pays the contract's fixed invoices of months before the demo began's month, once the
/// sweep has created them, so the demo shows a paid history and one open invoice. Paying
/// again is a no-op (the payment ids are derived).
pub async fn pay_contract_history(store: &Store, company: &Company) -> Result<u32, StoreError> {
    let slug = &company.slug;
    let hoa = client_id(company, "hoa");
    let Some(portal) = store.client_portal(slug, &hoa).await? else {
        return Ok(0);
    };
    let this_month = anchor(company).with_day(1).unwrap_or(anchor(company));
    let mut paid = 0;
    for invoice in &portal.invoices {
        let Billing::Fixed { occurrence, .. } = invoice.billing else {
            continue;
        };
        if occurrence >= this_month || invoice.is_paid() {
            continue;
        }
        let payment = payment_for(company, invoice, occurrence + Days::new(5));
        let outcome = store
            .record_payment(slug, &hoa, &payment, &ApiNotes::default())
            .await?;
        if matches!(outcome, PaymentOutcome::Recorded) {
            paid += 1;
        }
    }
    Ok(paid)
}
