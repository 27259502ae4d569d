//! Service requests as CSV for staff spreadsheets, one format for the API's `leads.csv` and
//! the CLI's `leads list --csv`.
//!
//! Everything in a request except the times was typed into a public form. Such a value
//! that starts like a formula (`=`, `+`, `-`, `@`) is written as text with a leading `'`;
//! one that is a plain number (`-15.00`) stays a number, as case C14 asks. Times start
//! with a digit and are written as they are.

use crate::csv::{Cell, to_csv};
use crate::domain::Lead;

/// The header row. New columns go at the end, so existing spreadsheets keep working.
pub const COLUMNS: [&str; 12] = [
    "received_at",
    "name",
    "email",
    "phone",
    "service_address",
    "service_wanted",
    "preferred_timing",
    "notes",
    "client_id",
    "id",
    "status",
    "handled_at",
];

/// A value typed into the form. [`Cell::Number`] writes plain decimals unchanged and
/// anything else, formulas included, as guarded text, which is exactly the rule for input.
fn typed(value: &str) -> Cell {
    Cell::number(value)
}

/// The whole export, header first, in the order given.
pub fn leads_csv(leads: &[Lead]) -> String {
    let rows: Vec<Vec<Cell>> = leads
        .iter()
        .map(|lead| {
            vec![
                Cell::text(lead.received_at.to_rfc3339()),
                typed(&lead.name),
                typed(&lead.email),
                typed(&lead.phone),
                typed(&lead.service_address),
                typed(&lead.service_wanted),
                typed(&lead.preferred_timing),
                typed(&lead.notes),
                Cell::text(
                    lead.client_id
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                ),
                Cell::text(lead.id.to_string()),
                Cell::text(lead.status().name()),
                Cell::text(
                    lead.handled_at
                        .map(|at| at.to_rfc3339())
                        .unwrap_or_default(),
                ),
            ]
        })
        .collect();
    to_csv(&COLUMNS, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DocumentId;

    #[test]
    fn formulas_are_guarded_and_numbers_and_times_are_not() {
        let lead = Lead {
            id: DocumentId::derived("s", "lead"),
            received_at: "2026-12-04T17:30:00Z".parse().expect("test data is valid"),
            name: r#"=HYPERLINK("http://example.invalid/x","Open")"#.into(),
            email: "dana@example.com".into(),
            phone: "+1 650 555 0100".into(),
            service_address: "@SUM(1+1)".into(),
            service_wanted: "-15.00".into(),
            preferred_timing: "mornings".into(),
            notes: "-15.00 off?".into(),
            client_id: None,
            source_ip: None,
            handled_at: Some("2026-12-05T09:00:00Z".parse().expect("test data is valid")),
            job_id: None,
        };

        let csv = leads_csv(&[lead]);

        let row = csv.split("\r\n").nth(1).expect("a data row");
        assert!(
            row.starts_with("\"2026-12-04T17:30:00+00:00\",\"'=HYPERLINK(\"\"http"),
            "{row}"
        );
        assert!(row.contains(",\"'+1 650 555 0100\","), "{row}");
        assert!(row.contains(",\"'@SUM(1+1)\","), "{row}");
        assert!(row.contains(",\"-15.00\",\"mornings\","), "{row}");
        assert!(row.contains(",\"'-15.00 off?\","), "{row}");
        assert!(
            row.ends_with(",\"handled\",\"2026-12-05T09:00:00+00:00\""),
            "{row}"
        );
    }
}
