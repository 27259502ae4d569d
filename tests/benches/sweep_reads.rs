//! How much the sweep reads: a table of 100,000 invoices (`SWEEP_BENCH_INVOICES` to
//! change it) of which 1% are due today, swept once, against a full Scan of the same
//! table run in the same process as the baseline. Prints figures and ratios; it checks
//! nothing about speed (these machines are shared and noisy).
//!
//! The table is filled the way earlier sweeps would have left it: paid invoices carry a
//! hint at the day their year is up, future-dated ones at the day they appear, unpaid
//! ones already announced carry none. The due 1% are paid invoices whose year ended
//! within the last month.
//!
//! Run with `make bench` (it starts DynamoDB Local and sets
//! `PORCHLIGHT_TEST_DYNAMODB_ENDPOINT`).

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{Days, Months, NaiveDate};
use serde_dynamo::aws_sdk_dynamodb_1::to_item;

use porchlight_shared::domain::{Billing, Client, Company, Invoice, Line, LineKind};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::store::keys::{self, Entity};
use porchlight_shared::sweep::{self, Limits, Mode};
use porchlight_tests::fixtures::usd;
use porchlight_tests::{TestStack, instant};

const INVOICES_PER_CLIENT: usize = 100;
const NOW: &str = "2026-12-04T18:00:00Z";

type Item = HashMap<String, AttributeValue>;

fn invoice(number: usize, date: NaiveDate, paid: bool) -> Invoice {
    Invoice {
        id: DocumentId::random(),
        number: format!("B-{number}"),
        billing: Billing::OneOff,
        job_id: None,
        property_name: None,
        invoice_date: Some(date),
        due_date: None,
        lines: vec![Line {
            kind: LineKind::Item,
            description: "Lawn care".into(),
            quantity: None,
            unit_price: None,
            amount: usd(4_500),
        }],
        total: usd(4_500),
        balance: usd(if paid { 0 } else { 4_500 }),
        voided: false,
        approved_on: None,
        sent_on: None,
        memo: None,
    }
}

/// Invoice `n` and the day its hint points at (none when nothing is waiting).
fn nth_invoice(n: usize, today: NaiveDate) -> (Invoice, Option<NaiveDate>) {
    let days = |d: usize| Days::new(d as u64);
    let year = |date: NaiveDate| date.checked_add_months(Months::new(12)).unwrap_or(date);
    match n % 100 {
        // Due: paid, its year up in the last 30 days.
        0 => {
            let date = today - Months::new(12) - days(n / 100 % 30);
            (invoice(n, date, true), Some(year(date)))
        }
        // Paid within the year: looked at again when it is up.
        1..=60 => {
            let date = today - days(1 + n % 330);
            (invoice(n, date, true), Some(year(date)))
        }
        // Dated ahead: looked at the day it appears.
        61..=69 => {
            let date = today + days(1 + n % 60);
            (invoice(n, date, false), Some(date))
        }
        // Shown, unpaid, announced: nothing waits until a payment.
        _ => (invoice(n, today - days(n % 200), false), None),
    }
}

fn item(company: &Company, client: &ClientId, invoice: &Invoice, hint: Option<NaiveDate>) -> Item {
    let key = keys::invoice(&company.slug, client, &invoice.id);
    let mut item: Item = to_item(invoice).expect("an invoice encodes");
    item.insert(keys::PK.into(), AttributeValue::S(key.pk.clone()));
    item.insert(keys::SK.into(), AttributeValue::S(key.sk.clone()));
    item.insert(
        keys::ENTITY_TYPE.into(),
        AttributeValue::S(Entity::Invoice.name().into()),
    );
    if let Some(day) = hint {
        let what = format!("{client}#{}", key.sk);
        item.insert(
            keys::GSI1PK.into(),
            AttributeValue::S(keys::sweep_partition(&company.slug)),
        );
        item.insert(
            keys::GSI1SK.into(),
            AttributeValue::S(keys::sweep_hint(Some(day), &what)),
        );
    }
    item
}

async fn write_all(stack: &TestStack, items: Vec<Item>) {
    let dynamo = stack.store().dynamo();
    let table = stack.store().table_name().to_owned();
    for chunk in items.chunks(25) {
        let mut pending: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .expect("a put request");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        while !pending.is_empty() {
            let output = dynamo
                .batch_write_item()
                .request_items(&table, pending)
                .send()
                .await
                .expect("batch write");
            pending = output
                .unprocessed_items
                .and_then(|mut left| left.remove(&table))
                .unwrap_or_default();
        }
    }
}

/// Every item of the table, the way a sweep without an index would have to read it.
async fn scan_everything(stack: &TestStack) -> u64 {
    let dynamo = stack.store().dynamo();
    let mut read = 0u64;
    let mut start = None;
    loop {
        let output = dynamo
            .scan()
            .table_name(stack.store().table_name())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        read += u64::try_from(output.scanned_count).unwrap_or(0);
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return read,
        }
    }
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("SWEEP_BENCH_INVOICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let stack = TestStack::new(NOW).await;
    let company = stack
        .company("bench", "Bench Lawn Care", "America/Chicago")
        .await;
    let today = company.today(instant(NOW));

    let filling = Instant::now();
    let mut items = Vec::with_capacity(total);
    let mut due = 0;
    let mut client = ClientId::random();
    for n in 0..total {
        if n % INVOICES_PER_CLIENT == 0 {
            client = ClientId::random();
            let record = Client {
                id: client.clone(),
                name: format!("Client {n}"),
                emails: vec![],
                phone: None,
                billing_address: None,
                properties: vec![],
            };
            stack
                .store()
                .save_client(&company.slug, &record)
                .await
                .expect("client");
        }
        let (invoice, hint) = nth_invoice(n, today);
        if hint.is_some_and(|day| day <= today) {
            due += 1;
        }
        items.push(item(&company, &client, &invoice, hint));
    }
    write_all(&stack, items).await;
    println!(
        "table: {total} invoices in {} clients, {due} due on {today} (filled in {:.1} s)",
        total.div_ceil(INVOICES_PER_CLIENT),
        filling.elapsed().as_secs_f64()
    );

    let scanning = Instant::now();
    let scanned = scan_everything(&stack).await;
    let scan_time = scanning.elapsed();

    let sweeping = Instant::now();
    let report = sweep::sweep_company(
        &stack.ctx,
        &company,
        today,
        instant(NOW),
        Mode::Apply,
        Limits::default(),
    )
    .await
    .expect("the sweep runs");
    let sweep_time = sweeping.elapsed();

    println!(
        "sweep: read {} items for {} due hints in {} requests, archived {}, {:.2} s",
        report.items_read,
        report.hints_read,
        report.requests,
        report.archived.len(),
        sweep_time.as_secs_f64()
    );
    println!(
        "baseline full scan: read {scanned} items in {:.2} s",
        scan_time.as_secs_f64()
    );
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    println!(
        "ratios: sweep reads / due = {:.2}, sweep reads / scan reads = {:.4}, \
         sweep time / scan time = {:.2}",
        ratio(report.items_read as f64, due as f64),
        ratio(report.items_read as f64, scanned as f64),
        ratio(sweep_time.as_secs_f64(), scan_time.as_secs_f64())
    );
}
