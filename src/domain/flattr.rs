//! The rules a flattr must pass, named after Flattr's own error codes.

use super::money::Money;

/// Why a flattr was refused. The names are Flattr API v2's, so old clients understand them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlattrRefusal {
    /// One flattr per user, thing and period.
    #[error("you have already flattred this thing in this period")]
    FlattrOnce,
    /// Nobody flattrs their own thing.
    #[error("you cannot flattr your own thing")]
    FlattrOwner,
    /// An empty wallet cannot flattr.
    #[error("you have no money in your wallet; deposit before flattring")]
    NoMeans,
    /// The period is being closed or closed.
    #[error("the period of this flattr is closed")]
    PeriodClosed,
}

impl FlattrRefusal {
    /// The error code the API and the wire use, e.g. `flattr_once`.
    pub fn code(self) -> &'static str {
        match self {
            FlattrRefusal::FlattrOnce => "flattr_once",
            FlattrRefusal::FlattrOwner => "flattr_owner",
            FlattrRefusal::NoMeans => "no_means",
            FlattrRefusal::PeriodClosed => "period_closed",
        }
    }
}

/// The checks that need no database: who owns the thing and whether there is money.
/// `owner` is `None` for a thing on another server. An uncharged flattr (a plain Like of a thing
/// nobody can be paid for) needs no money. "Once per period" is left to the database's unique
/// constraint, which is the only place that can decide it under concurrent clicks.
pub fn check_flattr(
    flattrer: i64,
    owner: Option<i64>,
    wallet: Money,
    charged: bool,
) -> Result<(), FlattrRefusal> {
    if owner == Some(flattrer) {
        return Err(FlattrRefusal::FlattrOwner);
    }
    if charged && !wallet.is_positive() {
        return Err(FlattrRefusal::NoMeans);
    }
    Ok(())
}

/// How many periods a subscription flattrs a thing: 3, 6 or 12, as on Flattr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionPeriods(i64);

impl SubscriptionPeriods {
    /// Checks a subscription's length in periods.
    pub fn parse(periods: i64) -> Result<SubscriptionPeriods, super::ParseError> {
        if [3, 6, 12].contains(&periods) {
            Ok(SubscriptionPeriods(periods))
        } else {
            Err(super::ParseError::new("periods", "must be 3, 6 or 12"))
        }
    }

    /// The number of periods.
    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_cannot_flattr_their_own_things_and_the_penniless_cannot_flattr() {
        let cent = Money::from_minor(100);
        assert_eq!(
            check_flattr(1, Some(1), cent, true),
            Err(FlattrRefusal::FlattrOwner)
        );
        assert_eq!(
            check_flattr(1, Some(2), Money::ZERO, true),
            Err(FlattrRefusal::NoMeans)
        );
        assert_eq!(check_flattr(1, Some(2), cent, true), Ok(()));
    }

    #[test]
    fn a_plain_like_of_an_unpayable_thing_needs_no_money() {
        assert_eq!(check_flattr(1, None, Money::ZERO, false), Ok(()));
        assert_eq!(
            check_flattr(1, None, Money::ZERO, true),
            Err(FlattrRefusal::NoMeans)
        );
    }
}
