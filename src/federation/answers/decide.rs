//! The payee's first reading of a statement, before its lines: whether it can be taken on at
//! all (addressed to us, in our currency, its totals its lines'), its digest, and its
//! adjustment lines for the books.

use activitypub_federation::config::Data;
use serde_json::Value;

use crate::domain::money::{Money, SCALE};
use crate::domain::period::Period;
use crate::domain::settlement::Refusal;
use crate::federation::activities::statement::{Offer, Statement};
use crate::federation::actors::instance_url;
use crate::federation::client::host_and_port;
use crate::federation::{FederationError, proof};
use crate::settle::adjustments::NewAdjustment;
use crate::settle::statements::NewLine;
use crate::state::AppState;

/// What to do with a statement before looking at its lines.
pub enum Decision {
    /// Take it on: these are its lines.
    Lines(Vec<NewLine>),
    /// Refuse it whole (and record that), for this reason.
    Refuse {
        /// The reason code.
        refusal: Refusal,
        /// The reason in words.
        reason: String,
        /// Its lines, recorded with the refusal.
        lines: Vec<NewLine>,
    },
    /// It cannot be read (a field does not parse): refused without a record.
    Unreadable(String),
}

/// SHA-256 (hex) of the JCS form of the statement's `Offer` without its proof: the same
/// statement has the same digest, however it was re-signed or re-serialised.
pub fn statement_digest(raw: &Value) -> Result<String, FederationError> {
    let mut unsigned = raw.clone();
    if let Value::Object(map) = &mut unsigned {
        map.remove("proof");
    }
    Ok(proof::digest(&unsigned)?)
}

/// Reads the statement's amounts and checks it whole: addressed to us, in our currency, its
/// total and line count those of its lines, its id naming us, its period and version.
pub fn decide(data: &Data<AppState>, offer: &Offer) -> Decision {
    let statement = &offer.object;
    if statement.attributed_to != offer.actor {
        return Decision::Unreadable("the statement is not attributed to the Offer's actor".into());
    }
    let Ok(period) = Period::parse(&statement.period) else {
        return Decision::Unreadable(format!("{:?} is not a period", statement.period));
    };
    if statement.version < 1 || statement.scale != SCALE {
        return Decision::Unreadable("version must be 1 or more and scale 4".into());
    }
    let mut lines = Vec::with_capacity(statement.lines.len());
    let mut sum = Money::ZERO;
    for line in &statement.lines {
        let Ok(amount) = Money::parse_exact("flattr:value", &line.value) else {
            return Decision::Unreadable(format!("{:?} is not an amount", line.value));
        };
        sum = sum
            .checked_add(amount)
            .unwrap_or(Money::from_minor(i64::MAX));
        lines.push(NewLine {
            like_id: line.like.to_string(),
            thing: line.thing.to_string(),
            amount,
            like_digest: line.like_digest.clone(),
        });
    }
    let Ok(total) = Money::parse_exact("flattr:total", &statement.total) else {
        return Decision::Unreadable(format!("{:?} is not an amount", statement.total));
    };
    let adjustments = match adjustments_of(statement) {
        Ok(adjustments) => adjustments,
        Err(error) => return Decision::Unreadable(error),
    };
    let adjusted: i64 = adjustments.iter().map(|a| a.amount.minor()).sum();
    let stated_adjustment = match statement.adjustment_total.as_deref().map(signed_amount) {
        None => None,
        Some(Ok(total)) => Some(total),
        Some(Err(error)) => return Decision::Unreadable(error),
    };
    let me = instance_url(data);
    let refuse = |refusal, reason: String| Decision::Refuse {
        refusal,
        reason,
        lines: lines.clone(),
    };
    if statement.payee != me {
        return refuse(
            Refusal::WrongPayee,
            format!("the statement is for {}, not {me}", statement.payee),
        );
    }
    let expected = format!(
        "/settlement/statements/{}/{period}/v{}",
        host_and_port(&data.settings.base_url),
        statement.version
    );
    if offer.id.path() != expected {
        return Decision::Unreadable(format!(
            "the statement's id must end {expected}, naming this payee, its period and version"
        ));
    }
    let previous = (statement.version > 1).then(|| {
        let mut id = offer.id.clone();
        id.set_path(&format!(
            "/settlement/statements/{}/{period}/v{}",
            host_and_port(&data.settings.base_url),
            statement.version - 1
        ));
        id
    });
    if statement.supersedes != previous {
        return Decision::Unreadable(match previous {
            Some(previous) => format!("version {} supersedes {previous}", statement.version),
            None => "a first version supersedes nothing".to_owned(),
        });
    }
    if statement.currency != data.settings.currency.as_str() {
        return refuse(
            Refusal::CurrencyMismatch,
            format!(
                "this instance settles in {}, not {}",
                data.settings.currency, statement.currency
            ),
        );
    }
    if stated_adjustment != (!adjustments.is_empty()).then_some(adjusted) {
        return refuse(
            Refusal::TotalMismatch,
            format!(
                "{} adjustment lines summing to {}, but the statement says {:?}",
                adjustments.len(),
                Money::from_minor(adjusted),
                statement.adjustment_total
            ),
        );
    }
    if sum != total || u64::try_from(lines.len()).ok() != Some(statement.line_count) {
        return refuse(
            Refusal::TotalMismatch,
            format!(
                "{} lines summing to {sum}, but the statement says {} lines and {total}",
                lines.len(),
                statement.line_count
            ),
        );
    }
    Decision::Lines(lines)
}

/// A signed decimal with at most four decimals (an adjustment's value), in ten-thousandths.
pub(super) fn signed_amount(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    let amount = Money::parse_exact("flattr:value", digits)
        .map_err(|_| format!("{text:?} is not an amount"))?
        .minor();
    Ok(if negative { -amount } else { amount })
}

/// The adjustment lines of `statement`, for the books: each value signed and not zero, each
/// period a period.
pub fn adjustments_of(statement: &Statement) -> Result<Vec<NewAdjustment>, String> {
    statement
        .adjustments
        .iter()
        .map(|a| {
            let amount = signed_amount(&a.value)?;
            if amount == 0 {
                return Err("an adjustment of nothing".to_owned());
            }
            let period = Period::parse(&a.adjusts_period)
                .map_err(|_| format!("{:?} is not a period", a.adjusts_period))?;
            Ok(NewAdjustment {
                adjusts: a.adjusts.to_string(),
                adjusts_period: period.to_string(),
                like_id: a.like.to_string(),
                thing: a.thing.to_string(),
                amount: Money::from_minor(amount),
                like_digest: a.like_digest.clone(),
                user_id: None,
            })
        })
        .collect()
}
