//! What every form of the pages shares: the shape of a logged-in user's POST (log in first,
//! the CSRF token, the use case, then a redirect, or the form again with the refusal next to
//! its field), the refused field for the templates, the token-only form of a button, and the
//! notices of the pages a form redirects to.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::Visitor;
use super::{FieldError, PageError};

/// A form's refused field, for the templates: `error_on("budget")` and `error_text()`.
pub trait FormError {
    /// The refused field, if any.
    fn form_error(&self) -> Option<&FieldError>;

    /// True when `field` is the refused one.
    fn error_on(&self, field: &str) -> bool {
        self.form_error().is_some_and(|e| e.field == field)
    }

    /// Why it was refused.
    fn error_text(&self) -> &str {
        self.form_error().map_or("", |e| e.message.as_str())
    }
}

/// A form that carries only its CSRF token (a button: undo, hide, delete…).
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
}

impl TokenForm {
    /// The CSRF token the form carried.
    pub fn token(&self) -> &str {
        &self.csrf
    }
}

/// The refusal of a form's input to show on the page: its status and the field it blames (or
/// `field`). Failures of ours (5xx) and "log in first" stay what they are.
pub fn refusal(
    error: impl Into<PageError>,
    field: &str,
) -> Result<(StatusCode, FieldError), PageError> {
    match error.into() {
        PageError::Api(api) if !api.status().is_server_error() => {
            Ok((api.status(), FieldError::from_api(&api, field)))
        }
        other => Err(other),
    }
}

/// A logged-in user's form POST: a visitor who is not logged in logs in first and comes back
/// to `back`; a token that is not the session's is a 403; then `act` runs the use case for
/// the user and answers where to go (a redirect). What it refuses (4xx) goes to `refused`
/// with the status and the field it blames (`field` when it names none), to show the form
/// again with what was typed; a failure of ours is an error page.
pub async fn submit(
    visitor: &Visitor,
    back: &str,
    csrf: &str,
    field: &str,
    act: impl AsyncFnOnce(i64) -> Result<String, PageError>,
    refused: impl AsyncFnOnce(i64, StatusCode, FieldError) -> Result<Response, PageError>,
) -> Result<Response, PageError> {
    let user = visitor.require(back)?;
    visitor.check(csrf)?;
    match act(user).await {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(error) => {
            let (status, error) = refusal(error, field)?;
            refused(user, status, error).await
        }
    }
}

/// A logged-in user's button (a form with only its token): as [`submit`], but with no field
/// to blame, so any refusal is an error page.
pub async fn press(
    visitor: &Visitor,
    back: &str,
    form: &TokenForm,
    act: impl AsyncFnOnce(i64) -> Result<String, PageError>,
) -> Result<Response, PageError> {
    let user = visitor.require(back)?;
    visitor.check(form.token())?;
    let to = act(user).await?;
    Ok(Redirect::to(&to).into_response())
}

/// The query of a page a form redirected to: what the form did (`?done=budget`).
#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    done: String,
}

impl NoticeQuery {
    /// The sentence that says what was done, if the query names something.
    pub fn notice(&self) -> Option<String> {
        let text = match self.done.as_str() {
            "budget" => "Your budget is set.",
            "flattr" => "Flattred.",
            "undo" => "The flattr is undone.",
            "registered" => "Registered.",
            "proven" => "Proven yours: its flattrs pay you.",
            "unproven" => "Still not proven; see why below.",
            "changed" => "Saved.",
            "deleted" => "Deleted; its flattrs of open periods are withdrawn.",
            "claimed" => "Claimed: publish the token below, then verify.",
            "verified" => "Verified: pages under this domain are proven yours.",
            "payout" => "Payout requested.",
            "subscribed" => "Subscribed: flattred now and every month until it ends.",
            "paused" => "Subscription changed.",
            "stopped" => "Subscription stopped.",
            _ => return None,
        };
        Some(text.to_owned())
    }
}
