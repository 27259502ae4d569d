//! The portal pages and accepting proposals, over handlers fed API Gateway events against
//! DynamoDB Local: cases C03 (no data of another company), C04 (unguessable addresses), C11
//! (company time zone), C12 (expiry boundary) and C13 (one acceptance).

use lambda_http::http::header;
use porchlight_shared::domain::ClientRef;
use porchlight_shared::ids::DocumentId;
use porchlight_tests::fixtures::{cases, invoice, proposal, sign_in};
use porchlight_tests::{Event, TestStack};

/// C03: a client with no documents sees only their own company, with empty states, and
/// their cookie opens nothing at another company.
#[tokio::test]
async fn c03_an_empty_portal_never_shows_another_company() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;

    let pages = [
        Event::get("/p/greenridge/"),
        Event::get("/p/greenridge"),
        Event::get("/p/greenridge/").json(),
        Event::get("/p/greenridge/request"),
        Event::get("/p/greenridge?leadform=true"),
        Event::get(&format!(
            "/p/greenridge/invoices/{}",
            fixture.sam_invoice.id
        )),
        Event::get(&format!(
            "/p/greenridge/invoices/{}",
            fixture.sam_invoice.id
        ))
        .json(),
    ];
    for page in pages {
        let reply = stack.call(page.cookie(Some(&cookie))).await;
        assert!(!reply.body.contains("Oakleaf"), "{}", reply.body);
        assert!(!reply.body.contains("Sam Ortega"), "{}", reply.body);
        assert!(!reply.body.contains("OK-2001"));
    }
    let home = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)))
        .await;
    assert!(home.body.contains("Greenridge Lawn Co."));
    assert!(home.body.contains("Dana Whitfield"));
    assert!(home.body.contains("No invoices yet."));
    assert!(home.body.contains("No proposals yet."));
    let json = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(json["company"]["slug"], "greenridge");
    assert_eq!(json["client"]["name"], "Dana Whitfield");
    assert_eq!(json["invoices"], serde_json::json!([]));
    assert_eq!(json["proposals"], serde_json::json!([]));

    let elsewhere = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&cookie)))
        .await;
    assert_eq!(elsewhere.status, 200);
    assert!(
        elsewhere.body.contains("Enter the email address"),
        "only the login prompt"
    );
    assert!(!elsewhere.body.contains("Sam Ortega"));
    assert!(!elsewhere.body.contains("Dana"));
    let elsewhere = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&cookie)).json())
        .await;
    assert_eq!(elsewhere.status, 401);
    let direct = Event::get(&format!("/p/oakleaf/invoices/{}", fixture.sam_invoice.id));
    let direct = stack.call(direct.cookie(Some(&cookie))).await;
    assert_eq!(direct.status, 401);
    assert!(!direct.body.contains("OK-2001"));
}

/// C04: another client's invoice, another company's invoice and a made-up id all get the
/// same 404, byte for byte; the owner gets 200. Ids in addresses are 128 random bits.
#[tokio::test]
async fn c04_other_peoples_documents_are_indistinguishable_from_missing_ones() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let (greenridge, dana, lee) = (&fixture.greenridge, &fixture.dana, &fixture.lee);
    let dana_invoice = invoice(
        &stack,
        greenridge,
        dana,
        "GR-1042",
        "2026-03-01",
        12_000,
        12_000,
    )
    .await;
    let lee_invoice = invoice(
        &stack,
        greenridge,
        lee,
        "GR-1043",
        "2026-03-01",
        9_000,
        9_000,
    )
    .await;
    let dana_cookie = sign_in(&stack, "greenridge", "dana@example.net").await;

    let made_up = stack
        .call(
            Event::get(&format!("/p/greenridge/invoices/{}", DocumentId::random()))
                .cookie(Some(&dana_cookie)),
        )
        .await;
    assert_eq!(made_up.status, 404);
    for target in [
        format!("/p/greenridge/invoices/{}", lee_invoice.id),
        format!("/p/greenridge/invoices/{}", fixture.sam_invoice.id),
        "/p/greenridge/invoices/1043".to_owned(),
        "/p/greenridge/invoices/GR-1043".to_owned(),
        format!("/p/greenridge/proposals/{}", lee_invoice.id),
    ] {
        let reply = stack
            .call(Event::get(&target).cookie(Some(&dana_cookie)))
            .await;
        assert_eq!(reply.status, 404, "{target}");
        assert_eq!(
            reply.body, made_up.body,
            "{target} must look exactly like a made-up id"
        );
    }
    let own = Event::get(&format!("/p/greenridge/invoices/{}", dana_invoice.id));
    let own = stack.call(own.cookie(Some(&dana_cookie))).await;
    assert_eq!(own.status, 200);
    assert!(own.body.contains("GR-1042"));

    let lee_cookie = sign_in(&stack, "greenridge", "lee@example.net").await;
    let lees = Event::get(&format!("/p/greenridge/invoices/{}", lee_invoice.id));
    let lees = stack.call(lees.cookie(Some(&lee_cookie))).await;
    assert_eq!(lees.status, 200);
    assert!(lees.body.contains("GR-1043"));

    let home = stack
        .call(
            Event::get("/p/greenridge/")
                .cookie(Some(&dana_cookie))
                .json(),
        )
        .await;
    let id = home.json()["invoices"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(id.len(), 32, "128 bits in hex");
    assert!(!id.contains("1042"));
}

/// C11: "today" is Chicago's date: an invoice dated 2026-03-10 is hidden at 03:30Z (Mar 9,
/// 22:30 local) and shown at 05:00Z.
#[tokio::test]
async fn c11_invoices_appear_at_local_midnight() {
    let stack = TestStack::new("2026-03-09T20:00:00Z").await;
    let fixture = cases(&stack).await;
    invoice(
        &stack,
        &fixture.greenridge,
        &fixture.dana,
        "GR-1100",
        "2026-03-10",
        5_000,
        5_000,
    )
    .await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;

    stack.set_now("2026-03-10T03:30:00Z");
    let before = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(before["today"], "2026-03-09");
    assert_eq!(before["invoices"], serde_json::json!([]));

    stack.set_now("2026-03-10T05:00:00Z");
    let after = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(after["today"], "2026-03-10");
    assert_eq!(after["invoices"][0]["number"], "GR-1100");
    assert_eq!(after["invoices"][0]["invoice_date"], "2026-03-10");
    assert_eq!(after["invoices"][0]["status"], "unpaid");
    assert_eq!(
        after["invoices"][0]["total"],
        serde_json::json!({"minor": 5000, "currency": "USD"})
    );
    assert_eq!(after["invoices"][0]["balance"]["minor"], 5000);
}

/// C12: in Denver, a proposal valid until 2026-05-15 can be accepted until local midnight;
/// a minute later it shows "expired" with no button and a direct POST gets 409.
#[tokio::test]
async fn c12_proposals_expire_at_the_end_of_their_last_local_day() {
    let stack = TestStack::new("2026-05-15T20:00:00Z").await;
    let denver = stack
        .company("greenridge", "Greenridge Lawn Co.", "America/Denver")
        .await;
    let dana = stack
        .client(&denver, "Dana Whitfield", "dana@example.net")
        .await;
    let late = proposal(&stack, &denver, &dana, "GR-Q-80", "2026-05-15", 150_000).await;
    let expired = proposal(&stack, &denver, &dana, "GR-Q-81", "2026-05-15", 90_000).await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;

    stack.set_now("2026-05-16T05:00:00Z");
    let accept = Event::post(&format!("/p/greenridge/proposals/{}/accept", late.id));
    let accepted = stack.call(accept.cookie(Some(&cookie))).await;
    assert_eq!(
        accepted.status, 303,
        "23:00 on the 15th in Denver: still valid"
    );

    stack.set_now("2026-05-16T06:01:00Z");
    let page = Event::get(&format!("/p/greenridge/proposals/{}", expired.id));
    let page = stack.call(page.cookie(Some(&cookie))).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Expired"));
    assert!(
        !page.body.contains("Accept proposal"),
        "no Accept button once expired"
    );
    let post = Event::post(&format!("/p/greenridge/proposals/{}/accept", expired.id));
    let refused = stack.call(post.cookie(Some(&cookie))).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("expired"));
    let json = Event::post(&format!("/p/greenridge/proposals/{}/accept", expired.id)).json();
    let refused = stack.call(json.cookie(Some(&cookie))).await;
    assert_eq!(refused.status, 409);
    assert_eq!(
        refused.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );

    let home = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await
        .json();
    let statuses: Vec<(&str, &str)> = home["proposals"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| (p["number"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert!(statuses.contains(&("GR-Q-80", "accepted")));
    assert!(statuses.contains(&("GR-Q-81", "expired")));
}

/// C13: two accepts at the same moment record one acceptance, send one staff notice and one
/// confirmation; the loser and any later accept are told it was already accepted. The
/// proposal then stays in the portal, read-only, naming who accepted it.
#[tokio::test]
async fn c13_a_proposal_is_accepted_once() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let quote = proposal(
        &stack,
        &fixture.greenridge,
        &fixture.dana,
        "GR-Q-77",
        "2026-06-30",
        240_000,
    )
    .await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    let mail_before = stack.mail();

    let accept = || {
        let event = Event::post(&format!("/p/greenridge/proposals/{}/accept", quote.id));
        stack.call(event.cookie(Some(&cookie)))
    };
    let (first, second) = tokio::join!(accept(), accept());
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [303, 409]);
    let loser = if first.status == 409 { &first } else { &second };
    assert!(loser.body.contains("already accepted"), "{}", loser.body);

    let again = accept().await;
    assert_eq!(again.status, 409);
    assert!(
        again
            .body
            .contains("already accepted on Jun 3, 2026 by Dana Whitfield")
    );

    let mail = &stack.mail_since(&mail_before);
    assert_eq!(
        mail.len(),
        2,
        "one staff notice and one client confirmation"
    );
    assert_eq!(
        mail.iter()
            .filter(|m| m.contains("\r\nTo: office@greenridge.example"))
            .count(),
        1
    );
    assert_eq!(
        mail.iter()
            .filter(|m| m.contains("\r\nTo: dana@example.net"))
            .count(),
        1
    );

    let page = Event::get(&format!("/p/greenridge/proposals/{}", quote.id));
    let page = stack.call(page.cookie(Some(&cookie))).await;
    assert!(page.body.contains("Accepted Jun 3, 2026 by Dana Whitfield"));
    assert!(!page.body.contains("Accept proposal"));

    stack.set_now("2028-01-01T15:00:00Z");
    let later = stack
        .call(
            Event::get("/p/greenridge/")
                .cookie(Some(
                    &sign_in(&stack, "greenridge", "dana@example.net").await,
                ))
                .json(),
        )
        .await
        .json();
    assert_eq!(
        later["proposals"][0]["status"], "accepted",
        "portal acceptances stay"
    );

    let portal = stack
        .store()
        .client_portal(&fixture.greenridge.slug, &fixture.dana.id)
        .await
        .expect("read")
        .expect("client");
    let acceptance = &portal.acceptances[&quote.id];
    assert_eq!(
        acceptance.accepted_by_email.as_deref(),
        Some("dana@example.net")
    );
    assert_eq!(acceptance.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(
        acceptance.channel,
        porchlight_shared::domain::Channel::Portal
    );
    let job = portal.jobs.values().next().expect("the proposal's job");
    assert_eq!(job.stage, porchlight_shared::domain::Stage::Active);
    assert_eq!(
        job.created_stage,
        porchlight_shared::domain::Stage::Proposal
    );
}

/// One address that reaches two accounts chooses which to open, and cannot open others.
#[tokio::test]
async fn shared_addresses_choose_an_account() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let (greenridge, dana, lee) = (&fixture.greenridge, &fixture.dana, &fixture.lee);
    // The address is on both clients, as the API and the import keep it; the address entry
    // below is what sign-in reads.
    for client in [dana, lee] {
        let mut shared = client.clone();
        shared.emails.push("family@example.net".into());
        stack
            .store()
            .save_client(&greenridge.slug, &shared)
            .await
            .expect("stored");
    }
    let refs = [
        ClientRef {
            id: dana.id.clone(),
            name: dana.name.clone(),
        },
        ClientRef {
            id: lee.id.clone(),
            name: lee.name.clone(),
        },
    ];
    stack
        .store()
        .set_email_clients(&greenridge.slug, "family@example.net", &refs)
        .await
        .expect("stored");
    invoice(
        &stack,
        greenridge,
        lee,
        "GR-1043",
        "2026-03-01",
        9_000,
        9_000,
    )
    .await;
    let cookie = sign_in(&stack, "greenridge", "family@example.net").await;

    let chooser = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)))
        .await;
    assert!(chooser.body.contains("Choose an account"));
    assert!(chooser.body.contains("Dana Whitfield") && chooser.body.contains("Lee Park"));

    let choose = Event::post("/p/greenridge/account").form(&[("client", lee.id.as_str())]);
    assert_eq!(stack.call(choose.cookie(Some(&cookie))).await.status, 303);
    let home = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(home["client"]["name"], "Lee Park");
    assert_eq!(home["invoices"][0]["number"], "GR-1043");

    let other = Event::post("/p/greenridge/account").form(&[("client", fixture.sam.id.as_str())]);
    assert_eq!(stack.call(other.cookie(Some(&cookie))).await.status, 404);
    let home = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(
        home["client"]["name"], "Lee Park",
        "a refused choice changes nothing"
    );
}

/// A POST from another site's page is refused even if the browser sent the cookie.
#[tokio::test]
async fn cross_site_accepts_are_refused() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let quote = proposal(
        &stack,
        &fixture.greenridge,
        &fixture.dana,
        "GR-Q-77",
        "2026-06-30",
        240_000,
    )
    .await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    let target = format!("/p/greenridge/proposals/{}/accept", quote.id);

    let forged = Event::post(&target)
        .cookie(Some(&cookie))
        .header("host", "portal.example.com")
        .header("origin", "https://evil.example");
    assert_eq!(stack.call(forged).await.status, 403);
    let portal = stack
        .store()
        .client_portal(&fixture.greenridge.slug, &fixture.dana.id)
        .await;
    assert!(
        portal
            .expect("read")
            .expect("client")
            .acceptances
            .is_empty(),
        "nothing changed"
    );

    let own = Event::post(&target)
        .cookie(Some(&cookie))
        .header("host", "portal.example.com")
        .header("origin", "https://portal.example.com");
    assert_eq!(stack.call(own).await.status, 303);
}

/// Addresses no route has get Porchlight's own 404 (HTML for people, problem details for
/// programs), the sign-in form's address reloaded goes back to the portal, and HEAD works.
#[tokio::test]
async fn unknown_addresses_and_reloads_are_answered_properly() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    cases(&stack).await;

    let page = stack.call(Event::get("/nothing/here")).await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("Page not found"));
    let program = stack
        .call(Event::get("/p/greenridge/statement.pdf").json())
        .await;
    assert_eq!(program.status, 404);
    assert_eq!(
        program.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );

    let reload = stack.call(Event::get("/p/greenridge/login")).await;
    assert_eq!(reload.status, 303);
    assert_eq!(reload.header(header::LOCATION), Some("/p/greenridge/"));

    let head = stack.call(Event::head("/p/greenridge")).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}
