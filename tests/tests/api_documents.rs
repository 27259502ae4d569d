//! The back office drives the portal through `/api/v1/`: clients, jobs, visits, proposals,
//! invoices and payments, created and changed the way a field-service app would, and what
//! the client's portal shows on the day before, of and after each step. Also: stale writes,
//! another company's key, idempotent retries, and contacts' emails reaching the client.

use serde_json::{Value, json};

use porchlight_shared::domain::Company;
use porchlight_shared::ids::ClientId;
use porchlight_tests::back_office::{BackOffice, id, lines, numbers, usd};
use porchlight_tests::fixtures::{ask_for_link, sign_in};
use porchlight_tests::{Event, Reply, TestStack};

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

async fn oakleaf(stack: &TestStack) -> Company {
    stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await
}

async fn new_client(office: &BackOffice<'_>, name: &str, email: &str) -> String {
    let client = office
        .create(
            "clients",
            json!({ "name": name, "contacts": [{ "name": name, "email": email }] }),
        )
        .await;
    id(&client)
}

/// A job created active and later moved back to proposal never shows its proposal; a job
/// created in the proposal stage shows its proposal from its creation day.
#[tokio::test]
async fn a_job_created_active_then_moved_back_to_proposal_never_shows_its_proposal() {
    let stack = TestStack::new(&morning("2026-04-10")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;

    let active = office
        .create(
            &format!("clients/{client}/jobs"),
            json!({ "title": "Oak removal", "kind": "one_off", "stage": "active" }),
        )
        .await;
    assert_eq!(active["created_stage"], "active");
    let quoted = office
        .create(
            &format!("clients/{client}/jobs"),
            json!({ "title": "Hedge shaping", "kind": "one_off", "stage": "proposal" }),
        )
        .await;
    for (number, job) in [("Q-100", &active), ("Q-101", &quoted)] {
        let proposal = office
            .create(
                &format!("clients/{client}/proposals"),
                json!({ "number": number, "job_id": id(job), "lines": lines(90_000),
                    "total": usd(90_000) }),
            )
            .await;
        assert_eq!(proposal["created_on"], "2026-04-10", "today in Chicago");
        assert_eq!(
            proposal["valid_until"], "2026-05-10",
            "30 open days by default"
        );
    }
    assert_eq!(office.proposals_on(&client, "2026-04-10").await, ["Q-101"]);

    stack.set_now(&morning("2026-04-11"));
    let moved = office
        .change(
            &format!("clients/{client}/jobs/{}", id(&active)),
            json!({ "version": 1, "stage": "proposal" }),
        )
        .await;
    assert_eq!(moved["stage"], "proposal");
    assert_eq!(
        moved["created_stage"], "active",
        "the created stage never changes"
    );
    assert_eq!(moved["version"], 2);
    let refused = office
        .patch(
            &format!("clients/{client}/jobs/{}", id(&active)),
            json!({ "version": 2, "created_stage": "proposal" }),
        )
        .await;
    assert_eq!(bad_fields(&refused), ["created_stage"]);

    for day in ["2026-04-10", "2026-04-11", "2026-04-12"] {
        assert_eq!(office.proposals_on(&client, day).await, ["Q-101"], "{day}");
        let why = office.why(&client, day, "Q-100").await;
        assert_eq!(why["shown"], false);
        assert_eq!(why["reason"], "job_created_active");
    }
}

/// Staff acceptance records channel `staff`, moves the job to active, and takes the
/// proposal out of the portal from that day; a second acceptance, a change of the accepted
/// proposal and acceptance after expiry are refused and change nothing.
#[tokio::test]
async fn a_proposal_accepted_by_staff_leaves_the_portal() {
    let stack = TestStack::new(&morning("2026-04-10")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let job = office
        .create(
            &format!("clients/{client}/jobs"),
            json!({ "title": "Spring cleanup", "kind": "one_off", "stage": "lead" }),
        )
        .await;
    let proposal = office
        .create(
            &format!("clients/{client}/proposals"),
            json!({ "number": "Q-200", "job_id": id(&job), "valid_until": "2026-04-30",
                "lines": lines(45_000), "total": usd(45_000), "message": "Thanks!" }),
        )
        .await;
    let short = office
        .create(
            &format!("clients/{client}/proposals"),
            json!({ "number": "Q-201", "valid_until": "2026-04-11",
                "lines": lines(1_000), "total": usd(1_000) }),
        )
        .await;
    let path = format!("clients/{client}/proposals/{}", id(&proposal));

    stack.set_now(&morning("2026-04-11"));
    let mut open = office.proposals_on(&client, "2026-04-11").await;
    open.sort();
    assert_eq!(open, ["Q-200", "Q-201"], "the day before the acceptance");

    stack.set_now(&morning("2026-04-12"));
    let accepted = office
        .post(
            &format!("{path}/accept"),
            json!({ "accepted_by": "Pat at the front desk" }),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let accepted = accepted.json();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["acceptance"]["channel"], "staff");
    assert_eq!(accepted["acceptance"]["accepted_on"], "2026-04-12");
    let job_now = office
        .get(&format!("clients/{client}/jobs/{}", id(&job)))
        .await
        .json();
    assert_eq!(job_now["stage"], "active");
    assert_eq!(job_now["created_stage"], "lead");
    assert_eq!(
        job_now["version"], 2,
        "the acceptance moved the job's version on"
    );

    assert_eq!(office.proposals_on(&client, "2026-04-12").await, ["Q-201"]);
    let why = office.why(&client, "2026-04-13", "Q-200").await;
    assert_eq!(why["reason"], "accepted_by_staff");
    assert_eq!(why["shown_until"], "2026-04-11");
    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let home = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(
        numbers(&home["proposals"]),
        ["Q-201"],
        "the client's own portal"
    );

    let again = office
        .post(
            &format!("{path}/accept"),
            json!({ "accepted_by": "Somebody else" }),
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(
        again.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already accepted"))
    );
    let change = office
        .patch(
            &path,
            json!({ "version": 1, "total": usd(1), "lines": lines(1) }),
        )
        .await;
    assert_eq!(change.status, 409, "{}", change.body);
    let now = office.get(&path).await.json();
    assert_eq!(now["acceptance"]["accepted_by"], "Pat at the front desk");
    assert_eq!(
        now["total"],
        usd(45_000),
        "the accepted version stays unchanged"
    );
    assert_eq!(now["version"], 1);

    let expired = office
        .post(
            &format!("clients/{client}/proposals/{}/accept", id(&short)),
            json!({ "accepted_by": "Pat" }),
        )
        .await;
    assert_eq!(expired.status, 409);
    let detail = expired.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("expired") && detail.contains("2026-04-11"),
        "{detail}"
    );
    let short_now = office
        .get(&format!("clients/{client}/proposals/{}", id(&short)))
        .await
        .json();
    assert_eq!(short_now["status"], "expired");
    assert_eq!(short_now["acceptance"], Value::Null);
}

/// An invoice with no dates waits for its job; it appears on the completion day, dated
/// that day, in the staff view and in the client's own portal.
#[tokio::test]
async fn an_undated_invoice_appears_on_its_jobs_completion_day_dated_that_day() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let job = office
        .create(
            &format!("clients/{client}/jobs"),
            json!({ "title": "Stump grinding", "kind": "one_off", "stage": "active" }),
        )
        .await;
    let invoice = office
        .create(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-300", "billing": { "kind": "one_off" },
                "job_id": id(&job), "lines": lines(30_000), "total": usd(30_000) }),
        )
        .await;
    assert_eq!(invoice["invoice_date"], Value::Null);
    assert_eq!(
        invoice["balance"],
        usd(30_000),
        "the balance defaults to the total"
    );
    let why = office.why(&client, "2026-05-04", "INV-300").await;
    assert_eq!(why["reason"], "awaiting_work");

    stack.set_now(&morning("2026-05-06"));
    let done = office
        .change(
            &format!("clients/{client}/jobs/{}", id(&job)),
            json!({ "version": 1, "completed_on": "2026-05-06" }),
        )
        .await;
    assert_eq!(done["completed_on"], "2026-05-06");

    let before = office.why(&client, "2026-05-05", "INV-300").await;
    assert_eq!(before["shown"], false);
    assert_eq!(before["waiting_for"], "2026-05-06");
    for day in ["2026-05-06", "2026-05-07"] {
        let portal = office.portal_on(&client, day).await;
        let shown = &portal["portal"]["invoices"];
        assert_eq!(numbers(shown), ["INV-300"], "{day}");
        assert_eq!(shown[0]["invoice_date"], "2026-05-06", "the completion day");
    }
    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let home = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(numbers(&home["invoices"]), ["INV-300"]);
    assert_eq!(home["invoices"][0]["invoice_date"], "2026-05-06");
}

/// A per-visit invoice of a visit "to be determined" within June appears on June 1st; once
/// the visit gets a date, on that date.
#[tokio::test]
async fn a_per_visit_invoice_of_a_visit_within_a_month_appears_on_the_first() {
    let stack = TestStack::new(&morning("2026-05-20")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let job = office
        .create(
            &format!("clients/{client}/jobs"),
            json!({ "title": "Monthly lawn care", "kind": "recurring", "stage": "active" }),
        )
        .await;
    let visit = office
        .create(
            &format!("clients/{client}/jobs/{}/visits", id(&job)),
            json!({ "scheduled": { "within_month": "2026-06" } }),
        )
        .await;
    assert_eq!(visit["scheduled"], json!({ "within_month": "2026-06" }));
    let unscheduled = stack
        .call(
            Event::post(&format!(
                "/api/v1/clients/{client}/jobs/{}/visits",
                id(&job)
            ))
            .bearer(&office.key),
        )
        .await;
    assert_eq!(unscheduled.status, 201, "{}", unscheduled.body);
    assert_eq!(unscheduled.json()["scheduled"], Value::Null);

    let invoice = office
        .create(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-400", "lines": lines(6_500), "total": usd(6_500),
                "billing": { "kind": "per_visit", "visit_id": id(&visit) } }),
        )
        .await;
    assert_eq!(invoice["job_id"], job["id"], "linked to the visit's job");

    assert!(office.invoices_on(&client, "2026-05-31").await.is_empty());
    assert_eq!(
        office.why(&client, "2026-05-31", "INV-400").await["waiting_for"],
        "2026-06-01"
    );
    assert_eq!(office.invoices_on(&client, "2026-06-01").await, ["INV-400"]);
    assert_eq!(office.invoices_on(&client, "2026-06-02").await, ["INV-400"]);

    let visit_path = format!("clients/{client}/visits/{}", id(&visit));
    let moved = office
        .change(
            &visit_path,
            json!({ "version": 1, "scheduled": { "date": "2026-06-15" } }),
        )
        .await;
    assert_eq!(moved["scheduled"], json!({ "date": "2026-06-15" }));
    assert!(office.invoices_on(&client, "2026-06-14").await.is_empty());
    assert_eq!(office.invoices_on(&client, "2026-06-15").await, ["INV-400"]);
    assert_eq!(office.invoices_on(&client, "2026-06-16").await, ["INV-400"]);

    let both = office
        .patch(
            &visit_path,
            json!({ "version": 2, "scheduled": { "date": "2026-06-15",
                "within_month": "2026-06" } }),
        )
        .await;
    assert_eq!(bad_fields(&both), ["scheduled"]);
}

/// Payments recorded outside the portal lower the balance in one step; retries with the
/// same key record once; an invoice dated over a year ago leaves the portal once paid off.
#[tokio::test]
async fn a_payment_that_pays_off_an_invoice_dated_over_a_year_ago_removes_it_at_once() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let invoice = office
        .create(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-500", "billing": { "kind": "one_off" },
                "invoice_date": "2025-03-01", "lines": lines(20_000),
                "total": usd(20_000) }),
        )
        .await;
    let invoice_path = format!("clients/{client}/invoices/{}", id(&invoice));
    let pay = format!("{invoice_path}/payments");
    assert_eq!(office.invoices_on(&client, "2026-05-04").await, ["INV-500"]);

    let first = json!({ "amount": usd(15_000), "received_on": "2026-05-04",
        "reference": "check 1187" });
    let recorded = office.post_keyed(&pay, "pay-1", first.clone()).await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    let recorded = recorded.json();
    assert_eq!(recorded["invoice"]["balance"], usd(5_000));
    assert_eq!(recorded["invoice"]["version"], 2);
    assert_eq!(recorded["invoice"]["status"], "partly_paid");

    let retry = office.post_keyed(&pay, "pay-1", first).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.json()["id"], recorded["id"]);
    assert_eq!(
        retry.json()["invoice"]["balance"],
        usd(5_000),
        "recorded once"
    );
    let reused = office
        .post_keyed(
            &pay,
            "pay-1",
            json!({ "amount": usd(100), "received_on": "2026-05-04" }),
        )
        .await;
    assert_eq!(bad_fields(&reused), ["Idempotency-Key"]);
    let unkeyed = office
        .post(
            &pay,
            json!({ "amount": usd(100), "received_on": "2026-05-04" }),
        )
        .await;
    assert_eq!(bad_fields(&unkeyed), ["Idempotency-Key"]);
    let too_much = office
        .post_keyed(
            &pay,
            "pay-2",
            json!({ "amount": usd(5_001), "received_on": "2026-05-04" }),
        )
        .await;
    assert_eq!(bad_fields(&too_much), ["amount"]);
    let postdated = office
        .post_keyed(
            &pay,
            "pay-3",
            json!({ "amount": usd(100), "received_on": "2099-01-01" }),
        )
        .await;
    assert_eq!(bad_fields(&postdated), ["received_on"]);
    let ancient = office
        .post(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-905", "billing": { "kind": "one_off" },
                "invoice_date": "0001-01-01", "lines": lines(1), "total": usd(1) }),
        )
        .await;
    assert_eq!(
        bad_fields(&ancient),
        ["invoice_date"],
        "dates outside 1900-2999 are slips, and do not fit iCalendar"
    );
    let unchanged = office.get(&invoice_path).await.json();
    assert_eq!(unchanged["balance"], usd(5_000));
    assert_eq!(unchanged["version"], 2);
    let stale = office
        .patch(
            &invoice_path,
            json!({ "version": 1, "sent_on": "2026-05-04" }),
        )
        .await;
    assert_eq!(
        stale.status, 409,
        "the payment moved the invoice's version on"
    );

    let partly = office.why(&client, "2026-05-04", "INV-500").await;
    assert_eq!(
        partly["reason"], "unpaid",
        "a balance is left: shown however old"
    );
    let last = office
        .post_keyed(
            &pay,
            "pay-3",
            json!({ "amount": usd(5_000), "received_on": "2026-05-04" }),
        )
        .await;
    assert_eq!(last.status, 201, "{}", last.body);
    assert_eq!(last.json()["invoice"]["status"], "paid");
    for day in ["2026-05-04", "2026-05-05"] {
        assert!(office.invoices_on(&client, day).await.is_empty(), "{day}");
        assert_eq!(
            office.why(&client, day, "INV-500").await["reason"],
            "paid_expired"
        );
    }
    let portal = stack
        .store()
        .client_portal(
            &company.slug,
            &ClientId::parse(&client).expect("a client id"),
        )
        .await
        .expect("read")
        .expect("the client");
    assert_eq!(
        portal.payments.len(),
        2,
        "two payments on record, none twice"
    );
}

/// A change based on an old version gets 409 and changes nothing, for every record kind.
#[tokio::test]
async fn stale_writes_get_409_and_change_nothing() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let client_path = format!("clients/{client}");

    let renamed = office
        .change(
            &client_path,
            json!({ "version": 1, "name": "Samuel Ortega", "phone": "(312) 555-0188" }),
        )
        .await;
    assert_eq!(renamed["version"], 2);
    let stale = office
        .patch(&client_path, json!({ "version": 1, "name": "S. Ortega" }))
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(
        stale.header(lambda_http::http::header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    let now = office.get(&client_path).await.json();
    assert_eq!(now["name"], "Samuel Ortega");
    assert_eq!(now["version"], 2);
    let missing = office
        .patch(&client_path, json!({ "name": "No version" }))
        .await;
    assert_eq!(bad_fields(&missing), ["version"]);

    let job = office
        .create(
            &format!("{client_path}/jobs"),
            json!({ "title": "Pruning", "kind": "one_off", "stage": "active",
                "work_date": "2026-05-20" }),
        )
        .await;
    let job_path = format!("{client_path}/jobs/{}", id(&job));
    office
        .change(
            &job_path,
            json!({ "version": 1, "work_date": "2026-05-21" }),
        )
        .await;
    let stale = office
        .patch(&job_path, json!({ "version": 1, "work_date": null }))
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(
        office.get(&job_path).await.json()["work_date"],
        "2026-05-21"
    );

    let invoice = office
        .create(
            &format!("{client_path}/invoices"),
            json!({ "number": "INV-600", "billing": { "kind": "one_off" },
                "job_id": id(&job), "lines": lines(8_000), "total": usd(8_000) }),
        )
        .await;
    let invoice_path = format!("{client_path}/invoices/{}", id(&invoice));
    office
        .change(
            &invoice_path,
            json!({ "version": 1, "sent_on": "2026-05-04" }),
        )
        .await;
    let stale = office
        .patch(&invoice_path, json!({ "version": 1, "number": "INV-601" }))
        .await;
    assert_eq!(stale.status, 409);
    assert!(
        stale.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("now version 2")),
        "{}",
        stale.body
    );
    let now = office.get(&invoice_path).await.json();
    assert_eq!(now["number"], "INV-600");
    assert_eq!(now["sent_on"], "2026-05-04");
    assert_eq!(now["version"], 2);
    assert_eq!(office.invoices_on(&client, "2026-05-21").await, ["INV-600"]);

    office
        .change(&invoice_path, json!({ "version": 2, "voided": true }))
        .await;
    let after_void = office
        .patch(&invoice_path, json!({ "version": 3, "voided": false }))
        .await;
    assert_eq!(after_void.status, 409, "a voided invoice changes no more");
    assert_eq!(office.get(&invoice_path).await.json()["voided"], true);
    let why = office.why(&client, "2026-05-21", "INV-600").await;
    assert_eq!(why["reason"], "voided", "kept, never shown");
}

/// Another company's key finds none of this company's records, by any path, and changes
/// none of them; another client's ids are not found under this client either.
#[tokio::test]
async fn another_companys_key_gets_404_and_changes_nothing() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let rival = stack
        .company("greenridge", "Greenridge Lawn Co.", "America/Chicago")
        .await;
    let office = BackOffice::of(&stack, &company).await;
    let intruder = BackOffice::of(&stack, &rival).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let other = new_client(&office, "Lee Park", "lee@example.net").await;
    let job = office
        .create(
            &format!("clients/{client}/jobs"),
            json!({ "title": "Pruning", "kind": "recurring", "stage": "proposal" }),
        )
        .await;
    let visit = office
        .create(
            &format!("clients/{client}/jobs/{}/visits", id(&job)),
            json!({}),
        )
        .await;
    let proposal = office
        .create(
            &format!("clients/{client}/proposals"),
            json!({ "number": "Q-700", "job_id": id(&job), "lines": lines(5_000),
                "total": usd(5_000) }),
        )
        .await;
    let invoice = office
        .create(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-700", "billing": { "kind": "one_off" },
                "invoice_date": "2026-05-01", "lines": lines(5_000), "total": usd(5_000) }),
        )
        .await;
    let paths = |client: &str| {
        [
            format!("clients/{client}"),
            format!("clients/{client}/jobs/{}", id(&job)),
            format!("clients/{client}/visits/{}", id(&visit)),
            format!("clients/{client}/proposals/{}", id(&proposal)),
            format!("clients/{client}/invoices/{}", id(&invoice)),
        ]
    };

    for path in paths(&client) {
        assert_eq!(intruder.get(&path).await.status, 404, "GET {path}");
        let change = intruder
            .patch(&path, json!({ "version": 1, "name": "Mine now" }))
            .await;
        assert_eq!(change.status, 404, "PATCH {path}");
    }
    for path in paths(&other).into_iter().skip(1) {
        assert_eq!(
            office.get(&path).await.status,
            404,
            "another client's: {path}"
        );
    }
    let creates = [
        (
            format!("clients/{client}/jobs"),
            json!({ "title": "x", "kind": "one_off",
            "stage": "lead" }),
        ),
        (
            format!("clients/{client}/jobs/{}/visits", id(&job)),
            json!({}),
        ),
        (
            format!("clients/{client}/proposals"),
            json!({ "number": "Q-1",
            "lines": lines(1), "total": usd(1) }),
        ),
        (
            format!("clients/{client}/invoices"),
            json!({ "number": "I-1",
            "billing": { "kind": "one_off" }, "lines": lines(1), "total": usd(1) }),
        ),
        (
            format!("clients/{client}/proposals/{}/accept", id(&proposal)),
            json!({ "accepted_by": "Intruder" }),
        ),
    ];
    for (path, body) in creates {
        assert_eq!(intruder.post(&path, body).await.status, 404, "POST {path}");
    }
    let payment = intruder
        .post_keyed(
            &format!("clients/{client}/invoices/{}/payments", id(&invoice)),
            "steal-1",
            json!({ "amount": usd(5_000), "received_on": "2026-05-04" }),
        )
        .await;
    assert_eq!(payment.status, 404);
    assert_eq!(
        office.get("clients/not-an-id").await.status,
        404,
        "a malformed id is simply not found"
    );

    for path in paths(&client) {
        let record = office.get(&path).await.json();
        assert_eq!(record["version"], 1, "{path} is unchanged");
    }
    let portal = office.portal_on(&client, "2026-05-04").await;
    assert_eq!(numbers(&portal["portal"]["proposals"]), ["Q-700"]);
    assert_eq!(portal["portal"]["invoices"][0]["balance"], usd(5_000));
    let mine = office
        .get(&format!("clients/{client}/proposals/{}", id(&proposal)))
        .await
        .json();
    assert_eq!(mine["acceptance"], Value::Null);
}

/// A create with an `Idempotency-Key` (or a client's `external_id`) is stored once: a
/// retry answers 200 with the stored record, a different body with the same key gets 422.
#[tokio::test]
async fn idempotent_creates_answer_retries_from_the_store() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;

    let body = json!({ "name": "Sam Ortega", "contacts": [{ "email": "sam@example.org" }],
        "properties": [{ "name": "Home", "address": "12 Elm St" }] });
    let first = office.post_keyed("clients", "client-1", body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let first = first.json();
    let property = first["properties"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let retry = office.post_keyed("clients", "client-1", body.clone()).await;
    assert_eq!(retry.status, 200);
    assert_eq!(
        retry.json(),
        first,
        "the stored record, property ids and all"
    );
    let other = office
        .post_keyed("clients", "client-1", json!({ "name": "Someone else" }))
        .await;
    assert_eq!(bad_fields(&other), ["Idempotency-Key"]);
    let fresh = office.create("clients", body.clone()).await;
    assert_ne!(fresh["id"], first["id"], "no key: a new client each time");

    let client = id(&first);
    let job_body = json!({ "title": "Cabling", "kind": "one_off", "stage": "proposal" });
    let jobs = format!("clients/{client}/jobs");
    let job = office.post_keyed(&jobs, "job-1", job_body.clone()).await;
    assert_eq!(job.status, 201);
    let job = job.json();
    let again = office.post_keyed(&jobs, "job-1", job_body.clone()).await;
    assert_eq!(
        (again.status, again.json()["id"].clone()),
        (200, job["id"].clone())
    );

    // A retry after a change still finds the record, now at its newer version.
    office
        .change(
            &format!("{jobs}/{}", id(&job)),
            json!({ "version": 1, "stage": "active" }),
        )
        .await;
    let later = office.post_keyed(&jobs, "job-1", job_body).await;
    assert_eq!(later.status, 200);
    assert_eq!(later.json()["version"], 2);

    let proposal_body = json!({ "number": "Q-800", "lines": lines(2_000),
        "total": usd(2_000) });
    let proposals = format!("clients/{client}/proposals");
    let created = office
        .post_keyed(&proposals, "q-800", proposal_body.clone())
        .await;
    assert_eq!(created.status, 201);
    stack.set_now(&morning("2026-05-05"));
    let retried = office.post_keyed(&proposals, "q-800", proposal_body).await;
    assert_eq!(
        retried.status, 200,
        "a retry on the next day is still a retry"
    );
    assert_eq!(retried.json()["created_on"], "2026-05-04");

    let invoice_body = json!({ "number": "INV-800", "billing": { "kind": "one_off" },
        "lines": lines(2_000), "total": usd(2_000) });
    let invoices = format!("clients/{client}/invoices");
    let invoice = office
        .post_keyed(&invoices, "inv-800", invoice_body.clone())
        .await;
    assert_eq!(invoice.status, 201);
    let again = office.post_keyed(&invoices, "inv-800", invoice_body).await;
    assert_eq!(
        (again.status, again.json()["id"].clone()),
        (200, invoice.json()["id"].clone())
    );

    let visits = format!("{jobs}/{}/visits", id(&job));
    let visit = office.post_keyed(&visits, "visit-1", json!({})).await;
    assert_eq!(visit.status, 201);
    let again = office.post_keyed(&visits, "visit-1", json!({})).await;
    assert_eq!(
        (again.status, again.json()["id"].clone()),
        (200, visit.json()["id"].clone())
    );

    let natural = json!({ "external_id": "FSA-4471", "name": "Lee Park",
        "contacts": [{ "email": "lee@example.net" }] });
    let lee = office.create("clients", natural.clone()).await;
    let same = office.post_keyed("clients", "another-key", natural).await;
    assert_eq!(same.status, 200, "the natural key names the same client");
    assert_eq!(same.json()["id"], lee["id"]);
    assert_eq!(same.json()["external_id"], "FSA-4471");
    let clash = office
        .post(
            "clients",
            json!({ "external_id": "FSA-4471", "name": "Not Lee" }),
        )
        .await;
    assert_eq!(bad_fields(&clash), ["external_id"]);
    let unchanged = office.get(&format!("clients/{}", id(&lee))).await.json();
    assert_eq!(unchanged["name"], "Lee Park");
    assert_eq!(unchanged["properties"], json!([]));

    let kept = office
        .change(
            &format!("clients/{client}"),
            json!({ "version": 1, "properties": [{ "id": property, "name": "Home (front)" },
                { "name": "Cabin" }] }),
        )
        .await;
    assert_eq!(
        kept["properties"][0]["id"],
        property.as_str(),
        "an existing id is kept"
    );
    assert_eq!(kept["properties"][0]["address"], Value::Null);
    assert!(
        kept["properties"][1]["id"]
            .as_str()
            .is_some_and(|new| new != property)
    );
}

/// Every contact's email reaches the client for login; an email taken off stops reaching
/// it, and an address two clients share reaches both until one lets it go.
#[tokio::test]
async fn contacts_emails_reach_the_client_for_login() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let created = office
        .create(
            "clients",
            json!({ "name": "Harbor HOA",
                "contacts": [{ "name": "Ana Ruiz", "email": "Ana@Example.org" },
                    { "name": "Ben Cho", "email": "ben@example.org" }] }),
        )
        .await;
    let client = id(&created);
    assert_eq!(
        created["contacts"][0]["email"], "ana@example.org",
        "lowercased"
    );
    assert_eq!(created["contacts"][1]["name"], "Ben Cho");

    for email in ["ana@example.org", "ben@example.org"] {
        let link = ask_for_link(&stack, "oakleaf", email).await;
        assert!(link.starts_with("/p/oakleaf/login/"), "{link}");
    }
    let ben = sign_in(&stack, "oakleaf", "ben@example.org").await;
    let home = |cookie: &str| Event::get("/p/oakleaf").cookie(Some(cookie)).json();
    let before_removal = stack.call(home(&ben)).await;
    assert_eq!(before_removal.status, 200, "{}", before_removal.body);
    assert_eq!(before_removal.json()["client"]["name"], "Harbor HOA");
    let unused_link = ask_for_link(&stack, "oakleaf", "ben@example.org").await;

    let changed = office
        .change(
            &format!("clients/{client}"),
            json!({ "version": 1, "name": "Harbor Point HOA",
                "contacts": [{ "name": "Ana Ruiz", "email": "ana@example.org" },
                    { "email": "cam@example.org" }] }),
        )
        .await;
    assert_eq!(
        changed["contacts"][1],
        json!({ "email": "cam@example.org" })
    );
    let before = stack.mail();
    let asked = stack
        .call(Event::post("/p/oakleaf/login").form(&[("email", "ben@example.org")]))
        .await;
    assert_eq!(asked.status, 200);
    assert!(
        stack.mail_since(&before).is_empty(),
        "a removed contact gets no link"
    );
    let after_removal = stack.call(home(&ben)).await;
    assert_eq!(
        after_removal.status, 401,
        "a removed contact's open session sees the account no more: {}",
        after_removal.body
    );
    let request_form = stack
        .call(Event::get("/p/oakleaf/request").cookie(Some(&ben)))
        .await;
    assert!(
        !request_form.body.contains("Harbor"),
        "nor is the request form filled in from it"
    );
    let confirm_page = stack.call(Event::get(&unused_link).json()).await;
    assert_eq!(
        confirm_page.status, 410,
        "the confirm page says so too: {}",
        confirm_page.body
    );
    let redeemed = stack.call(Event::post(&unused_link)).await;
    assert_eq!(
        redeemed.status, 410,
        "a link sent before the removal opens nothing: {}",
        redeemed.body
    );
    assert!(redeemed.session_cookie().is_none());
    let some_id = "0".repeat(32);
    for path in [
        format!("/p/oakleaf/proposals/{some_id}/accept"),
        format!("/p/oakleaf/invoices/{some_id}/pay"),
    ] {
        let action = Event::post(&path).cookie(Some(&ben)).form(&[]).json();
        let refused = stack.call(action).await;
        assert_eq!(refused.status, 401, "{path}: {}", refused.body);
    }
    ask_for_link(&stack, "oakleaf", "cam@example.org").await;
    let entry = stack
        .store()
        .email_entry(&company.slug, "ana@example.org")
        .await
        .expect("read")
        .expect("an entry");
    assert_eq!(entry.clients.len(), 1);
    assert_eq!(entry.clients[0].name, "Harbor Point HOA", "the new name");

    let landlord = office
        .create(
            "clients",
            json!({ "name": "Ana Ruiz (rentals)",
                "contacts": [{ "email": "ana@example.org" }] }),
        )
        .await;
    let shared = stack
        .store()
        .email_entry(&company.slug, "ana@example.org")
        .await
        .expect("read")
        .expect("an entry");
    assert_eq!(shared.clients.len(), 2, "one address, two clients");
    let ana = sign_in(&stack, "oakleaf", "ana@example.org").await;
    let choose = Event::post("/p/oakleaf/account")
        .cookie(Some(&ana))
        .form(&[("client", id(&landlord).as_str())]);
    assert_eq!(stack.call(choose).await.status, 303);
    office
        .change(
            &format!("clients/{}", id(&landlord)),
            json!({ "version": 1, "contacts": [] }),
        )
        .await;
    let after = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&ana)).json())
        .await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(
        after.json()["accounts"].is_array(),
        "an address taken off one of its accounts is offered the choice again: {}",
        after.body
    );
    let back = stack
        .store()
        .email_entry(&company.slug, "ana@example.org")
        .await
        .expect("read")
        .expect("an entry");
    assert_eq!(back.clients.len(), 1);
    assert_eq!(back.clients[0].id.as_str(), client);

    let cookie = sign_in(&stack, "oakleaf", "cam@example.org").await;
    let home = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(home["client"]["name"], "Harbor Point HOA");
}

/// Bad input gets one 422 naming every bad field, nested ones by their path.
#[tokio::test]
async fn bad_input_names_each_field() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;

    let invoice = office
        .post(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-900", "billing": { "kind": "per_visit" },
                "lines": [{ "description": "Mulch", "amount": usd(3_000) },
                    { "description": "Delivery", "amount": { "minor": 500 } }],
                "total": usd(3_500), "due": "soon" }),
        )
        .await;
    assert_eq!(
        bad_fields(&invoice),
        ["due", "billing.visit_id", "lines[1].amount"]
    );
    let total = office
        .post(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-901", "billing": { "kind": "one_off" },
                "lines": lines(3_000), "total": usd(3_500), "balance": usd(4_000) }),
        )
        .await;
    assert_eq!(bad_fields(&total), ["total", "balance"]);
    let job = office
        .post(
            &format!("clients/{client}/jobs"),
            json!({ "title": "", "kind": "weekly", "work_date": "May 5" }),
        )
        .await;
    assert_eq!(bad_fields(&job), ["title", "kind", "stage", "work_date"]);
    let contacts = office
        .post(
            "clients",
            json!({ "name": "Dup", "contacts": [{ "email": "a@example.org" },
                { "email": "A@example.org" }, { "email": "not an address" }, "x"] }),
        )
        .await;
    assert_eq!(
        bad_fields(&contacts),
        ["contacts[3]"],
        "a list with a non-object is refused whole"
    );
    let contacts = office
        .post(
            "clients",
            json!({ "name": "Dup", "contacts": [{ "email": "a@example.org" },
                { "email": "A@example.org" }, { "email": "not an address" }] }),
        )
        .await;
    assert_eq!(
        bad_fields(&contacts),
        ["contacts[1].email", "contacts[2].email"]
    );
    let negative = office
        .post(
            &format!("clients/{client}/proposals"),
            json!({ "number": "Q-905", "lines": lines(-500), "total": usd(-500) }),
        )
        .await;
    assert_eq!(
        bad_fields(&negative),
        ["total"],
        "a proposal cannot be a credit"
    );
    let not_an_object = office.post("clients", json!(["Sam"])).await;
    assert_eq!(not_an_object.status, 422);
    let elsewhere = office
        .post(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-902", "billing": { "kind": "one_off" },
                "job_id": "0".repeat(32), "lines": lines(1), "total": usd(1) }),
        )
        .await;
    assert_eq!(bad_fields(&elsewhere), ["job_id"]);
    let huge = json!({ "minor": i64::MAX, "currency": "USD" });
    let overflowing = office
        .post(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-903", "billing": { "kind": "one_off" },
                "lines": [{ "description": "All of it", "amount": huge }], "total": huge }),
        )
        .await;
    assert_eq!(
        bad_fields(&overflowing),
        ["lines[0].amount", "total"],
        "amounts that could overflow a client's sums are refused"
    );
    let most = json!({ "minor": 1_000_000_000_000i64, "currency": "USD" });
    let big_lines: Vec<Value> = (0..3)
        .map(|_| json!({ "description": "A great deal", "amount": most }))
        .collect();
    let taxed_past_the_bound = office
        .post(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-904", "billing": { "kind": "one_off" },
                "lines": big_lines, "tax": { "rate": "100" } }),
        )
        .await;
    assert_eq!(
        bad_fields(&taxed_past_the_bound),
        ["total"],
        "a computed total is held to the same bound"
    );
    let nothing = office.get(&format!("clients/{client}/portal")).await.json();
    assert_eq!(
        nothing["documents"],
        json!([]),
        "no refused request stored anything"
    );
}

/// Payments sent at the same moment: the same request twice records once; two different
/// ones that together exceed the balance record one, and the other gets 422.
#[tokio::test]
async fn concurrent_payments_change_the_balance_once() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let client = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let invoice = office
        .create(
            &format!("clients/{client}/invoices"),
            json!({ "number": "INV-950", "billing": { "kind": "one_off" },
                "invoice_date": "2026-05-01", "lines": lines(10_000), "total": usd(10_000) }),
        )
        .await;
    let invoice_path = format!("clients/{client}/invoices/{}", id(&invoice));
    let pay = format!("{invoice_path}/payments");
    let body = json!({ "amount": usd(6_000), "received_on": "2026-05-04" });

    let (a, b) = tokio::join!(
        office.post_keyed(&pay, "same", body.clone()),
        office.post_keyed(&pay, "same", body.clone())
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 201], "{} / {}", a.body, b.body);
    assert_eq!(a.json()["id"], b.json()["id"]);
    assert_eq!(
        office.get(&invoice_path).await.json()["balance"],
        usd(4_000)
    );

    let (c, d) = tokio::join!(
        office.post_keyed(
            &pay,
            "first",
            json!({ "amount": usd(3_000),
            "received_on": "2026-05-04" })
        ),
        office.post_keyed(
            &pay,
            "second",
            json!({ "amount": usd(3_000),
            "received_on": "2026-05-04" })
        )
    );
    let mut statuses = [c.status, d.status];
    statuses.sort();
    assert_eq!(statuses, [201, 422], "{} / {}", c.body, d.body);
    let now = office.get(&invoice_path).await.json();
    assert_eq!(now["balance"], usd(1_000));
    assert_eq!(now["version"], 3, "one version per recorded payment");
}

/// Two clients that share an address, saved at the same moment, both stay reachable.
#[tokio::test]
async fn clients_sharing_an_email_saved_at_once_both_reach_it() {
    let stack = TestStack::new(&morning("2026-05-04")).await;
    let company = oakleaf(&stack).await;
    let office = BackOffice::of(&stack, &company).await;
    let contact =
        |name: &str| json!({ "name": name, "contacts": [{ "email": "family@example.net" }] });

    let (a, b, c) = tokio::join!(
        office.post("clients", contact("Ortega household")),
        office.post("clients", contact("Ortega rentals")),
        office.post("clients", contact("Ortega cabin"))
    );
    assert_eq!([a.status, b.status, c.status], [201, 201, 201]);
    let entry = stack
        .store()
        .email_entry(&company.slug, "family@example.net")
        .await
        .expect("read")
        .expect("an entry");
    let mut names: Vec<String> = entry.clients.iter().map(|c| c.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        ["Ortega cabin", "Ortega household", "Ortega rentals"]
    );
}
