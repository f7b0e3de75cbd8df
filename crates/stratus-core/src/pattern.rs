//! The EventBridge event-pattern language, also the language of SNS
//! subscription filter policies.
//!
//! A pattern is a JSON object whose structure mirrors the event: a key maps
//! either to a nested pattern (an object) or to an array of alternatives.
//! An alternative is a literal (string, number, `null`, boolean) or an
//! operator object with one key: `prefix`, `suffix`, `anything-but`,
//! `numeric`, `exists`, `equals-ignore-case`, `wildcard`, `cidr`. An object
//! may also hold `"$or": [{...}, {...}]`: it matches when its other fields
//! do and at least one of the sub-patterns does.
//!
//! Matching: every field of the pattern must match; an array in the event
//! matches when any element does (for a nested pattern, one element must
//! match the whole sub-pattern); numbers compare numerically (`5` matches
//! `5.0`); strings never match numbers. `exists` looks at leaf values only:
//! a field holding an object does not "exist" as a leaf.
//!
//! [`Pattern::parse`] refuses invalid patterns with a [`PatternError`] that
//! names the offending path, e.g.
//! `pattern.detail.price: numeric expects pairs of operator and number`.

use serde_json::{Map, Value};
use std::net::IpAddr;

/// A parsed, valid event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Object,
}

/// Why a pattern was refused: where (`pattern.detail.price`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PatternError {
    /// The path of the offending part, starting with the root's name.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// The bounds of `numeric` values (EventBridge's limit).
const NUMERIC_LIMIT: f64 = 5.0e9;

impl Pattern {
    /// Parses an event pattern (JSON text); errors name paths from `pattern`.
    pub fn parse(json: &str) -> Result<Pattern, PatternError> {
        Self::parse_named(json, "pattern")
    }

    /// Parses a pattern whose error paths start with `root` (e.g.
    /// `FilterPolicy` for SNS).
    pub fn parse_named(json: &str, root: &str) -> Result<Pattern, PatternError> {
        let value: Value = serde_json::from_str(json).map_err(|e| PatternError {
            path: root.to_string(),
            message: format!("not valid JSON: {e}"),
        })?;
        Self::from_value_named(&value, root)
    }

    /// Parses a pattern already read as JSON.
    pub fn from_value(value: &Value) -> Result<Pattern, PatternError> {
        Self::from_value_named(value, "pattern")
    }

    /// Parses a pattern already read as JSON; errors start with `root`.
    pub fn from_value_named(value: &Value, root: &str) -> Result<Pattern, PatternError> {
        match value {
            Value::Object(map) => Ok(Pattern {
                root: Object::parse(map, root)?,
            }),
            _ => Err(err(root, "must be a JSON object")),
        }
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        match event {
            Value::Object(map) => self.root.matches(map),
            _ => self.root.matches(&Map::new()),
        }
    }

    /// Whether the pattern has no fields (it matches every event).
    pub fn is_empty(&self) -> bool {
        self.root.fields.is_empty() && self.root.ors.is_empty()
    }
}

fn err(path: &str, message: impl Into<String>) -> PatternError {
    PatternError {
        path: path.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Object {
    fields: Vec<(String, Field)>,
    /// Each entry is one `$or`: at least one alternative must match.
    ors: Vec<Vec<Object>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Object),
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Scalar),
    Prefix { text: String, ignore_case: bool },
    Suffix { text: String, ignore_case: bool },
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    Numeric(Range),
    Exists(bool),
    AnythingBut(AnythingBut),
    Cidr(Cidr),
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Scalar>),
    Prefix(String),
    Suffix(String),
    Wildcard(Vec<Wildcard>),
    IgnoreCase(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Range {
    lower: Option<(f64, bool)>,
    upper: Option<(f64, bool)>,
    equal: Option<f64>,
}

/// A wildcard pattern: literal segments separated by `*`.
#[derive(Debug, Clone, PartialEq)]
struct Wildcard {
    segments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Object {
    fn parse(map: &Map<String, Value>, path: &str) -> Result<Object, PatternError> {
        let mut object = Object {
            fields: Vec::new(),
            ors: Vec::new(),
        };
        for (key, value) in map {
            let here = format!("{path}.{key}");
            if key == "$or"
                && let Value::Array(items) = value
                && !items.is_empty()
                && items.iter().all(Value::is_object)
            {
                if items.len() < 2 {
                    return Err(err(&here, "$or expects at least two sub-patterns"));
                }
                let mut alternatives = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let sub = format!("{here}[{i}]");
                    if let Value::Object(m) = item {
                        let parsed = Object::parse(m, &sub)?;
                        if parsed.fields.is_empty() && parsed.ors.is_empty() {
                            return Err(err(&sub, "an empty sub-pattern is not allowed"));
                        }
                        alternatives.push(parsed);
                    }
                }
                object.ors.push(alternatives);
                continue;
            }
            let field = match value {
                Value::Object(m) => {
                    let nested = Object::parse(m, &here)?;
                    if nested.fields.is_empty() && nested.ors.is_empty() {
                        return Err(err(&here, "an empty object is not allowed"));
                    }
                    Field::Nested(nested)
                }
                Value::Array(items) => {
                    if items.is_empty() {
                        return Err(err(&here, "an empty array of alternatives is not allowed"));
                    }
                    let matchers = items
                        .iter()
                        .map(|item| parse_matcher(item, &here))
                        .collect::<Result<Vec<_>, _>>()?;
                    Field::Leaf(matchers)
                }
                _ => {
                    return Err(err(
                        &here,
                        "expects an array of alternatives or a nested object",
                    ));
                }
            };
            object.fields.push((key.clone(), field));
        }
        Ok(object)
    }

    fn matches(&self, event: &Map<String, Value>) -> bool {
        self.fields
            .iter()
            .all(|(key, field)| field.matches(event.get(key)))
            && self
                .ors
                .iter()
                .all(|alternatives| alternatives.iter().any(|o| o.matches(event)))
    }
}

impl Field {
    fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Field::Nested(object) => nested_matches(object, value),
            Field::Leaf(matchers) => {
                let mut leaves = Vec::new();
                if let Some(v) = value {
                    collect_leaves(v, &mut leaves);
                }
                matchers.iter().any(|m| m.matches(&leaves))
            }
        }
    }
}

fn nested_matches(object: &Object, value: Option<&Value>) -> bool {
    match value {
        Some(Value::Object(map)) => object.matches(map),
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().any(|item| nested_matches(object, Some(item)))
        }
        // Nothing (or a leaf) where the pattern expects an object: only
        // `exists: false` fields can match.
        _ => object.matches(&Map::new()),
    }
}

fn collect_leaves<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| collect_leaves(i, out)),
        Value::Object(_) => {}
        leaf => out.push(leaf),
    }
}

impl Matcher {
    /// Whether the field's leaf values (empty when absent) match.
    fn matches(&self, leaves: &[&Value]) -> bool {
        match self {
            Matcher::Exists(expected) => leaves.is_empty() != *expected,
            other => leaves.iter().any(|leaf| other.matches_one(leaf)),
        }
    }

    fn matches_one(&self, value: &Value) -> bool {
        match self {
            Matcher::Exact(scalar) => scalar.equals(value),
            Matcher::Prefix { text, ignore_case } => value.as_str().is_some_and(|s| {
                if *ignore_case {
                    s.to_lowercase().starts_with(&text.to_lowercase())
                } else {
                    s.starts_with(text.as_str())
                }
            }),
            Matcher::Suffix { text, ignore_case } => value.as_str().is_some_and(|s| {
                if *ignore_case {
                    s.to_lowercase().ends_with(&text.to_lowercase())
                } else {
                    s.ends_with(text.as_str())
                }
            }),
            Matcher::EqualsIgnoreCase(text) => value
                .as_str()
                .is_some_and(|s| s.to_lowercase() == text.to_lowercase()),
            Matcher::Wildcard(w) => value.as_str().is_some_and(|s| w.matches(s)),
            Matcher::Numeric(range) => value.as_f64().is_some_and(|n| range.contains(n)),
            Matcher::Exists(_) => true,
            Matcher::AnythingBut(but) => but.matches(value),
            Matcher::Cidr(cidr) => value
                .as_str()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_some_and(|ip| cidr.contains(ip)),
        }
    }
}

impl Scalar {
    fn equals(&self, value: &Value) -> bool {
        match (self, value) {
            (Scalar::Str(a), Value::String(b)) => a == b,
            (Scalar::Num(a), Value::Number(b)) => b.as_f64().is_some_and(|b| b == *a),
            (Scalar::Bool(a), Value::Bool(b)) => a == b,
            (Scalar::Null, Value::Null) => true,
            _ => false,
        }
    }
}

impl AnythingBut {
    fn matches(&self, value: &Value) -> bool {
        match self {
            AnythingBut::Values(values) => !values.iter().any(|v| v.equals(value)),
            AnythingBut::Prefix(p) => value.as_str().is_some_and(|s| !s.starts_with(p.as_str())),
            AnythingBut::Suffix(p) => value.as_str().is_some_and(|s| !s.ends_with(p.as_str())),
            AnythingBut::Wildcard(ws) => value
                .as_str()
                .is_some_and(|s| !ws.iter().any(|w| w.matches(s))),
            AnythingBut::IgnoreCase(values) => value.as_str().is_some_and(|s| {
                let s = s.to_lowercase();
                !values.iter().any(|v| v.to_lowercase() == s)
            }),
        }
    }
}

impl Range {
    fn contains(&self, n: f64) -> bool {
        if let Some(e) = self.equal {
            return n == e;
        }
        let lower = self
            .lower
            .is_none_or(|(b, inclusive)| if inclusive { n >= b } else { n > b });
        let upper = self
            .upper
            .is_none_or(|(b, inclusive)| if inclusive { n <= b } else { n < b });
        lower && upper
    }
}

impl Wildcard {
    fn parse(text: &str, path: &str) -> Result<Wildcard, PatternError> {
        let mut segments = vec![String::new()];
        let mut chars = text.chars();
        let mut last_star = false;
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if last_star {
                        return Err(err(
                            path,
                            "wildcard: consecutive wildcard characters are not allowed",
                        ));
                    }
                    segments.push(String::new());
                    last_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => push_char(&mut segments, e),
                    _ => {
                        return Err(err(
                            path,
                            "wildcard: a backslash may only escape '*' or '\\'",
                        ));
                    }
                },
                other => push_char(&mut segments, other),
            }
            last_star = false;
        }
        Ok(Wildcard { segments })
    }

    fn matches(&self, s: &str) -> bool {
        let (first, rest) = match self.segments.split_first() {
            Some(parts) => parts,
            None => return s.is_empty(),
        };
        let Some(mut tail) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty();
        };
        for segment in middle {
            match tail.find(segment.as_str()) {
                Some(at) => tail = &tail[at + segment.len()..],
                None => return false,
            }
        }
        tail.len() >= last.len() && tail.ends_with(last.as_str())
    }
}

fn push_char(segments: &mut [String], c: char) {
    if let Some(last) = segments.last_mut() {
        last.push(c);
    }
}

impl Cidr {
    fn parse(text: &str, path: &str) -> Result<Cidr, PatternError> {
        let bad = || {
            err(
                path,
                format!("cidr: {text:?} is not an IP prefix like 10.0.0.0/24"),
            )
        };
        let (addr, bits) = text.split_once('/').ok_or_else(bad)?;
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { network, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (net, addr, width) = match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => (u32::from(n) as u128, u32::from(a) as u128, 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => (u128::from(n), u128::from(a), 128),
            _ => return false,
        };
        if self.bits == 0 {
            return true;
        }
        let shift = width - u32::from(self.bits);
        (net >> shift) == (addr >> shift)
    }
}

fn parse_scalar(value: &Value) -> Option<Scalar> {
    match value {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Number(n) => n.as_f64().map(Scalar::Num),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Null => Some(Scalar::Null),
        _ => None,
    }
}

fn parse_matcher(item: &Value, path: &str) -> Result<Matcher, PatternError> {
    let map = match item {
        Value::Object(map) => map,
        Value::Array(_) => {
            return Err(err(path, "an alternative may not be an array"));
        }
        scalar => {
            return parse_scalar(scalar)
                .map(Matcher::Exact)
                .ok_or_else(|| err(path, "a number out of range"));
        }
    };
    let mut entries = map.iter();
    let (op, arg) = match (entries.next(), entries.next()) {
        (Some(entry), None) => entry,
        (None, _) => return Err(err(path, "an empty operator object is not allowed")),
        (Some(_), Some(_)) => {
            return Err(err(path, "an operator object must have exactly one key"));
        }
    };
    match op.as_str() {
        "prefix" | "suffix" => {
            let (text, ignore_case) = match arg {
                Value::String(s) => (s.clone(), false),
                Value::Object(inner) => match single(inner) {
                    Some(("equals-ignore-case", Value::String(s))) => (s.clone(), true),
                    _ => {
                        return Err(err(
                            path,
                            format!("{op} expects a string or {{\"equals-ignore-case\": string}}"),
                        ));
                    }
                },
                _ => return Err(err(path, format!("{op} expects a string"))),
            };
            Ok(if op == "prefix" {
                Matcher::Prefix { text, ignore_case }
            } else {
                Matcher::Suffix { text, ignore_case }
            })
        }
        "equals-ignore-case" => match arg {
            Value::String(s) => Ok(Matcher::EqualsIgnoreCase(s.clone())),
            _ => Err(err(path, "equals-ignore-case expects a string")),
        },
        "wildcard" => match arg {
            Value::String(s) => Ok(Matcher::Wildcard(Wildcard::parse(s, path)?)),
            _ => Err(err(path, "wildcard expects a string")),
        },
        "exists" => match arg {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err(err(path, "exists expects true or false")),
        },
        "cidr" => match arg {
            Value::String(s) => Ok(Matcher::Cidr(Cidr::parse(s, path)?)),
            _ => Err(err(path, "cidr expects a string like 10.0.0.0/24")),
        },
        "numeric" => parse_numeric(arg, path).map(Matcher::Numeric),
        "anything-but" => parse_anything_but(arg, path).map(Matcher::AnythingBut),
        other => Err(err(path, format!("unknown operator {other:?}"))),
    }
}

fn single(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((k, v)), None) => Some((k.as_str(), v)),
        _ => None,
    }
}

fn parse_numeric(arg: &Value, path: &str) -> Result<Range, PatternError> {
    let pairs_error = || err(path, "numeric expects pairs of operator and number");
    let items = arg.as_array().ok_or_else(pairs_error)?;
    if items.is_empty() || items.len() % 2 != 0 {
        return Err(pairs_error());
    }
    let mut range = Range::default();
    for pair in items.chunks(2) {
        let op = pair[0].as_str().ok_or_else(pairs_error)?;
        let n = pair[1].as_f64().ok_or_else(pairs_error)?;
        if !(-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&n) {
            return Err(err(path, "numeric values must be between -5.0e9 and 5.0e9"));
        }
        match op {
            "=" => {
                if items.len() != 2 {
                    return Err(err(path, "numeric \"=\" may not be combined with a range"));
                }
                range.equal = Some(n);
            }
            ">" | ">=" => {
                if range.lower.is_some() {
                    return Err(err(path, "numeric has more than one lower bound"));
                }
                range.lower = Some((n, op == ">="));
            }
            "<" | "<=" => {
                if range.upper.is_some() {
                    return Err(err(path, "numeric has more than one upper bound"));
                }
                range.upper = Some((n, op == "<="));
            }
            other => {
                return Err(err(
                    path,
                    format!("numeric: unknown operator {other:?} (use <, <=, =, >=, >)"),
                ));
            }
        }
    }
    if let (Some((low, _)), Some((high, _))) = (range.lower, range.upper)
        && low >= high
    {
        {
            return Err(err(
                path,
                "numeric: the lower bound must be less than the upper bound",
            ));
        }
    }
    Ok(range)
}

fn parse_anything_but(arg: &Value, path: &str) -> Result<AnythingBut, PatternError> {
    let values_error = || {
        err(
            path,
            "anything-but expects a string, a number, a non-empty list of them, or an object with prefix, suffix, wildcard or equals-ignore-case",
        )
    };
    match arg {
        Value::String(_) | Value::Number(_) => Ok(AnythingBut::Values(vec![
            parse_scalar(arg).ok_or_else(values_error)?,
        ])),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(values_error());
            }
            let values = items
                .iter()
                .map(|v| match v {
                    Value::String(_) | Value::Number(_) => parse_scalar(v),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(values_error)?;
            Ok(AnythingBut::Values(values))
        }
        Value::Object(inner) => {
            let (op, value) = single(inner).ok_or_else(values_error)?;
            let strings = |what: &str| -> Result<Vec<String>, PatternError> {
                let bad = || {
                    err(
                        path,
                        format!(
                            "anything-but {what} expects a string or a non-empty list of strings"
                        ),
                    )
                };
                match value {
                    Value::String(s) => Ok(vec![s.clone()]),
                    Value::Array(items) if !items.is_empty() => items
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(bad),
                    _ => Err(bad()),
                }
            };
            match op {
                "prefix" | "suffix" => {
                    let text = value
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            err(
                                path,
                                format!("anything-but {op} expects a non-empty string"),
                            )
                        })?
                        .to_string();
                    Ok(if op == "prefix" {
                        AnythingBut::Prefix(text)
                    } else {
                        AnythingBut::Suffix(text)
                    })
                }
                "wildcard" => Ok(AnythingBut::Wildcard(
                    strings("wildcard")?
                        .iter()
                        .map(|s| Wildcard::parse(s, path))
                        .collect::<Result<_, _>>()?,
                )),
                "equals-ignore-case" => Ok(AnythingBut::IgnoreCase(strings("equals-ignore-case")?)),
                other => Err(err(
                    path,
                    format!("anything-but: unknown operator {other:?}"),
                )),
            }
        }
        _ => Err(values_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcard_segments() {
        let w = Wildcard::parse("a*b*c", "p").unwrap();
        assert!(w.matches("abc"));
        assert!(w.matches("a-b-c"));
        assert!(!w.matches("a-b-"));
        let w = Wildcard::parse("*ab", "p").unwrap();
        assert!(w.matches("ab"));
        assert!(!w.matches("a"));
        let w = Wildcard::parse("ab*ab", "p").unwrap();
        assert!(!w.matches("ab"));
        assert!(w.matches("abab"));
    }

    #[test]
    fn basic_match() {
        let p = Pattern::parse(r#"{"source":["a"],"detail":{"n":[{"numeric":[">",1]}]}}"#).unwrap();
        assert!(p.matches(&json!({"source":"a","detail":{"n":2}})));
        assert!(!p.matches(&json!({"source":"a","detail":{"n":1}})));
    }
}
