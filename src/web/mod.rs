//! Server-rendered pages for people, and the flattr button for other sites.
//!
//! The pages call the same use cases as the JSON API (`accounts`, `flattring`, `proving`, the
//! store and the ledger), so no rule exists twice: a handler parses the form, calls the layer
//! that owns the rule, and renders an askama template (`templates/`, compiled into the binary
//! and type-checked at build time). Errors of every layer are turned into a status and a
//! sentence by `http::error` (the one place that maps errors to HTTP) and rendered here as an
//! HTML page; a form whose input is refused is shown again with the error next to its field
//! and what was typed.
//!
//! - [`session`]: who is looking (cookie sessions) and CSRF tokens;
//! - [`forms`]: what every form shares: a logged-in user's POST (log in first, the CSRF
//!   token, the use case, a redirect or the form again with its refusal) in one helper;
//! - [`public`]: the front page, user and thing pages (the HTML side of `/users/NAME` and
//!   `/things/ID`; their ActivityPub answers stay `federation::pages`');
//! - [`reader`]: sign-up, log-in and out, the budget, my flattrs with undo, flattr any URL,
//!   subscriptions;
//! - [`creator`]: my things (register, edit, hide, delete, prove, embed code), my domains,
//!   my earnings with a chart ([`chart`]), payouts;
//! - [`admin`]: the admin's pages under `/admin` (overview and audit, users and deposits,
//!   periods and their close, peers and statements, payouts);
//! - [`button`]: the embeddable button (script, image, count), the flattr page behind it, the
//!   auto-submit URL in a browser and remote interaction.
//!
//! Pages and the button are described in docs/web.md and docs/embedding.md.

pub mod admin;
pub mod button;
pub mod chart;
pub mod creator;
pub mod forms;
pub mod public;
pub mod reader;
pub mod session;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::users;
use session::Visitor;

/// What our pages may load: our stylesheet and images, nothing else (no script); forms post
/// only to us; no site may frame them (a framed flattr button could be clickjacked).
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages' routes. `app` merges them beside the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(public::front))
        .route("/style.css", get(stylesheet))
        .route("/users/{name}", get(public::user))
        .route("/things/{id}", get(public::thing))
        .route(
            "/signup",
            get(reader::account::sign_up_form).post(reader::account::sign_up),
        )
        .route(
            "/login",
            get(reader::account::log_in_form).post(reader::account::log_in),
        )
        .route("/logout", post(reader::account::log_out))
        .route("/me", get(reader::flattrs::me))
        .route("/me/budget", post(reader::flattrs::set_budget))
        .route("/me/flattr", post(reader::flattrs::flattr_url))
        .route("/me/flattrs/{id}/undo", post(reader::flattrs::undo))
        .route(
            "/me/things",
            get(creator::things::my_things).post(creator::things::register),
        )
        .route("/me/things/{id}/prove", post(creator::things::prove))
        .route("/me/things/{id}/hide", post(creator::things::hide))
        .route("/me/things/{id}/delete", post(creator::things::delete))
        .route(
            "/me/things/{id}/edit",
            get(creator::things::edit_form).post(creator::things::edit),
        )
        .route("/me/domains", post(creator::domains::claim_domain))
        .route("/me/domains/verify", post(creator::domains::verify_domain))
        .route("/me/earnings", get(creator::earnings::my_earnings))
        .route("/me/payouts", post(creator::earnings::payout))
        .route(
            "/flattr",
            get(button::page::flattr_page).post(button::page::flattr),
        )
        .route("/flattr/remote", post(button::remote::remote))
        .route("/subscribe", post(button::page::subscribe))
        .route(
            "/me/subscriptions/{id}/pause",
            post(reader::subscriptions::pause),
        )
        .route(
            "/me/subscriptions/{id}/stop",
            post(reader::subscriptions::stop),
        )
        .route("/submit/auto", get(button::page::auto_submit))
        .route("/button.js", get(button::script))
        .route("/button.svg", get(button::image))
        .route("/button/count", get(button::count))
        .route("/admin", get(admin::overview))
        .route("/admin/users", get(admin::user_list))
        .route("/admin/users/{id}/disable", post(admin::disable))
        .route("/admin/users/{id}/enable", post(admin::enable))
        .route("/admin/deposits", post(admin::deposit))
        .route("/admin/periods", get(admin::books::period_list))
        .route(
            "/admin/periods/{period}/close",
            post(admin::books::close_period),
        )
        .route("/admin/peers", get(admin::peers::peer_list))
        .route("/admin/payouts", get(admin::books::payout_list))
        .route("/admin/payouts/export", post(admin::books::export))
        .route("/admin/payouts/confirm", post(admin::books::confirm))
        .layer(axum::middleware::from_fn(error_pages))
}

/// An error page still to be drawn: [`PageError`] turns into a response without the state,
/// so it leaves its heading and sentence here and [`error_pages`] draws the page with the
/// instance's name and the visitor's navigation.
#[derive(Clone, Debug)]
struct PendingErrorPage {
    heading: String,
    description: String,
}

/// Draws the error pages the handlers left pending ([`PendingErrorPage`]), with the layout's
/// instance name and the visitor's navigation. Only an error costs the visitor's lookup here.
async fn error_pages(
    data: activitypub_federation::config::Data<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers().clone();
    let mut response = next.run(request).await;
    let Some(pending) = response.extensions_mut().remove::<PendingErrorPage>() else {
        return response;
    };
    let mut copy = axum::http::Request::new(());
    *copy.headers_mut() = headers;
    let (mut parts, ()) = copy.into_parts();
    let nav = match <Visitor as axum::extract::FromRequestParts<AppState>>::from_request_parts(
        &mut parts, &data,
    )
    .await
    {
        Ok(visitor) => Nav::of(&data, &visitor).await.ok(),
        Err(_) => None,
    };
    let nav = nav.unwrap_or_else(|| Nav {
        instance: data.settings.domain.clone(),
        user: None,
        admin: false,
        csrf: String::new(),
    });
    let page = ErrorPage {
        nav,
        heading: pending.heading,
        description: pending.description,
    };
    let drawn = render(response.status(), &page);
    let (drawn, body) = drawn.into_parts();
    // The status and headers set with the error (Retry-After) stay; the page is the body.
    if let Some(policy) = drawn.headers.get(header::CONTENT_SECURITY_POLICY) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    }
    if let Some(kind) = drawn.headers.get(header::CONTENT_TYPE) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, kind.clone());
    }
    response.headers_mut().remove(header::CONTENT_LENGTH);
    *response.body_mut() = body;
    response
}

/// The stylesheet, compiled in; browsers may keep it for an hour.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/style.css"),
    )
        .into_response()
}

/// What the layout shows of the visitor: the instance's name, who is logged in, the token of
/// the log-out form.
pub struct Nav {
    /// The instance's domain.
    pub instance: String,
    /// The logged-in user's name.
    pub user: Option<String>,
    /// The logged-in user is an instance admin (the layout links the admin's pages).
    pub admin: bool,
    /// The CSRF token of this visitor's forms.
    pub csrf: String,
}

impl Nav {
    /// The navigation for `visitor`.
    pub async fn of(state: &AppState, visitor: &Visitor) -> Result<Nav, PageError> {
        let (user, admin) = match visitor.user_id() {
            Some(id) => {
                let row = users::by_id(state.store.pool(), id).await?;
                (Some(row.username), row.is_admin != 0)
            }
            None => (None, false),
        };
        Ok(Nav {
            instance: state.settings.domain.clone(),
            user,
            admin,
            csrf: visitor.csrf().to_owned(),
        })
    }
}

/// A refused field of a form: which one and why, shown next to it.
#[derive(Debug, Clone, Default)]
pub struct FieldError {
    /// The form field's name.
    pub field: String,
    /// The sentence shown next to it.
    pub message: String,
}

impl FieldError {
    /// The field an API error blames (or `fallback`), and its sentence.
    pub fn from_api(error: &ApiError, fallback: &str) -> FieldError {
        FieldError {
            field: error.field().unwrap_or(fallback).to_owned(),
            message: error.description().to_owned(),
        }
    }
}

/// A page's HTML with its status, under [`PAGE_POLICY`].
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "a template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
        }
    }
}

/// Why a page could not be shown: any layer's error (mapped to a status by `http::error`), or
/// a visitor who must log in first.
#[derive(Debug)]
pub enum PageError {
    /// An error of some layer, already mapped to its status and sentence.
    Api(ApiError),
    /// The page needs a logged-in user: go to the log-in page, then back to this path.
    LogIn(String),
}

impl PageError {
    /// 403: the form's CSRF token is missing or not this visitor's.
    pub fn csrf() -> PageError {
        PageError::Api(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "this form has expired or was sent from another site; reload the page and try again",
        ))
    }
}

macro_rules! page_error_from {
    ($($error:ty),*) => {$(
        impl From<$error> for PageError {
            fn from(e: $error) -> Self {
                PageError::Api(ApiError::from(e))
            }
        }
    )*};
}

page_error_from!(
    crate::store::StoreError,
    crate::ledger::LedgerError,
    crate::flattring::FlattrError,
    crate::proving::ProvingError,
    crate::accounts::AccountError,
    crate::federation::FederationError,
    crate::domain::ParseError,
    crate::limits::Limited,
    crate::settle::close::CloseError,
    axum::extract::rejection::FormRejection,
    axum::extract::rejection::PathRejection,
    axum::extract::rejection::QueryRejection
);

/// `axum::Form`, but a body that is no form is answered with our error page.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Form), rejection(PageError))]
pub struct Form<T>(pub T);

/// axum's `Path`, whose rejection is our error page.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(PageError))]
pub struct Path<T>(pub T);

/// axum's `Query`, whose rejection is our error page.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(PageError))]
pub struct Query<T>(pub T);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError::Api(e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    heading: String,
    description: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::LogIn(back) => {
                let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
                Redirect::to(&format!("/login?next={next}")).into_response()
            }
            PageError::Api(error) => {
                let status = error.status();
                let pending = PendingErrorPage {
                    heading: status.canonical_reason().unwrap_or("Error").to_owned(),
                    description: error.description().to_owned(),
                };
                // The page is drawn by `error_pages`, which knows the instance and visitor.
                let mut response = (status, pending.description.clone()).into_response();
                response.extensions_mut().insert(pending);
                if let Some(seconds) = error.retry_after() {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
        }
    }
}

/// A path on this instance to go back to after a form: only a local path (`/…`, not `//…`),
/// so that no link can send a visitor elsewhere through us.
pub fn local_path(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')).then_some(next)
}
