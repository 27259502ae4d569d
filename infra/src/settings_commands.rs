//! `porchlight company settings ...`: show a company's settings and change them.
//!
//! A change is written only if the settings are still at the version this command read, so
//! a change made meanwhile (through the API, or another run of this command) is never
//! silently undone: the command then fails with exit code 1 and changes nothing.
//!
//! Card payment is switched on only together with (or after) a connected Stripe account,
//! and the account cannot be taken away while payment is on, as through the API.

use std::fmt::Write as _;

use chrono_tz::Tz;
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde::Serialize;

use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Appearance, Company, TaxRounding};
use porchlight_shared::ids::CompanySlug;
use porchlight_shared::money::{Currency, Money};
use porchlight_shared::store::StoreError;

use crate::cli::{parse_currency, parse_email, parse_slug, parse_time_zone, printable};

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show the company's settings and the version they are at.
    Show {
        #[arg(long, value_parser = parse_slug)]
        company: CompanySlug,
        /// Print JSON, the same object `GET /api/v1/settings` answers.
        #[arg(long)]
        json: bool,
    },
    /// Change one or more settings; those not named stay as they are.
    Set(SetSettings),
}

/// The settings `set` can change; at least one must be given.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args([
            "time_zone", "currency", "paid_invoice_months", "proposal_open_days",
            "one_off_invoices", "per_visit_invoices", "hide_zero_total", "payments_enabled",
            "notify_email", "stripe_account", "minimum_payment", "tax_rounding",
        ])
))]
pub struct SetSettings {
    #[arg(long, value_parser = parse_slug)]
    pub company: CompanySlug,
    /// IANA time zone; "today" for every portal rule is the date there.
    #[arg(long, value_parser = parse_time_zone)]
    pub time_zone: Option<Tz>,
    /// ISO 4217 currency code.
    #[arg(long, value_parser = parse_currency)]
    pub currency: Option<Currency>,
    /// How long a paid invoice stays in the portal, in months from its invoice date.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub paid_invoice_months: Option<u32>,
    /// Days a proposal stays open when it has no valid-until date of its own.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub proposal_open_days: Option<u32>,
    /// When invoices of one-off jobs appear.
    #[arg(long, value_enum)]
    pub one_off_invoices: Option<AppearanceArg>,
    /// When the invoices of single visits of recurring jobs appear.
    #[arg(long, value_enum)]
    pub per_visit_invoices: Option<AppearanceArg>,
    /// Leave zero-total invoices out of the portal (true or false).
    #[arg(long)]
    pub hide_zero_total: Option<bool>,
    /// Offer card payment in the portal (true or false); needs a Stripe account.
    #[arg(long)]
    pub payments_enabled: Option<bool>,
    /// The connected Stripe account payments go to (`acct_...`), or `none` to remove it.
    #[arg(long, value_parser = parse_stripe_account)]
    pub stripe_account: Option<StripeAccountArg>,
    /// The least part of a balance a client may pay at once, as a decimal amount in the
    /// company's currency (`25.00`); a smaller balance can still be paid in full.
    #[arg(long, allow_hyphen_values = true)]
    pub minimum_payment: Option<String>,
    /// How tax computed from a rate is rounded.
    #[arg(long, value_enum)]
    pub tax_rounding: Option<TaxRoundingArg>,
    /// Where service requests and acceptance notices go.
    #[arg(long, value_parser = parse_email)]
    pub notify_email: Option<String>,
    /// Change nothing unless the settings are still at this version (as `show` printed).
    #[arg(long)]
    pub if_version: Option<u64>,
    /// Print the changed settings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// [`Appearance`] as the command line spells it, the same names the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum AppearanceArg {
    /// The default date rules.
    DateRules,
    /// Only once the job or visit is completed.
    OnceCompleted,
    /// Only once the invoice is approved.
    OnceApproved,
    /// Only once the invoice is marked sent.
    OnceSent,
}

impl From<AppearanceArg> for Appearance {
    fn from(arg: AppearanceArg) -> Self {
        match arg {
            AppearanceArg::DateRules => Appearance::DateRules,
            AppearanceArg::OnceCompleted => Appearance::OnceCompleted,
            AppearanceArg::OnceApproved => Appearance::OnceApproved,
            AppearanceArg::OnceSent => Appearance::OnceSent,
        }
    }
}

/// `--stripe-account`: an account id, or `none` to remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeAccountArg(Option<String>);

/// A Stripe connected-account id is `acct_` and letters or digits.
fn parse_stripe_account(raw: &str) -> Result<StripeAccountArg, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("none") {
        return Ok(StripeAccountArg(None));
    }
    let valid = raw.strip_prefix("acct_").is_some_and(|rest| {
        (1..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if valid {
        Ok(StripeAccountArg(Some(raw.to_owned())))
    } else {
        Err("a Stripe account id is `acct_` and letters or digits (or `none`)".into())
    }
}

/// [`TaxRounding`] as the command line spells it, the same names the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum TaxRoundingArg {
    /// Tax of the whole taxable net, rounded once (the default).
    WholeDocument,
    /// Each line's tax rounded, then added up.
    PerLine,
}

impl From<TaxRoundingArg> for TaxRounding {
    fn from(arg: TaxRoundingArg) -> Self {
        match arg {
            TaxRoundingArg::WholeDocument => TaxRounding::WholeDocument,
            TaxRoundingArg::PerLine => TaxRounding::PerLine,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsCommandError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no company has the slug `{0}`; `porchlight company list` shows them")]
    UnknownCompany(CompanySlug),
    #[error(
        "the settings of `{company}` are at version {current}, not {expected}; nothing was \
         changed"
    )]
    NotAtVersion {
        company: CompanySlug,
        expected: u64,
        current: u64,
    },
    #[error(
        "the settings of `{company}` were changed by someone else while this command ran; \
         nothing was changed: look at them again (`company settings show`) and retry"
    )]
    ChangedMeanwhile { company: CompanySlug },
    #[error("could not write JSON")]
    Json(#[from] serde_json::Error),
    #[error(
        "`{0}` is not a minimum payment: give an amount of at least zero in {1} with at most \
         {2} decimals, such as `25.00`"
    )]
    MinimumPayment(String, String, u32),
    #[error(
        "card payment needs a connected Stripe account: pass --stripe-account acct_... too, \
         or --payments-enabled false; nothing was changed"
    )]
    PaymentsWithoutAccount,
}

/// The company's settings as `show --json` prints them: the object `GET /api/v1/settings`
/// answers, field by field, with the minimum payment as money.
#[derive(Debug, Serialize)]
struct Shown<'a> {
    slug: &'a CompanySlug,
    name: &'a str,
    time_zone: &'a str,
    currency: &'a str,
    notify_email: &'a str,
    paid_invoice_months: u32,
    proposal_open_days: u32,
    one_off_invoices: Appearance,
    per_visit_invoices: Appearance,
    hide_zero_total: bool,
    payments_enabled: bool,
    stripe_account: Option<&'a str>,
    minimum_payment: Money,
    tax_rounding: TaxRounding,
    version: u64,
}

impl<'a> Shown<'a> {
    fn of(company: &'a Company, version: u64) -> Self {
        let s = &company.settings;
        Self {
            slug: &company.slug,
            name: &company.name,
            time_zone: company.time_zone.name(),
            currency: company.currency.code(),
            notify_email: &company.notify_email,
            paid_invoice_months: s.paid_invoice_months,
            proposal_open_days: s.proposal_open_days,
            one_off_invoices: s.one_off_invoices,
            per_visit_invoices: s.per_visit_invoices,
            hide_zero_total: s.hide_zero_total,
            payments_enabled: s.payments_enabled,
            stripe_account: s.stripe_account.as_deref(),
            minimum_payment: Money::new(s.minimum_payment_minor, company.currency.clone()),
            tax_rounding: s.tax_rounding,
            version,
        }
    }

    /// Setting names and values, in the order people read them.
    fn rows(&self) -> Vec<(&'static str, String)> {
        let s = self;
        vec![
            ("time_zone", self.time_zone.to_owned()),
            ("currency", self.currency.to_owned()),
            ("notify_email", printable(self.notify_email)),
            ("paid_invoice_months", s.paid_invoice_months.to_string()),
            ("proposal_open_days", s.proposal_open_days.to_string()),
            ("one_off_invoices", appearance_name(s.one_off_invoices)),
            ("per_visit_invoices", appearance_name(s.per_visit_invoices)),
            ("hide_zero_total", s.hide_zero_total.to_string()),
            ("payments_enabled", s.payments_enabled.to_string()),
            (
                "stripe_account",
                s.stripe_account
                    .map_or_else(|| "none".to_owned(), printable),
            ),
            ("minimum_payment", s.minimum_payment.to_string()),
            ("tax_rounding", json_name(s.tax_rounding)),
        ]
    }

    fn text(&self) -> String {
        let mut out = format!(
            "settings of {} ({}), version {}\n",
            self.slug,
            printable(self.name),
            self.version
        );
        for (name, value) in self.rows() {
            let _ = writeln!(out, "  {name:<21}{value}");
        }
        out
    }
}

fn appearance_name(appearance: Appearance) -> String {
    json_name(appearance)
}

/// The name a setting's choice has in JSON (`once_sent`, `per_line`).
fn json_name<T: Serialize>(choice: T) -> String {
    match serde_json::to_value(choice) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::from("?"),
    }
}

pub async fn run(
    context: &AppContext,
    command: SettingsCommand,
) -> Result<String, SettingsCommandError> {
    match command {
        SettingsCommand::Show { company, json } => {
            let stored = context
                .store
                .company_versioned(&company)
                .await?
                .ok_or(SettingsCommandError::UnknownCompany(company))?;
            let shown = Shown::of(&stored.record, stored.version);
            if json {
                return Ok(format!("{}\n", serde_json::to_string_pretty(&shown)?));
            }
            Ok(shown.text())
        }
        SettingsCommand::Set(args) => set(context, args).await,
    }
}

/// Applies the named settings to `company`; refuses a minimum that is no amount in the
/// company's currency (after this change), and card payment without a Stripe account.
fn apply(company: &mut Company, args: &SetSettings) -> Result<(), SettingsCommandError> {
    if let Some(zone) = args.time_zone {
        company.time_zone = zone;
    }
    if let Some(currency) = &args.currency {
        company.currency = currency.clone();
    }
    if let Some(email) = &args.notify_email {
        company.notify_email.clone_from(email);
    }
    let settings = &mut company.settings;
    if let Some(months) = args.paid_invoice_months {
        settings.paid_invoice_months = months;
    }
    if let Some(days) = args.proposal_open_days {
        settings.proposal_open_days = days;
    }
    if let Some(choice) = args.one_off_invoices {
        settings.one_off_invoices = choice.into();
    }
    if let Some(choice) = args.per_visit_invoices {
        settings.per_visit_invoices = choice.into();
    }
    if let Some(flag) = args.hide_zero_total {
        settings.hide_zero_total = flag;
    }
    if let Some(flag) = args.payments_enabled {
        settings.payments_enabled = flag;
    }
    if let Some(StripeAccountArg(account)) = &args.stripe_account {
        settings.stripe_account.clone_from(account);
    }
    if let Some(choice) = args.tax_rounding {
        settings.tax_rounding = choice.into();
    }
    if let Some(raw) = &args.minimum_payment {
        let currency = company.currency.clone();
        let refused = || {
            SettingsCommandError::MinimumPayment(
                printable(raw),
                currency.code().to_owned(),
                currency.exponent(),
            )
        };
        let least = Money::parse_decimal(raw.trim(), currency.clone()).map_err(|_| refused())?;
        if least.minor < 0 {
            return Err(refused());
        }
        company.settings.minimum_payment_minor = least.minor;
    }
    // Checked only when this change names either, so a company stored before the rule can
    // still change its other settings.
    let touched = args.payments_enabled.is_some() || args.stripe_account.is_some();
    let settings = &company.settings;
    if touched && settings.payments_enabled && settings.stripe_account.is_none() {
        return Err(SettingsCommandError::PaymentsWithoutAccount);
    }
    Ok(())
}

async fn set(context: &AppContext, args: SetSettings) -> Result<String, SettingsCommandError> {
    let slug = &args.company;
    let stored = context
        .store
        .company_versioned(slug)
        .await?
        .ok_or_else(|| SettingsCommandError::UnknownCompany(slug.clone()))?;
    if let Some(expected) = args.if_version
        && expected != stored.version
    {
        return Err(SettingsCommandError::NotAtVersion {
            company: slug.clone(),
            expected,
            current: stored.version,
        });
    }

    let mut company = stored.record.clone();
    apply(&mut company, &args)?;
    let before = Shown::of(&stored.record, stored.version).rows();
    let after_rows = Shown::of(&company, stored.version).rows();
    let changes: Vec<String> = before
        .iter()
        .zip(&after_rows)
        .filter(|(old, new)| old.1 != new.1)
        .map(|((name, old), (_, new))| format!("  {name}: {old} -> {new}"))
        .collect();

    // Writing equal values would only move the version and fail someone else's change.
    let version = if changes.is_empty() {
        stored.version
    } else {
        match context
            .store
            .replace_company(&company, stored.version)
            .await?
        {
            Ok(next) => {
                tracing::info!(slug = %slug, version = next, "settings changed from the CLI");
                next
            }
            Err(_stale) => {
                return Err(SettingsCommandError::ChangedMeanwhile {
                    company: slug.clone(),
                });
            }
        }
    };

    let shown = Shown::of(&company, version);
    if args.json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&shown)?));
    }
    let mut out = if changes.is_empty() {
        format!("nothing to change for {slug}: the settings already had these values\n")
    } else {
        format!("changed the settings of {slug}:\n{}\n", changes.join("\n"))
    };
    out.push_str(&shown.text());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use porchlight_shared::domain::Settings;

    use crate::cli::{Cli, Command, CompanyCommand};

    use super::*;

    fn company() -> Company {
        Company {
            slug: CompanySlug::parse("greenridge").expect("valid"),
            name: "Greenridge".into(),
            time_zone: "America/Chicago".parse().expect("valid"),
            currency: Currency::usd(),
            notify_email: String::new(),
            id_secret: String::new(),
            settings: Settings::default(),
            created_at: "2026-04-02T15:00:00Z".parse().expect("valid"),
        }
    }

    fn set_args(args: &[&str]) -> SetSettings {
        let mut all = vec!["set", "--company", "greenridge"];
        all.extend_from_slice(args);
        let cli = parse(&all).expect("valid");
        let Command::Company(CompanyCommand::Settings(SettingsCommand::Set(args))) = cli.command
        else {
            panic!("parsed as another command");
        };
        args
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut all = vec!["porchlight", "company", "settings"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all)
    }

    #[test]
    fn set_reads_every_setting() {
        let cli = parse(&[
            "set",
            "--company",
            "greenridge",
            "--time-zone",
            "America/Denver",
            "--currency",
            "cad",
            "--paid-invoice-months",
            "6",
            "--proposal-open-days",
            "14",
            "--one-off-invoices",
            "once_completed",
            "--per-visit-invoices",
            "once_sent",
            "--hide-zero-total",
            "true",
            "--payments-enabled",
            "false",
            "--notify-email",
            "Office@Greenridge.example",
        ])
        .expect("valid");
        let Command::Company(CompanyCommand::Settings(SettingsCommand::Set(args))) = cli.command
        else {
            panic!("parsed as another command");
        };
        let mut company = company();
        apply(&mut company, &args).expect("valid settings");
        assert_eq!(company.time_zone.name(), "America/Denver");
        assert_eq!(company.currency.code(), "CAD");
        assert_eq!(company.notify_email, "office@greenridge.example");
        let expected = Settings {
            paid_invoice_months: 6,
            proposal_open_days: 14,
            one_off_invoices: Appearance::OnceCompleted,
            per_visit_invoices: Appearance::OnceSent,
            hide_zero_total: true,
            payments_enabled: false,
            ..Settings::default()
        };
        assert_eq!(company.settings, expected);
    }

    #[test]
    fn bad_or_missing_values_are_usage_errors() {
        for args in [
            &["set", "--company", "greenridge"][..],
            &[
                "set",
                "--company",
                "greenridge",
                "--one-off-invoices",
                "whenever",
            ],
            &["set", "--company", "greenridge", "--hide-zero-total", "yes"],
            &[
                "set",
                "--company",
                "greenridge",
                "--paid-invoice-months",
                "0",
            ],
            &["set", "--company", "greenridge", "--time-zone", "Mars/Base"],
            &["set", "--company", "greenridge", "--notify-email", "nobody"],
            &[
                "set",
                "--company",
                "greenridge",
                "--stripe-account",
                "acct-12",
            ],
            &[
                "set",
                "--company",
                "greenridge",
                "--stripe-account",
                "acct_",
            ],
            &["set", "--company", "greenridge", "--tax-rounding", "banker"],
        ] {
            let error = parse(args).expect_err("refused");
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn payment_settings_are_read_and_checked_together() {
        let mut company = company();
        let args = set_args(&[
            "--payments-enabled",
            "true",
            "--stripe-account",
            "acct_1Nv0FGQ9RKHgCVdK",
            "--minimum-payment",
            "25.50",
            "--tax-rounding",
            "per_line",
        ]);
        apply(&mut company, &args).expect("valid settings");
        let settings = &company.settings;
        assert!(settings.payments_enabled);
        assert_eq!(
            settings.stripe_account.as_deref(),
            Some("acct_1Nv0FGQ9RKHgCVdK")
        );
        assert_eq!(settings.minimum_payment_minor, 2_550);
        assert_eq!(settings.tax_rounding, TaxRounding::PerLine);
        let shown = serde_json::to_value(Shown::of(&company, 3)).expect("JSON");
        assert_eq!(
            shown["minimum_payment"],
            serde_json::json!({ "minor": 2_550, "currency": "USD" })
        );
        assert_eq!(shown["tax_rounding"], "per_line");
        assert!(shown.get("minimum_payment_minor").is_none());

        // The account cannot go while payment is on.
        let removed = apply(&mut company, &set_args(&["--stripe-account", "none"]));
        assert!(matches!(
            removed,
            Err(SettingsCommandError::PaymentsWithoutAccount)
        ));

        let mut fresh = self::company();
        let enabled = apply(&mut fresh, &set_args(&["--payments-enabled", "true"]));
        assert!(matches!(
            enabled,
            Err(SettingsCommandError::PaymentsWithoutAccount)
        ));
        for bad in ["-1", "1.005", "ten"] {
            let refused = apply(&mut fresh, &set_args(&["--minimum-payment", bad]));
            assert!(
                matches!(refused, Err(SettingsCommandError::MinimumPayment(..))),
                "{bad}"
            );
        }
    }
}
