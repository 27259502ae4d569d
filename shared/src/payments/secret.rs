//! The Stripe secret in production: one Secrets Manager secret (its ARN in
//! `PORCHLIGHT_STRIPE_SECRET_ARN`), read once when a function that needs it starts, so the
//! key never sits in a function's environment and IAM decides which functions may read it.
//! Its value is JSON: `{"secret_key": "sk_live_...", "webhook_secrets": ["whsec_..."]}`
//! (`webhook_secrets` may also be one comma-separated string, for a rotation).

use serde::Deserialize;

use super::StripeConfig;

#[derive(Deserialize)]
struct SecretValue {
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    webhook_secrets: Option<Secrets>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Secrets {
    List(Vec<String>),
    Joined(String),
}

/// Why the secret could not be used; never includes its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("Secrets Manager GetSecretValue failed for the Stripe secret")]
    Fetch(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the Stripe secret is not JSON with `secret_key` and `webhook_secrets`")]
    Shape,
}

/// Fills `stripe` from the secret's JSON text; what the secret leaves out stays as it was.
pub fn apply_secret(stripe: &mut StripeConfig, text: &str) -> Result<(), SecretError> {
    let value: SecretValue = serde_json::from_str(text).map_err(|_| SecretError::Shape)?;
    if let Some(key) = value.secret_key.filter(|k| !k.trim().is_empty()) {
        stripe.secret_key = Some(key.trim().to_owned());
    }
    if let Some(secrets) = value.webhook_secrets {
        let all = match secrets {
            Secrets::List(list) => list,
            Secrets::Joined(text) => text.split(',').map(str::to_owned).collect(),
        };
        stripe.webhook_secrets = all
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
    }
    Ok(())
}

/// Reads the secret `arn` and applies it.
pub async fn load(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
    stripe: &mut StripeConfig,
) -> Result<(), SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| SecretError::Fetch(Box::new(e)))?;
    let text = output.secret_string().ok_or(SecretError::Shape)?;
    apply_secret(stripe, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_fills_the_key_and_the_rotation_list() {
        let mut stripe = StripeConfig::default();
        apply_secret(
            &mut stripe,
            r#"{"secret_key":"sk_live_x","webhook_secrets":["whsec_new","whsec_old"]}"#,
        )
        .expect("valid");
        assert_eq!(stripe.secret_key.as_deref(), Some("sk_live_x"));
        assert_eq!(stripe.webhook_secrets, ["whsec_new", "whsec_old"]);
        apply_secret(&mut stripe, r#"{"webhook_secrets":"whsec_a, whsec_b"}"#).expect("valid");
        assert_eq!(stripe.webhook_secrets, ["whsec_a", "whsec_b"]);
        assert_eq!(stripe.secret_key.as_deref(), Some("sk_live_x"), "kept");
        assert!(matches!(
            apply_secret(&mut stripe, "sk_live_plain"),
            Err(SecretError::Shape)
        ));
    }
}
