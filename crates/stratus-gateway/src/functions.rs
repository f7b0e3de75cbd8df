//! The functions' gateway: matches a route, invokes the function with the
//! real request, and returns its response.

use crate::AppState;
use crate::error::{gateway_engine_error, gateway_error};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::time::Duration;
use stratus_engine::{FunctionErrorKind, Trigger};

/// The router of `--listen`.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// How much of an oversized body is read and discarded before answering 413,
/// so that clients which send the whole body before reading see the answer
/// rather than a reset connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads a body of at most `limit` bytes. Past the limit: 413 (after
/// draining what the client keeps sending, within bounds).
pub(crate) async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, StatusCode> {
    let mut buf = BytesMut::new();
    let mut seen = 0usize;
    let mut over = false;
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let frame = if over {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(frame) => frame,
                Err(_) => break,
            }
        } else {
            body.frame().await
        };
        let Some(frame) = frame else { break };
        let Ok(frame) = frame else {
            return Err(if over {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            });
        };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > limit {
                over = true;
                buf.clear();
                if seen > DRAIN_LIMIT {
                    break;
                }
            } else {
                buf.extend_from_slice(&data);
            }
        }
    }
    if over {
        Err(StatusCode::PAYLOAD_TOO_LARGE)
    } else {
        Ok(buf.freeze())
    }
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let engine = &state.engine;
    let Some(routed) = engine.route(request.method().as_str(), request.uri().path()) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let limit = engine.config().max_payload_bytes;
    let (mut parts, body) = request.into_parts();
    let body = match read_limited(body, limit).await {
        Ok(bytes) => bytes,
        Err(status) => return gateway_error(status, status.canonical_reason().unwrap_or("Error")),
    };
    if !parts.headers.contains_key(header::HOST)
        && let Ok(host) = HeaderValue::from_str(state.gateway_url.trim_start_matches("http://"))
    {
        parts.headers.insert(header::HOST, host);
    }
    parts.extensions.insert(stratus_engine::MatchedRoute {
        route_key: routed.route_key.clone(),
        params: routed.params.clone(),
    });
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
