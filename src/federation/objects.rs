//! Things as ActivityPub objects: ours served as `Page`, and the wire form of objects of other
//! software (a Mastodon `Note`, a PeerTube `Video`, a Lemmy `Page`) that our users flattr.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::actors::{payment_link, user_url};
use super::vocab::{Kinds, Link, context, lenient, one_or_many};
use crate::state::AppState;
use crate::store::from_epoch;
use crate::store::things::ThingRow;

/// The ActivityPub id (and page) of local thing `id` (`domain::thing::page_url`).
pub fn thing_url(state: &AppState, id: i64) -> Url {
    crate::domain::thing::page_url(&state.settings.base_url, id)
}

/// The audience of everything we publish.
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The `Page` of a local thing, attributed to its owner, with a FEP-0ea0 payment link.
pub fn page(state: &AppState, thing: &ThingRow) -> RemoteObject {
    let id = thing_url(state, thing.id);
    RemoteObject {
        context: Some(context()),
        kind: Kinds::from("Page"),
        attributed_to: Attribution::One(AttributionItem::Id(user_url(state, &thing.owner))),
        name: Some(thing.title.clone()),
        summary: Some(thing.description.clone()),
        content: None,
        url: Url::parse(&thing.url).ok(),
        to: vec![Url::parse(PUBLIC).expect("a URL")],
        published: Some(from_epoch(thing.created_at)),
        updated: Some(from_epoch(thing.updated_at)),
        tag: thing
            .tags()
            .iter()
            .map(|t| Tag {
                kind: "Hashtag".to_owned(),
                name: Some(format!("#{t}")),
                href: None,
            })
            .collect(),
        attachment: vec![payment_link(&id)],
        id,
    }
}

/// The `Page` document we serve for one of our things.
pub fn page_json(state: &AppState, thing: &ThingRow) -> Value {
    serde_json::to_value(page(state, thing)).expect("an object serializes")
}

/// The wire form of a flattrable object, both ways: our things are served as a `Page` built
/// from it, and objects of other servers are read into it (as much as flattring needs; the
/// fields we only send are read leniently).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteObject {
    /// The JSON-LD context; we send ours, others' is kept as it came.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// The object's ActivityPub id.
    pub id: Url,
    /// The object's type or types; a flattrable one must be among them.
    #[serde(rename = "type")]
    pub kind: Kinds,
    /// Who made it: the actor a flattr of it pays.
    pub attributed_to: Attribution,
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A short description (plain text on our side, HTML on some servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The body, HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The thing's own URL (a web page); PeerTube's list of links is left out.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub url: Option<Url>,
    /// Whom the object is addressed to.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub to: Vec<Url>,
    /// When it was first published.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub published: Option<DateTime<Utc>>,
    /// When it last changed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub updated: Option<DateTime<Utc>>,
    /// Hashtags and mentions.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub tag: Vec<Tag>,
    /// Links attached to it (our payment links).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub attachment: Vec<Link>,
}

/// A `Hashtag` (ours) or a `Mention` (Mastodon's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// `Hashtag` or `Mention`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The tag's text, `#tag` or `@user@host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the tag points to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<Url>,
}

/// `attributedTo`: one id, an object, or a list of either (PeerTube lists the account and
/// the channel).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Attribution {
    /// A single creator.
    One(AttributionItem),
    /// Several (PeerTube: the account and the channel).
    Many(Vec<AttributionItem>),
}

/// One entry of `attributedTo`: an actor's id, or an object that carries one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributionItem {
    /// An actor by id.
    Id(Url),
    /// An embedded object with an id (and perhaps a type).
    Object {
        /// The actor's id.
        id: Url,
        /// Its type, when given (`Person`, `Group`, …).
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
    },
}

/// Object types that are things people make; actors and collections are not flattrable.
pub const FLATTRABLE: &[&str] = &[
    "Note", "Article", "Page", "Video", "Audio", "Image", "Document", "Event", "Question",
];

impl RemoteObject {
    /// The creator: the first `Person` if the list says which is which, else the first entry.
    pub fn owner(&self) -> Option<Url> {
        let items: Vec<&AttributionItem> = match &self.attributed_to {
            Attribution::One(item) => vec![item],
            Attribution::Many(items) => items.iter().collect(),
        };
        let person = items
            .iter()
            .find(|i| matches!(i, AttributionItem::Object { kind: Some(k), .. } if k == "Person"));
        person.or(items.first()).map(|item| match item {
            AttributionItem::Id(id) | AttributionItem::Object { id, .. } => id.clone(),
        })
    }

    /// A title for people: the name, else the start of the summary or content without markup.
    pub fn title(&self) -> String {
        let text = self
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| self.summary.clone().filter(|s| !s.trim().is_empty()))
            .or_else(|| self.content.clone())
            .unwrap_or_else(|| self.id.to_string());
        let plain = strip_tags(&text);
        let title: String = plain.trim().chars().take(120).collect();
        if title.is_empty() {
            self.id.to_string()
        } else {
            title
        }
    }
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_person_is_the_owner_of_a_video_attributed_to_a_person_and_a_channel() {
        let object: RemoteObject = serde_json::from_value(json!({
            "id": "https://tube.example/videos/watch/1", "type": "Video", "name": "A video",
            "attributedTo": [{"type": "Group", "id": "https://tube.example/video-channels/c"},
                             {"type": "Person", "id": "https://tube.example/accounts/p"}]
        }))
        .unwrap();
        assert_eq!(
            object.owner().unwrap().as_str(),
            "https://tube.example/accounts/p"
        );
        assert_eq!(object.title(), "A video");
    }

    #[test]
    fn a_note_without_name_is_titled_by_its_text() {
        let object: RemoteObject = serde_json::from_value(json!({
            "id": "https://social.example/users/a/statuses/1", "type": "Note",
            "attributedTo": "https://social.example/users/a",
            "content": "<p>Hello <a href=\"x\">world</a></p>"
        }))
        .unwrap();
        assert_eq!(object.title(), "Hello world");
        assert_eq!(
            object.owner().unwrap().as_str(),
            "https://social.example/users/a"
        );
    }
}
