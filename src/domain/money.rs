//! Exact amounts of money: a count of ten-thousandths of the instance currency, never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::ParseError;

/// Digits after the decimal point that the ledger keeps. Splits are made at this precision so
/// that a budget divided over many flattrs loses nothing; payouts are cut at `PAYABLE_SCALE`.
pub const SCALE: u32 = 4;
/// Digits after the decimal point that people deposit, budget and are paid out in (cents).
pub const PAYABLE_SCALE: u32 = 2;
const UNIT: i64 = 10_i64.pow(SCALE);
/// No single amount typed by a person may exceed this many currency units. It keeps every
/// product of the close (`amount × fee rate`) far inside `i64`.
pub const MAX_UNITS: i64 = 1_000_000_000;

/// An amount of the instance currency in ten-thousandths. Signed, because ledger postings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    /// No money.
    pub const ZERO: Money = Money(0);

    /// An amount in ten-thousandths of the currency.
    pub const fn from_minor(minor: i64) -> Self {
        Money(minor)
    }

    /// The raw count of ten-thousandths, as stored in the database.
    pub const fn minor(self) -> i64 {
        self.0
    }

    /// The amount as an exact decimal.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, SCALE)
    }

    /// Parses what a person typed: a non-negative decimal string with at most cents.
    ///
    /// Over-precise amounts are refused rather than rounded: silently dropping a digit of
    /// money someone meant is worse than asking again.
    pub fn parse_payable(field: &'static str, text: &str) -> Result<Money, ParseError> {
        Self::from_decimal(field, plain_decimal(field, text)?, PAYABLE_SCALE)
    }

    /// Parses an amount another server sent: non-negative, at most the ledger's four decimals.
    pub fn parse_exact(field: &'static str, text: &str) -> Result<Money, ParseError> {
        Self::from_decimal(field, plain_decimal(field, text)?, SCALE)
    }

    /// A decimal from the configuration: non-negative, at most cents.
    pub fn from_payable_decimal(field: &'static str, value: Decimal) -> Result<Money, ParseError> {
        Self::from_decimal(field, value, PAYABLE_SCALE)
    }

    fn from_decimal(
        field: &'static str,
        value: Decimal,
        max_scale: u32,
    ) -> Result<Money, ParseError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(ParseError::new(field, "must not be negative"));
        }
        let value = value.normalize();
        if value.scale() > max_scale {
            return Err(ParseError::new(
                field,
                format!("at most {max_scale} decimal places are allowed"),
            ));
        }
        if value > Decimal::from(MAX_UNITS) {
            return Err(ParseError::new(
                field,
                format!("must not exceed {MAX_UNITS}"),
            ));
        }
        let minor = (value * Decimal::from(UNIT))
            .trunc()
            .to_string()
            .parse::<i64>()
            .map_err(|_| ParseError::new(field, "is out of range"))?;
        Ok(Money(minor))
    }

    /// The largest amount in whole cents that does not exceed `self` (what can be paid out).
    pub fn floor_payable(self) -> Money {
        let cent = 10_i64.pow(SCALE - PAYABLE_SCALE);
        Money(self.0.div_euclid(cent) * cent)
    }

    /// The sum, or `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// The difference, or `None` on overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// True above zero.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// True below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

/// Reads plain decimal notation only: "1e3", "+5", "1_000" or "NaN" are not how people write
/// money, even where `Decimal::from_str` would accept them.
fn plain_decimal(field: &'static str, text: &str) -> Result<Decimal, ParseError> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix('-').unwrap_or(trimmed);
    let plain = digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    let not_decimal =
        || ParseError::new(field, format!("{text:?} is not a decimal amount like 2.50"));
    if !plain {
        return Err(not_decimal());
    }
    Decimal::from_str(trimmed).map_err(|_| not_decimal())
}

impl fmt::Display for Money {
    /// Cents always, more digits only when the amount has them ("2.00", "0.3333").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut value = self.to_decimal().normalize();
        if value.scale() < PAYABLE_SCALE {
            value.rescale(PAYABLE_SCALE);
        }
        write!(f, "{value}")
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A fee rate between 0 and 1 with at most four decimals, kept as ten-thousandths (basis points
/// of a hundredth): 10 % is 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRate(i64);

impl FeeRate {
    /// Rates are kept in ten-thousandths: 1 000 is 10 %.
    pub const DENOMINATOR: i64 = 10_000;

    /// Checks a rate between 0 and 1 with at most four decimals.
    pub fn parse(field: &'static str, value: Decimal) -> Result<FeeRate, ParseError> {
        let value = value.normalize();
        if value.is_sign_negative() || value > Decimal::ONE {
            return Err(ParseError::new(field, "must be between 0 and 1"));
        }
        if value.scale() > 4 {
            return Err(ParseError::new(
                field,
                "at most 4 decimal places are allowed",
            ));
        }
        let parts = (value * Decimal::from(Self::DENOMINATOR)).trunc();
        Ok(FeeRate(
            parts.to_string().parse().expect("0..=10000 fits i64"),
        ))
    }

    /// Ten-thousandths of the spend that the instance keeps.
    pub const fn parts(self) -> i64 {
        self.0
    }

    /// The rate as an exact decimal.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 4).normalize()
    }

    /// The fee on `spend`, rounded down to the ledger precision so it is never more than the rate.
    pub fn fee_on(self, spend: Money) -> Money {
        Money(spend.0 * self.0 / Self::DENOMINATOR)
    }
}

/// An ISO 4217-shaped currency code ("EUR").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(String);

impl Currency {
    /// Checks an ISO 4217 code: three upper-case letters.
    pub fn parse(text: &str) -> Result<Currency, ParseError> {
        if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(text.to_owned()))
        } else {
            Err(ParseError::new(
                "currency",
                "must be three upper-case letters, e.g. EUR",
            ))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payable_amounts_parse_to_exact_ten_thousandths() {
        assert_eq!(Money::parse_payable("a", "2.00").unwrap(), Money(20_000));
        assert_eq!(Money::parse_payable("a", "0.1").unwrap(), Money(1_000));
        assert_eq!(
            Money::parse_payable("a", "1000000000").unwrap().minor(),
            MAX_UNITS * UNIT
        );
    }

    #[test]
    fn negative_over_precise_huge_and_garbage_amounts_are_refused() {
        for text in ["-1", "0.001", "1000000000.01", "abc", "", "1e3", "NaN"] {
            assert!(
                Money::parse_payable("a", text).is_err(),
                "{text} was accepted"
            );
        }
    }

    #[test]
    fn amounts_from_peers_may_have_four_decimals_but_no_more() {
        assert_eq!(Money::parse_exact("v", "0.3333").unwrap(), Money(3_333));
        for bad in ["0.33333", "-1", "1e2", "", "."] {
            assert!(Money::parse_exact("v", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_displays_cents_and_keeps_finer_digits_when_present() {
        assert_eq!(Money(20_000).to_string(), "2.00");
        assert_eq!(Money(3_333).to_string(), "0.3333");
        assert_eq!(Money(-15_000).to_string(), "-1.50");
        assert_eq!(Money(0).to_string(), "0.00");
    }

    #[test]
    fn the_fee_is_rounded_down_to_the_ledger_precision() {
        let rate = FeeRate::parse("fee", Decimal::new(1, 1)).unwrap();
        assert_eq!(rate.fee_on(Money(20_000)), Money(2_000));
        let odd = FeeRate::parse("fee", Decimal::new(333, 4)).unwrap();
        assert_eq!(odd.fee_on(Money(1)), Money(0));
    }

    #[test]
    fn payable_floor_keeps_sub_cent_leftovers_out_of_payouts() {
        assert_eq!(Money(123_456).floor_payable(), Money(123_400));
    }
}
