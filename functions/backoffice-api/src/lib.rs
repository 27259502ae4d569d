//! The back-office sync API under `/api/v1/`: how a company's field-service app (or any
//! integrator) tells Porchlight about clients, jobs, visits, proposals, invoices and payments,
//! changes the company's settings, and asks why the portal shows what it shows.
//!
//! Every call but `GET /api/v1/openapi.json` carries `Authorization: Bearer <API key>`. The
//! key names one company and every call acts inside it alone: an id of another company's
//! record is simply not found. JSON in and out; refusals are `application/problem+json`.

mod auth;
mod documents;
mod emails;
mod input;
mod leads;
pub mod openapi;
mod payments_feed;
mod reply;
mod settings;
mod why;

use chrono::{DateTime, Utc};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use porchlight_shared::context::AppContext;
use porchlight_shared::domain::Company;
use porchlight_shared::http;
use porchlight_shared::ids::{ClientId, DocumentId};

pub use reply::{ApiError, FieldProblem};

const PREFIX: &str = "/api/v1/";

/// Which module serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    OpenApi,
    Settings(settings::Endpoint),
    Why(why::Endpoint),
    Documents(documents::Endpoint),
    Emails(emails::Endpoint),
    Leads(leads::Endpoint),
    PaymentsFeed(payments_feed::Endpoint),
}

/// One endpoint: method, path under `/api/v1/` with `{param}` segments, and its handler.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub handler: Handler,
}

/// Every endpoint; the OpenAPI document is checked against this list by a test.
pub fn routes() -> Vec<Route> {
    let mut all = vec![Route {
        method: Method::GET,
        path: "openapi.json",
        handler: Handler::OpenApi,
    }];
    all.extend(settings::routes());
    all.extend(why::routes());
    all.extend(documents::routes());
    all.extend(emails::routes());
    all.extend(leads::routes());
    all.extend(payments_feed::routes());
    all
}

/// The path parameters a route bound, by name.
fn bind(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let want: Vec<&str> = pattern.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = Vec::new();
    for (w, g) in want.iter().zip(&got) {
        match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(name) if !g.is_empty() => params.push((name.to_owned(), (*g).to_owned())),
            None if w == g => {}
            _ => return None,
        }
    }
    Some(params)
}

/// One authenticated call, as the endpoint modules see it.
pub struct Call<'a> {
    pub ctx: &'a AppContext,
    pub company: Company,
    pub now: DateTime<Utc>,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Value,
    idempotency_key: Option<String>,
}

impl Call<'_> {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .expect("the route pattern names this parameter")
    }

    /// A client id from the path; a malformed one is simply not found.
    pub fn client_id(&self) -> Result<ClientId, ApiError> {
        ClientId::parse(self.param("client")).map_err(|_| ApiError::NotFound)
    }

    pub fn document_id(&self, name: &str) -> Result<DocumentId, ApiError> {
        DocumentId::parse(self.param(name)).map_err(|_| ApiError::NotFound)
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The `Idempotency-Key` header, if the caller sent one.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}

pub async fn handle(ctx: &AppContext, req: Request) -> Response<Body> {
    let (route, response) = match serve(ctx, &req).await {
        Ok((route, response)) => (route, response),
        Err((route, error)) => (route, error.into_response()),
    };
    http::log_request("backoffice-api", route, &req, &response);
    response
}

type Served = Result<(&'static str, Response<Body>), (&'static str, ApiError)>;

async fn serve(ctx: &AppContext, req: &Request) -> Served {
    let Some(path) = http::path(req).strip_prefix(PREFIX) else {
        return Err(("-", ApiError::NotFound));
    };
    let path = path.trim_end_matches('/');
    let candidates: Vec<(Route, Vec<(String, String)>)> = routes()
        .into_iter()
        .filter_map(|route| bind(route.path, path).map(|params| (route, params)))
        .collect();
    let Some((route, params)) = candidates
        .iter()
        .find(|(route, _)| route.method == req.method())
        .cloned()
    else {
        let error = if candidates.is_empty() {
            ApiError::NotFound
        } else {
            ApiError::MethodNotAllowed
        };
        return Err(("-", error));
    };
    let name = route.path;
    if route.handler == Handler::OpenApi {
        return Ok((
            name,
            reply::ok(lambda_http::http::StatusCode::OK, &openapi::document()),
        ));
    }

    let company = auth::company_of(ctx, req).await.map_err(|e| (name, e))?;
    porchlight_shared::request_scope::set_company(&company.slug);
    let body = read_body(req).map_err(|e| (name, e))?;
    let call = Call {
        ctx,
        company,
        now: ctx.clock.now(),
        params,
        query: query_pairs(req),
        body,
        idempotency_key: req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()),
    };
    let answer = match route.handler {
        Handler::OpenApi => unreachable!("answered before authentication"),
        Handler::Settings(endpoint) => settings::serve(endpoint, &call).await,
        Handler::Why(endpoint) => why::serve(endpoint, &call).await,
        Handler::Documents(endpoint) => documents::serve(endpoint, &call).await,
        Handler::Emails(endpoint) => emails::serve(endpoint, &call).await,
        Handler::Leads(endpoint) => leads::serve(endpoint, &call).await,
        // Boxed: a debug build keeps every arm's future on the stack at once.
        Handler::PaymentsFeed(endpoint) => Box::pin(payments_feed::serve(endpoint, &call)).await,
    };
    answer
        .map(|response| (name, response))
        .map_err(|error| (name, error))
}

fn query_pairs(req: &Request) -> Vec<(String, String)> {
    let query = req.uri().query().unwrap_or("");
    http::query_pairs(query)
}

/// The body as JSON; an empty body reads as `null`.
fn read_body(req: &Request) -> Result<Value, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|_| ApiError::MalformedJson)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_bind_parameters() {
        let params = bind("clients/{client}/jobs/{job}", "clients/c1/jobs/j1").expect("a match");
        assert_eq!(
            params,
            vec![("client".into(), "c1".into()), ("job".into(), "j1".into())]
        );
        assert!(bind("clients/{client}", "clients/").is_none());
        assert!(bind("clients/{client}", "clients/c1/jobs").is_none());
    }

    #[test]
    fn routes_are_unique() {
        let all = routes();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} twice",
                    a.method,
                    a.path
                );
            }
        }
    }
}
