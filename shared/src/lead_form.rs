//! The service-request form: its fields and their limits, checking what someone typed into
//! them, and telling a resubmitted form from a changed one. The page (`maxlength` on each
//! input) and the JSON description take their limits from [`FIELDS`], the same numbers
//! [`LeadForm::check`] enforces, so a browser never lets through what the server refuses.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::domain::Lead;
use crate::ids::{ClientId, CompanySlug, DocumentId};
use crate::mail::Mailbox;

/// What was typed, kept as typed so an invalid form can be shown again unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadForm {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub service_address: String,
    pub service_wanted: String,
    pub preferred_timing: String,
    pub notes: String,
    /// A field hidden from people; anything in it means a robot filled the form.
    pub website: String,
    /// A one-time id per form, so a double submit stores one request.
    pub form_id: String,
}

/// A problem with one field, worded for the person filling the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: &'static str,
}

pub const HONEYPOT_FIELD: &str = "website";

/// Longest name accepted, in characters.
pub const MAX_NAME: usize = 120;
/// RFC 5321's limit on a whole address, which [`Mailbox::parse`] applies.
pub const MAX_EMAIL: usize = 254;
/// Room for a formatted number with an extension; the digits are checked apart.
pub const MAX_PHONE: usize = 40;
pub const MAX_SERVICE_ADDRESS: usize = 300;
pub const MAX_SERVICE_WANTED: usize = 2000;
pub const MAX_NOTES: usize = 4000;

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    Email,
    Tel,
    TextArea,
    /// One of [`TIMINGS`], or empty for no preference.
    Choice,
}

impl Input {
    pub fn name(self) -> &'static str {
        match self {
            Input::Text => "text",
            Input::Email => "email",
            Input::Tel => "tel",
            Input::TextArea => "textarea",
            Input::Choice => "select",
        }
    }
}

/// One field a person fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
    /// The `autocomplete` token browsers fill it from.
    pub autocomplete: &'static str,
    pub required: bool,
    /// Characters accepted, a line break counting as one; `None` for a choice.
    pub max_length: Option<usize>,
}

/// The fields in the order the form shows them. The honeypot and the form id are not
/// among them: nobody types into those.
pub const FIELDS: [FieldSpec; 7] = [
    FieldSpec {
        name: "name",
        label: "Your name",
        input: Input::Text,
        autocomplete: "name",
        required: true,
        max_length: Some(MAX_NAME),
    },
    FieldSpec {
        name: "email",
        label: "Email",
        input: Input::Email,
        autocomplete: "email",
        required: true,
        max_length: Some(MAX_EMAIL),
    },
    FieldSpec {
        name: "phone",
        label: "Phone",
        input: Input::Tel,
        autocomplete: "tel",
        required: false,
        max_length: Some(MAX_PHONE),
    },
    FieldSpec {
        name: "service_address",
        label: "Service address",
        input: Input::Text,
        autocomplete: "street-address",
        required: true,
        max_length: Some(MAX_SERVICE_ADDRESS),
    },
    FieldSpec {
        name: "service_wanted",
        label: "What would you like done?",
        input: Input::TextArea,
        autocomplete: "off",
        required: true,
        max_length: Some(MAX_SERVICE_WANTED),
    },
    FieldSpec {
        name: "preferred_timing",
        label: "Preferred timing",
        input: Input::Choice,
        autocomplete: "off",
        required: false,
        max_length: None,
    },
    FieldSpec {
        name: "notes",
        label: "Notes",
        input: Input::TextArea,
        autocomplete: "off",
        required: false,
        max_length: Some(MAX_NOTES),
    },
];

/// The length a limit applies to: trimmed, and a CRLF line break counted once. Browsers
/// count a line break once against `maxlength` but send it as CRLF, so counting both
/// characters would refuse text the page let through.
fn typed_length(value: &str) -> usize {
    let value = value.trim();
    value.chars().count() - value.matches("\r\n").count()
}

/// The choices offered for preferred timing.
pub const TIMINGS: [&str; 4] = [
    "As soon as possible",
    "Within 2 weeks",
    "Within a month",
    "Flexible",
];

impl LeadForm {
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Self {
            name: get("name"),
            email: get("email"),
            phone: get("phone"),
            service_address: get("service_address"),
            service_wanted: get("service_wanted"),
            preferred_timing: get("preferred_timing"),
            notes: get("notes"),
            website: get(HONEYPOT_FIELD),
            form_id: get("form_id"),
        }
    }

    pub fn is_spam(&self) -> bool {
        !self.website.trim().is_empty()
    }

    /// Every problem at once, so the person fixes them in one go.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut need = |field, value: &str, max: usize, missing, long| {
            if value.trim().is_empty() {
                errors.push(FieldError {
                    field,
                    message: missing,
                });
            } else if typed_length(value) > max {
                errors.push(FieldError {
                    field,
                    message: long,
                });
            }
        };
        need(
            "name",
            &self.name,
            MAX_NAME,
            "Please tell us your name",
            "Please shorten your name",
        );
        need(
            "service_address",
            &self.service_address,
            MAX_SERVICE_ADDRESS,
            "Please give the address where the work is",
            "Please shorten the address",
        );
        need(
            "service_wanted",
            &self.service_wanted,
            MAX_SERVICE_WANTED,
            "Please tell us what you would like done",
            "Please shorten this to 2000 characters",
        );
        if typed_length(&self.notes) > MAX_NOTES {
            errors.push(FieldError {
                field: "notes",
                message: "Please shorten notes to 4000 characters",
            });
        }
        if self.name.contains(['\r', '\n']) {
            errors.push(FieldError {
                field: "name",
                message: "Please keep your name on one line",
            });
        }
        if Mailbox::parse(&self.email).is_err() {
            errors.push(FieldError {
                field: "email",
                message: "Please enter an email address like name@example.com",
            });
        }
        let digits = self.phone.chars().filter(char::is_ascii_digit).count();
        let phone_chars_ok = self
            .phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().x".contains(c));
        let phone_ok =
            phone_chars_ok && (7..=15).contains(&digits) && typed_length(&self.phone) <= MAX_PHONE;
        if !self.phone.trim().is_empty() && !phone_ok {
            errors.push(FieldError {
                field: "phone",
                message: "Please enter a phone number, or leave it empty",
            });
        }
        if !self.preferred_timing.is_empty() && !TIMINGS.contains(&self.preferred_timing.as_str()) {
            errors.push(FieldError {
                field: "preferred_timing",
                message: "Please pick one of the choices",
            });
        }
        if DocumentId::parse(&self.form_id).is_err() {
            errors.push(FieldError {
                field: "form_id",
                message: "This form has expired; please send it again",
            });
        }
        errors
    }
}

impl LeadForm {
    /// A fresh form with a new one-time id, prefilled from the signed-in client if any.
    pub fn fresh(client: Option<&crate::domain::Client>, email: Option<&str>) -> Self {
        let mut form = LeadForm {
            form_id: DocumentId::random().to_string(),
            ..Self::default()
        };
        if let Some(client) = client {
            form.name = client.name.clone();
            form.phone = client.phone.clone().unwrap_or_default();
            form.service_address = client
                .properties
                .first()
                .and_then(|p| p.address.clone())
                .or_else(|| client.billing_address.clone())
                .unwrap_or_default();
        }
        form.email = email.unwrap_or_default().to_owned();
        form
    }

    /// The same form as typed, under a new one-time id: for sending again as a new request.
    pub fn renewed(&self) -> Self {
        Self {
            form_id: DocumentId::random().to_string(),
            ..self.clone()
        }
    }

    /// The request this form makes, as it is stored: text trimmed, the address lowercased.
    /// Call it only on a form that passed [`LeadForm::check`], which vouches for the id.
    pub fn to_lead(
        &self,
        id: DocumentId,
        received_at: DateTime<Utc>,
        client_id: Option<ClientId>,
        source_ip: Option<String>,
    ) -> Lead {
        Lead {
            id,
            received_at,
            name: self.name.trim().to_owned(),
            email: self.email.trim().to_lowercase(),
            phone: self.phone.trim().to_owned(),
            service_address: self.service_address.trim().to_owned(),
            service_wanted: self.service_wanted.trim().to_owned(),
            preferred_timing: self.preferred_timing.clone(),
            notes: self.notes.trim().to_owned(),
            client_id,
            source_ip,
            handled_at: None,
            job_id: None,
        }
    }

    /// Whether `stored` holds what this form says, field by typed field: the same form sent
    /// again (a double click, a retry) rather than a changed one. Who sent it, from where
    /// and what staff did with it since are not part of what was typed.
    pub fn says_the_same_as(&self, stored: &Lead) -> bool {
        let again = self.to_lead(stored.id.clone(), stored.received_at, None, None);
        again.name == stored.name
            && again.email == stored.email
            && again.phone == stored.phone
            && again.service_address == stored.service_address
            && again.service_wanted == stored.service_wanted
            && again.preferred_timing == stored.preferred_timing
            && again.notes == stored.notes
    }

    /// What `GET /p/{slug}/request` answers a program: the company, this form's one-time
    /// id, where to send it, and each field with its limits and its value (prefilled for
    /// a signed-in client).
    pub fn description(&self, company: (&CompanySlug, &str), signed_in_as: Option<&str>) -> Value {
        let (slug, name) = company;
        let fields: Vec<Value> = FIELDS
            .iter()
            .map(|field| {
                let mut described = json!({
                    "name": field.name,
                    "label": field.label,
                    "type": field.input.name(),
                    "required": field.required,
                    "value": self.value_of(field.name),
                });
                match field.max_length {
                    Some(max) => described["max_length"] = max.into(),
                    None => described["choices"] = json!(TIMINGS),
                }
                described
            })
            .collect();
        json!({
            "company": { "slug": slug, "name": name },
            "form_id": self.form_id,
            "action": format!("/p/{slug}/request"),
            "method": "POST",
            "enctype": "application/x-www-form-urlencoded",
            "signed_in_as": signed_in_as,
            "fields": fields,
        })
    }

    /// What was typed into the field of this name.
    pub fn value_of(&self, field: &str) -> &str {
        match field {
            "name" => &self.name,
            "email" => &self.email,
            "phone" => &self.phone,
            "service_address" => &self.service_address,
            "service_wanted" => &self.service_wanted,
            "preferred_timing" => &self.preferred_timing,
            "notes" => &self.notes,
            HONEYPOT_FIELD => &self.website,
            "form_id" => &self.form_id,
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled() -> LeadForm {
        LeadForm {
            name: "Pat Lee".into(),
            email: "pat@example.com".into(),
            phone: "(415) 555-0142".into(),
            service_address: "12 Elm St".into(),
            service_wanted: "Remove a dead oak".into(),
            preferred_timing: "Flexible".into(),
            notes: String::new(),
            website: String::new(),
            form_id: DocumentId::random().to_string(),
        }
    }

    #[test]
    fn a_filled_form_passes() {
        assert_eq!(filled().check(), vec![]);
    }

    #[test]
    fn header_injection_attempts_are_refused() {
        let form = LeadForm {
            name: "Pat Lee\r\nBcc: list@example.org".into(),
            email: "pat@example.com\nCc: x@example.org".into(),
            ..filled()
        };
        let fields: Vec<&str> = form.check().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "email"]);
    }

    #[test]
    fn every_problem_is_named() {
        let form = LeadForm {
            form_id: "x".into(),
            phone: "call me".into(),
            ..LeadForm::default()
        };
        let fields: Vec<&str> = form.check().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "name",
                "service_address",
                "service_wanted",
                "email",
                "phone",
                "form_id"
            ]
        );
    }

    #[test]
    fn limits_count_a_line_break_once() {
        let at_limit = format!("{}\r\n{}", "a".repeat(1000), "b".repeat(999));
        let form = LeadForm {
            service_wanted: at_limit.clone(),
            notes: format!("{}\r\n{}", "n".repeat(2000), "m".repeat(1999)),
            ..filled()
        };
        assert_eq!(
            form.check(),
            vec![],
            "2000 and 4000 as a browser counts them"
        );
        let over = LeadForm {
            service_wanted: format!("{at_limit}c"),
            phone: format!("(415) 555-0142{}x1", " ".repeat(MAX_PHONE - 15)),
            ..filled()
        };
        let fields: Vec<&str> = over.check().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["service_wanted", "phone"]);
    }

    #[test]
    fn every_limit_is_in_the_field_list() {
        let limit = |name: &str| {
            FIELDS
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| f.max_length)
        };
        assert_eq!(limit("name"), Some(MAX_NAME));
        assert_eq!(limit("notes"), Some(MAX_NOTES));
        assert_eq!(limit("preferred_timing"), None);
        let long_email = format!("{}@{}.example", "a".repeat(64), "b".repeat(MAX_EMAIL - 73));
        assert_eq!(long_email.len(), MAX_EMAIL);
        assert!(Mailbox::parse(&long_email).is_ok());
        assert!(Mailbox::parse(&format!("a{long_email}")).is_err());
    }

    #[test]
    fn a_resubmit_says_the_same_only_with_the_same_typed_fields() {
        let form = filled();
        let id = DocumentId::parse(&form.form_id).expect("a fresh id");
        let stored = form.to_lead(id, Utc::now(), None, Some("203.0.113.5".into()));
        let again = LeadForm {
            email: " PAT@example.com ".into(),
            name: "Pat Lee ".into(),
            ..form.clone()
        };
        assert!(again.says_the_same_as(&stored), "as stored, it is the same");
        let changed = LeadForm {
            notes: "Also the hedge".into(),
            ..form.clone()
        };
        assert!(!changed.says_the_same_as(&stored));
        let renewed = changed.renewed();
        assert_ne!(renewed.form_id, form.form_id);
        assert_eq!(renewed.notes, "Also the hedge");
    }

    #[test]
    fn the_honeypot_catches_robots() {
        assert!(
            LeadForm {
                website: "http://spam.example".into(),
                ..filled()
            }
            .is_spam()
        );
        assert!(!filled().is_spam());
    }
}
