//! The service-request form: its fields, and checking what someone typed into them.

use crate::ids::DocumentId;
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
            let value = value.trim();
            if value.is_empty() {
                errors.push(FieldError {
                    field,
                    message: missing,
                });
            } else if value.chars().count() > max {
                errors.push(FieldError {
                    field,
                    message: long,
                });
            }
        };
        need(
            "name",
            &self.name,
            120,
            "Please tell us your name",
            "Please shorten your name",
        );
        need(
            "service_address",
            &self.service_address,
            300,
            "Please give the address where the work is",
            "Please shorten the address",
        );
        need(
            "service_wanted",
            &self.service_wanted,
            2000,
            "Please tell us what you would like done",
            "Please shorten this to 2000 characters",
        );
        if self.notes.chars().count() > 4000 {
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
        if !self.phone.trim().is_empty() && (!phone_chars_ok || !(7..=15).contains(&digits)) {
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
