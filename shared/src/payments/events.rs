//! Stripe webhook events: the few fields Porchlight reads of the four event types it acts
//! on, and what each asks for. Every other type is answered and ignored. Nothing here
//! trusts an event beyond its shape: the webhook function checks the account, the company,
//! the client, the invoice, the currency and the amount against what is stored before
//! anything changes.
//!
//! The metadata (`company`, `client_id`, `invoice_id`) is what the checkout function put
//! on the Checkout Session and its payment intent; Stripe copies it onto the charge.

use serde::Deserialize;

use crate::domain::{Company, Invoice};
use crate::ids::{ClientId, CompanySlug, DocumentId};
use crate::money::Money;
use crate::payments::amounts::{AmountError, from_stripe};

/// An event as delivered: its id, its type, the connected account it came from, and its
/// object decoded for the types Porchlight acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    /// Set for events of a connected account (Stripe Connect).
    pub account: Option<String>,
    pub object: Object,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// `checkout.session.completed`
    CheckoutCompleted(CheckoutSession),
    /// `payment_intent.succeeded`
    PaymentSucceeded(PaymentIntent),
    /// `payment_intent.payment_failed`
    PaymentFailed(PaymentIntent),
    /// `charge.refunded`
    ChargeRefunded(Charge),
    /// Any other type: answered 200 and ignored.
    Other,
}

/// What the checkout function stored on the session and its payment intent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub invoice_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// `paid`, `unpaid` (a delayed method still on its way) or `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub client_reference_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    #[serde(default)]
    pub amount_received: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub last_payment_error: Option<PaymentError>,
    #[serde(default)]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentError {
    /// Meant for the person paying ("Your card was declined."); never card details.
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    #[serde(default)]
    pub refunds: Option<RefundList>,
    #[serde(default)]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefundList {
    #[serde(default)]
    pub data: Vec<Refund>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub currency: Option<String>,
    /// `pending`, `succeeded`, `failed`, `canceled` or `requires_action`.
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    account: Option<String>,
    data: Data,
}

#[derive(Debug, Deserialize)]
struct Data {
    object: serde_json::Value,
}

/// A body that is not an event Porchlight can read. The message names where decoding
/// stopped, never what the body said there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} does not decode ({category} at column {column})")]
pub struct EventError {
    pub what: &'static str,
    pub category: &'static str,
    pub column: usize,
    /// The event's id and type, once known.
    pub event: Option<(String, String)>,
}

fn event_error(what: &'static str, error: &serde_json::Error) -> EventError {
    let category = match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "early end",
    };
    EventError {
        what,
        category,
        column: error.column(),
        event: None,
    }
}

/// Reads an event from the (already verified) raw body.
pub fn parse(body: &[u8]) -> Result<Event, EventError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| event_error("the event", &e))?;
    let object = envelope.data.object;
    let decoded = match envelope.kind.as_str() {
        "checkout.session.completed" => {
            serde_json::from_value(object).map(Object::CheckoutCompleted)
        }
        "payment_intent.succeeded" => serde_json::from_value(object).map(Object::PaymentSucceeded),
        "payment_intent.payment_failed" => {
            serde_json::from_value(object).map(Object::PaymentFailed)
        }
        "charge.refunded" => serde_json::from_value(object).map(Object::ChargeRefunded),
        _ => Ok(Object::Other),
    };
    let object = decoded.map_err(|e| EventError {
        event: Some((envelope.id.clone(), envelope.kind.clone())),
        ..event_error("the event's object", &e)
    })?;
    Ok(Event {
        id: envelope.id,
        kind: envelope.kind,
        account: envelope.account,
        object,
    })
}

/// Why an event does not match what Porchlight holds; it is refused and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("metadata `{0}` is missing")]
    MissingMetadata(&'static str),
    #[error("metadata `{0}` is not a valid id")]
    BadMetadata(&'static str),
    #[error("client_reference_id names another client")]
    OtherClientReference,
    #[error("no payment intent")]
    NoPaymentIntent,
    #[error("no such company")]
    UnknownCompany,
    #[error("no such client in the company")]
    UnknownClient,
    #[error("no such invoice for the client")]
    UnknownInvoice,
    #[error("the company has no connected Stripe account")]
    NoAccount,
    #[error("the event comes from another Stripe account")]
    OtherAccount,
    #[error("the amount is in `{event}`, the invoice in `{invoice}`")]
    OtherCurrency { event: String, invoice: String },
    #[error("the amount is not positive")]
    NotPositive,
    #[error("the charge lists no refunds")]
    NoRefunds,
    #[error("the refunds add up to more than the charge")]
    RefundsAboveCharge,
    #[error(transparent)]
    Amount(#[from] AmountError),
}

/// The company, client and invoice an event is about, as its metadata names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub company: CompanySlug,
    pub client: ClientId,
    pub invoice: DocumentId,
}

impl Metadata {
    pub fn subject(&self) -> Result<Subject, Mismatch> {
        let field = |value: &Option<String>, name: &'static str| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(Mismatch::MissingMetadata(name))
        };
        let company = field(&self.company, "company")?;
        let client = field(&self.client_id, "client_id")?;
        let invoice = field(&self.invoice_id, "invoice_id")?;
        Ok(Subject {
            company: CompanySlug::parse(&company).map_err(|_| Mismatch::BadMetadata("company"))?,
            client: ClientId::parse(&client).map_err(|_| Mismatch::BadMetadata("client_id"))?,
            invoice: DocumentId::parse(&invoice)
                .map_err(|_| Mismatch::BadMetadata("invoice_id"))?,
        })
    }
}

/// What an event asks for, before it is checked against the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Money received: book it (once per payment intent).
    Book {
        subject: Subject,
        payment_intent: String,
        amount: Money,
        session_id: Option<String>,
    },
    /// A try to pay failed: mark the attempt, change no balance.
    Fail {
        subject: Subject,
        payment_intent: String,
        message: String,
    },
    /// Money given back: book each refund (once per refund id). The charge's amount lets
    /// the payment be booked first if its own event has not arrived yet.
    Refund {
        subject: Subject,
        payment_intent: String,
        charged: Money,
        refunds: Vec<(String, Money)>,
        /// The charge's running refunded total, for events that list no refunds (API
        /// versions since 2022-11-15 leave the list out): the difference from what is
        /// booked is the new refund.
        cumulative: Option<(String, Money)>,
    },
    /// Nothing to do, for this reason.
    Ignore(&'static str),
}

/// The longest failure message kept from Stripe.
const MESSAGE_CHARS: usize = 200;

fn amount(minor: Option<i64>, currency: Option<&str>) -> Result<Money, Mismatch> {
    let currency = currency.ok_or(Mismatch::NotPositive)?;
    let money = from_stripe(minor.unwrap_or(0), currency)?;
    if money.minor <= 0 {
        return Err(Mismatch::NotPositive);
    }
    Ok(money)
}

impl Event {
    /// What the event asks for, or why its content cannot be right.
    pub fn action(&self) -> Result<Action, Mismatch> {
        match &self.object {
            Object::CheckoutCompleted(session) => checkout_action(session),
            Object::PaymentSucceeded(intent) => Ok(Action::Book {
                subject: intent.metadata.subject()?,
                payment_intent: intent.id.clone(),
                amount: amount(intent.amount_received, intent.currency.as_deref())?,
                session_id: None,
            }),
            Object::PaymentFailed(intent) => {
                let message = intent
                    .last_payment_error
                    .as_ref()
                    .and_then(|e| e.message.as_deref())
                    .unwrap_or("the payment failed");
                Ok(Action::Fail {
                    subject: intent.metadata.subject()?,
                    payment_intent: intent.id.clone(),
                    message: message.chars().take(MESSAGE_CHARS).collect(),
                })
            }
            Object::ChargeRefunded(charge) => refund_action(charge),
            Object::Other => Ok(Action::Ignore("event type not handled")),
        }
    }
}

fn checkout_action(session: &CheckoutSession) -> Result<Action, Mismatch> {
    if session.payment_status.as_deref() != Some("paid") {
        // A delayed method (a bank debit) completes the session before the money arrives;
        // its payment_intent.succeeded books it then.
        return Ok(Action::Ignore("checkout session not paid yet"));
    }
    let subject = session.metadata.subject()?;
    if let Some(reference) = &session.client_reference_id
        && reference != subject.client.as_str()
    {
        return Err(Mismatch::OtherClientReference);
    }
    Ok(Action::Book {
        subject,
        payment_intent: session
            .payment_intent
            .clone()
            .ok_or(Mismatch::NoPaymentIntent)?,
        amount: amount(session.amount_total, session.currency.as_deref())?,
        session_id: Some(session.id.clone()),
    })
}

fn refund_action(charge: &Charge) -> Result<Action, Mismatch> {
    let subject = charge.metadata.subject()?;
    let payment_intent = charge
        .payment_intent
        .clone()
        .ok_or(Mismatch::NoPaymentIntent)?;
    let charged = amount(Some(charge.amount), Some(&charge.currency))?;
    let Some(listed) = charge.refunds.as_ref().filter(|list| !list.data.is_empty()) else {
        if charge.amount_refunded <= 0 {
            return Err(Mismatch::NoRefunds);
        }
        if charge.amount_refunded > charge.amount {
            return Err(Mismatch::RefundsAboveCharge);
        }
        let total = amount(Some(charge.amount_refunded), Some(&charge.currency))?;
        return Ok(Action::Refund {
            subject,
            payment_intent,
            charged,
            refunds: vec![],
            cumulative: Some((charge.id.clone(), total)),
        });
    };
    let mut refunds = Vec::new();
    for refund in &listed.data {
        // A failed or cancelled refund gave nothing back.
        if matches!(refund.status.as_deref(), Some("failed" | "canceled")) {
            continue;
        }
        let currency = refund.currency.as_deref().unwrap_or(&charge.currency);
        refunds.push((
            refund.id.clone(),
            amount(Some(refund.amount), Some(currency))?,
        ));
    }
    if refunds.is_empty() {
        return Err(Mismatch::NoRefunds);
    }
    let total: i64 = refunds.iter().map(|(_, money)| money.minor).sum();
    if total > charged.minor {
        return Err(Mismatch::RefundsAboveCharge);
    }
    Ok(Action::Refund {
        subject,
        payment_intent,
        charged,
        refunds,
        cumulative: None,
    })
}

/// A Connect event must come from the company's own connected account.
pub fn check_account(company: &Company, account: Option<&str>) -> Result<(), Mismatch> {
    let Some(connected) = company.settings.stripe_account.as_deref() else {
        return Err(Mismatch::NoAccount);
    };
    if account == Some(connected) {
        Ok(())
    } else {
        Err(Mismatch::OtherAccount)
    }
}

/// Money for `invoice` must be in its currency and positive. Whether a payment may exceed
/// the invoice's total is the booking's to decide: it knows the Checkout Session.
pub fn check_amount(invoice: &Invoice, amount: &Money) -> Result<(), Mismatch> {
    if amount.currency != invoice.total.currency {
        return Err(Mismatch::OtherCurrency {
            event: amount.currency.code().to_owned(),
            invoice: invoice.total.currency.code().to_owned(),
        });
    }
    if amount.minor <= 0 {
        return Err(Mismatch::NotPositive);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::money::Currency;

    const CLIENT: &str = "0123456789abcdef0123456789abcdef";
    const INVOICE: &str = "fedcba9876543210fedcba9876543210";

    fn metadata() -> serde_json::Value {
        json!({ "company": "greenridge", "client_id": CLIENT, "invoice_id": INVOICE,
            "other": "ignored" })
    }

    fn event(kind: &str, object: serde_json::Value) -> Event {
        let body = json!({ "id": "evt_test_A", "object": "event", "type": kind,
            "account": "acct_green", "created": 1_796_385_600, "livemode": false,
            "data": { "object": object } });
        parse(body.to_string().as_bytes()).expect("a valid event")
    }

    fn subject() -> Subject {
        Subject {
            company: CompanySlug::parse("greenridge").expect("valid"),
            client: ClientId::parse(CLIENT).expect("valid"),
            invoice: DocumentId::parse(INVOICE).expect("valid"),
        }
    }

    #[test]
    fn a_completed_checkout_books_its_amount() {
        let completed = event(
            "checkout.session.completed",
            json!({ "id": "cs_test_1", "object": "checkout.session", "amount_total": 12000,
                "currency": "usd", "payment_intent": "pi_test_1", "payment_status": "paid",
                "metadata": metadata(), "client_reference_id": CLIENT }),
        );
        assert_eq!(completed.account.as_deref(), Some("acct_green"));
        assert_eq!(
            completed.action(),
            Ok(Action::Book {
                subject: subject(),
                payment_intent: "pi_test_1".into(),
                amount: Money::new(12_000, Currency::usd()),
                session_id: Some("cs_test_1".into()),
            })
        );
    }

    #[test]
    fn zero_decimal_amounts_are_read_as_whole_units() {
        let succeeded = event(
            "payment_intent.succeeded",
            json!({ "id": "pi_jp", "amount_received": 8800, "currency": "jpy",
                "metadata": metadata() }),
        );
        let Ok(Action::Book { amount, .. }) = succeeded.action() else {
            panic!("a booking");
        };
        assert_eq!(amount.to_string(), "¥8,800");
    }

    #[test]
    fn unpaid_sessions_and_other_types_are_ignored() {
        let unpaid = event(
            "checkout.session.completed",
            json!({ "id": "cs_1", "payment_status": "unpaid", "metadata": {} }),
        );
        assert!(matches!(unpaid.action(), Ok(Action::Ignore(_))));
        let other = event("customer.created", json!({ "id": "cus_1", "email": 7 }));
        assert_eq!(other.object, Object::Other);
        assert!(matches!(other.action(), Ok(Action::Ignore(_))));
    }

    #[test]
    fn refunds_list_each_refund_and_skip_failed_ones() {
        let refunded = event(
            "charge.refunded",
            json!({ "id": "ch_1", "payment_intent": "pi_test_1", "amount": 12000,
                "amount_refunded": 5000, "currency": "usd", "metadata": metadata(),
                "refunds": { "object": "list", "data": [
                    { "id": "re_1", "amount": 3000, "status": "succeeded" },
                    { "id": "re_2", "amount": 2000, "status": "pending" },
                    { "id": "re_3", "amount": 9000, "status": "failed" },
                ] } }),
        );
        let Ok(Action::Refund {
            refunds, charged, ..
        }) = refunded.action()
        else {
            panic!("a refund");
        };
        assert_eq!(charged.minor, 12_000);
        let ids: Vec<&str> = refunds.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["re_1", "re_2"]);
    }

    #[test]
    fn bad_content_is_a_mismatch() {
        let other_reference = event(
            "checkout.session.completed",
            json!({ "id": "cs_1", "amount_total": 100, "currency": "usd",
                "payment_intent": "pi_1", "payment_status": "paid", "metadata": metadata(),
                "client_reference_id": INVOICE }),
        );
        assert_eq!(
            other_reference.action(),
            Err(Mismatch::OtherClientReference)
        );
        let no_metadata = event(
            "payment_intent.succeeded",
            json!({ "id": "pi_1", "amount_received": 100, "currency": "usd" }),
        );
        assert_eq!(
            no_metadata.action(),
            Err(Mismatch::MissingMetadata("company"))
        );
        let zero = event(
            "payment_intent.succeeded",
            json!({ "id": "pi_1", "amount_received": 0, "currency": "usd",
                "metadata": metadata() }),
        );
        assert_eq!(zero.action(), Err(Mismatch::NotPositive));
    }

    #[test]
    fn decoding_errors_never_quote_the_body() {
        let body = br#"{"id":"evt_1","type":"charge.refunded","data":{"object":
            {"id":"ch_1","amount":"secret-looking-text","currency":"usd"}}}"#;
        let error = parse(body).expect_err("the amount is not a number");
        assert!(
            !error.to_string().contains("secret-looking-text"),
            "{error}"
        );
        assert_eq!(
            error.event,
            Some(("evt_1".into(), "charge.refunded".into()))
        );
        assert!(parse(b"not json").is_err());
    }
}
