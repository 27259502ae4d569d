//! Controls for tests and for trying things by hand, under `/_stub/` (not part of Stripe's
//! API, so no key is needed): refunds, redelivering an event, the delivery mode, and the
//! list of events with every delivery's status.
//!
//! - `POST /_stub/refunds` (form `payment_intent`, optional `amount`): refund and send
//!   `charge.refunded`.
//! - `POST /_stub/events/{evt}/redeliver[?times=N]`: send the event again, N copies at once.
//! - `POST /_stub/mode` (form `duplicates`, `order=normal|reverse`, `delay_ms`): how events
//!   are sent from now on; fields left out go back to their defaults. `GET` shows it.
//! - `GET /_stub/events`, `GET /_stub/sessions`: what happened so far.
//!
//! `POST /checkout/{id}` and `POST /_stub/refunds` also take the mode's fields in their
//! query string, for that request only.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::api::form_params;
use super::http::{ApiError, Call, Reply, json_value};
use super::state::RefundRequestExtras;
use super::state::{DeliveryMode, MAX_DELAY_MS, MAX_DUPLICATES, RefundRequest};
use super::{StripeStub, form, ids, webhooks};

pub(super) async fn handle(stub: &StripeStub, call: &Call, rest: &[&str]) -> Reply {
    let answer = match (&call.method, rest) {
        (&Method::POST, ["refunds"]) => refund(stub, call),
        (&Method::POST, ["events", id, "redeliver"]) => redeliver(stub, call, id).await,
        (&Method::POST, ["mode"]) => set_mode(stub, call),
        (&Method::GET, ["mode"]) => Ok(json_value(StatusCode::OK, &mode_json(&stub.mode()))),
        (&Method::GET, ["events"]) => {
            let events: Vec<Value> = stub.events().iter().map(event_json).collect();
            Ok(json_value(StatusCode::OK, &Value::Array(events)))
        }
        (&Method::GET, ["sessions"]) => Ok(json_value(StatusCode::OK, &json!(stub.sessions()))),
        _ => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            ..ApiError::invalid(
                format!("No stub control at {} {}", call.method, call.path),
                None,
            )
        }),
    };
    answer.unwrap_or_else(ApiError::into_reply)
}

fn refund(stub: &StripeStub, call: &Call) -> Result<Reply, ApiError> {
    let mode = mode_from(&call.query_pairs(), stub.mode())
        .map_err(|message| ApiError::invalid(message, None))?;
    let params = form::refund(&form_params(call)?)?;
    let request = RefundRequest {
        payment_intent: params.payment_intent,
        amount: params.amount,
        account: None,
        check_account: false,
    };
    let refund = refund_now(stub, &request, params.extras, mode)?;
    Ok(json_value(StatusCode::OK, &refund))
}

/// Refunds, then sends the `charge.refunded` event as `mode` says.
pub(super) fn refund_now(
    stub: &StripeStub,
    request: &RefundRequest,
    extras: RefundRequestExtras,
    mode: DeliveryMode,
) -> Result<Value, ApiError> {
    let pending = webhooks::pending(stub);
    let (refund, events) = stub.state().refund(request, extras, ids::now(), pending)?;
    tracing::info!(payment_intent = %request.payment_intent, "stripe stub refund");
    webhooks::dispatch(stub, events, mode);
    Ok(refund)
}

async fn redeliver(stub: &StripeStub, call: &Call, id: &str) -> Result<Reply, ApiError> {
    let mut times = 1;
    for (key, value) in call.query_pairs() {
        match key.as_str() {
            "times" => {
                times = value
                    .parse::<u32>()
                    .ok()
                    .filter(|t| (1..=MAX_DUPLICATES).contains(t))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            format!("`times` must be 1 to {MAX_DUPLICATES}"),
                            Some("times"),
                        )
                    })?;
            }
            other => {
                return Err(ApiError::invalid(
                    format!("unknown parameter `{other}`"),
                    Some(other),
                ));
            }
        }
    }
    if stub.state().event(id).is_none() {
        return Err(ApiError::missing(format!("No such event: '{id}'"), "id"));
    }
    if stub.webhook_url().is_none() {
        return Err(ApiError::invalid(
            "no webhook URL is configured".to_owned(),
            None,
        ));
    }

    let deliveries = webhooks::redeliver(stub, id, times).await;
    Ok(json_value(
        StatusCode::OK,
        &json!({ "id": id, "deliveries": deliveries }),
    ))
}

fn set_mode(stub: &StripeStub, call: &Call) -> Result<Reply, ApiError> {
    let mut fields = call.query_pairs();
    fields.extend(form_params(call)?);
    let mode = mode_from(&fields, DeliveryMode::default())
        .map_err(|message| ApiError::invalid(message, None))?;
    tracing::info!(?mode, "stripe stub delivery mode");
    stub.set_mode(mode.clone());
    Ok(json_value(StatusCode::OK, &mode_json(&mode)))
}

/// `base` with the mode fields in `fields` applied; any other field is a mistake.
pub(super) fn mode_from(
    fields: &[(String, String)],
    base: DeliveryMode,
) -> Result<DeliveryMode, String> {
    let mut mode = base;
    for (key, value) in fields {
        match key.as_str() {
            "duplicates" => {
                mode.duplicates = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_DUPLICATES).contains(n))
                    .ok_or_else(|| format!("`duplicates` must be 1 to {MAX_DUPLICATES}"))?;
            }
            "order" => {
                mode.reverse = match value.as_str() {
                    "normal" => false,
                    "reverse" => true,
                    _ => return Err("`order` must be `normal` or `reverse`".to_owned()),
                };
            }
            "delay_ms" => {
                mode.delay_ms = value
                    .parse()
                    .ok()
                    .filter(|ms| *ms <= MAX_DELAY_MS)
                    .ok_or_else(|| format!("`delay_ms` must be 0 to {MAX_DELAY_MS}"))?;
            }
            other => return Err(format!("unknown mode field `{other}`")),
        }
    }
    Ok(mode)
}

fn mode_json(mode: &DeliveryMode) -> Value {
    json!({
        "duplicates": mode.duplicates,
        "order": if mode.reverse { "reverse" } else { "normal" },
        "delay_ms": mode.delay_ms,
    })
}

fn event_json(event: &super::state::EventRecord) -> Value {
    json!({
        "id": event.id,
        "type": event.kind,
        "account": event.account,
        "created": event.created,
        "object_id": event.object_id,
        "deliveries": event.deliveries,
        "event": event.envelope(),
    })
}
