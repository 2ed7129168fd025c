//! Forged, replayed and foreign activities are refused with a 4xx and change nothing.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::helpers::{Instance, client, send, send_explained, signed_request};

struct Scene {
    alpha: Instance,
    beta: Instance,
    gamma: Instance,
    thing_url: String,
    shared: reqwest::Client,
}

/// alice and mallory on alpha, carol on gamma, bob's thing on beta.
async fn scene() -> Scene {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    let mut gamma = Instance::spawn("gamma").await;
    let shared = client(&[&alpha, &beta, &gamma]);
    alpha.client = shared.clone();
    beta.client = shared.clone();
    gamma.client = shared.clone();
    alpha.sign_up("alice").await;
    alpha.sign_up("mallory").await;
    gamma.sign_up("carol").await;
    let bob = beta.sign_up("bob").await;
    let thing = beta.create_thing(&bob, "https://bob.example/post").await;
    let thing_url = beta.url(&format!("/things/{thing}"));
    Scene {
        alpha,
        beta,
        gamma,
        thing_url,
        shared,
    }
}

impl Scene {
    fn like(&self, id: &str, actor: &str) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id, "type": "Like", "actor": actor, "object": self.thing_url,
            "flattr:period": "2026-10", "flattr:currency": "EUR",
        })
    }

    /// alice's genuine, correctly signed Like.
    async fn genuine(&self, body: &Value) -> reqwest::Request {
        let key = self.alpha.private_key("alice").await;
        let key_id = format!("{}#main-key", self.alpha.url("/users/alice"));
        signed_request(
            &self.shared,
            &self.beta.url("/inbox"),
            &key_id,
            &key,
            body,
            None,
        )
        .await
    }

    async fn beta_state(&self) -> (i64, i64) {
        (
            self.beta
                .count("SELECT COUNT(*) FROM received_likes WHERE undone_at IS NULL")
                .await,
            self.beta
                .count("SELECT COUNT(*) FROM inbox_activities")
                .await,
        )
    }
}

#[tokio::test]
async fn a_genuine_like_is_accepted_and_its_replay_counts_once() {
    let s = scene().await;
    let body = s.like(
        &s.alpha.url("/users/alice/likes/1"),
        &s.alpha.url("/users/alice"),
    );
    let request = s.genuine(&body).await;
    let replay = request.try_clone().unwrap();
    assert_eq!(send(&s.shared, request).await.0, 202);
    assert_eq!(s.beta_state().await, (1, 1));
    // The captured request, sent again byte for byte.
    assert_eq!(send(&s.shared, replay).await.0, 202);
    assert_eq!(s.beta_state().await, (1, 1));
}

#[tokio::test]
async fn a_body_changed_after_signing_is_refused() {
    let s = scene().await;
    let body = s.like(
        &s.alpha.url("/users/alice/likes/1"),
        &s.alpha.url("/users/alice"),
    );
    let mut request = s.genuine(&body).await;
    let mut changed = body.clone();
    changed["id"] = json!(s.alpha.url("/users/alice/likes/2"));
    *request.body_mut() = Some(changed.to_string().into());
    let (status, code, reason) = send_explained(&s.shared, request).await;
    assert_eq!((status, code.as_str()), (401, "signature_invalid"));
    assert!(reason.contains("digest"), "{reason}");
    assert_eq!(s.beta_state().await, (0, 0));
}

#[tokio::test]
async fn a_signature_by_another_actors_key_is_refused() {
    let s = scene().await;
    let body = s.like(
        &s.alpha.url("/users/alice/likes/1"),
        &s.alpha.url("/users/alice"),
    );
    let mallory_key = s.alpha.private_key("mallory").await;
    for key_id in [
        s.alpha.url("/users/alice#main-key"),
        s.alpha.url("/users/mallory#main-key"),
    ] {
        let request = signed_request(
            &s.shared,
            &s.beta.url("/inbox"),
            &key_id,
            &mallory_key,
            &body,
            None,
        )
        .await;
        let (status, code, reason) = send_explained(&s.shared, request).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "signature_invalid"),
            "signed by mallory as {key_id}: {reason}"
        );
        assert!(reason.contains("ignature"), "{reason}");
    }
    assert_eq!(s.beta_state().await, (0, 0));
}

#[tokio::test]
async fn an_activity_id_on_another_origin_than_its_actor_is_refused() {
    let s = scene().await;
    let other_host = s.gamma.url("/likes/1");
    let other_port = format!("http://alpha.test:{}/users/alice/likes/1", s.alpha.port + 1);
    let other_scheme = format!("https://alpha.test:{}/users/alice/likes/1", s.alpha.port);
    for id in [other_host, other_port, other_scheme] {
        let body = s.like(&id, &s.alpha.url("/users/alice"));
        let (status, code, reason) = send_explained(&s.shared, s.genuine(&body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (403, "origin_mismatch"),
            "{id}: {reason}"
        );
        assert!(
            reason.contains("is not on the origin of its actor"),
            "{id}: {reason}"
        );
    }
    assert_eq!(s.beta_state().await, (0, 0));
}

#[tokio::test]
async fn a_like_claiming_to_come_from_a_local_user_is_refused_by_our_local_actor_check() {
    let s = scene().await;
    let bob = s.beta.actor("bob");
    let body = s.like(&s.beta.url("/users/bob/likes/1"), &bob);
    // Signed as alice (draft-cavage) and as bob himself (RFC 9421, a key id the forger names
    // without holding the key): either way our own rule refuses it before any signature work.
    let cavage = s.genuine(&body).await;
    let rfc9421 = crate::helpers::rfc9421_request(
        &s.shared,
        &s.beta.url("/inbox"),
        &s.beta.key_id("bob"),
        &s.alpha.private_key("alice").await,
        &body,
        FEDIFY_COMPONENTS,
        chrono::Utc::now().timestamp(),
    );
    for request in [cavage, rfc9421] {
        let (status, code, reason) = send_explained(&s.shared, request).await;
        assert_eq!((status, code.as_str()), (403, "local_actor"), "{reason}");
        assert!(
            reason.contains(&format!("{bob} is one of our own actors")),
            "{reason}"
        );
    }
    assert_eq!(s.beta_state().await, (0, 0));
}

#[tokio::test]
async fn an_undo_by_someone_else_is_refused_and_the_flattr_stays() {
    let s = scene().await;
    let like_id = s.alpha.url("/users/alice/likes/1");
    let body = s.like(&like_id, &s.alpha.url("/users/alice"));
    assert_eq!(send(&s.shared, s.genuine(&body).await).await.0, 202);

    // mallory, on alice's own server, tries to undo alice's flattr.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": s.alpha.url("/users/mallory/undo/1"), "type": "Undo",
        "actor": s.alpha.url("/users/mallory"), "object": like_id,
    });
    let key = s.alpha.private_key("mallory").await;
    let request = signed_request(
        &s.shared,
        &s.beta.url("/inbox"),
        &s.alpha.url("/users/mallory#main-key"),
        &key,
        &undo,
        None,
    )
    .await;
    let (status, code, reason) = send_explained(&s.shared, request).await;
    assert_eq!((status, code.as_str()), (403, "not_yours"), "{reason}");
    assert!(reason.contains(&like_id), "{reason}");

    // carol, on another server, tries the same.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": s.gamma.url("/users/carol/undo/1"), "type": "Undo",
        "actor": s.gamma.url("/users/carol"), "object": {"id": like_id, "type": "Like"},
    });
    let key = s.gamma.private_key("carol").await;
    let request = signed_request(
        &s.shared,
        &s.beta.url("/inbox"),
        &s.gamma.url("/users/carol#main-key"),
        &key,
        &undo,
        None,
    )
    .await;
    let (status, code, reason) = send_explained(&s.shared, request).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "origin_mismatch"),
        "{reason}"
    );
    assert!(reason.contains(&like_id), "{reason}");
    assert_eq!(s.beta_state().await, (1, 1), "alice's flattr stands");
}

#[tokio::test]
async fn a_request_with_an_expired_date_is_refused() {
    let s = scene().await;
    let body = s.like(
        &s.alpha.url("/users/alice/likes/1"),
        &s.alpha.url("/users/alice"),
    );
    let key = s.alpha.private_key("alice").await;
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    let request = signed_request(
        &s.shared,
        &s.beta.url("/inbox"),
        &s.alpha.url("/users/alice#main-key"),
        &key,
        &body,
        Some(two_hours_ago),
    )
    .await;
    let (status, code, reason) = crate::helpers::send_explained(&s.shared, request).await;
    assert_eq!((status, code.as_str()), (401, "signature_invalid"));
    assert!(reason.contains("expired"), "{reason}");
    assert_eq!(s.beta_state().await, (0, 0));
}

#[tokio::test]
async fn likes_with_bad_periods_currencies_values_or_objects_are_refused() {
    let s = scene().await;
    let actor = s.alpha.url("/users/alice");
    let cases = [
        (
            "flattr:period",
            json!("2026-13"),
            422,
            "invalid_period",
            "is not a period",
        ),
        (
            "flattr:period",
            json!("2026-12"),
            422,
            "invalid_period",
            "has not begun",
        ),
        (
            "flattr:period",
            json!("2026-08"),
            422,
            "period_closed",
            "is closed",
        ),
        (
            "flattr:currency",
            json!("USD"),
            422,
            "currency_mismatch",
            "not USD",
        ),
        (
            "flattr:value",
            json!("-1.00"),
            422,
            "invalid_value",
            "negative",
        ),
        (
            "flattr:value",
            json!("0.00001"),
            422,
            "invalid_value",
            "decimal places",
        ),
        (
            "object",
            json!(s.beta.url("/things/999")),
            404,
            "not_found",
            "is not a thing of this instance",
        ),
        (
            "object",
            json!("https://elsewhere.example/things/1"),
            404,
            "not_found",
            "is not a thing of this instance",
        ),
    ];
    for (n, (field, value, expected, expected_code, why)) in cases.into_iter().enumerate() {
        let mut body = s.like(&s.alpha.url(&format!("/users/alice/likes/{n}")), &actor);
        body[field] = value.clone();
        let (status, code, reason) = send_explained(&s.shared, s.genuine(&body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (expected, expected_code),
            "{field} = {value}: {reason}"
        );
        assert!(reason.contains(why), "{field} = {value}: {reason}");
    }
    assert_eq!(s.beta_state().await, (0, 0));
}

#[tokio::test]
async fn an_unsigned_like_is_refused() {
    let s = scene().await;
    let body = s.like(
        &s.alpha.url("/users/alice/likes/1"),
        &s.alpha.url("/users/alice"),
    );
    let request = s
        .shared
        .post(s.beta.url("/inbox"))
        .header("content-type", "application/activity+json")
        .body(body.to_string())
        .build()
        .unwrap();
    let (status, code, reason) = send_explained(&s.shared, request).await;
    assert_eq!(
        (status, code.as_str()),
        (401, "signature_incomplete"),
        "{reason}"
    );
    // The signature policy runs first: no Signature header at all is named as such.
    assert!(reason.contains("not signed"), "{reason}");
    assert_eq!(s.beta_state().await, (0, 0));
}

const FEDIFY_COMPONENTS: &[&str] = &[
    "@method",
    "@target-uri",
    "@authority",
    "host",
    "date",
    "content-digest",
];

#[tokio::test]
async fn an_rfc9421_signed_like_is_accepted_and_its_forgeries_are_refused() {
    let s = scene().await;
    let alice = s.alpha.url("/users/alice");
    let key = s.alpha.private_key("alice").await;
    let mallory_key = s.alpha.private_key("mallory").await;
    let inbox = s.beta.url("/inbox");
    let key_id = format!("{alice}#main-key");
    let now = chrono::Utc::now().timestamp();
    let like = |n: u32| s.like(&s.alpha.url(&format!("/users/alice/likes/{n}")), &alice);

    // Signed by another actor's key.
    let forged = crate::helpers::rfc9421_request(
        &s.shared,
        &inbox,
        &key_id,
        &mallory_key,
        &like(1),
        FEDIFY_COMPONENTS,
        now,
    );
    let (status, code, reason) = send_explained(&s.shared, forged).await;
    assert_eq!(
        (status, code.as_str()),
        (401, "signature_invalid"),
        "{reason}"
    );
    assert!(reason.contains("does not verify"), "{reason}");
    // The body changed after signing.
    let mut changed = crate::helpers::rfc9421_request(
        &s.shared,
        &inbox,
        &key_id,
        &key,
        &like(2),
        FEDIFY_COMPONENTS,
        now,
    );
    *changed.body_mut() = Some(like(3).to_string().into());
    let (status, code, reason) = send_explained(&s.shared, changed).await;
    assert_eq!(
        (status, code.as_str()),
        (401, "signature_invalid"),
        "{reason}"
    );
    assert!(reason.contains("Content-Digest"), "{reason}");
    // Two hours old.
    let old = crate::helpers::rfc9421_request(
        &s.shared,
        &inbox,
        &key_id,
        &key,
        &like(4),
        FEDIFY_COMPONENTS,
        now - 7200,
    );
    let (status, code, reason) = send_explained(&s.shared, old).await;
    assert_eq!(
        (status, code.as_str()),
        (401, "signature_invalid"),
        "{reason}"
    );
    assert!(reason.contains("expired"), "{reason}");
    // A signature that does not cover the body proves nothing about it.
    let partial = crate::helpers::rfc9421_request(
        &s.shared,
        &inbox,
        &key_id,
        &key,
        &like(5),
        &["@method", "@target-uri", "host"],
        now,
    );
    let (status, code, reason) = send_explained(&s.shared, partial).await;
    assert_eq!(
        (status, code.as_str()),
        (401, "signature_incomplete"),
        "{reason}"
    );
    assert!(reason.contains("must cover"), "{reason}");
    // A key of one actor for an activity of another.
    let other = s.like(
        &s.alpha.url("/users/mallory/likes/6"),
        &s.alpha.url("/users/mallory"),
    );
    let borrowed = crate::helpers::rfc9421_request(
        &s.shared,
        &inbox,
        &key_id,
        &key,
        &other,
        FEDIFY_COMPONENTS,
        now,
    );
    let (status, code, reason) = send_explained(&s.shared, borrowed).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "origin_mismatch"),
        "{reason}"
    );
    assert!(reason.contains("does not belong to the actor"), "{reason}");
    assert_eq!(s.beta_state().await, (0, 0));

    let genuine = crate::helpers::rfc9421_request(
        &s.shared,
        &inbox,
        &key_id,
        &key,
        &like(7),
        FEDIFY_COMPONENTS,
        now,
    );
    let replay = genuine.try_clone().unwrap();
    assert_eq!(send(&s.shared, genuine).await.0, 202);
    assert_eq!(send(&s.shared, replay).await.0, 202);
    assert_eq!(
        s.beta_state().await,
        (1, 1),
        "accepted once, replay changed nothing"
    );
}
