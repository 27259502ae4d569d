//! What the benchmarks of `make bench` share: where `scripts/bench.sh` put the release
//! binaries, starting a function's binary under the runtime emulator with the environment
//! Lambda would give it, order statistics, and the figures file each benchmark leaves for
//! the cost estimate. Each bench includes it with `mod support;`, and not all of them use
//! all of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_yaml::Value;
use tokio::process::{Child, Command};

use porchlight_infra::template::TEMPLATE_YAML;

/// A required variable that `scripts/bench.sh` sets, or a panic that says to use it.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the benchmarks with `make bench` (scripts/bench.sh)")
    })
}

/// An optional number from the environment, for shorter or longer runs.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(default)
}

/// The directory with the release binaries the bench script built.
pub fn release_dir() -> PathBuf {
    PathBuf::from(env("PORCHLIGHT_BENCH_RELEASE_DIR"))
}

/// Where benchmarks write their logs and figures (under `.porchlight/bench/`).
pub fn state_dir() -> PathBuf {
    PathBuf::from(env("PORCHLIGHT_BENCH_STATE"))
}

/// The template's function binaries that the bench script built, in template order.
pub fn built_functions() -> Vec<String> {
    env("PORCHLIGHT_BENCH_FUNCTIONS")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The name of the baseline binary (`functions/hello-baseline`).
pub const BASELINE: &str = "hello-baseline";

/// The median and the 99th percentile (nearest rank) of some durations.
pub fn median_p99(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    let rank = |q: f64| {
        let index = (q * sorted.len() as f64).ceil() as usize;
        sorted[index.clamp(1, sorted.len()) - 1]
    };
    (rank(0.5), rank(0.99))
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `a / b`, or NaN when there is no baseline to divide by.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// Leaves `figures` for the cost estimate, as `<state>/figures/<name>.json`.
pub fn record_figures(name: &str, figures: &serde_json::Value) {
    let dir = state_dir().join("figures");
    std::fs::create_dir_all(&dir).expect("the figures directory can be made");
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(figures).expect("figures are JSON");
    std::fs::write(&path, text).expect("the figures file can be written");
}

/// What the cost estimate reads back; `None` when that benchmark did not run.
pub fn read_figures(name: &str) -> Option<serde_json::Value> {
    let path = state_dir().join("figures").join(format!("{name}.json"));
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// What the template says about one function, found by its `BuildProperties: Binary:`.
#[derive(Debug, Clone)]
pub struct TemplateFunction {
    pub binary: String,
    pub logical_id: String,
    pub memory_mb: u64,
    pub timeout: Duration,
    /// `(method, path)` of each HttpApi event with a path, in template order.
    pub routes: Vec<(String, String)>,
    /// Whether an EventBridge schedule runs it.
    pub scheduled: bool,
}

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE_YAML).expect("invariant: template.yaml parses")
}

fn number(value: Option<&Value>) -> Option<u64> {
    value.and_then(Value::as_u64)
}

/// The template's Globals `MemorySize` in MB.
pub fn global_memory_mb() -> u64 {
    let template = template();
    number(
        template
            .get("Globals")
            .and_then(|g| g.get("Function")?.get("MemorySize")),
    )
    .unwrap_or(128)
}

/// The function whose binary is `binary`, with Globals applied.
pub fn template_function(binary: &str) -> Option<TemplateFunction> {
    let template = template();
    let globals = template.get("Globals").and_then(|g| g.get("Function"));
    let resources = template.get("Resources")?.as_mapping()?;
    let (id, resource) = resources.iter().find(|(_, resource)| {
        resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties")?.get("Binary")?.as_str())
            == Some(binary)
    })?;
    let properties = resource.get("Properties")?;
    let setting = |name: &str| number(properties.get(name)).or(number(globals?.get(name)));
    let mut routes = Vec::new();
    let mut scheduled = false;
    if let Some(events) = properties.get("Events").and_then(Value::as_mapping) {
        for event in events.values() {
            let kind = event
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let props = event.get("Properties");
            let text = |name: &str| props?.get(name)?.as_str().map(str::to_owned);
            match kind {
                "HttpApi" => {
                    if let (Some(method), Some(path)) = (text("Method"), text("Path")) {
                        routes.push((method.to_uppercase(), path));
                    }
                }
                "Schedule" | "ScheduleV2" => scheduled = true,
                _ => {}
            }
        }
    }
    Some(TemplateFunction {
        binary: binary.to_owned(),
        logical_id: id.as_str()?.to_owned(),
        memory_mb: setting("MemorySize").unwrap_or(128),
        timeout: Duration::from_secs(setting("Timeout").unwrap_or(3)),
        routes,
        scheduled,
    })
}

/// What a spawned function reads: its table and the local DynamoDB.
pub struct FunctionEnv<'a> {
    pub table: &'a str,
    pub dynamodb_endpoint: &'a str,
    pub memory_mb: u64,
}

/// Starts `binary` from the release directory the way Lambda starts a `provided.al2023`
/// function: an environment holding only what Lambda and the template set, and the
/// runtime API at `runtime_api`. Its log lines go to `<state>/logs/<binary>.log`.
///
/// SES is pointed at a closed local port and no outbox is set, so the function builds
/// both SDK clients as it does in AWS, and any mail it tried to send would fail locally
/// instead of reaching AWS. Credentials are dummies that only DynamoDB Local accepts.
pub fn spawn_function(binary: &str, runtime_api: &str, env: &FunctionEnv<'_>) -> Child {
    let path = release_dir().join(binary);
    let logs = state_dir().join("logs");
    std::fs::create_dir_all(&logs).expect("the log directory can be made");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(format!("{binary}.log")))
        .expect("the log file opens");
    let errors = log.try_clone().expect("the log file handle clones");
    Command::new(&path)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", env.memory_mb.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_DYNAMODB", env.dynamodb_endpoint)
        // The discard port: nothing listens there, so a send fails at once, locally.
        .env("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:9")
        .env("PORCHLIGHT_TABLE", env.table)
        .env("PORCHLIGHT_BASE_URL", porchlight_tests::BASE_URL)
        .env(
            "PORCHLIGHT_MAIL_FROM",
            "Porchlight <portal@porchlight.test>",
        )
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(errors))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", path.display()))
}

/// Peak resident set size (`VmHWM`) of a running process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Ends a function started by [`spawn_function`] and reaps it.
pub async fn stop(mut child: Child) {
    let _ = child.kill().await;
}

/// A client of `company` with `documents` unpaid invoices dated over the past year (all of
/// them shown by the default rules), signed in through the real login flow. Returns the
/// session cookie (`name=value`).
pub async fn client_with_documents(
    stack: &porchlight_tests::TestStack,
    company: &porchlight_shared::domain::Company,
    documents: usize,
) -> String {
    use chrono::Days;
    use porchlight_tests::fixtures;

    let email = format!("client{documents}@example.com");
    let client = stack
        .client(company, &format!("Client with {documents}"), &email)
        .await;
    let today = company.today(chrono::Utc::now());
    for n in 0..documents {
        let date = today - Days::new((n % 360) as u64);
        let number = format!("B-{n:05}");
        let total = 4_500 + (n as i64 % 40) * 125;
        fixtures::invoice(
            stack,
            company,
            &client,
            &number,
            &date.to_string(),
            total,
            total,
        )
        .await;
    }
    fixtures::sign_in(stack, company.slug.as_str(), &email).await
}
