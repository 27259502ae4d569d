//! Cold start: each function's release binary started as Lambda starts it, under the
//! runtime emulator of `porchlight_infra::runtime_emulator`, timed from spawn to the
//! emulator holding its first response, against the `hello-baseline` binary (a bare
//! `lambda_runtime` loop built with the same profile) measured in the same run.
//!
//! Each function gets a request it really serves, taken from its first GET route in
//! `template.yaml` (else its first route; an EventBridge schedule event for the sweep),
//! against a table of its own in DynamoDB Local holding one company. Runs alternate
//! between the binaries, so a burst of load on this shared machine falls on all of
//! them alike. "init" is spawn to the first `/next` poll: the clients built, before any
//! request. Prints figures and ratios; it checks nothing about speed.
//!
//! Run with `make bench` (it builds the binaries and sets `PORCHLIGHT_BENCH_*`).

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use porchlight_infra::runtime_emulator::{Outcome, RuntimeEmulator};
use porchlight_tests::{Event, TestStack};
use serde_json::json;

use support::{BASELINE, FunctionEnv, median_p99, ms, ratio};

const SLUG: &str = "bench";

/// What a function is asked first.
fn first_event(function: &support::TemplateFunction) -> serde_json::Value {
    if function.routes.is_empty() && function.scheduled {
        return json!({
            "version": "0",
            "id": "00000000-0000-4000-8000-000000000001",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": Utc::now().to_rfc3339(),
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"],
            "detail": {},
        });
    }
    let (method, path) = function
        .routes
        .iter()
        .find(|(method, _)| method == "GET")
        .or(function.routes.first())
        .cloned()
        .unwrap_or_else(|| ("GET".into(), "/".into()));
    let method = if method == "ANY" {
        "GET".into()
    } else {
        method
    };
    let path = fill_parameters(&path);
    let event = match method.as_str() {
        "POST" => Event::post(&path),
        "HEAD" => Event::head(&path),
        _ => Event::get(&path),
    };
    event.to_json()
}

/// `/p/{slug}/login/{token}` becomes `/p/bench/login/bench-token`; a greedy `{proxy+}`
/// becomes `openapi.json`, the one back-office path that needs no key.
fn fill_parameters(path: &str) -> String {
    path.split('/')
        .map(|part| match part {
            "{slug}" => SLUG.to_owned(),
            "{proxy+}" => "openapi.json".to_owned(),
            _ if part.starts_with('{') => format!("bench-{}", part.trim_matches(['{', '}'])),
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

struct Run {
    init: Duration,
    first_response: Duration,
    /// The HTTP status of the answer, for the functions behind the HTTP API.
    status: Option<u64>,
}

/// One cold start: a fresh emulator, a fresh process, one event.
async fn cold_start(binary: &str, event: &serde_json::Value, env: &FunctionEnv<'_>) -> Run {
    let timeout = Duration::from_secs(300);
    let mut emulator = RuntimeEmulator::start(binary, timeout)
        .await
        .expect("the emulator listens");
    emulator.invoke(event);

    let spawned = Instant::now();
    let child = support::spawn_function(binary, &emulator.runtime_api(), env);
    let outcome = emulator.outcome(Duration::from_secs(60)).await;
    let first_poll = emulator.first_poll();
    support::stop(child).await;

    let (received, body) = match outcome {
        Some(Outcome::Response { received, body, .. }) => (received, body),
        Some(other) => panic!("{binary} did not answer its first event: {other:?}"),
        None => panic!("{binary} sent nothing back within 60 s (see .porchlight/bench/logs)"),
    };
    Run {
        init: first_poll.map_or(Duration::ZERO, |at| at - spawned),
        first_response: received - spawned,
        status: serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|answer| answer.get("statusCode")?.as_u64()),
    }
}

#[tokio::main]
async fn main() {
    let runs = support::env_number("PORCHLIGHT_BENCH_COLD_RUNS", 7).max(1);
    let stack = TestStack::new(&Utc::now().to_rfc3339()).await;
    stack
        .company(SLUG, "Bench Lawn Care", "America/Chicago")
        .await;
    let endpoint = porchlight_tests::dynamo_endpoint();

    let mut binaries = vec![(BASELINE.to_owned(), json!({"hello": "world"}), 128)];
    for binary in support::built_functions() {
        match support::template_function(&binary) {
            Some(function) => {
                let event = first_event(&function);
                binaries.push((binary, event, function.memory_mb));
            }
            None => println!("{binary}: not in template.yaml, skipped"),
        }
    }

    let mut measured: Vec<Vec<Run>> = binaries.iter().map(|_| Vec::new()).collect();
    for _ in 0..runs {
        for ((binary, event, memory_mb), runs) in binaries.iter().zip(&mut measured) {
            let env = FunctionEnv {
                table: stack.store().table_name(),
                dynamodb_endpoint: &endpoint,
                memory_mb: *memory_mb,
            };
            runs.push(cold_start(binary, event, &env).await);
        }
    }

    report(&binaries, &measured, runs);
}

fn report(binaries: &[(String, serde_json::Value, u64)], measured: &[Vec<Run>], runs: usize) {
    let summary = |runs: &[Run]| {
        let init: Vec<Duration> = runs.iter().map(|r| r.init).collect();
        let first: Vec<Duration> = runs.iter().map(|r| r.first_response).collect();
        let min = first.iter().min().copied().unwrap_or_default();
        let max = first.iter().max().copied().unwrap_or_default();
        (median_p99(&init).0, median_p99(&first).0, min, max)
    };
    let (_, baseline, _, _) = summary(&measured[0]);

    println!(
        "cold start: spawn to first response of release binaries under the runtime emulator, \
         median of {runs} runs"
    );
    println!(
        "{:<26} {:>8} {:>15} {:>12} {:>7}  first request (status)",
        "binary", "init ms", "first resp. ms", "min-max ms", "ratio"
    );
    let mut figures = serde_json::Map::new();
    for ((binary, event, _), runs) in binaries.iter().zip(measured) {
        let (init, first, min, max) = summary(runs);
        let request = match (event.get("rawPath"), event.get("detail-type")) {
            (Some(path), _) => format!(
                "{} {}",
                event["requestContext"]["http"]["method"]
                    .as_str()
                    .unwrap_or("GET"),
                path.as_str().unwrap_or_default()
            ),
            (None, Some(_)) => "EventBridge schedule event".into(),
            (None, None) => "a plain JSON event".into(),
        };
        let status = runs
            .last()
            .and_then(|run| run.status)
            .map_or_else(String::new, |code| format!(" ({code})"));
        let label = if binary == BASELINE {
            format!("{binary} (baseline)")
        } else {
            binary.clone()
        };
        println!(
            "{:<26} {:>8.1} {:>15.1} {:>12} {:>6.2}x  {request}{status}",
            label,
            ms(init),
            ms(first),
            format!("{:.1}-{:.1}", ms(min), ms(max)),
            ratio(ms(first), ms(baseline)),
        );
        figures.insert(
            binary.clone(),
            json!({"init_ms": ms(init), "first_response_ms": ms(first)}),
        );
    }
    support::record_figures("cold_start", &serde_json::Value::Object(figures));
}
