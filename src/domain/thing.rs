//! Things: what can be flattred, and the fields a person gives when registering one.

use url::Url;

use super::ParseError;

/// Flattr's categories, kept so that old buttons and API clients keep working.
pub const CATEGORIES: &[&str] = &[
    "text", "images", "video", "audio", "software", "people", "rest",
];

/// The URL of a thing: absolute `http` or `https`, without a fragment (a fragment names a
/// place in a page, not a different thing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingUrl(Url);

impl ThingUrl {
    /// Checks a thing's URL (absolute `http` or `https`, at most 2048 characters) and drops
    /// its fragment.
    pub fn parse(text: &str) -> Result<ThingUrl, ParseError> {
        if text.len() > 2048 {
            return Err(ParseError::new("url", "must be at most 2048 characters"));
        }
        let mut url = Url::parse(text.trim())
            .map_err(|e| ParseError::new("url", format!("is not an absolute URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ParseError::new("url", "must be an http or https URL"));
        }
        url.set_fragment(None);
        Ok(ThingUrl(url))
    }

    /// The URL, parsed.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The page of a local thing on this instance, `BASE/things/ID`: its ActivityPub id, the
/// `link` the API shows, and a URL readers may flattr. Built and recognised only here, so the
/// two can't drift apart.
pub fn page_url(base: &Url, id: i64) -> Url {
    let mut url = base.clone();
    let path = format!("{}things/{id}", base_path(base));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// The id in a URL of the form [`page_url`] builds for the instance at `base` (same scheme,
/// host and port; a query is ignored), or `None`.
pub fn page_id(base: &Url, url: &Url) -> Option<i64> {
    let same_origin = url.scheme() == base.scheme()
        && url.host_str().map(str::to_ascii_lowercase)
            == base.host_str().map(str::to_ascii_lowercase)
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin {
        return None;
    }
    let id = url
        .path()
        .strip_prefix(&base_path(base))?
        .strip_prefix("things/")?;
    // Only plain decimal ids: `+7` or `007` name no page.
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.starts_with('0') {
        return None;
    }
    id.parse().ok()
}

/// The base URL's path with a trailing slash (`/` for an instance at the root of its host).
fn base_path(base: &Url) -> String {
    let path = base.path();
    if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    }
}

/// The descriptive fields of a thing, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingFields {
    /// The title, never empty.
    pub title: String,
    /// A plain-text description, possibly empty.
    pub description: String,
    /// Tags, each checked.
    pub tags: Vec<String>,
    /// A BCP 47 language tag (`en-GB`).
    pub language: String,
    /// One of Flattr's categories.
    pub category: String,
    /// Kept out of public listings.
    pub hidden: bool,
}

/// A title: 1–200 characters after trimming.
pub fn parse_title(text: &str) -> Result<String, ParseError> {
    let title = text.trim();
    if title.is_empty() {
        return Err(ParseError::new("title", "must not be empty"));
    }
    if title.chars().count() > 200 {
        return Err(ParseError::new("title", "must be at most 200 characters"));
    }
    Ok(title.to_owned())
}

/// Checks a description's length.
pub fn parse_description(text: &str) -> Result<String, ParseError> {
    if text.chars().count() > 10_000 {
        return Err(ParseError::new(
            "description",
            "must be at most 10000 characters",
        ));
    }
    Ok(text.trim().to_owned())
}

/// Tags: at most 20, each 1–50 characters without commas, lower-cased and de-duplicated.
pub fn parse_tags(tags: &[String]) -> Result<Vec<String>, ParseError> {
    if tags.len() > 20 {
        return Err(ParseError::new("tags", "at most 20 tags are allowed"));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() || tag.chars().count() > 50 || tag.contains(',') {
            return Err(ParseError::new(
                "tags",
                "each tag must be 1 to 50 characters without commas",
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// A language as Flattr had it (`en_GB`) or as BCP 47 has it (`en-GB`, `de`); stored with a
/// hyphen. Empty means unknown.
pub fn parse_language(text: &str) -> Result<String, ParseError> {
    let text = text.trim().replace('_', "-");
    if text.is_empty() {
        return Ok(String::new());
    }
    let mut parts = text.split('-');
    let primary = parts.next().unwrap_or_default();
    let primary_ok =
        (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !primary_ok || !rest_ok {
        return Err(ParseError::new(
            "language",
            format!("{text:?} is not a language tag like en or en-GB"),
        ));
    }
    Ok(text)
}

/// Checks that a category is one of Flattr's.
pub fn parse_category(text: &str) -> Result<String, ParseError> {
    let category = text.trim().to_lowercase();
    if CATEGORIES.contains(&category.as_str()) {
        Ok(category)
    } else {
        Err(ParseError::new(
            "category",
            format!("must be one of {}", CATEGORIES.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_urls_must_be_absolute_web_urls_and_lose_their_fragment() {
        assert_eq!(
            ThingUrl::parse("https://blog.example/post#comments")
                .unwrap()
                .as_str(),
            "https://blog.example/post"
        );
        for bad in [
            "blog.example/post",
            "ftp://x.example/a",
            "javascript:alert(1)",
            "https://",
        ] {
            assert!(ThingUrl::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn tags_are_normalised_and_bounded() {
        let tags = parse_tags(&["Rust".into(), "rust".into(), " web ".into()]).unwrap();
        assert_eq!(tags, vec!["rust", "web"]);
        assert!(parse_tags(&["a,b".into()]).is_err());
    }

    #[test]
    fn languages_accept_flattr_and_bcp47_spellings() {
        assert_eq!(parse_language("en_GB").unwrap(), "en-GB");
        assert_eq!(parse_language("de").unwrap(), "de");
        assert!(parse_language("english!").is_err());
    }

    #[test]
    fn only_flattr_categories_are_accepted() {
        assert_eq!(parse_category("Text").unwrap(), "text");
        assert!(parse_category("memes").is_err());
    }
}

/// Flattr's auto-submit URL (`https://DOMAIN/submit/auto?user_id=NAME&url=…&title=…`): a
/// button for a page nobody registered yet, which creates the thing on its first flattr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSubmit {
    /// The username the thing is created for.
    pub owner: String,
    /// The URL being flattred.
    pub url: ThingUrl,
    /// The title and the rest from the query.
    pub fields: ThingFields,
}

impl AutoSubmit {
    /// `Ok(None)` when `url` is not an auto-submit URL of the instance at `base`.
    pub fn parse(url: &Url, base: &Url) -> Result<Option<AutoSubmit>, ParseError> {
        let same_origin = url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default();
        if !same_origin || url.path() != "/submit/auto" {
            return Ok(None);
        }
        let param = |name: &str| {
            url.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        let owner = param("user_id")
            .or_else(|| param("user"))
            .ok_or_else(|| ParseError::new("url", "an auto-submit URL needs user_id=OWNER"))?;
        let target =
            param("url").ok_or_else(|| ParseError::new("url", "an auto-submit URL needs url=…"))?;
        let target = ThingUrl::parse(&target)?;
        let tags: Vec<String> = param("tags")
            .map(|t| {
                t.split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let fields = ThingFields {
            title: parse_title(&param("title").unwrap_or_else(|| target.as_str().to_owned()))?,
            description: parse_description(&param("description").unwrap_or_default())?,
            tags: parse_tags(&tags)?,
            language: parse_language(&param("language").unwrap_or_default())?,
            category: parse_category(&param("category").unwrap_or_else(|| "rest".into()))?,
            hidden: matches!(param("hidden").as_deref(), Some("1" | "true")),
        };
        Ok(Some(AutoSubmit {
            owner,
            url: target,
            fields,
        }))
    }
}

#[cfg(test)]
mod auto_submit_tests {
    use super::*;

    #[test]
    fn a_thing_page_url_is_recognised_only_on_this_instance() {
        let base = Url::parse("http://alpha.test:8001").unwrap();
        let page = page_url(&base, 7);
        assert_eq!(page.as_str(), "http://alpha.test:8001/things/7");
        assert_eq!(page_id(&base, &page), Some(7));
        let other_port = Url::parse("http://alpha.test:8002/things/7").unwrap();
        assert_eq!(page_id(&base, &other_port), None);
        for path in [
            "/things/",
            "/things/x",
            "/things/7/x",
            "/things/+7",
            "/users/7",
        ] {
            let url = base.join(path).unwrap();
            assert_eq!(page_id(&base, &url), None, "{path}");
        }
        let prefixed = Url::parse("https://x.example/ff/").unwrap();
        assert_eq!(
            page_url(&prefixed, 3).as_str(),
            "https://x.example/ff/things/3"
        );
        assert_eq!(page_id(&prefixed, &page_url(&prefixed, 3)), Some(3));
    }

    #[test]
    fn an_auto_submit_url_names_owner_target_and_fields() {
        let base = Url::parse("http://localhost:8080").unwrap();
        let url = Url::parse(
            "http://localhost:8080/submit/auto?user_id=alice&url=https%3A%2F%2Fblog.example%2Fp&title=Hello&tags=a,b&category=text",
        )
        .unwrap();
        let auto = AutoSubmit::parse(&url, &base).unwrap().unwrap();
        assert_eq!(auto.owner, "alice");
        assert_eq!(auto.url.as_str(), "https://blog.example/p");
        assert_eq!(auto.fields.title, "Hello");
        assert_eq!(auto.fields.tags, vec!["a", "b"]);
    }

    #[test]
    fn other_urls_are_not_auto_submit_urls() {
        let base = Url::parse("http://localhost:8080").unwrap();
        let elsewhere =
            Url::parse("http://other.example/submit/auto?user_id=a&url=http://x.example").unwrap();
        assert_eq!(AutoSubmit::parse(&elsewhere, &base).unwrap(), None);
        let no_target = Url::parse("http://localhost:8080/submit/auto?user_id=a").unwrap();
        assert!(AutoSubmit::parse(&no_target, &base).is_err());
    }
}
