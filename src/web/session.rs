//! Who is looking at a page, and the CSRF token their forms carry.
//!
//! A logged-in browser holds `ff_session`: a 256-bit random secret whose SHA-256 names a row of
//! `web_sessions` (`store::sessions`), so log-out ends it for good. The cookie is `HttpOnly`
//! (no script reads it), `SameSite=Lax` (other sites' POSTs do not carry it) and `Secure` when
//! the public URL is https.
//!
//! CSRF: every POST form carries a `csrf` field. For a session it is the session's
//! synchronizer token, stored in its row. Before log-in (the log-in and sign-up forms) there is
//! no session to tie it to, so an anonymous visitor gets a random `ff_csrf` cookie and its
//! forms carry the same value (double submit): another site can make the browser send the
//! cookie but cannot read it to put it in the form. See docs/web.md.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::PageError;
use crate::state::AppState;
use crate::store::sessions::{self, SessionRow};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ff_session";
/// The anonymous visitor's CSRF cookie.
pub const CSRF_COOKIE: &str = "ff_csrf";

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        // Our secrets are 64 hex digits; anything else was not set by us.
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Equal strings, compared in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// The person requesting a page: logged in or not, and their CSRF token.
#[derive(Debug, Clone)]
pub struct Visitor {
    session: Option<(String, SessionRow)>,
    /// The anonymous CSRF token, and whether it is new (its cookie still to be set).
    anonymous: (String, bool),
    secure: bool,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let secure = state.settings.base_url.scheme() == "https";
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(secret) => sessions::find(state.store.pool(), secret, state.clock.now())
                .await?
                .map(|row| (secret.to_owned(), row)),
            None => None,
        };
        let anonymous = match cookie(&parts.headers, CSRF_COOKIE) {
            Some(token) => (token.to_owned(), false),
            None => (sessions::random_secret(), true),
        };
        Ok(Visitor {
            session,
            anonymous,
            secure,
        })
    }
}

impl Visitor {
    /// The logged-in user's id.
    pub fn user_id(&self) -> Option<i64> {
        self.session.as_ref().map(|(_, row)| row.user_id)
    }

    /// The logged-in user's id, or a redirect to the log-in page that comes back to `back`.
    pub fn require(&self, back: &str) -> Result<i64, PageError> {
        self.user_id()
            .ok_or_else(|| PageError::LogIn(back.to_owned()))
    }

    /// The token this visitor's forms carry.
    pub fn csrf(&self) -> &str {
        match &self.session {
            Some((_, row)) => &row.csrf,
            None => &self.anonymous.0,
        }
    }

    /// Refuses a POST whose form token is not this visitor's (403).
    pub fn check(&self, token: &str) -> Result<(), PageError> {
        let fresh = self.session.is_none() && self.anonymous.1;
        if fresh || !same_secret(token, self.csrf()) {
            return Err(PageError::csrf());
        }
        Ok(())
    }

    /// The cookie's secret of this visitor's session (to log out).
    pub fn session_secret(&self) -> Option<&str> {
        self.session.as_ref().map(|(secret, _)| secret.as_str())
    }

    fn attributes(&self, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// `response`, plus the anonymous CSRF cookie when this visitor has none yet.
    pub fn respond(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if self.session.is_none() && self.anonymous.1 {
            let value = format!(
                "{CSRF_COOKIE}={}{}",
                self.anonymous.0,
                self.attributes(sessions::LIFETIME.num_seconds())
            );
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// `response`, setting the cookie of a session just opened.
    pub fn start_session(&self, secret: &str, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        let value = format!(
            "{SESSION_COOKIE}={secret}{}",
            self.attributes(sessions::LIFETIME.num_seconds())
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    /// `response`, clearing the session cookie.
    pub fn end_session(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        let value = format!("{SESSION_COOKIE}={}", self.attributes(0));
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cookie_of_ours_is_read() {
        let mut headers = HeaderMap::new();
        let secret = "a".repeat(64);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; ff_session={secret}; ff_csrf=short")).unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some(secret.as_str()));
        assert_eq!(cookie(&headers, CSRF_COOKIE), None);
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
