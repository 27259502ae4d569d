//! Routing, Stripe's error shape, and the small response helpers every handler uses.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::{StripeStub, admin, api, checkout, ids};

/// Stripe refuses request bodies much smaller than this; nothing Porchlight sends is close.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub(super) type Reply = Response<Full<Bytes>>;

/// A request with its body read.
pub(super) struct Call {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query.as_deref().map(pairs).unwrap_or_default()
    }
}

/// Decodes `application/x-www-form-urlencoded` text into its pairs, in order.
pub(super) fn pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) async fn route(stub: &StripeStub, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = ApiError::invalid("The request body is too large.".to_owned(), None);
            return error.reply(StatusCode::PAYLOAD_TOO_LARGE);
        }
    };
    let call = Call {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };

    let path = call.path.clone();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let reply = match segments.as_slice() {
        ["v1", rest @ ..] => api::handle(stub, &call, rest),
        ["checkout", id] => checkout::page(stub, &call, id).await,
        ["checkout", id, "cancel"] if call.method == Method::GET => checkout::cancel(stub, id),
        ["_stub", rest @ ..] => admin::handle(stub, &call, rest).await,
        _ => text(StatusCode::NOT_FOUND, "not found"),
    };
    tracing::info!(
        method = %call.method,
        path = %loggable_path(&segments),
        status = reply.status().as_u16(),
        "stripe stub request"
    );
    reply
}

/// The path with ids kept (they are not secret) but nothing else from the request.
fn loggable_path(segments: &[&str]) -> String {
    format!("/{}", segments.join("/"))
}

/// A Stripe API error: `{"error":{"type":...,"message":...,"param":...,"code":...}}`.
#[derive(Debug, Clone)]
pub(super) struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    /// A 400 `invalid_request_error`, naming the parameter at fault.
    pub fn invalid(message: String, param: Option<&str>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            message,
            param: param.map(str::to_owned),
            code: None,
        }
    }

    /// A 404 `resource_missing`.
    pub fn missing(message: String, param: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: Some("resource_missing"),
            ..Self::invalid(message, Some(param))
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn body(&self) -> Value {
        let mut error = json!({ "type": self.kind, "message": self.message });
        if let Some(fields) = error.as_object_mut() {
            if let Some(param) = &self.param {
                fields.insert("param".to_owned(), json!(param));
            }
            if let Some(code) = self.code {
                fields.insert("code".to_owned(), json!(code));
            }
        }
        json!({ "error": error })
    }

    pub fn into_reply(self) -> Reply {
        let status = self.status;
        self.reply(status)
    }

    fn reply(&self, status: StatusCode) -> Reply {
        json_reply(status, &self.body().to_string())
    }
}

/// A JSON answer with the `Request-Id` header Stripe puts on every answer.
pub(super) fn json_reply(status: StatusCode, body: &str) -> Reply {
    let mut reply = with_body(status, "application/json", body.to_owned());
    if let Ok(value) = HeaderValue::from_str(&ids::request()) {
        reply.headers_mut().insert("request-id", value);
    }
    reply
}

pub(super) fn json_value(status: StatusCode, body: &Value) -> Reply {
    json_reply(status, &body.to_string())
}

pub(super) fn html(status: StatusCode, body: String) -> Reply {
    with_body(status, "text/html; charset=utf-8", body)
}

pub(super) fn text(status: StatusCode, body: &'static str) -> Reply {
    plain(status, body.to_owned())
}

pub(super) fn plain(status: StatusCode, body: String) -> Reply {
    with_body(status, "text/plain; charset=utf-8", body)
}

/// A 303 to `location`, or a 500 if it cannot be a header (it was checked at creation).
pub(super) fn see_other(location: &str) -> Reply {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut reply = with_body(
                StatusCode::SEE_OTHER,
                "text/plain; charset=utf-8",
                String::new(),
            );
            reply.headers_mut().insert(header::LOCATION, value);
            reply
        }
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the redirect URL is not a valid header",
        ),
    }
}

fn with_body(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}
