//! Fixed-invoice schedules: the dates a recurring job's fixed invoices fall on. The first
//! date anchors every rule (cases C08, C09 and C10), and each rule says exactly one thing:
//! "the 2nd Tuesday of the month" and "every other Tuesday" are different variants, so one
//! wording can never quietly produce the other.
//!
//! Dates are calendar dates in the company's time zone; nothing here knows about clocks.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::rrule::RRule;

/// How a schedule repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Recurrence {
    /// The same day every month; in months too short for it, their last day (the 31st gives
    /// Feb 28, Apr 30; the 30th gives Feb 28, or Feb 29 in a leap year).
    MonthlyOnDay { day: u32 },
    /// The last day of every month.
    MonthlyLastDay,
    /// The `nth` (1 to 5) given weekday of every month. A month without a 5th one is
    /// skipped, not moved to its 4th: the client was promised the 5th.
    MonthlyNthWeekday { nth: u32, weekday: Weekday },
    /// The last given weekday of every month.
    MonthlyLastWeekday { weekday: Weekday },
    /// Every `interval` weeks on `weekday`, counted from the first such weekday on or after
    /// the schedule's first date, never from ISO week numbers.
    Weekly { interval: u32, weekday: Weekday },
    /// Any RFC 5545 rule a back office sends, with the schedule's first date as its
    /// DTSTART. RFC semantics apply exactly: a DTSTART the rule does not match is not an
    /// occurrence, and `FREQ=WEEKLY;INTERVAL=2` counts weeks from DTSTART's week (with
    /// WKST), so "every other Thursday" from a Sunday skips to the second week (case C10).
    /// The named rules above anchor on the first matching day instead.
    Rule { rrule: RRule },
}

/// A fixed-invoice schedule: a first date, an optional last date, and how it repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub first: NaiveDate,
    #[serde(default)]
    pub until: Option<NaiveDate>,
    pub recurrence: Recurrence,
}

/// Why a schedule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the day of the month must be from 1 to 31, not {0}")]
    DayOfMonth(u32),
    #[error("the week of the month must be from 1 to 5, not {0}")]
    WeekOfMonth(u32),
    #[error("the interval must be from 1 to 52 weeks, not {0}")]
    Interval(u32),
    #[error("the rule gives no date on or after the first date")]
    NoDates,
    #[error("the last date {until} is before the first date {first}")]
    EndsBeforeStart { first: NaiveDate, until: NaiveDate },
}

impl Schedule {
    /// Checks the rule's numbers once, when the back office saves it.
    pub fn new(
        first: NaiveDate,
        until: Option<NaiveDate>,
        recurrence: Recurrence,
    ) -> Result<Self, ScheduleError> {
        match recurrence {
            Recurrence::MonthlyOnDay { day } if !(1..=31).contains(&day) => {
                return Err(ScheduleError::DayOfMonth(day));
            }
            Recurrence::MonthlyNthWeekday { nth, .. } if !(1..=5).contains(&nth) => {
                return Err(ScheduleError::WeekOfMonth(nth));
            }
            Recurrence::Weekly { interval, .. } if !(1..=52).contains(&interval) => {
                return Err(ScheduleError::Interval(interval));
            }
            Recurrence::Rule { ref rrule } if rrule.next_on_or_after(first, first).is_none() => {
                return Err(ScheduleError::NoDates);
            }
            _ => {}
        }
        if let Some(until) = until.filter(|until| *until < first) {
            return Err(ScheduleError::EndsBeforeStart { first, until });
        }
        Ok(Self {
            first,
            until,
            recurrence,
        })
    }

    /// Every date of the schedule from `from` through `to`, both included, in order.
    pub fn dates_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let last = self.until.map_or(to, |until| until.min(to));
        let start = from.max(self.first);
        if start > last {
            return vec![];
        }
        let in_range = |day: &NaiveDate| (start..=last).contains(day);
        match &self.recurrence {
            Recurrence::Rule { rrule } => rrule.occurrences(self.first, start, last),
            &Recurrence::Weekly { interval, weekday } => {
                let anchor = next_weekday(self.first, weekday);
                let step = 7 * u64::from(interval);
                // Jump close to `start` instead of walking from the anchor.
                let behind = (start - anchor).num_days().max(0) as u64;
                let mut day = anchor + Days::new(behind / step * step);
                let mut dates = Vec::new();
                while day <= last {
                    if in_range(&day) {
                        dates.push(day);
                    }
                    day = day + Days::new(step);
                }
                dates
            }
            monthly => {
                let monthly = monthly.clone();
                // Month k is counted from the first date's month, never by adding one month
                // at a time, which would drift (Jan 31, Feb 28, Mar 28...).
                let first_month = month_start(self.first);
                let months_to_start = months_between(first_month, month_start(start));
                let months_to_last = months_between(first_month, month_start(last));
                (months_to_start..=months_to_last)
                    .filter_map(|k| {
                        let month = first_month.checked_add_months(Months::new(k))?;
                        day_in_month(&monthly, month)
                    })
                    .filter(in_range)
                    .collect()
            }
        }
    }

    /// The schedule's first date on or after `day`, if it has one within a century.
    pub fn next_on_or_after(&self, day: NaiveDate) -> Option<NaiveDate> {
        // Look a year at a time: a schedule yields at least one date in most years, and
        // the walk stays short even for sparse rules.
        let mut from = day.max(self.first);
        for _ in 0..100 {
            let to = from.checked_add_days(Days::new(366))?;
            if let Some(first) = self.dates_between(from, to).first() {
                return Some(*first);
            }
            if self.until.is_some_and(|until| until <= to) {
                return None;
            }
            from = to.succ_opt()?;
        }
        None
    }

    /// How a client reads the period an invoice of `day` is for: the month ("2026-10") when
    /// the schedule falls once a month, else the date itself.
    pub fn period_label(&self, day: NaiveDate) -> String {
        let monthly = match &self.recurrence {
            Recurrence::Weekly { .. } => false,
            Recurrence::Rule { rrule } => rrule.is_at_most_monthly(),
            _ => true,
        };
        if monthly {
            day.format("%Y-%m").to_string()
        } else {
            day.format("%Y-%m-%d").to_string()
        }
    }

    /// The rule as an RFC 5545 RRULE, for calendars and integrators. Month-end rules use
    /// `BYMONTHDAY=-1` and `BYSETPOS`, since `BYMONTHDAY=31` would skip short months.
    pub fn to_rrule(&self) -> String {
        let rule = match self.recurrence.clone() {
            // Its own UNTIL or COUNT stands; the schedule's last date is added when it has
            // neither (RFC 5545 forbids both).
            Recurrence::Rule { rrule } => {
                return match self.until {
                    Some(until) if rrule.count.is_none() && rrule.until.is_none() => {
                        format!("{rrule};UNTIL={}", until.format("%Y%m%d"))
                    }
                    _ => rrule.to_string(),
                };
            }
            Recurrence::MonthlyOnDay { day } if day <= 28 => {
                format!("FREQ=MONTHLY;BYMONTHDAY={day}")
            }
            Recurrence::MonthlyOnDay { day } => {
                let days: Vec<String> = (28..=day).map(|d| d.to_string()).collect();
                format!("FREQ=MONTHLY;BYMONTHDAY={};BYSETPOS=-1", days.join(","))
            }
            Recurrence::MonthlyLastDay => "FREQ=MONTHLY;BYMONTHDAY=-1".to_owned(),
            Recurrence::MonthlyNthWeekday { nth, weekday } => {
                format!("FREQ=MONTHLY;BYDAY={nth}{}", ical_day(weekday))
            }
            Recurrence::MonthlyLastWeekday { weekday } => {
                format!("FREQ=MONTHLY;BYDAY=-1{}", ical_day(weekday))
            }
            Recurrence::Weekly { interval, weekday } => {
                format!(
                    "FREQ=WEEKLY;INTERVAL={interval};BYDAY={}",
                    ical_day(weekday)
                )
            }
        };
        match self.until {
            Some(until) => format!("{rule};UNTIL={}", until.format("%Y%m%d")),
            None => rule,
        }
    }
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a 1st")
}

fn months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    months.max(0) as u32
}

fn last_day(month: NaiveDate) -> NaiveDate {
    let next = month
        .checked_add_months(Months::new(1))
        .expect("dates are far from the end");
    next.pred_opt()
        .expect("a month's start has a day before it")
}

fn next_weekday(from: NaiveDate, weekday: Weekday) -> NaiveDate {
    let ahead = (7 + weekday.num_days_from_monday() - from.weekday().num_days_from_monday()) % 7;
    from + Days::new(u64::from(ahead))
}

/// The rule's day in the month starting at `month`, if the month has one.
fn day_in_month(recurrence: &Recurrence, month: NaiveDate) -> Option<NaiveDate> {
    match *recurrence {
        Recurrence::MonthlyOnDay { day } => {
            let last = last_day(month);
            month.with_day(day.min(last.day()))
        }
        Recurrence::MonthlyLastDay => Some(last_day(month)),
        Recurrence::MonthlyNthWeekday { nth, weekday } => {
            let day = next_weekday(month, weekday) + Days::new(7 * u64::from(nth - 1));
            (day.month() == month.month()).then_some(day)
        }
        Recurrence::MonthlyLastWeekday { weekday } => {
            let last = last_day(month);
            let back =
                (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
            Some(last - Days::new(u64::from(back)))
        }
        Recurrence::Weekly { .. } | Recurrence::Rule { .. } => None,
    }
}

fn ical_day(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("test dates are valid")
    }

    fn days(texts: &[&str]) -> Vec<NaiveDate> {
        texts.iter().map(|t| day(t)).collect()
    }

    fn schedule(first: &str, recurrence: Recurrence) -> Schedule {
        Schedule::new(day(first), None, recurrence).expect("a valid schedule")
    }

    /// C08: "on the 31st / last day", from 2026-01-31: no skipped months, no drift.
    #[test]
    fn c08_month_end_never_skips_or_drifts() {
        for recurrence in [
            Recurrence::MonthlyOnDay { day: 31 },
            Recurrence::MonthlyLastDay,
        ] {
            let month_end = schedule("2026-01-31", recurrence.clone());
            assert_eq!(
                month_end.dates_between(day("2026-01-01"), day("2026-06-30")),
                days(&[
                    "2026-01-31",
                    "2026-02-28",
                    "2026-03-31",
                    "2026-04-30",
                    "2026-05-31",
                    "2026-06-30"
                ]),
                "{recurrence:?}"
            );
            assert_eq!(
                month_end.dates_between(day("2028-02-01"), day("2028-02-29")),
                days(&["2028-02-29"])
            );
        }
        let thirtieth = schedule("2026-01-30", Recurrence::MonthlyOnDay { day: 30 });
        assert_eq!(
            thirtieth.dates_between(day("2026-02-01"), day("2026-03-31")),
            days(&["2026-02-28", "2026-03-30"])
        );
        assert_eq!(
            thirtieth.dates_between(day("2028-02-01"), day("2028-02-29")),
            days(&["2028-02-29"])
        );
    }

    /// C08: stored as an RRULE, month ends use BYMONTHDAY=-1 or BYSETPOS, never 31 alone.
    #[test]
    fn c08_rrules_do_not_skip_short_months() {
        let last = schedule("2026-01-31", Recurrence::MonthlyLastDay);
        assert_eq!(last.to_rrule(), "FREQ=MONTHLY;BYMONTHDAY=-1");
        let thirty = schedule("2026-01-30", Recurrence::MonthlyOnDay { day: 30 });
        assert_eq!(
            thirty.to_rrule(),
            "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1"
        );
        let first = schedule("2026-01-01", Recurrence::MonthlyOnDay { day: 1 });
        assert_eq!(first.to_rrule(), "FREQ=MONTHLY;BYMONTHDAY=1");
    }

    /// C09: the 2nd Tuesday, including months starting on a Wednesday (Apr, Jul 2026) and
    /// on a Tuesday (Sep, Dec 2026).
    #[test]
    fn c09_second_tuesday_of_the_month() {
        let second_tuesday = schedule(
            "2026-01-13",
            Recurrence::MonthlyNthWeekday {
                nth: 2,
                weekday: Weekday::Tue,
            },
        );
        let all = second_tuesday.dates_between(day("2026-01-01"), day("2026-12-31"));
        for expected in [
            "2026-01-13",
            "2026-02-10",
            "2026-03-10",
            "2026-04-14",
            "2026-07-14",
            "2026-09-08",
            "2026-12-08",
        ] {
            assert!(
                all.contains(&day(expected)),
                "{expected} missing from {all:?}"
            );
        }
        assert_eq!(all.len(), 12);
        assert_eq!(second_tuesday.to_rrule(), "FREQ=MONTHLY;BYDAY=2TU");
    }

    /// C09: a 5th Tuesday is skipped in months that have only four (documented choice).
    #[test]
    fn c09_fifth_tuesday_skips_short_months() {
        let fifth = schedule(
            "2026-03-31",
            Recurrence::MonthlyNthWeekday {
                nth: 5,
                weekday: Weekday::Tue,
            },
        );
        assert_eq!(
            fifth.dates_between(day("2026-03-01"), day("2026-12-31")),
            days(&["2026-03-31", "2026-06-30", "2026-09-29", "2026-12-29"])
        );
        let last = schedule(
            "2026-03-31",
            Recurrence::MonthlyLastWeekday {
                weekday: Weekday::Tue,
            },
        );
        assert_eq!(
            last.dates_between(day("2026-04-01"), day("2026-05-31")),
            days(&["2026-04-28", "2026-05-26"])
        );
    }

    /// C10: every other Tuesday counts from the first date, across a 53-week ISO year.
    #[test]
    fn c10_every_other_tuesday_from_the_first_date() {
        let fortnightly = schedule(
            "2026-12-22",
            Recurrence::Weekly {
                interval: 2,
                weekday: Weekday::Tue,
            },
        );
        assert_eq!(
            fortnightly.dates_between(day("2026-12-01"), day("2027-02-02")),
            days(&["2026-12-22", "2027-01-05", "2027-01-19", "2027-02-02"])
        );
        assert_eq!(
            fortnightly.dates_between(day("2027-01-06"), day("2027-01-31")),
            days(&["2027-01-19"]),
            "a window that starts mid-cycle keeps the phase"
        );
    }

    /// C10: "every other Thursday, starting this week" saved on Sunday 2026-06-14 starts on
    /// 2026-06-18, and saving twice changes nothing.
    #[test]
    fn c10_created_on_a_sunday_starts_that_week() {
        let rule = Recurrence::Weekly {
            interval: 2,
            weekday: Weekday::Thu,
        };
        let saved = schedule("2026-06-14", rule.clone());
        let again = schedule("2026-06-14", rule);
        let dates = saved.dates_between(day("2026-06-01"), day("2026-07-31"));
        assert_eq!(
            dates,
            days(&["2026-06-18", "2026-07-02", "2026-07-16", "2026-07-30"])
        );
        assert_eq!(
            dates,
            again.dates_between(day("2026-06-01"), day("2026-07-31"))
        );
    }

    /// "Every 2nd Tuesday" and "the 2nd Tuesday of the month" are different rules.
    #[test]
    fn the_two_meanings_of_second_tuesday_differ() {
        let weekly = schedule(
            "2026-04-14",
            Recurrence::Weekly {
                interval: 2,
                weekday: Weekday::Tue,
            },
        );
        let monthly = schedule(
            "2026-04-14",
            Recurrence::MonthlyNthWeekday {
                nth: 2,
                weekday: Weekday::Tue,
            },
        );
        let (from, to) = (day("2026-04-01"), day("2026-05-31"));
        assert_ne!(
            weekly.dates_between(from, to),
            monthly.dates_between(from, to)
        );
        assert_eq!(weekly.to_rrule(), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU");
    }

    #[test]
    fn schedules_end_and_refuse_bad_numbers() {
        let ending = Schedule::new(
            day("2026-01-01"),
            Some(day("2026-03-15")),
            Recurrence::MonthlyOnDay { day: 1 },
        )
        .expect("valid");
        assert_eq!(
            ending.dates_between(day("2025-01-01"), day("2026-12-31")),
            days(&["2026-01-01", "2026-02-01", "2026-03-01"])
        );
        assert_eq!(
            ending.to_rrule(),
            "FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20260315"
        );
        assert!(
            Schedule::new(day("2026-01-01"), None, Recurrence::MonthlyOnDay { day: 0 }).is_err()
        );
        let bad_week = Recurrence::MonthlyNthWeekday {
            nth: 6,
            weekday: Weekday::Mon,
        };
        assert!(Schedule::new(day("2026-01-01"), None, bad_week).is_err());
        let bad_interval = Recurrence::Weekly {
            interval: 0,
            weekday: Weekday::Mon,
        };
        assert!(Schedule::new(day("2026-01-01"), None, bad_interval).is_err());
        let backwards = Schedule::new(
            day("2026-02-01"),
            Some(day("2026-01-01")),
            Recurrence::MonthlyLastDay,
        );
        assert!(backwards.is_err());
    }
}
