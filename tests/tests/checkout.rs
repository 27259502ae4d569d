//! Paying an invoice by card: the pay route and the return page, over handlers fed API
//! Gateway events against DynamoDB Local, with a small fake of Stripe's API on 127.0.0.1
//! that records every request it gets. Case C06 (zero-decimal currencies) with its values.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::header;
use porchlight_shared::domain::{Client, Company, Invoice, Settings};
use porchlight_shared::ids::{CompanySlug, DocumentId, random_bytes};
use porchlight_shared::money::{Currency, Money};
use porchlight_shared::payments::StripeConfig;
use porchlight_shared::store::payments::{BookingOutcome, CheckoutStatus, StripeBooking};
use porchlight_shared::store::{Entity, keys};
use porchlight_tests::fixtures::{day, one_off_invoice, sign_in};
use porchlight_tests::{Event, Reply, TestStack, instant};
use tokio::net::TcpListener;

const NOW: &str = "2026-12-04T15:00:00Z";
const SECRET_KEY: &str = "sk_test_porchlight_fake";

/// One request the fake Stripe received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    form: Vec<(String, String)>,
}

impl Received {
    fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct FakeState {
    received: Vec<Received>,
    /// Sessions by id, as JSON.
    sessions: HashMap<String, serde_json::Value>,
    /// Which session an idempotency key made: a replay answers the same one, as Stripe does.
    by_key: HashMap<String, String>,
}

/// Stripe's API as far as the portal uses it: create and retrieve Checkout Sessions.
#[derive(Clone)]
struct FakeStripe {
    base: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakeStripe {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let fake = Self {
            base,
            state: Arc::default(),
        };
        let serving = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let fake = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let fake = fake.clone();
                        async move { Ok::<_, Infallible>(fake.answer(req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        fake
    }

    fn config(&self) -> StripeConfig {
        StripeConfig {
            api_base: self.base.clone(),
            secret_key: Some(SECRET_KEY.into()),
            ..StripeConfig::default()
        }
    }

    async fn answer(&self, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let bytes = body.collect().await.expect("a body").to_bytes();
        let received = Received {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers: parts
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            form: form_urlencoded::parse(&bytes).into_owned().collect(),
        };
        let mut state = self.state.lock().expect("not poisoned");
        state.received.push(received.clone());
        if received.header("authorization") != Some(&format!("Bearer {SECRET_KEY}")) {
            let error = serde_json::json!({"error": {"type": "invalid_request_error",
                "message": "Invalid API Key provided"}});
            return reply(401, &error);
        }
        let path = received.path.clone();
        match (
            received.method.as_str(),
            path.strip_prefix("/v1/checkout/sessions"),
        ) {
            ("POST", Some("")) => {
                let key = received.header("idempotency-key").unwrap_or("").to_owned();
                if let Some(id) = state.by_key.get(&key) {
                    return reply(200, &state.sessions[id]);
                }
                let id = format!("cs_test_{}{}", state.sessions.len() + 1, "a1B2c3");
                let session = self.new_session(&id, &received);
                state.by_key.insert(key, id.clone());
                state.sessions.insert(id, session.clone());
                reply(200, &session)
            }
            ("GET", Some(rest)) => match state.sessions.get(rest.trim_start_matches('/')) {
                Some(session) => reply(200, session),
                None => reply(
                    404,
                    &serde_json::json!({"error": {"type": "invalid_request_error",
                        "message": "No such checkout.session", "param": "id"}}),
                ),
            },
            _ => reply(
                404,
                &serde_json::json!({"error": {"type": "invalid_request_error"}}),
            ),
        }
    }

    fn new_session(&self, id: &str, received: &Received) -> serde_json::Value {
        let metadata: serde_json::Map<String, serde_json::Value> = received
            .form
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("metadata[")?.strip_suffix(']')?;
                Some((name.to_owned(), v.clone().into()))
            })
            .collect();
        let unit: i64 = received
            .field("line_items[0][price_data][unit_amount]")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        serde_json::json!({
            "id": id,
            "object": "checkout.session",
            "url": format!("{}/c/pay/{id}", self.base),
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": null,
            "amount_total": unit,
            "currency": received.field("line_items[0][price_data][currency]"),
            "client_reference_id": received.field("client_reference_id"),
            "metadata": metadata,
        })
    }

    /// What happens at Stripe when the client pays.
    fn pay(&self, session_id: &str) {
        let mut state = self.state.lock().expect("not poisoned");
        let session = state.sessions.get_mut(session_id).expect("a session");
        session["status"] = "complete".into();
        session["payment_status"] = "paid".into();
        session["payment_intent"] = format!("pi_for_{session_id}").into();
        session["url"] = serde_json::Value::Null;
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().expect("not poisoned").received.clone()
    }

    fn creations(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    fn retrievals(&self) -> usize {
        self.received().iter().filter(|r| r.method == "GET").count()
    }
}

fn reply(status: u16, body: &serde_json::Value) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("a status");
    response.headers_mut().insert(
        "request-id",
        hyper::header::HeaderValue::from_static("req_fake_1"),
    );
    response
}

/// A stack whose Stripe is a fresh fake.
async fn stack_with_stripe() -> (TestStack, FakeStripe) {
    let stripe = FakeStripe::start().await;
    let mut stack = TestStack::new(NOW).await;
    stack.ctx.config.stripe = stripe.config();
    (stack, stripe)
}

/// A company in `currency` that takes card payments through its connected account.
async fn company(stack: &TestStack, slug: &str, currency: &str, minimum: i64) -> Company {
    let company = Company {
        slug: CompanySlug::parse(slug).expect("a slug"),
        name: format!("{slug} Grounds"),
        time_zone: "America/Chicago".parse().expect("a zone"),
        currency: Currency::parse(currency).expect("a currency"),
        notify_email: format!("office@{slug}.example"),
        id_secret: hex::encode(random_bytes::<32>()),
        settings: Settings {
            payments_enabled: true,
            stripe_account: Some(format!("acct_{slug}")),
            minimum_payment_minor: minimum,
            ..Settings::default()
        },
        created_at: instant(NOW),
    };
    assert!(
        stack
            .store()
            .create_company(&company)
            .await
            .expect("stored")
    );
    company
}

/// Replaces the stored company with `company` (its settings changed).
async fn set_company(stack: &TestStack, company: &Company) {
    let stored = stack
        .store()
        .company_versioned(&company.slug)
        .await
        .expect("read");
    let version = stored.expect("the company").version;
    stack
        .store()
        .replace_company(company, version)
        .await
        .expect("stored")
        .expect("not stale");
}

/// An open invoice of `minor` in the company's currency, dated two weeks ago.
async fn open_invoice(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    number: &str,
    minor: i64,
) -> Invoice {
    let money = Money::new(minor, company.currency.clone());
    let amounts = (money.clone(), money);
    one_off_invoice(stack, company, client, number, "2026-11-20", amounts).await
}

fn pay_path(company: &Company, invoice: &Invoice) -> String {
    format!("/p/{}/invoices/{}/pay", company.slug, invoice.id)
}

fn return_path(company: &Company, invoice: &Invoice, session: &str) -> String {
    format!(
        "/p/{}/invoices/{}/payment?session_id={session}",
        company.slug, invoice.id
    )
}

async fn pay(stack: &TestStack, cookie: &str, path: &str, amount: Option<&str>) -> Reply {
    let event = Event::post(path).cookie(Some(cookie));
    let event = match amount {
        Some(amount) => event.form(&[("amount", amount)]),
        None => event.form(&[]),
    };
    stack.call(event).await
}

/// The invoice's balance as stored, and how many payments the client has.
async fn balance_and_payments(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    invoice: &Invoice,
) -> (i64, usize) {
    let portal = stack
        .store()
        .client_portal(&company.slug, &client.id)
        .await
        .expect("read")
        .expect("the client");
    let stored = portal
        .invoices
        .iter()
        .find(|i| i.id == invoice.id)
        .expect("the invoice");
    (stored.balance.minor, portal.payments.len())
}

/// C06: ¥8,800 goes to Stripe as 8800 (not 880000), $88.00 as 8800, ₩55,000 as 55000; each
/// session carries the invoice in its metadata and the payment intent's, an idempotency key,
/// the connected account, and return addresses to the portal.
#[tokio::test]
async fn c06_amounts_reach_stripe_in_the_currencys_own_unit() {
    let (stack, stripe) = stack_with_stripe().await;
    let rows = [
        ("sakura", "JPY", 8_800, "8800", "jpy", "¥8,800"),
        ("oakleaf", "USD", 8_800, "8800", "usd", "$88.00"),
        ("hanok", "KRW", 55_000, "55000", "krw", "55,000 KRW"),
    ];
    for (slug, code, minor, sent, lower, shown) in rows {
        let company = company(&stack, slug, code, 0).await;
        let email = format!("client@{slug}.example");
        let client = stack.client(&company, "Mika Sato", &email).await;
        let invoice = open_invoice(&stack, &company, &client, "1021", minor).await;
        let cookie = sign_in(&stack, slug, &email).await;

        let page = Event::get(&format!("/p/{slug}/invoices/{}", invoice.id));
        let page = stack.call(page.cookie(Some(&cookie))).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(shown), "{code}: {}", page.body);
        assert!(page.body.contains(&format!(
            "value=\"{}\"",
            invoice.balance.to_decimal_string()
        )));
        assert!(page.body.contains(&pay_path(&company, &invoice)));
        let policy = page
            .header(header::CONTENT_SECURITY_POLICY)
            .expect("a policy");
        assert!(
            policy.contains("form-action 'self' https://checkout.stripe.com"),
            "{policy}"
        );

        let before = stripe.creations().len();
        let reply = pay(&stack, &cookie, &pay_path(&company, &invoice), None).await;
        assert_eq!(reply.status, 303, "{code}: {}", reply.body);
        let sent_to = stripe.creations();
        assert_eq!(sent_to.len(), before + 1);
        let request = sent_to.last().expect("a request");
        let location = reply.header(header::LOCATION).expect("a location");
        assert!(location.starts_with(&format!("{}/c/pay/cs_test_", stripe.base)));

        assert_eq!(request.path, "/v1/checkout/sessions");
        assert_eq!(
            request.field("line_items[0][price_data][unit_amount]"),
            Some(sent),
            "{code}"
        );
        assert_eq!(
            request.field("line_items[0][price_data][currency]"),
            Some(lower)
        );
        assert_eq!(request.field("line_items[0][quantity]"), Some("1"));
        assert_eq!(
            request.field("line_items[0][price_data][product_data][name]"),
            Some("Invoice 1021")
        );
        assert_eq!(request.field("mode"), Some("payment"));
        assert_eq!(request.field("customer_email"), Some(email.as_str()));
        assert_eq!(
            request.field("client_reference_id"),
            Some(client.id.as_str()),
            "the webhook checks the reference against the metadata's client"
        );
        for prefix in ["metadata", "payment_intent_data[metadata]"] {
            let meta = |name: &str| request.field(&format!("{prefix}[{name}]"));
            assert_eq!(meta("company"), Some(slug));
            assert_eq!(meta("client_id"), Some(client.id.as_str()));
            assert_eq!(meta("invoice_id"), Some(invoice.id.as_str()));
        }
        let invoice_url = format!("http://127.0.0.1:3000/p/{slug}/invoices/{}", invoice.id);
        assert_eq!(request.field("cancel_url"), Some(invoice_url.as_str()));
        let success = format!("{invoice_url}/payment?session_id={{CHECKOUT_SESSION_ID}}");
        assert_eq!(request.field("success_url"), Some(success.as_str()));
        let expires: i64 = request
            .field("expires_at")
            .expect("expiry")
            .parse()
            .expect("a number");
        let lifetime = expires - instant(NOW).timestamp();
        assert!((30 * 60..=24 * 3600).contains(&lifetime), "{lifetime}");
        assert_eq!(
            request.header("stripe-account"),
            Some(format!("acct_{slug}").as_str())
        );
        let key = request
            .header("idempotency-key")
            .expect("an idempotency key");
        assert!(key.starts_with("porchlight-checkout-"));

        let portal = stack
            .store()
            .client_portal(&company.slug, &client.id)
            .await
            .expect("read")
            .expect("the client");
        let [attempt] = portal.checkouts.as_slice() else {
            panic!("one attempt recorded: {:?}", portal.checkouts);
        };
        assert_eq!(attempt.status, CheckoutStatus::Open);
        assert_eq!(attempt.amount, invoice.balance);
        assert_eq!(attempt.invoice_id, invoice.id);
    }
}

/// A double click (or a retry) makes one Checkout Session; after a part payment, paying the
/// same amount again is a new one. JSON clients get the URL with 201.
#[tokio::test]
async fn a_double_post_is_one_session_and_a_later_payment_a_new_one() {
    let (stack, stripe) = stack_with_stripe().await;
    let company = company(&stack, "oakleaf", "USD", 2_000).await;
    let sam = stack
        .client(&company, "Sam Ortega", "sam@example.org")
        .await;
    let invoice = open_invoice(&stack, &company, &sam, "OK-2001", 8_800).await;
    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let path = pay_path(&company, &invoice);

    let first = pay(&stack, &cookie, &path, Some("20.00")).await;
    let second = pay(&stack, &cookie, &path, Some("20")).await;
    assert_eq!(first.status, 303);
    assert_eq!(second.status, 303);
    assert_eq!(
        first.header(header::LOCATION),
        second.header(header::LOCATION)
    );
    let created = stripe.creations();
    assert_eq!(created.len(), 2);
    let keys: Vec<_> = created
        .iter()
        .map(|r| r.header("idempotency-key"))
        .collect();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(
        created[0].form, created[1].form,
        "a replay sends the same parameters"
    );
    let json = stack
        .call(
            Event::post(&path)
                .cookie(Some(&cookie))
                .form(&[("amount", "20.00")])
                .json(),
        )
        .await;
    assert_eq!(json.status, 201, "{}", json.body);
    assert_eq!(
        Some(json.json()["checkout_url"].as_str().expect("a url")),
        first.header(header::LOCATION)
    );
    assert_eq!(
        json.json()["amount"],
        serde_json::json!({"minor": 2000, "currency": "USD"})
    );

    let session = json.json()["session_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    stripe.pay(&session);
    let back = Event::get(&return_path(&company, &invoice, &session)).cookie(Some(&cookie));
    let back = stack.call(back).await;
    assert!(back.body.contains("Payment received"), "{}", back.body);
    assert_eq!(
        balance_and_payments(&stack, &company, &sam, &invoice).await,
        (6_800, 1)
    );

    let again = pay(&stack, &cookie, &path, Some("20.00")).await;
    assert_eq!(again.status, 303);
    let created = stripe.creations();
    assert_eq!(created.len(), 4);
    assert_ne!(
        created[3].header("idempotency-key"),
        created[0].header("idempotency-key")
    );
    assert_ne!(
        again.header(header::LOCATION),
        first.header(header::LOCATION)
    );

    let page = Event::get(&format!("/p/oakleaf/invoices/{}", invoice.id)).cookie(Some(&cookie));
    let page = stack.call(page).await;
    assert!(
        page.body.contains("value=\"68.00\""),
        "the form starts at the new balance"
    );
}

/// Below the minimum (unless it is the whole balance), above the balance, zero, negative or
/// not a number: 422 with the form shown again, and nothing sent to Stripe or stored.
#[tokio::test]
async fn amounts_outside_the_rules_are_refused_before_stripe() {
    let (stack, stripe) = stack_with_stripe().await;
    let company = company(&stack, "oakleaf", "USD", 2_000).await;
    let sam = stack
        .client(&company, "Sam Ortega", "sam@example.org")
        .await;
    let invoice = open_invoice(&stack, &company, &sam, "OK-2001", 8_800).await;
    let small = open_invoice(&stack, &company, &sam, "OK-2002", 1_500).await;
    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;

    let rows = [
        ("5.00", "The least you can pay at once is $20.00"),
        ("88.01", "at most the balance of $88.00"),
        ("0", "more than zero"),
        ("-10", "more than zero"),
        ("ten dollars", "is not an amount in USD"),
        ("12.345", "is not an amount in USD"),
        ("<b>9</b>", "is not an amount in USD"),
    ];
    for (typed, message) in rows {
        let reply = pay(&stack, &cookie, &pay_path(&company, &invoice), Some(typed)).await;
        assert_eq!(reply.status, 422, "{typed}");
        assert!(reply.body.contains(message), "{typed}: {}", reply.body);
        assert!(
            reply.body.contains("Invoice #OK-2001"),
            "the invoice page again"
        );
        assert!(!reply.body.contains("<b>9</b>"), "typed text is escaped");
    }
    let problem = Event::post(&pay_path(&company, &invoice))
        .cookie(Some(&cookie))
        .form(&[("amount", "5.00")])
        .json();
    let problem = stack.call(problem).await;
    assert_eq!(problem.status, 422);
    assert_eq!(
        problem.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );

    // A body that is not a form would read as no amount, which means the whole balance: it
    // is refused instead of paying what the client did not ask for.
    let as_json = Event::post(&pay_path(&company, &invoice))
        .cookie(Some(&cookie))
        .body_json(&serde_json::json!({ "amount": "20.00" }))
        .json();
    let as_json = stack.call(as_json).await;
    assert_eq!(as_json.status, 415, "{}", as_json.body);
    assert_eq!(
        as_json.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    let multipart = Event::post(&pay_path(&company, &invoice))
        .cookie(Some(&cookie))
        .header("content-type", "multipart/form-data; boundary=x")
        .body_text("--x\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n20.00\r\n--x--");
    let multipart = stack.call(multipart).await;
    assert_eq!(multipart.status, 415, "{}", multipart.body);
    assert!(multipart.body.contains("application/x-www-form-urlencoded"));

    // A balance below the minimum can still be paid whole, and only whole.
    let part = pay(&stack, &cookie, &pay_path(&company, &small), Some("10.00")).await;
    assert_eq!(part.status, 422);
    assert_eq!(stripe.received().len(), 0, "nothing reached Stripe");
    let whole = pay(&stack, &cookie, &pay_path(&company, &small), Some("15.00")).await;
    assert_eq!(whole.status, 303, "{}", whole.body);
    let portal = stack
        .store()
        .client_portal(&company.slug, &sam.id)
        .await
        .expect("read")
        .expect("the client");
    assert_eq!(
        portal.checkouts.len(),
        1,
        "only the accepted amount made an attempt"
    );
}

/// Without payments switched on, a connected account, or the platform's secret key, the
/// invoice page offers no payment and the pay route refuses; Stripe hears nothing.
#[tokio::test]
async fn no_payment_is_offered_or_taken_when_payments_are_off() {
    let (mut stack, stripe) = stack_with_stripe().await;
    let off = company(&stack, "oakleaf", "USD", 0).await;
    let sam = stack.client(&off, "Sam Ortega", "sam@example.org").await;
    let invoice = open_invoice(&stack, &off, &sam, "OK-2001", 8_800).await;
    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let page_path = format!("/p/oakleaf/invoices/{}", invoice.id);

    let variants: [fn(&mut Settings); 2] =
        [|s| s.payments_enabled = false, |s| s.stripe_account = None];
    for change in variants {
        let mut changed = off.clone();
        change(&mut changed.settings);
        set_company(&stack, &changed).await;

        let page = stack
            .call(Event::get(&page_path).cookie(Some(&cookie)))
            .await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("Pay by card"), "{}", page.body);
        assert!(!page.body.contains("/pay"));
        let json = stack
            .call(Event::get(&page_path).cookie(Some(&cookie)).json())
            .await;
        assert_eq!(json.json()["payment"], serde_json::Value::Null);
        let reply = pay(&stack, &cookie, &pay_path(&off, &invoice), None).await;
        assert_eq!(reply.status, 409, "{}", reply.body);
        assert!(reply.body.contains("does not take card payments online"));

        set_company(&stack, &off).await;
    }

    stack.ctx.config.stripe.secret_key = None;
    let reply = pay(&stack, &cookie, &pay_path(&off, &invoice), None).await;
    assert_eq!(reply.status, 409);
    assert_eq!(stripe.received().len(), 0, "nothing reached Stripe");
}

/// A post from another site is refused before anything else; another client's invoice, of
/// the same company or another, is the portal's one 404, on both routes.
#[tokio::test]
async fn cross_site_posts_and_other_clients_invoices_are_refused() {
    let (stack, stripe) = stack_with_stripe().await;
    let oakleaf = company(&stack, "oakleaf", "USD", 0).await;
    let greenridge = company(&stack, "greenridge", "USD", 0).await;
    let sam = stack
        .client(&oakleaf, "Sam Ortega", "sam@example.org")
        .await;
    stack.client(&oakleaf, "Kim Lee", "kim@example.org").await;
    let dana = stack
        .client(&greenridge, "Dana Whitfield", "dana@example.net")
        .await;
    let sams = open_invoice(&stack, &oakleaf, &sam, "OK-2001", 8_800).await;
    open_invoice(&stack, &greenridge, &dana, "GR-1042", 12_000).await;
    let sam_cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let kim_cookie = sign_in(&stack, "oakleaf", "kim@example.org").await;
    let dana_cookie = sign_in(&stack, "greenridge", "dana@example.net").await;

    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let event = Event::post(&pay_path(&oakleaf, &sams))
            .cookie(Some(&sam_cookie))
            .header("host", "portal.example.com")
            .header(name, value)
            .form(&[("amount", "88.00")]);
        let reply = stack.call(event).await;
        assert_eq!(reply.status, 403, "{name}");
    }

    let made_up = format!("/p/oakleaf/invoices/{}/pay", DocumentId::random());
    let missing = pay(&stack, &kim_cookie, &made_up, None).await;
    assert_eq!(missing.status, 404);
    let kims = pay(&stack, &kim_cookie, &pay_path(&oakleaf, &sams), None).await;
    assert_eq!(kims.status, 404);
    assert_eq!(kims.body, missing.body);
    let elsewhere = format!("/p/greenridge/invoices/{}/pay", sams.id);
    let danas = pay(&stack, &dana_cookie, &elsewhere, None).await;
    assert_eq!(danas.status, 404);
    assert!(!danas.body.contains("OK-2001"));
    assert_eq!(stripe.received().len(), 0, "nothing reached Stripe");

    let started = pay(&stack, &sam_cookie, &pay_path(&oakleaf, &sams), None).await;
    assert_eq!(started.status, 303);
    let session = stripe
        .state
        .lock()
        .expect("not poisoned")
        .sessions
        .keys()
        .next()
        .cloned();
    let session = session.expect("a session");
    let back = return_path(&oakleaf, &sams, &session);
    let by_kim = stack
        .call(Event::get(&back).cookie(Some(&kim_cookie)))
        .await;
    assert_eq!(by_kim.status, 404);
    let elsewhere = format!(
        "/p/greenridge/invoices/{}/payment?session_id={session}",
        sams.id
    );
    let by_dana = stack
        .call(Event::get(&elsewhere).cookie(Some(&dana_cookie)))
        .await;
    assert_eq!(by_dana.status, 404);
    let wrong_invoice = return_path(
        &oakleaf,
        &Invoice {
            id: DocumentId::random(),
            ..sams.clone()
        },
        &session,
    );
    let by_sam = stack
        .call(Event::get(&wrong_invoice).cookie(Some(&sam_cookie)))
        .await;
    assert_eq!(by_sam.status, 404);
    let signed_out = stack.call(Event::get(&back)).await;
    assert_eq!(signed_out.status, 401);
    assert_eq!(stripe.retrievals(), 0);
}

/// The return page says "processing" (and reloads) while Stripe says unpaid, and "received"
/// once Stripe says paid, booking exactly one payment though loaded twice at once.
#[tokio::test]
async fn the_return_page_books_only_what_stripe_confirms_and_only_once() {
    let (stack, stripe) = stack_with_stripe().await;
    let company = company(&stack, "oakleaf", "USD", 0).await;
    let sam = stack
        .client(&company, "Sam Ortega", "sam@example.org")
        .await;
    let invoice = open_invoice(&stack, &company, &sam, "OK-2001", 8_800).await;
    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let started = Event::post(&pay_path(&company, &invoice))
        .cookie(Some(&cookie))
        .form(&[("amount", "30.00")])
        .json();
    let started = stack.call(started).await;
    let session = started.json()["session_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let back = return_path(&company, &invoice, &session);

    let waiting = stack.call(Event::get(&back).cookie(Some(&cookie))).await;
    assert_eq!(waiting.status, 200);
    assert!(
        waiting.body.contains("Processing your payment"),
        "{}",
        waiting.body
    );
    assert!(
        waiting
            .body
            .contains("http-equiv=\"refresh\" content=\"3\"")
    );
    assert_eq!(
        waiting.header(header::HeaderName::from_static("refresh")),
        Some("3")
    );
    let json = stack
        .call(Event::get(&back).cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(json["status"], "processing");
    assert_eq!(
        json["amount"],
        serde_json::json!({"minor": 3000, "currency": "USD"})
    );
    assert_eq!(
        balance_and_payments(&stack, &company, &sam, &invoice).await,
        (8_800, 0)
    );
    let page = Event::get(&format!("/p/oakleaf/invoices/{}", invoice.id)).cookie(Some(&cookie));
    let page = stack.call(page).await;
    assert!(page.body.contains("is being processed"), "{}", page.body);
    stack.set_now("2026-12-04T15:31:00Z");
    let later = Event::get(&format!("/p/oakleaf/invoices/{}", invoice.id)).cookie(Some(&cookie));
    assert!(!stack.call(later).await.body.contains("is being processed"));
    let head = stack.call(Event::head(&back).cookie(Some(&cookie))).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(stripe.retrievals(), 2, "HEAD asks Stripe nothing");

    stripe.pay(&session);
    let (a, b) = tokio::join!(
        stack.call(Event::get(&back).cookie(Some(&cookie))),
        stack.call(Event::get(&back).cookie(Some(&cookie))),
    );
    for reply in [&a, &b] {
        assert_eq!(reply.status, 200);
        assert!(reply.body.contains("Payment received"), "{}", reply.body);
        assert!(reply.body.contains("$30.00"));
        assert!(
            reply
                .body
                .contains("Balance still due: <strong>$58.00</strong>"),
            "{}",
            reply.body
        );
    }
    assert_eq!(
        balance_and_payments(&stack, &company, &sam, &invoice).await,
        (5_800, 1)
    );
    let json = stack
        .call(Event::get(&back).cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(json["status"], "paid");
    assert_eq!(
        json["balance"],
        serde_json::json!({"minor": 5800, "currency": "USD"})
    );
    assert_eq!(
        balance_and_payments(&stack, &company, &sam, &invoice).await,
        (5_800, 1)
    );
}

/// Paying off an invoice dated over a year ago takes it out of the portal at once, so the
/// return page leads back to the payment history instead of to a page that is gone.
#[tokio::test]
async fn paying_off_an_old_invoice_leads_back_to_the_payments() {
    let (stack, stripe) = stack_with_stripe().await;
    let company = company(&stack, "oakleaf", "USD", 0).await;
    let sam = stack
        .client(&company, "Sam Ortega", "sam@example.org")
        .await;
    let mut invoice = open_invoice(&stack, &company, &sam, "OK-1999", 8_800).await;
    invoice.invoice_date = Some(day("2025-06-01"));
    let key = keys::invoice(&company.slug, &sam.id, &invoice.id);
    stack
        .store()
        .upsert_record(&key, Entity::Invoice, &invoice, None)
        .await
        .expect("stored");
    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let started = Event::post(&pay_path(&company, &invoice))
        .cookie(Some(&cookie))
        .form(&[])
        .json();
    let started = stack.call(started).await;
    assert_eq!(started.status, 201, "{}", started.body);
    let session = started.json()["session_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let back = return_path(&company, &invoice, &session);
    let waiting = stack.call(Event::get(&back).cookie(Some(&cookie))).await;
    assert!(
        waiting.body.contains(&format!(
            "<a href=\"/p/oakleaf/invoices/{}\">← Back to the invoice</a>",
            invoice.id
        )),
        "unpaid, the invoice is still there: {}",
        waiting.body
    );

    stripe.pay(&session);
    let paid = stack.call(Event::get(&back).cookie(Some(&cookie))).await;
    assert!(paid.body.contains("Payment received"), "{}", paid.body);
    assert!(
        paid.body
            .contains("<a href=\"/p/oakleaf/payments\">← Your payments</a>"),
        "{}",
        paid.body
    );
    let gone = Event::get(&format!("/p/oakleaf/invoices/{}", invoice.id)).cookie(Some(&cookie));
    assert_eq!(
        stack.call(gone).await.status,
        404,
        "the invoice left the portal"
    );
    let history = stack
        .call(Event::get("/p/oakleaf/payments").cookie(Some(&cookie)))
        .await;
    assert_eq!(history.status, 200);
    assert!(history.body.contains("OK-1999"), "{}", history.body);
}

/// A payment the webhook booked already shows as received without asking Stripe; a failed
/// try says so and offers to pay again, until Stripe says the session was paid after all.
#[tokio::test]
async fn a_booked_payment_shows_without_stripe_and_a_failed_one_offers_a_retry() {
    let (stack, stripe) = stack_with_stripe().await;
    let company = company(&stack, "sakura", "JPY", 0).await;
    let mika = stack.client(&company, "Mika Sato", "mika@example.jp").await;
    let invoice = open_invoice(&stack, &company, &mika, "S-77", 8_800).await;
    let cookie = sign_in(&stack, "sakura", "mika@example.jp").await;
    let started = Event::post(&pay_path(&company, &invoice))
        .cookie(Some(&cookie))
        .json();
    let session = stack.call(started).await.json()["session_id"]
        .as_str()
        .expect("an id")
        .to_owned();

    let booking = StripeBooking {
        client_id: mika.id.clone(),
        invoice_id: invoice.id.clone(),
        payment_intent: "pi_webhook_1".into(),
        amount: invoice.balance.clone(),
        received_at: instant(NOW),
        event_id: Some("evt_1".into()),
        session_id: Some(session.clone()),
    };
    let outcome = stack
        .store()
        .book_stripe_payment(&company, &booking)
        .await
        .expect("booked");
    assert!(matches!(outcome, BookingOutcome::Booked(_)), "{outcome:?}");
    let back = return_path(&company, &invoice, &session);
    let received = stack.call(Event::get(&back).cookie(Some(&cookie))).await;
    assert!(
        received.body.contains("Payment received"),
        "{}",
        received.body
    );
    assert!(received.body.contains("¥8,800"));
    assert!(received.body.contains("paid in full"));
    assert_eq!(stripe.retrievals(), 0, "no call to Stripe");

    let second = open_invoice(&stack, &company, &mika, "S-78", 5_000).await;
    let started = Event::post(&pay_path(&company, &second))
        .cookie(Some(&cookie))
        .json();
    let failed_session = stack.call(started).await.json()["session_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    stack
        .store()
        .mark_checkout_failed(
            &company.slug,
            &mika.id,
            &second.id,
            "pi_declined",
            "Your card was declined.",
        )
        .await
        .expect("marked");
    let failed = Event::get(&return_path(&company, &second, &failed_session)).cookie(Some(&cookie));
    let failed = stack.call(failed).await;
    assert!(
        failed.body.contains("did not go through"),
        "{}",
        failed.body
    );
    assert!(failed.body.contains("Your card was declined."));
    assert!(failed.body.contains("Try again"));
    let json = Event::get(&return_path(&company, &second, &failed_session)).cookie(Some(&cookie));
    let json = stack.call(json.json()).await.json();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["reason"], "declined");
    assert_eq!(
        stripe.retrievals(),
        2,
        "a failed try is checked with Stripe"
    );

    // Another card in the same session went through: Stripe's word wins over the failure.
    stripe.pay(&failed_session);
    let paid = Event::get(&return_path(&company, &second, &failed_session)).cookie(Some(&cookie));
    let paid = stack.call(paid).await;
    assert!(paid.body.contains("Payment received"), "{}", paid.body);
    assert_eq!(
        balance_and_payments(&stack, &company, &mika, &second).await,
        (0, 2)
    );
}

/// When Stripe refuses (here: a wrong secret key), the client learns nothing was charged,
/// no attempt is recorded, and the return page of a real session keeps waiting rather than
/// guessing.
#[tokio::test]
async fn a_stripe_refusal_is_a_502_and_records_nothing() {
    let (mut stack, stripe) = stack_with_stripe().await;
    let company = company(&stack, "oakleaf", "USD", 0).await;
    let sam = stack
        .client(&company, "Sam Ortega", "sam@example.org")
        .await;
    let invoice = open_invoice(&stack, &company, &sam, "OK-2001", 8_800).await;
    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let started = Event::post(&pay_path(&company, &invoice))
        .cookie(Some(&cookie))
        .json();
    let session = stack.call(started).await.json()["session_id"]
        .as_str()
        .expect("an id")
        .to_owned();

    stack.ctx.config.stripe.secret_key = Some("sk_test_wrong".into());
    let refused = pay(
        &stack,
        &cookie,
        &pay_path(&company, &invoice),
        Some("10.00"),
    )
    .await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert!(refused.body.contains("nothing was charged"));
    assert!(
        !refused.body.contains("sk_test"),
        "the key never reaches a page"
    );
    let portal = stack
        .store()
        .client_portal(&company.slug, &sam.id)
        .await
        .expect("read")
        .expect("the client");
    assert_eq!(
        portal.checkouts.len(),
        1,
        "only the first, accepted, attempt"
    );

    stripe.pay(&session);
    let back = Event::get(&return_path(&company, &invoice, &session)).cookie(Some(&cookie));
    let back = stack.call(back).await;
    assert!(
        back.body.contains("Processing your payment"),
        "{}",
        back.body
    );
    assert_eq!(
        balance_and_payments(&stack, &company, &sam, &invoice).await,
        (8_800, 0)
    );
}
