//! A cost estimate per million portal page views, from the figures the other benchmarks of
//! this run left in `.porchlight/bench/figures/` and the prices written below, with every
//! step of the arithmetic printed. Free tiers are left out; the figures were measured on
//! x86_64 against DynamoDB Local, and the arm64 line assumes the same duration there.
//!
//! Run with `make bench`, after the portal page, memory and cold start benchmarks.

mod support;

use serde_json::Value;

// us-east-1 list prices. Lambda and the HTTP API as AWS lists them; DynamoDB on-demand
// as listed late 2024 (after the November 2024 price cut). Check them before relying on
// the totals: prices change, and other regions differ.
const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_X86_64_PER_GB_SECOND: f64 = 0.000_016_666_7;
const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
const HTTP_API_PER_MILLION_REQUESTS: f64 = 1.00;
const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;

/// The HTTP API meters requests in 512 KB increments.
const HTTP_API_METERING_BYTES: f64 = 512.0 * 1024.0;
const VIEWS: f64 = 1_000_000.0;

fn number(value: &Value, path: &[&str]) -> Option<f64> {
    path.iter()
        .try_fold(value, |value, key| value.get(*key))
        .and_then(Value::as_f64)
}

fn dollars(amount: f64) -> String {
    format!("${amount:.4}")
}

/// One line of arithmetic, its result lined up on the right.
fn line(item: &str, arithmetic: &str, amount: f64) {
    println!("  {item:<16} {arithmetic:<76} = {}", dollars(amount));
}

/// One size of the client's portal: what a million views cost and why.
fn estimate(documents: &str, page: &Value, memory: &Value, gigabytes: f64) -> Option<()> {
    let median_ms = number(memory, &["sizes", documents, "median_ms"])?;
    let billed_ms = number(memory, &["sizes", documents, "mean_billed_ms"])?;
    let requests = number(page, &["sizes", documents, "requests"])?;
    let rcu = number(page, &["sizes", documents, "rcu"])?;
    let bytes = number(page, &["sizes", documents, "bytes"])?;

    let gb_seconds = VIEWS * billed_ms / 1000.0 * gigabytes;
    let arm64 = gb_seconds * LAMBDA_ARM64_PER_GB_SECOND;
    let x86_64 = gb_seconds * LAMBDA_X86_64_PER_GB_SECOND;
    let units_per_view = (bytes / HTTP_API_METERING_BYTES).ceil().max(1.0);
    let http_api = units_per_view * HTTP_API_PER_MILLION_REQUESTS;
    // On-demand bills the read units DynamoDB reported, whatever the number of requests.
    let dynamodb = rcu * DYNAMODB_PER_MILLION_READ_UNITS;

    println!("home with {documents} documents, per 1,000,000 views:");
    line(
        "Lambda requests",
        &format!("1M x ${LAMBDA_PER_MILLION_REQUESTS:.2}/M"),
        LAMBDA_PER_MILLION_REQUESTS,
    );
    println!(
        "  {:<16} 1M x {billed_ms:.2} ms billed (mean of each view rounded up to 1 ms; median \
         {median_ms:.2} ms) x {gigabytes} GB = {gb_seconds:.0} GB-s",
        "Lambda duration"
    );
    line(
        "  arm64",
        &format!("{gb_seconds:.0} GB-s x ${LAMBDA_ARM64_PER_GB_SECOND}"),
        arm64,
    );
    line(
        "  x86_64",
        &format!("{gb_seconds:.0} GB-s x ${LAMBDA_X86_64_PER_GB_SECOND}"),
        x86_64,
    );
    line(
        "HTTP API",
        &format!(
            "1M x {units_per_view:.0} request ({bytes:.0} bytes, metered per 512 KB) x \
             ${HTTP_API_PER_MILLION_REQUESTS:.2}/M"
        ),
        http_api,
    );
    line(
        "DynamoDB reads",
        &format!(
            "1M x {rcu:.1} RRU (reported for {requests:.0} requests) = {rcu:.1}M RRU x \
             ${DYNAMODB_PER_MILLION_READ_UNITS}/M"
        ),
        dynamodb,
    );
    let shared = LAMBDA_PER_MILLION_REQUESTS + http_api + dynamodb;
    println!(
        "  {:<16} arm64 {} (x86_64 {}), {} per 1,000 views",
        "total",
        dollars(shared + arm64),
        dollars(shared + x86_64),
        dollars((shared + arm64) / 1000.0)
    );
    Some(())
}

fn cold_starts(cold: &Value, gigabytes: f64) {
    let Some(init_ms) = number(cold, &["portal", "init_ms"]) else {
        println!("cold starts: no portal figure from the cold start benchmark");
        return;
    };
    // Lambda bills the init phase of a cold start as duration.
    let billed_ms = init_ms.ceil().max(1.0);
    let gb_seconds = VIEWS * billed_ms / 1000.0 * gigabytes;
    println!(
        "cold starts (portal init {init_ms:.1} ms, billed {billed_ms:.0} ms): 1M cold starts = \
         {gb_seconds:.0} GB-s = {} arm64, {} x86_64; if 1% of views start cold, add 1% of that",
        dollars(gb_seconds * LAMBDA_ARM64_PER_GB_SECOND),
        dollars(gb_seconds * LAMBDA_X86_64_PER_GB_SECOND)
    );
}

fn main() {
    let memory_mb = support::global_memory_mb();
    let gigabytes = memory_mb as f64 / 1024.0;
    println!(
        "cost estimate per 1,000,000 portal views, us-east-1 list prices: Lambda arm64 \
         ${LAMBDA_ARM64_PER_GB_SECOND}/GB-s, x86_64 ${LAMBDA_X86_64_PER_GB_SECOND}/GB-s, \
         ${LAMBDA_PER_MILLION_REQUESTS:.2}/M requests; HTTP API \
         ${HTTP_API_PER_MILLION_REQUESTS:.2}/M requests; DynamoDB on-demand \
         ${DYNAMODB_PER_MILLION_READ_UNITS}/M read request units (as listed late 2024); \
         free tiers left out"
    );
    println!(
        "memory: {memory_mb} MB (template.yaml Globals MemorySize) = {gigabytes:.4} GB; \
         duration: the release binary's median per view from the memory benchmark; reads: \
         the read request units DynamoDB reported for each view's GetItems and Query in the \
         portal page benchmark"
    );

    let (Some(page), Some(memory)) = (
        support::read_figures("portal_page"),
        support::read_figures("memory"),
    ) else {
        println!("no estimate: the portal page and memory benchmarks left no figures this run");
        return;
    };
    let mut sizes: Vec<String> = page["sizes"]
        .as_object()
        .map(|sizes| sizes.keys().cloned().collect())
        .unwrap_or_default();
    sizes.sort_by_key(|size| size.parse::<u64>().unwrap_or(u64::MAX));
    for documents in &sizes {
        if estimate(documents, &page, &memory, gigabytes).is_none() {
            println!("home with {documents} documents: a figure is missing, no estimate");
        }
    }
    match support::read_figures("cold_start") {
        Some(cold) => cold_starts(&cold, gigabytes),
        None => println!("cold starts: the cold start benchmark left no figures this run"),
    }
}
