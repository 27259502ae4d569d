//! A small CSV writer for exports staff open in spreadsheets.
//!
//! Every cell is quoted (RFC 4180), and text that a spreadsheet would run as a formula
//! (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so
//! a value typed into a public form can never become a formula in someone's spreadsheet.
//! Numbers are written as numbers, so `-15.00` stays `-15.00`.

/// One cell of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text, possibly typed by anyone; neutralised if it looks like a formula.
    Text(String),
    /// An already formatted number such as `-15.00`. Text that is not a plain decimal is
    /// written as [`Cell::Text`] instead, so this variant cannot smuggle in a formula.
    Number(String),
}

impl Cell {
    pub fn text(value: impl Into<String>) -> Self {
        Cell::Text(value.into())
    }

    pub fn number(value: impl Into<String>) -> Self {
        Cell::Number(value.into())
    }
}

/// Characters that make a spreadsheet treat a cell as a formula (OWASP's list).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `-15`, `15.00`, `0.5`: an optional minus, digits, and an optional fraction.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction)
}

fn push_quoted(out: &mut String, prefix: Option<char>, value: &str) {
    out.push('"');
    out.extend(prefix);
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// Appends one cell, quoted, without a separator.
pub fn push_cell(out: &mut String, cell: &Cell) {
    match cell {
        Cell::Number(value) if is_plain_number(value) => push_quoted(out, None, value),
        Cell::Number(value) | Cell::Text(value) => {
            let risky = value.starts_with(FORMULA_STARTS);
            push_quoted(out, risky.then_some('\''), value);
        }
    }
}

/// Appends one record, ending in CRLF as RFC 4180 says.
pub fn push_row(out: &mut String, cells: &[Cell]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(out, cell);
    }
    out.push_str("\r\n");
}

/// A whole document: a header row of text cells, then the rows.
pub fn to_csv(header: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut out = String::new();
    let header: Vec<Cell> = header.iter().map(|name| Cell::text(*name)).collect();
    push_row(&mut out, &header);
    for row in rows {
        push_row(&mut out, row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Cell]) -> String {
        let mut out = String::new();
        push_row(&mut out, cells);
        out
    }

    #[test]
    fn formulas_in_text_are_neutralised() {
        let cells = [
            Cell::text(r#"=HYPERLINK("http://example.invalid/x","Open")"#),
            Cell::text("@SUM(1+1)"),
            Cell::text("+1"),
            Cell::text("-2"),
            Cell::text("\tTab"),
            Cell::text("\rReturn"),
        ];

        assert_eq!(
            row(&cells),
            "\"'=HYPERLINK(\"\"http://example.invalid/x\"\",\"\"Open\"\")\",\
             \"'@SUM(1+1)\",\"'+1\",\"'-2\",\"'\tTab\",\"'\rReturn\"\r\n"
        );
    }

    #[test]
    fn numbers_stay_numbers() {
        let cells = [
            Cell::number("-15.00"),
            Cell::number("42"),
            Cell::number("0.5"),
        ];

        assert_eq!(row(&cells), "\"-15.00\",\"42\",\"0.5\"\r\n");
    }

    #[test]
    fn a_number_cell_holding_a_formula_is_treated_as_text() {
        assert_eq!(row(&[Cell::number("-1+2")]), "\"'-1+2\"\r\n");
        assert_eq!(row(&[Cell::number("=1")]), "\"'=1\"\r\n");
    }

    #[test]
    fn quotes_commas_and_newlines_are_kept_inside_quotes() {
        let cells = [
            Cell::text("Dana \"D\" Whitfield"),
            Cell::text("a,b\nc"),
            Cell::text(""),
        ];

        assert_eq!(
            row(&cells),
            "\"Dana \"\"D\"\" Whitfield\",\"a,b\nc\",\"\"\r\n"
        );
    }

    #[test]
    fn a_document_starts_with_its_header() {
        let csv = to_csv(
            &["name", "amount"],
            &[vec![Cell::text("Amy"), Cell::number("12.50")]],
        );

        assert_eq!(csv, "\"name\",\"amount\"\r\n\"Amy\",\"12.50\"\r\n");
    }
}
