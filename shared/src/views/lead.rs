//! The service-request form and its thank-you page.

use maud::{Markup, html};

use super::layout;
use crate::ids::CompanySlug;
use crate::lead_form::{FIELDS, FieldError, FieldSpec, HONEYPOT_FIELD, Input, LeadForm, TIMINGS};

fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors.iter().find(|e| e.field == field).map(|e| e.message)
}

/// One field as its [`FieldSpec`] describes it, with `maxlength` set to the limit the server
/// applies, and the problem with it if there is one.
fn field(errors: &[FieldError], spec: &FieldSpec, value: &str) -> Markup {
    let name = spec.name;
    let error = error_for(errors, name);
    let invalid = error.map(|_| "true");
    html! {
        label for=(name) { (spec.label) @if !spec.required { span.muted { " (optional)" } } }
        @match spec.input {
            Input::TextArea => {
                textarea id=(name) name=(name) required[spec.required]
                    maxlength=[spec.max_length] aria-invalid=[invalid] {
                    (value)
                }
            }
            Input::Choice => {
                select id=(name) name=(name) {
                    option value="" { "No preference" }
                    @for timing in TIMINGS {
                        option value=(timing) selected[value == timing] { (timing) }
                    }
                }
            }
            Input::Text | Input::Email | Input::Tel => {
                input id=(name) name=(name) type=(spec.input.name()) value=(value)
                    required[spec.required] maxlength=[spec.max_length]
                    autocomplete=(spec.autocomplete) aria-invalid=[invalid];
            }
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
    page(company, values, errors, None, signed_in_as)
}

/// The form again as typed, under a new one-time id, after the earlier submission of the
/// same form reached the company with other content: that one is kept, and this one can
/// be sent as a new request.
pub fn resubmitted(
    company: (&CompanySlug, &str),
    values: &LeadForm,
    signed_in_as: Option<&str>,
) -> Markup {
    page(company, values, &[], Some(RESUBMITTED_NOTICE), signed_in_as)
}

/// Said, on the page and in JSON, when a form comes back changed after it was received.
pub const RESUBMITTED_NOTICE: &str = "We already received the request you sent earlier from \
    this form. What you typed below differs from it: if this is a further request, send it \
    and it will reach them as a new request.";

fn page(
    company: (&CompanySlug, &str),
    values: &LeadForm,
    errors: &[FieldError],
    notice: Option<&str>,
    signed_in_as: Option<&str>,
) -> Markup {
    let (slug, name) = company;
    layout(
        "Request service",
        Some(company),
        signed_in_as,
        html! {
            h1 { "Request service from " (name) }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            @if !errors.is_empty() {
                p.error role="alert" { "Please check the fields marked below." }
            }
            @if let Some(error) = error_for(errors, "form_id") { p.error { (error) } }
            form.card method="post" action={ "/p/" (slug) "/request" } novalidate {
                input type="hidden" name="form_id" value=(values.form_id);
                @for spec in &FIELDS {
                    (field(errors, spec, values.value_of(spec.name)))
                }
                div.hp aria-hidden="true" {
                    label for=(HONEYPOT_FIELD) { "Leave this empty" }
                    input id=(HONEYPOT_FIELD) name=(HONEYPOT_FIELD) type="text" tabindex="-1"
                        autocomplete="off" value="";
                }
                button type="submit" { (if notice.is_some() { "Send as a new request" }
                    else { "Send request" }) }
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
