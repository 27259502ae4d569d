//! Pages of signing in: asking for a link, the confirm step, refusals, choosing an account.

use maud::{Markup, html};

use super::layout;
use crate::domain::ClientRef;
use crate::ids::{CompanySlug, SecretToken};
use crate::store::LinkState;

type CompanyName<'a> = (&'a CompanySlug, &'a str);

fn email_form(slug: &CompanySlug, email: &str, button: &str) -> Markup {
    html! {
        form method="post" action={ "/p/" (slug) "/login" } {
            label for="email" { "Email address" }
            input #email type="email" name="email" value=(email) required autocomplete="email"
                inputmode="email";
            button type="submit" { (button) }
        }
    }
}

/// The portal's front door for someone not signed in.
pub fn login(company: CompanyName, error: Option<&str>, email: &str) -> Markup {
    let (slug, name) = company;
    layout(
        "Sign in",
        Some(company),
        None,
        html! {
            h1 { "Welcome to " (name) }
            div.card {
                p { "Enter the email address " (name) " has on file for you. We will email you a \
                     link to sign in; no password needed." }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                (email_form(slug, email, "Email me a sign-in link"))
            }
            div.card {
                p { "New here, or need work done?" }
                a.button href={ "/p/" (slug) "/request" } { "Request service" }
            }
        },
    )
}

/// The same answer whether or not the address is on file.
pub fn link_sent(company: CompanyName, email: &str) -> Markup {
    layout(
        "Check your email",
        Some(company),
        None,
        html! {
            h1 { "Check your email" }
            div.card {
                p { "If " strong { (email) } " belongs to an account, a sign-in link is on its \
                 way. \
                     It works once and expires in 15 minutes." }
                p.muted { "Nothing arrived? Check your spam folder, or ask for a new link." }
                (email_form(company.0, email, "Send a new link"))
            }
        },
    )
}

/// Opening the emailed link shows this page and changes nothing: mail scanners open links
/// too. Only the button's POST signs in. No script, no automatic submit.
pub fn confirm(company: CompanyName, token: &SecretToken) -> Markup {
    let (slug, name) = company;
    layout(
        "Continue to sign in",
        Some(company),
        None,
        html! {
            h1 { "Continue to sign in" }
            div.card {
                p { "Press the button to sign in to your " (name) " portal." }
                form method="post" action={ "/p/" (slug) "/login/" (token.expose()) } {
                    button type="submit" { "Continue to sign in" }
                }
            }
        },
    )
}

/// A link that can no longer sign in, and a way to get a new one.
pub fn link_refused(company: CompanyName, state: Option<LinkState>) -> Markup {
    let (title, why) = match state {
        Some(LinkState::Used) => ("Link already used", "This sign-in link was already used."),
        Some(LinkState::Expired) => (
            "Link expired",
            "This sign-in link has expired. Links work for 15 minutes.",
        ),
        Some(LinkState::Superseded) => (
            "Link no longer valid",
            "You signed in with a newer link, which cancelled this one.",
        ),
        _ => ("Link not valid", "This sign-in link is not valid."),
    };
    layout(
        title,
        Some(company),
        None,
        html! {
            h1 { (title) }
            div.card {
                p { (why) " For your security each link works once." }
                (email_form(company.0, "", "Send a new link"))
            }
        },
    )
}

/// One address can reach several accounts; the person picks which to open.
pub fn choose_account(company: CompanyName, email: &str, accounts: &[ClientRef]) -> Markup {
    let (slug, _) = company;
    layout(
        "Choose an account",
        Some(company),
        Some(email),
        html! {
            h1 { "Choose an account" }
            p { strong { (email) } " can open these accounts:" }
            @for account in accounts {
                div.card {
                    form method="post" action={ "/p/" (slug) "/account" } {
                        input type="hidden" name="client" value=(account.id);
                        strong { (account.name) }
                        br;
                        button type="submit" { "Open " (account.name) }
                    }
                }
            }
        },
    )
}
