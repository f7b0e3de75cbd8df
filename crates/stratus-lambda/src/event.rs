//! What a Lambda function receives and how its answer becomes a response.
//!
//! Requests that came through an HTTP route (they carry a
//! [`MatchedRoute`]) become API Gateway HTTP API payload 2.0 events, and the
//! function's answer is read back the way API Gateway reads it. Everything
//! else (Invoke API, `stratus invoke`, later queues and schedules) passes the
//! body through as the event, and the answer back as the response body.

use bytes::Bytes;
use stratus_core::apigw;
use stratus_engine::{FunctionError, FunctionErrorKind, MatchedRoute};

/// The account and region shown in ARNs and events.
pub const ACCOUNT_ID: &str = stratus_core::function::ACCOUNT_ID;
pub const REGION: &str = stratus_core::function::REGION;

/// The event payload for a request, and whether it is an HTTP event.
pub fn payload(request: &http::Request<Bytes>, request_id: &str, now_ms: i64) -> (Bytes, bool) {
    let Some(route) = request.extensions().get::<MatchedRoute>() else {
        // Lambda hands an empty payload to the function as `{}`.
        if request.body().iter().all(u8::is_ascii_whitespace) {
            return (Bytes::from_static(b"{}"), false);
        }
        return (request.body().clone(), false);
    };
    let source_ip = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .unwrap_or("127.0.0.1")
        .to_string();
    let input = apigw::HttpEventInput {
        method: request.method().as_str(),
        raw_path: request.uri().path(),
        raw_query: request.uri().query().unwrap_or(""),
        headers: request.headers(),
        body: request.body(),
        route_key: &route.route_key,
        path_parameters: &route.params,
        source_ip: &source_ip,
        request_id,
        time_epoch_ms: now_ms,
        stage: "$default",
        account_id: ACCOUNT_ID,
        api_id: "stratus",
    };
    (Bytes::from(apigw::request_event(&input)), true)
}

/// The HTTP response for a function's answer.
pub fn response(
    body: Bytes,
    content_type: Option<String>,
    http_event: bool,
) -> Result<http::Response<Bytes>, FunctionError> {
    if !http_event {
        let mut response = http::Response::new(body);
        let content_type = content_type
            .and_then(|c| http::HeaderValue::from_str(&c).ok())
            .unwrap_or_else(|| http::HeaderValue::from_static("application/json"));
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, content_type);
        return Ok(response);
    }
    let parts = apigw::response_from_payload(&body).map_err(|e| {
        FunctionError::new(
            FunctionErrorKind::BadResponse,
            format!("the function's answer is not a valid API Gateway response: {e}"),
        )
    })?;
    let mut builder = http::Response::builder().status(parts.status);
    for (name, value) in &parts.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Bytes::from(parts.body)).map_err(|e| {
        FunctionError::new(
            FunctionErrorKind::BadResponse,
            format!("the function's response has an invalid header or status: {e}"),
        )
    })
}

/// The error document a runtime posted, made presentable: JSON as is;
/// anything else wrapped in `{"errorMessage","errorType"}`.
pub fn error_document(error_type: Option<&str>, body: &Bytes) -> (String, String, Bytes) {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        let kind = map
            .get("errorType")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| error_type.map(str::to_string))
            .unwrap_or_else(|| "Unhandled".to_string());
        let message = map
            .get("errorMessage")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        return (kind, message, body.clone());
    }
    let kind = error_type.unwrap_or("Unhandled").to_string();
    let message = String::from_utf8_lossy(body).into_owned();
    let document = serde_json::json!({ "errorMessage": message, "errorType": kind });
    (kind, message, Bytes::from(document.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents() {
        let (kind, message, body) = error_document(
            None,
            &Bytes::from_static(
                br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#,
            ),
        );
        assert_eq!((kind.as_str(), message.as_str()), ("ValueError", "boom"));
        assert!(body.starts_with(b"{\"errorMessage\""));
        let (kind, message, body) =
            error_document(Some("unhandled"), &Bytes::from_static(b"plain text"));
        assert_eq!(
            (kind.as_str(), message.as_str()),
            ("unhandled", "plain text")
        );
        let parsed: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(parsed["errorMessage"], "plain text");
        let (kind, _, _) = error_document(None, &Bytes::new());
        assert_eq!(kind, "Unhandled");
    }
}
