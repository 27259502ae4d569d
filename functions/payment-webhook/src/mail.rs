//! The emails after a booking, each sent at most once across every delivery of every event
//! about the same money: claimed on the stored item before sending, confirmed after, and
//! given back when the send fails so that a later delivery sends it (see
//! `Store::claim_payment_mail` for the reasoning).

use chrono::{DateTime, Utc};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Company, Invoice};
use porchlight_shared::http::Failure;
use porchlight_shared::mail::{Email, Mailbox};
use porchlight_shared::payments::receipts::{self, PaymentFacts, RefundFacts};
use porchlight_shared::store::keys;
use porchlight_shared::store::payments::{BookedRefund, MailClaim, PaymentMail, StripePayment};
use porchlight_shared::store::{Entity, StoreError};

use crate::Resolved;

fn sender(ctx: &AppContext, company: &Company) -> Option<Mailbox> {
    match Mailbox::parse_with_name(&ctx.config.mail_from) {
        Ok(sender) => Some(sender.named(&company.name)),
        Err(_) => {
            tracing::error!("PORCHLIGHT_MAIL_FROM is not an address; no payment emails sent");
            None
        }
    }
}

/// The invoice number of `payment`'s invoice: the resolved one, or (when an earlier event
/// booked the intent against another invoice) that one, live or archived.
async fn invoice_number(
    ctx: &AppContext,
    resolved: &Resolved,
    payment: &StripePayment,
) -> Result<String, StoreError> {
    if payment.invoice_id == resolved.invoice.id {
        return Ok(resolved.invoice.number.clone());
    }
    let slug = &resolved.company.slug;
    let key = keys::invoice(slug, &payment.client_id, &payment.invoice_id);
    let live: Option<Invoice> = ctx.store.record(&key, Entity::Invoice).await?;
    let invoice = match live {
        Some(invoice) => Some(invoice),
        None => {
            ctx.store
                .archived_invoice(slug, &payment.client_id, &payment.invoice_id)
                .await?
        }
    };
    Ok(invoice.map_or_else(|| resolved.invoice.number.clone(), |i| i.number))
}

/// The receipt and the staff notice of a payment; `false` if one could not be sent yet.
pub(crate) async fn payment_mails(
    ctx: &AppContext,
    resolved: &Resolved,
    payment: &StripePayment,
    now: DateTime<Utc>,
) -> Result<bool, Failure> {
    let company = &resolved.company;
    let Some(from) = sender(ctx, company) else {
        return Ok(true);
    };
    let number = invoice_number(ctx, resolved, payment).await?;
    let url = receipts::invoice_url(&ctx.config.base_url, &company.slug, &payment.invoice_id);
    let payments_url = receipts::payments_url(&ctx.config.base_url, &company.slug);
    let facts = PaymentFacts {
        company,
        client: &resolved.client,
        invoice_number: &number,
        paid: &payment.payment.amount,
        received_on: payment.payment.received_on,
        left_owing: &payment.balance_after,
        unapplied: &payment.payment.unapplied,
        invoice_url: &url,
        payments_url: &payments_url,
        payment_intent: &payment.payment_intent,
    };
    let mut all_sent = true;
    for kind in [PaymentMail::Receipt, PaymentMail::StaffNotice] {
        let email = match kind {
            PaymentMail::Receipt => receipts::receipt(&from, &facts),
            _ => receipts::staff_notice(&from, &facts),
        };
        let Some(email) = email else {
            tracing::warn!(payment = %payment.payment.id, mail = ?kind,
                "no address to send the payment email to");
            continue;
        };
        let claim = ctx
            .store
            .claim_payment_mail(
                &company.slug,
                &payment.client_id,
                &payment.payment.id,
                kind,
                now,
            )
            .await?;
        all_sent &= send_claimed(ctx, claim, &email, now).await?;
    }
    Ok(all_sent)
}

/// The client's note of one refund; `false` if it could not be sent yet.
pub(crate) async fn refund_mail(
    ctx: &AppContext,
    resolved: &Resolved,
    refund: &BookedRefund,
    now: DateTime<Utc>,
) -> Result<bool, Failure> {
    let company = &resolved.company;
    let Some(from) = sender(ctx, company) else {
        return Ok(true);
    };
    let url = receipts::invoice_url(&ctx.config.base_url, &company.slug, &refund.invoice_id);
    let facts = RefundFacts {
        company,
        client: &resolved.client,
        invoice_number: &resolved.invoice.number,
        refunded: &refund.amount,
        left_owing: &refund.balance_after,
        invoice_url: &url,
    };
    let Some(email) = receipts::refund_note(&from, &facts) else {
        tracing::warn!(refund = %refund.refund_id, "no address to send the refund note to");
        return Ok(true);
    };
    let claim = ctx
        .store
        .claim_refund_mail(&company.slug, &refund.refund_id, now)
        .await?;
    send_claimed(ctx, claim, &email, now).await
}

/// Sends an email this delivery claimed; with no claim, another delivery has it and this
/// one has nothing to do. A failed send gives the claim back.
async fn send_claimed(
    ctx: &AppContext,
    claim: Option<MailClaim>,
    email: &Email,
    now: DateTime<Utc>,
) -> Result<bool, Failure> {
    let Some(claim) = claim else {
        return Ok(true);
    };
    match ctx.mailer.send(email, now).await {
        Ok(message_id) => {
            ctx.store
                .finish_payment_mail(&claim, &message_id, now)
                .await?;
            Ok(true)
        }
        Err(error) => {
            tracing::error!(error = %error,
                "payment email not sent; the next delivery of the event sends it");
            ctx.store.release_payment_mail(&claim).await?;
            Ok(false)
        }
    }
}
