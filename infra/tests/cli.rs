//! The `porchlight` binary against a real engine (DynamoDB Local): its output, its exit
//! codes, and the commands the interface contract in DESIGN.md names.
//!
//! Needs `PORCHLIGHT_TEST_DYNAMODB_ENDPOINT` (`make test` starts an engine and sets it).

use std::time::{SystemTime, UNIX_EPOCH};

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
    let client = porchlight_shared::context::local_dynamo_client(&endpoint);
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

/// The sweep previews any date, but acts only on the company's own today: applied on
/// another date it would archive, invoice and announce on days that have not come.
#[tokio::test]
async fn the_sweep_applies_only_on_today() {
    let stack = stack().await;
    let created = stack
        .run(&[
            "company", "create", "--slug", "sweep-co", "--name", "Sweep Co",
        ])
        .await;
    assert_eq!(created.code, 0, "{}", created.stderr);

    let preview = stack
        .run(&[
            "sweep",
            "--company",
            "sweep-co",
            "--on",
            "2031-06-01",
            "--json",
        ])
        .await;
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    let later = stack
        .run(&[
            "sweep",
            "--company",
            "sweep-co",
            "--on",
            "2031-06-01",
            "--apply",
        ])
        .await;
    assert_eq!(later.code, 1, "{}", later.stdout);
    assert!(
        later.stderr.contains("--apply acts for real"),
        "{}",
        later.stderr
    );
    let now = stack
        .run(&["sweep", "--company", "sweep-co", "--apply", "--json"])
        .await;
    assert_eq!(now.code, 0, "{}", now.stderr);
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
        handled_at: None,
        job_id: None,
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

/// `leads handled` marks a request once: a second run keeps the first time, the listing
/// shows the status, and an unknown id fails.
#[tokio::test]
async fn leads_are_marked_handled_once() {
    let stack = stack().await;
    let made = stack
        .run(&["company", "create", "--slug", "cli-handled", "--name", "X"])
        .await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    let slug = CompanySlug::parse("cli-handled").unwrap();
    let lead = Lead {
        id: DocumentId::random(),
        received_at: "2026-12-01T10:00:00Z".parse().unwrap(),
        name: "Dana".into(),
        email: "dana@example.com".into(),
        phone: String::new(),
        service_address: "12 Elm St".into(),
        service_wanted: "Prune the oak".into(),
        preferred_timing: String::new(),
        notes: String::new(),
        client_id: None,
        source_ip: None,
        handled_at: None,
        job_id: None,
    };
    assert!(stack.store.put_lead(&slug, &lead).await.unwrap());
    let id = lead.id.to_string();
    let handled = ["leads", "handled", "--company", "cli-handled", "--id", &id];

    let open = stack
        .run(&["leads", "list", "--company", "cli-handled"])
        .await;
    let first = stack.run(&handled).await;
    let second = stack.run(&handled).await;
    let listed = stack
        .run(&["leads", "list", "--company", "cli-handled", "--json"])
        .await;
    let table = stack
        .run(&["leads", "list", "--company", "cli-handled"])
        .await;

    assert!(open.stdout.contains("  open  "), "{}", open.stdout);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stdout.starts_with("marked service request"),
        "{}",
        first.stdout
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.contains("was already handled"),
        "{}",
        second.stdout
    );
    let stored = stack.store.lead(&slug, &lead.id).await.unwrap().unwrap();
    let at = stored.handled_at.expect("handled");
    assert_eq!(
        first.stdout.rsplit(" at ").next(),
        second.stdout.rsplit(" at ").next(),
        "the same time both runs"
    );
    let listed = listed.json();
    assert_eq!(listed[0]["status"], "handled");
    assert_eq!(
        listed[0]["handled_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        at
    );
    assert!(table.stdout.contains("  handled "), "{}", table.stdout);

    let unknown = DocumentId::random().to_string();
    let missing = stack
        .run(&[
            "leads",
            "handled",
            "--company",
            "cli-handled",
            "--id",
            &unknown,
        ])
        .await;
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("has no service request with the id"),
        "{}",
        missing.stderr
    );
    let malformed = stack
        .run(&["leads", "handled", "--company", "cli-handled", "--id", "42"])
        .await;
    assert_eq!(malformed.code, 2);
}

/// `company settings show` and `set`: a change is written once, reaches what `show` prints,
/// leaves the rest alone, and a change made meanwhile makes `set` fail and change nothing.
#[tokio::test]
async fn company_settings_are_shown_and_changed() {
    let stack = stack().await;
    let made = stack
        .run(&[
            "company",
            "create",
            "--slug",
            "cli-settings",
            "--name",
            "Oakleaf",
        ])
        .await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    let show = [
        "company",
        "settings",
        "show",
        "--company",
        "cli-settings",
        "--json",
    ];

    let before = stack.run(&show).await;
    assert_eq!(before.code, 0, "{}", before.stderr);
    assert_eq!(
        before.json(),
        serde_json::json!({
            "slug": "cli-settings",
            "name": "Oakleaf",
            "time_zone": "America/Los_Angeles",
            "currency": "USD",
            "notify_email": "",
            "paid_invoice_months": 12,
            "proposal_open_days": 30,
            "one_off_invoices": "date_rules",
            "per_visit_invoices": "date_rules",
            "hide_zero_total": false,
            "payments_enabled": false,
            "stripe_account": null,
            "minimum_payment": { "minor": 0, "currency": "USD" },
            "tax_rounding": "whole_document",
            "version": 0,
        })
    );

    let set = stack
        .run(&[
            "company",
            "settings",
            "set",
            "--company",
            "cli-settings",
            "--time-zone",
            "America/Chicago",
            "--paid-invoice-months",
            "6",
            "--one-off-invoices",
            "once_completed",
            "--hide-zero-total",
            "true",
            "--notify-email",
            "office@oakleaf.example",
        ])
        .await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert!(
        set.stdout.contains("paid_invoice_months: 12 -> 6"),
        "{}",
        set.stdout
    );
    let after = stack.run(&show).await.json();
    assert_eq!(after["time_zone"], "America/Chicago");
    assert_eq!(after["paid_invoice_months"], 6);
    assert_eq!(after["one_off_invoices"], "once_completed");
    assert_eq!(after["hide_zero_total"], true);
    assert_eq!(after["notify_email"], "office@oakleaf.example");
    assert_eq!(
        after["per_visit_invoices"], "date_rules",
        "not named: unchanged"
    );
    assert_eq!(after["version"], 1);
    let stored = stack
        .store
        .company(&CompanySlug::parse("cli-settings").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.settings.paid_invoice_months, 6);

    let human = stack
        .run(&["company", "settings", "show", "--company", "cli-settings"])
        .await;
    assert!(human.stdout.contains("version 1"), "{}", human.stdout);
    assert!(
        human.stdout.contains("one_off_invoices     once_completed"),
        "{}",
        human.stdout
    );

    // Someone changed the settings after this admin read version 0.
    let stale = stack
        .run(&[
            "company",
            "settings",
            "set",
            "--company",
            "cli-settings",
            "--payments-enabled",
            "true",
            "--if-version",
            "0",
        ])
        .await;
    assert_eq!(stale.code, 1);
    assert!(
        stale
            .stderr
            .contains("at version 1, not 0; nothing was changed"),
        "{}",
        stale.stderr
    );
    assert_eq!(stack.run(&show).await.json()["payments_enabled"], false);

    let no_change = stack
        .run(&["company", "settings", "set", "--company", "cli-settings"])
        .await;
    assert_eq!(no_change.code, 2, "naming no setting is a usage error");
    let bad = stack
        .run(&[
            "company",
            "settings",
            "set",
            "--company",
            "cli-settings",
            "--per-visit-invoices",
            "whenever",
        ])
        .await;
    assert_eq!(bad.code, 2);
    let unknown = stack
        .run(&["company", "settings", "show", "--company", "nobody"])
        .await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("`nobody`"), "{}", unknown.stderr);
}

/// Runs of `set` racing each other never lose a change silently: each run either writes
/// one new version or fails with exit code 1 saying the settings changed meanwhile.
#[tokio::test]
async fn concurrent_settings_changes_never_overwrite_each_other() {
    let stack = stack().await;
    let made = stack
        .run(&["company", "create", "--slug", "cli-race", "--name", "X"])
        .await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    let results = {
        let (a, b, c, d, e) = tokio::join!(
            set_open_days(&stack, "10"),
            set_open_days(&stack, "11"),
            set_open_days(&stack, "12"),
            set_open_days(&stack, "13"),
            set_open_days(&stack, "14"),
        );
        [a, b, c, d, e]
    };

    let mut written = 0;
    for run in &results {
        match run.code {
            0 => written += 1,
            1 => assert!(
                run.stderr
                    .contains("were changed by someone else while this command ran"),
                "{}",
                run.stderr
            ),
            other => panic!("exit code {other}: {}", run.stderr),
        }
    }
    assert!(written >= 1);
    let shown = stack
        .run(&[
            "company",
            "settings",
            "show",
            "--company",
            "cli-race",
            "--json",
        ])
        .await
        .json();
    assert_eq!(
        shown["version"], written,
        "one version per run that reported success"
    );
}

async fn set_open_days(stack: &Stack, days: &str) -> Run {
    stack
        .run(&[
            "company",
            "settings",
            "set",
            "--company",
            "cli-race",
            "--proposal-open-days",
            days,
        ])
        .await
}
