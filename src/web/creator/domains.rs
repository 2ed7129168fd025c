//! My domains: claim one (its token to publish is shown), verify it. A verified domain proves
//! every page under it its owner's (`proving`).

use activitypub_federation::config::Data;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{ThingsInput, things_page};
use crate::domain::proof::Domain;
use crate::proving;
use crate::state::AppState;
use crate::store::StoreError;
use crate::web::forms::submit;
use crate::web::session::Visitor;
use crate::web::{FieldError, Form, PageError};

/// The domain forms.
#[derive(Deserialize)]
pub struct DomainForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

/// "My things" again with the domain form's refusal and what was typed.
async fn refused(
    data: &AppState,
    visitor: &Visitor,
    user: i64,
    status: StatusCode,
    form: &DomainForm,
    error: FieldError,
) -> Result<Response, PageError> {
    let input = ThingsInput {
        domain_typed: form.domain.clone(),
        error: Some(error),
        ..ThingsInput::default()
    };
    things_page(data, visitor, user, status, input).await
}

/// POST /me/domains: claims a domain (its token to publish is shown).
pub async fn claim_domain(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<DomainForm>,
) -> Result<Response, PageError> {
    submit(
        &visitor,
        "/me/things",
        &form.csrf,
        "domain",
        async |user| {
            let domain = Domain::parse(&form.domain)?;
            let mut tx = data.store.begin().await?;
            proving::claim_domain(&mut tx, &data, user, &domain).await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok("/me/things?done=claimed".to_owned())
        },
        async |user, status, error| refused(&data, &visitor, user, status, &form, error).await,
    )
    .await
}

/// POST /me/domains/verify: reads the domain's token file.
pub async fn verify_domain(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<DomainForm>,
) -> Result<Response, PageError> {
    submit(
        &visitor,
        "/me/things",
        &form.csrf,
        "domain",
        async |user| {
            let domain = Domain::parse(&form.domain)?;
            proving::verify_domain(&data, user, &domain).await?;
            Ok("/me/things?done=verified".to_owned())
        },
        async |user, status, error| refused(&data, &visitor, user, status, &form, error).await,
    )
    .await
}
