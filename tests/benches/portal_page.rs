//! The portal page: handler time per view of a signed-in client's home at 10, 200 and 1,000
//! documents, with the DynamoDB requests each view makes, the read capacity they consumed
//! (`ReturnConsumedCapacity` of its GetItems and Query, as DynamoDB Local reports it) and
//! the response size; against the portal's 404 page for the same signed-in client
//! measured in the same run as the baseline.
//!
//! Views go through `TestStack::call`, the same path as the handler tests: the API Gateway
//! v2 event turned into a request by `lambda_http`, then `portal::handle`. The bench is
//! built with the dev profile (it shares `make test`'s build), so handler times are those
//! of an unoptimised build against DynamoDB Local; the release binary's times are in the
//! memory bench. Prints figures and ratios; it checks nothing about speed.
//!
//! Run with `make bench`. `PORCHLIGHT_BENCH_VIEWS` (default 200) changes the views per page.

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use porchlight_tests::{Event, TestStack};
use serde_json::json;

use support::{median_p99, ms, ratio};

const SLUG: &str = "bench";
const SIZES: [usize; 3] = [10, 200, 1_000];
/// Views before measuring: the first ones open connections to DynamoDB Local.
const WARM_UP: usize = 5;

struct Page {
    label: String,
    median: Duration,
    p99: Duration,
    requests: f64,
    capacity: f64,
    bytes: usize,
}

async fn measure(stack: &TestStack, label: String, target: &str, cookie: &str) -> Page {
    let views = support::env_number("PORCHLIGHT_BENCH_VIEWS", 200).max(1);
    let event = Event::get(target).cookie(Some(cookie));
    for _ in 0..WARM_UP {
        stack.call(event.clone()).await;
    }

    let requests_before = stack.store().request_count();
    let capacity_before = stack.store().consumed_capacity();
    let mut times = Vec::with_capacity(views);
    let mut bytes = 0;
    for _ in 0..views {
        let started = Instant::now();
        let reply = stack.call(event.clone()).await;
        times.push(started.elapsed());
        assert!(
            reply.status == 200 || reply.status == 404,
            "{target} answered {}: {}",
            reply.status,
            reply.body
        );
        bytes = reply.body.len();
    }
    let requests = stack.store().request_count() - requests_before;
    let capacity = stack.store().consumed_capacity() - capacity_before;

    let (median, p99) = median_p99(&times);
    Page {
        label,
        median,
        p99,
        requests: requests as f64 / views as f64,
        capacity: capacity / views as f64,
        bytes,
    }
}

#[tokio::main]
async fn main() {
    let stack = TestStack::new(&Utc::now().to_rfc3339()).await;
    let company = stack
        .company(SLUG, "Bench Lawn Care", "America/Chicago")
        .await;

    let mut cookies = Vec::new();
    let filling = Instant::now();
    for documents in SIZES {
        cookies.push(support::client_with_documents(&stack, &company, documents).await);
    }
    println!(
        "portal page: one client each with {SIZES:?} unpaid invoices (filled in {:.1} s)",
        filling.elapsed().as_secs_f64()
    );

    let not_found = format!("/p/{SLUG}/no-such-page");
    let baseline = measure(
        &stack,
        "404 page (baseline)".into(),
        &not_found,
        &cookies[0],
    )
    .await;
    let mut pages = Vec::new();
    for (documents, cookie) in SIZES.iter().zip(&cookies) {
        let label = format!("home, {documents} documents");
        pages.push((
            *documents,
            measure(&stack, label, &format!("/p/{SLUG}"), cookie).await,
        ));
    }

    report(&baseline, &pages);
}

fn report(baseline: &Page, pages: &[(usize, Page)]) {
    let views = support::env_number("PORCHLIGHT_BENCH_VIEWS", 200).max(1);
    println!(
        "handler time per view (dev build, in process, DynamoDB Local), {views} views each; \
         ratio = median / the 404 page's median"
    );
    println!(
        "{:<22} {:>9} {:>9} {:>7} {:>10} {:>9} {:>9}",
        "page", "median ms", "p99 ms", "ratio", "requests", "RCU", "bytes"
    );
    let line = |page: &Page| {
        println!(
            "{:<22} {:>9.2} {:>9.2} {:>6.2}x {:>10.2} {:>9.2} {:>9}",
            page.label,
            ms(page.median),
            ms(page.p99),
            ratio(ms(page.median), ms(baseline.median)),
            page.requests,
            page.capacity,
            page.bytes
        );
    };
    line(baseline);
    let mut sizes = serde_json::Map::new();
    for (documents, page) in pages {
        line(page);
        sizes.insert(
            documents.to_string(),
            json!({
                "median_ms": ms(page.median),
                "p99_ms": ms(page.p99),
                "requests": page.requests,
                "rcu": page.capacity,
                "bytes": page.bytes,
            }),
        );
    }
    println!(
        "requests and RCU are per view; RCU is what DynamoDB reported for the GetItems and \
         the Query (strongly consistent reads)"
    );
    support::record_figures(
        "portal_page",
        &json!({
            "views": views,
            "sizes": sizes,
            "not_found": {
                "median_ms": ms(baseline.median),
                "requests": baseline.requests,
                "bytes": baseline.bytes,
            },
        }),
    );
}
