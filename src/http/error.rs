//! The one place where errors of every layer become HTTP answers.
//!
//! A 4xx names the problem in JSON, with Flattr API v2's error names
//! (`{"error": "flattr_once", "error_description": "…"}`); a 5xx is logged in full and answered
//! opaquely, so database details never reach a client.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::AccountError;
use crate::domain::ParseError;
use crate::domain::flattr::FlattrRefusal;
use crate::domain::settlement::SettlementRefusal;
use crate::federation::FederationError;
use crate::flattring::FlattrError;
use crate::ledger::LedgerError;
use crate::limits::Limited;
use crate::proving::ProvingError;
use crate::settle::close::CloseError;
use crate::store::StoreError;

/// An error answer: its status and the JSON body `{"error", "error_description", "field"?}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    description: String,
    field: Option<&'static str>,
    /// Seconds after which a refused request may be retried (`Retry-After`).
    retry_after: Option<u64>,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable name: `invalid_parameters`, `not_found`, `flattr_once`, …
    error: &'static str,
    /// A sentence for people.
    error_description: String,
    /// The offending field, when one field is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl ApiError {
    /// An answer with this status, code and description.
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            description: description.into(),
            field: None,
            retry_after: None,
        }
    }

    /// The same error, blaming one field of the request.
    pub fn on(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    /// 401 `unauthorized`: no valid bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        )
    }

    /// 404 `not_found`, naming what was not found.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// The answer's status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable name (`invalid_parameters`, `flattr_once`, …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The sentence for people (opaque for a 5xx).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The field to blame, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        self.field
    }

    /// Seconds after which the request may be retried, for a 429 or 503.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "something went wrong on our side; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            error_description: self.description,
            field: self.field,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<Limited> for ApiError {
    fn from(limited: Limited) -> Self {
        let (status, code, description, retry_after) = match limited {
            Limited::Busy { retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server is busy with other log-ins and sign-ups; try again shortly",
                retry_after,
            ),
            Limited::TooMany { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; try again later",
                retry_after,
            ),
        };
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(status, code, format!("{description} (in {retry_after} s)"))
        }
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_parameters",
            description: e.to_string(),
            field: Some(e.field),
            retry_after: None,
        }
    }
}

impl From<FlattrRefusal> for ApiError {
    fn from(refusal: FlattrRefusal) -> Self {
        let status = match refusal {
            FlattrRefusal::FlattrOwner => StatusCode::FORBIDDEN,
            FlattrRefusal::NoMeans => StatusCode::PAYMENT_REQUIRED,
            FlattrRefusal::FlattrOnce | FlattrRefusal::PeriodClosed => StatusCode::CONFLICT,
        };
        Self::new(status, refusal.code(), refusal.to_string())
    }
}

/// The status of a refused step of settlement, for the admin API and for peers' notices
/// and receipts alike (both reach it as a `LedgerError`).
pub fn settlement_status(refusal: SettlementRefusal) -> StatusCode {
    match refusal {
        SettlementRefusal::UnknownPeriod | SettlementRefusal::UnknownLine => StatusCode::NOT_FOUND,
        SettlementRefusal::AmountMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        SettlementRefusal::NotDebtor
        | SettlementRefusal::AlreadyPaid
        | SettlementRefusal::NotPaid
        | SettlementRefusal::NoPaymentNotice
        | SettlementRefusal::PaymentConflict => StatusCode::CONFLICT,
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::Forbidden(_) => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            StoreError::Refused(refusal) => refusal.into(),
            StoreError::Invalid(parse) => parse.into(),
            StoreError::Database(_)
            | StoreError::Migrate(_)
            | StoreError::Directory(..)
            | StoreError::Missing(_)
            | StoreError::Batch(_) => Self::internal(&e),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::BelowMinimum { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "below_minimum",
                e.to_string(),
            ),
            LedgerError::Insufficient { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "insufficient_funds",
                e.to_string(),
            ),
            LedgerError::NotPositive => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_parameters",
                e.to_string(),
            ),
            LedgerError::ReferenceReused { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            LedgerError::Settlement { refusal, message } => {
                Self::new(settlement_status(refusal), refusal.as_str(), message)
            }
            LedgerError::Store(store) => store.into(),
            LedgerError::Unbalanced { .. } => Self::internal(&e),
        }
    }
}

impl From<CloseError> for ApiError {
    fn from(e: CloseError) -> Self {
        match e {
            CloseError::PeriodOpen { .. } => {
                Self::new(StatusCode::CONFLICT, "period_open", e.to_string())
            }
            CloseError::EarlierOpen { .. } => {
                Self::new(StatusCode::CONFLICT, "earlier_period_open", e.to_string())
            }
            CloseError::Store(store) => store.into(),
            CloseError::Ledger(ledger) => ledger.into(),
            CloseError::Injected { .. }
            | CloseError::InjectedRollback { .. }
            | CloseError::SelfCheck { .. } => Self::internal(&e),
        }
    }
}

impl From<FederationError> for ApiError {
    fn from(e: FederationError) -> Self {
        match e {
            FederationError::Refused {
                status,
                code,
                reason,
            } => {
                // The other server's fault: logged as a warning for the admin, answered in full.
                tracing::warn!(%status, code, %reason, "refused a federation request");
                Self::new(status, code, reason)
            }
            FederationError::Store(store) => store.into(),
            FederationError::Ledger(ledger) => ledger.into(),
            FederationError::Internal(_) => Self::internal(&e),
        }
    }
}

/// The federation routes answer through the API's renderer, so the JSON error shape and the
/// rule that a 5xx says nothing live here only. The impl sits in `http` (above `federation`),
/// which is allowed; `federation` names no `http` type (see docs/architecture.md).
impl IntoResponse for FederationError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl From<FlattrError> for ApiError {
    fn from(e: FlattrError) -> Self {
        match e {
            FlattrError::Unregistered => {
                Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            FlattrError::Store(store) => store.into(),
            FlattrError::Ledger(ledger) => ledger.into(),
            FlattrError::Remote(federation) => federation.into(),
            FlattrError::Limited(limited) => limited.into(),
            FlattrError::Proving(proving) => proving.into(),
            FlattrError::UnverifiedDomain { .. } => {
                Self::new(StatusCode::FORBIDDEN, "unverified_domain", e.to_string()).on("url")
            }
            FlattrError::PeerBlocked(_) => {
                Self::new(StatusCode::FORBIDDEN, "peer_blocked", e.to_string())
            }
            FlattrError::PeerLimit { .. } => {
                Self::new(StatusCode::FORBIDDEN, "peer_limit", e.to_string())
            }
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::RegistrationsClosed => {
                Self::new(StatusCode::FORBIDDEN, "registrations_closed", e.to_string())
            }
            AccountError::WrongCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                e.to_string(),
            ),
            AccountError::Disabled => {
                Self::new(StatusCode::FORBIDDEN, "account_disabled", e.to_string())
            }
            AccountError::Limited(limited) => limited.into(),
            AccountError::Invalid(parse) => parse.into(),
            AccountError::Store(store) => store.into(),
            AccountError::Ledger(ledger) => ledger.into(),
        }
    }
}

impl From<ProvingError> for ApiError {
    fn from(e: ProvingError) -> Self {
        match e {
            ProvingError::Store(store) => store.into(),
            ProvingError::Limited(limited) => limited.into(),
            ProvingError::RemoteObject(_) | ProvingError::InstanceUrl(_) => {
                let code = match e {
                    ProvingError::RemoteObject(_) => "remote_object",
                    _ => "instance_url",
                };
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string()).on("url")
            }
            ProvingError::DomainTaken(_) => {
                Self::new(StatusCode::CONFLICT, "domain_taken", e.to_string()).on("domain")
            }
            ProvingError::VerificationFailed(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "verification_failed",
                e.to_string(),
            )
            .on("domain"),
            ProvingError::Settle(close) => close.into(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match rejection {
            JsonRejection::JsonDataError(_) => "invalid_parameters",
            _ => "invalid_request",
        };
        // body_text() says which field and why ("budget: invalid type: floating point …").
        Self::new(rejection.status(), code, rejection.body_text())
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        // The web pages' forms: a body that is no form (415) or a field of the wrong type.
        Self::new(rejection.status(), "invalid_request", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameters",
            rejection.body_text(),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameters",
            rejection.body_text(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn render(e: impl IntoResponse) -> (StatusCode, serde_json::Value) {
        let response = e.into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_federation_route_answers_data_errors_with_4xx_like_the_api() {
        let conflict = FederationError::Store(StoreError::Conflict("taken".into()));
        let (status, body) = render(conflict).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::CONFLICT, Some("conflict"))
        );
        assert_eq!(body["error_description"], "taken");

        let invalid = FederationError::Store(ParseError::new("period", "bad").into());
        let (status, body) = render(invalid).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            (body["error"].as_str(), body["field"].as_str()),
            (Some("invalid_parameters"), Some("period"))
        );

        let refused = FederationError::Store(FlattrRefusal::FlattrOnce.into());
        let (status, body) = render(refused).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::CONFLICT, Some("flattr_once"))
        );

        let forbidden = FederationError::Store(StoreError::Forbidden("a thing"));
        assert_eq!(render(forbidden).await.0, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn a_federation_failure_of_ours_is_an_opaque_500_in_the_api_shape() {
        let database = FederationError::Store(StoreError::Database(sqlx::Error::PoolTimedOut));
        let (status, body) = render(database).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "server_error");
        assert!(!body.to_string().contains("pool"), "{body}");
        let internal = FederationError::Internal("secret detail".into());
        let (status, body) = render(internal).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("secret"), "{body}");
    }

    #[tokio::test]
    async fn the_library_s_signature_failures_are_401_by_variant() {
        use activitypub_federation::error::Error as E;
        // What its draft-cavage check returns for an expired signature (`Other`, whatever
        // the words) and for a signature that does not verify.
        for library in [
            E::Other("anything at all".into()),
            E::ActivitySignatureInvalid,
        ] {
            let (status, body) = render(FederationError::from(library)).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("signature_invalid"))
            );
        }
        let (status, _) = render(FederationError::from(E::FetchWrongId(
            url::Url::parse("https://x.example/a").unwrap(),
        )))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
