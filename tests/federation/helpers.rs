//! The federation tests' view of the shared harness (tests/common): `Instance::spawn("alpha")`
//! starts `alpha.test` in development mode with its own database and port, which the test can
//! stop and start again.

use std::ops::{Deref, DerefMut};

use fedflattr::config::Config;

// Re-exported for the tests' `use crate::helpers::…`, whichever they need.
#[allow(unused_imports)]
pub use crate::common::signing::{
    rfc9421_get, rfc9421_request, send, send_explained, signed_get, signed_request,
};
#[allow(unused_imports)]
pub use crate::common::{User, at, error_of, fresh_database_url};

/// A `NAME.test` instance of the shared harness, whose `create_thing` needs no title.
pub struct Instance(crate::common::Instance);

impl Instance {
    /// Starts `NAME.test` with its clock at 2026-10-15 12:00 UTC.
    pub async fn spawn(name: &str) -> Instance {
        Instance(crate::common::Instance::named(name).spawn().await)
    }

    /// Starts `NAME.test` with a change to its configuration (kept across restarts).
    pub async fn spawn_with(name: &str, configure: impl FnOnce(&mut Config)) -> Instance {
        Instance(
            crate::common::Instance::named(name)
                .configure(configure)
                .spawn()
                .await,
        )
    }

    /// Starts `NAME.test` on PostgreSQL when a server is at hand (see
    /// `Setup::postgres_when_reachable`).
    pub async fn spawn_on_postgres(name: &str) -> Instance {
        Instance(
            crate::common::Instance::named(name)
                .postgres_when_reachable()
                .spawn()
                .await,
        )
    }

    /// Registers a thing titled "A post" owned by the token's user and returns its id.
    pub async fn create_thing(&self, token: &str, url: &str) -> i64 {
        self.0.create_thing(token, url, "A post").await
    }
}

impl Deref for Instance {
    type Target = crate::common::Instance;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Instance {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// A client that reaches every `*.test` instance given.
pub fn client(instances: &[&Instance]) -> reqwest::Client {
    let inner: Vec<&crate::common::Instance> = instances.iter().map(|i| &i.0).collect();
    crate::common::client(&inner)
}

/// Lets the instances reach one another at their `*.test` names: each gets a client that
/// resolves all of them.
pub fn federate(instances: &mut [&mut Instance]) {
    let shared = {
        let all: Vec<&Instance> = instances.iter().map(|i| &**i).collect();
        client(&all)
    };
    for instance in instances.iter_mut() {
        instance.client = shared.clone();
    }
}
