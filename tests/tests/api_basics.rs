//! The back-office API's front door: keys, one company per key, problem details, the
//! OpenAPI document, settings with optimistic concurrency, and "why is this shown?".

use serde_json::json;

use porchlight_tests::fixtures::{cases, invoice};
use porchlight_tests::{Event, TestStack};

#[tokio::test]
async fn calls_need_an_active_key_of_the_company() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let greenridge_key = stack.api_key(&fixture.greenridge).await;
    let oakleaf_key = stack.api_key(&fixture.oakleaf).await;

    let anonymous = stack.call(Event::get("/api/v1/settings")).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header(lambda_http::http::header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    let forged = Event::get("/api/v1/settings").bearer(&format!("plk_{}", "0".repeat(64)));
    assert_eq!(stack.call(forged).await.status, 401);

    let mine = stack
        .call(Event::get("/api/v1/settings").bearer(&greenridge_key))
        .await;
    assert_eq!(mine.json()["slug"], "greenridge");

    let dana = format!("/api/v1/clients/{}/portal", fixture.dana.id);
    assert_eq!(
        stack
            .call(Event::get(&dana).bearer(&greenridge_key))
            .await
            .status,
        200
    );
    let other = stack.call(Event::get(&dana).bearer(&oakleaf_key)).await;
    assert_eq!(other.status, 404, "another company's key finds nothing");

    let unknown = stack
        .call(Event::get("/api/v1/nothing-here").bearer(&greenridge_key))
        .await;
    assert_eq!(unknown.status, 404);
    let wrong_method = stack
        .call(Event::delete("/api/v1/settings").bearer(&greenridge_key))
        .await;
    assert_eq!(wrong_method.status, 405);
}

#[tokio::test]
async fn the_openapi_document_is_public() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let reply = stack.call(Event::get("/api/v1/openapi.json")).await;
    assert_eq!(reply.status, 200);
    let document = reply.json();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/api/v1/settings"]["patch"].is_object());
}

/// A setting changes what the client sees at once; a stale version changes nothing.
#[tokio::test]
async fn settings_change_the_portal_at_once_and_stale_writes_conflict() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    invoice(
        &stack,
        &fixture.greenridge,
        &fixture.dana,
        "GR-2001",
        "2025-10-01",
        5_000,
        0,
    )
    .await;
    let portal = format!("/api/v1/clients/{}/portal?on=2026-04-02", fixture.dana.id);
    let shown = |reply: &porchlight_tests::Reply| {
        reply.json()["portal"]["invoices"].as_array().map(Vec::len)
    };

    let before = stack.call(Event::get(&portal).bearer(&key)).await;
    assert_eq!(
        shown(&before),
        Some(1),
        "paid six months ago: shown for a year"
    );

    let read = stack
        .call(Event::get("/api/v1/settings").bearer(&key))
        .await
        .json();
    let version = read["version"].as_u64().expect("a version");
    let change = json!({ "version": version, "paid_invoice_months": 3 });
    let changed = stack
        .call(
            Event::patch("/api/v1/settings")
                .bearer(&key)
                .body_json(&change),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["paid_invoice_months"], 3);

    let after = stack.call(Event::get(&portal).bearer(&key)).await;
    assert_eq!(shown(&after), Some(0), "kept three months now: gone");
    let document = &after.json()["documents"][0];
    assert_eq!(document["reason"], "paid_expired");
    assert_eq!(document["shown_until"], "2025-12-31");

    let stale = json!({ "version": version, "hide_zero_total": true });
    let refused = stack
        .call(
            Event::patch("/api/v1/settings")
                .bearer(&key)
                .body_json(&stale),
        )
        .await;
    assert_eq!(refused.status, 409);
    let now = stack
        .call(Event::get("/api/v1/settings").bearer(&key))
        .await
        .json();
    assert_eq!(
        now["hide_zero_total"], false,
        "the stale write changed nothing"
    );
}

#[tokio::test]
async fn bad_settings_name_each_field() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let bad = json!({ "time_zone": "Mars/Olympus", "paid_invoice_months": 0,
        "one_off_invoices": "whenever", "colour": "green" });
    let reply = stack
        .call(
            Event::patch("/api/v1/settings")
                .bearer(&key)
                .body_json(&bad),
        )
        .await;
    assert_eq!(reply.status, 422);
    let names: Vec<String> = reply.json()["invalid_fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "colour",
            "version",
            "time_zone",
            "paid_invoice_months",
            "one_off_invoices"
        ]
    );
    let not_json = Event::patch("/api/v1/settings")
        .bearer(&key)
        .body_json(&json!([1]));
    assert_eq!(stack.call(not_json).await.status, 422);
    let mut broken = Event::patch("/api/v1/settings").bearer(&key);
    broken = broken.header("content-type", "application/json");
    let broken = stack.call(broken.body_text("{\"version\":")).await;
    assert_eq!(broken.status, 400);
}

/// Staff see a client's portal home as the client sees it on a date, read-only.
#[tokio::test]
async fn staff_preview_a_clients_portal_on_a_date() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    invoice(
        &stack,
        &fixture.greenridge,
        &fixture.dana,
        "GR-3001",
        "2026-05-01",
        7_000,
        7_000,
    )
    .await;
    let preview = |on: &str| {
        let path = format!("/api/v1/clients/{}/portal/preview?on={on}", fixture.dana.id);
        stack.call(Event::get(&path).bearer(&key))
    };

    let before = preview("2026-04-30").await;
    assert_eq!(before.status, 200);
    assert!(before.body.contains("Staff preview"));
    assert!(before.body.contains("No invoices yet."));
    assert!(
        !before.body.contains("Sign out"),
        "read-only: no session controls"
    );

    let after = preview("2026-05-01").await;
    assert!(after.body.contains("#GR-3001"));
    assert!(after.body.contains("Dana Whitfield"));
}
