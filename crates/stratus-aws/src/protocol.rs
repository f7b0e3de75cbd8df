//! The wire protocols of AWS services, and how each answers: one renderer
//! of errors per protocol, and the success helpers the services use.
//!
//! - JSON 1.0 and 1.1 (`X-Amz-Target`, SQS, EventBridge): errors are
//!   `{"__type": ..., "message": ...}`, plus `x-amzn-query-error` when the
//!   service has older query codes (SQS).
//! - Query (form `Action=...`, XML answers; SNS, and IAM/STS for the
//!   errors of services Stratus does not serve):
//!   `<ErrorResponse><Error><Type>Sender</Type><Code>...`.
//! - rest-json (Lambda): `x-amzn-ErrorType` and a JSON body.
//! - rest-xml (S3): `<Error><Code>...</Code><Message>...</Message>`.

use crate::error::AwsError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

/// A wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `application/x-amz-json-1.0` (SQS, DynamoDB).
    Json10,
    /// `application/x-amz-json-1.1` (EventBridge).
    Json11,
    /// The query protocol: a form with `Action`, XML answers (SNS, IAM, STS).
    Query {
        /// The XML namespace of the answers, e.g.
        /// `http://sns.amazonaws.com/doc/2010-03-31/`.
        namespace: &'static str,
    },
    /// REST with JSON bodies (Lambda).
    RestJson,
    /// REST with XML bodies (S3).
    RestXml,
}

impl Protocol {
    /// The content type of its answers.
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Json10 => "application/x-amz-json-1.0",
            Protocol::Json11 => "application/x-amz-json-1.1",
            Protocol::Query { .. } => "text/xml",
            Protocol::RestJson => "application/json",
            Protocol::RestXml => "application/xml",
        }
    }

    /// `error` in this protocol's shape. `json_namespace` prefixes the JSON
    /// protocols' `__type` (`com.amazonaws.sqs#QueueDoesNotExist`) when
    /// the service uses one.
    pub fn error(
        self,
        error: &AwsError,
        request_id: &str,
        json_namespace: Option<&str>,
    ) -> Response<Bytes> {
        let body = match self {
            Protocol::Json10 | Protocol::Json11 => {
                let kind = match json_namespace {
                    Some(ns) => format!("{ns}#{}", error.code),
                    None => error.code.clone(),
                };
                serde_json::json!({"__type": kind, "message": error.message}).to_string()
            }
            Protocol::RestJson => serde_json::json!({"message": error.message}).to_string(),
            Protocol::Query { namespace } => format!(
                "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                error.fault.as_str(),
                xml_escape(&error.code),
                xml_escape(&error.message)
            ),
            Protocol::RestXml => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
                xml_escape(&error.code),
                xml_escape(&error.message)
            ),
        };
        let mut response = self.answer(error.status, Bytes::from(body), request_id);
        let headers = response.headers_mut();
        if let Some(code) = &error.query_code
            && matches!(self, Protocol::Json10 | Protocol::Json11)
            && let Ok(value) = HeaderValue::from_str(&format!("{code};{}", error.fault.as_str()))
        {
            headers.insert("x-amzn-query-error", value);
        }
        if self == Protocol::RestJson
            && let Ok(value) = HeaderValue::from_str(&error.code)
        {
            headers.insert("x-amzn-errortype", value);
        }
        response
    }

    /// A body in this protocol with its content type and request id.
    pub fn answer(self, status: StatusCode, body: Bytes, request_id: &str) -> Response<Bytes> {
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type()),
        );
        if let Ok(value) = HeaderValue::from_str(request_id) {
            match self {
                Protocol::RestXml => headers.insert("x-amz-request-id", value),
                _ => headers.insert("x-amzn-requestid", value),
            };
        }
        response
    }

    /// A JSON success (200) in this protocol.
    pub fn json_ok(self, body: &serde_json::Value, request_id: &str) -> Response<Bytes> {
        self.answer(StatusCode::OK, Bytes::from(body.to_string()), request_id)
    }

    /// A query-protocol success: `<{action}Response>` with an optional
    /// `<{action}Result>` and the response metadata.
    pub fn query_ok(self, action: &str, result: Option<&str>, request_id: &str) -> Response<Bytes> {
        let namespace = match self {
            Protocol::Query { namespace } => namespace,
            _ => "",
        };
        let mut body = format!("<{action}Response xmlns=\"{namespace}\">");
        if let Some(result) = result {
            body.push_str(&format!("<{action}Result>{result}</{action}Result>"));
        }
        body.push_str(&format!(
            "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
        ));
        self.answer(StatusCode::OK, Bytes::from(body), request_id)
    }
}

/// XML-escapes text for element content and attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON-protocol request body: an object (an empty body is `{}`), or
/// None when it is not one.
pub fn json_object(body: &[u8]) -> Option<serde_json::Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(serde_json::Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_slice(body) {
        Ok(value @ serde_json::Value::Object(_)) => Some(value),
        _ => None,
    }
}

/// A new request id (a UUID), as AWS's `x-amzn-RequestId`.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Decodes `%XX` escapes in a URI path segment (a `+` stays a `+`); an
/// escape that is not two hex digits is kept as it is.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AwsError;

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af"),
            "arn:aws:lambda:us-east-1:0:function:f"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zz+b"), "a%zz+b");
    }

    #[test]
    fn query_errors_say_whose_fault() {
        let protocol = Protocol::Query { namespace: "ns" };
        let sender = protocol.error(&AwsError::sender("NotFound", "a <b>"), "id", None);
        assert_eq!(sender.status(), 400);
        assert_eq!(
            std::str::from_utf8(sender.body()).unwrap_or_default(),
            "<ErrorResponse xmlns=\"ns\"><Error><Type>Sender</Type><Code>NotFound</Code><Message>a &lt;b&gt;</Message></Error><RequestId>id</RequestId></ErrorResponse>"
        );
        let internal = AwsError::new(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "x",
        );
        let receiver = protocol.error(&internal, "id", None);
        assert!(
            std::str::from_utf8(receiver.body())
                .unwrap_or_default()
                .contains("<Type>Receiver</Type>")
        );
    }

    #[test]
    fn json_errors_carry_the_query_code() {
        let error = AwsError::sender("QueueDoesNotExist", "The specified queue does not exist.")
            .with_query_code("AWS.SimpleQueueService.NonExistentQueue");
        let answer = Protocol::Json10.error(&error, "id", Some("com.amazonaws.sqs"));
        assert_eq!(
            answer.headers()["x-amzn-query-error"],
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
        );
        assert_eq!(
            answer.headers()["content-type"],
            "application/x-amz-json-1.0"
        );
        let body: serde_json::Value = serde_json::from_slice(answer.body()).unwrap_or_default();
        assert_eq!(body["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
        let rest = Protocol::RestJson.error(&error, "id", None);
        assert_eq!(rest.headers()["x-amzn-errortype"], "QueueDoesNotExist");
    }
}
