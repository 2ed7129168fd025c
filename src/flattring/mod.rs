//! The flattr use case, end to end: from "this user flattrs this" to the recorded flattr and,
//! for a thing on another server, the queued `Like`. Flattr by thing id, by any URL (a
//! registered URL, this instance's `/things/ID` page, an auto-submit URL, an object of another
//! server), undo, and the first flattr of a new subscription.
//!
//! Every caller (the JSON API today, the web pages next) does the same two steps:
//!
//! ```text
//! let target = flattring::find(&data, &url).await?;        // network, outside any transaction
//! let row = flattring::flattr_committed(&state, user, target).await?;  // rules + Like, committed
//! ```
//!
//! `flattr_committed` runs `flattr` (rules and Like, in one transaction) through the store's
//! group-commit writer; `flattr` itself takes the caller's transaction, for callers that
//! already hold one.
//!
//! `find` may fetch from another server, which must never happen while a database
//! transaction is open (on SQLite that would hold the write lock while waiting for the
//! network). Everything that writes happens in the caller's transaction, so a flattr is never
//! recorded without its Like or the other way round.
//!
//! Layering: this module sits between `http` (which calls it) and `federation`, `ledger`,
//! `store` (which it calls). `federation::outbox` only builds and enqueues activities.

mod error;
mod target;

pub use error::FlattrError;
pub use target::{Target, find, thing_for};

use crate::domain::flattr::{FlattrRefusal, SubscriptionPeriods, check_flattr};
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::federation::outbox;
use crate::ledger::{self, Account};
use crate::state::AppState;
use crate::store::flattrs::{self, FlattrRow};
use crate::store::subscriptions::{self, SubscriptionRow};
use crate::store::things::{self, ThingRow};
use crate::store::{StoreError, Tx, peers, periods, users};
use target::thing_of;

/// Flattrs `target` for `user_id` in the current period, in the caller's transaction: the
/// thing is read (or created, for an auto-submit URL or a newly resolved remote object) once,
/// Flattr's rules are checked, the flattr is recorded and, for a thing on another server, its
/// Like is queued.
pub async fn flattr(
    tx: &mut Tx,
    state: &AppState,
    user_id: i64,
    target: Target,
) -> Result<FlattrRow, FlattrError> {
    let thing = thing_of(tx, state, target).await?;
    let period = Period::containing(state.clock.now());
    record(tx, state, user_id, &thing, period, None).await
}

/// [`flattr`] in a group-committed transaction of its own (`store::writer`): the click's
/// writes ride in one batch with other clicks' and inbox Likes', and this returns once that
/// batch committed. The caller has authenticated the user and found the target first, so
/// nothing but the flattr itself runs under the write lock.
pub async fn flattr_committed(
    state: &AppState,
    user_id: i64,
    target: Target,
) -> Result<FlattrRow, FlattrError> {
    if let Target::Thing(thing_id) = target
        && let Some(row) = click(state, flattrs::Payer::User(user_id), thing_id).await?
    {
        return Ok(row);
    }
    flattr_full(state, user_id, target).await
}

/// The common click — a thing of this instance that may be flattred — as one statement with
/// every check in it (`flattrs::CLICK`), the payer's bearer token among them: one
/// group-committed write and no read before it. `None` when it recorded nothing (any rule
/// refused, the thing is not ours, or the token is not valid): the caller then checks the
/// token on its own (401) and takes [`flattr_full`], which says why.
pub async fn click_with_token(
    state: &AppState,
    token: &str,
    thing_id: i64,
) -> Result<Option<FlattrRow>, FlattrError> {
    click(state, flattrs::Payer::bearer(token), thing_id).await
}

async fn click(
    state: &AppState,
    payer: flattrs::Payer,
    thing_id: i64,
) -> Result<Option<FlattrRow>, FlattrError> {
    let now = state.clock.now();
    let click = flattrs::NewClick::new(
        payer,
        thing_id,
        Period::containing(now),
        now,
        Account::WALLET,
    );
    Ok(state.store.writer().click(click).await?)
}

/// [`flattr`] in a group-committed transaction of its own, without trying the one-statement
/// click first: the path that says why a click was refused, and flattrs a thing of another
/// server or one found by URL.
pub async fn flattr_full(
    state: &AppState,
    user_id: i64,
    target: Target,
) -> Result<FlattrRow, FlattrError> {
    let job_state = state.clone();
    state
        .store
        .writer()
        .write(move |tx| Box::pin(async move { flattr(tx, &job_state, user_id, target).await }))
        .await
}

/// Withdraws `user_id`'s flattr `flattr_id` before its period's close begins and, for a thing
/// on another server, queues the Undo. Somebody else's flattr is "not found": its existence is
/// none of the caller's business.
pub async fn undo(
    tx: &mut Tx,
    state: &AppState,
    user_id: i64,
    flattr_id: i64,
) -> Result<FlattrRow, FlattrError> {
    let flattr = flattrs::by_id(&mut **tx, flattr_id).await?;
    if flattr.user_id != user_id {
        return Err(StoreError::NotFound("flattr").into());
    }
    let period = Period::parse(&flattr.period).map_err(StoreError::from)?;
    if periods::is_frozen(tx, period).await? {
        return Err(FlattrRefusal::PeriodClosed.into());
    }
    flattrs::delete(tx, flattr_id).await?;
    if flattr.thing_ap_id.is_some() {
        let thing = things::by_id(&mut **tx, flattr.thing_id).await?;
        let user = users::by_id(&mut **tx, user_id).await?;
        outbox::undo(tx, state, &user.username, &flattr, &thing).await?;
    }
    Ok(flattr)
}

/// Subscribes `user_id` to `target` for `periods` periods and flattrs it for the current
/// period at once: that is the first of the flattrs. A flattr the user already made by hand
/// this period counts as that first one.
pub async fn subscribe(
    tx: &mut Tx,
    state: &AppState,
    user_id: i64,
    target: Target,
    periods: SubscriptionPeriods,
) -> Result<SubscriptionRow, FlattrError> {
    let now = state.clock.now();
    let thing = thing_of(tx, state, target).await?;
    let current = Period::containing(now);
    let subscription =
        subscriptions::create(tx, user_id, thing.id, periods.get(), current, now).await?;
    match record(tx, state, user_id, &thing, current, Some(subscription)).await {
        Ok(_) | Err(FlattrError::Store(StoreError::Refused(FlattrRefusal::FlattrOnce))) => {}
        Err(e) => return Err(e),
    }
    Ok(subscriptions::by_id(&mut **tx, subscription).await?)
}

/// The trust controls on the peer holding a remote thing (docs/settlement.md, "Trust
/// controls"): a blocked peer's things are not flattred at all; a paid flattr is refused while
/// we owe the peer more than its limit.
async fn check_peer(
    tx: &mut Tx,
    state: &AppState,
    origin: &str,
    charged: bool,
) -> Result<(), FlattrError> {
    let statically_blocked = url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(|h| state.settings.is_blocked_host(h)))
        .unwrap_or(false);
    let control = peers::of(&mut **tx, origin).await?;
    if statically_blocked || control.as_ref().is_some_and(|c| c.is_blocked()) {
        return Err(FlattrError::PeerBlocked(origin.to_owned()));
    }
    if let Some(limit) = control.and_then(|c| c.owe_limit).map(Money::from_minor)
        && charged
    {
        let owed = ledger::balance(&mut **tx, &Account::Payable(origin.to_owned())).await?;
        if owed > limit {
            return Err(FlattrError::PeerLimit {
                peer: origin.to_owned(),
                owed,
                limit,
            });
        }
    }
    Ok(())
}

/// Records one flattr of `thing` after Flattr's checks — the period is still open,
/// `flattr_owner`, `no_means`, and `flattr_once` (decided by the UNIQUE constraint, so two
/// simultaneous clicks still make one flattr) — and queues the Like for a remote thing.
async fn record(
    tx: &mut Tx,
    state: &AppState,
    user_id: i64,
    thing: &ThingRow,
    period: Period,
    subscription_id: Option<i64>,
) -> Result<FlattrRow, FlattrError> {
    if periods::is_frozen(tx, period).await? {
        return Err(FlattrRefusal::PeriodClosed.into());
    }
    let wallet = ledger::balance(&mut **tx, &Account::Wallet(user_id)).await?;
    // Local things and things on fedflattr servers are paid; anything else gets a plain Like.
    let charged = thing.owner_id.is_some() || thing.fedflattr != 0;
    if thing.owner_id.is_none()
        && let Some(origin) = &thing.origin
    {
        check_peer(tx, state, origin, charged).await?;
    }
    check_flattr(user_id, thing.owner_id, wallet, charged)?;
    let new = flattrs::NewFlattr {
        user_id,
        thing_id: thing.id,
        period,
        subscription_id,
        charged,
    };
    let row = flattrs::insert(tx, &new, state.clock.now()).await?;
    if thing.owner_id.is_none() {
        let user = users::by_id(&mut **tx, user_id).await?;
        outbox::like(tx, state, &user.username, &row, thing).await?;
    }
    Ok(row)
}
