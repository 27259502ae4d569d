//! A recurring job's `fixed_invoice` as the API reads and shows it: the amount, the invoice
//! line's text, and the schedule whose `repeat` names exactly one rule.
//!
//! The rule names are chosen so that "every 2nd Tuesday" (every two weeks, `every_weeks`)
//! and "the 2nd Tuesday of the month" (`monthly_nth_weekday`) can never be mistaken for one
//! another: neither is spelled as a bare number next to a weekday.

use chrono::{NaiveDate, Weekday};
use serde::Serialize;
use serde_json::{Value, json};

use porchlight_shared::domain::FixedInvoicing;
use porchlight_shared::money::Currency;
use porchlight_shared::rrule::RRule;
use porchlight_shared::schedule::{Recurrence, Schedule, ScheduleError};
use porchlight_shared::store::sweep::ScheduleCursor;

use crate::input::Fields;

/// The field that carries the plan, on jobs.
pub(super) const FIELD: &str = "fixed_invoice";

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

/// The kinds of `repeat`, by their field name. `rrule` is reserved for RFC 5545 rules.
const REPEATS: [&str; 6] = [
    "monthly_on_day",
    "monthly_last_day",
    "monthly_nth_weekday",
    "monthly_last_weekday",
    "every_weeks",
    "rrule",
];

/// The longest invoice line text; it is printed on every invoice of the schedule.
const MAX_DESCRIPTION: usize = 200;

/// `fixed_invoice` of a create or a change: `Some(None)` when sent as `null` (the schedule
/// ends; invoices already made stay), `None` when absent or invalid (problems recorded).
pub(super) fn read(fields: &mut Fields<'_>, currency: &Currency) -> Option<Option<FixedInvoicing>> {
    if fields.is_cleared(FIELD) {
        return Some(None);
    }
    let mut inner = fields.optional_object(FIELD)?;
    inner.only(&["amount", "description", "schedule"]);
    let amount = inner.required_amount("amount", currency);
    let amount = match amount {
        Some(amount) if amount.minor <= 0 => {
            inner.problem("amount", "must be more than zero");
            None
        }
        amount => amount,
    };
    let description = inner.required_text("description", MAX_DESCRIPTION);
    let schedule = read_schedule(&mut inner);
    fields.absorb(inner);

    Some(Some(FixedInvoicing {
        schedule: schedule?,
        amount: amount?,
        description: description?,
    }))
}

/// `schedule`: `first`, an optional `until` (both included) and one `repeat` rule.
fn read_schedule(fields: &mut Fields<'_>) -> Option<Schedule> {
    if !fields.has("schedule") {
        fields.problem("schedule", "is required");
        return None;
    }
    let mut inner = fields.optional_object("schedule")?;
    inner.only(&["first", "until", "repeat"]);
    let first = inner.required_date("first");
    let until = inner.optional_date("until");
    // Checked here, not left to `Schedule::new`, so it is named with the rule's problems.
    let in_order = match (first, until) {
        (Some(first), Some(until)) if until < first => {
            inner.problem("until", "must not be before `first`");
            false
        }
        _ => true,
    };
    let recurrence = read_repeat(&mut inner);

    let schedule = match (first, recurrence) {
        (Some(first), Some(recurrence)) if in_order => {
            match Schedule::new(first, until, recurrence) {
                Ok(schedule) => Some(schedule),
                Err(error) => {
                    inner.problem(error_field(&error), &error.to_string());
                    None
                }
            }
        }
        _ => None,
    };
    fields.absorb(inner);
    schedule
}

/// Where a refusal of `Schedule::new` belongs. The readers check the same bounds first, so
/// this only names a rule they let through.
fn error_field(error: &ScheduleError) -> &'static str {
    match error {
        ScheduleError::DayOfMonth(_) => "repeat.monthly_on_day",
        ScheduleError::WeekOfMonth(_) => "repeat.monthly_nth_weekday.nth",
        ScheduleError::Interval(_) => "repeat.every_weeks.interval",
        ScheduleError::EndsBeforeStart { .. } => "until",
        ScheduleError::NoDates => "repeat.rrule",
    }
}

/// `repeat`: an object with exactly one of [`REPEATS`].
fn read_repeat(fields: &mut Fields<'_>) -> Option<Recurrence> {
    let kinds = REPEATS.join(", ");
    if !fields.has("repeat") {
        fields.problem("repeat", &format!("is required: one of {kinds}"));
        return None;
    }
    let mut inner = fields.optional_object("repeat")?;
    inner.only(&REPEATS);
    let sent: Vec<&str> = REPEATS.into_iter().filter(|kind| inner.has(kind)).collect();
    let recurrence = match sent.as_slice() {
        [kind] => read_rule(&mut inner, kind),
        _ => None,
    };
    fields.absorb(inner);
    if sent.len() != 1 {
        fields.problem("repeat", &format!("must have exactly one of {kinds}"));
    }
    recurrence
}

fn read_rule(fields: &mut Fields<'_>, kind: &str) -> Option<Recurrence> {
    match kind {
        "monthly_on_day" => fields
            .optional_u32(kind, 1..=31)
            .map(|day| Recurrence::MonthlyOnDay { day }),
        "monthly_last_day" => match fields.optional_bool(kind) {
            Some(true) => Some(Recurrence::MonthlyLastDay),
            Some(false) => {
                fields.problem(kind, "must be true; send another rule instead");
                None
            }
            None => None,
        },
        "monthly_nth_weekday" => {
            let mut rule = fields.optional_object(kind)?;
            rule.only(&["nth", "weekday"]);
            let nth = required_number(&mut rule, "nth", 1..=5);
            let weekday = rule.required_choice("weekday", &WEEKDAYS);
            fields.absorb(rule);
            Some(Recurrence::MonthlyNthWeekday {
                nth: nth?,
                weekday: weekday?,
            })
        }
        "monthly_last_weekday" => fields
            .required_choice(kind, &WEEKDAYS)
            .map(|weekday| Recurrence::MonthlyLastWeekday { weekday }),
        "every_weeks" => {
            let mut rule = fields.optional_object(kind)?;
            rule.only(&["interval", "weekday"]);
            let interval = required_number(&mut rule, "interval", 1..=52);
            let weekday = rule.required_choice("weekday", &WEEKDAYS);
            fields.absorb(rule);
            Some(Recurrence::Weekly {
                interval: interval?,
                weekday: weekday?,
            })
        }
        _ => read_rrule(fields, kind),
    }
}

/// `{"rrule": "FREQ=..."}`: any RFC 5545 rule, with `first` as its DTSTART. Refused with
/// the parser's own words when it is not a whole-day rule RFC 5545 allows.
fn read_rrule(fields: &mut Fields<'_>, kind: &str) -> Option<Recurrence> {
    let value = fields.value(kind)?;
    let Some(text) = value.as_str().filter(|t| t.len() <= 500) else {
        fields.problem(kind, "must be RRULE text (at most 500 characters)");
        return None;
    };
    match RRule::parse(text) {
        Ok(rrule) => Some(Recurrence::Rule { rrule }),
        Err(error) => {
            fields.problem(kind, &error.to_string());
            None
        }
    }
}

fn required_number(
    fields: &mut Fields<'_>,
    field: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Option<u32> {
    if !fields.has(field) {
        fields.problem(field, "is required");
        return None;
    }
    fields.optional_u32(field, range)
}

/// `fixed_invoice` as a job's answer shows it: what was sent, and what follows from it.
#[derive(Debug, Serialize)]
pub(super) struct FixedInvoiceView {
    amount: String,
    description: String,
    schedule: ScheduleView,
    /// The schedule as an RFC 5545 RRULE, to be read from `dtstart`.
    rrule: String,
    /// The `DTSTART` content line the rule counts from: the schedule's first date that is
    /// on the rule. `INTERVAL` counts from it, and RFC 5545 leaves a `DTSTART` off the
    /// rule undefined, so it is not simply `first`.
    dtstart: String,
    /// The next date the sweep will invoice; `null` once the schedule has ended.
    next_invoice_on: Option<NaiveDate>,
    /// The last date already invoiced; a changed schedule never invoices it again.
    invoiced_through: Option<NaiveDate>,
}

#[derive(Debug, Serialize)]
struct ScheduleView {
    first: NaiveDate,
    until: Option<NaiveDate>,
    repeat: Value,
}

/// The view of `plan`, with the sweep's progress from its `cursor`.
pub(super) fn view(plan: &FixedInvoicing, cursor: Option<&ScheduleCursor>) -> FixedInvoiceView {
    let schedule = &plan.schedule;
    let start = schedule
        .next_on_or_after(schedule.first)
        .unwrap_or(schedule.first);
    FixedInvoiceView {
        amount: plan.amount.to_decimal_string(),
        description: plan.description.clone(),
        schedule: ScheduleView {
            first: schedule.first,
            until: schedule.until,
            repeat: repeat_json(&schedule.recurrence),
        },
        rrule: schedule.to_rrule(),
        dtstart: format!("DTSTART;VALUE=DATE:{}", start.format("%Y%m%d")),
        next_invoice_on: cursor.and_then(|c| c.next_due),
        invoiced_through: cursor.and_then(|c| c.issued_through),
    }
}

/// The weekday as [`WEEKDAYS`] reads it.
fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// The rule in the shape it is sent in.
fn repeat_json(recurrence: &Recurrence) -> Value {
    match *recurrence {
        Recurrence::MonthlyOnDay { day } => json!({ "monthly_on_day": day }),
        Recurrence::MonthlyLastDay => json!({ "monthly_last_day": true }),
        Recurrence::MonthlyNthWeekday { nth, weekday } => json!({
            "monthly_nth_weekday": { "nth": nth, "weekday": weekday_name(weekday) } }),
        Recurrence::MonthlyLastWeekday { weekday } => {
            json!({ "monthly_last_weekday": weekday_name(weekday) })
        }
        Recurrence::Weekly { interval, weekday } => json!({
            "every_weeks": { "interval": interval, "weekday": weekday_name(weekday) } }),
        Recurrence::Rule { ref rrule } => json!({ "rrule": rrule.to_string() }),
    }
}

/// The OpenAPI schema of `fixed_invoice` as it is sent.
pub(super) fn openapi_input() -> Value {
    let weekday = json!({ "type": "string",
        "enum": WEEKDAYS.iter().map(|(name, _)| *name).collect::<Vec<_>>() });
    let rule = |name: &str, schema: Value, description: &str| {
        json!({ "type": "object", "required": [name], "additionalProperties": false,
            "properties": { name: schema }, "description": description })
    };
    let repeat = json!({ "oneOf": [
        rule("monthly_on_day", json!({ "type": "integer", "minimum": 1, "maximum": 31 }),
            "The same day every month. In months too short for it, their last day: 31 \
            gives Feb 28 (29), Apr 30; 30 gives Feb 28 (29)."),
        rule("monthly_last_day", json!({ "const": true }), "The last day of every month."),
        rule("monthly_nth_weekday", json!({ "type": "object",
            "required": ["nth", "weekday"], "properties": {
                "nth": { "type": "integer", "minimum": 1, "maximum": 5 },
                "weekday": weekday } }),
            "The nth weekday of the month: {\"nth\": 2, \"weekday\": \"tuesday\"} is the \
            2nd Tuesday of every month (RRULE BYDAY=2TU). A month without a 5th one is \
            skipped. Not to be confused with every_weeks."),
        rule("monthly_last_weekday", weekday.clone(),
            "The last given weekday of every month (RRULE BYDAY=-1FR for Friday)."),
        rule("every_weeks", json!({ "type": "object",
            "required": ["interval", "weekday"], "properties": {
                "interval": { "type": "integer", "minimum": 1, "maximum": 52 },
                "weekday": weekday } }),
            "Every `interval` weeks on the weekday: {\"interval\": 2, \"weekday\": \
            \"tuesday\"} is every other Tuesday (\"every 2nd Tuesday\"), counted from the \
            first Tuesday on or after `first`, never from ISO week numbers. Not the 2nd \
            Tuesday of the month: that is monthly_nth_weekday."),
        rule("rrule", json!({ "type": "string" }),
            "Reserved for any RFC 5545 rule (\"FREQ=...\"); refused with 422 for now.")
    ] });
    json!({ "type": ["object", "null"], "required": ["amount", "description", "schedule"],
        "description": "A fixed amount invoiced on every date of a schedule, apart from any \
            visits; recurring jobs only. The sweep creates one invoice per date, in the \
            company's time zone, dated that day. `null` removes the schedule: invoices \
            already created stay, and a new schedule never invoices a date twice.",
        "properties": {
            "amount": { "oneOf": [
                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$", "examples": ["120.00"] },
                super::doc::money() ],
                "description": "More than zero, in the company's currency" },
            "description": { "type": "string", "maxLength": MAX_DESCRIPTION,
                "description": "The invoice line, e.g. \"Monthly grounds maintenance\"" },
            "schedule": { "type": "object", "required": ["first", "repeat"], "properties": {
                "first": { "type": "string", "format": "date",
                    "description": "No invoice before it; every rule is counted from it" },
                "until": { "type": ["string", "null"], "format": "date",
                    "description": "The last day a date may fall on; none for open-ended" },
                "repeat": { "allOf": [repeat], "description": "Exactly one rule" } } }
        } })
}

/// What a job's answer adds to `fixed_invoice`, for the OpenAPI description.
pub(super) const OPENAPI_ANSWER: &str = "The answer shows `fixed_invoice` as it was sent \
    (`amount` as a decimal string) plus `rrule` (the schedule as an RFC 5545 RRULE), \
    `dtstart` (the DTSTART line it counts from, the schedule's first date on the rule), \
    `next_invoice_on` (the next date the sweep invoices; null once ended) and \
    `invoiced_through` (the last date already invoiced).";

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reply::ApiError;

    fn problems(body: Value) -> Vec<String> {
        let mut fields = Fields::of(&body).expect("an object");
        assert!(read(&mut fields, &Currency::usd()).flatten().is_none());
        let Err(ApiError::Invalid(problems)) = fields.finish() else {
            panic!("the body is invalid: {body}");
        };
        problems.into_iter().map(|p| p.name).collect()
    }

    fn plan(body: Value) -> FixedInvoicing {
        let mut fields = Fields::of(&body).expect("an object");
        let plan = read(&mut fields, &Currency::usd()).flatten();
        assert!(fields.finish().is_ok(), "{body}");
        plan.expect("a plan")
    }

    fn fixed(repeat: Value) -> Value {
        json!({ "fixed_invoice": { "amount": "120.00", "description": "Grounds",
            "schedule": { "first": "2026-01-01", "until": null, "repeat": repeat } } })
    }

    #[test]
    fn each_rule_reads_and_shows_as_sent() {
        let cases = [
            (
                json!({ "monthly_on_day": 31 }),
                "FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1",
            ),
            (
                json!({ "monthly_last_day": true }),
                "FREQ=MONTHLY;BYMONTHDAY=-1",
            ),
            (
                json!({ "monthly_nth_weekday": { "nth": 2, "weekday": "tuesday" } }),
                "FREQ=MONTHLY;BYDAY=2TU",
            ),
            (
                json!({ "monthly_last_weekday": "friday" }),
                "FREQ=MONTHLY;BYDAY=-1FR",
            ),
            (
                json!({ "every_weeks": { "interval": 2, "weekday": "tuesday" } }),
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            ),
        ];
        for (repeat, rrule) in cases {
            let plan = plan(fixed(repeat.clone()));
            assert_eq!(plan.amount.minor, 12_000);
            let view = serde_json::to_value(view(&plan, None)).expect("serializable");
            assert_eq!(view["schedule"]["repeat"], repeat);
            assert_eq!(view["rrule"], rrule);
            assert_eq!(view["amount"], "120.00");
        }
    }

    #[test]
    fn weekday_names_read_back() {
        for (name, weekday) in WEEKDAYS {
            assert_eq!(weekday_name(weekday), name);
        }
    }

    #[test]
    fn dtstart_is_the_first_date_on_the_rule() {
        let plan = plan(fixed(
            json!({ "every_weeks": { "interval": 2, "weekday": "tuesday" } }),
        ));
        let view = serde_json::to_value(view(&plan, None)).expect("serializable");
        assert_eq!(
            view["dtstart"], "DTSTART;VALUE=DATE:20260106",
            "2026-01-01 is a Thursday"
        );
    }

    #[test]
    fn every_problem_is_named() {
        let cases = [
            (
                json!({ "monthly_on_day": 32 }),
                "fixed_invoice.schedule.repeat.monthly_on_day",
            ),
            (
                json!({ "monthly_nth_weekday": { "nth": 6, "weekday": "tuesday" } }),
                "fixed_invoice.schedule.repeat.monthly_nth_weekday.nth",
            ),
            (
                json!({ "every_weeks": { "interval": 0, "weekday": "tuesday" } }),
                "fixed_invoice.schedule.repeat.every_weeks.interval",
            ),
            (
                json!({ "every_weeks": { "interval": 2, "weekday": "tue" } }),
                "fixed_invoice.schedule.repeat.every_weeks.weekday",
            ),
            (
                json!({ "rrule": "FREQ=DAILY;BYHOUR=9" }),
                "fixed_invoice.schedule.repeat.rrule",
            ),
            (json!({}), "fixed_invoice.schedule.repeat"),
            (
                json!({ "monthly_on_day": 1, "monthly_last_day": true }),
                "fixed_invoice.schedule.repeat",
            ),
        ];
        for (repeat, name) in cases {
            assert_eq!(problems(fixed(repeat.clone())), [name], "{repeat}");
        }

        let all = json!({ "fixed_invoice": { "amount": "0", "schedule": {
            "first": "2026-03-01", "until": "2026-02-01", "repeat": { "monthly_on_day": 0 } } } });
        assert_eq!(
            problems(all),
            [
                "fixed_invoice.amount",
                "fixed_invoice.description",
                "fixed_invoice.schedule.until",
                "fixed_invoice.schedule.repeat.monthly_on_day",
            ]
        );
    }

    #[test]
    fn null_removes_and_absence_keeps() {
        let body = json!({ "fixed_invoice": null });
        let mut fields = Fields::of(&body).expect("an object");
        assert_eq!(read(&mut fields, &Currency::usd()), Some(None));
        let body = json!({});
        let mut fields = Fields::of(&body).expect("an object");
        assert_eq!(read(&mut fields, &Currency::usd()), None);
        assert!(fields.finish().is_ok());
    }
}
