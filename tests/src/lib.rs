//! Support for Porchlight's integration tests: a fresh table in DynamoDB Local per test, a
//! context with a settable clock and a private outbox, API Gateway v2 events for calling
//! handlers directly, and the fixture companies of `shared/cases/CASES.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_http::http::header;
use lambda_http::{Body, Request, Response};
use porchlight_shared::clock::FixedClock;
use porchlight_shared::config::Config;
use porchlight_shared::context::{AppContext, local_dynamo_client};
use porchlight_shared::domain::{Client, ClientRef, Company, Settings};
use porchlight_shared::ids::{ClientId, CompanySlug, DocumentId, random_bytes};
use porchlight_shared::mail::Mailer;
use porchlight_shared::money::Currency;
use porchlight_shared::store::Store;

pub mod back_office;
pub mod events;
pub mod fixtures;

pub use events::Event;

/// The endpoint of the DynamoDB Local that `make test` started.
pub fn dynamo_endpoint() -> String {
    std::env::var("PORCHLIGHT_TEST_DYNAMODB_ENDPOINT").expect(
        "PORCHLIGHT_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `make test`, which \
         starts DynamoDB Local and sets it",
    )
}

/// One test's world: its own table, clock and outbox.
pub struct TestStack {
    pub ctx: AppContext,
    pub clock: Arc<FixedClock>,
    pub outbox: PathBuf,
}

pub const BASE_URL: &str = "http://127.0.0.1:3000";

pub fn instant(text: &str) -> DateTime<Utc> {
    text.parse().expect("test instants are RFC 3339")
}

impl TestStack {
    /// A fresh, uniquely named table created from the template's definition.
    pub async fn new(now: &str) -> Self {
        Self::with_base_url(now, BASE_URL).await
    }

    /// Like [`TestStack::new`], with links pointing at `base_url`: for a test that serves the
    /// stack on a port of its own and follows those links in a browser.
    pub async fn with_base_url(now: &str, base_url: &str) -> Self {
        let table = format!("test-{}", hex_id());
        let client = local_dynamo_client(&dynamo_endpoint());
        porchlight_infra::table::create_table(&client, &table)
            .await
            .expect("the table is created from template.yaml");
        let outbox = std::env::temp_dir().join(format!("porchlight-outbox-{}", hex_id()));
        let clock = Arc::new(FixedClock::at(instant(now)));
        let config = Config {
            table: table.clone(),
            base_url: base_url.into(),
            mail_from: "Porchlight <portal@porchlight.test>".into(),
            outbox_dir: Some(outbox.clone()),
            // Tests measure behaviour, not the timing padding; one test sets it.
            login_answer_floor: std::time::Duration::ZERO,
            stripe: Default::default(),
        };
        let ctx = AppContext {
            store: Store::new(client, table),
            mailer: Mailer::outbox(outbox.clone()),
            clock: clock.clone(),
            config,
        };
        Self { ctx, clock, outbox }
    }

    pub fn set_now(&self, now: &str) {
        self.clock.set(instant(now));
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// Every message in the outbox, oldest first.
    pub fn mail(&self) -> Vec<String> {
        read_outbox(&self.outbox)
    }

    /// Messages that arrived after `before` was read. The fixed clock gives many messages
    /// the same timestamp, so order in the outbox cannot tell new from old.
    pub fn mail_since(&self, before: &[String]) -> Vec<String> {
        self.mail()
            .into_iter()
            .filter(|m| !before.contains(m))
            .collect()
    }

    /// Creates a company with the given time zone.
    pub async fn company(&self, slug: &str, name: &str, zone: &str) -> Company {
        let company = Company {
            slug: CompanySlug::parse(slug).expect("fixture slugs are valid"),
            name: name.into(),
            time_zone: zone.parse().expect("fixture zones are valid"),
            currency: Currency::usd(),
            notify_email: format!("office@{slug}.example"),
            id_secret: hex::encode(random_bytes::<32>()),
            settings: Settings::default(),
            created_at: self.clock_now(),
        };
        assert!(
            self.store()
                .create_company(&company)
                .await
                .expect("company stored")
        );
        company
    }

    fn clock_now(&self) -> DateTime<Utc> {
        use porchlight_shared::clock::Clock;
        self.clock.now()
    }

    /// Creates a client reachable by `email`, alone on that address.
    pub async fn client(&self, company: &Company, name: &str, email: &str) -> Client {
        let client = Client {
            id: ClientId::random(),
            name: name.into(),
            emails: vec![email.into()],
            phone: Some("(312) 555-0100".into()),
            billing_address: Some("1 Main St".into()),
            properties: vec![],
        };
        self.store()
            .save_client(&company.slug, &client)
            .await
            .expect("client stored");
        let reference = ClientRef {
            id: client.id.clone(),
            name: client.name.clone(),
        };
        self.store()
            .set_email_clients(&company.slug, email, &[reference])
            .await
            .expect("email index stored");
        client
    }

    /// Creates an API key for the company and returns it, as `porchlight api-key create`.
    pub async fn api_key(&self, company: &Company) -> String {
        use porchlight_shared::api_keys::{ApiKey, ApiKeyRecord, new_key_id};
        let key = ApiKey::generate();
        let record = ApiKeyRecord {
            key_id: new_key_id(),
            company: company.slug.clone(),
            label: "tests".into(),
            created_at: self.clock_now(),
            revoked_at: None,
        };
        self.store()
            .create_api_key(&key.hash(), &record)
            .await
            .expect("key stored");
        key.expose()
    }

    /// Calls the handler a route belongs to, as the local stack and Lambda would.
    pub async fn call(&self, event: Event) -> Reply {
        let request = event.into_request();
        let function = event_function(&request);
        let response = porchlight_infra::local::dispatch(function, &self.ctx, request)
            .await
            .expect("every route has a function");
        Reply::from(response)
    }
}

/// Which function serves a request, by the template's routes.
fn event_function(request: &Request) -> &'static str {
    let routes = porchlight_infra::template::routes();
    let (route, _) = porchlight_infra::local::match_route(
        &routes,
        request.method().as_str(),
        request.uri().path(),
    )
    .unwrap_or_else(|| {
        panic!(
            "no template route for {} {}",
            request.method(),
            request.uri()
        )
    });
    porchlight_infra::local::MOUNTED_FUNCTIONS
        .into_iter()
        .find(|name| *name == route.function)
        .expect("the route's function is mounted")
}

pub fn read_outbox(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("outbox files are text"))
        .collect()
}

/// The sign-in link in a message, if it has one.
pub fn login_link_in(message: &str) -> Option<String> {
    message
        .split_whitespace()
        .find(|word| word.starts_with(BASE_URL) && word.contains("/login/"))
        .map(|url| url.trim_start_matches(BASE_URL).to_owned())
}

fn hex_id() -> String {
    DocumentId::random().to_string()
}

/// A handler's answer, with the body as text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: String,
}

impl From<Response<Body>> for Reply {
    fn from(response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let body = match body {
            Body::Empty => String::new(),
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => String::new(),
        };
        Self {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }
}

impl Reply {
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The session cookie this reply sets, as `name=value` for a later request.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| {
                v.starts_with(porchlight_shared::auth::SESSION_COOKIE) && !v.contains("Max-Age=0")
            })
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    }

    pub fn set_cookie(&self) -> Option<&str> {
        self.header(header::SET_COOKIE)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}
