//! The local Stripe stand-in on its own, for trying the checkout page or pointing a
//! hand-started portal at it. The local stack runs the same server in-process.

use std::process::ExitCode;

use porchlight_infra::stripe_stub::{self, StripeStub, StubConfig};

#[tokio::main]
async fn main() -> ExitCode {
    porchlight_shared::lambda::init_tracing();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("porchlight-stripe-stub: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let lookup = |name: &str| std::env::var(name).ok();
    let port = StubConfig::port_from_lookup(&lookup).map_err(|e| e.to_string())?;
    let listener = stripe_stub::bind(port)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    // Port 0 picks a free port: the checkout URLs must name the one actually bound.
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let config = StubConfig::from_lookup(&lookup, port).map_err(|e| e.to_string())?;
    let stub = StripeStub::new(config).map_err(|e| e.to_string())?;

    println!("Stripe stand-in listening on {}", stub.public_base());
    println!(
        "  API base:  {} (PORCHLIGHT_STRIPE_API_BASE)",
        stub.public_base()
    );
    match stub.webhook_url() {
        Some(url) => println!("  Webhooks:  {url}"),
        None => println!("  Webhooks:  none (set PORCHLIGHT_STRIPE_STUB_WEBHOOK_URL)"),
    }
    println!("  Events:    {}/_stub/events", stub.public_base());
    println!("Press Ctrl-C to stop.");

    tokio::select! {
        () = stub.serve(listener) => Ok(()),
        signal = tokio::signal::ctrl_c() => signal.map_err(|e| e.to_string()),
    }
}
