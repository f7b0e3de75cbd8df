//! API Gateway HTTP API payload format 2.0: request events and function
//! responses, as tables of cases.

use serde_json::{Value, json};
use stratus_core::apigw::{
    ApigwError, HttpEventInput, HttpResponseParts, internal_server_error, request_event,
    response_from_payload,
};

/// A request: method, path with query, headers, body, route key, path
/// parameters.
struct Req {
    method: &'static str,
    target: &'static str,
    headers: &'static [(&'static str, &'static [u8])],
    body: &'static [u8],
    route_key: &'static str,
    params: &'static [(&'static str, &'static str)],
}

const BASE: Req = Req {
    method: "GET",
    target: "/",
    headers: &[("host", b"abc123.example.com")],
    body: b"",
    route_key: "$default",
    params: &[],
};

fn event(req: &Req) -> Value {
    let (raw_path, raw_query) = req.target.split_once('?').unwrap_or((req.target, ""));
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers {
        headers.append(
            http::HeaderName::from_static(name),
            http::HeaderValue::from_bytes(value).expect("test header value"),
        );
    }
    let params: Vec<(String, String)> = req
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let input = HttpEventInput {
        method: req.method,
        raw_path,
        raw_query,
        headers: &headers,
        body: req.body,
        route_key: req.route_key,
        path_parameters: &params,
        source_ip: "203.0.113.7",
        request_id: "JKJaXmPLvHcESHA=",
        time_epoch_ms: 1_587_481_701_067,
        stage: "$default",
        account_id: "123456789012",
        api_id: "abc123",
    };
    serde_json::from_slice(&request_event(&input)).expect("the event is JSON")
}

#[test]
fn request_event_full_shape() {
    let got = event(&Req {
        method: "POST",
        target: "/hello/bob%20smith?a=1&b=x%20y",
        headers: &[
            ("host", b"abc123.execute-api.us-east-1.amazonaws.com"),
            ("user-agent", b"curl/8.0"),
            ("content-type", b"application/json"),
            ("cookie", b"c1=v1; c2=v2"),
        ],
        body: br#"{"k":"v"}"#,
        route_key: "POST /hello/{name}",
        params: &[("name", "bob smith")],
    });
    let want = json!({
        "version": "2.0",
        "routeKey": "POST /hello/{name}",
        "rawPath": "/hello/bob%20smith",
        "rawQueryString": "a=1&b=x%20y",
        "cookies": ["c1=v1", "c2=v2"],
        "headers": {
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.0",
            "content-type": "application/json"
        },
        "queryStringParameters": {"a": "1", "b": "x y"},
        "pathParameters": {"name": "bob smith"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": "/hello/bob%20smith",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.0"
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "POST /hello/{name}",
            "stage": "$default",
            "time": "21/Apr/2020:15:08:21 +0000",
            "timeEpoch": 1_587_481_701_067_i64
        },
        "body": "{\"k\":\"v\"}",
        "isBase64Encoded": false
    });
    assert_eq!(got, want);
}

/// Each case: a request and `(JSON pointer, expected value)` checks; `None`
/// means the member must be absent.
#[test]
fn request_event_cases() {
    type Check = (&'static str, Option<Value>);
    let cases: Vec<(&str, Req, Vec<Check>)> = vec![
        (
            "minimal request omits optional members",
            BASE,
            vec![
                ("/cookies", None),
                ("/queryStringParameters", None),
                ("/pathParameters", None),
                ("/body", None),
                ("/isBase64Encoded", Some(json!(false))),
                ("/rawQueryString", Some(json!(""))),
                ("/requestContext/http/userAgent", Some(json!(""))),
                ("/requestContext/domainPrefix", Some(json!("abc123"))),
            ],
        ),
        (
            "several cookie headers, cookie left out of headers",
            Req {
                headers: &[
                    ("cookie", b"a=1; b=2"),
                    ("cookie", b"c=3;d=4;"),
                    ("x-k", b"v"),
                ],
                ..BASE
            },
            vec![
                ("/cookies", Some(json!(["a=1", "b=2", "c=3", "d=4"]))),
                ("/headers/cookie", None),
                ("/headers/x-k", Some(json!("v"))),
            ],
        ),
        (
            "duplicate headers joined with commas",
            Req {
                headers: &[
                    ("accept", b"text/html"),
                    ("accept", b"application/json"),
                    ("x-forwarded-for", b"1.2.3.4, 5.6.7.8"),
                ],
                ..BASE
            },
            vec![
                ("/headers/accept", Some(json!("text/html,application/json"))),
                ("/headers/x-forwarded-for", Some(json!("1.2.3.4, 5.6.7.8"))),
                ("/headers/host", None),
                ("/requestContext/domainName", Some(json!(""))),
            ],
        ),
        (
            "query: duplicates joined, decoded, + is a space, bare names empty",
            Req {
                target: "/p?a=1&a=2&q=C%23%20x+y&flag&=skip&&e=&a=3",
                ..BASE
            },
            vec![
                (
                    "/rawQueryString",
                    Some(json!("a=1&a=2&q=C%23%20x+y&flag&=skip&&e=&a=3")),
                ),
                (
                    "/queryStringParameters",
                    Some(json!({"a": "1,2,3", "q": "C# x y", "flag": "", "e": ""})),
                ),
            ],
        ),
        (
            "path parameters passed through; raw path stays encoded",
            Req {
                target: "/files/a%2Fb/c%E2%82%AC",
                route_key: "GET /files/{proxy+}",
                params: &[("proxy", "a/b/c€")],
                ..BASE
            },
            vec![
                ("/rawPath", Some(json!("/files/a%2Fb/c%E2%82%AC"))),
                (
                    "/requestContext/http/path",
                    Some(json!("/files/a%2Fb/c%E2%82%AC")),
                ),
                ("/pathParameters", Some(json!({"proxy": "a/b/c€"}))),
                ("/routeKey", Some(json!("GET /files/{proxy+}"))),
                (
                    "/requestContext/routeKey",
                    Some(json!("GET /files/{proxy+}")),
                ),
            ],
        ),
        (
            "binary body is base64",
            Req {
                method: "PUT",
                headers: &[("content-type", b"application/octet-stream")],
                body: &[0, 159, 146, 150, 255],
                ..BASE
            },
            vec![
                ("/body", Some(json!("AJ+Slv8="))),
                ("/isBase64Encoded", Some(json!(true))),
                ("/requestContext/http/method", Some(json!("PUT"))),
            ],
        ),
        (
            "UTF-8 body with a binary content type is still base64",
            Req {
                headers: &[("content-type", b"image/svg")],
                body: b"hi",
                ..BASE
            },
            vec![
                ("/body", Some(json!("aGk="))),
                ("/isBase64Encoded", Some(json!(true))),
            ],
        ),
        (
            "form posts are base64, as on AWS",
            Req {
                headers: &[("content-type", b"application/x-www-form-urlencoded")],
                body: b"a=1&b=2",
                ..BASE
            },
            vec![
                ("/body", Some(json!("YT0xJmI9Mg=="))),
                ("/isBase64Encoded", Some(json!(true))),
            ],
        ),
        (
            "text content type with invalid UTF-8 is base64",
            Req {
                headers: &[("content-type", b"text/plain")],
                body: &[0xff, 0xfe],
                ..BASE
            },
            vec![
                ("/body", Some(json!("//4="))),
                ("/isBase64Encoded", Some(json!(true))),
            ],
        ),
        (
            "textual types are text",
            Req {
                headers: &[("content-type", b"application/vnd.api+json; charset=utf-8")],
                body: "{\"é\":1}".as_bytes(),
                ..BASE
            },
            vec![
                ("/body", Some(json!("{\"é\":1}"))),
                ("/isBase64Encoded", Some(json!(false))),
            ],
        ),
        (
            "no content type and UTF-8 is text",
            Req {
                headers: &[],
                body: b"plain words",
                ..BASE
            },
            vec![
                ("/body", Some(json!("plain words"))),
                ("/isBase64Encoded", Some(json!(false))),
            ],
        ),
        (
            "no content type and not UTF-8 is base64",
            Req {
                headers: &[],
                body: &[0x80],
                ..BASE
            },
            vec![
                ("/body", Some(json!("gA=="))),
                ("/isBase64Encoded", Some(json!(true))),
            ],
        ),
        (
            "host with a port",
            Req {
                headers: &[("host", b"localhost:8080")],
                ..BASE
            },
            vec![
                ("/requestContext/domainName", Some(json!("localhost:8080"))),
                ("/requestContext/domainPrefix", Some(json!("localhost"))),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, req, checks) in &cases {
        let got = event(req);
        for (pointer, want) in checks {
            let actual = got.pointer(pointer);
            if actual != want.as_ref() {
                failures.push(format!(
                    "{name}: {pointer}: got {actual:?}, want {want:?}\n  event: {got}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn ok(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<HttpResponseParts, String> {
    Ok(HttpResponseParts {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    })
}

const JSON_CT: (&str, &str) = ("content-type", "application/json");
const TEXT_CT: (&str, &str) = ("content-type", "text/plain; charset=utf-8");

#[test]
fn response_cases() {
    let cases: Vec<(&str, &[u8], Result<HttpResponseParts, String>)> = vec![
        // The shortcut: anything that is not an object with statusCode.
        ("string is unquoted", br#""Hello from Lambda!""#, ok(200, &[JSON_CT], b"Hello from Lambda!")),
        ("string with escapes", br#""say \"hi\"\n""#, ok(200, &[JSON_CT], b"say \"hi\"\n")),
        ("empty string", br#""""#, ok(200, &[JSON_CT], b"")),
        (
            "object without statusCode is the body as returned",
            br#"{ "message": "Hello", "statusText": 404 }"#,
            ok(200, &[JSON_CT], br#"{ "message": "Hello", "statusText": 404 }"#),
        ),
        ("array", b"[1, 2, 3]", ok(200, &[JSON_CT], b"[1, 2, 3]")),
        ("number", b"42", ok(200, &[JSON_CT], b"42")),
        ("boolean", b"true", ok(200, &[JSON_CT], b"true")),
        ("null (Python None)", b"null", ok(200, &[JSON_CT], b"null")),
        (
            "statusCode nested deeper does not count",
            br#"{"data": {"statusCode": 500}}"#,
            ok(200, &[JSON_CT], br#"{"data": {"statusCode": 500}}"#),
        ),
        (
            "not JSON passes through unvalidated",
            br#"{"name": "John", "age":"#,
            ok(200, &[JSON_CT], br#"{"name": "John", "age":"#),
        ),
        ("plain text", b"Hello, World!", ok(200, &[JSON_CT], b"Hello, World!")),
        ("binary junk", &[0xff, 0x00, 0x81], ok(200, &[JSON_CT], &[0xff, 0x00, 0x81])),
        ("empty payload", b"", ok(200, &[JSON_CT], b"")),
        // Full responses.
        (
            "status, headers, cookies and body",
            br#"{"statusCode": 201,
                 "headers": {"Content-Type": "application/xml", "x-a": "1,2", "x-n": 5, "x-b": true, "x-null": null},
                 "cookies": ["a=1; Max-Age=60", "b=2; HttpOnly"],
                 "body": "<ok/>", "isBase64Encoded": false}"#,
            ok(
                201,
                &[
                    ("Content-Type", "application/xml"),
                    ("x-a", "1,2"),
                    ("x-b", "true"),
                    ("x-n", "5"),
                    ("set-cookie", "a=1; Max-Age=60"),
                    ("set-cookie", "b=2; HttpOnly"),
                ],
                b"<ok/>",
            ),
        ),
        (
            "no content-type gets text/plain",
            br#"{"statusCode": 200, "body": "Hello"}"#,
            ok(200, &[TEXT_CT], b"Hello"),
        ),
        (
            "statusCode alone",
            br#"{"statusCode": 204}"#,
            ok(204, &[TEXT_CT], b""),
        ),
        (
            "null members are absent",
            br#"{"statusCode": 404, "headers": null, "cookies": null, "body": null, "isBase64Encoded": null, "multiValueHeaders": null}"#,
            ok(404, &[TEXT_CT], b""),
        ),
        (
            "base64 body is decoded",
            br#"{"statusCode": 200, "headers": {"content-type": "image/png"}, "body": "AJ+Slv8=", "isBase64Encoded": true}"#,
            ok(200, &[("content-type", "image/png")], &[0, 159, 146, 150, 255]),
        ),
        (
            "base64 without padding",
            br#"{"statusCode": 200, "body": "aGk", "isBase64Encoded": true}"#,
            ok(200, &[TEXT_CT], b"hi"),
        ),
        (
            "multiValueHeaders: each value its own header",
            br#"{"statusCode": 200, "headers": {"x-m": "h"}, "multiValueHeaders": {"x-m": ["v1", "v2"], "x-e": []}}"#,
            ok(200, &[("x-m", "h"), ("x-m", "v1"), ("x-m", "v2"), TEXT_CT], b""),
        ),
        (
            "unknown members are ignored",
            br#"{"statusCode": 599, "extra": {"a": 1}, "body": "x"}"#,
            ok(599, &[TEXT_CT], b"x"),
        ),
        (
            "statusCode 200.0 is not an integer",
            br#"{"statusCode": 200.0}"#,
            Err("invalid function response: statusCode must be an integer from 200 to 599, got 200.0".into()),
        ),
        // Errors: API Gateway answers 500.
        (
            "fractional statusCode",
            br#"{"statusCode": 200.5, "body": "Hello"}"#,
            Err("invalid function response: statusCode must be an integer from 200 to 599, got 200.5".into()),
        ),
        (
            "zero statusCode",
            br#"{"statusCode": 0, "body": "x"}"#,
            Err("invalid function response: statusCode must be an integer from 200 to 599, got 0".into()),
        ),
        (
            "statusCode too large",
            br#"{"statusCode": 600}"#,
            Err("invalid function response: statusCode must be an integer from 200 to 599, got 600".into()),
        ),
        (
            "informational statusCode",
            br#"{"statusCode": 101}"#,
            Err("invalid function response: statusCode must be an integer from 200 to 599, got 101".into()),
        ),
        (
            "negative statusCode",
            br#"{"statusCode": -200}"#,
            Err("invalid function response: statusCode must be an integer from 200 to 599, got -200".into()),
        ),
        (
            "statusCode as a string",
            br#"{"statusCode": "200"}"#,
            Err(r#"invalid function response: statusCode must be an integer from 200 to 599, got the string "200""#.into()),
        ),
        (
            "null statusCode",
            br#"{"statusCode": null}"#,
            Err("invalid function response: statusCode must be an integer from 200 to 599, got null".into()),
        ),
        (
            "bad base64",
            br#"{"statusCode": 200, "body": "not base64!", "isBase64Encoded": true}"#,
            Err("invalid function response: isBase64Encoded is true but body is not valid base64: Invalid symbol 32, offset 3.".into()),
        ),
        (
            "body must be a string",
            br#"{"statusCode": 200, "body": {"a": 1}}"#,
            Err("invalid function response: `body` must be a string, got an object".into()),
        ),
        (
            "isBase64Encoded must be a boolean",
            br#"{"statusCode": 200, "isBase64Encoded": "true"}"#,
            Err(r#"invalid function response: `isBase64Encoded` must be a boolean, got the string "true""#.into()),
        ),
        (
            "headers must be an object",
            br#"{"statusCode": 200, "headers": ["a"]}"#,
            Err("invalid function response: `headers` must be an object, got an array".into()),
        ),
        (
            "header values must be scalars",
            br#"{"statusCode": 200, "headers": {"x-a": ["1"]}}"#,
            Err("invalid function response: `headers.x-a` must be a string, got an array".into()),
        ),
        (
            "cookies must be strings",
            br#"{"statusCode": 200, "cookies": ["a=1", 2]}"#,
            Err("invalid function response: `cookies[1]` must be a string, got 2".into()),
        ),
        (
            "cookies must be an array",
            br#"{"statusCode": 200, "cookies": "a=1"}"#,
            Err(r#"invalid function response: `cookies` must be an array of strings, got the string "a=1""#.into()),
        ),
        (
            "multiValueHeaders values must be arrays",
            br#"{"statusCode": 200, "multiValueHeaders": {"x-a": "1"}}"#,
            Err(r#"invalid function response: `multiValueHeaders.x-a` must be an array, got the string "1""#.into()),
        ),
        (
            "header name must be a token",
            br#"{"statusCode": 200, "headers": {"bad name": "v"}}"#,
            Err("invalid function response: header `bad name`: not a valid header name".into()),
        ),
        (
            "header value must not contain newlines",
            br#"{"statusCode": 200, "headers": {"x-a": "v\r\nx-b: injected"}}"#,
            Err("invalid function response: header `x-a`: the value has control characters or is not visible ASCII/UTF-8 text".into()),
        ),
        (
            "cookie values are checked too",
            br#"{"statusCode": 200, "cookies": ["a=1\n"]}"#,
            Err("invalid function response: header `set-cookie`: the value has control characters or is not visible ASCII/UTF-8 text".into()),
        ),
    ];
    let mut failures = Vec::new();
    for (name, payload, want) in &cases {
        let got = response_from_payload(payload).map_err(|e| e.to_string());
        if &got != want {
            failures.push(format!("{name}:\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} response cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn error_variants_are_typed() {
    let err = response_from_payload(br#"{"statusCode": 99}"#).expect_err("rejected");
    assert_eq!(err, ApigwError::InvalidStatus("99".into()));
    assert!(matches!(
        response_from_payload(br#"{"statusCode": 200, "body": "@@", "isBase64Encoded": true}"#),
        Err(ApigwError::InvalidBase64(_))
    ));
}

#[test]
fn internal_server_error_matches_aws() {
    let r = internal_server_error();
    assert_eq!(r.status, 500);
    assert_eq!(r.body, br#"{"message":"Internal Server Error"}"#);
    assert_eq!(
        r.headers,
        [("content-type".to_string(), "application/json".to_string())]
    );
}

/// A request body survives the round trip through an echoing function that
/// returns it base64-encoded.
#[test]
fn binary_round_trip() {
    let body: Vec<u8> = (0..=255).collect();
    let headers = http::HeaderMap::new();
    let input = HttpEventInput {
        method: "POST",
        raw_path: "/echo",
        raw_query: "",
        headers: &headers,
        body: &body,
        route_key: "$default",
        path_parameters: &[],
        source_ip: "127.0.0.1",
        request_id: "r",
        time_epoch_ms: 0,
        stage: "$default",
        account_id: "000000000000",
        api_id: "local",
    };
    let ev: Value = serde_json::from_slice(&request_event(&input)).expect("JSON");
    assert_eq!(ev["isBase64Encoded"], json!(true));
    let payload = json!({
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream"},
        "body": ev["body"],
        "isBase64Encoded": true,
    });
    let resp = response_from_payload(payload.to_string().as_bytes()).expect("valid");
    assert_eq!(resp.body, body);
}
