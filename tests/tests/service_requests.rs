//! The public service-request form: case C14 (header injection), validation that keeps what
//! was typed, the honeypot, the per-address limit, prefilling, double submits, resubmits
//! (unchanged: thanked without counting; changed: 409 with the form back under a new id),
//! the form described as JSON, and `maxlength` matching what the server accepts.

use lambda_http::http::header;
use serde_json::Value;

use porchlight_shared::ids::DocumentId;
use porchlight_tests::fixtures::{cases, sign_in};
use porchlight_tests::{Event, Reply, TestStack};

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
    assert_eq!(
        limited.header(header::RETRY_AFTER),
        Some("3600"),
        "the count starts again at 16:00"
    );
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

fn request(form: &[(&str, &str)]) -> Event {
    Event::post("/p/greenridge/request")
        .form(form)
        .from_ip("203.0.113.5")
}

async fn lead_count(stack: &TestStack) -> usize {
    let slug = porchlight_shared::ids::CompanySlug::parse("greenridge").expect("a slug");
    stack.store().leads(&slug).await.expect("read").len()
}

/// The one-time id of the form on a page.
fn form_id_in(page: &str) -> String {
    let (_, rest) = page
        .split_once("name=\"form_id\" value=\"")
        .unwrap_or_else(|| panic!("no form id in:\n{page}"));
    rest.split('"').next().expect("a quoted value").to_owned()
}

/// The `maxlength` on the input or textarea named `field`, if it has one.
fn maxlength_in(page: &str, field: &str) -> Option<usize> {
    let (_, rest) = page
        .split_once(&format!(" name=\"{field}\""))
        .unwrap_or_else(|| panic!("no {field} field"));
    let tag = rest.split('>').next().expect("the rest of the tag");
    let (_, value) = tag.split_once("maxlength=\"")?;
    value.split('"').next().and_then(|n| n.parse().ok())
}

/// A resubmitted form (a double click, a retry after a flaky connection) is thanked again
/// without counting against the hourly limit, storing or announcing anything: five
/// requests and five resubmits leave the limit where five requests put it.
#[tokio::test]
async fn unchanged_resubmits_are_thanked_without_counting() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    cases(&stack).await;
    let ids: Vec<String> = (0..5).map(|_| DocumentId::random().to_string()).collect();
    for id in &ids {
        let sent = stack
            .call(request(&fields(id, "Pat Lee", "pat@example.com")))
            .await;
        assert_eq!(sent.status, 200, "{}", sent.body);
    }
    for id in &ids {
        let again = stack
            .call(request(&fields(id, "Pat Lee", "pat@example.com")))
            .await;
        assert_eq!(
            again.status, 200,
            "a resubmit is not refused: {}",
            again.body
        );
        assert!(again.body.contains("Thank you, Pat Lee"));
    }
    let json = stack
        .call(request(&fields(&ids[0], "Pat Lee", "pat@example.com")).json())
        .await;
    assert_eq!(json.status, 201);
    assert_eq!(json.json()["status"], "received");
    assert_eq!(
        json.json()["id"],
        ids[0].as_str(),
        "the id it was stored under"
    );
    assert_eq!(lead_count(&stack).await, 5);
    assert_eq!(stack.mail().len(), 5, "announced once each");

    let another = DocumentId::random().to_string();
    let sixth = stack
        .call(request(&fields(&another, "Pat Lee", "pat@example.com")))
        .await;
    assert_eq!(sixth.status, 429, "only the five requests were counted");
}

/// Two copies of one form at the same moment (a double click) count once: four more
/// requests still fit in the hour.
#[tokio::test]
async fn a_double_click_counts_once() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    cases(&stack).await;
    let id = DocumentId::random().to_string();
    let form = fields(&id, "Pat Lee", "pat@example.com");
    let (a, b) = tokio::join!(stack.call(request(&form)), stack.call(request(&form)));
    assert_eq!((a.status, b.status), (200, 200));
    for _ in 0..4 {
        let id = DocumentId::random().to_string();
        let sent = stack
            .call(request(&fields(&id, "Pat Lee", "pat@example.com")))
            .await;
        assert_eq!(sent.status, 200, "{}", sent.body);
    }
    let id = DocumentId::random().to_string();
    let over = stack
        .call(request(&fields(&id, "Pat Lee", "pat@example.com")))
        .await;
    assert_eq!(over.status, 429);
    assert_eq!(lead_count(&stack).await, 5);
    assert_eq!(stack.mail().len(), 5);
}

/// A form sent again with changed content is not dropped behind a thank-you: 409, the form
/// as typed under a new one-time id, and word that the earlier request arrived. Nothing is
/// stored or sent until the person sends it as a new request.
#[tokio::test]
async fn a_changed_resubmit_gets_the_form_back_with_a_new_id() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    cases(&stack).await;
    let id = DocumentId::random().to_string();
    let first = stack
        .call(request(&fields(&id, "Pat Lee", "pat@example.com")))
        .await;
    assert_eq!(first.status, 200);

    let mut changed = fields(&id, "Pat Lee", "pat@example.com");
    changed.retain(|(name, _)| *name != "service_wanted");
    changed.push(("service_wanted", "Also trim the <hedge> by the gate"));
    let refused = stack.call(request(&changed)).await;

    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("We already received the request you sent earlier")
    );
    assert!(
        refused
            .body
            .contains("Also trim the &lt;hedge&gt; by the gate"),
        "what they typed is kept"
    );
    assert!(refused.body.contains("Send as a new request"));
    let renewed = form_id_in(&refused.body);
    assert_ne!(renewed, id);
    assert!(DocumentId::parse(&renewed).is_ok());
    assert_eq!(lead_count(&stack).await, 1);
    assert_eq!(stack.mail().len(), 1);

    let as_json = stack.call(request(&changed).json()).await;
    assert_eq!(as_json.status, 409);
    assert_eq!(
        as_json.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    let problem = as_json.json();
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already received"))
    );
    let json_id = problem["form_id"].as_str().expect("a new form id");
    assert!(DocumentId::parse(json_id).is_ok() && json_id != id);

    let mut again = changed.clone();
    again.retain(|(name, _)| *name != "form_id");
    again.push(("form_id", &renewed));
    let sent = stack.call(request(&again)).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let slug = porchlight_shared::ids::CompanySlug::parse("greenridge").expect("a slug");
    let leads = stack.store().leads(&slug).await.expect("read");
    assert_eq!(leads.len(), 2);
    let wanted: Vec<&str> = leads.iter().map(|l| l.service_wanted.as_str()).collect();
    assert!(
        wanted.contains(&"Aerate and overseed the back lawn"),
        "the first is kept"
    );
    assert!(wanted.contains(&"Also trim the <hedge> by the gate"));
    assert_eq!(stack.mail().len(), 2);
}

/// The honeypot's answer looks like a real one to a program: 201 with a fresh id, which
/// names no stored request.
#[tokio::test]
async fn the_honeypot_answers_like_a_real_request() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let real_id = DocumentId::random().to_string();
    let real = stack
        .call(request(&fields(&real_id, "Pat Lee", "pat@example.com")).json())
        .await;
    let form_id = DocumentId::random().to_string();
    let mut form = fields(&form_id, "Spam Bot", "bot@example.com");
    form.retain(|(k, _)| *k != "website");
    form.push(("website", "http://spam.example"));

    let caught = stack.call(request(&form).json()).await;

    assert_eq!((caught.status, real.status), (201, 201));
    let keys = |reply: &Reply| {
        let mut keys: Vec<String> = reply
            .json()
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&caught), keys(&real));
    assert_eq!(caught.json()["status"], "received");
    let id = caught.json()["id"].as_str().expect("an id").to_owned();
    let id = DocumentId::parse(&id).expect("shaped like a real id");
    let stored = stack
        .store()
        .lead(&fixture.greenridge.slug, &id)
        .await
        .expect("read");
    assert!(stored.is_none(), "the id is never stored");
    assert_eq!(lead_count(&stack).await, 1, "only the real request");
    assert_eq!(stack.mail().len(), 1);
}

/// `GET /p/{slug}/request` for a program: the company, a form id that works, every field
/// with its limits, prefilled for a signed-in client; and the page carries those limits as
/// `maxlength`.
#[tokio::test]
async fn the_form_describes_itself_as_json() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    cases(&stack).await;
    let anonymous = stack.call(Event::get("/p/greenridge/request").json()).await;
    assert_eq!(anonymous.status, 200, "{}", anonymous.body);
    let through_the_link = stack
        .call(Event::get("/p/greenridge?leadform=true").json())
        .await;
    assert_eq!(through_the_link.json()["action"], "/p/greenridge/request");
    assert_eq!(
        anonymous.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    let form = anonymous.json();
    assert_eq!(form["company"]["slug"], "greenridge");
    assert_eq!(form["company"]["name"], "Greenridge Lawn Co.");
    assert_eq!(form["action"], "/p/greenridge/request");
    let fields_of = |form: &Value| -> Vec<Value> {
        form["fields"].as_array().expect("a list of fields").clone()
    };
    let names: Vec<String> = fields_of(&form)
        .iter()
        .map(|f| f["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "name",
            "email",
            "phone",
            "service_address",
            "service_wanted",
            "preferred_timing",
            "notes"
        ]
    );
    assert!(fields_of(&form).iter().all(|f| f["value"] == ""));
    let timing = &fields_of(&form)[5];
    assert_eq!(timing["type"], "select");
    assert!(
        timing["choices"]
            .as_array()
            .is_some_and(|c| c.contains(&"Flexible".into()))
    );

    let page = stack.call(Event::get("/p/greenridge/request")).await.body;
    for field in fields_of(&form) {
        let name = field["name"].as_str().expect("a name");
        let limit = field["max_length"].as_u64().map(|n| n as usize);
        assert_eq!(maxlength_in(&page, name), limit, "{name}");
    }
    assert_eq!(fields_of(&form)[0]["max_length"], 120);
    assert_eq!(fields_of(&form)[0]["required"], true);

    let form_id = form["form_id"].as_str().expect("a form id").to_owned();
    let sent = stack
        .call(request(&fields(&form_id, "Pat Lee", "pat@example.com")).json())
        .await;
    assert_eq!(
        sent.status, 201,
        "the described form id works: {}",
        sent.body
    );

    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    let prefilled = stack
        .call(
            Event::get("/p/greenridge/request")
                .cookie(Some(&cookie))
                .json(),
        )
        .await
        .json();
    assert_eq!(prefilled["signed_in_as"], "dana@example.net");
    let value = |name: &str| {
        fields_of(&prefilled)
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"].clone())
            .expect("the field")
    };
    assert_eq!(value("name"), "Dana Whitfield");
    assert_eq!(value("email"), "dana@example.net");
    assert_eq!(value("phone"), "(312) 555-0100");
    assert_ne!(prefilled["form_id"], form["form_id"], "a new id per form");
}

/// Text exactly at each field's `maxlength` is accepted (line breaks, which browsers count
/// once and send as CRLF, counted once), and one character more is refused naming the
/// field, so the page never lets through what the server refuses.
#[tokio::test]
async fn maxlength_is_what_the_server_accepts() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    cases(&stack).await;
    let page = stack.call(Event::get("/p/greenridge/request")).await.body;
    let limit = |field: &str| maxlength_in(&page, field).unwrap_or_else(|| panic!("{field}"));
    let text_of = |field: &str, length: usize| -> String {
        match field {
            "email" => format!("{}@{}.example", "a".repeat(64), "b".repeat(length - 73)),
            "phone" => format!("(312) 555-0142{}x1", " ".repeat(length - 16)),
            "service_wanted" | "notes" => {
                let half = length / 2;
                format!("{}\r\n{}", "w".repeat(half), "w".repeat(length - half - 1))
            }
            _ => "n".repeat(length),
        }
    };
    let typed = [
        "name",
        "email",
        "phone",
        "service_address",
        "service_wanted",
        "notes",
    ];
    let at_limit: Vec<(&str, String)> = typed
        .iter()
        .map(|field| (*field, text_of(field, limit(field))))
        .collect();
    let form_with = |id: &str, values: &[(&str, String)]| -> Vec<(String, String)> {
        let mut form: Vec<(String, String)> = fields(id, "Pat Lee", "pat@example.com")
            .into_iter()
            .filter(|(name, _)| values.iter().all(|(field, _)| field != name))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        form.extend(values.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        form
    };
    let send = |form: Vec<(String, String)>| {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        stack.call(request(&pairs))
    };

    let id = DocumentId::random().to_string();
    let accepted = send(form_with(&id, &at_limit)).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);

    for field in typed {
        let id = DocumentId::random().to_string();
        let over = vec![(field, text_of(field, limit(field) + 1))];
        let refused = send(form_with(&id, &over)).await;
        assert_eq!(refused.status, 422, "{field} one over its maxlength");
        let json = {
            let id = DocumentId::random().to_string();
            let form = form_with(&id, &over);
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            stack.call(request(&pairs).json()).await.json()
        };
        let named: Vec<&str> = json["invalid_fields"]
            .as_array()
            .expect("invalid fields")
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        assert_eq!(named, [field]);
    }
    assert_eq!(lead_count(&stack).await, 1);
}
