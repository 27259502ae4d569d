//! What one invocation did, for its log line: when it started, how many DynamoDB requests
//! it made, and which company it acted for. Kept in a task-local, so requests served at
//! the same time by the local stack (or one Lambda instance reused) never mix their counts.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::ids::CompanySlug;

struct RequestScope {
    started: Instant,
    dynamo_requests: AtomicU64,
    company: Mutex<Option<CompanySlug>>,
}

tokio::task_local! {
    static SCOPE: RequestScope;
}

/// Runs `work` as one request: its DynamoDB requests and duration are counted apart.
pub async fn scoped<F: Future>(work: F) -> F::Output {
    let scope = RequestScope {
        started: Instant::now(),
        dynamo_requests: AtomicU64::new(0),
        company: Mutex::new(None),
    };
    SCOPE.scope(scope, work).await
}

/// Counts one DynamoDB request against the current request, if there is one.
pub fn count_dynamo_request() {
    let _ = SCOPE.try_with(|scope| scope.dynamo_requests.fetch_add(1, Ordering::Relaxed));
}

/// Names the company the request acts for, when its path does not (the back-office API).
pub fn set_company(slug: &CompanySlug) {
    let _ = SCOPE.try_with(|scope| {
        if let Ok(mut company) = scope.company.lock() {
            *company = Some(slug.clone());
        }
    });
}

/// What the current request has done so far: milliseconds, DynamoDB requests, company.
pub fn so_far() -> Option<(u64, u64, Option<CompanySlug>)> {
    SCOPE
        .try_with(|scope| {
            let millis = u64::try_from(scope.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let company = scope.company.lock().ok().and_then(|c| c.clone());
            (
                millis,
                scope.dynamo_requests.load(Ordering::Relaxed),
                company,
            )
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_stay_with_their_request() {
        assert!(so_far().is_none(), "no scope outside a request");
        count_dynamo_request();
        let first = scoped(async {
            count_dynamo_request();
            count_dynamo_request();
            let inner = scoped(async {
                count_dynamo_request();
                so_far()
            })
            .await;
            assert_eq!(inner.map(|(_, n, _)| n), Some(1));
            set_company(&CompanySlug::parse("oakleaf").expect("valid"));
            so_far()
        })
        .await
        .expect("inside a scope");
        assert_eq!(first.1, 2);
        assert_eq!(first.2.map(|c| c.to_string()), Some("oakleaf".into()));
    }
}
