//! Optimistic concurrency for records the back office edits: each such item carries a
//! `version` attribute, 1 when created and one more on every change. A write names the
//! version it read; if the item moved on meanwhile, the write changes nothing and says so.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use aws_sdk_dynamodb::operation::put_item::PutItemError;

use super::{Entity, Item, Key, Store, StoreError, decode, encode, is_conditional, request_error};

pub const VERSION: &str = "version";

/// A record and the version it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub record: T,
    /// 0 for items written before versions existed (the QuickBooks import).
    pub version: u64,
}

/// A write refused because the item is no longer at the version the caller read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stale {
    /// The version now stored, if the item still exists.
    pub current: Option<u64>,
}

fn version_of(item: &Item) -> u64 {
    match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

impl Store {
    pub async fn get_versioned<T: DeserializeOwned>(
        &self,
        key: &Key,
        entity: Entity,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        let Some(item) = self.get(key).await? else {
            return Ok(None);
        };
        let version = version_of(&item);
        Ok(Some(Versioned {
            record: decode(entity, item)?,
            version,
        }))
    }

    /// Writes a new record at version 1; `false` if the key is taken.
    pub async fn create_versioned<T: Serialize>(
        &self,
        key: &Key,
        entity: Entity,
        record: &T,
        mut extra: Item,
    ) -> Result<bool, StoreError> {
        extra.insert(VERSION.into(), AttributeValue::N("1".into()));
        self.put_new(key, entity, record, extra).await
    }

    /// Replaces a record if it is still at `expected`; returns the new version.
    pub async fn replace_versioned<T: Serialize>(
        &self,
        key: &Key,
        entity: Entity,
        record: &T,
        expected: u64,
        extra: Item,
    ) -> Result<Result<u64, Stale>, StoreError> {
        let mut item = encode(key, entity, record)?;
        item.extend(extra);
        let next = expected + 1;
        item.insert(VERSION.into(), AttributeValue::N(next.to_string()));
        let condition = if expected == 0 {
            "attribute_exists(PK) AND attribute_not_exists(version)"
        } else {
            "version = :expected"
        };
        self.count();
        let mut put = self
            .dynamo()
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            );
        if expected != 0 {
            put = put
                .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()));
        }
        match put.send().await {
            Ok(_) => Ok(Ok(next)),
            Err(error) if is_conditional(&error) => {
                let current = error.as_service_error().and_then(|e| match e {
                    PutItemError::ConditionalCheckFailedException(c) => {
                        c.item.as_ref().map(version_of)
                    }
                    _ => None,
                });
                Ok(Err(Stale { current }))
            }
            Err(error) => Err(request_error("PutItem", error)),
        }
    }
}
