//! Queries of things (the table `things`): register, look up by id or URL, edit, delete,
//! list; prove their owners; record things of other servers.
//!
//! - `read`: the row every reader gets, and the lookups;
//! - `edit`: what an owner does (register, edit, delete);
//! - `proofs`: who has proven a thing's URL theirs;
//! - `remote`: things of other servers that a flattr reached.

mod edit;
mod proofs;
mod read;
mod remote;

pub use edit::{create, delete, update};
pub use proofs::{prove_under, set_proof, take_over};
pub use read::{ThingRow, by_id, by_owner, by_url, count_local, is_local_ap_id, local_by_ap_id};
pub use remote::{RemoteThing, upsert_remote};
