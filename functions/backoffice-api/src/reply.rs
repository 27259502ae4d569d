//! What the API answers: JSON bodies for success, RFC 9457 problem details for every
//! refusal, naming each bad field. One place maps outcomes to status codes.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use porchlight_shared::http::Failure;
use porchlight_shared::store::StoreError;

/// One field the caller got wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// A JSON-pointer-like path, e.g. `lines[2].amount`.
    pub name: String,
    pub reason: String,
}

/// Every way a call can be refused, and our own failures.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown API key")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the body must be a JSON object")]
    NotJson,
    #[error("the body is not valid JSON")]
    MalformedJson,
    #[error("invalid fields")]
    Invalid(Vec<FieldProblem>),
    /// A stale version, or a state that forbids the change (already accepted, expired...).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Failure(Failure::Store(error))
    }
}

impl ApiError {
    pub fn invalid(name: &str, reason: &str) -> Self {
        ApiError::Invalid(vec![FieldProblem {
            name: name.to_owned(),
            reason: reason.to_owned(),
        }])
    }

    pub fn into_response(self) -> Response<Body> {
        let (status, title, detail, fields) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                Some("Send `Authorization: Bearer <API key>` with an active key.".to_owned()),
                None,
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "Not found", None, None),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                None,
                None,
            ),
            ApiError::MalformedJson => (
                StatusCode::BAD_REQUEST,
                "The body is not valid JSON",
                None,
                None,
            ),
            ApiError::NotJson => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "The body must be a JSON object",
                None,
                None,
            ),
            ApiError::Invalid(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "The request has invalid fields",
                None,
                Some(fields),
            ),
            ApiError::Conflict(detail) => (StatusCode::CONFLICT, "Conflict", Some(detail), None),
            ApiError::Failure(failure) => {
                return porchlight_shared::http::failure_response(&failure, true);
            }
        };
        let mut body = json!({ "type": "about:blank", "title": title, "status": status.as_u16() });
        if let Some(detail) = detail {
            body["detail"] = detail.into();
        }
        if let Some(fields) = fields {
            body["invalid_fields"] = json!(fields);
        }
        let mut response = porchlight_shared::http::problem(status, title, None);
        *response.body_mut() = Body::Text(body.to_string());
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A successful answer.
pub fn ok<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    porchlight_shared::http::json(status, value)
}
