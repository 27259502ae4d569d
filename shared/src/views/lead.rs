//! The service-request form and its thank-you page.

use maud::{Markup, html};

use super::layout;
use crate::ids::CompanySlug;
use crate::lead_form::{FieldError, HONEYPOT_FIELD, LeadForm, TIMINGS};

fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors.iter().find(|e| e.field == field).map(|e| e.message)
}

fn field(
    errors: &[FieldError],
    name: &str,
    label: &str,
    value: &str,
    kind: &str,
    autocomplete: &str,
    required: bool,
) -> Markup {
    let error = error_for(errors, name);
    html! {
        label for=(name) { (label) @if !required { span.muted { " (optional)" } } }
        @if kind == "textarea" {
            textarea id=(name) name=(name) required[required] aria-invalid=[error.map(|_| "true")] {
                (value)
            }
        } @else {
            input id=(name) name=(name) type=(kind) value=(value) required[required]
                autocomplete=(autocomplete) aria-invalid=[error.map(|_| "true")];
        }
        @if let Some(error) = error { p.error { (error) } }
    }
}

/// The form, empty, prefilled for a signed-in client, or as typed with each problem named.
pub fn form(
    company: (&CompanySlug, &str),
    values: &LeadForm,
    errors: &[FieldError],
    signed_in_as: Option<&str>,
) -> Markup {
    let (slug, name) = company;
    layout(
        "Request service",
        Some(company),
        signed_in_as,
        html! {
            h1 { "Request service from " (name) }
            @if !errors.is_empty() {
                p.error role="alert" { "Please check the fields marked below." }
            }
            @if let Some(error) = error_for(errors, "form_id") { p.error { (error) } }
            form.card method="post" action={ "/p/" (slug) "/request" } novalidate {
                input type="hidden" name="form_id" value=(values.form_id);
                (field(errors, "name", "Your name", &values.name, "text", "name", true))
                (field(errors, "email", "Email", &values.email, "email", "email", true))
                (field(errors, "phone", "Phone", &values.phone, "tel", "tel", false))
                (field(errors, "service_address", "Service address", &values.service_address,
                    "text", "street-address", true))
                (field(errors, "service_wanted", "What would you like done?",
                &values.service_wanted,
                    "textarea", "off", true))
                label for="preferred_timing" { "Preferred timing" span.muted { " (optional)" } }
                select #preferred_timing name="preferred_timing" {
                    option value="" { "No preference" }
                    @for timing in TIMINGS {
                        @let chosen = values.preferred_timing == timing;
                    option value=(timing) selected[chosen] { (timing) }
                    }
                }
                @if let Some(error) = error_for(errors, "preferred_timing") { p.error { (error) } }
                (field(errors, "notes", "Notes", &values.notes, "textarea", "off", false))
                div.hp aria-hidden="true" {
                    label for=(HONEYPOT_FIELD) { "Leave this empty" }
                    input id=(HONEYPOT_FIELD) name=(HONEYPOT_FIELD) type="text" tabindex="-1"
                        autocomplete="off" value="";
                }
                button type="submit" { "Send request" }
            }
        },
    )
}

pub fn thanks(company: (&CompanySlug, &str), who: &str, signed_in_as: Option<&str>) -> Markup {
    let (slug, name) = company;
    layout(
        "Request sent",
        Some(company),
        signed_in_as,
        html! {
            h1 { "Thank you, " (who) }
            div.card {
                p { "Your request has reached " (name) ". They will be in touch soon." }
                a.button href={ "/p/" (slug) "/" } { "Back to the portal" }
            }
        },
    )
}
