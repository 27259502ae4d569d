//! Each company setting, changed through the API, changes what the client's portal shows at
//! once, on the day before, of and after: no migration, nothing rewritten.

use serde_json::{Value, json};

use porchlight_tests::TestStack;
use porchlight_tests::back_office::{BackOffice, id, lines, usd};

async fn set(office: &BackOffice<'_>, change: Value) {
    let read = office.get("settings").await.json();
    let mut body = change;
    body["version"] = read["version"].clone();
    office.change("settings", body).await;
}

async fn client(office: &BackOffice<'_>) -> String {
    let body = json!({ "name": "Sam Ortega", "contacts": [{ "email": "sam@example.org" }] });
    id(&office.create("clients", body).await)
}

#[tokio::test]
async fn every_setting_changes_the_portal_at_once() {
    let stack = TestStack::new("2026-06-01T14:00:00Z").await;
    let oakleaf = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let office = BackOffice::of(&stack, &oakleaf).await;
    let sam = client(&office).await;
    let invoices = format!("clients/{sam}/invoices");
    let dated = office
        .create(
            &invoices,
            json!({ "number": "INV-1", "billing": { "kind": "one_off" },
            "invoice_date": "2026-06-01", "lines": lines(9_000), "total": usd(9_000) }),
        )
        .await;
    office
        .create(
            &invoices,
            json!({ "number": "INV-0", "billing": { "kind": "one_off" },
            "invoice_date": "2026-06-01", "lines": lines(0), "total": usd(0) }),
        )
        .await;
    let mut both = office.invoices_on(&sam, "2026-06-01").await;
    both.sort();
    assert_eq!(both, ["INV-0", "INV-1"]);

    // Zero-total invoices hidden, then shown again.
    set(&office, json!({ "hide_zero_total": true })).await;
    assert_eq!(office.invoices_on(&sam, "2026-06-01").await, ["INV-1"]);
    set(&office, json!({ "hide_zero_total": false })).await;
    assert_eq!(office.invoices_on(&sam, "2026-06-01").await.len(), 2);
    set(&office, json!({ "hide_zero_total": true })).await;

    // Only once marked sent: gone until then, and from the day it was sent.
    set(&office, json!({ "one_off_invoices": "once_sent" })).await;
    assert!(office.invoices_on(&sam, "2026-06-03").await.is_empty());
    let reason = office.why(&sam, "2026-06-03", "INV-1").await["reason"].clone();
    assert_eq!(reason, "awaiting_sending");
    let invoice_path = format!("{invoices}/{}", id(&dated));
    office
        .change(
            &invoice_path,
            json!({ "version": 1, "sent_on": "2026-06-03" }),
        )
        .await;
    assert!(office.invoices_on(&sam, "2026-06-02").await.is_empty());
    assert_eq!(office.invoices_on(&sam, "2026-06-03").await, ["INV-1"]);
    assert_eq!(office.invoices_on(&sam, "2026-06-04").await, ["INV-1"]);

    // Only once approved.
    set(&office, json!({ "one_off_invoices": "once_approved" })).await;
    assert!(office.invoices_on(&sam, "2026-06-04").await.is_empty());
    office
        .change(
            &invoice_path,
            json!({ "version": 2, "approved_on": "2026-06-05" }),
        )
        .await;
    assert!(office.invoices_on(&sam, "2026-06-04").await.is_empty());
    assert_eq!(office.invoices_on(&sam, "2026-06-05").await, ["INV-1"]);

    // Only once the work is completed.
    set(&office, json!({ "one_off_invoices": "once_completed" })).await;
    let job = office
        .create(
            &format!("clients/{sam}/jobs"),
            json!({ "title": "Stump grinding",
            "kind": "one_off", "stage": "active", "work_date": "2026-06-08" }),
        )
        .await;
    office
        .create(
            &invoices,
            json!({ "number": "INV-2", "billing": { "kind": "one_off" },
            "job_id": id(&job), "lines": lines(4_000), "total": usd(4_000) }),
        )
        .await;
    assert!(
        !office
            .invoices_on(&sam, "2026-06-09")
            .await
            .contains(&"INV-2".to_owned())
    );
    let job_path = format!("clients/{sam}/jobs/{}", id(&job));
    office
        .change(
            &job_path,
            json!({ "version": 1, "completed_on": "2026-06-09" }),
        )
        .await;
    assert!(
        !office
            .invoices_on(&sam, "2026-06-08")
            .await
            .contains(&"INV-2".to_owned())
    );
    assert!(
        office
            .invoices_on(&sam, "2026-06-09")
            .await
            .contains(&"INV-2".to_owned())
    );
    set(&office, json!({ "one_off_invoices": "date_rules" })).await;
    assert!(
        office
            .invoices_on(&sam, "2026-06-08")
            .await
            .contains(&"INV-2".to_owned())
    );

    // How long paid invoices stay.
    let pay = format!("{invoice_path}/payments");
    let paid = office
        .post_keyed(
            &pay,
            "pay-1",
            json!({ "amount": usd(9_000), "received_on": "2026-06-10" }),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert!(
        office
            .invoices_on(&sam, "2027-05-31")
            .await
            .contains(&"INV-1".to_owned())
    );
    assert!(
        !office
            .invoices_on(&sam, "2027-06-01")
            .await
            .contains(&"INV-1".to_owned())
    );
    set(&office, json!({ "paid_invoice_months": 24 })).await;
    assert!(
        office
            .invoices_on(&sam, "2027-06-01")
            .await
            .contains(&"INV-1".to_owned())
    );
    assert!(
        !office
            .invoices_on(&sam, "2028-06-01")
            .await
            .contains(&"INV-1".to_owned())
    );

    // How long new proposals stay open.
    set(&office, json!({ "proposal_open_days": 10 })).await;
    let quote = office
        .create(
            &format!("clients/{sam}/proposals"),
            json!({ "number": "Q-1",
            "lines": lines(1_000), "total": usd(1_000) }),
        )
        .await;
    assert_eq!(quote["valid_until"], "2026-06-11");

    // The time zone decides "today": at 03:30Z it is still yesterday in Chicago and already
    // today in Berlin.
    stack.set_now("2026-06-12T03:30:00Z");
    let portal = format!("clients/{sam}/portal");
    assert_eq!(
        office.get(&portal).await.json()["portal"]["today"],
        "2026-06-11"
    );
    set(&office, json!({ "time_zone": "Europe/Berlin" })).await;
    assert_eq!(
        office.get(&portal).await.json()["portal"]["today"],
        "2026-06-12"
    );

    // Payments enabled is recorded for the pay button of a later issue.
    set(&office, json!({ "payments_enabled": true })).await;
    assert_eq!(
        office.get("settings").await.json()["payments_enabled"],
        true
    );
}
