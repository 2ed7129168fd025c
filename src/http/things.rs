//! Things: register, look up by URL, read, edit, delete, and list a user's things.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AuthUser, Json, MaybeUser, Path, Query};
use crate::domain::money::Money;
use crate::domain::thing::{
    ThingFields, ThingUrl, parse_category, parse_description, parse_language, parse_tags,
    parse_title,
};
use crate::proving;
use crate::store::things::{self, ThingRow};
use crate::store::users;
use activitypub_federation::config::Data;

/// `/api/v1/things`: register, read, change, delete, look up.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_thing))
        .routes(routes!(lookup))
        .routes(routes!(get_thing, update_thing, delete_thing))
        .routes(routes!(things_of_user))
        .routes(routes!(prove_thing))
}

/// The body of `POST /api/v1/things`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewThing {
    /// The URL of the post, article or video (http or https; not an ActivityPub object of another server, not a page of this instance).
    #[schema(example = "https://blog.example/2026/11/hello")]
    url: String,
    /// Its title.
    #[schema(example = "Hello, fediverse")]
    title: String,
    /// A short description (optional).
    #[serde(default)]
    description: String,
    /// Tags (optional).
    #[serde(default)]
    tags: Vec<String>,
    /// `en`, `en-GB` or Flattr's `en_GB`.
    #[serde(default)]
    language: String,
    /// One of text, images, video, audio, software, people, rest.
    #[serde(default = "rest")]
    #[schema(example = "text")]
    category: String,
    /// Hidden things are not listed on the owner's page (default false).
    #[serde(default)]
    hidden: bool,
}

fn rest() -> String {
    "rest".into()
}

/// Fields to change; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThingUpdate {
    /// A new title.
    title: Option<String>,
    /// A new description.
    description: Option<String>,
    /// New tags (replace the old ones).
    tags: Option<Vec<String>>,
    /// A language tag such as `en`.
    language: Option<String>,
    /// One of Flattr's categories: `text`, `images`, `video`, `audio`, `software`, `people`, `rest`.
    category: Option<String>,
    /// Hide it from the owner's page, or show it again.
    hidden: Option<bool>,
}

/// A thing's owner as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct Owner {
    /// The owner's username on this instance.
    username: String,
}

/// A thing as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct Thing {
    /// Always `thing`.
    #[schema(example = "thing")]
    r#type: &'static str,
    /// The thing.
    id: i64,
    /// This thing in the API.
    resource: String,
    /// This thing's page on the instance.
    link: String,
    /// The URL it was registered with.
    url: String,
    /// Its title.
    title: String,
    /// Its description.
    description: String,
    /// Its tags.
    tags: Vec<String>,
    /// Its language tag.
    language: String,
    /// Its Flattr category.
    category: String,
    /// Whether it is hidden from the owner's page.
    hidden: bool,
    /// Who is paid for it.
    owner: Owner,
    /// How many flattrs it has received from users of this instance (all periods).
    flattrs: i64,
    /// How many flattrs (Likes) it has received from users of other servers, not undone.
    remote_flattrs: i64,
    /// True for a thing of another server that a user here flattred; `owner.username` is then
    /// the owner's actor id.
    remote: bool,
    /// Whether its URL is proven its owner's (always true for a thing of another server: its
    /// owner is the object's creator). Shares of flattrs of an unproven thing are held.
    proven: bool,
    /// How it was proven: `payment_link` (its page links back) or `verified_domain`.
    proof: Option<String>,
    /// Why it is not proven, while it is not.
    #[schema(
        example = "no rel=payment link to https://ff.example/users/bob or https://ff.example/things/7 found on the page"
    )]
    unproven_reason: Option<String>,
    /// Money of closed periods held for it until it is proven (or returned to the payers).
    #[schema(value_type = String, example = "0.00")]
    held: Money,
    /// When it was registered.
    created_at: chrono::DateTime<chrono::Utc>,
    /// When it last changed.
    updated_at: chrono::DateTime<chrono::Utc>,
}

/// The API's view of a stored thing.
pub fn view(state: &AppState, row: ThingRow) -> Thing {
    let base = &state.settings.base_url;
    let proven = row.owner_id.is_none() || row.proven_at.is_some();
    let unproven_reason = (!proven).then(|| {
        row.proof_problem.clone().unwrap_or_else(|| {
            format!(
                "not checked yet: link the page back with rel=payment and call POST /api/v1/things/{}/prove, or verify its domain",
                row.id
            )
        })
    });
    let join = |path: String| base.join(&path).map(|u| u.to_string()).unwrap_or_default();
    Thing {
        r#type: "thing",
        resource: join(format!("api/v1/things/{}", row.id)),
        link: crate::domain::thing::page_url(base, row.id).to_string(),
        tags: row.tags(),
        id: row.id,
        url: row.url,
        title: row.title,
        description: row.description,
        language: row.language,
        category: row.category,
        hidden: row.hidden != 0,
        owner: Owner {
            username: row.owner,
        },
        flattrs: row.flattrs,
        remote_flattrs: row.remote_flattrs,
        remote: row.owner_id.is_none(),
        proven,
        proof: row.proof,
        unproven_reason,
        held: Money::from_minor(row.held),
        created_at: crate::store::from_epoch(row.created_at),
        updated_at: crate::store::from_epoch(row.updated_at),
    }
}

/// Registers a thing owned by the signed-in user. Its URL is fetched first: an ActivityPub
/// object of another server is refused (`remote_object`: flattring it reaches its owner
/// there), as is a URL of this instance (`instance_url`). The thing is proven when its page
/// links back with `rel="payment"` to your profile or is under a domain you verified; until
/// then its shares are held. An unreadable page registers the thing unproven.
#[utoipa::path(post, path = "/things", tag = "things", security(("bearer" = [])), request_body = NewThing,
    responses((status = 201, body = Thing, description = "The thing, registered (proven or not: see `proven` and `unproven_reason`)"), (status = 409, body = ErrorBody, description = "conflict: this URL is registered already"),
              (status = 422, body = ErrorBody, description = "invalid_parameters, remote_object, instance_url"),
              (status = 429, body = ErrorBody, description = "rate_limited: too many URLs examined for that origin; see Retry-After")))]
async fn create_thing(
    State(state): State<AppState>,
    data: Data<AppState>,
    auth: AuthUser,
    Json(body): Json<NewThing>,
) -> Result<(StatusCode, Json<Thing>), ApiError> {
    let url = ThingUrl::parse(&body.url)?;
    let fields = ThingFields {
        title: parse_title(&body.title)?,
        description: parse_description(&body.description)?,
        tags: parse_tags(&body.tags)?,
        language: parse_language(&body.language)?,
        category: parse_category(&body.category)?,
        hidden: body.hidden,
    };
    let examined = proving::examine(&data, &url).await?;
    let mut tx = state.store.begin().await?;
    let row = proving::register(&mut tx, &state, auth.id, &url, &fields, &examined).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view(&state, row))))
}

/// Checks again whether your thing is proven: its page is fetched and searched for a
/// `rel="payment"` link (`<link>` or `<a>`) to your profile (`/users/NAME`) or to the thing's
/// page here (`/things/ID`). When it is proven now, the money held for it goes to your
/// earnings. The answer says `proven`, and `unproven_reason` when not.
#[utoipa::path(post, path = "/things/{id}/prove", tag = "things", security(("bearer" = [])), params(("id" = i64, Path, description = "The thing's id")),
    responses((status = 200, body = Thing, description = "The thing, with its proof checked again"), (status = 403, body = ErrorBody, description = "forbidden: not the thing's owner"), (status = 404, body = ErrorBody, description = "not_found: no such thing"),
              (status = 422, body = ErrorBody, description = "remote_object"), (status = 429, body = ErrorBody, description = "rate_limited: too many URLs examined for that origin; see Retry-After")))]
async fn prove_thing(
    State(state): State<AppState>,
    data: Data<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> Result<Json<Thing>, ApiError> {
    let row = proving::prove(&data, auth.id, id).await?;
    Ok(Json(view(&state, row)))
}

/// The query of `GET /api/v1/things/lookup`: the URL to find.
#[derive(Deserialize, IntoParams)]
pub struct LookupQuery {
    /// The URL of the thing.
    url: String,
}

/// Finds the thing registered for a URL.
#[utoipa::path(get, path = "/things/lookup", tag = "things", params(LookupQuery),
    responses((status = 200, body = Thing, description = "The thing registered at that URL"), (status = 404, body = ErrorBody, description = "not_found: no thing has that URL"), (status = 422, body = ErrorBody, description = "invalid_parameters: the URL does not parse")))]
async fn lookup(
    State(state): State<AppState>,
    Query(query): Query<LookupQuery>,
) -> Result<Json<Thing>, ApiError> {
    let url = ThingUrl::parse(&query.url)?;
    let row = things::by_url(state.store.pool(), url.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("thing"))?;
    Ok(Json(view(&state, row)))
}

/// One thing.
#[utoipa::path(get, path = "/things/{id}", tag = "things", params(("id" = i64, Path, description = "The thing's id")),
    responses((status = 200, body = Thing, description = "The thing"), (status = 404, body = ErrorBody, description = "not_found: no such thing (or hidden from the viewer)")))]
async fn get_thing(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Thing>, ApiError> {
    Ok(Json(view(
        &state,
        things::by_id(state.store.pool(), id).await?,
    )))
}

/// Edits your own thing.
#[utoipa::path(patch, path = "/things/{id}", tag = "things", security(("bearer" = [])), params(("id" = i64, Path, description = "The thing's id")),
    request_body = ThingUpdate,
    responses((status = 200, body = Thing, description = "The thing, changed"), (status = 403, body = ErrorBody, description = "forbidden: not the thing's owner"), (status = 404, body = ErrorBody, description = "not_found: no such thing")))]
async fn update_thing(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<ThingUpdate>,
) -> Result<Json<Thing>, ApiError> {
    let mut tx = state.store.begin().await?;
    let current = things::by_id(&mut *tx, id).await?;
    let fields = ThingFields {
        title: parse_title(body.title.as_deref().unwrap_or(&current.title))?,
        description: parse_description(
            body.description.as_deref().unwrap_or(&current.description),
        )?,
        tags: parse_tags(&body.tags.unwrap_or_else(|| current.tags()))?,
        language: parse_language(body.language.as_deref().unwrap_or(&current.language))?,
        category: parse_category(body.category.as_deref().unwrap_or(&current.category))?,
        hidden: body.hidden.unwrap_or(current.hidden != 0),
    };
    let row = things::update(&mut tx, id, auth.id, &fields, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(view(&state, row)))
}

/// Deletes your own thing; its flattrs in open periods are withdrawn.
#[utoipa::path(delete, path = "/things/{id}", tag = "things", security(("bearer" = [])), params(("id" = i64, Path, description = "The thing's id")),
    responses((status = 204, description = "The thing is deleted"), (status = 403, body = ErrorBody, description = "forbidden: not the thing's owner"), (status = 404, body = ErrorBody, description = "not_found: no such thing")))]
async fn delete_thing(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.store.begin().await?;
    things::delete(&mut tx, id, auth.id, state.clock.now()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's things, newest first; hidden ones only for their owner.
#[utoipa::path(get, path = "/users/{username}/things", tag = "things", params(("username" = String, Path, description = "A username on this instance")),
    responses((status = 200, body = [Thing], description = "The user's things (hidden ones only to their owner)"), (status = 404, body = ErrorBody, description = "not_found: no such user")))]
async fn things_of_user(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(username): Path<String>,
) -> Result<Json<Vec<Thing>>, ApiError> {
    let pool = state.store.pool();
    let owner = users::by_name(pool, &username).await?;
    let own = viewer.0.is_some_and(|v| v.id == owner.id);
    let rows = things::by_owner(pool, owner.id, own).await?;
    Ok(Json(
        rows.into_iter().map(|row| view(&state, row)).collect(),
    ))
}
