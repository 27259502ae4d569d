//! The `sweep` Lambda function, run by an EventBridge schedule every hour. The event's
//! content is not used: "now" is the clock's, and each company's date follows from it.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use porchlight_shared::context::AppContext;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    porchlight_shared::lambda::init_tracing();
    let context = Arc::new(AppContext::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let context = Arc::clone(&context);
        async move {
            let deadline_ms = event.context.deadline;
            let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
            let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
            sweep::handle(&context, Some(remaining))
                .await
                .map_err(|error| {
                    // Lambda retries a failed scheduled run; what is done stays done.
                    tracing::error!(error = ?error, "sweep run failed");
                    lambda_runtime::Error::from(error.to_string())
                })
        }
    }))
    .await
}
