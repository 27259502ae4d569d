//! Service requests for staff: listing, marking handled, CSV export, and turning one into a client.

use lambda_http::{Body, Response};

use crate::reply::ApiError;
use crate::{Call, Route};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {}

pub fn routes() -> Vec<Route> {
    vec![]
}

pub async fn serve(endpoint: Endpoint, _call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {}
}

pub fn openapi_paths() -> serde_json::Value {
    serde_json::json!({})
}
