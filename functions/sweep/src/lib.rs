//! The sweep function's handler: one run over every company, on each company's own
//! calendar date, within the time Lambda gave the invocation.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use porchlight_shared::context::AppContext;
use porchlight_shared::store::StoreError;
use porchlight_shared::sweep;

/// Time kept back from the invocation's deadline to finish the page at hand and log.
const MARGIN: Duration = Duration::from_secs(20);

/// Runs the sweep once. `remaining` is the time the invocation has left; the run stops
/// taking new pages once only [`MARGIN`] of it is left, and the next run carries on.
/// Returns a short summary (the per-company detail is in the log lines).
pub async fn handle(ctx: &AppContext, remaining: Option<Duration>) -> Result<Value, StoreError> {
    let started = Instant::now();
    let deadline = remaining.map(|left| started + left.saturating_sub(MARGIN));
    let reports = sweep::sweep_all(ctx, ctx.clock.now(), deadline).await?;
    let sum = |count: fn(&sweep::CompanySweep) -> u64| reports.iter().map(count).sum::<u64>();
    let summary = json!({
        "companies": reports.len(),
        "fixed_invoices": sum(|r| r.fixed_invoices.len() as u64),
        "archived": sum(|r| r.archived.len() as u64),
        "emails": sum(|r| r.emails.len() as u64),
        "items_read": sum(|r| r.items_read),
        "complete": reports.iter().all(|r| r.complete),
    });
    tracing::info!(
        companies = reports.len(),
        complete = reports.iter().all(|r| r.complete),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "sweep run finished"
    );
    Ok(summary)
}
