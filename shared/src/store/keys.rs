//! The single-table key schema. Every key string is built here and nowhere else.
//!
//! Items carry `PK` and `SK`, an `entity_type` attribute, and where a second way in is needed
//! `GSI1PK`/`GSI1SK`. Every partition that holds a client's data starts with the company,
//! so no key of one company can ever name another company's item.
//!
//! | access pattern (one request each)    | index | key condition (s: slug, c: client)      |
//! |---------------------------------------|-------|-----------------------------------------|
//! | a client's whole portal               | table | `PK = COMPANY#s#CLIENT#c`               |
//! | the clients an email reaches          | table | `PK = COMPANY#s#EMAIL#e`, `SK = EMAIL`  |
//! | a company's profile and settings      | table | `PK = COMPANY#s`, `SK = COMPANY`        |
//! | every company                         | GSI1  | `GSI1PK = COMPANIES`                    |
//! | a login link, by its token's hash h   | table | `PK = COMPANY#s#LOGIN#h`, `SK = LOGIN`  |
//! | a session, by its cookie's hash h     | table | `PK = COMPANY#s#SESSION#h`, `SK = SESSION` |
//! | a company's service requests          | table | `PK = COMPANY#s#LEADS`, `SK ^ LEAD#`    |
//! | one service request, by its id        | table | `PK = COMPANY#s#LEADS`, `SK = LEAD#id`  |
//! | an API key, by its hash h             | table | `PK = APIKEY#h`, `SK = APIKEY`          |
//! | a company's API keys                  | table | `PK = COMPANY#s#APIKEYS`, `SK ^ KEY#`   |
//! | one address's uses in an hour         | table | `PK = COMPANY#s#RATE#src`, `SK = HOUR#t` |
//! | a company's email template of kind k  | table | `PK = COMPANY#s`, `SK = TEMPLATE#k`     |
//! | an accept link, by token hash h | table | `PK = COMPANY#s#ACCEPTLINK#h`, `SK = ACCEPTLINK` |
//! | an emailing, by its idempotency key k | table | `PK = COMPANY#s#SENDS`, `SK = SEND#k`  |
//! | what the sweep must look at by day d  | GSI1  | `GSI1PK = SWEEP#s`, `GSI1SK < d+1`      |
//! | a job's fixed-invoice schedule cursor | table | `PK = COMPANY#s#SCHEDULES`, `SK = JOB#c#j` |
//! | a client's archived invoice i         | table | `PK = COMPANY#s#ARCHIVE#c`, `SK = INVOICE#i` |
//! | whether a document was announced      | table | `PK = COMPANY#s#NOTICES#c`, `SK = DOC#sk` |
//! | a client's new-documents email of day d | table | `PK = COMPANY#s#NOTICES#c`, `SK = DAY#d` |
//! | a company's payments since a cursor   | GSI1  | `GSI1PK = PAYMENTS#s`, `GSI1SK > cursor` |
//! | a Checkout Session of a client      | table | `PK = COMPANY#s#CLIENT#c`, `SK = CHECKOUT#cs`|
//! | a Stripe event handled, by its id     | table | `PK = STRIPE#EVENT#evt`, `SK = EVENT`   |
//! | a payment intent booked   | table | `PK = COMPANY#s#STRIPE#PI#pi`, `SK = PAYMENT_INTENT` |
//! | a refund booked                       | table | `PK = COMPANY#s#STRIPE#RE#re`, `SK = REFUND` |
//! | a client's email and calendar choices | table | `PK = COMPANY#s#CLIENT#c`, `SK = PREFERENCES`|
//!
//! The sweep's index is sparse: only items with something due carry `GSI1PK = SWEEP#s`, and
//! their `GSI1SK` starts with the day to look again (`0000-00-00` for "as soon as
//! possible"), so the due items of a day are one key range. A hint may be early, never
//! late: the sweep decides with the document rules and sets the next day itself.
//!
//! Inside a client's partition the sort key tells the entity apart: `CLIENT`, `JOB#id`,
//! `VISIT#id`, `PROPOSAL#id`, `PROPOSAL#id#ACCEPTANCE`, `INVOICE#id`, `PAYMENT#id`,
//! `PREFERENCES`.
//!
//! A service request's id is its form's one-time id, so the item's key also keeps a
//! resubmitted form from being stored twice. The listing is read whole and sorted newest
//! first by `received_at`. Requests stored before they were addressable by id sit under
//! `LEAD#<time>#<id>` (with a `FORM#id` guard beside them); listing moves each such
//! request to its id key once, see [`legacy_lead_id`].

use chrono::{DateTime, NaiveDate, Utc};

use crate::ids::{ClientId, CompanySlug, DocumentId, TokenHash};
use crate::templates::TemplateKind;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const ENTITY_TYPE: &str = "entity_type";
/// Epoch seconds after which DynamoDB may delete the item. Deletion can lag by days (and
/// DynamoDB Local never deletes), so every read checks expiry itself.
pub const TTL: &str = "ttl";

/// A primary key: partition and sort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

/// What kind of record an item is; stored in `entity_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Company,
    Client,
    EmailIndex,
    Job,
    Visit,
    Proposal,
    Acceptance,
    Invoice,
    Payment,
    LoginLink,
    Session,
    Lead,
    RateWindow,
    ApiKey,
    EmailTemplate,
    AcceptLink,
    EmailSend,
    FixedSchedule,
    ArchivedInvoice,
    Notice,
    DigestDay,
    ClientPreferences,
    CheckoutAttempt,
    StripeEvent,
    StripePaymentIntent,
    StripeRefund,
}

impl Entity {
    pub fn name(self) -> &'static str {
        match self {
            Entity::Company => "company",
            Entity::Client => "client",
            Entity::EmailIndex => "email_index",
            Entity::Job => "job",
            Entity::Visit => "visit",
            Entity::Proposal => "proposal",
            Entity::Acceptance => "acceptance",
            Entity::Invoice => "invoice",
            Entity::Payment => "payment",
            Entity::LoginLink => "login_link",
            Entity::Session => "session",
            Entity::Lead => "lead",
            Entity::RateWindow => "rate_window",
            Entity::ApiKey => "api_key",
            Entity::EmailTemplate => "email_template",
            Entity::AcceptLink => "accept_link",
            Entity::EmailSend => "email_send",
            Entity::FixedSchedule => "fixed_schedule",
            Entity::ArchivedInvoice => "archived_invoice",
            Entity::Notice => "notice",
            Entity::DigestDay => "digest_day",
            Entity::ClientPreferences => "client_preferences",
            Entity::CheckoutAttempt => "checkout_attempt",
            Entity::StripeEvent => "stripe_event",
            Entity::StripePaymentIntent => "stripe_payment_intent",
            Entity::StripeRefund => "stripe_refund",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        const ALL: &[Entity] = &[
            Entity::Company,
            Entity::Client,
            Entity::EmailIndex,
            Entity::Job,
            Entity::Visit,
            Entity::Proposal,
            Entity::Acceptance,
            Entity::Invoice,
            Entity::Payment,
            Entity::LoginLink,
            Entity::Session,
            Entity::Lead,
            Entity::RateWindow,
            Entity::ApiKey,
            Entity::EmailTemplate,
            Entity::AcceptLink,
            Entity::EmailSend,
            Entity::FixedSchedule,
            Entity::ArchivedInvoice,
            Entity::Notice,
            Entity::DigestDay,
            Entity::ClientPreferences,
            Entity::CheckoutAttempt,
            Entity::StripeEvent,
            Entity::StripePaymentIntent,
            Entity::StripeRefund,
        ];
        ALL.iter().copied().find(|entity| entity.name() == name)
    }
}

fn company_pk(slug: &CompanySlug) -> String {
    format!("COMPANY#{slug}")
}

pub fn company(slug: &CompanySlug) -> Key {
    Key {
        pk: company_pk(slug),
        sk: "COMPANY".into(),
    }
}

/// The GSI1 entry that lists every company.
pub fn company_listing(slug: &CompanySlug) -> (String, String) {
    ("COMPANIES".into(), slug.to_string())
}

pub const COMPANIES_GSI1PK: &str = "COMPANIES";

/// The partition that holds everything of one client.
pub fn client_partition(slug: &CompanySlug, client: &ClientId) -> String {
    format!("{}#CLIENT#{client}", company_pk(slug))
}

pub fn client(slug: &CompanySlug, client: &ClientId) -> Key {
    Key {
        pk: client_partition(slug, client),
        sk: "CLIENT".into(),
    }
}

fn in_client(slug: &CompanySlug, client: &ClientId, sk: String) -> Key {
    Key {
        pk: client_partition(slug, client),
        sk,
    }
}

pub fn job(slug: &CompanySlug, client: &ClientId, id: &DocumentId) -> Key {
    in_client(slug, client, format!("JOB#{id}"))
}

pub fn visit(slug: &CompanySlug, client: &ClientId, id: &DocumentId) -> Key {
    in_client(slug, client, format!("VISIT#{id}"))
}

pub fn proposal(slug: &CompanySlug, client: &ClientId, id: &DocumentId) -> Key {
    in_client(slug, client, format!("PROPOSAL#{id}"))
}

/// Kept apart from the proposal item so that re-importing a proposal can never erase it.
pub fn acceptance(slug: &CompanySlug, client: &ClientId, proposal: &DocumentId) -> Key {
    in_client(slug, client, format!("PROPOSAL#{proposal}#ACCEPTANCE"))
}

pub fn invoice(slug: &CompanySlug, client: &ClientId, id: &DocumentId) -> Key {
    in_client(slug, client, format!("INVOICE#{id}"))
}

pub fn payment(slug: &CompanySlug, client: &ClientId, id: &DocumentId) -> Key {
    in_client(slug, client, format!("PAYMENT#{id}"))
}

/// Emails are matched case-insensitively: callers pass the address as typed.
pub fn email_index(slug: &CompanySlug, email: &str) -> Key {
    let email = email.trim().to_lowercase();
    Key {
        pk: format!("{}#EMAIL#{email}", company_pk(slug)),
        sk: "EMAIL".into(),
    }
}

pub fn login_link(slug: &CompanySlug, token: &TokenHash) -> Key {
    Key {
        pk: format!("{}#LOGIN#{}", company_pk(slug), token.as_str()),
        sk: "LOGIN".into(),
    }
}

pub fn session(slug: &CompanySlug, token: &TokenHash) -> Key {
    Key {
        pk: format!("{}#SESSION#{}", company_pk(slug), token.as_str()),
        sk: "SESSION".into(),
    }
}

pub fn leads_partition(slug: &CompanySlug) -> String {
    format!("{}#LEADS", company_pk(slug))
}

pub const LEAD_PREFIX: &str = "LEAD#";

/// One service request, found by its id.
pub fn lead(slug: &CompanySlug, id: &DocumentId) -> Key {
    Key {
        pk: leads_partition(slug),
        sk: format!("{LEAD_PREFIX}{id}"),
    }
}

/// `Some(id)` when `sk` is the old time-ordered key of a request (`LEAD#<time>#<id>`),
/// which cannot be found by id and must move to [`lead`]'s key.
pub fn legacy_lead_id(sk: &str) -> Option<&str> {
    let rest = sk.strip_prefix(LEAD_PREFIX)?;
    let (_, id) = rest.rsplit_once('#')?;
    Some(id)
}

/// An API key found by the hash of what the caller sent. Outside every company's
/// partitions on purpose: the key itself tells which company it belongs to.
pub fn api_key(hash: &TokenHash) -> Key {
    api_key_by_stored_hash(hash.as_str())
}

/// The same key from a hash read back from a listing entry.
pub fn api_key_by_stored_hash(hash: &str) -> Key {
    Key {
        pk: format!("APIKEY#{hash}"),
        sk: "APIKEY".into(),
    }
}

/// A company's listing entry for one key, by its public id.
pub fn api_key_listing(slug: &CompanySlug, key_id: &str) -> Key {
    Key {
        pk: format!("{}#APIKEYS", company_pk(slug)),
        sk: format!("KEY#{key_id}"),
    }
}

pub const API_KEY_PREFIX: &str = "KEY#";

/// A company's own subject and body for one kind of email, beside its profile.
pub fn email_template(slug: &CompanySlug, kind: TemplateKind) -> Key {
    Key {
        pk: company_pk(slug),
        sk: format!("TEMPLATE#{}", kind.name()),
    }
}

/// An emailed accept link, found by its token's hash under the company whose slug the link
/// carries, so a token replayed against another slug names nothing.
pub fn accept_link(slug: &CompanySlug, token: &TokenHash) -> Key {
    Key {
        pk: format!("{}#ACCEPTLINK#{}", company_pk(slug), token.as_str()),
        sk: "ACCEPTLINK".into(),
    }
}

/// A proposal or invoice emailing the back office asked for with an `Idempotency-Key`,
/// found by that key under the caller's company, so one company's keys never meet
/// another's. The key is the caller's own text (checked for length and control characters).
pub fn email_send(slug: &CompanySlug, idempotency_key: &str) -> Key {
    Key {
        pk: format!("{}#SENDS", company_pk(slug)),
        sk: format!("SEND#{idempotency_key}"),
    }
}

/// The sweep's index partition of one company.
pub fn sweep_partition(slug: &CompanySlug) -> String {
    format!("SWEEP#{slug}")
}

/// The day part of a sweep hint that means "look as soon as possible".
pub const SWEEP_NOW: &str = "0000-00-00";

/// A sweep hint's `GSI1SK`: the day to look again, then what the item is.
pub fn sweep_hint(day: Option<NaiveDate>, what: &str) -> String {
    match day {
        Some(day) => format!("{}#{what}", day.format("%Y-%m-%d")),
        None => format!("{SWEEP_NOW}#{what}"),
    }
}

/// The first `GSI1SK` after every hint due on `day`.
pub fn sweep_hints_after(day: NaiveDate) -> String {
    match day.succ_opt() {
        Some(next) => next.format("%Y-%m-%d").to_string(),
        None => "9999-99-99".into(),
    }
}

/// A recurring job's fixed-invoice schedule and how far the sweep has invoiced it. Kept
/// outside the client's partition: the portal never needs it.
pub fn fixed_schedule(slug: &CompanySlug, client: &ClientId, job: &DocumentId) -> Key {
    Key {
        pk: format!("{}#SCHEDULES", company_pk(slug)),
        sk: format!("JOB#{client}#{job}"),
    }
}

/// A paid invoice the sweep moved out of the portal; kept for good.
pub fn archived_invoice(slug: &CompanySlug, client: &ClientId, id: &DocumentId) -> Key {
    Key {
        pk: format!("{}#ARCHIVE#{client}", company_pk(slug)),
        sk: format!("INVOICE#{id}"),
    }
}

/// Where the invoice at `key` (in a client's partition) goes once archived.
pub fn archive_of(key: &Key) -> Option<Key> {
    let (company, client) = key.pk.split_once("#CLIENT#")?;
    key.sk.starts_with("INVOICE#").then(|| Key {
        pk: format!("{company}#ARCHIVE#{client}"),
        sk: key.sk.clone(),
    })
}

fn notices_partition(slug: &CompanySlug, client: &ClientId) -> String {
    format!("{}#NOTICES#{client}", company_pk(slug))
}

/// The mark that a document (by its sort key in the client's partition) was announced in
/// a "new documents" email, so it is never announced twice.
pub fn notice(slug: &CompanySlug, client: &ClientId, document_sk: &str) -> Key {
    Key {
        pk: notices_partition(slug, client),
        sk: format!("DOC#{document_sk}"),
    }
}

/// The claim on a client's one "new documents" email of a day.
pub fn digest_day(slug: &CompanySlug, client: &ClientId, day: NaiveDate) -> Key {
    Key {
        pk: notices_partition(slug, client),
        sk: format!("DAY#{}", day.format("%Y-%m-%d")),
    }
}

/// What a client chose for emails and the calendar feed; read with the portal.
pub fn client_preferences(slug: &CompanySlug, client: &ClientId) -> Key {
    in_client(slug, client, "PREFERENCES".into())
}

/// The client of a client-partition key, if `pk` is one (`COMPANY#s#CLIENT#c`).
pub fn client_of_partition<'a>(slug: &CompanySlug, pk: &'a str) -> Option<&'a str> {
    pk.strip_prefix(&company_pk(slug))?.strip_prefix("#CLIENT#")
}

/// The partition of a company's payments feed (GSI1), newest write last. The back office
/// reads it from a cursor to reconcile.
pub fn payments_feed_partition(slug: &CompanySlug) -> String {
    format!("PAYMENTS#{slug}")
}

/// A payment's place in the feed: when it was written (UTC, to the millisecond), then
/// which payment, so equal times still sort apart and a cursor names one exact place.
pub fn payments_feed_position(
    at: DateTime<Utc>,
    client: &ClientId,
    payment: &DocumentId,
) -> String {
    format!("{}#{client}#{payment}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

/// A Stripe Checkout Session started from the portal, in the client's partition so the
/// invoice page can tell "processing" from "paid" with the same one Query.
pub fn checkout_attempt(slug: &CompanySlug, client: &ClientId, session_id: &str) -> Key {
    in_client(slug, client, format!("CHECKOUT#{session_id}"))
}

/// A Stripe event already handled, by its id (`evt_...`): the guard that makes a repeated
/// delivery change nothing. Event ids are Stripe's, unique across accounts.
pub fn stripe_event(event_id: &str) -> Key {
    Key {
        pk: format!("STRIPE#EVENT#{event_id}"),
        sk: "EVENT".into(),
    }
}

/// A Stripe payment intent already booked as a payment (`pi_...`), so a second event about
/// the same money (checkout.session.completed and payment_intent.succeeded) books nothing.
pub fn stripe_payment_intent(slug: &CompanySlug, payment_intent: &str) -> Key {
    Key {
        pk: format!("{}#STRIPE#PI#{payment_intent}", company_pk(slug)),
        sk: "PAYMENT_INTENT".into(),
    }
}

/// A Stripe refund already booked (`re_...`).
pub fn stripe_refund(slug: &CompanySlug, refund: &str) -> Key {
    Key {
        pk: format!("{}#STRIPE#RE#{refund}", company_pk(slug)),
        sk: "REFUND".into(),
    }
}

/// One counter per source address per hour.
pub fn rate_window(slug: &CompanySlug, source: &str, at: DateTime<Utc>) -> Key {
    Key {
        pk: format!("{}#RATE#{source}", company_pk(slug)),
        sk: format!("HOUR#{}", at.format("%Y-%m-%dT%H")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_items_share_one_partition_scoped_by_company() {
        let slug = CompanySlug::parse("oakleaf").expect("test data is valid");
        let client_id = ClientId::random();
        let doc = DocumentId::random();
        let partition = client_partition(&slug, &client_id);
        for key in [
            client(&slug, &client_id),
            invoice(&slug, &client_id, &doc),
            proposal(&slug, &client_id, &doc),
            acceptance(&slug, &client_id, &doc),
            job(&slug, &client_id, &doc),
        ] {
            assert_eq!(key.pk, partition);
            assert!(key.pk.starts_with("COMPANY#oakleaf#"));
        }
    }

    #[test]
    fn email_keys_ignore_case_and_spaces() {
        let slug = CompanySlug::parse("greenridge").expect("test data is valid");
        assert_eq!(
            email_index(&slug, " Dana@Example.NET "),
            email_index(&slug, "dana@example.net")
        );
    }

    #[test]
    fn leads_are_keyed_by_id_and_old_keys_are_recognised() {
        let slug = CompanySlug::parse("greenridge").expect("test data is valid");
        let id = DocumentId::random();
        let key = lead(&slug, &id);
        assert_eq!(key.pk, "COMPANY#greenridge#LEADS");
        assert_eq!(key.sk, format!("LEAD#{id}"));
        assert_eq!(legacy_lead_id(&key.sk), None);
        let old = format!("LEAD#2026-04-02T15:00:00.000Z#{id}");
        assert_eq!(legacy_lead_id(&old), Some(id.as_str()));
    }

    #[test]
    fn email_sends_are_keyed_by_the_callers_key_under_the_company() {
        let slug = CompanySlug::parse("greenridge").expect("test data is valid");
        let key = email_send(&slug, "retry-7f3a");
        assert_eq!(key.pk, "COMPANY#greenridge#SENDS");
        assert_eq!(key.sk, "SEND#retry-7f3a");
        let other = CompanySlug::parse("oakleaf").expect("test data is valid");
        assert_ne!(email_send(&other, "retry-7f3a").pk, key.pk);
    }

    #[test]
    fn entity_names_round_trip() {
        for name in [
            "company",
            "invoice",
            "acceptance",
            "rate_window",
            "email_template",
            "accept_link",
            "email_send",
        ] {
            assert_eq!(Entity::from_name(name).map(Entity::name), Some(name));
        }
        assert_eq!(Entity::from_name("nope"), None);
    }
}
