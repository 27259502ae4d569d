//! The public service-request form: case C14 (header injection), validation that keeps what
//! was typed, the honeypot, the per-address limit, prefilling, and double submits.

use porchlight_shared::ids::DocumentId;
use porchlight_tests::fixtures::{cases, sign_in};
use porchlight_tests::{Event, TestStack};

fn fields<'a>(form_id: &'a str, name: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("form_id", form_id),
        ("name", name),
        ("email", email),
        ("phone", "(312) 555-0142"),
        ("service_address", "12 Elm St, Evanston"),
        ("service_wanted", "Aerate and overseed the back lawn"),
        ("preferred_timing", "Within 2 weeks"),
        ("notes", "Gate code 1234\nDog is friendly"),
        ("website", ""),
    ]
}

fn headers_of(message: &str) -> Vec<String> {
    let (head, _) = message.split_once("\r\n\r\n").expect("a header block");
    head.split("\r\n").map(str::to_owned).collect()
}

/// C14 test 1: line breaks in the name or email never become headers: the request is
/// refused with 422 and nothing is stored or sent; a clean resend produces one message with
/// one To, no Cc or Bcc, and Reply-To the requester only.
#[tokio::test]
async fn c14_form_text_cannot_inject_email_headers() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let form_id = DocumentId::random().to_string();

    let hostile = fields(
        &form_id,
        "Pat Lee\r\nBcc: list@example.org",
        "pat@example.com\nCc: x@example.org",
    );
    let refused = stack
        .call(Event::post("/p/greenridge/request").form(&hostile))
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Please keep your name on one line"));
    assert!(refused.body.contains("Please enter an email address"));
    assert!(
        refused.body.contains("Aerate and overseed the back lawn"),
        "typed text is kept"
    );
    assert!(stack.mail().is_empty());
    assert!(
        stack
            .store()
            .leads(&fixture.greenridge.slug)
            .await
            .expect("read")
            .is_empty()
    );

    let clean = fields(&form_id, "Pat Lee", "pat@example.com");
    let thanked = stack
        .call(Event::post("/p/greenridge/request").form(&clean))
        .await;
    assert_eq!(thanked.status, 200);
    assert!(thanked.body.contains("Thank you, Pat Lee"));

    let mail = stack.mail();
    assert_eq!(mail.len(), 1);
    let headers = headers_of(&mail[0]);
    let named = |name: &str| headers.iter().filter(|h| h.starts_with(name)).count();
    assert_eq!(named("To: "), 1);
    assert_eq!(named("Cc:") + named("Bcc:"), 0);
    assert!(headers.contains(&"To: office@greenridge.example".to_owned()));
    assert!(headers.contains(&"Reply-To: \"Pat Lee\" <pat@example.com>".to_owned()));
    assert!(mail[0].contains("Gate code 1234"));

    let leads = stack
        .store()
        .leads(&fixture.greenridge.slug)
        .await
        .expect("read");
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].email, "pat@example.com");
    assert_eq!(leads[0].preferred_timing, "Within 2 weeks");
}

/// A resubmitted form (same one-time id) is stored and announced once.
#[tokio::test]
async fn a_double_submit_is_stored_once() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let form_id = DocumentId::random().to_string();
    let form = fields(&form_id, "Pat Lee", "pat@example.com");
    let post = || stack.call(Event::post("/p/greenridge/request").form(&form));
    let (a, b) = tokio::join!(post(), post());
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(post().await.status, 200);
    assert_eq!(
        stack
            .store()
            .leads(&fixture.greenridge.slug)
            .await
            .expect("read")
            .len(),
        1
    );
    assert_eq!(stack.mail().len(), 1);
}

/// Robots that fill the hidden field are thanked and ignored.
#[tokio::test]
async fn the_honeypot_stores_nothing() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let form_id = DocumentId::random().to_string();
    let mut form = fields(&form_id, "Spam Bot", "bot@example.com");
    form.retain(|(k, _)| *k != "website");
    form.push(("website", "http://spam.example"));
    let reply = stack
        .call(Event::post("/p/greenridge/request").form(&form))
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        stack
            .store()
            .leads(&fixture.greenridge.slug)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(stack.mail().is_empty());
}

/// One address may send five requests an hour; the sixth is refused with 429, and another
/// address or the next hour is unaffected.
#[tokio::test]
async fn requests_are_limited_per_address() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let stack = &stack;
    let send = |ip: &'static str| {
        let id = DocumentId::random().to_string();
        async move {
            let form = fields(&id, "Pat Lee", "pat@example.com");
            stack
                .call(Event::post("/p/greenridge/request").form(&form).from_ip(ip))
                .await
        }
    };
    for _ in 0..5 {
        assert_eq!(send("203.0.113.5").await.status, 200);
    }
    let limited = send("203.0.113.5").await;
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("Too many requests"));
    assert_eq!(send("203.0.113.6").await.status, 200);
    stack.set_now("2026-04-02T16:00:00Z");
    assert_eq!(send("203.0.113.5").await.status, 200);
    assert_eq!(
        stack
            .store()
            .leads(&fixture.greenridge.slug)
            .await
            .expect("read")
            .len(),
        7
    );
}

/// Both addresses of the form show it; a signed-in client's form is prefilled.
#[tokio::test]
async fn the_form_is_prefilled_for_clients() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    cases(&stack).await;
    for target in ["/p/greenridge/request", "/p/greenridge?leadform=true"] {
        let anonymous = stack.call(Event::get(target)).await;
        assert_eq!(anonymous.status, 200);
        assert!(
            anonymous
                .body
                .contains("Request service from Greenridge Lawn Co.")
        );
        assert!(anonymous.body.contains("name=\"form_id\""));
        assert!(!anonymous.body.contains("Dana"));
    }
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    for target in ["/p/greenridge/request", "/p/greenridge?leadform=true"] {
        let page = stack.call(Event::get(target).cookie(Some(&cookie))).await;
        assert!(page.body.contains("value=\"Dana Whitfield\""), "{target}");
        assert!(page.body.contains("value=\"dana@example.net\""), "{target}");
        assert!(page.body.contains("value=\"(312) 555-0100\""), "{target}");
    }
}

/// Typed markup is shown as text, never rendered.
#[tokio::test]
async fn typed_markup_is_escaped() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    cases(&stack).await;
    let form_id = DocumentId::random().to_string();
    let mut form = fields(&form_id, "<script>alert(1)</script>", "not-an-email");
    form.push(("notes", "</textarea><img src=x onerror=alert(1)>"));
    let reply = stack
        .call(Event::post("/p/greenridge/request").form(&form))
        .await;
    assert_eq!(reply.status, 422);
    assert!(!reply.body.contains("<script>alert(1)"));
    assert!(reply.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!reply.body.contains("<img src=x"));
}
