//! Bringing up the local stack: wait for DynamoDB Local, create the table from the template,
//! load the demo company from the QuickBooks sample, and serve every function on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Company, Settings};
use porchlight_shared::ids::{CompanySlug, random_bytes};
use porchlight_shared::money::Currency;
use tokio::net::TcpListener;

use crate::{local, qbo, table, template};

/// The demo company `make run` loads: the QuickBooks sample company.
pub const DEMO_SLUG: &str = "craigs-landscaping";
pub const DEMO_NAME: &str = "Craig's Design and Landscaping Services";
/// The sample company is in Mountain View, California.
pub const DEMO_TIME_ZONE: &str = "America/Los_Angeles";
/// The demo company's connected account at the local Stripe stand-in.
pub const DEMO_STRIPE_ACCOUNT: &str = "acct_1DemoCraigsLandscaping";

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("DynamoDB Local did not answer at {endpoint} within {seconds} s; is it running?")]
    EngineDown { endpoint: String, seconds: u64 },
    #[error(transparent)]
    Table(#[from] table::TableError),
    #[error(transparent)]
    Store(#[from] porchlight_shared::store::StoreError),
    #[error(transparent)]
    Import(#[from] qbo::QboError),
    #[error("the local Stripe stand-in cannot start: {0}")]
    StripeStub(String),
    #[error("could not listen on {address}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where the sample data lives: `PORCHLIGHT_SAMPLE_DIR`, else `../shared/data/qbo-sample`
/// beside the repository.
pub fn sample_dir() -> PathBuf {
    match std::env::var_os("PORCHLIGHT_SAMPLE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => crate::local_env::repo_root().join("../shared/data/qbo-sample"),
    }
}

/// Waits for the engine to answer a ListTables call.
pub async fn wait_for_engine(ctx: &AppContext, seconds: u64) -> Result<(), StackError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if ctx
            .store
            .dynamo()
            .list_tables()
            .limit(1)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
            return Err(StackError::EngineDown { endpoint, seconds });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Creates the demo company on first start, then imports the sample (a no-op when it is
/// already loaded).
pub async fn load_demo(ctx: &AppContext, sample: &Path) -> Result<qbo::ImportSummary, StackError> {
    let slug = CompanySlug::parse(DEMO_SLUG).expect("the demo slug is valid");
    let company = match ctx.store.company(&slug).await? {
        Some(company) => company,
        None => {
            let company = Company {
                slug: slug.clone(),
                name: DEMO_NAME.into(),
                time_zone: DEMO_TIME_ZONE.parse().expect("the demo zone is valid"),
                currency: Currency::usd(),
                notify_email: "office@craigs-landscaping.example".into(),
                id_secret: hex::encode(random_bytes::<32>()),
                // The demo takes card payments through the local Stripe stand-in.
                settings: Settings {
                    payments_enabled: true,
                    stripe_account: Some(DEMO_STRIPE_ACCOUNT.into()),
                    minimum_payment_minor: 1_000,
                    ..Settings::default()
                },
                created_at: Utc::now(),
            };
            ctx.store.create_company(&company).await?;
            // A concurrent first start may have won; use whatever is stored.
            ctx.store.company(&slug).await?.unwrap_or(company)
        }
    };
    let summary = qbo::import_dir(&ctx.store, &company, sample).await?;
    crate::demo_recurring::load(&ctx.store, &company).await?;
    Ok(summary)
}

/// One sweep of every company, as the hourly schedule runs it, then the demo's paid
/// contract history (which needs the invoices the sweep creates). Returns a line to print.
pub async fn sweep_now(ctx: &AppContext) -> Result<String, StackError> {
    let reports = porchlight_shared::sweep::sweep_all(ctx, ctx.clock.now(), None).await?;
    let slug = CompanySlug::parse(DEMO_SLUG).expect("the demo slug is valid");
    if let Some(company) = ctx.store.company(&slug).await? {
        crate::demo_recurring::pay_contract_history(&ctx.store, &company).await?;
    }
    let count = |f: fn(&porchlight_shared::sweep::CompanySweep) -> usize| {
        reports.iter().map(f).sum::<usize>()
    };
    Ok(format!(
        "Sweep: {} fixed invoice(s) created, {} paid invoice(s) archived, \
         {} new-documents email(s) sent",
        count(|r| r.fixed_invoices.len()),
        count(|r| r.archived.len()),
        count(|r| r.emails.len()),
    ))
}

/// Runs [`sweep_now`] at the top of every hour, as the deployed schedule does.
pub async fn sweep_hourly(ctx: Arc<AppContext>) {
    loop {
        let now = Utc::now();
        let into_hour = u64::try_from(now.timestamp().rem_euclid(3600)).unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(3600 - into_hour)).await;
        match sweep_now(&ctx).await {
            Ok(line) => println!("{line}"),
            Err(error) => tracing::error!(error = ?error, "local sweep failed"),
        }
    }
}

/// Creates the table (if absent) and starts serving on `listener`; returns when the listener
/// fails, which it does not in practice: the caller stops the process.
pub async fn serve(ctx: Arc<AppContext>, listener: TcpListener) {
    let routes = Arc::new(template::routes());
    local::serve(listener, ctx, routes).await;
}

/// Starts the local Stripe stand-in on `PORCHLIGHT_STRIPE_STUB_PORT` (127.0.0.1 only),
/// posting its signed events to the portal's webhook route. Returns where it listens.
pub async fn start_stripe_stub() -> Result<String, StackError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let port = crate::stripe_stub::StubConfig::port_from_lookup(&lookup)
        .map_err(|e| StackError::StripeStub(e.to_string()))?;
    let config = crate::stripe_stub::StubConfig::from_lookup(&lookup, port)
        .map_err(|e| StackError::StripeStub(e.to_string()))?;
    let stub = crate::stripe_stub::StripeStub::new(config)
        .map_err(|e| StackError::StripeStub(e.to_string()))?;
    let listener = crate::stripe_stub::bind(port)
        .await
        .map_err(|source| StackError::Listen {
            address: format!("127.0.0.1:{port}"),
            source,
        })?;
    let base = stub.public_base().to_owned();
    // Runs as long as the stack does; the process exit stops it.
    drop(stub.spawn(listener));
    Ok(base)
}

/// Binds the portal's address on loopback only.
pub async fn listen(port: u16) -> Result<TcpListener, StackError> {
    let address = format!("127.0.0.1:{port}");
    TcpListener::bind(&address)
        .await
        .map_err(|source| StackError::Listen { address, source })
}

/// Prepares the engine: waits for it and creates the table from the template.
pub async fn prepare(ctx: &AppContext) -> Result<(), StackError> {
    wait_for_engine(ctx, 60).await?;
    table::create_table(ctx.store.dynamo(), ctx.store.table_name()).await?;
    Ok(())
}
