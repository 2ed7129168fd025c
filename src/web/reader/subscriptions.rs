//! A reader's subscriptions: pause and resume, stop (they are listed on "my flattrs" and
//! started from a thing's flattr page).

use activitypub_federation::config::Data;
use axum::response::Response;

use crate::state::AppState;
use crate::store::{StoreError, subscriptions};
use crate::web::forms::{TokenForm, press};
use crate::web::session::Visitor;
use crate::web::{Form, PageError, Path};

/// POST /me/subscriptions/{id}/pause: pauses a running subscription, resumes a paused one.
pub async fn pause(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    press(&visitor, "/me", &form, async |user| {
        let mut tx = data.store.begin().await?;
        let current = subscriptions::by_id(&mut *tx, id).await?;
        subscriptions::set_paused(&mut tx, id, user, current.paused == 0).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok("/me?done=paused".to_owned())
    })
    .await
}

/// POST /me/subscriptions/{id}/stop
pub async fn stop(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    press(&visitor, "/me", &form, async |user| {
        let mut tx = data.store.begin().await?;
        subscriptions::stop(&mut tx, id, user, data.clock.now()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok("/me?done=stopped".to_owned())
    })
    .await
}
