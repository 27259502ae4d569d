//! The emails a card payment sends: the client's receipt, the staff notice to the company's
//! `notify_email`, and the client's note of a refund. Each has a text part and an HTML part
//! built with maud (every value escaped), amounts in the currency's own formatting
//! (`¥8,800`, `$120.00`), the invoice's number, what is left owing and a link to the
//! invoice page. No card detail ever reaches Porchlight, so none can reach an email.

use chrono::NaiveDate;
use maud::{Markup, html};

use crate::domain::{Client, Company};
use crate::ids::{CompanySlug, DocumentId};
use crate::mail::{Email, Mailbox};
use crate::money::Money;
use crate::views::{self, email};

/// What a payment's emails say.
#[derive(Debug, Clone, Copy)]
pub struct PaymentFacts<'a> {
    pub company: &'a Company,
    pub client: &'a Client,
    pub invoice_number: &'a str,
    pub paid: &'a Money,
    pub received_on: NaiveDate,
    /// What the invoice still owed right after the payment (zero or less: paid in full).
    pub left_owing: &'a Money,
    /// Paid beyond what the invoice owed, kept as a credit for staff to settle.
    pub unapplied: &'a Money,
    pub invoice_url: &'a str,
    /// The client's payment history, which lists every payment whatever became of its
    /// invoice (one paid off over a year after its date leaves the portal at once).
    pub payments_url: &'a str,
    /// Stripe's id of the payment, for staff to find it in Stripe's dashboard.
    pub payment_intent: &'a str,
}

/// What a refund's note says.
#[derive(Debug, Clone, Copy)]
pub struct RefundFacts<'a> {
    pub company: &'a Company,
    pub client: &'a Client,
    pub invoice_number: &'a str,
    pub refunded: &'a Money,
    /// What the invoice owes after the refund.
    pub left_owing: &'a Money,
    pub invoice_url: &'a str,
}

/// The portal page of one invoice, for links in emails.
pub fn invoice_url(base_url: &str, slug: &CompanySlug, invoice: &DocumentId) -> String {
    format!("{base_url}/p/{slug}/invoices/{invoice}")
}

pub fn payments_url(base_url: &str, slug: &CompanySlug) -> String {
    format!("{base_url}/p/{slug}/payments")
}

/// The client's addresses that parse; an address that does not is left out.
fn client_mailboxes(client: &Client) -> Vec<Mailbox> {
    client
        .emails
        .iter()
        .filter_map(|address| Mailbox::parse(address).ok())
        .map(|mailbox| mailbox.named(&client.name))
        .collect()
}

/// Owing never reads as a negative amount: an overpaid invoice owes nothing.
fn owing(left: &Money) -> Money {
    Money::new(left.minor.max(0), left.currency.clone())
}

fn rows(pairs: &[(&str, String)]) -> Markup {
    html! {
        table style="border-collapse:collapse;margin:0 0 16px" {
            @for (label, value) in pairs {
                tr {
                    td style="padding:4px 16px 4px 0;color:#5b6b62" { (label) }
                    td style="padding:4px 0;font-weight:600" { (value) }
                }
            }
        }
    }
}

fn text_rows(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(label, value)| format!("{label}: {value}\n"))
        .collect()
}

/// The client's receipt; `None` when the client has no usable address.
pub fn receipt(from: &Mailbox, facts: &PaymentFacts<'_>) -> Option<Email> {
    let to = client_mailboxes(facts.client);
    if to.is_empty() {
        return None;
    }
    let left = owing(facts.left_owing);
    let pairs = [
        ("Invoice", format!("#{}", facts.invoice_number)),
        ("Paid", facts.paid.to_string()),
        ("Date", views::date(facts.received_on)),
        ("Left owing", left.to_string()),
    ];
    let status = if left.is_zero() {
        format!("Invoice #{} is now paid in full.", facts.invoice_number)
    } else {
        format!(
            "{left} is still owing on invoice #{}.",
            facts.invoice_number
        )
    };
    let credit = (facts.unapplied.minor > 0).then(|| {
        format!(
            "{} more than the invoice owed was received; {} will contact you about it.",
            facts.unapplied, facts.company.name
        )
    });
    let greeting = format!(
        "Thank you, {}. We received your payment of {}.",
        facts.client.name, facts.paid
    );

    let mut body = format!("{greeting}\n\n{}\n{status}\n", text_rows(&pairs));
    if let Some(credit) = &credit {
        body.push_str(&format!("\n{credit}\n"));
    }
    // A paid-off invoice may have left the portal; the payment history never does.
    let (label, url) = if left.is_zero() {
        ("View your payments", facts.payments_url)
    } else {
        ("View the invoice", facts.invoice_url)
    };
    body.push_str(&format!(
        "\n{label}: {url}\n\nThis is your receipt from {}.\n",
        facts.company.name
    ));
    let content = html! {
        p { (greeting) }
        (rows(&pairs))
        p { (status) }
        @if let Some(credit) = &credit { p { (credit) } }
        (email::button(label, url))
        p style="font-size:13px;color:#5b6b62" {
            "This is your receipt from " (facts.company.name) "."
        }
    };
    Some(Email {
        from: from.clone(),
        to,
        reply_to: Mailbox::parse(&facts.company.notify_email).ok(),
        subject: format!(
            "Receipt: {} paid on invoice #{}",
            facts.paid, facts.invoice_number
        ),
        body,
        html: Some(email::message(&facts.company.name, content)),
        unsubscribe: None,
    })
}

/// The notice to the company's staff; `None` when `notify_email` is not an address.
pub fn staff_notice(from: &Mailbox, facts: &PaymentFacts<'_>) -> Option<Email> {
    let to = Mailbox::parse(&facts.company.notify_email).ok()?;
    let left = owing(facts.left_owing);
    let mut pairs = vec![
        ("Client", facts.client.name.clone()),
        ("Invoice", format!("#{}", facts.invoice_number)),
        ("Paid", facts.paid.to_string()),
        ("Date", views::date(facts.received_on)),
        ("Left owing", left.to_string()),
        ("Stripe payment", facts.payment_intent.to_owned()),
    ];
    if facts.unapplied.minor > 0 {
        pairs.push(("Unapplied credit", facts.unapplied.to_string()));
    }
    let lead = format!(
        "{} paid {} by card on invoice #{}.",
        facts.client.name, facts.paid, facts.invoice_number
    );
    let body = format!(
        "{lead}\n\n{}\nInvoice page: {}\n",
        text_rows(&pairs),
        facts.invoice_url
    );
    let content = html! {
        p { (lead) }
        (rows(&pairs))
        @if facts.unapplied.minor > 0 {
            p { "The payment was more than the invoice owed: the rest is kept unapplied." }
        }
    };
    Some(Email {
        from: from.clone(),
        to: vec![to],
        reply_to: client_mailboxes(facts.client).into_iter().next(),
        subject: format!(
            "Payment received: {} from {} (invoice #{})",
            facts.paid, facts.client.name, facts.invoice_number
        ),
        body,
        html: Some(email::message(&facts.company.name, content)),
        unsubscribe: None,
    })
}

/// The client's short note of a refund; `None` when the client has no usable address.
pub fn refund_note(from: &Mailbox, facts: &RefundFacts<'_>) -> Option<Email> {
    let to = client_mailboxes(facts.client);
    if to.is_empty() {
        return None;
    }
    let left = owing(facts.left_owing);
    let lead = format!(
        "{} refunded {} of your payment on invoice #{}.",
        facts.company.name, facts.refunded, facts.invoice_number
    );
    let pairs = [
        ("Invoice", format!("#{}", facts.invoice_number)),
        ("Refunded", facts.refunded.to_string()),
        ("Left owing", left.to_string()),
    ];
    let body = format!(
        "{lead}\n\n{}\nThe refund reaches your card within 5 to 10 business days.\n\n\
         View the invoice: {}\n",
        text_rows(&pairs),
        facts.invoice_url
    );
    let content = html! {
        p { (lead) }
        (rows(&pairs))
        p { "The refund reaches your card within 5 to 10 business days." }
        (email::button("View the invoice", facts.invoice_url))
    };
    Some(Email {
        from: from.clone(),
        to,
        reply_to: Mailbox::parse(&facts.company.notify_email).ok(),
        subject: format!(
            "Refund: {} on invoice #{}",
            facts.refunded, facts.invoice_number
        ),
        body,
        html: Some(email::message(&facts.company.name, content)),
        unsubscribe: None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::Settings;
    use crate::ids::ClientId;
    use crate::money::Currency;

    fn company(currency: &str) -> Company {
        Company {
            slug: CompanySlug::parse("greenridge").expect("valid"),
            name: "Greenridge <Lawn> & Co.".into(),
            time_zone: chrono_tz::America::Chicago,
            currency: Currency::parse(currency).expect("valid"),
            notify_email: "office@greenridge.example".into(),
            id_secret: "secret".into(),
            settings: Settings::default(),
            created_at: Utc::now(),
        }
    }

    fn client() -> Client {
        Client {
            id: ClientId::random(),
            name: "Dana \"D\" Whitfield".into(),
            emails: vec!["dana@example.net".into(), "not an address".into()],
            phone: None,
            billing_address: None,
            properties: vec![],
        }
    }

    fn yen(minor: i64) -> Money {
        Money::new(minor, Currency::parse("JPY").expect("valid"))
    }

    fn sender() -> Mailbox {
        Mailbox::parse("portal@porchlight.test").expect("valid")
    }

    #[test]
    fn receipts_use_the_currency_format_and_escape_names() {
        let (company, client) = (company("JPY"), client());
        let (paid, left, none) = (yen(8_800), yen(0), yen(0));
        let facts = PaymentFacts {
            company: &company,
            client: &client,
            invoice_number: "GR-1042",
            paid: &paid,
            received_on: "2026-12-04".parse().expect("valid"),
            left_owing: &left,
            unapplied: &none,
            invoice_url: "http://127.0.0.1:3000/p/greenridge/invoices/abc",
            payments_url: "http://127.0.0.1:3000/p/greenridge/payments",
            payment_intent: "pi_test_1",
        };
        let email = receipt(&sender(), &facts).expect("a receipt");
        assert_eq!(email.to.len(), 1, "the bad address is left out");
        assert!(email.body.contains("Paid: ¥8,800"), "{}", email.body);
        assert!(email.body.contains("Left owing: ¥0"));
        assert!(email.body.contains("paid in full"));
        assert!(
            !email.body.contains("pi_test_1"),
            "the client sees no Stripe ids"
        );
        let html = email.html.expect("an HTML part");
        assert!(html.contains("Greenridge &lt;Lawn&gt; &amp; Co."));
        assert!(
            html.contains("Thank you, Dana &quot;D&quot; Whitfield."),
            "{html}"
        );
        assert!(!html.contains("<Lawn>"));
        assert!(
            html.contains("href=\"http://127.0.0.1:3000/p/greenridge/payments\""),
            "paid in full, the receipt leads to the payment history: {html}"
        );

        let notice = staff_notice(&sender(), &facts).expect("a notice");
        assert_eq!(notice.to[0].address, "office@greenridge.example");
        assert!(notice.body.contains("pi_test_1"));
    }

    #[test]
    fn partial_payments_say_what_is_left_and_credits_are_named() {
        let (company, client) = (company("USD"), client());
        let usd = |minor| Money::new(minor, Currency::usd());
        let (paid, left, none) = (usd(5_000), usd(7_000), usd(0));
        let facts = PaymentFacts {
            company: &company,
            client: &client,
            invoice_number: "GR-7",
            paid: &paid,
            received_on: "2026-12-04".parse().expect("valid"),
            left_owing: &left,
            unapplied: &none,
            invoice_url: "http://x.test/i",
            payments_url: "http://x.test/p",
            payment_intent: "pi_1",
        };
        let email = receipt(&sender(), &facts).expect("a receipt");
        assert!(
            email
                .body
                .contains("$70.00 is still owing on invoice #GR-7")
        );
        assert!(email.body.contains("View the invoice: http://x.test/i"));

        let (over, minus) = (usd(1_000), usd(-1_000));
        let credit = PaymentFacts {
            left_owing: &minus,
            unapplied: &over,
            ..facts
        };
        let email = receipt(&sender(), &credit).expect("a receipt");
        assert!(email.body.contains("Left owing: $0.00"));
        assert!(email.body.contains("$10.00 more than the invoice owed"));
    }

    #[test]
    fn refund_notes_name_the_refund() {
        let (company, client) = (company("USD"), client());
        let (refunded, left) = (
            Money::new(12_000, Currency::usd()),
            Money::new(12_000, Currency::usd()),
        );
        let facts = RefundFacts {
            company: &company,
            client: &client,
            invoice_number: "GR-1042",
            refunded: &refunded,
            left_owing: &left,
            invoice_url: "http://x.test/i",
        };
        let email = refund_note(&sender(), &facts).expect("a note");
        assert_eq!(email.subject, "Refund: $120.00 on invoice #GR-1042");
        assert!(email.body.contains("Left owing: $120.00"));
    }
}
