//! How a request fails: a 4xx the user can act on, or a 5xx that is ours.

use std::fmt::Display;

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use factum::{ExecuteError, StoreError};

use crate::models::PriceSyntaxError;
use crate::views::ErrorPage;

/// Why a request did not do what it asked.
#[derive(Debug)]
pub enum Failure {
    /// The request cannot be done as sent: the domain refused it, or the input was malformed.
    /// The message is meant for the user.
    Client(StatusCode, String),
    /// Something on our side broke. The message goes to the log, not to the user.
    Server(String),
}

impl Failure {
    pub fn not_found(what: impl Display) -> Self {
        Failure::Client(StatusCode::NOT_FOUND, format!("there is no {what}"))
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure::Client(StatusCode::UNPROCESSABLE_ENTITY, message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Client(status, _) => *status,
            Failure::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the user is told. A server failure is logged here, and only a plain sentence
    /// reaches the page.
    pub fn message(&self) -> String {
        match self {
            Failure::Client(_, message) => message.clone(),
            Failure::Server(detail) => {
                tracing::error!("a request failed on our side: {detail}");
                "something went wrong on our side; please try again".to_owned()
            }
        }
    }

    /// The failure as a page of its own.
    pub fn page(self) -> Response {
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let page = ErrorPage { status: status.as_u16(), title, message: self.message() };
        (status, super::render(&page)).into_response()
    }

    /// The failure as `{"error": "..."}` for the JSON API.
    pub fn json(self) -> Response {
        (self.status(), Json(serde_json::json!({ "error": self.message() }))).into_response()
    }
}

/// A refused command is the domain speaking: 422 with its message. A conflict that outlasted
/// the retries is 409; an id the store cannot take is 400; the rest is ours.
impl<E: Display> From<ExecuteError<E>> for Failure {
    fn from(error: ExecuteError<E>) -> Self {
        match error {
            ExecuteError::Rejected(why) => Failure::Client(StatusCode::UNPROCESSABLE_ENTITY, why.to_string()),
            ExecuteError::Conflict { .. } => Failure::Client(
                StatusCode::CONFLICT,
                "someone else changed this at the same moment; please try again".to_owned(),
            ),
            ExecuteError::Store(error @ StoreError::InvalidInput { .. }) => {
                Failure::Client(StatusCode::BAD_REQUEST, error.to_string())
            }
            other => Failure::Server(other.to_string()),
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
        Failure::Client(rejection.status(), rejection.body_text())
    }
}

impl From<FormRejection> for Failure {
    fn from(rejection: FormRejection) -> Self {
        Failure::Client(rejection.status(), rejection.body_text())
    }
}

impl From<askama::Error> for Failure {
    fn from(error: askama::Error) -> Self {
        Failure::Server(format!("rendering a page: {error}"))
    }
}
