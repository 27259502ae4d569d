//! The hosted checkout page a session's `url` opens: the amount in the currency's own
//! decimals, a card form, and the test cards' outcomes. Paying completes the session and
//! sends its events; the browser then goes to `success_url` as Stripe sends it there.
//!
//! Works without JavaScript, so the browser test fills and submits it like any form.
//! Field names: `card_number`, `expiry` (`MM / YY`), `cvc`; element ids `card-number`,
//! `card-expiry`, `card-cvc`, `pay`, `cancel` and `message`.

use chrono::Datelike;
use hyper::{Method, StatusCode};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::http::{Call, Reply, html as html_reply, see_other};
use super::state::{Attempt, Card, Session};
use super::{StripeStub, admin, form, ids, webhooks};

/// The card that always succeeds, as in Stripe's test mode.
pub const CARD_SUCCEEDS: &str = "4242424242424242";
/// The card that is always declined (`card_declined`, `generic_decline`).
pub const CARD_DECLINED: &str = "4000000000000002";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;\
padding:0 1rem;color:#1a1f36}.banner{background:#fff4e5;padding:.5rem;border-radius:4px;\
font-size:.85rem}label{display:block;margin-top:.75rem}input{width:100%;padding:.5rem;\
font-size:1rem;box-sizing:border-box}button{margin-top:1rem;width:100%;padding:.75rem;\
font-size:1rem;background:#635bff;color:#fff;border:0;border-radius:4px}\
.error{color:#b3093c}ul.items{padding:0;list-style:none}ul.items li{display:flex;\
justify-content:space-between}";

pub(super) async fn page(stub: &StripeStub, call: &Call, id: &str) -> Reply {
    match call.method {
        Method::GET => show(stub, id),
        Method::POST => pay(stub, call, id),
        _ => super::http::text(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST"),
    }
}

pub(super) fn cancel(stub: &StripeStub, id: &str) -> Reply {
    let cancel_url = stub
        .state()
        .sessions
        .get(id)
        .map(|s| s.new.cancel_url.clone());
    match cancel_url {
        Some(url) => see_other(&url),
        None => missing(),
    }
}

fn show(stub: &StripeStub, id: &str) -> Reply {
    let state = stub.state();
    let Some(session) = state.sessions.get(id) else {
        return missing();
    };
    match session.status(ids::now()) {
        "complete" => already_paid(session),
        "expired" => expired(session),
        _ => html_reply(StatusCode::OK, form_page(session, None).into_string()),
    }
}

fn pay(stub: &StripeStub, call: &Call, id: &str) -> Reply {
    let mode = match admin::mode_from(&call.query_pairs(), stub.mode()) {
        Ok(mode) => mode,
        Err(message) => return super::http::plain(StatusCode::BAD_REQUEST, message),
    };
    let fields = std::str::from_utf8(&call.body)
        .map(super::http::pairs)
        .unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let card = match check_card(field("card_number"), field("expiry"), field("cvc")) {
        Ok(card) => card,
        Err(message) => return retry_page(stub, id, StatusCode::BAD_REQUEST, message),
    };

    let pending = webhooks::pending(stub);
    let mut state = stub.state();
    let Some(attempt) = state.attempt(id, card, ids::now(), pending) else {
        return missing();
    };
    let success = state
        .sessions
        .get(id)
        .map(|s| s.new.success_url.replace("{CHECKOUT_SESSION_ID}", id))
        .unwrap_or_default();
    drop(state);

    match attempt {
        Attempt::Paid { events } => {
            tracing::info!(session = %id, "stripe stub checkout paid");
            webhooks::dispatch(stub, events, mode);
            see_other(&success)
        }
        Attempt::Declined { events } => {
            tracing::info!(session = %id, "stripe stub checkout declined");
            webhooks::dispatch(stub, events, mode);
            let message = "Your card was declined. Try another card.";
            retry_page(stub, id, StatusCode::PAYMENT_REQUIRED, message)
        }
        Attempt::AlreadyPaid | Attempt::Expired => show(stub, id),
    }
}

/// What a test card does, or what the page says is wrong with the form.
fn check_card(number: &str, expiry: &str, cvc: &str) -> Result<Card, &'static str> {
    let number: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let card = match number.as_str() {
        CARD_SUCCEEDS => Card::Succeeds,
        CARD_DECLINED => Card::Declined,
        _ => return Err("Your card number is invalid."),
    };

    let digits: String = expiry.chars().filter(|c| !matches!(c, ' ' | '/')).collect();
    let (month, year) = match digits.len() {
        4 | 6 if digits.bytes().all(|b| b.is_ascii_digit()) => digits.split_at(2),
        _ => return Err("Your card's expiration date is incomplete."),
    };
    let month: u32 = month.parse().unwrap_or(0);
    let year: i32 = year.parse().unwrap_or(0);
    let year = if year < 100 { 2000 + year } else { year };
    let today = chrono::Utc::now().date_naive();
    if !(1..=12).contains(&month) {
        return Err("Your card's expiration date is invalid.");
    }
    if (year, month) < (today.year(), today.month()) {
        return Err("Your card's expiration year is in the past.");
    }

    let cvc_ok =
        (3..=4).contains(&cvc.trim().len()) && cvc.trim().bytes().all(|b| b.is_ascii_digit());
    if !cvc_ok {
        return Err("Your card's security code is incomplete.");
    }
    Ok(card)
}

fn retry_page(stub: &StripeStub, id: &str, status: StatusCode, message: &str) -> Reply {
    let state = stub.state();
    match state.sessions.get(id) {
        Some(session) if session.status(ids::now()) == "open" => {
            html_reply(status, form_page(session, Some(message)).into_string())
        }
        Some(session) if session.completed => already_paid(session),
        Some(session) => expired(session),
        None => missing(),
    }
}

/// `amount` (Stripe's integer) written with the currency's decimals: `$120.00`, `¥8,800`.
pub(super) fn format_amount(amount: i64, currency: &str) -> String {
    let decimals = form::decimals(currency);
    let unit = 10i64.pow(decimals);
    let (whole, fraction) = (amount / unit, (amount % unit).abs());
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount < 0 { "-" } else { "" };
    let number = match decimals {
        0 => grouped,
        d => format!("{grouped}.{fraction:0width$}", width = d as usize),
    };
    match currency {
        "usd" => format!("{sign}${number}"),
        "eur" => format!("{sign}€{number}"),
        "gbp" => format!("{sign}£{number}"),
        "jpy" => format!("{sign}¥{number}"),
        other => format!("{sign}{number} {}", other.to_uppercase()),
    }
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                p.banner { "Test mode: Porchlight's local Stripe stand-in. No card is charged." }
                (body)
            }
        }
    }
}

fn form_page(session: &Session, message: Option<&str>) -> Markup {
    let s = &session.new;
    let total = format_amount(s.amount_total, &s.currency);
    layout(
        &format!("Pay {total}"),
        html! {
            h1 { "Pay " span #amount { (total) } }
            ul.items {
                @for line in &s.line_items {
                    li {
                        span {
                            (line.name)
                            @if line.quantity > 1 { " × " (line.quantity) }
                        }
                        span { (format_amount(line.unit_amount * line.quantity, &s.currency)) }
                    }
                }
            }
            @if let Some(email) = &s.customer_email {
                p { "Receipt to " (email) }
            }
            @if let Some(message) = message {
                p #message .error role="alert" { (message) }
            }
            form method="post" action={ "/checkout/" (session.id) } {
                label for="card-number" { "Card number" }
                input #card-number name="card_number" inputmode="numeric"
                    autocomplete="cc-number" placeholder="4242 4242 4242 4242" required;
                label for="card-expiry" { "Expiry (MM / YY)" }
                input #card-expiry name="expiry" autocomplete="cc-exp" placeholder="12 / 34"
                    required;
                label for="card-cvc" { "CVC" }
                input #card-cvc name="cvc" inputmode="numeric" autocomplete="cc-csc"
                    placeholder="123" required;
                button #pay type="submit" { "Pay " (total) }
            }
            p { a #cancel href={ "/checkout/" (session.id) "/cancel" } { "Cancel and go back" } }
            details {
                summary { "Test cards" }
                ul {
                    li { code { "4242 4242 4242 4242" } " succeeds" }
                    li { code { "4000 0000 0000 0002" } " is declined" }
                    li { "any future expiry date and any 3-digit CVC" }
                }
            }
        },
    )
}

fn already_paid(session: &Session) -> Reply {
    let s = &session.new;
    let total = format_amount(s.amount_total, &s.currency);
    let back = s.success_url.replace("{CHECKOUT_SESSION_ID}", &session.id);
    let page = layout(
        "Already paid",
        html! {
            h1 { "Already paid" }
            p #message { "This payment of " (total) " has already been made." }
            p { a href=(back) { "Return to the site" } }
        },
    );
    html_reply(StatusCode::OK, page.into_string())
}

fn expired(session: &Session) -> Reply {
    let page = layout(
        "Session expired",
        html! {
            h1 { "This checkout has expired" }
            p #message { "Start the payment again from the site." }
            p { a href=(session.new.cancel_url) { "Return to the site" } }
        },
    );
    html_reply(StatusCode::GONE, page.into_string())
}

fn missing() -> Reply {
    let page = layout("Not found", html! { h1 { "No such checkout session" } });
    html_reply(StatusCode::NOT_FOUND, page.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_the_currency_decimals() {
        assert_eq!(format_amount(12000, "usd"), "$120.00");
        assert_eq!(format_amount(8800, "jpy"), "¥8,800");
        assert_eq!(format_amount(8800, "krw"), "8,800 KRW");
        assert_eq!(format_amount(123_456_789, "eur"), "€1,234,567.89");
        assert_eq!(format_amount(5, "usd"), "$0.05");
        assert_eq!(format_amount(1234, "kwd"), "1.234 KWD");
    }

    #[test]
    fn test_cards_decide_the_outcome() {
        assert_eq!(
            check_card("4242 4242 4242 4242", "12/99", "123"),
            Ok(Card::Succeeds)
        );
        assert_eq!(
            check_card("4000-0000-0000-0002", "12 / 2099", "1234"),
            Ok(Card::Declined)
        );
        assert_eq!(
            check_card("4111 1111 1111 1111", "12/99", "123"),
            Err("Your card number is invalid.")
        );
        assert!(check_card("4242424242424242", "13/99", "123").is_err());
        assert!(check_card("4242424242424242", "01/20", "123").is_err());
        assert!(check_card("4242424242424242", "12/99", "12").is_err());
    }
}
