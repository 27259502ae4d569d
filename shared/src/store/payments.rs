//! Card payments as Stripe reports them: the Checkout Sessions a client started, payments
//! and refunds booked from webhook events, and the marks that keep each email about them to
//! one.
//!
//! Money moves only inside one transaction per booking, and every such transaction starts
//! with guards that can be written once: the Stripe event id (when the caller has one), the
//! payment intent (for a payment) or the refund id (for a refund). A repeated or concurrent
//! delivery therefore finds a guard taken and books nothing; the balance it would change is
//! also conditional on the value read, so two different payments racing on one invoice
//! cannot both subtract from the same balance.
//!
//! Emails are not part of that transaction (a mail server cannot take part in one). Each
//! email has a claim on the item it is about, taken with a conditional write *before*
//! sending and confirmed after: see [`Store::claim_payment_mail`] for why that order.

use std::fmt;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::backoffice::{PaymentSource, feed_attributes};
use super::keys::{self, Entity, Key};
use super::versioned::VERSION;
use super::{
    CancelReason, Item, Store, StoreError, TransactFailure, decode, done_unless_unmet, encode,
    is_conditional, n, request_error, s,
};
use crate::domain::{AppliedPayment, Company, Invoice, Payment};
use crate::ids::{ClientId, CompanySlug, DocumentId, random_bytes};
use crate::money::{Currency, Money};

/// How often a booking is tried again after losing a race (another delivery, a balance that
/// moved, a transaction conflict) before the caller gets an error and Stripe retries.
const BOOKING_ATTEMPTS: u32 = 8;

/// How long an event-id guard is kept: Stripe stops retrying an event after three days; the
/// payment-intent and refund guards, which protect the money, are kept for good.
const EVENT_GUARD_DAYS: i64 = 90;

const CHECKOUT_PREFIX: &str = "CHECKOUT#";

/// Marks a Checkout attempt paid with its payment intent and payment.
const PAID_UPDATE: &str = "SET #status = :paid, payment_intent = :pi, payment_id = :payment";

/// A Checkout Session started from the portal, stored at [`keys::checkout_attempt`] in the
/// client's partition, so the invoice page can say "processing" until the webhook confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutAttempt {
    pub session_id: String,
    pub invoice_id: DocumentId,
    pub amount: Money,
    pub created_at: DateTime<Utc>,
    pub status: CheckoutStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
    /// The payment booked for it, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<DocumentId>,
    /// Stripe's message for the last failed try (a declined card), never card details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Where a Checkout Session stands. It never moves backwards: `Paid` is final, `Failed` and
/// `Expired` can still become `Paid` (a retry in the same session, or events arriving out
/// of order), and `Open` can become anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    Open,
    Paid,
    Failed,
    Expired,
}

impl CheckoutStatus {
    pub fn name(self) -> &'static str {
        match self {
            CheckoutStatus::Open => "open",
            CheckoutStatus::Paid => "paid",
            CheckoutStatus::Failed => "failed",
            CheckoutStatus::Expired => "expired",
        }
    }

    /// Whether a session in this state may move to `next`.
    pub fn may_become(self, next: CheckoutStatus) -> bool {
        match (self, next) {
            (CheckoutStatus::Paid, _) => false,
            (CheckoutStatus::Open, other) => other != CheckoutStatus::Open,
            (_, CheckoutStatus::Paid) => true,
            _ => false,
        }
    }
}

/// Money Stripe says was received for an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeBooking {
    pub client_id: ClientId,
    pub invoice_id: DocumentId,
    /// `pi_...`: the payment's identity at Stripe; it is booked once, whatever the event.
    pub payment_intent: String,
    /// Already converted from Stripe's integer with [`crate::payments::amounts::from_stripe`].
    pub amount: Money,
    /// When Porchlight learnt of it; the payment's date (in the company's zone) and its
    /// place in the payments feed.
    pub received_at: DateTime<Utc>,
    /// `evt_...`, guarded too when given.
    pub event_id: Option<String>,
    /// `cs_...`, when the event names the Checkout Session; it is marked paid.
    pub session_id: Option<String>,
}

/// A payment booked from Stripe, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StripePayment {
    pub client_id: ClientId,
    pub invoice_id: DocumentId,
    pub payment_intent: String,
    pub payment: Payment,
    /// What the invoice still owed right after this payment (zero or less: paid).
    pub balance_after: Money,
    /// Refunded so far (zero when nothing was).
    pub refunded: Money,
}

/// What became of a booking.
#[derive(Debug, Clone, PartialEq)]
pub enum BookingOutcome {
    Booked(StripePayment),
    /// This payment intent was booked before (a redelivery, or another event about the same
    /// money): nothing changed.
    AlreadyBooked(StripePayment),
    /// Nothing changed, for this reason.
    Refused(BookingRefusal),
}

/// Why a payment (or a refund) was not booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingRefusal {
    NotPositive,
    /// The client has no such invoice, live or archived.
    UnknownInvoice,
    /// The invoice is kept in this other currency.
    OtherCurrency(Currency),
    /// More than the invoice's whole total, which is this.
    AboveTotal(Money),
    /// No payment was booked for this payment intent (a refund arriving before it).
    UnknownPayment,
    /// The refunds would add up to more than the payment, which is this.
    AbovePayment(Money),
    /// The event id was handled before, for another payment intent.
    EventReused,
}

impl fmt::Display for BookingRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BookingRefusal::NotPositive => f.write_str("the amount is not positive"),
            BookingRefusal::UnknownInvoice => f.write_str("no such invoice for the client"),
            BookingRefusal::OtherCurrency(code) => {
                write!(f, "the invoice is in `{}`", code.code())
            }
            BookingRefusal::AboveTotal(total) => {
                write!(f, "the amount is above the invoice total {total}")
            }
            BookingRefusal::UnknownPayment => f.write_str("no payment booked for the intent"),
            BookingRefusal::AbovePayment(paid) => {
                write!(f, "the refunds would exceed the payment of {paid}")
            }
            BookingRefusal::EventReused => {
                f.write_str("the event id was handled for another payment intent")
            }
        }
    }
}

/// A refund Stripe reports, one of the `refunds` of a `charge.refunded` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRefund {
    /// The payment intent of the refunded charge: it names the payment.
    pub payment_intent: String,
    /// `re_...`, booked once.
    pub refund_id: String,
    pub amount: Money,
    pub refunded_at: DateTime<Utc>,
}

/// A refund as booked. Refunds take from the part of the payment left unapplied first (a
/// credit never owed back to the invoice), then put the rest back on the invoice, never
/// above its total. The refund guard item holds this record; the payment item carries the
/// running `refunded` total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedRefund {
    pub refund_id: String,
    pub payment_intent: String,
    pub client_id: ClientId,
    pub invoice_id: DocumentId,
    pub payment_id: DocumentId,
    pub amount: Money,
    /// How much went back on the invoice's balance.
    pub to_invoice: Money,
    /// The invoice's balance right after the refund.
    pub balance_after: Money,
    /// The invoice had been archived by the sweep and was put back in the portal.
    pub restored: bool,
    pub refunded_at: DateTime<Utc>,
}

/// What became of a refund.
#[derive(Debug, Clone, PartialEq)]
pub enum RefundOutcome {
    Booked(BookedRefund),
    AlreadyBooked(BookedRefund),
    Refused(BookingRefusal),
}

/// What a `payment_intent.payment_failed` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureOutcome {
    /// The attempt of this session is now failed.
    Marked(String),
    /// The money was booked (or the attempt is past failing): nothing changed.
    AlreadySettled,
    /// No open attempt matches: nothing to change.
    NoAttempt,
}

/// An email about a payment or a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMail {
    /// The client's receipt of a payment.
    Receipt,
    /// The notice to the company's `notify_email` of a payment.
    StaffNotice,
    /// The client's note of a refund.
    Refund,
}

impl PaymentMail {
    fn flag(self) -> &'static str {
        match self {
            PaymentMail::Receipt => "receipt",
            PaymentMail::StaffNotice => "staff_notice",
            PaymentMail::Refund => "refund_mail",
        }
    }
}

/// A claim on sending one email, held by one delivery until it confirms or releases it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailClaim {
    key: Key,
    kind: PaymentMail,
    token: String,
}

/// The guard that a payment intent was booked, and where its payment is.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IntentGuard {
    payment_intent: String,
    client_id: ClientId,
    invoice_id: DocumentId,
    payment_id: DocumentId,
    booked_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
}

/// The guard that an event was handled.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EventGuard {
    event_id: String,
    company: CompanySlug,
    payment_intent: String,
    handled_at: DateTime<Utc>,
}

/// What the payment item holds beside the [`Payment`] itself.
#[derive(Debug, Clone, Deserialize)]
struct StripeExtras {
    stripe_payment_intent: String,
    stripe_invoice_id: DocumentId,
    invoice_balance_after: Money,
    #[serde(default)]
    refunded: Option<Money>,
}

/// The invoice a booking is for, as read.
enum Target {
    Live { invoice: Invoice },
    Archived { invoice: Invoice, item: Item },
}

impl Target {
    fn invoice(&self) -> &Invoice {
        match self {
            Target::Live { invoice } | Target::Archived { invoice, .. } => invoice,
        }
    }
}

fn failed_at(reasons: &[CancelReason], index: Option<usize>) -> bool {
    index
        .and_then(|i| reasons.get(i))
        .is_some_and(|r| r.code == "ConditionalCheckFailed")
}

fn attribute<T: Serialize>(value: &T, entity: Entity) -> Result<AttributeValue, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value).map_err(|source| {
        StoreError::Encode {
            entity: entity.name(),
            source,
        }
    })
}

/// A short pause after losing a race, so the winner's write is visible to the next read.
async fn pause(attempt: u32) {
    let jitter = u64::from(random_bytes::<1>()[0] % 25);
    tokio::time::sleep(std::time::Duration::from_millis(
        15 * u64::from(attempt) + jitter,
    ))
    .await;
}

/// The payment id of a payment intent: derived, so every delivery computes the same one.
pub fn stripe_payment_id(company: &Company, payment_intent: &str) -> DocumentId {
    DocumentId::derived(
        &company.id_secret,
        &format!("stripe:payment_intent:{payment_intent}"),
    )
}

impl Store {
    /// Records a Checkout Session the portal just created. Idempotent for the same session
    /// id: a second call (a retried request) changes nothing, and neither does a call after
    /// the webhook has already recorded the session as paid.
    pub async fn record_checkout_started(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        attempt: &CheckoutAttempt,
    ) -> Result<(), StoreError> {
        let key = keys::checkout_attempt(slug, client, &attempt.session_id);
        self.put_new(&key, Entity::CheckoutAttempt, attempt, Item::new())
            .await?;
        Ok(())
    }

    /// One Checkout Session of a client.
    pub async fn checkout_attempt(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        session_id: &str,
    ) -> Result<Option<CheckoutAttempt>, StoreError> {
        let key = keys::checkout_attempt(slug, client, session_id);
        self.get_as(&key, Entity::CheckoutAttempt).await
    }

    /// Every Checkout Session of a client, oldest first.
    pub async fn checkout_attempts(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
    ) -> Result<Vec<CheckoutAttempt>, StoreError> {
        let partition = keys::client_partition(slug, client);
        let items = self
            .query_all(
                "table",
                "PK = :pk",
                s(&partition),
                Some(CHECKOUT_PREFIX),
                true,
            )
            .await?;
        let mut attempts: Vec<CheckoutAttempt> = items
            .into_iter()
            .map(|item| decode(Entity::CheckoutAttempt, item))
            .collect::<Result<_, _>>()?;
        attempts.sort_by_key(|a| a.created_at);
        Ok(attempts)
    }

    /// The payment booked for a payment intent, if any.
    pub async fn stripe_payment(
        &self,
        slug: &CompanySlug,
        payment_intent: &str,
    ) -> Result<Option<StripePayment>, StoreError> {
        let guard_key = keys::stripe_payment_intent(slug, payment_intent);
        let Some(guard) = self
            .get_as::<IntentGuard>(&guard_key, Entity::StripePaymentIntent)
            .await?
        else {
            return Ok(None);
        };
        let key = keys::payment(slug, &guard.client_id, &guard.payment_id);
        let Some(item) = self.get(&key).await? else {
            // Written in one transaction with the guard, so this cannot be.
            return Err(StoreError::ConditionFailed {
                operation: "GetItem stripe payment",
            });
        };
        stripe_payment_of(guard.client_id, item).map(Some)
    }

    /// Books money Stripe says was received, exactly once per payment intent (and per
    /// event id when `event_id` is `Some`). One transaction writes the event guard (if
    /// any), the payment-intent guard, the payment (its id derived from the company secret
    /// and the intent, `reference` = the intent, in the payments feed), the invoice's
    /// balance lowered (conditional on the balance read, with the sweep's hint set so the
    /// paid-invoice retention applies) and the Checkout attempt marked paid.
    ///
    /// More than the invoice still owes is kept as `unapplied` on the payment, and logged
    /// for staff: money received is never lost. A payment for an invoice the sweep already
    /// archived, or one voided meanwhile, is booked wholly unapplied for the same reason.
    pub async fn book_stripe_payment(
        &self,
        company: &Company,
        booking: &StripeBooking,
    ) -> Result<BookingOutcome, StoreError> {
        let slug = &company.slug;
        if booking.amount.minor <= 0 {
            return Ok(BookingOutcome::Refused(BookingRefusal::NotPositive));
        }
        for attempt in 1..=BOOKING_ATTEMPTS {
            if let Some(existing) = self.stripe_payment(slug, &booking.payment_intent).await? {
                self.settle_checkout(slug, &existing, booking.session_id.as_deref())
                    .await?;
                return Ok(BookingOutcome::AlreadyBooked(existing));
            }
            let Some(target) = self
                .booking_target(slug, &booking.client_id, &booking.invoice_id)
                .await?
            else {
                return Ok(BookingOutcome::Refused(BookingRefusal::UnknownInvoice));
            };
            let invoice = target.invoice();
            if invoice.total.currency != booking.amount.currency {
                let code = invoice.total.currency.clone();
                return Ok(BookingOutcome::Refused(BookingRefusal::OtherCurrency(code)));
            }
            let session = self.attempt_to_settle(slug, booking).await?;
            // More than the invoice's whole total is refused, unless it is what a Checkout
            // Session of ours asked for: staff may have lowered the total while the client
            // was paying, and money Stripe took must be booked (the surplus as credit).
            let ours = matches!(session, Some((_, true)));
            if booking.amount.minor > invoice.total.minor && !ours {
                let total = invoice.total.clone();
                return Ok(BookingOutcome::Refused(BookingRefusal::AboveTotal(total)));
            }

            let (items, plan) = self.booking_items(company, booking, &target, session)?;
            let reasons = match self
                .transact("TransactWriteItems stripe payment", items)
                .await
            {
                Ok(()) => {
                    log_booked(company, booking, &plan.booked);
                    return Ok(BookingOutcome::Booked(plan.booked));
                }
                Err(TransactFailure::Store(error)) => return Err(error),
                Err(TransactFailure::Cancelled { reasons, .. }) => reasons,
            };
            if failed_at(&reasons, plan.event_guard) && !failed_at(&reasons, Some(plan.intent)) {
                // The event was handled, yet its intent is not booked: an event id reused
                // for other money. Never book it twice.
                if let Some(existing) = self.stripe_payment(slug, &booking.payment_intent).await? {
                    return Ok(BookingOutcome::AlreadyBooked(existing));
                }
                return Ok(BookingOutcome::Refused(BookingRefusal::EventReused));
            }
            // A guard taken (the next round finds the booking), the balance moved, or a
            // conflicting transaction: read again and decide again.
            pause(attempt).await;
        }
        Err(StoreError::ConditionFailed {
            operation: "TransactWriteItems stripe payment",
        })
    }

    /// The invoice in the client's partition, or else its archived copy.
    async fn booking_target(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        invoice_id: &DocumentId,
    ) -> Result<Option<Target>, StoreError> {
        let live = keys::invoice(slug, client, invoice_id);
        if let Some(invoice) = self.get_as(&live, Entity::Invoice).await? {
            return Ok(Some(Target::Live { invoice }));
        }
        let archived = keys::archived_invoice(slug, client, invoice_id);
        let Some(item) = self.get(&archived).await? else {
            return Ok(None);
        };
        let invoice = decode(Entity::ArchivedInvoice, item.clone())?;
        Ok(Some(Target::Archived { invoice, item }))
    }

    /// The Checkout attempt a booking settles: the session the event names, or else (a
    /// `payment_intent.succeeded`, which names no session) the one that carries the
    /// payment intent or matches it. `(session id, whether it is stored)`.
    async fn attempt_to_settle(
        &self,
        slug: &CompanySlug,
        booking: &StripeBooking,
    ) -> Result<Option<(String, bool)>, StoreError> {
        if let Some(session) = &booking.session_id {
            let stored = self
                .checkout_attempt(slug, &booking.client_id, session)
                .await?
                .is_some();
            return Ok(Some((session.clone(), stored)));
        }
        let attempts = self.checkout_attempts(slug, &booking.client_id).await?;
        let by_intent = attempts
            .iter()
            .find(|a| a.payment_intent.as_deref() == Some(booking.payment_intent.as_str()));
        // Failing that, the newest unsettled session of the invoice for this very amount
        // that no intent has claimed yet: the one the client is paying through.
        let by_amount = || {
            attempts.iter().rev().find(|a| {
                a.invoice_id == booking.invoice_id
                    && a.amount == booking.amount
                    && a.payment_intent.is_none()
                    && a.status.may_become(CheckoutStatus::Paid)
            })
        };
        Ok(by_intent
            .or_else(by_amount)
            .map(|a| (a.session_id.clone(), true)))
    }

    fn booking_items(
        &self,
        company: &Company,
        booking: &StripeBooking,
        target: &Target,
        session: Option<(String, bool)>,
    ) -> Result<(Vec<TransactWriteItem>, BookingPlan), StoreError> {
        let slug = &company.slug;
        let client = &booking.client_id;
        let invoice = target.invoice();
        let live = matches!(target, Target::Live { .. }) && !invoice.voided;
        let seen = invoice.balance.minor;
        let applied = if live {
            booking.amount.minor.min(seen.max(0))
        } else {
            0
        };
        let currency = booking.amount.currency.clone();
        let payment = Payment {
            id: stripe_payment_id(company, &booking.payment_intent),
            received_on: company.today(booking.received_at),
            amount: booking.amount.clone(),
            unapplied: Money::new(booking.amount.minor - applied, currency.clone()),
            applied: if applied > 0 {
                vec![AppliedPayment {
                    invoice_id: booking.invoice_id.clone(),
                    amount: Money::new(applied, currency.clone()),
                }]
            } else {
                vec![]
            },
            reference: Some(booking.payment_intent.clone()),
            voided: false,
            refunded: None,
        };
        let booked = StripePayment {
            client_id: client.clone(),
            invoice_id: booking.invoice_id.clone(),
            payment_intent: booking.payment_intent.clone(),
            balance_after: Money::new(seen - applied, currency.clone()),
            refunded: Money::zero(currency),
            payment,
        };

        let mut items = Vec::new();
        let event_guard = match &booking.event_id {
            Some(event_id) => {
                items.push(self.event_guard_put(slug, event_id, booking)?);
                Some(items.len() - 1)
            }
            None => None,
        };
        items.push(self.intent_guard_put(slug, booking, &booked)?);
        let intent = items.len() - 1;
        items.push(self.payment_put(slug, booking, &booked)?);
        items.push(self.balance_write(slug, client, target, applied)?);
        if let Some((session, stored)) = session {
            items.push(self.settle_write(slug, booking, &booked, &session, stored)?);
        }
        let plan = BookingPlan {
            booked,
            event_guard,
            intent,
        };
        Ok((items, plan))
    }

    fn event_guard_put(
        &self,
        slug: &CompanySlug,
        event_id: &str,
        booking: &StripeBooking,
    ) -> Result<TransactWriteItem, StoreError> {
        let guard = EventGuard {
            event_id: event_id.to_owned(),
            company: slug.clone(),
            payment_intent: booking.payment_intent.clone(),
            handled_at: booking.received_at,
        };
        let mut item = encode(&keys::stripe_event(event_id), Entity::StripeEvent, &guard)?;
        let expires = booking.received_at + Duration::days(EVENT_GUARD_DAYS);
        item.insert(keys::TTL.into(), n(expires.timestamp()));
        let put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn intent_guard_put(
        &self,
        slug: &CompanySlug,
        booking: &StripeBooking,
        booked: &StripePayment,
    ) -> Result<TransactWriteItem, StoreError> {
        let guard = IntentGuard {
            payment_intent: booking.payment_intent.clone(),
            client_id: booking.client_id.clone(),
            invoice_id: booking.invoice_id.clone(),
            payment_id: booked.payment.id.clone(),
            booked_at: booking.received_at,
            event_id: booking.event_id.clone(),
        };
        let key = keys::stripe_payment_intent(slug, &booking.payment_intent);
        let put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(encode(&key, Entity::StripePaymentIntent, &guard)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn payment_put(
        &self,
        slug: &CompanySlug,
        booking: &StripeBooking,
        booked: &StripePayment,
    ) -> Result<TransactWriteItem, StoreError> {
        let client = &booking.client_id;
        let key = keys::payment(slug, client, &booked.payment.id);
        let mut item = encode(&key, Entity::Payment, &booked.payment)?;
        item.insert(VERSION.into(), n(1));
        item.extend(feed_attributes(
            slug,
            client,
            &booked.payment.id,
            PaymentSource::Stripe,
            booking.received_at,
        ));
        item.insert("stripe_payment_intent".into(), s(&booking.payment_intent));
        item.insert("stripe_invoice_id".into(), s(booking.invoice_id.as_str()));
        item.insert(
            "invoice_balance_after".into(),
            attribute(&booked.balance_after, Entity::Payment)?,
        );
        let put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The invoice's part of a booking: its balance lowered by `applied` if it is still the
    /// balance read, or (nothing to apply) a check that it is; for an archived invoice, a
    /// check that it was not put back meanwhile.
    fn balance_write(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        target: &Target,
        applied: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let invoice = target.invoice();
        let key = keys::invoice(slug, client, &invoice.id);
        if matches!(target, Target::Archived { .. }) {
            let check = ConditionCheck::builder()
                .table_name(self.table_name())
                .key(keys::PK, s(&key.pk))
                .key(keys::SK, s(&key.sk))
                .condition_expression("attribute_not_exists(PK)")
                .build()?;
            return Ok(TransactWriteItem::builder().condition_check(check).build());
        }
        let seen = invoice.balance.minor;
        let condition = "attribute_exists(PK) AND #balance.#minor = :seen";
        if applied == 0 {
            let check = ConditionCheck::builder()
                .table_name(self.table_name())
                .key(keys::PK, s(&key.pk))
                .key(keys::SK, s(&key.sk))
                .condition_expression(condition)
                .expression_attribute_names("#balance", "balance")
                .expression_attribute_names("#minor", "minor")
                .expression_attribute_values(":seen", n(seen))
                .build()?;
            return Ok(TransactWriteItem::builder().condition_check(check).build());
        }
        let update = self
            .balance_update(slug, client, &key, seen, seen - applied)
            .condition_expression(format!(
                "{condition} AND (attribute_not_exists(#voided) OR #voided = :false)"
            ))
            .expression_attribute_names("#voided", "voided")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Sets a live invoice's balance from `seen` to `after`, moves its version on (a
    /// back-office write based on the old version must not put the old balance back) and
    /// asks the sweep to look at it now, as `record_payment` does: paid, it starts its
    /// retention; unpaid again, the sweep leaves it in the portal.
    fn balance_update(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        key: &Key,
        seen: i64,
        after: i64,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        let hint = keys::sweep_hint(None, &format!("{client}#{}", key.sk));
        Update::builder()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression(
                "SET #balance.#minor = :after, \
                 #version = if_not_exists(#version, :zero) + :one, \
                 GSI1PK = :sweep, GSI1SK = :hint",
            )
            .expression_attribute_names("#balance", "balance")
            .expression_attribute_names("#minor", "minor")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":seen", n(seen))
            .expression_attribute_values(":after", n(after))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":sweep", s(&keys::sweep_partition(slug)))
            .expression_attribute_values(":hint", s(&hint))
    }

    /// The Checkout attempt marked paid inside the booking: updated if it was stored, or
    /// written paid if the webhook came before the portal stored it.
    fn settle_write(
        &self,
        slug: &CompanySlug,
        booking: &StripeBooking,
        booked: &StripePayment,
        session: &str,
        stored: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::checkout_attempt(slug, &booking.client_id, session);
        if !stored {
            let attempt = CheckoutAttempt {
                session_id: session.to_owned(),
                invoice_id: booking.invoice_id.clone(),
                amount: booking.amount.clone(),
                created_at: booking.received_at,
                status: CheckoutStatus::Paid,
                payment_intent: Some(booking.payment_intent.clone()),
                payment_id: Some(booked.payment.id.clone()),
                failure: None,
            };
            let put = Put::builder()
                .table_name(self.table_name())
                .set_item(Some(encode(&key, Entity::CheckoutAttempt, &attempt)?))
                .condition_expression("attribute_not_exists(PK)")
                .build()?;
            return Ok(TransactWriteItem::builder().put(put).build());
        }
        let update = Update::builder()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression(PAID_UPDATE)
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":paid", s(CheckoutStatus::Paid.name()))
            .expression_attribute_values(":pi", s(&booking.payment_intent))
            .expression_attribute_values(":payment", s(booked.payment.id.as_str()))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Marks a session paid after the fact (the booking came through another event first).
    async fn settle_checkout(
        &self,
        slug: &CompanySlug,
        payment: &StripePayment,
        session: Option<&str>,
    ) -> Result<(), StoreError> {
        let Some(session) = session else {
            return Ok(());
        };
        let key = keys::checkout_attempt(slug, &payment.client_id, session);
        self.count();
        let result = self
            .dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression(PAID_UPDATE)
            .condition_expression("attribute_exists(PK) AND #status <> :paid")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":paid", s(CheckoutStatus::Paid.name()))
            .expression_attribute_values(":pi", s(&payment.payment_intent))
            .expression_attribute_values(":payment", s(payment.payment.id.as_str()))
            .send()
            .await;
        done_unless_unmet(result, "UpdateItem checkout paid")
    }

    /// Records a failed payment try against its Checkout attempt, unless the money was
    /// booked already or the attempt is past failing (the status never moves backwards).
    /// The attempt is the one carrying the payment intent, or else the newest open one of
    /// the invoice. No balance changes.
    pub async fn mark_checkout_failed(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        invoice_id: &DocumentId,
        payment_intent: &str,
        failure: &str,
    ) -> Result<FailureOutcome, StoreError> {
        if self.stripe_payment(slug, payment_intent).await?.is_some() {
            return Ok(FailureOutcome::AlreadySettled);
        }
        let attempts = self.checkout_attempts(slug, client).await?;
        let by_intent = attempts
            .iter()
            .find(|a| a.payment_intent.as_deref() == Some(payment_intent));
        let chosen = by_intent.or_else(|| {
            attempts.iter().rev().find(|a| {
                &a.invoice_id == invoice_id
                    && a.payment_intent.is_none()
                    && a.status == CheckoutStatus::Open
            })
        });
        let Some(attempt) = chosen else {
            return Ok(FailureOutcome::NoAttempt);
        };
        if !attempt.status.may_become(CheckoutStatus::Failed)
            && attempt.status != CheckoutStatus::Failed
        {
            return Ok(FailureOutcome::AlreadySettled);
        }
        let key = keys::checkout_attempt(slug, client, &attempt.session_id);
        self.count();
        let result = self
            .dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET #status = :failed, failure = :why, payment_intent = :pi")
            .condition_expression("#status = :open OR #status = :failed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s(CheckoutStatus::Failed.name()))
            .expression_attribute_values(":open", s(CheckoutStatus::Open.name()))
            .expression_attribute_values(":why", s(failure))
            .expression_attribute_values(":pi", s(payment_intent))
            .send()
            .await;
        match result {
            Ok(_) => Ok(FailureOutcome::Marked(attempt.session_id.clone())),
            // Paid (or expired) meanwhile: a later status stands.
            Err(e) if is_conditional(&e) => Ok(FailureOutcome::AlreadySettled),
            Err(e) => Err(request_error("UpdateItem checkout failed", e)),
        }
    }

    /// Books one refund once. One transaction writes the refund guard, the payment's new
    /// `refunded` total (conditional on the total read, and on staying within the payment)
    /// and the invoice's balance raised by the refund's part that was applied to it, never
    /// above its total. An invoice the sweep archived is put back in the client's
    /// partition in the same transaction (the archive copy deleted, the invoice written
    /// with its new balance), so it shows in the portal again.
    pub async fn book_stripe_refund(
        &self,
        company: &Company,
        refund: &StripeRefund,
    ) -> Result<RefundOutcome, StoreError> {
        let slug = &company.slug;
        if refund.amount.minor <= 0 {
            return Ok(RefundOutcome::Refused(BookingRefusal::NotPositive));
        }
        for attempt in 1..=BOOKING_ATTEMPTS {
            // The payment first, then the guard: both change in one transaction, so a
            // guard still absent after the payment was read means the payment as read
            // does not include this refund (read the other way round, a concurrent
            // delivery committing in between would make this one look like too much).
            let payment = self.stripe_payment(slug, &refund.payment_intent).await?;
            let guard_key = keys::stripe_refund(slug, &refund.refund_id);
            if let Some(booked) = self.get_as(&guard_key, Entity::StripeRefund).await? {
                return Ok(RefundOutcome::AlreadyBooked(booked));
            }
            let Some(payment) = payment else {
                return Ok(RefundOutcome::Refused(BookingRefusal::UnknownPayment));
            };
            let paid = &payment.payment.amount;
            if paid.currency != refund.amount.currency {
                let code = paid.currency.clone();
                return Ok(RefundOutcome::Refused(BookingRefusal::OtherCurrency(code)));
            }
            if payment.refunded.minor + refund.amount.minor > paid.minor {
                let paid = paid.clone();
                return Ok(RefundOutcome::Refused(BookingRefusal::AbovePayment(paid)));
            }
            let Some(target) = self
                .booking_target(slug, &payment.client_id, &payment.invoice_id)
                .await?
            else {
                return Ok(RefundOutcome::Refused(BookingRefusal::UnknownInvoice));
            };

            let booked = refund_plan(&payment, &target, refund);
            let items = self.refund_items(slug, &payment, &target, &booked)?;
            match self
                .transact("TransactWriteItems stripe refund", items)
                .await
            {
                Ok(()) => {
                    tracing::info!(slug = %slug, refund = %booked.refund_id,
                        payment = %booked.payment_id, invoice = %booked.invoice_id,
                        amount = %booked.amount, to_invoice = %booked.to_invoice,
                        restored = booked.restored, "stripe refund booked");
                    return Ok(RefundOutcome::Booked(booked));
                }
                Err(TransactFailure::Store(error)) => return Err(error),
                // Taken by another delivery, or the payment or invoice moved: again.
                Err(TransactFailure::Cancelled { .. }) => pause(attempt).await,
            }
        }
        Err(StoreError::ConditionFailed {
            operation: "TransactWriteItems stripe refund",
        })
    }

    fn refund_items(
        &self,
        slug: &CompanySlug,
        payment: &StripePayment,
        target: &Target,
        booked: &BookedRefund,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let guard_key = keys::stripe_refund(slug, &booked.refund_id);
        let guard = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(encode(&guard_key, Entity::StripeRefund, booked)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let mut items = vec![TransactWriteItem::builder().put(guard).build()];

        let key = keys::payment(slug, &payment.client_id, &payment.payment.id);
        let refunded = Money::new(
            payment.refunded.minor + booked.amount.minor,
            booked.amount.currency.clone(),
        );
        let position = keys::payments_feed_position(
            booked.refunded_at,
            &payment.client_id,
            &payment.payment.id,
        );
        // The payment moves to the end of the feed: the back office sees it changed.
        let update = Update::builder()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression(
                "SET refunded = :refunded, GSI1SK = :position, \
                 #version = if_not_exists(#version, :zero) + :one",
            )
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":refunded", attribute(&refunded, Entity::Payment)?)
            .expression_attribute_values(":position", s(&position))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1));
        let update = if payment.refunded.minor == 0 {
            update.condition_expression("attribute_exists(PK) AND attribute_not_exists(refunded)")
        } else {
            update
                .condition_expression("refunded.#minor = :seen")
                .expression_attribute_names("#minor", "minor")
                .expression_attribute_values(":seen", n(payment.refunded.minor))
        };
        items.push(TransactWriteItem::builder().update(update.build()?).build());

        if booked.to_invoice.minor == 0 {
            return Ok(items);
        }
        let invoice = target.invoice();
        let seen = invoice.balance.minor;
        let after = booked.balance_after.minor;
        let live_key = keys::invoice(slug, &payment.client_id, &invoice.id);
        match target {
            Target::Live { .. } => {
                let update = self
                    .balance_update(slug, &payment.client_id, &live_key, seen, after)
                    .condition_expression("attribute_exists(PK) AND #balance.#minor = :seen")
                    .build()?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
            Target::Archived { item, .. } => {
                items.extend(self.restore_items(slug, &payment.client_id, item, seen, after)?);
            }
        }
        Ok(items)
    }

    /// Puts an archived invoice back in the client's partition with balance `after`: the
    /// archive copy deleted if it still holds balance `seen`, the invoice written if no
    /// invoice is there. Every other attribute (notes, version, import hash) comes back.
    fn restore_items(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        archived: &Item,
        seen: i64,
        after: i64,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let text = |name: &str| match archived.get(name) {
            Some(AttributeValue::S(value)) => value.clone(),
            _ => String::new(),
        };
        let archive_key = Key {
            pk: text(keys::PK),
            sk: text(keys::SK),
        };
        let live_key = Key {
            pk: keys::client_partition(slug, client),
            sk: archive_key.sk.clone(),
        };
        let mut item = archived.clone();
        item.remove("archived_at");
        item.insert(keys::PK.into(), s(&live_key.pk));
        item.insert(keys::SK.into(), s(&live_key.sk));
        item.insert(keys::ENTITY_TYPE.into(), s(Entity::Invoice.name()));
        if let Some(AttributeValue::M(balance)) = item.get_mut("balance") {
            balance.insert("minor".into(), n(after));
        }
        let version = match archived.get(VERSION) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        item.insert(VERSION.into(), n(version + 1));
        let hint = keys::sweep_hint(None, &format!("{client}#{}", live_key.sk));
        item.insert(keys::GSI1PK.into(), s(&keys::sweep_partition(slug)));
        item.insert(keys::GSI1SK.into(), s(&hint));

        let delete = Delete::builder()
            .table_name(self.table_name())
            .key(keys::PK, s(&archive_key.pk))
            .key(keys::SK, s(&archive_key.sk))
            .condition_expression("attribute_exists(PK) AND #balance.#minor = :seen")
            .expression_attribute_names("#balance", "balance")
            .expression_attribute_names("#minor", "minor")
            .expression_attribute_values(":seen", n(seen))
            .build()?;
        let put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        Ok(vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().put(put).build(),
        ])
    }

    /// Claims sending one email about a payment; `None` if another delivery claimed it
    /// (and sent it, or is sending it) already.
    ///
    /// The claim is written *before* sending, with a condition that no claim exists, and
    /// confirmed with [`Store::finish_payment_mail`] after. That order is what makes an
    /// email go out at most once however many deliveries race: only one claim can be
    /// written. A send that fails with an error gives the claim back
    /// ([`Store::release_payment_mail`]) and the caller answers 500, so Stripe's next
    /// delivery (which finds the payment already booked) claims and sends it: an email
    /// not sent yet is sent then. Only a process dying between claiming and confirming
    /// leaves a claim without a confirmation; such an email is not sent again, because
    /// nothing can tell whether the mail server took it before the end, and a second
    /// receipt is the worse mistake. The claim's time stays on the item for staff.
    pub async fn claim_payment_mail(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        payment_id: &DocumentId,
        kind: PaymentMail,
        now: DateTime<Utc>,
    ) -> Result<Option<MailClaim>, StoreError> {
        self.claim_mail(keys::payment(slug, client, payment_id), kind, now)
            .await
    }

    /// Claims the client's email about one refund, as [`Store::claim_payment_mail`].
    pub async fn claim_refund_mail(
        &self,
        slug: &CompanySlug,
        refund_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<MailClaim>, StoreError> {
        let key = keys::stripe_refund(slug, refund_id);
        self.claim_mail(key, PaymentMail::Refund, now).await
    }

    async fn claim_mail(
        &self,
        key: Key,
        kind: PaymentMail,
        now: DateTime<Utc>,
    ) -> Result<Option<MailClaim>, StoreError> {
        let token = hex::encode(random_bytes::<16>());
        let flag = kind.flag();
        self.count();
        let result = self
            .dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET #claim = :token, #claimed_at = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#claim)")
            .expression_attribute_names("#claim", format!("{flag}_claim"))
            .expression_attribute_names("#claimed_at", format!("{flag}_claimed_at"))
            .expression_attribute_values(":token", s(&token))
            .expression_attribute_values(":now", s(&now.to_rfc3339()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(MailClaim { key, kind, token })),
            Err(e) if is_conditional(&e) => Ok(None),
            Err(e) => Err(request_error("UpdateItem mail claim", e)),
        }
    }

    /// Confirms a claimed email was handed to the mail server.
    pub async fn finish_payment_mail(
        &self,
        claim: &MailClaim,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let flag = claim.kind.flag();
        self.count();
        self.dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&claim.key.pk))
            .key(keys::SK, s(&claim.key.sk))
            .update_expression("SET #sent_at = :now, #message = :id")
            .expression_attribute_names("#sent_at", format!("{flag}_sent_at"))
            .expression_attribute_names("#message", format!("{flag}_message_id"))
            .expression_attribute_values(":now", s(&now.to_rfc3339()))
            .expression_attribute_values(":id", s(message_id))
            .send()
            .await
            .map_err(|e| request_error("UpdateItem mail sent", e))?;
        Ok(())
    }

    /// Gives back a claim whose email could not be sent, so a later delivery sends it.
    pub async fn release_payment_mail(&self, claim: &MailClaim) -> Result<(), StoreError> {
        let flag = claim.kind.flag();
        self.count();
        let result = self
            .dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&claim.key.pk))
            .key(keys::SK, s(&claim.key.sk))
            .update_expression("REMOVE #claim, #claimed_at")
            .condition_expression("#claim = :token AND attribute_not_exists(#sent_at)")
            .expression_attribute_names("#claim", format!("{flag}_claim"))
            .expression_attribute_names("#claimed_at", format!("{flag}_claimed_at"))
            .expression_attribute_names("#sent_at", format!("{flag}_sent_at"))
            .expression_attribute_values(":token", s(&claim.token))
            .send()
            .await;
        done_unless_unmet(result, "UpdateItem mail release")
    }
}

/// What a booking will write, and where its guards sit among the transaction's items.
struct BookingPlan {
    booked: StripePayment,
    event_guard: Option<usize>,
    intent: usize,
}

/// How one refund divides between the payment's unapplied credit and the invoice.
fn refund_plan(payment: &StripePayment, target: &Target, refund: &StripeRefund) -> BookedRefund {
    let currency = refund.amount.currency.clone();
    let unapplied_left = (payment.payment.unapplied.minor - payment.refunded.minor).max(0);
    let from_credit = refund.amount.minor.min(unapplied_left);
    let invoice = target.invoice();
    let room = (invoice.total.minor - invoice.balance.minor).max(0);
    let to_invoice = (refund.amount.minor - from_credit).min(room);
    BookedRefund {
        refund_id: refund.refund_id.clone(),
        payment_intent: refund.payment_intent.clone(),
        client_id: payment.client_id.clone(),
        invoice_id: payment.invoice_id.clone(),
        payment_id: payment.payment.id.clone(),
        amount: refund.amount.clone(),
        to_invoice: Money::new(to_invoice, currency.clone()),
        balance_after: Money::new(invoice.balance.minor + to_invoice, currency),
        restored: to_invoice > 0 && matches!(target, Target::Archived { .. }),
        refunded_at: refund.refunded_at,
    }
}

fn stripe_payment_of(client_id: ClientId, item: Item) -> Result<StripePayment, StoreError> {
    let extras: StripeExtras = decode(Entity::Payment, item.clone())?;
    let payment: Payment = decode(Entity::Payment, item)?;
    let currency = payment.amount.currency.clone();
    Ok(StripePayment {
        client_id,
        invoice_id: extras.stripe_invoice_id,
        payment_intent: extras.stripe_payment_intent,
        balance_after: extras.invoice_balance_after,
        refunded: extras.refunded.unwrap_or_else(|| Money::zero(currency)),
        payment,
    })
}

fn log_booked(company: &Company, booking: &StripeBooking, booked: &StripePayment) {
    let payment = &booked.payment;
    if payment.unapplied.minor > 0 {
        // Staff must decide what to do with it (refund it, or apply it elsewhere).
        tracing::warn!(slug = %company.slug, client = %booking.client_id,
            invoice = %booking.invoice_id, payment = %payment.id,
            payment_intent = %booking.payment_intent, amount = %payment.amount,
            unapplied = %payment.unapplied,
            "stripe payment exceeds what the invoice owed; the rest is kept unapplied");
    }
    tracing::info!(slug = %company.slug, client = %booking.client_id,
        invoice = %booking.invoice_id, payment = %payment.id,
        payment_intent = %booking.payment_intent, amount = %payment.amount,
        balance_after = %booked.balance_after, "stripe payment booked");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_status_never_moves_backwards() {
        use CheckoutStatus::*;
        let rows = [
            (Open, Paid, true),
            (Open, Failed, true),
            (Open, Expired, true),
            (Open, Open, false),
            (Failed, Paid, true),
            (Expired, Paid, true),
            (Failed, Open, false),
            (Failed, Expired, false),
            (Paid, Failed, false),
            (Paid, Open, false),
            (Paid, Paid, false),
        ];
        for (from, to, allowed) in rows {
            assert_eq!(from.may_become(to), allowed, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn checkout_status_names_are_snake_case() {
        for status in [
            CheckoutStatus::Open,
            CheckoutStatus::Paid,
            CheckoutStatus::Failed,
            CheckoutStatus::Expired,
        ] {
            let json = serde_json::to_string(&status).expect("serializes");
            assert_eq!(json, format!("\"{}\"", status.name()));
        }
    }
}
