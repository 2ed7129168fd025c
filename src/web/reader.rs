//! A reader's pages: sign up, log in and out, and "my flattrs": the wallet, the budget, what
//! this month costs per flattr, this period's flattrs with undo, and flattr any URL. A refused
//! form is shown again with the error next to its field and what was typed (never the
//! password).

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::Visitor;
use super::{FieldError, Form, Nav, PageError, Path, Query, local_path, render};
use crate::accounts::{self, AccountError};
use crate::domain::thing::ThingUrl;
use crate::flattring;
use crate::http::error::ApiError;
use crate::http::extract::ClientIp;
use crate::state::AppState;
use crate::store::{flattrs, sessions, subscriptions};

/// A form's refused field, for the templates: `error_on("budget")` and `error_text()`.
pub trait FormError {
    /// The refused field, if any.
    fn form_error(&self) -> Option<&FieldError>;

    /// True when `field` is the refused one.
    fn error_on(&self, field: &str) -> bool {
        self.form_error().is_some_and(|e| e.field == field)
    }

    /// Why it was refused.
    fn error_text(&self) -> &str {
        self.form_error().map_or("", |e| e.message.as_str())
    }
}

/// Where to go after logging in: the `next` the form carried, if it is a path of ours.
fn next_or_me(next: &str) -> String {
    local_path(next).unwrap_or("/me").to_owned()
}

/// The query of the log-in and sign-up pages.
#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    nav: Nav,
    registrations_open: bool,
    next: String,
    username: String,
    general: Option<String>,
    error: Option<FieldError>,
}

impl FormError for SignUpPage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

/// GET /signup
pub async fn sign_up_form(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> Result<Response, PageError> {
    let page = SignUpPage {
        nav: Nav::of(&data, &visitor).await?,
        registrations_open: data.settings.registrations_open,
        next: next_or_me(&query.next),
        username: String::new(),
        general: None,
        error: None,
    };
    Ok(visitor.respond(render(StatusCode::OK, &page)))
}

/// The sign-up and log-in forms.
#[derive(Deserialize)]
pub struct CredentialsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// A refusal shown on the form itself: next to the field it blames, or above the form.
struct Refusal {
    status: StatusCode,
    general: Option<String>,
    error: Option<FieldError>,
    retry_after: Option<u64>,
}

impl Refusal {
    /// The form's page with the refusal's status; a flood keeps its `Retry-After` (429, 503)
    /// so that scripts and proxies see it.
    fn respond(&self, page: &impl Template) -> Response {
        let mut response = render(self.status, page);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

/// How an account error is shown on its form; failures of ours stay error pages.
fn form_refusal(error: AccountError) -> Result<Refusal, PageError> {
    let api = ApiError::from(error);
    if api.status().is_server_error() && api.retry_after().is_none() {
        return Err(api.into());
    }
    let (general, error) = match api.field() {
        Some(_) => (None, Some(FieldError::from_api(&api, ""))),
        None => (Some(api.description().to_owned()), None),
    };
    Ok(Refusal {
        status: api.status(),
        general,
        error,
        retry_after: api.retry_after(),
    })
}

/// POST /signup: creates the account and logs it in.
pub async fn sign_up(
    data: Data<AppState>,
    visitor: Visitor,
    ClientIp(client): ClientIp,
    Form(form): Form<CredentialsForm>,
) -> Result<Response, PageError> {
    visitor.check(&form.csrf)?;
    let next = next_or_me(&form.next);
    match accounts::sign_up(&data, client, &form.username, &form.password).await {
        Ok((mut tx, user)) => {
            let (secret, _) = sessions::open(&mut tx, user.id, data.clock.now()).await?;
            tx.commit().await.map_err(crate::store::StoreError::from)?;
            Ok(visitor.start_session(&secret, Redirect::to(&next)))
        }
        Err(error) => {
            let refusal = form_refusal(error)?;
            let page = SignUpPage {
                nav: Nav::of(&data, &visitor).await?,
                registrations_open: data.settings.registrations_open,
                next,
                username: form.username,
                general: refusal.general.clone(),
                error: refusal.error.clone(),
            };
            Ok(refusal.respond(&page))
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LogInPage {
    nav: Nav,
    next: String,
    username: String,
    general: Option<String>,
}

/// GET /login
pub async fn log_in_form(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> Result<Response, PageError> {
    let page = LogInPage {
        nav: Nav::of(&data, &visitor).await?,
        next: next_or_me(&query.next),
        username: String::new(),
        general: None,
    };
    Ok(visitor.respond(render(StatusCode::OK, &page)))
}

/// POST /login: opens a session and goes where the visitor was headed.
pub async fn log_in(
    data: Data<AppState>,
    visitor: Visitor,
    ClientIp(client): ClientIp,
    Form(form): Form<CredentialsForm>,
) -> Result<Response, PageError> {
    visitor.check(&form.csrf)?;
    let next = next_or_me(&form.next);
    match accounts::log_in(&data, client, &form.username, &form.password).await {
        Ok(user) => {
            let mut tx = data.store.begin().await?;
            let (secret, _) = sessions::open(&mut tx, user.id, data.clock.now()).await?;
            tx.commit().await.map_err(crate::store::StoreError::from)?;
            Ok(visitor.start_session(&secret, Redirect::to(&next)))
        }
        Err(error) => {
            let refusal = form_refusal(error)?;
            let page = LogInPage {
                nav: Nav::of(&data, &visitor).await?,
                next,
                username: form.username,
                general: refusal.general.clone(),
            };
            Ok(refusal.respond(&page))
        }
    }
}

/// A form that carries only its CSRF token.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
}

impl TokenForm {
    /// The CSRF token the form carried.
    pub fn token(&self) -> &str {
        &self.csrf
    }
}

/// POST /logout: ends the session here and in the database.
pub async fn log_out(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    visitor.check(&form.csrf)?;
    if let Some(secret) = visitor.session_secret() {
        let mut tx = data.store.begin().await?;
        sessions::close(&mut tx, secret, data.clock.now()).await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
    }
    Ok(visitor.end_session(Redirect::to("/")))
}

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

/// The query of a page a form redirected to: what the form did (`?done=budget`).
#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    done: String,
}

impl NoticeQuery {
    /// The sentence that says what was done, if the query names something.
    pub fn notice(&self, _page: &str) -> Option<String> {
        let text = match self.done.as_str() {
            "budget" => "Your budget is set.",
            "flattr" => "Flattred.",
            "undo" => "The flattr is undone.",
            "registered" => "Registered.",
            "proven" => "Proven yours: its flattrs pay you.",
            "unproven" => "Still not proven; see why below.",
            "changed" => "Saved.",
            "deleted" => "Deleted; its flattrs of open periods are withdrawn.",
            "claimed" => "Claimed: publish the token below, then verify.",
            "verified" => "Verified: pages under this domain are proven yours.",
            "payout" => "Payout requested.",
            "subscribed" => "Subscribed: flattred now and every month until it ends.",
            "paused" => "Subscription changed.",
            "stopped" => "Subscription stopped.",
            _ => return None,
        };
        Some(text.to_owned())
    }
}

/// GET /me
pub async fn me(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me")?;
    let input = MeInput {
        notice: query.notice("me"),
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

/// A refusal of `field`'s value, to show on the page: its status, the field and why. Failures
/// of ours stay errors.
fn field_refusal(api: ApiError, field: &str) -> Result<(StatusCode, FieldError), PageError> {
    if api.status().is_server_error() {
        return Err(api.into());
    }
    Ok((api.status(), FieldError::from_api(&api, field)))
}

/// POST /me/budget
pub async fn set_budget(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<BudgetForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me")?;
    visitor.check(&form.csrf)?;
    match accounts::set_budget(&data, user, &form.budget).await {
        Ok(()) => Ok(Redirect::to("/me?done=budget").into_response()),
        Err(error) => {
            let (status, error) = field_refusal(error.into(), "budget")?;
            let input = MeInput {
                budget_typed: Some(form.budget),
                error: Some(error),
                ..MeInput::default()
            };
            me_page(&data, &visitor, user, status, input).await
        }
    }
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
    let user = visitor.require("/me")?;
    visitor.check(&form.csrf)?;
    match flattr_text(&data, user, &form.url).await {
        Ok(_) => Ok(Redirect::to("/me?done=flattr").into_response()),
        Err(error) => {
            let (status, error) = field_refusal(error, "url")?;
            let input = MeInput {
                url_typed: form.url,
                error: Some(FieldError {
                    field: "url".into(),
                    ..error
                }),
                ..MeInput::default()
            };
            me_page(&data, &visitor, user, status, input).await
        }
    }
}

/// POST /me/flattrs/{id}/undo
pub async fn undo(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me")?;
    visitor.check(&form.csrf)?;
    let mut tx = data.store.begin().await?;
    flattring::undo(&mut tx, &data, user, id).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(Redirect::to("/me?done=undo").into_response())
}

/// POST /me/subscriptions/{id}/pause: pauses a running subscription, resumes a paused one.
pub async fn pause(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me")?;
    visitor.check(&form.csrf)?;
    let mut tx = data.store.begin().await?;
    let current = subscriptions::by_id(&mut *tx, id).await?;
    subscriptions::set_paused(&mut tx, id, user, current.paused == 0).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(Redirect::to("/me?done=paused").into_response())
}

/// POST /me/subscriptions/{id}/stop
pub async fn stop(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me")?;
    visitor.check(&form.csrf)?;
    let mut tx = data.store.begin().await?;
    subscriptions::stop(&mut tx, id, user, data.clock.now()).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(Redirect::to("/me?done=stopped").into_response())
}
