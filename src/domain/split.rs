//! The close of one user's period in numbers: spend, fee, net, and the equal split of net.
//!
//! The database performs the same arithmetic set-based (see `settle::close`); this module is
//! the reference that property tests check for exactness, and the tests of the close compare
//! the ledger with it.

use super::money::{FeeRate, Money};

/// What one user pays at close and how it is divided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserClose {
    /// What the user pays this period.
    pub spend: Money,
    /// The instance's fee out of it.
    pub fee: Money,
    /// What the creators share: spend minus fee.
    pub net: Money,
    /// One piece per flattr, in the order of the flattrs (oldest first).
    pub shares: Vec<Money>,
}

/// `spend = min(budget, wallet)`, `fee = spend × rate` (rounded down), `net = spend − fee`,
/// and net split equally over `flattrs` pieces.
pub fn close_user(budget: Money, wallet: Money, rate: FeeRate, flattrs: usize) -> UserClose {
    let spend = budget.min(wallet).max(Money::ZERO);
    let fee = rate.fee_on(spend);
    let net = Money::from_minor(spend.minor() - fee.minor());
    UserClose {
        spend,
        fee,
        net,
        shares: split_equally(net, flattrs),
    }
}

/// Splits `total` into `pieces` parts that differ by at most one ten-thousandth and sum to
/// exactly `total`.
///
/// This is the largest-remainder method for equal weights: every piece gets the quotient, and
/// since all remainders are equal the leftover units go to the first pieces in order. The order
/// is the flattrs' order, so the result is deterministic.
pub fn split_equally(total: Money, pieces: usize) -> Vec<Money> {
    if pieces == 0 {
        return Vec::new();
    }
    let n = i64::try_from(pieces).expect("flattr count fits i64");
    let base = total.minor().div_euclid(n);
    let extra = total.minor().rem_euclid(n);
    (0..n)
        .map(|i| Money::from_minor(base + i64::from(i < extra)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn rate(parts: i64) -> FeeRate {
        FeeRate::parse("fee", Decimal::new(parts, 4)).unwrap()
    }

    #[test]
    fn two_euros_over_three_flattrs_with_ten_percent_fee() {
        let close = close_user(
            Money::from_minor(20_000),
            Money::from_minor(50_000),
            rate(1000),
            3,
        );
        assert_eq!(close.spend, Money::from_minor(20_000));
        assert_eq!(close.fee, Money::from_minor(2_000));
        assert_eq!(
            close.shares,
            vec![
                Money::from_minor(6_000),
                Money::from_minor(6_000),
                Money::from_minor(6_000)
            ]
        );
        let odd = split_equally(Money::from_minor(10_000), 3);
        assert_eq!(
            odd,
            vec![
                Money::from_minor(3_334),
                Money::from_minor(3_333),
                Money::from_minor(3_333)
            ]
        );
    }

    proptest! {
        #[test]
        fn the_pieces_always_sum_to_the_spend_minus_the_fee(
            budget in 0i64..100_000_000_000,
            wallet in 0i64..100_000_000_000,
            fee_parts in 0i64..=10_000,
            flattrs in 1usize..500,
        ) {
            let close = close_user(Money::from_minor(budget), Money::from_minor(wallet), rate(fee_parts), flattrs);
            prop_assert_eq!(close.spend.minor(), budget.min(wallet));
            prop_assert!(close.spend.minor() <= wallet, "never spends more than the wallet");
            prop_assert_eq!(close.shares.len(), flattrs);
            let pieces: i64 = close.shares.iter().map(|m| m.minor()).sum();
            prop_assert_eq!(pieces + close.fee.minor(), close.spend.minor());
            let min = close.shares.iter().min().unwrap().minor();
            let max = close.shares.iter().max().unwrap().minor();
            prop_assert!(max - min <= 1, "pieces differ by at most one unit");
            prop_assert!(min >= 0);
        }
    }
}
