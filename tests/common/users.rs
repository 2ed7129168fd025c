//! The user's side of an instance, through its HTTP API: sign up, register things, flattr
//! them by id or by URL, undo; and who a user is on the instance (id, actor, private key).

use fedflattr::federation::delivery::{self, RunReport};
use serde_json::{Value, json};

use super::instance::Instance;

/// The password every user the harness signs up has.
pub const PASSWORD: &str = "correct horse";

/// A user the harness signed up.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub id: i64,
    /// A bearer token of the user.
    pub token: String,
    /// The user's ActivityPub actor id (`BASE/users/NAME`).
    pub actor: String,
}

impl Instance {
    /// Signs up `name` (password [`PASSWORD`]) and returns the bearer token.
    pub async fn sign_up(&self, name: &str) -> String {
        self.sign_up_answer(name).await["access_token"]
            .as_str()
            .expect("sign-up answers with an access token")
            .to_owned()
    }

    /// Signs up `name` and returns who that is: id, token, actor.
    pub async fn sign_up_user(&self, name: &str) -> User {
        let answer = self.sign_up_answer(name).await;
        // The name as the instance keeps it (`Alice` signs up as `alice`).
        let name = answer["user"]["username"]
            .as_str()
            .expect("sign-up answers with the user")
            .to_owned();
        User {
            id: self.user_id(&name).await,
            token: answer["access_token"]
                .as_str()
                .expect("sign-up answers with an access token")
                .to_owned(),
            actor: self.actor(&name),
            name,
        }
    }

    async fn sign_up_answer(&self, name: &str) -> Value {
        let response = self
            .post(
                "/api/v1/users",
                None,
                &json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 201, "sign-up of {name}");
        response.json().await.expect("a JSON body")
    }

    /// Signs up `name` and deposits `amount` for them: a reader with money. Returns the
    /// bearer token.
    pub async fn funded(&self, name: &str, amount: &str) -> String {
        let token = self.sign_up(name).await;
        self.deposit(name, amount).await;
        token
    }

    /// The id of the local user `name`.
    pub async fn user_id(&self, name: &str) -> i64 {
        fedflattr::store::users::by_name(self.state.store.pool(), name)
            .await
            .expect("the user exists")
            .id
    }

    /// The actor id of the local user `name`.
    pub fn actor(&self, name: &str) -> String {
        self.url(&format!("/users/{name}"))
    }

    /// The id of the local user `name`'s signing key (`ACTOR#main-key`).
    pub fn key_id(&self, name: &str) -> String {
        format!("{}#main-key", self.actor(name))
    }

    /// The private key of the local user `name`, to forge or replay requests with.
    pub async fn private_key(&self, name: &str) -> String {
        fedflattr::store::users::by_name(self.state.store.pool(), name)
            .await
            .expect("the user exists")
            .private_key
    }

    /// Registers a thing owned by the token's user and returns its id, proven: the URL's
    /// domain is first verified for the user as `fedflattr admin domain verify` does (the
    /// admin vouches), so the thing's flattrs pay its owner at close.
    pub async fn create_thing(&self, token: &str, url: &str, title: &str) -> i64 {
        let user = fedflattr::store::tokens::user_of(self.state.store.pool(), token)
            .await
            .expect("the token reads")
            .expect("the token is a user's");
        let domain = url::Url::parse(url)
            .ok()
            .and_then(|u| fedflattr::domain::proof::Domain::of_url(&u))
            .expect("a test thing's URL has a domain");
        fedflattr::proving::vouch_domain(&self.state.store, user, &domain, self.state.clock.now())
            .await
            .expect("the admin verifies the domain");
        let thing = self.register_thing(token, url, title).await;
        assert_eq!(thing["proven"], true, "{thing}");
        thing["id"].as_i64().expect("a thing has an id")
    }

    /// Registers a thing owned by the token's user without verifying its domain, and returns
    /// its id; asserts that it is not proven.
    pub async fn create_unproven_thing(&self, token: &str, url: &str, title: &str) -> i64 {
        let thing = self.register_thing(token, url, title).await;
        assert_eq!(thing["proven"], false, "{thing}");
        thing["id"].as_i64().expect("a thing has an id")
    }

    /// Registers a thing as the token's user (`POST /api/v1/things`), asserting a 201, and
    /// returns the thing as the API shows it.
    pub async fn register_thing(&self, token: &str, url: &str, title: &str) -> Value {
        let response = self
            .post(
                "/api/v1/things",
                Some(token),
                &json!({"url": url, "title": title, "category": "text"}),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(status, 201, "create thing {url}: {body}");
        body
    }

    /// Vouches, as an admin would, that `domain` is the local user `name`'s.
    pub async fn vouch_domain(&self, name: &str, domain: &str) {
        let user = self.user_id(name).await;
        let domain = fedflattr::domain::proof::Domain::parse(domain).expect("a domain");
        fedflattr::proving::vouch_domain(&self.state.store, user, &domain, self.state.clock.now())
            .await
            .expect("the admin verifies the domain");
    }

    /// The URL of a local thing as peers see it (`BASE/things/ID`).
    pub fn thing_url(&self, thing: i64) -> String {
        self.url(&format!("/things/{thing}"))
    }

    /// Flattrs the local thing `thing` as the token's user.
    pub async fn flattr(&self, token: &str, thing: i64) -> reqwest::Response {
        self.post(
            &format!("/api/v1/things/{thing}/flattr"),
            Some(token),
            &json!({}),
        )
        .await
    }

    /// Flattrs whatever `url` names (a registered thing, an auto-submit URL, a remote object).
    pub async fn flattr_url(&self, token: &str, url: &str) -> reqwest::Response {
        self.post("/api/v1/flattr", Some(token), &json!({"url": url}))
            .await
    }

    /// Flattrs and returns the new flattr's id, asserting a 201.
    pub async fn flattred(&self, token: &str, thing: i64) -> i64 {
        let response = self.flattr(token, thing).await;
        assert_eq!(response.status(), 201, "flattr of thing {thing}");
        response.json::<Value>().await.expect("a JSON body")["id"]
            .as_i64()
            .expect("a flattr has an id")
    }

    /// Flattrs each of `things` in order as the token's user, asserting a 201 for each.
    pub async fn flattr_each(&self, token: &str, things: &[i64]) {
        for thing in things {
            self.flattred(token, *thing).await;
        }
    }

    /// Undoes the flattr `flattr` as the token's user.
    pub async fn undo(&self, token: &str, flattr: i64) -> reqwest::Response {
        self.delete(&format!("/api/v1/flattrs/{flattr}"), token)
            .await
    }

    /// Runs the delivery queue once, as its background loop would.
    pub async fn deliver(&self) -> RunReport {
        delivery::deliver_due(&self.state)
            .await
            .expect("the delivery queue runs")
    }
}
