//! `porchlight api-key ...`: creating, listing and revoking a company's back-office API keys.
//! A new key is printed once; only its hash is stored.

use chrono::Utc;
use clap::Subcommand;
use serde::Serialize;

use porchlight_shared::api_keys::{ApiKey, ApiKeyRecord, new_key_id};
use porchlight_shared::context::AppContext;
use porchlight_shared::ids::CompanySlug;
use porchlight_shared::store::StoreError;

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key for one company and print it (shown this once only).
    Create {
        #[arg(long, value_parser = crate::cli::parse_slug)]
        company: CompanySlug,
        /// What the key is for, e.g. the integration that uses it.
        #[arg(long)]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// List a company's keys (never the keys themselves).
    List {
        #[arg(long, value_parser = crate::cli::parse_slug)]
        company: CompanySlug,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id; calls with it fail from then on.
    Revoke {
        #[arg(long, value_parser = crate::cli::parse_slug)]
        company: CompanySlug,
        /// The key id `api-key list` shows.
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum KeyCommandError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no company has the slug `{0}`")]
    UnknownCompany(CompanySlug),
    #[error("the label must be 1 to 80 characters without control characters")]
    InvalidLabel,
    #[error("`{company}` has no active key with the id `{id}`")]
    UnknownKey { company: CompanySlug, id: String },
    #[error("could not write JSON")]
    Json(#[from] serde_json::Error),
}

#[derive(Serialize)]
struct CreatedKey<'a> {
    key: String,
    #[serde(flatten)]
    record: &'a ApiKeyRecord,
}

pub async fn run(context: &AppContext, command: ApiKeyCommand) -> Result<String, KeyCommandError> {
    match command {
        ApiKeyCommand::Create {
            company,
            label,
            json,
        } => create(context, &company, &label, json).await,
        ApiKeyCommand::List { company, json } => list(context, &company, json).await,
        ApiKeyCommand::Revoke { company, id } => {
            if context
                .store
                .revoke_api_key(&company, &id, Utc::now())
                .await?
            {
                Ok(format!("revoked key {id} of {company}\n"))
            } else {
                Err(KeyCommandError::UnknownKey { company, id })
            }
        }
    }
}

async fn create(
    context: &AppContext,
    company: &CompanySlug,
    label: &str,
    json: bool,
) -> Result<String, KeyCommandError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 80 || label.chars().any(char::is_control) {
        return Err(KeyCommandError::InvalidLabel);
    }
    if context.store.company(company).await?.is_none() {
        return Err(KeyCommandError::UnknownCompany(company.clone()));
    }

    let key = ApiKey::generate();
    let record = ApiKeyRecord {
        key_id: new_key_id(),
        company: company.clone(),
        label: label.to_owned(),
        created_at: Utc::now(),
        revoked_at: None,
    };
    context.store.create_api_key(&key.hash(), &record).await?;

    if json {
        let created = CreatedKey {
            key: key.expose(),
            record: &record,
        };
        return Ok(format!("{}\n", serde_json::to_string_pretty(&created)?));
    }
    Ok(format!(
        "API key {} for {company} ({label}):\n{}\nIt is shown only now; store it safely.\n",
        record.key_id,
        key.expose()
    ))
}

async fn list(
    context: &AppContext,
    company: &CompanySlug,
    json: bool,
) -> Result<String, KeyCommandError> {
    let keys = context.store.api_keys(company).await?;
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&keys)?));
    }
    if keys.is_empty() {
        return Ok(format!("{company} has no API keys\n"));
    }
    let mut out = String::new();
    for key in keys {
        let state = match key.revoked_at {
            Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC")),
            None => "active".to_owned(),
        };
        out.push_str(&format!(
            "{}  {}  created {}  {state}\n",
            key.key_id,
            key.label,
            key.created_at.format("%Y-%m-%d")
        ));
    }
    Ok(out)
}
