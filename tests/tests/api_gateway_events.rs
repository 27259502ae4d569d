//! Handlers fed recorded-shape API Gateway HTTP API (payload 2.0) events from
//! `tests/events/`, converted by `lambda_http` exactly as in Lambda, and the number of
//! DynamoDB requests a portal page costs.

use porchlight_tests::fixtures::{cases, invoice, proposal, sign_in};
use porchlight_tests::{Reply, TestStack};

fn event(name: &str, replacements: &[(&str, &str)]) -> lambda_http::Request {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).expect("the event fixture exists");
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    lambda_http::request::from_str(&text).expect("the fixture is a valid API Gateway v2 event")
}

fn session_value(cookie: &str) -> &str {
    cookie.split_once('=').expect("name=value").1
}

/// The portal home from an event with the session among other cookies, as API Gateway
/// delivers them (a `cookies` array rather than a Cookie header).
#[tokio::test]
async fn portal_home_from_an_api_gateway_event() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    invoice(
        &stack,
        &fixture.greenridge,
        &fixture.dana,
        "GR-1042",
        "2026-03-01",
        12_000,
        12_000,
    )
    .await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    let request = event(
        "portal-home-get.json",
        &[("SESSION", session_value(&cookie))],
    );

    let reply = Reply::from(portal::handle(&stack.ctx, request).await);

    assert_eq!(reply.status, 200, "{}", reply.body);
    let json = reply.json();
    assert_eq!(json["client"]["name"], "Dana Whitfield");
    assert_eq!(json["invoices"][0]["number"], "GR-1042");
}

/// The accept event records the address API Gateway saw, and answers 303 to the page.
#[tokio::test]
async fn accept_from_an_api_gateway_event_records_the_source_address() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let quote = proposal(
        &stack,
        &fixture.greenridge,
        &fixture.dana,
        "GR-Q-77",
        "2026-04-30",
        240_000,
    )
    .await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    let request = event(
        "proposal-accept-post.json",
        &[
            ("SESSION", session_value(&cookie)),
            ("PROPOSAL", quote.id.as_str()),
        ],
    );

    let reply = Reply::from(accept_proposal::handle(&stack.ctx, request).await);

    assert_eq!(reply.status, 303, "{}", reply.body);
    let portal = stack
        .store()
        .client_portal(&fixture.greenridge.slug, &fixture.dana.id)
        .await
        .expect("read")
        .expect("the client");
    assert_eq!(
        portal.acceptances[&quote.id].source_ip.as_deref(),
        Some("203.0.113.77")
    );
}

/// A portal page costs three DynamoDB requests however many documents the client has:
/// the company (GetItem), the session (GetItem) and the client's partition (one Query).
#[tokio::test]
async fn a_portal_page_costs_three_requests() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    for n in 0..40 {
        let number = format!("GR-{}", 2000 + n);
        invoice(
            &stack,
            &fixture.greenridge,
            &fixture.dana,
            &number,
            "2026-03-01",
            5_000,
            5_000,
        )
        .await;
    }
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;

    let request = event(
        "portal-home-get.json",
        &[("SESSION", session_value(&cookie))],
    );
    let before = stack.store().request_count();

    let reply = Reply::from(portal::handle(&stack.ctx, request).await);
    let requests = stack.store().request_count() - before;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["invoices"].as_array().map(Vec::len), Some(40));
    assert_eq!(
        requests, 3,
        "company GetItem, session GetItem, partition Query"
    );
}
