//! `GET /p/{slug}/payments`: the signed-in client's payment history, newest first, from the
//! same one Query as every portal page. Read-only; JSON on request.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use porchlight_shared::context::AppContext;
use porchlight_shared::domain::Company;
use porchlight_shared::http::{self, Failure};
use porchlight_shared::portal::PortalDay;
use porchlight_shared::views::payments::{self as pages, PaymentHistory};

pub async fn history(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let Some(viewing) = super::viewing(ctx, req, company).await? else {
        return Ok(super::sign_in_first(json, company));
    };

    let day = PortalDay::new(company, &viewing.portal, company.today(ctx.clock.now()));
    let history = PaymentHistory::new(company, &viewing.portal, &day);
    tracing::info!(slug = %company.slug, client = %viewing.portal.client.id,
        payments = history.payments.len(), "payment history");

    if json {
        return Ok(http::json(StatusCode::OK, &history));
    }
    let page = pages::history(&history, &super::viewer(&viewing.signed_in));
    Ok(http::html(StatusCode::OK, page))
}
