//! API Gateway HTTP API Lambda integration, payload format 2.0, in both
//! directions: [`request_event`] turns an HTTP request into the event JSON a
//! Lambda function receives, and [`response_from_payload`] reads the
//! function's return payload back into an HTTP response, as API Gateway does.
//!
//! Pure: the caller passes the time, the request id and the route match.
//!
//! # The request event
//!
//! The shape is AWS's (`version`, `routeKey`, `rawPath`, `rawQueryString`,
//! `cookies`, `headers`, `queryStringParameters`, `pathParameters`,
//! `requestContext`, `body`, `isBase64Encoded`), with these rules:
//!
//! - **Headers** are lower-case; repeated headers are joined with `,`. The
//!   `cookie` header is left out of `headers`: its cookies go, split on `;`,
//!   into `cookies` (omitted when there are none).
//! - **Query**: `rawQueryString` is the query as sent. `queryStringParameters`
//!   holds the decoded values (`%XX` escapes and `+` as a space), repeated
//!   names joined with `,`; omitted when empty.
//! - **Path**: `rawPath` and `requestContext.http.path` are the path as sent,
//!   still percent-encoded. This is what Lambda function URLs (also format
//!   2.0) deliver; API Gateway HTTP APIs decode `rawPath`, which loses
//!   information (`%2F` versus `/`) and breaks clients that rebuild a URI from
//!   it, so Stratus keeps the encoded form. `pathParameters` are passed
//!   through as given (the router decodes them, as API Gateway does) and
//!   omitted when empty.
//! - **Body**: omitted when empty. It is sent as text when it is valid UTF-8
//!   and the `content-type` is textual (see [`is_text_content_type`]) or
//!   absent; otherwise it is base64 and `isBase64Encoded` is `true`.
//! - `requestContext.time` is `21/Apr/2020:15:08:21 +0000` style, from
//!   `time_epoch_ms`; `domainName` is the `host` header and `domainPrefix` its
//!   first label.
//!
//! # The response
//!
//! A payload that is a JSON object with a `statusCode` member is a full
//! response: `statusCode`, `headers`, `cookies` (each becomes a `set-cookie`
//! header), `body` and `isBase64Encoded`. Stratus also accepts the format 1.0
//! `multiValueHeaders`. When no `content-type` is given, API Gateway sends
//! `text/plain; charset=utf-8`, and so does this module. A malformed full
//! response (bad status, bad types, bad base64) is an [`ApigwError`]; API
//! Gateway answers those with [`internal_server_error`].
//!
//! Anything else is the shortcut: status 200, `content-type:
//! application/json`, and the payload itself as the body, except that a JSON
//! string is unquoted (`"hi"` gives the body `hi`). This includes payloads
//! that are not JSON at all, and the empty payload: API Gateway does not
//! validate them (observed against real HTTP APIs by AWS's Lambda test tool).

use base64::Engine as _;
use serde_json::{Map, Value};

/// One HTTP request, as [`request_event`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct HttpEventInput<'a> {
    /// Request method, e.g. `GET`.
    pub method: &'a str,
    /// The path as received, percent-encoded as on the wire, without query.
    pub raw_path: &'a str,
    /// The query string as received, without the `?`; may be empty.
    pub raw_query: &'a str,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// The request body.
    pub body: &'a [u8],
    /// The matched route, e.g. `GET /hello/{name}`, or `$default`.
    pub route_key: &'a str,
    /// Path parameters of the matched route, values already decoded.
    pub path_parameters: &'a [(String, String)],
    /// The client's IP address.
    pub source_ip: &'a str,
    /// The request id (`requestContext.requestId`).
    pub request_id: &'a str,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub time_epoch_ms: i64,
    /// The stage, normally `$default`.
    pub stage: &'a str,
    /// `requestContext.accountId`.
    pub account_id: &'a str,
    /// `requestContext.apiId`.
    pub api_id: &'a str,
}

/// The HTTP response a function's payload describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponseParts {
    /// Status code, 200 to 599.
    pub status: u16,
    /// Headers in order; a name may repeat (e.g. `set-cookie`). Names and
    /// values are valid for [`http::HeaderName`] and [`http::HeaderValue`].
    pub headers: Vec<(String, String)>,
    /// The body bytes (base64 already decoded).
    pub body: Vec<u8>,
}

/// Why a function's payload is not a valid HTTP response. API Gateway
/// answers all of these with `500` ([`internal_server_error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApigwError {
    /// `statusCode` is not an integer from 200 to 599.
    #[error("invalid function response: statusCode must be an integer from 200 to 599, got {0}")]
    InvalidStatus(String),
    /// A member has the wrong JSON type.
    #[error("invalid function response: `{field}` must be {expected}, got {found}")]
    InvalidField {
        /// The member, e.g. `headers.x-a` or `cookies[1]`.
        field: String,
        /// What it must be, e.g. `a string`.
        expected: &'static str,
        /// A short description of what it is.
        found: String,
    },
    /// A header name or value cannot be sent over HTTP.
    #[error("invalid function response: header `{name}`: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `isBase64Encoded` is true but `body` is not base64.
    #[error("invalid function response: isBase64Encoded is true but body is not valid base64: {0}")]
    InvalidBase64(String),
}

/// Builds the payload format 2.0 event for `input`, as JSON bytes.
pub fn request_event(input: &HttpEventInput<'_>) -> Vec<u8> {
    let mut event = Map::new();
    event.insert("version".into(), "2.0".into());
    event.insert("routeKey".into(), input.route_key.into());
    event.insert("rawPath".into(), input.raw_path.into());
    event.insert("rawQueryString".into(), input.raw_query.into());

    let cookies = request_cookies(input.headers);
    if !cookies.is_empty() {
        event.insert("cookies".into(), cookies.into());
    }
    event.insert(
        "headers".into(),
        Value::Object(joined_headers(input.headers)),
    );

    let query = query_parameters(input.raw_query);
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), Value::Object(query));
    }
    if !input.path_parameters.is_empty() {
        let params: Map<String, Value> = input
            .path_parameters
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        event.insert("pathParameters".into(), Value::Object(params));
    }

    let host = header_text(input.headers, http::header::HOST).unwrap_or_default();
    let user_agent = header_text(input.headers, http::header::USER_AGENT).unwrap_or_default();
    let mut http_ctx = Map::new();
    http_ctx.insert("method".into(), input.method.into());
    http_ctx.insert("path".into(), input.raw_path.into());
    http_ctx.insert("protocol".into(), "HTTP/1.1".into());
    http_ctx.insert("sourceIp".into(), input.source_ip.into());
    http_ctx.insert("userAgent".into(), user_agent.into());

    let mut ctx = Map::new();
    ctx.insert("accountId".into(), input.account_id.into());
    ctx.insert("apiId".into(), input.api_id.into());
    ctx.insert("domainPrefix".into(), domain_prefix(&host).into());
    ctx.insert("domainName".into(), host.into());
    ctx.insert("http".into(), Value::Object(http_ctx));
    ctx.insert("requestId".into(), input.request_id.into());
    ctx.insert("routeKey".into(), input.route_key.into());
    ctx.insert("stage".into(), input.stage.into());
    ctx.insert("time".into(), clf_time(input.time_epoch_ms).into());
    ctx.insert("timeEpoch".into(), input.time_epoch_ms.into());
    event.insert("requestContext".into(), Value::Object(ctx));

    let content_type = header_text(input.headers, http::header::CONTENT_TYPE);
    let text = match std::str::from_utf8(input.body) {
        Ok(text) if content_type.as_deref().is_none_or(is_text_content_type) => Some(text),
        _ => None,
    };
    if !input.body.is_empty() {
        let body = match text {
            Some(text) => text.to_string(),
            None => base64::engine::general_purpose::STANDARD.encode(input.body),
        };
        event.insert("body".into(), body.into());
    }
    event.insert(
        "isBase64Encoded".into(),
        (text.is_none() && !input.body.is_empty()).into(),
    );

    // Serializing a `Value` cannot fail: every key is a string.
    serde_json::to_vec(&Value::Object(event)).unwrap_or_default()
}

/// Whether a request body with this `content-type` is passed as text (when
/// it is valid UTF-8): `text/*`, JSON, XML and JavaScript types, including
/// `+json` and `+xml` suffixes. Everything else, including
/// `application/x-www-form-urlencoded` and `multipart/*`, is base64-encoded,
/// as AWS does for form posts.
pub fn is_text_content_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || matches!(
            media.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || media.ends_with("/javascript")
        || media.ends_with("/x-javascript")
        || media.ends_with("/ecmascript")
}

/// Interprets a function's return payload the way API Gateway does for
/// payload format 2.0 (see the module documentation).
pub fn response_from_payload(payload: &[u8]) -> Result<HttpResponseParts, ApigwError> {
    let value: Value = match serde_json::from_slice(payload) {
        Ok(value) => value,
        // Not JSON (or empty): API Gateway passes it through unvalidated.
        Err(_) => return Ok(shortcut(payload.to_vec())),
    };
    let object = match value {
        Value::Object(object) => object,
        Value::String(text) => return Ok(shortcut(text.into_bytes())),
        _ => return Ok(shortcut(payload.to_vec())),
    };
    let Some(status) = object.get("statusCode") else {
        return Ok(shortcut(payload.to_vec()));
    };
    let status = parse_status(status)?;
    let mut headers = Vec::new();
    match object.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                if let Some(value) = scalar_text(value, || format!("headers.{name}"))? {
                    push_header(&mut headers, name, value)?;
                }
            }
        }
        Some(other) => return Err(wrong("headers", "an object", other)),
    }
    match object.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, values) in map {
                let field = format!("multiValueHeaders.{name}");
                let values = match values {
                    Value::Null => continue,
                    Value::Array(values) => values,
                    other => return Err(wrong(&field, "an array", other)),
                };
                for (i, value) in values.iter().enumerate() {
                    if let Some(value) = scalar_text(value, || format!("{field}[{i}]"))? {
                        push_header(&mut headers, name, value)?;
                    }
                }
            }
        }
        Some(other) => return Err(wrong("multiValueHeaders", "an object", other)),
    }
    match object.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cookies)) => {
            for (i, cookie) in cookies.iter().enumerate() {
                match cookie {
                    Value::String(cookie) => {
                        push_header(&mut headers, "set-cookie", cookie.clone())?
                    }
                    other => return Err(wrong(&format!("cookies[{i}]"), "a string", other)),
                }
            }
        }
        Some(other) => return Err(wrong("cookies", "an array of strings", other)),
    }
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), "text/plain; charset=utf-8".into()));
    }

    let base64 = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(wrong("isBase64Encoded", "a boolean", other)),
    };
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(body)) if base64 => base64_decode(body)?,
        Some(Value::String(body)) => body.clone().into_bytes(),
        Some(other) => return Err(wrong("body", "a string", other)),
    };
    Ok(HttpResponseParts {
        status,
        headers,
        body,
    })
}

/// The response API Gateway sends when a function's payload is malformed or
/// the function failed: `500` with `{"message":"Internal Server Error"}`.
pub fn internal_server_error() -> HttpResponseParts {
    HttpResponseParts {
        status: 500,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"message":"Internal Server Error"}"#.to_vec(),
    }
}

fn shortcut(body: Vec<u8>) -> HttpResponseParts {
    HttpResponseParts {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    }
}

fn parse_status(value: &Value) -> Result<u16, ApigwError> {
    value
        .as_u64()
        .filter(|s| (200..=599).contains(s))
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| ApigwError::InvalidStatus(describe(value)))
}

/// The text of a header value: strings as they are, numbers and booleans
/// in JSON form, `null` skipped.
fn scalar_text(
    value: &Value,
    field: impl FnOnce() -> String,
) -> Result<Option<String>, ApigwError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(wrong(&field(), "a string", other)),
    }
}

fn push_header(
    headers: &mut Vec<(String, String)>,
    name: &str,
    value: String,
) -> Result<(), ApigwError> {
    let invalid = |reason| ApigwError::InvalidHeader {
        name: name.to_string(),
        reason,
    };
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| invalid("not a valid header name"))?;
    http::HeaderValue::from_str(&value).map_err(|_| {
        invalid("the value has control characters or is not visible ASCII/UTF-8 text")
    })?;
    headers.push((name.to_string(), value));
    Ok(())
}

fn base64_decode(body: &str) -> Result<Vec<u8>, ApigwError> {
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    LENIENT
        .decode(body.as_bytes())
        .map_err(|e| ApigwError::InvalidBase64(e.to_string()))
}

fn wrong(field: &str, expected: &'static str, found: &Value) -> ApigwError {
    ApigwError::InvalidField {
        field: field.to_string(),
        expected,
        found: describe(found),
    }
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A header's value as text (lossy for non-UTF-8 bytes), first one if repeated.
fn header_text(headers: &http::HeaderMap, name: http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// All headers but `cookie`, repeated ones joined with `,`.
fn joined_headers(headers: &http::HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        if name == http::header::COOKIE {
            continue;
        }
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .collect::<Vec<_>>()
            .join(",");
        out.insert(name.as_str().to_string(), joined.into());
    }
    out
}

/// The cookies of every `cookie` header, split on `;` and trimmed.
fn request_cookies(headers: &http::HeaderMap) -> Vec<Value> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| Value::from(c.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Decoded query parameters; repeated names joined with `,`.
fn query_parameters(raw_query: &str) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = query_decode(name);
        if name.is_empty() {
            continue;
        }
        let value = query_decode(value);
        match out.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                out.insert(name, value.into());
            }
        }
    }
    out
}

/// Decodes one query component: `+` is a space, then `%XX` escapes.
fn query_decode(s: &str) -> String {
    crate::route::percent_decode(&s.replace('+', " "))
}

/// The first label of a host name, without any port.
fn domain_prefix(host: &str) -> &str {
    let label = host.split('.').next().unwrap_or_default();
    label.split(':').next().unwrap_or_default()
}

/// `21/Apr/2020:15:08:21 +0000` for a Unix time in milliseconds (UTC).
fn clf_time(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .unwrap_or_default()
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_time_format() {
        assert_eq!(clf_time(1_587_481_701_067), "21/Apr/2020:15:08:21 +0000");
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_time(i64::MAX), "01/Jan/1970:00:00:00 +0000");
    }

    #[test]
    fn domain_prefixes() {
        assert_eq!(
            domain_prefix("abc.execute-api.us-east-1.amazonaws.com"),
            "abc"
        );
        assert_eq!(domain_prefix("localhost:8080"), "localhost");
        assert_eq!(domain_prefix(""), "");
    }

    #[test]
    fn text_content_types() {
        for ct in [
            "text/plain",
            "text/html; charset=utf-8",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/xml",
            "application/javascript",
            "text/javascript",
            "application/x-javascript",
            "application/vnd.api+json",
            "application/atom+xml",
        ] {
            assert!(is_text_content_type(ct), "{ct}");
        }
        for ct in [
            "application/octet-stream",
            "image/png",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/pdf",
            "",
        ] {
            assert!(!is_text_content_type(ct), "{ct}");
        }
    }
}
