//! SNS over its query protocol (form-encoded `Action=`, XML answers).

use super::AwsRequest;
use super::auth::AuthError;
use crate::AppState;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

pub(crate) async fn handle(_state: &AppState, request: AwsRequest) -> Response {
    (StatusCode::NOT_IMPLEMENTED, format!("{} is not implemented yet", request.operation)).into_response()
}

pub(crate) fn auth_error(error: AuthError) -> Response {
    (StatusCode::FORBIDDEN, format!("{}: {}", error.code, error.message)).into_response()
}
