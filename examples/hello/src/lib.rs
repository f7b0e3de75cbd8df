//! Stratus example: a `wasi:http/proxy` component.
//!
//! `GET /hello/{name}` -> `200 hello, {name}` (greeting overridable with the
//! `GREETING` environment variable); any request to `/` (what
//! `stratus invoke hello` sends) -> `200 hello, world`; anything else ->
//! `404 not found`.

use std::io::Write as _;

use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

wasi::http::proxy::export!(Hello);

impl wasi::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_else(|| "/".into());
        let path = path_with_query.split('?').next().unwrap_or("/");

        let name = path
            .strip_prefix("/hello/")
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .map(percent_decode);

        // `stratus invoke hello` sends its event as a POST to `/`.
        let invoked = path == "/";
        match (request.method(), name) {
            (_, None) if invoked => {
                let greeting = std::env::var("GREETING").unwrap_or_else(|_| "hello".into());
                println!("greeting world (invoked)");
                respond(response_out, 200, format!("{greeting}, world").as_bytes());
            }
            (Method::Get, Some(name)) => {
                let greeting = std::env::var("GREETING").unwrap_or_else(|_| "hello".into());
                println!("greeting {name}");
                respond(response_out, 200, format!("{greeting}, {name}").as_bytes());
            }
            (_, Some(_)) => respond(response_out, 405, b"method not allowed"),
            (_, None) => respond(response_out, 404, b"not found"),
        }
    }
}

fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::from_list(&[
        ("content-type".into(), b"text/plain; charset=utf-8".to_vec()),
        ("content-length".into(), body.len().to_string().into_bytes()),
    ])
    .expect("valid headers");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("valid status");
    let outgoing_body = response.body().expect("body taken once");
    ResponseOutparam::set(out, Ok(response));

    {
        let mut stream = outgoing_body.write().expect("stream taken once");
        // `std::io::Write` for the WASI output stream respects check-write.
        stream.write_all(body).expect("write body");
        stream.flush().expect("flush body");
    } // the stream (a child resource) must be dropped before finishing the body
    OutgoingBody::finish(outgoing_body, None).expect("finish body");
}

/// Minimal `%XX` decoding for the path segment; invalid escapes are kept as-is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}
