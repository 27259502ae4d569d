//! `GET|HEAD /p/{slug}/invoices/{id}/payment?session_id=cs_...`: where Stripe sends the client
//! back. Nothing in the URL is believed: the session must be one this client started for this
//! invoice, and the money counts as received only when the webhook booked it or Stripe,
//! asked here, says the session is paid.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Company, Invoice};
use porchlight_shared::http::{self, Failure};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::money::Money;
use porchlight_shared::payments::stripe_api::{
    self, CheckoutSession, SessionStatus, StripeClient, StripeError,
};
use porchlight_shared::portal::PortalDay;
use porchlight_shared::store::payments::{
    BookingOutcome, CheckoutAttempt, CheckoutStatus, StripeBooking,
};
use porchlight_shared::views::portal::{self as pages, PaymentState};
use serde::Serialize;

use crate::{Viewing, viewing};

/// How often the "processing" page reloads itself, in seconds.
const REFRESH_SECONDS: u32 = 3;

/// Whether the page may ask Stripe about an open session (and book what it confirms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    AskStripe,
    StoredOnly,
}

/// What the page found out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Received,
    Processing,
    Failed(Option<String>),
    Expired,
    /// Stripe says paid, but the session does not match the attempt, or the booking was
    /// refused: logged for staff, never booked.
    Unconfirmed,
}

pub async fn show(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_id: &str,
    confirm: Confirm,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    let why = "Please sign in to see this payment.";
    let mut viewing = match viewing(ctx, req, company, why).await? {
        Ok(viewing) => viewing,
        Err(answer) => return Ok(answer),
    };
    let session_id = http::query_param(req, "session_id").filter(|s| stripe_api::is_session_id(s));
    let (Ok(id), Some(session_id)) = (DocumentId::parse(raw_id), session_id) else {
        return Ok(http::not_found(json, Some(names)));
    };
    let Some(attempt) = viewing
        .portal
        .checkouts
        .iter()
        .find(|a| a.session_id == session_id && a.invoice_id == id)
        .cloned()
    else {
        return Ok(http::not_found(json, Some(names)));
    };

    // A failed try can still be paid in the same session (another card), and events can
    // arrive out of order: whatever is stored short of paid, Stripe is asked.
    let outcome = match attempt.status {
        CheckoutStatus::Paid => Outcome::Received,
        _ if confirm == Confirm::StoredOnly => stored_outcome(&attempt),
        _ => {
            let outcome = confirm_with_stripe(ctx, company, &viewing.active.id, &attempt).await?;
            if outcome == Outcome::Received {
                // The booking just lowered the balance: show the balance as it is now.
                if let Some(portal) = ctx
                    .store
                    .client_portal(&company.slug, &viewing.active.id)
                    .await?
                {
                    viewing.portal = portal;
                }
            }
            outcome
        }
    };
    tracing::info!(slug = %company.slug, client = %viewing.active.id, invoice = %id,
        session = %attempt.session_id, outcome = ?outcome, "payment return page");

    let invoice = viewing.portal.invoices.iter().find(|i| i.id == id);
    Ok(if json {
        http::json(StatusCode::OK, &answer(&outcome, &attempt, invoice))
    } else {
        // Paying off an invoice dated over a year ago takes it out of the portal at once;
        // then the way back is the payment history, which lists this payment.
        let today = company.today(ctx.clock.now());
        let still_shown = PortalDay::new(company, &viewing.portal, today)
            .invoice(&id)
            .is_some();
        let place = Place {
            id: &id,
            invoice,
            still_shown,
        };
        page(company, &viewing, &place, &attempt, &outcome)
    })
}

/// What the stored attempt says, without asking Stripe.
fn stored_outcome(attempt: &CheckoutAttempt) -> Outcome {
    match attempt.status {
        CheckoutStatus::Paid => Outcome::Received,
        CheckoutStatus::Open => Outcome::Processing,
        CheckoutStatus::Failed => Outcome::Failed(attempt.failure.clone()),
        CheckoutStatus::Expired => Outcome::Expired,
    }
}

/// Asks Stripe about a session not known to be paid; books the payment if Stripe says it
/// is paid. When Stripe cannot be asked, the stored state stands.
async fn confirm_with_stripe(
    ctx: &AppContext,
    company: &Company,
    client: &ClientId,
    attempt: &CheckoutAttempt,
) -> Result<Outcome, Failure> {
    let Some(account) = company.settings.stripe_account.as_deref() else {
        tracing::warn!(slug = %company.slug, "checkout to confirm but no stripe account");
        return Ok(stored_outcome(attempt));
    };
    let session = match retrieve(ctx, account, &attempt.session_id).await {
        Ok(session) => session,
        // Logged by the client; the webhook may still confirm, so keep waiting.
        Err(_) => return Ok(stored_outcome(attempt)),
    };
    if !session.is_paid() {
        return Ok(if session.status == Some(SessionStatus::Expired) {
            Outcome::Expired
        } else {
            stored_outcome(attempt)
        });
    }
    let payment_intent = match paid_session_matches(company, client, attempt, &session) {
        Ok(payment_intent) => payment_intent,
        Err(why) => {
            tracing::error!(slug = %company.slug, client = %client,
                invoice = %attempt.invoice_id, session = %attempt.session_id, why,
                "paid checkout session does not match its attempt; not booked");
            return Ok(Outcome::Unconfirmed);
        }
    };

    let booking = StripeBooking {
        client_id: client.clone(),
        invoice_id: attempt.invoice_id.clone(),
        payment_intent,
        amount: attempt.amount.clone(),
        received_at: ctx.clock.now(),
        event_id: None,
        session_id: Some(attempt.session_id.clone()),
    };
    Ok(
        match ctx.store.book_stripe_payment(company, &booking).await? {
            BookingOutcome::Booked(booked) => {
                tracing::info!(slug = %company.slug, client = %client,
                invoice = %attempt.invoice_id, payment = %booked.payment.id,
                session = %attempt.session_id, "payment booked from the return page");
                Outcome::Received
            }
            BookingOutcome::AlreadyBooked(_) => Outcome::Received,
            BookingOutcome::Refused(refusal) => {
                tracing::error!(slug = %company.slug, client = %client,
                invoice = %attempt.invoice_id, session = %attempt.session_id,
                refusal = %refusal, "paid checkout session refused by the booking");
                Outcome::Unconfirmed
            }
        },
    )
}

async fn retrieve(
    ctx: &AppContext,
    account: &str,
    session_id: &str,
) -> Result<CheckoutSession, StripeError> {
    let client = StripeClient::new(&ctx.config.stripe)?;
    client.retrieve_checkout_session(account, session_id).await
}

/// The session's payment intent, if Stripe's session is the one recorded: same id, same
/// company, client and invoice in its metadata, and the same amount and currency.
fn paid_session_matches(
    company: &Company,
    client: &ClientId,
    attempt: &CheckoutAttempt,
    session: &CheckoutSession,
) -> Result<String, &'static str> {
    let meta = |name: &str| session.metadata.get(name).map(String::as_str);
    if session.id != attempt.session_id {
        return Err("another session id");
    }
    if meta("company") != Some(company.slug.as_str())
        || meta("client_id") != Some(client.as_str())
        || meta("invoice_id") != Some(attempt.invoice_id.as_str())
    {
        return Err("metadata names another company, client or invoice");
    }
    match session.amount() {
        Some(Ok(amount)) if amount == attempt.amount => {}
        _ => return Err("amount or currency differs"),
    }
    session
        .payment_intent
        .clone()
        .filter(|pi| pi.starts_with("pi_"))
        .ok_or("no payment intent")
}

/// The return page's JSON.
#[derive(Serialize)]
struct ReturnJson<'a> {
    /// `paid`, `processing` or `failed`.
    status: &'static str,
    /// Why, when not simply paid or processing: `declined` (with `detail`), `expired`, or
    /// `needs_review` (Stripe took money that does not match; staff will look).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    session_id: &'a str,
    invoice_id: &'a DocumentId,
    amount: &'a Money,
    /// The invoice's balance now (`null` once the invoice has left the portal's records).
    balance: Option<&'a Money>,
}

fn answer<'a>(
    outcome: &'a Outcome,
    attempt: &'a CheckoutAttempt,
    invoice: Option<&'a Invoice>,
) -> ReturnJson<'a> {
    let (status, reason, detail) = match outcome {
        Outcome::Received => ("paid", None, None),
        Outcome::Processing => ("processing", None, None),
        Outcome::Failed(why) => ("failed", Some("declined"), why.as_deref()),
        Outcome::Expired => ("failed", Some("expired"), None),
        Outcome::Unconfirmed => ("processing", Some("needs_review"), None),
    };
    ReturnJson {
        status,
        reason,
        detail,
        session_id: &attempt.session_id,
        invoice_id: &attempt.invoice_id,
        amount: &attempt.amount,
        balance: invoice.map(|i| &i.balance),
    }
}

/// The invoice a return page is about, and whether the portal still shows it.
struct Place<'a> {
    id: &'a DocumentId,
    invoice: Option<&'a Invoice>,
    still_shown: bool,
}

fn page(
    company: &Company,
    viewing: &Viewing,
    place: &Place<'_>,
    attempt: &CheckoutAttempt,
    outcome: &Outcome,
) -> Response<Body> {
    let invoice = place.invoice;
    let names = (&company.slug, company.name.as_str());
    let state = match outcome {
        Outcome::Received => PaymentState::Received {
            balance: invoice.map(|i| &i.balance),
        },
        Outcome::Processing => PaymentState::Processing,
        Outcome::Failed(why) => PaymentState::Failed {
            why: why.as_deref(),
        },
        Outcome::Expired => PaymentState::Expired,
        Outcome::Unconfirmed => PaymentState::Unconfirmed,
    };
    let invoice_path = format!("/p/{}/invoices/{}", company.slug, place.id);
    let payments_path = format!("/p/{}/payments", company.slug);
    let back = if place.still_shown {
        (invoice_path.as_str(), "← Back to the invoice")
    } else {
        (payments_path.as_str(), "← Your payments")
    };
    let number = invoice.map(|i| i.number.as_str());
    let markup = pages::payment_return(
        names,
        &viewing.viewer(),
        pages::ReturnLinks {
            back,
            invoice: &invoice_path,
        },
        number,
        &attempt.amount,
        &state,
    );
    let mut response = http::html(StatusCode::OK, markup);
    if *outcome == Outcome::Processing {
        // Browsers follow `Refresh` as they do the page's meta refresh.
        response
            .headers_mut()
            .insert("refresh", HeaderValue::from(REFRESH_SECONDS));
    }
    response
}
