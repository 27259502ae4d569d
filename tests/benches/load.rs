//! The local stack under load: the release build of `porchlight-local` on a free port of
//! 127.0.0.1 (its own table in the bench's DynamoDB Local, its outbox under
//! `.porchlight/bench/`), with the QuickBooks sample loaded as on `make run`. A client
//! (`birds@example.com`) signs in through the real login flow over HTTP, then Debian's
//! `wrk` requests the client's portal home with that session cookie for 15 s, and the
//! stack's 404 page the same way as the baseline, in the same run.
//!
//! Everything runs on this one shared 2-core machine (DynamoDB Local's JVM, the stack and
//! `wrk`), so requests per second here say how the pieces compare, not what AWS would
//! serve. Prints figures and ratios; it checks nothing about speed.
//!
//! Run with `make bench` (it installs `wrk` if missing). `PORCHLIGHT_BENCH_LOAD_SECONDS`
//! (default 15) and `PORCHLIGHT_BENCH_LOAD_CONNECTIONS` (default 8) change the load.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use porchlight_shared::auth::SESSION_COOKIE;
use porchlight_shared::ids::random_bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use support::ratio;

const SLUG: &str = "craigs-landscaping";
const EMAIL: &str = "birds@example.com";

/// A started `porchlight-local`, ended when dropped.
struct LocalStack {
    child: Child,
    port: u16,
    outbox: PathBuf,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    listener.local_addr().expect("a bound address").port()
}

async fn start_stack() -> LocalStack {
    let port = free_port();
    let dir = support::state_dir().join(format!("load-{port}"));
    let outbox = dir.join("outbox");
    std::fs::create_dir_all(&outbox).expect("the stack's state directory can be made");
    let table = format!("bench-local-{}", hex::encode(random_bytes::<6>()));
    let binary = support::release_dir().join("porchlight-local");
    let log_path = dir.join("porchlight-local.log");
    let log = std::fs::File::create(&log_path).expect("the stack's log file opens");

    let mut child = Command::new(&binary)
        .env("PORCHLIGHT_PORT", port.to_string())
        .env("PORCHLIGHT_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("PORCHLIGHT_TABLE", &table)
        .env("PORCHLIGHT_OUTBOX_DIR", &outbox)
        .env("PORCHLIGHT_LOGIN_ANSWER_MS", "0")
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            porchlight_tests::dynamo_endpoint(),
        )
        .env("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));

    // It prints "Porchlight is running." once the demo is loaded and it serves.
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(180), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Porchlight is running.") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(ready, Ok(true)),
        "porchlight-local did not start within 180 s (see {})",
        log_path.display()
    );
    // Keep draining its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    LocalStack {
        child,
        port,
        outbox,
    }
}

/// A reply read off the wire: status, headers, body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
}

/// One HTTP/1.1 request over a fresh connection to the stack, read to its end.
async fn http(port: u16, method: &str, path: &str, extra: &[(&str, &str)], body: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("the stack accepts connections");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n\
         content-length: {}\r\n",
        body.len()
    );
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("reply read");
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply { status, headers }
}

/// The path of the sign-in link in the one message of `outbox`.
fn login_link(outbox: &Path, port: u16) -> Option<String> {
    let base = format!("http://127.0.0.1:{port}");
    std::fs::read_dir(outbox)
        .ok()?
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .find_map(|message| {
            message
                .split_whitespace()
                .find(|word| word.starts_with(&base) && word.contains("/login/"))
                .map(|url| url.trim_start_matches(&base).to_owned())
        })
}

/// Signs in as [`EMAIL`] through the forms a browser would post; returns `name=value`.
async fn sign_in(stack: &LocalStack) -> String {
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let body = format!("email={}", EMAIL.replace('@', "%40"));
    let asked = http(
        stack.port,
        "POST",
        &format!("/p/{SLUG}/login"),
        &form,
        &body,
    )
    .await;
    assert_eq!(asked.status, 200, "asking for a sign-in link");
    let link = login_link(&stack.outbox, stack.port).expect("the outbox holds a sign-in link");
    let redeemed = http(stack.port, "POST", &link, &form, "").await;
    assert_eq!(redeemed.status, 303, "redeeming the sign-in link");
    redeemed
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .filter_map(|(_, value)| value.split(';').next())
        .find(|pair| pair.starts_with(SESSION_COOKIE) && !pair.ends_with('='))
        .map(str::to_owned)
        .expect("a session cookie is set")
}

/// What `wrk --latency` printed, in milliseconds.
#[derive(Default)]
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    not_2xx_3xx: u64,
    errors: String,
}

/// `1.23ms`, `456.00us`, `1.01s`, `2.00m` as milliseconds.
fn wrk_millis(text: &str) -> Option<f64> {
    let units = [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)];
    units.iter().find_map(|(unit, scale)| {
        let number = text.strip_suffix(unit)?;
        number.parse::<f64>().ok().map(|n| n * scale)
    })
}

fn parse_wrk(output: &str) -> Load {
    let mut load = Load::default();
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => load.p50_ms = wrk_millis(value).unwrap_or(f64::NAN),
            ["99%", value] => load.p99_ms = wrk_millis(value).unwrap_or(f64::NAN),
            ["Requests/sec:", value] => load.requests_per_second = value.parse().unwrap_or(0.0),
            [count, "requests", "in", ..] => load.requests = count.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                load.not_2xx_3xx = count.parse().unwrap_or(0);
            }
            ["Socket", "errors:", ..] => load.errors = line.to_owned(),
            _ => {}
        }
    }
    load
}

async fn run_wrk(port: u16, path: &str, cookie: &str) -> Load {
    let seconds = support::env_number("PORCHLIGHT_BENCH_LOAD_SECONDS", 15).max(1);
    let connections = support::env_number("PORCHLIGHT_BENCH_LOAD_CONNECTIONS", 8).max(1);
    let threads = connections.min(2);
    let output = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-H")
        .arg(format!("Cookie: {cookie}"))
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("wrk runs (scripts/bench.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}");
    parse_wrk(&text)
}

#[tokio::main]
async fn main() {
    let mut stack = start_stack().await;
    let cookie = sign_in(&stack).await;
    let home = format!("/p/{SLUG}");
    let page = http(stack.port, "GET", &home, &[("cookie", cookie.as_str())], "").await;
    assert_eq!(page.status, 200, "the signed-in home answers");

    let not_found = format!("/p/{SLUG}/no-such-page");
    let baseline = run_wrk(stack.port, &not_found, &cookie).await;
    let portal = run_wrk(stack.port, &home, &cookie).await;
    let _ = stack.child.kill().await;

    let seconds = support::env_number("PORCHLIGHT_BENCH_LOAD_SECONDS", 15).max(1);
    let connections = support::env_number("PORCHLIGHT_BENCH_LOAD_CONNECTIONS", 8).max(1);
    println!(
        "load: porchlight-local (release) on 127.0.0.1, wrk {seconds} s, {connections} \
         connections, signed in as {EMAIL}; ratio = page / the 404 page"
    );
    println!(
        "{:<50} {:>10} {:>9} {:>9} {:>9} {:>11}",
        "page", "requests/s", "p50 ms", "p99 ms", "requests", "non-2xx/3xx"
    );
    let line = |label: &str, load: &Load| {
        println!(
            "{:<50} {:>10.1} {:>9.2} {:>9.2} {:>9} {:>11}",
            label,
            load.requests_per_second,
            load.p50_ms,
            load.p99_ms,
            load.requests,
            load.not_2xx_3xx
        );
        if !load.errors.is_empty() {
            println!("  {}", load.errors);
        }
    };
    line(&format!("GET {not_found} (baseline)"), &baseline);
    line(&format!("GET {home} (Amy, signed in)"), &portal);
    println!(
        "ratios: requests/s {:.2}x, p50 {:.2}x, p99 {:.2}x (the 404 answers are all 404s)",
        ratio(portal.requests_per_second, baseline.requests_per_second),
        ratio(portal.p50_ms, baseline.p50_ms),
        ratio(portal.p99_ms, baseline.p99_ms)
    );
}
