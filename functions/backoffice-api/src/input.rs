//! Reading a JSON body field by field, collecting every problem before answering, so the
//! caller learns all its mistakes from one 422.

use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value};

use porchlight_shared::money::{Currency, Money};

use crate::reply::{ApiError, FieldProblem};

/// A JSON object being read, and the problems found so far.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    problems: Vec<FieldProblem>,
}

impl<'a> Fields<'a> {
    /// The body as an object, or 422 if it is not one.
    pub fn of(body: &'a Value) -> Result<Self, ApiError> {
        match body {
            Value::Object(object) => Ok(Self {
                object,
                prefix: String::new(),
                problems: vec![],
            }),
            _ => Err(ApiError::NotJson),
        }
    }

    /// A nested object, reported under `prefix.`.
    pub fn nested(object: &'a Map<String, Value>, prefix: &str) -> Self {
        Self {
            object,
            prefix: format!("{prefix}."),
            problems: vec![],
        }
    }

    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    pub fn problem(&mut self, field: &str, reason: &str) {
        let name = self.name(field);
        self.problems.push(FieldProblem {
            name,
            reason: reason.to_owned(),
        });
    }

    /// Problems from a nested reader join this one's.
    pub fn absorb(&mut self, nested: Fields<'_>) {
        self.problems.extend(nested.problems);
    }

    /// Sent as `null`: in a change, the caller clears the field.
    pub fn is_cleared(&self, field: &str) -> bool {
        matches!(self.object.get(field), Some(Value::Null))
    }

    /// A nested object, read with its own reader; call [`Fields::absorb`] when done.
    pub fn optional_object(&mut self, field: &str) -> Option<Fields<'a>> {
        let value = self.value(field)?;
        match value.as_object() {
            Some(object) => Some(Fields::nested(object, &self.name(field))),
            None => {
                self.problem(field, "must be an object");
                None
            }
        }
    }

    /// A list of at most `max` objects, each with its own reader named `field[i]`; call
    /// [`Fields::absorb`] on each when done.
    pub fn optional_objects(&mut self, field: &str, max: usize) -> Option<Vec<Fields<'a>>> {
        let value = self.value(field)?;
        let Some(list) = value.as_array() else {
            self.problem(field, "must be a list");
            return None;
        };
        if list.len() > max {
            self.problem(field, &format!("must have at most {max} entries"));
            return None;
        }
        let mut readers = Vec::with_capacity(list.len());
        let mut all_objects = true;
        for (i, entry) in list.iter().enumerate() {
            match entry.as_object() {
                Some(object) => {
                    readers.push(Fields::nested(object, &self.name(&format!("{field}[{i}]"))))
                }
                None => {
                    self.problem(&format!("{field}[{i}]"), "must be an object");
                    all_objects = false;
                }
            }
        }
        all_objects.then_some(readers)
    }

    pub fn has(&self, field: &str) -> bool {
        self.object.get(field).is_some_and(|v| !v.is_null())
    }

    pub fn value(&self, field: &str) -> Option<&'a Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    /// A string of 1..=max characters, trimmed, without control characters (line breaks
    /// allowed only where `multiline`).
    fn text(&mut self, field: &str, max: usize, multiline: bool) -> Option<String> {
        let value = self.value(field)?;
        let Some(text) = value.as_str() else {
            self.problem(field, "must be a string");
            return None;
        };
        let text = text.trim();
        let bad_control = text
            .chars()
            .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')));
        if text.is_empty() {
            self.problem(field, "must not be empty");
        } else if text.chars().count() > max {
            self.problem(field, &format!("must be at most {max} characters"));
        } else if bad_control {
            self.problem(field, "must not contain control characters or line breaks");
        } else {
            return Some(text.to_owned());
        }
        None
    }

    pub fn required_text(&mut self, field: &str, max: usize) -> Option<String> {
        if !self.has(field) {
            self.problem(field, "is required");
            return None;
        }
        self.text(field, max, false)
    }

    pub fn optional_text(&mut self, field: &str, max: usize) -> Option<String> {
        self.text(field, max, false)
    }

    pub fn optional_paragraphs(&mut self, field: &str, max: usize) -> Option<String> {
        self.text(field, max, true)
    }

    pub fn optional_date(&mut self, field: &str) -> Option<NaiveDate> {
        let value = self.value(field)?;
        match value
            .as_str()
            .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        {
            // Beyond four-digit years a date cannot be written in iCalendar or read back
            // as YYYY-MM-DD; before 1900 it is a typing slip, not a field-service record.
            Some(day) if (1900..=2999).contains(&day.year()) => Some(day),
            Some(_) => {
                self.problem(field, "must be a date from 1900-01-01 to 2999-12-31");
                None
            }
            None => {
                self.problem(field, "must be a date as YYYY-MM-DD");
                None
            }
        }
    }

    pub fn required_date(&mut self, field: &str) -> Option<NaiveDate> {
        if !self.has(field) {
            self.problem(field, "is required");
            return None;
        }
        self.optional_date(field)
    }

    pub fn optional_bool(&mut self, field: &str) -> Option<bool> {
        let value = self.value(field)?;
        match value.as_bool() {
            Some(flag) => Some(flag),
            None => {
                self.problem(field, "must be true or false");
                None
            }
        }
    }

    /// A whole number in `range`.
    pub fn optional_u32(
        &mut self,
        field: &str,
        range: std::ops::RangeInclusive<u32>,
    ) -> Option<u32> {
        let value = self.value(field)?;
        match value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| range.contains(n))
        {
            Some(n) => Some(n),
            None => {
                let reason = format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                );
                self.problem(field, &reason);
                None
            }
        }
    }

    /// Money as `{"minor": 12345, "currency": "USD"}` in the company's currency.
    pub fn optional_money(&mut self, field: &str, currency: &Currency) -> Option<Money> {
        let value = self.value(field)?;
        let minor = value.get("minor").and_then(Value::as_i64);
        let code = value.get("currency").and_then(Value::as_str);
        match (minor, code) {
            (Some(minor), Some(code)) if code == currency.code() => {
                let money = Money::new(minor, currency.clone());
                if money.in_bounds() {
                    return Some(money);
                }
                let most = Money::new(Money::MAX_MINOR, currency.clone());
                self.problem(field, &format!("must be at most {most} either way"));
                None
            }
            (Some(_), Some(_)) => {
                self.problem(
                    field,
                    &format!("must be in the company's currency {}", currency.code()),
                );
                None
            }
            _ => {
                self.problem(field, "must be {\"minor\": integer, \"currency\": \"XXX\"}");
                None
            }
        }
    }

    pub fn required_money(&mut self, field: &str, currency: &Currency) -> Option<Money> {
        if !self.has(field) {
            self.problem(field, "is required");
            return None;
        }
        self.optional_money(field, currency)
    }

    /// An amount in the company's currency, either as a decimal string (`"120.00"`), which
    /// people type and read, or as the money object every other amount of the API uses.
    pub fn required_amount(&mut self, field: &str, currency: &Currency) -> Option<Money> {
        let value = match self.value(field) {
            Some(value) => value,
            None => {
                self.problem(field, "is required");
                return None;
            }
        };
        let Value::String(text) = value else {
            return self.optional_money(field, currency);
        };
        match Money::parse_decimal(text.trim(), currency.clone()) {
            Ok(amount) => Some(amount),
            Err(_) => {
                let reason = format!(
                    "must be an amount in {} with at most {} decimals, such as `120.00`",
                    currency.code(),
                    currency.exponent()
                );
                self.problem(field, &reason);
                None
            }
        }
    }

    /// One of the given choices.
    pub fn optional_choice<T: Copy>(&mut self, field: &str, choices: &[(&str, T)]) -> Option<T> {
        let value = self.value(field)?;
        let found = value
            .as_str()
            .and_then(|v| choices.iter().find(|(name, _)| *name == v));
        match found {
            Some((_, choice)) => Some(*choice),
            None => {
                let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
                self.problem(field, &format!("must be one of: {}", names.join(", ")));
                None
            }
        }
    }

    /// One of the given choices, which must be sent.
    pub fn required_choice<T: Copy>(&mut self, field: &str, choices: &[(&str, T)]) -> Option<T> {
        if !self.has(field) {
            self.problem(field, "is required");
            return None;
        }
        self.optional_choice(field, choices)
    }

    /// Refuses fields the endpoint does not know, so typos are not silently ignored.
    pub fn only(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for field in unknown {
            self.problem(&field, "is not a field of this request");
        }
    }

    /// `Ok` when no problem was found; otherwise the 422 naming each one.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_problem_is_named_at_once() {
        let body = json!({
            "name": "",
            "invoice_date": "10/03/2026",
            "total": {"minor": 100, "currency": "EUR"},
            "extra": 1,
            "note": "two\nlines"
        });
        let mut fields = Fields::of(&body).expect("an object");
        fields.required_text("name", 80);
        fields.optional_date("invoice_date");
        fields.optional_money("total", &Currency::usd());
        fields.required_text("number", 20);
        fields.optional_text("note", 80);
        fields.only(&["name", "invoice_date", "total", "number", "note"]);
        let Err(ApiError::Invalid(problems)) = fields.finish() else {
            panic!("the body is invalid");
        };
        let names: Vec<&str> = problems.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["name", "invoice_date", "total", "number", "note", "extra"]
        );
    }

    #[test]
    fn good_values_read() {
        let body = json!({"number": " 1042 ", "paid": true, "days": 30,
            "total": {"minor": 12000, "currency": "USD"}});
        let mut fields = Fields::of(&body).expect("an object");
        assert_eq!(fields.required_text("number", 20).as_deref(), Some("1042"));
        assert_eq!(fields.optional_bool("paid"), Some(true));
        assert_eq!(fields.optional_u32("days", 1..=365), Some(30));
        assert_eq!(
            fields
                .optional_money("total", &Currency::usd())
                .map(|m| m.minor),
            Some(12000)
        );
        assert!(fields.finish().is_ok());
        assert!(matches!(Fields::of(&json!([1])), Err(ApiError::NotJson)));
    }

    #[test]
    fn amounts_read_as_decimal_text_or_money() {
        let body = json!({"text": "120.5", "money": {"minor": 9900, "currency": "USD"},
            "fine": "1.005", "euro": {"minor": 1, "currency": "EUR"}, "number": 120});
        let mut fields = Fields::of(&body).expect("an object");
        let usd = Currency::usd();
        assert_eq!(
            fields.required_amount("text", &usd).map(|m| m.minor),
            Some(12050)
        );
        assert_eq!(
            fields.required_amount("money", &usd).map(|m| m.minor),
            Some(9900)
        );
        for field in ["fine", "euro", "number", "missing"] {
            assert!(fields.required_amount(field, &usd).is_none(), "{field}");
        }
        let Err(ApiError::Invalid(problems)) = fields.finish() else {
            panic!("four amounts are invalid");
        };
        let names: Vec<&str> = problems.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["fine", "euro", "number", "missing"]);
    }
}
