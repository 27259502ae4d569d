//! Stripe's form parameters: bracket notation (`line_items[0][price_data][currency]`) and
//! the validation Stripe applies to the ones Porchlight sends, with Stripe's wording and
//! the offending `param` named, so a mistake in the payment code fails here as it would in
//! production. Unknown parameters are refused, as Stripe refuses them.

use std::collections::BTreeMap;

use super::http::ApiError;
use super::state::{LineItem, Metadata, NewSession, RefundRequestExtras};

/// Stripe's limits on metadata.
const METADATA_KEYS: usize = 50;
const METADATA_KEY_CHARS: usize = 40;
const METADATA_VALUE_CHARS: usize = 500;
/// Stripe's largest amount (eight digits).
const MAX_AMOUNT: i64 = 99_999_999;
/// A session may be set to expire between 30 minutes and 24 hours after it is made.
const MIN_EXPIRY_SECS: i64 = 30 * 60;
const MAX_EXPIRY_SECS: i64 = 24 * 60 * 60;

/// Currencies whose smallest unit is the whole unit (Stripe's list).
pub(super) const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
/// Currencies with three decimals.
pub(super) const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// `name[a][b]` as `["name", "a", "b"]`; `None` when the brackets do not pair up.
fn segments(key: &str) -> Option<Vec<&str>> {
    let (head, mut rest) = match key.find('[') {
        Some(at) => key.split_at(at),
        None => (key, ""),
    };
    if head.is_empty() || head.contains(']') {
        return None;
    }
    let mut out = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let segment = &inner[..close];
        if segment.contains('[') {
            return None;
        }
        out.push(segment);
        rest = &inner[close + 1..];
    }
    Some(out)
}

fn unknown(key: &str) -> ApiError {
    ApiError::invalid(format!("Received unknown parameter: {key}"), Some(key))
        .with_code("parameter_unknown")
}

fn missing(param: &str) -> ApiError {
    ApiError::invalid(format!("Missing required param: {param}."), Some(param))
        .with_code("parameter_missing")
}

/// A whole number within Stripe's bounds; Stripe's messages for each way it can fail.
fn integer(param: &str, raw: &str, min: i64, max: i64) -> Result<i64, ApiError> {
    let value: i64 = raw.trim().parse().map_err(|_| {
        ApiError::invalid(format!("Invalid integer: {raw}"), Some(param))
            .with_code("parameter_invalid_integer")
    })?;
    if value < min {
        return Err(ApiError::invalid(
            format!("This value must be greater than or equal to {min}."),
            Some(param),
        ));
    }
    if value > max {
        return Err(ApiError::invalid(
            format!("This value must be less than or equal to {max}."),
            Some(param),
        ));
    }
    Ok(value)
}

fn metadata_entry(map: &mut Metadata, param: &str, key: &str, value: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > METADATA_KEY_CHARS {
        return Err(ApiError::invalid(
            format!("Metadata keys must be 1 to {METADATA_KEY_CHARS} characters long."),
            Some(param),
        ));
    }
    if value.chars().count() > METADATA_VALUE_CHARS {
        return Err(ApiError::invalid(
            format!("Metadata values can have up to {METADATA_VALUE_CHARS} characters."),
            Some(param),
        ));
    }
    // An empty value unsets a key in Stripe; at creation that means "not set".
    if !value.is_empty() {
        map.insert(key.to_owned(), value.to_owned());
    }
    if map.len() > METADATA_KEYS {
        return Err(ApiError::invalid(
            format!("You can specify up to {METADATA_KEYS} metadata keys."),
            Some(param),
        ));
    }
    Ok(())
}

fn url(param: &str, raw: Option<String>) -> Result<String, ApiError> {
    let raw = raw.ok_or_else(|| missing(param))?;
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or_default();
    if rest.is_empty() || raw.len() > 5000 || raw.contains(char::is_whitespace) {
        return Err(
            ApiError::invalid("Not a valid URL".to_owned(), Some(param)).with_code("url_invalid")
        );
    }
    Ok(raw)
}

#[derive(Default)]
struct RawLine {
    currency: Option<(String, String)>,
    unit_amount: Option<(String, String)>,
    name: Option<(String, String)>,
    quantity: Option<(String, String)>,
}

/// The parameters of `POST /v1/checkout/sessions`, checked as Stripe checks them.
pub(super) fn checkout_session(
    params: &[(String, String)],
    now: i64,
) -> Result<NewSession, ApiError> {
    let mut mode = None;
    let (mut success_url, mut cancel_url) = (None, None);
    let (mut client_reference_id, mut customer_email, mut expires_at) = (None, None, None);
    let mut metadata = Metadata::new();
    let mut intent_metadata = Metadata::new();
    let mut lines: BTreeMap<usize, RawLine> = BTreeMap::new();

    for (key, value) in params {
        let segs = segments(key).ok_or_else(|| unknown(key))?;
        let keep = || Some((key.clone(), value.clone()));
        match segs.as_slice() {
            ["mode"] => mode = Some(value.clone()),
            ["success_url"] => success_url = Some(value.clone()),
            ["cancel_url"] => cancel_url = Some(value.clone()),
            ["client_reference_id"] => client_reference_id = Some(value.clone()),
            ["customer_email"] => customer_email = Some(value.clone()),
            ["expires_at"] => expires_at = keep(),
            ["metadata", k] => metadata_entry(&mut metadata, key, k, value)?,
            ["payment_intent_data", "metadata", k] => {
                metadata_entry(&mut intent_metadata, key, k, value)?;
            }
            // Accepted and without effect here: what a card-only hosted page already does.
            ["payment_method_types", i] if i.parse::<usize>().is_ok() => {
                if value != "card" {
                    return Err(ApiError::invalid(
                        format!("The stub supports only card payments, not `{value}`."),
                        Some(key),
                    ));
                }
            }
            ["locale"] | ["payment_intent_data", "description"] => {}
            ["line_items", index, rest @ ..] => {
                let index: usize = index.parse().map_err(|_| unknown(key))?;
                let line = lines.entry(index).or_default();
                match rest {
                    ["quantity"] => line.quantity = keep(),
                    ["price_data", "currency"] => line.currency = keep(),
                    ["price_data", "unit_amount"] => line.unit_amount = keep(),
                    ["price_data", "product_data", "name"] => line.name = keep(),
                    ["price_data", "product_data", "description"] => {}
                    ["price"] => {
                        return Err(ApiError::invalid(
                            "The stub takes inline price_data only, not saved prices.".to_owned(),
                            Some(key),
                        ));
                    }
                    _ => return Err(unknown(key)),
                }
            }
            _ => return Err(unknown(key)),
        }
    }

    let mode = mode.ok_or_else(|| missing("mode"))?;
    if mode != "payment" {
        let message = match mode.as_str() {
            "setup" | "subscription" => format!("The stub supports only mode=payment, not {mode}."),
            _ => {
                format!("Invalid mode: must be one of payment, setup, or subscription (got {mode})")
            }
        };
        return Err(ApiError::invalid(message, Some("mode")));
    }
    if lines.is_empty() {
        return Err(ApiError::invalid(
            "`line_items` is required in `payment` mode.".to_owned(),
            Some("line_items"),
        ));
    }
    let (line_items, currency) = check_lines(lines)?;
    let amount_total = line_items.iter().try_fold(0i64, |sum, line| {
        line.unit_amount
            .checked_mul(line.quantity)
            .and_then(|amount| sum.checked_add(amount))
            .filter(|total| *total <= MAX_AMOUNT)
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("The total must be no more than {MAX_AMOUNT} in the smallest unit."),
                    Some("line_items"),
                )
                .with_code("amount_too_large")
            })
    })?;

    let success_url = url("success_url", success_url)?;
    let cancel_url = url("cancel_url", cancel_url)?;
    if client_reference_id
        .as_ref()
        .is_some_and(|r: &String| r.chars().count() > 200)
    {
        return Err(ApiError::invalid(
            "client_reference_id can be at most 200 characters.".to_owned(),
            Some("client_reference_id"),
        ));
    }
    if let Some(email) = &customer_email
        && !looks_like_email(email)
    {
        return Err(ApiError::invalid(
            format!("Invalid email address: {email}"),
            Some("customer_email"),
        )
        .with_code("email_invalid"));
    }
    let expires_at = expires_at
        .map(|(key, raw)| {
            let at = integer(&key, &raw, 0, i64::MAX)?;
            if at < now + MIN_EXPIRY_SECS {
                return Err(ApiError::invalid(
                    "The `expires_at` timestamp must be at least 30 minutes from now.".to_owned(),
                    Some(&key),
                ));
            }
            if at > now + MAX_EXPIRY_SECS {
                return Err(ApiError::invalid(
                    "The `expires_at` timestamp must be less than 24 hours from now.".to_owned(),
                    Some(&key),
                ));
            }
            Ok(at)
        })
        .transpose()?;

    Ok(NewSession {
        line_items,
        currency,
        amount_total,
        success_url,
        cancel_url,
        client_reference_id,
        customer_email,
        metadata,
        intent_metadata,
        expires_at,
    })
}

fn check_lines(lines: BTreeMap<usize, RawLine>) -> Result<(Vec<LineItem>, String), ApiError> {
    let mut items = Vec::with_capacity(lines.len());
    let mut session_currency: Option<String> = None;
    for (index, line) in lines {
        let param = |field: &str| format!("line_items[{index}][{field}]");
        let price = |field: &str| param(&format!("price_data][{field}"));

        let (key, currency) = line.currency.ok_or_else(|| missing(&price("currency")))?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(ApiError::invalid(
                format!(
                    "Invalid currency: {currency}. Currencies are three lowercase letters \
                     (ISO 4217), such as usd."
                ),
                Some(&key),
            ));
        }
        if session_currency.as_ref().is_some_and(|c| *c != currency) {
            return Err(ApiError::invalid(
                "All line items must use the same currency.".to_owned(),
                Some(&key),
            ));
        }
        session_currency = Some(currency);

        let (key, raw) = line
            .unit_amount
            .ok_or_else(|| missing(&price("unit_amount")))?;
        let unit_amount = integer(&key, &raw, 1, MAX_AMOUNT)?;
        let (_, name) = line
            .name
            .ok_or_else(|| missing(&price("product_data][name")))?;
        if name.trim().is_empty() {
            return Err(missing(&price("product_data][name")));
        }
        let (key, raw) = line.quantity.ok_or_else(|| missing(&param("quantity")))?;
        let quantity = integer(&key, &raw, 1, 999_999)?;
        items.push(LineItem {
            name,
            unit_amount,
            quantity,
        });
    }
    let currency = session_currency.unwrap_or_default();
    Ok((items, currency))
}

fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// The parameters of `POST /v1/refunds` (and `/_stub/refunds`).
pub(super) struct RefundParams {
    pub payment_intent: String,
    pub amount: Option<i64>,
    pub extras: RefundRequestExtras,
}

pub(super) fn refund(params: &[(String, String)]) -> Result<RefundParams, ApiError> {
    let (mut payment_intent, mut amount, mut reason) = (None, None, None);
    let mut metadata = Metadata::new();
    for (key, value) in params {
        let segs = segments(key).ok_or_else(|| unknown(key))?;
        match segs.as_slice() {
            ["payment_intent"] => payment_intent = Some(value.clone()),
            ["amount"] => amount = Some(integer("amount", value, 1, MAX_AMOUNT)?),
            ["reason"] => {
                if !["duplicate", "fraudulent", "requested_by_customer"].contains(&value.as_str()) {
                    return Err(ApiError::invalid(
                        format!(
                            "Invalid reason: must be one of duplicate, fraudulent, or \
                             requested_by_customer (got {value})"
                        ),
                        Some("reason"),
                    ));
                }
                reason = Some(value.clone());
            }
            ["metadata", k] => metadata_entry(&mut metadata, key, k, value)?,
            ["charge"] => {
                return Err(ApiError::invalid(
                    "The stub refunds by payment_intent only.".to_owned(),
                    Some("charge"),
                ));
            }
            _ => return Err(unknown(key)),
        }
    }
    let payment_intent = payment_intent.ok_or_else(|| missing("payment_intent"))?;
    Ok(RefundParams {
        payment_intent,
        amount,
        extras: RefundRequestExtras { reason, metadata },
    })
}

/// How many decimals `currency` (lowercase) has at Stripe.
pub(super) fn decimals(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("mode", "payment"),
            ("line_items[0][price_data][currency]", "usd"),
            ("line_items[0][price_data][unit_amount]", "12000"),
            (
                "line_items[0][price_data][product_data][name]",
                "Invoice GR-1042",
            ),
            ("line_items[0][quantity]", "1"),
            (
                "success_url",
                "http://127.0.0.1:3000/ok?s={CHECKOUT_SESSION_ID}",
            ),
            ("cancel_url", "http://127.0.0.1:3000/cancel"),
        ]
    }

    #[test]
    fn brackets_split_into_segments() {
        assert_eq!(
            segments("line_items[0][price_data][currency]"),
            Some(vec!["line_items", "0", "price_data", "currency"])
        );
        assert_eq!(segments("mode"), Some(vec!["mode"]));
        assert_eq!(segments("metadata[]"), Some(vec!["metadata", ""]));
        for bad in ["a[b", "a]b", "[a]", "a[b]c", "a[[b]]"] {
            assert_eq!(segments(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_valid_session_totals_its_lines() {
        let mut pairs = base();
        pairs.push(("metadata[invoice_id]", "inv_1"));
        pairs.push(("payment_intent_data[metadata][invoice_id]", "inv_1"));
        let session = checkout_session(&form(&pairs), 1_000).unwrap();
        assert_eq!(session.amount_total, 12000);
        assert_eq!(session.currency, "usd");
        assert_eq!(session.metadata["invoice_id"], "inv_1");
        assert_eq!(session.intent_metadata["invoice_id"], "inv_1");
    }

    #[test]
    fn each_mistake_names_its_parameter() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("mode", None, "mode"),
            ("mode", Some("subscription"), "mode"),
            (
                "line_items[0][price_data][unit_amount]",
                Some("12.50"),
                "unit_amount",
            ),
            (
                "line_items[0][price_data][unit_amount]",
                Some("0"),
                "unit_amount",
            ),
            (
                "line_items[0][price_data][unit_amount]",
                Some("-5"),
                "unit_amount",
            ),
            (
                "line_items[0][price_data][currency]",
                Some("USD"),
                "currency",
            ),
            (
                "line_items[0][price_data][currency]",
                Some("us"),
                "currency",
            ),
            ("line_items[0][quantity]", None, "quantity"),
            ("success_url", None, "success_url"),
            ("cancel_url", Some("not a url"), "cancel_url"),
        ];
        for (key, value, expected) in cases {
            let mut pairs: Vec<(&str, &str)> =
                base().into_iter().filter(|(k, _)| k != key).collect();
            if let Some(value) = value {
                pairs.push((key, value));
            }
            let error = checkout_session(&form(&pairs), 1_000).err().unwrap();
            let param = error.param.clone().unwrap_or_default();
            assert!(param.contains(expected), "{key}={value:?}: {param}");
            assert_eq!(error.status.as_u16(), 400);
        }
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let mut pairs = base();
        pairs.push(("line_items[0][price_data][tax]", "1"));
        let error = checkout_session(&form(&pairs), 1_000).err().unwrap();
        assert_eq!(error.code, Some("parameter_unknown"));
    }

    #[test]
    fn expiry_must_fall_within_a_day() {
        for (at, ok) in [("2800", true), ("1100", false), ("90000", false)] {
            let mut pairs = base();
            pairs.push(("expires_at", at));
            assert_eq!(checkout_session(&form(&pairs), 1_000).is_ok(), ok, "{at}");
        }
    }

    #[test]
    fn zero_decimal_currencies_have_no_decimals() {
        assert_eq!(decimals("jpy"), 0);
        assert_eq!(decimals("krw"), 0);
        assert_eq!(decimals("usd"), 2);
        assert_eq!(decimals("kwd"), 3);
    }
}
