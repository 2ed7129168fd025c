//! The admin's books: periods with the stage their close reached and a button to close an
//! ended one (`settle::close::close`, as `fedflattr admin close` and the scheduler run it: a
//! second click finds it closed and changes nothing), and payouts (pending ones, the CSV export
//! and the confirmation of a batch, through `ledger::payouts` as `admin payouts` does).

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{DoneQuery, admin};
use crate::domain::ParseError;
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::http::error::ApiError;
use crate::ledger::payouts;
use crate::settle::close::{self, CloseOptions, CloseRules};
use crate::state::AppState;
use crate::store::{StoreError, from_epoch, periods};
use crate::web::forms::TokenForm;
use crate::web::session::Visitor;
use crate::web::{Form, Nav, PageError, Path, Query, render};

/// A period in the list.
pub struct ListedPeriod {
    name: String,
    stage: &'static str,
    stage_number: i64,
    closed: bool,
    /// Ended and not closed yet: the page offers to close it.
    closable: bool,
}

#[derive(Template)]
#[template(path = "admin/periods.html")]
struct PeriodsPage {
    nav: Nav,
    notice: Option<String>,
    current: String,
    last_stage: i64,
    periods: Vec<ListedPeriod>,
}

/// GET /admin/periods
pub async fn period_list(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin/periods").await?;
    let now = data.clock.now();
    let page = PeriodsPage {
        nav: Nav::of(&data, &visitor).await?,
        notice: query.notice(),
        current: Period::containing(now).to_string(),
        last_stage: periods::Stage::LAST as i64,
        periods: periods::all(data.store.pool())
            .await?
            .into_iter()
            .map(|p| ListedPeriod {
                name: p.period.to_string(),
                stage: p.stage.name(),
                stage_number: p.stage as i64,
                closed: p.closed_at.is_some(),
                closable: p.closed_at.is_none() && p.period.has_ended(now),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// POST /admin/periods/{period}/close: the close `fedflattr admin close` runs (earlier open
/// periods first, resuming an interrupted close). Closing a closed period changes nothing.
pub async fn close_period(
    data: Data<AppState>,
    visitor: Visitor,
    Path(period): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin/periods").await?;
    visitor.check(form.token())?;
    let period = Period::parse(&period)?;
    let rules = CloseRules {
        fee_rate: data.settings.fee_rate,
        held_periods: data.settings.held_periods,
    };
    let report = close::close(
        &data.store,
        period,
        rules,
        data.clock.now(),
        CloseOptions::default(),
    )
    .await?;
    tracing::info!(%period, already = report.already_closed, "close run from the admin page");
    let done = if report.already_closed {
        "already-closed"
    } else {
        "closed"
    };
    Ok(Redirect::to(&format!("/admin/periods?done={done}")).into_response())
}

/// A payout not paid yet.
pub struct ListedPayout {
    id: i64,
    username: String,
    amount: String,
    state: String,
    batch: String,
    requested: String,
}

#[derive(Template)]
#[template(path = "admin/payouts.html")]
struct PayoutsPage {
    nav: Nav,
    notice: Option<String>,
    currency: String,
    requested_total: String,
    payouts: Vec<ListedPayout>,
    /// The exported batches waiting for the bank, each with its total.
    batches: Vec<(String, String)>,
}

/// GET /admin/payouts
pub async fn payout_list(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin/payouts").await?;
    let rows = payouts::pending(data.store.pool()).await?;
    let requested: i64 = rows
        .iter()
        .filter(|r| r.state == "requested")
        .map(|r| r.amount)
        .sum();
    let mut batches: Vec<(String, i64)> = Vec::new();
    for row in rows.iter().filter(|r| r.state == "exported") {
        let batch = row.batch.clone().unwrap_or_default();
        match batches.iter_mut().find(|(b, _)| *b == batch) {
            Some((_, total)) => *total += row.amount,
            None => batches.push((batch, row.amount)),
        }
    }
    let page = PayoutsPage {
        nav: Nav::of(&data, &visitor).await?,
        notice: query.notice(),
        currency: data.settings.currency.to_string(),
        requested_total: Money::from_minor(requested).to_string(),
        batches: batches
            .into_iter()
            .map(|(b, total)| (b, Money::from_minor(total).to_string()))
            .collect(),
        payouts: rows
            .into_iter()
            .map(|r| ListedPayout {
                id: r.id,
                username: r.username,
                amount: Money::from_minor(r.amount).to_string(),
                state: r.state,
                batch: r.batch.unwrap_or_default(),
                requested: from_epoch(r.requested_at)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// POST /admin/payouts/export: the requested payouts as the CSV of `fedflattr admin payouts
/// export`, marked exported in one new batch. The transaction commits only once the file is
/// built, as the command commits only once it is written.
pub async fn export(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin/payouts").await?;
    visitor.check(form.token())?;
    let mut tx = data.store.begin().await?;
    let (batch, rows) = payouts::export(&mut tx, data.clock.now()).await?;
    let csv = payouts::csv(&rows, data.settings.currency.as_str()).map_err(|error| {
        tracing::error!(%error, "the payouts' CSV could not be built");
        PageError::Api(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong",
        ))
    })?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(%batch, payouts = rows.len(), "payouts exported from the admin page");
    let mut response = (StatusCode::OK, csv).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{batch}.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The confirm form: the batch the bank paid.
#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    batch: String,
}

/// POST /admin/payouts/confirm: one exported batch recorded as paid (`payouts::confirm`).
/// The page confirms a named batch only, never "everything exported": an admin confirms what
/// the bank statement shows.
pub async fn confirm(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin/payouts").await?;
    visitor.check(&form.csrf)?;
    let batch = form.batch.trim();
    if batch.is_empty() {
        return Err(ParseError::new("batch", "name the batch the bank paid").into());
    }
    let mut tx = data.store.begin().await?;
    let rows = payouts::confirm(&mut tx, Some(batch), data.clock.now()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(
        batch,
        payouts = rows.len(),
        "payouts confirmed from the admin page"
    );
    Ok(Redirect::to("/admin/payouts?done=confirmed").into_response())
}
