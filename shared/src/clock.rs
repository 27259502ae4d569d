//! Where "now" comes from. Handlers ask the context's clock, never the system directly, so
//! tests can stand at any instant.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real time.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stays where a test puts it.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self(Mutex::new(instant))
    }

    pub fn set(&self, instant: DateTime<Utc>) {
        *self.0.lock().expect("clock lock is never poisoned") = instant;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use chrono_tz::Tz;

    use crate::domain::{Billing, Invoice, Settings, Visit, VisitDate};
    use crate::ids::DocumentId;
    use crate::money::{Currency, Money};
    use crate::rules::invoice_decision;

    fn today_in(zone: &str, instant: &str) -> NaiveDate {
        let zone: Tz = zone.parse().expect("valid zone");
        let instant: chrono::DateTime<chrono::Utc> = instant.parse().expect("valid instant");
        instant.with_timezone(&zone).date_naive()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("valid date")
    }

    /// C11: "today" is the company's date in its own zone, whatever the server's zone is.
    #[test]
    fn today_is_the_company_date() {
        let rows = [
            ("Australia/Sydney", "2026-09-30T13:59:00Z", "2026-09-30"),
            ("Australia/Sydney", "2026-09-30T14:00:00Z", "2026-10-01"),
            ("Australia/Sydney", "2026-10-31T13:00:00Z", "2026-11-01"),
            ("America/Chicago", "2026-03-10T03:30:00Z", "2026-03-09"),
            ("America/Chicago", "2026-03-10T05:00:00Z", "2026-03-10"),
            ("America/Denver", "2026-05-16T05:00:00Z", "2026-05-15"),
            ("America/Denver", "2026-05-16T06:01:00Z", "2026-05-16"),
        ];
        for (zone, instant, expected) in rows {
            assert_eq!(
                today_in(zone, instant),
                day(expected),
                "{zone} at {instant}"
            );
        }
    }

    /// C11: a Chicago invoice dated 2026-03-10 is hidden at 03:30Z and shown at 05:00Z, and
    /// a Sydney visit "to be determined" in November appears at 2026-10-31T13:00Z.
    #[test]
    fn zone_decides_visibility() {
        let usd = |m| Money::new(m, Currency::usd());
        let invoice = Invoice {
            id: DocumentId::random(),
            number: "GR-1".into(),
            billing: Billing::OneOff,
            job_id: None,
            property_name: None,
            invoice_date: Some(day("2026-03-10")),
            due_date: None,
            lines: vec![],
            total: usd(100),
            balance: usd(100),
            voided: false,
            approved_on: None,
            sent_on: None,
            memo: None,
        };
        let settings = Settings::default();
        let chicago = |at| today_in("America/Chicago", at);
        assert!(
            !invoice_decision(
                &invoice,
                None,
                None,
                &settings,
                chicago("2026-03-10T03:30:00Z")
            )
            .shown
        );
        assert!(
            invoice_decision(
                &invoice,
                None,
                None,
                &settings,
                chicago("2026-03-10T05:00:00Z")
            )
            .shown
        );

        let visit = Visit {
            id: DocumentId::random(),
            job_id: DocumentId::random(),
            scheduled: Some(VisitDate::WithinMonth {
                year: 2026,
                month: 11,
            }),
            completed_on: None,
            cancelled_on: None,
        };
        let per_visit = Invoice {
            billing: Billing::PerVisit {
                visit_id: visit.id.clone(),
            },
            invoice_date: None,
            ..invoice
        };
        let sydney = |at| today_in("Australia/Sydney", at);
        let shown =
            |at| invoice_decision(&per_visit, None, Some(&visit), &settings, sydney(at)).shown;
        assert!(!shown("2026-10-31T12:59:00Z"));
        assert!(shown("2026-10-31T13:00:00Z"));
    }
}
