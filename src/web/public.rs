//! What everyone sees: the front page (what this instance is), a user's page listing their
//! things, and a thing's page with its count and flattr button. `/users/NAME` and
//! `/things/ID` answer servers with ActivityPub JSON (`federation::pages`, unchanged) and
//! people with these pages.

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::session::Visitor;
use super::{Nav, PageError, Path, render};
use crate::federation::actors::user_url;
use crate::federation::authorized::FetchRequest;
use crate::federation::objects::thing_url;
use crate::federation::pages;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{StoreError, things, users};

#[derive(Template)]
#[template(path = "front.html")]
struct Front {
    nav: Nav,
    currency: String,
    fee: String,
    min_budget: String,
    users: i64,
    things: i64,
    registrations_open: bool,
}

/// GET /: what this instance is.
pub async fn front(data: Data<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let pool = data.store.pool();
    let page = Front {
        nav: Nav::of(&data, &visitor).await?,
        currency: data.settings.currency.to_string(),
        fee: (data.settings.fee_rate.to_decimal() * rust_decimal::Decimal::ONE_HUNDRED)
            .normalize()
            .to_string(),
        min_budget: data.settings.min_budget.to_string(),
        users: users::count(pool).await?,
        things: things::count_local(pool).await?,
        registrations_open: data.settings.registrations_open,
    };
    Ok(visitor.respond(render(StatusCode::OK, &page)))
}

/// A thing in a list.
pub struct ListedThing {
    /// Its id (its page is `/things/ID`).
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Flattrs from here and from other servers.
    pub count: i64,
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    nav: Nav,
    handle: String,
    username: String,
    actor: String,
    things: Vec<ListedThing>,
}

/// Caches must keep the HTML and the JSON of one URL apart.
fn vary_accept(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// GET /users/{name}: the `Person` for servers, the user's things for people.
pub async fn user(
    data: Data<AppState>,
    request: FetchRequest,
    visitor: Visitor,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    if request.wants_activity_json() {
        return Ok(vary_accept(
            pages::user(&data, &request, &name)
                .await
                .unwrap_or_else(IntoResponse::into_response),
        ));
    }
    let pool = data.store.pool();
    let user = users::by_name(pool, &name).await?;
    let own = visitor.user_id() == Some(user.id);
    let things = things::by_owner(pool, user.id, own)
        .await?
        .into_iter()
        .map(|t| ListedThing {
            id: t.id,
            title: t.title,
            count: t.flattrs + t.remote_flattrs,
        })
        .collect();
    let page = UserPage {
        nav: Nav::of(&data, &visitor).await?,
        handle: format!("@{}@{}", user.username, data.settings.domain),
        actor: user_url(&data, &user.username).to_string(),
        username: user.username,
        things,
    };
    Ok(vary_accept(visitor.respond(render(StatusCode::OK, &page))))
}

#[derive(Template)]
#[template(path = "thing.html")]
struct ThingPage {
    nav: Nav,
    id: i64,
    title: String,
    description: String,
    url: String,
    owner: String,
    count: i64,
    page: String,
}

/// GET /things/{id}: the `Page` for servers, the thing and its flattr button for people.
pub async fn thing(
    data: Data<AppState>,
    request: FetchRequest,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("this thing"))?;
    if request.wants_activity_json() {
        return Ok(vary_accept(
            pages::thing(&data, &request, id)
                .await
                .unwrap_or_else(IntoResponse::into_response),
        ));
    }
    let thing = things::by_id(data.store.pool(), id).await?;
    if thing.owner_id.is_none() {
        // A thing of another server: its page is there.
        return Err(StoreError::NotFound("thing").into());
    }
    let page = ThingPage {
        nav: Nav::of(&data, &visitor).await?,
        id: thing.id,
        page: thing_url(&data, thing.id).to_string(),
        count: thing.flattrs + thing.remote_flattrs,
        title: thing.title,
        description: thing.description,
        url: thing.url,
        owner: thing.owner,
    };
    Ok(vary_accept(visitor.respond(render(StatusCode::OK, &page))))
}
