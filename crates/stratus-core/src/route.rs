//! HTTP API route patterns and a router with the semantics of API Gateway
//! HTTP APIs.
//!
//! # Patterns
//!
//! A pattern is a path of `/`-separated segments. Each segment is one of
//!
//! - a literal (`hello`), matched byte for byte and case-sensitively;
//! - a parameter (`{name}`), matching exactly one non-empty segment;
//! - a greedy parameter (`{proxy+}`), allowed only as the last segment and
//!   matching **one or more** remaining segments (never zero: `/files/{p+}`
//!   does not match `/files`, as in API Gateway).
//!
//! Parameters are whole segments (`/a{b}` is rejected), names are 1 or more of
//! `[A-Za-z0-9._-]` and unique within a pattern. Patterns have no empty
//! segments, so no `//` and no trailing `/` (the root `/` itself is fine).
//!
//! The pattern `*` is the catch-all route, API Gateway's `$default`: it
//! matches every method and every path (including `/`), but only when no other
//! route does. It must be registered with the method `*` (or `ANY`).
//!
//! # Methods
//!
//! Route methods are `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`,
//! `OPTIONS` (any case, stored upper-case) or `ANY`/`*` for every method.
//! Request methods are compared case-insensitively.
//!
//! # Which route wins
//!
//! 1. Routes without a greedy parameter beat routes with one (API Gateway's
//!    "full match" before "greedy match").
//! 2. Among those, the path is compared segment by segment from the left:
//!    a literal beats `{param}`, which beats `{proxy+}`. So `/pets/{proxy+}`
//!    beats `/{proxy+}`, and `/a/b/{x}` beats `/a/{y}/c`.
//! 3. On the same path pattern, a route for the exact method beats `ANY`. The
//!    path is decided first: with `ANY /pets/dog` and `GET /pets/{id}`, a
//!    `GET /pets/dog` goes to `ANY /pets/dog`. A path whose routes do not take
//!    the request's method is skipped, so the search falls back to less
//!    specific paths.
//! 4. The catch-all `*` (`$default`) is last.
//!
//! # Request paths
//!
//! [`Router::lookup`] takes the raw request path (as sent, percent-encoded).
//! Anything from the first `?` or `#` is ignored, so passing a path with its
//! query string is harmless. One trailing `/` is ignored (`/hello/` matches
//! `/hello`; a greedy value never ends with the stripped `/`). Literal
//! segments are compared with the raw, still-encoded segment; parameter values
//! are percent-decoded as API Gateway does (kept raw if the decoded bytes are
//! not UTF-8). A path that does not start with `/` matches only the catch-all.
//!
//! # Speed
//!
//! Routes live in a segment trie. A lookup visits each trie node at most twice
//! (once without and once with greedy matches), and in practice only the
//! nodes along the request's path, so its cost does not grow with the number
//! of routes.

use std::collections::HashMap;
use std::fmt;

/// The method of a route that takes every method (`ANY` in API Gateway).
pub const ANY_METHOD: &str = "*";
/// The path of the catch-all route (API Gateway's `$default`).
pub const CATCH_ALL_PATH: &str = "*";
/// The route key reported for a match of the catch-all route.
pub const CATCH_ALL_ROUTE_KEY: &str = "$default";
/// The methods a route may name, besides `ANY`/`*`.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Why a route could not be parsed or added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The path pattern is malformed; `reason` says how.
    #[error("invalid route path `{path}`: {reason}")]
    Invalid {
        /// The path as given.
        path: String,
        /// What is wrong with it, a lower-case phrase.
        reason: String,
    },
    /// The method is not one of [`METHODS`], `ANY` or `*`.
    #[error(
        "invalid HTTP method `{method}`; expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY or `*`"
    )]
    InvalidMethod {
        /// The method as given.
        method: String,
    },
    /// A route with the same method and the same path pattern (parameter
    /// names ignored) exists already.
    #[error("route `{route_key}` conflicts with the existing route `{existing}`")]
    Conflict {
        /// The route key of the route being added.
        route_key: String,
        /// The route key of the route already there.
        existing: String,
    },
}

/// Normalises a route method: known methods are upper-cased, `ANY` and `*`
/// become [`ANY_METHOD`]. Returns `None` for anything else.
pub fn normalize_method(method: &str) -> Option<&'static str> {
    if method == "*" || method.eq_ignore_ascii_case("ANY") {
        return Some(ANY_METHOD);
    }
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(method))
}

/// The route key of a route, as API Gateway spells it: `GET /a/{b}`,
/// `ANY /x` for any-method routes, `$default` for the catch-all.
/// `method` should be normalised (see [`normalize_method`]).
pub fn route_key(method: &str, path: &str) -> String {
    if path == CATCH_ALL_PATH {
        return CATCH_ALL_ROUTE_KEY.to_string();
    }
    let method = if method == ANY_METHOD { "ANY" } else { method };
    format!("{method} {path}")
}

/// One segment of a [`RoutePattern`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A literal segment, matched exactly.
    Literal(String),
    /// `{name}`: one non-empty segment.
    Param(String),
    /// `{name+}`: one or more remaining segments; always the last segment.
    Greedy(String),
}

/// A parsed route path such as `/a/{b}/{rest+}`, or the catch-all `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoutePattern {
    path: String,
    segments: Vec<Segment>,
    catch_all: bool,
}

impl RoutePattern {
    /// Parses and validates a path pattern (see the module documentation for
    /// the syntax).
    pub fn parse(path: &str) -> Result<Self, RouteError> {
        let invalid = |reason: String| RouteError::Invalid {
            path: path.to_string(),
            reason,
        };
        if path == CATCH_ALL_PATH {
            return Ok(Self {
                path: path.to_string(),
                segments: Vec::new(),
                catch_all: true,
            });
        }
        let Some(rest) = path.strip_prefix('/') else {
            return Err(invalid("the path must start with `/`".to_string()));
        };
        if let Some(c) = path.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!(
                "the path must not contain whitespace or control characters, found {c:?}"
            )));
        }
        if path.contains(['?', '#']) {
            return Err(invalid(
                "the path must not contain a query string or fragment (`?`, `#`)".to_string(),
            ));
        }
        let mut segments = Vec::new();
        if !rest.is_empty() {
            let raw: Vec<&str> = rest.split('/').collect();
            for (i, seg) in raw.iter().enumerate() {
                let last = i + 1 == raw.len();
                if seg.is_empty() {
                    return Err(invalid(if last {
                        "the path must not end with `/`".to_string()
                    } else {
                        "the path must not contain empty segments (`//`)".to_string()
                    }));
                }
                segments.push(parse_segment(seg, last).map_err(invalid)?);
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for seg in &segments {
            if let Segment::Param(name) | Segment::Greedy(name) = seg {
                if names.contains(&name.as_str()) {
                    return Err(invalid(format!("duplicate parameter name `{name}`")));
                }
                names.push(name);
            }
        }
        Ok(Self {
            path: path.to_string(),
            segments,
            catch_all: false,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The segments, empty for `/` and for the catch-all.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether this is the catch-all pattern `*` (`$default`).
    pub fn is_catch_all(&self) -> bool {
        self.catch_all
    }

    /// Whether the last segment is a greedy parameter.
    pub fn is_greedy(&self) -> bool {
        matches!(self.segments.last(), Some(Segment::Greedy(_)))
    }

    /// The parameter names in path order (the greedy one last).
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(n) | Segment::Greedy(n) => Some(n.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The pattern with parameter names erased (`/a/{}/{+}`), so that two
    /// patterns conflict exactly when their canonical forms are equal.
    /// The catch-all stays `*`.
    pub fn canonical(&self) -> String {
        if self.catch_all {
            return CATCH_ALL_PATH.to_string();
        }
        if self.segments.is_empty() {
            return "/".to_string();
        }
        let mut out = String::new();
        for seg in &self.segments {
            out.push('/');
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Param(_) => out.push_str("{}"),
                Segment::Greedy(_) => out.push_str("{+}"),
            }
        }
        out
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

fn parse_segment(seg: &str, last: bool) -> Result<Segment, String> {
    let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
        if seg.contains(['{', '}']) {
            return Err(format!(
                "path parameters must be whole segments like `{{name}}`, found `{seg}`"
            ));
        }
        return Ok(Segment::Literal(seg.to_string()));
    };
    let (name, greedy) = match inner.strip_suffix('+') {
        Some(name) => (name, true),
        None => (inner, false),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(format!(
            "invalid parameter `{seg}`: names are letters, digits, `_`, `-` or `.`"
        ));
    }
    if greedy && !last {
        return Err(format!(
            "the greedy parameter `{seg}` must be the last segment"
        ));
    }
    Ok(if greedy {
        Segment::Greedy(name.to_string())
    } else {
        Segment::Param(name.to_string())
    })
}

/// A successful [`Router::lookup`].
#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatch<'a, T> {
    /// The value stored with the route.
    pub value: &'a T,
    /// Path parameters in path order, values percent-decoded. For a greedy
    /// parameter the value is the rest of the path without leading `/`
    /// (`a/b` for `/files/a/b`).
    pub params: Vec<(String, String)>,
    /// The matched route's key, e.g. `GET /hello/{name}`, `ANY /{proxy+}` or
    /// `$default`.
    pub route_key: String,
}

#[derive(Debug, Clone)]
struct Route<T> {
    value: T,
    param_names: Vec<String>,
    route_key: String,
}

/// The routes ending at one trie node, by method.
#[derive(Debug, Clone)]
struct Endpoints<T> {
    methods: Vec<(&'static str, Route<T>)>,
    any: Option<Route<T>>,
}

impl<T> Default for Endpoints<T> {
    fn default() -> Self {
        Self {
            methods: Vec::new(),
            any: None,
        }
    }
}

impl<T> Endpoints<T> {
    fn get(&self, method: &str) -> Option<&Route<T>> {
        self.methods
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(method))
            .map(|(_, r)| r)
            .or(self.any.as_ref())
    }

    fn slot(&mut self, method: &'static str) -> Slot<'_, T> {
        if method == ANY_METHOD {
            return match &self.any {
                Some(r) => Slot::Taken(r.route_key.clone()),
                None => Slot::Free(self),
            };
        }
        match self.methods.iter().find(|(m, _)| *m == method) {
            Some((_, r)) => Slot::Taken(r.route_key.clone()),
            None => Slot::Free(self),
        }
    }

    fn put(&mut self, method: &'static str, route: Route<T>) {
        if method == ANY_METHOD {
            self.any = Some(route);
        } else {
            self.methods.push((method, route));
        }
    }
}

enum Slot<'a, T> {
    Free(&'a mut Endpoints<T>),
    Taken(String),
}

#[derive(Debug, Clone)]
struct Node<T> {
    literals: HashMap<String, usize>,
    param: Option<usize>,
    /// Routes whose pattern ends at this node.
    exact: Endpoints<T>,
    /// Routes whose pattern is this node's path followed by `{x+}`.
    greedy: Endpoints<T>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Self {
            literals: HashMap::new(),
            param: None,
            exact: Endpoints::default(),
            greedy: Endpoints::default(),
        }
    }
}

/// Request segments: each segment with the byte offset where it starts.
struct Request<'p> {
    path: &'p str,
    segments: Vec<(&'p str, usize)>,
}

/// A set of routes, each with a value, looked up by request method and path
/// (see the module documentation for the matching rules).
#[derive(Debug, Clone)]
pub struct Router<T> {
    /// The trie; `nodes[0]` is the root.
    nodes: Vec<Node<T>>,
    catch_all: Option<Route<T>>,
    len: usize,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Router<T> {
    /// An empty router.
    pub fn new() -> Self {
        Self {
            nodes: vec![Node::new()],
            catch_all: None,
            len: 0,
        }
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a route. Fails with [`RouteError::Invalid`] or
    /// [`RouteError::InvalidMethod`] on bad syntax, and with
    /// [`RouteError::Conflict`] if the same method (`ANY` being its own
    /// method) and path pattern, parameter names ignored, exist already.
    pub fn insert(&mut self, method: &str, path: &str, value: T) -> Result<(), RouteError> {
        let method = normalize_method(method).ok_or_else(|| RouteError::InvalidMethod {
            method: method.to_string(),
        })?;
        let pattern = RoutePattern::parse(path)?;
        let key = route_key(method, path);
        let route = Route {
            value,
            param_names: pattern.param_names().map(str::to_string).collect(),
            route_key: key.clone(),
        };
        if pattern.is_catch_all() {
            if method != ANY_METHOD {
                return Err(RouteError::Invalid {
                    path: path.to_string(),
                    reason:
                        "the catch-all route `*` takes every method; use the method `*` or `ANY`"
                            .to_string(),
                });
            }
            if let Some(existing) = &self.catch_all {
                return Err(RouteError::Conflict {
                    route_key: key,
                    existing: existing.route_key.clone(),
                });
            }
            self.catch_all = Some(route);
            self.len += 1;
            return Ok(());
        }
        let mut node = 0;
        let mut greedy = false;
        for seg in pattern.segments() {
            node = match seg {
                Segment::Literal(lit) => match self.nodes[node].literals.get(lit.as_str()) {
                    Some(&child) => child,
                    None => {
                        let child = self.push_node();
                        self.nodes[node].literals.insert(lit.clone(), child);
                        child
                    }
                },
                Segment::Param(_) => match self.nodes[node].param {
                    Some(child) => child,
                    None => {
                        let child = self.push_node();
                        self.nodes[node].param = Some(child);
                        child
                    }
                },
                Segment::Greedy(_) => {
                    greedy = true;
                    node
                }
            };
        }
        let endpoints = if greedy {
            &mut self.nodes[node].greedy
        } else {
            &mut self.nodes[node].exact
        };
        match endpoints.slot(method) {
            Slot::Taken(existing) => Err(RouteError::Conflict {
                route_key: key,
                existing,
            }),
            Slot::Free(endpoints) => {
                endpoints.put(method, route);
                self.len += 1;
                Ok(())
            }
        }
    }

    fn push_node(&mut self) -> usize {
        self.nodes.push(Node::new());
        self.nodes.len() - 1
    }

    /// Finds the route for a request, or `None` if no route matches.
    pub fn lookup(&self, method: &str, path: &str) -> Option<RouteMatch<'_, T>> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if let Some(request) = split_request(path) {
            let mut captures = Vec::new();
            if let Some(found) = self.walk(0, 0, &request, method, false, &mut captures) {
                return Some(found);
            }
            captures.clear();
            if let Some(found) = self.walk(0, 0, &request, method, true, &mut captures) {
                return Some(found);
            }
        }
        self.catch_all.as_ref().map(|route| RouteMatch {
            value: &route.value,
            params: Vec::new(),
            route_key: route.route_key.clone(),
        })
    }

    /// Depth-first search, literal before parameter before greedy. Without
    /// `greedy` only routes without a greedy parameter are considered; with
    /// it, only routes with one. Each node is reached by one path of the trie
    /// only, at one depth, so the search visits every node at most once.
    fn walk<'r>(
        &'r self,
        node: usize,
        depth: usize,
        request: &Request<'_>,
        method: &str,
        greedy: bool,
        captures: &mut Vec<String>,
    ) -> Option<RouteMatch<'r, T>> {
        let here = &self.nodes[node];
        let Some(&(segment, offset)) = request.segments.get(depth) else {
            if greedy {
                return None;
            }
            return here
                .exact
                .get(method)
                .map(|route| make_match(route, captures, None));
        };
        if let Some(&child) = here.literals.get(segment)
            && let Some(found) = self.walk(child, depth + 1, request, method, greedy, captures)
        {
            return Some(found);
        }
        if let Some(child) = here.param
            && !segment.is_empty()
        {
            captures.push(percent_decode(segment));
            if let Some(found) = self.walk(child, depth + 1, request, method, greedy, captures) {
                return Some(found);
            }
            captures.pop();
        }
        if greedy {
            let rest = &request.path[offset..];
            if !rest.is_empty()
                && let Some(route) = here.greedy.get(method)
            {
                return Some(make_match(route, captures, Some(percent_decode(rest))));
            }
        }
        None
    }
}

fn make_match<'r, T>(
    route: &'r Route<T>,
    captures: &[String],
    rest: Option<String>,
) -> RouteMatch<'r, T> {
    let values = captures.iter().cloned().chain(rest);
    RouteMatch {
        value: &route.value,
        params: route.param_names.iter().cloned().zip(values).collect(),
        route_key: route.route_key.clone(),
    }
}

/// Splits a request path (query already removed) into segments, ignoring one
/// trailing `/`. `None` if the path does not start with `/`.
fn split_request(path: &str) -> Option<Request<'_>> {
    if !path.starts_with('/') {
        return None;
    }
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let mut segments = Vec::new();
    if path != "/" {
        let mut offset = 1;
        for seg in path[1..].split('/') {
            segments.push((seg, offset));
            offset += seg.len() + 1;
        }
    }
    Some(Request { path, segments })
}

/// Decodes `%XX` escapes. Malformed escapes are kept as written; if the
/// decoded bytes are not UTF-8 the input is returned unchanged.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_erases_names() {
        let cases = [
            ("/", "/"),
            ("*", "*"),
            ("/a/{b}/c", "/a/{}/c"),
            ("/a/{b}/{rest+}", "/a/{}/{+}"),
            ("/{proxy+}", "/{+}"),
        ];
        for (path, canonical) in cases {
            let p = RoutePattern::parse(path).expect(path);
            assert_eq!(p.canonical(), canonical, "{path}");
            assert_eq!(p.to_string(), path);
        }
    }

    #[test]
    fn percent_decoding() {
        let cases = [
            ("plain", "plain"),
            ("a%20b", "a b"),
            ("%E2%82%AC", "€"),
            ("a%2Fb", "a/b"),
            ("100%", "100%"),
            ("%zz", "%zz"),
            ("%4", "%4"),
            ("%FF", "%FF"),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_decode(input), expected, "{input}");
        }
    }

    #[test]
    fn request_splitting() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("/", Some(&[])),
            ("/a", Some(&["a"])),
            ("/a/", Some(&["a"])),
            ("/a//b", Some(&["a", "", "b"])),
            ("//", Some(&[])),
            ("a", None),
            ("", None),
        ];
        for (path, expected) in cases {
            let got = split_request(path).map(|r| {
                r.segments
                    .iter()
                    .map(|(s, _)| s.to_string())
                    .collect::<Vec<_>>()
            });
            let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, expected, "{path}");
        }
    }

    #[test]
    fn method_normalisation() {
        let cases = [
            ("get", Some("GET")),
            ("Post", Some("POST")),
            ("ANY", Some("*")),
            ("any", Some("*")),
            ("*", Some("*")),
            ("FETCH", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_method(input), expected, "{input}");
        }
    }
}
