//! The daily sweep against DynamoDB Local: fixed invoices on each company's own date
//! (case C11), exactly once however often or concurrently it runs, the archive of paid
//! invoices, the once-a-day "new documents" email and its opt-out, and reading only what
//! is due.

use chrono::{NaiveDate, Weekday};

use porchlight_shared::domain::{
    Billing, Client, Company, FixedInvoicing, Invoice, Job, JobKind, Stage,
};
use porchlight_shared::ids::DocumentId;
use porchlight_shared::portal::PortalDay;
use porchlight_shared::schedule::{Recurrence, Schedule};
use porchlight_shared::store::backoffice::ApiNotes;
use porchlight_shared::store::keys::{self, Entity};
use porchlight_shared::sweep::{self, CompanySweep, Limits, Mode};
use porchlight_tests::fixtures::{day, invoice, usd};
use porchlight_tests::{TestStack, instant};

async fn contract(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    first: &str,
    recurrence: Recurrence,
) -> Job {
    let schedule = Schedule::new(day(first), None, recurrence).expect("a valid schedule");
    let job = Job {
        id: DocumentId::random(),
        title: "Grounds maintenance".into(),
        kind: JobKind::Recurring,
        created_stage: Stage::Active,
        stage: Stage::Active,
        work_date: None,
        completed_on: None,
        property_id: None,
        fixed_invoice: Some(FixedInvoicing {
            schedule,
            amount: usd(45_000),
            description: "Monthly grounds maintenance".into(),
        }),
    };
    let created = stack
        .store()
        .create_job(&company.slug, &client.id, &job, None, &ApiNotes::default())
        .await
        .expect("job stored");
    assert!(created);
    job
}

/// A sweep of one company at `now`, on its own date there.
async fn sweep_at(stack: &TestStack, company: &Company, now: &str) -> CompanySweep {
    stack.set_now(now);
    let now = instant(now);
    sweep::sweep_company(
        &stack.ctx,
        company,
        company.today(now),
        now,
        Mode::Apply,
        Limits::default(),
    )
    .await
    .expect("the sweep runs")
}

async fn invoices_of(stack: &TestStack, company: &Company, client: &Client) -> Vec<Invoice> {
    stack
        .store()
        .client_portal(&company.slug, &client.id)
        .await
        .expect("portal read")
        .expect("client exists")
        .invoices
}

fn occurrences(invoices: &[Invoice]) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = invoices
        .iter()
        .filter_map(|invoice| match invoice.billing {
            Billing::Fixed { occurrence, .. } => Some(occurrence),
            _ => None,
        })
        .collect();
    dates.sort();
    dates
}

/// The invoice numbers the client's portal shows at `now`.
async fn shown_at(stack: &TestStack, company: &Company, client: &Client, now: &str) -> Vec<String> {
    let portal = stack
        .store()
        .client_portal(&company.slug, &client.id)
        .await
        .expect("portal read")
        .expect("client exists");
    let today = company.today(instant(now));
    let home = PortalDay::new(company, &portal, today).home();
    home.invoices.into_iter().map(|i| i.number).collect()
}

#[tokio::test]
async fn c11_sydney_invoice_is_created_at_local_midnight() {
    let stack = TestStack::new("2026-09-30T00:00:00Z").await;
    let company = stack
        .company("harbour", "Harbour Gardens", "Australia/Sydney")
        .await;
    let client = stack.client(&company, "Kim", "kim@example.com").await;
    contract(
        &stack,
        &company,
        &client,
        "2026-10-01",
        Recurrence::MonthlyOnDay { day: 1 },
    )
    .await;

    let early = sweep_at(&stack, &company, "2026-09-30T13:59:00Z").await;
    assert_eq!(early.local_date, Some(day("2026-09-30")));
    assert!(early.fixed_invoices.is_empty());
    assert!(invoices_of(&stack, &company, &client).await.is_empty());

    let midnight = sweep_at(&stack, &company, "2026-09-30T14:00:00Z").await;
    assert_eq!(midnight.local_date, Some(day("2026-10-01")));
    assert_eq!(midnight.fixed_invoices.len(), 1);
    let invoices = invoices_of(&stack, &company, &client).await;
    assert_eq!(invoices.len(), 1);
    let made = &invoices[0];
    assert_eq!(made.invoice_date, Some(day("2026-10-01")));
    assert!(
        matches!(&made.billing, Billing::Fixed { period, .. } if period == "2026-10"),
        "labelled with its month: {:?}",
        made.billing
    );
    assert!(made.number.ends_with("-2026-10"), "{}", made.number);
    assert_eq!(made.total, usd(45_000));

    let number = made.number.clone();
    assert_eq!(
        shown_at(&stack, &company, &client, "2026-09-30T14:00:00Z").await,
        vec![number]
    );
    assert!(
        shown_at(&stack, &company, &client, "2026-09-30T13:59:00Z")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn sweeping_twice_or_at_once_makes_one_invoice_per_occurrence() {
    let stack = TestStack::new("2026-12-01T12:00:00Z").await;
    let company = stack.company("oakleaf", "Oakleaf", "America/Chicago").await;
    let client = stack.client(&company, "Sam", "sam@example.com").await;
    let every_other_tuesday = Recurrence::Weekly {
        interval: 2,
        weekday: Weekday::Tue,
    };
    contract(&stack, &company, &client, "2026-12-22", every_other_tuesday).await;

    let first = sweep_at(&stack, &company, "2027-01-06T12:00:00Z").await;
    assert_eq!(first.fixed_invoices.len(), 2);
    let again = sweep_at(&stack, &company, "2027-01-06T12:00:00Z").await;
    assert!(again.fixed_invoices.is_empty());

    // Two runs at the same time, as two overlapping Lambda invocations would be.
    stack.set_now("2027-02-03T12:00:00Z");
    let now = instant("2027-02-03T12:00:00Z");
    let today = company.today(now);
    let run = || {
        sweep::sweep_company(
            &stack.ctx,
            &company,
            today,
            now,
            Mode::Apply,
            Limits::default(),
        )
    };
    let (a, b) = tokio::join!(run(), run());
    let (a, b) = (a.expect("first run"), b.expect("second run"));
    assert_eq!(a.fixed_invoices.len() + b.fixed_invoices.len(), 2);

    let dates = occurrences(&invoices_of(&stack, &company, &client).await);
    let expected: Vec<NaiveDate> = ["2026-12-22", "2027-01-05", "2027-01-19", "2027-02-02"]
        .into_iter()
        .map(day)
        .collect();
    assert_eq!(dates, expected, "C10's dates, each once");

    let cursor = stack
        .store()
        .schedule_cursor(&company.slug, &client.id, &first.fixed_invoices[0].job_id)
        .await
        .expect("cursor read")
        .expect("cursor exists");
    assert_eq!(cursor.issued_through, Some(day("2027-02-02")));
    assert_eq!(cursor.next_due, Some(day("2027-02-16")));
}

#[tokio::test]
async fn a_run_stopped_part_way_is_finished_by_the_next() {
    let stack = TestStack::new("2026-06-01T12:00:00Z").await;
    let company = stack.company("oakleaf", "Oakleaf", "America/Chicago").await;
    let client = stack.client(&company, "Sam", "sam@example.com").await;
    for n in 0..130 {
        invoice(
            &stack,
            &company,
            &client,
            &format!("{}", 5000 + n),
            "2025-01-10",
            1_000,
            0,
        )
        .await;
    }
    let now = instant("2026-06-01T12:00:00Z");
    let today = company.today(now);
    let stopped = sweep::sweep_company(
        &stack.ctx,
        &company,
        today,
        now,
        Mode::Apply,
        Limits {
            deadline: None,
            pages: Some(1),
        },
    )
    .await
    .expect("the sweep runs");
    assert!(!stopped.complete);
    assert_eq!(stopped.archived.len(), 100, "one page of hints");

    let rest = sweep_at(&stack, &company, "2026-06-01T13:00:00Z").await;
    assert!(rest.complete);
    assert_eq!(rest.archived.len(), 30);
    assert!(invoices_of(&stack, &company, &client).await.is_empty());
}

#[tokio::test]
async fn paid_invoices_move_to_the_archive_when_their_year_is_up() {
    let stack = TestStack::new("2026-11-22T18:00:00Z").await;
    let company = stack.company("oakleaf", "Oakleaf", "America/Chicago").await;
    let client = stack.client(&company, "Sam", "sam@example.com").await;
    let paid = invoice(&stack, &company, &client, "1001", "2025-11-23", 5_000, 0).await;
    invoice(
        &stack,
        &company,
        &client,
        "1002",
        "2024-01-05",
        5_000,
        2_500,
    )
    .await;

    // Shown through 2026-11-22 (DESIGN: one year after the invoice date).
    let before = sweep_at(&stack, &company, "2026-11-22T18:00:00Z").await;
    assert!(before.archived.is_empty());
    assert_eq!(invoices_of(&stack, &company, &client).await.len(), 2);

    let after = sweep_at(&stack, &company, "2026-11-23T18:00:00Z").await;
    assert_eq!(after.archived.len(), 1);
    assert_eq!(after.archived[0].number, "1001");
    let left: Vec<String> = invoices_of(&stack, &company, &client)
        .await
        .into_iter()
        .map(|i| i.number)
        .collect();
    assert_eq!(left, vec!["1002"], "an unpaid invoice stays however old");
    let archived = stack
        .store()
        .archived_invoice(&company.slug, &client.id, &paid.id)
        .await
        .expect("archive read")
        .expect("nothing is deleted");
    assert_eq!(archived, paid);

    // Nothing left to do, and importing the invoice again does not bring it back.
    let again = sweep_at(&stack, &company, "2026-11-24T18:00:00Z").await;
    assert!(again.archived.is_empty());
    let key = keys::invoice(&company.slug, &client.id, &paid.id);
    stack
        .store()
        .upsert_record(&key, Entity::Invoice, &paid, None)
        .await
        .expect("import");
    assert_eq!(invoices_of(&stack, &company, &client).await.len(), 1);
}

fn digests(mail: &[String]) -> Vec<&String> {
    mail.iter()
        .filter(|m| m.contains("Subject: New documents from"))
        .collect()
}

#[tokio::test]
async fn clients_hear_of_new_documents_at_most_once_a_day_and_can_stop_it() {
    let stack = TestStack::new("2026-03-10T15:00:00Z").await;
    let company = stack.company("oakleaf", "Oakleaf", "America/Chicago").await;
    let client = stack.client(&company, "Sam", "sam@example.com").await;
    invoice(
        &stack,
        &company,
        &client,
        "1001",
        "2026-03-10",
        5_000,
        5_000,
    )
    .await;
    // Old news: an invoice that appeared months ago is not announced.
    invoice(
        &stack,
        &company,
        &client,
        "0900",
        "2025-12-01",
        5_000,
        5_000,
    )
    .await;

    let first = sweep_at(&stack, &company, "2026-03-10T15:00:00Z").await;
    assert_eq!(first.emails.len(), 1);
    assert_eq!(first.emails[0].documents, vec!["Invoice 1001"]);
    let mail = stack.mail();
    let sent = digests(&mail);
    assert_eq!(sent.len(), 1);
    let message = sent[0];
    assert!(message.contains("To: sam@example.com"), "{message}");
    assert!(message.contains("Invoice 1001"));
    assert!(!message.contains("Invoice 0900"));
    assert!(message.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    let opt_out = porchlight_shared::client_links::email_opt_out_path(&company, &client.id);
    assert!(message.contains(&format!(
        "List-Unsubscribe: <http://127.0.0.1:3000{opt_out}>"
    )));

    // A second document the same day waits for tomorrow's email.
    invoice(
        &stack,
        &company,
        &client,
        "1002",
        "2026-03-10",
        5_000,
        5_000,
    )
    .await;
    let later = sweep_at(&stack, &company, "2026-03-10T20:00:00Z").await;
    assert!(later.emails.is_empty());
    assert_eq!(later.deferred, 1);
    assert_eq!(digests(&stack.mail()).len(), 1);

    let next_day = sweep_at(&stack, &company, "2026-03-11T06:00:00Z").await;
    assert_eq!(next_day.emails.len(), 1);
    assert_eq!(next_day.emails[0].documents, vec!["Invoice 1002"]);
    assert_eq!(digests(&stack.mail()).len(), 2);

    // Nothing new: no email, and 1001 is never announced twice.
    let quiet = sweep_at(&stack, &company, "2026-03-12T06:00:00Z").await;
    assert!(quiet.emails.is_empty());

    stack
        .store()
        .set_new_documents_email(&company.slug, &client.id, false)
        .await
        .expect("preferences stored");
    invoice(
        &stack,
        &company,
        &client,
        "1003",
        "2026-03-13",
        5_000,
        5_000,
    )
    .await;
    let opted_out = sweep_at(&stack, &company, "2026-03-13T06:00:00Z").await;
    assert!(opted_out.emails.is_empty());
    assert_eq!(opted_out.opted_out, 1);
    assert_eq!(digests(&stack.mail()).len(), 2);
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let stack = TestStack::new("2026-05-02T12:00:00Z").await;
    let company = stack.company("oakleaf", "Oakleaf", "America/Chicago").await;
    let client = stack.client(&company, "Sam", "sam@example.com").await;
    contract(
        &stack,
        &company,
        &client,
        "2026-03-31",
        Recurrence::MonthlyLastDay,
    )
    .await;
    invoice(&stack, &company, &client, "1001", "2025-01-10", 5_000, 0).await;
    let now = instant("2026-05-02T12:00:00Z");
    let plan = sweep::sweep_company(
        &stack.ctx,
        &company,
        day("2026-05-02"),
        now,
        Mode::DryRun,
        Limits::default(),
    )
    .await
    .expect("dry run");
    let planned: Vec<NaiveDate> = plan.fixed_invoices.iter().map(|m| m.occurrence).collect();
    assert_eq!(planned, vec![day("2026-03-31"), day("2026-04-30")]);
    assert_eq!(plan.archived.len(), 1);
    assert_eq!(plan.emails.len(), 0, "nothing new within the last week");
    let invoices = invoices_of(&stack, &company, &client).await;
    assert_eq!(invoices.len(), 1, "nothing created or archived");
    assert!(stack.mail().is_empty());

    let done = sweep_at(&stack, &company, "2026-05-02T12:00:00Z").await;
    let made: Vec<NaiveDate> = done.fixed_invoices.iter().map(|m| m.occurrence).collect();
    assert_eq!(made, planned);
    assert_eq!(done.archived.len(), 1);
}

#[tokio::test]
async fn the_sweep_reads_what_is_due_not_the_table() {
    let stack = TestStack::new("2026-08-01T12:00:00Z").await;
    let company = stack.company("oakleaf", "Oakleaf", "America/Chicago").await;
    let client = stack.client(&company, "Sam", "sam@example.com").await;
    // 400 invoices dated ahead (not due today) and 8 paid ones whose year is up.
    for n in 0..400 {
        invoice(
            &stack,
            &company,
            &client,
            &format!("F{n}"),
            "2026-09-15",
            1_000,
            1_000,
        )
        .await;
    }
    for n in 0..8 {
        invoice(
            &stack,
            &company,
            &client,
            &format!("P{n}"),
            "2025-07-01",
            1_000,
            0,
        )
        .await;
    }
    let report = sweep_at(&stack, &company, "2026-08-01T12:00:00Z").await;
    assert_eq!(report.archived.len(), 8);
    assert_eq!(report.hints_read, 8);
    assert!(
        report.items_read <= 8 * 2 + 4,
        "read {} items for 8 due of 408",
        report.items_read
    );
}

#[tokio::test]
async fn each_preference_changes_alone() {
    let stack = TestStack::new("2026-03-10T15:00:00Z").await;
    let company = stack.company("oakleaf", "Oakleaf", "America/Chicago").await;
    let client = stack.client(&company, "Sam", "sam@example.com").await;
    let store = stack.store();
    let slug = &company.slug;
    let first = store
        .switch_calendar_feed(slug, &client.id, true)
        .await
        .expect("feed made");
    assert!(first.calendar_enabled && first.new_documents_email);
    assert_eq!(first.calendar_generation, 1);
    store
        .set_new_documents_email(slug, &client.id, false)
        .await
        .expect("email off");
    let second = store
        .switch_calendar_feed(slug, &client.id, true)
        .await
        .expect("feed made again");
    assert_eq!(second.calendar_generation, 2, "older URLs die");
    assert!(!second.new_documents_email, "the email switch is kept");
    let revoked = store
        .switch_calendar_feed(slug, &client.id, false)
        .await
        .expect("feed revoked");
    assert!(!revoked.calendar_enabled);
    assert_eq!(revoked.calendar_generation, 2);
    let read = store
        .client_preferences(slug, &client.id)
        .await
        .expect("read");
    assert_eq!(read, revoked);
}
