//! The `checkout` Lambda function: builds its clients once, then serves requests.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    porchlight_shared::lambda::run(|context, request| async move {
        checkout::handle(&context, request).await
    })
    .await
}
