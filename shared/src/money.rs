//! Money as integer minor units with a currency, never floating point.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code and how many minor-unit digits it has.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(MoneyError::Currency(code.to_owned()))
        }
    }

    pub fn usd() -> Self {
        Self("USD".to_owned())
    }

    pub fn code(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point. Zero-decimal currencies are listed by Stripe and ISO 4217.
    pub fn exponent(&self) -> u32 {
        const ZERO_DECIMAL: &[&str] = &[
            "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
            "VUV", "XAF", "XOF", "XPF",
        ];
        const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];
        if ZERO_DECIMAL.contains(&self.code()) {
            0
        } else if THREE_DECIMAL.contains(&self.code()) {
            3
        } else {
            2
        }
    }

    fn symbol(&self) -> Option<&'static str> {
        match self.code() {
            "USD" | "CAD" | "AUD" | "NZD" => Some("$"),
            "EUR" => Some("€"),
            "GBP" => Some("£"),
            "JPY" => Some("¥"),
            _ => None,
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a currency code")]
    Currency(String),
    #[error("`{0}` is not an amount in {1}")]
    Amount(String, String),
}

/// An amount in a currency's minor units (cents for USD, yen for JPY).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// The largest amount, either way, that Porchlight takes in: 10^12 minor units
    /// ($10,000,000,000.00, or ¥1,000,000,000,000). Far above any field-service bill, and
    /// low enough that millions of such amounts still add up inside an `i64`, so a
    /// client's balances, a document's lines and a day's payments never overflow.
    pub const MAX_MINOR: i64 = 1_000_000_000_000;

    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// Whether the amount is within what Porchlight takes in ([`Money::MAX_MINOR`]).
    pub fn in_bounds(&self) -> bool {
        self.minor.unsigned_abs() <= Self::MAX_MINOR.unsigned_abs()
    }

    /// Parses a decimal string such as `459.0`, `-15.00` or `226.75` exactly, refusing more
    /// fractional digits than the currency has (unless they are zeros), and amounts beyond
    /// [`Money::MAX_MINOR`].
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let bad = || MoneyError::Amount(text.to_owned(), currency.code().to_owned());
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(bad());
        }
        let exponent = currency.exponent() as usize;
        let significant = fraction.trim_end_matches('0');
        if significant.len() > exponent {
            return Err(bad());
        }
        let padded = format!("{significant:0<exponent$}");
        let scale = 10i64.pow(exponent as u32);
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let fraction: i64 = if padded.is_empty() {
            0
        } else {
            padded.parse().map_err(|_| bad())?
        };
        let magnitude = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(fraction))
            .filter(|m| *m <= Self::MAX_MINOR)
            .ok_or_else(bad)?;
        Ok(Self::new(
            if negative { -magnitude } else { magnitude },
            currency,
        ))
    }

    /// The amount as a plain decimal string without symbol or grouping (`-15.00`).
    pub fn to_decimal_string(&self) -> String {
        let exponent = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if exponent == 0 {
            return format!("{sign}{magnitude}");
        }
        let scale = 10u64.pow(exponent);
        let width = exponent as usize;
        format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale)
    }
}

impl fmt::Display for Money {
    /// For people: `$1,234.50`, `¥8,800`, or `1,234.50 CHF` for currencies without a symbol.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.to_decimal_string();
        let (sign, unsigned) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (whole, fraction) = unsigned
            .split_once('.')
            .map_or((unsigned, None), |(w, f)| (w, Some(f)));
        let mut grouped = String::new();
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        if let Some(fraction) = fraction {
            grouped.push('.');
            grouped.push_str(fraction);
        }
        match self.currency.symbol() {
            Some(symbol) => write!(f, "{sign}{symbol}{grouped}"),
            None => write!(f, "{sign}{grouped} {}", self.currency.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Money {
        Money::parse_decimal(text, Currency::usd()).expect("test data is valid")
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(usd("459.0").minor, 45900);
        assert_eq!(usd("226.75").minor, 22675);
        assert_eq!(usd("100").minor, 10000);
        assert_eq!(usd("-15.00").minor, -1500);
        assert_eq!(usd("0.10").minor, 10);
        assert!(Money::parse_decimal("1.005", Currency::usd()).is_err());
        assert!(Money::parse_decimal("1e3", Currency::usd()).is_err());
        assert!(Money::parse_decimal("", Currency::usd()).is_err());
    }

    #[test]
    fn amounts_beyond_the_bound_are_refused() {
        assert_eq!(usd("10000000000.00").minor, Money::MAX_MINOR);
        assert_eq!(usd("-10000000000.00").minor, -Money::MAX_MINOR);
        assert!(Money::parse_decimal("10000000000.01", Currency::usd()).is_err());
        assert!(Money::parse_decimal("92233720368547758.07", Currency::usd()).is_err());
        assert!(Money::new(Money::MAX_MINOR, Currency::usd()).in_bounds());
        assert!(!Money::new(Money::MAX_MINOR + 1, Currency::usd()).in_bounds());
        assert!(!Money::new(i64::MIN, Currency::usd()).in_bounds());
    }

    #[test]
    fn zero_decimal_currencies_have_no_minor_digits() {
        let yen = Money::parse_decimal("8800", Currency::parse("JPY").expect("test data is valid"))
            .expect("test data is valid");
        assert_eq!(yen.minor, 8800);
        assert_eq!(yen.to_string(), "¥8,800");
        let won = Money::parse_decimal("8800", Currency::parse("KRW").expect("test data is valid"))
            .expect("test data is valid");
        assert_eq!(won.minor, 8800);
    }

    #[test]
    fn displays_for_people() {
        assert_eq!(usd("1234.5").to_string(), "$1,234.50");
        assert_eq!(usd("88").to_string(), "$88.00");
        assert_eq!(usd("-15").to_string(), "-$15.00");
        assert_eq!(usd("0.05").to_decimal_string(), "0.05");
        assert_eq!(usd("1000000").to_string(), "$1,000,000.00");
    }
}
