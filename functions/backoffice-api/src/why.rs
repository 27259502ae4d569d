//! "Why is this shown?": `GET /api/v1/clients/{client}/portal?on=YYYY-MM-DD` gives what the
//! client's portal shows on any date, and for every document of the client whether it is
//! shown, since and until when, and the rule's reason in plain words.
//! `GET /api/v1/clients/{client}/portal/preview?on=YYYY-MM-DD` is the same day as the client
//! sees it: the portal home page, read-only.

use chrono::NaiveDate;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use porchlight_shared::http;
use porchlight_shared::portal::{ExplainedDocument, PortalDay, PortalHome};
use porchlight_shared::store::ClientPortal;
use porchlight_shared::views;

use crate::reply::{self, ApiError};
use crate::{Call, Handler, Route};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ClientPortal,
    Preview,
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "clients/{client}/portal",
            handler: Handler::Why(Endpoint::ClientPortal),
        },
        Route {
            method: Method::GET,
            path: "clients/{client}/portal/preview",
            handler: Handler::Why(Endpoint::Preview),
        },
    ]
}

#[derive(Debug, Serialize)]
struct PortalOnDay {
    /// Exactly what the client's portal home shows on that day.
    portal: PortalHome,
    /// Every document of the client, shown or not, with the reason.
    documents: Vec<ExplainedDocument>,
}

pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let client = call.client_id()?;
    let on = match call.query("on") {
        None => call.company.today(call.now),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid("on", "must be a date as YYYY-MM-DD"))?,
    };
    let portal = call
        .ctx
        .store
        .client_portal(&call.company.slug, &client)
        .await?
        .ok_or(ApiError::NotFound)?;
    match endpoint {
        Endpoint::ClientPortal => Ok(client_portal(call, &portal, on)),
        Endpoint::Preview => {
            let home = PortalDay::new(&call.company, &portal, on).home();
            Ok(http::html(
                StatusCode::OK,
                views::portal::staff_preview(&home),
            ))
        }
    }
}

fn client_portal(call: &Call<'_>, portal: &ClientPortal, on: NaiveDate) -> Response<Body> {
    let day = PortalDay::new(&call.company, portal, on);
    let documents = day.documents();
    let answer = PortalOnDay {
        portal: day.home(),
        documents,
    };
    reply::ok(StatusCode::OK, &answer)
}

pub fn openapi_paths() -> serde_json::Value {
    let parameters = json!([
        { "name": "client", "in": "path", "required": true, "schema": { "type": "string" } },
        { "name": "on", "in": "query", "required": false,
          "description": "The company's calendar date; today there if omitted",
          "schema": { "type": "string", "format": "date" } }
    ]);
    json!({
        "/api/v1/clients/{client}/portal/preview": {
            "get": {
                "summary": "The client's portal home on a date, as the client sees it (HTML)",
                "parameters": parameters,
                "responses": {
                    "200": { "description": "The page", "content": { "text/html": {} } },
                    "404": { "description": "No such client in this company" },
                    "422": { "description": "`on` is not a date" }
                }
            }
        },
        "/api/v1/clients/{client}/portal": {
            "get": {
                "summary": "What the client's portal shows on a date, and why for each document",
                "parameters": [
                    { "name": "client", "in": "path", "required": true,
                      "schema": { "type": "string" } },
                    { "name": "on", "in": "query", "required": false,
                      "description": "The company's calendar date; today there if omitted",
                      "schema": { "type": "string", "format": "date" } }
                ],
                "responses": {
                    "200": { "description": "The portal home and every document's decision" },
                    "404": { "description": "No such client in this company" },
                    "422": { "description": "`on` is not a date" }
                }
            }
        }
    })
}
