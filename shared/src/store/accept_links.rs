//! Emailed accept links: the token is stored only as its hash, under the company, naming
//! the one proposal it may accept and when it stops working.
//!
//! Holding a link is no acceptance: the acceptance itself goes through
//! [`Store::accept_proposal`], whose conditions are checked again on every use.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{Entity, Store, StoreError, keys, ttl_attribute};
use crate::domain::Company;
use crate::ids::{ClientId, CompanySlug, DocumentId, TokenHash};

/// What an accept link may do, stored under the hash of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptLink {
    pub client_id: ClientId,
    pub proposal_id: DocumentId,
    /// The contact address the link was mailed to; the confirmation goes back there.
    pub email: String,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub issued_at: DateTime<Utc>,
    /// The end of the proposal's valid-until day in the company's time zone.
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub expires_at: DateTime<Utc>,
}

impl AcceptLink {
    /// Checked on every use: DynamoDB deletes expired items days late, if ever.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// The instant the company's calendar moves past `day`: its next local midnight. Where a
/// daylight-saving change skips midnight, the first local time after it.
pub fn end_of_day(company: &Company, day: NaiveDate) -> DateTime<Utc> {
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    let midnight = next.and_time(NaiveTime::MIN);
    (0..=4)
        .find_map(|hour| {
            let local = midnight + chrono::Duration::hours(hour);
            company.time_zone.from_local_datetime(&local).earliest()
        })
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

impl Store {
    /// Stores a new link; its token is fresh randomness, so a taken key is a failure.
    pub async fn put_accept_link(
        &self,
        slug: &CompanySlug,
        token: &TokenHash,
        link: &AcceptLink,
    ) -> Result<(), StoreError> {
        let key = keys::accept_link(slug, token);
        let extra = ttl_attribute(link.expires_at);
        if self.put_new(&key, Entity::AcceptLink, link, extra).await? {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed {
                operation: "PutItem accept link",
            })
        }
    }

    /// The link a token names in this company: one GetItem.
    pub async fn accept_link(
        &self,
        slug: &CompanySlug,
        token: &TokenHash,
    ) -> Result<Option<AcceptLink>, StoreError> {
        self.get_as(&keys::accept_link(slug, token), Entity::AcceptLink)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Settings;
    use crate::ids::CompanySlug;
    use crate::money::Currency;

    fn company(zone: &str) -> Company {
        Company {
            slug: CompanySlug::parse("greenridge").expect("test data is valid"),
            name: "Greenridge Lawn Co.".into(),
            time_zone: zone.parse().expect("test zones are valid"),
            currency: Currency::usd(),
            notify_email: "office@greenridge.example".into(),
            id_secret: "secret".into(),
            settings: Settings::default(),
            created_at: Utc::now(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("test instants are valid")
    }

    #[test]
    fn links_end_at_the_companys_next_midnight() {
        let day = NaiveDate::from_ymd_opt(2026, 5, 15).expect("a date");
        let denver = end_of_day(&company("America/Denver"), day);
        assert_eq!(denver, at("2026-05-16T06:00:00Z"));

        let link = AcceptLink {
            client_id: ClientId::random(),
            proposal_id: DocumentId::random(),
            email: "dana@example.net".into(),
            issued_at: at("2026-05-01T12:00:00Z"),
            expires_at: denver,
        };
        assert!(link.is_live(at("2026-05-16T05:59:59Z")));
        assert!(!link.is_live(at("2026-05-16T06:00:00Z")));
    }

    #[test]
    fn a_skipped_midnight_ends_the_day_at_the_first_local_time_after_it() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2024-09-08.
        let day = NaiveDate::from_ymd_opt(2024, 9, 7).expect("a date");
        let end = end_of_day(&company("America/Santiago"), day);
        assert_eq!(end, at("2024-09-08T04:00:00Z"));
    }
}
