//! Importing the QuickBooks sample into a real engine (DynamoDB Local): what the first
//! import writes, that a second one writes nothing, and what the portal then shows.
//!
//! Needs `PORCHLIGHT_TEST_DYNAMODB_ENDPOINT` (`make test` starts an engine and sets it).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use porchlight_infra::qbo::{self, Counts, ImportSummary};
use porchlight_infra::table;
use porchlight_shared::domain::{Company, Settings};
use porchlight_shared::ids::{ClientId, CompanySlug, DocumentId, random_bytes};
use porchlight_shared::money::Currency;
use porchlight_shared::portal::{DocumentKind, PortalDay};
use porchlight_shared::rules::{ProposalStatus, Reason};
use porchlight_shared::store::{ClientPortal, Store};

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

fn client(endpoint: &str) -> Client {
    porchlight_shared::context::local_dynamo_client(endpoint)
}

async fn fresh_store() -> Store {
    let client = client(&endpoint());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let name = format!("qbo-import-{nanos}");
    table::create_table(&client, &name)
        .await
        .expect("table is created");
    Store::new(client, name)
}

fn craigs() -> Company {
    let secret: String = random_bytes::<32>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Company {
        slug: CompanySlug::parse("craigs-landscaping").unwrap(),
        name: "Craig's Design and Landscaping Services".into(),
        time_zone: chrono_tz::America::Los_Angeles,
        currency: Currency::usd(),
        notify_email: "craig@example.com".into(),
        id_secret: secret,
        settings: Settings::default(),
        created_at: "2026-12-01T17:00:00Z".parse().unwrap(),
    }
}

fn created(n: u32) -> Counts {
    Counts {
        created: n,
        updated: 0,
        unchanged: 0,
    }
}

fn unchanged(n: u32) -> Counts {
    Counts {
        created: 0,
        updated: 0,
        unchanged: n,
    }
}

/// Per kind: clients, emails, jobs, proposals, acceptances, invoices, payments.
fn counts(summary: &ImportSummary) -> [Counts; 7] {
    [
        summary.clients,
        summary.emails,
        summary.jobs,
        summary.proposals,
        summary.acceptances,
        summary.invoices,
        summary.payments,
    ]
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

async fn portal_of(store: &Store, company: &Company, customer: &str) -> ClientPortal {
    let id = ClientId::derived(&company.id_secret, &format!("qbo:customer:{customer}"));
    store
        .client_portal(&company.slug, &id)
        .await
        .unwrap()
        .expect("client is on record")
}

async fn reach(store: &Store, company: &Company, email: &str) -> Vec<String> {
    let entry = store
        .email_entry(&company.slug, email)
        .await
        .unwrap()
        .expect("email indexed");
    entry.clients.into_iter().map(|c| c.name).collect()
}

#[tokio::test]
async fn the_sample_imports_once_and_the_portal_follows_the_rules() {
    let store = fresh_store().await;
    let company = craigs();
    assert!(store.create_company(&company).await.unwrap());
    let dir = Path::new(SAMPLE);

    let first = qbo::import_dir(&store, &company, dir)
        .await
        .expect("first import");
    let second = qbo::import_dir(&store, &company, dir)
        .await
        .expect("second import");

    // 29 customers, three of them sub-customers; 26 distinct addresses.
    let expected = [26, 26, 5, 5, 4, 33, 13];
    assert_eq!(counts(&first), expected.map(created), "{first}");
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    assert!(first.notes.is_empty(), "{:?}", first.notes);
    assert_eq!(counts(&second), expected.map(unchanged), "{second}");
    assert!(!second.changed_anything());

    assert_eq!(
        reach(&store, &company, "qbwebsamplecompany@example.com").await,
        ["Kookies by Kathy", "Red Rock Diner"]
    );
    assert_eq!(
        reach(&store, &company, "SPORTING_GOODS@example.com").await,
        ["Freeman Sporting Goods"]
    );
    let freeman = portal_of(&store, &company, "7").await;
    let properties: Vec<&str> = freeman
        .client
        .properties
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(properties, ["0969 Ocean View Road", "55 Twin Lane"]);
}

#[tokio::test]
async fn the_portal_shows_the_sample_as_the_rules_say() {
    let store = fresh_store().await;
    let company = craigs();
    assert!(store.create_company(&company).await.unwrap());
    qbo::import_dir(&store, &company, Path::new(SAMPLE))
        .await
        .expect("import");
    let on = day("2026-12-04");

    // Amy's unpaid invoices stay however old; her paid ones left a year after their date.
    let amy = portal_of(&store, &company, "1").await;
    let amy_day = PortalDay::new(&company, &amy, on);
    let mut shown: Vec<String> = amy_day
        .home()
        .invoices
        .into_iter()
        .map(|i| i.number)
        .collect();
    shown.sort();
    assert_eq!(shown, ["1021", "1069", "1070"]);
    let hidden: Vec<(String, Reason)> = amy_day
        .hidden()
        .into_iter()
        .map(|h| (h.number, h.decision.reason))
        .collect();
    assert_eq!(
        hidden,
        [
            ("1001".into(), Reason::PaidExpired),
            ("1025".into(), Reason::PaidExpired)
        ]
    );

    // The voided invoice is on record, and never shown.
    let freeman = portal_of(&store, &company, "7").await;
    assert!(
        freeman
            .invoices
            .iter()
            .any(|i| i.number == "1036" && i.voided)
    );
    let freeman_hidden = PortalDay::new(&company, &freeman, on).hidden();
    let voided = freeman_hidden
        .iter()
        .find(|h| h.number == "1036")
        .expect("1036 is hidden");
    assert_eq!(voided.decision.reason, Reason::Voided);

    // The pending estimate is shown, past its valid-until day.
    let cool_cars = portal_of(&store, &company, "3").await;
    let proposals = PortalDay::new(&company, &cool_cars, on).home().proposals;
    let pending = DocumentId::derived(&company.id_secret, "qbo:estimate:177");
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].id, pending);
    assert_eq!(proposals[0].status, ProposalStatus::Expired);

    // Closed estimates were accepted in QuickBooks, so they left the portal.
    for customer in ["10", "18", "20", "24"] {
        let portal = portal_of(&store, &company, customer).await;
        let portal_day = PortalDay::new(&company, &portal, on);
        assert!(
            portal_day.home().proposals.is_empty(),
            "customer {customer}"
        );
        let hidden: Vec<Reason> = portal_day
            .hidden()
            .into_iter()
            .filter(|h| h.kind == DocumentKind::Proposal)
            .map(|h| h.decision.reason)
            .collect();
        assert_eq!(hidden, [Reason::AcceptedByStaff], "customer {customer}");
    }
}
