//! SNS subscription filter policies: SNS's own limits on a policy, and the
//! JSON document a message is matched against. The matching itself is the
//! event-pattern language of [`crate::pattern`].
//!
//! - Scope `MessageAttributes` (the default): the document is
//!   `{name: value}` over the message's attributes; `Number` attributes
//!   become JSON numbers, `String.Array` attributes JSON arrays, `Binary`
//!   attributes are left out. Policies may not nest objects.
//! - Scope `MessageBody`: the document is the body parsed as JSON; a body
//!   that is not a JSON object matches no policy.
//!
//! Limits (SNS's): at most 5 keys (leaf fields, counted through nesting and
//! `$or`), at most 150 combinations (the product of the sizes of the value
//! arrays), at most 256 KiB of JSON.
//!
//! Numbers match to [`NUMERIC_DECIMALS`] decimal places, as SNS documents
//! ("five digits of accuracy after the decimal point"): every number of the
//! policy and of the document is rounded to that many places before they
//! are compared, so `301.500001` equals `301.5` and `0.000004` is not more
//! than `0`.

use crate::pattern::Pattern;
use serde_json::{Map, Value};

/// Largest policy, in bytes of JSON.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// Most keys in a policy.
pub const MAX_KEYS: usize = 5;
/// Most combinations of values in a policy.
pub const MAX_COMBINATIONS: u64 = 150;
/// Decimal places numbers are compared to.
pub const NUMERIC_DECIMALS: i32 = 5;
/// Largest magnitude of a number scaled by `10^NUMERIC_DECIMALS` that is
/// still exact as an `f64` (2^53); numbers beyond it are left as they are.
const EXACT_SCALED: f64 = 9_007_199_254_740_992.0;

/// `n` rounded to [`NUMERIC_DECIMALS`] decimal places (unchanged if it is
/// too large for that to be exact).
pub fn round_number(n: f64) -> f64 {
    let scale = 10f64.powi(NUMERIC_DECIMALS);
    let scaled = (n * scale).round();
    if scaled.is_finite() && scaled.abs() < EXACT_SCALED {
        scaled / scale
    } else {
        n
    }
}

/// `value` with every number rounded by [`round_number`].
fn round_numbers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(rounded) = n
                .as_f64()
                .map(round_number)
                .filter(|r| Some(*r) != n.as_f64())
                .and_then(serde_json::Number::from_f64)
            {
                *n = rounded;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(round_numbers),
        Value::Object(map) => map.values_mut().for_each(round_numbers),
        _ => {}
    }
}

/// What part of a message a policy looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterScope {
    /// The message attributes (SNS's default).
    #[default]
    MessageAttributes,
    /// The message body, as JSON.
    MessageBody,
}

impl FilterScope {
    /// Parses `MessageAttributes` or `MessageBody`.
    pub fn parse(text: &str) -> Result<FilterScope, FilterPolicyError> {
        match text {
            "MessageAttributes" => Ok(FilterScope::MessageAttributes),
            "MessageBody" => Ok(FilterScope::MessageBody),
            other => Err(FilterPolicyError(format!(
                "FilterPolicyScope: Invalid value [{other}]. Please use either MessageBody or MessageAttributes"
            ))),
        }
    }

    /// SNS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterScope::MessageAttributes => "MessageAttributes",
            FilterScope::MessageBody => "MessageBody",
        }
    }
}

/// Why a filter policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid parameter: FilterPolicy: {0}")]
pub struct FilterPolicyError(pub String);

/// A valid filter policy with its scope.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    pattern: Pattern,
    scope: FilterScope,
}

/// One message attribute as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterAttribute<'a> {
    /// The name.
    pub name: &'a str,
    /// `String`, `Number`, `String.Array`, `Binary` (with an optional
    /// `.custom` suffix).
    pub data_type: &'a str,
    /// The string value (absent for `Binary`).
    pub value: Option<&'a str>,
}

impl FilterPolicy {
    /// Parses and checks a policy (JSON text) for `scope`.
    pub fn parse(json: &str, scope: FilterScope) -> Result<FilterPolicy, FilterPolicyError> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(FilterPolicyError(format!(
                "policy is {} bytes; the limit is {MAX_POLICY_BYTES}",
                json.len()
            )));
        }
        let mut value: Value = serde_json::from_str(json)
            .map_err(|e| FilterPolicyError(format!("failed to parse JSON: {e}")))?;
        let Value::Object(map) = &value else {
            return Err(FilterPolicyError("the policy must be a JSON object".into()));
        };
        if map.is_empty() {
            return Err(FilterPolicyError("the policy must not be empty".into()));
        }
        if scope == FilterScope::MessageAttributes && nests(map) {
            return Err(FilterPolicyError(
                "Filter policy scope MessageAttributes does not support nested filter policy"
                    .into(),
            ));
        }
        let keys = count_keys(map);
        if keys > MAX_KEYS {
            return Err(FilterPolicyError(format!(
                "Filter policy can not have more than {MAX_KEYS} keys (it has {keys})"
            )));
        }
        let combinations = combinations(map);
        if combinations > MAX_COMBINATIONS {
            return Err(FilterPolicyError(format!(
                "Filter policy is too complex: {combinations} combinations of values; the limit is {MAX_COMBINATIONS}"
            )));
        }
        round_numbers(&mut value);
        let pattern = Pattern::from_value_named(&value, "FilterPolicy")
            .map_err(|e| FilterPolicyError(e.to_string()))?;
        Ok(FilterPolicy { pattern, scope })
    }

    /// The policy's scope.
    pub fn scope(&self) -> FilterScope {
        self.scope
    }

    /// Whether a message with `body` and `attributes` passes the policy.
    pub fn matches<'a>(
        &self,
        body: &str,
        attributes: impl IntoIterator<Item = FilterAttribute<'a>>,
    ) -> bool {
        match self.scope {
            FilterScope::MessageAttributes => {
                self.pattern.matches(&attributes_document(attributes))
            }
            FilterScope::MessageBody => match serde_json::from_str::<Value>(body) {
                Ok(mut doc @ Value::Object(_)) => {
                    round_numbers(&mut doc);
                    self.pattern.matches(&doc)
                }
                _ => false,
            },
        }
    }
}

/// The document a `MessageAttributes` policy is matched against (numbers
/// rounded by [`round_number`]).
pub fn attributes_document<'a>(attributes: impl IntoIterator<Item = FilterAttribute<'a>>) -> Value {
    let mut doc = Map::new();
    for attribute in attributes {
        let Some(text) = attribute.value else {
            continue;
        };
        let data_type = attribute.data_type;
        let value = if data_type == "String.Array" || data_type.starts_with("String.Array.") {
            match serde_json::from_str::<Value>(text) {
                Ok(array @ Value::Array(_)) => array,
                _ => Value::String(text.to_string()),
            }
        } else {
            match data_type.split('.').next() {
                Some("Number") => text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| Value::String(text.to_string()), Value::Number),
                Some("String") => Value::String(text.to_string()),
                _ => continue,
            }
        };
        doc.insert(attribute.name.to_string(), value);
    }
    let mut doc = Value::Object(doc);
    round_numbers(&mut doc);
    doc
}

fn nests(map: &Map<String, Value>) -> bool {
    map.iter().any(|(key, value)| match value {
        Value::Object(_) => true,
        Value::Array(items) if key == "$or" => items.iter().any(|item| match item {
            Value::Object(branch) => nests(branch),
            _ => false,
        }),
        _ => false,
    })
}

fn count_keys(map: &Map<String, Value>) -> usize {
    map.iter()
        .map(|(key, value)| match value {
            Value::Object(inner) => count_keys(inner),
            Value::Array(items) if key == "$or" => items
                .iter()
                .map(|item| match item {
                    Value::Object(branch) => count_keys(branch),
                    _ => 0,
                })
                .sum(),
            _ => 1,
        })
        .sum()
}

fn combinations(map: &Map<String, Value>) -> u64 {
    map.iter()
        .map(|(key, value)| match value {
            Value::Object(inner) => combinations(inner),
            Value::Array(items) if key == "$or" => items
                .iter()
                .map(|item| match item {
                    Value::Object(branch) => combinations(branch),
                    _ => 1,
                })
                .fold(0u64, u64::saturating_add)
                .max(1),
            Value::Array(items) => items.len().max(1) as u64,
            _ => 1,
        })
        .fold(1u64, u64::saturating_mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'a>(name: &'a str, data_type: &'a str, value: &'a str) -> FilterAttribute<'a> {
        FilterAttribute {
            name,
            data_type,
            value: Some(value),
        }
    }

    #[test]
    fn attribute_documents() {
        let doc = attributes_document([
            attr("s", "String", "red"),
            attr("n", "Number", "12.5"),
            attr("c", "Number.int", "3"),
            attr("a", "String.Array", r#"["x", 2]"#),
            attr("bad", "String.Array", "not json"),
            attr("sc", "String.custom", "v"),
            FilterAttribute {
                name: "b",
                data_type: "Binary",
                value: None,
            },
        ]);
        assert_eq!(
            doc,
            serde_json::json!({"s": "red", "n": 12.5, "c": 3.0, "a": ["x", 2], "bad": "not json", "sc": "v"})
        );
    }

    /// (policy, scope, body, attributes, matches)
    type MatchCase<'a> = (
        &'a str,
        FilterScope,
        &'a str,
        &'a [(&'a str, &'a str, &'a str)],
        bool,
    );

    #[test]
    fn policies_match_attributes_and_bodies() {
        // (policy, scope, body, attributes, matches)
        let cases: &[MatchCase] = &[
            (
                r#"{"color":["red"]}"#,
                FilterScope::MessageAttributes,
                "",
                &[("color", "String", "red")],
                true,
            ),
            (
                r#"{"color":["red"]}"#,
                FilterScope::MessageAttributes,
                "",
                &[("color", "String", "blue")],
                false,
            ),
            (
                r#"{"color":["red"]}"#,
                FilterScope::MessageAttributes,
                "",
                &[],
                false,
            ),
            (
                r#"{"price":[{"numeric":[">",10]}]}"#,
                FilterScope::MessageAttributes,
                "",
                &[("price", "Number", "11")],
                true,
            ),
            (
                r#"{"price":[{"numeric":[">",10]}]}"#,
                FilterScope::MessageAttributes,
                "",
                &[("price", "Number", "9")],
                false,
            ),
            (
                r#"{"tags":["b"]}"#,
                FilterScope::MessageAttributes,
                "",
                &[("tags", "String.Array", r#"["a","b"]"#)],
                true,
            ),
            (
                r#"{"color":[{"prefix":"re"}]}"#,
                FilterScope::MessageAttributes,
                "",
                &[("color", "String", "red")],
                true,
            ),
            (
                r#"{"color":[{"exists":false}]}"#,
                FilterScope::MessageAttributes,
                "",
                &[],
                true,
            ),
            (
                r#"{"order":{"kind":["big"]}}"#,
                FilterScope::MessageBody,
                r#"{"order":{"kind":"big"}}"#,
                &[],
                true,
            ),
            (
                r#"{"order":{"kind":["big"]}}"#,
                FilterScope::MessageBody,
                r#"{"order":{"kind":"small"}}"#,
                &[],
                false,
            ),
            (
                r#"{"order":["x"]}"#,
                FilterScope::MessageBody,
                "not json",
                &[],
                false,
            ),
        ];
        for (policy, scope, body, attrs, expected) in cases {
            let parsed = FilterPolicy::parse(policy, *scope).unwrap();
            let attrs = attrs.iter().map(|(n, t, v)| attr(n, t, v));
            assert_eq!(parsed.matches(body, attrs), *expected, "{policy} on {body}");
        }
    }

    /// The data-driven cases of `tests/cases/filter_policies/`: each has a
    /// `name`, a `policy`, an optional `scope` (`MessageAttributes` by
    /// default), and `match` / `no_match` lists of messages: attributes as
    /// SNS's envelopes carry them (`{"name": {"Type": ..., "Value": ...}}`)
    /// for the attributes scope, bodies (JSON, or a string sent as it is)
    /// for the body scope.
    #[test]
    fn filter_policy_cases() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/filter_policies");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no cases in {}", dir.display());
        let mut failures = Vec::new();
        for file in files {
            let cases: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for case in cases {
                let name = format!("{}: {}", file.display(), case["name"]);
                let scope =
                    FilterScope::parse(case["scope"].as_str().unwrap_or("MessageAttributes"))
                        .unwrap();
                let policy = FilterPolicy::parse(&case["policy"].to_string(), scope)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                for (key, expected) in [("match", true), ("no_match", false)] {
                    for message in case[key].as_array().into_iter().flatten() {
                        let matched = match scope {
                            FilterScope::MessageBody => {
                                let body = match message {
                                    Value::String(text) => text.clone(),
                                    other => other.to_string(),
                                };
                                policy.matches(&body, [])
                            }
                            FilterScope::MessageAttributes => {
                                let attributes: Vec<(String, String, String)> = message
                                    .as_object()
                                    .into_iter()
                                    .flatten()
                                    .map(|(n, a)| {
                                        (
                                            n.clone(),
                                            a["Type"].as_str().unwrap_or_default().to_string(),
                                            a["Value"].as_str().unwrap_or_default().to_string(),
                                        )
                                    })
                                    .collect();
                                policy.matches("", attributes.iter().map(|(n, t, v)| attr(n, t, v)))
                            }
                        };
                        if matched != expected {
                            failures.push(format!(
                                "{name}: {message} should {}match",
                                if expected { "" } else { "not " }
                            ));
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn bad_policies_are_refused() {
        let cases: &[(&str, FilterScope, &str)] = &[
            (
                "nope",
                FilterScope::MessageAttributes,
                "failed to parse JSON",
            ),
            ("[1]", FilterScope::MessageAttributes, "JSON object"),
            ("{}", FilterScope::MessageAttributes, "empty"),
            (
                r#"{"a":{"b":["c"]}}"#,
                FilterScope::MessageAttributes,
                "nested",
            ),
            (
                r#"{"a":[1],"b":[1],"c":[1],"d":[1],"e":[1],"f":[1]}"#,
                FilterScope::MessageBody,
                "5 keys",
            ),
            (
                r#"{"a":[1,2,3,4,5,6],"b":[1,2,3,4,5,6],"c":[1,2,3,4,5]}"#,
                FilterScope::MessageAttributes,
                "too complex",
            ),
            (
                r#"{"a":[{"numeric":["<"]}]}"#,
                FilterScope::MessageAttributes,
                "FilterPolicy",
            ),
        ];
        for (policy, scope, needle) in cases {
            let error = FilterPolicy::parse(policy, *scope).unwrap_err().to_string();
            assert!(error.contains(needle), "{policy}: {error}");
        }
        assert!(FilterScope::parse("Body").is_err());
        assert_eq!(
            FilterScope::parse("MessageBody").unwrap(),
            FilterScope::MessageBody
        );
    }
}
