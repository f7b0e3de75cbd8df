//! The Lambda Runtime API (`/2018-06-01/runtime/...`), served to one
//! instance on its own loopback listener.
//!
//! The state machine follows the AWS Runtime Interface Emulator: the first
//! `GET /next` ends init; each event is answered once, by `/response` or
//! `/error` carrying its request id; anything else gets RIE's status codes and
//! `{"errorType","errorMessage"}` bodies.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::oneshot;

/// Serves the AWS service APIs (SQS, SNS, EventBridge, Lambda Invoke) to
/// functions on their Runtime API listener: every request not under
/// `/2018-06-01/` is handed to it. Functions without network access reach
/// Stratus's services this way (`AWS_ENDPOINT_URL` names the listener).
pub type Services = Arc<
    dyn Fn(Request<Bytes>) -> futures::future::BoxFuture<'static, Response<Bytes>> + Send + Sync,
>;

/// Largest request body handed to [`Services`] (the AWS APIs' own limits
/// are smaller; they answer with their errors).
const MAX_SERVICES_BODY: usize = 8 * 1024 * 1024;

/// Largest body the runtime may post: 6 MiB plus 100 bytes, as RIE
/// (`interop.MaxPayloadSize`).
pub const MAX_RUNTIME_PAYLOAD: usize = 6 * 1024 * 1024 + 100;

/// One event handed to the runtime by `/next`.
#[derive(Debug, Clone)]
pub struct Event {
    pub request_id: String,
    pub deadline_ms: i64,
    pub function_arn: String,
    pub trace_id: Option<String>,
    /// The client context as JSON (decoded from the caller's base64).
    pub client_context: Option<String>,
    pub body: Bytes,
}

/// How the runtime answered an event.
#[derive(Debug)]
pub enum Reply {
    Response {
        body: Bytes,
        content_type: Option<String>,
    },
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The response was over [`MAX_RUNTIME_PAYLOAD`].
    TooLarge,
}

/// How init ended.
#[derive(Debug)]
pub enum InitOutcome {
    /// The runtime asked for its first event.
    Ready,
    /// The runtime reported `/init/error`.
    Failed {
        error_type: Option<String>,
        body: Bytes,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Init,
    Running,
}

struct State {
    phase: Phase,
    init: Option<oneshot::Sender<InitOutcome>>,
    /// An event waiting for the runtime's next `/next`.
    queued: Option<Event>,
    /// A parked `/next` waiting for an event.
    waiter: Option<oneshot::Sender<Event>>,
    /// The event in flight and where its answer goes.
    current: Option<(String, oneshot::Sender<Reply>)>,
}

/// The Runtime API state of one instance.
pub struct RuntimeApi {
    state: Mutex<State>,
    /// Where requests outside `/2018-06-01/` go.
    services: OnceLock<Services>,
}

type Body = Full<Bytes>;

impl RuntimeApi {
    /// A fresh API in the init phase and the receiver of how init ends.
    pub fn new() -> (Arc<RuntimeApi>, oneshot::Receiver<InitOutcome>) {
        let (tx, rx) = oneshot::channel();
        let api = RuntimeApi {
            state: Mutex::new(State {
                phase: Phase::Init,
                init: Some(tx),
                queued: None,
                waiter: None,
                current: None,
            }),
            services: OnceLock::new(),
        };
        (Arc::new(api), rx)
    }

    /// Serves the AWS service APIs on this listener too (set once).
    pub fn set_services(&self, services: Services) {
        let _ = self.services.set(services);
    }

    /// Hands a request outside the Runtime API to the services handler.
    async fn service(&self, request: Request<Incoming>) -> Response<Body> {
        let Some(services) = self.services.get().cloned() else {
            return not_found(request.uri().path());
        };
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_SERVICES_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                return error_body(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    &format!("request body exceeds {MAX_SERVICES_BODY} bytes"),
                );
            }
            Err(_) => return truncated(),
        };
        let (parts, body) = services(Request::from_parts(parts, body))
            .await
            .into_parts();
        Response::from_parts(parts, Full::new(body))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands an event to the runtime; the receiver resolves with its answer
    /// (or errors if the event is abandoned).
    pub fn dispatch(&self, event: Event) -> oneshot::Receiver<Reply> {
        let (tx, rx) = oneshot::channel();
        let mut state = self.lock();
        state.current = Some((event.request_id.clone(), tx));
        match state.waiter.take() {
            Some(waiter) => {
                if let Err(event) = waiter.send(event) {
                    // The parked `/next` went away (connection closed); the
                    // next `/next` picks the event up.
                    state.queued = Some(event);
                }
            }
            None => state.queued = Some(event),
        }
        rx
    }

    /// Forgets the event in flight (after a timeout or a crash).
    pub fn abandon(&self) {
        let mut state = self.lock();
        state.current = None;
        state.queued = None;
    }

    /// Serves the API on `listener` until the task is aborted.
    pub fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            tracing::debug!(%error, "runtime API accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                };
                let _ = stream.set_nodelay(true);
                let api = self.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let api = api.clone();
                        async move { Ok::<_, std::convert::Infallible>(api.handle(request).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    if let Err(error) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await
                    {
                        tracing::trace!(%error, "runtime API connection ended");
                    }
                });
            }
        })
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_string();
        let Some(rest) = path.strip_prefix("/2018-06-01/") else {
            return self.service(request).await;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        match (request.method().clone(), segments.as_slice()) {
            (Method::GET, ["runtime", "invocation", "next"]) => self.next().await,
            (Method::POST, ["runtime", "invocation", id, "response"]) => {
                let id = id.to_string();
                self.response(&id, request).await
            }
            (Method::POST, ["runtime", "invocation", id, "error"]) => {
                let id = id.to_string();
                self.error(&id, request).await
            }
            (Method::POST, ["runtime", "init", "error"]) => self.init_error(request).await,
            (Method::GET, ["ping"]) => text(StatusCode::OK, "pong"),
            (Method::GET, ["runtime", "restore", "next"])
            | (Method::POST, ["runtime", "restore", "error"]) => error_body(
                StatusCode::FORBIDDEN,
                "InvalidStateTransition",
                "SnapStart restore is not supported",
            ),
            _ => not_found(&path),
        }
    }

    async fn next(&self) -> Response<Body> {
        let parked = {
            let mut state = self.lock();
            if state.phase == Phase::Init {
                state.phase = Phase::Running;
                if let Some(init) = state.init.take() {
                    let _ = init.send(InitOutcome::Ready);
                }
            }
            match state.queued.take() {
                Some(event) => return event_response(event),
                None => {
                    let (tx, rx) = oneshot::channel();
                    state.waiter = Some(tx);
                    rx
                }
            }
        };
        match parked.await {
            Ok(event) => event_response(event),
            Err(_) => error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "the environment is shutting down",
            ),
        }
    }

    /// Checks that `id` is the event in flight, not yet answered.
    fn is_current(&self, id: &str) -> bool {
        self.lock()
            .current
            .as_ref()
            .is_some_and(|(current, _)| current == id)
    }

    fn answer(&self, id: &str, reply: Reply) -> bool {
        let mut state = self.lock();
        match state.current.take() {
            Some((current, tx)) if current == id => {
                let _ = tx.send(reply);
                true
            }
            other => {
                state.current = other;
                false
            }
        }
    }

    async fn response(&self, id: &str, request: Request<Incoming>) -> Response<Body> {
        if !self.is_current(id) {
            return invalid_request_id();
        }
        if request
            .headers()
            .get("lambda-runtime-function-response-mode")
            .is_some_and(|v| v.as_bytes() != b"buffered")
        {
            return error_body(
                StatusCode::BAD_REQUEST,
                "InvalidFunctionResponseMode",
                "response streaming is not supported; send a buffered response",
            );
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match read_body(request).await {
            Ok(body) => body,
            Err(status) => {
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    self.answer(id, Reply::TooLarge);
                    return too_large();
                }
                return truncated();
            }
        };
        if self.answer(id, Reply::Response { body, content_type }) {
            accepted()
        } else {
            invalid_request_id()
        }
    }

    async fn error(&self, id: &str, request: Request<Incoming>) -> Response<Body> {
        if !self.is_current(id) {
            return invalid_request_id();
        }
        let error_type = error_type_header(&request);
        let body = match read_body(request).await {
            Ok(body) => body,
            Err(status) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                self.answer(id, Reply::TooLarge);
                return too_large();
            }
            Err(_) => return truncated(),
        };
        if self.answer(id, Reply::Error { error_type, body }) {
            accepted()
        } else {
            invalid_request_id()
        }
    }

    async fn init_error(&self, request: Request<Incoming>) -> Response<Body> {
        if self.lock().phase != Phase::Init {
            return error_body(
                StatusCode::FORBIDDEN,
                "InvalidStateTransition",
                "init/error is only valid during init",
            );
        }
        let error_type = error_type_header(&request);
        let body = read_body(request).await.unwrap_or_default();
        let mut state = self.lock();
        match state.init.take() {
            Some(init) => {
                let _ = init.send(InitOutcome::Failed { error_type, body });
                accepted()
            }
            None => error_body(
                StatusCode::FORBIDDEN,
                "InvalidStateTransition",
                "init already ended",
            ),
        }
    }
}

/// The `Lambda-Runtime-Function-Error-Type` header, if it is usable text.
/// Missing or odd values are accepted (real clients send both); the error
/// body is what callers see.
fn error_type_header(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, StatusCode> {
    match Limited::new(request.into_body(), MAX_RUNTIME_PAYLOAD)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        }
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

fn event_response(event: Event) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header("lambda-runtime-aws-request-id", &event.request_id)
        .header("lambda-runtime-deadline-ms", event.deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &event.function_arn);
    if let Some(trace) = &event.trace_id {
        builder = builder.header("lambda-runtime-trace-id", trace);
    }
    if let Some(context) = &event.client_context {
        builder = builder.header("lambda-runtime-client-context", context);
    }
    builder
        .body(Full::new(event.body))
        .unwrap_or_else(|_| internal())
}

fn error_body(status: StatusCode, error_type: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| internal())
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

fn internal() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

fn accepted() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"{\"status\":\"OK\"}")));
    *response.status_mut() = StatusCode::ACCEPTED;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn invalid_request_id() -> Response<Body> {
    error_body(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

fn too_large() -> Response<Body> {
    error_body(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({MAX_RUNTIME_PAYLOAD} bytes)."),
    )
}

fn truncated() -> Response<Body> {
    error_body(
        StatusCode::BAD_REQUEST,
        "TruncatedHTTPRequest",
        "the request body could not be read",
    )
}

fn not_found(path: &str) -> Response<Body> {
    error_body(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("no Runtime API endpoint at {path}"),
    )
}

#[cfg(test)]
mod tests {
    //! The Runtime API's answers, case by case, over a real socket, as a
    //! runtime client sees them (RIE's status codes and error types).

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends one HTTP/1.1 request and returns the status, the
    /// `lambda-runtime-aws-request-id` header and the body.
    async fn call(
        addr: std::net::SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Option<String>, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: api\r\nconnection: close\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(body).await.expect("write body");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let request_id = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("lambda-runtime-aws-request-id: ")
                .map(str::to_string)
        });
        (status, request_id, body.to_string())
    }

    async fn started() -> (
        Arc<RuntimeApi>,
        oneshot::Receiver<InitOutcome>,
        std::net::SocketAddr,
        tokio::task::JoinHandle<()>,
    ) {
        let (api, init) = RuntimeApi::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = api.clone().serve(listener);
        (api, init, addr, task)
    }

    fn event(id: &str) -> Event {
        Event {
            request_id: id.to_string(),
            deadline_ms: 1_700_000_000_000,
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            trace_id: Some("Root=1-0-0".into()),
            client_context: None,
            body: Bytes::from_static(b"{\"k\":1}"),
        }
    }

    const NEXT: &str = "/2018-06-01/runtime/invocation/next";

    /// (method, path, headers, body, expected status, expected errorType).
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [u8],
        u16,
        &'a str,
    );

    #[tokio::test]
    async fn endpoint_answers() {
        let (api, init, addr, task) = started().await;
        // Init ends at the first /next, which then gets the event.
        let first = tokio::spawn(call(addr, "GET", NEXT, &[], b""));
        assert!(matches!(init.await, Ok(InitOutcome::Ready)));
        let reply = api.dispatch(event("req-1"));
        let (status, id, body) = first.await.expect("next");
        assert_eq!(
            (status, id.as_deref(), body.as_str()),
            (200, Some("req-1"), "{\"k\":1}")
        );

        // Data-driven: (method, path, headers, body) -> (status, errorType).
        let cases: &[Case] = &[
            (
                "POST",
                "/2018-06-01/runtime/invocation/other/response",
                &[],
                b"1",
                400,
                "InvalidRequestID",
            ),
            (
                "POST",
                "/2018-06-01/runtime/invocation/other/error",
                &[],
                b"{}",
                400,
                "InvalidRequestID",
            ),
            (
                "POST",
                "/2018-06-01/runtime/init/error",
                &[],
                b"{}",
                403,
                "InvalidStateTransition",
            ),
            (
                "GET",
                "/2018-06-01/runtime/restore/next",
                &[],
                b"",
                403,
                "InvalidStateTransition",
            ),
            ("GET", "/2018-06-01/nothing/here", &[], b"", 404, "NotFound"),
            ("GET", "/elsewhere", &[], b"", 404, "NotFound"),
            (
                "POST",
                "/2018-06-01/runtime/invocation/req-1/response",
                &[("lambda-runtime-function-response-mode", "streaming")],
                b"1",
                400,
                "InvalidFunctionResponseMode",
            ),
        ];
        for (method, path, headers, body, want_status, want_type) in cases {
            let (status, _, text) = call(addr, method, path, headers, body).await;
            assert_eq!(status, *want_status, "{method} {path}: {text}");
            let doc: serde_json::Value = serde_json::from_str(&text).expect("json error body");
            assert_eq!(doc["errorType"], *want_type, "{method} {path}");
        }

        // An error with an odd (empty) error-type header is accepted, once.
        let path = "/2018-06-01/runtime/invocation/req-1/error";
        let (status, _, _) = call(
            addr,
            "POST",
            path,
            &[("lambda-runtime-function-error-type", " ")],
            b"not json",
        )
        .await;
        assert_eq!(status, 202);
        match reply.await {
            Ok(Reply::Error { error_type, body }) => {
                assert_eq!(error_type, None);
                assert_eq!(&body[..], b"not json");
            }
            other => panic!("unexpected {other:?}"),
        }
        let (status, _, _) = call(addr, "POST", path, &[], b"{}").await;
        assert_eq!(status, 400, "a second answer to the same event");
        task.abort();
    }

    #[tokio::test]
    async fn oversized_responses_and_init_errors() {
        let (api, init, addr, task) = started().await;
        let (status, _, _) = call(
            addr,
            "POST",
            "/2018-06-01/runtime/init/error",
            &[(
                "lambda-runtime-function-error-type",
                "Runtime.ImportModuleError",
            )],
            b"{\"errorType\":\"Runtime.ImportModuleError\"}",
        )
        .await;
        assert_eq!(status, 202);
        match init.await {
            Ok(InitOutcome::Failed { error_type, .. }) => {
                assert_eq!(error_type.as_deref(), Some("Runtime.ImportModuleError"));
            }
            other => panic!("unexpected {other:?}"),
        }

        let first = tokio::spawn(call(addr, "GET", NEXT, &[], b""));
        let reply = api.dispatch(event("big"));
        first.await.expect("next");
        let big = vec![b'a'; MAX_RUNTIME_PAYLOAD + 1];
        let (status, _, text) = call(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/big/response",
            &[],
            &big,
        )
        .await;
        assert_eq!(status, 413, "{text}");
        assert!(matches!(reply.await, Ok(Reply::TooLarge)));
        task.abort();
    }
}
