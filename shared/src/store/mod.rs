//! DynamoDB storage: one method per access pattern (see [`keys`] for the schema). State
//! changes are conditional writes or transactions, so retries and races change state once.

mod accept_links;
mod api_keys;
pub mod backoffice;
pub mod keys;
mod leads;
pub mod payments;
mod records;
mod sends;
pub mod sweep;
mod templates;
mod versioned;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ConsumedCapacity, Put, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};
use sha2::{Digest, Sha256};

pub use accept_links::{AcceptLink, end_of_day};
pub use keys::{Entity, Key};
pub use leads::ConvertRefusal;
pub use records::{ClientPortal, EmailEntry, LinkState, LoginLink, Session};
pub use sends::{EmailSend, SendResult};
pub use versioned::{Stale, Versioned};

use crate::domain::{Acceptance, Client, Company};
use crate::ids::{ClientId, CompanySlug, DocumentId, TokenHash};

type Item = HashMap<String, AttributeValue>;

/// A storage failure. [`StoreError::is_condition_failed`] tells a refused condition (an
/// expected outcome) from a failure of the service.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed")]
    Request {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("a condition of {operation} did not hold")]
    ConditionFailed { operation: &'static str },
    #[error("stored {entity} item `{pk}`/`{sk}` does not decode")]
    Decode {
        entity: &'static str,
        pk: String,
        sk: String,
        #[source]
        source: serde_dynamo::Error,
    },
    #[error("{entity} does not encode as an item")]
    Encode {
        entity: &'static str,
        #[source]
        source: serde_dynamo::Error,
    },
    #[error("request to DynamoDB could not be built")]
    Build(#[from] BuildError),
}

impl StoreError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed { .. })
    }
}

fn request_error<E, R>(operation: &'static str, error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Request {
        operation,
        source: Box::new(error),
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Created,
    Updated,
    Unchanged,
}

/// Why a proposal could not be accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum AcceptRefusal {
    /// The proposal is gone, declined, or past its valid-until day.
    NotAcceptable,
    /// Someone accepted it first; here is that acceptance.
    AlreadyAccepted(Box<Acceptance>),
}

/// The table and a client for it, built once per function instance.
#[derive(Clone)]
pub struct Store {
    client: DynamoClient,
    table: String,
    requests: Arc<AtomicU64>,
    items_read: Arc<AtomicU64>,
    /// Read capacity units the partition and index Queries consumed, in thousandths.
    consumed_milli_units: Arc<AtomicU64>,
}

impl Store {
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            requests: Arc::new(AtomicU64::new(0)),
            items_read: Arc::new(AtomicU64::new(0)),
            consumed_milli_units: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub fn dynamo(&self) -> &DynamoClient {
        &self.client
    }

    /// Requests sent so far; benchmarks and tests use it to count requests per page.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        crate::request_scope::count_dynamo_request();
    }

    /// Items read so far (one per GetItem, DynamoDB's scanned count per Query); the sweep
    /// reports it, and its benchmark checks that it follows what is due, not the table.
    pub fn items_read(&self) -> u64 {
        self.items_read.load(Ordering::Relaxed)
    }

    fn add_items_read(&self, items: u64) {
        self.items_read.fetch_add(items, Ordering::Relaxed);
    }

    /// Read capacity units consumed so far by GetItems and by the Queries that read whole
    /// partitions (a client's portal, the company listing), as DynamoDB reported them
    /// (`ReturnConsumedCapacity`). `make bench` turns it into the read cost of a portal page.
    pub fn consumed_capacity(&self) -> f64 {
        self.consumed_milli_units.load(Ordering::Relaxed) as f64 / 1000.0
    }

    fn add_consumed(&self, capacity: Option<&ConsumedCapacity>) {
        let units = capacity.and_then(|c| c.capacity_units).unwrap_or(0.0);
        // Units come in halves (eventually consistent) or wholes; thousandths are exact.
        let milli = (units * 1000.0).round().max(0.0) as u64;
        self.consumed_milli_units
            .fetch_add(milli, Ordering::Relaxed);
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.count();
        self.add_items_read(1);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| request_error("GetItem", e))?;
        self.add_consumed(output.consumed_capacity());
        Ok(output.item)
    }

    async fn get_as<T: DeserializeOwned>(
        &self,
        key: &Key,
        entity: Entity,
    ) -> Result<Option<T>, StoreError> {
        self.get(key)
            .await?
            .map(|item| decode(entity, item))
            .transpose()
    }

    /// One record by its key, decoded as `entity`.
    pub async fn record<T: DeserializeOwned>(
        &self,
        key: &Key,
        entity: Entity,
    ) -> Result<Option<T>, StoreError> {
        self.get_as(key, entity).await
    }

    /// Writes an item only if no item has its key; `false` if one already did.
    async fn put_new<T: Serialize>(
        &self,
        key: &Key,
        entity: Entity,
        record: &T,
        extra: Item,
    ) -> Result<bool, StoreError> {
        let mut item = encode(key, entity, record)?;
        item.extend(extra);
        self.count();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional(&e) => Ok(false),
            Err(e) => Err(request_error("PutItem", e)),
        }
    }

    /// Writes an imported record unless the stored copy came from identical content, so a
    /// second import of the same data writes nothing.
    pub async fn upsert_record<T: Serialize>(
        &self,
        key: &Key,
        entity: Entity,
        record: &T,
        gsi1: Option<(String, String)>,
    ) -> Result<WriteOutcome, StoreError> {
        // An invoice the sweep archived stays archived: importing it again must not put
        // it back in the portal.
        let archived = keys::archive_of(key).filter(|_| entity == Entity::Invoice);
        if let Some(archived) = archived
            && self.get(&archived).await?.is_some()
        {
            return Ok(WriteOutcome::Unchanged);
        }
        let mut item = encode(key, entity, record)?;
        let hash = content_hash(&item);
        item.insert("source_hash".into(), s(&hash));
        if let Some((gsi_pk, gsi_sk)) = gsi1 {
            item.insert(keys::GSI1PK.into(), s(&gsi_pk));
            item.insert(keys::GSI1SK.into(), s(&gsi_sk));
        }
        // Added after the hash: the feed position is the time of writing, so an unchanged
        // payment imported again still matches its stored hash and writes nothing.
        if entity == Entity::Payment {
            match imported_payment_feed(key, Utc::now()) {
                Some(feed) => item.extend(feed),
                None => tracing::warn!(pk = %key.pk, sk = %key.sk,
                    "a payment outside a client partition is left out of the payments feed"),
            }
        }
        self.count();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR source_hash <> :hash")
            .expression_attribute_values(":hash", s(&hash))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) if output.attributes.is_some() => Ok(WriteOutcome::Updated),
            Ok(_) => Ok(WriteOutcome::Created),
            Err(e) if is_conditional(&e) => Ok(WriteOutcome::Unchanged),
            Err(e) => Err(request_error("PutItem", e)),
        }
    }

    /// Records an acceptance that happened outside the portal (for example in QuickBooks),
    /// never replacing one already on record.
    pub async fn record_outside_acceptance(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        acceptance: &Acceptance,
    ) -> Result<WriteOutcome, StoreError> {
        let key = keys::acceptance(slug, client, &acceptance.proposal_id);
        let created = self
            .put_new(&key, Entity::Acceptance, acceptance, Item::new())
            .await?;
        Ok(if created {
            WriteOutcome::Created
        } else {
            WriteOutcome::Unchanged
        })
    }

    pub async fn create_company(&self, company: &Company) -> Result<bool, StoreError> {
        let key = keys::company(&company.slug);
        let (gsi_pk, gsi_sk) = keys::company_listing(&company.slug);
        let extra = Item::from([
            (keys::GSI1PK.into(), s(&gsi_pk)),
            (keys::GSI1SK.into(), s(&gsi_sk)),
        ]);
        self.put_new(&key, Entity::Company, company, extra).await
    }

    /// The company and its version, for an admin changing its settings.
    pub async fn company_versioned(
        &self,
        slug: &CompanySlug,
    ) -> Result<Option<Versioned<Company>>, StoreError> {
        self.get_versioned(&keys::company(slug), Entity::Company)
            .await
    }

    /// Replaces the company (its name, zone, currency, settings) if still at `expected`.
    pub async fn replace_company(
        &self,
        company: &Company,
        expected: u64,
    ) -> Result<Result<u64, Stale>, StoreError> {
        let (gsi_pk, gsi_sk) = keys::company_listing(&company.slug);
        let extra = Item::from([
            (keys::GSI1PK.into(), s(&gsi_pk)),
            (keys::GSI1SK.into(), s(&gsi_sk)),
        ]);
        self.replace_versioned(
            &keys::company(&company.slug),
            Entity::Company,
            company,
            expected,
            extra,
        )
        .await
    }

    pub async fn company(&self, slug: &CompanySlug) -> Result<Option<Company>, StoreError> {
        self.get_as(&keys::company(slug), Entity::Company).await
    }

    /// Every company, in slug order, from the sparse GSI1 listing.
    pub async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        let items = self
            .query_all(
                keys::GSI1,
                "GSI1PK = :pk",
                s(keys::COMPANIES_GSI1PK),
                None,
                true,
            )
            .await?;
        items
            .into_iter()
            .map(|item| decode(Entity::Company, item))
            .collect()
    }

    /// Every item of one partition (or of one GSI1 partition), following pages.
    async fn query_all(
        &self,
        index: &str,
        condition: &str,
        partition: AttributeValue,
        sk_prefix: Option<&str>,
        forward: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        let condition = match sk_prefix {
            Some(_) => format!("{condition} AND begins_with(SK, :prefix)"),
            None => condition.to_owned(),
        };
        loop {
            self.count();
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&condition)
                .expression_attribute_values(":pk", partition.clone())
                .scan_index_forward(forward)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start);
            if index != "table" {
                query = query.index_name(index);
            } else {
                query = query.consistent_read(true);
            }
            if let Some(prefix) = sk_prefix {
                query = query.expression_attribute_values(":prefix", s(prefix));
            }
            let output = query.send().await.map_err(|e| request_error("Query", e))?;
            self.add_items_read(u64::try_from(output.scanned_count).unwrap_or(0));
            self.add_consumed(output.consumed_capacity());
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// A client's whole portal: one Query over the client's partition.
    pub async fn client_portal(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
    ) -> Result<Option<ClientPortal>, StoreError> {
        let partition = keys::client_partition(slug, client);
        let items = self
            .query_all("table", "PK = :pk", s(&partition), None, true)
            .await?;
        ClientPortal::from_items(items)
    }

    pub async fn save_client(
        &self,
        slug: &CompanySlug,
        client: &Client,
    ) -> Result<WriteOutcome, StoreError> {
        self.upsert_record(
            &keys::client(slug, &client.id),
            Entity::Client,
            client,
            None,
        )
        .await
    }

    /// Which clients an email address reaches: one GetItem.
    pub async fn email_entry(
        &self,
        slug: &CompanySlug,
        email: &str,
    ) -> Result<Option<EmailEntry>, StoreError> {
        self.get_as(&keys::email_index(slug, email), Entity::EmailIndex)
            .await
    }

    /// Sets the clients an address reaches, keeping the link-voiding mark that sign-ins set.
    pub async fn set_email_clients(
        &self,
        slug: &CompanySlug,
        email: &str,
        clients: &[crate::domain::ClientRef],
    ) -> Result<WriteOutcome, StoreError> {
        let key = keys::email_index(slug, email);
        let value = to_attribute_value(clients).map_err(|source| StoreError::Encode {
            entity: "email index",
            source,
        })?;
        self.count();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET clients = :clients, email = :email, entity_type = :entity")
            .condition_expression("attribute_not_exists(clients) OR clients <> :clients")
            .expression_attribute_values(":clients", value)
            .expression_attribute_values(":email", s(&email.trim().to_lowercase()))
            .expression_attribute_values(":entity", s(Entity::EmailIndex.name()))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        match result {
            Ok(output)
                if output
                    .attributes
                    .as_ref()
                    .is_some_and(|old| old.contains_key("clients")) =>
            {
                Ok(WriteOutcome::Updated)
            }
            Ok(_) => Ok(WriteOutcome::Created),
            Err(e) if is_conditional(&e) => Ok(WriteOutcome::Unchanged),
            Err(e) => Err(request_error("UpdateItem", e)),
        }
    }

    pub async fn put_login_link(
        &self,
        slug: &CompanySlug,
        token: &TokenHash,
        link: &LoginLink,
    ) -> Result<(), StoreError> {
        let key = keys::login_link(slug, token);
        let extra = ttl_attribute(link.expires_at);
        if self.put_new(&key, Entity::LoginLink, link, extra).await? {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed {
                operation: "PutItem login link",
            })
        }
    }

    pub async fn login_link(
        &self,
        slug: &CompanySlug,
        token: &TokenHash,
    ) -> Result<Option<LoginLink>, StoreError> {
        self.get_as(&keys::login_link(slug, token), Entity::LoginLink)
            .await
    }

    /// Spends a login link and opens a session, atomically: the link must be unused, unexpired
    /// and issued after the address's last sign-in (which voids every older open link). Two
    /// redemptions at once give one session; the other gets `ConditionFailed`.
    pub async fn redeem_login_link(
        &self,
        slug: &CompanySlug,
        token: &TokenHash,
        link: &LoginLink,
        session_token: &TokenHash,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let link_key = keys::login_link(slug, token);
        let spend = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&link_key.pk))
            .key(keys::SK, s(&link_key.sk))
            .update_expression("SET used_at = :now")
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(used_at) AND expires_at > :now",
            )
            .expression_attribute_values(":now", millis(now))
            .build()?;

        let email_key = keys::email_index(slug, &link.email);
        let void_older = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&email_key.pk))
            .key(keys::SK, s(&email_key.sk))
            .update_expression("SET links_void_before = :now")
            .condition_expression(
                "attribute_exists(PK) AND \
                 (attribute_not_exists(links_void_before) OR links_void_before <= :issued)",
            )
            .expression_attribute_values(":now", millis(now))
            .expression_attribute_values(":issued", millis(link.issued_at))
            .build()?;

        let session_key = keys::session(slug, session_token);
        let mut session_item = encode(&session_key, Entity::Session, session)?;
        session_item.extend(ttl_attribute(session.expires_at));
        let open_session = Put::builder()
            .table_name(&self.table)
            .set_item(Some(session_item))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;

        let items = vec![
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder().update(void_older).build(),
            TransactWriteItem::builder().put(open_session).build(),
        ];
        self.transact("TransactWriteItems redeem", items)
            .await
            .map_err(StoreError::from)
    }

    /// Runs a transaction; a cancellation because of conditions comes back as the reasons,
    /// one per item, so callers can tell which condition failed. A cancellation only because
    /// another transaction held the same items at that moment is retried: the loser of a
    /// race must end up seeing the winner's write as a failed condition, not an error.
    async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), TransactFailure> {
        const ATTEMPTS: u32 = 6;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.transact_once(operation, items.clone()).await {
                Err(TransactFailure::Cancelled { reasons, .. })
                    if attempt < ATTEMPTS && is_conflict_only(&reasons) =>
                {
                    let jitter = u64::from(crate::ids::random_bytes::<1>()[0] % 20);
                    let pause = 10 * u64::from(attempt) + jitter;
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(TransactFailure::Cancelled { operation, reasons }) => {
                    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
                    tracing::info!(operation, reasons = ?codes, attempt, "transaction cancelled");
                    return Err(TransactFailure::Cancelled { operation, reasons });
                }
                other => return other,
            }
        }
    }

    async fn transact_once(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), TransactFailure> {
        self.count();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let reasons = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                Some(cancelled.cancellation_reasons().to_vec())
            }
            _ => None,
        };
        match reasons {
            Some(reasons) if !reasons.is_empty() => Err(TransactFailure::Cancelled {
                operation,
                reasons: reasons
                    .into_iter()
                    .map(|reason| CancelReason {
                        code: reason.code().unwrap_or("None").to_owned(),
                        item: reason.item,
                    })
                    .collect(),
            }),
            _ => Err(TransactFailure::Store(request_error(
                "TransactWriteItems",
                error,
            ))),
        }
    }

    pub async fn session(
        &self,
        slug: &CompanySlug,
        token: &TokenHash,
    ) -> Result<Option<Session>, StoreError> {
        self.get_as(&keys::session(slug, token), Entity::Session)
            .await
    }

    /// Points a session at one of the accounts it may see; refused for any other account.
    pub async fn choose_session_client(
        &self,
        slug: &CompanySlug,
        token: &TokenHash,
        client: &ClientId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = keys::session(slug, token);
        let session: Option<Session> = self.get_as(&key, Entity::Session).await?;
        let allowed =
            session.is_some_and(|session| session.is_live(now) && session.may_see(client));
        if !allowed {
            return Ok(false);
        }
        self.count();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET active_client = :client")
            .condition_expression("attribute_exists(PK) AND expires_at > :now")
            .expression_attribute_values(":client", s(client.as_str()))
            .expression_attribute_values(":now", millis(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional(&e) => Ok(false),
            Err(e) => Err(request_error("UpdateItem", e)),
        }
    }

    pub async fn end_session(
        &self,
        slug: &CompanySlug,
        token: &TokenHash,
    ) -> Result<(), StoreError> {
        let key = keys::session(slug, token);
        self.count();
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .send()
            .await
            .map_err(|e| request_error("DeleteItem", e))?;
        Ok(())
    }

    /// Records an acceptance in one transaction: the proposal must still be open and valid on
    /// `today`, no acceptance may exist yet, and the job (if any) moves to active.
    pub async fn accept_proposal(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        acceptance: &Acceptance,
        job: Option<&DocumentId>,
        today: NaiveDate,
    ) -> Result<Result<(), AcceptRefusal>, StoreError> {
        let proposal_key = keys::proposal(slug, client, &acceptance.proposal_id);
        let still_open = ConditionCheck::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&proposal_key.pk))
            .key(keys::SK, s(&proposal_key.sk))
            .condition_expression(
                "attribute_exists(PK) AND #state = :open AND valid_until >= :today",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":today", s(&today.to_string()))
            .build()?;

        let acceptance_key = keys::acceptance(slug, client, &acceptance.proposal_id);
        let record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(
                &acceptance_key,
                Entity::Acceptance,
                acceptance,
            )?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;

        let mut items = vec![
            TransactWriteItem::builder()
                .condition_check(still_open)
                .build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        if let Some(job) = job {
            let job_key = keys::job(slug, client, job);
            let activate = Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(&job_key.pk))
                .key(keys::SK, s(&job_key.sk))
                // The job changes, so its version moves on: a back-office write based on
                // the version read before the acceptance must not put the old stage back.
                .update_expression("SET stage = :active ADD version :one")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":active", s("active"))
                .expression_attribute_values(":one", n(1))
                .build()?;
            items.push(TransactWriteItem::builder().update(activate).build());
        }

        match self.transact("TransactWriteItems accept", items).await {
            Ok(()) => Ok(Ok(())),
            Err(TransactFailure::Store(error)) => Err(error),
            Err(TransactFailure::Cancelled { reasons, operation }) => {
                let failed = |i: usize| {
                    reasons
                        .get(i)
                        .is_some_and(|r| r.code == "ConditionalCheckFailed")
                };
                if failed(1) {
                    let existing = reasons[1]
                        .item
                        .clone()
                        .ok_or(StoreError::ConditionFailed { operation })?;
                    let existing: Acceptance = decode(Entity::Acceptance, existing)?;
                    Ok(Err(AcceptRefusal::AlreadyAccepted(Box::new(existing))))
                } else if failed(0) {
                    Ok(Err(AcceptRefusal::NotAcceptable))
                } else {
                    // A conflicting transaction on the same items: the caller may retry.
                    Err(StoreError::ConditionFailed { operation })
                }
            }
        }
    }

    /// Counts one use of `source` in the current hour; `false` once `limit` uses are counted.
    pub async fn take_rate_slot(
        &self,
        slug: &CompanySlug,
        source: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let key = keys::rate_window(slug, source, now);
        let expires = now + chrono::Duration::hours(2);
        self.count();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET entity_type = :entity, #ttl = :ttl ADD hits :one")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":entity", s(Entity::RateWindow.name()))
            .expression_attribute_values(":ttl", n(expires.timestamp()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional(&e) => Ok(false),
            Err(e) => Err(request_error("UpdateItem", e)),
        }
    }

    /// Takes back one use counted by [`Store::take_rate_slot`] in the same hour, for a use
    /// that turned out to be a repeat of one already counted (a form sent twice at once).
    pub async fn give_back_rate_slot(
        &self,
        slug: &CompanySlug,
        source: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = keys::rate_window(slug, source, at);
        self.count();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("ADD hits :minus_one")
            .condition_expression("hits > :zero")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        // Nothing counted in that window (it expired meanwhile): nothing to give back.
        done_unless_unmet(result, "UpdateItem")
    }
}

/// A transaction that did not commit.
#[derive(Debug)]
enum TransactFailure {
    Cancelled {
        operation: &'static str,
        reasons: Vec<CancelReason>,
    },
    Store(StoreError),
}

#[derive(Debug)]
struct CancelReason {
    code: String,
    item: Option<Item>,
}

impl From<TransactFailure> for StoreError {
    fn from(failure: TransactFailure) -> Self {
        match failure {
            TransactFailure::Cancelled { operation, .. } => {
                StoreError::ConditionFailed { operation }
            }
            TransactFailure::Store(error) => error,
        }
    }
}

impl From<BuildError> for TransactFailure {
    fn from(error: BuildError) -> Self {
        TransactFailure::Store(error.into())
    }
}

/// True when nothing but a concurrent transaction stopped this one.
fn is_conflict_only(reasons: &[CancelReason]) -> bool {
    reasons.iter().any(|r| r.code == "TransactionConflict")
        && reasons
            .iter()
            .all(|r| r.code == "TransactionConflict" || r.code == "None")
}

/// The result of a conditional write whose unmet condition means there was nothing to do
/// (already done, or no longer wanted): that is success, like the write itself.
fn done_unless_unmet<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    operation: &'static str,
) -> Result<(), StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_conditional(&e) => Ok(()),
        Err(e) => Err(request_error(operation, e)),
    }
}

fn is_conditional<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(|service| service.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn millis(at: DateTime<Utc>) -> AttributeValue {
    n(at.timestamp_millis())
}

fn ttl_attribute(expires: DateTime<Utc>) -> Item {
    Item::from([(keys::TTL.to_owned(), n(expires.timestamp()))])
}

fn encode<T: Serialize>(key: &Key, entity: Entity, record: &T) -> Result<Item, StoreError> {
    let mut item: Item = to_item(record).map_err(|source| StoreError::Encode {
        entity: entity.name(),
        source,
    })?;
    item.insert(keys::PK.into(), s(&key.pk));
    item.insert(keys::SK.into(), s(&key.sk));
    item.insert(keys::ENTITY_TYPE.into(), s(entity.name()));
    if let Some((hint_pk, hint_sk)) = sweep::document_hint(key, entity, &item) {
        item.insert(keys::GSI1PK.into(), s(&hint_pk));
        item.insert(keys::GSI1SK.into(), s(&hint_sk));
    }
    Ok(item)
}

fn decode<T: DeserializeOwned>(entity: Entity, item: Item) -> Result<T, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        _ => String::new(),
    };
    let (pk, sk) = (text(keys::PK), text(keys::SK));
    from_item(item).map_err(|source| StoreError::Decode {
        entity: entity.name(),
        pk,
        sk,
        source,
    })
}

/// The payments-feed attributes of an imported payment stored at `key` (in a client's
/// partition, `COMPANY#s#CLIENT#c` / `PAYMENT#id`), as of `at`. The import names payments by
/// key alone, so the company, client and id are read back from it, as the sweep's hints do.
fn imported_payment_feed(key: &Key, at: DateTime<Utc>) -> Option<Item> {
    let (slug, client) = key.pk.strip_prefix("COMPANY#")?.split_once("#CLIENT#")?;
    let id = key.sk.strip_prefix("PAYMENT#")?;
    let slug = CompanySlug::parse(slug).ok()?;
    let client = ClientId::parse(client).ok()?;
    let id = DocumentId::parse(id).ok()?;
    Some(backoffice::feed_attributes(
        &slug,
        &client,
        &id,
        backoffice::PaymentSource::Import,
        at,
    ))
}

/// A stable digest of an item's content, independent of attribute order.
fn content_hash(item: &Item) -> String {
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    let mut hasher = Sha256::new();
    for name in names {
        hasher.update(name.as_bytes());
        hasher.update(format!("{:?}", canonical(&item[name])).as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Attribute values with maps sorted, so equal content always hashes the same.
fn canonical(value: &AttributeValue) -> String {
    match value {
        AttributeValue::M(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}={}", canonical(v)))
                .collect();
            format!("M{{{}}}", inner.join(","))
        }
        AttributeValue::L(list) => {
            let inner: Vec<String> = list.iter().map(canonical).collect();
            format!("L[{}]", inner.join(","))
        }
        other => format!("{other:?}"),
    }
}
