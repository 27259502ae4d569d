//! The Stripe API calls Porchlight makes, under `/v1/`: Bearer test keys, `Stripe-Account`
//! for connected accounts, `Idempotency-Key` replays, and Stripe's error objects.

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde_json::Value;

use super::http::{ApiError, Call, Reply, json_reply, json_value, pairs};
use super::state::{RefundRequest, Replay, State};
use super::{StripeStub, form, ids, webhooks};

/// What a successful call returns, and the events it made (sent once the lock is released).
type Outcome = Result<(Value, Vec<String>), ApiError>;

pub(super) fn handle(stub: &StripeStub, call: &Call, rest: &[&str]) -> Reply {
    let account = match authorize(call) {
        Ok(account) => account,
        Err(error) => return error.into_reply(),
    };
    let answer = match (&call.method, rest) {
        (&Method::POST, ["checkout", "sessions"]) => {
            let public_base = stub.public_base().to_owned();
            let session_account = account.clone();
            idempotent(stub, call, &account, move |state, params, now| {
                let new = form::checkout_session(params, now)?;
                let session = state.create_session(new, session_account, &public_base, now);
                tracing::info!(session = %session.id, "checkout session created");
                Ok((session.to_json(now), Vec::new()))
            })
        }
        (&Method::GET, ["checkout", "sessions", id]) => retrieve(stub, &account, id),
        (&Method::POST, ["refunds"]) => {
            let pending = webhooks::pending(stub);
            let refund_account = account.clone();
            idempotent(stub, call, &account, move |state, params, now| {
                let params = form::refund(params)?;
                let request = RefundRequest {
                    payment_intent: params.payment_intent,
                    amount: params.amount,
                    account: refund_account,
                    check_account: true,
                };
                state.refund(&request, params.extras, now, pending)
            })
        }
        (&Method::GET, ["payment_intents", id]) => {
            let state = stub.state();
            match state.intents.get(*id).filter(|i| i.account == account) {
                Some(intent) => Ok(json_value(StatusCode::OK, &intent.to_json())),
                None => Err(ApiError::missing(
                    format!("No such payment_intent: '{id}'"),
                    "id",
                )),
            }
        }
        (&Method::GET, ["events", id]) => {
            let state = stub.state();
            match state.event(id).filter(|e| e.account == account) {
                Some(event) => Ok(json_reply(StatusCode::OK, &event.body)),
                None => Err(ApiError::missing(format!("No such event: '{id}'"), "id")),
            }
        }
        _ => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            ..ApiError::invalid(
                format!(
                    "Unrecognized request URL ({}: {}). The stub serves only the calls \
                     Porchlight makes.",
                    call.method, call.path
                ),
                None,
            )
        }),
    };
    answer.unwrap_or_else(ApiError::into_reply)
}

/// The connected account the call acts for, once the key is accepted. Only test keys are
/// taken: a live key here would mean production configuration leaked into a local run.
fn authorize(call: &Call) -> Result<Option<String>, ApiError> {
    let unauthorized = |message: &str| ApiError {
        status: StatusCode::UNAUTHORIZED,
        ..ApiError::invalid(message.to_owned(), None)
    };
    let key = call
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            unauthorized(
                "You did not provide an API key. You need to provide your API key in the \
                 Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
                 YOUR_SECRET_KEY').",
            )
        })?;
    if !key.starts_with("sk_test_") || key.len() <= "sk_test_".len() {
        // Never echo the key: Stripe shows only its last four characters, the stub none.
        return Err(unauthorized(
            "Invalid API Key provided: the stub accepts only test secret keys (sk_test_...).",
        ));
    }

    match call.header("stripe-account") {
        None => Ok(None),
        Some(account) if account.starts_with("acct_") && account.len() > 5 => {
            Ok(Some(account.to_owned()))
        }
        Some(_) => Err(ApiError {
            status: StatusCode::FORBIDDEN,
            kind: "invalid_request_error",
            message: "The Stripe-Account header must name a connected account (acct_...)."
                .to_owned(),
            param: None,
            code: Some("account_invalid"),
        }),
    }
}

fn retrieve(stub: &StripeStub, account: &Option<String>, id: &str) -> Result<Reply, ApiError> {
    let state = stub.state();
    // A session made for one connected account is invisible to another, as at Stripe.
    match state.sessions.get(id).filter(|s| s.account == *account) {
        Some(session) => Ok(json_value(StatusCode::OK, &session.to_json(ids::now()))),
        None => Err(ApiError::missing(
            format!("No such checkout.session: '{id}'"),
            "session",
        )),
    }
}

/// Runs a POST under Stripe's idempotency rules: with an `Idempotency-Key`, the first
/// successful answer is saved and returned again for the same key and parameters; the same
/// key with other parameters or on another endpoint is an `idempotency_error`. Errors are
/// not saved (Stripe saves no result when validation fails), so a corrected retry with the
/// same key goes through. Check, action and save happen in one lock hold, so two racing
/// requests with one key make one object.
fn idempotent(
    stub: &StripeStub,
    call: &Call,
    account: &Option<String>,
    action: impl FnOnce(&mut State, &[(String, String)], i64) -> Outcome,
) -> Result<Reply, ApiError> {
    let params = form_params(call)?;
    let key = call
        .header("idempotency-key")
        .map(str::to_owned)
        .filter(|k| !k.is_empty());
    if key.as_ref().is_some_and(|k| k.len() > 255) {
        return Err(ApiError::invalid(
            "Idempotency keys can be at most 255 characters long.".to_owned(),
            None,
        ));
    }
    let endpoint = format!("{} {}", call.method, call.path);
    let mut sorted = params.clone();
    sorted.sort();
    let now = ids::now();

    let mut state = stub.state();
    let scope = key.clone().map(|k| (account.clone(), k));
    if let Some(saved) = scope.as_ref().and_then(|s| state.idempotency.get(s)) {
        if saved.endpoint != endpoint || saved.params != sorted {
            let key = key.unwrap_or_default();
            return Err(ApiError {
                kind: "idempotency_error",
                ..ApiError::invalid(
                    format!(
                        "Keys for idempotent requests can only be used with the same \
                         parameters they were first used with. Try using a key other than \
                         '{key}' if you meant to execute a different request."
                    ),
                    None,
                )
            });
        }
        let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
        let mut reply = json_reply(status, &saved.body);
        reply
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        echo_key(&mut reply, key.as_deref());
        return Ok(reply);
    }

    let (object, events) = action(&mut state, &params, now)?;
    let body = object.to_string();
    if let Some(scope) = scope {
        let replay = Replay {
            endpoint,
            params: sorted,
            status: 200,
            body: body.clone(),
        };
        state.idempotency.insert(scope, replay);
    }
    let mode = state.mode.clone();
    drop(state);

    webhooks::dispatch(stub, events, mode);
    let mut reply = json_reply(StatusCode::OK, &body);
    echo_key(&mut reply, key.as_deref());
    Ok(reply)
}

fn echo_key(reply: &mut Reply, key: Option<&str>) {
    if let Some(value) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        reply.headers_mut().insert("idempotency-key", value);
    }
}

/// The form body of a POST. Stripe's API takes form encoding only; a JSON body (a likely
/// mistake in a hand-written client) is refused rather than half-read.
pub(super) fn form_params(call: &Call) -> Result<Vec<(String, String)>, ApiError> {
    let content_type = call.header("content-type").unwrap_or_default();
    if !call.body.is_empty() && !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::invalid(
            format!(
                "Invalid request: bodies must be application/x-www-form-urlencoded, \
                 not `{content_type}`."
            ),
            None,
        ));
    }
    let text = std::str::from_utf8(&call.body).map_err(|_| {
        ApiError::invalid("Invalid request: the body is not UTF-8.".to_owned(), None)
    })?;
    Ok(pairs(text))
}
