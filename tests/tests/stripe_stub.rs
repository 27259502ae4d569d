//! The local Stripe stand-in, driven over HTTP the way Porchlight's payment code and a
//! browser drive it, with a small webhook receiver that checks every signature itself (its
//! own HMAC, not the stand-in's), so a stand-in that signed wrongly would fail here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use porchlight_infra::stripe_stub::{self, StripeStub, StubConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};

const SECRET: &str = "whsec_test_porchlight_stub";
const KEY: &str = "sk_test_porchlight";
const ACCOUNT: &str = "acct_1Craigs";
const STEP: Duration = Duration::from_secs(10);

// --- A webhook receiver -------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Received {
    signature: String,
    content_type: String,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answer 500 to this many requests first, as an endpoint having a bad moment.
    fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> (Self, SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let receiver = Self::default();
        let shared = receiver.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, std::convert::Infallible>(shared.answer(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (receiver, address, task)
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (signature, content_type) = (header("stripe-signature"), header("content-type"));
        let body = req.into_body().collect().await.unwrap().to_bytes();
        self.received.lock().unwrap().push(Received {
            signature,
            content_type,
            body: String::from_utf8(body.to_vec()).unwrap(),
        });

        let failing = self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
        *response.status_mut() = if failing {
            hyper::StatusCode::INTERNAL_SERVER_ERROR
        } else {
            hyper::StatusCode::OK
        };
        response
    }

    /// Every delivery so far, each checked against the secret, as events.
    fn events(&self) -> Vec<Value> {
        let received = self.received.lock().unwrap().clone();
        received.iter().map(verified).collect()
    }

    fn types(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// HMAC-SHA256 written out here, independently of the stand-in's.
fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = key.to_vec();
    if block.len() > 64 {
        block = Sha256::digest(&block).to_vec();
    }
    block.resize(64, 0);
    let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Checks a delivery as Porchlight's webhook must: `t=...,v1=...` over `"{t}.{body}"` with
/// the whole `whsec_` secret, recent, JSON.
fn verified(delivery: &Received) -> Value {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in delivery.signature.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().unwrap()),
            Some(("v1", v)) => signatures.push(v.to_owned()),
            _ => panic!("unexpected signature part `{part}`"),
        }
    }
    let timestamp = timestamp.expect("a timestamp");
    let expected = hex::encode(hmac(
        SECRET.as_bytes(),
        format!("{timestamp}.{}", delivery.body).as_bytes(),
    ));
    assert_eq!(
        signatures,
        vec![expected],
        "the signature is over t and the raw body"
    );
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 300);
    assert!(delivery.content_type.starts_with("application/json"));
    serde_json::from_str(&delivery.body).unwrap()
}

// --- The stand-in and a client --------------------------------------------------------------

struct Harness {
    stub: StripeStub,
    base: String,
    receiver: Receiver,
    http: Client<HttpConnector, Full<Bytes>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("JSON: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Harness {
    async fn start() -> Self {
        let (receiver, receiver_address, receiver_task) = Receiver::start().await;
        let listener = stripe_stub::bind(0).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stub = StripeStub::new(StubConfig {
            webhook_url: Some(format!("http://{receiver_address}/webhooks/stripe")),
            webhook_secret: SECRET.to_owned(),
            public_base: base.clone(),
        })
        .unwrap();
        let server = stub.spawn(listener);
        let http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        Self {
            stub,
            base,
            receiver,
            http,
            tasks: vec![receiver_task, server],
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if !body.is_empty() {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = tokio::time::timeout(STEP, self.http.request(request))
            .await
            .expect("the stand-in answers in time")
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    /// `POST /v1/...` as Porchlight makes it: Bearer key, connected account, form body.
    async fn api_post(&self, path: &str, body: &str, idempotency_key: Option<&str>) -> Answer {
        let auth = format!("Bearer {KEY}");
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("stripe-account", ACCOUNT),
        ];
        if let Some(key) = idempotency_key {
            headers.push(("idempotency-key", key));
        }
        self.call(Method::POST, path, &headers, body).await
    }

    async fn api_get(&self, path: &str) -> Answer {
        let auth = format!("Bearer {KEY}");
        let headers = [
            ("authorization", auth.as_str()),
            ("stripe-account", ACCOUNT),
        ];
        self.call(Method::GET, path, &headers, "").await
    }

    async fn create_session(&self, amount: &str, currency: &str) -> Value {
        let answer = self
            .api_post(
                "/v1/checkout/sessions",
                &session_form(amount, currency, &[]),
                None,
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()
    }

    async fn page(&self, session: &Value) -> Answer {
        let path = format!("/checkout/{}", session["id"].as_str().unwrap());
        self.call(Method::GET, &path, &[], "").await
    }

    async fn pay(&self, session: &str, card: &str, query: &str) -> Answer {
        let form = form(&[("card_number", card), ("expiry", "12 / 34"), ("cvc", "123")]);
        self.call(
            Method::POST,
            &format!("/checkout/{session}{query}"),
            &[],
            &form,
        )
        .await
    }

    async fn set_mode(&self, fields: &[(&str, &str)]) {
        let answer = self
            .call(Method::POST, "/_stub/mode", &[], &form(fields))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The Checkout Session Porchlight creates for an invoice, with `extra` fields appended.
fn session_form(amount: &str, currency: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", currency),
        ("line_items[0][price_data][unit_amount]", amount),
        (
            "line_items[0][price_data][product_data][name]",
            "Invoice GR-1042",
        ),
        ("line_items[0][quantity]", "1"),
        (
            "success_url",
            "http://127.0.0.1:3000/p/greenridge/paid?session={CHECKOUT_SESSION_ID}",
        ),
        (
            "cancel_url",
            "http://127.0.0.1:3000/p/greenridge/invoices/inv_1",
        ),
        ("client_reference_id", "inv_1"),
        ("customer_email", "birds@example.com"),
        ("metadata[invoice_id]", "inv_1"),
        ("metadata[company]", "greenridge"),
        ("payment_intent_data[metadata][invoice_id]", "inv_1"),
        ("payment_intent_data[metadata][company]", "greenridge"),
    ];
    pairs.extend_from_slice(extra);
    form(&pairs)
}

// --- Creating and reading sessions -----------------------------------------------------------

#[tokio::test]
async fn creates_a_checkout_session_in_stripes_shape() {
    let h = Harness::start().await;
    let expires_at = (chrono::Utc::now().timestamp() + 3600).to_string();

    let answer = h
        .api_post(
            "/v1/checkout/sessions",
            &session_form("12000", "usd", &[("expires_at", &expires_at)]),
            None,
        )
        .await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.header("request-id").unwrap().starts_with("req_"));
    let session = answer.json();
    let id = session["id"].as_str().unwrap();
    assert!(id.starts_with("cs_test_"));
    assert_eq!(session["object"], "checkout.session");
    assert_eq!(session["url"], format!("{}/checkout/{id}", h.base));
    assert_eq!(session["amount_total"], 12000);
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["status"], "open");
    assert_eq!(session["payment_status"], "unpaid");
    assert_eq!(session["payment_intent"], Value::Null);
    assert_eq!(session["metadata"]["invoice_id"], "inv_1");
    assert_eq!(session["metadata"]["company"], "greenridge");
    assert_eq!(session["client_reference_id"], "inv_1");
    assert_eq!(
        session["cancel_url"],
        "http://127.0.0.1:3000/p/greenridge/invoices/inv_1"
    );
    assert!(
        session["success_url"]
            .as_str()
            .unwrap()
            .ends_with("{CHECKOUT_SESSION_ID}")
    );
    assert!((session["created"].as_i64().unwrap() - chrono::Utc::now().timestamp()).abs() < 5);
    assert_eq!(session["expires_at"].as_str(), None);
    assert_eq!(session["expires_at"].to_string(), expires_at);
    assert_eq!(session["livemode"], false);

    let read = h.api_get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json(), session);
}

#[tokio::test]
async fn api_calls_need_a_test_key_and_the_right_account() {
    let h = Harness::start().await;
    let body = session_form("12000", "usd", &[]);

    for headers in [
        vec![],
        vec![("authorization", "Bearer sk_live_abc")],
        vec![("authorization", "Basic c2tfdGVzdF94Og==")],
        vec![("authorization", "Bearer pk_test_abc")],
    ] {
        let answer = h
            .call(Method::POST, "/v1/checkout/sessions", &headers, &body)
            .await;
        assert_eq!(answer.status, 401, "{headers:?}");
        assert_eq!(answer.json()["error"]["type"], "invalid_request_error");
        assert!(answer.json()["error"]["message"].is_string());
    }
    assert!(h.stub.sessions().is_empty());

    let session = h.create_session("12000", "usd").await;
    let id = session["id"].as_str().unwrap();
    let other_account = h
        .call(
            Method::GET,
            &format!("/v1/checkout/sessions/{id}"),
            &[
                ("authorization", "Bearer sk_test_x"),
                ("stripe-account", "acct_other"),
            ],
            "",
        )
        .await;
    assert_eq!(other_account.status, 404);

    let unknown = h.api_get("/v1/checkout/sessions/cs_test_nope").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "resource_missing");
    assert_eq!(unknown.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_same_session_or_refuses_other_parameters() {
    let h = Harness::start().await;
    let body = session_form("12000", "usd", &[]);

    let first = h
        .api_post("/v1/checkout/sessions", &body, Some("pay-inv_1-1"))
        .await;
    let again = h
        .api_post("/v1/checkout/sessions", &body, Some("pay-inv_1-1"))
        .await;
    let reordered: String = {
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        pairs.reverse();
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let reordered = h
        .api_post("/v1/checkout/sessions", &reordered, Some("pay-inv_1-1"))
        .await;
    let changed = h
        .api_post(
            "/v1/checkout/sessions",
            &session_form("12001", "usd", &[]),
            Some("pay-inv_1-1"),
        )
        .await;

    assert_eq!(first.status, 200);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(reordered.json()["id"], first.json()["id"]);
    assert_eq!(changed.status, 400);
    assert_eq!(changed.json()["error"]["type"], "idempotency_error");
    assert_eq!(h.stub.sessions().len(), 1);

    let other_key = h
        .api_post("/v1/checkout/sessions", &body, Some("pay-inv_1-2"))
        .await;
    assert_ne!(other_key.json()["id"], first.json()["id"]);
}

#[tokio::test]
async fn invalid_parameters_are_refused_naming_the_param() {
    let h = Harness::start().await;
    let unit = "line_items[0][price_data][unit_amount]";
    let currency = "line_items[0][price_data][currency]";
    let cases: &[(&str, Option<&str>, &str)] = &[
        (unit, Some("12.00"), unit),
        (unit, Some("0"), unit),
        (unit, Some("-100"), unit),
        (unit, None, unit),
        (currency, Some("USD"), currency),
        (currency, Some("dollars"), currency),
        ("mode", None, "mode"),
        ("mode", Some("subscription"), "mode"),
        ("success_url", None, "success_url"),
        ("cancel_url", None, "cancel_url"),
        ("success_url", Some("/relative"), "success_url"),
        ("metadata[bad", Some("x"), "metadata[bad"),
        (
            "line_items[0][price_data][recurring]",
            Some("month"),
            "line_items[0][price_data][recurring]",
        ),
    ];

    for (key, value, param) in cases {
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(session_form("12000", "usd", &[]).as_bytes())
                .into_owned()
                .filter(|(k, _)| k != key)
                .collect();
        if let Some(value) = value {
            pairs.push(((*key).to_owned(), (*value).to_owned()));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();

        let answer = h.api_post("/v1/checkout/sessions", &body, None).await;

        assert_eq!(answer.status, 400, "{key}={value:?}: {}", answer.body);
        let error = &answer.json()["error"];
        assert_eq!(error["type"], "invalid_request_error", "{key}={value:?}");
        assert_eq!(error["param"], *param, "{key}={value:?}");
    }
    assert!(h.stub.sessions().is_empty());
}

// --- The checkout page -------------------------------------------------------------------------

#[tokio::test]
async fn the_checkout_page_shows_the_amount_in_the_currencys_decimals() {
    let h = Harness::start().await;
    let usd = h.create_session("12000", "usd").await;
    let jpy = h.create_session("8800", "jpy").await;
    let named = h
        .api_post(
            "/v1/checkout/sessions",
            &session_form("500", "usd", &[])
                .replace("Invoice+GR-1042", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
            None,
        )
        .await
        .json();

    let usd_page = h.page(&usd).await;
    let jpy_page = h.page(&jpy).await;
    let named_page = h.page(&named).await;

    assert_eq!(usd_page.status, 200);
    assert!(
        usd_page
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(usd_page.body.contains("$120.00"), "{}", usd_page.body);
    assert!(usd_page.body.contains("name=\"card_number\""));
    assert!(usd_page.body.contains("name=\"expiry\""));
    assert!(usd_page.body.contains("name=\"cvc\""));
    assert!(jpy_page.body.contains("¥8,800"), "{}", jpy_page.body);
    assert!(!jpy_page.body.contains("8,800.00"));
    assert!(!jpy_page.body.contains("88.00"));
    assert!(named_page.body.contains("&lt;script&gt;"));
    assert!(!named_page.body.contains("<script>"));

    let missing = h.call(Method::GET, "/checkout/cs_test_nope", &[], "").await;
    assert_eq!(missing.status, 404);
    let id = usd["id"].as_str().unwrap();
    let cancel = h
        .call(Method::GET, &format!("/checkout/{id}/cancel"), &[], "")
        .await;
    assert_eq!(cancel.status, 303);
    assert_eq!(cancel.header("location"), usd["cancel_url"].as_str());
}

#[tokio::test]
async fn paying_with_4242_completes_the_session_and_sends_signed_events_in_order() {
    let h = Harness::start().await;
    let session = h.create_session("12000", "usd").await;
    let id = session["id"].as_str().unwrap();

    let paid = h.pay(id, "4242 4242 4242 4242", "").await;
    h.stub.settled().await;

    assert_eq!(paid.status, 303, "{}", paid.body);
    assert_eq!(
        paid.header("location"),
        Some(format!("http://127.0.0.1:3000/p/greenridge/paid?session={id}").as_str())
    );
    assert_eq!(
        h.receiver.types(),
        ["checkout.session.completed", "payment_intent.succeeded"]
    );
    let events = h.receiver.events();
    for event in &events {
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["object"], "event");
        assert_eq!(event["api_version"], "2024-06-20");
        assert_eq!(event["livemode"], false);
        assert_eq!(event["account"], ACCOUNT);
        assert_eq!(event["pending_webhooks"], 1);
        assert_eq!(event["request"]["id"], Value::Null);
        assert!(event["created"].is_i64());
    }
    let completed = &events[0]["data"]["object"];
    assert_eq!(completed["id"], id);
    assert_eq!(completed["status"], "complete");
    assert_eq!(completed["payment_status"], "paid");
    assert_eq!(completed["amount_total"], 12000);
    assert_eq!(completed["metadata"]["invoice_id"], "inv_1");
    let pi = completed["payment_intent"].as_str().unwrap();
    assert!(pi.starts_with("pi_"));

    let intent = &events[1]["data"]["object"];
    assert_eq!(intent["id"], pi);
    assert_eq!(intent["object"], "payment_intent");
    assert_eq!(intent["amount"], 12000);
    assert_eq!(intent["amount_received"], 12000);
    assert_eq!(intent["currency"], "usd");
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["metadata"]["invoice_id"], "inv_1");
    assert_eq!(intent["metadata"]["company"], "greenridge");
    assert!(intent["latest_charge"].as_str().unwrap().starts_with("ch_"));

    let read = h
        .api_get(&format!("/v1/checkout/sessions/{id}"))
        .await
        .json();
    assert_eq!(read["status"], "complete");
    assert_eq!(read["payment_status"], "paid");
    assert_eq!(read["payment_intent"], pi);

    let recorded = h.call(Method::GET, "/_stub/events", &[], "").await.json();
    let recorded = recorded.as_array().unwrap();
    assert_eq!(recorded.len(), 2);
    for event in recorded {
        assert_eq!(event["deliveries"][0]["status"], 200);
        assert_eq!(event["deliveries"][0]["kind"], "initial");
    }

    let twice = h.pay(id, "4242 4242 4242 4242", "").await;
    h.stub.settled().await;
    assert_eq!(twice.status, 200);
    assert!(twice.body.contains("already"), "{}", twice.body);
    assert_eq!(h.receiver.events().len(), 2);
}

#[tokio::test]
async fn a_declined_card_sends_payment_failed_and_the_page_offers_a_retry() {
    let h = Harness::start().await;
    let session = h.create_session("8800", "jpy").await;
    let id = session["id"].as_str().unwrap();

    let invalid = h.pay(id, "4111 1111 1111 1111", "").await;
    let declined = h.pay(id, "4000 0000 0000 0002", "").await;
    h.stub.settled().await;

    assert_eq!(invalid.status, 400);
    assert!(
        invalid.body.contains("card number is invalid"),
        "{}",
        invalid.body
    );
    assert_eq!(declined.status, 402);
    assert!(declined.body.contains("declined"), "{}", declined.body);
    assert!(
        declined.body.contains("name=\"card_number\""),
        "the page offers to retry"
    );
    let events = h.receiver.events();
    assert_eq!(h.receiver.types(), ["payment_intent.payment_failed"]);
    let intent = &events[0]["data"]["object"];
    assert_eq!(intent["last_payment_error"]["code"], "card_declined");
    assert!(intent["last_payment_error"]["message"].is_string());
    assert_eq!(intent["amount"], 8800);
    assert_eq!(intent["currency"], "jpy");
    let read = h
        .api_get(&format!("/v1/checkout/sessions/{id}"))
        .await
        .json();
    assert_eq!(read["status"], "open");
    assert_eq!(read["payment_status"], "unpaid");

    let retried = h.pay(id, "4242424242424242", "").await;
    h.stub.settled().await;
    assert_eq!(retried.status, 303);
    let events = h.receiver.events();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[2]["data"]["object"]["id"], intent["id"],
        "the same payment intent"
    );
    assert_eq!(events[2]["data"]["object"]["amount_received"], 8800);
}

// --- Refunds -----------------------------------------------------------------------------------

#[tokio::test]
async fn refunds_send_charge_refunded_with_the_cumulative_amount() {
    let h = Harness::start().await;
    let session = h.create_session("12000", "usd").await;
    let id = session["id"].as_str().unwrap();
    h.pay(id, "4242 4242 4242 4242", "").await;
    h.stub.settled().await;
    let pi = h.stub.session(id).unwrap()["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();

    let part = h
        .call(
            Method::POST,
            "/_stub/refunds",
            &[],
            &form(&[("payment_intent", &pi), ("amount", "2000")]),
        )
        .await;
    let rest = h
        .api_post(
            "/v1/refunds",
            &form(&[("payment_intent", &pi)]),
            Some("refund-1"),
        )
        .await;
    let again = h
        .api_post("/v1/refunds", &form(&[("payment_intent", &pi)]), None)
        .await;
    h.stub.settled().await;

    assert_eq!(part.status, 200, "{}", part.body);
    assert!(part.json()["id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(part.json()["amount"], 2000);
    assert_eq!(rest.status, 200, "{}", rest.body);
    assert_eq!(rest.json()["amount"], 10000);
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"]["code"], "charge_already_refunded");

    let events = h.receiver.events();
    let refunds: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "charge.refunded")
        .map(|e| &e["data"]["object"])
        .collect();
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0]["object"], "charge");
    assert!(refunds[0]["id"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(refunds[0]["amount"], 12000);
    assert_eq!(refunds[0]["amount_refunded"], 2000);
    assert_eq!(refunds[0]["refunded"], false);
    assert_eq!(refunds[0]["payment_intent"], pi.as_str());
    assert_eq!(refunds[0]["currency"], "usd");
    assert_eq!(refunds[0]["metadata"]["invoice_id"], "inv_1");
    assert_eq!(refunds[1]["amount_refunded"], 12000);
    assert_eq!(refunds[1]["refunded"], true);
    let listed = refunds[1]["refunds"]["data"].as_array().unwrap();
    assert_eq!(refunds[1]["refunds"]["object"], "list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["amount"], 10000);
    assert_eq!(listed[0]["status"], "succeeded");
    assert_eq!(listed[0]["payment_intent"], pi.as_str());
    assert_eq!(listed[1]["amount"], 2000);
    assert!(events.iter().all(|e| e["account"] == ACCOUNT));
}

#[tokio::test]
async fn refunds_cannot_exceed_the_payment() {
    let h = Harness::start().await;
    let session = h.create_session("12000", "usd").await;
    let id = session["id"].as_str().unwrap();
    let unpaid_pi = {
        h.pay(id, "4000000000000002", "").await;
        h.stub.session(id).unwrap()["payment_intent"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let unpaid = h
        .call(
            Method::POST,
            "/_stub/refunds",
            &[],
            &form(&[("payment_intent", &unpaid_pi)]),
        )
        .await;
    h.pay(id, "4242424242424242", "").await;
    let too_much = h
        .call(
            Method::POST,
            "/_stub/refunds",
            &[],
            &form(&[("payment_intent", &unpaid_pi), ("amount", "12001")]),
        )
        .await;
    let unknown = h
        .call(
            Method::POST,
            "/_stub/refunds",
            &[],
            &form(&[("payment_intent", "pi_nope")]),
        )
        .await;

    assert_eq!(unpaid.status, 400, "{}", unpaid.body);
    assert_eq!(too_much.status, 400, "{}", too_much.body);
    assert_eq!(too_much.json()["error"]["param"], "amount");
    assert_eq!(unknown.status, 404);
}

// --- Delivery modes ------------------------------------------------------------------------------

#[tokio::test]
async fn duplicates_mode_delivers_each_event_three_times() {
    let h = Harness::start().await;
    h.set_mode(&[("duplicates", "3")]).await;
    let session = h.create_session("12000", "usd").await;

    h.pay(session["id"].as_str().unwrap(), "4242 4242 4242 4242", "")
        .await;
    h.stub.settled().await;

    assert_eq!(
        h.receiver.types(),
        [
            "checkout.session.completed",
            "checkout.session.completed",
            "checkout.session.completed",
            "payment_intent.succeeded",
            "payment_intent.succeeded",
            "payment_intent.succeeded",
        ]
    );
    let events = h.receiver.events();
    assert!(
        events[..3].iter().all(|e| e == &events[0]),
        "copies are the same event"
    );
    assert!(events[3..].iter().all(|e| e == &events[3]));
    for event in h.stub.events() {
        assert_eq!(event.deliveries.len(), 3);
        assert!(event.deliveries.iter().all(|d| d.status == Some(200)));
    }
}

#[tokio::test]
async fn reverse_order_sends_the_payment_intent_first() {
    let h = Harness::start().await;
    let first = h.create_session("12000", "usd").await;
    let second = h.create_session("5000", "usd").await;

    h.set_mode(&[("order", "reverse")]).await;
    h.pay(first["id"].as_str().unwrap(), "4242 4242 4242 4242", "")
        .await;
    h.stub.settled().await;
    h.set_mode(&[]).await;
    // Per request, through the query string, leaving the stand-in's mode alone.
    h.pay(
        second["id"].as_str().unwrap(),
        "4242 4242 4242 4242",
        "?order=reverse",
    )
    .await;
    h.stub.settled().await;

    assert_eq!(
        h.receiver.types(),
        [
            "payment_intent.succeeded",
            "checkout.session.completed",
            "payment_intent.succeeded",
            "checkout.session.completed",
        ]
    );
    assert!(!h.stub.mode().reverse);
}

#[tokio::test]
async fn a_delay_lets_the_return_page_come_before_the_webhook() {
    let h = Harness::start().await;
    h.set_mode(&[("delay_ms", "300")]).await;
    let session = h.create_session("12000", "usd").await;

    let paid = h
        .pay(session["id"].as_str().unwrap(), "4242 4242 4242 4242", "")
        .await;
    let at_redirect = h.receiver.events().len();
    h.stub.settled().await;

    assert_eq!(paid.status, 303);
    assert_eq!(at_redirect, 0);
    assert_eq!(h.receiver.events().len(), 2);
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_every_attempt_recorded() {
    let h = Harness::start().await;
    h.receiver.fail_first.store(1, Ordering::SeqCst);
    let session = h.create_session("12000", "usd").await;

    h.pay(session["id"].as_str().unwrap(), "4242 4242 4242 4242", "")
        .await;
    tokio::time::timeout(Duration::from_secs(10), h.stub.settled())
        .await
        .unwrap();

    let events = h.stub.events();
    let statuses =
        |i: usize| -> Vec<Option<u16>> { events[i].deliveries.iter().map(|d| d.status).collect() };
    assert_eq!(events[0].kind, "checkout.session.completed");
    assert_eq!(statuses(0), [Some(500), Some(200)]);
    assert_eq!(statuses(1), [Some(200)]);
    // The retry is a fresh delivery of the same event.
    let types = h.receiver.types();
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "checkout.session.completed")
            .count(),
        2
    );
}

#[tokio::test]
async fn an_event_can_be_redelivered_many_times_at_once() {
    let h = Harness::start().await;
    let session = h.create_session("12000", "usd").await;
    h.pay(session["id"].as_str().unwrap(), "4242 4242 4242 4242", "")
        .await;
    h.stub.settled().await;
    let event = h.stub.events()[0].id.clone();

    let answer = h
        .call(
            Method::POST,
            &format!("/_stub/events/{event}/redeliver?times=5"),
            &[],
            "",
        )
        .await;
    let unknown = h
        .call(Method::POST, "/_stub/events/evt_nope/redeliver", &[], "")
        .await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    let deliveries = answer.json()["deliveries"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 5);
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] == 200 && d["kind"] == "redelivery")
    );
    let received = h.receiver.events();
    assert_eq!(received.len(), 7);
    assert_eq!(
        received
            .iter()
            .filter(|e| e["id"] == event.as_str())
            .count(),
        6
    );
    assert_eq!(h.stub.events()[0].deliveries.len(), 6);
    assert_eq!(unknown.status, 404);
}

// --- Configuration ------------------------------------------------------------------------------

#[test]
fn webhook_urls_off_loopback_are_refused_when_configured() {
    let config = |url: &str, secret: &str| StubConfig {
        webhook_url: Some(url.to_owned()),
        webhook_secret: secret.to_owned(),
        public_base: "http://127.0.0.1:12111".to_owned(),
    };

    for url in [
        "https://hooks.example.com/stripe",
        "http://example.com/webhooks/stripe",
        "http://localhost:3000/webhooks/stripe",
        "http://10.0.0.5:3000/webhooks/stripe",
        "http://127.0.0.1@example.com/webhooks/stripe",
        "https://127.0.0.1:3000/webhooks/stripe",
    ] {
        assert!(StripeStub::new(config(url, SECRET)).is_err(), "{url}");
    }
    assert!(StripeStub::new(config("http://127.0.0.1:3000/webhooks/stripe", "sk_test_x")).is_err());
    assert!(StripeStub::new(config("http://127.0.0.1:3000/webhooks/stripe", SECRET)).is_ok());
}
