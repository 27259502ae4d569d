//! A local stand-in for the parts of Stripe Porchlight uses, so the production payment code
//! runs unchanged against it: the same form-encoded API calls (`/v1/checkout/sessions`,
//! `/v1/refunds`), a hosted checkout page where a test card "pays", and webhook events
//! signed the way Stripe signs them.
//!
//! It exists because real Stripe is out of reach from the local stack and the tests, and a
//! mock inside the payment code would test the mock. The stand-in also does, on request,
//! what real Stripe does only occasionally: deliver an event several times, or a payment's
//! events in the other order, or late (`/_stub/mode`), so the exactly-once handling of the
//! webhook can be exercised.
//!
//! Everything stays on this machine: the server is handed a listener (bind it with [`bind`],
//! which uses 127.0.0.1), and webhooks go only to a `http://127.0.0.1:PORT/...` URL checked
//! when the stub is built.
//!
//! Deliberate departures from Stripe, each noted where it lives: retries take seconds, not
//! days; only `mode=payment` with inline `price_data` and cards is accepted; minimum charge
//! amounts are not enforced; an expired session sends no `checkout.session.expired`.
//! Where the stand-in could be kinder than Stripe it is not: unknown parameters are refused,
//! a PaymentIntent carries only `payment_intent_data[metadata]` (not the session's), and a
//! completed session's `url` is null.
//!
//! Starting it (what the local stack and the tests do):
//!
//! ```no_run
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! use porchlight_infra::stripe_stub::{self, StripeStub, StubConfig};
//! let listener = stripe_stub::bind(12111).await?;
//! let stub = StripeStub::new(StubConfig {
//!     webhook_url: Some("http://127.0.0.1:3000/webhooks/stripe".to_owned()),
//!     webhook_secret: "whsec_local".to_owned(),
//!     public_base: "http://127.0.0.1:12111".to_owned(),
//! })?;
//! let server = stub.spawn(listener);
//! // ... point PORCHLIGHT_STRIPE_API_BASE at stub.public_base(); after a payment:
//! stub.settled().await;
//! let events = stub.events();
//! server.abort();
//! # Ok(()) }
//! ```

mod admin;
mod api;
mod checkout;
mod config;
mod form;
mod http;
mod ids;
mod objects;
mod state;
mod webhooks;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use checkout::{CARD_DECLINED, CARD_SUCCEEDS};
pub use config::{DEFAULT_PORT, StubConfig, StubConfigError};
pub use state::{DeliveryKind, DeliveryMode, DeliveryRecord, EventRecord};
pub use webhooks::signature_header;

/// The API version written into every event, as a Stripe account pinned to it would send.
pub const API_VERSION: &str = "2024-06-20";

/// A running (or ready to run) stand-in. Cloning gives another handle to the same state, so
/// a test can keep one while the server task holds another.
#[derive(Clone)]
pub struct StripeStub {
    inner: Arc<Inner>,
}

struct Inner {
    settings: config::Settings,
    state: Mutex<state::State>,
    /// How many webhook deliveries (first attempts and pending retries) are under way;
    /// [`StripeStub::settled`] waits for zero.
    in_flight: watch::Sender<usize>,
}

/// Binds `127.0.0.1:port` (0 for any free port): the stand-in never listens elsewhere.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// Checks `config` and serves on `listener` until the task is dropped or aborted. Returns
/// only if the configuration is refused.
pub async fn serve(listener: TcpListener, config: StubConfig) -> Result<(), StubConfigError> {
    let stub = StripeStub::new(config)?;
    stub.serve(listener).await;
    Ok(())
}

impl StripeStub {
    /// Checks the configuration (a webhook URL off 127.0.0.1 is refused here, before any
    /// event exists) and makes an empty stand-in.
    pub fn new(config: StubConfig) -> Result<Self, StubConfigError> {
        let settings = config::Settings::from_config(config)?;
        let (in_flight, _) = watch::channel(0);
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                state: Mutex::new(state::State::default()),
                in_flight,
            }),
        })
    }

    /// Serves HTTP/1 on `listener`, each connection on its own task, until dropped.
    pub async fn serve(&self, listener: TcpListener) {
        if let Ok(address) = listener.local_addr() {
            tracing::info!(%address, "stripe stub listening");
        }
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Usually a transient lack of descriptors; keep serving.
                    tracing::warn!(error = %error, "stripe stub accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let stub = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let stub = stub.clone();
                    async move { Ok::<_, Infallible>(http::route(&stub, req).await) }
                });
                if let Err(error) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %error, "stripe stub connection ended with an error");
                }
            });
        }
    }

    /// Starts [`StripeStub::serve`] on its own task; abort the handle to stop it.
    pub fn spawn(&self, listener: TcpListener) -> tokio::task::JoinHandle<()> {
        let stub = self.clone();
        tokio::spawn(async move { stub.serve(listener).await })
    }

    /// Where the browser reaches the stand-in (no trailing slash).
    pub fn public_base(&self) -> &str {
        &self.inner.settings.public_base
    }

    /// The checked webhook URL, if events are delivered anywhere.
    pub fn webhook_url(&self) -> Option<&str> {
        self.inner.settings.webhook.as_ref().map(|w| w.url.as_str())
    }

    /// Every Checkout Session as the API would return it now, oldest first.
    pub fn sessions(&self) -> Vec<serde_json::Value> {
        let now = ids::now();
        let state = self.state();
        state.sessions_in_order().map(|s| s.to_json(now)).collect()
    }

    /// One Checkout Session as the API would return it now.
    pub fn session(&self, id: &str) -> Option<serde_json::Value> {
        self.state().sessions.get(id).map(|s| s.to_json(ids::now()))
    }

    /// One PaymentIntent as the API would return it.
    pub fn payment_intent(&self, id: &str) -> Option<serde_json::Value> {
        self.state()
            .intents
            .get(id)
            .map(state::PaymentIntent::to_json)
    }

    /// Every event so far, oldest first, with its delivery attempts.
    pub fn events(&self) -> Vec<EventRecord> {
        self.state().events.clone()
    }

    /// The delivery mode events are sent with unless a request overrides it.
    pub fn mode(&self) -> DeliveryMode {
        self.state().mode.clone()
    }

    /// Replaces the delivery mode (what `POST /_stub/mode` does).
    pub fn set_mode(&self, mode: DeliveryMode) {
        self.state().mode = mode.clamped();
    }

    /// Refunds `payment_intent` (all that is left, or `amount` minor units) and sends
    /// `charge.refunded`, as `POST /_stub/refunds` does. Returns the Refund object, or
    /// Stripe's error object.
    pub fn refund(
        &self,
        payment_intent: &str,
        amount: Option<i64>,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let request = state::RefundRequest {
            payment_intent: payment_intent.to_owned(),
            amount,
            account: None,
            check_account: false,
        };
        let extras = state::RefundRequestExtras {
            reason: None,
            metadata: state::Metadata::new(),
        };
        admin::refund_now(self, &request, extras, self.mode()).map_err(|e| e.body())
    }

    /// Waits until every webhook delivery started so far, retries included, has finished.
    pub async fn settled(&self) {
        let mut watcher = self.inner.in_flight.subscribe();
        // The sender lives in `inner`, which `self` keeps alive: this cannot fail.
        let _ = watcher.wait_for(|count| *count == 0).await;
    }

    fn state(&self) -> MutexGuard<'_, state::State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
