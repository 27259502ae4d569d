//! Recurring work through `/api/v1/`: a recurring job's fixed-invoice schedule in each of
//! its forms and the RRULE it reads back as, the job's property, refusals that name every
//! bad field and store nothing, a schedule changed or removed after the sweep invoiced it,
//! visits cancelled and reinstated, changes of dates that hand invoices back to the sweep
//! at once, and retried creates.

use chrono::NaiveDate;
use serde_json::{Value, json};

use porchlight_shared::domain::Company;
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::store::keys;
use porchlight_shared::sweep::{self, Limits, Mode};
use porchlight_tests::back_office::{BackOffice, id, lines, usd};
use porchlight_tests::{Reply, TestStack, instant};

/// The problem details' field names.
fn bad_fields(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 422, "{}", reply.body);
    reply.json()["invalid_fields"]
        .as_array()
        .expect("invalid fields")
        .iter()
        .map(|f| f["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// 09:00 in Chicago on `day`.
fn morning(day: &str) -> String {
    format!("{day}T14:00:00Z")
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("test dates are valid")
}

async fn oakleaf(stack: &TestStack) -> Company {
    stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await
}

/// A client with one property; returns the client's id and the property's.
async fn client_with_property(office: &BackOffice<'_>) -> (String, String) {
    let client = office
        .create(
            "clients",
            json!({ "name": "Riverside HOA",
                "contacts": [{ "name": "Dana", "email": "dana@example.org" }],
                "properties": [{ "name": "North lawn", "address": "1 River Rd" }] }),
        )
        .await;
    let property = client["properties"][0]["id"]
        .as_str()
        .expect("the property's id")
        .to_owned();
    (id(&client), property)
}

/// A recurring job's body billed $120.00 on `repeat` from `first`.
fn contract(first: &str, repeat: Value) -> Value {
    json!({ "title": "Grounds maintenance", "kind": "recurring", "stage": "active",
        "fixed_invoice": { "amount": "120.00", "description": "Monthly grounds maintenance",
            "schedule": { "first": first, "until": null, "repeat": repeat } } })
}

/// The sweep of the company at 09:00 in Chicago on `day`.
async fn sweep_on(stack: &TestStack, company: &Company, day: &str) {
    let now = morning(day);
    stack.set_now(&now);
    let now = instant(&now);
    sweep::sweep_company(
        &stack.ctx,
        company,
        company.today(now),
        now,
        Mode::Apply,
        Limits::default(),
    )
    .await
    .expect("the sweep runs");
}

/// Whether the sweep would look at the client's invoice on `today`.
async fn sweep_looks_at(
    stack: &TestStack,
    company: &Company,
    client: &str,
    invoice: &str,
    today: &str,
) -> bool {
    let client = ClientId::parse(client).expect("a client id");
    let invoice = DocumentId::parse(invoice).expect("an invoice id");
    let key = keys::invoice(&company.slug, &client, &invoice);
    let page = stack
        .store()
        .due_page(&company.slug, day(today), None, 100)
        .await
        .expect("the sweep's index is read");
    assert!(page.next.is_none(), "one page holds every test hint");
    page.entries.iter().any(|entry| entry.key == key)
}

/// Each `repeat` form reads back as sent, with its RRULE, the DTSTART it counts from and
/// the next date the sweep invoices; "the 31st" clamps to short months' last day, and
/// "every other Tuesday" counts from the first Tuesday on or after `first`.
#[tokio::test]
async fn every_repeat_form_reads_back_with_its_rrule_and_next_invoice_date() {
    let stack = TestStack::new(&morning("2026-01-02")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let (client, property) = client_with_property(&office).await;
    let jobs = format!("clients/{client}/jobs");
    let cases = [
        (
            "2026-02-01",
            json!({ "monthly_on_day": 31 }),
            "FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1",
            "2026-02-28",
        ),
        (
            "2026-04-05",
            json!({ "monthly_last_day": true }),
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "2026-04-30",
        ),
        (
            "2026-01-01",
            json!({ "monthly_nth_weekday": { "nth": 2, "weekday": "tuesday" } }),
            "FREQ=MONTHLY;BYDAY=2TU",
            "2026-01-13",
        ),
        (
            "2026-01-01",
            json!({ "monthly_last_weekday": "friday" }),
            "FREQ=MONTHLY;BYDAY=-1FR",
            "2026-01-30",
        ),
        (
            "2026-12-22",
            json!({ "every_weeks": { "interval": 2, "weekday": "tuesday" } }),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            "2026-12-22",
        ),
        (
            "2026-12-17",
            json!({ "every_weeks": { "interval": 2, "weekday": "tuesday" } }),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            "2026-12-22",
        ),
        // Any RFC 5545 rule, read back in canonical form, with `first` as its DTSTART.
        (
            "2026-01-01",
            json!({ "rrule": "rrule:byday=mo,tu,we,th,fr;freq=monthly;bysetpos=-1" }),
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "2026-01-30",
        ),
        // RFC semantics: weeks count from DTSTART's week, so from Sunday 2026-06-14
        // "every other Thursday" as an RRULE starts on 06-25 (case C10).
        (
            "2026-06-14",
            json!({ "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH" }),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
            "2026-06-25",
        ),
    ];

    for (first, repeat, rrule, next) in cases {
        let mut body = contract(first, repeat.clone());
        body["property_id"] = json!(property);
        let job = office.create(&jobs, body).await;

        let fixed = &job["fixed_invoice"];
        // An RRULE reads back in its canonical form.
        let canonical = match repeat.get("rrule") {
            Some(_) => json!({ "rrule": rrule }),
            None => repeat.clone(),
        };
        assert_eq!(fixed["schedule"]["repeat"], canonical, "{first}");
        assert_eq!(fixed["schedule"]["first"], first);
        assert_eq!(fixed["schedule"]["until"], Value::Null);
        assert_eq!(fixed["amount"], "120.00");
        assert_eq!(fixed["description"], "Monthly grounds maintenance");
        assert_eq!(fixed["rrule"], rrule, "{repeat}");
        let dtstart = format!("DTSTART;VALUE=DATE:{}", next.replace('-', ""));
        assert_eq!(fixed["dtstart"], dtstart.as_str(), "{repeat} from {first}");
        assert_eq!(fixed["next_invoice_on"], next, "{repeat} from {first}");
        assert_eq!(fixed["invoiced_through"], Value::Null);
        assert_eq!(job["property_id"], property.as_str());
        let read = office.get(&format!("{jobs}/{}", id(&job))).await;
        assert_eq!(read.json(), job, "a read answers what the create did");
    }

    let until = json!({ "title": "Spring mowing", "kind": "recurring", "stage": "active",
        "fixed_invoice": { "amount": { "minor": 4550, "currency": "USD" },
            "description": "Mowing",
            "schedule": { "first": "2026-03-01", "until": "2026-06-30",
                "repeat": { "monthly_on_day": 15 } } } });
    let job = office.create(&jobs, until).await;
    assert_eq!(
        job["fixed_invoice"]["amount"], "45.50",
        "money objects are read too"
    );
    assert_eq!(
        job["fixed_invoice"]["rrule"],
        "FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20260630"
    );
    assert_eq!(job["fixed_invoice"]["next_invoice_on"], "2026-03-15");
    assert_eq!(job["property_id"], Value::Null);
}

/// Every bad field of a fixed invoice or property is named in one 422, and nothing is
/// stored: neither by a refused create nor by a refused change.
#[tokio::test]
async fn bad_schedules_and_properties_are_refused_by_name_and_store_nothing() {
    let stack = TestStack::new(&morning("2026-01-02")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let (client, property) = client_with_property(&office).await;
    let jobs = format!("clients/{client}/jobs");
    let unknown = "0123456789abcdef0123456789abcdef";
    let monthly = json!({ "monthly_on_day": 1 });
    let repeat = "fixed_invoice.schedule.repeat";

    let mut cases = vec![
        (
            contract("2026-01-01", json!({ "monthly_on_day": 32 })),
            format!("{repeat}.monthly_on_day"),
        ),
        (
            contract(
                "2026-01-01",
                json!({ "monthly_nth_weekday": { "nth": 6, "weekday": "tuesday" } }),
            ),
            format!("{repeat}.monthly_nth_weekday.nth"),
        ),
        (
            contract(
                "2026-01-01",
                json!({ "every_weeks": { "interval": 0, "weekday": "tuesday" } }),
            ),
            format!("{repeat}.every_weeks.interval"),
        ),
        (
            contract(
                "2026-01-01",
                json!({ "monthly_on_day": 1, "every_weeks": { "interval": 2,
                    "weekday": "tuesday" } }),
            ),
            repeat.to_owned(),
        ),
        (contract("2026-01-01", json!({})), repeat.to_owned()),
        (
            contract(
                "2026-01-01",
                json!({ "rrule": "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2" }),
            ),
            format!("{repeat}.rrule"),
        ),
        (
            contract("2026-01-01", json!({ "rrule": "FREQ=HOURLY" })),
            format!("{repeat}.rrule"),
        ),
    ];
    let mut until_first = contract("2026-03-01", monthly.clone());
    until_first["fixed_invoice"]["schedule"]["until"] = json!("2026-02-28");
    cases.push((until_first, "fixed_invoice.schedule.until".into()));
    let mut one_off = contract("2026-01-01", monthly.clone());
    one_off["kind"] = json!("one_off");
    cases.push((one_off, "fixed_invoice".into()));
    let mut elsewhere = contract("2026-01-01", monthly.clone());
    elsewhere["property_id"] = json!(unknown);
    cases.push((elsewhere, "property_id".into()));
    for amount in [json!("0"), json!("-5.00"), json!("12.345"), usd(0)] {
        let mut free = contract("2026-01-01", monthly.clone());
        free["fixed_invoice"]["amount"] = amount;
        cases.push((free, "fixed_invoice.amount".into()));
    }
    for (body, field) in cases {
        let refused = office.post(&jobs, body.clone()).await;
        assert_eq!(bad_fields(&refused), [field.as_str()], "{body}");
    }
    let hourly = office
        .post(
            &jobs,
            contract("2026-01-01", json!({ "rrule": "FREQ=HOURLY" })),
        )
        .await
        .json();
    let reason = hourly["invalid_fields"][0]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("whole days"),
        "the parser's own words: {reason}"
    );

    let mut all = contract("2026-03-01", json!({ "monthly_on_day": 32 }));
    all["kind"] = json!("one_off");
    all["property_id"] = json!(unknown);
    all["fixed_invoice"]["amount"] = json!("0.00");
    all["fixed_invoice"]["schedule"]["until"] = json!("2026-01-01");
    let refused = office.post(&jobs, all).await;
    let mut named = bad_fields(&refused);
    named.sort();
    assert_eq!(
        named,
        [
            "fixed_invoice",
            "fixed_invoice.amount",
            "fixed_invoice.schedule.repeat.monthly_on_day",
            "fixed_invoice.schedule.until",
            "property_id",
        ],
        "every mistake at once"
    );

    let portal = stack
        .store()
        .client_portal(&company.slug, &ClientId::parse(&client).expect("an id"))
        .await
        .expect("portal read")
        .expect("the client");
    assert!(portal.jobs.is_empty(), "no refused create stored a job");

    let job = office
        .create(&jobs, contract("2026-01-01", monthly.clone()))
        .await;
    let path = format!("{jobs}/{}", id(&job));
    let refusals = [
        (
            json!({ "version": 1, "property_id": unknown }),
            "property_id",
        ),
        (json!({ "version": 1, "kind": "one_off" }), "kind"),
        (
            json!({ "version": 1, "fixed_invoice": { "amount": "1.00", "description": "x",
                "schedule": { "first": "2026-01-01", "repeat": { "monthly_on_day": 0 } } } }),
            "fixed_invoice.schedule.repeat.monthly_on_day",
        ),
    ];
    for (change, field) in refusals {
        let refused = office.patch(&path, change.clone()).await;
        assert_eq!(bad_fields(&refused), [field], "{change}");
    }
    let unchanged = office.get(&path).await.json();
    assert_eq!(unchanged, job, "no refused change stored anything");

    let placed = office
        .change(&path, json!({ "version": 1, "property_id": property }))
        .await;
    assert_eq!(placed["property_id"], property.as_str());
    let cleared = office
        .change(&path, json!({ "version": 2, "property_id": null }))
        .await;
    assert_eq!(cleared["property_id"], Value::Null);
    let one_off = office
        .change(
            &path,
            json!({ "version": 3, "kind": "one_off", "fixed_invoice": null }),
        )
        .await;
    assert_eq!(
        one_off["kind"], "one_off",
        "ending the schedule frees the kind"
    );
    assert_eq!(one_off["fixed_invoice"], Value::Null);
}

/// A schedule changed after the sweep invoiced part of it carries on after the last date
/// invoiced; removed, it stops, and what was invoiced stays; set again, it never invoices a
/// date twice.
#[tokio::test]
async fn a_schedule_changed_or_removed_keeps_what_was_invoiced() {
    let stack = TestStack::new(&morning("2026-01-01")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let (client, _) = client_with_property(&office).await;
    let job = office
        .create(
            &format!("clients/{client}/jobs"),
            contract("2026-01-01", json!({ "monthly_on_day": 1 })),
        )
        .await;
    let path = format!("clients/{client}/jobs/{}", id(&job));

    sweep_on(&stack, &company, "2026-02-01").await;
    let invoiced = office.get(&path).await.json();
    assert_eq!(invoiced["fixed_invoice"]["invoiced_through"], "2026-02-01");
    assert_eq!(invoiced["fixed_invoice"]["next_invoice_on"], "2026-03-01");
    assert_eq!(office.invoices_on(&client, "2026-02-01").await.len(), 2);

    let changed = office
        .change(
            &path,
            json!({ "version": 1, "fixed_invoice": { "amount": "150.00",
                "description": "Grounds maintenance, month end",
                "schedule": { "first": "2026-01-01", "until": "2026-12-31",
                    "repeat": { "monthly_last_day": true } } } }),
        )
        .await;
    let fixed = &changed["fixed_invoice"];
    assert_eq!(fixed["amount"], "150.00");
    assert_eq!(fixed["rrule"], "FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20261231");
    assert_eq!(
        fixed["next_invoice_on"], "2026-02-28",
        "carries on after the last date invoiced"
    );
    assert_eq!(fixed["invoiced_through"], "2026-02-01");

    let removed = office
        .change(&path, json!({ "version": 2, "fixed_invoice": null }))
        .await;
    assert_eq!(removed["fixed_invoice"], Value::Null);
    sweep_on(&stack, &company, "2026-03-02").await;
    assert_eq!(
        office.invoices_on(&client, "2026-03-02").await.len(),
        2,
        "the invoices made stay, and no more are made"
    );

    let again = office
        .change(
            &path,
            json!({ "version": 3, "fixed_invoice": contract("2026-01-01",
                json!({ "monthly_on_day": 1 }))["fixed_invoice"] }),
        )
        .await;
    assert_eq!(
        again["fixed_invoice"]["next_invoice_on"], "2026-03-01",
        "January and February are never invoiced twice"
    );
    assert_eq!(again["fixed_invoice"]["invoiced_through"], "2026-02-01");
}

/// Cancelling a visit withdraws its per-visit invoice (reason `visit_cancelled`); setting
/// `cancelled_on` back to null reinstates it. A visit is never both done and cancelled.
#[tokio::test]
async fn a_cancelled_visit_withdraws_its_invoice_until_reinstated() {
    let stack = TestStack::new(&morning("2026-05-01")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let (client, _) = client_with_property(&office).await;
    let job = office
        .create(
            &format!("clients/{client}/jobs"),
            json!({ "title": "Weekly mowing", "kind": "recurring", "stage": "active" }),
        )
        .await;
    let visit = office
        .create(
            &format!("clients/{client}/jobs/{}/visits", id(&job)),
            json!({ "scheduled": { "date": "2026-05-12" } }),
        )
        .await;
    assert_eq!(visit["cancelled_on"], Value::Null);
    office
        .create(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-510", "lines": lines(6_500), "total": usd(6_500),
                "billing": { "kind": "per_visit", "visit_id": id(&visit) } }),
        )
        .await;
    assert_eq!(office.invoices_on(&client, "2026-05-12").await, ["INV-510"]);
    let path = format!("clients/{client}/visits/{}", id(&visit));

    let cancelled = office
        .change(&path, json!({ "version": 1, "cancelled_on": "2026-05-10" }))
        .await;
    assert_eq!(cancelled["cancelled_on"], "2026-05-10");
    assert_eq!(cancelled["scheduled"], json!({ "date": "2026-05-12" }));
    assert!(office.invoices_on(&client, "2026-05-12").await.is_empty());
    let why = office.why(&client, "2026-05-12", "INV-510").await;
    assert_eq!(why["shown"], false);
    assert_eq!(why["reason"], "visit_cancelled");
    assert_eq!(office.get(&path).await.json(), cancelled);

    let both = office
        .patch(&path, json!({ "version": 2, "completed_on": "2026-05-12" }))
        .await;
    assert_eq!(bad_fields(&both), ["completed_on"]);

    let reinstated = office
        .change(&path, json!({ "version": 2, "cancelled_on": null }))
        .await;
    assert_eq!(reinstated["cancelled_on"], Value::Null);
    assert_eq!(office.invoices_on(&client, "2026-05-12").await, ["INV-510"]);
    assert_eq!(
        office.why(&client, "2026-05-12", "INV-510").await["reason"],
        "unpaid"
    );
}

/// Moving a visit earlier moves its invoice's appearance day with it, and the invoice is
/// handed back to the sweep at once: the sweep had set its look to the old, later day. A
/// one-off job's work date does the same for its undated invoice.
#[tokio::test]
async fn moving_a_visit_or_a_work_date_earlier_hands_the_invoice_back_to_the_sweep() {
    let stack = TestStack::new(&morning("2026-06-01")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let (client, _) = client_with_property(&office).await;
    let jobs = format!("clients/{client}/jobs");
    let recurring = office
        .create(
            &jobs,
            json!({ "title": "Weekly mowing", "kind": "recurring", "stage": "active" }),
        )
        .await;
    let visit = office
        .create(
            &format!("{jobs}/{}/visits", id(&recurring)),
            json!({ "scheduled": { "date": "2026-06-20" } }),
        )
        .await;
    let per_visit = office
        .create(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-620", "lines": lines(6_500), "total": usd(6_500),
                "billing": { "kind": "per_visit", "visit_id": id(&visit) } }),
        )
        .await;
    let one_off = office
        .create(
            &jobs,
            json!({ "title": "Stump grinding", "kind": "one_off", "stage": "active",
                "work_date": "2026-06-25" }),
        )
        .await;
    let undated = office
        .create(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-625", "lines": lines(30_000), "total": usd(30_000),
                "billing": { "kind": "one_off" }, "job_id": id(&one_off) }),
        )
        .await;
    let (per_visit, undated) = (id(&per_visit), id(&undated));

    sweep_on(&stack, &company, "2026-06-01").await;
    for invoice in [&per_visit, &undated] {
        assert!(
            !sweep_looks_at(&stack, &company, &client, invoice, "2026-06-10").await,
            "the sweep looks again on the appearance day, not before"
        );
    }

    let moved = office
        .change(
            &format!("clients/{client}/visits/{}", id(&visit)),
            json!({ "version": 1, "scheduled": { "date": "2026-06-09" } }),
        )
        .await;
    assert_eq!(moved["scheduled"], json!({ "date": "2026-06-09" }));
    let why = office.why(&client, "2026-06-08", "INV-620").await;
    assert_eq!(why["waiting_for"], "2026-06-09");
    assert_eq!(office.invoices_on(&client, "2026-06-09").await, ["INV-620"]);
    assert!(sweep_looks_at(&stack, &company, &client, &per_visit, "2026-06-01").await);
    assert!(!sweep_looks_at(&stack, &company, &client, &undated, "2026-06-10").await);

    office
        .change(
            &format!("{jobs}/{}", id(&one_off)),
            json!({ "version": 1, "work_date": "2026-06-05" }),
        )
        .await;
    assert_eq!(
        office.why(&client, "2026-06-04", "INV-625").await["waiting_for"],
        "2026-06-05"
    );
    assert!(sweep_looks_at(&stack, &company, &client, &undated, "2026-06-01").await);
}

/// A job create retried with the same Idempotency-Key answers the job the first attempt
/// stored, schedule and all, even when both attempts arrive at once; the key reused for
/// another job is refused.
#[tokio::test]
async fn a_retried_job_create_answers_the_same_job() {
    let stack = TestStack::new(&morning("2026-01-02")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let (client, property) = client_with_property(&office).await;
    let jobs = format!("clients/{client}/jobs");
    let mut body = contract(
        "2026-12-22",
        json!({ "every_weeks": { "interval": 2, "weekday": "tuesday" } }),
    );
    body["property_id"] = json!(property);

    let first = office.post_keyed(&jobs, "job-1", body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = office.post_keyed(&jobs, "job-1", body.clone()).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        again.json(),
        first.json(),
        "the same job, schedule and version"
    );

    let mut other = body.clone();
    other["title"] = json!("Another job");
    let reused = office.post_keyed(&jobs, "job-1", other).await;
    assert_eq!(bad_fields(&reused), ["Idempotency-Key"]);

    let (one, two) = tokio::join!(
        office.post_keyed(&jobs, "job-2", body.clone()),
        office.post_keyed(&jobs, "job-2", body.clone()),
    );
    let mut statuses = [one.status, two.status];
    statuses.sort();
    assert_eq!(statuses, [200, 201], "{} / {}", one.body, two.body);
    assert_eq!(one.json()["id"], two.json()["id"]);
    assert_eq!(two.json()["fixed_invoice"]["next_invoice_on"], "2026-12-22");

    let portal = stack
        .store()
        .client_portal(&company.slug, &ClientId::parse(&client).expect("an id"))
        .await
        .expect("portal read")
        .expect("the client");
    assert_eq!(portal.jobs.len(), 2, "one job per key");
}
