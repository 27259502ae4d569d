//! The local stack `make run` starts: every function behind its template route on
//! 127.0.0.1, against DynamoDB Local, with mail written to `.porchlight/outbox/`.

use std::process::ExitCode;
use std::sync::Arc;

use porchlight_infra::{local_env, stack};
use porchlight_shared::context::AppContext;

fn main() -> ExitCode {
    // Before the runtime starts any thread: the environment is process-wide.
    local_env::apply_local_defaults();
    let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime starts");
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("porchlight-local: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    porchlight_shared::lambda::init_tracing();
    let ctx = AppContext::from_env().await.map_err(|e| e.to_string())?;
    let port: u16 = std::env::var("PORCHLIGHT_PORT")
        .unwrap_or_else(|_| local_env::DEFAULT_PORT.into())
        .parse()
        .map_err(|_| "PORCHLIGHT_PORT must be a port number".to_owned())?;
    let listener = stack::listen(port).await.map_err(|e| error_chain(&e))?;
    let stripe = stack::start_stripe_stub()
        .await
        .map_err(|e| error_chain(&e))?;

    stack::prepare(&ctx).await.map_err(|e| error_chain(&e))?;
    let sample = stack::sample_dir();
    let summary = stack::load_demo(&ctx, &sample)
        .await
        .map_err(|e| error_chain(&e))?;
    println!("Loaded {} into {}:", sample.display(), stack::DEMO_NAME);
    println!("{summary}");
    let swept = stack::sweep_now(&ctx).await.map_err(|e| error_chain(&e))?;
    println!("{swept}");

    let outbox = ctx.config.outbox_dir.clone().unwrap_or_default();
    println!();
    println!("Porchlight is running.");
    println!(
        "  Portal:       {}/p/{}",
        ctx.config.base_url,
        stack::DEMO_SLUG
    );
    println!("  Sign in as:   birds@example.com (Amy's Bird Sanctuary), or any sample customer");
    for (address, what) in porchlight_infra::demo_recurring::DEMO_ADDRESSES {
        println!("                {address} ({what})");
    }
    println!(
        "  Login emails: {} (one .eml file per message)",
        outbox.display()
    );
    println!("  Operator CLI: cargo run -q --bin porchlight -- --local company list");
    println!(
        "  Card payments: the local Stripe stand-in at {stripe}; pay with 4242 4242 4242 4242"
    );
    println!("  Sweep:        hourly, or by hand: cargo run -q --bin porchlight -- --local sweep");
    println!("Press Ctrl-C to stop.");

    let ctx = Arc::new(ctx);
    tokio::select! {
        () = stack::sweep_hourly(Arc::clone(&ctx)) => {}
        () = stack::serve(ctx, listener) => {}
        _ = shutdown_signal() => println!("Stopping."),
    }
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
