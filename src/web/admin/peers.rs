//! The admin's view of settlement with peer instances: per peer and period what we owe, what
//! it disputed and what it owes us, and the statements sent and received with their state and
//! disputed lines. Read-only and read from `settle::positions`, the source of `fedflattr admin
//! peers`/`admin statements` and of `/api/v1/admin/peers`, so the three never disagree.

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::admin;
use crate::settle::positions::{self, PeerPosition, StatementFilter, StatementView};
use crate::state::AppState;
use crate::web::session::Visitor;
use crate::web::{Nav, PageError, render};

#[derive(Template)]
#[template(path = "admin/peers.html")]
struct PeersPage {
    nav: Nav,
    currency: String,
    peers: Vec<PeerPosition>,
    statements: Vec<StatementView>,
}

/// GET /admin/peers
pub async fn peer_list(data: Data<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    admin(&data, &visitor, "/admin/peers").await?;
    let pool = data.store.pool();
    let filter = StatementFilter {
        peer: None,
        period: None,
    };
    let page = PeersPage {
        nav: Nav::of(&data, &visitor).await?,
        currency: data.settings.currency.to_string(),
        peers: positions::peers(pool).await?,
        statements: positions::statements(pool, &filter).await?,
    };
    Ok(render(StatusCode::OK, &page))
}
