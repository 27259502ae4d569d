//! RFC 5545 recurrence rules (`RRULE`) for whole-day schedules.
//!
//! Back offices send the schedules of recurring jobs' fixed invoices as RRULE text: "the 1st
//! of each month", "the 2nd Tuesday", "every other Tuesday", or anything else RFC 5545 allows.
//! [`RRule::parse`] checks such text once and says what is wrong in words an API caller can
//! act on; [`RRule::occurrences`] lists the dates a rule gives between two dates.
//!
//! Everything here is a calendar date. There are no clocks or time zones, so sub-daily rules
//! (`FREQ=HOURLY`, `BYHOUR`, ...) are refused rather than quietly rounded to days.
//!
//! Expansion follows the table in RFC 5545 section 3.3.10 by testing every day of a FREQ
//! period against every BYxxx part. For whole days an "expand" part and a "limit" part both
//! come down to "the day must match"; the period only gives a day its context (the month a
//! `2TU` is counted in, the week-numbering year a `BYWEEKNO` is counted in). BYSETPOS then
//! picks from the period's matching days, in date order.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// The first DTSTART and the last date there are: RFC 5545 writes four-digit years, and the
/// bound keeps every walk finite.
const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(1, 1, 1).expect("0001-01-01 is a date");
const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("9999-12-31 is a date");

/// The rule parts there are, in the canonical order `Display` writes them.
const PARTS: &str =
    "FREQ INTERVAL BYMONTH BYWEEKNO BYYEARDAY BYMONTHDAY BYDAY BYSETPOS WKST COUNT UNTIL";

/// Weekday codes, from Monday, as `Weekday::num_days_from_monday` counts.
const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// How often a rule's periods come round. Sub-daily frequencies are refused when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"][*self as usize];
        f.write_str(name)
    }
}

/// One BYDAY entry: a weekday, with a signed ordinal when it means "the 2nd one" (`2TU`) or
/// "the last one" (`-1FR`) of the month or year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByDay {
    pub nth: Option<i32>,
    pub weekday: Weekday,
}

impl fmt::Display for ByDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = WEEKDAYS[self.weekday.num_days_from_monday() as usize];
        match self.nth {
            Some(nth) => write!(f, "{nth}{code}"),
            None => f.write_str(code),
        }
    }
}

/// Why RRULE text was refused. The messages are meant to be shown to API callers as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RRuleError {
    #[error("the rule has no FREQ part")]
    MissingFreq,
    #[error("`{0}` is not a NAME=VALUE rule part")]
    Malformed(String),
    #[error("`{0}` is not a rule part this service knows")]
    UnknownPart(String),
    #[error("{0} is given more than once")]
    Repeated(&'static str),
    #[error("{0} has an empty value")]
    EmptyValue(&'static str),
    #[error("COUNT and UNTIL cannot be used together")]
    CountAndUntil,
    #[error("{0} is not supported: schedules are whole days")]
    NotWholeDays(String),
    /// The part, and the value as given.
    #[error("`{1}` is not a valid {0} value")]
    InvalidValue(&'static str, String),
    /// The part, the value as given, and what is allowed.
    #[error("{0} value {1} is out of range (allowed: {2})")]
    OutOfRange(&'static str, String, String),
    #[error("INTERVAL must be at least 1")]
    ZeroInterval,
    /// The BYDAY entry, and when ordinals are not allowed.
    #[error("BYDAY {0} cannot have a number {1}")]
    OrdinalNotAllowed(String, &'static str),
    #[error("{0} cannot be used with FREQ={1}")]
    NotWithFreq(&'static str, Frequency),
    #[error("BYSETPOS needs another BY part to pick from")]
    SetPosAlone,
    #[error("the rule can never give a date: {0}")]
    NeverOccurs(&'static str),
}

/// A parsed RFC 5545 recurrence rule for whole days.
///
/// [`RRule::parse`] checks the rule and sorts its lists and drops duplicates from them, so
/// two texts meaning the same rule compare equal, and `Display` writes canonical text that
/// parses back to the same value. A value built by hand skips those checks; it still expands
/// safely (a zero interval counts as 1, numbers out of range match nothing), but it may not
/// be valid RFC 5545 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRule {
    pub freq: Frequency,
    /// 1 unless given.
    pub interval: u32,
    pub count: Option<u32>,
    /// UNTIL's date; a time of day given with it is checked and dropped.
    pub until: Option<NaiveDate>,
    pub by_day: Vec<ByDay>,
    /// Days of the month, negative from the end (-1 is the last).
    pub by_month_day: Vec<i32>,
    pub by_month: Vec<i32>,
    pub by_year_day: Vec<i32>,
    pub by_week_no: Vec<i32>,
    pub by_set_pos: Vec<i32>,
    /// The day weeks start on, Monday unless given.
    pub wkst: Weekday,
}

/// Stored and sent as its canonical text, so what a back office reads back is RFC 5545.
impl serde::Serialize for RRule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RRule::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl RRule {
    /// At most one date in any calendar month, so a month names each invoice's period.
    pub fn is_at_most_monthly(&self) -> bool {
        let one_day = match (
            self.by_set_pos.len(),
            self.by_month_day.len(),
            self.by_day.len(),
        ) {
            (1, _, _) => true,
            (0, 0, 0) => true,
            (0, 1, 0) => true,
            (0, 0, 1) => self.by_day[0].nth.is_some(),
            _ => false,
        };
        matches!(self.freq, Frequency::Monthly | Frequency::Yearly)
            && self.by_week_no.is_empty()
            && self.by_year_day.is_empty()
            && one_day
    }

    /// Parses RRULE text: an optional `RRULE:` prefix, then `NAME=VALUE` parts separated by
    /// `;`, in any order and any case, with spaces around anything ignored.
    pub fn parse(text: &str) -> Result<Self, RRuleError> {
        use RRuleError::*;
        let text = text.trim().to_ascii_uppercase();
        let body = text.strip_prefix("RRULE:").unwrap_or(&text);
        let mut raw: Vec<(&'static str, &str)> = Vec::new();
        let parts = body.split(';').map(str::trim);
        for part in parts.filter(|part| !part.is_empty()) {
            let (name, value) = part.split_once('=').ok_or(Malformed(part.to_owned()))?;
            let (name, value) = (name.trim(), value.trim());
            let Some(known) = PARTS.split(' ').find(|known| *known == name) else {
                let sub_daily = matches!(name, "BYHOUR" | "BYMINUTE" | "BYSECOND");
                let error: fn(String) -> _ = if sub_daily { NotWholeDays } else { UnknownPart };
                return Err(error(name.to_owned()));
            };
            if raw.iter().any(|(seen, _)| *seen == known) {
                return Err(Repeated(known));
            }
            if value.is_empty() {
                return Err(EmptyValue(known));
            }
            raw.push((known, value));
        }
        let get = |part: &str| raw.iter().find(|(name, _)| *name == part).map(|(_, v)| *v);
        let numbers = |part, max, signed| numbers(part, get(part), max, signed);
        let whole = |part| {
            let number = |v| ranged(part, v, u32::MAX.into(), false).map(|n| n as u32);
            get(part).map(number).transpose()
        };
        let freq = match get("FREQ").ok_or(MissingFreq)? {
            "DAILY" => Frequency::Daily,
            "WEEKLY" => Frequency::Weekly,
            "MONTHLY" => Frequency::Monthly,
            "YEARLY" => Frequency::Yearly,
            sub @ ("HOURLY" | "MINUTELY" | "SECONDLY") => {
                return Err(NotWholeDays(format!("FREQ={sub}")));
            }
            other => return Err(InvalidValue("FREQ", other.to_owned())),
        };
        if get("INTERVAL").is_some_and(|v| number("INTERVAL", v, false) == Ok(0)) {
            return Err(ZeroInterval);
        }
        let mut by_day = list("BYDAY", get("BYDAY"), parse_by_day)?;
        by_day.sort_by_key(|d| (d.weekday.num_days_from_monday(), d.nth));
        by_day.dedup();
        let rule = RRule {
            freq,
            interval: whole("INTERVAL")?.unwrap_or(1),
            count: whole("COUNT")?,
            until: get("UNTIL").map(parse_until).transpose()?,
            by_day,
            by_month_day: numbers("BYMONTHDAY", 31, true)?,
            by_month: numbers("BYMONTH", 12, false)?,
            by_year_day: numbers("BYYEARDAY", 366, true)?,
            by_week_no: numbers("BYWEEKNO", 53, true)?,
            by_set_pos: numbers("BYSETPOS", 366, true)?,
            wkst: get("WKST").map_or(Ok(Weekday::Mon), |v| weekday("WKST", v))?,
        };
        rule.check()?;
        Ok(rule)
    }

    /// The checks that involve more than one part, each refusing what RFC 5545 forbids or
    /// what could never give a date.
    fn check(&self) -> Result<(), RRuleError> {
        use Frequency::*;
        use RRuleError::*;
        if self.count.is_some() && self.until.is_some() {
            return Err(CountAndUntil);
        }
        if self.freq == Weekly && !self.by_month_day.is_empty() {
            return Err(NotWithFreq("BYMONTHDAY", self.freq));
        }
        for (part, list) in [
            ("BYYEARDAY", &self.by_year_day),
            ("BYWEEKNO", &self.by_week_no),
        ] {
            if self.freq != Yearly && !list.is_empty() {
                return Err(NotWithFreq(part, self.freq));
            }
        }
        let in_month = self.freq == Monthly || !self.by_month.is_empty();
        let ordinals = self
            .by_day
            .iter()
            .filter_map(|d| Some((d.to_string(), d.nth?)));
        for (entry, nth) in ordinals {
            if matches!(self.freq, Daily | Weekly) {
                return Err(OrdinalNotAllowed(entry, "unless FREQ is MONTHLY or YEARLY"));
            }
            if !self.by_week_no.is_empty() {
                return Err(OrdinalNotAllowed(entry, "together with BYWEEKNO"));
            }
            if in_month && nth.abs() > 5 {
                let allowed = "1 to 5 or -5 to -1 within a month".to_owned();
                return Err(OutOfRange("BYDAY", entry, allowed));
            }
        }
        let lists = [
            &self.by_month_day,
            &self.by_month,
            &self.by_year_day,
            &self.by_week_no,
        ];
        let nothing_to_pick = self.by_day.is_empty() && lists.iter().all(|l| l.is_empty());
        if !self.by_set_pos.is_empty() && nothing_to_pick {
            return Err(SetPosAlone);
        }
        // BYMONTH, BYMONTHDAY and BYYEARDAY depend only on the month, the day and whether the
        // year is a leap year, so one common and one leap year decide exactly whether any day
        // can pass them together (`BYMONTH=2;BYMONTHDAY=30` and `BYMONTH=1;BYYEARDAY=-1` fail).
        let mut sample = (2023..=2024).filter_map(|year| NaiveDate::from_yo_opt(year, 1));
        if !sample.any(|jan1| jan1.iter_days().take(366).any(|d| self.date_parts_match(d))) {
            return Err(NeverOccurs(
                "no day matches BYMONTH, BYMONTHDAY and BYYEARDAY",
            ));
        }
        let most = [1, 7, 31, if self.by_week_no.is_empty() { 366 } else { 371 }];
        if !self.by_set_pos.is_empty()
            && (self.by_set_pos.iter()).all(|n| n.abs() > most[self.freq as usize])
        {
            return Err(NeverOccurs("BYSETPOS asks for more days than a period has"));
        }
        Ok(())
    }

    /// Every date of the recurrence set starting at `dtstart`, from `from` through `to` (both
    /// included), in order.
    ///
    /// COUNT is counted from `dtstart` over the whole set, not from `from`; UNTIL is included.
    /// A `dtstart` the rule does not match is not an occurrence and does not count towards
    /// COUNT: RFC 5545 leaves an unsynchronised DTSTART undefined, python-dateutil skips it,
    /// and a schedule must never invoice on a day its rule does not name. Dates that do not
    /// exist (Feb 30, a missing 5th Tuesday) are skipped, as RFC 5545 says.
    ///
    /// Only years 1 to 9999 are walked: a `dtstart` outside them gives nothing, nor does any
    /// date after 9999-12-31. Without COUNT the walk starts near `from` instead of at
    /// `dtstart`, and it gives up after a full 400-year calendar cycle of empty periods, after
    /// which a rule can never give a date again.
    pub fn occurrences(
        &self,
        dtstart: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<NaiveDate> {
        let mut dates = Vec::new();
        self.walk(dtstart, from, to, |day| {
            dates.push(day);
            true
        });
        dates
    }

    /// The first date of the recurrence set on or after `day`, if any (see
    /// [`RRule::occurrences`]).
    pub fn next_on_or_after(&self, dtstart: NaiveDate, day: NaiveDate) -> Option<NaiveDate> {
        let mut next = None;
        self.walk(dtstart, day, LAST_DAY, |found| {
            next = Some(found);
            false
        });
        next
    }

    /// Hands each date of the set from `from` through `to` to `emit` until it returns false.
    fn walk(
        &self,
        dtstart: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
        mut emit: impl FnMut(NaiveDate) -> bool,
    ) {
        let last = self.until.map_or(to, |until| until.min(to)).min(LAST_DAY);
        if !(FIRST_DAY..=LAST_DAY).contains(&dtstart) || from > last {
            return;
        }
        let rule = self.with_defaults(dtstart);
        let mut left = self.count;
        let mut days = Vec::with_capacity(32);
        let mut empty_periods = 0;
        let mut k = self.first_period(dtstart, from);
        while let Some((start, end)) = self.period(dtstart, k) {
            if start > last || empty_periods >= self.cycle_periods() {
                return;
            }
            days.clear();
            let in_period = start.iter_days().take_while(|day| *day <= end);
            days.extend(in_period.filter(|day| rule.matches(*day, start, end)));
            let picked = (0..days.len()).filter(|i| rule.picks(*i, days.len()));
            let mut picked = picked.map(|i| days[i]).peekable();
            let found = picked.peek().is_some();
            empty_periods = if found { 0 } else { empty_periods + 1 };
            for day in picked.filter(|day| *day >= dtstart) {
                if day > last || left == Some(0) {
                    return;
                }
                left = left.map(|n| n - 1);
                if day >= from && !emit(day) {
                    return;
                }
            }
            k += 1;
        }
    }

    /// The rule with the parts RFC 5545 takes from DTSTART when a rule leaves them out ("the
    /// day is gotten from DTSTART"): its weekday for WEEKLY, its day of the month for MONTHLY,
    /// its month and day for YEARLY.
    fn with_defaults(&self, dtstart: NaiveDate) -> RRule {
        let mut rule = self.clone();
        let (no_day, no_month_day) = (self.by_day.is_empty(), self.by_month_day.is_empty());
        let no_year_parts = self.by_year_day.is_empty() && self.by_week_no.is_empty();
        match self.freq {
            Frequency::Weekly if no_day => {
                let weekday = dtstart.weekday();
                rule.by_day = vec![ByDay { nth: None, weekday }];
            }
            Frequency::Monthly if no_day && no_month_day => {
                rule.by_month_day = vec![dtstart.day() as i32];
            }
            Frequency::Yearly if no_day && no_month_day && no_year_parts => {
                rule.by_month_day = vec![dtstart.day() as i32];
                if self.by_month.is_empty() {
                    rule.by_month = vec![dtstart.month() as i32];
                }
            }
            _ => {}
        }
        rule
    }

    /// The first and last day of the `k`-th period from DTSTART's, or None past chrono's
    /// dates. A YEARLY rule with BYWEEKNO walks week-numbering years, since week 1 may start
    /// in December and the last week end in January.
    fn period(&self, dtstart: NaiveDate, k: u64) -> Option<(NaiveDate, NaiveDate)> {
        let step = k.checked_mul(u64::from(self.interval.max(1)))?;
        let add = |day: NaiveDate, days: u64| day.checked_add_days(Days::new(days));
        match self.freq {
            Frequency::Daily => add(dtstart, step).map(|day| (day, day)),
            Frequency::Weekly => {
                let back = Days::new(dtstart.weekday().days_since(self.wkst).into());
                let start = add(dtstart.checked_sub_days(back)?, step.checked_mul(7)?)?;
                Some((start, add(start, 6)?))
            }
            Frequency::Monthly => {
                let index = month_index(dtstart).checked_add(i64::try_from(step).ok()?)?;
                let year = i32::try_from(index.div_euclid(12)).ok()?;
                let first = NaiveDate::from_ymd_opt(year, index.rem_euclid(12) as u32 + 1, 1)?;
                Some((first, first.checked_add_months(Months::new(1))?.pred_opt()?))
            }
            Frequency::Yearly => {
                let year = i64::from(dtstart.year()).checked_add(i64::try_from(step).ok()?)?;
                let year = i32::try_from(year).ok()?;
                if self.by_week_no.is_empty() {
                    let first = NaiveDate::from_ymd_opt(year, 1, 1)?;
                    return Some((first, NaiveDate::from_ymd_opt(year, 12, 31)?));
                }
                let next = week_one(year.checked_add(1)?, self.wkst)?;
                Some((week_one(year, self.wkst)?, next.pred_opt()?))
            }
        }
    }

    /// The period to start walking at: DTSTART's when COUNT must be counted from it, else one
    /// at or a little before the period holding `from`, so far windows need no long walk.
    fn first_period(&self, dtstart: NaiveDate, from: NaiveDate) -> u64 {
        if self.count.is_some() || from <= dtstart {
            return 0;
        }
        let units = match self.freq {
            Frequency::Daily => (from - dtstart).num_days(),
            // From DTSTART rather than its week's start: at most one week early.
            Frequency::Weekly => (from - dtstart).num_days() / 7,
            Frequency::Monthly => month_index(from) - month_index(dtstart),
            Frequency::Yearly => i64::from(from.year() - dtstart.year()),
        };
        // One more period early: a BYWEEKNO year can start before its calendar year.
        u64::try_from(units / i64::from(self.interval.max(1)) - 1).unwrap_or(0)
    }

    /// How many empty periods in a row prove that a rule is empty for good. The Gregorian
    /// calendar repeats every 400 years (146097 days, a whole number of weeks), every test of
    /// a day depends only on where it sits in that cycle, and `k * INTERVAL` comes back to the
    /// same place in it within this many periods.
    fn cycle_periods(&self) -> u32 {
        [146_097, 20_871, 4_800, 400][self.freq as usize]
    }

    /// Whether `day`, in the period from `start` to `end`, passes every part but BYSETPOS.
    fn matches(&self, day: NaiveDate, start: NaiveDate, end: NaiveDate) -> bool {
        // Only a YEARLY period has weeks to number: it then runs from week 1 to the last week.
        let weeks = ((end - start).num_days() / 7 + 1) as i32;
        let week = ((day - start).num_days() / 7 + 1) as i32;
        self.date_parts_match(day)
            && any_or_none(&self.by_week_no, |&n| counts_to(n, week, weeks))
            && any_or_none(&self.by_day, |entry| self.is(*entry, day))
    }

    /// Whether `day` passes BYMONTH, BYMONTHDAY and BYYEARDAY, which need only the date.
    fn date_parts_match(&self, day: NaiveDate) -> bool {
        let (month_day, year_day) = (day.day() as i32, day.ordinal() as i32);
        let (in_month, in_year) = (month_len(day), year_len(day));
        any_or_none(&self.by_month, |&month| month == day.month() as i32)
            && any_or_none(&self.by_month_day, |&n| counts_to(n, month_day, in_month))
            && any_or_none(&self.by_year_day, |&n| counts_to(n, year_day, in_year))
    }

    /// Whether `day` is the BYDAY entry's weekday and, with an ordinal, the right one of it:
    /// counted in the month for MONTHLY and for YEARLY with BYMONTH, else in the year.
    fn is(&self, entry: ByDay, day: NaiveDate) -> bool {
        let Some(nth) = entry.nth else {
            return entry.weekday == day.weekday();
        };
        let (index, len) = if self.freq == Frequency::Monthly || !self.by_month.is_empty() {
            (day.day() as i32, month_len(day))
        } else {
            (day.ordinal() as i32, year_len(day))
        };
        let (from_start, from_end) = ((index - 1) / 7 + 1, (len - index) / 7 + 1);
        entry.weekday == day.weekday() && (nth == from_start || nth == -from_end)
    }

    /// Whether BYSETPOS keeps the `i`-th (from 0) of a period's `len` matching days.
    fn picks(&self, i: usize, len: usize) -> bool {
        let (index, len) = (i as i32 + 1, len as i32);
        any_or_none(&self.by_set_pos, |&n| counts_to(n, index, len))
    }
}

impl fmt::Display for RRule {
    /// The canonical text: the parts in `PARTS` order, without INTERVAL=1 and WKST=MO, which
    /// are the defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn items<T: fmt::Display>(f: &mut fmt::Formatter, name: &str, list: &[T]) -> fmt::Result {
            for (i, item) in list.iter().enumerate() {
                f.write_str(if i == 0 { ";" } else { "," })?;
                if i == 0 {
                    write!(f, "{name}=")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        write!(f, "FREQ={}", self.freq)?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        items(f, "BYMONTH", &self.by_month)?;
        items(f, "BYWEEKNO", &self.by_week_no)?;
        items(f, "BYYEARDAY", &self.by_year_day)?;
        items(f, "BYMONTHDAY", &self.by_month_day)?;
        items(f, "BYDAY", &self.by_day)?;
        items(f, "BYSETPOS", &self.by_set_pos)?;
        if self.wkst != Weekday::Mon {
            let wkst = WEEKDAYS[self.wkst.num_days_from_monday() as usize];
            write!(f, ";WKST={wkst}")?;
        }
        if let Some(count) = self.count {
            write!(f, ";COUNT={count}")?;
        }
        match self.until {
            Some(until) => write!(f, ";UNTIL={}", until.format("%Y%m%d")),
            None => Ok(()),
        }
    }
}

/// Whether a list is empty (the part is not given) or one of its items passes.
fn any_or_none<T>(list: &[T], pass: impl FnMut(&T) -> bool) -> bool {
    list.is_empty() || list.iter().any(pass)
}

/// Whether a 1-based `index` in a run of `len` is the rule's `n`, counted back from the end
/// when `n` is negative (`-1` is the last).
fn counts_to(n: i32, index: i32, len: i32) -> bool {
    n == index || (n < 0 && len + 1 + n == index)
}

/// Reads a whole number, with a sign only where the part allows one (`-1` = "the last").
fn number(part: &'static str, text: &str, signed: bool) -> Result<i64, RRuleError> {
    let digits = text
        .strip_prefix(['+', '-'])
        .filter(|_| signed)
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RRuleError::InvalidValue(part, text.to_owned()));
    }
    // Only all-digit text gets here, so a failure is an overflow: far out of any range.
    let size = digits.parse::<i64>().unwrap_or(i64::MAX);
    Ok(if text.starts_with('-') { -size } else { size })
}

/// Checks that `n`, read from `text`, is 1 to `max`, or -`max` to -1 where negatives count
/// from the end.
fn within(
    part: &'static str,
    text: &str,
    n: i64,
    max: i64,
    signed: bool,
) -> Result<i64, RRuleError> {
    if n != 0 && n.abs() <= max {
        return Ok(n);
    }
    let mut allowed = format!("1 to {max}");
    if signed {
        allowed += &format!(" or -{max} to -1");
    }
    Err(RRuleError::OutOfRange(part, text.to_owned(), allowed))
}

fn ranged(part: &'static str, text: &str, max: i64, signed: bool) -> Result<i64, RRuleError> {
    within(part, text, number(part, text, signed)?, max, signed)
}

/// Splits a comma-separated value, refusing empty items (`BYDAY=MO,`).
fn list<T>(
    part: &'static str,
    value: Option<&str>,
    item: impl Fn(&str) -> Result<T, RRuleError>,
) -> Result<Vec<T>, RRuleError> {
    let items = value
        .into_iter()
        .flat_map(|value| value.split(',').map(str::trim));
    let item = |text: &str| {
        if text.is_empty() {
            Err(RRuleError::EmptyValue(part))
        } else {
            item(text)
        }
    };
    items.map(item).collect()
}

/// A list of numbers in range, sorted and without duplicates.
fn numbers(
    part: &'static str,
    value: Option<&str>,
    max: i64,
    signed: bool,
) -> Result<Vec<i32>, RRuleError> {
    let number = |text: &str| Ok(ranged(part, text, max, signed)? as i32);
    let mut numbers = list(part, value, number)?;
    numbers.sort_unstable();
    numbers.dedup();
    Ok(numbers)
}

fn weekday(part: &'static str, text: &str) -> Result<Weekday, RRuleError> {
    let index = WEEKDAYS.iter().position(|code| *code == text);
    let weekday = index.and_then(|i| Weekday::try_from(i as u8).ok());
    weekday.ok_or_else(|| RRuleError::InvalidValue(part, text.to_owned()))
}

/// One BYDAY entry: a weekday code after an optional signed ordinal (`MO`, `2TU`, `-1FR`).
fn parse_by_day(text: &str) -> Result<ByDay, RRuleError> {
    let invalid = || RRuleError::InvalidValue("BYDAY", text.to_owned());
    let split = text
        .len()
        .checked_sub(2)
        .filter(|at| text.is_char_boundary(*at));
    let split = split.ok_or_else(invalid)?;
    let (nth, code) = text.split_at(split);
    let weekday = weekday("BYDAY", code).map_err(|_| invalid())?;
    if nth.is_empty() {
        return Ok(ByDay { nth: None, weekday });
    }
    let nth = number("BYDAY", nth, true).map_err(|_| invalid())?;
    let nth = Some(within("BYDAY", text, nth, 53, true)? as i32);
    Ok(ByDay { nth, weekday })
}

/// UNTIL as a date: `YYYYMMDD`, or `YYYYMMDDTHHMMSS` with an optional `Z`, whose time of day
/// is checked and then dropped, since a whole-day schedule's last day is a date.
fn parse_until(text: &str) -> Result<NaiveDate, RRuleError> {
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    let value = |s: &str| s.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0'));
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z').unwrap_or(time))),
        None => (text, None),
    };
    let time_ok = |t: &str| {
        digits(t, 6) && value(&t[..2]) <= 23 && value(&t[2..4]) <= 59 && value(&t[4..]) <= 60
    };
    let date = (digits(date, 8) && time.is_none_or(time_ok)).then_some(date);
    let day = date.and_then(|d| {
        NaiveDate::from_ymd_opt(value(&d[..4]) as i32, value(&d[4..6]), value(&d[6..]))
    });
    day.ok_or_else(|| RRuleError::InvalidValue("UNTIL", text.to_owned()))
}

fn month_index(day: NaiveDate) -> i64 {
    i64::from(day.year()) * 12 + i64::from(day.month0())
}

fn month_len(day: NaiveDate) -> i32 {
    match day.month() {
        2 if day.leap_year() => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn year_len(day: NaiveDate) -> i32 {
    if day.leap_year() { 366 } else { 365 }
}

/// The first day of week 1 of `year` for weeks starting on `wkst`: the first week with at
/// least four days in the year (RFC 5545's rule, ISO 8601's with a movable week start).
fn week_one(year: i32, wkst: Weekday) -> Option<NaiveDate> {
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)?;
    let into_week = jan1.weekday().days_since(wkst);
    if into_week <= 3 {
        jan1.checked_sub_days(Days::new(into_week.into()))
    } else {
        jan1.checked_add_days(Days::new((7 - into_week).into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Recurrence, Schedule};
    use proptest::{option, prelude::*};

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y%m%d").expect("test dates are valid")
    }

    /// Dates written compactly: `19970902,04 19971002` is Sep 2 and 4 and Oct 2, 1997.
    fn dates(spec: &str) -> Vec<NaiveDate> {
        let mut dates = Vec::new();
        for group in spec.split_whitespace() {
            let mut parts = group.split(',');
            let first = day(parts.next().expect("a group starts with a date"));
            dates.push(first);
            let days = parts.map(|d| first.with_day(d.parse().expect("a day")));
            dates.extend(days.map(|d| d.expect("a valid date")));
        }
        dates
    }

    fn rule(text: &str) -> RRule {
        RRule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn weekday(n: u8) -> Weekday {
        Weekday::try_from(n % 7).expect("0 to 6 are weekdays")
    }

    /// Checks a table of cases, each a line `RULE DTSTART FROM..TO` (no FROM: DTSTART's),
    /// then the dates expected from FROM through TO. Returns the rules checked.
    fn check(table: &'static str) -> Vec<&'static str> {
        let mut cases: Vec<(Vec<&str>, String)> = Vec::new();
        for line in table.lines().map(str::trim).filter(|line| !line.is_empty()) {
            match cases.last_mut() {
                Some((_, dates)) if !line.starts_with("FREQ") => *dates += &format!(" {line}"),
                _ => {
                    let mut words = line.split_whitespace();
                    let head = words.by_ref().take(3).collect();
                    cases.push((head, words.collect::<Vec<_>>().join(" ")));
                }
            }
        }
        for (head, expected) in &cases {
            let [text, dtstart, window] = head[..] else {
                panic!("bad case {head:?}")
            };
            let (from, to) = window.split_once("..").expect("FROM..TO");
            let from = if from.is_empty() { dtstart } else { from };
            let got = rule(text).occurrences(day(dtstart), day(from), day(to));
            assert_eq!(got, dates(expected), "{text} from {dtstart}, {window}");
        }
        cases.into_iter().map(|(head, _)| head[0]).collect()
    }

    /// RFC 5545 section 3.8.5.3's examples with a whole-day meaning, with the RFC's dates.
    /// One ends on Dec 23 here instead of its `UNTIL=19971224T000000Z`: that is before its
    /// 9:00 DTSTART time on Dec 24, but a whole-day UNTIL keeps Dec 24 itself (as it would
    /// in "weekly on TU,TH for five weeks", which is tested in its COUNT form).
    const RFC_EXAMPLES: &str = "
        FREQ=DAILY;COUNT=10 19970902 ..20991231
            19970902,03,04,05,06,07,08,09,10,11
        FREQ=DAILY;INTERVAL=2 19970902 ..19971203
            19970902,04,06,08,10,12,14,16,18,20,22,24,26,28,30
            19971002,04,06,08,10,12,14,16,18,20,22,24,26,28,30
            19971101,03,05,07,09,11,13,15,17,19,21,23,25,27,29 19971201,03
        FREQ=DAILY;INTERVAL=10;COUNT=5 19970902 ..20991231 19970902,12,22 19971002,12
        FREQ=WEEKLY;COUNT=10 19970902 ..20991231 19970902,09,16,23,30 19971007,14,21,28 19971104
        FREQ=WEEKLY;UNTIL=19971224T000000Z 19970902 ..20991231
            19970902,09,16,23,30 19971007,14,21,28 19971104,11,18,25 19971202,09,16,23
        FREQ=WEEKLY;INTERVAL=2;WKST=SU 19970902 ..19980217
            19970902,16,30 19971014,28 19971111,25 19971209,23 19980106,20 19980203,17
        FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH 19970902 ..20991231
            19970902,04,09,11,16,18,23,25,30 19971002
        FREQ=WEEKLY;INTERVAL=2;UNTIL=19971223;WKST=SU;BYDAY=MO,WE,FR 19970901 ..20991231
            19970901,03,05,15,17,19,29 19971001,03,13,15,17,27,29,31
            19971110,12,14,24,26,28 19971208,10,12,22
        FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH 19970902 ..20991231
            19970902,04,16,18,30 19971002,14,16
        FREQ=MONTHLY;COUNT=10;BYDAY=1FR 19970905 ..20991231
            19970905 19971003 19971107 19971205 19980102 19980206 19980306 19980403
            19980501 19980605
        FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=1FR 19970905 ..20991231
            19970905 19971003 19971107 19971205
        FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU 19970907 ..20991231
            19970907,28 19971102,30 19980104,25 19980301,29 19980503,31
        FREQ=MONTHLY;COUNT=6;BYDAY=-2MO 19970922 ..20991231
            19970922 19971020 19971117 19971222 19980119 19980216
        FREQ=MONTHLY;BYMONTHDAY=-3 19970928 ..19980226
            19970928 19971029 19971128 19971229 19980129 19980226
        FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15 19970902 ..20991231
            19970902,15 19971002,15 19971102,15 19971202,15 19980102,15
        FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1 19970930 ..20991231
            19970930 19971001,31 19971101,30 19971201,31 19980101,31 19980201
        FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15 19970910 ..20991231
            19970910,11,12,13,14,15 19990310,11,12,13
        FREQ=MONTHLY;INTERVAL=2;BYDAY=TU 19970902 ..19980331
            19970902,09,16,23,30 19971104,11,18,25 19980106,13,20,27 19980303,10,17,24,31
        FREQ=YEARLY;COUNT=10;BYMONTH=6,7 19970610 ..20991231
            19970610 19970710 19980610 19980710 19990610 19990710 20000610 20000710
            20010610 20010710
        FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3 19970310 ..20991231
            19970310 19990110 19990210 19990310 20010110 20010210 20010310 20030110
            20030210 20030310
        FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200 19970101 ..20991231
            19970101 19970410 19970719 20000101 20000409 20000718 20030101 20030410
            20030719 20060101
        FREQ=YEARLY;BYDAY=20MO 19970519 ..19991231 19970519 19980518 19990517
        FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO 19970512 ..19991231 19970512 19980511 19990517
        FREQ=YEARLY;BYMONTH=3;BYDAY=TH 19970313 ..19991231
            19970313,20,27 19980305,12,19,26 19990304,11,18,25
        FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8 19970605 ..19991231
            19970605,12,19,26 19970703,10,17,24,31 19970807,14,21,28
            19980604,11,18,25 19980702,09,16,23,30 19980806,13,20,27
            19990603,10,17,24 19990701,08,15,22,29 19990805,12,19,26
        FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13 19970902 ..20001013
            19980213 19980313 19981113 19990813 20001013
        FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13 19970913 ..19980613
            19970913 19971011 19971108 19971213 19980110 19980207 19980307 19980411
            19980509 19980613
        FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8 19961105 ..20041231
            19961105 20001107 20041102
        FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3 19970904 ..20991231
            19970904 19971007 19971106
        FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2 19970929 ..19980330
            19970929 19971030 19971127 19971230 19980129 19980226 19980330
        FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO 19970805 ..20991231 19970805,10,19,24
        FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU 19970805 ..20991231 19970805,17,19,31
        FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5 20070115 ..20991231 20070115,30 20070215 20070315,30
    ";

    #[test]
    fn rfc_5545_examples() {
        assert_eq!(check(RFC_EXAMPLES).len(), 33);
        // "Daily until December 24, 1997", ended on Dec 23 as explained above.
        let daily = rule("FREQ=DAILY;UNTIL=19971223");
        let got = daily.occurrences(day("19970902"), day("19970101"), day("20991231"));
        let days = day("19970902")
            .iter_days()
            .take_while(|d| *d <= day("19971223"));
        assert_eq!(got, days.collect::<Vec<_>>());
        let every_day = |y| (1..=31).filter_map(move |d| NaiveDate::from_ymd_opt(y, 1, d));
        let january: Vec<_> = (1998..=2000).flat_map(every_day).collect();
        for text in [
            "FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA",
            "FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1",
        ] {
            let got = rule(text).occurrences(day("19980101"), day("19980101"), day("20991231"));
            assert_eq!(got, january, "{text}");
        }
    }

    /// C08 to C10 and other cases (extra dates checked against python-dateutil).
    const CASES: &str = "
        FREQ=MONTHLY;BYMONTHDAY=-1 20260131 20260101..20260630
            20260131 20260228 20260331 20260430 20260531 20260630
        FREQ=MONTHLY;BYMONTHDAY=-1 20260131 20280201..20280229 20280229
        FREQ=MONTHLY;BYMONTHDAY=31 20260131 ..20261231
            20260131 20260331 20260531 20260731 20260831 20261031 20261231
        FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1 20260130 20260101..20260531
            20260130 20260228 20260330 20260430 20260530
        FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1 20260130 20280201..20280229 20280229
        FREQ=MONTHLY;BYDAY=2TU 20260113 20260101..20261231
            20260113 20260210 20260310 20260414 20260512 20260609 20260714 20260811
            20260908 20261013 20261110 20261208
        FREQ=MONTHLY;BYDAY=5TU 20260101 ..20261231 20260331 20260630 20260929 20261229
        FREQ=WEEKLY;INTERVAL=2;BYDAY=TU 20261222 20261201..20270202
            20261222 20270105,19 20270202
        FREQ=WEEKLY;INTERVAL=2;BYDAY=TU 20261222 20270106..20270131 20270119
        FREQ=WEEKLY;INTERVAL=2;BYDAY=TH 20260614 20260601..20260731 20260625 20260709,23
        FREQ=WEEKLY;INTERVAL=2;BYDAY=TH 20260618 20260601..20260731 20260618 20260702,16,30
        FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1 20260101 ..20260731
            20260130 20260227 20260331 20260430 20260529 20260630 20260731
        FREQ=MONTHLY;BYMONTHDAY=-2 20260101 ..20260731
            20260130 20260227 20260330 20260429 20260530 20260629 20260730
        FREQ=DAILY;COUNT=10 19970902 19970910..20991231 19970910,11
        FREQ=MONTHLY;BYMONTHDAY=15;COUNT=2 20260101 ..20991231 20260115 20260215
        FREQ=DAILY;UNTIL=20260101 20260102 ..20991231
        FREQ=DAILY;COUNT=10 19970902 19970905..19970904
        FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO 20240101 ..20271231 20240101 20241230 20251229 20270104
        FREQ=YEARLY;BYWEEKNO=-1;BYDAY=SU;WKST=SU 20240101 ..20261231
            20241222 20251228 20261227
    ";

    /// C08: BYMONTHDAY=-1 never skips a short month, 31 alone does (as RFC 5545 says), and
    /// 28,29,30 with BYSETPOS=-1 gives the 30th or the month's last day. C09: the 2nd
    /// Tuesday, also in months starting on a Wednesday (Apr, Jul) or a Tuesday (Sep, Dec); a
    /// 5th Tuesday skips months without one. C10: every other week counts from DTSTART's
    /// week across a 53-week ISO year, and a Sunday DTSTART is after its Monday week's
    /// Thursday, so that rule starts two weeks on. COUNT counts from DTSTART, not FROM, and
    /// an unmatched DTSTART (Jan 1 is not a 15th) is neither a date nor counted.
    #[test]
    fn c08_c09_c10_and_more() {
        check(CASES);
        let (three, dtstart) = (rule("FREQ=MONTHLY;BYDAY=2TU;COUNT=3"), day("20260113"));
        assert_eq!(
            three.next_on_or_after(dtstart, day("20260211")),
            Some(day("20260310"))
        );
        assert_eq!(three.next_on_or_after(dtstart, day("20260311")), None);
        assert_eq!(
            three.next_on_or_after(dtstart, day("19000101")),
            Some(dtstart)
        );
    }

    /// Far windows jump instead of walking; rules that never match give up after a 400-year
    /// cycle of empty periods; nothing runs past 9999-12-31.
    #[test]
    fn long_and_empty_walks_stay_bounded() {
        let started = std::time::Instant::now();
        let daily = rule("FREQ=DAILY");
        let centuries = daily.occurrences(day("19000101"), day("19000101"), day("20991231"));
        assert_eq!(centuries.len(), 73_049);
        let counted = rule("FREQ=DAILY;COUNT=4000000");
        let late = counted.occurrences(day("19000101"), day("20990101"), day("20991231"));
        assert_eq!(late.len(), 365);
        let after_9999 = NaiveDate::from_ymd_opt(10_000, 1, 5).expect("chrono has year 10000");
        let edge = daily.occurrences(day("00010101"), day("99991230"), after_9999);
        assert_eq!(edge, dates("99991230,31"));
        assert_eq!(daily.next_on_or_after(day("20260101"), after_9999), None);
        // A Tuesday stepping 7 days never meets a Monday; week 53 is never in June.
        for text in [
            "FREQ=DAILY;INTERVAL=7;BYDAY=MO",
            "FREQ=YEARLY;BYWEEKNO=53;BYMONTH=6",
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
        ] {
            let dtstart = day("20260106");
            assert_eq!(
                rule(text).next_on_or_after(dtstart, dtstart),
                None,
                "{text}"
            );
        }
        let took = started.elapsed();
        assert!(took.as_secs() < 5, "took {took:?}");
        // Values built by hand skip parse's checks but still expand safely.
        let zero = RRule {
            interval: 0,
            ..daily.clone()
        };
        let week = zero.occurrences(day("20260101"), day("20260101"), day("20260107"));
        assert_eq!(week, dates("20260101,02,03,04,05,06,07"));
        let thirteenth = RRule {
            by_month: vec![13],
            ..daily.clone()
        };
        assert_eq!(
            thirteenth.next_on_or_after(day("20260101"), day("20260101")),
            None
        );
        let none = RRule {
            count: Some(0),
            ..daily
        };
        assert_eq!(
            none.next_on_or_after(day("20260101"), day("20260101")),
            None
        );
    }

    #[test]
    fn parse_accepts_loose_text_and_displays_canonically() {
        let loose = rule(" rrule:byday=tu,mo,+1mo ; Freq=Monthly;wkst=su;interval=2;count=3 ");
        let canonical = "FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,1MO,TU;WKST=SU;COUNT=3";
        assert_eq!(loose.to_string(), canonical);
        let until = rule("FREQ=DAILY;UNTIL=19971224T235960Z");
        assert_eq!(until.until, Some(day("19971224")));
        assert_eq!(until.to_string(), "FREQ=DAILY;UNTIL=19971224");
        assert_eq!(
            rule("FREQ=DAILY;UNTIL=19971224T090000").until,
            Some(day("19971224"))
        );
        assert_eq!(
            rule("FREQ=MONTHLY;BYMONTHDAY=1,1,-1"),
            rule("FREQ=MONTHLY;BYMONTHDAY=-1,1")
        );
        let texts = check(RFC_EXAMPLES).into_iter().chain(check(CASES));
        for text in texts.chain(["FREQ=YEARLY;BYWEEKNO=1,-1;BYYEARDAY=-1,100;WKST=TH"]) {
            let parsed = rule(text);
            assert_eq!(RRule::parse(&parsed.to_string()), Ok(parsed), "{text}");
        }
    }

    /// Each refusal with the message an API caller sees; each message is its own variant.
    const REFUSED: &str = "
        => the rule has no FREQ part
        RRULE:INTERVAL=2 => the rule has no FREQ part
        FREQ=DAILY;COUNT => `COUNT` is not a NAME=VALUE rule part
        FREQ=DAILY;COLOR=RED => `COLOR` is not a rule part this service knows
        FREQ=DAILY;freq=weekly => FREQ is given more than once
        FREQ=DAILY;COUNT=3;UNTIL=20260101 => COUNT and UNTIL cannot be used together
        FREQ=HOURLY => FREQ=HOURLY is not supported: schedules are whole days
        FREQ=MINUTELY => FREQ=MINUTELY is not supported: schedules are whole days
        FREQ=SECONDLY => FREQ=SECONDLY is not supported: schedules are whole days
        FREQ=DAILY;BYHOUR=9 => BYHOUR is not supported: schedules are whole days
        FREQ=DAILY;BYMINUTE=0 => BYMINUTE is not supported: schedules are whole days
        FREQ=DAILY;BYSECOND=0 => BYSECOND is not supported: schedules are whole days
        FREQ=FORTNIGHTLY => `FORTNIGHTLY` is not a valid FREQ value
        FREQ= => FREQ has an empty value
        FREQ=MONTHLY;BYDAY=MO, => BYDAY has an empty value
        FREQ=DAILY;INTERVAL=0 => INTERVAL must be at least 1
        FREQ=DAILY;INTERVAL=99999999999 => INTERVAL value 99999999999 is out of range \
            (allowed: 1 to 4294967295)
        FREQ=DAILY;COUNT=0 => COUNT value 0 is out of range (allowed: 1 to 4294967295)
        FREQ=DAILY;COUNT=-1 => `-1` is not a valid COUNT value
        FREQ=MONTHLY;BYMONTHDAY=32 => BYMONTHDAY value 32 is out of range \
            (allowed: 1 to 31 or -31 to -1)
        FREQ=YEARLY;BYMONTH=13 => BYMONTH value 13 is out of range (allowed: 1 to 12)
        FREQ=YEARLY;BYMONTH=-1 => `-1` is not a valid BYMONTH value
        FREQ=YEARLY;BYYEARDAY=-367 => BYYEARDAY value -367 is out of range \
            (allowed: 1 to 366 or -366 to -1)
        FREQ=YEARLY;BYWEEKNO=0 => BYWEEKNO value 0 is out of range (allowed: 1 to 53 or -53 to -1)
        FREQ=MONTHLY;BYDAY=MO;BYSETPOS=400 => BYSETPOS value 400 is out of range \
            (allowed: 1 to 366 or -366 to -1)
        FREQ=YEARLY;BYDAY=54MO => BYDAY value 54MO is out of range (allowed: 1 to 53 or -53 to -1)
        FREQ=MONTHLY;BYDAY=6MO => BYDAY value 6MO is out of range \
            (allowed: 1 to 5 or -5 to -1 within a month)
        FREQ=MONTHLY;BYDAY=1ÖX => `1ÖX` is not a valid BYDAY value
        FREQ=DAILY;WKST=SUN => `SUN` is not a valid WKST value
        FREQ=DAILY;UNTIL=2026-01-01 => `2026-01-01` is not a valid UNTIL value
        FREQ=DAILY;UNTIL=20260230 => `20260230` is not a valid UNTIL value
        FREQ=DAILY;UNTIL=20260101T250000Z => `20260101T250000Z` is not a valid UNTIL value
        FREQ=WEEKLY;BYDAY=2TU => BYDAY 2TU cannot have a number unless FREQ is MONTHLY or YEARLY
        FREQ=DAILY;BYDAY=-1FR => BYDAY -1FR cannot have a number unless FREQ is MONTHLY or YEARLY
        FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO => BYDAY 1MO cannot have a number together with BYWEEKNO
        FREQ=MONTHLY;BYWEEKNO=1;BYDAY=1MO => BYWEEKNO cannot be used with FREQ=MONTHLY
        FREQ=WEEKLY;BYMONTHDAY=1 => BYMONTHDAY cannot be used with FREQ=WEEKLY
        FREQ=MONTHLY;BYYEARDAY=1 => BYYEARDAY cannot be used with FREQ=MONTHLY
        FREQ=DAILY;BYSETPOS=1 => BYSETPOS needs another BY part to pick from
        FREQ=DAILY;BYDAY=MO;BYSETPOS=2 => the rule can never give a date: \
            BYSETPOS asks for more days than a period has
        FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30 => the rule can never give a date: \
            no day matches BYMONTH, BYMONTHDAY and BYYEARDAY
        FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31,-31 => the rule can never give a date: \
            no day matches BYMONTH, BYMONTHDAY and BYYEARDAY
        FREQ=YEARLY;BYMONTH=1;BYYEARDAY=-1 => the rule can never give a date: \
            no day matches BYMONTH, BYMONTHDAY and BYYEARDAY
    ";

    #[test]
    fn parse_refuses_with_specific_errors() {
        for line in REFUSED.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (text, message) = line.split_once("=>").expect("text => message");
            let error = RRule::parse(text).expect_err(text).to_string();
            assert_eq!(error, message.trim(), "{text}");
        }
        let error = RRule::parse("FREQ=YEARLY;BYDAY=54MO");
        let allowed = "1 to 53 or -53 to -1".to_owned();
        assert_eq!(
            error,
            Err(RRuleError::OutOfRange("BYDAY", "54MO".into(), allowed))
        );
        // Feb 29 exists in leap years only, which is enough.
        assert!(RRule::parse("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29").is_ok());
    }

    proptest! {
        /// Every typed schedule's RRULE gives the schedule's own dates with DTSTART = its
        /// first actual date. DTSTART = `first` works as well, except for a Weekly rule with
        /// an interval above 1 whose weekday comes before `first`'s in a Monday week.
        #[test]
        fn schedules_round_trip(
            offset in 0u64..36_525,
            kind in 0u8..5,
            (day_of_month, nth, weekday_index) in (1u32..=31, 1u32..=5, 0u8..7),
            interval in 1u32..=52,
            until in option::of(0u64..2_500),
        ) {
            let (first, weekday) = (day("20000101") + Days::new(offset), weekday(weekday_index));
            let recurrence = match kind {
                0 => Recurrence::MonthlyOnDay { day: day_of_month },
                1 => Recurrence::MonthlyLastDay,
                2 => Recurrence::MonthlyNthWeekday { nth, weekday },
                3 => Recurrence::MonthlyLastWeekday { weekday },
                _ => Recurrence::Weekly { interval, weekday },
            };
            let until = until.map(|days| first + Days::new(days));
            let schedule =
                Schedule::new(first, until, recurrence.clone()).expect("a valid schedule");
            let rrule = rule(&schedule.to_rrule());
            prop_assert_eq!(RRule::parse(&rrule.to_string()), Ok(rrule.clone()));
            let (from, to) = (first - Days::new(40), first + Days::new(5 * 366));
            let expected = schedule.dates_between(from, to);
            // The first actual date, found without UNTIL, which may cut every date off.
            let open = Schedule { until: None, ..schedule };
            let actual_first = open.dates_between(first, first + Days::new(400))[0];
            prop_assert_eq!(&rrule.occurrences(actual_first, from, to), &expected);
            let from_first = rrule.occurrences(first, from, to) == expected;
            let monday_order = |day: Weekday| day.num_days_from_monday();
            match recurrence {
                Recurrence::Weekly { .. } if until.is_none() => {
                    let same_week = monday_order(weekday) >= monday_order(first.weekday());
                    prop_assert_eq!(from_first, interval == 1 || same_week);
                }
                Recurrence::Weekly { .. } => {}
                _ => prop_assert!(from_first),
            }
        }

        /// Simple rules against membership decided day by day from the definitions alone.
        #[test]
        fn simple_rules_match_brute_force(
            (shape, n, back) in (0u8..4, 1i64..=31, any::<bool>()),
            (target, wkst) in (0u8..7, 0u8..7),
            interval in 1i64..=5,
            count in option::of(1u32..30),
            (start, from_offset, len) in (0u64..20_000, 0u64..1_500, 0u64..1_500),
        ) {
            let (target, wkst) = (weekday(target), weekday(wkst));
            let dtstart = day("19900101") + Days::new(start);
            let from = dtstart - Days::new(300) + Days::new(from_offset);
            let to = from + Days::new(len);
            let month_of = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month());
            let same_month = move |d: NaiveDate| move |e: &NaiveDate| month_of(*e) == month_of(d);
            let in_step = move |d: NaiveDate| (month_of(d) - month_of(dtstart)) % interval == 0;
            let week_of = move |d: NaiveDate| {
                let back = (0..7).find(|b| (d - Days::new(*b)).weekday() == wkst);
                d - Days::new(back.expect("a week has every weekday"))
            };
            let code = |weekday| ByDay { nth: None, weekday };
            let (nth, month_day) = if back { (-(n % 5 + 1), -n) } else { (n % 5 + 1, n) };
            let (text, member): (String, Box<dyn Fn(NaiveDate) -> bool>) = match shape {
                0 => (format!("FREQ=MONTHLY;INTERVAL={interval};BYMONTHDAY={month_day}"),
                    Box::new(move |d: NaiveDate| {
                        // -k: the month's last day is k - 1 days later.
                        let to_end = d.iter_days().take_while(same_month(d)).count() as i64;
                        in_step(d) && (i64::from(d.day()) == month_day || -to_end == month_day)
                    })),
                1 => (format!("FREQ=MONTHLY;INTERVAL={interval};BYDAY={nth}{}", code(target)),
                    Box::new(move |d: NaiveDate| {
                        let first = d.with_day(1).expect("every month has a 1st");
                        let month = first.iter_days().take_while(same_month(d));
                        let same_day: Vec<_> = month.filter(|e| e.weekday() == target).collect();
                        let at = same_day.iter().position(|e| *e == d).map(|i| i as i64);
                        let len = same_day.len() as i64;
                        in_step(d) && at.is_some_and(|i| i + 1 == nth || i - len == nth)
                    })),
                2 => (format!("FREQ=WEEKLY;INTERVAL={interval};BYDAY={};WKST={}",
                        code(target), code(wkst)),
                    Box::new(move |d: NaiveDate| {
                        let weeks = (week_of(d) - week_of(dtstart)).num_days() / 7;
                        d.weekday() == target && weeks % interval == 0
                    })),
                _ => (format!("FREQ=DAILY;INTERVAL={interval}"),
                    Box::new(move |d: NaiveDate| (d - dtstart).num_days() % interval == 0)),
            };
            let text = count.map_or(text.clone(), |count| format!("{text};COUNT={count}"));
            let members = dtstart.iter_days().take_while(|d| *d <= to).filter(|d| member(*d));
            let members = members.take(count.map_or(usize::MAX, |c| c as usize));
            let expected: Vec<_> = members.filter(|d| *d >= from).collect();
            let rrule = rule(&text);
            prop_assert_eq!(&rrule.occurrences(dtstart, from, to), &expected, "{}", text);
            if let Some(first) = expected.first() {
                prop_assert_eq!(rrule.next_on_or_after(dtstart, from), Some(*first));
            }
        }
    }
}
