//! Helpers over `marked_yaml` nodes: where a node is, what kind of value it
//! holds (YAML 1.2 core schema), how to describe it in an error, and
//! near-miss suggestions for misspelt keys.

use super::Location;
use marked_yaml::types::MarkedScalarNode;
use marked_yaml::{Marker, Node};

/// The location of a marker, or 1:1 if the parser gave none.
pub(super) fn marker_location(marker: Option<&Marker>) -> Location {
    marker.map_or(Location { line: 1, column: 1 }, |m| Location {
        line: m.line().max(1),
        column: m.column().max(1),
    })
}

/// Where a key starts.
pub(super) fn key_location(key: &MarkedScalarNode) -> Location {
    marker_location(key.span().start())
}

/// Where the value `value` of `key` starts, for error messages.
///
/// `marked_yaml` places an empty value (`key:` with nothing after it) at the
/// next token, and a block mapping at the end of its first key; neither is
/// where a reader looks, so an empty value points at its key and a non-empty
/// mapping at its first key.
pub(super) fn value_location(key: &MarkedScalarNode, value: &Node) -> Location {
    if is_empty_null(value) {
        return key_location(key);
    }
    node_location(value).unwrap_or_else(|| key_location(key))
}

/// Whether a node is a null written as nothing at all.
pub(super) fn is_empty_null(node: &Node) -> bool {
    matches!(node, Node::Scalar(s) if s.as_str().is_empty() && s.may_coerce())
}

/// Where a node starts, if known (see [`value_location`] for the caveats).
pub(super) fn node_location(node: &Node) -> Option<Location> {
    match node {
        Node::Mapping(m) => match m.iter().next() {
            Some((first, _)) => Some(key_location(first)),
            None => m.span().start().map(|s| marker_location(Some(s))),
        },
        _ => node.span().start().map(|s| marker_location(Some(s))),
    }
}

/// The value of a scalar under the YAML 1.2 core schema. Quoted scalars are
/// always strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

pub(super) fn classify(s: &MarkedScalarNode) -> Scalar<'_> {
    let text = s.as_str();
    if !s.may_coerce() {
        return Scalar::Str(text);
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Scalar::Int(i);
    }
    if is_decimal_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Scalar::Float(f);
    }
    Scalar::Str(text)
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+` (YAML 1.2 core integers).
fn parse_int(text: &str) -> Option<i128> {
    if let Some(oct) = text.strip_prefix("0o") {
        return all_digits(oct, 8).then(|| i128::from_str_radix(oct, 8).ok())?;
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return all_digits(hex, 16).then(|| i128::from_str_radix(hex, 16).ok())?;
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !all_digits(digits, 10) {
        return None;
    }
    text.parse::<i128>().ok()
}

fn all_digits(s: &str, radix: u32) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_digit(radix))
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (YAML 1.2 core).
fn is_decimal_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() || all_digits(int, 10))
                && (frac.is_empty() || all_digits(frac, 10))
                && !(int.is_empty() && frac.is_empty())
        }
        None => all_digits(mantissa, 10),
    };
    let exponent_ok =
        exponent.is_none_or(|e| all_digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    mantissa_ok && exponent_ok
}

/// Describes a node for "found …" in an error: `a string "big"`,
/// `a number 5`, `a boolean true`, `null`, `a list`, `a mapping`.
pub(super) fn describe(node: &Node) -> String {
    match node {
        Node::Mapping(_) => "a mapping".to_string(),
        Node::Sequence(_) => "a list".to_string(),
        Node::Scalar(s) => match classify(s) {
            Scalar::Null if s.as_str().is_empty() => "an empty value".to_string(),
            Scalar::Null => format!("null `{}`", s.as_str()),
            Scalar::Bool(_) => format!("a boolean `{}`", s.as_str()),
            Scalar::Int(_) | Scalar::Float(_) => format!("a number `{}`", s.as_str()),
            Scalar::Str(text) => format!("a string `{}`", quote(text)),
        },
    }
}

/// A string in double quotes with escapes, shortened if long.
pub(super) fn quote(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() > MAX {
        let short: String = text.chars().take(MAX).collect();
        format!("{:?}…", short)
    } else {
        format!("{text:?}")
    }
}

/// The candidate closest to `word`, if close enough to be a plausible typo:
/// equal ignoring case; for words of 3+ characters, one a prefix of the
/// other or one edit (including a swap of neighbours) apart; or a
/// Jaro-Winkler similarity of at least 0.85.
pub(super) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(&'a str, f64)> = None;
    for &candidate in candidates {
        let cand = candidate.to_lowercase();
        let long_enough = lower.chars().count() >= 3;
        let score = if cand == lower {
            2.0
        } else if long_enough && (cand.starts_with(&lower) || lower.starts_with(&cand)) {
            1.5
        } else if long_enough && strsim::osa_distance(&lower, &cand) == 1 {
            1.2
        } else {
            strsim::jaro_winkler(&lower, &cand)
        };
        if score >= 0.85 && best.is_none_or(|(_, s)| score > s) {
            best = Some((candidate, score));
        }
    }
    best.map(|(c, _)| c)
}

/// "did you mean `x`?" or "expected one of `a`, `b`" for an unknown name.
pub(super) fn suggestion_or_list(word: &str, candidates: &[&str], what: &str) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("{what}: {}", backticked(candidates)),
    }
}

/// `a`, `b`, `c` with backticks.
fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use marked_yaml::Span;

    fn plain(text: &str) -> MarkedScalarNode {
        MarkedScalarNode::new(Span::new_blank(), text)
    }

    #[test]
    fn classifies_core_schema_scalars() {
        let cases: &[(&str, Scalar<'_>)] = &[
            ("", Scalar::Null),
            ("~", Scalar::Null),
            ("null", Scalar::Null),
            ("true", Scalar::Bool(true)),
            ("FALSE", Scalar::Bool(false)),
            ("yes", Scalar::Str("yes")),
            ("12", Scalar::Int(12)),
            ("-12", Scalar::Int(-12)),
            ("+7", Scalar::Int(7)),
            ("0x1F", Scalar::Int(31)),
            ("0o17", Scalar::Int(15)),
            ("1.5", Scalar::Float(1.5)),
            (".5", Scalar::Float(0.5)),
            ("5.", Scalar::Float(5.0)),
            ("1e3", Scalar::Float(1000.0)),
            ("-2.5E-1", Scalar::Float(-0.25)),
            (".inf", Scalar::Float(f64::INFINITY)),
            ("inf", Scalar::Str("inf")),
            ("NaN", Scalar::Str("NaN")),
            ("1_000", Scalar::Str("1_000")),
            ("big", Scalar::Str("big")),
            (".", Scalar::Str(".")),
            ("1e", Scalar::Str("1e")),
            ("0x", Scalar::Str("0x")),
        ];
        for (text, expected) in cases {
            assert_eq!(classify(&plain(text)), *expected, "{text:?}");
        }
        let mut quoted = plain("12");
        quoted.set_coerce(false);
        assert_eq!(classify(&quoted), Scalar::Str("12"));
    }

    #[test]
    fn suggests_only_close_names() {
        let keys = ["handler", "memorySize", "environment", "timeout", "events"];
        let cases = [
            ("memorysize", Some("memorySize")),
            ("memory", Some("memorySize")),
            ("env", Some("environment")),
            ("enviroment", Some("environment")),
            ("timout", Some("timeout")),
            ("handle", Some("handler")),
            ("event", Some("events")),
            ("foo", None),
            ("name", None),
            ("x", None),
        ];
        for (word, expected) in cases {
            assert_eq!(suggest(word, &keys), expected, "{word}");
        }
        assert_eq!(suggest("http", &["httpApi"]), Some("httpApi"));
        assert_eq!(suggest("sqs", &["httpApi"]), None);
        let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        assert_eq!(suggest("GTE", &methods), Some("GET"));
        assert_eq!(suggest("PSOT", &methods), Some("POST"));
        assert_eq!(suggest("FETCH", &methods), None);
    }
}
