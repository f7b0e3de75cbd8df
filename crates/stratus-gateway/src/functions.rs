//! The functions' gateway: matches a route, invokes the function with the
//! real request, and returns its response.

use crate::AppState;
use crate::error::{gateway_engine_error, gateway_error};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use stratus_engine::{FunctionErrorKind, Trigger};

/// The router of `--listen`.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let engine = &state.engine;
    let Some(routed) = engine.route(request.method().as_str(), request.uri().path()) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let limit = engine.config().max_payload_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let (mut parts, body) = request.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
        Err(_) => return gateway_error(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    if !parts.headers.contains_key(header::HOST) {
        if let Ok(host) = HeaderValue::from_str(state.gateway_url.trim_start_matches("http://")) {
            parts.headers.insert(header::HOST, host);
        }
    }
    let request = http::Request::from_parts(parts, body);
    let invocation = match engine
        .invoke(&routed.function, request, Trigger::Http)
        .await
    {
        Ok(invocation) => invocation,
        Err(error) => return gateway_engine_error(error),
    };
    let request_id = HeaderValue::from_str(&invocation.request_id).ok();
    let mut response = match invocation.result {
        Ok(response) => response.map(Body::from).into_response(),
        Err(error) => match error.kind {
            FunctionErrorKind::Timeout => {
                gateway_error(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out")
            }
            FunctionErrorKind::ResponseTooLarge => gateway_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Response payload size exceeded maximum allowed payload size",
            ),
            _ => gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        },
    };
    if let Some(id) = request_id {
        response.headers_mut().insert("x-stratus-request-id", id);
    }
    response
}
