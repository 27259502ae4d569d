//! Stripe's webhook against DynamoDB Local, fed signed API Gateway v2 events: every event
//! has its effect once however often, however concurrently and in whatever order it
//! arrives (case C05), zero-decimal currencies are read in whole units (C06), signatures
//! are checked first (forged, stale, retired secret, rotation), part payments add up to
//! exactly zero, refunds put the balance back (and bring an archived invoice back into
//! the portal), and events that do not match the stored invoice change nothing.
//!
//! Events are signed here with Stripe's algorithm through
//! `porchlight_shared::payments::signature::header`, whose own unit test checks it
//! against a signature computed apart.

use std::sync::Arc;

use serde_json::{Value, json};

use porchlight_shared::clock::Clock;
use porchlight_shared::domain::{Client, Company, Invoice, Payment, PaymentStatus, Settings};
use porchlight_shared::ids::{CompanySlug, DocumentId, random_bytes};
use porchlight_shared::money::{Currency, Money};
use porchlight_shared::payments::signature;
use porchlight_shared::portal::PortalDay;
use porchlight_shared::store::payments::{CheckoutAttempt, CheckoutStatus};
use porchlight_shared::store::{Entity, keys};
use porchlight_shared::sweep::{self, Limits, Mode};
use porchlight_tests::fixtures::{day, one_off_invoice, sign_in};
use porchlight_tests::{Event, Reply, TestStack, instant};

const SECRET: &str = "whsec_test_current_0123456789";
const RETIRED: &str = "whsec_test_retired_9876543210";
/// 09:00 in Chicago.
const NOW: &str = "2026-12-04T15:00:00Z";

fn money(minor: i64, code: &str) -> Money {
    Money::new(minor, Currency::parse(code).expect("a currency"))
}

/// A stack whose webhook knows `secrets`.
async fn stack_with(secrets: &[&str]) -> TestStack {
    let mut stack = TestStack::new(NOW).await;
    stack.ctx.config.stripe.webhook_secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
    stack
}

/// A company taking card payments through its own connected account.
async fn payee(stack: &TestStack, slug: &str, code: &str) -> Company {
    let company = Company {
        slug: CompanySlug::parse(slug).expect("a valid slug"),
        name: format!("{slug} Lawn Co."),
        time_zone: "America/Chicago".parse().expect("a zone"),
        currency: Currency::parse(code).expect("a currency"),
        notify_email: format!("office@{slug}.example"),
        id_secret: hex::encode(random_bytes::<32>()),
        settings: Settings {
            payments_enabled: true,
            stripe_account: Some(format!("acct_{slug}")),
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

async fn bill(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    number: &str,
    date: &str,
    total: Money,
) -> Invoice {
    let amounts = (total.clone(), total);
    one_off_invoice(stack, company, client, number, date, amounts).await
}

/// Greenridge (USD) with Dana and her invoice GR-1042 for 120.00 (case C05's setup).
struct Shop {
    company: Company,
    client: Client,
    invoice: Invoice,
}

async fn shop(stack: &TestStack, slug: &str, code: &str, total: i64) -> Shop {
    let company = payee(stack, slug, code).await;
    let client = stack
        .client(&company, "Dana Whitfield", &format!("dana@{slug}.example"))
        .await;
    let invoice = bill(
        stack,
        &company,
        &client,
        "GR-1042",
        "2026-11-20",
        money(total, code),
    )
    .await;
    Shop {
        company,
        client,
        invoice,
    }
}

/// What an event claims to be about; tests change one field to make a mismatch.
#[derive(Debug, Clone)]
struct About {
    account: String,
    company: String,
    client: String,
    invoice: String,
    currency: String,
}

impl About {
    fn shop(shop: &Shop) -> Self {
        Self {
            account: shop
                .company
                .settings
                .stripe_account
                .clone()
                .expect("an account"),
            company: shop.company.slug.to_string(),
            client: shop.client.id.to_string(),
            invoice: shop.invoice.id.to_string(),
            currency: shop.invoice.total.currency.code().to_lowercase(),
        }
    }

    fn metadata(&self) -> Value {
        json!({ "company": self.company, "client_id": self.client, "invoice_id": self.invoice })
    }

    fn event(&self, id: &str, kind: &str, object: Value) -> Value {
        json!({ "id": id, "object": "event", "api_version": "2024-06-20", "type": kind,
            "account": self.account, "created": 1_796_396_400, "livemode": false,
            "pending_webhooks": 1, "data": { "object": object } })
    }

    fn completed(&self, id: &str, pi: &str, session: &str, amount: i64) -> Value {
        let object = json!({ "id": session, "object": "checkout.session", "mode": "payment",
            "amount_total": amount, "currency": self.currency, "payment_intent": pi,
            "payment_status": "paid", "status": "complete", "metadata": self.metadata(),
            "client_reference_id": self.client });
        self.event(id, "checkout.session.completed", object)
    }

    fn succeeded(&self, id: &str, pi: &str, amount: i64) -> Value {
        let object = json!({ "id": pi, "object": "payment_intent", "amount": amount,
            "amount_received": amount, "currency": self.currency, "status": "succeeded",
            "metadata": self.metadata() });
        self.event(id, "payment_intent.succeeded", object)
    }

    fn failed(&self, id: &str, pi: &str) -> Value {
        let object = json!({ "id": pi, "object": "payment_intent", "amount_received": 0,
            "currency": self.currency, "status": "requires_payment_method",
            "last_payment_error": { "code": "card_declined",
                "message": "Your card was declined." },
            "metadata": self.metadata() });
        self.event(id, "payment_intent.payment_failed", object)
    }

    fn refunded(&self, id: &str, pi: &str, charged: i64, refunds: &[(&str, i64)]) -> Value {
        let data: Vec<Value> = refunds
            .iter()
            .map(|(re, amount)| {
                json!({ "id": re, "object": "refund", "amount": amount,
                "currency": self.currency, "status": "succeeded" })
            })
            .collect();
        let total: i64 = refunds.iter().map(|(_, amount)| amount).sum();
        let object = json!({ "id": format!("ch_{pi}"), "object": "charge",
            "payment_intent": pi, "amount": charged, "amount_refunded": total,
            "currency": self.currency, "refunded": total == charged,
            "metadata": self.metadata(),
            "refunds": { "object": "list", "data": data } });
        self.event(id, "charge.refunded", object)
    }
}

fn now_seconds(stack: &TestStack) -> i64 {
    stack.clock.now().timestamp()
}

/// A delivery with a `Stripe-Signature` header as given.
async fn deliver_with(stack: &TestStack, body: &str, header: &str) -> Reply {
    let event = Event::post("/webhooks/stripe")
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", header)
        .body_text(body);
    stack.call(event).await
}

/// A delivery signed now with the current secret, as Stripe sends one.
async fn deliver(stack: &TestStack, event: &Value) -> Reply {
    let body = event.to_string();
    let header = signature::header(&[SECRET], now_seconds(stack), body.as_bytes());
    deliver_with(stack, &body, &header).await
}

async fn payments(stack: &TestStack, shop: &Shop) -> Vec<Payment> {
    stack
        .store()
        .client_portal(&shop.company.slug, &shop.client.id)
        .await
        .expect("portal read")
        .expect("the client exists")
        .payments
}

/// The invoice as it is in the client's partition (`None` once archived).
async fn live_invoice(stack: &TestStack, shop: &Shop) -> Option<Invoice> {
    let key = keys::invoice(&shop.company.slug, &shop.client.id, &shop.invoice.id);
    stack
        .store()
        .record(&key, Entity::Invoice)
        .await
        .expect("invoice read")
}

async fn balance(stack: &TestStack, shop: &Shop) -> Money {
    live_invoice(stack, shop)
        .await
        .expect("the invoice is in the portal")
        .balance
}

/// Messages of one kind to one address, told apart by a phrase only that kind has.
fn mails(stack: &TestStack, to: &str, phrase: &str) -> Vec<String> {
    stack
        .mail()
        .into_iter()
        .filter(|m| {
            let head = m
                .split("\r\n\r\n")
                .next()
                .unwrap_or("")
                .replace("\r\n ", " ");
            let to_line = head.lines().find(|l| l.starts_with("To: ")).unwrap_or("");
            to_line.contains(to) && m.contains(phrase)
        })
        .collect()
}

fn receipts(stack: &TestStack, shop: &Shop) -> Vec<String> {
    mails(stack, &shop.client.emails[0], "This is your receipt from")
}

fn staff_notices(stack: &TestStack, shop: &Shop) -> Vec<String> {
    mails(stack, &shop.company.notify_email, "by card on invoice #")
}

fn refund_notes(stack: &TestStack, shop: &Shop) -> Vec<String> {
    mails(
        stack,
        &shop.client.emails[0],
        "The refund reaches your card",
    )
}

async fn start_checkout(stack: &TestStack, shop: &Shop, session: &str, amount: i64) {
    let attempt = CheckoutAttempt {
        session_id: session.into(),
        invoice_id: shop.invoice.id.clone(),
        amount: money(amount, shop.invoice.total.currency.code()),
        created_at: stack.clock.now(),
        status: CheckoutStatus::Open,
        payment_intent: None,
        payment_id: None,
        failure: None,
    };
    stack
        .store()
        .record_checkout_started(&shop.company.slug, &shop.client.id, &attempt)
        .await
        .expect("attempt stored");
}

async fn checkout_status(stack: &TestStack, shop: &Shop, session: &str) -> CheckoutStatus {
    stack
        .store()
        .checkout_attempt(&shop.company.slug, &shop.client.id, session)
        .await
        .expect("attempt read")
        .expect("the attempt exists")
        .status
}

fn assert_ok(reply: &Reply) {
    assert!(
        (200..300).contains(&reply.status),
        "{}: {}",
        reply.status,
        reply.body
    );
}

/// C05: `checkout.session.completed` evt_test_A twice at once and again ten minutes later,
/// and `payment_intent.succeeded` evt_test_B for the same payment intent: one payment of
/// 120.00, the invoice paid with 0.00 owing, one receipt and one staff notice, and a 2xx
/// for every delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c05_repeated_deliveries_book_one_payment() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let about = About::shop(&shop);
    start_checkout(&stack, &shop, "cs_test_1", 12_000).await;
    let completed = about.completed("evt_test_A", "pi_test_1", "cs_test_1", 12_000);

    let (first, second) = tokio::join!(deliver(&stack, &completed), deliver(&stack, &completed));
    stack.set_now("2026-12-04T15:10:00Z");
    let later = deliver(&stack, &completed).await;
    let succeeded = deliver(&stack, &about.succeeded("evt_test_B", "pi_test_1", 12_000)).await;

    for reply in [&first, &second, &later, &succeeded] {
        assert_ok(reply);
    }
    let outcomes: Vec<String> = [&first, &second, &later, &succeeded]
        .iter()
        .map(|r| r.json()["outcome"].as_str().expect("an outcome").to_owned())
        .collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "booked").count(), 1);
    let booked = payments(&stack, &shop).await;
    assert_eq!(booked.len(), 1, "{booked:#?}");
    assert_eq!(booked[0].amount, money(12_000, "USD"));
    assert_eq!(booked[0].amount.to_string(), "$120.00");
    assert_eq!(booked[0].reference.as_deref(), Some("pi_test_1"));
    let invoice = live_invoice(&stack, &shop)
        .await
        .expect("still in the portal");
    assert_eq!(invoice.balance, money(0, "USD"));
    assert_eq!(invoice.payment_status(), PaymentStatus::Paid);
    assert_eq!(receipts(&stack, &shop).len(), 1);
    assert_eq!(staff_notices(&stack, &shop).len(), 1);
    assert_eq!(stack.mail().len(), 2, "nothing else was sent");
    assert_eq!(
        checkout_status(&stack, &shop, "cs_test_1").await,
        CheckoutStatus::Paid
    );
    let receipt = &receipts(&stack, &shop)[0];
    assert!(receipt.contains("Paid: $120.00"), "{receipt}");
    assert!(receipt.contains("Left owing: $0.00"));
    assert!(
        receipt.contains("View your payments: http://127.0.0.1:3000/p/greenridge/payments"),
        "paid in full, the receipt leads to the payment history: {receipt}"
    );
}

/// C05, second run: the first delivery commits the payment and then fails (its emails
/// cannot be written: the outbox path is a file, not a folder) and answers 500; Stripe
/// delivers again, which sends the emails the first one did not. A third delivery sends
/// nothing more.
#[tokio::test]
async fn c05_a_delivery_failing_after_the_commit_is_completed_by_the_next() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let completed = About::shop(&shop).completed("evt_test_A", "pi_test_1", "cs_test_1", 12_000);
    std::fs::write(&stack.outbox, b"not a folder").expect("a file in the outbox's place");

    let failed = deliver(&stack, &completed).await;

    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(
        payments(&stack, &shop).await.len(),
        1,
        "committed before the failure"
    );
    assert_eq!(balance(&stack, &shop).await, money(0, "USD"));

    std::fs::remove_file(&stack.outbox).expect("the file goes");
    stack.set_now("2026-12-04T15:01:00Z");
    let retried = deliver(&stack, &completed).await;
    let again = deliver(&stack, &completed).await;

    assert_ok(&retried);
    assert_eq!(retried.json()["outcome"], "duplicate");
    assert_ok(&again);
    assert_eq!(payments(&stack, &shop).await.len(), 1);
    assert_eq!(balance(&stack, &shop).await, money(0, "USD"));
    assert_eq!(receipts(&stack, &shop).len(), 1);
    assert_eq!(staff_notices(&stack, &shop).len(), 1);
    assert_eq!(stack.mail().len(), 2);
}

/// 20 deliveries of one event at the same moment: one payment, one receipt, one notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deliveries_book_one_payment() {
    let stack = Arc::new(stack_with(&[SECRET]).await);
    let shop = Arc::new(shop(&stack, "greenridge", "USD", 12_000).await);
    let completed = About::shop(&shop).completed("evt_test_C", "pi_test_20", "cs_test_20", 12_000);

    let mut deliveries = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (stack, completed) = (Arc::clone(&stack), completed.clone());
        deliveries.spawn(async move { deliver(&stack, &completed).await });
    }
    let replies = deliveries.join_all().await;

    for reply in &replies {
        assert_ok(reply);
    }
    let booked = replies
        .iter()
        .filter(|r| r.json()["outcome"] == "booked")
        .count();
    assert_eq!(booked, 1);
    assert_eq!(payments(&stack, &shop).await.len(), 1);
    assert_eq!(balance(&stack, &shop).await, money(0, "USD"));
    assert_eq!(receipts(&stack, &shop).len(), 1);
    assert_eq!(staff_notices(&stack, &shop).len(), 1);
}

/// C06: yen and won have no minor unit: amount_total 8800 is ¥8,800, and leaves ¥0 owing.
#[tokio::test]
async fn c06_zero_decimal_currencies_are_booked_in_whole_units() {
    let stack = stack_with(&[SECRET]).await;
    for (slug, code, total, shown) in [
        ("sakura-niwa", "JPY", 8_800, "¥8,800"),
        ("hanbit-garden", "KRW", 55_000, "55,000 KRW"),
    ] {
        let shop = shop(&stack, slug, code, total).await;
        let about = About::shop(&shop);

        let event = about.completed(&format!("evt_{slug}"), "pi_z", "cs_z", total);
        let reply = deliver(&stack, &event).await;

        assert_ok(&reply);
        let booked = payments(&stack, &shop).await;
        assert_eq!(booked.len(), 1);
        assert_eq!(booked[0].amount, money(total, code));
        assert_eq!(booked[0].amount.to_string(), shown);
        let left = balance(&stack, &shop).await;
        assert_eq!(left, money(0, code));
        let receipt = &receipts(&stack, &shop)[0];
        assert!(receipt.contains(&format!("Paid: {shown}")), "{receipt}");
        assert!(receipt.contains(&format!("Left owing: {}", money(0, code))));
        if code == "JPY" {
            assert!(receipt.contains("Left owing: ¥0\r\n"), "no decimals");
        }
    }
}

/// A forged signature, a stale one (six minutes old), one made with a secret no longer
/// configured, a malformed header and none at all: each 400, and nothing changes.
#[tokio::test]
async fn bad_signatures_are_refused_and_change_nothing() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let body = About::shop(&shop)
        .completed("evt_test_A", "pi_test_1", "cs_test_1", 12_000)
        .to_string();
    let now = now_seconds(&stack);
    let good = signature::header(&[SECRET], now, body.as_bytes());
    let tampered = body.replace("12000", "1200");

    let headers = [
        signature::header(&["whsec_forged"], now, body.as_bytes()),
        signature::header(&[SECRET], now - 360, body.as_bytes()),
        signature::header(&[SECRET], now + 360, body.as_bytes()),
        signature::header(&[RETIRED], now, body.as_bytes()),
        format!("t={now}"),
        "v1=deadbeef".into(),
        String::new(),
    ];
    for header in &headers {
        let reply = deliver_with(&stack, &body, header).await;
        assert_eq!(reply.status, 400, "{header}: {}", reply.body);
    }
    let changed = deliver_with(&stack, &tampered, &good).await;
    assert_eq!(changed.status, 400, "the body is what is signed");
    let unsigned = stack
        .call(Event::post("/webhooks/stripe").body_text(&body))
        .await;
    assert_eq!(unsigned.status, 400);

    assert!(payments(&stack, &shop).await.is_empty());
    assert_eq!(balance(&stack, &shop).await, money(12_000, "USD"));
    assert!(stack.mail().is_empty());
    let guard: Option<Value> = stack
        .store()
        .record(&keys::stripe_event("evt_test_A"), Entity::StripeEvent)
        .await
        .expect("read");
    assert_eq!(
        guard, None,
        "a refused delivery does not use up its event id"
    );

    let genuine = deliver_with(&stack, &body, &good).await;
    assert_ok(&genuine);
    assert_eq!(payments(&stack, &shop).await.len(), 1);
}

/// During a rotation both secrets are configured, and a delivery signed with either (or
/// carrying both signatures, as Stripe sends then) is accepted.
#[tokio::test]
async fn both_secrets_are_accepted_during_a_rotation() {
    let stack = stack_with(&[RETIRED, SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let about = About::shop(&shop);
    let now = now_seconds(&stack);
    let signed = |event: &Value, secrets: &[&str]| {
        let body = event.to_string();
        let header = signature::header(secrets, now, body.as_bytes());
        (body, header)
    };

    let (old_body, old) = signed(&about.succeeded("evt_rot_1", "pi_rot_1", 2_000), &[RETIRED]);
    let (new_body, new) = signed(&about.succeeded("evt_rot_2", "pi_rot_2", 3_000), &[SECRET]);
    let (both_body, both) = signed(
        &about.succeeded("evt_rot_3", "pi_rot_3", 4_000),
        &[RETIRED, SECRET],
    );

    for (body, header) in [(old_body, old), (new_body, new), (both_body, both)] {
        assert_ok(&deliver_with(&stack, &body, &header).await);
    }
    assert_eq!(payments(&stack, &shop).await.len(), 3);
    assert_eq!(balance(&stack, &shop).await, money(3_000, "USD"));
}

/// API Gateway may hand the body over base64-encoded; the signature is checked over the
/// decoded bytes, exactly as Stripe sent them.
#[tokio::test]
async fn a_base64_encoded_body_is_verified_over_its_bytes() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let body = About::shop(&shop)
        .completed("evt_b64", "pi_b64", "cs_b64", 12_000)
        .to_string();
    let header = signature::header(&[SECRET], now_seconds(&stack), body.as_bytes());
    let mut event = Event::post("/webhooks/stripe")
        .header("stripe-signature", &header)
        .to_json();
    event["body"] = porchlight_shared::mail::base64(body.as_bytes()).into();
    event["isBase64Encoded"] = true.into();

    let request = lambda_http::request::from_str(&event.to_string()).expect("a valid event");
    let response = porchlight_infra::local::dispatch("PaymentWebhookFunction", &stack.ctx, request)
        .await
        .expect("the function is mounted");

    assert_eq!(response.status(), 200);
    assert_eq!(payments(&stack, &shop).await.len(), 1);
}

/// A part payment and then the rest, through two payment intents: paid, exactly 0 owing.
#[tokio::test]
async fn a_part_payment_then_the_rest_leaves_exactly_zero() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let about = About::shop(&shop);
    start_checkout(&stack, &shop, "cs_part_1", 4_999).await;

    assert_ok(
        &deliver(
            &stack,
            &about.completed("evt_p1", "pi_part_1", "cs_part_1", 4_999),
        )
        .await,
    );
    assert_eq!(balance(&stack, &shop).await, money(7_001, "USD"));
    let first = &receipts(&stack, &shop)[0];
    assert!(
        first.contains("$70.01 is still owing on invoice #GR-1042"),
        "{first}"
    );

    start_checkout(&stack, &shop, "cs_part_2", 7_001).await;
    assert_ok(
        &deliver(
            &stack,
            &about.completed("evt_p2", "pi_part_2", "cs_part_2", 7_001),
        )
        .await,
    );

    let invoice = live_invoice(&stack, &shop).await.expect("in the portal");
    assert_eq!(invoice.balance.minor, 0);
    assert!(invoice.is_paid());
    let booked = payments(&stack, &shop).await;
    assert_eq!(booked.len(), 2);
    assert_eq!(booked.iter().map(|p| p.amount.minor).sum::<i64>(), 12_000);
    assert!(booked.iter().all(|p| p.unapplied.minor == 0));
    assert_eq!(receipts(&stack, &shop).len(), 2);
    for session in ["cs_part_1", "cs_part_2"] {
        assert_eq!(
            checkout_status(&stack, &shop, session).await,
            CheckoutStatus::Paid
        );
    }
}

/// A partial refund and then the rest: the balance goes back up by each refund (never
/// above the total), the invoice is unpaid and shown again, each refund is booked once
/// however often its event comes, and the client gets one note per refund.
#[tokio::test]
async fn refunds_put_the_balance_back_once_each() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let about = About::shop(&shop);
    assert_ok(
        &deliver(
            &stack,
            &about.completed("evt_pay", "pi_test_1", "cs_1", 12_000),
        )
        .await,
    );

    let partial = about.refunded("evt_re_1", "pi_test_1", 12_000, &[("re_1", 3_000)]);
    assert_ok(&deliver(&stack, &partial).await);
    assert_ok(&deliver(&stack, &partial).await);
    assert_eq!(balance(&stack, &shop).await, money(3_000, "USD"));

    let full = about.refunded(
        "evt_re_2",
        "pi_test_1",
        12_000,
        &[("re_1", 3_000), ("re_2", 9_000)],
    );
    let (a, b) = tokio::join!(deliver(&stack, &full), deliver(&stack, &full));
    assert_ok(&a);
    assert_ok(&b);

    let invoice = live_invoice(&stack, &shop).await.expect("in the portal");
    assert_eq!(invoice.balance, money(12_000, "USD"));
    assert_eq!(invoice.payment_status(), PaymentStatus::Unpaid);
    let portal = stack
        .store()
        .client_portal(&shop.company.slug, &shop.client.id)
        .await
        .expect("read")
        .expect("exists");
    let home = PortalDay::new(&shop.company, &portal, day("2026-12-04")).home();
    let shown: Vec<&str> = home.invoices.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(shown, ["GR-1042"]);
    assert_eq!(home.balance_due, money(12_000, "USD"));
    assert_eq!(
        payments(&stack, &shop).await.len(),
        1,
        "the payment stays, refunded"
    );
    assert_eq!(refund_notes(&stack, &shop).len(), 2);
    assert_eq!(receipts(&stack, &shop).len(), 1);

    let too_much = about.refunded("evt_re_3", "pi_test_1", 12_000, &[("re_3", 1_000)]);
    let refused = deliver(&stack, &too_much).await;
    assert_eq!(refused.status, 400, "more than was paid: {}", refused.body);
    assert_eq!(balance(&stack, &shop).await, money(12_000, "USD"));
}

/// Newer Stripe API versions send `charge.refunded` without the refunds list: the running
/// `amount_refunded` is then what counts, booked once whatever the order of the events.
#[tokio::test]
async fn refunds_without_a_list_follow_the_running_total() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let about = About::shop(&shop);
    assert_ok(
        &deliver(
            &stack,
            &about.completed("evt_pay", "pi_test_1", "cs_1", 12_000),
        )
        .await,
    );
    let unlisted = |id: &str, total: i64| {
        let mut event = about.refunded(id, "pi_test_1", 12_000, &[("re_x", total)]);
        event["data"]["object"]
            .as_object_mut()
            .expect("a charge")
            .remove("refunds");
        event
    };
    let first = unlisted("evt_re_a", 2_000);
    let second = unlisted("evt_re_b", 5_000);
    // The later total arrives first, then the earlier one, then a repeat.
    assert_ok(&deliver(&stack, &second).await);
    assert_eq!(balance(&stack, &shop).await, money(5_000, "USD"));
    assert_ok(&deliver(&stack, &first).await);
    assert_ok(&deliver(&stack, &second).await);
    assert_eq!(balance(&stack, &shop).await, money(5_000, "USD"));
    let full = unlisted("evt_re_c", 12_000);
    assert_ok(&deliver(&stack, &full).await);
    assert_eq!(balance(&stack, &shop).await, money(12_000, "USD"));
}

/// A paid invoice the sweep archived (past its 12 months) comes back into the client's
/// partition, with its balance, when its payment is refunded.
#[tokio::test]
async fn a_refund_brings_an_archived_invoice_back_into_the_portal() {
    let stack = stack_with(&[SECRET]).await;
    let company = payee(&stack, "greenridge", "USD").await;
    let client = stack
        .client(&company, "Dana Whitfield", "dana@greenridge.example")
        .await;
    let invoice = bill(
        &stack,
        &company,
        &client,
        "GR-0917",
        "2025-09-17",
        money(12_000, "USD"),
    )
    .await;
    let shop = Shop {
        company,
        client,
        invoice,
    };
    let about = About::shop(&shop);
    assert_ok(&deliver(&stack, &about.succeeded("evt_old", "pi_old", 12_000)).await);
    assert_eq!(balance(&stack, &shop).await, money(0, "USD"));

    let now = instant("2026-12-05T15:00:00Z");
    stack.set_now("2026-12-05T15:00:00Z");
    let swept = sweep::sweep_company(
        &stack.ctx,
        &shop.company,
        shop.company.today(now),
        now,
        Mode::Apply,
        Limits::default(),
    )
    .await
    .expect("the sweep runs");
    assert_eq!(swept.archived.len(), 1, "{swept:#?}");
    assert!(live_invoice(&stack, &shop).await.is_none(), "archived");

    let refund = about.refunded("evt_old_re", "pi_old", 12_000, &[("re_old", 5_000)]);
    assert_ok(&deliver(&stack, &refund).await);

    let back = live_invoice(&stack, &shop)
        .await
        .expect("back in the partition");
    assert_eq!(back.balance, money(5_000, "USD"));
    assert_eq!(back.payment_status(), PaymentStatus::PartlyPaid);
    let archived = stack
        .store()
        .archived_invoice(&shop.company.slug, &shop.client.id, &shop.invoice.id)
        .await
        .expect("read");
    assert_eq!(archived, None, "the archive copy is gone");
    let portal = stack
        .store()
        .client_portal(&shop.company.slug, &shop.client.id)
        .await
        .expect("read")
        .expect("exists");
    let home = PortalDay::new(&shop.company, &portal, day("2026-12-05")).home();
    let shown: Vec<&str> = home.invoices.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(shown, ["GR-0917"], "shown again");
    assert_eq!(refund_notes(&stack, &shop).len(), 1);

    let next_day = instant("2026-12-06T15:00:00Z");
    stack.set_now("2026-12-06T15:00:00Z");
    let swept = sweep::sweep_company(
        &stack.ctx,
        &shop.company,
        shop.company.today(next_day),
        next_day,
        Mode::Apply,
        Limits::default(),
    )
    .await
    .expect("the sweep runs");
    assert!(swept.archived.is_empty(), "an unpaid invoice stays");
}

/// Out of order: a failure arriving after the success changes nothing; a success after a
/// failure (the client tried another card in the same session) books the payment.
#[tokio::test]
async fn statuses_never_move_backwards() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let about = About::shop(&shop);

    start_checkout(&stack, &shop, "cs_late_fail", 12_000).await;
    assert_ok(
        &deliver(
            &stack,
            &about.completed("evt_s1", "pi_a", "cs_late_fail", 12_000),
        )
        .await,
    );
    let late = deliver(&stack, &about.failed("evt_f1", "pi_a")).await;
    assert_ok(&late);
    assert_eq!(late.json()["outcome"], "duplicate");
    assert_eq!(
        checkout_status(&stack, &shop, "cs_late_fail").await,
        CheckoutStatus::Paid
    );
    assert_eq!(balance(&stack, &shop).await, money(0, "USD"));

    let other = bill(
        &stack,
        &shop.company,
        &shop.client,
        "GR-1043",
        "2026-11-21",
        money(8_000, "USD"),
    )
    .await;
    let second = Shop {
        invoice: other,
        company: shop.company.clone(),
        client: shop.client.clone(),
    };
    let about = About::shop(&second);
    start_checkout(&stack, &second, "cs_retry", 8_000).await;
    let failed = deliver(&stack, &about.failed("evt_f2", "pi_b")).await;
    assert_ok(&failed);
    assert_eq!(
        checkout_status(&stack, &second, "cs_retry").await,
        CheckoutStatus::Failed
    );
    assert_eq!(
        balance(&stack, &second).await,
        money(8_000, "USD"),
        "no balance change"
    );

    assert_ok(&deliver(&stack, &about.succeeded("evt_s2", "pi_b", 8_000)).await);
    assert_eq!(
        checkout_status(&stack, &second, "cs_retry").await,
        CheckoutStatus::Paid
    );
    assert_eq!(balance(&stack, &second).await, money(0, "USD"));
    let again = deliver(&stack, &about.failed("evt_f2", "pi_b")).await;
    assert_ok(&again);
    assert_eq!(
        checkout_status(&stack, &second, "cs_retry").await,
        CheckoutStatus::Paid
    );
}

/// Events that do not match: another Stripe account, another currency, more than the
/// invoice's total, an invoice of another company, of another client, and none at all.
/// Each is refused with 400 and changes nothing; unknown event types are answered 200.
#[tokio::test]
async fn mismatched_events_are_refused_and_change_nothing() {
    let stack = stack_with(&[SECRET]).await;
    let green = shop(&stack, "greenridge", "USD", 12_000).await;
    let oak = shop(&stack, "oakleaf", "USD", 45_000).await;
    let lee = stack
        .client(&green.company, "Lee Park", "lee@greenridge.example")
        .await;
    let base = About::shop(&green);
    let cases = [
        (
            "another account",
            About {
                account: "acct_oakleaf".into(),
                ..base.clone()
            },
        ),
        (
            "another currency",
            About {
                currency: "eur".into(),
                ..base.clone()
            },
        ),
        (
            "another company's invoice",
            About {
                invoice: oak.invoice.id.to_string(),
                ..base.clone()
            },
        ),
        (
            "another company's client",
            About {
                client: oak.client.id.to_string(),
                ..base.clone()
            },
        ),
        (
            "another client's invoice",
            About {
                client: lee.id.to_string(),
                ..base.clone()
            },
        ),
        (
            "an unknown invoice",
            About {
                invoice: DocumentId::random().to_string(),
                ..base.clone()
            },
        ),
        (
            "an unknown company",
            About {
                company: "nobody-here".into(),
                ..base.clone()
            },
        ),
    ];

    for (i, (why, about)) in cases.iter().enumerate() {
        let event = about.completed(
            &format!("evt_bad_{i}"),
            &format!("pi_bad_{i}"),
            "cs_x",
            12_000,
        );
        let reply = deliver(&stack, &event).await;
        assert_eq!(reply.status, 400, "{why}: {}", reply.body);
    }
    let above = base.completed("evt_above", "pi_above", "cs_above", 12_001);
    let reply = deliver(&stack, &above).await;
    assert_eq!(reply.status, 400, "above the total: {}", reply.body);
    let oak_account = About {
        account: "acct_greenridge".into(),
        ..About::shop(&oak)
    };
    let reply = deliver(&stack, &oak_account.succeeded("evt_cross", "pi_cross", 100)).await;
    assert_eq!(
        reply.status, 400,
        "greenridge's account for oakleaf: {}",
        reply.body
    );

    for shop in [&green, &oak] {
        assert!(payments(&stack, shop).await.is_empty());
        assert_eq!(balance(&stack, shop).await, shop.invoice.total);
    }
    assert!(stack.mail().is_empty());

    let ignored = deliver(
        &stack,
        &base.event("evt_other", "customer.created", json!({ "id": "cus_1" })),
    )
    .await;
    assert_ok(&ignored);
    assert_eq!(ignored.json()["outcome"], "ignored");
}

/// Money is never lost: a payment for more than is left owing (two sessions paid at once)
/// books the rest as unapplied on the payment.
#[tokio::test]
async fn more_than_the_balance_is_kept_unapplied() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    let about = About::shop(&shop);

    assert_ok(&deliver(&stack, &about.completed("evt_o1", "pi_o1", "cs_o1", 12_000)).await);
    assert_ok(&deliver(&stack, &about.completed("evt_o2", "pi_o2", "cs_o2", 5_000)).await);

    let mut booked = payments(&stack, &shop).await;
    booked.sort_by_key(|p| p.amount.minor);
    assert_eq!(booked.len(), 2);
    assert_eq!(booked[0].amount.minor, 5_000);
    assert_eq!(booked[0].unapplied.minor, 5_000);
    assert!(booked[0].applied.is_empty());
    assert_eq!(balance(&stack, &shop).await, money(0, "USD"));
    let receipts = receipts(&stack, &shop);
    assert!(
        receipts
            .iter()
            .any(|r| r.contains("$50.00 more than the invoice owed"))
    );

    // The history names the credit until a refund gives it back.
    let cookie = sign_in(&stack, "greenridge", "dana@greenridge.example").await;
    let history = || Event::get("/p/greenridge/payments").cookie(Some(&cookie));
    let page = stack.call(history()).await;
    assert!(page.body.contains("Credit: $50.00"), "{}", page.body);
    let refund = about.refunded("evt_o3", "pi_o2", 5_000, &[("re_o2", 5_000)]);
    assert_ok(&deliver(&stack, &refund).await);
    let page = stack.call(history()).await;
    assert!(page.body.contains("Refunded"), "{}", page.body);
    assert!(!page.body.contains("Credit:"), "{}", page.body);
    assert_eq!(
        balance(&stack, &shop).await,
        money(0, "USD"),
        "the refund came out of the credit, not the invoice"
    );
}

/// Staff lower an invoice's total while its client is on Stripe's page paying the old
/// balance: the money Stripe took is booked all the same (what the invoice no longer owes
/// as credit), never refused and lost. Without a session of ours it would be refused.
#[tokio::test]
async fn a_session_paid_after_the_total_was_lowered_is_booked_with_the_surplus_as_credit() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    start_checkout(&stack, &shop, "cs_before_change", 12_000).await;
    let lowered = Invoice {
        lines: vec![],
        total: money(10_000, "USD"),
        balance: money(10_000, "USD"),
        ..shop.invoice.clone()
    };
    let key = keys::invoice(&shop.company.slug, &shop.client.id, &shop.invoice.id);
    stack
        .store()
        .upsert_record(&key, Entity::Invoice, &lowered, None)
        .await
        .expect("stored");

    let about = About::shop(&shop);
    let paid = about.completed("evt_l1", "pi_l1", "cs_before_change", 12_000);
    assert_ok(&deliver(&stack, &paid).await);
    let booked = payments(&stack, &shop).await;
    assert_eq!(booked.len(), 1, "{booked:?}");
    assert_eq!(booked[0].amount, money(12_000, "USD"));
    assert_eq!(booked[0].unapplied, money(2_000, "USD"));
    assert_eq!(balance(&stack, &shop).await, money(0, "USD"));
    assert_eq!(
        checkout_status(&stack, &shop, "cs_before_change").await,
        CheckoutStatus::Paid
    );
    assert_eq!(receipts(&stack, &shop).len(), 1);
}

/// `payment_intent.succeeded` names no Checkout Session: it settles the open session of
/// the invoice for that amount, so the page stops saying "processing".
#[tokio::test]
async fn a_payment_intent_alone_settles_its_checkout() {
    let stack = stack_with(&[SECRET]).await;
    let shop = shop(&stack, "greenridge", "USD", 12_000).await;
    start_checkout(&stack, &shop, "cs_other_amount", 2_000).await;
    start_checkout(&stack, &shop, "cs_this_one", 12_000).await;

    let about = About::shop(&shop);
    assert_ok(&deliver(&stack, &about.succeeded("evt_only", "pi_only", 12_000)).await);

    assert_eq!(
        checkout_status(&stack, &shop, "cs_this_one").await,
        CheckoutStatus::Paid
    );
    assert_eq!(
        checkout_status(&stack, &shop, "cs_other_amount").await,
        CheckoutStatus::Open
    );
    let attempt = stack
        .store()
        .checkout_attempt(&shop.company.slug, &shop.client.id, "cs_this_one")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(attempt.payment_intent.as_deref(), Some("pi_only"));
    assert_eq!(
        attempt.payment_id,
        Some(payments(&stack, &shop).await[0].id.clone())
    );
}
