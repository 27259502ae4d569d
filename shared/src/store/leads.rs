//! Storage of service requests: one item per request in the company's leads partition, keyed
//! by the request's id, so staff act on one with a GetItem and a single conditional write,
//! and turning one into a client is one transaction.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value;

use super::versioned::VERSION;
use super::{
    Entity, Item, Store, StoreError, TransactFailure, WriteOutcome, decode, encode, is_conditional,
    keys, n, request_error, s,
};
use crate::domain::{Client, ClientRef, Job, Lead};
use crate::ids::{CompanySlug, DocumentId};

/// Why a service request could not be turned into a client. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertRefusal {
    /// The company has no request with that id.
    NoSuchLead,
    /// The request is no longer as the caller read it: it names a client now (converted
    /// meanwhile) or was marked handled meanwhile. Reading it again tells which.
    LeadChanged,
    /// The request's email address reaches a client of the company by now.
    EmailTaken,
}

fn attribute<T: Serialize>(entity: &'static str, value: &T) -> Result<AttributeValue, StoreError> {
    to_attribute_value(value).map_err(|source| StoreError::Encode { entity, source })
}

/// Absent, or stored as `NULL`: how serde writes a `None`, so both mean "not set".
fn unset(attribute: &str) -> String {
    format!("(attribute_not_exists({attribute}) OR attribute_type({attribute}, :null))")
}

fn sort_key(item: &Item) -> &str {
    match item.get(keys::SK) {
        Some(AttributeValue::S(sk)) => sk,
        _ => "",
    }
}

impl Store {
    /// Stores a service request once. Its id is the form's one-time id and part of its key,
    /// so a resubmitted form writes nothing and returns `false`.
    pub async fn put_lead(&self, slug: &CompanySlug, lead: &Lead) -> Result<bool, StoreError> {
        self.put_new(&keys::lead(slug, &lead.id), Entity::Lead, lead, Item::new())
            .await
    }

    /// One of the company's service requests: one GetItem.
    pub async fn lead(
        &self,
        slug: &CompanySlug,
        id: &DocumentId,
    ) -> Result<Option<Lead>, StoreError> {
        self.get_as(&keys::lead(slug, id), Entity::Lead).await
    }

    /// A company's service requests, newest first. The partition is read whole (one Query,
    /// paged), so sorting here costs no request; a request still under its old time-ordered
    /// key is moved to its id key on the way.
    pub async fn leads(&self, slug: &CompanySlug) -> Result<Vec<Lead>, StoreError> {
        let partition = s(&keys::leads_partition(slug));
        let items = self
            .query_all(
                "table",
                "PK = :pk",
                partition,
                Some(keys::LEAD_PREFIX),
                true,
            )
            .await?;
        let (legacy, current): (Vec<Item>, Vec<Item>) = items
            .into_iter()
            .partition(|item| keys::legacy_lead_id(sort_key(item)).is_some());
        let mut leads: Vec<Lead> = current
            .into_iter()
            .map(|item| decode(Entity::Lead, item))
            .collect::<Result<_, _>>()?;
        for item in legacy {
            let lead: Lead = decode(Entity::Lead, item.clone())?;
            // The same form stored under both keys: the id-keyed copy is the one staff act on.
            if leads.iter().any(|known| known.id == lead.id) {
                continue;
            }
            self.move_legacy_lead(slug, item, &lead.id).await?;
            leads.push(lead);
        }
        leads.sort_by(|a, b| {
            b.received_at
                .cmp(&a.received_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(leads)
    }

    /// Moves a request from `LEAD#<time>#<id>` to its id key in one transaction, so it is
    /// always in exactly one place. If either condition fails (another listing moved it
    /// first, or the id key holds a resubmission of the same form) nothing is written.
    async fn move_legacy_lead(
        &self,
        slug: &CompanySlug,
        mut item: Item,
        id: &DocumentId,
    ) -> Result<(), StoreError> {
        let old_sk = sort_key(&item).to_owned();
        let new_key = keys::lead(slug, id);
        item.insert(keys::SK.into(), s(&new_key.sk));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&new_key.pk))
            .key(keys::SK, s(&old_sk))
            .condition_expression("attribute_exists(PK)")
            .build()?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().delete(delete).build(),
        ];
        match self.transact("TransactWriteItems move lead", items).await {
            Ok(()) => {
                tracing::info!(slug = %slug, lead = %id, "service request moved to its id key");
                Ok(())
            }
            Err(TransactFailure::Cancelled { .. }) => Ok(()),
            Err(TransactFailure::Store(error)) => Err(error),
        }
    }

    /// Marks a request handled at `now` unless it already is: the request as stored after
    /// the call, and whether this call changed it. `None` if the company has no such
    /// request. A second call keeps the first `handled_at`.
    pub async fn mark_lead_handled(
        &self,
        slug: &CompanySlug,
        id: &DocumentId,
        now: DateTime<Utc>,
    ) -> Result<Option<(Lead, WriteOutcome)>, StoreError> {
        let key = keys::lead(slug, id);
        self.count();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET handled_at = :now")
            .condition_expression(format!("attribute_exists(PK) AND {}", unset("handled_at")))
            .expression_attribute_values(":now", attribute("lead", &now)?)
            .expression_attribute_values(":null", s("NULL"))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) => Ok(Some((decode(Entity::Lead, item)?, WriteOutcome::Updated))),
                None => Ok(self
                    .lead(slug, id)
                    .await?
                    .map(|lead| (lead, WriteOutcome::Updated))),
            },
            Err(error) if is_conditional(&error) => {
                let existing = match error.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(failed) => failed.item,
                    _ => None,
                };
                existing
                    .map(|item| decode(Entity::Lead, item).map(|l| (l, WriteOutcome::Unchanged)))
                    .transpose()
            }
            Err(error) => Err(request_error("UpdateItem", error)),
        }
    }

    /// Turns a service request into a client with a lead-stage job, in one transaction: the
    /// client and the job are created, each of the client's addresses comes to reach it (so
    /// the person can sign in to the portal), and the request is marked handled (keeping an
    /// earlier `handled_at`) and names both. The request must still be as `lead` was read,
    /// naming no client, and the addresses must reach no client; otherwise nothing is
    /// written and the refusal says what to look into.
    pub async fn convert_lead(
        &self,
        slug: &CompanySlug,
        lead: &Lead,
        client: &Client,
        job: &Job,
        now: DateTime<Utc>,
    ) -> Result<Result<(), ConvertRefusal>, StoreError> {
        let lead_key = keys::lead(slug, &lead.id);
        // Conditioned on the handled state that was read, so the time kept is the one there.
        let (handled_as_read, read_value) = match lead.handled_at {
            Some(at) => (
                "handled_at = :read".to_owned(),
                Some(attribute("lead", &at)?),
            ),
            None => (unset("handled_at"), None),
        };
        let condition = format!(
            "attribute_exists(PK) AND {} AND {handled_as_read}",
            unset("client_id")
        );
        let mut mark = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&lead_key.pk))
            .key(keys::SK, s(&lead_key.sk))
            .update_expression("SET client_id = :client, job_id = :job, handled_at = :handled")
            .condition_expression(condition)
            .expression_attribute_values(":client", s(client.id.as_str()))
            .expression_attribute_values(":job", s(job.id.as_str()))
            .expression_attribute_values(
                ":handled",
                attribute("lead", &lead.handled_at.unwrap_or(now))?,
            )
            .expression_attribute_values(":null", s("NULL"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(read) = read_value {
            mark = mark.expression_attribute_values(":read", read);
        }
        let mark = mark.build()?;

        let new_item = |mut item: Item| {
            // Version 1, as for a record the API created, so later API writes can name it.
            item.insert(VERSION.into(), n(1));
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK)")
                .build()
        };
        let client_item = encode(&keys::client(slug, &client.id), Entity::Client, client)?;
        let job_item = encode(&keys::job(slug, &client.id, &job.id), Entity::Job, job)?;

        let reference = attribute(
            "email index",
            &[ClientRef {
                id: client.id.clone(),
                name: client.name.clone(),
            }],
        )?;
        let mut items = vec![
            TransactWriteItem::builder().update(mark).build(),
            TransactWriteItem::builder()
                .put(new_item(client_item)?)
                .build(),
            TransactWriteItem::builder()
                .put(new_item(job_item)?)
                .build(),
        ];
        for email in &client.emails {
            let key = keys::email_index(slug, email);
            // An entry left with no clients (all removed) is free to take.
            let reach = Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(&key.pk))
                .key(keys::SK, s(&key.sk))
                .update_expression("SET clients = :clients, email = :email, entity_type = :entity")
                .condition_expression("attribute_not_exists(clients) OR size(clients) = :zero")
                .expression_attribute_values(":clients", reference.clone())
                .expression_attribute_values(":email", s(&email.trim().to_lowercase()))
                .expression_attribute_values(":entity", s(Entity::EmailIndex.name()))
                .expression_attribute_values(":zero", n(0))
                .build()?;
            items.push(TransactWriteItem::builder().update(reach).build());
        }

        match self
            .transact("TransactWriteItems convert lead", items)
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(TransactFailure::Store(error)) => Err(error),
            Err(TransactFailure::Cancelled { operation, reasons }) => {
                let failed = |i: usize| {
                    reasons
                        .get(i)
                        .is_some_and(|r| r.code == "ConditionalCheckFailed")
                };
                if failed(0) {
                    let exists = reasons[0].item.is_some();
                    Ok(Err(if exists {
                        ConvertRefusal::LeadChanged
                    } else {
                        ConvertRefusal::NoSuchLead
                    }))
                } else if (3..reasons.len()).any(failed) {
                    Ok(Err(ConvertRefusal::EmailTaken))
                } else {
                    // The client's or job's key is taken though the request names no client:
                    // not a state this code writes, so it is reported rather than guessed at.
                    Err(StoreError::ConditionFailed { operation })
                }
            }
        }
    }
}
