//! The pages of the new-documents email switch. Every value is escaped by maud; the forms
//! post to the portal's own origin, which the pages' CSP (`form-action 'self'`) allows.

use maud::{Markup, html};
use porchlight_shared::domain::Company;
use porchlight_shared::ids::ClientId;
use porchlight_shared::views::layout;

use super::switch_path;

/// What the email is, in the words both pages use.
fn what_it_is(company: &Company) -> Markup {
    html! {
        p { "When new proposals or invoices arrive in your " (company.name) " portal, we send \
             you an email about them, at most once a day." }
        p.muted { "Turning it off does not stop sign-in links, or emails the office sends you \
                   itself." }
    }
}

fn switch_form(company: &Company, client: &ClientId, on: bool, label: &str) -> Markup {
    html! {
        form method="post" action=(switch_path(company, client, on)) {
            button type="submit" { (label) }
        }
    }
}

fn portal_link(company: &Company) -> Markup {
    html! { p { a href={ "/p/" (company.slug) "/" } { "Go to your portal" } } }
}

/// The page an emailed "stop these emails" link opens. It only offers the switch: a mail
/// scanner opening the link must not change anything.
pub fn email_confirm(company: &Company, client: &ClientId, on: bool) -> Markup {
    let names = Some((&company.slug, company.name.as_str()));
    let title = if on {
        "Stop new-document emails?"
    } else {
        "New-document emails are off"
    };
    layout(
        title,
        names,
        None,
        html! {
            h1 { (title) }
            div.card {
                (what_it_is(company))
                @if on {
                    (switch_form(company, client, false, "Stop these emails"))
                } @else {
                    p { "You already turned these emails off." }
                    (switch_form(company, client, true, "Turn them back on"))
                }
            }
            (portal_link(company))
        },
    )
}

/// The answer after the switch, offering to undo it.
pub fn email_switched(company: &Company, client: &ClientId, on: bool) -> Markup {
    let names = Some((&company.slug, company.name.as_str()));
    let title = if on {
        "New-document emails are on"
    } else {
        "New-document emails are off"
    };
    layout(
        title,
        names,
        None,
        html! {
            h1 { (title) }
            @if on {
                p.ok role="status" { "Done: we will email you again when new documents arrive." }
            } @else {
                p.ok role="status" { "Done: you will get no more of these emails." }
            }
            div.card {
                (what_it_is(company))
                @if on {
                    (switch_form(company, client, false, "Stop these emails"))
                } @else {
                    (switch_form(company, client, true, "Turn them back on"))
                }
            }
            (portal_link(company))
        },
    )
}
