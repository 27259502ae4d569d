//! `POST /p/{slug}/invoices/{id}/pay`: check the amount, create the Checkout Session, record
//! the attempt, send the client to Stripe.

use chrono::{DateTime, Duration, TimeZone, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::Company;
use porchlight_shared::http::{self, Failure};
use porchlight_shared::ids::DocumentId;
use porchlight_shared::money::Money;
use porchlight_shared::payments::stripe_api::{
    self, CheckoutRequest, CheckoutSession, PaymentMetadata, StripeClient, StripeError,
};
use porchlight_shared::portal::{InvoiceDetail, PayOffer, PortalDay};
use porchlight_shared::store::payments::{CheckoutAttempt, CheckoutStatus};
use porchlight_shared::views;
use porchlight_shared::views::portal as pages;
use sha2::{Digest, Sha256};

use crate::{Viewing, viewing};

/// Requests within one window of this length share an idempotency key (with the same
/// amount and balance), and so one Checkout Session.
const WINDOW_MINUTES: i64 = 30;

/// A session of a window lives this long past the window's end: at least Stripe's minimum
/// of 30 minutes after any request in the window, with two minutes for clock skew.
const SESSION_MINUTES_AFTER_WINDOW: i64 = 32;

pub async fn start(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_id: &str,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let names = (&company.slug, company.name.as_str());
    if http::has_non_form_body(req) {
        // Read as a form it would have no amount, and no amount means the whole balance.
        return Ok(http::form_body_required(json, Some(names)));
    }
    let why = "Please sign in to pay this invoice.";
    let viewing = match viewing(ctx, req, company, why).await? {
        Ok(viewing) => viewing,
        Err(answer) => return Ok(answer),
    };
    let Ok(id) = DocumentId::parse(raw_id) else {
        return Ok(http::not_found(json, Some(names)));
    };
    let now = ctx.clock.now();
    let day = PortalDay::new(company, &viewing.portal, company.today(now));
    let Some(detail) = day.invoice(&id) else {
        return Ok(http::not_found(json, Some(names)));
    };

    if detail.summary.balance.minor <= 0 {
        return Ok(refuse(json, company, "This invoice is already paid."));
    }
    let Some(account) = stripe_account(ctx, company) else {
        let why = format!("{} does not take card payments online.", company.name);
        return Ok(refuse(json, company, &why));
    };
    let Some(offer) = day.pay_offer(&id, now) else {
        let why = format!(
            "This invoice cannot be paid by card. Please contact {}.",
            company.name
        );
        return Ok(refuse(json, company, &why));
    };

    let form = http::form(req);
    let typed = http::form_value(&form, "amount");
    let amount = match offer.amount_from_form(typed) {
        Ok(amount) => amount,
        Err(why) => {
            tracing::info!(slug = %company.slug, client = %viewing.active.id, invoice = %id,
                "pay amount refused");
            let refused = Refused {
                detail: &detail,
                offer: &offer,
                typed,
                why: &why,
            };
            return Ok(amount_refused(ctx, json, company, &viewing, &refused));
        }
    };

    let request = checkout_request(ctx, company, &viewing, &detail, &amount, account, now);
    let session = match create_session(ctx, &request).await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(slug = %company.slug, invoice = %id, error = %error,
                "checkout session not created");
            return Ok(stripe_unavailable(json, company));
        }
    };
    let Some(url) = session
        .url
        .as_deref()
        .filter(|url| is_checkout_url(ctx, url))
    else {
        tracing::error!(slug = %company.slug, invoice = %id, session = %session.id,
            "checkout session has no usable url");
        return Ok(stripe_unavailable(json, company));
    };

    let attempt = CheckoutAttempt {
        session_id: session.id.clone(),
        invoice_id: id.clone(),
        amount: amount.clone(),
        created_at: now,
        status: CheckoutStatus::Open,
        payment_intent: None,
        payment_id: None,
        failure: None,
    };
    ctx.store
        .record_checkout_started(&company.slug, &viewing.active.id, &attempt)
        .await?;
    tracing::info!(slug = %company.slug, client = %viewing.active.id, invoice = %id,
        session = %session.id, amount = %amount, "checkout started");

    Ok(if json {
        let body = serde_json::json!({
            "checkout_url": url, "session_id": session.id, "amount": amount,
        });
        http::json(StatusCode::CREATED, &body)
    } else {
        http::see_other(url)
    })
}

/// The company's connected account, when card payment is switched on and the function
/// has a secret key to reach Stripe with.
fn stripe_account<'a>(ctx: &AppContext, company: &'a Company) -> Option<&'a str> {
    let settings = &company.settings;
    let account = settings
        .stripe_account
        .as_deref()
        .filter(|account| !account.trim().is_empty());
    if !settings.payments_enabled {
        return None;
    }
    if account.is_some() && ctx.config.stripe.secret_key.is_none() {
        tracing::error!(slug = %company.slug,
            "payments are enabled but PORCHLIGHT_STRIPE_SECRET_KEY is not set");
        return None;
    }
    account
}

fn checkout_request(
    ctx: &AppContext,
    company: &Company,
    viewing: &Viewing,
    detail: &InvoiceDetail,
    amount: &Money,
    account: &str,
    now: DateTime<Utc>,
) -> CheckoutRequest {
    let id = &detail.summary.id;
    let invoice_url = format!("{}/p/{}/invoices/{id}", ctx.config.base_url, company.slug);
    let email = viewing.signed_in.session.email.clone();
    let (window, expires_at) = checkout_window(now);
    let key = KeyParts {
        account,
        company: company.slug.as_str(),
        invoice: id.as_str(),
        amount,
        balance: &detail.summary.balance,
        email: &email,
        window,
    };
    CheckoutRequest {
        stripe_account: account.to_owned(),
        idempotency_key: idempotency_key(&key),
        amount: amount.clone(),
        product_name: format!("Invoice {}", detail.summary.number),
        success_url: format!("{invoice_url}/payment?session_id={{CHECKOUT_SESSION_ID}}"),
        cancel_url: invoice_url,
        // The webhook refuses a completed session whose reference is not the metadata's client.
        client_reference_id: viewing.active.id.to_string(),
        customer_email: Some(email),
        metadata: PaymentMetadata {
            company: company.slug.to_string(),
            client_id: viewing.active.id.to_string(),
            invoice_id: id.to_string(),
        },
        expires_at,
    }
}

async fn create_session(
    ctx: &AppContext,
    request: &CheckoutRequest,
) -> Result<CheckoutSession, StripeError> {
    let client = StripeClient::new(&ctx.config.stripe)?;
    client.create_checkout_session(request).await
}

/// Only Stripe's own checkout (or the configured stand-in) is a place to send a client.
fn is_checkout_url(ctx: &AppContext, url: &str) -> bool {
    stripe_api::checkout_origins(&ctx.config.stripe)
        .iter()
        .any(|origin| {
            url.strip_prefix(origin.as_str())
                .is_some_and(|r| r.starts_with('/'))
        })
}

/// What an idempotency key is made of. Everything Stripe compares between two requests with
/// one key is a function of these, so a replay is never refused as a different request.
struct KeyParts<'a> {
    account: &'a str,
    company: &'a str,
    invoice: &'a str,
    amount: &'a Money,
    /// The balance when the client pressed Pay: once a payment lowers it, paying again is a
    /// new request, not a replay of the first.
    balance: &'a Money,
    email: &'a str,
    window: DateTime<Utc>,
}

/// The same for a double click or a retried request, new after a part payment or once
/// the window has passed (Stripe would replay an expired session for 24 hours).
fn idempotency_key(parts: &KeyParts) -> String {
    let fields = [
        parts.account.to_owned(),
        parts.company.to_owned(),
        parts.invoice.to_owned(),
        parts.amount.currency.code().to_owned(),
        parts.amount.minor.to_string(),
        parts.balance.minor.to_string(),
        parts.email.to_lowercase(),
        parts.window.timestamp().to_string(),
    ];
    let mut digest = Sha256::new().chain_update(b"porchlight checkout v1");
    for field in &fields {
        digest = digest.chain_update(b"\x00").chain_update(field.as_bytes());
    }
    format!("porchlight-checkout-{}", hex::encode(digest.finalize()))
}

/// The start of the window `now` falls in, and when a session made in it expires.
fn checkout_window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let length = WINDOW_MINUTES * 60;
    let seconds = now.timestamp();
    let start = Utc
        .timestamp_opt(seconds - seconds.rem_euclid(length), 0)
        .single()
        .unwrap_or(now);
    let expires = start + Duration::minutes(WINDOW_MINUTES + SESSION_MINUTES_AFTER_WINDOW);
    (start, expires)
}

/// 409 with the reason: the invoice cannot be paid online now.
fn refuse(json: bool, company: &Company, why: &str) -> Response<Body> {
    let names = (&company.slug, company.name.as_str());
    if json {
        http::problem(
            StatusCode::CONFLICT,
            "Invoice cannot be paid online",
            Some(why),
        )
    } else {
        http::html(
            StatusCode::CONFLICT,
            views::message_page("Cannot pay online", Some(names), why),
        )
    }
}

/// A refused amount, with what the client typed.
struct Refused<'a> {
    detail: &'a InvoiceDetail,
    offer: &'a PayOffer,
    typed: Option<&'a str>,
    why: &'a str,
}

/// 422: the invoice page again, the form showing what was typed and why it was refused.
fn amount_refused(
    ctx: &AppContext,
    json: bool,
    company: &Company,
    viewing: &Viewing,
    refused: &Refused,
) -> Response<Body> {
    if json {
        return http::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Amount not accepted",
            Some(refused.why),
        );
    }
    let names = (&company.slug, company.name.as_str());
    let form = pages::PayForm {
        offer: refused.offer,
        amount: refused.typed,
        error: Some(refused.why),
    };
    let page = pages::invoice(names, refused.detail, &viewing.viewer(), Some(&form));
    let mut response = http::html(StatusCode::UNPROCESSABLE_ENTITY, page);
    stripe_api::allow_checkout_redirect(&mut response, &ctx.config.stripe);
    response
}

/// 502: Stripe could not be reached or refused; the cause is in the log.
fn stripe_unavailable(json: bool, company: &Company) -> Response<Body> {
    let names = (&company.slug, company.name.as_str());
    let why = "The card payment could not be started, and nothing was charged. Please try \
               again in a few minutes.";
    if json {
        http::problem(
            StatusCode::BAD_GATEWAY,
            "Payment could not be started",
            Some(why),
        )
    } else {
        http::html(
            StatusCode::BAD_GATEWAY,
            views::message_page("Payment could not be started", Some(names), why),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use porchlight_shared::money::Currency;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an instant")
    }

    #[test]
    fn sessions_of_a_window_outlive_stripes_minimum() {
        for now in [
            "2026-12-04T12:00:00Z",
            "2026-12-04T12:29:59Z",
            "2026-12-04T12:13:07Z",
        ] {
            let now = at(now);
            let (start, expires) = checkout_window(now);
            assert_eq!(start, at("2026-12-04T12:00:00Z"));
            assert!(expires - now >= Duration::minutes(32), "{now}");
            assert!(expires - now <= Duration::hours(24), "{now}");
        }
        let (next, _) = checkout_window(at("2026-12-04T12:30:00Z"));
        assert_eq!(next, at("2026-12-04T12:30:00Z"));
    }

    #[test]
    fn keys_change_with_amount_balance_and_window_only() {
        let usd = |minor| Money::new(minor, Currency::usd());
        let (amount, balance) = (usd(2_000), usd(8_800));
        let base = KeyParts {
            account: "acct_1",
            company: "oakleaf",
            invoice: "abc",
            amount: &amount,
            balance: &balance,
            email: "Sam@example.org",
            window: at("2026-12-04T12:00:00Z"),
        };
        let key = idempotency_key(&base);
        assert_eq!(
            key,
            idempotency_key(&KeyParts {
                email: "sam@example.org",
                ..base
            })
        );
        let (other_amount, lower_balance) = (usd(2_500), usd(6_800));
        for changed in [
            KeyParts {
                amount: &other_amount,
                ..base
            },
            KeyParts {
                balance: &lower_balance,
                ..base
            },
            KeyParts {
                window: at("2026-12-04T12:30:00Z"),
                ..base
            },
            KeyParts {
                invoice: "abd",
                ..base
            },
        ] {
            assert_ne!(idempotency_key(&changed), key);
        }
        assert!(key.len() <= 255);
    }
}
