//! Which company a call acts for: the one its API key belongs to.

use lambda_http::Request;
use lambda_http::http::header;

use porchlight_shared::api_keys::ApiKey;
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::Company;

use crate::reply::ApiError;

/// The company of the call's active API key; every other case is the same 401, so a caller
/// cannot tell an unknown key from a revoked one.
pub async fn company_of(ctx: &AppContext, req: &Request) -> Result<Company, ApiError> {
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .and_then(ApiKey::parse)
        .ok_or(ApiError::Unauthorized)?;
    let hash = key.hash();
    let record = ctx.store.api_key(&hash).await?.filter(|r| r.is_active());
    let Some(record) = record else {
        tracing::warn!(
            key = hash.log_prefix(),
            "API call with an unknown or revoked key"
        );
        return Err(ApiError::Unauthorized);
    };
    let company = ctx
        .store
        .company(&record.company)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    tracing::info!(slug = %company.slug, key_id = %record.key_id, "API call authenticated");
    Ok(company)
}
