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

    // Each step runs boxed: a debug build keeps every awaited future of one body on the
    // stack at once, and this body is long.
    let invoice_path = format!("{invoices}/{}", id(&dated));

    Box::pin(async {
        // Only once marked sent: gone until then, and from the day it was sent.
        set(&office, json!({ "one_off_invoices": "once_sent" })).await;
        assert!(office.invoices_on(&sam, "2026-06-03").await.is_empty());
        let reason = office.why(&sam, "2026-06-03", "INV-1").await["reason"].clone();
        assert_eq!(reason, "awaiting_sending");
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
    })
    .await;

    Box::pin(async {
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
    })
    .await;

    Box::pin(async {
        // How long paid invoices stay.
        let pay = format!("{invoice_path}/payments");
        // A payment is recorded once received (never ahead of the company's day).
        stack.set_now("2026-06-10T14:00:00Z");
        let paid = office
            .post_keyed(
                &pay,
                "pay-1",
                json!({ "amount": usd(9_000), "received_on": "2026-06-10" }),
            )
            .await;
        stack.set_now("2026-06-01T14:00:00Z");
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
    })
    .await;

    Box::pin(async {
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

        // Payments are enabled together with the Stripe account they go to.
        set(
            &office,
            json!({ "payments_enabled": true, "stripe_account": "acct_1Oakleaf" }),
        )
        .await;
        assert_eq!(
            office.get("settings").await.json()["payments_enabled"],
            true
        );
    })
    .await;
}

/// A change of the settings at the version just read, answered as it is.
async fn try_set(office: &BackOffice<'_>, change: Value) -> porchlight_tests::Reply {
    let read = office.get("settings").await.json();
    let mut body = change;
    body["version"] = read["version"].clone();
    office.patch("settings", body).await
}

fn refused_fields(reply: &porchlight_tests::Reply) -> Vec<String> {
    assert_eq!(reply.status, 422, "{}", reply.body);
    reply.json()["invalid_fields"]
        .as_array()
        .expect("invalid fields")
        .iter()
        .map(|f| f["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn payment_settings_are_checked_and_card_payment_needs_an_account() {
    let stack = TestStack::new("2026-06-01T14:00:00Z").await;
    let oakleaf = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let office = BackOffice::of(&stack, &oakleaf).await;

    let fresh = office.get("settings").await.json();
    assert_eq!(fresh["stripe_account"], Value::Null);
    assert_eq!(fresh["minimum_payment"], usd(0));
    assert_eq!(fresh["tax_rounding"], "whole_document");
    assert!(fresh.get("minimum_payment_minor").is_none(), "{fresh}");

    // Bad values are named, and nothing changes.
    let refused = try_set(
        &office,
        json!({ "stripe_account": "acct-12 3", "minimum_payment": "-5.00",
            "tax_rounding": "bankers" }),
    )
    .await;
    assert_eq!(
        refused_fields(&refused),
        ["stripe_account", "minimum_payment", "tax_rounding"]
    );
    for minimum in [
        json!("1.005"),
        json!(5),
        json!({ "minor": 100, "currency": "EUR" }),
    ] {
        let refused = try_set(&office, json!({ "minimum_payment": minimum })).await;
        assert_eq!(refused_fields(&refused), ["minimum_payment"], "{minimum}");
    }
    let alone = try_set(&office, json!({ "payments_enabled": true })).await;
    assert_eq!(refused_fields(&alone), ["payments_enabled"]);
    assert_eq!(office.get("settings").await.json(), fresh);

    // Account and payments in one request; the minimum as text or as money.
    let both = try_set(
        &office,
        json!({ "payments_enabled": true, "stripe_account": "acct_1NvOakleafTree",
            "minimum_payment": "25.50", "tax_rounding": "per_line" }),
    )
    .await;
    assert_eq!(both.status, 200, "{}", both.body);
    let shown = both.json();
    assert_eq!(shown["payments_enabled"], true);
    assert_eq!(shown["stripe_account"], "acct_1NvOakleafTree");
    assert_eq!(shown["minimum_payment"], usd(2_550));
    assert_eq!(shown["tax_rounding"], "per_line");
    set(&office, json!({ "minimum_payment": usd(1_000) })).await;
    assert_eq!(
        office.get("settings").await.json()["minimum_payment"],
        usd(1_000)
    );

    // The account cannot go while payments are on; both together can.
    let removed = try_set(&office, json!({ "stripe_account": null })).await;
    assert_eq!(refused_fields(&removed), ["stripe_account"]);
    set(
        &office,
        json!({ "stripe_account": null, "payments_enabled": false }),
    )
    .await;
    let off = office.get("settings").await.json();
    assert_eq!(off["stripe_account"], Value::Null);
    assert_eq!(off["payments_enabled"], false);
    assert_eq!(off["minimum_payment"], usd(1_000), "not named: unchanged");
}

/// Case C07 through the API: an invoice created with a tax rate gets its tax line and total
/// from the company's rounding; the portal shows that total, and paying it leaves 0.00.
#[tokio::test]
async fn tax_follows_the_company_rounding_and_paying_the_shown_amount_leaves_nothing() {
    let stack = TestStack::new("2026-06-01T14:00:00Z").await;
    let oakleaf = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let office = BackOffice::of(&stack, &oakleaf).await;
    let sam = client(&office).await;
    let invoices = format!("clients/{sam}/invoices");
    let c07_lines = json!([
        { "description": "Hedge trimming", "amount": usd(4_210) },
        { "description": "Mulch", "amount": usd(4_500) }
    ]);
    let tax = json!({ "rate": "8.25", "description": "Sales tax" });

    for (rounding, number, total, tax_minor) in [
        ("whole_document", "TX-1", 9_429, 719),
        ("per_line", "TX-2", 9_428, 718),
    ] {
        set(&office, json!({ "tax_rounding": rounding })).await;

        // A total a cent off is refused, naming the computed one.
        let wrong = office
            .post(
                &invoices,
                json!({ "number": number, "billing": { "kind": "one_off" },
                    "invoice_date": "2026-06-01", "lines": c07_lines, "tax": tax,
                    "total": usd(9_428 + 9_429 - total) }),
            )
            .await;
        assert_eq!(refused_fields(&wrong), ["total"], "{rounding}");
        let expected = format!("${}.{}", total / 100, total % 100);
        assert!(wrong.body.contains(&expected), "{rounding}: {}", wrong.body);

        let created = office
            .create(
                &invoices,
                json!({ "number": number, "billing": { "kind": "one_off" },
                    "invoice_date": "2026-06-01", "lines": c07_lines, "tax": tax }),
            )
            .await;
        assert_eq!(created["total"], usd(total), "{rounding}");
        assert_eq!(created["balance"], usd(total), "{rounding}");
        let stored_lines = created["lines"].as_array().expect("lines");
        assert_eq!(stored_lines.len(), 3);
        assert_eq!(stored_lines[2]["kind"], "tax");
        assert_eq!(stored_lines[2]["amount"], usd(tax_minor));
        assert_eq!(stored_lines[2]["description"], "Sales tax (8.25%)");

        // The portal shows that amount; a payment of it leaves exactly nothing.
        let portal = office.portal_on(&sam, "2026-06-01").await;
        let shown = portal["portal"]["invoices"]
            .as_array()
            .expect("invoices")
            .iter()
            .find(|i| i["number"] == number)
            .cloned()
            .expect("the invoice is shown");
        assert_eq!(shown["total"], usd(total));
        let paid = office
            .post_keyed(
                &format!("{invoices}/{}/payments", id(&created)),
                &format!("pay-{number}"),
                json!({ "amount": shown["balance"], "received_on": "2026-06-01" }),
            )
            .await;
        assert_eq!(paid.status, 201, "{}", paid.body);
        assert_eq!(paid.json()["invoice"]["balance"], usd(0), "{rounding}");
        assert_eq!(paid.json()["invoice"]["status"], "paid", "{rounding}");
    }

    // C07 test 2, on a proposal: a discount lowers the taxable net.
    let proposal = office
        .create(
            &format!("clients/{sam}/proposals"),
            json!({ "number": "Q-19", "lines": [
                { "description": "Landscape design", "amount": usd(850_000) },
                { "kind": "discount", "description": "Returning client",
                  "amount": usd(-750_000) }
            ], "tax": { "rate": "19", "description": "VAT" },
            "total": usd(119_000) }),
        )
        .await;
    assert_eq!(proposal["total"], usd(119_000));
    assert_eq!(proposal["lines"][2]["amount"], usd(19_000));
}
