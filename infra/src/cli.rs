//! The `porchlight` operator CLI: create and list companies and change their settings,
//! import a QuickBooks export, see what a client's portal shows on any day, and list,
//! export and mark handled service requests.
//!
//! It reads the same `PORCHLIGHT_*` configuration as the functions; `--local` fills in the
//! local stack's defaults first. Exit codes: 0 on success, 1 when the request cannot be
//! done (the message goes to stderr), 2 for usage errors (clap's own).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use porchlight_shared::config::ConfigError;
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Company, Lead, LeadStatus, Settings};
use porchlight_shared::ids::{ClientId, CompanySlug, DocumentId, random_bytes};
use porchlight_shared::mail::Mailbox;
use porchlight_shared::money::Currency;
use porchlight_shared::portal::{ExplainedDocument, PortalDay, PortalHome};
use porchlight_shared::store::{StoreError, WriteOutcome};

use crate::local_env::apply_local_defaults;
use crate::qbo::{self, QboError};

pub use porchlight_shared::lead_export::leads_csv;

/// Operate Porchlight: companies, imports, portals and service requests.
#[derive(Debug, Parser)]
#[command(name = "porchlight", version)]
pub struct Cli {
    /// Use the local stack `make run` started (DynamoDB Local on 127.0.0.1, the outbox
    /// under .porchlight/); PORCHLIGHT_* and AWS_* variables that are set still win.
    #[arg(long, global = true)]
    pub local: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and list companies.
    #[command(subcommand)]
    Company(CompanyCommand),
    /// Import records from another system.
    #[command(subcommand)]
    Import(ImportCommand),
    /// See what a client's portal shows.
    #[command(subcommand)]
    Portal(PortalCommand),
    /// Service requests sent through the portal's form.
    #[command(subcommand)]
    Leads(LeadsCommand),
    /// Back-office API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(crate::key_commands::ApiKeyCommand),
    /// Run the sweep (hourly when deployed) by hand: fixed invoices, archive, new-document mail.
    Sweep(crate::sweep_command::SweepArgs),
}

#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// Create a company and print its portal link.
    Create(CreateCompany),
    /// List every company.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show or change a company's settings.
    #[command(subcommand)]
    Settings(crate::settings_commands::SettingsCommand),
}

#[derive(Debug, Args)]
pub struct CreateCompany {
    /// The portal slug: 2-40 of a-z, 0-9 and `-`.
    #[arg(long, value_parser = parse_slug)]
    pub slug: CompanySlug,
    /// The company's name as clients see it.
    #[arg(long)]
    pub name: String,
    /// IANA time zone; "today" for the portal is the date there.
    #[arg(long, default_value = "America/Los_Angeles", value_parser = parse_time_zone)]
    pub time_zone: Tz,
    /// ISO 4217 currency code.
    #[arg(long, default_value = "USD", value_parser = parse_currency)]
    pub currency: Currency,
    /// Where service requests and acceptance notices go.
    #[arg(long, value_parser = parse_email)]
    pub notify_email: Option<String>,
    /// Print the new company as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a QuickBooks Online export directory (customers.json, invoices.json,
    /// estimates.json, payments.json). Running it again changes nothing.
    Qbo {
        /// The export directory.
        dir: PathBuf,
        /// The company to import into.
        #[arg(long, value_parser = parse_slug)]
        company: CompanySlug,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PortalCommand {
    /// Show, for every client an email reaches, the portal home on a day and what it hides.
    Show {
        #[arg(long, value_parser = parse_slug)]
        company: CompanySlug,
        /// The address the client signs in with.
        #[arg(long)]
        email: String,
        /// The company's calendar date to look at (YYYY-MM-DD); today there if omitted.
        #[arg(long)]
        on: Option<NaiveDate>,
        /// Print a JSON array, one object per client.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LeadsCommand {
    /// List a company's service requests, newest first.
    List {
        #[arg(long, value_parser = parse_slug)]
        company: CompanySlug,
        /// Print a JSON array.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV for a spreadsheet; formulas are neutralised.
        #[arg(long)]
        csv: bool,
    },
    /// Mark a service request handled; doing it again keeps the first time.
    Handled {
        #[arg(long, value_parser = parse_slug)]
        company: CompanySlug,
        /// The request's id, as `leads list` shows it.
        #[arg(long, value_parser = parse_document_id)]
        id: DocumentId,
    },
}

pub(crate) fn parse_slug(raw: &str) -> Result<CompanySlug, String> {
    CompanySlug::parse(raw).map_err(|e| e.to_string())
}

fn parse_document_id(raw: &str) -> Result<DocumentId, String> {
    DocumentId::parse(raw.trim()).map_err(|e| e.to_string())
}

pub(crate) fn parse_time_zone(raw: &str) -> Result<Tz, String> {
    raw.parse()
        .map_err(|_| format!("`{raw}` is not an IANA time zone such as America/Los_Angeles"))
}

pub(crate) fn parse_currency(raw: &str) -> Result<Currency, String> {
    Currency::parse(&raw.trim().to_ascii_uppercase()).map_err(|e| e.to_string())
}

pub(crate) fn parse_email(raw: &str) -> Result<String, String> {
    Mailbox::parse(raw)
        .map(|mailbox| mailbox.address)
        .map_err(|e| e.to_string())
}

/// Why a command could not be done. Each is reported on stderr with exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}; pass --local to use the local stack")]
    Config(#[source] ConfigError),
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] QboError),
    #[error("could not write JSON")]
    Json(#[from] serde_json::Error),
    #[error("no company has the slug `{0}`; `porchlight company list` shows them")]
    UnknownCompany(CompanySlug),
    #[error("a company with the slug `{0}` already exists")]
    CompanyExists(CompanySlug),
    #[error("the company name must not be empty or contain control characters")]
    InvalidName,
    #[error("no client of `{company}` has the email `{email}`")]
    UnknownEmail { company: CompanySlug, email: String },
    #[error(transparent)]
    Keys(#[from] crate::key_commands::KeyCommandError),
    #[error(transparent)]
    Settings(#[from] crate::settings_commands::SettingsCommandError),
    #[error("`{company}` has no service request with the id `{id}`")]
    UnknownLead {
        company: CompanySlug,
        id: DocumentId,
    },
    #[error("`{email}` points at client {client}, which is not on record")]
    MissingClient { email: String, client: ClientId },
    #[error(
        "--apply acts for real, so only on the company's today ({today} for `{company}`); \
         leave out --apply to see what the sweep would do on {on}"
    )]
    SweepApplyOnAnotherDay {
        company: CompanySlug,
        on: NaiveDate,
        today: NaiveDate,
    },
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    // Clap exits with code 2 for usage errors and 0 for --help / --version.
    let cli = Cli::parse();
    if cli.local {
        // Before the runtime exists: nothing else may read the environment meanwhile.
        apply_local_defaults();
    }

    let output = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
        .and_then(|runtime| runtime.block_on(run(cli.command)));
    match output {
        Ok(text) => print(&text),
        Err(error) => {
            report(&error);
            ExitCode::from(1)
        }
    }
}

/// Writes the output; a reader that went away (`| head`) is not a failure.
fn print(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not write the output: {error}");
            ExitCode::from(1)
        }
    }
}

fn report(error: &CliError) {
    let mut message = format!("error: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(message, "\n  caused by: {cause}");
        source = cause.source();
    }
    eprintln!("{message}");
}

/// Runs one command and returns what it prints.
pub async fn run(command: Command) -> Result<String, CliError> {
    let context = AppContext::from_env().await.map_err(CliError::Config)?;
    match command {
        Command::Company(CompanyCommand::Create(args)) => create_company(&context, args).await,
        Command::Company(CompanyCommand::List { json }) => list_companies(&context, json).await,
        Command::Company(CompanyCommand::Settings(command)) => {
            Ok(crate::settings_commands::run(&context, command).await?)
        }
        Command::Import(ImportCommand::Qbo { dir, company, json }) => {
            import_qbo(&context, &company, &dir, json).await
        }
        Command::Portal(PortalCommand::Show {
            company,
            email,
            on,
            json,
        }) => show_portal(&context, &company, &email, on, json).await,
        Command::Leads(LeadsCommand::List { company, json, csv }) => {
            let format = match (json, csv) {
                (true, _) => LeadFormat::Json,
                (_, true) => LeadFormat::Csv,
                _ => LeadFormat::Table,
            };
            list_leads(&context, &company, format).await
        }
        Command::Leads(LeadsCommand::Handled { company, id }) => {
            mark_lead_handled(&context, &company, &id).await
        }
        Command::ApiKey(command) => Ok(crate::key_commands::run(&context, command).await?),
        Command::Sweep(args) => crate::sweep_command::run(&context, args).await,
    }
}

/// A company as the CLI lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompanyListing {
    pub slug: CompanySlug,
    pub name: String,
    pub time_zone: String,
    pub currency: String,
    pub portal_link: String,
}

impl CompanyListing {
    fn new(company: &Company, base_url: &str) -> Self {
        Self {
            slug: company.slug.clone(),
            name: company.name.clone(),
            time_zone: company.time_zone.name().to_owned(),
            currency: company.currency.code().to_owned(),
            portal_link: portal_link(base_url, &company.slug),
        }
    }
}

/// The company's front door (DESIGN.md, "Access").
pub fn portal_link(base_url: &str, slug: &CompanySlug) -> String {
    format!("{}/p/{slug}", base_url.trim_end_matches('/'))
}

async fn create_company(context: &AppContext, args: CreateCompany) -> Result<String, CliError> {
    let name = args.name.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(CliError::InvalidName);
    }

    let company = Company {
        slug: args.slug.clone(),
        name: name.to_owned(),
        time_zone: args.time_zone,
        currency: args.currency,
        notify_email: args.notify_email.unwrap_or_default(),
        id_secret: hex(&random_bytes::<32>()),
        settings: Settings::default(),
        created_at: context.clock.now(),
    };
    if !context.store.create_company(&company).await? {
        return Err(CliError::CompanyExists(args.slug));
    }

    let listing = CompanyListing::new(&company, &context.config.base_url);
    if args.json {
        return Ok(json_line(&listing)?);
    }
    Ok(format!(
        "created company {} ({})\nportal link: {}\n",
        listing.slug,
        printable(&listing.name),
        listing.portal_link
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

async fn list_companies(context: &AppContext, json: bool) -> Result<String, CliError> {
    let base_url = &context.config.base_url;
    let listings: Vec<CompanyListing> = context
        .store
        .companies()
        .await?
        .iter()
        .map(|company| CompanyListing::new(company, base_url))
        .collect();
    if json {
        return Ok(json_line(&listings)?);
    }
    if listings.is_empty() {
        return Ok("no companies yet; `porchlight company create` makes one\n".to_owned());
    }
    let rows = listings
        .iter()
        .map(|l| {
            vec![
                l.slug.to_string(),
                printable(&l.name),
                l.time_zone.clone(),
                l.currency.clone(),
                l.portal_link.clone(),
            ]
        })
        .collect();
    Ok(table(
        &["SLUG", "NAME", "TIME ZONE", "CURRENCY", "PORTAL LINK"],
        rows,
    ))
}

async fn company(context: &AppContext, slug: &CompanySlug) -> Result<Company, CliError> {
    context
        .store
        .company(slug)
        .await?
        .ok_or_else(|| CliError::UnknownCompany(slug.clone()))
}

async fn import_qbo(
    context: &AppContext,
    slug: &CompanySlug,
    dir: &std::path::Path,
    json: bool,
) -> Result<String, CliError> {
    let company = company(context, slug).await?;
    let summary = qbo::import_dir(&context.store, &company, dir).await?;
    if json {
        Ok(json_line(&summary)?)
    } else {
        Ok(summary.to_string())
    }
}

/// One client's portal as `portal show` prints it: the portal home JSON plus what it hides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortalView {
    #[serde(flatten)]
    pub home: PortalHome,
    /// What the home leaves out, and why.
    pub hidden: Vec<ExplainedDocument>,
    /// Every document, shown or not, with since/until and the reason.
    pub documents: Vec<ExplainedDocument>,
    /// The client's fixed-invoice schedules and how far the sweep has invoiced them.
    pub schedules: Vec<ScheduleView>,
}

/// A recurring job's fixed-invoice schedule as `portal show` explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleView {
    pub job_id: DocumentId,
    pub job_title: String,
    pub amount: String,
    pub rrule: String,
    pub first: NaiveDate,
    pub until: Option<NaiveDate>,
    /// The next date the sweep will invoice; none once the schedule has ended.
    pub next_invoice_on: Option<NaiveDate>,
    pub invoiced_through: Option<NaiveDate>,
}

/// The portal of every client `email` reaches, as of `on` (the company's today if `None`).
pub async fn portal_views(
    context: &AppContext,
    slug: &CompanySlug,
    email: &str,
    on: Option<NaiveDate>,
) -> Result<Vec<PortalView>, CliError> {
    let company = company(context, slug).await?;
    let unknown = || CliError::UnknownEmail {
        company: slug.clone(),
        email: email.trim().to_owned(),
    };
    let entry = context
        .store
        .email_entry(slug, email)
        .await?
        .ok_or_else(unknown)?;
    if entry.clients.is_empty() {
        return Err(unknown());
    }

    let today = on.unwrap_or_else(|| company.today(context.clock.now()));
    let mut views = Vec::with_capacity(entry.clients.len());
    for client in &entry.clients {
        let portal = context
            .store
            .client_portal(slug, &client.id)
            .await?
            .ok_or_else(|| CliError::MissingClient {
                email: entry.email.clone(),
                client: client.id.clone(),
            })?;
        let mut schedules = Vec::new();
        for job in portal.jobs.values() {
            let Some(plan) = &job.fixed_invoice else {
                continue;
            };
            let cursor = context
                .store
                .schedule_cursor(slug, &client.id, &job.id)
                .await?;
            schedules.push(ScheduleView {
                job_id: job.id.clone(),
                job_title: job.title.clone(),
                amount: plan.amount.to_string(),
                rrule: plan.schedule.to_rrule(),
                first: plan.schedule.first,
                until: plan.schedule.until,
                next_invoice_on: cursor.as_ref().and_then(|c| c.next_due),
                invoiced_through: cursor.as_ref().and_then(|c| c.issued_through),
            });
        }
        schedules.sort_by(|a, b| a.job_title.cmp(&b.job_title));
        let day = PortalDay::new(&company, &portal, today);
        let documents = day.documents();
        views.push(PortalView {
            schedules,
            home: day.home(),
            hidden: documents
                .iter()
                .filter(|d| !d.decision.shown)
                .cloned()
                .collect(),
            documents,
        });
    }
    Ok(views)
}

async fn show_portal(
    context: &AppContext,
    slug: &CompanySlug,
    email: &str,
    on: Option<NaiveDate>,
    json: bool,
) -> Result<String, CliError> {
    let views = portal_views(context, slug, email, on).await?;
    if json {
        return Ok(json_line(&views)?);
    }
    let mut out = String::new();
    for (i, view) in views.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        describe_portal(&mut out, view);
    }
    Ok(out)
}

fn describe_portal(out: &mut String, view: &PortalView) {
    let home = &view.home;
    let _ = writeln!(
        out,
        "{} (client {}) in the portal of {} on {}",
        printable(&home.client.name),
        home.client.id,
        home.company.slug,
        home.today
    );
    let _ = writeln!(out, "  balance due: {}", home.balance_due);

    let _ = writeln!(
        out,
        "  proposals:{}",
        if home.proposals.is_empty() {
            " none"
        } else {
            ""
        }
    );
    for p in &home.proposals {
        let at = p
            .property
            .as_deref()
            .map(|p| format!("  at {}", printable(p)));
        let _ = writeln!(
            out,
            "    {}  {}  {}  valid until {}{}",
            printable(&p.number),
            snake(&p.status),
            p.total,
            p.valid_until,
            at.unwrap_or_default()
        );
    }

    let _ = writeln!(
        out,
        "  invoices:{}",
        if home.invoices.is_empty() {
            " none"
        } else {
            ""
        }
    );
    for i in &home.invoices {
        let dated = i
            .invoice_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "undated".into());
        let at = i
            .property
            .as_deref()
            .map(|p| format!("  at {}", printable(p)));
        let _ = writeln!(
            out,
            "    {}  {dated}  {}  total {}  balance {}{}",
            printable(&i.number),
            i.status.label(),
            i.total,
            i.balance,
            at.unwrap_or_default()
        );
        let billed_for = view
            .documents
            .iter()
            .find(|d| d.id == i.id)
            .and_then(|d| d.billed_for.as_deref());
        if let Some(billed_for) = billed_for {
            let _ = writeln!(out, "      for {}", printable(billed_for));
        }
    }

    let _ = writeln!(
        out,
        "  hidden:{}",
        if view.hidden.is_empty() { " none" } else { "" }
    );
    for h in &view.hidden {
        let appears = h
            .decision
            .waiting_for
            .map_or_else(String::new, |day| format!(" (appears {day})"));
        let _ = writeln!(
            out,
            "    {} {}  {}: {}{appears}",
            snake(&h.kind),
            printable(&h.number),
            snake(&h.decision.reason),
            h.explanation
        );
        if let Some(billed_for) = &h.billed_for {
            let _ = writeln!(out, "      for {}", printable(billed_for));
        }
    }
    describe_recurring(out, view);
}

fn describe_recurring(out: &mut String, view: &PortalView) {
    for s in &view.schedules {
        let next = s
            .next_invoice_on
            .map_or_else(|| "ended".to_owned(), |day| format!("next invoice {day}"));
        let through = s
            .invoiced_through
            .map_or_else(String::new, |day| format!(", invoiced through {day}"));
        let _ = writeln!(
            out,
            "  fixed invoices: {}  {} from {} ({})  {next}{through}",
            printable(&s.job_title),
            s.amount,
            s.first,
            s.rrule
        );
    }
    for property in &view.home.upcoming_visits {
        let _ = writeln!(
            out,
            "  upcoming visits at {}:",
            printable(&property.property)
        );
        for visit in &property.visits {
            let _ = writeln!(
                out,
                "    {}  {}",
                printable(&visit.label),
                printable(&visit.job_title)
            );
        }
    }
}

enum LeadFormat {
    Table,
    Json,
    Csv,
}

async fn list_leads(
    context: &AppContext,
    slug: &CompanySlug,
    format: LeadFormat,
) -> Result<String, CliError> {
    // Listing the leads of a mistyped slug would look like "no requests yet".
    company(context, slug).await?;
    let leads = context.store.leads(slug).await?;

    match format {
        LeadFormat::Json => {
            let lines: Vec<LeadLine<'_>> = leads
                .iter()
                .map(|lead| LeadLine {
                    lead,
                    status: lead.status(),
                })
                .collect();
            Ok(json_line(&lines)?)
        }
        LeadFormat::Csv => Ok(leads_csv(&leads)),
        LeadFormat::Table if leads.is_empty() => Ok(format!("no service requests for {slug}\n")),
        LeadFormat::Table => {
            let rows = leads
                .iter()
                .map(|lead| {
                    vec![
                        lead.id.to_string(),
                        lead.received_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                        status_cell(lead),
                        printable(&lead.name),
                        printable(&lead.email),
                        printable(&lead.phone),
                        printable(&lead.service_wanted),
                    ]
                })
                .collect();
            Ok(table(
                &[
                    "ID", "RECEIVED", "STATUS", "NAME", "EMAIL", "PHONE", "SERVICE",
                ],
                rows,
            ))
        }
    }
}

/// A service request as `leads list --json` prints it: the stored record and its status.
#[derive(Debug, Serialize)]
struct LeadLine<'a> {
    #[serde(flatten)]
    lead: &'a Lead,
    status: LeadStatus,
}

/// `open`, or `handled` with the time it was marked.
fn status_cell(lead: &Lead) -> String {
    match lead.handled_at {
        Some(at) => format!("handled {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => LeadStatus::Open.name().to_owned(),
    }
}

async fn mark_lead_handled(
    context: &AppContext,
    slug: &CompanySlug,
    id: &DocumentId,
) -> Result<String, CliError> {
    company(context, slug).await?;
    let (lead, outcome) = context
        .store
        .mark_lead_handled(slug, id, context.clock.now())
        .await?
        .ok_or_else(|| CliError::UnknownLead {
            company: slug.clone(),
            id: id.clone(),
        })?;
    let at = lead
        .handled_at
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    Ok(match outcome {
        WriteOutcome::Unchanged => format!("service request {id} was already handled at {at}\n"),
        _ => format!("marked service request {id} handled at {at}\n"),
    })
}

fn json_line<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// A serialised enum's name (`paid_expired`), as the JSON shows it.
fn snake<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::from("?"),
    }
}

/// Text for a terminal: control characters (escape sequences above all) are shown
/// escaped, so a name typed into a public form cannot rewrite the operator's screen.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn local_is_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "porchlight",
            "portal",
            "show",
            "--company",
            "craigs-landscaping",
            "--email",
            "birds@example.com",
            "--on",
            "2026-12-04",
            "--json",
            "--local",
        ])
        .expect("test data is valid");

        assert!(cli.local);
        let Command::Portal(PortalCommand::Show { on, json, .. }) = cli.command else {
            panic!("parsed as another command");
        };
        assert_eq!(on, Some("2026-12-04".parse().expect("test data is valid")));
        assert!(json);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &[
                "porchlight",
                "company",
                "create",
                "--slug",
                "Bad Slug",
                "--name",
                "X",
            ][..],
            &[
                "porchlight",
                "company",
                "create",
                "--slug",
                "ok",
                "--name",
                "X",
                "--time-zone",
                "Mars/Base",
            ],
            &[
                "porchlight",
                "portal",
                "show",
                "--company",
                "ok",
                "--email",
                "a@b.c",
                "--on",
                "12/04",
            ],
            &[
                "porchlight",
                "leads",
                "list",
                "--company",
                "ok",
                "--json",
                "--csv",
            ],
        ] {
            let error = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn terminal_output_escapes_control_characters() {
        assert_eq!(printable("Amy\u{1b}[2J"), "Amy\\u{1b}[2J");
        assert_eq!(printable("Kookies by Kathy"), "Kookies by Kathy");
    }

    #[test]
    fn tables_align_columns() {
        let text = table(&["A", "B"], vec![vec!["long value".into(), "x".into()]]);

        assert_eq!(text, "A           B\nlong value  x\n");
    }

    #[test]
    fn portal_links_follow_the_base_url() {
        let slug = CompanySlug::parse("craigs-landscaping").expect("test data is valid");
        assert_eq!(
            portal_link("http://127.0.0.1:3000/", &slug),
            "http://127.0.0.1:3000/p/craigs-landscaping"
        );
    }
}
