//! One row per statement with its sums (accepted, disputed, adjusted), the query both the
//! peers' positions and the statements' views start from.

use crate::domain::period::Period;
use crate::store::StoreError;

/// Which statements to list.
#[derive(Debug, Clone, Default)]
pub struct StatementFilter {
    /// Only this peer's (an origin).
    pub peer: Option<String>,
    /// Only this period's.
    pub period: Option<Period>,
}

/// A statement with the sums of its lines and adjustment lines.
#[derive(sqlx::FromRow)]
pub(super) struct Summary {
    pub(super) id: i64,
    pub(super) direction: String,
    pub(super) ap_id: String,
    pub(super) peer: String,
    pub(super) period: String,
    pub(super) version: i64,
    pub(super) state: String,
    pub(super) reason: Option<String>,
    pub(super) currency: String,
    pub(super) line_count: i64,
    pub(super) total: i64,
    pub(super) accepted: i64,
    pub(super) disputed: i64,
    pub(super) supersedes: Option<String>,
    pub(super) superseded_at: Option<i64>,
    pub(super) adjusted: i64,
    pub(super) adjusted_open: i64,
}

// Per statement: the accepted lines, the disputed ones (an outcome other than `accepted`) and
// the total; a line not answered yet is neither accepted nor disputed. Its adjustment lines
// (corrections of a paid period, signed) are summed apart: the accepted ones, and those not
// disputed (answered or not), as for the lines.
const SUMMARY: &str = "SELECT s.id, s.direction, s.ap_id, s.peer, s.period, s.version, s.state,
    s.reason, s.currency, s.line_count, s.total,
    CAST(COALESCE(SUM(CASE WHEN l.outcome = 'accepted' THEN l.amount ELSE 0 END), 0) AS BIGINT)
        AS accepted,
    CAST(COALESCE(SUM(CASE WHEN l.outcome IS NOT NULL AND l.outcome <> 'accepted'
        THEN l.amount ELSE 0 END), 0) AS BIGINT) AS disputed,
    s.supersedes, s.superseded_at,
    CAST(COALESCE((SELECT SUM(j.amount) FROM statement_adjustments j
        WHERE j.statement_id = s.id AND j.outcome = 'accepted'), 0) AS BIGINT) AS adjusted,
    CAST(COALESCE((SELECT SUM(j.amount) FROM statement_adjustments j
        WHERE j.statement_id = s.id AND (j.outcome IS NULL OR j.outcome = 'accepted')), 0)
        AS BIGINT) AS adjusted_open
    FROM statements s LEFT JOIN statement_lines l ON l.statement_id = s.id
    WHERE ($1 IS NULL OR s.peer = $1) AND ($2 IS NULL OR s.period = $2)
    GROUP BY s.id, s.direction, s.ap_id, s.peer, s.period, s.version, s.state, s.reason,
        s.currency, s.line_count, s.total, s.supersedes, s.superseded_at
    ORDER BY s.peer, s.period, s.direction, s.version";

pub(super) async fn summaries(
    db: &sqlx::AnyPool,
    filter: &StatementFilter,
) -> Result<Vec<Summary>, StoreError> {
    Ok(sqlx::query_as(SUMMARY)
        .bind(filter.peer.clone())
        .bind(filter.period.map(|p| p.to_string()))
        .fetch_all(db)
        .await?)
}
