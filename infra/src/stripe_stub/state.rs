//! What the stand-in remembers: sessions, payment intents, charges with their refunds,
//! events with every delivery attempt, and saved idempotent responses. All of it lives
//! behind one lock, and every change below happens inside one lock hold, so two racing
//! requests see each other's effects as Stripe's would.
//!
//! Functions here take the time as an argument; only the HTTP layer reads the clock.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::API_VERSION;
use super::http::ApiError;
use super::ids;

pub(super) use super::objects::{
    Charge, LineItem, Metadata, NewSession, PaymentIntent, Refund, Session,
};

/// The most copies of one event a mode may ask for.
pub const MAX_DUPLICATES: u32 = 50;
/// The longest wait before each event a mode may ask for.
pub const MAX_DELAY_MS: u64 = 60_000;

/// How the events of one action (a payment, a refund) are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryMode {
    /// Each event is sent this many times at once (1: once), as Stripe occasionally does.
    pub duplicates: u32,
    /// Send a payment's events last first: `payment_intent.succeeded` before
    /// `checkout.session.completed`. Stripe does not promise any order.
    pub reverse: bool,
    /// Wait this long before each event, so a return page can be seen before the webhook.
    pub delay_ms: u64,
}

impl Default for DeliveryMode {
    fn default() -> Self {
        Self {
            duplicates: 1,
            reverse: false,
            delay_ms: 0,
        }
    }
}

impl DeliveryMode {
    /// The mode inside the limits above.
    pub fn clamped(self) -> Self {
        Self {
            duplicates: self.duplicates.clamp(1, MAX_DUPLICATES),
            reverse: self.reverse,
            delay_ms: self.delay_ms.min(MAX_DELAY_MS),
        }
    }
}

/// Why a webhook POST was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryKind {
    /// The first send of an event.
    Initial,
    /// An extra copy asked for by [`DeliveryMode::duplicates`].
    Duplicate,
    /// A resend after a non-2xx answer or no answer.
    Retry,
    /// A resend asked for through `/_stub/events/{id}/redeliver`.
    Redelivery,
}

/// One webhook POST and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub kind: DeliveryKind,
    /// The receiver's status code; `None` when it gave none (refused, timed out).
    pub status: Option<u16>,
    /// What went wrong when there is no status.
    pub error: Option<String>,
    /// Unix milliseconds when the answer (or the failure) came.
    pub at_ms: i64,
}

impl DeliveryRecord {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// One event as it was sent.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The connected account (`Stripe-Account`) the event belongs to.
    pub account: Option<String>,
    pub created: i64,
    /// The id of `data.object`.
    pub object_id: String,
    /// The exact JSON every delivery of this event carries.
    #[serde(skip)]
    pub body: String,
    pub deliveries: Vec<DeliveryRecord>,
}

impl EventRecord {
    /// The event envelope as JSON.
    pub fn envelope(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A saved answer to an idempotent request.
pub(super) struct Replay {
    /// `POST /v1/...`: a key is bound to one endpoint.
    pub endpoint: String,
    /// The request's parameters, sorted, so the same parameters in another order match.
    pub params: Vec<(String, String)>,
    pub status: u16,
    pub body: String,
}

/// What a card entered on the checkout page does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Card {
    Succeeds,
    Declined,
}

/// How a payment attempt ended.
pub(super) enum Attempt {
    Paid { events: Vec<String> },
    Declined { events: Vec<String> },
    AlreadyPaid,
    Expired,
}

/// A refund asked for by payment intent.
pub(super) struct RefundRequest {
    pub payment_intent: String,
    pub amount: Option<i64>,
    /// The `Stripe-Account` of the API call.
    pub account: Option<String>,
    /// Whether the intent must belong to `account` (the API); the `/_stub/` control and
    /// [`super::StripeStub::refund`] act on any account.
    pub check_account: bool,
}

pub(super) struct RefundRequestExtras {
    pub reason: Option<String>,
    pub metadata: Metadata,
}

#[derive(Default)]
pub(super) struct State {
    pub sessions: HashMap<String, Session>,
    session_order: Vec<String>,
    pub intents: HashMap<String, PaymentIntent>,
    pub charges: HashMap<String, Charge>,
    pub events: Vec<EventRecord>,
    pub idempotency: HashMap<(Option<String>, String), Replay>,
    pub mode: DeliveryMode,
}

/// How long an unpaid session stays open when `expires_at` is not given (Stripe: 24 h).
pub(super) const DEFAULT_LIFETIME_SECS: i64 = 24 * 60 * 60;

impl State {
    pub fn sessions_in_order(&self) -> impl Iterator<Item = &Session> {
        self.session_order
            .iter()
            .filter_map(|id| self.sessions.get(id))
    }

    pub fn create_session(
        &mut self,
        new: NewSession,
        account: Option<String>,
        public_base: &str,
        now: i64,
    ) -> &Session {
        let id = ids::checkout_session();
        let session = Session {
            url: format!("{public_base}/checkout/{id}"),
            id: id.clone(),
            account,
            created: now,
            expires_at: new.expires_at.unwrap_or(now + DEFAULT_LIFETIME_SECS),
            new,
            payment_intent: None,
            completed: false,
        };
        self.session_order.push(id.clone());
        self.sessions.entry(id).or_insert(session)
    }

    /// Pays (or fails to pay) session `id` with `card`. `pending` is what each new event's
    /// `pending_webhooks` says.
    pub fn attempt(&mut self, id: &str, card: Card, now: i64, pending: u32) -> Option<Attempt> {
        let session = self.sessions.get(id)?;
        if session.completed {
            return Some(Attempt::AlreadyPaid);
        }
        if session.status(now) == "expired" {
            return Some(Attempt::Expired);
        }
        let account = session.account.clone();
        let intent_id = self.intent_for(id, now)?;

        if card == Card::Declined {
            let intent = self.intents.get_mut(&intent_id)?;
            intent.last_error = Some("Your card was declined.");
            let object = intent.to_json();
            let event = self.push_event(
                "payment_intent.payment_failed",
                account,
                object,
                now,
                pending,
            );
            return Some(Attempt::Declined {
                events: vec![event],
            });
        }

        let charge_id = ids::charge();
        let intent = self.intents.get_mut(&intent_id)?;
        intent.succeeded = true;
        intent.last_error = None;
        intent.latest_charge = Some(charge_id.clone());
        let charge = Charge {
            id: charge_id.clone(),
            created: now,
            payment_intent: intent_id.clone(),
            amount: intent.amount,
            currency: intent.currency.clone(),
            // Stripe copies the intent's metadata to the charge when it is confirmed.
            metadata: intent.metadata.clone(),
            refunds: Vec::new(),
        };
        let intent_json = intent.to_json();
        self.charges.insert(charge_id, charge);
        let session = self.sessions.get_mut(id)?;
        session.completed = true;
        let session_json = session.to_json(now);

        let completed = self.push_event(
            "checkout.session.completed",
            account.clone(),
            session_json,
            now,
            pending,
        );
        let succeeded = self.push_event(
            "payment_intent.succeeded",
            account,
            intent_json,
            now,
            pending,
        );
        Some(Attempt::Paid {
            events: vec![completed, succeeded],
        })
    }

    /// The session's payment intent, made on the first attempt to pay as Checkout does, and
    /// reused by later attempts.
    fn intent_for(&mut self, session_id: &str, now: i64) -> Option<String> {
        let session = self.sessions.get_mut(session_id)?;
        if let Some(existing) = &session.payment_intent {
            return Some(existing.clone());
        }
        let id = ids::payment_intent();
        session.payment_intent = Some(id.clone());
        let intent = PaymentIntent {
            id: id.clone(),
            account: session.account.clone(),
            created: now,
            amount: session.new.amount_total,
            currency: session.new.currency.clone(),
            // Only `payment_intent_data[metadata]`: Stripe does not copy the session's own
            // metadata to the intent, so neither does the stand-in.
            metadata: session.new.intent_metadata.clone(),
            succeeded: false,
            latest_charge: None,
            last_error: None,
        };
        self.intents.insert(id.clone(), intent);
        Some(id)
    }

    /// Refunds part or all of what is left of a payment and records `charge.refunded`.
    pub fn refund(
        &mut self,
        request: &RefundRequest,
        extras: RefundRequestExtras,
        now: i64,
        pending: u32,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let pi = &request.payment_intent;
        let missing =
            || ApiError::missing(format!("No such payment_intent: '{pi}'"), "payment_intent");
        let intent = self.intents.get(pi).ok_or_else(missing)?;
        if request.check_account && intent.account != request.account {
            return Err(missing());
        }
        let account = intent.account.clone();
        let charge_id = match (&intent.latest_charge, intent.succeeded) {
            (Some(charge), true) => charge.clone(),
            _ => {
                return Err(ApiError::invalid(
                    format!(
                        "This PaymentIntent ({pi}) does not have a successful charge to refund."
                    ),
                    Some("payment_intent"),
                ));
            }
        };
        let charge = self.charges.get_mut(&charge_id).ok_or_else(missing)?;

        let left = charge.amount - charge.amount_refunded();
        if left <= 0 {
            return Err(ApiError::invalid(
                format!("Charge {charge_id} has already been refunded."),
                None,
            )
            .with_code("charge_already_refunded"));
        }
        let amount = request.amount.unwrap_or(left);
        if amount <= 0 {
            return Err(
                ApiError::invalid("Invalid positive integer".to_owned(), Some("amount"))
                    .with_code("parameter_invalid_integer"),
            );
        }
        if amount > left {
            return Err(ApiError::invalid(
                format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
                ),
                Some("amount"),
            )
            .with_code("amount_too_large"));
        }

        let refund = Refund {
            id: ids::refund(),
            created: now,
            amount,
            reason: extras.reason,
            metadata: extras.metadata,
        };
        let refund_json = charge.refund_json(&refund);
        charge.refunds.push(refund);
        let charge_json = charge.to_json();
        let event = self.push_event("charge.refunded", account, charge_json, now, pending);
        Ok((refund_json, vec![event]))
    }

    /// Records an event in Stripe's envelope and returns its id.
    pub fn push_event(
        &mut self,
        kind: &str,
        account: Option<String>,
        object: Value,
        now: i64,
        pending: u32,
    ) -> String {
        let id = ids::event();
        let object_id = object["id"].as_str().unwrap_or_default().to_owned();
        let mut envelope = json!({
            "id": id,
            "object": "event",
            "api_version": API_VERSION,
            "created": now,
            "data": { "object": object },
            "livemode": false,
            "pending_webhooks": pending,
            "request": { "id": null, "idempotency_key": null },
            "type": kind,
        });
        if let (Some(account), Some(fields)) = (&account, envelope.as_object_mut()) {
            fields.insert("account".to_owned(), Value::String(account.clone()));
        }
        self.events.push(EventRecord {
            id: id.clone(),
            kind: kind.to_owned(),
            account,
            created: now,
            object_id,
            body: envelope.to_string(),
            deliveries: Vec::new(),
        });
        id
    }

    pub fn event(&self, id: &str) -> Option<&EventRecord> {
        self.events.iter().find(|e| e.id == id)
    }

    pub fn record_delivery(&mut self, id: &str, delivery: DeliveryRecord) {
        if let Some(event) = self.events.iter_mut().find(|e| e.id == id) {
            event.deliveries.push(delivery);
        }
    }
}
