//! Sign up, log in and out. Both forms run through `accounts`, so the pages share the API's
//! hashing pool and per-address limits; before log-in there is no session, so their CSRF
//! token is the anonymous visitor's (double submit, see `web::session`).

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use crate::accounts::{self, AccountError};
use crate::http::error::ApiError;
use crate::http::extract::ClientIp;
use crate::state::AppState;
use crate::store::sessions;
use crate::web::forms::{FormError, TokenForm};
use crate::web::session::Visitor;
use crate::web::{FieldError, Form, Nav, PageError, Query, local_path, render};

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

/// POST /logout: ends the session here and in the database.
pub async fn log_out(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    visitor.check(form.token())?;
    if let Some(secret) = visitor.session_secret() {
        let mut tx = data.store.begin().await?;
        sessions::close(&mut tx, secret, data.clock.now()).await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
    }
    Ok(visitor.end_session(Redirect::to("/")))
}
