//! Webhook deliveries as Stripe makes them: a POST of the event's JSON to the endpoint with
//! `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">` keyed with the whole
//! `whsec_` secret, retried with growing pauses while the endpoint answers anything but 2xx.
//! Every attempt is recorded on its event.
//!
//! Stripe keeps retrying for three days; the stand-in gives up after a few seconds
//! ([`RETRY_BACKOFF`]) so a test that waits for [`super::StripeStub::settled`] ends soon.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::StripeStub;
use super::config::WebhookTarget;
use super::ids;
use super::state::{DeliveryKind, DeliveryMode, DeliveryRecord};

/// The pauses before each retry of a failed delivery.
const RETRY_BACKOFF: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(600),
    Duration::from_millis(1800),
];
/// How long one delivery may take, connection included (Stripe waits a little longer).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of the endpoint's answer is read (and thrown away).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104): the hash of the key padded with 0x5c, over the hash of the key
/// padded with 0x36 followed by the message.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut padded = [0u8; BLOCK];
    if key.len() > BLOCK {
        let digest = Sha256::digest(key);
        padded[..digest.len()].copy_from_slice(&digest);
    } else {
        padded[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(padded.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(padded.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The `Stripe-Signature` header Stripe sends for `body` at `timestamp` (unix seconds),
/// signed with the endpoint secret (`whsec_...`, used whole as the key). Public so tests of
/// the webhook handler can sign events of their own, stale or with an old secret.
pub fn signature_header(secret: &str, timestamp: i64, body: &str) -> String {
    let signed = format!("{timestamp}.{body}");
    let mac = hmac_sha256(secret.as_bytes(), signed.as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac))
}

/// What a new event's `pending_webhooks` says: one endpoint, or none.
pub(super) fn pending(stub: &StripeStub) -> u32 {
    u32::from(stub.inner.settings.webhook.is_some())
}

/// Counts a delivery task as under way from before it is spawned until it ends, so
/// [`super::StripeStub::settled`] called right after a request sees it.
struct InFlight(StripeStub);

impl InFlight {
    fn start(stub: &StripeStub) -> Self {
        stub.inner.in_flight.send_modify(|count| *count += 1);
        Self(stub.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .inner
            .in_flight
            .send_modify(|count| *count = count.saturating_sub(1));
    }
}

/// Sends `events` (made by one action, in their natural order) in the background as `mode`
/// says. Each event's copies go out at once; the next event waits for their first answers,
/// so the receiver sees the order asked for. Failed copies are retried on their own.
pub(super) fn dispatch(stub: &StripeStub, mut events: Vec<String>, mode: DeliveryMode) {
    if events.is_empty() || stub.inner.settings.webhook.is_none() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("stripe stub events made outside a Tokio runtime are not delivered");
        return;
    };
    if mode.reverse {
        events.reverse();
    }
    let guard = InFlight::start(stub);
    let stub = stub.clone();
    runtime.spawn(async move {
        let _guard = guard;
        for id in events {
            if mode.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(mode.delay_ms)).await;
            }
            let mut copies = JoinSet::new();
            for copy in 0..mode.duplicates {
                let kind = if copy == 0 {
                    DeliveryKind::Initial
                } else {
                    DeliveryKind::Duplicate
                };
                let (stub, id) = (stub.clone(), id.clone());
                copies.spawn(async move { attempt(&stub, &id, kind).await.succeeded() });
            }
            while let Some(done) = copies.join_next().await {
                if matches!(done, Ok(false)) {
                    retry(&stub, id.clone());
                }
            }
        }
    });
}

/// Retries one failed delivery of event `id` in the background until it is answered 2xx
/// or the pauses run out.
fn retry(stub: &StripeStub, id: String) {
    let guard = InFlight::start(stub);
    let stub = stub.clone();
    tokio::spawn(async move {
        let _guard = guard;
        for pause in RETRY_BACKOFF {
            tokio::time::sleep(pause).await;
            if attempt(&stub, &id, DeliveryKind::Retry).await.succeeded() {
                return;
            }
        }
        tracing::warn!(event = %id, "stripe stub gave up delivering an event");
    });
}

/// Sends event `id` `times` times at once, without retries, as a manual resend from
/// Stripe's dashboard does; returns how each went.
pub(super) async fn redeliver(stub: &StripeStub, id: &str, times: u32) -> Vec<DeliveryRecord> {
    let _guard = InFlight::start(stub);
    let mut copies = JoinSet::new();
    for _ in 0..times {
        let (stub, id) = (stub.clone(), id.to_owned());
        copies.spawn(async move { attempt(&stub, &id, DeliveryKind::Redelivery).await });
    }
    let mut records = Vec::new();
    while let Some(done) = copies.join_next().await {
        if let Ok(record) = done {
            records.push(record);
        }
    }
    records
}

/// One POST of event `id`, freshly signed, recorded on the event.
async fn attempt(stub: &StripeStub, id: &str, kind: DeliveryKind) -> DeliveryRecord {
    let body = stub.state().event(id).map(|e| e.body.clone());
    let outcome = match (&stub.inner.settings.webhook, body) {
        (Some(target), Some(body)) => {
            let signature = signature_header(&stub.inner.settings.secret, ids::now(), &body);
            tokio::time::timeout(DELIVERY_TIMEOUT, post(target, signature, body))
                .await
                .unwrap_or_else(|_| Err("timed out".to_owned()))
        }
        (None, _) => Err("no webhook URL is configured".to_owned()),
        (_, None) => Err("no such event".to_owned()),
    };
    let record = match outcome {
        Ok(status) => DeliveryRecord {
            kind,
            status: Some(status),
            error: None,
            at_ms: ids::now_ms(),
        },
        Err(error) => DeliveryRecord {
            kind,
            status: None,
            error: Some(error),
            at_ms: ids::now_ms(),
        },
    };
    tracing::info!(
        event = %id,
        kind = ?record.kind,
        status = ?record.status,
        error = ?record.error,
        "stripe stub webhook delivery"
    );
    stub.state().record_delivery(id, record.clone());
    record
}

/// POSTs `body` to the checked loopback target; the status code, or why there is none.
async fn post(target: &WebhookTarget, signature: String, body: String) -> Result<u16, String> {
    let stream = TcpStream::connect(target.address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %error, "stripe stub webhook connection ended with an error");
        }
    });

    let request = hyper::Request::post(target.path_and_query.as_str())
        .header(HOST, target.authority.as_str())
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .header(USER_AGENT, "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
        .header("stripe-signature", signature)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request: {e}"))?;
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = answer.status().as_u16();
    // Read the answer so the connection closes cleanly; its content does not matter.
    let _ = Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: a short key.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_header_signs_timestamp_and_body() {
        let header = signature_header("whsec_test", 1_700_000_000, "{}");
        let expected = hex::encode(hmac_sha256(b"whsec_test", b"1700000000.{}"));
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
    }
}
