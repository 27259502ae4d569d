//! Stripe's objects as the stand-in keeps them (a Checkout Session, a PaymentIntent, a
//! Charge with its refunds) and the JSON the API and events show for each. Only the fields
//! Porchlight reads, or might reasonably read, are written; Stripe's objects have more.

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub(super) type Metadata = BTreeMap<String, String>;

pub(super) struct LineItem {
    pub name: String,
    pub unit_amount: i64,
    pub quantity: i64,
}

/// A Checkout Session's parameters once validated.
pub(super) struct NewSession {
    pub line_items: Vec<LineItem>,
    pub currency: String,
    pub amount_total: i64,
    pub success_url: String,
    pub cancel_url: String,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub metadata: Metadata,
    pub intent_metadata: Metadata,
    pub expires_at: Option<i64>,
}

pub(super) struct Session {
    pub id: String,
    pub account: Option<String>,
    pub url: String,
    pub created: i64,
    pub expires_at: i64,
    pub new: NewSession,
    pub payment_intent: Option<String>,
    pub completed: bool,
}

impl Session {
    pub fn status(&self, now: i64) -> &'static str {
        if self.completed {
            "complete"
        } else if now >= self.expires_at {
            "expired"
        } else {
            "open"
        }
    }

    /// The Checkout Session object as the API and events show it.
    pub fn to_json(&self, now: i64) -> Value {
        let status = self.status(now);
        let s = &self.new;
        json!({
            "id": self.id,
            "object": "checkout.session",
            "amount_subtotal": s.amount_total,
            "amount_total": s.amount_total,
            "cancel_url": s.cancel_url,
            "client_reference_id": s.client_reference_id,
            "created": self.created,
            "currency": s.currency,
            "customer_details": self.completed.then(|| json!({ "email": s.customer_email })),
            "customer_email": s.customer_email,
            "expires_at": self.expires_at,
            "livemode": false,
            "metadata": s.metadata,
            "mode": "payment",
            "payment_intent": self.payment_intent,
            "payment_method_types": ["card"],
            "payment_status": if self.completed { "paid" } else { "unpaid" },
            "status": status,
            "success_url": s.success_url,
            // Stripe withdraws the hosted page's URL once the session is no longer open.
            "url": (status == "open").then_some(&self.url),
        })
    }
}

pub(super) struct PaymentIntent {
    pub id: String,
    pub account: Option<String>,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub metadata: Metadata,
    pub succeeded: bool,
    pub latest_charge: Option<String>,
    pub last_error: Option<&'static str>,
}

impl PaymentIntent {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": 0,
            "amount_received": if self.succeeded { self.amount } else { 0 },
            "created": self.created,
            "currency": self.currency,
            "last_payment_error": self.last_error.map(|message| json!({
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": message,
            })),
            "latest_charge": self.latest_charge,
            "livemode": false,
            "metadata": self.metadata,
            "payment_method_types": ["card"],
            "status": if self.succeeded { "succeeded" } else { "requires_payment_method" },
        })
    }
}

pub(super) struct Refund {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub reason: Option<String>,
    pub metadata: Metadata,
}

pub(super) struct Charge {
    pub id: String,
    pub created: i64,
    pub payment_intent: String,
    pub amount: i64,
    pub currency: String,
    pub metadata: Metadata,
    /// Oldest first.
    pub refunds: Vec<Refund>,
}

impl Charge {
    pub fn amount_refunded(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    pub fn refund_json(&self, refund: &Refund) -> Value {
        json!({
            "id": refund.id,
            "object": "refund",
            "amount": refund.amount,
            "charge": self.id,
            "created": refund.created,
            "currency": self.currency,
            "metadata": refund.metadata,
            "payment_intent": self.payment_intent,
            "reason": refund.reason,
            "status": "succeeded",
        })
    }

    pub fn to_json(&self) -> Value {
        let refunded = self.amount_refunded();
        // Newest first, as Stripe lists them.
        let refunds: Vec<Value> = self
            .refunds
            .iter()
            .rev()
            .map(|r| self.refund_json(r))
            .collect();
        json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount,
            "amount_refunded": refunded,
            "captured": true,
            "created": self.created,
            "currency": self.currency,
            "livemode": false,
            "metadata": self.metadata,
            "paid": true,
            "payment_intent": self.payment_intent,
            "refunded": refunded == self.amount,
            "refunds": {
                "object": "list",
                "data": refunds,
                "has_more": false,
                "total_count": self.refunds.len(),
                "url": format!("/v1/charges/{}/refunds", self.id),
            },
            "status": "succeeded",
        })
    }
}
