//! Federation between real instances: two or three fedflattr servers in this process, each on
//! its own port and its own host name (`alpha.test`, `beta.test`, `gamma.test`, which their
//! development-mode resolver maps to 127.0.0.1), talking real HTTP.

// Test and bench code: a failed unwrap is a failed run with its reason, which is what we want
// here; `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared helpers.
#![allow(clippy::unwrap_used)]

mod adjustments;
mod admin_pages;
mod admin_peers;
mod authorized_fetch;
mod bounds;
#[path = "../common/mod.rs"]
mod common;
mod corrections;
mod crash;
mod discovery;
mod flattr_across;
mod forgery;
mod held;
mod helpers;
mod ids_once;
mod inbox_speed;
mod itemised;
mod netting;
mod payments;
mod proofs;
mod proven;
mod queue;
mod redirects;
mod settlement;
mod statement_checks;
mod three;
mod trust;
mod wire;
