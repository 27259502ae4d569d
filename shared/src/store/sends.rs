//! Emailings the back office asked for with an `Idempotency-Key`: the key is claimed with a
//! conditional put before any message goes out, so of two attempts with one key only one
//! sends, and a retry after the first finished is answered from what it recorded.
//!
//! A claim moves on exactly once, and only by the attempt that made it (its `attempt` id):
//! to *finished* with the answer given, to *failed* after some messages went out, or it is
//! withdrawn when none did, so that the key can be used again.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value;

use super::{Entity, Item, Store, StoreError, is_conditional, keys, n, request_error, s};
use crate::ids::CompanySlug;

const ATTEMPT: &str = "attempt";
const RESULT: &str = "result";
const FAILED_AFTER: &str = "failed_after";

/// What one `Idempotency-Key` was used for, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailSend {
    /// The path under `/api/v1/` that was called, naming the client and the document.
    pub target: String,
    /// The request body's fingerprint, so the key reused with another body is told apart.
    pub request_fingerprint: String,
    /// A random id of the attempt that made the claim; only that attempt moves it on.
    pub attempt: String,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub claimed_at: DateTime<Utc>,
    /// Set once every message went out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<SendResult>,
    /// Set when sending stopped with an error after this many messages went out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_after: Option<u32>,
}

/// What a finished emailing answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResult {
    /// How many messages went out.
    pub recipients: u32,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub sent_at: DateTime<Utc>,
    /// The JSON body of the first answer, given again to every retry.
    pub response: String,
}

impl Store {
    /// The emailing recorded under an idempotency key: one GetItem.
    pub async fn email_send(
        &self,
        slug: &CompanySlug,
        idempotency_key: &str,
    ) -> Result<Option<EmailSend>, StoreError> {
        self.get_as(&keys::email_send(slug, idempotency_key), Entity::EmailSend)
            .await
    }

    /// Claims an idempotency key for an emailing about to start; `false` if the key is
    /// taken (read it again to learn by what).
    pub async fn claim_email_send(
        &self,
        slug: &CompanySlug,
        idempotency_key: &str,
        claim: &EmailSend,
    ) -> Result<bool, StoreError> {
        let key = keys::email_send(slug, idempotency_key);
        self.put_new(&key, Entity::EmailSend, claim, Item::new())
            .await
    }

    /// Records the answer of the emailing that holds the claim.
    pub async fn finish_email_send(
        &self,
        slug: &CompanySlug,
        idempotency_key: &str,
        attempt: &str,
        result: &SendResult,
    ) -> Result<(), StoreError> {
        let value = to_attribute_value(result).map_err(|source| StoreError::Encode {
            entity: Entity::EmailSend.name(),
            source,
        })?;
        self.settle(
            slug,
            idempotency_key,
            attempt,
            (RESULT, value),
            "UpdateItem finish email send",
        )
        .await
    }

    /// Records that the emailing holding the claim stopped after `sent` messages went out,
    /// so a retry neither sends them twice nor waits for an answer that will not come.
    pub async fn fail_email_send(
        &self,
        slug: &CompanySlug,
        idempotency_key: &str,
        attempt: &str,
        sent: u32,
    ) -> Result<(), StoreError> {
        let value = n(i64::from(sent));
        self.settle(
            slug,
            idempotency_key,
            attempt,
            (FAILED_AFTER, value),
            "UpdateItem fail email send",
        )
        .await
    }

    /// Withdraws a claim under which nothing was sent, so the same key may try again.
    pub async fn release_email_send(
        &self,
        slug: &CompanySlug,
        idempotency_key: &str,
        attempt: &str,
    ) -> Result<(), StoreError> {
        let key = keys::email_send(slug, idempotency_key);
        self.count();
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .condition_expression(
                "#attempt = :attempt AND attribute_not_exists(#result) \
                 AND attribute_not_exists(#failed)",
            )
            .expression_attribute_names("#attempt", ATTEMPT)
            .expression_attribute_names("#result", RESULT)
            .expression_attribute_names("#failed", FAILED_AFTER)
            .expression_attribute_values(":attempt", s(attempt))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional(&e) => Err(StoreError::ConditionFailed {
                operation: "DeleteItem release email send",
            }),
            Err(e) => Err(request_error("DeleteItem", e)),
        }
    }

    /// Moves a claim still open and held by `attempt` to its outcome.
    async fn settle(
        &self,
        slug: &CompanySlug,
        idempotency_key: &str,
        attempt: &str,
        (attribute, value): (&str, AttributeValue),
        operation: &'static str,
    ) -> Result<(), StoreError> {
        let key = keys::email_send(slug, idempotency_key);
        self.count();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET #outcome = :outcome")
            .condition_expression(
                "#attempt = :attempt AND attribute_not_exists(#result) \
                 AND attribute_not_exists(#failed)",
            )
            .expression_attribute_names("#outcome", attribute)
            .expression_attribute_names("#attempt", ATTEMPT)
            .expression_attribute_names("#result", RESULT)
            .expression_attribute_names("#failed", FAILED_AFTER)
            .expression_attribute_values(":outcome", value)
            .expression_attribute_values(":attempt", s(attempt))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional(&e) => Err(StoreError::ConditionFailed { operation }),
            Err(e) => Err(request_error("UpdateItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_claim_stores_no_outcome() {
        let claim = EmailSend {
            target: "clients/c/proposals/p/email".into(),
            request_fingerprint: "f".into(),
            attempt: "a".into(),
            claimed_at: Utc::now(),
            result: None,
            failed_after: None,
        };
        let item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(&claim).expect("encodes");
        // The conditions above test for these attributes' absence, not for NULL.
        assert!(!item.contains_key(RESULT));
        assert!(!item.contains_key(FAILED_AFTER));
        assert!(item.contains_key(ATTEMPT));
    }
}
