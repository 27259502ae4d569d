//! The least a Rust Lambda function can be: `lambda_runtime` answering every event with a
//! fixed API Gateway response. `make bench` measures the real functions' cold start and
//! memory against this one, built with the same toolchain, dependencies and release
//! profile, so what the ratio shows is what Porchlight itself adds. It is not declared in
//! `template.yaml`, so `make package` and `sam build` leave it out.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({
            "statusCode": 200,
            "headers": {"content-type": "text/plain"},
            "body": "hello",
        }))
    }))
    .await
}
