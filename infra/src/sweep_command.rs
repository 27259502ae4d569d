//! `porchlight sweep`: the hourly sweep run by hand, for one company or all, on a
//! calendar date. Without `--apply` it only says what it would create, archive and email.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use clap::Args;

use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Client, Company};
use porchlight_shared::ids::{ClientId, CompanySlug};
use porchlight_shared::store::StoreError;
use porchlight_shared::store::keys::{self, Entity};
use porchlight_shared::sweep::{self, CompanySweep, Limits, Mode};

use crate::cli::{CliError, parse_slug, printable};

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Only this company; every company if omitted.
    #[arg(long, value_parser = parse_slug)]
    pub company: Option<CompanySlug>,
    /// The company's calendar date to sweep as (YYYY-MM-DD); today there if omitted.
    #[arg(long)]
    pub on: Option<NaiveDate>,
    /// Do it: create, archive and email. Without it nothing is written or sent. Only with
    /// the company's own today as `--on` (or without `--on`).
    #[arg(long)]
    pub apply: bool,
    /// Print a JSON array, one object per company.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(context: &AppContext, args: SweepArgs) -> Result<String, CliError> {
    let companies = match &args.company {
        Some(slug) => vec![
            context
                .store
                .company(slug)
                .await?
                .ok_or_else(|| CliError::UnknownCompany(slug.clone()))?,
        ],
        None => context.store.companies().await?,
    };
    // Applying as of another day would archive, invoice and announce documents on dates
    // that have not come (or have passed) for real; that day can only be previewed.
    if let (true, Some(on)) = (args.apply, args.on) {
        let now = context.clock.now();
        if let Some(company) = companies.iter().find(|c| c.today(now) != on) {
            return Err(CliError::SweepApplyOnAnotherDay {
                company: company.slug.clone(),
                on,
                today: company.today(now),
            });
        }
    }
    let mode = if args.apply {
        Mode::Apply
    } else {
        Mode::DryRun
    };
    let mut reports = Vec::new();
    for company in &companies {
        let now = context.clock.now();
        let (today, at) = match args.on {
            // Noon there: the middle of that day whatever the zone's offset.
            Some(day) => (day, local_noon(company, day).unwrap_or(now)),
            None => (company.today(now), now),
        };
        let report =
            sweep::sweep_company(context, company, today, at, mode, Limits::default()).await?;
        reports.push(report);
    }
    if args.json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&reports)?));
    }
    let mut out = String::new();
    for (company, report) in companies.iter().zip(&reports) {
        let names = client_names(context, company, report).await?;
        describe(&mut out, company, report, mode, &names);
    }
    Ok(out)
}

fn local_noon(company: &Company, day: NaiveDate) -> Option<chrono::DateTime<Utc>> {
    let noon = day.and_time(NaiveTime::from_hms_opt(12, 0, 0)?);
    company
        .time_zone
        .from_local_datetime(&noon)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

async fn client_names(
    context: &AppContext,
    company: &Company,
    report: &CompanySweep,
) -> Result<HashMap<ClientId, String>, StoreError> {
    let mut ids: Vec<&ClientId> = report
        .fixed_invoices
        .iter()
        .map(|made| &made.client_id)
        .chain(report.archived.iter().map(|doc| &doc.client_id))
        .chain(report.emails.iter().map(|sent| &sent.client_id))
        .collect();
    ids.sort();
    ids.dedup();
    let mut names = HashMap::new();
    for id in ids {
        let key = keys::client(&company.slug, id);
        let client: Option<Client> = context.store.record(&key, Entity::Client).await?;
        let name = client.map_or_else(|| id.to_string(), |client| client.name);
        names.insert(id.clone(), name);
    }
    Ok(names)
}

fn describe(
    out: &mut String,
    company: &Company,
    report: &CompanySweep,
    mode: Mode,
    names: &HashMap<ClientId, String>,
) {
    let name = |id: &ClientId| printable(names.get(id).map_or(id.as_str(), String::as_str));
    let (create, archive, email) = match mode {
        Mode::DryRun => ("would create", "would archive", "would email"),
        Mode::Apply => ("created", "archived", "emailed"),
    };
    let day = report
        .local_date
        .map_or_else(String::new, |d| d.to_string());
    let _ = writeln!(
        out,
        "{} ({}) on {day}",
        printable(&company.name),
        company.slug
    );
    if mode == Mode::DryRun {
        let _ = writeln!(
            out,
            "  dry run: nothing was written or sent; add --apply to do it"
        );
    }
    let _ = writeln!(
        out,
        "  {create} {} fixed invoice(s)",
        report.fixed_invoices.len()
    );
    for made in &report.fixed_invoices {
        let _ = writeln!(
            out,
            "    {}  {}  {}  invoice {}  {}",
            made.occurrence,
            name(&made.client_id),
            printable(&made.job_title),
            made.number,
            made.amount
        );
    }
    let _ = writeln!(out, "  {archive} {} paid invoice(s)", report.archived.len());
    for doc in &report.archived {
        let _ = writeln!(
            out,
            "    {}  invoice {}",
            name(&doc.client_id),
            printable(&doc.number)
        );
    }
    let _ = writeln!(
        out,
        "  {email} {} client(s) about new documents",
        report.emails.len()
    );
    for sent in &report.emails {
        let _ = writeln!(
            out,
            "    {}: {}",
            name(&sent.client_id),
            printable(&sent.documents.join(", "))
        );
    }
    if report.deferred + report.opted_out > 0 {
        let _ = writeln!(
            out,
            "  {} client(s) already emailed today or failed, {} turned the email off",
            report.deferred, report.opted_out
        );
    }
    let _ = writeln!(
        out,
        "  read {} item(s) for {} due hint(s) in {} request(s)",
        report.items_read, report.hints_read, report.requests
    );
}
