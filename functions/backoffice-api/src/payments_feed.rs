//! `GET /api/v1/payments?since=<cursor>&limit=<1..200>`: the company's payments, oldest
//! write first, so the back office can reconcile what was paid by card, recorded through
//! this API or imported, without reading every client.
//!
//! Each payment sits in the feed at the time it was last written (one Query of GSI1, see
//! the key schema), and `next_cursor` names the place after the last one answered. A reader
//! keeps the cursor and asks again from it; an empty page means it has read everything.
//!
//! GSI reads are eventually consistent: a payment written a moment ago may not be visible
//! yet, and one whose write began just before another's may become visible after it. So a
//! reader that polls should, now and then, read again from a little in the past: `since`
//! also takes an RFC 3339 instant (`2026-06-01T12:00:00Z`), and reading from a minute
//! before the `recorded_at` of the last payment seen, skipping ids already seen (a payment
//! seen again with new content changed: a refund, a corrected import), never misses one.

use chrono::{DateTime, NaiveDateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

use porchlight_shared::domain::Payment;
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::store::backoffice::{FeedEntry, PaymentSource};
use porchlight_shared::store::keys;

use crate::reply::{self, ApiError, FieldProblem};
use crate::{Call, Handler, Route};

/// The feed's one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    List,
}

pub fn routes() -> Vec<Route> {
    vec![Route {
        method: Method::GET,
        path: "payments",
        handler: Handler::PaymentsFeed(Endpoint::List),
    }]
}

/// Payments answered when the caller names no `limit`.
const DEFAULT_LIMIT: u32 = 100;
/// The most payments one page answers: one Query's worth, well under its 1 MB.
const MOST: u32 = 200;
/// How a feed position writes its time: the shape [`keys::payments_feed_position`] uses.
const POSITION_TIME: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::List => list(call).await,
    }
}

/// One payment as the feed answers it.
#[derive(Serialize)]
struct FeedPayment<'a> {
    #[serde(flatten)]
    payment: &'a Payment,
    client_id: &'a ClientId,
    /// Always to the millisecond, so the times of a page sort as text too.
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<PaymentSource>,
}

#[derive(Serialize)]
struct Page<'a> {
    payments: Vec<FeedPayment<'a>>,
    /// Where to read on from; the cursor sent when nothing new was found.
    next_cursor: Option<String>,
}

async fn list(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let mut problems = Vec::new();
    let limit = read_limit(call.query("limit"), &mut problems);
    let since = match call.query("since") {
        None => None,
        Some(text) => {
            let cursor = cursor(text);
            if cursor.is_none() {
                problems.push(FieldProblem {
                    name: "since".into(),
                    reason: "must be a `next_cursor` this endpoint answered, or an RFC 3339 \
                             instant such as `2026-06-01T12:00:00Z`"
                        .into(),
                });
            }
            cursor
        }
    };
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }

    let slug = &call.company.slug;
    let entries = call
        .ctx
        .store
        .payments_since(slug, since.as_deref(), limit)
        .await?;

    tracing::info!(slug = %slug, payments = entries.len(), limit, "payments feed read");
    let next_cursor = entries.last().map(|e| e.position.clone()).or(since);
    let page = Page {
        payments: entries.iter().map(view).collect(),
        next_cursor,
    };
    Ok(reply::ok(StatusCode::OK, &page))
}

fn view(entry: &FeedEntry) -> FeedPayment<'_> {
    FeedPayment {
        payment: &entry.payment,
        client_id: &entry.client_id,
        recorded_at: entry
            .recorded_at
            .map(|at| at.format(POSITION_TIME).to_string()),
        source: entry.source,
    }
}

fn read_limit(text: Option<&str>, problems: &mut Vec<FieldProblem>) -> u32 {
    let Some(text) = text else {
        return DEFAULT_LIMIT;
    };
    match text.parse::<u32>() {
        Ok(limit) if (1..=MOST).contains(&limit) => limit,
        _ => {
            problems.push(FieldProblem {
                name: "limit".into(),
                reason: format!("must be a whole number from 1 to {MOST}"),
            });
            DEFAULT_LIMIT
        }
    }
}

/// The feed position to read after: a cursor exactly as the feed writes them (a time, a
/// client id and a payment id), or the start of an instant's millisecond. `None` for
/// anything else, so a mangled cursor is refused instead of silently reading from
/// somewhere else.
fn cursor(text: &str) -> Option<String> {
    let mut parts = text.split('#');
    let (time, client, payment) = (parts.next()?, parts.next(), parts.next());
    if parts.next().is_some() {
        return None;
    }
    match (client, payment) {
        (Some(client), Some(payment)) => {
            let at = NaiveDateTime::parse_from_str(time, POSITION_TIME).ok()?;
            let client = ClientId::parse(client).ok()?;
            let payment = DocumentId::parse(payment).ok()?;
            let position = keys::payments_feed_position(at.and_utc(), &client, &payment);
            (position == text).then_some(position)
        }
        (None, None) => {
            let at = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
            Some(at.format(POSITION_TIME).to_string())
        }
        _ => None,
    }
}

/// The OpenAPI description of the feed.
pub fn openapi_paths() -> Value {
    let money = json!({ "$ref": "#/components/schemas/Money" });
    let payment = json!({ "type": "object", "properties": {
        "id": { "type": "string" },
        "client_id": { "type": "string" },
        "received_on": { "type": "string", "format": "date" },
        "amount": money,
        "unapplied": money,
        "applied": { "type": "array", "items": { "type": "object", "properties": {
            "invoice_id": { "type": "string" }, "amount": money } } },
        "reference": { "type": ["string", "null"] },
        "voided": { "type": "boolean" },
        "recorded_at": { "type": "string", "format": "date-time",
            "description": "When the payment was last written; its place in the feed" },
        "source": { "type": "string", "enum": ["stripe", "api", "import"],
            "description": "Absent for payments written before sources were kept" }
    } });
    json!({
        "/api/v1/payments": { "get": {
            "summary": "The company's payments since a cursor, oldest write first",
            "description": "Keep `next_cursor` and ask again from it; an empty page means \
                nothing new. The feed is read from an eventually consistent index: now and \
                then read again from an instant a minute before the last `recorded_at` \
                seen, skipping ids already seen. A payment that changes moves to the end.",
            "parameters": [
                { "name": "since", "in": "query", "required": false,
                  "description": "A `next_cursor` this endpoint answered, or an RFC 3339 \
                      instant; from the feed's start without it",
                  "schema": { "type": "string" } },
                { "name": "limit", "in": "query", "required": false,
                  "schema": { "type": "integer", "minimum": 1, "maximum": MOST,
                      "default": DEFAULT_LIMIT } }
            ],
            "responses": {
                "200": { "description": "A page of payments",
                    "content": { "application/json": { "schema": { "type": "object",
                        "properties": {
                            "payments": { "type": "array", "items": payment },
                            "next_cursor": { "type": ["string", "null"] }
                        } } } } },
                "422": { "description": "A malformed cursor or limit" }
            }
        } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_the_feeds_own_positions_or_instants() {
        let client = ClientId::random();
        let payment = DocumentId::random();
        let at: DateTime<Utc> = "2026-06-01T12:30:05.123Z".parse().expect("valid");
        let position = keys::payments_feed_position(at, &client, &payment);
        assert_eq!(cursor(&position), Some(position.clone()));
        assert_eq!(
            cursor("2026-06-01T12:00:00Z").as_deref(),
            Some("2026-06-01T12:00:00.000Z")
        );
        assert_eq!(
            cursor("2026-06-01T14:00:00+02:00").as_deref(),
            Some("2026-06-01T12:00:00.000Z")
        );
        for bad in [
            String::new(),
            "yesterday".into(),
            format!("{position}#more"),
            format!("2026-06-01T12:30:05Z#{client}#{payment}"),
            format!("2026-06-01T12:30:05.123Z#{client}"),
            format!("2026-06-01T12:30:05.123Z#{client}#nope"),
            position.to_uppercase(),
        ] {
            assert_eq!(cursor(&bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_are_one_to_two_hundred() {
        let mut problems = vec![];
        assert_eq!(read_limit(None, &mut problems), 100);
        assert_eq!(read_limit(Some("1"), &mut problems), 1);
        assert_eq!(read_limit(Some("200"), &mut problems), 200);
        assert!(problems.is_empty());
        for bad in ["0", "201", "-1", "ten", ""] {
            read_limit(Some(bad), &mut problems);
        }
        assert_eq!(problems.len(), 5);
    }
}
