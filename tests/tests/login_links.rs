//! Signing in by emailed link, against DynamoDB Local: cases C01 (mail scanners) and C02
//! (used, older and expired links), and the same answer for unknown addresses.

use lambda_http::http::header;
use porchlight_tests::fixtures::{ask_for_link, cases, sign_in};
use porchlight_tests::{Event, TestStack};

/// C01: scanners may GET and HEAD the link as often as they like; only the POST spends it,
/// and it works from another device with no cookie from the one that asked.
#[tokio::test]
async fn c01_mail_scanners_do_not_use_up_the_link() {
    let stack = TestStack::new("2026-04-02T14:00:00Z").await;
    cases(&stack).await;
    let link = ask_for_link(&stack, "greenridge", "dana@example.net").await;

    let scanners = [
        Event::get(&link)
            .from_ip("40.94.1.1")
            .header("user-agent", "Safe Links scanner"),
        Event::get(&link)
            .from_ip("40.94.1.2")
            .header("user-agent", "Proofpoint URL Defense"),
        Event::get(&link)
            .from_ip("52.1.2.3")
            .header("user-agent", "Barracuda"),
        Event::head(&link)
            .from_ip("40.94.1.3")
            .header("user-agent", "Safe Links scanner"),
    ];
    for scanner in scanners {
        let reply = stack.call(scanner).await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.set_cookie().is_none(),
            "a scanner never gets a session"
        );
    }
    let page = stack.call(Event::get(&link)).await;
    assert!(page.body.contains("Continue to sign in"));
    assert!(!page.body.contains("<script"), "the page runs no script");
    assert!(
        !page.body.to_lowercase().contains("http-equiv"),
        "no meta refresh"
    );
    assert!(
        page.body.contains(&format!("action=\"{link}\"")),
        "the button posts the link"
    );

    stack.set_now("2026-04-02T14:03:00Z");
    let phone = stack
        .call(
            Event::post(&link)
                .from_ip("203.0.113.9")
                .header("user-agent", "Phone"),
        )
        .await;
    assert_eq!(phone.status, 303);
    assert_eq!(phone.header(header::LOCATION), Some("/p/greenridge/"));
    let cookie = phone.set_cookie().expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/p/greenridge", "Max-Age="] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain local http gets no Secure flag"
    );

    let again = stack.call(Event::get(&link)).await;
    assert_eq!(again.status, 410, "the token is now spent");
}

/// C02: a used link, an older link and an expired link are refused, each with its reason.
#[tokio::test]
async fn c02_used_older_and_expired_links_are_refused() {
    let stack = TestStack::new("2026-04-02T10:00:00Z").await;
    cases(&stack).await;
    let first = ask_for_link(&stack, "greenridge", "dana@example.net").await;
    stack.set_now("2026-04-02T10:05:00Z");
    let second = ask_for_link(&stack, "greenridge", "dana@example.net").await;

    stack.set_now("2026-04-02T10:06:00Z");
    let signed_in = stack.call(Event::post(&second)).await;
    assert_eq!(signed_in.status, 303);

    stack.set_now("2026-04-02T10:07:00Z");
    let reused = stack.call(Event::post(&second).from_ip("192.0.2.50")).await;
    assert_eq!(reused.status, 410);
    assert!(reused.body.contains("Link already used"));
    assert!(reused.session_cookie().is_none());

    stack.set_now("2026-04-02T10:08:00Z");
    let older = stack.call(Event::post(&first)).await;
    assert_eq!(older.status, 410, "signing in cancelled the older link");
    assert!(older.session_cookie().is_none());

    stack.set_now("2026-04-02T10:30:00Z");
    let third = ask_for_link(&stack, "greenridge", "dana@example.net").await;
    stack.set_now("2026-04-02T10:44:00Z");
    assert_eq!(
        stack.call(Event::post(&third)).await.status,
        303,
        "within 15 minutes"
    );

    let fourth = ask_for_link(&stack, "greenridge", "dana@example.net").await;
    stack.set_now("2026-04-02T11:00:00Z");
    let late = stack.call(Event::post(&fourth)).await;
    assert_eq!(late.status, 410);
    assert!(late.body.contains("Link expired"));
    assert!(late.body.contains("Send a new link"));
}

/// C02: the link expires exactly 15 minutes after it was sent.
#[tokio::test]
async fn c02_expiry_boundary() {
    let stack = TestStack::new("2026-04-02T10:30:00Z").await;
    cases(&stack).await;
    let link = ask_for_link(&stack, "greenridge", "dana@example.net").await;
    stack.set_now("2026-04-02T10:45:00Z");
    let reply = stack.call(Event::post(&link)).await;
    assert_eq!(reply.status, 410);
    assert!(reply.body.contains("Link expired"));

    let link = ask_for_link(&stack, "greenridge", "dana@example.net").await;
    stack.set_now("2026-04-02T10:59:59.999Z");
    assert_eq!(stack.call(Event::post(&link)).await.status, 303);
}

/// C02: two redemptions of one fresh token at the same moment give exactly one session.
#[tokio::test]
async fn c02_concurrent_redemptions_give_one_session() {
    let stack = TestStack::new("2026-04-02T10:00:00Z").await;
    cases(&stack).await;
    for _ in 0..3 {
        let link = ask_for_link(&stack, "greenridge", "lee@example.net").await;
        let post = || stack.call(Event::post(&link));
        let (a, b, c, d) = tokio::join!(post(), post(), post(), post());
        let replies = [a, b, c, d];
        let winners = replies.iter().filter(|r| r.status == 303).count();
        assert_eq!(
            winners,
            1,
            "{:?}",
            replies.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        assert!(replies.iter().all(|r| r.status == 303 || r.status == 410));
        assert_eq!(
            replies
                .iter()
                .filter(|r| r.session_cookie().is_some())
                .count(),
            1
        );
    }
}

/// The answer on screen is the same whether or not the address is on file, and no mail goes
/// to an unknown address.
#[tokio::test]
async fn unknown_addresses_get_the_same_page() {
    let stack = TestStack::new("2026-04-02T10:00:00Z").await;
    cases(&stack).await;
    let known = stack
        .call(Event::post("/p/greenridge/login").form(&[("email", "dana@example.net")]))
        .await;
    let unknown = stack
        .call(Event::post("/p/greenridge/login").form(&[("email", "nobody@example.net")]))
        .await;
    assert_eq!(known.status, unknown.status);
    let strip = |body: &str, email: &str| body.replace(email, "EMAIL");
    assert_eq!(
        strip(&known.body, "dana@example.net"),
        strip(&unknown.body, "nobody@example.net")
    );
    assert_eq!(stack.mail().len(), 1);

    let sam_elsewhere = stack
        .call(Event::post("/p/greenridge/login").form(&[("email", "sam@example.org")]))
        .await;
    assert_eq!(sam_elsewhere.status, 200);
    assert_eq!(
        stack.mail().len(),
        1,
        "Oakleaf's client is not Greenridge's"
    );

    let bad = stack
        .call(Event::post("/p/greenridge/login").form(&[("email", "not an email")]))
        .await;
    assert_eq!(bad.status, 422);
}

/// Signing out ends the session on the server, not only in the browser.
#[tokio::test]
async fn sign_out_ends_the_session() {
    let stack = TestStack::new("2026-04-02T10:00:00Z").await;
    cases(&stack).await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    let home = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await;
    assert_eq!(home.status, 200);

    let out = stack
        .call(Event::post("/p/greenridge/logout").cookie(Some(&cookie)))
        .await;
    assert_eq!(out.status, 303);
    assert!(out.set_cookie().is_some_and(|c| c.contains("Max-Age=0")));
    let after = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await;
    assert_eq!(after.status, 401, "the old cookie names no session");
}

/// Sessions end after their lifetime even though DynamoDB Local never deletes expired items.
#[tokio::test]
async fn sessions_expire_on_read() {
    let stack = TestStack::new("2026-04-02T10:00:00Z").await;
    cases(&stack).await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    stack.set_now("2026-04-02T21:59:00Z");
    assert_eq!(
        stack
            .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
            .await
            .status,
        200
    );
    stack.set_now("2026-04-02T22:00:01Z");
    assert_eq!(
        stack
            .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
            .await
            .status,
        401
    );
}

/// Another site cannot sign a visitor in to an account of its choosing (login CSRF); the
/// portal's own confirm button, a same-origin POST, works.
#[tokio::test]
async fn links_are_redeemed_only_from_the_portal_itself() {
    let stack = TestStack::new("2026-04-02T10:00:00Z").await;
    cases(&stack).await;
    let link = ask_for_link(&stack, "greenridge", "dana@example.net").await;

    let forged = Event::post(&link)
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example");
    let refused = stack.call(forged).await;
    assert_eq!(refused.status, 403);
    assert!(refused.session_cookie().is_none());

    let own = Event::post(&link)
        .header("sec-fetch-site", "same-origin")
        .header("origin", "null");
    assert_eq!(
        stack.call(own).await.status,
        303,
        "the link was not spent by the refusal"
    );
}

/// A double click on the confirm button: the second POST finds the link spent by this very
/// browser and takes it to the portal instead of showing an error.
#[tokio::test]
async fn a_double_click_lands_in_the_portal() {
    let stack = TestStack::new("2026-04-02T10:00:00Z").await;
    cases(&stack).await;
    let link = ask_for_link(&stack, "greenridge", "dana@example.net").await;
    let first = stack.call(Event::post(&link)).await;
    let cookie = first.session_cookie().expect("signed in");

    let second = stack.call(Event::post(&link).cookie(Some(&cookie))).await;
    assert_eq!(second.status, 303);
    assert_eq!(second.header(header::LOCATION), Some("/p/greenridge/"));
    assert!(second.session_cookie().is_none(), "no second session");

    let elsewhere = stack.call(Event::post(&link)).await;
    assert_eq!(elsewhere.status, 410, "another browser is still refused");
}

/// Asking for a link takes at least the configured time whether or not the address is on
/// file, so response time does not reveal who is a client.
#[tokio::test]
async fn known_and_unknown_addresses_answer_after_the_same_least_time() {
    let mut stack = TestStack::new("2026-04-02T10:00:00Z").await;
    cases(&stack).await;
    stack.ctx.config.login_answer_floor = std::time::Duration::from_millis(300);

    for email in ["dana@example.net", "nobody@example.net"] {
        let started = std::time::Instant::now();
        let event = Event::post("/p/greenridge/login").form(&[("email", email)]);
        assert_eq!(stack.call(event).await.status, 200);
        let took = started.elapsed();
        assert!(
            took >= std::time::Duration::from_millis(300),
            "{email} took {took:?}"
        );
    }
}
