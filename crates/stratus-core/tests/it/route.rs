//! The router, driven by `tests/cases/routes/*.routes`, plus a cross-check
//! against a brute-force reference matcher.
//!
//! Case syntax, one statement a line (`#` starts a comment line):
//!
//! ```text
//! route GET /hello/{name}                  the route must be accepted
//! route GET /a//b => error: <message>      the route must be rejected so
//! GET /hello/bob => GET /hello/{name} name="bob"
//! GET /nothing => none
//! ```
//!
//! A request line's expectation is the matched route key followed by the
//! parameters as `name="value"` (Rust string syntax), or `none`.

use crate::cases;
use stratus_core::route::{RouteError, RouteMatch, RoutePattern, Router, Segment};

fn render(found: Option<RouteMatch<'_, String>>) -> String {
    let Some(m) = found else {
        return "none".to_string();
    };
    assert_eq!(*m.value, m.route_key, "the value stored with the route");
    let mut out = m.route_key.clone();
    for (name, value) in &m.params {
        out.push_str(&format!(" {name}={value:?}"));
    }
    out
}

fn run_case(text: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut router = Router::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (statement, expected) = match line.split_once(" => ") {
            Some((s, e)) => (s.trim(), Some(e.trim())),
            None => (line, None),
        };
        let fail = |why: String| format!("line {}: `{line}`: {why}", n + 1);
        if let Some(route) = statement.strip_prefix("route ") {
            let (method, path) = route.split_once(' ').unwrap_or((route, ""));
            let key = stratus_core::route::route_key(
                stratus_core::route::normalize_method(method).unwrap_or(method),
                path,
            );
            let result = router.insert(method, path, key);
            match (result, expected) {
                (Ok(()), None) => {}
                (Err(e), None) => failures.push(fail(format!("rejected: {e}"))),
                (Ok(()), Some(e)) => failures.push(fail(format!("accepted, expected {e}"))),
                (Err(e), Some(expected)) => {
                    let actual = format!("error: {e}");
                    if actual != expected {
                        failures.push(fail(format!("got `{actual}`")));
                    }
                }
            }
        } else {
            let Some(expected) = expected else {
                failures.push(fail("a request needs `=> expectation`".into()));
                continue;
            };
            let (method, path) = statement.split_once(' ').unwrap_or((statement, ""));
            let actual = render(router.lookup(method, path));
            if actual != expected {
                failures.push(fail(format!("got `{actual}`")));
            }
        }
    }
    failures
}

#[test]
fn route_cases() {
    let files = cases::files("routes", "routes");
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read case");
        for f in run_case(&text) {
            failures.push(format!("{}: {f}", cases::name(path)));
        }
    }
    cases::report("route", files.len(), failures);
}

#[test]
fn pattern_syntax() {
    let ok = [
        "/",
        "/a",
        "/a/{b}",
        "/{proxy+}",
        "/a.b/{c.d}/{e-f+}",
        "/v1/users/{id}/files/{path+}",
        "/caf%C3%A9/*/~x",
    ];
    for path in ok {
        let p = RoutePattern::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(p.as_str(), path);
    }
    let p = RoutePattern::parse("/a/{b}/{c+}").expect("valid");
    assert_eq!(
        p.segments(),
        [
            Segment::Literal("a".into()),
            Segment::Param("b".into()),
            Segment::Greedy("c".into()),
        ]
    );
    assert_eq!(p.param_names().collect::<Vec<_>>(), ["b", "c"]);
    assert!(p.is_greedy());
    assert!(!p.is_catch_all());
    assert!(RoutePattern::parse("*").expect("catch-all").is_catch_all());

    let bad = [
        ("", "the path must start with `/`"),
        ("hello", "the path must start with `/`"),
        ("/a/", "the path must not end with `/`"),
        ("//", "the path must not contain empty segments (`//`)"),
        ("/a//b", "the path must not contain empty segments (`//`)"),
        (
            "/a{b}",
            "path parameters must be whole segments like `{name}`, found `a{b}`",
        ),
        (
            "/{b}c",
            "path parameters must be whole segments like `{name}`, found `{b}c`",
        ),
        (
            "/{a}{b}",
            "invalid parameter `{a}{b}`: names are letters, digits, `_`, `-` or `.`",
        ),
        (
            "/{}",
            "invalid parameter `{}`: names are letters, digits, `_`, `-` or `.`",
        ),
        (
            "/{+}",
            "invalid parameter `{+}`: names are letters, digits, `_`, `-` or `.`",
        ),
        (
            "/{a b}",
            "the path must not contain whitespace or control characters, found ' '",
        ),
        (
            "/{proxy+}/x",
            "the greedy parameter `{proxy+}` must be the last segment",
        ),
        ("/{id}/x/{id}", "duplicate parameter name `id`"),
        ("/{id}/{id+}", "duplicate parameter name `id`"),
        (
            "/a?b=1",
            "the path must not contain a query string or fragment (`?`, `#`)",
        ),
        (
            "/a#x",
            "the path must not contain a query string or fragment (`?`, `#`)",
        ),
        ("**", "the path must start with `/`"),
    ];
    for (path, reason) in bad {
        let expected = RouteError::Invalid {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        assert_eq!(RoutePattern::parse(path), Err(expected), "{path}");
    }
}

#[test]
fn canonical_forms_decide_conflicts() {
    let same = [
        ("/a/{x}", "/a/{y}"),
        ("/{p+}", "/{proxy+}"),
        ("/a/{x}/b/{r+}", "/a/{z}/b/{rest+}"),
    ];
    for (a, b) in same {
        let (pa, pb) = (RoutePattern::parse(a), RoutePattern::parse(b));
        assert_eq!(
            pa.map(|p| p.canonical()),
            pb.map(|p| p.canonical()),
            "{a} vs {b}"
        );
    }
    let different = [("/a/{x}", "/a/{x+}"), ("/a", "/a/{x}"), ("/{x+}", "*")];
    for (a, b) in different {
        let (pa, pb) = (RoutePattern::parse(a), RoutePattern::parse(b));
        assert_ne!(
            pa.map(|p| p.canonical()),
            pb.map(|p| p.canonical()),
            "{a} vs {b}"
        );
    }
}

#[test]
fn len_counts_accepted_routes() {
    let mut router = Router::new();
    assert!(router.is_empty());
    assert!(router.insert("GET", "/a", 1).is_ok());
    assert!(router.insert("ANY", "/a", 2).is_ok());
    assert!(router.insert("GET", "/a", 3).is_err());
    assert!(router.insert("*", "*", 4).is_ok());
    assert_eq!(router.len(), 3);
}

// ----- cross-check against a reference matcher ---------------------------

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

struct RefRoute {
    method: &'static str,
    pattern: RoutePattern,
    key: String,
}

/// The rules of the module documentation, applied literally: collect every
/// matching route, then order by (greedy, segment ranks, ANY).
fn reference(routes: &[RefRoute], method: &str, path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    // (greedy, segment ranks, ANY): smaller is more specific.
    type Order = (bool, Vec<u8>, bool);
    let mut best: Option<(Order, String)> = None;
    let mut catch_all = None;
    for r in routes {
        if r.pattern.is_catch_all() {
            catch_all = Some(r.key.clone());
            continue;
        }
        if r.method != "*" && !r.method.eq_ignore_ascii_case(method) {
            continue;
        }
        let Some(params) = matches(&r.pattern, path) else {
            continue;
        };
        let ranks: Vec<u8> = r
            .pattern
            .segments()
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 0,
                Segment::Param(_) => 1,
                Segment::Greedy(_) => 2,
            })
            .collect();
        let order = (r.pattern.is_greedy(), ranks, r.method == "*");
        let mut rendered = r.key.clone();
        for (n, v) in r.pattern.param_names().zip(params) {
            rendered.push_str(&format!(" {n}={v:?}"));
        }
        if best.as_ref().is_none_or(|(o, _)| order < *o) {
            best = Some((order, rendered));
        }
    }
    best.map(|(_, r)| r).or(catch_all)
}

fn matches(pattern: &RoutePattern, path: &str) -> Option<Vec<String>> {
    let path = path.strip_prefix('/')?;
    let path = path.strip_suffix('/').unwrap_or(path);
    let segs: Vec<&str> = if path.is_empty() {
        vec![]
    } else {
        path.split('/').collect()
    };
    let mut params = Vec::new();
    for (i, seg) in pattern.segments().iter().enumerate() {
        match seg {
            Segment::Literal(l) => {
                if segs.get(i) != Some(&l.as_str()) {
                    return None;
                }
            }
            Segment::Param(_) => {
                let s = segs.get(i).filter(|s| !s.is_empty())?;
                params.push(stratus_core::route::percent_decode(s));
            }
            Segment::Greedy(_) => {
                let rest = segs.get(i..)?.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.push(stratus_core::route::percent_decode(&rest));
                return Some(params);
            }
        }
    }
    (segs.len() == pattern.segments().len()).then_some(params)
}

#[test]
fn router_agrees_with_reference() {
    let methods = ["GET", "POST", "ANY", "*"];
    let segments = ["a", "b", "c", "{p}", "{q}", "{r+}"];
    let request_segments = ["a", "b", "c", "d", "", "x%20y"];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut disagreements = Vec::new();
    for round in 0..300 {
        let mut router = Router::new();
        let mut routes = Vec::new();
        for _ in 0..(rng.next() % 12 + 1) {
            let len = rng.next() % 4;
            let mut path = String::new();
            for _ in 0..len {
                path.push('/');
                path.push_str(rng.pick(&segments));
            }
            if path.is_empty() {
                path = if rng.next().is_multiple_of(5) {
                    "*"
                } else {
                    "/"
                }
                .to_string();
            }
            let method = if path == "*" { "*" } else { rng.pick(&methods) };
            let normalized = stratus_core::route::normalize_method(method).unwrap_or(method);
            let key = stratus_core::route::route_key(normalized, &path);
            if router.insert(method, &path, key.clone()).is_ok() {
                let pattern = RoutePattern::parse(&path).expect("accepted pattern");
                routes.push(RefRoute {
                    method: normalized,
                    pattern,
                    key,
                });
            }
        }
        for _ in 0..20 {
            let len = rng.next() % 5;
            let mut path = String::new();
            for _ in 0..len {
                path.push('/');
                path.push_str(rng.pick(&request_segments));
            }
            if path.is_empty() || rng.next().is_multiple_of(6) {
                path.push('/');
            }
            let method = rng.pick(&["GET", "POST", "get"]);
            let expected = reference(&routes, method, &path).unwrap_or_else(|| "none".into());
            let actual = render(router.lookup(method, &path));
            if actual != expected {
                let keys: Vec<&str> = routes.iter().map(|r| r.key.as_str()).collect();
                disagreements.push(format!(
                    "round {round}: {method} {path}: router `{actual}`, reference `{expected}`; routes {keys:?}"
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn thousands_of_routes() {
    let mut router = Router::new();
    for i in 0..2000 {
        let routes = [
            ("GET", format!("/svc{i}/items/{{id}}")),
            ("POST", format!("/svc{i}/items")),
            ("ANY", format!("/svc{i}/{{proxy+}}")),
        ];
        for (method, path) in routes {
            if let Err(e) = router.insert(method, &path, i) {
                panic!("{method} {path}: {e}");
            }
        }
    }
    assert_eq!(router.len(), 6000);
    for i in (0..2000).step_by(7) {
        let found = router.lookup("GET", &format!("/svc{i}/items/{i}"));
        let found = found.map(|m| (*m.value, m.params, m.route_key));
        assert_eq!(
            found,
            Some((
                i,
                vec![("id".to_string(), i.to_string())],
                format!("GET /svc{i}/items/{{id}}")
            ))
        );
        let found = router.lookup("DELETE", &format!("/svc{i}/items/{i}"));
        assert_eq!(found.map(|m| *m.value), Some(i));
        assert!(router.lookup("GET", &format!("/svc{i}")).is_none());
    }
}
