//! How a request fails, by cause: a refusal the user can act on (a 4xx with its message), or
//! a failure of ours (a 500, logged with its causes and never shown).
//!
//! A handler returns `Result<_, PageError>` (an HTML page) or `Result<_, ApiError>` (JSON
//! `{"error": ...}`), and `?` turns any cause that converts into a [`Failure`] into either.

use std::error::Error;
use std::fmt::Display;

use askama::Template;
use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use factum::{ExecuteError, StoreError};

use crate::models::PriceSyntaxError;
use crate::shop::ForgetError;
use crate::views::ErrorPage;

/// What the user is told of a failure of ours; the details go to the log.
pub const OUR_FAILURE: &str = "something went wrong on our side; please try again";

/// Why a request did not do what it asked.
#[derive(Debug)]
pub enum Failure {
    /// The request cannot be done as sent: the domain refused it, the input is malformed, or
    /// there is nothing at that address.
    Refused(Refusal),
    /// Something on our side broke: the store's backend, an event that does not decode, an
    /// inline projection, a template.
    Ours(Box<dyn Error + Send + Sync>),
}

/// A refusal: its status (4xx) and a message meant for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl Failure {
    pub fn refused(status: StatusCode, message: impl Into<String>) -> Self {
        Failure::Refused(Refusal { status, message: message.into() })
    }

    pub fn not_found(what: impl Display) -> Self {
        Failure::refused(StatusCode::NOT_FOUND, format!("there is no {what}"))
    }

    /// Input that is well-formed but cannot be taken, such as a price of "three" (422).
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure::refused(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn ours(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Failure::Ours(error.into())
    }

    /// The refusal, for the page the request came from to show on its form; a failure of
    /// ours is handed back as the error, for `?` to turn into the error page.
    pub fn refusal(self) -> Result<Refusal, Failure> {
        match self {
            Failure::Refused(refusal) => Ok(refusal),
            ours @ Failure::Ours(_) => Err(ours),
        }
    }

    /// The status and what the user is told. A failure of ours is logged here, with its
    /// `source()` chain, and the user only gets [`OUR_FAILURE`].
    fn shown(self) -> (StatusCode, String) {
        match self {
            Failure::Refused(Refusal { status, message }) => (status, message),
            Failure::Ours(error) => {
                tracing::error!(caused_by = ?crate::causes(&*error), "a request failed on our side: {error}");
                (StatusCode::INTERNAL_SERVER_ERROR, OUR_FAILURE.to_owned())
            }
        }
    }
}

/// A failure shown as an HTML page of its own: what page handlers return.
#[derive(Debug)]
pub struct PageError(pub Failure);

/// A failure shown as `{"error": "..."}`: what JSON API handlers return.
#[derive(Debug)]
pub struct ApiError(pub Failure);

impl<E: Into<Failure>> From<E> for PageError {
    fn from(cause: E) -> Self {
        PageError(cause.into())
    }
}

impl<E: Into<Failure>> From<E> for ApiError {
    fn from(cause: E) -> Self {
        ApiError(cause.into())
    }
}

impl PageError {
    /// The error page, with a banner for each stopped read model the page would have shown.
    pub fn with_banners(self, stale: Vec<String>) -> Response {
        let (status, message) = self.0.shown();
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let page = ErrorPage { status: status.as_u16(), title, message, stale };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(caused_by = ?crate::causes(&error), "the error page failed to render: {error}");
                (status, page.message).into_response()
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.with_banners(Vec::new())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.shown();
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// A refused command is the domain speaking: 422 with its message. A conflict that outlasted
/// the retries is 409; an id the store refuses is 400; the rest is ours. (A command that was
/// stored but not taken in by a read model, `ExecuteError::Projection`, is done, not failed:
/// `Shop::product` and `Shop::order` answer it as `Stored::Stale` before it gets here.)
impl<E: Error + Send + Sync + 'static> From<ExecuteError<E>> for Failure {
    fn from(error: ExecuteError<E>) -> Self {
        match error {
            ExecuteError::Rejected(why) => Failure::bad_input(why.to_string()),
            ExecuteError::Conflict { .. } => {
                Failure::refused(StatusCode::CONFLICT, "someone else changed this at the same moment; please try again")
            }
            ExecuteError::Store(error @ StoreError::InvalidInput { .. }) => {
                Failure::refused(StatusCode::BAD_REQUEST, error.to_string())
            }
            ours => Failure::ours(ours),
        }
    }
}

/// An order that is not there or names no customer is refused like a command (422); an id
/// the store refuses is 400; the store failing is ours.
impl From<ForgetError> for Failure {
    fn from(error: ForgetError) -> Self {
        match error {
            ForgetError::NoSuchOrder | ForgetError::NoCustomer => Failure::bad_input(error.to_string()),
            ForgetError::Store(error @ StoreError::InvalidInput { .. }) => {
                Failure::refused(StatusCode::BAD_REQUEST, error.to_string())
            }
            ForgetError::Store(ours) => Failure::ours(ours),
        }
    }
}

impl From<PriceSyntaxError> for Failure {
    fn from(error: PriceSyntaxError) -> Self {
        Failure::bad_input(error.to_string())
    }
}

/// A body too large, of the wrong type, or that does not parse: the extractor's own status
/// (413, 415, 400, 422) and message.
impl From<JsonRejection> for Failure {
    fn from(rejection: JsonRejection) -> Self {
        Failure::refused(rejection.status(), rejection.body_text())
    }
}

impl From<FormRejection> for Failure {
    fn from(rejection: FormRejection) -> Self {
        Failure::refused(rejection.status(), rejection.body_text())
    }
}

impl From<askama::Error> for Failure {
    fn from(error: askama::Error) -> Self {
        Failure::ours(error)
    }
}

#[cfg(test)]
mod tests {
    use factum::{ProjectionError, StreamName};

    use super::*;
    use crate::models::ProductError;

    /// The status and message of a refusal, or the error of a failure of ours.
    fn status_and_message(error: ExecuteError<ProductError>) -> Result<(StatusCode, String), String> {
        match Failure::from(error) {
            Failure::Refused(Refusal { status, message }) => Ok((status, message)),
            Failure::Ours(ours) => Err(ours.to_string()),
        }
    }

    fn stream() -> StreamName {
        StreamName { aggregate_type: "product".into(), stream_id: "p-1".into() }
    }

    #[test]
    fn execute_errors_map_by_cause() {
        let rejected = status_and_message(ExecuteError::Rejected(ProductError::EmptyName));
        assert_eq!(rejected, Ok((StatusCode::UNPROCESSABLE_ENTITY, ProductError::EmptyName.to_string())));

        let conflict = StoreError::Conflict { stream: stream(), expected: 1, actual: 2 };
        let conflict = status_and_message(ExecuteError::Conflict { attempts: 5, source: conflict });
        assert_eq!(conflict.map(|(status, _)| status), Ok(StatusCode::CONFLICT));

        let invalid = StoreError::InvalidInput { what: "stream id \"a\\nb\"".into(), reason: "a line break".into() };
        let invalid = status_and_message(ExecuteError::Store(invalid));
        assert_eq!(invalid, Ok((StatusCode::BAD_REQUEST, "invalid stream id \"a\\nb\": a line break".into())));

        let backend = StoreError::Backend("the disk is full".into());
        assert_eq!(status_and_message(ExecuteError::Store(backend)), Err("storage backend: the disk is full".into()));
        let store = StoreError::Backend("the disk is full".into());
        let projection = ProjectionError::Store { projection: "catalog", source: store };
        let projection =
            status_and_message(ExecuteError::Projection { version: 3, positions: vec![7], source: projection });
        assert!(projection.is_err_and(|ours| ours.contains("an inline projection failed")));
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_failure_of_ours_is_a_500_that_shows_no_detail() {
        let ours = || Failure::ours(StoreError::Backend("password=hunter2".into()));
        let page = PageError(ours()).into_response();
        assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let page = body(page).await;
        assert!(page.contains(OUR_FAILURE) && !page.contains("hunter2"), "{page}");

        let api = ApiError(ours()).into_response();
        assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body(api).await, serde_json::json!({ "error": OUR_FAILURE }).to_string());
    }

    #[tokio::test]
    async fn a_refusal_shows_its_message_in_the_format_of_the_handler() {
        let refused = || Failure::bad_input("a price cannot be negative");
        let page = PageError(refused()).into_response();
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(body(page).await.contains("a price cannot be negative"));

        let api = ApiError(refused()).into_response();
        assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body(api).await, r#"{"error":"a price cannot be negative"}"#);
    }
}
