//! The `porchlight` binary against a real engine (DynamoDB Local): its output, its exit
//! codes, and the commands the interface contract in DESIGN.md names.
//!
//! Needs `PORCHLIGHT_TEST_DYNAMODB_ENDPOINT` (`make test` starts an engine and sets it).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use porchlight_infra::table;
use porchlight_shared::domain::Lead;
use porchlight_shared::ids::{CompanySlug, DocumentId};
use porchlight_shared::store::Store;
use serde_json::Value;
use tokio::process::Command;

const ENDPOINT_VAR: &str = "PORCHLIGHT_TEST_DYNAMODB_ENDPOINT";
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/qbo-sample");

fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR)
        .ok()
        .filter(|endpoint| !endpoint.is_empty())
        .unwrap_or_else(|| {
            panic!("{ENDPOINT_VAR} is not set: `make test` starts DynamoDB Local and sets it")
        })
}

/// A table of its own, and the environment that points the binary at it.
struct Stack {
    store: Store,
    table: String,
    endpoint: String,
    outbox: std::path::PathBuf,
}

async fn stack() -> Stack {
    let endpoint = endpoint();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "static"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let client = Client::from_conf(config);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let table = format!("cli-{nanos}");
    table::create_table(&client, &table)
        .await
        .expect("table is created");
    let outbox = std::env::temp_dir().join(format!("porchlight-cli-outbox-{nanos}"));
    Stack {
        store: Store::new(client, table.clone()),
        table,
        endpoint,
        outbox,
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

impl Stack {
    /// Runs the binary with `--local` and only the variables the test chooses, so the
    /// developer's own AWS settings can never leak in.
    async fn run(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_porchlight"))
            .arg("--local")
            .args(args)
            .env_clear()
            .env("PORCHLIGHT_TABLE", &self.table)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &self.endpoint)
            .env("PORCHLIGHT_PORT", "3999")
            .env("PORCHLIGHT_OUTBOX_DIR", &self.outbox)
            .output()
            .await
            .expect("the binary runs");
        Run {
            code: output.status.code().expect("exited normally"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

#[tokio::test]
async fn companies_are_created_once_and_listed() {
    let stack = stack().await;

    let created = stack
        .run(&[
            "company",
            "create",
            "--slug",
            "cli-co",
            "--name",
            "Craig's",
            "--currency",
            "usd",
        ])
        .await;
    let again = stack
        .run(&["company", "create", "--slug", "cli-co", "--name", "Other"])
        .await;
    let listed = stack.run(&["company", "list", "--json"]).await;

    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(
        created.stdout.contains("http://127.0.0.1:3999/p/cli-co"),
        "{}",
        created.stdout
    );
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("`cli-co` already exists"),
        "{}",
        again.stderr
    );
    assert_eq!(
        listed.json(),
        serde_json::json!([{
            "slug": "cli-co",
            "name": "Craig's",
            "time_zone": "America/Los_Angeles",
            "currency": "USD",
            "portal_link": "http://127.0.0.1:3999/p/cli-co",
        }])
    );
}

#[tokio::test]
async fn import_is_idempotent_and_portal_show_follows_the_contract() {
    let stack = stack().await;
    let create = [
        "company", "create", "--slug", "cli-qbo", "--name", "Craig's",
    ];
    assert_eq!(stack.run(&create).await.code, 0);

    let import = ["import", "qbo", SAMPLE, "--company", "cli-qbo", "--json"];
    let first = stack.run(&import).await;
    let second = stack.run(&import).await;
    let shown = stack
        .run(&[
            "portal",
            "show",
            "--company",
            "cli-qbo",
            "--email",
            "qbwebsamplecompany@example.com",
            "--on",
            "2026-12-04",
            "--json",
        ])
        .await;
    let human = stack
        .run(&[
            "portal",
            "show",
            "--company",
            "cli-qbo",
            "--email",
            "birds@example.com",
            "--on",
            "2026-12-04",
        ])
        .await;

    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.json()["invoices"]["created"], 33);
    assert_eq!(
        second.json()["invoices"],
        serde_json::json!({
            "created": 0, "updated": 0, "unchanged": 33
        })
    );
    assert_eq!(second.json()["clients"]["unchanged"], 26);

    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let views = shown.json();
    let names: Vec<&str> = views
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v["client"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Kookies by Kathy", "Red Rock Diner"]);
    let diner = &views[1];
    assert_eq!(diner["company"]["slug"], "cli-qbo");
    assert_eq!(diner["today"], "2026-12-04");
    let invoice = &diner["invoices"][0];
    for field in ["id", "number", "invoice_date", "status", "total", "balance"] {
        assert!(
            invoice.get(field).is_some(),
            "invoice has {field}: {invoice}"
        );
    }
    assert_eq!(invoice["total"]["currency"], "USD");
    let hidden = &diner["hidden"][0];
    assert_eq!(hidden["kind"], "proposal");
    assert_eq!(hidden["reason"], "accepted_by_staff");

    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(
        human.stdout.contains("Amy's Bird Sanctuary"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("invoice 1001  paid_expired"),
        "{}",
        human.stdout
    );
}

#[tokio::test]
async fn unknown_names_exit_1_and_bad_usage_exits_2() {
    let stack = stack().await;
    assert_eq!(
        stack
            .run(&["company", "create", "--slug", "cli-x", "--name", "X"])
            .await
            .code,
        0
    );

    let no_company = stack
        .run(&["import", "qbo", SAMPLE, "--company", "nobody"])
        .await;
    let no_email = stack
        .run(&[
            "portal",
            "show",
            "--company",
            "cli-x",
            "--email",
            "who@example.com",
        ])
        .await;
    let no_dir = stack
        .run(&["import", "qbo", "/nonexistent/qbo", "--company", "cli-x"])
        .await;
    let bad_date = stack
        .run(&[
            "portal",
            "show",
            "--company",
            "cli-x",
            "--email",
            "a@b.co",
            "--on",
            "12/04",
        ])
        .await;

    assert_eq!(no_company.code, 1);
    assert!(
        no_company
            .stderr
            .contains("no company has the slug `nobody`"),
        "{}",
        no_company.stderr
    );
    assert_eq!(no_email.code, 1);
    assert!(
        no_email.stderr.contains("`who@example.com`"),
        "{}",
        no_email.stderr
    );
    assert_eq!(no_dir.code, 1);
    assert!(
        no_dir.stderr.contains("customers.json"),
        "{}",
        no_dir.stderr
    );
    assert_eq!(bad_date.code, 2);
}

#[tokio::test]
async fn without_configuration_the_message_names_what_is_missing() {
    let output = Command::new(env!("CARGO_BIN_EXE_porchlight"))
        .args(["company", "list"])
        .env_clear()
        .output()
        .await
        .expect("the binary runs");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("is not set; pass --local"), "{stderr}");
}

#[tokio::test]
async fn leads_export_as_csv_with_formulas_neutralised() {
    let stack = stack().await;
    assert_eq!(
        stack
            .run(&["company", "create", "--slug", "cli-leads", "--name", "X"])
            .await
            .code,
        0
    );
    let slug = CompanySlug::parse("cli-leads").unwrap();
    let lead = |name: &str, at: &str| Lead {
        id: DocumentId::random(),
        received_at: at.parse().unwrap(),
        name: name.into(),
        email: "dana@example.com".into(),
        phone: "650 555 0100".into(),
        service_address: "12 Elm St".into(),
        service_wanted: "@SUM(1+1)".into(),
        preferred_timing: "mornings".into(),
        notes: String::new(),
        client_id: None,
        source_ip: None,
    };
    let older = lead("Dana", "2026-12-01T10:00:00Z");
    let newer = lead(
        r#"=HYPERLINK("http://example.invalid/x","Open")"#,
        "2026-12-03T10:00:00Z",
    );
    assert!(stack.store.put_lead(&slug, &older).await.unwrap());
    assert!(stack.store.put_lead(&slug, &newer).await.unwrap());

    let csv = stack
        .run(&["leads", "list", "--company", "cli-leads", "--csv"])
        .await;
    let json = stack
        .run(&["leads", "list", "--company", "cli-leads", "--json"])
        .await;

    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let lines: Vec<&str> = csv.stdout.split("\r\n").collect();
    assert!(
        lines[0].starts_with("\"received_at\",\"name\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(",\"'=HYPERLINK(\"\"http://example.invalid/x\"\""),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(",\"'@SUM(1+1)\","), "{}", lines[1]);
    assert!(
        lines[2].contains(",\"Dana\","),
        "newest first: {}",
        lines[2]
    );
    let listed = json.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [newer.name.as_str(), "Dana"]);
}

/// API keys: created once and shown once, stored only as a hash, listed without the key,
/// and revoked by id; a key of another company cannot be revoked through this one.
#[tokio::test]
async fn api_keys_are_created_listed_and_revoked() {
    let stack = stack().await;
    for slug in ["keys-a", "keys-b"] {
        let made = stack
            .run(&["company", "create", "--slug", slug, "--name", slug])
            .await;
        assert_eq!(made.code, 0, "{}", made.stderr);
    }

    let created = stack
        .run(&[
            "api-key",
            "create",
            "--company",
            "keys-a",
            "--label",
            "Field app",
            "--json",
        ])
        .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let created = created.json();
    let key = created["key"]
        .as_str()
        .expect("the key is printed")
        .to_owned();
    let id = created["key_id"].as_str().expect("an id").to_owned();
    assert!(key.starts_with("plk_"));

    let listed = stack
        .run(&["api-key", "list", "--company", "keys-a", "--json"])
        .await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        !listed.stdout.contains(&key[4..]),
        "listings never show the key"
    );
    assert_eq!(listed.json()[0]["label"], "Field app");

    let parsed = porchlight_shared::api_keys::ApiKey::parse(&key).expect("a valid key");
    let record = stack.store.api_key(&parsed.hash()).await.expect("read");
    assert_eq!(
        record.map(|r| r.company.to_string()),
        Some("keys-a".to_owned())
    );

    let wrong = stack
        .run(&["api-key", "revoke", "--company", "keys-b", "--id", &id])
        .await;
    assert_eq!(wrong.code, 1, "another company's key is not found");
    let revoked = stack
        .run(&["api-key", "revoke", "--company", "keys-a", "--id", &id])
        .await;
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let twice = stack
        .run(&["api-key", "revoke", "--company", "keys-a", "--id", &id])
        .await;
    assert_eq!(twice.code, 1);
    let record = stack
        .store
        .api_key(&parsed.hash())
        .await
        .expect("read")
        .expect("kept");
    assert!(!record.is_active());

    let unknown = stack
        .run(&["api-key", "create", "--company", "nobody", "--label", "x"])
        .await;
    assert_eq!(unknown.code, 1);
}
