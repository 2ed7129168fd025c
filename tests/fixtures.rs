//! Real JSON of Mastodon, Lemmy and PeerTube (tests/fixtures/, sources in its README.md)
//! deserializes into our wire types: actors into `ActorJson`, the things people flattr into
//! `RemoteObject`, and their `Like` and `Undo(Like)` into `InboxActivity`.

// Test and bench code: a failed unwrap is a failed run with its reason, which is what we want
// here; `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared helpers.
#![allow(clippy::unwrap_used)]

use fedflattr::federation::activities::InboxActivity;
use fedflattr::federation::activities::like::Like;
use fedflattr::federation::activities::undo::Undo;
use fedflattr::federation::actors::ActorJson;
use fedflattr::federation::objects::{FLATTRABLE, RemoteObject};
use fedflattr::federation::vocab::Kinds;
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use serde_json::Value;
use url::Url;

/// The text of `tests/fixtures/{path}`.
fn fixture(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn raw(path: &str) -> Value {
    serde_json::from_str(&fixture(path)).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

fn url(text: &str) -> Url {
    Url::parse(text).expect("a URL")
}

// ---------------------------------------------------------------------------------------------
// Actors

/// Deserializes an actor and checks what the inbox and the signature check rely on: the key
/// belongs to the actor and is a usable RSA public key.
fn actor(path: &str, id: &str, kind: &str, username: &str, inbox: &str, shared: &str) {
    let actor: ActorJson = serde_json::from_str(&fixture(path))
        .unwrap_or_else(|e| panic!("{path} does not deserialize into ActorJson: {e}"));
    assert_eq!(actor.id, url(id), "{path}: id");
    assert_eq!(actor.kind, Kinds::from(kind), "{path}: type");
    assert_eq!(
        actor.preferred_username.as_deref(),
        Some(username),
        "{path}: preferredUsername"
    );
    assert_eq!(actor.inbox, url(inbox), "{path}: inbox");
    assert_eq!(
        actor.endpoints.and_then(|e| e.shared_inbox),
        Some(url(shared)),
        "{path}: endpoints.sharedInbox"
    );
    assert_eq!(actor.public_key.owner, actor.id, "{path}: publicKey.owner");
    assert_eq!(
        actor.public_key.id,
        format!("{id}#main-key"),
        "{path}: publicKey.id"
    );
    RsaPublicKey::from_public_key_pem(&actor.public_key.public_key_pem)
        .unwrap_or_else(|e| panic!("{path}: publicKeyPem is not an RSA public key: {e}"));
}

#[test]
fn a_mastodon_person_deserializes_into_an_actor_with_its_inbox_and_key() {
    actor(
        "mastodon/person.json",
        "https://masto.qa.urbanwildlife.biz/users/mastodon",
        "Person",
        "mastodon",
        "https://masto.qa.urbanwildlife.biz/users/mastodon/inbox",
        "https://masto.qa.urbanwildlife.biz/inbox",
    );
}

#[test]
fn a_lemmy_person_deserializes_into_an_actor_with_its_inbox_and_key() {
    actor(
        "lemmy/person.json",
        "https://enterprise.lemmy.ml/u/picard",
        "Person",
        "picard",
        "https://enterprise.lemmy.ml/u/picard/inbox",
        "https://enterprise.lemmy.ml/inbox",
    );
}

#[test]
fn a_peertube_account_deserializes_into_an_actor_with_its_inbox_and_key() {
    actor(
        "peertube/person.json",
        "https://tilvids.com/accounts/thelinuxexperiment",
        "Person",
        "thelinuxexperiment",
        "https://tilvids.com/accounts/thelinuxexperiment/inbox",
        "https://tilvids.com/inbox",
    );
}

// ---------------------------------------------------------------------------------------------
// Things

/// Deserializes an object and checks it is flattrable, owned by `owner`, and has a title.
fn object(path: &str, id: &str, kind: &str, owner: &str) -> RemoteObject {
    let object: RemoteObject = serde_json::from_str(&fixture(path))
        .unwrap_or_else(|e| panic!("{path} does not deserialize into RemoteObject: {e}"));
    assert_eq!(object.id, url(id), "{path}: id");
    assert_eq!(object.kind.to_string(), kind, "{path}: type");
    assert!(
        object.kind.any_of(FLATTRABLE),
        "{path}: {} is not flattrable",
        object.kind
    );
    assert_eq!(object.owner(), Some(url(owner)), "{path}: owner");
    let title = object.title();
    assert!(!title.trim().is_empty(), "{path}: empty title");
    assert_ne!(title, id, "{path}: the title fell back to the id");
    assert!(
        !title.contains('<'),
        "{path}: markup in the title {title:?}"
    );
    object
}

#[test]
fn a_mastodon_note_is_flattrable_and_owned_by_its_author() {
    let note = object(
        "mastodon/note.json",
        "https://mastodon.madrid/users/felix/statuses/107224289116410645",
        "Note",
        "https://mastodon.madrid/users/felix",
    );
    // A toot has no name and a null summary: the title is its text without the markup.
    assert_eq!(note.name, None);
    assert_eq!(note.summary, None);
    assert!(
        note.title()
            .starts_with("@ retiolus i have never been disappointed by a thinkpad"),
        "{}",
        note.title()
    );
    assert!(note.title().chars().count() <= 120);
}

#[test]
fn an_object_with_a_list_of_types_is_flattrable_when_one_of_them_is() {
    let note = object(
        "multitype/note_article.json",
        "https://mastodon.madrid/users/felix/statuses/107224289116410645",
        "Note, Article",
        "https://mastodon.madrid/users/felix",
    );
    assert_eq!(
        serde_json::to_value(&note.kind).unwrap(),
        serde_json::json!(["Note", "Article"]),
        "the list is kept as it came"
    );
    let mut not_a_thing = raw("multitype/note_article.json");
    not_a_thing["type"] = serde_json::json!(["Collection", "Tombstone"]);
    let not_a_thing: RemoteObject = serde_json::from_value(not_a_thing).unwrap();
    assert!(!not_a_thing.kind.any_of(FLATTRABLE));
}

#[test]
fn an_actor_with_a_list_of_types_is_an_actor() {
    let actor: ActorJson = serde_json::from_str(&fixture("multitype/person_service.json")).unwrap();
    assert_eq!(actor.kind.first_of(&["Person", "Service"]), Some("Person"));
}

#[test]
fn a_lemmy_post_is_a_flattrable_page_owned_by_its_author() {
    let page = object(
        "lemmy/page.json",
        "https://enterprise.lemmy.ml/post/55143",
        "Page",
        "https://enterprise.lemmy.ml/u/picard",
    );
    assert_eq!(page.title(), "Post title");
}

#[test]
fn a_peertube_video_is_owned_by_the_account_and_not_by_the_channel() {
    let video = object(
        "peertube/video.json",
        "https://tilvids.com/videos/watch/e7946124-7b72-4ad7-9d22-844a84bb2de1",
        "Video",
        "https://tilvids.com/accounts/thelinuxexperiment",
    );
    // The channel (a Group) is in attributedTo too; the account is listed first in this
    // fixture, so check the owner is chosen by type and not by position.
    let mut swapped = raw("peertube/video.json");
    swapped["attributedTo"]
        .as_array_mut()
        .expect("PeerTube lists the account and the channel")
        .reverse();
    assert_eq!(swapped["attributedTo"][0]["type"], "Group");
    let swapped: RemoteObject = serde_json::from_value(swapped).expect("still deserializes");
    assert_eq!(swapped.owner(), video.owner());
    assert!(
        video
            .title()
            .starts_with("Mesa, Wayland & X.org in trouble"),
        "{}",
        video.title()
    );
}

#[test]
fn the_peertube_account_that_owns_the_video_is_the_peertube_person_fixture() {
    let video: RemoteObject = serde_json::from_str(&fixture("peertube/video.json")).unwrap();
    let account: ActorJson = serde_json::from_str(&fixture("peertube/person.json")).unwrap();
    assert_eq!(video.owner(), Some(account.id));
}

// ---------------------------------------------------------------------------------------------
// Likes

/// Deserializes an inbox activity that must be a plain Like (a favourite, not a flattr).
fn like(path: &str, id: &str, actor: &str, object: &str) -> Like {
    let activity: InboxActivity = serde_json::from_str(&fixture(path))
        .unwrap_or_else(|e| panic!("{path} does not deserialize into InboxActivity: {e}"));
    let InboxActivity::Like(like) = activity else {
        panic!("{path}: not read as a Like: {activity:?}");
    };
    assert_eq!(like.id, url(id), "{path}: id");
    assert_eq!(like.actor, url(actor), "{path}: actor");
    assert_eq!(like.object.id(), &url(object), "{path}: object");
    assert!(!like.is_flattr(), "{path}: a plain Like read as a flattr");
    assert_eq!(
        (&like.period, &like.currency, &like.value),
        (&None, &None, &None)
    );
    like
}

#[test]
fn a_mastodon_favourite_is_a_plain_like() {
    like(
        "mastodon/like.json",
        "https://mastodon.madrid/users/felix#likes/212340",
        "https://mastodon.madrid/users/felix",
        "https://ds9.lemmy.ml/post/147",
    );
}

#[test]
fn a_lemmy_upvote_is_a_plain_like() {
    like(
        "lemmy/like.json",
        "http://ds9.lemmy.ml/activities/like/fd61d070-7382-46a9-b2b7-6bb253732877",
        "http://ds9.lemmy.ml/u/lemmy_alpha",
        "http://ds9.lemmy.ml/comment/1",
    );
}

#[test]
fn a_peertube_video_like_is_a_plain_like_of_the_video() {
    like(
        "peertube/like.json",
        "https://peertube.example/accounts/alice/likes/1342",
        "https://peertube.example/accounts/alice",
        "https://tilvids.com/videos/watch/e7946124-7b72-4ad7-9d22-844a84bb2de1",
    );
}

// ---------------------------------------------------------------------------------------------
// Undos

/// Deserializes an inbox activity that must be an Undo of an embedded Like, and checks that
/// `object.id()` is the id of that Like, which is itself a plain Like by the same actor of the
/// same thing as `like_path`.
fn undo(path: &str, id: &str, like_path: &str) -> Undo {
    let activity: InboxActivity = serde_json::from_str(&fixture(path))
        .unwrap_or_else(|e| panic!("{path} does not deserialize into InboxActivity: {e}"));
    let InboxActivity::Undo(undo) = activity else {
        panic!("{path}: not read as an Undo: {activity:?}");
    };
    assert_eq!(undo.id, url(id), "{path}: id");

    let embedded = raw(path)["object"].clone();
    assert_eq!(embedded["type"], "Like", "{path}: the Like is embedded");
    let undone: Like = serde_json::from_value(embedded)
        .unwrap_or_else(|e| panic!("{path}: the embedded Like does not deserialize: {e}"));
    assert_eq!(undo.object.id(), &undone.id, "{path}: object.id()");
    assert_eq!(undone.actor, undo.actor, "{path}: someone else's Like");
    assert!(!undone.is_flattr());

    let sent: Like = serde_json::from_str(&fixture(like_path)).unwrap();
    assert_eq!(undo.actor, sent.actor, "{path}: actor of {like_path}");
    assert_eq!(
        undone.object.id(),
        sent.object.id(),
        "{path}: object of {like_path}"
    );
    undo
}

#[test]
fn a_mastodon_unfavourite_undoes_the_embedded_like_by_its_id() {
    let undo = undo(
        "mastodon/undo_like.json",
        "https://mastodon.madrid/users/felix#likes/212341/undo",
        "mastodon/like.json",
    );
    // Upstream captured two different favourites: this Undo withdraws #likes/212341, the Like
    // fixture is #likes/212340 (see tests/fixtures/README.md).
    assert_eq!(
        undo.object.id(),
        &url("https://mastodon.madrid/users/felix#likes/212341")
    );
}

#[test]
fn a_lemmy_vote_withdrawal_undoes_the_embedded_like_by_its_id() {
    let undo = undo(
        "lemmy/undo_like.json",
        "http://ds9.lemmy.ml/activities/undo/3518565c-24a7-4d9e-8e0a-f7a2f45ac618",
        "lemmy/like.json",
    );
    assert_eq!(
        undo.object.id(),
        &url("http://ds9.lemmy.ml/activities/like/efcf7ae2-dfcc-4ff4-9ce4-6adf251ff004")
    );
}

#[test]
fn a_peertube_unlike_undoes_exactly_the_like_it_sent() {
    let undo = undo(
        "peertube/undo_like.json",
        "https://peertube.example/accounts/alice/likes/1342/undo",
        "peertube/like.json",
    );
    let sent: Like = serde_json::from_str(&fixture("peertube/like.json")).unwrap();
    assert_eq!(undo.object.id(), &sent.id);
}

#[test]
fn an_undo_that_names_its_like_by_id_only_is_read_too() {
    // Lemmy's and Mastodon's Undo with the embedded Like replaced by its id, as other
    // software sends it.
    for path in ["mastodon/undo_like.json", "lemmy/undo_like.json"] {
        let mut value = raw(path);
        let like_id = value["object"]["id"].clone();
        value["object"] = like_id.clone();
        let InboxActivity::Undo(undo) = serde_json::from_value(value).unwrap() else {
            panic!("{path}: not an Undo");
        };
        assert_eq!(undo.object.id().as_str(), like_id.as_str().unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// Everything at once

#[test]
fn every_fixture_file_is_covered_by_a_test() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut found = Vec::new();
    for software in std::fs::read_dir(&dir).unwrap() {
        let software = software.unwrap().path();
        if !software.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&software).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "json") {
                found.push(file.strip_prefix(&dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    assert_eq!(
        found,
        [
            // The W3C proof vectors, read by src/federation/proof_tests.rs.
            "eddsa-jcs-2022/keyPair.json",
            "eddsa-jcs-2022/proofConfigJCS.json",
            "eddsa-jcs-2022/signedJCS.json",
            "eddsa-jcs-2022/unsigned.json",
            "lemmy/like.json",
            "lemmy/page.json",
            "lemmy/person.json",
            "lemmy/undo_like.json",
            "mastodon/like.json",
            "mastodon/note.json",
            "mastodon/person.json",
            "mastodon/undo_like.json",
            "multitype/note_article.json",
            "multitype/person_service.json",
            "peertube/like.json",
            "peertube/person.json",
            "peertube/undo_like.json",
            "peertube/video.json",
        ]
    );
}

#[test]
fn other_activities_of_these_servers_still_parse_as_something_we_ignore() {
    // A PeerTube Dislike is what PeerTube sends for a thumbs-down; it must not be read as a
    // Like. Built from peertube/like.json with the type PeerTube uses (send-dislike.ts).
    let mut dislike = raw("peertube/like.json");
    dislike["type"] = "Dislike".into();
    dislike["id"] = "https://peertube.example/accounts/alice/dislikes/1342".into();
    let activity: InboxActivity = serde_json::from_value(dislike).unwrap();
    assert!(
        matches!(&activity, InboxActivity::Other(o) if o.kind == "Dislike"),
        "{activity:?}"
    );
}

#[test]
fn real_likes_undos_actors_and_objects_survive_a_round_trip_through_our_wire_types() {
    // Read, written by the same type, read again: what we act on is unchanged.
    for path in [
        "mastodon/like.json",
        "lemmy/like.json",
        "peertube/like.json",
    ] {
        let first: Like = serde_json::from_str(&fixture(path)).unwrap();
        let again: Like = serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
        assert_eq!(
            (&again.id, &again.actor, again.object.id(), &again.period),
            (&first.id, &first.actor, first.object.id(), &first.period),
            "{path}"
        );
    }
    for path in [
        "mastodon/undo_like.json",
        "lemmy/undo_like.json",
        "peertube/undo_like.json",
    ] {
        let first: Undo = serde_json::from_str(&fixture(path)).unwrap();
        let again: Undo = serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
        assert_eq!(
            (&again.id, &again.actor, again.object.id()),
            (&first.id, &first.actor, first.object.id()),
            "{path}"
        );
    }
    for path in [
        "mastodon/person.json",
        "lemmy/person.json",
        "peertube/person.json",
        "multitype/person_service.json",
    ] {
        let first: ActorJson = serde_json::from_str(&fixture(path)).unwrap();
        let written = serde_json::to_value(&first).unwrap();
        let again: ActorJson = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), written, "{path}");
    }
    for path in [
        "mastodon/note.json",
        "lemmy/page.json",
        "peertube/video.json",
        "multitype/note_article.json",
    ] {
        let first: RemoteObject = serde_json::from_str(&fixture(path)).unwrap();
        let written = serde_json::to_value(&first).unwrap();
        let again: RemoteObject = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), written, "{path}");
        assert_eq!(again.owner(), first.owner(), "{path}");
    }
}
