//! Who owns a URL, as a use case (issue 7.2): registering a thing refuses URLs of this instance
//! and ActivityPub objects of other servers (flattrs of those reach their owners), and records
//! whether the URL is proven its owner's — its page links back with `rel="payment"`, or it is
//! under a domain the owner verified. Domains are claimed, verified through a token at
//! `/.well-known/fedflattr` (or vouched for by an admin), and proving a thing releases the
//! money held for it (`settle::held`).
//!
//! Like `flattring`, network first, transaction second: [`examine()`] fetches (call it before
//! opening a transaction), [`register`] writes in the caller's transaction. [`prove`],
//! [`verify_domain`] and [`vouch_domain`] read, fetch and then write in their own transaction.
//! The rules themselves (what a domain is, what link proves) are `domain::proof`'s. This
//! module sits below `flattring` (whose auto-submit asks [`examine()`] first) and has its own
//! error type, [`ProvingError`].

use activitypub_federation::config::Data;
use chrono::{DateTime, Utc};
use rand::RngCore;
use url::Url;

use crate::domain::proof::{Domain, Proof, links_back, token_matches};
use crate::domain::thing::{ThingFields, ThingUrl, page_url};
use crate::federation::actors::user_url;
use crate::federation::examine::{self, Examined};
use crate::federation::origin;
use crate::limits::Limited;
use crate::settle::held;
use crate::state::AppState;
use crate::store::domains::{self, DomainRow};
use crate::store::things::{self, ThingRow};
use crate::store::{Store, StoreError, Tx, users};

/// Why a URL could not be registered or proven, or a domain not verified.
#[derive(Debug, thiserror::Error)]
pub enum ProvingError {
    /// The database failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Too many URLs of one origin examined lately (see `limits`).
    #[error("too many URLs of this server examined lately")]
    Limited(Limited),
    /// The URL answers with an ActivityPub object of another server: it belongs to its owner
    /// there, and flattring it reaches them; nobody registers it here.
    #[error(
        "{0} is an ActivityPub object of another server: flattring it pays its owner there, so it cannot be registered here"
    )]
    RemoteObject(String),
    /// A URL (or domain) of this instance: its pages already name their owners here.
    #[error("{0} is on this instance: its things and profiles cannot be registered as things")]
    InstanceUrl(String),
    /// The domain is verified by another user.
    #[error("{0} is verified by another user")]
    DomainTaken(String),
    /// The domain's verification file was missing, unreadable or held another token.
    #[error("{0}")]
    VerificationFailed(String),
    /// Moving held money failed (see `settle::held`).
    #[error(transparent)]
    Settle(#[from] crate::settle::close::CloseError),
}

impl From<Limited> for ProvingError {
    fn from(limited: Limited) -> Self {
        ProvingError::Limited(limited)
    }
}

/// True when `url` is on this instance: same host, and same port or both on their scheme's
/// default port (`http://` and `https://` of one host are one instance behind a proxy).
fn on_this_instance(state: &AppState, url: &Url) -> bool {
    let base = &state.settings.base_url;
    url.host_str() == base.host_str()
        && (url.port_or_known_default() == base.port_or_known_default()
            || (url.port().is_none() && base.port().is_none()))
}

/// Looks at a URL someone wants to register (or auto-submit): refuses a URL of this instance
/// ([`ProvingError::InstanceUrl`]) and an ActivityPub object of another server
/// ([`ProvingError::RemoteObject`]); otherwise returns what the page says, or why it could not
/// be read (then the thing is registered unproven). Fetches: call it outside any transaction.
pub async fn examine(data: &Data<AppState>, url: &ThingUrl) -> Result<Examined, ProvingError> {
    if on_this_instance(data, url.as_url()) {
        return Err(ProvingError::InstanceUrl(url.as_str().to_owned()));
    }
    // Each examination fetches from the URL's server on a user's behalf: bounded per origin,
    // like resolving a remote URL to flattr.
    data.limits.resolve.check(&origin(url.as_url()))?;
    match examine::examine(data, url.as_url()).await {
        Examined::Object => Err(ProvingError::RemoteObject(url.as_str().to_owned())),
        examined => Ok(examined),
    }
}

/// Registers a thing of `owner_id` at `url` (examined before by [`examine()`]) and records
/// whether it is proven, in the caller's transaction. A URL registered by somebody else and
/// not proven is taken over when it is proven `owner_id`'s now (its page links back to their
/// profile, or it is under their verified domain): one URL is one thing, and it belongs to
/// whoever proves it — else a squatter could keep its creator out. What was held for it goes
/// to the new owner.
pub async fn register(
    tx: &mut Tx,
    state: &AppState,
    owner_id: i64,
    url: &ThingUrl,
    fields: &ThingFields,
    examined: &Examined,
) -> Result<ThingRow, ProvingError> {
    let now = state.clock.now();
    if let Some(existing) = things::by_url(&mut **tx, url.as_str()).await?
        && existing.owner_id.is_some_and(|owner| owner != owner_id)
        && existing.proven_at.is_none()
    {
        let owner = users::by_id(&mut **tx, owner_id).await?;
        // Only the profile counts here: a link to the existing `/things/ID` names the thing,
        // not who should own it.
        if let Ok(proof) = decide(
            tx,
            state,
            owner_id,
            &owner.username,
            None,
            url.as_url(),
            examined,
        )
        .await?
            && things::take_over(tx, existing.id, owner_id, fields, proof, now).await?
        {
            held::release_thing(tx, existing.id, now).await?;
            return Ok(things::by_id(&mut **tx, existing.id).await?);
        }
    }
    let thing = things::create(tx, owner_id, url, fields, now).await?;
    judge(tx, state, &thing, examined, now).await?;
    Ok(things::by_id(&mut **tx, thing.id).await?)
}

/// Checks again whether `thing_id` (of `user_id`) is proven: its page is fetched for a
/// `rel="payment"` link back (see `judge`). A proven thing stays proven and is returned as
/// it is; what was held for a thing proven now goes to its owner.
pub async fn prove(
    data: &Data<AppState>,
    user_id: i64,
    thing_id: i64,
) -> Result<ThingRow, ProvingError> {
    let thing = things::by_id(data.store.pool(), thing_id).await?;
    if thing.owner_id != Some(user_id) {
        return Err(StoreError::Forbidden("the proof of a thing").into());
    }
    if thing.proven_at.is_some() {
        return Ok(thing);
    }
    let url = ThingUrl::parse(&thing.url).map_err(StoreError::from)?;
    let examined = examine(data, &url).await?;
    let now = data.clock.now();
    let mut tx = data.store.begin().await?;
    let thing = things::by_id(&mut *tx, thing_id).await?;
    judge(&mut tx, data, &thing, &examined, now).await?;
    let thing = things::by_id(&mut *tx, thing_id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(thing)
}

/// Decides whether `thing` is proven — under a domain its owner verified, or its page links
/// back to the owner's profile or to the thing's page here — records the outcome (or why not)
/// and, when it is proven now, releases what was held for it.
async fn judge(
    tx: &mut Tx,
    state: &AppState,
    thing: &ThingRow,
    examined: &Examined,
    now: DateTime<Utc>,
) -> Result<(), ProvingError> {
    let owner_id = thing.owner_id.ok_or(StoreError::NotFound("local thing"))?;
    let url = Url::parse(&thing.url)
        .map_err(|e| StoreError::Invalid(crate::domain::ParseError::new("url", e.to_string())))?;
    let outcome = decide(
        tx,
        state,
        owner_id,
        &thing.owner,
        Some(thing.id),
        &url,
        examined,
    )
    .await?;
    let outcome = outcome.as_ref().copied().map_err(String::as_str);
    if things::set_proof(tx, thing.id, outcome, now).await? {
        held::release_thing(tx, thing.id, now).await?;
    }
    Ok(())
}

/// Whether `url` (examined) is proven the user's: under a domain they verified, or its page
/// links back to their profile or, with `thing`, to that thing's page here. `Err` says why not.
async fn decide(
    tx: &mut Tx,
    state: &AppState,
    owner_id: i64,
    owner_name: &str,
    thing: Option<i64>,
    url: &Url,
    examined: &Examined,
) -> Result<Result<Proof, String>, ProvingError> {
    if let Some(domain) = Domain::of_url(url)
        && domains::verified_owner(&mut **tx, &domain).await? == Some(owner_id)
    {
        return Ok(Ok(Proof::VerifiedDomain));
    }
    let mut owners = vec![user_url(state, owner_name)];
    owners.extend(thing.map(|id| page_url(&state.settings.base_url, id)));
    let named = owners
        .iter()
        .map(Url::as_str)
        .collect::<Vec<_>>()
        .join(" or ");
    Ok(match examined {
        Examined::Page { payment_links } if links_back(payment_links, &owners) => {
            Ok(Proof::PaymentLink)
        }
        Examined::Page { .. } => Err(format!("no rel=payment link to {named} found on the page")),
        Examined::Unreadable(reason) => Err(format!("the page could not be read: {reason}")),
        Examined::Object => Err("the URL is an ActivityPub object of another server".into()),
    })
}

/// A new verification token: 128 random bits in hex.
fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `user_id` claims `domain`: returns the claim with the token to publish (the same token when
/// asked again). Refused when another user verified the domain, or it is this instance's own.
pub async fn claim_domain(
    tx: &mut Tx,
    state: &AppState,
    user_id: i64,
    domain: &Domain,
) -> Result<DomainRow, ProvingError> {
    if domain
        .well_known_url(true)
        .is_ok_and(|url| on_this_instance(state, &url))
        || Domain::of_url(&state.settings.base_url).as_ref() == Some(domain)
    {
        return Err(ProvingError::InstanceUrl(domain.to_string()));
    }
    taken_by_another(&mut **tx, user_id, domain).await?;
    Ok(domains::claim(tx, user_id, domain, &new_token(), state.clock.now()).await?)
}

async fn taken_by_another<'e, E>(db: E, user_id: i64, domain: &Domain) -> Result<(), ProvingError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    match domains::verified_owner(db, domain).await? {
        Some(owner) if owner != user_id => Err(ProvingError::DomainTaken(domain.to_string())),
        _ => Ok(()),
    }
}

/// Verifies `user_id`'s claim of `domain`: reads `SCHEME://DOMAIN/.well-known/fedflattr`
/// (bounded, through the SSRF guard) and compares it with the claim's token. On success every
/// thing of the user under the domain is proven and what was held for them is released.
pub async fn verify_domain(
    state: &AppState,
    user_id: i64,
    domain: &Domain,
) -> Result<DomainRow, ProvingError> {
    let pool = state.store.pool();
    let claim = domains::of_user(pool, user_id, domain)
        .await?
        .ok_or(StoreError::NotFound(
            "claim of this domain (ask for a token first)",
        ))?;
    if claim.verified_at.is_some() {
        return Ok(claim);
    }
    taken_by_another(pool, user_id, domain).await?;
    let url = domain
        .well_known_url(state.settings.development_mode)
        .map_err(StoreError::from)?;
    let body = examine::read_token_file(state, &url)
        .await
        .map_err(ProvingError::VerificationFailed)?;
    if !token_matches(&body, &claim.token) {
        return Err(ProvingError::VerificationFailed(format!(
            "{url} does not hold this user's token for {domain}"
        )));
    }
    let mut tx = state.store.begin().await?;
    confirm(&mut tx, &claim, domain, "well_known", state.clock.now()).await?;
    let claim = domains::of_user(&mut *tx, user_id, domain)
        .await?
        .ok_or(StoreError::NotFound("domain"))?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(claim)
}

/// An admin vouches that `domain` is `user_id`'s (`fedflattr admin domain verify`: the admin of
/// a blog collective knows its members' blogs): verified without a fetch, with the same effects
/// as [`verify_domain`]. Refused when another user verified the domain.
pub async fn vouch_domain(
    store: &Store,
    user_id: i64,
    domain: &Domain,
    now: DateTime<Utc>,
) -> Result<DomainRow, ProvingError> {
    let mut tx = store.begin().await?;
    taken_by_another(&mut *tx, user_id, domain).await?;
    let claim = domains::claim(&mut tx, user_id, domain, &new_token(), now).await?;
    confirm(&mut tx, &claim, domain, "admin", now).await?;
    let claim = domains::of_user(&mut *tx, user_id, domain)
        .await?
        .ok_or(StoreError::NotFound("domain"))?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(claim)
}

/// Marks the claim verified, proves the user's things under the domain and releases what was
/// held for them.
async fn confirm(
    tx: &mut Tx,
    claim: &DomainRow,
    domain: &Domain,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), ProvingError> {
    if !domains::mark_verified(tx, claim.id, by, now).await? {
        return Err(ProvingError::DomainTaken(domain.to_string()));
    }
    for thing in things::prove_under(tx, claim.user_id, domain, now).await? {
        held::release_thing(tx, thing, now).await?;
    }
    Ok(())
}
