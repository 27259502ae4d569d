//! Storage of back-office API keys: one item found by the key's hash, and one listing
//! entry under the company, written and revoked together.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::{Entity, Item, Store, StoreError, TransactFailure, decode, encode, keys, s};
use crate::api_keys::ApiKeyRecord;
use crate::ids::{CompanySlug, TokenHash};

impl Store {
    /// Stores a new key's record under its hash and in the company's listing, together.
    pub async fn create_api_key(
        &self,
        hash: &TokenHash,
        record: &ApiKeyRecord,
    ) -> Result<(), StoreError> {
        let mut by_hash = encode(&keys::api_key(hash), Entity::ApiKey, record)?;
        by_hash.insert("company".into(), s(record.company.as_str()));
        let listing_key = keys::api_key_listing(&record.company, &record.key_id);
        let mut listing = encode(&listing_key, Entity::ApiKey, record)?;
        listing.insert("key_hash".into(), s(hash.as_str()));

        let put = |item: Item| {
            Put::builder()
                .table_name(self.table_name())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK)")
                .build()
        };
        let items = vec![
            TransactWriteItem::builder().put(put(by_hash)?).build(),
            TransactWriteItem::builder().put(put(listing)?).build(),
        ];
        self.transact("TransactWriteItems api key", items)
            .await
            .map_err(StoreError::from)
    }

    /// The record of the key whose hash this is, revoked or not.
    pub async fn api_key(&self, hash: &TokenHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get_as(&keys::api_key(hash), Entity::ApiKey).await
    }

    /// A company's keys, oldest first.
    pub async fn api_keys(&self, slug: &CompanySlug) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let partition = s(&keys::api_key_listing(slug, "").pk);
        let items = self
            .query_all(
                "table",
                "PK = :pk",
                partition,
                Some(keys::API_KEY_PREFIX),
                true,
            )
            .await?;
        let mut records: Vec<ApiKeyRecord> = items
            .into_iter()
            .map(|item| decode(Entity::ApiKey, item))
            .collect::<Result<_, _>>()?;
        records.sort_by_key(|record| record.created_at);
        Ok(records)
    }

    /// Revokes one of the company's keys; `false` if it has no such key or it was revoked.
    pub async fn revoke_api_key(
        &self,
        slug: &CompanySlug,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let listing_key = keys::api_key_listing(slug, key_id);
        let Some(listing) = self.get(&listing_key).await? else {
            return Ok(false);
        };
        let Some(AttributeValue::S(hash)) = listing.get("key_hash") else {
            return Ok(false);
        };
        let by_hash = keys::api_key_by_stored_hash(hash);
        let revoke = |key: &keys::Key| {
            Update::builder()
                .table_name(self.table_name())
                .key(keys::PK, s(&key.pk))
                .key(keys::SK, s(&key.sk))
                .update_expression("SET revoked_at = :now")
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(revoked_at)")
                .expression_attribute_values(":now", s(&now.to_rfc3339()))
                .build()
        };
        let items = vec![
            TransactWriteItem::builder()
                .update(revoke(&listing_key)?)
                .build(),
            TransactWriteItem::builder()
                .update(revoke(&by_hash)?)
                .build(),
        ];
        match self.transact("TransactWriteItems revoke key", items).await {
            Ok(()) => Ok(true),
            Err(TransactFailure::Cancelled { .. }) => Ok(false),
            Err(failure) => Err(failure.into()),
        }
    }
}
