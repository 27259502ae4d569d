//! A week of Oakleaf Tree Care (Chicago), played through the back-office API only, with the
//! clients' portals checked every day. This is the end-to-end story of issue 3: what staff
//! do in their field-service app decides, day by day, what each client sees.
//!
//! Mon Jun 1: Sam Ortega calls about a dead oak: a lead-stage job and a proposal. Priya Nair
//!            has monthly pruning: a recurring job, a visit on Wed and one "some time in
//!            July", each with its own invoice.
//! Tue Jun 2: Sam's proposal is accepted by staff on the phone; his removal job goes active,
//!            with an undated invoice waiting for the work.
//! Wed Jun 3: Priya's visit day: its invoice appears, done or not.
//! Thu Jun 4: Sam's oak comes down: the job is completed and his invoice appears, dated today.
//! Fri Jun 5: Sam pays by check; the invoice stays, paid, for a year from its date.
//! Sat Jun 6: the owner decides per-visit invoices wait for completion: Priya's invoice leaves
//!            at once, and returns when the crew marks the visit done.
//! Sun Jun 7: a quote made for an active job is never shown; a stale edit is refused.
//! Jul 1:     Priya's "some time in July" visit invoice appears.

use serde_json::{Value, json};

use porchlight_tests::TestStack;
use porchlight_tests::back_office::{BackOffice, id, lines, usd};

fn chicago_morning(day: &str) -> String {
    format!("{day}T14:00:00Z")
}

async fn client(office: &BackOffice<'_>, name: &str, email: &str) -> String {
    let body = json!({ "name": name, "contacts": [{ "name": name, "email": email }],
        "properties": [{ "name": "Home", "address": "12 Elm St, Evanston" }] });
    id(&office.create("clients", body).await)
}

async fn version_of(office: &BackOffice<'_>, path: &str) -> Value {
    let reply = office.get(path).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["version"].clone()
}

#[tokio::test]
async fn a_week_of_work_decides_what_each_client_sees() {
    let stack = TestStack::new(&chicago_morning("2026-06-01")).await;
    let oakleaf = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let office = BackOffice::of(&stack, &oakleaf).await;

    // Monday.
    let sam = client(&office, "Sam Ortega", "sam@example.org").await;
    let removal = office
        .create(
            &format!("clients/{sam}/jobs"),
            json!({ "title": "Dead oak removal",
            "kind": "one_off", "stage": "lead" }),
        )
        .await;
    let quote = office
        .create(
            &format!("clients/{sam}/proposals"),
            json!({ "number": "Q-101",
            "job_id": id(&removal), "valid_until": "2026-06-10", "lines": lines(185_000),
            "total": usd(185_000) }),
        )
        .await;
    let priya = client(&office, "Priya Nair", "priya@example.org").await;
    let pruning = office
        .create(
            &format!("clients/{priya}/jobs"),
            json!({ "title": "Monthly pruning",
            "kind": "recurring", "stage": "active" }),
        )
        .await;
    let jobs = format!("clients/{priya}/jobs/{}/visits", id(&pruning));
    let june_visit = office
        .create(&jobs, json!({ "scheduled": { "date": "2026-06-03" } }))
        .await;
    let july_visit = office
        .create(&jobs, json!({ "scheduled": { "within_month": "2026-07" } }))
        .await;
    for (number, visit) in [("INV-201", &june_visit), ("INV-202", &july_visit)] {
        office
            .create(
                &format!("clients/{priya}/invoices"),
                json!({ "number": number,
                "billing": { "kind": "per_visit", "visit_id": id(visit) },
                "lines": lines(9_500), "total": usd(9_500) }),
            )
            .await;
    }
    assert_eq!(office.proposals_on(&sam, "2026-06-01").await, ["Q-101"]);
    assert!(office.invoices_on(&priya, "2026-06-01").await.is_empty());

    // Tuesday: accepted by staff, so it leaves Sam's portal; the job is active now.
    stack.set_now(&chicago_morning("2026-06-02"));
    let accept = format!("clients/{sam}/proposals/{}/accept", id(&quote));
    let accepted = office
        .post(&accept, json!({ "accepted_by": "Sam, by phone" }))
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let job_path = format!("clients/{sam}/jobs/{}", id(&removal));
    assert_eq!(office.get(&job_path).await.json()["stage"], "active");
    office
        .create(
            &format!("clients/{sam}/invoices"),
            json!({ "number": "INV-101",
            "billing": { "kind": "one_off" }, "job_id": id(&removal),
            "lines": lines(185_000), "total": usd(185_000) }),
        )
        .await;
    assert!(office.proposals_on(&sam, "2026-06-02").await.is_empty());
    assert_eq!(
        office.why(&sam, "2026-06-02", "Q-101").await["reason"],
        "accepted_by_staff"
    );
    assert!(office.invoices_on(&sam, "2026-06-02").await.is_empty());
    assert_eq!(
        office.why(&sam, "2026-06-02", "INV-101").await["reason"],
        "awaiting_work"
    );

    // Wednesday: the visit's day brings its invoice, though nobody marked it done.
    assert!(office.invoices_on(&priya, "2026-06-02").await.is_empty());
    assert_eq!(office.invoices_on(&priya, "2026-06-03").await, ["INV-201"]);

    // Thursday: the oak is down.
    stack.set_now(&chicago_morning("2026-06-04"));
    let version = version_of(&office, &job_path).await;
    office
        .change(
            &job_path,
            json!({ "version": version, "completed_on": "2026-06-04" }),
        )
        .await;
    assert!(office.invoices_on(&sam, "2026-06-03").await.is_empty());
    let thursday = office.portal_on(&sam, "2026-06-04").await;
    assert_eq!(thursday["portal"]["invoices"][0]["number"], "INV-101");
    assert_eq!(
        thursday["portal"]["invoices"][0]["invoice_date"],
        "2026-06-04"
    );

    // Friday: paid by check; shown as paid until a year after its date.
    stack.set_now(&chicago_morning("2026-06-05"));
    let invoice_id = thursday["portal"]["invoices"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let pay = format!("clients/{sam}/invoices/{invoice_id}/payments");
    let paid = office
        .post_keyed(
            &pay,
            "check-2231",
            json!({ "amount": usd(185_000),
            "received_on": "2026-06-05", "reference": "check 2231" }),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let friday = office.portal_on(&sam, "2026-06-05").await;
    assert_eq!(friday["portal"]["invoices"][0]["status"], "paid");
    assert_eq!(office.invoices_on(&sam, "2027-06-03").await, ["INV-101"]);
    assert!(office.invoices_on(&sam, "2027-06-04").await.is_empty());

    // Saturday: the setting applies to every portal at once.
    stack.set_now(&chicago_morning("2026-06-06"));
    let settings = office.get("settings").await.json();
    office
        .change(
            "settings",
            json!({ "version": settings["version"],
            "per_visit_invoices": "once_completed" }),
        )
        .await;
    assert!(office.invoices_on(&priya, "2026-06-06").await.is_empty());
    let why = office.why(&priya, "2026-06-06", "INV-201").await;
    assert_eq!(why["reason"], "awaiting_completion");
    let visit_path = format!("clients/{priya}/visits/{}", id(&june_visit));
    office
        .change(
            &visit_path,
            json!({ "version": 1, "completed_on": "2026-06-06" }),
        )
        .await;
    assert_eq!(office.invoices_on(&priya, "2026-06-06").await, ["INV-201"]);
    assert_eq!(
        office.invoices_on(&sam, "2026-06-06").await,
        ["INV-101"],
        "one-off unaffected"
    );

    // Sunday: a quote written for a job that was already active never reaches the client,
    // and an edit based on an old read is refused without changing anything.
    stack.set_now(&chicago_morning("2026-06-07"));
    let upsell = office
        .create(
            &format!("clients/{priya}/proposals"),
            json!({ "number": "Q-102",
            "job_id": id(&pruning), "lines": lines(40_000), "total": usd(40_000) }),
        )
        .await;
    assert!(office.proposals_on(&priya, "2026-06-07").await.is_empty());
    assert_eq!(
        office.why(&priya, "2026-06-07", "Q-102").await["reason"],
        "job_created_active"
    );
    let upsell_path = format!("clients/{priya}/proposals/{}", id(&upsell));
    let stale = office
        .patch(&upsell_path, json!({ "version": 0, "message": "new" }))
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);

    // July: "some time in July" puts the second visit's invoice in on the 1st, once the
    // crew has done it (the owner's Saturday setting still holds).
    assert_eq!(office.invoices_on(&priya, "2026-07-01").await, ["INV-201"]);
    let july_path = format!("clients/{priya}/visits/{}", id(&july_visit));
    office
        .change(
            &july_path,
            json!({ "version": 1, "completed_on": "2026-07-01" }),
        )
        .await;
    let mut july = office.invoices_on(&priya, "2026-07-01").await;
    july.sort();
    assert_eq!(july, ["INV-201", "INV-202"]);
    assert!(
        !office
            .invoices_on(&priya, "2026-06-30")
            .await
            .contains(&"INV-202".to_owned())
    );
}
