//! One client's whole visit in headless Chromium, against the local stack served on a loopback
//! port with the QuickBooks sample company loaded, DynamoDB Local behind it, and the local
//! Stripe stand-in on a loopback port of its own.
//!
//! It proves, in a real browser: asking for a sign-in link from the portal's front door; that
//! opening the emailed link (as a mail scanner would) neither signs in nor spends the link, and
//! that only the confirm button does; that Amy's Bird Sanctuary sees exactly her open invoices
//! (1021, 1069, 1070) and not the paid ones (1001, 1025), on the page and in the JSON; that an
//! invoice page shows its total and balance; that she can pay part of invoice 1021 by card:
//! the amount she types reaches the stand-in's checkout page, the test card pays it, and the
//! portal's return page says the payment was received (only once it is confirmed), after which
//! the invoice shows the lower balance and the payment, the outbox holds one receipt for her and
//! one notice for the company, and every signed event the stand-in sent was answered 2xx; that
//! the service-request form comes prefilled, is accepted, and notifies the company; and that
//! signing out returns to the sign-in page. It also leaves phone-sized screenshots in its
//! scratch folder for a person to look at.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y chromium chromium-driver`)
//! and `PORCHLIGHT_TEST_DYNAMODB_ENDPOINT`; it fails, never skips, without them.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use porchlight_infra::stack;
use porchlight_infra::stripe_stub::{self, CARD_SUCCEEDS, StripeStub, StubConfig};
use porchlight_shared::auth::SESSION_COOKIE;
use porchlight_shared::context::AppContext;
use porchlight_shared::ids::{CompanySlug, DocumentId, SecretToken};
use porchlight_shared::payments::StripeConfig;
use porchlight_tests::{TestStack, read_outbox};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
const APT_HINT: &str = "install the Debian packages with `apt-get install -y chromium \
                        chromium-driver` (CI's `.ci/run` does)";

const EMAIL: &str = "birds@example.com";
const CLIENT_NAME: &str = "Amy's Bird Sanctuary";
const OPEN_INVOICES: [&str; 3] = ["1021", "1069", "1070"];
const PAID_INVOICES: [&str; 2] = ["1001", "1025"];
/// Where the demo company's notices go.
const NOTIFY_EMAIL: &str = "office@craigs-landscaping.example";

/// The endpoint secret the stand-in signs its events with and the webhook checks them by.
const WEBHOOK_SECRET: &str = "whsec_browser_test_endpoint";
/// The platform key the checkout function calls the stand-in with.
const STRIPE_KEY: &str = "sk_test_browser_test_platform";
/// What Amy types into the pay form: part of invoice 1021's $239.00.
const PART_PAYMENT: &str = "100.00";

/// The longest any one page, element or engine may take before the test gives up.
const STEP: Duration = Duration::from_secs(15);
/// How long the scanner lingers on the emailed link without pressing anything.
const SCANNER_LINGER: Duration = Duration::from_secs(2);
/// The whole visit, so a hung browser or engine fails the test instead of stalling CI.
const WHOLE_VISIT: Duration = Duration::from_secs(240);

type Http = HttpClient<HttpConnector, Empty<Bytes>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_signs_in_reads_invoices_pays_one_requests_service_and_signs_out() {
    let started = Instant::now();
    tokio::time::timeout(WHOLE_VISIT, visit())
        .await
        .unwrap_or_else(|_| panic!("the visit did not finish within {WHOLE_VISIT:?}"));
    println!(
        "browser visit took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn visit() {
    let started = Instant::now();
    let portal = Portal::start().await;
    println!("stack ready in {:.1} s", started.elapsed().as_secs_f64());
    let scratch = Scratch::new();
    let driver = Chromedriver::start(&scratch.dir).await;
    let browser = Browser::open(&driver, &scratch, &portal).await;

    let link = ask_for_link(&browser, &portal).await;
    let token = scanner_opens(&browser, &portal, &link).await;
    let cookie = confirm_sign_in(&browser, &portal, &token).await;
    check_home(&browser, &portal, &cookie).await;
    screenshots_of_home(&browser, &scratch).await;
    check_invoice(&browser, &scratch).await;
    pay_part_by_card(&browser, &portal, &scratch, &cookie).await;
    request_service(&browser, &portal, &scratch).await;
    sign_out(&browser, &portal, &cookie).await;

    browser
        .client
        .close()
        .await
        .expect("the browser session ends");
    portal.server.abort();
    portal.stripe_server.abort();
}

/// Steps 1 and 2: the front door asks for an address and answers "Check your email"; one
/// message with a link back to this server lands in the outbox.
async fn ask_for_link(browser: &Browser, portal: &Portal) -> String {
    browser.goto(&format!("/p/{}", stack::DEMO_SLUG)).await;
    browser
        .wait_for_heading(&format!("Welcome to {}", stack::DEMO_NAME))
        .await;
    let before = read_outbox(&portal.outbox);

    let field = browser.find(Locator::Css("input#email")).await;
    field.send_keys(EMAIL).await.expect("typing the address");
    browser.click_button("Email me a sign-in link").await;
    browser.wait_for_heading("Check your email").await;
    assert!(browser.main_text().await.contains(EMAIL));

    let message = portal.new_message(&before).await;
    assert!(
        message.contains(&format!("\r\nTo: {EMAIL}\r\n")),
        "{message}"
    );
    let prefix = format!("{}/p/{}/login/", portal.base_url, stack::DEMO_SLUG);
    message
        .split_whitespace()
        .find(|word| word.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no link starting {prefix} in the message:\n{message}"))
        .to_owned()
}

/// Step 3: the link is opened and left alone for a while, as a scanner with a real browser
/// would. The confirm page shows, no session cookie appears, and the link stays unspent.
async fn scanner_opens(browser: &Browser, portal: &Portal, link: &str) -> SecretToken {
    let raw = link.rsplit('/').next().expect("the link ends in its token");
    let token = SecretToken::parse(raw).expect("the emailed token is well formed");
    browser.client.goto(link).await.expect("the link opens");

    let until = Instant::now() + SCANNER_LINGER;
    while Instant::now() < until {
        assert_eq!(browser.heading().await, "Continue to sign in");
        assert_eq!(
            browser.session_cookie().await,
            None,
            "opening the link signs no one in"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let url = browser.client.current_url().await.expect("the url");
    assert_eq!(
        url.as_str(),
        link,
        "the confirm page does not move on by itself"
    );

    let stored = portal.login_link(&token).await;
    assert_eq!(stored.used_at, None, "opening the link does not spend it");
    token
}

/// Step 4: pressing the button spends the link and opens a session scoped to the portal.
async fn confirm_sign_in(browser: &Browser, portal: &Portal, token: &SecretToken) -> String {
    browser.click_button("Continue to sign in").await;
    browser.wait_for_heading(CLIENT_NAME).await;

    let url = browser.client.current_url().await.expect("the url");
    assert_eq!(url.path(), format!("/p/{}/", stack::DEMO_SLUG));
    let cookie = browser
        .session_cookie()
        .await
        .expect("signing in sets the session cookie");
    assert!(
        portal.login_link(token).await.used_at.is_some(),
        "the link is spent"
    );
    cookie
}

/// Step 5: the home lists exactly Amy's open invoices, on the page and in its JSON.
async fn check_home(browser: &Browser, portal: &Portal, cookie: &str) {
    let shown = browser.invoice_numbers().await;
    assert_eq!(shown, numbers(&OPEN_INVOICES), "invoices on the page");
    let text = browser.main_text().await;
    for paid in PAID_INVOICES {
        assert!(
            !text.contains(&format!("#{paid}")),
            "paid invoice {paid} is shown:\n{text}"
        );
    }
    assert!(text.contains("No proposals yet."), "{text}");

    let (status, body) = portal
        .get_json(&format!("/p/{}/", stack::DEMO_SLUG), cookie)
        .await;
    assert_eq!(status, 200, "{body}");
    let home: Value = serde_json::from_str(&body).expect("the home answers JSON");
    assert_eq!(home["company"]["slug"], stack::DEMO_SLUG);
    assert_eq!(home["client"]["name"], CLIENT_NAME);
    let listed: BTreeSet<String> = home["invoices"]
        .as_array()
        .expect("an invoices array")
        .iter()
        .map(|invoice| invoice["number"].as_str().expect("a number").to_owned())
        .collect();
    assert_eq!(listed, numbers(&OPEN_INVOICES), "invoices in the JSON");
    let first = home["invoices"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["number"] == "1021"))
        .expect("invoice 1021 in the JSON");
    assert_eq!(
        first["balance"],
        json!({ "minor": 23900, "currency": "USD" })
    );
    assert_eq!(first["total"], json!({ "minor": 45900, "currency": "USD" }));
}

/// Step 6 (for a person): the home at desktop size and in a phone's 390×844 viewport. On
/// the phone nothing may stick out sideways.
async fn screenshots_of_home(browser: &Browser, scratch: &Scratch) {
    browser.screenshot(scratch, "home-desktop.png").await;

    browser.phone_viewport(390, 844).await;
    browser.screenshot(scratch, "home-phone.png").await;
}

/// Step 7: invoice 1021 from its link: partly paid, $459.00 in all, $239.00 left.
async fn check_invoice(browser: &Browser, scratch: &Scratch) {
    let link = browser.find(Locator::LinkText("#1021")).await;
    link.click().await.expect("the invoice link clicks");
    browser.wait_for_heading("Invoice #1021").await;

    let text = browser.main_text().await;
    assert!(text.contains("Total: $459.00"), "{text}");
    assert!(text.contains("Balance due: $239.00"), "{text}");
    browser.screenshot(scratch, "invoice-phone.png").await;
    browser.assert_fits_sideways().await;

    browser.client.back().await.expect("back to the home");
    browser.wait_for_heading(CLIENT_NAME).await;
}

/// Step 8: Amy pays $100.00 of invoice 1021's $239.00 by card. The pay form sends her to the
/// stand-in's checkout page for exactly that amount; the test card pays; back on the portal
/// the return page says "received" once the payment is confirmed (it reloads itself until
/// then). The invoice then owes $139.00 and lists the payment, one receipt goes to her and
/// one notice to the company, and the stand-in saw every event it sent answered 2xx.
async fn pay_part_by_card(browser: &Browser, portal: &Portal, scratch: &Scratch, cookie: &str) {
    let link = browser.find(Locator::LinkText("#1021")).await;
    link.click().await.expect("the invoice link clicks");
    browser.wait_for_heading("Invoice #1021").await;
    let invoice_url = browser.client.current_url().await.expect("the url");
    let payments_before = browser.payment_rows().await;
    assert_eq!(
        browser.value_of("pay-amount").await,
        "239.00",
        "the pay form offers the whole balance"
    );
    let help = browser.find(Locator::Id("pay-help")).await;
    let help = help.text().await.expect("the form's help");
    assert!(help.contains("(at least $10.00)"), "{help}");
    let mail_before = read_outbox(&portal.outbox);

    browser.replace_text("pay-amount", PART_PAYMENT).await;
    browser.click_button("Pay by card").await;
    let checkout = format!("{}/checkout/cs_", portal.stripe.public_base());
    browser.wait_for_url_prefix(&checkout).await;
    browser.wait_for_heading("Pay $100.00").await;
    let amount = browser.find(Locator::Id("amount")).await;
    assert_eq!(amount.text().await.expect("the amount"), "$100.00");
    let page = browser.find(Locator::Css("body")).await;
    let page = page.text().await.expect("the checkout page's text");
    assert!(page.contains(&format!("Receipt to {EMAIL}")), "{page}");
    browser.screenshot(scratch, "checkout-phone.png").await;

    browser
        .replace_text("card-number", "4242 4242 4242 4242")
        .await;
    assert_eq!(
        browser.value_of("card-number").await.replace(' ', ""),
        CARD_SUCCEEDS
    );
    browser.replace_text("card-expiry", &future_expiry()).await;
    browser.replace_text("card-cvc", "123").await;
    let pay = browser.find(Locator::Id("pay")).await;
    pay.click().await.expect("the checkout's pay button clicks");

    let return_page = format!("{}/payment?session_id=cs_", invoice_url.as_str());
    browser.wait_for_url_prefix(&return_page).await;
    browser.wait_for_payment_received().await;
    let text = browser.main_text().await;
    assert!(
        text.contains("we received your payment of $100.00 for invoice #1021."),
        "{text}"
    );
    assert!(text.contains("Balance still due: $139.00"), "{text}");
    browser.screenshot(scratch, "payment-phone.png").await;
    browser.assert_fits_sideways().await;

    portal.deliveries_answered_2xx().await;
    let mail = portal.new_messages(&mail_before, 2).await;
    let (receipts, notices): (Vec<&String>, Vec<&String>) = mail
        .iter()
        .partition(|m| header(m, "To").is_some_and(|to| to.ends_with(&format!("<{EMAIL}>"))));
    assert_eq!(receipts.len(), 1, "one receipt to {EMAIL}:\n{mail:#?}");
    assert_eq!(notices.len(), 1, "one staff notice:\n{mail:#?}");
    assert_eq!(
        header(receipts[0], "To").as_deref(),
        Some(format!("\"{CLIENT_NAME}\" <{EMAIL}>").as_str())
    );
    assert_eq!(
        header(receipts[0], "Subject").as_deref(),
        Some("Receipt: $100.00 paid on invoice #1021")
    );
    assert!(
        receipts[0].contains("We received your payment of $100.00."),
        "{}",
        receipts[0]
    );
    assert!(
        receipts[0].contains("Left owing: $139.00"),
        "{}",
        receipts[0]
    );
    assert!(
        receipts[0].contains(invoice_url.as_str()),
        "the receipt links to the invoice:\n{}",
        receipts[0]
    );
    assert_eq!(header(notices[0], "To").as_deref(), Some(NOTIFY_EMAIL));
    assert_eq!(
        header(notices[0], "Subject"),
        Some(format!(
            "Payment received: $100.00 from {CLIENT_NAME} (invoice #1021)"
        ))
    );
    assert!(notices[0].contains("Left owing: $139.00"), "{}", notices[0]);

    let back = browser
        .find(Locator::LinkText("← Back to the invoice"))
        .await;
    back.click().await.expect("the invoice link clicks");
    browser.wait_for_heading("Invoice #1021").await;
    let text = browser.main_text().await;
    assert!(text.contains("Paid so far: $320.00"), "{text}");
    assert!(text.contains("Balance due: $139.00"), "{text}");
    assert!(
        !text.contains("is being processed"),
        "a booked payment is not still processing:\n{text}"
    );
    let payments_after = browser.payment_rows().await;
    let new_rows: Vec<&String> = payments_after
        .iter()
        .filter(|row| !payments_before.contains(row))
        .collect();
    assert_eq!(
        (payments_after.len(), new_rows.len()),
        (payments_before.len() + 1, 1),
        "one payment more: {payments_before:?} → {payments_after:?}"
    );
    assert!(new_rows[0].ends_with("$100.00"), "{new_rows:?}");
    assert_eq!(
        browser.value_of("pay-amount").await,
        "139.00",
        "the pay form offers what is left"
    );

    let (status, body) = portal
        .get_json(&format!("/p/{}/", stack::DEMO_SLUG), cookie)
        .await;
    assert_eq!(status, 200, "{body}");
    let home: Value = serde_json::from_str(&body).expect("the home answers JSON");
    let invoice = home["invoices"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["number"] == "1021"))
        .expect("invoice 1021 in the JSON");
    assert_eq!(
        invoice["balance"],
        json!({ "minor": 13900, "currency": "USD" })
    );

    let home = browser
        .find(Locator::LinkText("← Back to your portal"))
        .await;
    home.click().await.expect("the portal link clicks");
    browser.wait_for_heading(CLIENT_NAME).await;
}

/// An expiry date three years ahead, as `MM / YY`.
fn future_expiry() -> String {
    use chrono::Datelike;
    let year = chrono::Utc::now().year() + 3;
    format!("12 / {:02}", year % 100)
}

/// The value of a message's header `name`, unfolded (each CRLF + space becomes the one
/// space it stood for).
fn header(message: &str, name: &str) -> Option<String> {
    let end = message.find("\r\n\r\n")?;
    let head = format!("\r\n{}\r\n", message[..end].replace("\r\n ", " "));
    let prefix = format!("\r\n{name}: ");
    let start = head.find(&prefix)? + prefix.len();
    let value = &head[start..];
    Some(value[..value.find("\r\n")?].to_owned())
}

/// Step 9: the request form knows who is asking; sending it thanks them and tells the company.
async fn request_service(browser: &Browser, portal: &Portal, scratch: &Scratch) {
    let link = browser.find(Locator::LinkText("Request service")).await;
    link.click().await.expect("the request link clicks");
    browser
        .wait_for_heading(&format!("Request service from {}", stack::DEMO_NAME))
        .await;
    assert_eq!(browser.value_of("name").await, CLIENT_NAME);
    assert_eq!(browser.value_of("email").await, EMAIL);
    browser.screenshot(scratch, "request-phone.png").await;
    browser.assert_fits_sideways().await;
    let before = read_outbox(&portal.outbox);

    browser
        .replace_text("service_address", "4581 Finch St., Bayshore")
        .await;
    browser
        .replace_text("service_wanted", "Trim the hedges around the aviary")
        .await;
    browser.click_button("Send request").await;
    browser
        .wait_for_heading(&format!("Thank you, {CLIENT_NAME}"))
        .await;

    let notice = portal.new_message(&before).await;
    assert!(
        notice.contains(&format!("\r\nTo: {NOTIFY_EMAIL}\r\n")),
        "{notice}"
    );
    assert!(notice.contains(&format!("Subject: New service request from {CLIENT_NAME}")));
    assert!(
        notice.contains("Service address: 4581 Finch St., Bayshore"),
        "{notice}"
    );
    assert!(
        notice.contains("Trim the hedges around the aviary"),
        "{notice}"
    );
}

/// Step 10: the header's button ends the session; the portal is the sign-in page again and
/// the old cookie opens nothing.
async fn sign_out(browser: &Browser, portal: &Portal, cookie: &str) {
    browser.click_button("Sign out").await;
    browser
        .wait_for_heading(&format!("Welcome to {}", stack::DEMO_NAME))
        .await;

    browser.find(Locator::Css("input#email")).await;
    assert_eq!(
        browser.session_cookie().await,
        None,
        "the cookie is cleared"
    );
    let (status, _) = portal
        .get_json(&format!("/p/{}/", stack::DEMO_SLUG), cookie)
        .await;
    assert_eq!(status, 401, "the ended session opens nothing");
}

fn numbers(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

/// The stack served on a loopback port of its own, with links in mail pointing at it.
struct Portal {
    ctx: Arc<AppContext>,
    outbox: PathBuf,
    base_url: String,
    http: Http,
    server: tokio::task::JoinHandle<()>,
    /// The Stripe stand-in the checkout function calls and whose events reach the portal's
    /// `/webhooks/stripe`.
    stripe: StripeStub,
    stripe_server: tokio::task::JoinHandle<()>,
}

impl Portal {
    async fn start() -> Self {
        let listener = stack::listen(0)
            .await
            .expect("a loopback port for the portal");
        let address: SocketAddr = listener.local_addr().expect("the bound address");
        let base_url = format!("http://{address}");
        let (stripe, stripe_server) = Self::start_stripe(&base_url).await;
        let now = chrono::Utc::now().to_rfc3339();
        let mut test = TestStack::with_base_url(&now, &base_url).await;
        test.ctx.config.stripe = StripeConfig {
            api_base: stripe.public_base().to_owned(),
            secret_key: Some(STRIPE_KEY.into()),
            webhook_secrets: vec![WEBHOOK_SECRET.into()],
            secret_arn: None,
        };
        let outbox = test.outbox.clone();
        let ctx = Arc::new(test.ctx);

        let summary = stack::load_demo(&ctx, &stack::sample_dir())
            .await
            .expect("the sample company loads");
        println!("demo company loaded: {summary:?}");
        let slug = CompanySlug::parse(stack::DEMO_SLUG).expect("the demo slug is valid");
        let company = ctx.store.company(&slug).await.expect("the store answers");
        let settings = company.expect("the demo company is stored").settings;
        assert!(settings.payments_enabled, "the demo takes card payments");
        assert_eq!(
            settings.stripe_account.as_deref(),
            Some(stack::DEMO_STRIPE_ACCOUNT)
        );
        assert_eq!(settings.minimum_payment_minor, 1_000);

        let server = tokio::spawn(stack::serve(Arc::clone(&ctx), listener));
        let http = HttpClient::builder(TokioExecutor::new()).build(HttpConnector::new());
        Self {
            ctx,
            outbox,
            base_url,
            http,
            server,
            stripe,
            stripe_server,
        }
    }

    /// The stand-in on a free loopback port, sending its events to this portal's webhook.
    async fn start_stripe(base_url: &str) -> (StripeStub, tokio::task::JoinHandle<()>) {
        let listener = stripe_stub::bind(0)
            .await
            .expect("a loopback port for the Stripe stand-in");
        let address = listener.local_addr().expect("the bound address");
        let stripe = StripeStub::new(StubConfig {
            webhook_url: Some(format!("{base_url}/webhooks/stripe")),
            webhook_secret: WEBHOOK_SECRET.into(),
            public_base: format!("http://{address}"),
        })
        .expect("the stand-in accepts its configuration");
        let server = stripe.spawn(listener);
        (stripe, server)
    }

    /// Waits for the stand-in's deliveries (retries included) to end; then a payment's two
    /// events must each have been delivered, and every delivery answered 2xx.
    async fn deliveries_answered_2xx(&self) {
        tokio::time::timeout(STEP, self.stripe.settled())
            .await
            .unwrap_or_else(|_| panic!("the stand-in's deliveries did not end within {STEP:?}"));
        let events = self.stripe.events();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["checkout.session.completed", "payment_intent.succeeded"],
            "the events of one payment"
        );
        for event in &events {
            assert_eq!(
                event.account.as_deref(),
                Some(stack::DEMO_STRIPE_ACCOUNT),
                "{event:?}"
            );
            assert!(
                !event.deliveries.is_empty() && event.deliveries.iter().all(|d| d.succeeded()),
                "every delivery answered 2xx: {event:?}"
            );
        }
    }

    async fn login_link(&self, token: &SecretToken) -> porchlight_shared::store::LoginLink {
        let slug = CompanySlug::parse(stack::DEMO_SLUG).expect("the demo slug is valid");
        self.ctx
            .store
            .login_link(&slug, &token.hash())
            .await
            .expect("the store answers")
            .expect("the link is stored")
    }

    /// The one message that arrived since `before` (file names share the fixed clock's
    /// instant, so order on disk says nothing; a message is new if it was not there).
    async fn new_message(&self, before: &[String]) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let fresh: Vec<String> = read_outbox(&self.outbox)
                .into_iter()
                .filter(|m| !before.contains(m))
                .collect();
            match fresh.len() {
                0 if Instant::now() < deadline => {}
                1 => return fresh.into_iter().next().expect("one message"),
                n => panic!("expected one new message in the outbox, found {n}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The `count` messages that arrived since `before`, once they all have; more is a
    /// failure.
    async fn new_messages(&self, before: &[String], count: usize) -> Vec<String> {
        let deadline = Instant::now() + STEP;
        loop {
            let fresh: Vec<String> = read_outbox(&self.outbox)
                .into_iter()
                .filter(|m| !before.contains(m))
                .collect();
            if fresh.len() > count || (fresh.len() < count && Instant::now() >= deadline) {
                panic!(
                    "expected {count} new messages in the outbox, found {}:\n{fresh:#?}",
                    fresh.len()
                );
            }
            if fresh.len() == count {
                return fresh;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// GET `path` as a program would, with the browser's session cookie.
    async fn get_json(&self, path: &str, cookie: &str) -> (u16, String) {
        let request = hyper::Request::get(format!("{}{path}", self.base_url))
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
            .body(Empty::new())
            .expect("a valid request");
        let response = tokio::time::timeout(STEP, self.http.request(request))
            .await
            .expect("the portal answers in time")
            .expect("the portal answers");
        let status = response.status().as_u16();
        let body = tokio::time::timeout(STEP, response.into_body().collect())
            .await
            .expect("the body arrives in time")
            .expect("the body arrives")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// A folder for this run: Chromium's profile (removed at the end) and the screenshots (kept).
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("porchlight-browser-{}", DocumentId::random()));
        std::fs::create_dir_all(dir.join("profile")).expect("the scratch folder is created");
        Self { dir }
    }

    fn profile(&self) -> PathBuf {
        self.dir.join("profile")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.profile());
    }
}

/// A chromedriver on a loopback port; dropping it ends it, also when the test panics.
struct Chromedriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Chromedriver {
    async fn start(dir: &Path) -> Self {
        if !Path::new(CHROMIUM).exists() {
            panic!("the browser {CHROMIUM} is missing: {APT_HINT}");
        }
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("could not start `{CHROMEDRIVER}` ({error}): {APT_HINT}")
            });
        let mut driver = Self { child, port, log };
        driver.wait_until_ready().await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_until_ready(&mut self) {
        let http: Http = HttpClient::builder(TokioExecutor::new()).build(HttpConnector::new());
        let status = format!("{}/status", self.url());
        let deadline = Instant::now() + STEP;
        loop {
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited at start ({exit}); see {}",
                    self.log.display()
                );
            }
            let request = hyper::Request::get(&status)
                .body(Empty::new())
                .expect("a valid request");
            let answer = tokio::time::timeout(Duration::from_secs(1), http.request(request)).await;
            if matches!(answer, Ok(Ok(ref response)) if response.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer within {STEP:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asks chromedriver to quit (it closes any browser it started), then makes sure.
    fn shut_down(&mut self) {
        if let Ok(mut stream) =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1))
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
            let request = "GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A port nobody on loopback is using right now.
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    probe.local_addr().expect("the bound address").port()
}

/// A Chromium session and the few things the steps ask of it.
struct Browser {
    client: Client,
    base_url: String,
}

impl Browser {
    async fn open(driver: &Chromedriver, scratch: &Scratch, portal: &Portal) -> Self {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--no-default-browser-check",
            // Phones draw scrollbars over the page, taking no width from it.
            "--hide-scrollbars",
            // Every host name fails to resolve: the browser can reach only the loopback
            // addresses the test gives it.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--window-size=1280,900",
        ]
        .map(str::to_owned);
        let mut args = args.to_vec();
        args.push(format!("--user-data-dir={}", scratch.profile().display()));
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );

        let connecting = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await;
        let client = connecting.unwrap_or_else(|error| {
            panic!(
                "no Chromium session ({error}); see {}: {APT_HINT}",
                driver.log.display()
            )
        });
        let timeouts = TimeoutConfiguration::new(Some(STEP), Some(STEP), Some(Duration::ZERO));
        client
            .update_timeouts(timeouts)
            .await
            .expect("timeouts are set");
        Self {
            client,
            base_url: portal.base_url.clone(),
        }
    }

    async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base_url);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    async fn find(&self, locator: Locator<'_>) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(STEP)
            .for_element(locator)
            .await
            .unwrap_or_else(|e| panic!("{locator:?} not found: {e}"))
    }

    /// The page's `h1`, or an empty string while there is none (mid-navigation).
    async fn heading(&self) -> String {
        match self.client.find(Locator::Css("h1")).await {
            Ok(h1) => h1.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn wait_for_heading(&self, want: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            let seen = self.heading().await;
            if seen == want {
                return;
            }
            if Instant::now() >= deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                panic!("waited {STEP:?} for heading {want:?}; saw {seen:?} at {url:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the browser is at a URL starting with `prefix` (after a redirect, say).
    async fn wait_for_url_prefix(&self, prefix: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            let url = self.client.current_url().await.expect("the url");
            if url.as_str().starts_with(prefix) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {STEP:?} for a URL starting {prefix}; still at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits on the payment return page, which reloads itself while it says "processing",
    /// until it says the payment was received. Any other answer fails at once.
    async fn wait_for_payment_received(&self) {
        let deadline = Instant::now() + STEP;
        let mut processing = 0;
        loop {
            match self.heading().await.as_str() {
                "Payment received" => {
                    println!("payment confirmed after {processing} look(s) at \"processing\"");
                    return;
                }
                "Processing your payment…" => processing += 1,
                // Between two loads of the page.
                "" => {}
                other => {
                    let text = self.main_text().await;
                    panic!("the return page says {other:?}, not received:\n{text}");
                }
            }
            assert!(
                Instant::now() < deadline,
                "the return page did not say the payment was received within {STEP:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The rows of the invoice page's list of payments (none when it shows no list), each
    /// as its visible text.
    async fn payment_rows(&self) -> Vec<String> {
        let xpath = "//main//div[h2[normalize-space(.)='Payments']]//tbody/tr";
        let rows = self
            .client
            .find_all(Locator::XPath(xpath))
            .await
            .expect("the payment rows");
        let mut texts = Vec::new();
        for row in rows {
            let text = row.text().await.expect("a row's text");
            texts.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        texts
    }

    async fn main_text(&self) -> String {
        let main = self.find(Locator::Css("main")).await;
        main.text().await.expect("the page's text")
    }

    async fn click_button(&self, label: &str) {
        let xpath = format!("//button[normalize-space(.)='{label}']");
        let button = self.find(Locator::XPath(&xpath)).await;
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {label:?}: {e}"));
    }

    async fn invoice_numbers(&self) -> BTreeSet<String> {
        let links = self
            .client
            .find_all(Locator::Css("main a[href*='/invoices/']"))
            .await
            .expect("the invoice links");
        let mut numbers = BTreeSet::new();
        for link in links {
            let text = link.text().await.expect("a link's text");
            numbers.insert(text.trim().trim_start_matches('#').to_owned());
        }
        numbers
    }

    async fn value_of(&self, field: &str) -> String {
        let input = self.find(Locator::Id(field)).await;
        input
            .prop("value")
            .await
            .expect("the field's value")
            .unwrap_or_default()
    }

    async fn replace_text(&self, field: &str, text: &str) {
        let input = self.find(Locator::Id(field)).await;
        input.clear().await.expect("the field clears");
        input.send_keys(text).await.expect("typing into the field");
    }

    /// The session cookie's value, if the browser holds one for this page.
    async fn session_cookie(&self) -> Option<String> {
        let cookies = self.client.get_all_cookies().await.expect("the cookies");
        cookies
            .iter()
            .find(|c| c.name() == SESSION_COOKIE && !c.value().is_empty())
            .map(|c| c.value().to_owned())
    }

    /// Sizes the window so the page's viewport is `width`×`height`: the window's own frame
    /// takes some of the window size, even headless.
    async fn phone_viewport(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("the window resizes");
        let (inner_width, inner_height) = self.viewport().await;
        let frame = (width - inner_width, height - inner_height);
        self.client
            .set_window_size(width + frame.0, height + frame.1)
            .await
            .expect("the window resizes");
        assert_eq!(
            self.viewport().await,
            (width, height),
            "the phone-sized viewport"
        );
        self.assert_fits_sideways().await;
    }

    async fn viewport(&self) -> (u32, u32) {
        let script = "return [window.innerWidth, window.innerHeight];";
        let answer = self
            .client
            .execute(script, vec![])
            .await
            .expect("the viewport");
        let pixels = |i: usize| {
            let value = answer[i].as_u64().expect("a size in pixels");
            u32::try_from(value).expect("a viewport fits in u32")
        };
        (pixels(0), pixels(1))
    }

    /// Nothing on the page is wider than the viewport, so no one scrolls sideways to read it.
    async fn assert_fits_sideways(&self) {
        let script = "return [document.documentElement.scrollWidth, window.innerWidth];";
        let answer = self
            .client
            .execute(script, vec![])
            .await
            .expect("the widths");
        let url = self.client.current_url().await.expect("the url");
        assert!(
            answer[0].as_u64() <= answer[1].as_u64(),
            "{url} is wider than the viewport (page, viewport): {answer}"
        );
    }

    async fn screenshot(&self, scratch: &Scratch, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        let path = scratch.dir.join(name);
        std::fs::write(&path, png).expect("the screenshot is written");
        println!("screenshot: {}", path.display());
    }
}
