//! "My flattrs": the wallet, the budget, what this month costs and what each flattr would
//! receive so far, this period's flattrs with undo, the subscriptions, and flattr any URL.

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::accounts;
use crate::domain::thing::ThingUrl;
use crate::flattring;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{StoreError, flattrs, subscriptions};
use crate::web::forms::{FormError, NoticeQuery, TokenForm, press, submit};
use crate::web::session::Visitor;
use crate::web::{FieldError, Form, Nav, PageError, Path, Query, render};

/// A flattr in the list of this period's.
pub struct ListedFlattr {
    id: i64,
    url: String,
    title: String,
    charged: bool,
}

/// A subscription in the list.
pub struct ListedSubscription {
    id: i64,
    title: String,
    left: i64,
    total: i64,
    paused: bool,
    active: bool,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    subscriptions: Vec<ListedSubscription>,
    nav: Nav,
    notice: Option<String>,
    username: String,
    currency: String,
    wallet: String,
    budget: String,
    earnings: String,
    min_budget: String,
    period: String,
    flattr_count: i64,
    cost: String,
    per_flattr: String,
    budget_typed: String,
    url_typed: String,
    flattrs: Vec<ListedFlattr>,
    error: Option<FieldError>,
}

impl FormError for MePage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

/// What the "my flattrs" page is shown with besides the stored state.
#[derive(Default)]
struct MeInput {
    notice: Option<String>,
    budget_typed: Option<String>,
    url_typed: String,
    error: Option<FieldError>,
}

async fn me_page(
    data: &AppState,
    visitor: &Visitor,
    user_id: i64,
    status: StatusCode,
    input: MeInput,
) -> Result<Response, PageError> {
    let o = accounts::overview(data, user_id).await?;
    let rows = flattrs::of_user(data.store.pool(), user_id, Some(o.period)).await?;
    let subscriptions = subscriptions::of_user(data.store.pool(), user_id)
        .await?
        .into_iter()
        .map(|s| ListedSubscription {
            id: s.id,
            title: s.thing_title,
            left: s.periods_left,
            total: s.periods_total,
            paused: s.paused != 0,
            active: s.stopped_at.is_none(),
        })
        .collect();
    let page = MePage {
        subscriptions,
        nav: Nav::of(data, visitor).await?,
        notice: input.notice,
        currency: data.settings.currency.to_string(),
        wallet: o.wallet.to_string(),
        budget: o.user.budget().to_string(),
        earnings: o.earnings.to_string(),
        min_budget: data.settings.min_budget.to_string(),
        period: o.period.to_string(),
        flattr_count: o.flattrs,
        cost: o.cost.to_string(),
        per_flattr: o.per_flattr.to_string(),
        budget_typed: input
            .budget_typed
            .unwrap_or_else(|| o.user.budget().to_string()),
        url_typed: input.url_typed,
        username: o.user.username,
        flattrs: rows
            .into_iter()
            .map(|r| ListedFlattr {
                id: r.id,
                url: r.thing_url,
                title: r.thing_title,
                charged: r.charged != 0,
            })
            .collect(),
        error: input.error,
    };
    Ok(render(status, &page))
}

/// GET /me
pub async fn me(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me")?;
    let input = MeInput {
        notice: query.notice(),
        ..MeInput::default()
    };
    me_page(&data, &visitor, user, StatusCode::OK, input).await
}

/// The budget form.
#[derive(Deserialize)]
pub struct BudgetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    budget: String,
}

/// POST /me/budget
pub async fn set_budget(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<BudgetForm>,
) -> Result<Response, PageError> {
    submit(
        &visitor,
        "/me",
        &form.csrf,
        "budget",
        async |user| {
            accounts::set_budget(&data, user, &form.budget).await?;
            Ok("/me?done=budget".to_owned())
        },
        async |user, status, error| {
            let input = MeInput {
                budget_typed: Some(form.budget.clone()),
                error: Some(error),
                ..MeInput::default()
            };
            me_page(&data, &visitor, user, status, input).await
        },
    )
    .await
}

/// The "flattr any URL" form.
#[derive(Deserialize)]
pub struct UrlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
}

/// Flattrs what `url` names for `user`, as the API does: find (network first), then flattr in
/// one transaction.
pub async fn flattr_text(
    data: &Data<AppState>,
    user: i64,
    url: &str,
) -> Result<flattrs::FlattrRow, ApiError> {
    let url = ThingUrl::parse(url)?;
    let target = flattring::find(data, &url).await?;
    let mut tx = data.store.begin().await?;
    let row = flattring::flattr(&mut tx, data, user, target).await?;
    tx.commit().await?;
    Ok(row)
}

/// POST /me/flattr
pub async fn flattr_url(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<UrlForm>,
) -> Result<Response, PageError> {
    submit(
        &visitor,
        "/me",
        &form.csrf,
        "url",
        async |user| {
            flattr_text(&data, user, &form.url).await?;
            Ok("/me?done=flattr".to_owned())
        },
        async |user, status, error| {
            // Whatever part of the flattr failed, the one field of this form is the URL.
            let input = MeInput {
                url_typed: form.url.clone(),
                error: Some(FieldError {
                    field: "url".into(),
                    ..error
                }),
                ..MeInput::default()
            };
            me_page(&data, &visitor, user, status, input).await
        },
    )
    .await
}

/// POST /me/flattrs/{id}/undo
pub async fn undo(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    press(&visitor, "/me", &form, async |user| {
        let mut tx = data.store.begin().await?;
        flattring::undo(&mut tx, &data, user, id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok("/me?done=undo".to_owned())
    })
    .await
}
