//! What the daily sweep reads and writes: its sparse index of hints, the fixed-invoice
//! schedule cursors, the archive of paid invoices, and the marks that keep "new documents"
//! emails to one a day and each document to one announcement.
//!
//! Every write here is conditional on what the sweep read, so two sweeps running at once,
//! or one run retried after a timeout, change each thing once.

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{self, Entity, Key};
use super::{
    Item, Store, StoreError, TransactFailure, decode, done_unless_unmet, encode, is_conditional,
    request_error, s,
};
use crate::domain::{ClientPreferences, FixedInvoicing, Invoice, Job};
use crate::ids::{ClientId, CompanySlug, DocumentId};

/// A recurring job's fixed-invoice schedule as the sweep keeps it: the plan copied from the
/// job, and how far it has been invoiced. Rewritten with the job, in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleCursor {
    pub client_id: ClientId,
    pub job_id: DocumentId,
    pub job_title: String,
    #[serde(default)]
    pub property_name: Option<String>,
    /// `None` once the job no longer has a schedule; the cursor stays for its history.
    #[serde(default)]
    pub plan: Option<FixedInvoicing>,
    /// The next date to invoice; `None` when the schedule has ended.
    #[serde(default)]
    pub next_due: Option<NaiveDate>,
    /// The last date invoiced, so a changed schedule never invoices a date twice.
    #[serde(default)]
    pub issued_through: Option<NaiveDate>,
    /// Moves on every change, so a write based on an old read is refused.
    pub revision: u64,
}

impl ScheduleCursor {
    /// The cursor for `job` as it is now, carrying on from `previous`.
    pub fn for_job(
        client: &ClientId,
        job: &Job,
        property_name: Option<String>,
        previous: Option<&Self>,
    ) -> Self {
        let issued_through = previous.and_then(|p| p.issued_through);
        let plan = job.fixed_invoice.clone();
        let next_due = plan.as_ref().and_then(|plan| {
            let from = match issued_through {
                Some(day) => day.succ_opt()?.max(plan.schedule.first),
                None => plan.schedule.first,
            };
            plan.schedule.next_on_or_after(from)
        });
        Self {
            client_id: client.clone(),
            job_id: job.id.clone(),
            job_title: job.title.clone(),
            property_name,
            plan,
            next_due,
            issued_through,
            revision: previous.map_or(1, |p| p.revision + 1),
        }
    }
}

/// Something the sweep's index says is due, with the hint it was found under (every
/// write back is conditional on that hint being unchanged).
#[derive(Debug, Clone)]
pub struct DueEntry {
    pub hint: String,
    pub key: Key,
    pub what: Due,
}

#[derive(Debug, Clone)]
pub enum Due {
    Schedule(Box<ScheduleCursor>),
    Invoice {
        client: ClientId,
        invoice: Box<Invoice>,
        /// The stored item as read, so archiving copies exactly that.
        item: Box<Item>,
    },
    Proposal {
        client: ClientId,
        proposal_id: DocumentId,
    },
    /// An item the sweep does not handle (or that no longer decodes); its hint is dropped.
    Other {
        entity: Option<Entity>,
    },
}

/// One page of due entries, and where the next page starts.
pub struct DuePage {
    pub entries: Vec<DueEntry>,
    pub next: Option<Item>,
    /// Items DynamoDB read to answer (its `ScannedCount`).
    pub items_read: u64,
}

/// What creating one fixed invoice came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedOutcome {
    Created,
    /// The invoice was already there (another sweep made it); the cursor moved on anyway.
    AlreadyCreated,
    /// The cursor changed since it was read (another sweep, or the schedule was edited).
    CursorMoved,
}

/// What archiving one invoice came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveOutcome {
    Archived,
    /// The invoice changed (or left) since it was read; it is looked at again later.
    Changed,
}

/// The hint `encode` gives a document when it is written: its own date, or "now" when its
/// day depends on other records. Early is harmless (the sweep decides and sets the real
/// day); this only has to never be late.
pub(super) fn document_hint(key: &Key, entity: Entity, item: &Item) -> Option<(String, String)> {
    if !matches!(entity, Entity::Invoice | Entity::Proposal) {
        return None;
    }
    let slug_and_client = key.pk.strip_prefix("COMPANY#")?;
    let (slug, client) = slug_and_client.split_once("#CLIENT#")?;
    if matches!(item.get("voided"), Some(AttributeValue::Bool(true))) {
        return None;
    }
    let day = match (entity, item.get("invoice_date")) {
        (Entity::Invoice, Some(AttributeValue::S(date))) => date.parse::<NaiveDate>().ok(),
        _ => None,
    };
    let what = format!("{client}#{}", key.sk);
    Some((format!("SWEEP#{slug}"), keys::sweep_hint(day, &what)))
}

fn schedule_hint(cursor: &ScheduleCursor) -> Option<String> {
    let what = format!("SCHEDULE#{}#{}", cursor.client_id, cursor.job_id);
    cursor
        .next_due
        .map(|day| keys::sweep_hint(Some(day), &what))
}

impl Store {
    /// One page of what is due for `slug` by `today`, oldest hint first.
    pub async fn due_page(
        &self,
        slug: &CompanySlug,
        today: NaiveDate,
        start: Option<Item>,
        limit: i32,
    ) -> Result<DuePage, StoreError> {
        self.count();
        let output = self
            .dynamo()
            .query()
            .table_name(self.table_name())
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK < :after")
            .expression_attribute_values(":pk", s(&keys::sweep_partition(slug)))
            .expression_attribute_values(":after", s(&keys::sweep_hints_after(today)))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| request_error("Query sweep hints", e))?;
        let items_read = u64::try_from(output.scanned_count).unwrap_or(0);
        self.add_items_read(items_read);
        let entries = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| due_entry(slug, item))
            .collect();
        let next = output.last_evaluated_key.filter(|key| !key.is_empty());
        Ok(DuePage {
            entries,
            next,
            items_read,
        })
    }

    /// Moves an item's hint to `next` (or drops it), unless it changed since `seen`.
    /// `false` when it had: whoever wrote it set a hint of their own.
    pub async fn move_hint(
        &self,
        key: &Key,
        seen: &str,
        next: Option<String>,
    ) -> Result<bool, StoreError> {
        self.count();
        let mut update = self
            .dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .condition_expression("GSI1SK = :seen")
            .expression_attribute_values(":seen", s(seen));
        update = match next {
            Some(next) => update
                .update_expression("SET GSI1SK = :next")
                .expression_attribute_values(":next", s(&next)),
            None => update.update_expression("REMOVE GSI1PK, GSI1SK"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional(&e) => Ok(false),
            Err(e) => Err(request_error("UpdateItem sweep hint", e)),
        }
    }

    /// Asks the sweep to look at a document again as soon as it can, after a change to a
    /// record its day depends on (its job or its visit). Missing documents are skipped.
    pub async fn hint_now(&self, slug: &CompanySlug, key: &Key) -> Result<(), StoreError> {
        let Some(client) = keys::client_of_partition(slug, &key.pk) else {
            return Ok(());
        };
        let hint = keys::sweep_hint(None, &format!("{client}#{}", key.sk));
        self.count();
        let result = self
            .dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET GSI1PK = :pk, GSI1SK = :hint")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(voided) OR voided = :false)",
            )
            .expression_attribute_values(":pk", s(&keys::sweep_partition(slug)))
            .expression_attribute_values(":hint", s(&hint))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        done_unless_unmet(result, "UpdateItem sweep hint")
    }

    /// The schedule cursor of a job, if it ever had a schedule.
    pub async fn schedule_cursor(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        job: &DocumentId,
    ) -> Result<Option<ScheduleCursor>, StoreError> {
        self.get_as(
            &keys::fixed_schedule(slug, client, job),
            Entity::FixedSchedule,
        )
        .await
    }

    /// The write of a cursor for `job`, conditional on the cursor read before (`previous`),
    /// for the transaction that also writes the job. `None` when the job never had a
    /// schedule and still has none: nothing to keep.
    pub fn cursor_write(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        job: &Job,
        property_name: Option<String>,
        previous: Option<&ScheduleCursor>,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        if previous.is_none() && job.fixed_invoice.is_none() {
            return Ok(None);
        }
        let cursor = ScheduleCursor::for_job(client, job, property_name, previous);
        let key = keys::fixed_schedule(slug, client, &job.id);
        let mut item = encode(&key, Entity::FixedSchedule, &cursor)?;
        if let Some(hint) = schedule_hint(&cursor) {
            item.insert(keys::GSI1PK.into(), s(&keys::sweep_partition(slug)));
            item.insert(keys::GSI1SK.into(), s(&hint));
        }
        let put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(item));
        let put = match previous {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(previous) => put
                .condition_expression("revision = :revision")
                .expression_attribute_values(
                    ":revision",
                    AttributeValue::N(previous.revision.to_string()),
                ),
        };
        Ok(Some(TransactWriteItem::builder().put(put.build()?).build()))
    }

    /// Creates the fixed invoice of `occurrence` and moves the cursor to `next`, in one
    /// transaction conditional on the cursor still being where it was read. The invoice's
    /// id comes from the job and the date, so it can only ever be created once.
    pub async fn create_fixed_invoice(
        &self,
        slug: &CompanySlug,
        cursor: &ScheduleCursor,
        invoice: &Invoice,
        next: Option<NaiveDate>,
    ) -> Result<FixedOutcome, StoreError> {
        let Some(occurrence) = cursor.next_due else {
            return Ok(FixedOutcome::CursorMoved);
        };
        let invoice_key = keys::invoice(slug, &cursor.client_id, &invoice.id);
        let invoice_item = encode(&invoice_key, Entity::Invoice, invoice)?;
        let put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(invoice_item))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let advance = self.cursor_advance(slug, cursor, occurrence, next)?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(advance.clone()).build(),
        ];
        let reasons = match self
            .transact("TransactWriteItems fixed invoice", items)
            .await
        {
            Ok(()) => return Ok(FixedOutcome::Created),
            Err(TransactFailure::Store(error)) => return Err(error),
            Err(TransactFailure::Cancelled { reasons, .. }) => reasons,
        };
        let failed = |i: usize| {
            reasons
                .get(i)
                .is_some_and(|r| r.code == "ConditionalCheckFailed")
        };
        if failed(1) || !failed(0) {
            return Ok(FixedOutcome::CursorMoved);
        }
        // The invoice exists: move the cursor past it on its own.
        let single = TransactWriteItem::builder().update(advance).build();
        match self
            .transact("TransactWriteItems cursor", vec![single])
            .await
        {
            Ok(()) => Ok(FixedOutcome::AlreadyCreated),
            Err(TransactFailure::Cancelled { .. }) => Ok(FixedOutcome::CursorMoved),
            Err(TransactFailure::Store(error)) => Err(error),
        }
    }

    fn cursor_advance(
        &self,
        slug: &CompanySlug,
        cursor: &ScheduleCursor,
        occurrence: NaiveDate,
        next: Option<NaiveDate>,
    ) -> Result<Update, StoreError> {
        let key = keys::fixed_schedule(slug, &cursor.client_id, &cursor.job_id);
        let moved = ScheduleCursor {
            next_due: next,
            issued_through: Some(occurrence),
            revision: cursor.revision + 1,
            ..cursor.clone()
        };
        let day = |d: NaiveDate| s(&d.format("%Y-%m-%d").to_string());
        let update = Update::builder()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .condition_expression("revision = :revision AND next_due = :occurrence")
            .expression_attribute_values(
                ":revision",
                AttributeValue::N(cursor.revision.to_string()),
            )
            .expression_attribute_values(":occurrence", day(occurrence))
            .expression_attribute_values(":through", day(occurrence))
            .expression_attribute_values(
                ":next_revision",
                AttributeValue::N(moved.revision.to_string()),
            );
        let update = match (next, schedule_hint(&moved)) {
            (Some(next), Some(hint)) => update
                .update_expression(
                    "SET next_due = :next, issued_through = :through, \
                     revision = :next_revision, GSI1SK = :hint",
                )
                .expression_attribute_values(":next", day(next))
                .expression_attribute_values(":hint", s(&hint)),
            _ => update.update_expression(
                "SET issued_through = :through, revision = :next_revision \
                 REMOVE next_due, GSI1PK, GSI1SK",
            ),
        };
        Ok(update.build()?)
    }

    /// Moves a paid invoice out of the client's portal into the archive, in one
    /// transaction: the copy is written and the original deleted only if the original is
    /// exactly as read (same hint, version and imported content).
    pub async fn archive_invoice(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        entry: &DueEntry,
        item: &Item,
        archived_at: DateTime<Utc>,
    ) -> Result<ArchiveOutcome, StoreError> {
        let Due::Invoice { invoice, .. } = &entry.what else {
            return Ok(ArchiveOutcome::Changed);
        };
        let archive_key = keys::archived_invoice(slug, client, &invoice.id);
        let mut copy = item.clone();
        copy.remove(keys::GSI1PK);
        copy.remove(keys::GSI1SK);
        copy.insert(keys::PK.into(), s(&archive_key.pk));
        copy.insert(keys::SK.into(), s(&archive_key.sk));
        copy.insert(keys::ENTITY_TYPE.into(), s(Entity::ArchivedInvoice.name()));
        copy.insert("archived_at".into(), s(&archived_at.to_rfc3339()));
        // A second sweep archiving the same invoice finds the copy there and stops.
        let put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(copy))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let mut condition = vec!["GSI1SK = :seen".to_owned()];
        let mut delete = Delete::builder()
            .table_name(self.table_name())
            .key(keys::PK, s(&entry.key.pk))
            .key(keys::SK, s(&entry.key.sk))
            .expression_attribute_values(":seen", s(&entry.hint))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None);
        for field in ["version", "source_hash"] {
            match item.get(field) {
                Some(value) => {
                    condition.push(format!("{field} = :{field}"));
                    delete = delete.expression_attribute_values(format!(":{field}"), value.clone());
                }
                None => condition.push(format!("attribute_not_exists({field})")),
            }
        }
        let delete = delete
            .condition_expression(condition.join(" AND "))
            .build()?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().delete(delete).build(),
        ];
        match self.transact("TransactWriteItems archive", items).await {
            Ok(()) => Ok(ArchiveOutcome::Archived),
            Err(TransactFailure::Cancelled { .. }) => Ok(ArchiveOutcome::Changed),
            Err(TransactFailure::Store(error)) => Err(error),
        }
    }

    /// An archived invoice, for staff and for imports that must not bring it back.
    pub async fn archived_invoice(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        id: &DocumentId,
    ) -> Result<Option<Invoice>, StoreError> {
        let key = keys::archived_invoice(slug, client, id);
        self.get_as(&key, Entity::ArchivedInvoice).await
    }

    /// Which of `document_sks` were already announced to the client.
    pub async fn announced(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        document_sks: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut announced = Vec::new();
        for sk in document_sks {
            if self.get(&keys::notice(slug, client, sk)).await?.is_some() {
                announced.push(sk.clone());
            }
        }
        Ok(announced)
    }

    /// Claims the client's one "new documents" email of `day`; `false` if already taken.
    pub async fn claim_digest_day(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        day: NaiveDate,
        documents: usize,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = keys::digest_day(slug, client, day);
        let record = DigestDay {
            claimed_at: at,
            documents,
            sent: false,
        };
        self.put_new(&key, Entity::DigestDay, &record, Item::new())
            .await
    }

    /// Marks the day's email sent and each document in it announced.
    pub async fn finish_digest(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        day: NaiveDate,
        document_sks: &[String],
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = keys::digest_day(slug, client, day);
        self.count();
        self.dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET sent = :true, message_id = :id")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":id", s(message_id))
            .send()
            .await
            .map_err(|e| request_error("UpdateItem digest", e))?;
        for sk in document_sks {
            let notice = Notice {
                announced_on: day,
                announced_at: at,
            };
            // Already announced (a concurrent run) is as good as announcing it now.
            self.put_new(
                &keys::notice(slug, client, sk),
                Entity::Notice,
                &notice,
                Item::new(),
            )
            .await?;
        }
        Ok(())
    }

    /// Gives back a day's claim when its email could not be sent, so a later run retries.
    pub async fn release_digest_day(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        day: NaiveDate,
    ) -> Result<(), StoreError> {
        let key = keys::digest_day(slug, client, day);
        self.count();
        self.dynamo()
            .delete_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .condition_expression("sent = :false")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                if is_conditional(&e) {
                    Ok(())
                } else {
                    Err(request_error("DeleteItem digest", e))
                }
            })
    }

    /// The client's choices, or the defaults.
    pub async fn client_preferences(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
    ) -> Result<ClientPreferences, StoreError> {
        let key = keys::client_preferences(slug, client);
        Ok(self
            .get_as(&key, Entity::ClientPreferences)
            .await?
            .unwrap_or_default())
    }

    /// Turns the client's "new documents" email on or off. Only that attribute changes, so
    /// a calendar switch at the same moment is never undone.
    pub async fn set_new_documents_email(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        on: bool,
    ) -> Result<(), StoreError> {
        let key = keys::client_preferences(slug, client);
        self.count();
        self.dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET new_documents_email = :on, entity_type = :entity")
            .expression_attribute_values(":on", AttributeValue::Bool(on))
            .expression_attribute_values(":entity", s(Entity::ClientPreferences.name()))
            .send()
            .await
            .map_err(|e| request_error("UpdateItem preferences", e))?;
        Ok(())
    }

    /// Makes a new calendar feed URL (the generation moves on, so every older URL dies) or
    /// revokes the current one; returns the choices as they now are.
    pub async fn switch_calendar_feed(
        &self,
        slug: &CompanySlug,
        client: &ClientId,
        enable: bool,
    ) -> Result<ClientPreferences, StoreError> {
        let key = keys::client_preferences(slug, client);
        self.count();
        let update = self
            .dynamo()
            .update_item()
            .table_name(self.table_name())
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .expression_attribute_values(":entity", s(Entity::ClientPreferences.name()))
            .expression_attribute_values(":enabled", AttributeValue::Bool(enable))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        let update = if enable {
            update
                .update_expression(
                    "ADD calendar_generation :one \
                     SET calendar_enabled = :enabled, entity_type = :entity",
                )
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
        } else {
            update.update_expression("SET calendar_enabled = :enabled, entity_type = :entity")
        };
        let output = update
            .send()
            .await
            .map_err(|e| request_error("UpdateItem preferences", e))?;
        let mut item = output.attributes.unwrap_or_default();
        item.insert(keys::PK.into(), s(&key.pk));
        item.insert(keys::SK.into(), s(&key.sk));
        decode(Entity::ClientPreferences, item)
    }
}

/// The claim on one day's "new documents" email.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DigestDay {
    claimed_at: DateTime<Utc>,
    documents: usize,
    sent: bool,
}

/// The mark that a document was announced.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Notice {
    announced_on: NaiveDate,
    announced_at: DateTime<Utc>,
}

fn due_entry(slug: &CompanySlug, item: Item) -> Option<DueEntry> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let key = Key {
        pk: text(keys::PK)?,
        sk: text(keys::SK)?,
    };
    let hint = text(keys::GSI1SK)?;
    let entity = text(keys::ENTITY_TYPE).and_then(|name| Entity::from_name(&name));
    let client = keys::client_of_partition(slug, &key.pk).and_then(|c| ClientId::parse(c).ok());
    let what = match (entity, client) {
        (Some(Entity::FixedSchedule), _) => match decode(Entity::FixedSchedule, item) {
            Ok(cursor) => Due::Schedule(Box::new(cursor)),
            Err(error) => {
                tracing::warn!(error = %error, "schedule cursor does not decode");
                Due::Other { entity }
            }
        },
        (Some(Entity::Invoice), Some(client)) => {
            match decode::<Invoice>(Entity::Invoice, item.clone()) {
                Ok(invoice) => Due::Invoice {
                    client,
                    invoice: Box::new(invoice),
                    item: Box::new(item),
                },
                Err(error) => {
                    tracing::warn!(error = %error, "invoice does not decode");
                    Due::Other { entity }
                }
            }
        }
        (Some(Entity::Proposal), Some(client)) => {
            let id = key.sk.strip_prefix("PROPOSAL#")?;
            Due::Proposal {
                client,
                proposal_id: DocumentId::parse(id).ok()?,
            }
        }
        _ => Due::Other { entity },
    };
    Some(DueEntry { hint, key, what })
}
