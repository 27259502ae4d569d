//! What a handler needs, built once per function instance: the store, the mailer, the clock
//! and the configuration.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::mail::Mailer;
use crate::store::Store;

#[derive(Clone)]
pub struct AppContext {
    pub store: Store,
    pub mailer: Mailer,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
}

impl AppContext {
    /// Reads the environment and builds the AWS clients. Endpoints come from the standard
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SESV2` variables, which is how the
    /// local stack and the tests point the same code at local engines.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let mut config = Config::from_env()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .load()
            .await;
        if let Some(arn) = config.stripe.secret_arn.clone() {
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            crate::payments::secret::load(&secrets, &arn, &mut config.stripe)
                .await
                .map_err(|error| ConfigError::Invalid {
                    name: "PORCHLIGHT_STRIPE_SECRET_ARN",
                    reason: error.to_string(),
                })?;
        }
        let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone());
        let mailer = match &config.outbox_dir {
            Some(dir) => Mailer::outbox(dir.clone()),
            None => Mailer::ses(aws_sdk_sesv2::Client::new(&sdk)),
        };
        Ok(Self {
            store,
            mailer,
            clock: Arc::new(SystemClock),
            config,
        })
    }
}

/// The one HTTP client configuration: rustls with ring, which avoids building aws-lc's C code.
/// The SDK crates are built without a default client, so every client must be given this one.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// A DynamoDB client for a local engine (DynamoDB Local) with throwaway static credentials;
/// DynamoDB Local started with `-sharedDb` accepts any.
pub fn local_dynamo_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "static",
        ))
        .http_client(http_client())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
