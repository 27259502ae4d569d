//! Starting a Lambda function: logging set up, clients built once, then the runtime loop.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use lambda_http::{Body, Request, Response, service_fn};

use crate::context::AppContext;

/// Logs as JSON lines without colour inside Lambda, as compact text elsewhere.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let installed = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .with_ansi(false)
            .flatten_event(true)
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // A second call (tests, the local stack) finds a subscriber already set: that is fine.
    drop(installed);
}

/// Runs `handler` as the function's Lambda handler until the runtime stops it.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Arc<AppContext>, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    init_tracing();
    let context = Arc::new(AppContext::from_env().await?);
    let handler = Arc::new(handler);
    lambda_http::run(service_fn(move |req: Request| {
        let context = Arc::clone(&context);
        let handler = Arc::clone(&handler);
        async move {
            let response = crate::request_scope::scoped(handler(context, req)).await;
            Ok::<_, Infallible>(response)
        }
    }))
    .await
}
