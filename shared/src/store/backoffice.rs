//! Storage for the back-office API: records kept together with what the API remembers about
//! them on the same item (the fingerprint of the request that created them, a client's
//! natural key and named contacts), changes to a proposal that must never touch an accepted
//! one, payments that lower invoice balances in one transaction (and enter the company's
//! payments feed, which the back office reads from a cursor to reconcile), and the email
//! index kept right when several writers change the same address at once.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_attribute_value, to_attribute_value};
use sha2::{Digest, Sha256};

use super::keys::{self, Entity, Key};
use super::versioned::{Stale, VERSION};
use super::{
    Item, Store, StoreError, TransactFailure, WriteOutcome, decode, encode, is_conditional,
    request_error, s,
};
use crate::domain::{ClientRef, Invoice, Job, Payment, Proposal};
use crate::ids::{ClientId, CompanySlug, DocumentId};
use crate::money::Money;

/// The item attribute that holds [`ApiNotes`]. Domain records ignore it when they decode.
const NOTES: &str = "api_notes";

/// How often a change of the email index is tried again after losing a race.
const EMAIL_ATTEMPTS: u32 = 8;

/// What the API keeps beside a record, on the same item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiNotes {
    /// The [`request_fingerprint`] of the create that made the record, so a retry with the
    /// same key can be told from a different request that reuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_fingerprint: Option<String>,
    /// A client's id in the company's field-service app; the client's id is derived from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// A client's contacts with their names; [`crate::domain::Client::emails`] holds the
    /// same addresses, which is all that signing in needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
}

impl ApiNotes {
    fn is_empty(&self) -> bool {
        self == &ApiNotes::default()
    }
}

/// A person at a client who can sign in with their email address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// How the contact is addressed, when the back office knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Lowercased.
    pub email: String,
}

/// A record as the API reads it: with its version and the API's notes.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRecord<T> {
    /// The domain record, decoded as every other reader decodes it.
    pub record: T,
    /// 0 for items written before versions existed (the QuickBooks import).
    pub version: u64,
    pub notes: ApiNotes,
}

/// What became of a change to a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalChange {
    /// Stored at this new version.
    Changed(u64),
    Stale(Stale),
    /// The proposal was accepted meanwhile: it stays as it was accepted.
    Accepted,
}

/// Why a payment was not recorded against one of its invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceRefusal {
    Missing,
    Voided,
    /// The invoice is kept in another currency than the payment's.
    OtherCurrency,
    /// The payment is more than what is left to pay, which is this.
    ExceedsBalance(Money),
}

/// What became of recording a payment.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentOutcome {
    Recorded,
    /// A payment with this id was recorded before (a retry): nothing changed.
    AlreadyRecorded(Box<Payment>),
    /// An invoice it applies to refused it: nothing changed.
    Refused {
        invoice_id: DocumentId,
        why: InvoiceRefusal,
    },
}

/// The payment item attribute that says where a payment came from, for the payments feed.
/// Written beside the feed's `GSI1PK`/`GSI1SK`; domain records ignore it when they decode.
pub const PAYMENT_SOURCE: &str = "payment_source";

/// Where a payment came from, as the payments feed tells the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSource {
    /// Paid by card through Stripe Checkout.
    Stripe,
    /// Recorded through the back-office API (a check, cash, a bank transfer).
    Api,
    /// Imported from QuickBooks.
    Import,
}

impl PaymentSource {
    pub fn name(self) -> &'static str {
        match self {
            PaymentSource::Stripe => "stripe",
            PaymentSource::Api => "api",
            PaymentSource::Import => "import",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            PaymentSource::Stripe,
            PaymentSource::Api,
            PaymentSource::Import,
        ]
        .into_iter()
        .find(|source| source.name() == name)
    }
}

/// The attributes that put a payment written at `at` into its company's payments feed: the
/// feed's GSI1 keys, and where the payment came from. Payment items carry no sweep hint, so
/// GSI1 is theirs alone. Every writer of a payment adds them, so that a change of the
/// payment (an import of new content, a refund) moves it to the feed's end again.
pub fn feed_attributes(
    slug: &CompanySlug,
    client: &ClientId,
    payment: &DocumentId,
    source: PaymentSource,
    at: DateTime<Utc>,
) -> Item {
    Item::from([
        (
            keys::GSI1PK.to_owned(),
            s(&keys::payments_feed_partition(slug)),
        ),
        (
            keys::GSI1SK.to_owned(),
            s(&keys::payments_feed_position(at, client, payment)),
        ),
        (PAYMENT_SOURCE.to_owned(), s(source.name())),
    ])
}

/// One payment of the feed, with where it stands in it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub client_id: ClientId,
    pub payment: Payment,
    /// The payment's `GSI1SK`: a cursor that names exactly this place in the feed.
    pub position: String,
    /// When the payment was last written, read from its position.
    pub recorded_at: Option<DateTime<Utc>>,
    /// Absent for a payment written before sources were recorded.
    pub source: Option<PaymentSource>,
}

impl FeedEntry {
    fn from_item(slug: &CompanySlug, mut item: Item) -> Result<Self, StoreError> {
        let text = |item: &Item, name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        let pk = text(&item, keys::PK).unwrap_or_default();
        let position = text(&item, keys::GSI1SK).unwrap_or_default();
        let source = text(&item, PAYMENT_SOURCE).and_then(|name| PaymentSource::from_name(&name));
        item.remove(NOTES);
        let client_id =
            keys::client_of_partition(slug, &pk).and_then(|client| ClientId::parse(client).ok());
        let Some(client_id) = client_id else {
            // The feed partition holds only payments of client partitions; anything else
            // there is a bug to see, not an item to skip.
            return Err(StoreError::Decode {
                entity: Entity::Payment.name(),
                sk: text(&item, keys::SK).unwrap_or_default(),
                pk,
                source: serde::de::Error::custom("a feed entry outside a client partition"),
            });
        };
        let recorded_at = position
            .split('#')
            .next()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc));
        Ok(Self {
            client_id,
            payment: decode(Entity::Payment, item)?,
            position,
            recorded_at,
            source,
        })
    }
}

/// A digest of a JSON request body that does not depend on the order of its keys, so a
/// retried request is recognised however the caller's library orders an object.
pub fn request_fingerprint(body: &serde_json::Value) -> String {
    let mut text = String::new();
    canonical_json(body, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn canonical_json(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, inner)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(name.clone()).to_string());
                out.push(':');
                canonical_json(inner, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(list) => {
            out.push('[');
            for (i, inner) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(inner, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn version_in(item: &Item) -> u64 {
    match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn notes_attribute(entity: Entity, notes: &ApiNotes) -> Result<Item, StoreError> {
    if notes.is_empty() {
        return Ok(Item::new());
    }
    let value = to_attribute_value(notes).map_err(|source| StoreError::Encode {
        entity: entity.name(),
        source,
    })?;
    Ok(Item::from([(NOTES.to_owned(), value)]))
}

fn minor_of(item: &Item, field: &str) -> Option<i64> {
    match item.get(field) {
        Some(AttributeValue::M(money)) => match money.get("minor") {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

impl Store {
    /// A record with its version and the API's notes.
    pub async fn api_record<T: DeserializeOwned>(
        &self,
        key: &Key,
        entity: Entity,
    ) -> Result<Option<ApiRecord<T>>, StoreError> {
        let Some(mut item) = self.get(key).await? else {
            return Ok(None);
        };
        let notes = match item.remove(NOTES) {
            Some(value) => from_attribute_value(value).map_err(|source| StoreError::Decode {
                entity: entity.name(),
                pk: key.pk.clone(),
                sk: key.sk.clone(),
                source,
            })?,
            None => ApiNotes::default(),
        };
        let version = version_in(&item);
        Ok(Some(ApiRecord {
            record: decode(entity, item)?,
            version,
            notes,
        }))
    }

    /// Writes a new record at version 1 with its notes; `false` if the key is taken.
    pub async fn create_api_record<T: Serialize>(
        &self,
        key: &Key,
        entity: Entity,
        record: &T,
        notes: &ApiNotes,
    ) -> Result<bool, StoreError> {
        let extra = notes_attribute(entity, notes)?;
        self.create_versioned(key, entity, record, extra).await
    }

    /// Replaces a record and its notes if it is still at `expected`; returns the new version.
    pub async fn replace_api_record<T: Serialize>(
        &self,
        key: &Key,
        entity: Entity,
        record: &T,
        notes: &ApiNotes,
        expected: u64,
    ) -> Result<Result<u64, Stale>, StoreError> {
        let extra = notes_attribute(entity, notes)?;
        self.replace_versioned(key, entity, record, expected, extra)
            .await
    }

    /// Writes a new job at version 1 together with its fixed-invoice schedule cursor, in one
    /// transaction, so the sweep's copy of the schedule can never differ from the job's.
    /// `false` if the job's key is taken.
    pub async fn create_job(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        job: &Job,
        property_name: Option<String>,
        notes: &ApiNotes,
    ) -> Result<bool, StoreError> {
        match self
            .write_job(slug, client, job, property_name, notes, None)
            .await?
        {
            Ok(_) => Ok(true),
            Err(_) => Ok(false),
        }
    }

    /// Replaces a job if it is still at `expected`, and its schedule cursor with it, in one
    /// transaction; returns the new version.
    pub async fn replace_job(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        job: &Job,
        property_name: Option<String>,
        notes: &ApiNotes,
        expected: u64,
    ) -> Result<Result<u64, Stale>, StoreError> {
        self.write_job(slug, client, job, property_name, notes, Some(expected))
            .await
    }

    async fn write_job(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        job: &Job,
        property_name: Option<String>,
        notes: &ApiNotes,
        expected: Option<u64>,
    ) -> Result<Result<u64, Stale>, StoreError> {
        const ATTEMPTS: u32 = 4;
        let key = keys::job(slug, client, &job.id);
        let next = expected.map_or(1, |v| v + 1);
        for _ in 0..ATTEMPTS {
            let previous = self.schedule_cursor(slug, client, &job.id).await?;
            let mut item = encode(&key, Entity::Job, job)?;
            item.extend(notes_attribute(Entity::Job, notes)?);
            item.insert(VERSION.into(), number(next));
            let put = Put::builder()
                .table_name(self.table_name())
                .set_item(Some(item))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let put = match expected {
                None => put.condition_expression("attribute_not_exists(PK)"),
                Some(0) => put.condition_expression(
                    "attribute_exists(PK) AND attribute_not_exists(#version)",
                ),
                Some(expected) => put
                    .condition_expression("#version = :expected")
                    .expression_attribute_values(":expected", number(expected)),
            };
            let put = if expected.is_some() {
                put.expression_attribute_names("#version", VERSION)
            } else {
                put
            };
            let mut items = vec![TransactWriteItem::builder().put(put.build()?).build()];
            let cursor =
                self.cursor_write(slug, client, job, property_name.clone(), previous.as_ref())?;
            items.extend(cursor);
            let reasons = match self.transact("TransactWriteItems job", items).await {
                Ok(()) => return Ok(Ok(next)),
                Err(TransactFailure::Store(error)) => return Err(error),
                Err(TransactFailure::Cancelled { reasons, .. }) => reasons,
            };
            if let Some(job_reason) = reasons
                .first()
                .filter(|r| r.code == "ConditionalCheckFailed")
            {
                let current = job_reason.item.as_ref().map(version_in);
                return Ok(Err(Stale { current }));
            }
            // Only the cursor moved (the sweep invoiced meanwhile): read it again.
        }
        Err(StoreError::ConditionFailed {
            operation: "TransactWriteItems job",
        })
    }

    /// Replaces a proposal if it is still at `expected` and has no acceptance, both checked
    /// in one transaction: an acceptance landing between a read and this write would
    /// otherwise let a change slip under a proposal the client already agreed to.
    pub async fn replace_unaccepted_proposal(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        proposal: &Proposal,
        notes: &ApiNotes,
        expected: u64,
    ) -> Result<ProposalChange, StoreError> {
        let key = keys::proposal(slug, client, &proposal.id);
        let mut item = encode(&key, Entity::Proposal, proposal)?;
        item.extend(notes_attribute(Entity::Proposal, notes)?);
        let next = expected + 1;
        item.insert(VERSION.into(), number(next));
        let mut put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(item))
            .expression_attribute_names("#version", VERSION)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        put = if expected == 0 {
            put.condition_expression("attribute_exists(PK) AND attribute_not_exists(#version)")
        } else {
            put.condition_expression("#version = :expected")
                .expression_attribute_values(":expected", number(expected))
        };

        let acceptance = keys::acceptance(slug, client, &proposal.id);
        let unaccepted = ConditionCheck::builder()
            .table_name(self.table_name())
            .key(keys::PK, s(&acceptance.pk))
            .key(keys::SK, s(&acceptance.sk))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;

        let items = vec![
            TransactWriteItem::builder().put(put.build()?).build(),
            TransactWriteItem::builder()
                .condition_check(unaccepted)
                .build(),
        ];
        match self
            .transact("TransactWriteItems proposal change", items)
            .await
        {
            Ok(()) => Ok(ProposalChange::Changed(next)),
            Err(TransactFailure::Store(error)) => Err(error),
            Err(TransactFailure::Cancelled { operation, reasons }) => {
                let failed = |i: usize| {
                    reasons
                        .get(i)
                        .is_some_and(|r| r.code == "ConditionalCheckFailed")
                };
                if failed(1) {
                    Ok(ProposalChange::Accepted)
                } else if failed(0) {
                    let current = reasons[0].item.as_ref().map(version_in);
                    Ok(ProposalChange::Stale(Stale { current }))
                } else {
                    Err(StoreError::ConditionFailed { operation })
                }
            }
        }
    }

    /// Records a payment made outside the portal in one transaction: the payment item (at
    /// version 1, with its notes) is written only if its id is new, and each invoice it is
    /// applied to loses that amount from its balance only if the balance still covers it
    /// (the invoice then moves to its next version). A retry or a race changes balances once.
    /// The payment enters the payments feed at the system time of the write, not a request's
    /// clock: the feed tells the order payments were written in.
    pub async fn record_payment(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        payment: &Payment,
        notes: &ApiNotes,
    ) -> Result<PaymentOutcome, StoreError> {
        let payment_key = keys::payment(slug, client, &payment.id);
        let mut item = encode(&payment_key, Entity::Payment, payment)?;
        item.extend(notes_attribute(Entity::Payment, notes)?);
        item.insert(VERSION.into(), number(1));
        item.extend(feed_attributes(
            slug,
            client,
            &payment.id,
            PaymentSource::Api,
            Utc::now(),
        ));
        let record = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let mut items = vec![TransactWriteItem::builder().put(record).build()];

        for applied in &payment.applied {
            let key = keys::invoice(slug, client, &applied.invoice_id);
            let lower = Update::builder()
                .table_name(self.table_name())
                .key(keys::PK, s(&key.pk))
                .key(keys::SK, s(&key.sk))
                .update_expression(
                    "SET #balance.#minor = #balance.#minor - :amount, \
                     #version = if_not_exists(#version, :zero) + :one, \
                     GSI1PK = :sweep, GSI1SK = :hint",
                )
                // Paid, or paid down: the sweep looks again (archiving, once its time is up).
                .expression_attribute_values(":sweep", s(&keys::sweep_partition(slug)))
                .expression_attribute_values(
                    ":hint",
                    s(&keys::sweep_hint(None, &format!("{client}#{}", key.sk))),
                )
                .condition_expression(
                    "attribute_exists(PK) \
                     AND (attribute_not_exists(#voided) OR #voided = :false) \
                     AND #balance.#currency = :currency \
                     AND #balance.#minor >= :amount",
                )
                .expression_attribute_names("#balance", "balance")
                .expression_attribute_names("#minor", "minor")
                .expression_attribute_names("#currency", "currency")
                .expression_attribute_names("#voided", "voided")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(
                    ":amount",
                    AttributeValue::N(applied.amount.minor.to_string()),
                )
                .expression_attribute_values(":currency", s(applied.amount.currency.code()))
                .expression_attribute_values(":false", AttributeValue::Bool(false))
                .expression_attribute_values(":zero", number(0))
                .expression_attribute_values(":one", number(1))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()?;
            items.push(TransactWriteItem::builder().update(lower).build());
        }

        let (operation, reasons) = match self.transact("TransactWriteItems payment", items).await {
            Ok(()) => return Ok(PaymentOutcome::Recorded),
            Err(TransactFailure::Store(error)) => return Err(error),
            Err(TransactFailure::Cancelled { operation, reasons }) => (operation, reasons),
        };
        let failed = |i: usize| {
            reasons
                .get(i)
                .is_some_and(|r| r.code == "ConditionalCheckFailed")
        };
        if failed(0) {
            let existing = reasons[0]
                .item
                .clone()
                .ok_or(StoreError::ConditionFailed { operation })?;
            let existing: Payment = decode(Entity::Payment, existing)?;
            return Ok(PaymentOutcome::AlreadyRecorded(Box::new(existing)));
        }
        for (i, applied) in payment.applied.iter().enumerate() {
            if !failed(i + 1) {
                continue;
            }
            let why = match reasons[i + 1].item.clone() {
                None => InvoiceRefusal::Missing,
                Some(item) => {
                    let left = minor_of(&item, "balance");
                    let invoice: Invoice = decode(Entity::Invoice, item)?;
                    if invoice.voided {
                        InvoiceRefusal::Voided
                    } else if invoice.balance.currency != applied.amount.currency {
                        InvoiceRefusal::OtherCurrency
                    } else {
                        let left = left.unwrap_or(invoice.balance.minor);
                        InvoiceRefusal::ExceedsBalance(Money::new(left, invoice.balance.currency))
                    }
                }
            };
            return Ok(PaymentOutcome::Refused {
                invoice_id: applied.invoice_id.clone(),
                why,
            });
        }
        Err(StoreError::ConditionFailed { operation })
    }

    /// Up to `limit` payments of the company written after the feed position `after` (from
    /// the feed's start without it), oldest first: one Query of GSI1. GSI reads are
    /// eventually consistent, so a payment written a moment ago may not be there yet, and
    /// one written just before a later one may show up after it; readers re-read from a
    /// little before their cursor (see the API's payments feed).
    pub async fn payments_since(
        &self,
        slug: &CompanySlug,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let condition = match after {
            Some(_) => "GSI1PK = :pk AND GSI1SK > :after",
            None => "GSI1PK = :pk",
        };
        let mut query = self
            .dynamo()
            .query()
            .table_name(self.table_name())
            .index_name(keys::GSI1)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", s(&keys::payments_feed_partition(slug)))
            .scan_index_forward(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        if let Some(after) = after {
            query = query.expression_attribute_values(":after", s(after));
        }
        self.count();
        let output = query.send().await.map_err(|e| request_error("Query", e))?;
        self.add_items_read(u64::try_from(output.scanned_count).unwrap_or(0));
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| FeedEntry::from_item(slug, item))
            .collect()
    }

    /// Lets `email` reach `client` (and shows the client's current name there), keeping
    /// the other clients the address reaches.
    pub async fn add_email_client(
        &self,
        slug: &CompanySlug,
        email: &str,
        client: &ClientRef,
    ) -> Result<WriteOutcome, StoreError> {
        self.change_email_clients(slug, email, |clients| {
            match clients.iter_mut().find(|c| c.id == client.id) {
                Some(known) => known.name.clone_from(&client.name),
                None => clients.push(client.clone()),
            }
        })
        .await
    }

    /// Stops `email` reaching `client`; the other clients it reaches stay.
    pub async fn remove_email_client(
        &self,
        slug: &CompanySlug,
        email: &str,
        client: &ClientId,
    ) -> Result<WriteOutcome, StoreError> {
        self.change_email_clients(slug, email, |clients| {
            clients.retain(|c| &c.id != client);
        })
        .await
    }

    /// Read, change, and write the list back only if nobody changed it meanwhile: two
    /// clients sharing an address (a family, a landlord) may be saved at the same moment,
    /// and a plain overwrite would silently drop one of them from the index.
    async fn change_email_clients(
        &self,
        slug: &CompanySlug,
        email: &str,
        change: impl Fn(&mut Vec<ClientRef>),
    ) -> Result<WriteOutcome, StoreError> {
        let key = keys::email_index(slug, email);
        for _ in 0..EMAIL_ATTEMPTS {
            let before = self.email_entry(slug, email).await?.map(|e| e.clients);
            let mut after = before.clone().unwrap_or_default();
            change(&mut after);
            let unchanged = match &before {
                Some(before) => before == &after,
                None => after.is_empty(),
            };
            if unchanged {
                return Ok(WriteOutcome::Unchanged);
            }

            let encode_list = |clients: &[ClientRef]| {
                to_attribute_value(clients).map_err(|source| StoreError::Encode {
                    entity: Entity::EmailIndex.name(),
                    source,
                })
            };
            let mut update = self
                .dynamo()
                .update_item()
                .table_name(self.table_name())
                .key(keys::PK, s(&key.pk))
                .key(keys::SK, s(&key.sk))
                .update_expression("SET clients = :after, email = :email, entity_type = :entity")
                .expression_attribute_values(":after", encode_list(&after)?)
                .expression_attribute_values(":email", s(&email.trim().to_lowercase()))
                .expression_attribute_values(":entity", s(Entity::EmailIndex.name()));
            update = match &before {
                Some(before) => update
                    .condition_expression("clients = :before")
                    .expression_attribute_values(":before", encode_list(before)?),
                None => update.condition_expression("attribute_not_exists(clients)"),
            };
            self.count();
            match update.send().await {
                Ok(_) if before.is_some() => return Ok(WriteOutcome::Updated),
                Ok(_) => return Ok(WriteOutcome::Created),
                Err(e) if is_conditional(&e) => continue,
                Err(e) => return Err(request_error("UpdateItem", e)),
            }
        }
        Err(StoreError::ConditionFailed {
            operation: "UpdateItem email index",
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fingerprints_ignore_key_order_only() {
        let a = json!({"number": "1042", "lines": [{"amount": 1, "description": "x"}]});
        let b = json!({"lines": [{"description": "x", "amount": 1}], "number": "1042"});
        let c = json!({"lines": [{"description": "x", "amount": 2}], "number": "1042"});
        assert_eq!(request_fingerprint(&a), request_fingerprint(&b));
        assert_ne!(request_fingerprint(&a), request_fingerprint(&c));
    }

    #[test]
    fn empty_notes_add_no_attribute() {
        let none = notes_attribute(Entity::Job, &ApiNotes::default()).expect("encodes");
        assert!(none.is_empty());
        let notes = ApiNotes {
            external_id: Some("JB-17".into()),
            ..ApiNotes::default()
        };
        let some = notes_attribute(Entity::Client, &notes).expect("encodes");
        assert!(some.contains_key(NOTES));
    }
}
