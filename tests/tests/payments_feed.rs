//! The back office's payments feed (`GET /api/v1/payments`) and the client's payment history
//! (`GET /p/{slug}/payments`): payments recorded through the API and by the QuickBooks
//! import each appear once, in the order they were written; paging follows the cursor; an
//! unchanged re-import adds nothing; one company never sees another's payments, nor one
//! client another's.

use std::collections::HashSet;
use std::path::Path;

use serde_json::{Value, json};

use porchlight_shared::domain::Company;
use porchlight_tests::back_office::{BackOffice, id, lines, usd};
use porchlight_tests::fixtures::sign_in;
use porchlight_tests::{Event, Reply, TestStack};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/qbo-sample");

/// The payments in the QuickBooks sample.
const SAMPLE_PAYMENTS: usize = 13;

async fn import(stack: &TestStack, company: &Company) -> porchlight_infra::qbo::ImportSummary {
    porchlight_infra::qbo::import_dir(stack.store(), company, Path::new(SAMPLE))
        .await
        .expect("the sample imports")
}

async fn new_client(office: &BackOffice<'_>, name: &str, email: &str) -> String {
    let body = json!({ "name": name, "contacts": [{ "name": name, "email": email }] });
    id(&office.create("clients", body).await)
}

/// A new invoice of `minor` for the client; its id.
async fn invoice(office: &BackOffice<'_>, client: &str, number: &str, minor: i64) -> String {
    let body = json!({ "number": number, "billing": { "kind": "one_off" },
        "invoice_date": "2026-06-01", "lines": lines(minor), "total": usd(minor) });
    id(&office
        .create(&format!("clients/{client}/invoices"), body)
        .await)
}

/// Records a payment through the API; its id.
async fn pay(
    office: &BackOffice<'_>,
    client: &str,
    invoice: &str,
    minor: i64,
    note: &str,
) -> String {
    let path = format!("clients/{client}/invoices/{invoice}/payments");
    let body = json!({ "amount": usd(minor), "received_on": "2026-06-02", "reference": note });
    let reply = office.post_keyed(&path, note, body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    id(&reply.json())
}

/// One page of the feed.
async fn page(office: &BackOffice<'_>, query: &str) -> Value {
    let reply = office.get(&format!("payments{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// The whole feed after `since`, read `limit` at a time; every payment and the last cursor.
async fn read_all(office: &BackOffice<'_>, since: Option<&str>, limit: u32) -> (Vec<Value>, Value) {
    let mut cursor = since.map(str::to_owned);
    let mut all = Vec::new();
    loop {
        let query = match &cursor {
            Some(cursor) => format!("?limit={limit}&since={}", encode(cursor)),
            None => format!("?limit={limit}"),
        };
        let page = page(office, &query).await;
        let payments = page["payments"].as_array().expect("payments").clone();
        assert!(payments.len() <= limit as usize);
        if payments.is_empty() {
            return (all, page["next_cursor"].clone());
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        all.extend(payments);
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn ids(payments: &[Value]) -> Vec<String> {
    payments.iter().map(id).collect()
}

fn problem_fields(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 422, "{}", reply.body);
    reply.json()["invalid_fields"]
        .as_array()
        .expect("invalid fields")
        .iter()
        .map(|f| f["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn the_feed_lists_api_and_imported_payments_once_in_order() {
    let stack = TestStack::new("2026-06-02T15:00:00Z").await;
    let craigs = stack
        .company(
            "craigs",
            "Craig's Design and Landscaping",
            "America/Los_Angeles",
        )
        .await;
    let office = BackOffice::of(&stack, &craigs).await;

    // The import's payments, then two through the API.
    let first = import(&stack, &craigs).await;
    assert!(first.changed_anything());
    let imported = page(&office, "").await;
    let imported_payments = imported["payments"].as_array().expect("payments").clone();
    assert_eq!(imported_payments.len(), SAMPLE_PAYMENTS, "{imported}");
    assert!(imported_payments.iter().all(|p| p["source"] == "import"));
    let after_import = imported["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();

    let sam = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let bill = invoice(&office, &sam, "INV-1", 30_000).await;
    let cheque = pay(&office, &sam, &bill, 10_000, "check 1001").await;
    let transfer = pay(&office, &sam, &bill, 20_000, "transfer 77").await;
    let since = page(&office, &format!("?since={}", encode(&after_import))).await;
    let recorded = since["payments"].as_array().expect("payments");
    assert_eq!(ids(recorded), [cheque.clone(), transfer.clone()]);
    assert_eq!(recorded[0]["source"], "api");
    assert_eq!(recorded[0]["client_id"], sam);
    assert_eq!(recorded[0]["amount"], usd(10_000));
    assert_eq!(recorded[0]["reference"], "check 1001");
    assert_eq!(
        recorded[0]["applied"],
        json!([{ "invoice_id": bill, "amount": usd(10_000) }])
    );
    assert_eq!(recorded[0]["voided"], false);
    assert!(recorded[0]["recorded_at"].is_string());

    // Read from the start four at a time: every payment once, in the order written.
    let (all, last) = read_all(&office, None, 4).await;
    assert_eq!(all.len(), SAMPLE_PAYMENTS + 2);
    let unique: HashSet<String> = ids(&all).into_iter().collect();
    assert_eq!(unique.len(), all.len(), "no payment twice");
    let times: Vec<&str> = all
        .iter()
        .map(|p| p["recorded_at"].as_str().expect("a time"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(ids(&all[SAMPLE_PAYMENTS..]), [cheque, transfer]);
    let last = last
        .as_str()
        .expect("the cursor of the last payment")
        .to_owned();

    // The same import again writes nothing, so the feed has nothing new.
    let second = import(&stack, &craigs).await;
    assert!(!second.changed_anything(), "{second}");
    let (after, cursor) = read_all(&office, Some(&last), 100).await;
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(
        cursor, last,
        "an empty page answers the cursor it was given"
    );

    // An instant reads from there: a reader re-reading a little in the past.
    let from = times[SAMPLE_PAYMENTS];
    let (again, _) = read_all(&office, Some(from), 100).await;
    assert_eq!(ids(&again), ids(&all[SAMPLE_PAYMENTS..]));
}

#[tokio::test]
async fn another_companys_payments_never_appear() {
    let stack = TestStack::new("2026-06-02T15:00:00Z").await;
    let oakleaf = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let greenridge = stack
        .company("greenridge", "Greenridge Lawn Co.", "America/Chicago")
        .await;
    let ours = BackOffice::of(&stack, &oakleaf).await;
    let theirs = BackOffice::of(&stack, &greenridge).await;

    let sam = new_client(&ours, "Sam Ortega", "sam@example.org").await;
    let dana = new_client(&theirs, "Dana Whitfield", "dana@example.net").await;
    let our_bill = invoice(&ours, &sam, "OK-1", 5_000).await;
    let their_bill = invoice(&theirs, &dana, "GR-1", 7_000).await;
    let our_payment = pay(&ours, &sam, &our_bill, 5_000, "cash").await;
    let their_payment = pay(&theirs, &dana, &their_bill, 7_000, "cash").await;
    import(&stack, &greenridge).await;

    let (ours_seen, _) = read_all(&ours, None, 200).await;
    assert_eq!(ids(&ours_seen), [our_payment]);
    let (theirs_seen, _) = read_all(&theirs, None, 200).await;
    assert_eq!(theirs_seen.len(), SAMPLE_PAYMENTS + 1);
    assert_eq!(ids(&theirs_seen)[0], their_payment);
}

#[tokio::test]
async fn a_bad_cursor_or_limit_is_refused() {
    let stack = TestStack::new("2026-06-02T15:00:00Z").await;
    let oakleaf = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let office = BackOffice::of(&stack, &oakleaf).await;
    let sam = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let bill = invoice(&office, &sam, "OK-1", 5_000).await;
    pay(&office, &sam, &bill, 5_000, "cash").await;
    let cursor = page(&office, "").await["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();

    for since in [
        "yesterday".to_owned(),
        format!("{cursor}x"),
        cursor.replace('#', "|"),
        "COMPANY#oakleaf".to_owned(),
    ] {
        let reply = office
            .get(&format!("payments?since={}", encode(&since)))
            .await;
        assert_eq!(problem_fields(&reply), ["since"], "{since}");
    }
    for limit in ["0", "201", "many"] {
        let reply = office.get(&format!("payments?limit={limit}")).await;
        assert_eq!(problem_fields(&reply), ["limit"], "{limit}");
    }
    let unauthenticated = stack.call(Event::get("/api/v1/payments")).await;
    assert_eq!(unauthenticated.status, 401);
}

#[tokio::test]
async fn the_payment_history_shows_the_clients_own_payments_newest_first() {
    let stack = TestStack::new("2026-06-02T15:00:00Z").await;
    let oakleaf = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let office = BackOffice::of(&stack, &oakleaf).await;
    let sam = new_client(&office, "Sam Ortega", "sam@example.org").await;
    let lee = new_client(&office, "Lee Park", "lee@example.net").await;
    let bill = invoice(&office, &sam, "OK-7", 30_000).await;
    let lees = invoice(&office, &lee, "OK-8", 9_000).await;
    let path = format!("clients/{sam}/invoices/{bill}/payments");
    let older = json!({ "amount": usd(10_000), "received_on": "2026-05-20",
        "reference": "check 1001" });
    assert_eq!(office.post_keyed(&path, "p-1", older).await.status, 201);
    let newer = json!({ "amount": usd(5_000), "received_on": "2026-06-01",
        "reference": "transfer 77" });
    assert_eq!(office.post_keyed(&path, "p-2", newer).await.status, 201);
    pay(&office, &lee, &lees, 9_000, "lee's own check").await;

    // Signed out: the sign-in page, not the history.
    let signed_out = stack.call(Event::get("/p/oakleaf/payments")).await;
    assert_eq!(signed_out.status, 401);
    assert!(
        signed_out.body.contains("action=\"/p/oakleaf/login\""),
        "{}",
        signed_out.body
    );
    assert!(!signed_out.body.contains("check 1001"));
    let signed_out_json = stack.call(Event::get("/p/oakleaf/payments").json()).await;
    assert_eq!(signed_out_json.status, 401);

    let cookie = sign_in(&stack, "oakleaf", "sam@example.org").await;
    let json = stack
        .call(
            Event::get("/p/oakleaf/payments")
                .cookie(Some(&cookie))
                .json(),
        )
        .await;
    assert_eq!(json.status, 200, "{}", json.body);
    let history = json.json();
    assert_eq!(history["client"]["id"], sam);
    let payments = history["payments"].as_array().expect("payments");
    let references: Vec<&str> = payments
        .iter()
        .map(|p| p["reference"].as_str().expect("a reference"))
        .collect();
    assert_eq!(references, ["transfer 77", "check 1001"], "newest first");
    assert_eq!(payments[0]["received_on"], "2026-06-01");
    assert_eq!(payments[0]["amount"], usd(5_000));
    assert_eq!(payments[0]["applied"][0]["number"], "OK-7");
    assert_eq!(payments[0]["applied"][0]["shown"], true);

    let page = stack
        .call(Event::get("/p/oakleaf/payments").cookie(Some(&cookie)))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("check 1001") && page.body.contains("transfer 77"));
    assert!(
        page.body
            .contains(&format!("href=\"/p/oakleaf/invoices/{bill}\""))
    );
    assert!(page.body.contains("Invoice #OK-7"));
    assert!(!page.body.contains("own check") && !page.body.contains("OK-8"));
    let head = stack
        .call(Event::head("/p/oakleaf/payments").cookie(Some(&cookie)))
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    // The home links the history, and the invoice's page lists its payments.
    let home = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&cookie)))
        .await;
    assert!(
        home.body.contains("href=\"/p/oakleaf/payments\""),
        "{}",
        home.body
    );
    let invoice_page = stack
        .call(Event::get(&format!("/p/oakleaf/invoices/{bill}")).cookie(Some(&cookie)))
        .await;
    assert_eq!(invoice_page.status, 200, "{}", invoice_page.body);
    assert!(
        invoice_page.body.contains("transfer 77"),
        "{}",
        invoice_page.body
    );
    assert!(invoice_page.body.contains("$50.00"));
    let invoice_json = stack
        .call(
            Event::get(&format!("/p/oakleaf/invoices/{bill}"))
                .cookie(Some(&cookie))
                .json(),
        )
        .await
        .json();
    assert_eq!(invoice_json["payments"].as_array().map(Vec::len), Some(2));
}
