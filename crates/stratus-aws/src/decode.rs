//! Typed requests out of a JSON protocol's body.
//!
//! [`decode`] reads a [`serde_json::Value`] into a request type that derives
//! `Deserialize`, and a failure names the member it is about
//! ([`DecodeError::path`]) and what is wrong with it ([`Problem`]), so each
//! service words it as AWS does (`MissingParameter`, `ValidationException`,
//! ...).
//!
//! It reads the way the services' hand-written readers did:
//!
//! - a member that is `null` is absent;
//! - a structure's members are read in the order the type declares them, so
//!   the first member that is wrong is the one reported (a missing member is
//!   reported after every present one was read);
//! - a structure where the body has something other than an object reads as
//!   one with no members;
//! - an integer is a JSON number without a fraction (`1.0` is not one);
//! - members the type does not declare are ignored.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use serde_json::Value;
use std::fmt;

/// A step of the path to a member.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A structure's member or a map's key.
    Key(String),
    /// A list's item, from 0.
    Index(usize),
}

/// What is wrong with a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A required member is absent (or `null`).
    Missing,
    /// The member has another type than the request's; `expected` is in
    /// serde's words (`a string`, `i64`, `a map`, `a sequence`, or the
    /// `expecting` of the member's own type).
    WrongType {
        /// What the member should have been.
        expected: String,
    },
    /// What a member's own type said was wrong with it.
    Invalid(String),
}

/// Why a body is not the request a type describes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at '{}'", self.dotted())]
pub struct DecodeError {
    /// Where: the members, keys and indices down to the bad one (for a
    /// missing member, its name last).
    pub path: Vec<Segment>,
    /// What.
    pub problem: Problem,
    /// The bad member's value as the body has it (None for a missing
    /// member).
    pub value: Option<Value>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing member"),
            Problem::WrongType { expected } => write!(f, "expected {expected}"),
            Problem::Invalid(message) => f.write_str(message),
        }
    }
}

impl DecodeError {
    /// The path with its steps joined by dots (`Entries.0.Id`).
    pub fn dotted(&self) -> String {
        let steps: Vec<String> = self
            .path
            .iter()
            .map(|step| match step {
                Segment::Key(key) => key.clone(),
                Segment::Index(i) => i.to_string(),
            })
            .collect();
        steps.join(".")
    }

    /// The outermost member (the path's first key), or "".
    pub fn top(&self) -> &str {
        match self.path.first() {
            Some(Segment::Key(key)) => key,
            _ => "",
        }
    }

    /// The innermost member or key (the path's last key), or "".
    pub fn leaf(&self) -> &str {
        self.path
            .iter()
            .rev()
            .find_map(|step| match step {
                Segment::Key(key) => Some(key.as_str()),
                Segment::Index(_) => None,
            })
            .unwrap_or("")
    }

    /// Whether the expected type was an integer (serde's `i64`, `u32`, ...).
    pub fn expects_integer(&self) -> bool {
        matches!(&self.problem, Problem::WrongType { expected }
            if matches!(expected.as_str(), "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64"))
    }

    /// The error met reading `value` at `step`.
    fn within(mut self, step: Segment, value: &Value) -> Self {
        if self.path.is_empty() && self.value.is_none() {
            self.value = Some(value.clone());
        }
        self.path.insert(0, step);
        self
    }
}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DecodeError {
            path: Vec::new(),
            problem: Problem::Invalid(message.to_string()),
            value: None,
        }
    }

    fn invalid_type(_: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        DecodeError {
            path: Vec::new(),
            problem: Problem::WrongType {
                expected: expected.to_string(),
            },
            value: None,
        }
    }

    /// A value of the right JSON type that the member's type cannot hold
    /// (a negative `u32`, an `i64` past its range) is of the wrong type too.
    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::invalid_type(unexpected, expected)
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError {
            path: vec![Segment::Key(field.to_string())],
            problem: Problem::Missing,
            value: None,
        }
    }
}

/// Reads `body` as a `T` (which may borrow strings from it).
pub fn decode<'de, T: Deserialize<'de>>(body: &'de Value) -> Result<T, DecodeError> {
    T::deserialize(ValueReader(body))
}

/// A [`Deserializer`] over a borrowed JSON value with [`DecodeError`]s.
struct ValueReader<'a>(&'a Value);

impl<'de> Deserializer<'de> for ValueReader<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Items {
                items: items.iter(),
                index: 0,
            }),
            Value::Object(map) => visitor.visit_map(Members {
                members: map.iter().collect::<Vec<_>>().into_iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let members: Vec<(&String, &Value)> = match self.0 {
            Value::Object(map) => fields
                .iter()
                .filter_map(|field| map.get_key_value(*field))
                .filter(|(_, value)| !value.is_null())
                .collect(),
            _ => Vec::new(),
        };
        visitor.visit_map(Members {
            members: members.into_iter(),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// An array's items, each error placed at its index.
struct Items<'a> {
    items: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for Items<'de> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueReader(item))
            .map(Some)
            .map_err(|e| e.within(Segment::Index(index), item))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An object's members, each error placed under its key.
struct Members<'a> {
    members: std::vec::IntoIter<(&'a String, &'a Value)>,
    value: Option<(&'a String, &'a Value)>,
}

impl<'de> de::MapAccess<'de> for Members<'de> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, value)) = self.members.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        seed.deserialize(de::value::BorrowedStrDeserializer::<DecodeError>::new(key))
            .map(Some)
            .map_err(|e| e.within(Segment::Key(key.clone()), value))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("a value asked for before its key"));
        };
        seed.deserialize(ValueReader(value))
            .map_err(|e| e.within(Segment::Key(key.clone()), value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        data_type: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Request {
        queue_url: String,
        max: Option<i64>,
        #[serde(default)]
        attributes: BTreeMap<String, String>,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        inner: BTreeMap<String, Inner>,
    }

    fn error(body: Value) -> (String, Problem) {
        let e = decode::<Request>(&body).expect_err("an error");
        (e.dotted(), e.problem)
    }

    fn wrong(expected: &str) -> Problem {
        Problem::WrongType {
            expected: expected.into(),
        }
    }

    #[test]
    fn reads_a_request() {
        let r: Request = decode(&json!({
            "QueueUrl": "q", "Max": 3, "Attributes": {"a": "b"}, "Names": ["x"],
            "Inner": {"n": {"DataType": "String"}, "m": 5}, "Other": 1, "Names2": null
        }))
        .expect("decodes");
        assert_eq!(r.queue_url, "q");
        assert_eq!(r.max, Some(3));
        assert_eq!(r.attributes["a"], "b");
        assert_eq!(r.names, ["x"]);
        assert_eq!(r.inner["n"].data_type.as_deref(), Some("String"));
        assert_eq!(r.inner["m"].data_type, None);
    }

    #[test]
    fn names_the_bad_member() {
        assert_eq!(error(json!({})), ("QueueUrl".into(), Problem::Missing));
        assert_eq!(
            error(json!({"QueueUrl": null})),
            ("QueueUrl".into(), Problem::Missing)
        );
        assert_eq!(
            error(json!({"QueueUrl": 5})),
            ("QueueUrl".into(), wrong("a string"))
        );
        assert_eq!(
            error(json!({"QueueUrl": "q", "Max": 1.5})),
            ("Max".into(), wrong("i64"))
        );
        let e = decode::<Request>(&json!({"QueueUrl": "q", "Max": -1.5})).expect_err("an error");
        assert_eq!(e.value, Some(json!(-1.5)));
        assert_eq!(
            error(json!({"QueueUrl": "q", "Attributes": {"k": 1}})),
            ("Attributes.k".into(), wrong("a string"))
        );
        assert_eq!(
            error(json!({"QueueUrl": "q", "Names": ["a", 2]})),
            ("Names.1".into(), wrong("a string"))
        );
        assert_eq!(
            error(json!({"QueueUrl": "q", "Inner": {"n": {"DataType": true}}})),
            ("Inner.n.DataType".into(), wrong("a string"))
        );
    }

    #[test]
    fn reports_members_in_declared_order() {
        // Attributes sorts before QueueUrl in the body, Max after it.
        assert_eq!(
            error(json!({"Attributes": 1, "Max": "x", "QueueUrl": 2})),
            ("QueueUrl".into(), wrong("a string"))
        );
        assert_eq!(error(json!({"Max": "x"})), ("Max".into(), wrong("i64")));
    }
}
