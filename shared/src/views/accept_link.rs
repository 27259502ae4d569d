//! Pages of the emailed accept link: the confirm step, which changes nothing (mail scanners
//! open links too), and the thank-you after the client pressed the button.

use maud::{Markup, html};

use super::portal::lines_table;
use super::{date, layout};
use crate::domain::{Client, Proposal};
use crate::ids::CompanySlug;

type CompanyName<'a> = (&'a CompanySlug, &'a str);

/// The proposal's summary and one button that POSTs back to the same link.
pub fn confirm(company: CompanyName, client: &Client, proposal: &Proposal, action: &str) -> Markup {
    layout(
        "Accept proposal",
        Some(company),
        None,
        html! {
            h1 { "Proposal #" (proposal.number) }
            div.card {
                p { "For " strong { (client.name) } }
                @if let Some(property) = &proposal.property_name { p { "At " (property) } }
                p {
                    "Dated " (date(proposal.created_on)) ". Valid until "
                    (date(proposal.valid_until)) "."
                }
                @if let Some(message) = &proposal.message { p { (message) } }
                (lines_table(&proposal.lines))
                p { strong { "Total: " (proposal.total) } }
            }
            form method="post" action=(action) {
                p { "By accepting, you agree to the work and the total above." }
                button type="submit" { "Accept proposal" }
            }
        },
    )
}

/// After the acceptance committed.
pub fn accepted(company: CompanyName, proposal: &Proposal, email: &str) -> Markup {
    let (_, name) = company;
    layout(
        "Proposal accepted",
        Some(company),
        None,
        html! {
            h1 { "Thank you" }
            div.card {
                p.ok role="status" {
                    "You accepted proposal #" (proposal.number) " for " (proposal.total) "."
                }
                p { (name) " will be in touch to schedule the work. A confirmation is on its \
                     way to " strong { (email) } "." }
            }
        },
    )
}
