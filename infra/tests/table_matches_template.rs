//! The table `create_table` makes in a real engine (DynamoDB Local) is the table
//! `template.yaml` declares, and creating it again changes nothing.
//!
//! Needs `PORCHLIGHT_TEST_DYNAMODB_ENDPOINT` (`make test` starts an engine and sets it).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use porchlight_infra::table::{self, TableError};

const ENDPOINT_VAR: &str = "PORCHLIGHT_TEST_DYNAMODB_ENDPOINT";

/// The engine's endpoint. A missing engine is a broken setup, never a reason to pass.
fn endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ => panic!("{ENDPOINT_VAR} is not set: run the tests with `make test`, which sets it"),
    }
}

fn client(endpoint: &str) -> Client {
    porchlight_shared::context::local_dynamo_client(endpoint)
}

fn unique_table_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("porchlight-infra-test-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn created_table_matches_template() {
    let Some(endpoint) = endpoint() else { return };
    let client = client(&endpoint);
    let name = unique_table_name();

    table::create_table(&client, &name)
        .await
        .expect("create table");
    table::describe_matches_template(&client, &name)
        .await
        .expect("created table matches template.yaml");

    // An existing table (a second `make run`, a parallel test) is not an error.
    table::create_table(&client, &name)
        .await
        .expect("create table again");
    table::describe_matches_template(&client, &name)
        .await
        .expect("table still matches after the second create");

    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .expect("delete test table");
}

#[tokio::test]
async fn a_table_of_another_shape_is_reported() {
    let Some(endpoint) = endpoint() else { return };
    let client = client(&endpoint);
    let name = unique_table_name() + "-other";

    let mut other = porchlight_infra::template::table().clone();
    other.global_secondary_indexes.clear();
    // DynamoDB accepts only attributes that some key uses.
    other
        .attribute_definitions
        .retain(|a| !a.attribute_name.starts_with("GSI1"));
    other.ttl_attribute = None;
    table::create_table_from(&client, &name, &other)
        .await
        .expect("create other table");

    let err = table::describe_matches_template(&client, &name)
        .await
        .expect_err("a table without the index or TTL must not match");
    match err {
        TableError::Mismatch { differences, .. } => {
            assert!(
                differences.iter().any(|d| d.contains("GSI1")),
                "{differences:#?}"
            );
            assert!(
                differences.iter().any(|d| d.contains("TTL")),
                "{differences:#?}"
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .expect("delete test table");
}
