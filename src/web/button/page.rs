//! The flattr page behind the button (`/flattr?url=`, and `/submit/auto?…` in a browser): a
//! logged-in visitor confirms with one POST and is sent back to the page; others log in
//! first (and come back here), or give their handle on another instance ([`super::remote`]).
//! A subscription starts here too.

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde::Deserialize;

use super::UrlQuery;
use crate::domain::ParseError;
use crate::domain::flattr::SubscriptionPeriods;
use crate::domain::thing::{AutoSubmit, ThingUrl, page_id};
use crate::federation::objects::thing_url;
use crate::flattring;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::things::{self, ThingRow};
use crate::web::forms::{FormError, submit};
use crate::web::reader::flattrs::flattr_text;
use crate::web::session::Visitor;
use crate::web::{FieldError, Form, Nav, PageError, Query, local_path, render};

/// What a URL to flattr is, told without fetching anything.
pub(super) struct Described {
    title: String,
    /// The page being flattred (where "back" goes).
    target: String,
    count: Option<i64>,
    about: String,
    /// The id another instance can fetch to flattr it from there; `None` for an auto-submit
    /// URL whose thing does not exist yet (remote interaction creates it first).
    pub(super) remote_id: Option<String>,
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

pub(super) async fn describe(state: &AppState, url: &ThingUrl) -> Result<Described, PageError> {
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
pub(super) struct Shown {
    pub(super) back: String,
    pub(super) handle: String,
    pub(super) general: Option<String>,
    pub(super) error: Option<FieldError>,
}

fn here(url: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    format!("/flattr?url={encoded}")
}

pub(super) async fn flattr_page_for(
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
    if let Ok(policy) = HeaderValue::from_str(&crate::web::PAGE_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {schemes}"),
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(response)
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

/// Where to go after flattring: back to a page of ours, or to the page just flattred (marked,
/// so that its button shows the new count instead of a cached one); nowhere else (no open
/// redirect).
fn back_after(form: &FlattrForm, flattred: &str) -> String {
    match local_path(&form.back) {
        Some(path) => path.to_owned(),
        None if form.back == flattred || form.back == form.url => {
            let mut back = form.back.clone();
            if !back.contains('#') {
                back.push_str("#flattred");
            }
            back
        }
        None => "/me?done=flattr".to_owned(),
    }
}

/// The flattr page again with a refusal above its button (the form has no field to blame).
async fn refused(
    data: &AppState,
    visitor: &Visitor,
    url: &str,
    back: String,
    status: StatusCode,
    error: FieldError,
) -> Result<Response, PageError> {
    let shown = Shown {
        back,
        general: Some(error.message),
        ..Shown::default()
    };
    flattr_page_for(data, visitor, url, status, shown).await
}

/// POST /flattr: flattrs for the logged-in visitor, then goes back.
pub async fn flattr(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<FlattrForm>,
) -> Result<Response, PageError> {
    submit(
        &visitor,
        &here(&form.url),
        &form.csrf,
        "url",
        async |user| {
            let row = flattr_text(&data, user, &form.url).await?;
            Ok(back_after(&form, &row.thing_url))
        },
        async |_, status, error| {
            let back = form.back.clone();
            refused(&data, &visitor, &form.url, back, status, error).await
        },
    )
    .await
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
    submit(
        &visitor,
        &here(&form.url),
        &form.csrf,
        "periods",
        async |user| {
            subscribe_to(&data, user, &form).await?;
            Ok("/me?done=subscribed".to_owned())
        },
        async |_, status, error| {
            refused(&data, &visitor, &form.url, String::new(), status, error).await
        },
    )
    .await
}
