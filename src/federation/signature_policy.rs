//! The signature policy of our inboxes: which parts of a request a signature must cover, and
//! the window its time must fall in. Checked before the signature itself, so a signature that
//! verifies but authenticates too little (a `Like` signed over `digest` alone, replayable to
//! any inbox at any time) is refused with a reason the sender can act on.

use chrono::{DateTime, Utc};

/// How far in the future a signature's time may be (clocks differ).
pub const CLOCK_SKEW_SECS: i64 = 300;
/// How long a signature stays valid after its time (as the federation library does).
pub const VALIDITY_SECS: i64 = 3600;

/// Why a signature does not meet the policy; `Incomplete` names what is missing.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No signature at all.
    #[error("the request is not signed")]
    Unsigned,
    /// The signature does not cover this component.
    #[error("the signature must cover {0}")]
    Incomplete(&'static str),
    /// The header or its date cannot be read.
    #[error("{0}")]
    Malformed(String),
    /// Signed too long ago (at this Unix time).
    #[error("the signature is expired (signed at {0})")]
    Expired(i64),
    /// Signed further in the future than clocks differ (at this Unix time).
    #[error(
        "the signature is dated in the future (signed at {0}; at most {CLOCK_SKEW_SECS} s of clock skew)"
    )]
    Future(i64),
}

/// The parameters of a draft-cavage `Signature` header (`keyId="…",headers="…",…`).
pub(super) fn cavage_parameters(header: &str) -> Vec<(String, String)> {
    let mut parameters = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((value, remainder)) => (value.to_owned(), remainder),
                None => (quoted.to_owned(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((value, remainder)) => (value.trim().to_owned(), remainder),
                None => (after.trim().to_owned(), ""),
            }
        };
        parameters.push((name, value));
        rest = remainder.trim_start().trim_start_matches(',');
    }
    parameters
}

/// Checks a draft-cavage signature: it covers `(request-target)`, `host`, `date` or
/// `(created)`, and — when the request has a body — `digest`; its time is no more than
/// [`CLOCK_SKEW_SECS`] ahead of `now` and no more than [`VALIDITY_SECS`] behind.
pub fn check_cavage(
    signature: &str,
    date: Option<&str>,
    has_body: bool,
    now: DateTime<Utc>,
) -> Result<(), PolicyError> {
    let parameters = cavage_parameters(signature);
    let parameter = |name: &str| {
        parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    // Without `headers`, draft-cavage says only `Date` is signed (later drafts: `(created)`).
    let covered: Vec<String> = parameter("headers")
        .unwrap_or("date")
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let covers = |c: &str| covered.iter().any(|s| s == c);
    if !covers("(request-target)") {
        return Err(PolicyError::Incomplete("(request-target)"));
    }
    if !covers("host") {
        return Err(PolicyError::Incomplete("host"));
    }
    if has_body && !covers("digest") {
        return Err(PolicyError::Incomplete("digest"));
    }
    let signed_at = if covers("(created)") {
        parameter("created")
            .and_then(|c| c.parse::<i64>().ok())
            .ok_or_else(|| PolicyError::Malformed("(created) is covered but not given".into()))?
    } else if covers("date") {
        let date =
            date.ok_or_else(|| PolicyError::Malformed("date is covered but absent".into()))?;
        DateTime::parse_from_rfc2822(date)
            .map_err(|_| PolicyError::Malformed(format!("the Date {date:?} is not an HTTP date")))?
            .timestamp()
    } else {
        return Err(PolicyError::Incomplete("date or (created)"));
    };
    check_time(signed_at, now)
}

/// The window every signature's time must fall in.
pub fn check_time(signed_at: i64, now: DateTime<Utc>) -> Result<(), PolicyError> {
    let now = now.timestamp();
    if signed_at > now + CLOCK_SKEW_SECS {
        return Err(PolicyError::Future(signed_at));
    }
    if now - signed_at > VALIDITY_SECS {
        return Err(PolicyError::Expired(signed_at));
    }
    Ok(())
}

/// Checks the components an RFC 9421 signature covers: `@method`, the target (`@target-uri`,
/// or `@authority` with `@path` or `@request-target`) and, with a body, `content-digest`.
pub fn check_rfc9421(components: &[String], has_body: bool) -> Result<(), PolicyError> {
    let covers = |c: &str| components.iter().any(|s| s == c);
    if !covers("@method") {
        return Err(PolicyError::Incomplete("@method"));
    }
    // The host must be signed too: a signature over the path alone could be replayed to the
    // same path on another server.
    let target = covers("@target-uri")
        || (covers("@authority") && (covers("@path") || covers("@request-target")));
    if !target {
        return Err(PolicyError::Incomplete(
            "@target-uri, or @authority with @path",
        ));
    }
    if has_body && !covers("content-digest") {
        return Err(PolicyError::Incomplete("content-digest"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const DATE: &str = "Sat, 21 Nov 2026 12:00:00 GMT";

    #[test]
    fn a_mastodon_signature_meets_the_policy() {
        let header = r#"keyId="https://a.example/users/a#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="AA==""#;
        assert_eq!(check_cavage(header, Some(DATE), true, now()), Ok(()));
    }

    #[test]
    fn each_missing_component_is_named() {
        for (headers, missing) in [
            ("host date digest", "(request-target)"),
            ("(request-target) date digest", "host"),
            ("(request-target) host date", "digest"),
            ("(request-target) host digest", "date or (created)"),
            ("digest", "(request-target)"),
        ] {
            let header = format!(r#"keyId="k",headers="{headers}",signature="AA==""#);
            assert_eq!(
                check_cavage(&header, Some(DATE), true, now()),
                Err(PolicyError::Incomplete(missing)),
                "{headers}"
            );
        }
    }

    #[test]
    fn a_date_more_than_five_minutes_ahead_is_refused_and_one_within_is_accepted() {
        let header = r#"keyId="k",headers="(request-target) host date digest",signature="AA==""#;
        let ahead = |secs: i64| {
            (now() + chrono::Duration::seconds(secs))
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string()
        };
        assert_eq!(
            check_cavage(header, Some(ahead(299).as_str()), true, now()),
            Ok(())
        );
        assert!(matches!(
            check_cavage(header, Some(ahead(301).as_str()), true, now()),
            Err(PolicyError::Future(_))
        ));
        assert!(matches!(
            check_cavage(header, Some(ahead(-3601).as_str()), true, now()),
            Err(PolicyError::Expired(_))
        ));
    }

    #[test]
    fn rfc9421_must_cover_the_authority_or_the_target_uri() {
        let list = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_rfc9421(&list(&["@method", "@target-uri", "content-digest"]), true),
            Ok(())
        );
        assert_eq!(
            check_rfc9421(
                &list(&["@method", "@authority", "@path", "content-digest"]),
                true
            ),
            Ok(())
        );
        assert!(matches!(
            check_rfc9421(&list(&["@method", "@path", "content-digest"]), true),
            Err(PolicyError::Incomplete(_))
        ));
        assert!(matches!(
            check_rfc9421(&list(&["@method", "@target-uri"]), true),
            Err(PolicyError::Incomplete("content-digest"))
        ));
    }
}
