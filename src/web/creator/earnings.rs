//! My earnings per period and per thing (an SVG bar chart drawn on the server, with the same
//! numbers in a table), and payout requests.

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::domain::money::Money;
use crate::http::error::ApiError;
use crate::ledger::payouts;
use crate::ledger::{self, Account};
use crate::state::AppState;
use crate::store::{StoreError, earnings};
use crate::web::chart::Chart;
use crate::web::forms::{FormError, NoticeQuery, submit};
use crate::web::session::Visitor;
use crate::web::{FieldError, Form, Nav, PageError, Query, render};

#[derive(Template)]
#[template(path = "earnings.html")]
struct EarningsPage {
    nav: Nav,
    notice: Option<String>,
    currency: String,
    balance: String,
    withdrawable: String,
    minimum: String,
    amount_typed: String,
    by_period: String,
    by_thing: String,
    payouts: Vec<(String, String, String)>,
    error: Option<FieldError>,
}

impl FormError for EarningsPage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

async fn earnings_page(
    data: &AppState,
    visitor: &Visitor,
    user_id: i64,
    status: StatusCode,
    notice: Option<String>,
    amount_typed: String,
    error: Option<FieldError>,
) -> Result<Response, PageError> {
    let pool = data.store.pool();
    let balance = ledger::balance(pool, &Account::Earnings(user_id)).await?;
    let currency = data.settings.currency.to_string();
    let by_period = earnings::by_period(pool, user_id)
        .await?
        .into_iter()
        .map(|l| (l.period, l.flattrs, Money::from_minor(l.amount)))
        .collect();
    let by_thing = earnings::by_thing(pool, user_id)
        .await?
        .into_iter()
        .map(|l| (l.title, l.flattrs, Money::from_minor(l.amount)))
        .collect();
    let chart = |chart: Chart| {
        chart.render().map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.to_string(),
            )
        })
    };
    let page = EarningsPage {
        nav: Nav::of(data, visitor).await?,
        notice,
        balance: balance.to_string(),
        withdrawable: balance.floor_payable().to_string(),
        minimum: data.settings.payout_minimum.to_string(),
        amount_typed,
        by_period: chart(Chart::new(
            "by-period",
            format!("Earnings per period ({currency})"),
            "Period",
            by_period,
        ))?,
        by_thing: chart(Chart::new(
            "by-thing",
            format!("Earnings per thing ({currency})"),
            "Thing",
            by_thing,
        ))?,
        payouts: payouts::of_user(pool, user_id)
            .await?
            .into_iter()
            .map(|p| {
                (
                    crate::store::from_epoch(p.requested_at)
                        .format("%Y-%m-%d")
                        .to_string(),
                    Money::from_minor(p.amount).to_string(),
                    p.state,
                )
            })
            .collect(),
        currency,
        error,
    };
    Ok(render(status, &page))
}

/// GET /me/earnings
pub async fn my_earnings(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/earnings")?;
    let notice = query.notice();
    earnings_page(
        &data,
        &visitor,
        user,
        StatusCode::OK,
        notice,
        String::new(),
        None,
    )
    .await
}

/// The payout form.
#[derive(Deserialize)]
pub struct PayoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
}

async fn request_payout(data: &AppState, user: i64, amount: &str) -> Result<(), PageError> {
    let amount = match amount.trim() {
        "" => None,
        text => Some(Money::parse_payable("amount", text)?),
    };
    let mut tx = data.store.begin().await?;
    payouts::request(
        &mut tx,
        user,
        amount,
        data.settings.payout_minimum,
        data.clock.now(),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// POST /me/payouts
pub async fn payout(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<PayoutForm>,
) -> Result<Response, PageError> {
    submit(
        &visitor,
        "/me/earnings",
        &form.csrf,
        "amount",
        async |user| {
            request_payout(&data, user, &form.amount).await?;
            Ok("/me/earnings?done=payout".to_owned())
        },
        async |user, status, error| {
            let typed = form.amount.clone();
            earnings_page(&data, &visitor, user, status, None, typed, Some(error)).await
        },
    )
    .await
}
