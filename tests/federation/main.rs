//! Federation between real instances: two or three fedflattr servers in this process, each on
//! its own port and its own host name (`alpha.test`, `beta.test`, `gamma.test`, which their
//! development-mode resolver maps to 127.0.0.1), talking real HTTP.

mod authorized_fetch;
mod bounds;
#[path = "../common/mod.rs"]
mod common;
mod discovery;
mod flattr_across;
mod forgery;
mod held;
mod helpers;
mod ids_once;
mod proofs;
mod proven;
mod queue;
mod settlement;
mod wire;
