//! The daily sweep: per company and its own calendar date, it creates the fixed invoices
//! that are due, moves paid invoices whose time in the portal is up into the archive, and
//! emails each client (at most once a day) that new documents are waiting.
//!
//! It reads only what its sparse index says is due (see [`crate::store::keys`]), a page at
//! a time. Every step is its own conditional write, so a run stopped by a timeout leaves
//! the rest due for the next run, and two runs at once change each thing once.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Days, NaiveDate, Utc};
use maud::html;
use serde::Serialize;

use crate::client_links;
use crate::context::AppContext;
use crate::domain::{
    Acceptance, Billing, Client, Company, Invoice, Job, Line, LineKind, Proposal, Visit,
};
use crate::ids::{ClientId, DocumentId};
use crate::mail::{Email, Mailbox};
use crate::rules::{self, Decision, Reason};
use crate::store::keys::{self, Entity};
use crate::store::sweep::{ArchiveOutcome, Due, DueEntry, FixedOutcome, ScheduleCursor};
use crate::store::{Store, StoreError};
use crate::views;

/// Hints read per page.
const PAGE: i32 = 100;
/// Fixed invoices one schedule may catch up in one run; the rest wait for the next run.
const CATCH_UP: usize = 62;
/// A document is announced only if it appeared this recently: older ones (an import of
/// years of history, say) are not news.
const NEWS_DAYS: u64 = 7;

/// Whether the sweep writes, or only says what it would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    DryRun,
}

/// When a run stops taking new pages; what is left stays due for the next run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub deadline: Option<Instant>,
    /// At most this many pages of hints (tests use it to stop a run part way).
    pub pages: Option<u32>,
}

/// What the sweep did (or would do) for one company: the structured log line's fields,
/// and the lists the CLI prints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompanySweep {
    pub company: String,
    pub local_date: Option<NaiveDate>,
    pub hints_read: u64,
    pub items_read: u64,
    pub requests: u64,
    pub fixed_invoices: Vec<FixedInvoiceMade>,
    pub archived: Vec<DocumentRef>,
    pub emails: Vec<DigestSent>,
    /// Clients with news who already had today's email, or whose email failed.
    pub deferred: u64,
    pub opted_out: u64,
    /// Writes another run got to first (harmless; counted for operators).
    pub lost_races: u64,
    /// False when the run stopped early (time budget); the rest stays due.
    pub complete: bool,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixedInvoiceMade {
    pub client_id: ClientId,
    pub job_id: DocumentId,
    pub job_title: String,
    pub invoice_id: DocumentId,
    pub number: String,
    pub occurrence: NaiveDate,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DocumentRef {
    pub client_id: ClientId,
    pub kind: &'static str,
    pub id: DocumentId,
    pub number: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DigestSent {
    pub client_id: ClientId,
    pub documents: Vec<String>,
}

/// A document that appeared and may be news for its client.
#[derive(Debug, Clone)]
struct News {
    entry: DueEntry,
    label: String,
    next_hint: Option<String>,
}

/// Runs the sweep for every company at `now`, each on its own calendar date, stopping
/// between pages once `deadline` has passed.
pub async fn sweep_all(
    ctx: &AppContext,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<Vec<CompanySweep>, StoreError> {
    let mut reports = Vec::new();
    for company in ctx.store.companies().await? {
        let today = company.today(now);
        let limits = Limits {
            deadline,
            pages: None,
        };
        let report = sweep_company(ctx, &company, today, now, Mode::Apply, limits).await;
        reports.push(report?);
    }
    Ok(reports)
}

/// The sweep of one company on its date `today`; `now` stamps what it writes.
pub async fn sweep_company(
    ctx: &AppContext,
    company: &Company,
    today: NaiveDate,
    now: DateTime<Utc>,
    mode: Mode,
    limits: Limits,
) -> Result<CompanySweep, StoreError> {
    let started = Instant::now();
    let store = &ctx.store;
    let (reads_before, requests_before) = (store.items_read(), store.request_count());
    let mut report = CompanySweep {
        company: company.slug.to_string(),
        local_date: Some(today),
        complete: true,
        ..CompanySweep::default()
    };
    let mut news: BTreeMap<ClientId, Vec<News>> = BTreeMap::new();
    let mut pages = 0;
    // A second pass picks up the fixed invoices the first one made, so they are announced
    // (and their hints settled) in the same run instead of an hour later.
    for _pass in 0..2 {
        let made_before = report.fixed_invoices.len();
        let mut start = None;
        loop {
            let out_of_time = limits.deadline.is_some_and(|at| Instant::now() >= at);
            if out_of_time || limits.pages.is_some_and(|most| pages >= most) {
                report.complete = false;
                break;
            }
            pages += 1;
            let page = store.due_page(&company.slug, today, start, PAGE).await?;
            report.hints_read += page.entries.len() as u64;
            for entry in page.entries {
                let sweep = Sweeper {
                    store,
                    company,
                    today,
                    now,
                    mode,
                };
                sweep.entry(entry, &mut report, &mut news).await?;
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        let made_now = report.fixed_invoices.len() > made_before;
        if !report.complete || mode == Mode::DryRun || !made_now {
            break;
        }
    }
    for (client, items) in news {
        announce(ctx, company, today, now, mode, &client, items, &mut report).await?;
    }
    report.items_read = store.items_read() - reads_before;
    report.requests = store.request_count() - requests_before;
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        company = %company.slug,
        local_date = %today,
        dry_run = mode == Mode::DryRun,
        hints_read = report.hints_read,
        items_read = report.items_read,
        requests = report.requests,
        fixed_invoices = report.fixed_invoices.len(),
        archived = report.archived.len(),
        emails = report.emails.len(),
        deferred = report.deferred,
        opted_out = report.opted_out,
        lost_races = report.lost_races,
        complete = report.complete,
        elapsed_ms = report.elapsed_ms,
        "sweep finished for company"
    );
    Ok(report)
}

struct Sweeper<'a> {
    store: &'a Store,
    company: &'a Company,
    today: NaiveDate,
    now: DateTime<Utc>,
    mode: Mode,
}

impl Sweeper<'_> {
    async fn entry(
        &self,
        entry: DueEntry,
        report: &mut CompanySweep,
        news: &mut BTreeMap<ClientId, Vec<News>>,
    ) -> Result<(), StoreError> {
        match &entry.what {
            Due::Schedule(cursor) => self.schedule((**cursor).clone(), report).await,
            Due::Invoice {
                client, invoice, ..
            } => {
                let (client, invoice) = (client.clone(), invoice.clone());
                self.invoice(entry, &client, &invoice, report, news).await
            }
            Due::Proposal {
                client,
                proposal_id,
            } => {
                let (client, id) = (client.clone(), proposal_id.clone());
                self.proposal(entry, &client, &id, report, news).await
            }
            Due::Other { entity } => {
                tracing::warn!(entity = ?entity, sk = %entry.key.sk, "sweep hint dropped");
                self.move_hint(&entry, None, report).await
            }
        }
    }

    async fn move_hint(
        &self,
        entry: &DueEntry,
        next: Option<String>,
        report: &mut CompanySweep,
    ) -> Result<(), StoreError> {
        if self.mode == Mode::DryRun {
            return Ok(());
        }
        if !self.store.move_hint(&entry.key, &entry.hint, next).await? {
            report.lost_races += 1;
        }
        Ok(())
    }

    /// Creates each fixed invoice of the schedule due by today, oldest first.
    async fn schedule(
        &self,
        mut cursor: ScheduleCursor,
        report: &mut CompanySweep,
    ) -> Result<(), StoreError> {
        let Some(plan) = cursor.plan.clone() else {
            return Ok(());
        };
        for _ in 0..CATCH_UP {
            let Some(occurrence) = cursor.next_due.filter(|day| *day <= self.today) else {
                break;
            };
            let next = occurrence
                .succ_opt()
                .and_then(|day| plan.schedule.next_on_or_after(day));
            let invoice = fixed_invoice(self.company, &cursor, occurrence);
            let outcome = match self.mode {
                Mode::DryRun => FixedOutcome::Created,
                Mode::Apply => {
                    self.store
                        .create_fixed_invoice(&self.company.slug, &cursor, &invoice, next)
                        .await?
                }
            };
            match outcome {
                FixedOutcome::Created => report.fixed_invoices.push(FixedInvoiceMade {
                    client_id: cursor.client_id.clone(),
                    job_id: cursor.job_id.clone(),
                    job_title: cursor.job_title.clone(),
                    invoice_id: invoice.id.clone(),
                    number: invoice.number.clone(),
                    occurrence,
                    amount: invoice.total.to_string(),
                }),
                FixedOutcome::AlreadyCreated => report.lost_races += 1,
                FixedOutcome::CursorMoved => {
                    report.lost_races += 1;
                    break;
                }
            }
            cursor.next_due = next;
            cursor.issued_through = Some(occurrence);
            cursor.revision += 1;
        }
        Ok(())
    }

    async fn invoice(
        &self,
        entry: DueEntry,
        client: &ClientId,
        invoice: &Invoice,
        report: &mut CompanySweep,
        news: &mut BTreeMap<ClientId, Vec<News>>,
    ) -> Result<(), StoreError> {
        let slug = &self.company.slug;
        let job: Option<Job> = match (&invoice.billing, &invoice.job_id) {
            (Billing::OneOff, Some(job)) => {
                self.store
                    .record(&keys::job(slug, client, job), Entity::Job)
                    .await?
            }
            _ => None,
        };
        let visit: Option<Visit> = match &invoice.billing {
            Billing::PerVisit { visit_id } => {
                self.store
                    .record(&keys::visit(slug, client, visit_id), Entity::Visit)
                    .await?
            }
            _ => None,
        };
        let decision = rules::invoice_decision(
            invoice,
            job.as_ref(),
            visit.as_ref(),
            &self.company.settings,
            self.today,
        );
        if decision.reason == Reason::PaidExpired {
            return self.archive(entry, client, invoice, report).await;
        }
        let next_hint = self.next_hint(&entry, &decision);
        if decision.shown && self.is_news(&decision) {
            let label = format!("Invoice {}", invoice.number);
            add_news(news, client, entry, label, next_hint);
            return Ok(());
        }
        self.move_hint(&entry, next_hint, report).await
    }

    async fn archive(
        &self,
        entry: DueEntry,
        client: &ClientId,
        invoice: &Invoice,
        report: &mut CompanySweep,
    ) -> Result<(), StoreError> {
        let archived = DocumentRef {
            client_id: client.clone(),
            kind: "invoice",
            id: invoice.id.clone(),
            number: invoice.number.clone(),
        };
        if self.mode == Mode::DryRun {
            report.archived.push(archived);
            return Ok(());
        }
        let Due::Invoice { item, .. } = &entry.what else {
            return Ok(());
        };
        let outcome = self
            .store
            .archive_invoice(&self.company.slug, client, &entry, item, self.now)
            .await?;
        match outcome {
            ArchiveOutcome::Archived => report.archived.push(archived),
            ArchiveOutcome::Changed => report.lost_races += 1,
        }
        Ok(())
    }

    async fn proposal(
        &self,
        entry: DueEntry,
        client: &ClientId,
        id: &DocumentId,
        report: &mut CompanySweep,
        news: &mut BTreeMap<ClientId, Vec<News>>,
    ) -> Result<(), StoreError> {
        let slug = &self.company.slug;
        let proposal: Option<Proposal> = self
            .store
            .record(&keys::proposal(slug, client, id), Entity::Proposal)
            .await?;
        let Some(proposal) = proposal else {
            return Ok(());
        };
        let job: Option<Job> = match &proposal.job_id {
            Some(job) => {
                self.store
                    .record(&keys::job(slug, client, job), Entity::Job)
                    .await?
            }
            None => None,
        };
        let acceptance: Option<Acceptance> = self
            .store
            .record(&keys::acceptance(slug, client, id), Entity::Acceptance)
            .await?;
        let decision =
            rules::proposal_decision(&proposal, job.as_ref(), acceptance.as_ref(), self.today);
        let wanted =
            decision.shown && decision.reason == Reason::ProposalOpen && self.is_news(&decision);
        if wanted {
            let label = format!("Proposal {}", proposal.number);
            add_news(news, client, entry, label, None);
            return Ok(());
        }
        self.move_hint(&entry, None, report).await
    }

    fn is_news(&self, decision: &Decision) -> bool {
        let recent = self.today.checked_sub_days(Days::new(NEWS_DAYS));
        match (decision.shown_since, recent) {
            (Some(since), Some(recent)) => since > recent,
            _ => true,
        }
    }

    /// The next day to look at a document after today's decision: when it appears, or
    /// the day after its last day shown (to archive it); none while nothing is waiting.
    fn next_hint(&self, entry: &DueEntry, decision: &Decision) -> Option<String> {
        let what = entry.hint.split_once('#').map_or("", |(_, what)| what);
        let day = if decision.shown {
            decision.shown_until.and_then(|until| until.succ_opt())
        } else {
            decision.waiting_for
        };
        day.map(|day| keys::sweep_hint(Some(day), what))
    }
}

/// Adds a document to its client's news once, however many passes see its hint.
fn add_news(
    news: &mut BTreeMap<ClientId, Vec<News>>,
    client: &ClientId,
    entry: DueEntry,
    label: String,
    next_hint: Option<String>,
) {
    let items = news.entry(client.clone()).or_default();
    if items.iter().all(|seen| seen.entry.key != entry.key) {
        items.push(News {
            entry,
            label,
            next_hint,
        });
    }
}

/// The fixed invoice of one occurrence. Its id comes from the company's secret, the job
/// and the date, so every sweep that gets here makes the same invoice.
pub fn fixed_invoice(company: &Company, cursor: &ScheduleCursor, occurrence: NaiveDate) -> Invoice {
    let source = format!(
        "fixed-invoice:{}:{}:{occurrence}",
        cursor.client_id, cursor.job_id
    );
    let id = DocumentId::derived(&company.id_secret, &source);
    let (period, amount, description) = match &cursor.plan {
        Some(plan) => (
            plan.schedule.period_label(occurrence),
            plan.amount.clone(),
            plan.description.clone(),
        ),
        None => (
            occurrence.to_string(),
            crate::money::Money::zero(company.currency.clone()),
            cursor.job_title.clone(),
        ),
    };
    // The job's code keeps two contracts' invoices of one month apart; it leads, so the
    // number never reads as a date.
    let job_code: String = cursor.job_id.as_str().chars().take(4).collect();
    Invoice {
        number: format!("F{}-{period}", job_code.to_uppercase()),
        id,
        billing: Billing::Fixed {
            occurrence,
            period: period.clone(),
        },
        job_id: Some(cursor.job_id.clone()),
        property_name: cursor.property_name.clone(),
        invoice_date: Some(occurrence),
        due_date: Some(occurrence),
        lines: vec![Line {
            kind: LineKind::Item,
            description: format!("{description} ({period})"),
            quantity: None,
            unit_price: None,
            amount: amount.clone(),
        }],
        total: amount.clone(),
        balance: amount,
        voided: false,
        approved_on: None,
        sent_on: None,
        memo: Some(cursor.job_title.clone()),
    }
}

/// Sends one client the day's "new documents" email, unless they turned it off, it was
/// sent today already, or every document in it was announced before.
#[allow(clippy::too_many_arguments)]
async fn announce(
    ctx: &AppContext,
    company: &Company,
    today: NaiveDate,
    now: DateTime<Utc>,
    mode: Mode,
    client_id: &ClientId,
    items: Vec<News>,
    report: &mut CompanySweep,
) -> Result<(), StoreError> {
    let store = &ctx.store;
    let slug = &company.slug;
    let apply = mode == Mode::Apply;
    let tomorrow = today.succ_opt();
    let preferences = store.client_preferences(slug, client_id).await?;
    if !preferences.new_documents_email {
        report.opted_out += 1;
        report.lost_races += settle(store, apply, &items, None).await?;
        return Ok(());
    }
    let sks: Vec<String> = items.iter().map(|news| news.entry.key.sk.clone()).collect();
    let announced = store.announced(slug, client_id, &sks).await?;
    let (old, fresh): (Vec<News>, Vec<News>) = items
        .into_iter()
        .partition(|news| announced.contains(&news.entry.key.sk));
    report.lost_races += settle(store, apply, &old, None).await?;
    let client: Option<Client> = store
        .record(&keys::client(slug, client_id), Entity::Client)
        .await?;
    let recipients: Vec<Mailbox> = client
        .iter()
        .flat_map(|client| client.emails.iter())
        .filter_map(|email| Mailbox::parse(email).ok())
        .collect();
    let (Some(client), false) = (client, fresh.is_empty() || recipients.is_empty()) else {
        report.lost_races += settle(store, apply, &fresh, None).await?;
        return Ok(());
    };
    let labels: Vec<String> = fresh.iter().map(|news| news.label.clone()).collect();
    if !apply {
        report.emails.push(DigestSent {
            client_id: client_id.clone(),
            documents: labels,
        });
        return Ok(());
    }
    if !store
        .claim_digest_day(slug, client_id, today, fresh.len(), now)
        .await?
    {
        report.deferred += 1;
        report.lost_races += settle(store, apply, &fresh, tomorrow).await?;
        return Ok(());
    }
    let email = digest_email(ctx, company, &client, recipients, &labels);
    match ctx.mailer.send(&email, now).await {
        Ok(message_id) => {
            let fresh_sks: Vec<String> = fresh.iter().map(|n| n.entry.key.sk.clone()).collect();
            store
                .finish_digest(slug, client_id, today, &fresh_sks, &message_id, now)
                .await?;
            report.lost_races += settle(store, apply, &fresh, None).await?;
            report.emails.push(DigestSent {
                client_id: client_id.clone(),
                documents: labels,
            });
        }
        Err(error) => {
            // The hints stay due: the next run tries again.
            tracing::warn!(
                company = %slug,
                client = %client_id,
                error = %error,
                "new documents email failed"
            );
            store.release_digest_day(slug, client_id, today).await?;
            report.deferred += 1;
        }
    }
    Ok(())
}

/// Moves the hints of announced (or skipped) documents on: to their own next day, or to
/// `retry_on` for all of them. Returns how many another writer had changed meanwhile.
async fn settle(
    store: &Store,
    apply: bool,
    items: &[News],
    retry_on: Option<NaiveDate>,
) -> Result<u64, StoreError> {
    if !apply {
        return Ok(0);
    }
    let mut lost = 0;
    for news in items {
        let next = match retry_on {
            Some(day) => {
                let what = news.entry.hint.split_once('#').map_or("", |(_, what)| what);
                Some(keys::sweep_hint(Some(day), what))
            }
            None => news.next_hint.clone(),
        };
        if !store
            .move_hint(&news.entry.key, &news.entry.hint, next)
            .await?
        {
            lost += 1;
        }
    }
    Ok(lost)
}

fn digest_email(
    ctx: &AppContext,
    company: &Company,
    client: &Client,
    to: Vec<Mailbox>,
    labels: &[String],
) -> Email {
    let base = ctx.config.base_url.trim_end_matches('/');
    let portal = format!("{base}/p/{}", company.slug);
    let opt_out = format!(
        "{base}{}",
        client_links::email_opt_out_path(company, &client.id)
    );
    let name = &company.name;
    let list: String = labels.iter().map(|label| format!("- {label}\n")).collect();
    let body = format!(
        "Hello {},\n\nNew documents are waiting in your {name} portal:\n\n{list}\n\
         Open your portal: {portal}\n\n\
         You get this email at most once a day when something new arrives. To stop it, \
         open: {opt_out}\n\n{name}\n",
        client.name
    );
    let html = views::email::message(
        name,
        html! {
            p { "Hello " (client.name) "," }
            p { "New documents are waiting in your " (name) " portal:" }
            ul { @for label in labels { li { (label) } } }
            (views::email::button("Open your portal", &portal))
            p style="font-size:13px;color:#555" {
                "You get this email at most once a day when something new arrives. "
                a href=(opt_out) { "Stop these emails" } "."
            }
        },
    );
    let from = Mailbox::parse_with_name(&ctx.config.mail_from)
        .map(|from| from.named(name))
        .unwrap_or_else(|_| Mailbox::parse("portal@localhost").expect("a valid address"));
    Email {
        from,
        to,
        reply_to: Mailbox::parse(&company.notify_email).ok(),
        subject: format!("New documents from {name}"),
        body,
        html: Some(html),
        unsubscribe: Some(opt_out),
    }
}
