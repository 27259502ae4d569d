//! Stripe's webhook, `POST /webhooks/stripe`.
//!
//! A delivery is read in this order, and stops at the first step that fails:
//!
//! 1. the `Stripe-Signature` over the exact bytes received (400 if it does not verify,
//!    500 if no secret is configured: our fault, and Stripe retries);
//! 2. the event's shape (400), and for a type Porchlight does not act on, 200 and nothing;
//! 3. what it names: the company and its connected account, the client, the invoice, the
//!    currency and the amount must all match what is stored (400, nothing changed);
//! 4. its effect, once: a payment booked per payment intent, a refund per refund id, a
//!    failed try marked on its Checkout attempt;
//! 5. the emails that follow, each claimed before it is sent, so none goes out twice. A
//!    send that fails answers 500: the next delivery finds the booking done and sends
//!    what is still unsent.
//!
//! Every event handled writes one log line: event id, type, company, invoice, outcome
//! (`booked`, `duplicate`, `refused`, `ignored`) and reason. The body is never logged.

mod mail;

use chrono::{DateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Client, Company, Invoice};
use porchlight_shared::http::{self, Failure};
use porchlight_shared::payments::events::{self, Action, Event, Mismatch, Subject};
use porchlight_shared::payments::signature::{self, SignatureError};
use porchlight_shared::store::keys;
use porchlight_shared::store::payments::{
    BookingOutcome, FailureOutcome, RefundOutcome, StripeBooking, StripeRefund,
};
use porchlight_shared::store::{Entity, StoreError};

pub const ROUTE: &str = "/webhooks/stripe";

pub async fn handle(ctx: &AppContext, req: Request) -> Response<Body> {
    let response = if req.method() == Method::POST {
        receive(ctx, &req).await
    } else {
        http::problem(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", None)
    };
    http::log_request("payment-webhook", ROUTE, &req, &response);
    response
}

async fn receive(ctx: &AppContext, req: &Request) -> Response<Body> {
    let now = ctx.clock.now();
    // lambda_http has already undone API Gateway's base64 (`isBase64Encoded`): these are
    // the bytes Stripe sent and signed.
    let body: &[u8] = req.body().as_ref();
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match signature::verify(header, body, &ctx.config.stripe.webhook_secrets, now) {
        Ok(_) => {}
        Err(SignatureError::NotConfigured) => {
            tracing::error!("PORCHLIGHT_STRIPE_WEBHOOK_SECRETS is empty: no event can be checked");
            return server_error();
        }
        Err(error) => {
            tracing::warn!(reason = %error, "stripe webhook signature refused");
            return http::problem(StatusCode::BAD_REQUEST, "Invalid signature", None);
        }
    }

    let event = match events::parse(body) {
        Ok(event) => event,
        Err(error) => {
            let (id, kind) = error.event.clone().unwrap_or_default();
            tracing::warn!(event = %id, kind = %kind, reason = %error,
                outcome = "refused", "stripe event not readable");
            return http::problem(StatusCode::BAD_REQUEST, "Unreadable event", None);
        }
    };
    match act(ctx, &event, now).await {
        Ok(handled) => {
            handled.log(&event);
            handled.response()
        }
        Err(failure) => {
            tracing::error!(event = %event.id, kind = %event.kind, outcome = "error",
                "stripe event not handled; Stripe will deliver it again");
            http::failure_response(&failure, true)
        }
    }
}

fn server_error() -> Response<Body> {
    http::problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        None,
    )
}

/// What became of an event, for its log line and its answer.
struct Handled {
    outcome: Outcome,
    reason: String,
    company: Option<String>,
    invoice: Option<String>,
    /// An email after a committed change could not be sent: answered 500 so that Stripe
    /// delivers again and the next delivery sends it.
    mail_pending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Booked,
    Duplicate,
    Refused,
    Ignored,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Booked => "booked",
            Outcome::Duplicate => "duplicate",
            Outcome::Refused => "refused",
            Outcome::Ignored => "ignored",
        }
    }
}

impl Handled {
    fn new(outcome: Outcome, reason: impl Into<String>, subject: Option<&Subject>) -> Self {
        Self {
            outcome,
            reason: reason.into(),
            company: subject.map(|s| s.company.to_string()),
            invoice: subject.map(|s| s.invoice.to_string()),
            mail_pending: false,
        }
    }

    fn refused(mismatch: &Mismatch, subject: Option<&Subject>) -> Self {
        Self::new(Outcome::Refused, mismatch.to_string(), subject)
    }

    fn log(&self, event: &Event) {
        let company = self.company.as_deref().unwrap_or("-");
        let invoice = self.invoice.as_deref().unwrap_or("-");
        let outcome = self.outcome.name();
        if self.outcome == Outcome::Refused {
            tracing::warn!(event = %event.id, kind = %event.kind, company, invoice, outcome,
                reason = %self.reason, "stripe event handled");
        } else {
            tracing::info!(event = %event.id, kind = %event.kind, company, invoice, outcome,
                reason = %self.reason, mail_pending = self.mail_pending,
                "stripe event handled");
        }
    }

    fn response(&self) -> Response<Body> {
        if self.outcome == Outcome::Refused {
            return http::problem(StatusCode::BAD_REQUEST, "Event refused", Some(&self.reason));
        }
        if self.mail_pending {
            return server_error();
        }
        http::json(
            StatusCode::OK,
            &serde_json::json!({ "received": true, "outcome": self.outcome.name() }),
        )
    }
}

/// The company, client and invoice an event names, each found and belonging together.
struct Resolved {
    company: Company,
    client: Client,
    invoice: Invoice,
}

async fn act(ctx: &AppContext, event: &Event, now: DateTime<Utc>) -> Result<Handled, Failure> {
    let action = match event.action() {
        Ok(action) => action,
        Err(mismatch) => return Ok(Handled::refused(&mismatch, None)),
    };
    let subject = match &action {
        Action::Ignore(why) => return Ok(Handled::new(Outcome::Ignored, *why, None)),
        Action::Book { subject, .. }
        | Action::Fail { subject, .. }
        | Action::Refund { subject, .. } => subject.clone(),
    };
    let resolved = match resolve(ctx, event, &subject).await? {
        Ok(resolved) => resolved,
        Err(mismatch) => return Ok(Handled::refused(&mismatch, Some(&subject))),
    };
    let handled = match action {
        Action::Book {
            payment_intent,
            amount,
            session_id,
            ..
        } => {
            let booking = StripeBooking {
                client_id: resolved.client.id.clone(),
                invoice_id: resolved.invoice.id.clone(),
                payment_intent,
                amount,
                received_at: now,
                event_id: Some(event.id.clone()),
                session_id,
            };
            book(ctx, &resolved, &booking, now).await?
        }
        Action::Fail {
            payment_intent,
            message,
            ..
        } => fail(ctx, &resolved, &payment_intent, &message).await?,
        Action::Refund {
            payment_intent,
            charged,
            mut refunds,
            cumulative,
            ..
        } => {
            let booking = StripeBooking {
                client_id: resolved.client.id.clone(),
                invoice_id: resolved.invoice.id.clone(),
                payment_intent: payment_intent.clone(),
                amount: charged,
                received_at: now,
                event_id: None,
                session_id: None,
            };
            if let Some((charge, total)) = cumulative {
                // The refund is what the running total adds to what is booked; its id names
                // the total, so a repeat of this event books nothing twice.
                let booked = ctx
                    .store
                    .stripe_payment(&resolved.company.slug, &payment_intent)
                    .await?
                    .map_or(0, |payment| payment.refunded.minor);
                if total.minor <= booked {
                    return Ok(Handled::new(
                        Outcome::Duplicate,
                        "the refunded total is booked already",
                        None,
                    ));
                }
                let new =
                    porchlight_shared::money::Money::new(total.minor - booked, total.currency);
                refunds.push((format!("{charge}:refunded:{}", total.minor), new));
            }
            refund(ctx, &resolved, &booking, &refunds, now).await?
        }
        Action::Ignore(why) => Handled::new(Outcome::Ignored, why, None),
    };
    Ok(Handled {
        company: Some(subject.company.to_string()),
        invoice: Some(subject.invoice.to_string()),
        ..handled
    })
}

/// Finds what the event names. The invoice is looked up under the named client of the
/// named company only, so an invoice of another client or company is "unknown".
async fn resolve(
    ctx: &AppContext,
    event: &Event,
    subject: &Subject,
) -> Result<Result<Resolved, Mismatch>, StoreError> {
    let store = &ctx.store;
    let Some(company) = store.company(&subject.company).await? else {
        return Ok(Err(Mismatch::UnknownCompany));
    };
    if let Err(mismatch) = events::check_account(&company, event.account.as_deref()) {
        return Ok(Err(mismatch));
    }
    // Only now, with the event's account checked against it, is the company known for sure.
    porchlight_shared::request_scope::set_company(&company.slug);
    let client_key = keys::client(&company.slug, &subject.client);
    let Some(client) = store.record::<Client>(&client_key, Entity::Client).await? else {
        return Ok(Err(Mismatch::UnknownClient));
    };
    let invoice_key = keys::invoice(&company.slug, &client.id, &subject.invoice);
    let live = store
        .record::<Invoice>(&invoice_key, Entity::Invoice)
        .await?;
    let invoice = match live {
        Some(invoice) => Some(invoice),
        None => {
            store
                .archived_invoice(&company.slug, &client.id, &subject.invoice)
                .await?
        }
    };
    let Some(invoice) = invoice else {
        return Ok(Err(Mismatch::UnknownInvoice));
    };
    Ok(Ok(Resolved {
        company,
        client,
        invoice,
    }))
}

/// Books money received, then sends the emails about it that are not sent yet (also for
/// a duplicate: its first delivery may have stopped before they went out).
async fn book(
    ctx: &AppContext,
    resolved: &Resolved,
    booking: &StripeBooking,
    now: DateTime<Utc>,
) -> Result<Handled, Failure> {
    // The store refuses more than the invoice's total unless a Checkout Session of ours
    // asked for it (the total may have been lowered while the client paid).
    if let Err(mismatch) = events::check_amount(&resolved.invoice, &booking.amount) {
        return Ok(Handled::refused(&mismatch, None));
    }
    let outcome = ctx
        .store
        .book_stripe_payment(&resolved.company, booking)
        .await?;
    let (mut handled, payment) = match outcome {
        BookingOutcome::Booked(payment) => {
            let reason = format!("payment {} booked", payment.payment.id);
            (Handled::new(Outcome::Booked, reason, None), payment)
        }
        BookingOutcome::AlreadyBooked(payment) => {
            let reason = format!("payment intent already booked as {}", payment.payment.id);
            (Handled::new(Outcome::Duplicate, reason, None), payment)
        }
        BookingOutcome::Refused(why) => {
            return Ok(Handled::new(Outcome::Refused, why.to_string(), None));
        }
    };
    handled.mail_pending = !mail::payment_mails(ctx, resolved, &payment, now).await?;
    Ok(handled)
}

/// A failed try: the Checkout attempt says so, unless the money arrived after all.
async fn fail(
    ctx: &AppContext,
    resolved: &Resolved,
    payment_intent: &str,
    message: &str,
) -> Result<Handled, Failure> {
    let outcome = ctx
        .store
        .mark_checkout_failed(
            &resolved.company.slug,
            &resolved.client.id,
            &resolved.invoice.id,
            payment_intent,
            message,
        )
        .await?;
    Ok(match outcome {
        FailureOutcome::Marked(session) => Handled::new(
            Outcome::Booked,
            format!("checkout {session} marked failed"),
            None,
        ),
        FailureOutcome::AlreadySettled => Handled::new(
            Outcome::Duplicate,
            "already paid or settled; status kept",
            None,
        ),
        FailureOutcome::NoAttempt => {
            Handled::new(Outcome::Ignored, "no open checkout attempt", None)
        }
    })
}

/// Books each refund once. A refund whose payment has not been booked yet (its own event
/// is late) books the payment first from the charge, so money is never left out.
async fn refund(
    ctx: &AppContext,
    resolved: &Resolved,
    booking: &StripeBooking,
    refunds: &[(String, porchlight_shared::money::Money)],
    now: DateTime<Utc>,
) -> Result<Handled, Failure> {
    // The store refuses more than the invoice's total unless a Checkout Session of ours
    // asked for it (the total may have been lowered while the client paid).
    if let Err(mismatch) = events::check_amount(&resolved.invoice, &booking.amount) {
        return Ok(Handled::refused(&mismatch, None));
    }
    let slug = &resolved.company.slug;
    let mut mail_pending = false;
    if ctx
        .store
        .stripe_payment(slug, &booking.payment_intent)
        .await?
        .is_none()
    {
        let booked = book(ctx, resolved, booking, now).await?;
        if booked.outcome == Outcome::Refused {
            return Ok(booked);
        }
        mail_pending |= booked.mail_pending;
    }

    let (mut booked, mut repeated) = (Vec::new(), 0);
    for (refund_id, amount) in refunds {
        let refund = StripeRefund {
            payment_intent: booking.payment_intent.clone(),
            refund_id: refund_id.clone(),
            amount: amount.clone(),
            refunded_at: now,
        };
        match ctx
            .store
            .book_stripe_refund(&resolved.company, &refund)
            .await?
        {
            RefundOutcome::Booked(done) => booked.push(done),
            RefundOutcome::AlreadyBooked(done) => {
                repeated += 1;
                booked.push(done);
            }
            RefundOutcome::Refused(why) => {
                let reason = format!("refund {refund_id}: {why}");
                return Ok(Handled::new(Outcome::Refused, reason, None));
            }
        }
    }
    for done in &booked {
        mail_pending |= !mail::refund_mail(ctx, resolved, done, now).await?;
    }
    let new = booked.len() - repeated;
    let mut handled = if new > 0 {
        let reason = format!("{new} refund(s) booked, {repeated} already booked");
        Handled::new(Outcome::Booked, reason, None)
    } else {
        Handled::new(Outcome::Duplicate, "every refund already booked", None)
    };
    handled.mail_pending = mail_pending;
    Ok(handled)
}
