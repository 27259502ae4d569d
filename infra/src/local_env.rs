//! The environment that points Porchlight at the local stack `make run` starts: DynamoDB
//! Local, the portal on 127.0.0.1 and the mail outbox under `.porchlight/`. The operator
//! CLI's `--local` and the local stack binary both use it, so they always agree.

use std::path::{Path, PathBuf};

/// The portal's port when `PORCHLIGHT_PORT` is not set.
pub const DEFAULT_PORT: &str = "3000";
/// DynamoDB Local's port when `PORCHLIGHT_DYNAMODB_PORT` is not set.
pub const DEFAULT_DYNAMODB_PORT: &str = "8000";
/// The local Stripe stand-in's port when `PORCHLIGHT_STRIPE_STUB_PORT` is not set.
pub const DEFAULT_STRIPE_STUB_PORT: &str = "12111";
/// The stand-in's test key and webhook secret: fixed, since nothing real is behind them.
pub const LOCAL_STRIPE_KEY: &str = "sk_test_porchlight_local";
pub const LOCAL_WEBHOOK_SECRET: &str = "whsec_porchlight_local";
/// The table the local stack creates.
pub const DEFAULT_TABLE: &str = "porchlight";

/// The repository root: the workspace this crate was built from. Local state lives in
/// `.porchlight/` under it.
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Where the local stack keeps its state (git-ignored).
pub fn state_dir() -> PathBuf {
    repo_root().join(".porchlight")
}

/// The variables the local defaults would set, given what `lookup` finds already set.
/// A variable that is set (and not empty) is left alone, so every default can be
/// overridden from the shell.
pub fn local_defaults(lookup: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, String)> {
    let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let port = |name: &str, default: &str| set(name).unwrap_or_else(|| default.to_owned());

    let dynamodb_port = port("PORCHLIGHT_DYNAMODB_PORT", DEFAULT_DYNAMODB_PORT);
    let portal_port = port("PORCHLIGHT_PORT", DEFAULT_PORT);
    let stripe_port = port("PORCHLIGHT_STRIPE_STUB_PORT", DEFAULT_STRIPE_STUB_PORT);
    let outbox = state_dir().join("outbox");
    let mut wanted: Vec<(&'static str, String)> = vec![
        ("PORCHLIGHT_TABLE", DEFAULT_TABLE.to_owned()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://127.0.0.1:{}", dynamodb_port.trim()),
        ),
        (
            "PORCHLIGHT_BASE_URL",
            format!("http://127.0.0.1:{}", portal_port.trim()),
        ),
        (
            "PORCHLIGHT_MAIL_FROM",
            "Porchlight <portal@porchlight.localhost>".to_owned(),
        ),
        ("PORCHLIGHT_OUTBOX_DIR", outbox.display().to_string()),
        // Card payments go to the local Stripe stand-in, which posts its signed events back
        // to the portal's webhook route.
        (
            "PORCHLIGHT_STRIPE_API_BASE",
            format!("http://127.0.0.1:{}", stripe_port.trim()),
        ),
        ("PORCHLIGHT_STRIPE_SECRET_KEY", LOCAL_STRIPE_KEY.to_owned()),
        (
            "PORCHLIGHT_STRIPE_WEBHOOK_SECRETS",
            LOCAL_WEBHOOK_SECRET.to_owned(),
        ),
        ("PORCHLIGHT_STRIPE_STUB_PORT", stripe_port.trim().to_owned()),
        (
            "PORCHLIGHT_STRIPE_STUB_WEBHOOK_URL",
            format!("http://127.0.0.1:{}/webhooks/stripe", portal_port.trim()),
        ),
    ];

    // The SDK also reads AWS_DEFAULT_REGION; either one set means a region was chosen.
    if set("AWS_REGION").is_none() && set("AWS_DEFAULT_REGION").is_none() {
        wanted.push(("AWS_REGION", "us-east-1".to_owned()));
    }
    // Keys come as a pair: filling in one half of someone's credentials would mix them.
    if set("AWS_ACCESS_KEY_ID").is_none() {
        wanted.push(("AWS_ACCESS_KEY_ID", "local".to_owned()));
        wanted.push(("AWS_SECRET_ACCESS_KEY", "local".to_owned()));
    }

    wanted
        .into_iter()
        .filter(|(name, _)| set(name).is_none())
        .collect()
}

/// Sets the local defaults in the process environment where they are not set.
///
/// Call it first thing in `main`, before any thread exists (before building a Tokio
/// runtime): the environment is process-wide and not safe to change while another thread
/// may read it.
pub fn apply_local_defaults() {
    for (name, value) in local_defaults(|name| std::env::var(name).ok()) {
        // SAFETY: the documented contract of this function is that it runs before any
        // other thread is started, so nothing reads the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults(pairs: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        local_defaults(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    fn value<'a>(defaults: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        defaults
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn an_empty_environment_gets_the_whole_local_stack() {
        let all = defaults(&[]);

        assert_eq!(value(&all, "PORCHLIGHT_TABLE"), Some("porchlight"));
        assert_eq!(
            value(&all, "AWS_ENDPOINT_URL_DYNAMODB"),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            value(&all, "PORCHLIGHT_BASE_URL"),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(value(&all, "AWS_REGION"), Some("us-east-1"));
        assert_eq!(value(&all, "AWS_ACCESS_KEY_ID"), Some("local"));
        assert_eq!(value(&all, "AWS_SECRET_ACCESS_KEY"), Some("local"));
        assert_eq!(
            value(&all, "PORCHLIGHT_MAIL_FROM"),
            Some("Porchlight <portal@porchlight.localhost>")
        );
        let outbox = value(&all, "PORCHLIGHT_OUTBOX_DIR").expect("test data is valid");
        assert!(outbox.ends_with(".porchlight/outbox"), "{outbox}");
    }

    #[test]
    fn ports_are_honoured_and_set_variables_kept() {
        let some = defaults(&[
            ("PORCHLIGHT_DYNAMODB_PORT", "8456"),
            ("PORCHLIGHT_PORT", "3100"),
            ("PORCHLIGHT_TABLE", "mine"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ]);

        assert_eq!(
            value(&some, "AWS_ENDPOINT_URL_DYNAMODB"),
            Some("http://127.0.0.1:8456")
        );
        assert_eq!(
            value(&some, "PORCHLIGHT_BASE_URL"),
            Some("http://127.0.0.1:3100")
        );
        assert_eq!(value(&some, "PORCHLIGHT_TABLE"), None);
        assert_eq!(value(&some, "AWS_ACCESS_KEY_ID"), None);
        assert_eq!(value(&some, "AWS_SECRET_ACCESS_KEY"), None);
        assert_eq!(
            value(&some, "PORCHLIGHT_STRIPE_STUB_WEBHOOK_URL"),
            Some("http://127.0.0.1:3100/webhooks/stripe"),
            "the stand-in posts its events to the portal's own port"
        );
    }

    #[test]
    fn card_payments_go_to_the_local_stand_in() {
        let all = defaults(&[("PORCHLIGHT_STRIPE_STUB_PORT", "12200")]);
        assert_eq!(
            value(&all, "PORCHLIGHT_STRIPE_API_BASE"),
            Some("http://127.0.0.1:12200")
        );
        assert_eq!(
            value(&all, "PORCHLIGHT_STRIPE_SECRET_KEY"),
            Some(LOCAL_STRIPE_KEY)
        );
        assert_eq!(
            value(&all, "PORCHLIGHT_STRIPE_WEBHOOK_SECRETS"),
            Some(LOCAL_WEBHOOK_SECRET)
        );
        assert_eq!(
            value(&all, "PORCHLIGHT_STRIPE_STUB_PORT"),
            None,
            "already set"
        );
    }
}
