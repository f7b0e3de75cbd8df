//! Outbound HTTP from guests: denied unless the host is allowed.
//!
//! Patterns in `allowedOutboundHosts`: `*` (any host), `host`, `host:port`,
//! `*.example.com` (any subdomain), each optionally prefixed with `http://` or
//! `https://` to also pin the scheme.

use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        let text = text.trim().to_ascii_lowercase();
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_string()), rest.to_string()),
            None => (None, text),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => {
                (host.to_string(), port.parse::<u16>().ok())
            }
            _ => (rest.to_string(), None),
        };
        Pattern { scheme, host, port }
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme) {
            return false;
        }
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        if self.host == "*" {
            return true;
        }
        match self.host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() && host.ends_with(&format!(".{suffix}")),
            None => self.host == host,
        }
    }
}

/// The allow list of one function, shared by its requests.
#[derive(Clone, Default)]
pub struct OutboundPolicy {
    patterns: Arc<Vec<Pattern>>,
}

impl OutboundPolicy {
    pub fn new(hosts: &[String]) -> OutboundPolicy {
        OutboundPolicy {
            patterns: Arc::new(hosts.iter().map(|h| Pattern::parse(h)).collect()),
        }
    }

    /// Whether a request to this URI may go out.
    pub fn allows(&self, uri: &http::Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let Some(host) = uri.host() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        self.patterns.iter().any(|p| p.allows(&scheme, host, port))
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        drop(fut);
        if !self.allows(request.uri()) {
            tracing::debug!(uri = %request.uri(), "outbound request denied");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&[], "http://example.com/", false),
            (&["example.com"], "http://example.com/x", true),
            (&["example.com"], "https://example.com/x", true),
            (&["example.com"], "http://evil.com/", false),
            (&["example.com:8080"], "http://example.com/", false),
            (&["example.com:8080"], "http://example.com:8080/", true),
            (&["*.example.com"], "http://api.example.com/", true),
            (&["*.example.com"], "http://example.com/", false),
            (&["https://example.com"], "http://example.com/", false),
            (&["https://example.com"], "https://example.com/", true),
            (&["*"], "http://127.0.0.1:9/", true),
            (&["127.0.0.1:8080"], "http://127.0.0.1:8080/a", true),
        ];
        for (hosts, uri, expected) in cases {
            let hosts: Vec<String> = hosts.iter().map(|s| s.to_string()).collect();
            let uri: http::Uri = uri.parse().expect("test uri");
            assert_eq!(
                OutboundPolicy::new(&hosts).allows(&uri),
                *expected,
                "{hosts:?} {uri}"
            );
        }
    }
}
