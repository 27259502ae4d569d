//! A property test of the sweep and the document rules together, against DynamoDB Local:
//! random recurring jobs (fixed-invoice schedules and visits), time zones, sweep times and
//! a day to look, checked against a plain reference model written here, apart from the
//! product's code: which fixed invoices exist, which invoices the portal shows, and which
//! paid ones went to the archive.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use porchlight_shared::domain::{
    Billing, Client, Company, FixedInvoicing, Invoice, Job, JobKind, Line, LineKind, Stage, Visit,
    VisitDate,
};
use porchlight_shared::ids::DocumentId;
use porchlight_shared::portal::PortalDay;
use porchlight_shared::rrule::RRule;
use porchlight_shared::schedule::{Recurrence, Schedule};
use porchlight_shared::store::backoffice::ApiNotes;
use porchlight_shared::store::keys::{self, Entity};
use porchlight_shared::sweep::{self, Limits, Mode};
use porchlight_tests::TestStack;
use porchlight_tests::fixtures::usd;

const ZONES: [&str; 8] = [
    "Australia/Sydney",
    "America/Chicago",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/Los_Angeles",
    "UTC",
    "Pacific/Auckland",
    "Pacific/Honolulu",
];

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// A visit in the scenario: days after the base date, or a month offset "to be
/// determined", and whether it was cancelled.
#[derive(Debug, Clone)]
struct VisitPlan {
    dated: Option<u64>,
    month_offset: u32,
    cancelled: bool,
}

#[derive(Debug, Clone)]
struct Scenario {
    zone: &'static str,
    base: NaiveDate,
    rule: Rule,
    first_offset: u64,
    until_days: Option<u64>,
    visits: Vec<VisitPlan>,
    /// Days before the base date that a paid one-off invoice is dated.
    paid_age: u64,
    /// Sweep instants as minutes after the base date's UTC midnight, increasing.
    sweeps: Vec<i64>,
    /// Minutes after the last sweep that the portal is looked at.
    look_after: i64,
}

/// A schedule as the product stores it, and what it means as the model reads it.
#[derive(Debug, Clone)]
enum Rule {
    /// One of the named rules, anchored on the first matching day.
    Named(Recurrence),
    /// RRULE text a back office sends, with the first date as its DTSTART.
    Rfc(RfcRule),
}

/// The RRULEs the model knows by definition (RFC 5545 semantics, WKST=MO).
#[derive(Debug, Clone, Copy)]
enum RfcRule {
    /// `FREQ=MONTHLY;BYMONTHDAY=-1`
    LastDay,
    /// `FREQ=MONTHLY;BYDAY=<nth><weekday>`
    NthWeekday(u32, Weekday),
    /// `FREQ=WEEKLY;INTERVAL=<n>;BYDAY=<weekday>`: weeks counted from DTSTART's own
    /// Monday-start week, DTSTART itself only if it falls on the weekday.
    Weekly(u32, Weekday),
    /// `FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1`: the month's last working day.
    LastWorkday,
}

fn ical(weekday: Weekday) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][weekday.num_days_from_monday() as usize]
}

impl RfcRule {
    fn text(self) -> String {
        match self {
            RfcRule::LastDay => "FREQ=MONTHLY;BYMONTHDAY=-1".into(),
            RfcRule::NthWeekday(nth, weekday) => {
                format!("FREQ=MONTHLY;BYDAY={nth}{}", ical(weekday))
            }
            RfcRule::Weekly(interval, weekday) => {
                format!(
                    "RRULE:FREQ=WEEKLY;INTERVAL={interval};BYDAY={}",
                    ical(weekday)
                )
            }
            RfcRule::LastWorkday => "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1".into(),
        }
    }
}

impl Rule {
    fn recurrence(&self) -> Recurrence {
        match self {
            Rule::Named(recurrence) => recurrence.clone(),
            Rule::Rfc(rule) => Recurrence::Rule {
                rrule: RRule::parse(&rule.text()).expect("the model's rules parse"),
            },
        }
    }
}

fn rule() -> impl Strategy<Value = Rule> {
    let weekday = (0usize..7).prop_map(|i| WEEKDAYS[i]);
    prop_oneof![
        // Month ends are where schedules go wrong (C08): draw them often.
        prop_oneof![1u32..=31, 28u32..=31]
            .prop_map(|day| Rule::Named(Recurrence::MonthlyOnDay { day })),
        Just(Rule::Named(Recurrence::MonthlyLastDay)),
        (prop_oneof![1u32..=5, Just(5u32)], weekday.clone()).prop_map(|(nth, weekday)| {
            Rule::Named(Recurrence::MonthlyNthWeekday { nth, weekday })
        }),
        weekday
            .clone()
            .prop_map(|weekday| Rule::Named(Recurrence::MonthlyLastWeekday { weekday })),
        (1u32..=3, weekday.clone())
            .prop_map(|(interval, weekday)| Rule::Named(Recurrence::Weekly { interval, weekday })),
        Just(Rule::Rfc(RfcRule::LastDay)),
        (1u32..=5, weekday.clone()).prop_map(|(n, w)| Rule::Rfc(RfcRule::NthWeekday(n, w))),
        (1u32..=3, weekday).prop_map(|(n, w)| Rule::Rfc(RfcRule::Weekly(n, w))),
        Just(Rule::Rfc(RfcRule::LastWorkday)),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let visit = (
        proptest::option::of(0u64..150),
        0u32..5,
        proptest::bool::weighted(0.25),
    )
        .prop_map(|(dated, month_offset, cancelled)| VisitPlan {
            dated,
            month_offset,
            cancelled,
        });
    (
        0usize..ZONES.len(),
        0i64..1100,
        rule(),
        0u64..40,
        proptest::option::of(20u64..140),
        proptest::collection::vec(visit, 0..4),
        0u64..500,
        proptest::collection::vec(0i64..(150 * 24 * 60), 1..4),
        0i64..(40 * 24 * 60),
    )
        .prop_map(
            |(zone, base, rule, first_offset, until_days, visits, paid_age, mut sweeps, look)| {
                sweeps.sort_unstable();
                let base =
                    NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date") + Days::new(base as u64);
                Scenario {
                    zone: ZONES[zone],
                    base,
                    rule,
                    first_offset,
                    until_days,
                    visits,
                    paid_age,
                    sweeps,
                    look_after: look,
                }
            },
        )
}

// ---- The reference model: plain definitions, day by day. ----

fn days_in_month(day: NaiveDate) -> u32 {
    (28..=31)
        .rev()
        .find(|d| NaiveDate::from_ymd_opt(day.year(), day.month(), *d).is_some())
        .expect("every month has 28 days")
}

/// Whether `day` is a date of the schedule, straight from what each rule says.
fn model_matches(rule: &Rule, first: NaiveDate, day: NaiveDate) -> bool {
    if day < first {
        return false;
    }
    let last = days_in_month(day);
    let monday_of = |d: NaiveDate| d - Days::new(u64::from(d.weekday().num_days_from_monday()));
    let recurrence = match rule {
        Rule::Named(recurrence) => recurrence.clone(),
        Rule::Rfc(RfcRule::LastDay) => return day.day() == last,
        Rule::Rfc(RfcRule::NthWeekday(nth, weekday)) => {
            return day.weekday() == *weekday && (day.day() - 1) / 7 + 1 == *nth;
        }
        Rule::Rfc(RfcRule::Weekly(interval, weekday)) => {
            let weeks = (monday_of(day) - monday_of(first)).num_days() / 7;
            return day.weekday() == *weekday && weeks % i64::from(*interval) == 0;
        }
        Rule::Rfc(RfcRule::LastWorkday) => {
            let workday = |d: NaiveDate| d.weekday().num_days_from_monday() < 5;
            let later_workday = (day.day() + 1..=last)
                .any(|d| NaiveDate::from_ymd_opt(day.year(), day.month(), d).is_some_and(workday));
            return workday(day) && !later_workday;
        }
    };
    match recurrence {
        Recurrence::MonthlyOnDay { day: wanted } => day.day() == wanted.min(last),
        Recurrence::MonthlyLastDay => day.day() == last,
        Recurrence::MonthlyNthWeekday { nth, weekday } => {
            day.weekday() == weekday && (day.day() - 1) / 7 + 1 == nth
        }
        Recurrence::MonthlyLastWeekday { weekday } => {
            day.weekday() == weekday && day.day() + 7 > last
        }
        Recurrence::Weekly { interval, weekday } => {
            // Weeks counted from the first such weekday on or after the first date.
            let mut anchor = first;
            while anchor.weekday() != weekday {
                anchor = anchor.succ_opt().expect("dates go on");
            }
            day.weekday() == weekday
                && day >= anchor
                && ((day - anchor).num_days() / 7) % i64::from(interval) == 0
        }
        Recurrence::Rule { .. } => unreachable!("the model draws RRULEs as `Rule::Rfc`"),
    }
}

fn local_date(zone: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// One year after `date`, with Feb 29 giving Feb 28.
fn model_year_after(date: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(date.year() + 1, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(date.year() + 1, date.month(), 28))
        .expect("a date a year on")
}

struct Expected {
    fixed: BTreeSet<NaiveDate>,
    archived: bool,
    /// The instants to look at the portal: the drawn one, and a minute either side of
    /// each local midnight when something should appear or leave (case C11's edges).
    looks: Vec<DateTime<Utc>>,
}

/// The sweeps' instants in UTC.
fn sweep_instants(scenario: &Scenario) -> Vec<DateTime<Utc>> {
    let midnight = scenario.base.and_hms_opt(0, 0, 0).expect("time").and_utc();
    scenario
        .sweeps
        .iter()
        .map(|m| midnight + Duration::minutes(*m))
        .collect()
}

fn appears(scenario: &Scenario, visit: &VisitPlan) -> NaiveDate {
    match visit.dated {
        Some(days) => scenario.base + Days::new(days),
        None => month_first(scenario.base, visit.month_offset),
    }
}

fn paid_dates(scenario: &Scenario) -> (NaiveDate, NaiveDate) {
    let dated = scenario.base - Days::new(scenario.paid_age);
    (dated, model_year_after(dated))
}

fn model(scenario: &Scenario) -> Expected {
    let zone: Tz = scenario.zone.parse().expect("zone");
    let sweeps = sweep_instants(scenario);
    let last_sweep = *sweeps.last().expect("at least one sweep");
    let swept_through = local_date(zone, last_sweep);
    let first = scenario.base + Days::new(scenario.first_offset);
    let until = scenario.until_days.map(|d| first + Days::new(d));

    let mut fixed = BTreeSet::new();
    let mut day = first;
    while day <= swept_through {
        if until.is_none_or(|until| day <= until) && model_matches(&scenario.rule, first, day) {
            fixed.insert(day);
        }
        day = day.succ_opt().expect("dates go on");
    }
    let (paid_on, gone_on) = paid_dates(scenario);
    let archived = sweeps.iter().any(|at| local_date(zone, *at) >= gone_on);

    let mut looks = vec![last_sweep + Duration::minutes(scenario.look_after)];
    let edges = fixed
        .iter()
        .copied()
        .chain(scenario.visits.iter().map(|v| appears(scenario, v)))
        .chain([paid_on, gone_on]);
    for edge in edges {
        let local_midnight = edge.and_hms_opt(0, 0, 0).expect("time");
        if let Some(at) = zone.from_local_datetime(&local_midnight).earliest() {
            let at = at.with_timezone(&Utc);
            for look in [at - Duration::minutes(1), at + Duration::minutes(1)] {
                if look >= last_sweep {
                    looks.push(look);
                }
            }
        }
    }
    Expected {
        fixed,
        archived,
        looks,
    }
}

/// What the portal shows on the company's date `look`, by the model.
fn model_shown(scenario: &Scenario, expected: &Expected, look: NaiveDate) -> BTreeSet<String> {
    // Fixed invoices are unpaid, so each is shown from its date on.
    let mut shown: BTreeSet<String> = expected
        .fixed
        .iter()
        .filter(|d| **d <= look)
        .map(|d| format!("fixed {d}"))
        .collect();
    for (i, visit) in scenario.visits.iter().enumerate() {
        if !visit.cancelled && appears(scenario, visit) <= look {
            shown.insert(format!("V-{i}"));
        }
    }
    let (paid_on, gone_on) = paid_dates(scenario);
    if paid_on <= look && look < gone_on {
        shown.insert("PAID".into());
    }
    shown
}

fn month_first(base: NaiveDate, offset: u32) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(base.year(), base.month(), 1).expect("a 1st");
    start
        .checked_add_months(chrono::Months::new(offset))
        .expect("a month on")
}

// ---- Running the product. ----

fn line(amount: i64) -> Vec<Line> {
    vec![Line {
        kind: LineKind::Item,
        description: "Work".into(),
        quantity: None,
        unit_price: None,
        amount: usd(amount),
    }]
}

fn plain_invoice(number: String, billing: Billing, date: Option<NaiveDate>, paid: bool) -> Invoice {
    Invoice {
        id: DocumentId::random(),
        number,
        billing,
        job_id: None,
        property_name: None,
        invoice_date: date,
        due_date: None,
        lines: line(2_000),
        total: usd(2_000),
        balance: usd(if paid { 0 } else { 2_000 }),
        voided: false,
        approved_on: None,
        sent_on: None,
        memo: None,
    }
}

async fn seed(stack: &TestStack, company: &Company, client: &Client, scenario: &Scenario) {
    let store = stack.store();
    let slug = &company.slug;
    let first = scenario.base + Days::new(scenario.first_offset);
    let until = scenario.until_days.map(|d| first + Days::new(d));
    let schedule = Schedule::new(first, until, scenario.rule.recurrence()).expect("valid schedule");
    let job = Job {
        id: DocumentId::random(),
        title: "Contract".into(),
        kind: JobKind::Recurring,
        created_stage: Stage::Active,
        stage: Stage::Active,
        work_date: None,
        completed_on: None,
        property_id: None,
        fixed_invoice: Some(FixedInvoicing {
            schedule,
            amount: usd(9_900),
            description: "Fixed fee".into(),
        }),
    };
    assert!(
        store
            .create_job(slug, &client.id, &job, None, &ApiNotes::default())
            .await
            .expect("job")
    );
    for (i, plan) in scenario.visits.iter().enumerate() {
        let scheduled = match plan.dated {
            Some(days) => VisitDate::On {
                date: scenario.base + Days::new(days),
            },
            None => VisitDate::month_of(month_first(scenario.base, plan.month_offset)),
        };
        let visit = Visit {
            id: DocumentId::random(),
            job_id: job.id.clone(),
            scheduled: Some(scheduled),
            completed_on: None,
            cancelled_on: plan.cancelled.then_some(scenario.base),
        };
        let key = keys::visit(slug, &client.id, &visit.id);
        store
            .upsert_record(&key, Entity::Visit, &visit, None)
            .await
            .expect("visit");
        let billing = Billing::PerVisit {
            visit_id: visit.id.clone(),
        };
        let invoice = plain_invoice(format!("V-{i}"), billing, None, false);
        let key = keys::invoice(slug, &client.id, &invoice.id);
        store
            .upsert_record(&key, Entity::Invoice, &invoice, None)
            .await
            .expect("invoice");
    }
    let paid_date = scenario.base - Days::new(scenario.paid_age);
    let paid = plain_invoice("PAID".into(), Billing::OneOff, Some(paid_date), true);
    let key = keys::invoice(slug, &client.id, &paid.id);
    store
        .upsert_record(&key, Entity::Invoice, &paid, None)
        .await
        .expect("paid invoice");
}

fn label(invoice: &Invoice) -> String {
    match &invoice.billing {
        Billing::Fixed { occurrence, .. } => format!("fixed {occurrence}"),
        _ => invoice.number.clone(),
    }
}

async fn check(scenario: Scenario) -> Result<(), TestCaseError> {
    let midnight = scenario.base.and_hms_opt(0, 0, 0).expect("time").and_utc();
    let stack = TestStack::new(&midnight.to_rfc3339()).await;
    let company = stack.company("model", "Model Co", scenario.zone).await;
    let client = stack.client(&company, "Pat", "pat@example.com").await;
    seed(&stack, &company, &client, &scenario).await;

    for last in sweep_instants(&scenario) {
        stack.clock.set(last);
        sweep::sweep_company(
            &stack.ctx,
            &company,
            company.today(last),
            last,
            Mode::Apply,
            Limits::default(),
        )
        .await
        .map_err(|e| TestCaseError::fail(format!("sweep failed: {e:?}")))?;
    }
    let portal = stack
        .store()
        .client_portal(&company.slug, &client.id)
        .await
        .expect("portal")
        .expect("client");
    let fixed: BTreeSet<NaiveDate> = portal
        .invoices
        .iter()
        .filter_map(|i| match i.billing {
            Billing::Fixed { occurrence, .. } => Some(occurrence),
            _ => None,
        })
        .collect();
    let fixed_count = portal
        .invoices
        .iter()
        .filter(|i| matches!(i.billing, Billing::Fixed { .. }))
        .count();
    let archived = !portal.invoices.iter().any(|i| i.number == "PAID");

    let expected = model(&scenario);
    let zone: Tz = scenario.zone.parse().expect("zone");
    prop_assert_eq!(fixed_count, fixed.len(), "one invoice per occurrence");
    prop_assert_eq!(&fixed, &expected.fixed, "fixed invoices created");
    prop_assert_eq!(archived, expected.archived, "paid invoice archived");
    for at in &expected.looks {
        let day = PortalDay::new(&company, &portal, company.today(*at));
        let shown: BTreeSet<String> = portal
            .invoices
            .iter()
            .filter(|i| day.invoice_decision(i).shown)
            .map(label)
            .collect();
        let wanted = model_shown(&scenario, &expected, local_date(zone, *at));
        prop_assert_eq!(&shown, &wanted, "shown at {}", at);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PORCHLIGHT_MODEL_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(128),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sweep_and_rules_agree_with_the_reference_model(scenario in scenario()) {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(check(scenario))?;
    }
}
