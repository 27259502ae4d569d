//! Sales tax computed from a document's lines, exactly, in integer minor units (case C07).
//!
//! A rate arrives as the decimal text people write ("8.25" percent) and is kept as an integer
//! count of millionths of a percent, so no amount ever passes through floating point. Each
//! company rounds one way ([`TaxRounding`]): the tax line Porchlight writes is then part of
//! the document's lines, the lines add up to the total, and the page, the Stripe amount and
//! a payment of the shown amount agree to the cent.
//!
//! Item and discount lines are taxable; a discount (a negative line) lowers the taxable net.
//! Per line, a discount's own tax is rounded like any line's, and is negative.

use std::fmt;

use crate::domain::{Line, LineKind, TaxRounding};
use crate::money::{Currency, Money};

/// Fractional digits a rate may have: enough for every published sales-tax rate.
const RATE_DIGITS: usize = 6;
/// Millionths of a percent in one percent.
const RATE_SCALE: i128 = 1_000_000;
/// The highest rate accepted, in percent: above it the text is surely a mistake.
const MOST_PERCENT: i128 = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    #[error(
        "`{0}` is not a tax rate: write the percentage as a decimal from 0 to 100, such as \
         `8.25`, with at most 6 decimals"
    )]
    Rate(String),
    #[error("the lines and their tax add up to more than can be stored")]
    Overflow,
}

/// A tax rate in percent, held as millionths of a percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxRate {
    millionths: i128,
}

impl TaxRate {
    /// Parses `8.25` (percent) exactly; refuses signs, exponents, more than six decimals and
    /// anything above 100.
    pub fn parse(text: &str) -> Result<Self, TaxError> {
        let bad = || TaxError::Rate(text.to_owned());
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 3 || !digits(whole) || !digits(fraction) {
            return Err(bad());
        }
        if text.contains('.') && fraction.is_empty() {
            return Err(bad());
        }
        let significant = fraction.trim_end_matches('0');
        if significant.len() > RATE_DIGITS {
            return Err(bad());
        }
        let whole: i128 = whole.parse().map_err(|_| bad())?;
        let padded = format!("{significant:0<RATE_DIGITS$}");
        let fraction: i128 = padded.parse().map_err(|_| bad())?;
        let millionths = whole * RATE_SCALE + fraction;
        if millionths > MOST_PERCENT * RATE_SCALE {
            return Err(bad());
        }
        Ok(Self { millionths })
    }

    /// The tax on `amount` minor units, rounded half away from zero to a whole minor unit.
    fn of(self, amount: i64) -> i128 {
        let numerator = i128::from(amount) * self.millionths;
        let denominator = 100 * RATE_SCALE;
        let magnitude = (numerator.abs() + denominator / 2) / denominator;
        if numerator < 0 { -magnitude } else { magnitude }
    }
}

impl fmt::Display for TaxRate {
    /// The shortest exact decimal: `8.25`, `19`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.millionths / RATE_SCALE;
        let fraction = self.millionths % RATE_SCALE;
        if fraction == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{fraction:0RATE_DIGITS$}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

fn taxable(line: &Line) -> bool {
    matches!(line.kind, LineKind::Item | LineKind::Discount)
}

/// The tax on the taxable lines at `rate`, rounded as the company rounds it.
pub fn tax_on(
    lines: &[Line],
    rate: TaxRate,
    rounding: TaxRounding,
    currency: &Currency,
) -> Result<Money, TaxError> {
    let taxable = lines.iter().filter(|line| taxable(line));
    let tax = match rounding {
        TaxRounding::WholeDocument => {
            let net = taxable
                .map(|line| line.amount.minor)
                .try_fold(0i64, i64::checked_add)
                .ok_or(TaxError::Overflow)?;
            rate.of(net)
        }
        TaxRounding::PerLine => taxable.map(|line| rate.of(line.amount.minor)).sum(),
    };
    let tax = i64::try_from(tax).map_err(|_| TaxError::Overflow)?;
    Ok(Money::new(tax, currency.clone()))
}

/// A document's lines with their tax line added, and the total they add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Taxed {
    pub lines: Vec<Line>,
    pub tax: Money,
    pub total: Money,
}

/// Adds the tax line (`description`, with the rate in brackets so the client sees it) to
/// `lines` and sums everything into the total.
pub fn add_tax(
    mut lines: Vec<Line>,
    rate: TaxRate,
    description: &str,
    rounding: TaxRounding,
    currency: &Currency,
) -> Result<Taxed, TaxError> {
    let tax = tax_on(&lines, rate, rounding, currency)?;
    lines.push(Line {
        kind: LineKind::Tax,
        description: format!("{description} ({rate}%)"),
        quantity: None,
        unit_price: None,
        amount: tax.clone(),
    });
    let total = lines
        .iter()
        .map(|line| line.amount.minor)
        .try_fold(0i64, i64::checked_add)
        .ok_or(TaxError::Overflow)?;
    Ok(Taxed {
        lines,
        tax,
        total: Money::new(total, currency.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: LineKind, minor: i64) -> Line {
        Line {
            kind,
            description: "work".into(),
            quantity: None,
            unit_price: None,
            amount: Money::new(minor, Currency::usd()),
        }
    }

    fn rate(text: &str) -> TaxRate {
        TaxRate::parse(text).expect("test rates are valid")
    }

    fn taxed(lines: Vec<Line>, text: &str, rounding: TaxRounding) -> Taxed {
        add_tax(lines, rate(text), "Sales tax", rounding, &Currency::usd())
            .expect("test amounts fit")
    }

    /// C07 test 1: 42.10 and 45.00 at 8.25%.
    #[test]
    fn per_line_rounds_each_line_then_adds() {
        let lines = vec![line(LineKind::Item, 4210), line(LineKind::Item, 4500)];
        let per_line = taxed(lines, "8.25", TaxRounding::PerLine);
        assert_eq!(per_line.tax.minor, 347 + 371);
        assert_eq!(per_line.total.minor, 9428);
    }

    /// C07 test 1: 87.10 × 8.25% = 7.18575, rounded once to 7.19.
    #[test]
    fn whole_document_rounds_once() {
        let lines = vec![line(LineKind::Item, 4210), line(LineKind::Item, 4500)];
        let whole = taxed(lines, "8.25", TaxRounding::WholeDocument);
        assert_eq!(whole.tax.minor, 719);
        assert_eq!(whole.total.minor, 9429);
        let tax_line = whole.lines.last().expect("a tax line");
        assert_eq!(tax_line.kind, LineKind::Tax);
        assert_eq!(tax_line.description, "Sales tax (8.25%)");
        let sum: i64 = whole.lines.iter().map(|l| l.amount.minor).sum();
        assert_eq!(sum, whole.total.minor, "the lines add up to the total");
    }

    /// C07 test 2: net 8,500.00, discount 7,500.00, 19%: tax 190.00, total 1,190.00.
    #[test]
    fn discounts_lower_the_taxable_net() {
        for rounding in [TaxRounding::WholeDocument, TaxRounding::PerLine] {
            let lines = vec![
                line(LineKind::Item, 850_000),
                line(LineKind::Discount, -750_000),
            ];
            let taxed = taxed(lines, "19", rounding);
            assert_eq!(taxed.tax.minor, 19_000, "{rounding:?}");
            assert_eq!(taxed.total.minor, 119_000, "{rounding:?}");
        }
    }

    #[test]
    fn halves_round_away_from_zero() {
        // 10 cents at 5% is half a cent: up; a 10-cent discount's tax goes down.
        assert_eq!(rate("5").of(10), 1);
        assert_eq!(rate("5").of(-10), -1);
        assert_eq!(rate("5").of(9), 0);
        assert_eq!(rate("0").of(123_456), 0);
        assert_eq!(rate("100").of(4210), 4210);
    }

    #[test]
    fn existing_tax_lines_are_not_taxed_again() {
        let lines = vec![line(LineKind::Item, 10_000), line(LineKind::Tax, 500)];
        let tax = tax_on(&lines, rate("10"), TaxRounding::PerLine, &Currency::usd());
        assert_eq!(tax.map(|t| t.minor), Ok(1_000));
    }

    #[test]
    fn zero_decimal_currencies_round_to_whole_units() {
        let yen = Currency::parse("JPY").expect("valid");
        let lines = vec![Line {
            amount: Money::new(8_800, yen.clone()),
            ..line(LineKind::Item, 0)
        }];
        let tax = tax_on(&lines, rate("8.25"), TaxRounding::WholeDocument, &yen);
        assert_eq!(tax.map(|t| t.minor), Ok(726));
    }

    #[test]
    fn rates_parse_exactly_or_not_at_all() {
        assert_eq!(rate("8.25").millionths, 8_250_000);
        assert_eq!(rate("19").millionths, 19_000_000);
        assert_eq!(rate("0.125").to_string(), "0.125");
        assert_eq!(rate("8.250").to_string(), "8.25");
        assert_eq!(rate("100").to_string(), "100");
        for bad in [
            "",
            "-1",
            "8.",
            ".5",
            "1e2",
            "8,25",
            "100.01",
            "8.1234567",
            "1000",
            " 8",
            "NaN",
        ] {
            assert!(TaxRate::parse(bad).is_err(), "{bad:?}");
        }
    }
}
