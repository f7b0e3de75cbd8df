//! The router end to end, in process: which service a request reaches,
//! authentication (header, presigned query, `aws-chunked` bodies, session
//! tokens, any region), and the authorization hook before the handler.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{Duration, Utc};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use stratus_aws::auth::{Access, AccessKey, Authenticator, Authorizer, KeyStore};
use stratus_aws::sigv4::{Credentials, Signer};
use stratus_aws::{AwsError, AwsRequest, AwsRouter, Caller, Operation, Protocol, Service};

const ADMIN_ID: &str = "AKIAADMIN0000000000";
const ADMIN_SECRET: &str = "admin-secret";
const FUNCTION_ID: &str = "ASIAFUNCTION0000000";
const FUNCTION_SECRET: &str = "function-secret";
const FUNCTION_TOKEN: &str = "function-token";
/// The greedy stub's body limit: larger than any buffered one.
const STREAM_LIMIT: usize = 8 << 20;

struct Keys;

#[async_trait]
impl KeyStore for Keys {
    async fn key(&self, key_id: &str) -> Result<Option<AccessKey>, AwsError> {
        Ok(match key_id {
            ADMIN_ID => Some(AccessKey {
                secret: ADMIN_SECRET.into(),
                caller: Caller::Admin,
                session_token: None,
            }),
            FUNCTION_ID => Some(AccessKey {
                secret: FUNCTION_SECRET.into(),
                caller: Caller::Function("f".into()),
                session_token: Some(FUNCTION_TOKEN.into()),
            }),
            _ => None,
        })
    }
}

/// Refuses `sqs:DeleteQueue`, allows the rest.
struct NoDeletes;

#[async_trait]
impl Authorizer for NoDeletes {
    async fn authorize(&self, access: &Access<'_>) -> Result<(), AwsError> {
        if access.action == "sqs:DeleteQueue" {
            return Err(AwsError::new(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!("not allowed: {} on {}", access.action, access.resource),
            ));
        }
        Ok(())
    }
}

/// A service that answers who it is and what it saw.
struct Echo {
    name: &'static str,
    protocol: Protocol,
    target: Option<&'static str>,
    path_prefix: Option<&'static str>,
    greedy: bool,
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl Service for Echo {
    fn signing_name(&self) -> &'static str {
        self.name
    }
    fn protocol(&self) -> Protocol {
        self.protocol
    }
    fn target_prefix(&self) -> Option<&'static str> {
        self.target
    }
    fn claims(&self, parts: &http::request::Parts) -> bool {
        self.path_prefix
            .is_some_and(|p| parts.uri.path().starts_with(p))
    }
    fn greedy(&self) -> bool {
        self.greedy
    }
    fn body_limit(&self) -> usize {
        // Streamed bodies may be larger than any buffered one.
        if self.greedy { STREAM_LIMIT } else { 1 << 20 }
    }
    fn streams_body(&self, parts: &http::request::Parts) -> bool {
        self.greedy && parts.uri.path().starts_with("/stream/")
    }
    fn operation(&self, request: &AwsRequest) -> Result<Operation, AwsError> {
        let name = request
            .target_operation()
            .unwrap_or(request.parts.method.as_str())
            .to_string();
        Ok(Operation::new(self.name, &name, "*"))
    }
    async fn call(
        &self,
        operation: &Operation,
        request: AwsRequest,
    ) -> Result<Response<Bytes>, AwsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(mut stream) = request.take_stream() {
            // Reads frame by frame, keeping only a count and a hash, as an
            // upload would write to disk; an error of the stream is the
            // answer.
            let mut bytes = 0usize;
            let mut frames = 0usize;
            let mut hasher = Sha256::new();
            while let Some(frame) = stream.frame().await {
                if let Ok(data) = frame?.into_data() {
                    bytes += data.len();
                    frames += 1;
                    hasher.update(&data);
                }
            }
            let answer = serde_json::json!({
                "streamed": bytes,
                "frames": frames,
                "sha256": hex::encode(hasher.finalize()),
            });
            return Ok(self.protocol.json_ok(&answer, &request.context.request_id));
        }
        let caller = match &request.context.caller {
            Caller::Admin => "admin".to_string(),
            Caller::Function(f) => format!("function:{f}"),
            Caller::Anonymous => "anonymous".to_string(),
        };
        let answer = serde_json::json!({
            "service": self.name,
            "operation": operation.name,
            "region": request.context.region,
            "caller": caller,
            "path": request.parts.uri.path(),
            "body": String::from_utf8_lossy(&request.body),
        });
        Ok(self.protocol.json_ok(&answer, &request.context.request_id))
    }
}

struct Fixture {
    router: AwsRouter,
    calls: Arc<AtomicUsize>,
}

fn fixture() -> Fixture {
    let calls = Arc::new(AtomicUsize::new(0));
    let auth = Authenticator {
        keys: Arc::new(Keys),
        bearer_token: "bearer".into(),
    };
    let mut router = AwsRouter::new(auth, Arc::new(NoDeletes));
    let echo = |name, protocol, target, path_prefix, greedy| {
        Arc::new(Echo {
            name,
            protocol,
            target,
            path_prefix,
            greedy,
            calls: calls.clone(),
        })
    };
    router
        .register(echo(
            "sqs",
            Protocol::Json10,
            Some("AmazonSQS"),
            None,
            false,
        ))
        .register(echo(
            "lambda",
            Protocol::RestJson,
            None,
            Some("/2015-03-31/functions/"),
            false,
        ))
        .register(echo("s3", Protocol::RestXml, None, None, true));
    Fixture { router, calls }
}

fn admin(region: &str, service: &str) -> Signer {
    Signer {
        credentials: Credentials {
            key_id: ADMIN_ID.into(),
            secret: ADMIN_SECRET.into(),
            session_token: None,
        },
        region: region.into(),
        service: service.into(),
    }
}

/// A request signed in its `Authorization` header.
fn signed(
    signer: &Signer,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Request<Full<Bytes>> {
    let uri: http::Uri = uri.parse().expect("uri");
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    signer
        .sign(method.as_str(), &uri, &mut map, body, Utc::now())
        .expect("sign");
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in &map {
        request = request.header(k, v);
    }
    request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("request")
}

fn plain(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.body(Full::new(Bytes::new())).expect("request")
}

fn json(response: &Response<Bytes>) -> serde_json::Value {
    serde_json::from_slice(response.body()).unwrap_or_default()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn requests_reach_the_service_their_scope_target_path_or_address_names() {
    let f = fixture();
    let rt = runtime();
    // By scope and target, in a region other than us-east-1.
    let sqs = signed(
        &admin("eu-west-1", "sqs"),
        Method::POST,
        "http://127.0.0.1:9070/",
        &[("x-amz-target", "AmazonSQS.ListQueues")],
        b"{}",
    );
    let answer = rt.block_on(f.router.handle(sqs));
    assert_eq!(answer.status(), 200, "{answer:?}");
    let body = json(&answer);
    assert_eq!(body["service"], "sqs");
    assert_eq!(body["operation"], "ListQueues");
    assert_eq!(body["region"], "eu-west-1");
    assert_eq!(body["caller"], "admin");

    // S3's path style, by scope.
    let get = signed(
        &admin("ap-southeast-2", "s3"),
        Method::GET,
        "http://127.0.0.1:9070/photos/cat.jpg",
        &[],
        b"",
    );
    let answer = rt.block_on(f.router.handle(get));
    assert_eq!(json(&answer)["service"], "s3", "{answer:?}");
    assert_eq!(json(&answer)["path"], "/photos/cat.jpg");

    // Virtual-hosted style with the bearer token: nothing else claims it,
    // so the greedy service does.
    let hosted = plain(
        Method::GET,
        "http://photos.s3.localhost:9070/cat.jpg",
        &[("authorization", "Bearer bearer")],
    );
    let answer = rt.block_on(f.router.handle(hosted));
    assert_eq!(json(&answer)["service"], "s3", "{answer:?}");

    // A path claim outranks a scope for another service: the claimant's
    // signature check refuses it.
    let crossed = signed(
        &admin("us-east-1", "sqs"),
        Method::POST,
        "http://127.0.0.1:9070/2015-03-31/functions/f/invocations",
        &[],
        b"{}",
    );
    let answer = rt.block_on(f.router.handle(crossed));
    assert_eq!(answer.status(), 403, "{answer:?}");
    assert_eq!(
        answer.headers()["x-amzn-errortype"],
        "InvalidSignatureException"
    );

    // A scope naming a service not served: that protocol's error.
    let iam = signed(
        &admin("us-east-1", "iam"),
        Method::POST,
        "http://127.0.0.1:9070/",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"Action=ListUsers&Version=2010-05-08",
    );
    let answer = rt.block_on(f.router.handle(iam));
    assert_eq!(answer.status(), 400);
    let text = String::from_utf8_lossy(answer.body()).into_owned();
    assert!(text.contains("<Code>InvalidAction</Code>"), "{text}");
    assert!(text.contains("`iam`"), "{text}");
    assert_eq!(f.calls.load(Ordering::SeqCst), 3);
}

#[test]
fn presigned_urls_work_until_they_expire() {
    let f = fixture();
    let rt = runtime();
    let signer = admin("eu-central-1", "s3");
    let uri: http::Uri = "http://127.0.0.1:9070/photos/cat.jpg".parse().expect("uri");
    let presign = |now, expires| {
        let query = signer
            .presign("GET", &uri, &HeaderMap::new(), expires, None, now)
            .expect("presign");
        plain(
            Method::GET,
            &format!("http://127.0.0.1:9070/photos/cat.jpg?{query}"),
            &[],
        )
    };
    let fresh = rt.block_on(f.router.handle(presign(Utc::now(), 300)));
    assert_eq!(fresh.status(), 200, "{fresh:?}");
    assert_eq!(json(&fresh)["region"], "eu-central-1");

    let stale = rt.block_on(
        f.router
            .handle(presign(Utc::now() - Duration::seconds(600), 300)),
    );
    assert_eq!(stale.status(), 403, "{stale:?}");
    let text = String::from_utf8_lossy(stale.body()).into_owned();
    assert!(text.contains("Request has expired"), "{text}");

    let week = rt.block_on(f.router.handle(presign(Utc::now(), 604_801)));
    assert_eq!(week.status(), 400, "{week:?}");
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn aws_chunked_bodies_are_verified_and_decoded_before_the_service() {
    let f = fixture();
    let rt = runtime();
    let signer = admin("us-east-1", "s3");
    let data = b"hello, chunked world".repeat(500);
    let uri: http::Uri = "http://127.0.0.1:9070/photos/big.bin".parse().expect("uri");
    let (headers, body) = aws_chunked(&signer, &uri, &data, 4096);

    let build = |body: Vec<u8>| {
        let mut request = Request::builder().method(Method::PUT).uri(uri.clone());
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        request.body(Full::new(Bytes::from(body))).expect("request")
    };
    let answer = rt.block_on(f.router.handle(build(body.clone())));
    assert_eq!(answer.status(), 200, "{answer:?}");
    assert_eq!(
        json(&answer)["body"]
            .as_str()
            .unwrap_or_default()
            .as_bytes(),
        &data[..]
    );

    // One flipped byte of data breaks its chunk's signature.
    let mut tampered = body;
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    let refused = rt.block_on(f.router.handle(build(tampered)));
    assert_eq!(refused.status(), 403, "{refused:?}");
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn the_authorization_hook_runs_before_the_handler() {
    let f = fixture();
    let rt = runtime();
    let delete = signed(
        &admin("us-east-1", "sqs"),
        Method::POST,
        "http://127.0.0.1:9070/",
        &[("x-amz-target", "AmazonSQS.DeleteQueue")],
        b"{}",
    );
    let answer = rt.block_on(f.router.handle(delete));
    assert_eq!(answer.status(), 403, "{answer:?}");
    let body = json(&answer);
    assert_eq!(body["__type"], "AccessDenied");
    assert_eq!(f.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_function_key_needs_its_session_token() {
    let f = fixture();
    let rt = runtime();
    let signer = |token: Option<&str>| Signer {
        credentials: Credentials {
            key_id: FUNCTION_ID.into(),
            secret: FUNCTION_SECRET.into(),
            session_token: token.map(str::to_string),
        },
        region: "us-west-2".into(),
        service: "sqs".into(),
    };
    let call = |signer: &Signer| {
        signed(
            signer,
            Method::POST,
            "http://127.0.0.1:9070/",
            &[("x-amz-target", "AmazonSQS.ListQueues")],
            b"{}",
        )
    };
    let good = rt.block_on(f.router.handle(call(&signer(Some(FUNCTION_TOKEN)))));
    assert_eq!(good.status(), 200, "{good:?}");
    assert_eq!(json(&good)["caller"], "function:f");
    for token in [None, Some("wrong")] {
        let bad = rt.block_on(f.router.handle(call(&signer(token))));
        assert_eq!(bad.status(), 403, "{token:?} {bad:?}");
        assert_eq!(json(&bad)["__type"], "UnrecognizedClientException");
    }
    // Unsigned and unknown keys.
    let unsigned = rt.block_on(f.router.handle(plain(
        Method::POST,
        "http://127.0.0.1:9070/",
        &[("x-amz-target", "AmazonSQS.ListQueues")],
    )));
    assert_eq!(json(&unsigned)["__type"], "MissingAuthenticationToken");
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);
}

/// One piece of a body sent in pieces.
type Piece = Result<http_body::Frame<Bytes>, std::io::Error>;

/// A body sent in pieces, as a client's upload arrives.
fn pieces(
    data: &[u8],
    size: usize,
) -> StreamBody<futures::stream::Iter<std::vec::IntoIter<Piece>>> {
    let frames: Vec<Piece> = data
        .chunks(size)
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    StreamBody::new(futures::stream::iter(frames))
}

/// A streamed request: signed with its SHA-256 declared, the body sent in
/// 64 KiB pieces.
fn streamed_put(
    signer: &Signer,
    uri: &str,
    data: &[u8],
    declared: Option<&str>,
) -> Request<impl http_body::Body<Data = Bytes, Error = std::io::Error> + Send + 'static> {
    let uri: http::Uri = uri.parse().expect("uri");
    let mut headers = HeaderMap::new();
    let hash = declared.map_or_else(|| hex::encode(Sha256::digest(data)), str::to_string);
    headers.insert("x-amz-content-sha256", hash.parse().expect("value"));
    signer
        .sign("PUT", &uri, &mut headers, data, Utc::now())
        .expect("sign");
    let mut request = Request::builder().method(Method::PUT).uri(uri);
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    request.body(pieces(data, 64 << 10)).expect("request")
}

#[test]
fn a_streaming_service_reads_a_body_larger_than_any_buffer_as_it_arrives() {
    let f = fixture();
    let rt = runtime();
    let signer = admin("us-east-1", "s3");
    // 3 MiB: over the 2 MiB a buffered service reads.
    let data: Vec<u8> = (0..3 << 20).map(|i: usize| (i % 251) as u8).collect();
    let answer = rt.block_on(f.router.handle(streamed_put(
        &signer,
        "http://127.0.0.1:9070/stream/big.bin",
        &data,
        None,
    )));
    assert_eq!(answer.status(), 200, "{answer:?}");
    let seen = json(&answer);
    assert_eq!(seen["streamed"], data.len());
    assert_eq!(seen["sha256"], hex::encode(Sha256::digest(&data)));
    assert!(seen["frames"].as_u64().unwrap_or_default() > 1, "{seen}");

    // A body whose SHA-256 is not the signed one ends in AWS's error.
    let wrong = hex::encode(Sha256::digest(b"something else"));
    let refused = rt.block_on(f.router.handle(streamed_put(
        &signer,
        "http://127.0.0.1:9070/stream/big.bin",
        &data,
        Some(&wrong),
    )));
    assert_eq!(refused.status(), 400, "{refused:?}");
    let text = String::from_utf8_lossy(refused.body()).into_owned();
    assert!(text.contains("XAmzContentSHA256Mismatch"), "{text}");

    // Over the service's limit: its own error, after reading no more.
    let huge = vec![7u8; STREAM_LIMIT + 1];
    let too_big = rt.block_on(f.router.handle(streamed_put(
        &signer,
        "http://127.0.0.1:9070/stream/huge.bin",
        &huge,
        None,
    )));
    assert_eq!(too_big.status(), 413, "{too_big:?}");

    // A bad signature is refused before the service sees the request.
    let calls = f.calls.load(Ordering::SeqCst);
    let mut forged = streamed_put(&signer, "http://127.0.0.1:9070/stream/x", b"x", None);
    forged
        .headers_mut()
        .insert("x-amz-date", "20200101T000000Z".parse().expect("value"));
    let forged = rt.block_on(f.router.handle(forged));
    assert_eq!(forged.status(), 403, "{forged:?}");
    assert_eq!(f.calls.load(Ordering::SeqCst), calls);
}

#[test]
fn a_streamed_aws_chunked_body_is_decoded_and_verified_chunk_by_chunk() {
    let f = fixture();
    let rt = runtime();
    let signer = admin("us-east-1", "s3");
    let data: Vec<u8> = (0..(3 << 20) + 17).map(|i: usize| (i % 13) as u8).collect();
    let uri: http::Uri = "http://127.0.0.1:9070/stream/chunked.bin"
        .parse()
        .expect("uri");
    let (headers, body) = aws_chunked(&signer, &uri, &data, 64 << 10);
    let build = |body: &[u8]| {
        let mut request = Request::builder().method(Method::PUT).uri(uri.clone());
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        // Pieces that do not line up with the chunks.
        request.body(pieces(body, 10_007)).expect("request")
    };
    let answer = rt.block_on(f.router.handle(build(&body)));
    assert_eq!(answer.status(), 200, "{answer:?}");
    let seen = json(&answer);
    assert_eq!(seen["streamed"], data.len());
    assert_eq!(seen["sha256"], hex::encode(Sha256::digest(&data)));

    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    let refused = rt.block_on(f.router.handle(build(&tampered)));
    assert_eq!(refused.status(), 403, "{refused:?}");
    let text = String::from_utf8_lossy(refused.body()).into_owned();
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
}

/// The headers (signed for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) and the
/// `aws-chunked` body of a PUT of `data` to `uri`, in chunks of `chunk`
/// bytes, each signed.
fn aws_chunked(
    signer: &Signer,
    uri: &http::Uri,
    data: &[u8],
    chunk: usize,
) -> (HeaderMap, Vec<u8>) {
    let now = Utc::now();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-content-sha256",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".parse().expect("value"),
    );
    headers.insert(
        "x-amz-decoded-content-length",
        data.len().to_string().parse().expect("value"),
    );
    headers.insert("content-encoding", "aws-chunked".parse().expect("value"));
    signer
        .sign("PUT", uri, &mut headers, b"", now)
        .expect("sign");
    let seed = headers["authorization"]
        .to_str()
        .expect("ascii")
        .rsplit("Signature=")
        .next()
        .expect("signature")
        .to_string();
    let mut chunks = signer.chunk_signer(&seed, now);
    let mut body = Vec::new();
    for piece in data.chunks(chunk) {
        body.extend_from_slice(&chunks.chunk(piece));
    }
    body.extend_from_slice(&chunks.final_chunk(&[]));
    (headers, body)
}
