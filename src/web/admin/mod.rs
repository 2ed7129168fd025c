//! The admin's pages under `/admin`: the instance at a glance with the audit's checks, users
//! (find, disable, record a deposit), periods and their close, peers and statements, payouts.
//! Only for users with `is_admin` (others get a 403 page; a visitor who is not logged in goes
//! to the log-in page and comes back). Every action calls the function `fedflattr admin …`
//! calls, so a rule exists once: `ledger::deposit`, `settle::close::close`, `ledger::payouts`,
//! `ledger::audit`, `settle::positions`, `accounts::set_disabled`.
//!
//! - this file: the guard, the overview, users and deposits;
//! - [`books`]: periods with their close, payouts (export as CSV, confirm a batch);
//! - [`peers`]: where we stand with each peer instance, statements sent and received.

pub mod books;
pub mod peers;

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::forms::{FormError, TokenForm};
use super::session::Visitor;
use super::{FieldError, Form, Nav, PageError, Path, Query, render};
use crate::domain::ParseError;
use crate::domain::money::Money;
use crate::http::error::ApiError;
use crate::ledger::{self, Account, Posted, audit};
use crate::state::AppState;
use crate::store::{StoreError, things, users};

/// How many users one page of the list shows.
const USERS_PER_PAGE: i64 = 50;

/// The logged-in admin's id; a visitor who is not logged in goes to the log-in page (and back
/// to `back`), a user who is no admin gets 403.
pub async fn admin(state: &AppState, visitor: &Visitor, back: &str) -> Result<i64, PageError> {
    let id = visitor.require(back)?;
    if users::by_id(state.store.pool(), id).await?.is_admin == 0 {
        return Err(PageError::Api(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an instance admin may see this page",
        )));
    }
    Ok(id)
}

/// The query of a page a form redirected to: what was done (`?done=deposit`).
#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

impl DoneQuery {
    /// The sentence that says what was done, if the query names something.
    pub fn notice(&self) -> Option<String> {
        let text = match self.done.as_str() {
            "deposit" => "The deposit is recorded.",
            "deposit-again" => "This bank reference was recorded before; nothing changed.",
            "disabled" => "The user is disabled: no log-in, tokens and sessions refused.",
            "enabled" => "The user may log in again.",
            "closed" => "The period is closed.",
            "already-closed" => "The period was already closed; nothing changed.",
            "confirmed" => "The batch is recorded as paid.",
            _ => return None,
        };
        Some(text.to_owned())
    }
}

/// One line of the audit, for the page.
pub struct AuditLine {
    name: &'static str,
    ok: bool,
    problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    nav: Nav,
    currency: String,
    fee_rate: String,
    min_budget: String,
    payout_minimum: String,
    registrations_open: bool,
    held_periods: u32,
    users: i64,
    things: i64,
    audit_ok: bool,
    audit: Vec<AuditLine>,
}

/// GET /admin: the instance's settings, counts, and the audit run now.
pub async fn overview(data: Data<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin").await?;
    let pool = data.store.pool();
    let report = audit::run(pool).await?;
    let settings = &data.settings;
    let page = OverviewPage {
        nav: Nav::of(&data, &visitor).await?,
        currency: settings.currency.to_string(),
        fee_rate: (settings.fee_rate.to_decimal() * rust_decimal::Decimal::ONE_HUNDRED)
            .normalize()
            .to_string(),
        min_budget: settings.min_budget.to_string(),
        payout_minimum: settings.payout_minimum.to_string(),
        registrations_open: settings.registrations_open,
        held_periods: settings.held_periods,
        users: users::count(pool).await?,
        things: things::count_local(pool).await?,
        audit_ok: report.ok,
        audit: report
            .checks
            .into_iter()
            .map(|c| AuditLine {
                name: c.name,
                ok: c.ok,
                problems: c.problems,
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// A user in the list.
pub struct ListedUser {
    id: i64,
    username: String,
    admin: bool,
    disabled: bool,
    wallet: String,
    earnings: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    nav: Nav,
    notice: Option<String>,
    currency: String,
    search: String,
    previous: Option<i64>,
    next: Option<i64>,
    users: Vec<ListedUser>,
    deposit: DepositForm,
    error: Option<FieldError>,
}

impl FormError for UsersPage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

/// The query of the users' list: a part of the name, where the page starts, what was done.
#[derive(Deserialize, Default)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    done: String,
}

async fn users_page(
    data: &AppState,
    visitor: &Visitor,
    query: UsersQuery,
    status: StatusCode,
    deposit: DepositForm,
    error: Option<FieldError>,
) -> Result<Response, PageError> {
    let pool = data.store.pool();
    let offset = query.offset.max(0);
    let (rows, more) = users::page(pool, query.q.trim(), offset, USERS_PER_PAGE).await?;
    let mut listed = Vec::with_capacity(rows.len());
    for row in rows {
        listed.push(ListedUser {
            wallet: ledger::balance(pool, &Account::Wallet(row.id))
                .await?
                .to_string(),
            earnings: ledger::balance(pool, &Account::Earnings(row.id))
                .await?
                .to_string(),
            id: row.id,
            admin: row.is_admin != 0,
            disabled: row.is_disabled(),
            username: row.username,
        });
    }
    let page = UsersPage {
        nav: Nav::of(data, visitor).await?,
        notice: DoneQuery { done: query.done }.notice(),
        currency: data.settings.currency.to_string(),
        search: query.q,
        previous: (offset > 0).then(|| (offset - USERS_PER_PAGE).max(0)),
        next: more.then_some(offset + USERS_PER_PAGE),
        users: listed,
        deposit,
        error,
    };
    Ok(render(status, &page))
}

/// GET /admin/users?q=&offset=
pub async fn user_list(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<UsersQuery>,
) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin/users").await?;
    users_page(
        &data,
        &visitor,
        query,
        StatusCode::OK,
        DepositForm::default(),
        None,
    )
    .await
}

/// The deposit form: whose wallet, how much, the bank's reference of the payment.
#[derive(Deserialize, Default)]
pub struct DepositForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reference: String,
}

/// Records the deposit as `fedflattr admin deposit` does (`ledger::deposit`: a positive
/// amount of whole cents, once per bank reference). The page asks for the reference, where
/// the command may make one up: a form sent twice must not pay twice.
async fn record_deposit(data: &AppState, form: &DepositForm) -> Result<(String, Posted), ApiError> {
    let amount = Money::parse_payable("amount", &form.amount)?;
    let reference = form.reference.trim();
    if reference.is_empty() {
        return Err(ParseError::new(
            "reference",
            "give the payment's bank reference: it makes a form sent twice count once",
        )
        .into());
    }
    let user = users::by_name(data.store.pool(), form.username.trim())
        .await
        .map_err(|e| ApiError::from(e).on("username"))?;
    let mut tx = data.store.begin().await?;
    let posted = ledger::deposit(&mut tx, user.id, amount, reference, data.clock.now()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(user = %user.username, %amount, reference, "deposit recorded from the admin page");
    Ok((user.username, posted))
}

/// POST /admin/deposits
pub async fn deposit(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<DepositForm>,
) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin/users").await?;
    visitor.check(&form.csrf)?;
    match record_deposit(&data, &form).await {
        Ok((username, posted)) => {
            let done = match posted {
                Posted::AlreadyPosted => "deposit-again",
                Posted::New(_) => "deposit",
            };
            let q: String = url::form_urlencoded::byte_serialize(username.as_bytes()).collect();
            Ok(Redirect::to(&format!("/admin/users?q={q}&done={done}")).into_response())
        }
        Err(error) if error.status().is_server_error() => Err(error.into()),
        Err(error) => {
            let status = error.status();
            let error = FieldError::from_api(&error, "amount");
            let query = UsersQuery::default();
            users_page(&data, &visitor, query, status, form, Some(error)).await
        }
    }
}

/// POST /admin/users/{id}/disable and /enable
async fn set_disabled(
    data: &AppState,
    visitor: &Visitor,
    id: i64,
    form: &TokenForm,
    disable: bool,
) -> Result<Response, PageError> {
    admin(data, visitor, "/admin/users").await?;
    visitor.check(form.token())?;
    let (user, _) =
        crate::accounts::set_disabled(&data.store, id, disable, data.clock.now()).await?;
    let name = user.username;
    let q: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let done = if disable { "disabled" } else { "enabled" };
    Ok(Redirect::to(&format!("/admin/users?q={q}&done={done}")).into_response())
}

/// POST /admin/users/{id}/disable
pub async fn disable(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    set_disabled(&data, &visitor, id, &form, true).await
}

/// POST /admin/users/{id}/enable
pub async fn enable(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    set_disabled(&data, &visitor, id, &form, false).await
}
