//! Server-rendered pages. maud escapes every interpolated value, so nothing a person typed is
//! ever rendered as markup. Styles are inline: one request per page, no JavaScript.

pub mod accept_link;
pub mod email;
pub mod lead;
pub mod login;
pub mod payments;
pub mod portal;

use chrono::NaiveDate;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::ids::CompanySlug;

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2a24;
background:#f5f7f4}
header{background:#24513a;color:#fff;padding:.8rem 1rem;display:flex;flex-wrap:wrap;
align-items:center;justify-content:space-between;gap:.5rem}
header a{color:#fff}
header .brand{font-weight:700;font-size:1.1rem;text-decoration:none}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.card{background:#fff;border:1px solid #d9e0da;border-radius:8px;padding:1rem;margin:.75rem 0}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:.45rem .3rem;border-bottom:1px solid #e5e9e6;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}
tr.adjustment td{color:#5b6b62;font-style:italic}
a{color:#1d6b43}
label{display:block;font-weight:600;margin-top:.8rem}
input,select,textarea{width:100%;font:inherit;padding:.55rem;border:1px solid #9aa8a0;
border-radius:6px;background:#fff}
textarea{min-height:6rem}
button,.button{display:inline-block;font:inherit;font-weight:600;padding:.6rem 1.1rem;
border-radius:6px;border:0;background:#24513a;color:#fff;cursor:pointer;text-decoration:none;
margin-top:1rem}
button.secondary{background:#e5e9e6;color:#1f2a24}
button.compact{margin:0;padding:.3rem .7rem}
.inline{display:inline;margin:0}
.error{color:#a32020;font-weight:600;margin:.25rem 0 0}
.notice{background:#fff8df;border:1px solid #e8d68a;border-radius:6px;padding:.75rem}
.ok{background:#e6f4ea;border:1px solid #9fd3ad;border-radius:6px;padding:.75rem}
.status{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.85rem;
background:#e5e9e6}
.status.unpaid,.status.partly_paid,.status.open{background:#fff1c2}
.status.paid,.status.accepted{background:#dff0e3}
.status.expired,.status.declined{background:#f3dede}
.muted{color:#5b6b62}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.narrow-only{display:none}
@media (max-width:34rem){th.optional,td.optional{display:none}.narrow-only{display:inline}}
";

/// The frame of every page: the company's name, who is signed in, and the content.
pub fn layout(
    title: &str,
    company: Option<(&CompanySlug, &str)>,
    signed_in_as: Option<&str>,
    content: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) @if let Some((_, name)) = company { " · " (name) } }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    @match company {
                        Some((slug, name)) => a.brand href={ "/p/" (slug) "/" } { (name) },
                        None => span.brand { "Porchlight" },
                    }
                    @if let (Some((slug, _)), Some(who)) = (company, signed_in_as) {
                        span {
                            span.muted style="color:#d5e5da" { (who) " " }
                            form.inline method="post" action={ "/p/" (slug) "/logout" } {
                                button.secondary.compact type="submit" {
                                    "Sign out"
                                }
                            }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// The one "not found" page. It is the same for a document that does not exist and for one
/// that belongs to someone else, so it never reveals which.
pub fn not_found(company: Option<(&CompanySlug, &str)>) -> Markup {
    layout(
        "Not found",
        company,
        None,
        html! {
            h1 { "Page not found" }
            p { "There is nothing at this address. Check the link, or go back to the portal." }
            @if let Some((slug, _)) = company {
                a.button href={ "/p/" (slug) "/" } { "Go to the portal" }
            }
        },
    )
}

/// A page for a failure that is ours, not the visitor's.
pub fn server_error() -> Markup {
    layout(
        "Something went wrong",
        None,
        None,
        html! {
            h1 { "Something went wrong" }
            p { "We could not finish this request. Please try again in a moment." }
        },
    )
}

/// A page for a request we refuse, with the reason in words.
pub fn message_page(title: &str, company: Option<(&CompanySlug, &str)>, message: &str) -> Markup {
    layout(
        title,
        company,
        None,
        html! {
            h1 { (title) }
            p { (message) }
            @if let Some((slug, _)) = company {
                a.button href={ "/p/" (slug) "/" } { "Go to the portal" }
            }
        },
    )
}

/// Dates as people read them: `Dec 4, 2026`.
pub fn date(day: NaiveDate) -> String {
    day.format("%b %-d, %Y").to_string()
}
