//! Periods: calendar months in UTC named `YYYY-MM`, the unit in which budgets are spent.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use super::ParseError;

/// A calendar month, the unit every budget is split over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: u32,
}

impl Period {
    /// Parses exactly `YYYY-MM` (four-digit year from 2000, month 01–12); nothing looser, so
    /// that one period has one spelling in URLs, the database and activities.
    pub fn parse(text: &str) -> Result<Period, ParseError> {
        let bad = || ParseError::new("period", format!("{text:?} is not a period like 2026-11"));
        let bytes = text.as_bytes();
        if bytes.len() != 7 || bytes[4] != b'-' {
            return Err(bad());
        }
        if !text[..4].bytes().all(|b| b.is_ascii_digit())
            || !text[5..].bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = text[..4].parse().map_err(|_| bad())?;
        let month: u32 = text[5..].parse().map_err(|_| bad())?;
        if !(2000..=9998).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }

    /// The period `at` falls in.
    pub fn containing(at: DateTime<Utc>) -> Period {
        Period {
            year: at.year(),
            month: at.month(),
        }
    }

    /// The month after.
    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The month before.
    pub fn previous(self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The first instant of the period.
    pub fn start(self) -> DateTime<Utc> {
        let date = NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("validated month");
        Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
    }

    /// The first instant after the period: a period has ended once `now >= end()`.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    /// True once the whole month is past at `now` (the period may then be closed).
    pub fn has_ended(self, now: DateTime<Utc>) -> bool {
        now >= self.end()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl std::str::FromStr for Period {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Period::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_only_the_canonical_spelling() {
        assert_eq!(Period::parse("2026-11").unwrap().to_string(), "2026-11");
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "1999-12",
            "２０２６-11",
            "+026-11",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn december_is_followed_by_january_of_the_next_year() {
        let december = Period::parse("2026-12").unwrap();
        assert_eq!(december.next().to_string(), "2027-01");
        assert_eq!(december.next().previous(), december);
    }

    #[test]
    fn a_period_ends_at_the_first_instant_of_the_next_month() {
        let november = Period::parse("2026-11").unwrap();
        assert!(!november.has_ended(november.end() - chrono::Duration::seconds(1)));
        assert!(november.has_ended(november.end()));
    }
}
