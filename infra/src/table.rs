//! Creating the Porchlight table from `template.yaml`, and checking a live table
//! against it.
//!
//! The local stack and the tests call these against DynamoDB Local; deploying goes
//! through CloudFormation instead. Building CreateTable from the parsed template (not
//! from a second hand-written definition) is what keeps the local table and the
//! deployed one the same.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::describe_time_to_live::DescribeTimeToLiveError;
use aws_sdk_dynamodb::operation::update_time_to_live::UpdateTimeToLiveError;
use aws_sdk_dynamodb::types as sdk;

use crate::template::{self, KeySchemaElement, TableDefinition};

/// How long a new table may take to become ACTIVE. DynamoDB Local is immediate; the real
/// service usually takes seconds, rarely a minute or two.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What went wrong creating or checking a table. SDK errors are boxed because they are
/// large and would make every `Result` here as large.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("CreateTable {table} failed")]
    Create {
        table: String,
        #[source]
        source: Box<SdkError<CreateTableError>>,
    },
    #[error("DescribeTable {table} failed")]
    Describe {
        table: String,
        #[source]
        source: Box<SdkError<DescribeTableError>>,
    },
    #[error("DescribeTimeToLive {table} failed")]
    DescribeTtl {
        table: String,
        #[source]
        source: Box<SdkError<DescribeTimeToLiveError>>,
    },
    #[error("UpdateTimeToLive {table} failed")]
    UpdateTtl {
        table: String,
        #[source]
        source: Box<SdkError<UpdateTimeToLiveError>>,
    },
    #[error("could not build the {table} request from the template")]
    Build {
        table: String,
        #[source]
        source: BuildError,
    },
    #[error("table {table} was not ACTIVE after {waited:?} (last status: {last_status})")]
    NotActive {
        table: String,
        waited: Duration,
        last_status: String,
    },
    #[error("table {table} has TTL on {existing:?}; the template wants it on {wanted:?}")]
    TtlConflict {
        table: String,
        existing: String,
        wanted: String,
    },
    #[error("table {table} differs from template.yaml: {}", differences.join("; "))]
    Mismatch {
        table: String,
        differences: Vec<String>,
    },
}

/// Creates `table_name` as `template.yaml` declares the Porchlight table, enables its TTL,
/// and returns once the table and its indexes are ACTIVE. A table that already exists
/// is left as it is (its schema is not compared: use [`describe_matches_template`]).
pub async fn create_table(client: &Client, table_name: &str) -> Result<(), TableError> {
    create_table_from(client, table_name, template::table()).await
}

/// [`create_table`] with an explicit definition.
pub async fn create_table_from(
    client: &Client,
    table_name: &str,
    definition: &TableDefinition,
) -> Result<(), TableError> {
    let build = |source| TableError::Build {
        table: table_name.to_owned(),
        source,
    };
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(sdk::BillingMode::from(definition.billing_mode.as_str()))
        .set_key_schema(Some(key_schema(&definition.key_schema).map_err(build)?));
    for attribute in &definition.attribute_definitions {
        request = request.attribute_definitions(
            sdk::AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(sdk::ScalarAttributeType::from(
                    attribute.attribute_type.as_str(),
                ))
                .build()
                .map_err(build)?,
        );
    }
    for index in &definition.global_secondary_indexes {
        let projection = sdk::Projection::builder()
            .projection_type(sdk::ProjectionType::from(
                index.projection.projection_type.as_str(),
            ))
            .set_non_key_attributes(
                (!index.projection.non_key_attributes.is_empty())
                    .then(|| index.projection.non_key_attributes.clone()),
            )
            .build();
        request = request.global_secondary_indexes(
            sdk::GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema).map_err(build)?))
                .projection(projection)
                .build()
                .map_err(build)?,
        );
    }

    match request.send().await {
        Ok(_) => {}
        // Someone (an earlier run, a parallel test) created it first: that is the state
        // we wanted, so carry on and wait for it like a table we created.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(CreateTableError::is_resource_in_use_exception) => {}
        Err(err) => {
            return Err(TableError::Create {
                table: table_name.to_owned(),
                source: Box::new(err),
            });
        }
    }

    wait_until_active(client, table_name).await?;
    if let Some(attribute) = &definition.ttl_attribute {
        enable_ttl(client, table_name, attribute).await?;
    }
    Ok(())
}

fn key_schema(keys: &[KeySchemaElement]) -> Result<Vec<sdk::KeySchemaElement>, BuildError> {
    keys.iter()
        .map(|key| {
            sdk::KeySchemaElement::builder()
                .attribute_name(&key.attribute_name)
                .key_type(sdk::KeyType::from(key.key_type.as_str()))
                .build()
        })
        .collect()
}

async fn describe(client: &Client, table_name: &str) -> Result<sdk::TableDescription, TableError> {
    let output = client
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .map_err(|source| TableError::Describe {
            table: table_name.to_owned(),
            source: Box::new(source),
        })?;
    // DescribeTable always carries the table on success; an empty description would
    // only fail the checks below, which say what is missing.
    Ok(output
        .table
        .unwrap_or_else(|| sdk::TableDescription::builder().build()))
}

async fn wait_until_active(client: &Client, table_name: &str) -> Result<(), TableError> {
    let started = tokio::time::Instant::now();
    loop {
        let table = describe(client, table_name).await?;
        let status = table.table_status().cloned();
        // Queries on an index that is still CREATING fail, so the indexes count too.
        let indexes_ready = table
            .global_secondary_indexes()
            .iter()
            .all(|index| index.index_status() == Some(&sdk::IndexStatus::Active));
        if status == Some(sdk::TableStatus::Active) && indexes_ready {
            return Ok(());
        }
        if started.elapsed() >= ACTIVE_TIMEOUT {
            return Err(TableError::NotActive {
                table: table_name.to_owned(),
                waited: started.elapsed(),
                last_status: status.map_or_else(|| "none".to_owned(), |s| s.as_str().to_owned()),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn describe_ttl(
    client: &Client,
    table_name: &str,
) -> Result<Option<sdk::TimeToLiveDescription>, TableError> {
    let output = client
        .describe_time_to_live()
        .table_name(table_name)
        .send()
        .await
        .map_err(|source| TableError::DescribeTtl {
            table: table_name.to_owned(),
            source: Box::new(source),
        })?;
    Ok(output.time_to_live_description)
}

fn ttl_is_on(ttl: &sdk::TimeToLiveDescription) -> bool {
    matches!(
        ttl.time_to_live_status(),
        Some(sdk::TimeToLiveStatus::Enabled | sdk::TimeToLiveStatus::Enabling)
    )
}

async fn enable_ttl(client: &Client, table_name: &str, attribute: &str) -> Result<(), TableError> {
    // UpdateTimeToLive rejects enabling TTL twice, so an existing table needs a look first.
    if let Some(current) = describe_ttl(client, table_name).await?
        && ttl_is_on(&current)
    {
        let existing = current.attribute_name().unwrap_or_default();
        if existing == attribute {
            return Ok(());
        }
        return Err(TableError::TtlConflict {
            table: table_name.to_owned(),
            existing: existing.to_owned(),
            wanted: attribute.to_owned(),
        });
    }
    let specification = sdk::TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|source| TableError::Build {
            table: table_name.to_owned(),
            source,
        })?;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|source| TableError::UpdateTtl {
            table: table_name.to_owned(),
            source: Box::new(source),
        })?;
    Ok(())
}

/// Describes `table_name` and fails with [`TableError::Mismatch`], listing every
/// difference, unless its keys, attribute types, indexes, billing mode and TTL are those
/// that `template.yaml` declares.
pub async fn describe_matches_template(
    client: &Client,
    table_name: &str,
) -> Result<(), TableError> {
    describe_matches(client, table_name, template::table()).await
}

/// [`describe_matches_template`] with an explicit definition.
pub async fn describe_matches(
    client: &Client,
    table_name: &str,
    definition: &TableDefinition,
) -> Result<(), TableError> {
    let table = describe(client, table_name).await?;
    let ttl = describe_ttl(client, table_name).await?;
    let differences = differences(definition, &table, ttl.as_ref());
    if differences.is_empty() {
        Ok(())
    } else {
        Err(TableError::Mismatch {
            table: table_name.to_owned(),
            differences,
        })
    }
}

fn template_keys(keys: &[KeySchemaElement]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| (k.attribute_name.clone(), k.key_type.as_str().to_owned()))
        .collect()
}

fn live_keys(keys: &[sdk::KeySchemaElement]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect()
}

/// Projection as (type, sorted non-key attributes), so attribute order does not count.
type ProjectionShape = (String, Vec<String>);

fn live_projection(projection: Option<&sdk::Projection>) -> ProjectionShape {
    let kind = projection
        .and_then(|p| p.projection_type())
        .map_or_else(|| "none".to_owned(), |t| t.as_str().to_owned());
    let mut attributes = projection
        .map(|p| p.non_key_attributes().to_vec())
        .unwrap_or_default();
    attributes.sort();
    (kind, attributes)
}

/// Every way `table` (and its TTL description) departs from `definition`, in words; empty
/// when they agree. Pure, so it is tested without an engine.
pub fn differences(
    definition: &TableDefinition,
    table: &sdk::TableDescription,
    ttl: Option<&sdk::TimeToLiveDescription>,
) -> Vec<String> {
    let mut found = Vec::new();

    let want = template_keys(&definition.key_schema);
    let have = live_keys(table.key_schema());
    if want != have {
        found.push(format!("key schema is {have:?}, template has {want:?}"));
    }

    let want: BTreeMap<&str, &str> = definition
        .attribute_definitions
        .iter()
        .map(|a| (a.attribute_name.as_str(), a.attribute_type.as_str()))
        .collect();
    let have: BTreeMap<&str, &str> = table
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name(), a.attribute_type().as_str()))
        .collect();
    if want != have {
        found.push(format!(
            "attribute definitions are {have:?}, template has {want:?}"
        ));
    }

    let mut live_indexes: BTreeMap<&str, &sdk::GlobalSecondaryIndexDescription> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| (i.index_name().unwrap_or_default(), i))
        .collect();
    for index in &definition.global_secondary_indexes {
        let Some(live) = live_indexes.remove(index.index_name.as_str()) else {
            found.push(format!("index {} is missing", index.index_name));
            continue;
        };
        let want = template_keys(&index.key_schema);
        let have = live_keys(live.key_schema());
        if want != have {
            found.push(format!(
                "index {} key schema is {have:?}, template has {want:?}",
                index.index_name
            ));
        }
        let mut want_attributes = index.projection.non_key_attributes.clone();
        want_attributes.sort();
        let want = (
            index.projection.projection_type.as_str().to_owned(),
            want_attributes,
        );
        let have = live_projection(live.projection());
        if want != have {
            found.push(format!(
                "index {} projection is {have:?}, template has {want:?}",
                index.index_name
            ));
        }
    }
    for extra in live_indexes.keys() {
        found.push(format!("index {extra} is not in the template"));
    }

    // A table created as PAY_PER_REQUEST reports a billing mode summary; one without it
    // was created with provisioned capacity.
    let have = table
        .billing_mode_summary()
        .and_then(|s| s.billing_mode())
        .map_or("PROVISIONED", |m| m.as_str());
    let want = definition.billing_mode.as_str();
    if have != want {
        found.push(format!("billing mode is {have}, template has {want}"));
    }

    let have = ttl
        .filter(|t| ttl_is_on(t))
        .and_then(|t| t.attribute_name());
    let want = definition.ttl_attribute.as_deref();
    if have != want {
        found.push(format!("TTL attribute is {have:?}, template has {want:?}"));
    }

    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What DescribeTable would say of a table made exactly from the template.
    fn described_like_template() -> (sdk::TableDescription, sdk::TimeToLiveDescription) {
        let definition = template::table();
        let keys = |k: &[KeySchemaElement]| key_schema(k).expect("test keys build");
        let mut table = sdk::TableDescription::builder()
            .set_key_schema(Some(keys(&definition.key_schema)))
            .billing_mode_summary(
                sdk::BillingModeSummary::builder()
                    .billing_mode(sdk::BillingMode::PayPerRequest)
                    .build(),
            );
        for a in &definition.attribute_definitions {
            table = table.attribute_definitions(
                sdk::AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(sdk::ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .expect("test attribute builds"),
            );
        }
        for i in &definition.global_secondary_indexes {
            table = table.global_secondary_indexes(
                sdk::GlobalSecondaryIndexDescription::builder()
                    .index_name(&i.index_name)
                    .set_key_schema(Some(keys(&i.key_schema)))
                    .projection(
                        sdk::Projection::builder()
                            .projection_type(sdk::ProjectionType::from(
                                i.projection.projection_type.as_str(),
                            ))
                            .build(),
                    )
                    .build(),
            );
        }
        let ttl = sdk::TimeToLiveDescription::builder()
            .attribute_name(definition.ttl_attribute.as_deref().unwrap_or_default())
            .time_to_live_status(sdk::TimeToLiveStatus::Enabled)
            .build();
        (table.build(), ttl)
    }

    #[test]
    fn a_table_made_from_the_template_has_no_differences() {
        let (table, ttl) = described_like_template();
        assert_eq!(
            differences(template::table(), &table, Some(&ttl)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_kind_of_drift_is_reported() {
        let (table, _) = described_like_template();
        let mut definition = template::table().clone();
        definition.key_schema.reverse();
        definition.attribute_definitions[0].attribute_type = template::AttributeType::N;
        definition.global_secondary_indexes[0]
            .projection
            .projection_type = template::ProjectionType::KeysOnly;
        let found = differences(&definition, &table, None);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].starts_with("key schema"), "{found:#?}");
        assert!(found[1].starts_with("attribute definitions"), "{found:#?}");
        assert!(found[2].starts_with("index GSI1 projection"), "{found:#?}");
        assert!(found[3].starts_with("TTL attribute"), "{found:#?}");
    }

    #[test]
    fn missing_and_extra_indexes_are_reported() {
        let (table, ttl) = described_like_template();
        let mut definition = template::table().clone();
        definition.global_secondary_indexes[0].index_name = "GSI9".to_owned();
        let found = differences(&definition, &table, Some(&ttl));
        assert_eq!(
            found,
            ["index GSI9 is missing", "index GSI1 is not in the template"],
            "{found:#?}"
        );
    }

    #[test]
    fn disabled_ttl_is_not_a_match() {
        let (table, _) = described_like_template();
        let ttl = sdk::TimeToLiveDescription::builder()
            .attribute_name("ttl")
            .time_to_live_status(sdk::TimeToLiveStatus::Disabled)
            .build();
        assert_eq!(differences(template::table(), &table, Some(&ttl)).len(), 1);
    }
}
