//! My things: the list, register, check the proof again, hide or show, delete, edit.

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::{ThingForm, ThingsInput, things_page};
use crate::domain::thing::{CATEGORIES, ThingFields, ThingUrl};
use crate::proving;
use crate::state::AppState;
use crate::store::{StoreError, things};
use crate::web::forms::{FormError, NoticeQuery, TokenForm, press, submit};
use crate::web::session::Visitor;
use crate::web::{FieldError, Form, Nav, PageError, Path, Query, render};

/// GET /me/things
pub async fn my_things(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    let input = ThingsInput {
        notice: query.notice(),
        ..ThingsInput::default()
    };
    things_page(&data, &visitor, user, StatusCode::OK, input).await
}

/// POST /me/things: registers a thing (the page is examined first, outside the transaction).
pub async fn register(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<ThingForm>,
) -> Result<Response, PageError> {
    submit(
        &visitor,
        "/me/things",
        &form.csrf,
        "url",
        async |user| {
            let url = ThingUrl::parse(&form.url)?;
            let fields = form.fields(false)?;
            let examined = proving::examine(&data, &url).await?;
            let mut tx = data.store.begin().await?;
            proving::register(&mut tx, &data, user, &url, &fields, &examined).await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok("/me/things?done=registered".to_owned())
        },
        async |user, status, error| {
            let input = ThingsInput {
                form: form.clone(),
                error: Some(error),
                ..ThingsInput::default()
            };
            things_page(&data, &visitor, user, status, input).await
        },
    )
    .await
}

/// POST /me/things/{id}/prove: checks the proof again.
pub async fn prove(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    press(&visitor, "/me/things", &form, async |user| {
        let row = proving::prove(&data, user, id).await?;
        let done = if row.proven_at.is_some() {
            "proven"
        } else {
            "unproven"
        };
        Ok(format!("/me/things?done={done}"))
    })
    .await
}

/// POST /me/things/{id}/hide: hides a shown thing, shows a hidden one.
pub async fn hide(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    press(&visitor, "/me/things", &form, async |user| {
        let mut tx = data.store.begin().await?;
        let current = things::by_id(&mut *tx, id).await?;
        let fields = ThingFields {
            tags: current.tags(),
            hidden: current.hidden == 0,
            title: current.title,
            description: current.description,
            language: current.language,
            category: current.category,
        };
        things::update(&mut tx, id, user, &fields, data.clock.now()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok("/me/things?done=changed".to_owned())
    })
    .await
}

/// POST /me/things/{id}/delete: deletes a thing (its open flattrs are withdrawn).
pub async fn delete(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    press(&visitor, "/me/things", &form, async |user| {
        let mut tx = data.store.begin().await?;
        things::delete(&mut tx, id, user, data.clock.now()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok("/me/things?done=deleted".to_owned())
    })
    .await
}

#[derive(Template)]
#[template(path = "edit_thing.html")]
struct EditPage {
    nav: Nav,
    id: i64,
    categories: &'static [&'static str],
    form: ThingForm,
    error: Option<FieldError>,
}

impl FormError for EditPage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

/// GET /me/things/{id}/edit
pub async fn edit_form(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    let thing = things::by_id(data.store.pool(), id).await?;
    if thing.owner_id != Some(user) {
        return Err(StoreError::Forbidden("a thing").into());
    }
    let page = EditPage {
        nav: Nav::of(&data, &visitor).await?,
        id,
        categories: CATEGORIES,
        form: ThingForm {
            csrf: String::new(),
            tags: thing.tags().join(", "),
            url: thing.url,
            title: thing.title,
            description: thing.description,
            language: thing.language,
            category: thing.category,
        },
        error: None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// POST /me/things/{id}/edit: title, description, tags, language and category, by the API's
/// rules; hidden stays as it is (its own button).
pub async fn edit(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<ThingForm>,
) -> Result<Response, PageError> {
    submit(
        &visitor,
        "/me/things",
        &form.csrf,
        "title",
        async |user| {
            let mut tx = data.store.begin().await?;
            let current = things::by_id(&mut *tx, id).await?;
            let fields = form.fields(current.hidden != 0)?;
            things::update(&mut tx, id, user, &fields, data.clock.now()).await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok("/me/things?done=changed".to_owned())
        },
        async |_, status, error| {
            // The URL is not edited: shown as stored, beside what was typed.
            let current = things::by_id(data.store.pool(), id).await?;
            let page = EditPage {
                nav: Nav::of(&data, &visitor).await?,
                id,
                categories: CATEGORIES,
                form: ThingForm {
                    url: current.url,
                    ..form.clone()
                },
                error: Some(error),
            };
            Ok(render(status, &page))
        },
    )
    .await
}
