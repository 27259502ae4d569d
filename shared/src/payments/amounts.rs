//! Stripe's amounts: an integer in the currency's smallest unit, which for most currencies
//! is our own minor unit (cents), and for zero-decimal currencies such as JPY and KRW the
//! whole unit (case C06). One pair of functions converts both ways, used when sending an
//! amount to Checkout and when reading one from a webhook, so the two can never disagree.

use crate::money::{Currency, Money};

/// Why an amount cannot go to (or come from) Stripe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Stripe treats these differently from ISO 4217 (ISK and UGX charge in whole units but
    /// are sent times 100; HUF and TWD cannot be charged in fractions). Refused rather than
    /// risked.
    #[error("card payments in {0} are not supported")]
    UnsupportedCurrency(String),
    /// Stripe takes three-decimal amounts (BHD, KWD...) only in steps of ten.
    #[error("{0} cannot be charged by card: the last decimal must be 0")]
    NotChargeable(String),
    #[error("the amount must be more than zero")]
    NotPositive,
    #[error("`{0}` is not a currency")]
    UnknownCurrency(String),
}

const STRIPE_SPECIAL: &[&str] = &["ISK", "UGX", "HUF", "TWD"];

/// The most Stripe charges at once, in its integer unit: eight digits ($999,999.99,
/// ¥99,999,999). A larger balance can still be paid in parts.
pub const MAX_CHARGE: i64 = 99_999_999;

/// The integer Stripe expects for `money`.
pub fn to_stripe(money: &Money) -> Result<i64, AmountError> {
    let code = money.currency.code();
    if STRIPE_SPECIAL.contains(&code) {
        return Err(AmountError::UnsupportedCurrency(code.to_owned()));
    }
    if money.minor <= 0 {
        return Err(AmountError::NotPositive);
    }
    if money.currency.exponent() == 3 && money.minor % 10 != 0 {
        return Err(AmountError::NotChargeable(money.to_string()));
    }
    // Our minor unit is ISO 4217's, which is Stripe's for every currency not refused above.
    Ok(money.minor)
}

/// The amount a Stripe integer and its (lowercase) currency code stand for.
pub fn from_stripe(amount: i64, currency: &str) -> Result<Money, AmountError> {
    let currency = Currency::parse(&currency.to_uppercase())
        .map_err(|_| AmountError::UnknownCurrency(currency.to_owned()))?;
    if STRIPE_SPECIAL.contains(&currency.code()) {
        return Err(AmountError::UnsupportedCurrency(currency.code().to_owned()));
    }
    Ok(Money::new(amount, currency))
}

/// The currency code as Stripe writes it.
pub fn stripe_currency(currency: &Currency) -> String {
    currency.code().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, Currency::parse(code).expect("a currency"))
    }

    #[test]
    fn c06_zero_decimal_currencies_are_not_multiplied() {
        let yen = money(8_800, "JPY");
        assert_eq!(to_stripe(&yen), Ok(8_800));
        assert_eq!(from_stripe(8_800, "jpy"), Ok(yen.clone()));
        assert_eq!(yen.to_string(), "¥8,800");
        assert_eq!(to_stripe(&money(8_800, "USD")), Ok(8_800));
        assert_eq!(money(8_800, "USD").to_string(), "$88.00");
        let won = money(55_000, "KRW");
        assert_eq!(to_stripe(&won), Ok(55_000));
        assert_eq!(from_stripe(55_000, "krw"), Ok(won));
    }

    #[test]
    fn currencies_stripe_treats_apart_are_refused() {
        for code in ["ISK", "UGX", "HUF", "TWD"] {
            assert!(matches!(
                to_stripe(&money(1_000, code)),
                Err(AmountError::UnsupportedCurrency(_))
            ));
        }
        assert_eq!(to_stripe(&money(12_340, "KWD")), Ok(12_340));
        assert!(matches!(
            to_stripe(&money(12_345, "KWD")),
            Err(AmountError::NotChargeable(_))
        ));
        assert_eq!(to_stripe(&money(0, "USD")), Err(AmountError::NotPositive));
    }
}
