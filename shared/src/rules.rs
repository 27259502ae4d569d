//! The document rules: whether the portal shows a proposal or an invoice on a given day, and
//! why. Every function here is pure; "today" is passed in as the company's calendar date
//! (see [`crate::domain::Company::today`]), so staff can ask about any date.

use chrono::{Days, Months, NaiveDate};
use serde::Serialize;

use crate::domain::{
    Acceptance, Appearance, Billing, Channel, Invoice, Job, Proposal, ProposalState, Settings,
    Stage, Visit,
};

/// A rule's answer: shown or not, the reason, and the dates behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub shown: bool,
    pub reason: Reason,
    /// The first day the document is (or was) shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shown_since: Option<NaiveDate>,
    /// The last day the document is (or was) shown; none while it stays indefinitely.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shown_until: Option<NaiveDate>,
    /// The day a hidden document will appear, when that day is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<NaiveDate>,
}

/// Why a document is or is not shown. The `snake_case` names are part of the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A proposal open for acceptance.
    ProposalOpen,
    /// A proposal whose last valid day has passed; shown, but it can no longer be accepted.
    ProposalExpired,
    ProposalDeclined,
    /// Accepted in the portal: it stays indefinitely.
    AcceptedInPortal,
    /// Accepted through the emailed accept link: it leaves the portal.
    AcceptedByEmailLink,
    /// Accepted by staff in the back office: it leaves the portal.
    AcceptedByStaff,
    /// The job was created as an active job, so its proposal was never meant for the client.
    JobCreatedActive,
    Voided,
    /// The invoice's appearance day has not come yet.
    NotYetDue,
    /// A one-off invoice with no invoice date, work date or completion yet.
    AwaitingWork,
    /// A per-visit invoice whose visit has no date yet.
    AwaitingVisitDate,
    /// A per-visit invoice whose visit record is missing.
    VisitMissing,
    /// A per-visit invoice whose visit was cancelled: the invoice is withdrawn.
    VisitCancelled,
    /// The company shows this kind of invoice only once the work is completed.
    AwaitingCompletion,
    /// The company shows this kind of invoice only once it is approved.
    AwaitingApproval,
    /// The company shows this kind of invoice only once it is marked sent.
    AwaitingSending,
    /// The company leaves zero-total invoices out.
    ZeroTotalHidden,
    Unpaid,
    /// Paid, and still within the retention period counted from the invoice date.
    PaidRecently,
    /// Paid, and the retention period has run out.
    PaidExpired,
}

impl Reason {
    /// The reason in plain words, for staff asking "why is this shown?".
    pub fn explain(self) -> &'static str {
        match self {
            Reason::ProposalOpen => "open for the client to accept",
            Reason::ProposalExpired => "past its valid-until day: shown, but it cannot be accepted",
            Reason::ProposalDeclined => "declined by the client",
            Reason::AcceptedInPortal => "accepted in the portal, so it stays there",
            Reason::AcceptedByEmailLink => {
                "accepted through the emailed link, so it left the portal"
            }
            Reason::AcceptedByStaff => "accepted by staff, so it left the portal",
            Reason::JobCreatedActive => "its job was created active, so its proposal never shows",
            Reason::Voided => "voided: kept on record, never shown",
            Reason::NotYetDue => "waiting for its invoice, work or visit date",
            Reason::AwaitingWork => {
                "waiting for an invoice date, a work date or the job's completion"
            }
            Reason::AwaitingVisitDate => "waiting for its visit to be scheduled",
            Reason::VisitMissing => "its visit is not on record",
            Reason::VisitCancelled => "its visit was cancelled, so the invoice was withdrawn",
            Reason::AwaitingCompletion => "waiting for the work to be completed",
            Reason::AwaitingApproval => "waiting for the invoice to be approved",
            Reason::AwaitingSending => "waiting for the invoice to be marked sent",
            Reason::ZeroTotalHidden => "its total is zero, and zero-total invoices are hidden",
            Reason::Unpaid => "a balance is left, so it stays until paid",
            Reason::PaidRecently => "paid, and shown until its time after the invoice date is up",
            Reason::PaidExpired => "paid, and its time after the invoice date is up",
        }
    }
}

impl Decision {
    fn shown(reason: Reason, since: NaiveDate, until: Option<NaiveDate>) -> Self {
        Self {
            shown: true,
            reason,
            shown_since: Some(since),
            shown_until: until,
            waiting_for: None,
        }
    }

    fn hidden(reason: Reason) -> Self {
        Self {
            shown: false,
            reason,
            shown_since: None,
            shown_until: None,
            waiting_for: None,
        }
    }
}

/// What a proposal's status is for the client, apart from whether it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Open,
    Expired,
    Declined,
    Accepted,
}

/// A proposal can be accepted through its last valid day, in the company's time zone.
pub fn proposal_status(
    proposal: &Proposal,
    acceptance: Option<&Acceptance>,
    today: NaiveDate,
) -> ProposalStatus {
    if acceptance.is_some() {
        ProposalStatus::Accepted
    } else if proposal.state == ProposalState::Declined {
        ProposalStatus::Declined
    } else if today > proposal.valid_until {
        ProposalStatus::Expired
    } else {
        ProposalStatus::Open
    }
}

/// Whether a proposal is in the client's portal today.
///
/// A proposal without a job on record counts as created in the proposal stage: it was made
/// to be sent to the client.
pub fn proposal_decision(
    proposal: &Proposal,
    job: Option<&Job>,
    acceptance: Option<&Acceptance>,
    today: NaiveDate,
) -> Decision {
    if job.is_some_and(|job| job.created_stage == Stage::Active) {
        return Decision::hidden(Reason::JobCreatedActive);
    }
    if let Some(acceptance) = acceptance {
        return match acceptance.channel {
            Channel::Portal => Decision::shown(Reason::AcceptedInPortal, proposal.created_on, None),
            Channel::EmailLink | Channel::Staff => {
                let reason = match acceptance.channel {
                    Channel::EmailLink => Reason::AcceptedByEmailLink,
                    _ => Reason::AcceptedByStaff,
                };
                Decision {
                    shown_since: Some(proposal.created_on),
                    shown_until: acceptance.accepted_on.pred_opt(),
                    ..Decision::hidden(reason)
                }
            }
        };
    }
    let since = proposal.created_on;
    match proposal_status(proposal, None, today) {
        ProposalStatus::Declined => Decision::shown(Reason::ProposalDeclined, since, None),
        ProposalStatus::Expired => Decision::shown(Reason::ProposalExpired, since, None),
        _ => Decision::shown(Reason::ProposalOpen, since, None),
    }
}

/// The day an invoice enters the portal, or why that day is not known yet.
fn appearance_day(
    invoice: &Invoice,
    job: Option<&Job>,
    visit: Option<&Visit>,
) -> Result<NaiveDate, Reason> {
    match &invoice.billing {
        Billing::OneOff => invoice
            .invoice_date
            .or_else(|| job.and_then(|job| job.work_date))
            .or_else(|| job.and_then(|job| job.completed_on))
            .ok_or(Reason::AwaitingWork),
        Billing::PerVisit { .. } => {
            let visit = visit.ok_or(Reason::VisitMissing)?;
            if visit.cancelled_on.is_some() {
                return Err(Reason::VisitCancelled);
            }
            let scheduled = visit.scheduled.ok_or(Reason::AwaitingVisitDate)?;
            scheduled.earliest().ok_or(Reason::AwaitingVisitDate)
        }
        // The sweep dates each fixed invoice on its occurrence; the date it was made for
        // stands even if staff later edit the invoice date away.
        Billing::Fixed { occurrence, .. } => Ok(invoice.invoice_date.unwrap_or(*occurrence)),
    }
}

/// The date a paid invoice's retention is counted from: its own invoice date, or, when it
/// has none, the day it appeared (a one-off job's completion day becomes its invoice date).
pub fn effective_invoice_date(
    invoice: &Invoice,
    job: Option<&Job>,
    visit: Option<&Visit>,
) -> Option<NaiveDate> {
    invoice
        .invoice_date
        .or_else(|| appearance_day(invoice, job, visit).ok())
}

/// The last day a paid invoice dated `invoice_date` is shown. Counting whole months from the
/// invoice date makes a year after Feb 29 land on Feb 28.
pub fn paid_shown_until(invoice_date: NaiveDate, settings: &Settings) -> NaiveDate {
    let gone_on = invoice_date
        .checked_add_months(Months::new(settings.paid_invoice_months))
        .unwrap_or(NaiveDate::MAX);
    gone_on.checked_sub_days(Days::new(1)).unwrap_or(gone_on)
}

/// The extra condition a company's [`Appearance`] setting puts on an invoice: the day it
/// was met, or why it is not met yet. `None` when the setting adds nothing.
fn setting_condition(
    appearance: Appearance,
    invoice: &Invoice,
    job: Option<&Job>,
    visit: Option<&Visit>,
) -> Result<Option<NaiveDate>, Reason> {
    let completed_on = match &invoice.billing {
        Billing::OneOff => job.and_then(|job| job.completed_on),
        Billing::PerVisit { .. } => visit.and_then(|visit| visit.completed_on),
        // A fixed fee is owed for the period, not for a piece of work.
        Billing::Fixed { .. } => return Ok(None),
    };
    match appearance {
        Appearance::DateRules => Ok(None),
        Appearance::OnceCompleted => completed_on.map(Some).ok_or(Reason::AwaitingCompletion),
        Appearance::OnceApproved => invoice
            .approved_on
            .map(Some)
            .ok_or(Reason::AwaitingApproval),
        Appearance::OnceSent => invoice.sent_on.map(Some).ok_or(Reason::AwaitingSending),
    }
}

/// Whether an invoice is in the client's portal today.
pub fn invoice_decision(
    invoice: &Invoice,
    job: Option<&Job>,
    visit: Option<&Visit>,
    settings: &Settings,
    today: NaiveDate,
) -> Decision {
    if invoice.voided {
        return Decision::hidden(Reason::Voided);
    }
    if settings.hide_zero_total && invoice.total.is_zero() {
        return Decision::hidden(Reason::ZeroTotalHidden);
    }
    let by_date = match appearance_day(invoice, job, visit) {
        Ok(day) => day,
        Err(reason) => return Decision::hidden(reason),
    };
    let appearance = match invoice.billing {
        Billing::OneOff => settings.one_off_invoices,
        Billing::PerVisit { .. } | Billing::Fixed { .. } => settings.per_visit_invoices,
    };
    let appears = match setting_condition(appearance, invoice, job, visit) {
        Ok(met_on) => met_on.map_or(by_date, |met_on| met_on.max(by_date)),
        Err(reason) => return Decision::hidden(reason),
    };
    if today < appears {
        return Decision {
            waiting_for: Some(appears),
            ..Decision::hidden(Reason::NotYetDue)
        };
    }
    if !invoice.is_paid() {
        return Decision::shown(Reason::Unpaid, appears, None);
    }
    // Retention counts from the invoice date, which a setting never moves.
    let dated = invoice.invoice_date.unwrap_or(by_date);
    let until = paid_shown_until(dated, settings);
    if today <= until {
        Decision::shown(Reason::PaidRecently, appears, Some(until))
    } else {
        Decision {
            shown_since: Some(appears),
            shown_until: Some(until),
            ..Decision::hidden(Reason::PaidExpired)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::{JobKind, VisitDate};
    use crate::ids::DocumentId;
    use crate::money::{Currency, Money};

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("test dates are valid")
    }

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::usd())
    }

    fn job(created: Stage, work_date: Option<&str>, completed: Option<&str>) -> Job {
        Job {
            id: DocumentId::random(),
            title: "Hedge trimming".into(),
            kind: JobKind::OneOff,
            created_stage: created,
            stage: created,
            work_date: work_date.map(day),
            completed_on: completed.map(day),
            property_id: None,
            fixed_invoice: None,
        }
    }

    fn invoice(date: Option<&str>, total: i64, balance: i64) -> Invoice {
        Invoice {
            id: DocumentId::random(),
            number: "1001".into(),
            billing: Billing::OneOff,
            job_id: None,
            property_name: None,
            invoice_date: date.map(day),
            due_date: None,
            lines: vec![],
            total: usd(total),
            balance: usd(balance),
            voided: false,
            approved_on: None,
            sent_on: None,
            memo: None,
        }
    }

    fn proposal(created: &str, valid_until: &str) -> Proposal {
        Proposal {
            id: DocumentId::random(),
            number: "Q-77".into(),
            job_id: None,
            property_name: None,
            created_on: day(created),
            valid_until: day(valid_until),
            state: ProposalState::Open,
            lines: vec![],
            total: usd(240_000),
            message: None,
        }
    }

    fn acceptance(channel: Channel, on: &str) -> Acceptance {
        let at: DateTime<Utc> = format!("{on}T15:00:00Z").parse().expect("valid instant");
        Acceptance {
            proposal_id: DocumentId::random(),
            channel,
            accepted_at: at,
            accepted_on: day(on),
            accepted_by: "Dana Whitfield".into(),
            accepted_by_email: None,
            source_ip: None,
        }
    }

    fn settings() -> Settings {
        Settings::default()
    }

    /// Each row: (what, invoice date, total, balance, today, shown, reason).
    #[test]
    fn one_off_invoices_with_an_invoice_date() {
        let rows = [
            (
                "future date, day before",
                Some("2026-03-10"),
                100,
                100,
                "2026-03-09",
                false,
                Reason::NotYetDue,
            ),
            (
                "future date, day of",
                Some("2026-03-10"),
                100,
                100,
                "2026-03-10",
                true,
                Reason::Unpaid,
            ),
            (
                "future date, day after",
                Some("2026-03-10"),
                100,
                100,
                "2026-03-11",
                true,
                Reason::Unpaid,
            ),
            (
                "unpaid, ten years on",
                Some("2015-07-24"),
                100,
                100,
                "2026-12-04",
                true,
                Reason::Unpaid,
            ),
            (
                "partly paid, old",
                Some("2024-12-19"),
                459,
                239,
                "2026-12-04",
                true,
                Reason::Unpaid,
            ),
            (
                "paid, day before a year",
                Some("2024-11-23"),
                205,
                0,
                "2025-11-22",
                true,
                Reason::PaidRecently,
            ),
            (
                "paid, a year to the day",
                Some("2024-11-23"),
                205,
                0,
                "2025-11-23",
                false,
                Reason::PaidExpired,
            ),
            (
                "paid, day after a year",
                Some("2024-11-23"),
                205,
                0,
                "2025-11-24",
                false,
                Reason::PaidExpired,
            ),
            (
                "paid on Feb 29, Feb 27 next year",
                Some("2024-02-29"),
                50,
                0,
                "2025-02-27",
                true,
                Reason::PaidRecently,
            ),
            (
                "paid on Feb 29, Feb 28 next year",
                Some("2024-02-29"),
                50,
                0,
                "2025-02-28",
                false,
                Reason::PaidExpired,
            ),
            (
                "paid on Feb 29, Mar 1 next year",
                Some("2024-02-29"),
                50,
                0,
                "2025-03-01",
                false,
                Reason::PaidExpired,
            ),
            (
                "zero total counts as paid",
                Some("2026-01-10"),
                0,
                0,
                "2026-12-04",
                true,
                Reason::PaidRecently,
            ),
        ];
        for (what, date, total, balance, today, shown, reason) in rows {
            let decision = invoice_decision(
                &invoice(date, total, balance),
                None,
                None,
                &settings(),
                day(today),
            );
            assert_eq!((decision.shown, decision.reason), (shown, reason), "{what}");
        }
    }

    #[test]
    fn paid_invoices_carry_their_last_day() {
        let decision = invoice_decision(
            &invoice(Some("2024-11-23"), 205, 0),
            None,
            None,
            &settings(),
            day("2025-06-01"),
        );
        assert_eq!(decision.shown_since, Some(day("2024-11-23")));
        assert_eq!(decision.shown_until, Some(day("2025-11-22")));
        assert_eq!(
            paid_shown_until(day("2024-02-29"), &settings()),
            day("2025-02-27")
        );
        assert_eq!(
            paid_shown_until(day("2023-03-01"), &settings()),
            day("2024-02-29")
        );
    }

    #[test]
    fn an_old_invoice_leaves_the_moment_it_is_paid() {
        let unpaid = invoice(Some("2015-07-24"), 100, 100);
        let paid = Invoice {
            balance: usd(0),
            ..unpaid.clone()
        };
        let today = day("2026-12-04");
        assert!(invoice_decision(&unpaid, None, None, &settings(), today).shown);
        assert!(!invoice_decision(&paid, None, None, &settings(), today).shown);
    }

    #[test]
    fn a_future_invoice_says_when_it_will_appear() {
        let decision = invoice_decision(
            &invoice(Some("2026-03-10"), 1, 1),
            None,
            None,
            &settings(),
            day("2026-03-01"),
        );
        assert_eq!(decision.waiting_for, Some(day("2026-03-10")));
    }

    /// Each row: (what, work date, completed on, today, shown, reason, since).
    #[test]
    fn one_off_invoices_without_an_invoice_date() {
        let rows = [
            (
                "work date, day before",
                Some("2026-05-04"),
                None,
                "2026-05-03",
                false,
                Reason::NotYetDue,
                None,
            ),
            (
                "work date, day of",
                Some("2026-05-04"),
                None,
                "2026-05-04",
                true,
                Reason::Unpaid,
                Some("2026-05-04"),
            ),
            (
                "work date, day after",
                Some("2026-05-04"),
                None,
                "2026-05-05",
                true,
                Reason::Unpaid,
                Some("2026-05-04"),
            ),
            (
                "work date wins over completion",
                Some("2026-05-04"),
                Some("2026-05-02"),
                "2026-05-03",
                false,
                Reason::NotYetDue,
                None,
            ),
            (
                "completion, day before",
                None,
                Some("2026-06-01"),
                "2026-05-31",
                false,
                Reason::NotYetDue,
                None,
            ),
            (
                "completion, day of",
                None,
                Some("2026-06-01"),
                "2026-06-01",
                true,
                Reason::Unpaid,
                Some("2026-06-01"),
            ),
            (
                "completion, day after",
                None,
                Some("2026-06-01"),
                "2026-06-02",
                true,
                Reason::Unpaid,
                Some("2026-06-01"),
            ),
            (
                "neither",
                None,
                None,
                "2026-06-02",
                false,
                Reason::AwaitingWork,
                None,
            ),
        ];
        for (what, work, completed, today, shown, reason, since) in rows {
            let job = job(Stage::Active, work, completed);
            let decision = invoice_decision(
                &invoice(None, 100, 100),
                Some(&job),
                None,
                &settings(),
                day(today),
            );
            assert_eq!((decision.shown, decision.reason), (shown, reason), "{what}");
            assert_eq!(decision.shown_since, since.map(day), "{what}");
        }
    }

    #[test]
    fn completion_day_becomes_the_invoice_date_for_retention() {
        let job = job(Stage::Active, None, Some("2025-02-10"));
        let paid = invoice(None, 100, 0);
        let dated = effective_invoice_date(&paid, Some(&job), None);
        assert_eq!(dated, Some(day("2025-02-10")));
        let on = |d| invoice_decision(&paid, Some(&job), None, &settings(), day(d)).shown;
        assert!(on("2026-02-09"));
        assert!(!on("2026-02-10"));
    }

    #[test]
    fn no_job_and_no_date_waits_for_work() {
        let decision = invoice_decision(
            &invoice(None, 100, 100),
            None,
            None,
            &settings(),
            day("2026-01-01"),
        );
        assert_eq!(decision.reason, Reason::AwaitingWork);
        assert!(!decision.shown);
    }

    #[test]
    fn voided_invoices_never_show() {
        let voided = Invoice {
            voided: true,
            ..invoice(Some("2025-01-10"), 0, 0)
        };
        let decision = invoice_decision(&voided, None, None, &settings(), day("2025-01-10"));
        assert_eq!((decision.shown, decision.reason), (false, Reason::Voided));
    }

    fn per_visit(scheduled: Option<VisitDate>, completed: Option<&str>) -> (Invoice, Visit) {
        let visit = Visit {
            id: DocumentId::random(),
            job_id: DocumentId::random(),
            scheduled,
            completed_on: completed.map(day),
            cancelled_on: None,
        };
        let invoice = Invoice {
            billing: Billing::PerVisit {
                visit_id: visit.id.clone(),
            },
            ..invoice(None, 6000, 6000)
        };
        (invoice, visit)
    }

    /// Each row: (what, visit date, completed, today, shown, reason).
    #[test]
    fn per_visit_invoices() {
        let on = |d: &str| Some(VisitDate::On { date: day(d) });
        let within = |y, m| Some(VisitDate::WithinMonth { year: y, month: m });
        let rows = [
            (
                "dated visit, day before",
                on("2026-07-14"),
                None,
                "2026-07-13",
                false,
                Reason::NotYetDue,
            ),
            (
                "dated visit, day of, not done",
                on("2026-07-14"),
                None,
                "2026-07-14",
                true,
                Reason::Unpaid,
            ),
            (
                "dated visit, day after",
                on("2026-07-14"),
                None,
                "2026-07-15",
                true,
                Reason::Unpaid,
            ),
            (
                "completed early still waits for the date",
                on("2026-07-14"),
                Some("2026-07-10"),
                "2026-07-12",
                false,
                Reason::NotYetDue,
            ),
            (
                "to be determined in Nov, Oct 31",
                within(2026, 11),
                None,
                "2026-10-31",
                false,
                Reason::NotYetDue,
            ),
            (
                "to be determined in Nov, Nov 1",
                within(2026, 11),
                None,
                "2026-11-01",
                true,
                Reason::Unpaid,
            ),
            (
                "to be determined in Nov, Nov 2",
                within(2026, 11),
                None,
                "2026-11-02",
                true,
                Reason::Unpaid,
            ),
            (
                "to be determined in Feb of a leap year",
                within(2028, 2),
                None,
                "2028-02-01",
                true,
                Reason::Unpaid,
            ),
            (
                "no date yet",
                None,
                None,
                "2026-07-15",
                false,
                Reason::AwaitingVisitDate,
            ),
        ];
        for (what, scheduled, completed, today, shown, reason) in rows {
            let (invoice, visit) = per_visit(scheduled, completed);
            let decision = invoice_decision(&invoice, None, Some(&visit), &settings(), day(today));
            assert_eq!((decision.shown, decision.reason), (shown, reason), "{what}");
        }
    }

    #[test]
    fn per_visit_invoice_without_its_visit_is_hidden() {
        let (invoice, _) = per_visit(None, None);
        let decision = invoice_decision(&invoice, None, None, &settings(), day("2026-07-15"));
        assert_eq!(decision.reason, Reason::VisitMissing);
    }

    #[test]
    fn paid_per_visit_invoice_counts_a_year_from_its_visit() {
        let (unpaid, visit) = per_visit(
            Some(VisitDate::On {
                date: day("2024-02-29"),
            }),
            None,
        );
        let paid = Invoice {
            balance: usd(0),
            ..unpaid
        };
        let on = |d| invoice_decision(&paid, None, Some(&visit), &settings(), day(d)).shown;
        assert!(on("2025-02-27"));
        assert!(!on("2025-02-28"));
    }

    /// Each row: (what, job created in, acceptance, today, shown, reason).
    #[test]
    fn proposals() {
        let rows = [
            (
                "no job on record",
                None,
                None,
                "2026-05-01",
                true,
                Reason::ProposalOpen,
            ),
            (
                "created as lead",
                Some(Stage::Lead),
                None,
                "2026-05-01",
                true,
                Reason::ProposalOpen,
            ),
            (
                "created as proposal",
                Some(Stage::Proposal),
                None,
                "2026-05-01",
                true,
                Reason::ProposalOpen,
            ),
            (
                "created active",
                Some(Stage::Active),
                None,
                "2026-05-01",
                false,
                Reason::JobCreatedActive,
            ),
            (
                "accepted in portal, years later",
                Some(Stage::Proposal),
                Some(acceptance(Channel::Portal, "2026-05-02")),
                "2030-01-01",
                true,
                Reason::AcceptedInPortal,
            ),
            (
                "accepted by email link",
                Some(Stage::Proposal),
                Some(acceptance(Channel::EmailLink, "2026-05-02")),
                "2026-05-02",
                false,
                Reason::AcceptedByEmailLink,
            ),
            (
                "accepted by staff",
                Some(Stage::Lead),
                Some(acceptance(Channel::Staff, "2026-05-02")),
                "2026-05-03",
                false,
                Reason::AcceptedByStaff,
            ),
            (
                "created active, accepted in portal",
                Some(Stage::Active),
                Some(acceptance(Channel::Portal, "2026-05-02")),
                "2026-05-03",
                false,
                Reason::JobCreatedActive,
            ),
            (
                "valid until, day of",
                None,
                None,
                "2026-05-15",
                true,
                Reason::ProposalOpen,
            ),
            (
                "valid until, day after",
                None,
                None,
                "2026-05-16",
                true,
                Reason::ProposalExpired,
            ),
        ];
        for (what, created, accepted, today, shown, reason) in rows {
            let proposal = proposal("2026-04-15", "2026-05-15");
            let job = created.map(|stage| job(stage, None, None));
            let decision =
                proposal_decision(&proposal, job.as_ref(), accepted.as_ref(), day(today));
            assert_eq!((decision.shown, decision.reason), (shown, reason), "{what}");
        }
    }

    #[test]
    fn a_job_moved_back_to_proposal_keeps_its_proposal_hidden() {
        let mut moved = job(Stage::Active, None, None);
        moved.stage = Stage::Proposal;
        let decision = proposal_decision(
            &proposal("2026-04-15", "2026-05-15"),
            Some(&moved),
            None,
            day("2026-04-20"),
        );
        assert_eq!(decision.reason, Reason::JobCreatedActive);
    }

    /// Each row: (today, status): the last valid day is included, the day after is not.
    #[test]
    fn proposal_status_at_the_expiry_boundary() {
        let proposal = proposal("2026-05-01", "2026-05-15");
        for (today, status) in [
            ("2026-05-14", ProposalStatus::Open),
            ("2026-05-15", ProposalStatus::Open),
            ("2026-05-16", ProposalStatus::Expired),
        ] {
            assert_eq!(
                proposal_status(&proposal, None, day(today)),
                status,
                "{today}"
            );
        }
        let accepted = acceptance(Channel::Portal, "2026-05-10");
        assert_eq!(
            proposal_status(&proposal, Some(&accepted), day("2026-06-01")),
            ProposalStatus::Accepted
        );
    }

    #[test]
    fn proposal_valid_only_today_can_be_accepted_all_day() {
        let proposal = proposal("2026-05-15", "2026-05-15");
        assert_eq!(
            proposal_status(&proposal, None, day("2026-05-15")),
            ProposalStatus::Open
        );
    }

    /// Each row: (what, setting, work date, completed, approved, sent, today, shown, reason).
    /// The setting adds a condition to the date rule; the later of the two days wins.
    #[test]
    fn company_settings_for_one_off_invoices() {
        type Row = (
            &'static str,
            Appearance,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            &'static str,
            bool,
            Reason,
        );
        let rows: [Row; 12] = [
            (
                "date rules",
                Appearance::DateRules,
                Some("2026-05-04"),
                None,
                None,
                None,
                "2026-05-04",
                true,
                Reason::Unpaid,
            ),
            (
                "completed: not yet",
                Appearance::OnceCompleted,
                Some("2026-05-04"),
                None,
                None,
                None,
                "2026-05-10",
                false,
                Reason::AwaitingCompletion,
            ),
            (
                "completed: day before",
                Appearance::OnceCompleted,
                Some("2026-05-04"),
                Some("2026-05-06"),
                None,
                None,
                "2026-05-05",
                false,
                Reason::NotYetDue,
            ),
            (
                "completed: day of",
                Appearance::OnceCompleted,
                Some("2026-05-04"),
                Some("2026-05-06"),
                None,
                None,
                "2026-05-06",
                true,
                Reason::Unpaid,
            ),
            (
                "completed early still waits for the work date",
                Appearance::OnceCompleted,
                Some("2026-05-04"),
                Some("2026-05-01"),
                None,
                None,
                "2026-05-03",
                false,
                Reason::NotYetDue,
            ),
            (
                "approved: not yet",
                Appearance::OnceApproved,
                Some("2026-05-04"),
                None,
                None,
                None,
                "2026-05-10",
                false,
                Reason::AwaitingApproval,
            ),
            (
                "approved: day before",
                Appearance::OnceApproved,
                Some("2026-05-04"),
                None,
                Some("2026-05-08"),
                None,
                "2026-05-07",
                false,
                Reason::NotYetDue,
            ),
            (
                "approved: day of",
                Appearance::OnceApproved,
                Some("2026-05-04"),
                None,
                Some("2026-05-08"),
                None,
                "2026-05-08",
                true,
                Reason::Unpaid,
            ),
            (
                "sent: not yet",
                Appearance::OnceSent,
                Some("2026-05-04"),
                None,
                None,
                None,
                "2026-05-10",
                false,
                Reason::AwaitingSending,
            ),
            (
                "sent: day before",
                Appearance::OnceSent,
                Some("2026-05-04"),
                None,
                None,
                Some("2026-05-09"),
                "2026-05-08",
                false,
                Reason::NotYetDue,
            ),
            (
                "sent: day of",
                Appearance::OnceSent,
                Some("2026-05-04"),
                None,
                None,
                Some("2026-05-09"),
                "2026-05-09",
                true,
                Reason::Unpaid,
            ),
            (
                "sent: day after",
                Appearance::OnceSent,
                Some("2026-05-04"),
                None,
                None,
                Some("2026-05-09"),
                "2026-05-10",
                true,
                Reason::Unpaid,
            ),
        ];
        for (what, appearance, work, completed, approved, sent, today, shown, reason) in rows {
            let settings = Settings {
                one_off_invoices: appearance,
                ..Settings::default()
            };
            let job = job(Stage::Active, work, completed);
            let invoice = Invoice {
                approved_on: approved.map(day),
                sent_on: sent.map(day),
                ..invoice(None, 100, 100)
            };
            let decision = invoice_decision(&invoice, Some(&job), None, &settings, day(today));
            assert_eq!((decision.shown, decision.reason), (shown, reason), "{what}");
        }
    }

    #[test]
    fn per_visit_invoices_follow_their_own_setting() {
        let (invoice, visit) = per_visit(
            Some(VisitDate::On {
                date: day("2026-07-14"),
            }),
            None,
        );
        let strict = Settings {
            per_visit_invoices: Appearance::OnceCompleted,
            ..Settings::default()
        };
        let today = day("2026-07-20");
        let waiting = invoice_decision(&invoice, None, Some(&visit), &strict, today);
        assert_eq!(waiting.reason, Reason::AwaitingCompletion);

        let done = Visit {
            completed_on: Some(day("2026-07-15")),
            ..visit.clone()
        };
        let shown = invoice_decision(&invoice, None, Some(&done), &strict, today);
        assert_eq!(shown.shown_since, Some(day("2026-07-15")));

        let one_off_only = Settings {
            one_off_invoices: Appearance::OnceSent,
            ..Settings::default()
        };
        assert!(invoice_decision(&invoice, None, Some(&visit), &one_off_only, today).shown);
    }

    #[test]
    fn zero_total_invoices_can_be_hidden() {
        let free = invoice(Some("2026-03-01"), 0, 0);
        let today = day("2026-03-02");
        assert!(invoice_decision(&free, None, None, &settings(), today).shown);
        let hiding = Settings {
            hide_zero_total: true,
            ..Settings::default()
        };
        let decision = invoice_decision(&free, None, None, &hiding, today);
        assert_eq!(
            (decision.shown, decision.reason),
            (false, Reason::ZeroTotalHidden)
        );
        let owed = invoice(Some("2026-03-01"), 100, 100);
        assert!(invoice_decision(&owed, None, None, &hiding, today).shown);
    }

    /// Each row: (months kept, today, shown) for an invoice dated 2024-11-23 and paid.
    #[test]
    fn paid_retention_follows_the_setting() {
        let paid = invoice(Some("2024-11-23"), 205, 0);
        for (months, today, shown) in [
            (6, "2025-05-22", true),
            (6, "2025-05-23", false),
            (24, "2026-11-22", true),
            (24, "2026-11-23", false),
        ] {
            let settings = Settings {
                paid_invoice_months: months,
                ..Settings::default()
            };
            let decision = invoice_decision(&paid, None, None, &settings, day(today));
            assert_eq!(decision.shown, shown, "{months} months, {today}");
        }
    }

    /// A setting never moves the invoice date that retention counts from.
    #[test]
    fn settings_do_not_move_the_invoice_date() {
        let job = job(Stage::Active, Some("2025-01-10"), Some("2025-03-01"));
        let paid = invoice(None, 100, 0);
        let strict = Settings {
            one_off_invoices: Appearance::OnceCompleted,
            ..settings()
        };
        let decision = invoice_decision(&paid, Some(&job), None, &strict, day("2025-06-01"));
        assert_eq!(decision.shown_since, Some(day("2025-03-01")));
        assert_eq!(decision.shown_until, Some(day("2026-01-09")));
    }
}
