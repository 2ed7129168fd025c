//! The flattr button for any page, and the flattr page behind it.
//!
//! - `/button.js`: the one-line embed (a script that renders a link with the count);
//!   `/button.svg?url=`: the same as an image, for `<a><img></a>` without JavaScript;
//!   `/button/count?url=`: the count as JSON. All three are anonymous, cached for a minute and
//!   readable from any origin (CORS `*`): no cookie is read or set, so nothing leaks.
//! - `/flattr?url=`: what a button links to, opened at top level. A logged-in visitor confirms
//!   with one POST and is sent back to the page; others log in first (and come back here), or
//!   give their handle on another instance and are sent to flattr it from there (remote
//!   interaction, like Mastodon's `authorize_interaction`). `/submit/auto?…`, Flattr's
//!   auto-submit URL, is the same page for a thing created on its first flattr.
//!
//! Nothing here is framed: the button is a plain link in the embedding page, so the flattr
//! itself always happens on our page under `frame-ancestors 'none'` (no clickjacking).

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::reader::{FormError, flattr_text};
use super::session::Visitor;
use super::{FieldError, Form, Nav, PageError, Query, local_path, render};
use crate::domain::ParseError;
use crate::domain::flattr::SubscriptionPeriods;
use crate::domain::thing::{AutoSubmit, ThingUrl, page_id};
use crate::federation::discovery;
use crate::federation::objects::thing_url;
use crate::flattring;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::things::{self, ThingRow};

/// How long browsers and caches may keep a count (seconds): a minute old is fresh enough for
/// a button, and a popular page's readers then cost one request a minute each at most.
const COUNT_MAX_AGE: &str = "public, max-age=60";

/// What a URL to flattr is, told without fetching anything.
struct Described {
    title: String,
    /// The page being flattred (where "back" goes).
    target: String,
    count: Option<i64>,
    about: String,
    /// The id another instance can fetch to flattr it from there, if it has one.
    remote_id: Option<String>,
}

fn known(state: &AppState, thing: ThingRow) -> Described {
    let remote_id = match thing.owner_id {
        Some(_) => Some(thing_url(state, thing.id).to_string()),
        None => thing.ap_id.clone(),
    };
    Described {
        about: match thing.owner_id {
            Some(_) => format!("By {} on this instance.", thing.owner),
            None => "A thing on another server: your flattr reaches its owner there.".into(),
        },
        count: Some(thing.flattrs + thing.remote_flattrs),
        title: thing.title,
        target: thing.url,
        remote_id,
    }
}

async fn describe(state: &AppState, url: &ThingUrl) -> Result<Described, PageError> {
    let pool = state.store.pool();
    let base = &state.settings.base_url;
    if let Some(auto) = AutoSubmit::parse(url.as_url(), base)? {
        if let Some(thing) = things::by_url(pool, auto.url.as_str()).await? {
            return Ok(known(state, thing));
        }
        return Ok(Described {
            title: auto.fields.title,
            target: auto.url.as_str().to_owned(),
            count: Some(0),
            about: format!(
                "A page by {} on this instance; the first flattr registers it for them.",
                auto.owner
            ),
            remote_id: None,
        });
    }
    if let Some(thing) = things::by_url(pool, url.as_str()).await? {
        return Ok(known(state, thing));
    }
    if let Some(id) = page_id(base, url.as_url()) {
        return Ok(known(state, things::by_id(pool, id).await?));
    }
    Ok(Described {
        title: url.as_str().to_owned(),
        target: url.as_str().to_owned(),
        count: None,
        about: "A page on another server: your flattr reaches its owner there.".into(),
        remote_id: Some(url.as_str().to_owned()),
    })
}

#[derive(Template)]
#[template(path = "flattr.html")]
struct FlattrPage {
    nav: Nav,
    title: String,
    target: String,
    count: Option<i64>,
    about: String,
    url: String,
    back: String,
    here: String,
    logged_in: bool,
    remote_ok: bool,
    handle: String,
    general: Option<String>,
    error: Option<FieldError>,
}

impl FormError for FlattrPage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

/// What the flattr page is shown with besides the URL.
#[derive(Default)]
struct Shown {
    back: String,
    handle: String,
    general: Option<String>,
    error: Option<FieldError>,
}

fn here(url: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    format!("/flattr?url={encoded}")
}

async fn flattr_page_for(
    state: &AppState,
    visitor: &Visitor,
    url: &str,
    status: StatusCode,
    shown: Shown,
) -> Result<Response, PageError> {
    let parsed = ThingUrl::parse(url)?;
    let described = describe(state, &parsed).await?;
    let page = FlattrPage {
        nav: Nav::of(state, visitor).await?,
        back: if shown.back.is_empty() {
            described.target.clone()
        } else {
            shown.back
        },
        title: described.title,
        target: described.target,
        count: described.count,
        about: described.about,
        url: parsed.as_str().to_owned(),
        here: here(parsed.as_str()),
        logged_in: visitor.user_id().is_some(),
        remote_ok: described.remote_id.is_some(),
        handle: shown.handle,
        general: shown.general,
        error: shown.error,
    };
    let mut response = visitor.respond(render(status, &page));
    // The handle form is answered with a redirect to the visitor's own instance, which
    // `form-action 'self'` would block: this page alone may send a form elsewhere.
    let schemes = if state.settings.development_mode {
        "http: https:"
    } else {
        "https:"
    };
    if let Ok(policy) = HeaderValue::from_str(&super::PAGE_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {schemes}"),
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(response)
}

/// The query of `/flattr`.
#[derive(Deserialize)]
pub struct UrlQuery {
    #[serde(default)]
    url: String,
}

/// GET /flattr?url=: the page a button links to.
pub async fn flattr_page(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<UrlQuery>,
) -> Result<Response, PageError> {
    flattr_page_for(
        &data,
        &visitor,
        &query.url,
        StatusCode::OK,
        Shown::default(),
    )
    .await
}

/// GET /submit/auto?user_id=…&url=…&title=…: Flattr's auto-submit URL in a browser is the
/// flattr page of the URL it names.
pub async fn auto_submit(
    data: Data<AppState>,
    visitor: Visitor,
    uri: Uri,
) -> Result<Response, PageError> {
    let mut full = data.settings.base_url.clone();
    full.set_path("/submit/auto");
    full.set_query(uri.query());
    flattr_page_for(
        &data,
        &visitor,
        full.as_str(),
        StatusCode::OK,
        Shown::default(),
    )
    .await
}

/// The flattr form: what to flattr and where to go afterwards.
#[derive(Deserialize)]
pub struct FlattrForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    back: String,
}

/// POST /flattr: flattrs for the logged-in visitor, then goes back (to a page of ours, or to
/// the very page that was flattred: no open redirect).
pub async fn flattr(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<FlattrForm>,
) -> Result<Response, PageError> {
    let user = visitor.require(&here(&form.url))?;
    visitor.check(&form.csrf)?;
    match flattr_text(&data, user, &form.url).await {
        Ok(row) => {
            // Back to a page of ours, or to the page just flattred (marked, so that its
            // button shows the new count instead of a cached one); nowhere else.
            let back = match local_path(&form.back) {
                Some(path) => path.to_owned(),
                None if form.back == row.thing_url || form.back == form.url => {
                    let mut back = form.back.clone();
                    if !back.contains('#') {
                        back.push_str("#flattred");
                    }
                    back
                }
                None => "/me?done=flattr".to_owned(),
            };
            Ok(Redirect::to(&back).into_response())
        }
        Err(error) if !error.status().is_server_error() => {
            let shown = Shown {
                back: form.back,
                general: Some(error.description().to_owned()),
                ..Shown::default()
            };
            flattr_page_for(&data, &visitor, &form.url, error.status(), shown).await
        }
        Err(error) => Err(error.into()),
    }
}

/// The subscription form: what, and for how many periods.
#[derive(Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    periods: String,
}

/// Subscribes `user` to what `url` names, as the API does: find first, then one transaction.
async fn subscribe_to(
    data: &Data<AppState>,
    user: i64,
    form: &SubscribeForm,
) -> Result<(), ApiError> {
    let periods: i64 = form
        .periods
        .trim()
        .parse()
        .map_err(|_| ParseError::new("periods", "must be 3, 6 or 12"))?;
    let periods = SubscriptionPeriods::parse(periods)?;
    let target = flattring::find(data, &ThingUrl::parse(&form.url)?).await?;
    let mut tx = data.store.begin().await?;
    flattring::subscribe(&mut tx, data, user, target, periods).await?;
    tx.commit().await?;
    Ok(())
}

/// POST /subscribe: flattrs now and every period for 3, 6 or 12 periods.
pub async fn subscribe(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<SubscribeForm>,
) -> Result<Response, PageError> {
    let user = visitor.require(&here(&form.url))?;
    visitor.check(&form.csrf)?;
    match subscribe_to(&data, user, &form).await {
        Ok(()) => Ok(Redirect::to("/me?done=subscribed").into_response()),
        Err(error) if !error.status().is_server_error() => {
            let shown = Shown {
                general: Some(error.description().to_owned()),
                ..Shown::default()
            };
            flattr_page_for(&data, &visitor, &form.url, error.status(), shown).await
        }
        Err(error) => Err(error.into()),
    }
}

/// The remote-interaction form: a thing here, a handle elsewhere.
#[derive(Deserialize)]
pub struct RemoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    handle: String,
}

/// POST /flattr/remote: sends the visitor to their home instance's page for flattring this
/// thing, found through WebFinger (its `http://ostatus.org/schema/1.0/subscribe` template).
pub async fn remote(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<RemoteForm>,
) -> Result<Response, PageError> {
    visitor.check(&form.csrf)?;
    let url = ThingUrl::parse(&form.url)?;
    let described = describe(&data, &url).await?;
    let Some(object) = described.remote_id else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_registered",
            "this page is not registered yet; it can be flattred from this instance only",
        )
        .into());
    };
    match discovery::interaction_url(&data, &form.handle, &object).await {
        Ok(there) => Ok(Redirect::to(there.as_str()).into_response()),
        Err(error) => {
            let api = ApiError::from(error);
            if api.status().is_server_error() {
                return Err(api.into());
            }
            let shown = Shown {
                handle: form.handle,
                error: Some(FieldError {
                    field: "handle".into(),
                    message: api.description().to_owned(),
                }),
                ..Shown::default()
            };
            flattr_page_for(&data, &visitor, &form.url, api.status(), shown).await
        }
    }
}

/// The count of the thing registered for `url` (0 when none is).
async fn count_of(state: &AppState, url: &str) -> Result<i64, PageError> {
    let url = ThingUrl::parse(url)?;
    Ok(things::by_url(state.store.pool(), url.as_str())
        .await?
        .map_or(0, |t| t.flattrs + t.remote_flattrs))
}

fn embeddable(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(COUNT_MAX_AGE),
    );
    response
}

/// GET /button/count?url=: `{"url", "count"}` for the script.
pub async fn count(
    data: Data<AppState>,
    Query(query): Query<UrlQuery>,
) -> Result<Response, PageError> {
    let count = count_of(&data, &query.url).await?;
    Ok(embeddable(
        axum::Json(serde_json::json!({"url": query.url, "count": count})).into_response(),
    ))
}

/// The button as an SVG image: "Flattr" and the count.
pub fn svg(count: i64) -> String {
    let digits = count.to_string();
    // About 8 px per digit at 13 px; the count box grows with it.
    let count_width = 16 + 8 * i64::try_from(digits.len()).unwrap_or(1);
    let width = 60 + count_width;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"24\" role=\"img\" \
         aria-label=\"Flattr: {digits} flattrs\"><title>Flattr: {digits} flattrs</title>\
         <rect width=\"{width}\" height=\"24\" rx=\"4\" fill=\"#1d6b2a\"/>\
         <rect x=\"58\" y=\"3\" width=\"{inner}\" height=\"18\" rx=\"3\" fill=\"#fff\"/>\
         <g font-family=\"system-ui,sans-serif\" font-size=\"13\">\
         <text x=\"8\" y=\"17\" fill=\"#fff\" font-weight=\"bold\">Flattr</text>\
         <text x=\"{middle}\" y=\"17\" fill=\"#1a1a1a\" text-anchor=\"middle\">{digits}</text></g></svg>",
        inner = count_width - 2,
        middle = 58 + (count_width - 2) / 2,
    )
}

/// GET /button.svg?url=: the button without JavaScript.
pub async fn image(
    data: Data<AppState>,
    Query(query): Query<UrlQuery>,
) -> Result<Response, PageError> {
    let count = count_of(&data, &query.url).await?;
    Ok(embeddable(
        ([(header::CONTENT_TYPE, "image/svg+xml")], svg(count)).into_response(),
    ))
}

/// GET /button.js: the embed script, the same for every page (cached for an hour).
pub async fn script() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../templates/button.js"),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// The HTML a creator pastes under a post: the script, and the image link for readers
/// without JavaScript; `owner` makes it an auto-submit button.
pub fn embed_code(base: &url::Url, page: &str, owner: Option<&str>) -> String {
    let origin = base.as_str().trim_end_matches('/');
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let target = match owner {
        Some(owner) => format!(
            "{origin}/submit/auto?user_id={}&url={}",
            enc(owner),
            enc(page)
        ),
        None => page.to_owned(),
    };
    let owner_attr = owner.map_or(String::new(), |o| format!(" data-owner=\"{o}\""));
    format!(
        "<script async src=\"{origin}/button.js\" data-url=\"{page}\"{owner_attr}></script>\n\
         <noscript><a href=\"{origin}/flattr?url={target}\"><img src=\"{origin}/button.svg?url={page_enc}\" \
         alt=\"Flattr this\" width=\"84\" height=\"24\"></a></noscript>",
        target = enc(&target),
        page_enc = enc(page),
    )
}
