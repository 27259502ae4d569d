//! A minimal Lambda Runtime API on 127.0.0.1, so that a function's real release binary can
//! be started the way Lambda starts it and measured (`make bench`: cold start, memory).
//!
//! It speaks the parts of the 2018-06-01 runtime interface that `lambda_runtime` uses:
//! `GET /2018-06-01/runtime/invocation/next` hands out the next queued event (waiting
//! until there is one) with the `Lambda-Runtime-Aws-Request-Id`,
//! `Lambda-Runtime-Deadline-Ms` and `Lambda-Runtime-Invoked-Function-Arn` headers;
//! `POST .../invocation/{id}/response`, `POST .../invocation/{id}/error` and
//! `POST /2018-06-01/runtime/init/error` are reported as [`Outcome`]s, each stamped with
//! the instant its body had fully arrived. It is no sandbox and enforces no deadline: the
//! caller owns the function's process and ends it.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::{JoinHandle, JoinSet};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function sent back for an invocation, or for its start.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`.
    Response {
        request_id: String,
        body: Bytes,
        /// When `/next` handed the event out.
        handed_out: Instant,
        /// When the response body had fully arrived.
        received: Instant,
    },
    /// `POST /invocation/{id}/error`: the handler returned an error or panicked.
    Error {
        request_id: String,
        body: Bytes,
        received: Instant,
    },
    /// `POST /init/error`: the function failed before it asked for an event.
    InitError { body: Bytes, received: Instant },
}

impl Outcome {
    /// When the emulator had the whole answer.
    pub fn received(&self) -> Instant {
        match self {
            Outcome::Response { received, .. }
            | Outcome::Error { received, .. }
            | Outcome::InitError { received, .. } => *received,
        }
    }
}

struct Shared {
    function_arn: String,
    timeout: Duration,
    queue: Mutex<VecDeque<(String, Bytes)>>,
    queued: Notify,
    handed_out: Mutex<HashMap<String, Instant>>,
    first_poll: Mutex<Option<Instant>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// A running emulator. Dropping it stops the listener and every open connection.
pub struct RuntimeEmulator {
    address: SocketAddr,
    shared: Arc<Shared>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    next_id: u64,
    server: JoinHandle<()>,
}

impl RuntimeEmulator {
    /// Listens on a free port of 127.0.0.1 for a function called `function_name`; each event
    /// handed out gets a deadline `timeout` from then (the function's configured timeout).
    pub async fn start(function_name: &str, timeout: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (sender, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            timeout,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            handed_out: Mutex::new(HashMap::new()),
            first_poll: Mutex::new(None),
            outcomes: sender,
        });
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self {
            address,
            shared,
            outcomes,
            next_id: 0,
            server,
        })
    }

    /// The value for the function's `AWS_LAMBDA_RUNTIME_API` (host and port, no scheme).
    pub fn runtime_api(&self) -> String {
        self.address.to_string()
    }

    /// Queues one event (the JSON Lambda would deliver) and returns its request id.
    pub fn invoke(&mut self, event: &serde_json::Value) -> String {
        self.next_id += 1;
        let request_id = format!("00000000-0000-4000-8000-{:012x}", self.next_id);
        let body = Bytes::from(event.to_string());
        lock(&self.shared.queue).push_back((request_id.clone(), body));
        self.shared.queued.notify_one();
        request_id
    }

    /// When the function first asked for an event: the end of its init phase.
    pub fn first_poll(&self) -> Option<Instant> {
        *lock(&self.shared.first_poll)
    }

    /// The next thing the function sent back, waiting at most `wait`; `None` on time-out.
    pub async fn outcome(&mut self, wait: Duration) -> Option<Outcome> {
        tokio::time::timeout(wait, self.outcomes.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for RuntimeEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A poisoned lock only means a handler panicked mid-push; the queue itself stays valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Owned here, so aborting this task drops the set and ends every connection with it.
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(route(&shared, request).await) }
            });
            // A function killed mid-request just closes its connection.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connections so a long run does not accumulate them.
        while connections.try_join_next().is_some() {}
    }
}

async fn route(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return status(StatusCode::NOT_FOUND);
    };
    let method = request.method().clone();
    if method == Method::GET && rest == "/invocation/next" {
        return next_event(shared).await;
    }
    if method != Method::POST {
        return status(StatusCode::NOT_FOUND);
    }
    let outcome = if rest == "/init/error" {
        let body = read_body(request).await;
        Outcome::InitError {
            body,
            received: Instant::now(),
        }
    } else if let Some(inner) = rest.strip_prefix("/invocation/") {
        let Some((request_id, kind)) = inner.split_once('/') else {
            return status(StatusCode::NOT_FOUND);
        };
        let request_id = request_id.to_owned();
        let handed_out = lock(&shared.handed_out).remove(&request_id);
        let Some(handed_out) = handed_out else {
            // Lambda answers an unknown or already answered id with 400 as well.
            return status(StatusCode::BAD_REQUEST);
        };
        let body = read_body(request).await;
        let received = Instant::now();
        match kind {
            "response" => Outcome::Response {
                request_id,
                body,
                handed_out,
                received,
            },
            "error" => Outcome::Error {
                request_id,
                body,
                received,
            },
            _ => return status(StatusCode::NOT_FOUND),
        }
    } else {
        return status(StatusCode::NOT_FOUND);
    };
    // The receiver is gone only when the emulator is being dropped.
    let _ = shared.outcomes.send(outcome);
    status(StatusCode::ACCEPTED)
}

/// Long-polls like Lambda: the answer comes when an event is queued.
async fn next_event(shared: &Shared) -> Response<Full<Bytes>> {
    lock(&shared.first_poll).get_or_insert_with(Instant::now);
    let (request_id, body) = loop {
        // Registered before the queue is looked at, so a push in between is not missed.
        let queued = shared.queued.notified();
        if let Some(next) = lock(&shared.queue).pop_front() {
            break next;
        }
        queued.await;
    };
    lock(&shared.handed_out).insert(request_id.clone(), Instant::now());
    let deadline = SystemTime::now() + shared.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);

    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &request_id);
    set("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &shared.function_arn);
    response
}

async fn read_body(request: Request<Incoming>) -> Bytes {
    match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// One HTTP/1.1 exchange over a fresh connection, as text.
    async fn exchange(api: &str, request: String) -> String {
        let mut stream = TcpStream::connect(api).await.expect("the emulator listens");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("request sent");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("answer read");
        String::from_utf8_lossy(&answer).into_owned()
    }

    fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
        answer.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    #[tokio::test]
    async fn hands_out_an_event_and_reports_its_response() {
        let mut emulator = RuntimeEmulator::start("portal", Duration::from_secs(10))
            .await
            .expect("it starts");
        let api = emulator.runtime_api();
        let id = emulator.invoke(&serde_json::json!({"rawPath": "/p/oakleaf"}));

        let next = exchange(
            &api,
            format!(
                "GET {PREFIX}/invocation/next HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
            ),
        )
        .await;
        assert!(next.starts_with("HTTP/1.1 200"), "{next}");
        assert_eq!(
            header(&next, "lambda-runtime-aws-request-id"),
            Some(id.as_str())
        );
        let arn = header(&next, "lambda-runtime-invoked-function-arn").expect("an arn");
        assert!(arn.ends_with(":function:portal"), "{arn}");
        let deadline: u128 = header(&next, "lambda-runtime-deadline-ms")
            .and_then(|d| d.parse().ok())
            .expect("a deadline in ms");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        assert!(deadline > now.as_millis(), "{deadline}");
        assert!(next.ends_with(r#"{"rawPath":"/p/oakleaf"}"#), "{next}");

        let body = r#"{"statusCode":200}"#;
        let posted = exchange(
            &api,
            format!(
                "POST {PREFIX}/invocation/{id}/response HTTP/1.1\r\nhost: x\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
        .await;
        assert!(posted.starts_with("HTTP/1.1 202"), "{posted}");
        match emulator.outcome(Duration::from_secs(5)).await {
            Some(Outcome::Response {
                request_id,
                body: answer,
                handed_out,
                received,
            }) => {
                assert_eq!(request_id, id);
                assert_eq!(answer, body.as_bytes());
                assert!(received >= handed_out);
            }
            other => panic!("expected a response, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn reports_errors_and_refuses_unknown_ids() {
        let mut emulator = RuntimeEmulator::start("sweep", Duration::from_secs(300))
            .await
            .expect("it starts");
        let api = emulator.runtime_api();

        let post = |path: String| {
            format!(
                "POST {PREFIX}{path} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\
                 connection: close\r\n\r\n{{}}"
            )
        };
        let unknown = exchange(&api, post("/invocation/nope/response".into())).await;
        assert!(unknown.starts_with("HTTP/1.1 400"), "{unknown}");
        let init = exchange(&api, post("/init/error".into())).await;
        assert!(init.starts_with("HTTP/1.1 202"), "{init}");

        assert!(matches!(
            emulator.outcome(Duration::from_secs(5)).await,
            Some(Outcome::InitError { .. })
        ));
        assert!(emulator.outcome(Duration::from_millis(50)).await.is_none());
    }
}
