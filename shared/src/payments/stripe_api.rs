//! The two Stripe API calls the portal makes itself: create a Checkout Session for an invoice
//! and read one back. Requests are form-encoded over HTTPS at the configured base URL (plain
//! http only to a stand-in on this machine, so the secret key never crosses a network in
//! clear), with the connected account in `Stripe-Account` and a 10 s limit on each call.
//!
//! What is logged: the operation, the account, Stripe's status, error type and `Request-Id`
//! (what Stripe support asks for). Never the secret key, the client's email, or the body.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_http::{Body, Response};
use serde::Deserialize;

use super::StripeConfig;
use super::amounts::{self, AmountError};
use crate::money::Money;

/// How long one call may take, connection included: well inside the checkout function's
/// 20 s and API Gateway's 30 s, so a slow Stripe gives the client an answer, not a timeout.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where Stripe's hosted checkout pages live; the portal's forms may redirect there.
pub const STRIPE_CHECKOUT_ORIGIN: &str = "https://checkout.stripe.com";

/// Why a Stripe call did not give a session.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("no Stripe secret key is configured")]
    NotConfigured,
    #[error("the Stripe base URL `{0}` is not https:// (or http:// to this machine)")]
    InvalidBase(String),
    #[error("`{0}` is not a Checkout Session id")]
    InvalidSessionId(String),
    #[error("the TLS configuration could not be built: {0}")]
    Tls(String),
    #[error(transparent)]
    Amount(#[from] AmountError),
    #[error("Stripe {operation} did not answer within {seconds} s")]
    Timeout {
        operation: &'static str,
        seconds: u64,
    },
    #[error("Stripe {operation} could not be sent")]
    Transport {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Stripe answered with its error object.
    #[error(transparent)]
    Api(Box<ApiError>),
    #[error("Stripe {operation} answered {status} with a body that does not decode")]
    Decode {
        operation: &'static str,
        status: u16,
        request_id: Option<String>,
        #[source]
        source: serde_json::Error,
    },
}

impl StripeError {
    /// A refusal caused by what we sent (4xx), rather than Stripe or the network failing.
    pub fn is_refusal(&self) -> bool {
        matches!(self, StripeError::Api(error) if (400..500).contains(&error.status))
    }
}

/// Stripe's error object (`error.type`, `error.message`, `error.param`, `error.code`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Stripe {operation} refused ({status}, {kind}): {message}")]
pub struct ApiError {
    pub operation: &'static str,
    pub status: u16,
    /// `invalid_request_error`, `idempotency_error`, `card_error`, `api_error`...
    pub kind: String,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<String>,
    /// Stripe's `Request-Id`, what its support asks for.
    pub request_id: Option<String>,
}

/// What Porchlight puts in the metadata of a session and of its payment intent, so that
/// every event Stripe sends about the money names the company, client and invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMetadata {
    pub company: String,
    pub client_id: String,
    pub invoice_id: String,
}

/// One Checkout Session to create: one line for (part of) one invoice.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// The company's connected account (`acct_...`); the money goes there.
    pub stripe_account: String,
    /// Same key, same session: Stripe replays the first answer for 24 hours. The caller
    /// derives it so that a double click makes one session.
    pub idempotency_key: String,
    pub amount: Money,
    /// The line's name on Stripe's page and receipt ("Invoice 1021").
    pub product_name: String,
    /// May hold Stripe's literal `{CHECKOUT_SESSION_ID}` placeholder.
    pub success_url: String,
    pub cancel_url: String,
    pub client_reference_id: String,
    pub customer_email: Option<String>,
    pub metadata: PaymentMetadata,
    /// Stripe requires 30 minutes to 24 hours from now.
    pub expires_at: DateTime<Utc>,
}

impl CheckoutRequest {
    /// The form fields of `POST /v1/checkout/sessions`. The amount goes through
    /// [`amounts::to_stripe`], so a zero-decimal currency is never multiplied (case C06).
    pub fn form(&self) -> Result<Vec<(String, String)>, StripeError> {
        let unit_amount = amounts::to_stripe(&self.amount)?;
        let item = "line_items[0]";
        let mut fields: Vec<(String, String)> = vec![
            ("mode".into(), "payment".into()),
            (
                format!("{item}[price_data][currency]"),
                amounts::stripe_currency(&self.amount.currency),
            ),
            (
                format!("{item}[price_data][unit_amount]"),
                unit_amount.to_string(),
            ),
            (
                format!("{item}[price_data][product_data][name]"),
                self.product_name.clone(),
            ),
            (format!("{item}[quantity]"), "1".into()),
            ("success_url".into(), self.success_url.clone()),
            ("cancel_url".into(), self.cancel_url.clone()),
            (
                "client_reference_id".into(),
                self.client_reference_id.clone(),
            ),
            ("expires_at".into(), self.expires_at.timestamp().to_string()),
        ];
        if let Some(email) = &self.customer_email {
            fields.push(("customer_email".into(), email.clone()));
        }
        let metadata = [
            ("company", &self.metadata.company),
            ("client_id", &self.metadata.client_id),
            ("invoice_id", &self.metadata.invoice_id),
        ];
        for prefix in ["metadata", "payment_intent_data[metadata]"] {
            for (name, value) in metadata {
                fields.push((format!("{prefix}[{name}]"), value.clone()));
            }
        }
        Ok(fields)
    }
}

/// `status` of a Checkout Session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
    #[serde(other)]
    Other,
}

/// `payment_status` of a Checkout Session: only `paid` means the money is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    #[serde(other)]
    Other,
}

/// The fields of a Checkout Session the portal reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    /// Where to send the client; absent once the session is complete or expired.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub status: Option<SessionStatus>,
    pub payment_status: SessionPaymentStatus,
    /// `pi_...`, once there is a payment intent (not expanded).
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

impl CheckoutSession {
    pub fn is_paid(&self) -> bool {
        self.payment_status == SessionPaymentStatus::Paid
    }

    /// The session's total as our money, through the same conversion as the request.
    pub fn amount(&self) -> Option<Result<Money, AmountError>> {
        let amount = self.amount_total?;
        let currency = self.currency.as_deref()?;
        Some(amounts::from_stripe(amount, currency))
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Stripe's API at one base URL with the platform's secret key. Cheap to build: the TLS
/// configuration (the costly part, reading the system's roots) is made once per process.
/// Connections are not pooled between calls: a portal request makes one or two calls, and a
/// pool would outlive the runtime it was made on in tests.
pub struct StripeClient {
    base: String,
    secret_key: String,
    http: HttpClient,
    timeout: Duration,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl StripeClient {
    /// A client for `config`; [`StripeError::NotConfigured`] without a secret key.
    pub fn new(config: &StripeConfig) -> Result<Self, StripeError> {
        let secret_key = config
            .secret_key
            .clone()
            .ok_or(StripeError::NotConfigured)?;
        let base = config.api_base.trim_end_matches('/').to_owned();
        let connector = if base.starts_with("https://") {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(native_roots_config()?)
                .https_only()
                .enable_http1()
                .build()
        } else if is_local_http(&base) {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(no_roots_config()?)
                .https_or_http()
                .enable_http1()
                .build()
        } else {
            return Err(StripeError::InvalidBase(base));
        };
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Ok(Self {
            base,
            secret_key,
            http,
            timeout: CALL_TIMEOUT,
        })
    }

    /// `POST /v1/checkout/sessions` on the request's connected account.
    pub async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, StripeError> {
        let form = request.form()?;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let call = Call {
            operation: "create checkout session",
            method: Method::POST,
            path: "/v1/checkout/sessions".into(),
            account: &request.stripe_account,
            idempotency_key: Some(&request.idempotency_key),
            body,
        };
        self.send(call).await
    }

    /// `GET /v1/checkout/sessions/{id}` on the connected account that made it.
    pub async fn retrieve_checkout_session(
        &self,
        stripe_account: &str,
        session_id: &str,
    ) -> Result<CheckoutSession, StripeError> {
        if !is_session_id(session_id) {
            return Err(StripeError::InvalidSessionId(session_id.to_owned()));
        }
        let call = Call {
            operation: "retrieve checkout session",
            method: Method::GET,
            path: format!("/v1/checkout/sessions/{session_id}"),
            account: stripe_account,
            idempotency_key: None,
            body: String::new(),
        };
        self.send(call).await
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, call: Call<'_>) -> Result<T, StripeError> {
        let operation = call.operation;
        let account = call.account.to_owned();
        let started = Instant::now();
        let answer = tokio::time::timeout(self.timeout, self.exchange(call)).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let (status, request_id, bytes) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                tracing::warn!(operation, stripe_account = %account, elapsed_ms,
                    error = %error, "stripe call failed");
                return Err(error);
            }
            Err(_) => {
                tracing::warn!(operation, stripe_account = %account, elapsed_ms,
                    "stripe call timed out");
                return Err(StripeError::Timeout {
                    operation,
                    seconds: self.timeout.as_secs(),
                });
            }
        };
        let request_id_text = request_id.clone().unwrap_or_else(|| "-".into());
        if status.is_success() {
            tracing::info!(operation, stripe_account = %account, status = status.as_u16(),
                stripe_request_id = %request_id_text, elapsed_ms, "stripe call");
            return serde_json::from_slice(&bytes).map_err(|source| StripeError::Decode {
                operation,
                status: status.as_u16(),
                request_id,
                source,
            });
        }
        let error = api_error(operation, status, request_id, &bytes);
        if let StripeError::Api(api) = &error {
            tracing::warn!(operation, stripe_account = %account, status = status.as_u16(),
                stripe_request_id = %request_id_text, error_type = %api.kind,
                param = api.param.as_deref().unwrap_or("-"), elapsed_ms, "stripe refused");
        }
        Err(error)
    }

    /// One request and its whole answer: status, `Request-Id`, body.
    async fn exchange(
        &self,
        call: Call<'_>,
    ) -> Result<(StatusCode, Option<String>, Bytes), StripeError> {
        let operation = call.operation;
        let transport = |source: Box<dyn std::error::Error + Send + Sync>| StripeError::Transport {
            operation,
            source,
        };
        let mut builder = hyper::Request::builder()
            .method(call.method)
            .uri(format!("{}{}", self.base, call.path))
            .header(header::ACCEPT, "application/json")
            .header("stripe-account", call.account);
        if let Some(key) = call.idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        if !call.body.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", self.secret_key))
            .map_err(|e| transport(Box::new(e)))?;
        authorization.set_sensitive(true);
        builder = builder.header(header::AUTHORIZATION, authorization);
        let request = builder
            .body(Full::new(Bytes::from(call.body)))
            .map_err(|e| transport(Box::new(e)))?;

        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| transport(Box::new(e)))?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(Box::new(e)))?
            .to_bytes();
        Ok((status, request_id, bytes))
    }
}

struct Call<'a> {
    operation: &'static str,
    method: Method,
    path: String,
    account: &'a str,
    idempotency_key: Option<&'a str>,
    body: String,
}

fn api_error(
    operation: &'static str,
    status: StatusCode,
    request_id: Option<String>,
    bytes: &[u8],
) -> StripeError {
    match serde_json::from_slice::<ErrorEnvelope>(bytes) {
        Ok(ErrorEnvelope { error }) => StripeError::Api(Box::new(ApiError {
            operation,
            status: status.as_u16(),
            kind: error.kind.unwrap_or_else(|| "unknown".into()),
            message: error.message.unwrap_or_default(),
            param: error.param,
            code: error.code,
            request_id,
        })),
        Err(source) => StripeError::Decode {
            operation,
            status: status.as_u16(),
            request_id,
            source,
        },
    }
}

/// `cs_` followed by letters, digits and underscores (`cs_test_a1B2...`), so an id from a URL
/// can go into a request path as it is.
pub fn is_session_id(id: &str) -> bool {
    id.starts_with("cs_")
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `http://127.0.0.1`, `http://localhost` or `http://[::1]`, with or without a port.
fn is_local_http(base: &str) -> bool {
    let Some(rest) = base.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted roots with ring, read once per process.
fn native_roots_config() -> Result<rustls::ClientConfig, StripeError> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    let built = CONFIG.get_or_init(|| {
        use hyper_rustls::ConfigBuilderExt;
        rustls::ClientConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_native_roots()
            .map(|builder| builder.with_no_client_auth())
            .map_err(|e| e.to_string())
    });
    built.clone().map_err(StripeError::Tls)
}

/// For plain http to a local stand-in: a TLS configuration that trusts nothing.
fn no_roots_config() -> Result<rustls::ClientConfig, StripeError> {
    Ok(rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .map_err(|e| StripeError::Tls(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

/// The origins a portal form may end up at after posting to the pay route: Stripe's
/// hosted checkout, and for a stand-in (any base other than Stripe's API) the stand-in's
/// own origin, which serves its test checkout page.
pub fn checkout_origins(config: &StripeConfig) -> Vec<String> {
    let mut origins = vec![STRIPE_CHECKOUT_ORIGIN.to_owned()];
    if config.api_base != super::STRIPE_API
        && let Some(origin) = origin_of(&config.api_base)
    {
        origins.push(origin);
    }
    origins
}

fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let clean = |c: char| c.is_ascii_alphanumeric() || "-.:[]".contains(c);
    (!authority.is_empty() && authority.chars().all(clean))
        .then(|| format!("{scheme}://{authority}"))
}

/// Lets a page's forms lead to Stripe's checkout. Browsers apply a page's CSP
/// `form-action` to the redirects that follow a form post too, so with `form-action 'self'`
/// alone the pay form's 303 to Stripe would be blocked.
pub fn allow_checkout_redirect(response: &mut Response<Body>, config: &StripeConfig) {
    let Some(policy) = response
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let sources = checkout_origins(config).join(" ");
    let widened = policy.replace(
        "form-action 'self'",
        &format!("form-action 'self' {sources}"),
    );
    if let Ok(value) = HeaderValue::from_str(&widened) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn request(minor: i64, code: &str) -> CheckoutRequest {
        CheckoutRequest {
            stripe_account: "acct_1".into(),
            idempotency_key: "key".into(),
            amount: Money::new(minor, Currency::parse(code).expect("a currency")),
            product_name: "Invoice 1021".into(),
            success_url:
                "http://127.0.0.1:3000/p/a/invoices/i/payment?session_id={CHECKOUT_SESSION_ID}"
                    .into(),
            cancel_url: "http://127.0.0.1:3000/p/a/invoices/i".into(),
            client_reference_id: "i".into(),
            customer_email: Some("sam@example.org".into()),
            metadata: PaymentMetadata {
                company: "a".into(),
                client_id: "c".into(),
                invoice_id: "i".into(),
            },
            expires_at: "2026-12-04T12:30:00Z".parse().expect("an instant"),
        }
    }

    fn field(fields: &[(String, String)], name: &str) -> Option<String> {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn c06_unit_amounts_are_in_the_currencys_own_unit() {
        let unit = "line_items[0][price_data][unit_amount]";
        let currency = "line_items[0][price_data][currency]";
        for (minor, code, sent, lower) in [
            (8_800, "JPY", "8800", "jpy"),
            (8_800, "USD", "8800", "usd"),
            (55_000, "KRW", "55000", "krw"),
        ] {
            let fields = request(minor, code).form().expect("a chargeable amount");
            assert_eq!(field(&fields, unit).as_deref(), Some(sent), "{code}");
            assert_eq!(field(&fields, currency).as_deref(), Some(lower), "{code}");
        }
    }

    #[test]
    fn metadata_goes_on_the_session_and_its_payment_intent() {
        let fields = request(8_800, "USD").form().expect("a chargeable amount");
        for prefix in ["metadata", "payment_intent_data[metadata]"] {
            assert_eq!(
                field(&fields, &format!("{prefix}[company]")).as_deref(),
                Some("a")
            );
            assert_eq!(
                field(&fields, &format!("{prefix}[client_id]")).as_deref(),
                Some("c")
            );
            assert_eq!(
                field(&fields, &format!("{prefix}[invoice_id]")).as_deref(),
                Some("i")
            );
        }
        assert_eq!(field(&fields, "mode").as_deref(), Some("payment"));
        assert_eq!(field(&fields, "expires_at").as_deref(), Some("1796387400"));
        assert!(request(0, "USD").form().is_err());
        assert!(request(1_000, "HUF").form().is_err());
    }

    #[test]
    fn plain_http_only_reaches_this_machine() {
        let config = |base: &str| StripeConfig {
            api_base: base.into(),
            secret_key: Some("sk_test_x".into()),
            ..StripeConfig::default()
        };
        assert!(StripeClient::new(&config("http://127.0.0.1:4242")).is_ok());
        assert!(StripeClient::new(&config("http://localhost")).is_ok());
        assert!(matches!(
            StripeClient::new(&config("http://api.stripe.com")),
            Err(StripeError::InvalidBase(_))
        ));
        assert!(matches!(
            StripeClient::new(&config("http://127.0.0.1.evil.example")),
            Err(StripeError::InvalidBase(_))
        ));
        let without_key = StripeConfig {
            secret_key: None,
            ..config("http://127.0.0.1:4242")
        };
        assert!(matches!(
            StripeClient::new(&without_key),
            Err(StripeError::NotConfigured)
        ));
    }

    #[test]
    fn session_ids_are_checked_before_they_enter_a_path() {
        assert!(is_session_id("cs_test_a1B2c3"));
        assert!(!is_session_id("cs_../../v1/charges"));
        assert!(!is_session_id("pi_123"));
        assert!(!is_session_id("cs_a?b"));
    }

    #[test]
    fn checkout_origins_add_a_stand_in() {
        let mut config = StripeConfig {
            api_base: crate::payments::STRIPE_API.into(),
            ..StripeConfig::default()
        };
        assert_eq!(checkout_origins(&config), [STRIPE_CHECKOUT_ORIGIN]);
        config.api_base = "http://127.0.0.1:4242".into();
        assert_eq!(
            checkout_origins(&config),
            [STRIPE_CHECKOUT_ORIGIN, "http://127.0.0.1:4242"]
        );
    }
}
