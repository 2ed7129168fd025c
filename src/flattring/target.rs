//! What a URL names for a flattr (`find`, outside any transaction: it may fetch from another
//! server) and the thing row it becomes in the flattr's transaction (`thing_of`): an auto-submit
//! URL's thing created under its owner's verified domain, a remote object recorded.

use activitypub_federation::config::Data;

use super::error::FlattrError;
use crate::domain::proof::{Domain, Proof};
use crate::domain::thing::{AutoSubmit, ThingUrl, page_id};
use crate::federation::resolve;
use crate::state::AppState;
use crate::store::things::{self, RemoteThing, ThingRow};
use crate::store::{StoreError, Tx, domains, users};

/// What is to be flattred, found before the transaction that flattrs it.
#[derive(Debug, Clone)]
pub enum Target {
    /// A thing we have (local, or remote and flattred here before), by id.
    Thing(i64),
    /// An auto-submit URL: the thing is created for its owner on its first flattr.
    AutoSubmit(AutoSubmit),
    /// An object of another server, resolved; recorded (or refreshed) when flattred.
    Remote(RemoteThing),
}

/// What `url` names, in this order: an auto-submit URL of this instance, a URL registered
/// here, this instance's page `/things/ID`, or an object of another server (fetched and
/// resolved now — so call this before opening a transaction). A URL of this instance that
/// names none of these is [`FlattrError::Unregistered`].
pub async fn find(data: &Data<AppState>, url: &ThingUrl) -> Result<Target, FlattrError> {
    let base = &data.settings.base_url;
    if let Some(auto) = AutoSubmit::parse(url.as_url(), base).map_err(StoreError::from)? {
        if let Some(known) = things::by_url(data.store.pool(), auto.url.as_str()).await? {
            return Ok(Target::Thing(known.id));
        }
        // A new thing: only under a domain its owner verified, and never an object of
        // another server (its owner there is paid when it is flattred by its own URL).
        let owner = owner_of(data.store.pool(), &auto.owner).await?;
        verified_for(data.store.pool(), &auto, owner.id).await?;
        crate::proving::examine(data, &auto.url).await?;
        return Ok(Target::AutoSubmit(auto));
    }
    if let Some(known) = things::by_url(data.store.pool(), url.as_str()).await? {
        return Ok(Target::Thing(known.id));
    }
    if let Some(id) = page_id(base, url.as_url()) {
        return Ok(Target::Thing(id));
    }
    if url.as_url().origin() == base.origin() {
        return Err(FlattrError::Unregistered);
    }
    // Each resolution fetches from the URL's server on our behalf: bounded per origin so that
    // our users cannot make us flood a server.
    data.limits
        .resolve
        .check(&crate::federation::origin(url.as_url()))?;
    Ok(Target::Remote(
        resolve::resolve_thing(data, url.as_url()).await?,
    ))
}

/// The row of `target`, read once; created for an auto-submit URL's owner on first use,
/// recorded or refreshed for a resolved remote object.
pub(super) async fn thing_of(
    tx: &mut Tx,
    state: &AppState,
    target: Target,
) -> Result<ThingRow, FlattrError> {
    let now = state.clock.now();
    Ok(match target {
        Target::Thing(id) => things::by_id(&mut **tx, id).await?,
        Target::Remote(remote) => things::upsert_remote(tx, &remote, now).await?,
        Target::AutoSubmit(auto) => match things::by_url(&mut **tx, auto.url.as_str()).await? {
            Some(thing) => thing,
            None => {
                let owner = owner_of(&mut **tx, &auto.owner).await?;
                // Checked again in the transaction that creates the thing.
                verified_for(&mut **tx, &auto, owner.id).await?;
                let thing = things::create(tx, owner.id, &auto.url, &auto.fields, now).await?;
                things::set_proof(tx, thing.id, Ok(Proof::VerifiedDomain), now).await?;
                things::by_id(&mut **tx, thing.id).await?
            }
        },
    })
}

/// The thing `target` names, recorded now if it is new (an auto-submit URL's thing created
/// for its owner under their verified domain, as its first flattr would), without flattring
/// it: remote interaction hands its id to a visitor's home instance, which flattrs it there.
pub async fn thing_for(
    tx: &mut Tx,
    state: &AppState,
    target: Target,
) -> Result<ThingRow, FlattrError> {
    thing_of(tx, state, target).await
}

/// The owner an auto-submit URL names.
async fn owner_of<'e, E>(db: E, name: &str) -> Result<users::UserRow, FlattrError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    match users::by_name(db, name).await {
        Ok(owner) => Ok(owner),
        Err(StoreError::NotFound(_)) => {
            Err(StoreError::NotFound("the owner named by the auto-submit URL").into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Refuses an auto-submit URL that is not under a domain its owner verified.
async fn verified_for<'e, E>(db: E, auto: &AutoSubmit, owner_id: i64) -> Result<(), FlattrError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let url = auto.url.as_url();
    let verified = match Domain::of_url(url) {
        Some(domain) => domains::verified_owner(db, &domain).await? == Some(owner_id),
        None => false,
    };
    if verified {
        return Ok(());
    }
    Err(FlattrError::UnverifiedDomain {
        domain: Domain::of_url(url).map_or_else(
            || url.host_str().unwrap_or_default().to_owned(),
            |d| d.to_string(),
        ),
        owner: auto.owner.clone(),
    })
}
