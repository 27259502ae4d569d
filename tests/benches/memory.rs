//! Memory: peak resident set size (`VmHWM` in `/proc/<pid>/status`) of the portal
//! function's release binary after serving 1,000 views of a signed-in client's home
//! through the runtime emulator, one process per size of the client (10, 200 and 1,000
//! documents), against the `hello-baseline` binary serving 1,000 events in the same run.
//!
//! The same runs give the release binary's time per view (from the emulator handing the
//! event out to the response fully received) as Lambda would bill it; DynamoDB Local's
//! answer time is part of it. The cost estimate uses these. Prints figures and ratios; it
//! checks nothing about speed or size.
//!
//! Run with `make bench`. `PORCHLIGHT_BENCH_MEMORY_VIEWS` (default 1,000) changes the
//! views per process.

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use porchlight_infra::runtime_emulator::{Outcome, RuntimeEmulator};
use porchlight_tests::{Event, TestStack};
use serde_json::json;

use support::{BASELINE, FunctionEnv, median_p99, ms, ratio};

const SLUG: &str = "bench";
const FUNCTION: &str = "portal";
const SIZES: [usize; 3] = [10, 200, 1_000];

struct Served {
    after_init_kib: u64,
    peak_kib: u64,
    median: Duration,
    p99: Duration,
    /// What Lambda would bill per view on average: each duration rounded up to 1 ms.
    mean_billed_ms: f64,
}

/// Starts `binary`, waits for its first poll, then has it serve `views` copies of `event`
/// one after another, as a warm Lambda instance would.
async fn serve(
    binary: &str,
    event: &serde_json::Value,
    views: usize,
    env: &FunctionEnv<'_>,
) -> Served {
    let mut emulator = RuntimeEmulator::start(binary, Duration::from_secs(10))
        .await
        .expect("the emulator listens");
    let child = support::spawn_function(binary, &emulator.runtime_api(), env);
    let pid = child.id().expect("a running child has a pid");

    let waiting = Instant::now();
    while emulator.first_poll().is_none() {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "{binary} never asked for an event (see .porchlight/bench/logs)"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let after_init_kib = support::peak_rss_kib(pid).unwrap_or(0);

    let mut times = Vec::with_capacity(views);
    for _ in 0..views {
        emulator.invoke(event);
        match emulator.outcome(Duration::from_secs(30)).await {
            Some(Outcome::Response {
                body,
                handed_out,
                received,
                ..
            }) => {
                let answer: serde_json::Value =
                    serde_json::from_slice(&body).expect("the response is JSON");
                let status = answer["statusCode"].as_u64().unwrap_or(200);
                assert_eq!(status, 200, "{binary} answered {answer}");
                times.push(received - handed_out);
            }
            other => panic!("{binary} did not answer a view: {other:?}"),
        }
    }
    let peak_kib = support::peak_rss_kib(pid).unwrap_or(0);
    support::stop(child).await;

    let (median, p99) = median_p99(&times);
    let billed: f64 = times.iter().map(|t| ms(*t).ceil().max(1.0)).sum();
    Served {
        after_init_kib,
        peak_kib,
        median,
        p99,
        mean_billed_ms: billed / times.len().max(1) as f64,
    }
}

#[tokio::main]
async fn main() {
    let views = support::env_number("PORCHLIGHT_BENCH_MEMORY_VIEWS", 1_000).max(1);
    let stack = TestStack::new(&Utc::now().to_rfc3339()).await;
    let company = stack
        .company(SLUG, "Bench Lawn Care", "America/Chicago")
        .await;
    let endpoint = porchlight_tests::dynamo_endpoint();
    let memory_mb = support::template_function(FUNCTION)
        .map_or_else(support::global_memory_mb, |f| f.memory_mb);
    let env = FunctionEnv {
        table: stack.store().table_name(),
        dynamodb_endpoint: &endpoint,
        memory_mb,
    };

    let baseline = serve(BASELINE, &json!({"hello": "world"}), views, &env).await;
    let mut served = Vec::new();
    for documents in SIZES {
        let cookie = support::client_with_documents(&stack, &company, documents).await;
        let event = Event::get(&format!("/p/{SLUG}"))
            .cookie(Some(&cookie))
            .to_json();
        served.push((documents, serve(FUNCTION, &event, views, &env).await));
    }

    report(&baseline, &served, views, memory_mb);
}

fn report(baseline: &Served, served: &[(usize, Served)], views: usize, memory_mb: u64) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "memory: peak RSS (VmHWM) of release binaries under the runtime emulator, {views} \
         views per process; ratio = peak / the baseline's peak; configured MemorySize \
         {memory_mb} MB"
    );
    println!(
        "{:<28} {:>14} {:>13} {:>7} {:>14} {:>11}",
        "process", "after init MiB", "peak MiB", "ratio", "view median ms", "view p99 ms"
    );
    let line = |label: &str, s: &Served| {
        println!(
            "{:<28} {:>14.1} {:>13.1} {:>6.2}x {:>14.2} {:>11.2}",
            label,
            mib(s.after_init_kib),
            mib(s.peak_kib),
            ratio(s.peak_kib as f64, baseline.peak_kib as f64),
            ms(s.median),
            ms(s.p99)
        );
    };
    line(&format!("{BASELINE} (baseline)"), baseline);
    let mut sizes = serde_json::Map::new();
    for (documents, s) in served {
        line(&format!("{FUNCTION}, {documents} documents"), s);
        sizes.insert(
            documents.to_string(),
            json!({
                "peak_kib": s.peak_kib,
                "median_ms": ms(s.median),
                "p99_ms": ms(s.p99),
                "mean_billed_ms": s.mean_billed_ms,
            }),
        );
    }
    support::record_figures(
        "memory",
        &json!({
            "views": views,
            "baseline_peak_kib": baseline.peak_kib,
            "sizes": sizes,
        }),
    );
}
