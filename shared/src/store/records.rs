//! Records that exist only for storage: the email index, login links, sessions, and the
//! decoded contents of a client's partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{self, Entity};
use super::payments::CheckoutAttempt;
use super::{StoreError, decode};
use crate::domain::{
    Acceptance, Client, ClientPreferences, ClientRef, Invoice, Job, Payment, Proposal, Visit,
};
use crate::ids::{ClientId, DocumentId};

/// The clients one email address reaches, and when its open login links were last voided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailEntry {
    pub email: String,
    pub clients: Vec<ClientRef>,
    #[serde(
        default,
        with = "chrono::serde::ts_milliseconds_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub links_void_before: Option<DateTime<Utc>>,
}

/// An emailed one-time login link, stored under the hash of its token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginLink {
    pub email: String,
    pub clients: Vec<ClientRef>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub issued_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub expires_at: DateTime<Utc>,
    /// Absent until spent: the redeeming condition is `attribute_not_exists(used_at)`.
    #[serde(
        default,
        with = "chrono::serde::ts_milliseconds_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub used_at: Option<DateTime<Utc>>,
}

/// Why a login link cannot be used, worded for the person holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Usable,
    Used,
    Expired,
    /// A newer sign-in of the same address cancelled it.
    Superseded,
}

impl LoginLink {
    /// Expiry is checked here on every read: DynamoDB's TTL deletion lags by up to days.
    /// `entry` is the address's entry now: a link whose address staff have since taken off
    /// every account (no entry, or one without clients) opens nothing, so it is void too.
    pub fn state(&self, entry: Option<&EmailEntry>, now: DateTime<Utc>) -> LinkState {
        let reaches_nothing = entry.is_none_or(|entry| entry.clients.is_empty());
        let voided = reaches_nothing
            || entry
                .and_then(|entry| entry.links_void_before)
                .is_some_and(|before| self.issued_at < before);
        if self.used_at.is_some() {
            LinkState::Used
        } else if now >= self.expires_at {
            LinkState::Expired
        } else if voided {
            LinkState::Superseded
        } else {
            LinkState::Usable
        }
    }
}

/// A signed-in browser, stored under the hash of its cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub email: String,
    pub clients: Vec<ClientRef>,
    /// The account being viewed; set at once when the address reaches only one.
    #[serde(default)]
    pub active_client: Option<ClientId>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub expires_at: DateTime<Utc>,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }

    pub fn may_see(&self, client: &ClientId) -> bool {
        self.clients.iter().any(|c| &c.id == client)
    }

    /// The account in view, if it is still one the session may see.
    pub fn active(&self) -> Option<&ClientRef> {
        let active = self.active_client.as_ref()?;
        self.clients.iter().find(|c| &c.id == active)
    }
}

/// Everything stored in one client's partition.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientPortal {
    pub client: Client,
    pub jobs: HashMap<DocumentId, Job>,
    pub visits: HashMap<DocumentId, Visit>,
    pub proposals: Vec<Proposal>,
    pub acceptances: HashMap<DocumentId, Acceptance>,
    pub invoices: Vec<Invoice>,
    pub payments: Vec<Payment>,
    pub preferences: ClientPreferences,
    /// The client's Stripe Checkout Sessions, so a page can say "processing" for an
    /// invoice whose payment the webhook has not confirmed yet.
    pub checkouts: Vec<CheckoutAttempt>,
}

impl ClientPortal {
    /// Sorts a partition's items by entity. An item that does not decode is an error, never
    /// skipped: a silently missing invoice would be a wrong answer.
    pub(super) fn from_items(
        items: Vec<HashMap<String, AttributeValue>>,
    ) -> Result<Option<Self>, StoreError> {
        let mut client = None;
        let mut portal = ClientPortalParts::default();
        for item in items {
            let entity = match item.get(keys::ENTITY_TYPE) {
                Some(AttributeValue::S(name)) => Entity::from_name(name),
                _ => None,
            };
            match entity {
                Some(Entity::Client) => client = Some(decode(Entity::Client, item)?),
                Some(Entity::Job) => {
                    let job: Job = decode(Entity::Job, item)?;
                    portal.jobs.insert(job.id.clone(), job);
                }
                Some(Entity::Visit) => {
                    let visit: Visit = decode(Entity::Visit, item)?;
                    portal.visits.insert(visit.id.clone(), visit);
                }
                Some(Entity::Proposal) => portal.proposals.push(decode(Entity::Proposal, item)?),
                Some(Entity::Acceptance) => {
                    let acceptance: Acceptance = decode(Entity::Acceptance, item)?;
                    portal
                        .acceptances
                        .insert(acceptance.proposal_id.clone(), acceptance);
                }
                Some(Entity::Invoice) => portal.invoices.push(decode(Entity::Invoice, item)?),
                Some(Entity::Payment) => portal.payments.push(decode(Entity::Payment, item)?),
                Some(Entity::ClientPreferences) => {
                    portal.preferences = decode(Entity::ClientPreferences, item)?;
                }
                Some(Entity::CheckoutAttempt) => {
                    portal
                        .checkouts
                        .push(decode(Entity::CheckoutAttempt, item)?);
                }
                other => {
                    tracing::warn!(entity = ?other, "unexpected item in a client partition");
                }
            }
        }
        Ok(client.map(|client| portal.with_client(client)))
    }
}

#[derive(Default)]
struct ClientPortalParts {
    jobs: HashMap<DocumentId, Job>,
    visits: HashMap<DocumentId, Visit>,
    proposals: Vec<Proposal>,
    acceptances: HashMap<DocumentId, Acceptance>,
    invoices: Vec<Invoice>,
    payments: Vec<Payment>,
    preferences: ClientPreferences,
    checkouts: Vec<CheckoutAttempt>,
}

impl ClientPortalParts {
    fn with_client(self, client: Client) -> ClientPortal {
        ClientPortal {
            client,
            jobs: self.jobs,
            visits: self.visits,
            proposals: self.proposals,
            acceptances: self.acceptances,
            invoices: self.invoices,
            payments: self.payments,
            preferences: self.preferences,
            checkouts: self.checkouts,
        }
    }
}
