//! Typed requests out of a query protocol's form.
//!
//! A query request (SNS's) is a flat form:
//! `Action=Publish&TopicArn=...&MessageAttributes.entry.1.Name=n&...`.
//! [`QueryForm::parse`] nests it into a [`serde_json::Value`] the way the
//! protocol serializes its shapes, so a request type is read out of it with
//! [`decode`](crate::decode::decode) as the JSON services' are:
//!
//! - `A.B=v` is the member `B` of the structure `A`: `{"A": {"B": "v"}}`;
//! - `A.member.N...` is a list, its items in the order of N from 1 up to
//!   the first N absent;
//! - `A.entry.N.key` / `A.entry.N.value` is a map, as are `A.entry.N.Name`
//!   (or `.Key`) / `A.entry.N.Value` (SNS's `MessageAttributes`); its
//!   entries are read from 1 up to the first without a key, an entry with a
//!   key and no value maps its key to `null`, and a later entry with the
//!   same key replaces an earlier one;
//! - every leaf is a string: a request type declares its scalars `String`
//!   or `Option<String>` and parses numbers and booleans itself;
//! - the last of parameters with one name wins;
//! - a name given both as a value and as the prefix of others
//!   (`A=v&A.B=w`) is the structure, and the value is dropped;
//! - a name that cannot be a member (an empty step, as in `A..B`, or a
//!   `member` or `entry` not followed by an index 1, 2, ... without leading
//!   zeros) is ignored.
//!
//! The protocol sends an empty list as `A=` (an empty value): [`or_empty`]
//! reads a list or map member that way. [`QueryForm::wire_name`] turns the
//! path of a [`DecodeError`](crate::decode::DecodeError) back into the
//! parameter's name (`MessageAttributes.entry.2.Value.DataType`), for error
//! texts that name it.

use crate::decode::Segment;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;

/// A query form as nested values, with the names its members had on the
/// wire.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryForm {
    value: Value,
    /// The wire name of each list item and map value, by its path.
    names: HashMap<Vec<Segment>, String>,
}

/// A form parameter's place before the form is typed.
enum Node {
    Leaf(String),
    Branch(BTreeMap<String, Node>),
}

impl QueryForm {
    /// Nests a form-encoded body (or a URL's query).
    pub fn parse(form: &[u8]) -> Self {
        Self::from_pairs(form_urlencoded::parse(form).into_owned())
    }

    /// Nests the form's `(name, value)` pairs, in the order given.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut root = BTreeMap::new();
        for (name, value) in pairs {
            let steps: Vec<&str> = name.split('.').collect();
            if is_member_name(&steps) {
                insert(&mut root, &steps, value);
            }
        }
        let mut names = HashMap::new();
        let value = struct_value(&root, &mut Vec::new(), "", &mut names);
        QueryForm { value, names }
    }

    /// The form as nested values, for [`decode`](crate::decode::decode).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The parameter's name on the wire of the member at `path`
    /// (`[PublishBatchRequestEntries, 1, Message]` is
    /// `PublishBatchRequestEntries.member.2.Message`; the value of the map
    /// key `n` of `MessageAttributes` given by entry 3 is
    /// `MessageAttributes.entry.3.Value`).
    pub fn wire_name(&self, path: &[Segment]) -> String {
        let (mut name, rest) = (0..=path.len())
            .rev()
            .find_map(|k| {
                let prefix = if k == 0 {
                    Some(String::new())
                } else {
                    self.names.get(&path[..k]).cloned()
                };
                prefix.map(|prefix| (prefix, &path[k..]))
            })
            .unwrap_or_default();
        for step in rest {
            if !name.is_empty() {
                name.push('.');
            }
            match step {
                Segment::Key(key) => name.push_str(key),
                Segment::Index(i) => name.push_str(&format!("member.{}", i + 1)),
            }
        }
        name
    }
}

/// Whether a parameter's dotted steps can name a member: no empty step,
/// and every `member` or `entry` followed by an index.
fn is_member_name(steps: &[&str]) -> bool {
    steps.iter().enumerate().all(|(i, step)| {
        !step.is_empty()
            && (!matches!(*step, "member" | "entry")
                || steps
                    .get(i + 1)
                    .is_some_and(|next| index_of(next).is_some()))
    })
}

/// A list or map index: 1, 2, ... written without leading zeros.
fn index_of(step: &str) -> Option<usize> {
    if step.starts_with('0') || !step.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    step.parse().ok()
}

/// Puts `value` at `steps` under `branch`; a structure wins over a value
/// at the same place.
fn insert(branch: &mut BTreeMap<String, Node>, steps: &[&str], value: String) {
    let Some((first, rest)) = steps.split_first() else {
        return;
    };
    if rest.is_empty() {
        if !matches!(branch.get(*first), Some(Node::Branch(_))) {
            branch.insert((*first).to_string(), Node::Leaf(value));
        }
        return;
    }
    let child = branch
        .entry((*first).to_string())
        .or_insert_with(|| Node::Branch(BTreeMap::new()));
    if let Node::Leaf(_) = child {
        *child = Node::Branch(BTreeMap::new());
    }
    if let Node::Branch(children) = child {
        insert(children, rest, value);
    }
}

/// `parent.step`, or `step` at the top.
fn join(parent: &str, step: &str) -> String {
    if parent.is_empty() {
        step.to_string()
    } else {
        format!("{parent}.{step}")
    }
}

/// The value of `node`, at `path`, named `wire` on the wire.
fn node_value(
    node: &Node,
    path: &mut Vec<Segment>,
    wire: &str,
    names: &mut HashMap<Vec<Segment>, String>,
) -> Value {
    match node {
        Node::Leaf(text) => Value::String(text.clone()),
        Node::Branch(children) => match (children.get("member"), children.get("entry")) {
            (Some(Node::Branch(items)), _) => list_value(items, path, wire, names),
            (_, Some(Node::Branch(entries))) => map_value(entries, path, wire, names),
            _ => struct_value(children, path, wire, names),
        },
    }
}

fn struct_value(
    children: &BTreeMap<String, Node>,
    path: &mut Vec<Segment>,
    wire: &str,
    names: &mut HashMap<Vec<Segment>, String>,
) -> Value {
    let mut members = Map::new();
    for (name, child) in children {
        path.push(Segment::Key(name.clone()));
        let value = node_value(child, path, &join(wire, name), names);
        path.pop();
        members.insert(name.clone(), value);
    }
    Value::Object(members)
}

/// `wire.member.N` items, from 1 up to the first absent.
fn list_value(
    items: &BTreeMap<String, Node>,
    path: &mut Vec<Segment>,
    wire: &str,
    names: &mut HashMap<Vec<Segment>, String>,
) -> Value {
    let mut list = Vec::new();
    for n in 1.. {
        let Some(item) = items.get(&n.to_string()) else {
            break;
        };
        let item_wire = format!("{}.{n}", join(wire, "member"));
        path.push(Segment::Index(n - 1));
        names.insert(path.clone(), item_wire.clone());
        list.push(node_value(item, path, &item_wire, names));
        path.pop();
    }
    Value::Array(list)
}

/// The members naming an entry's key, and its value's for each.
const ENTRY_KEYS: [(&str, &str); 3] = [("key", "value"), ("Key", "Value"), ("Name", "Value")];

/// `wire.entry.N` entries, from 1 up to the first without a key.
fn map_value(
    entries: &BTreeMap<String, Node>,
    path: &mut Vec<Segment>,
    wire: &str,
    names: &mut HashMap<Vec<Segment>, String>,
) -> Value {
    let mut map = Map::new();
    for n in 1.. {
        let Some(Node::Branch(entry)) = entries.get(&n.to_string()) else {
            break;
        };
        let Some((key, value_name)) =
            ENTRY_KEYS
                .iter()
                .find_map(|(key, value)| match entry.get(*key) {
                    Some(Node::Leaf(key)) => Some((key.clone(), *value)),
                    _ => None,
                })
        else {
            break;
        };
        let value_wire = format!("{}.{n}.{value_name}", join(wire, "entry"));
        path.push(Segment::Key(key.clone()));
        names.insert(path.clone(), value_wire.clone());
        let value = match entry.get(value_name) {
            Some(node) => node_value(node, path, &value_wire, names),
            None => Value::Null,
        };
        path.pop();
        map.insert(key, value);
    }
    Value::Object(map)
}

/// Reads a list or map member that may come as an empty value (`A=`, the
/// protocol's empty list) or as any other single value, which is read as
/// empty too: `#[serde(default, deserialize_with = "or_empty")]`.
pub fn or_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    struct OrEmpty<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for OrEmpty<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list, a map, or an empty value")
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
            Ok(T::default())
        }

        fn visit_unit<E: de::Error>(self) -> Result<T, E> {
            Ok(T::default())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
            T::deserialize(de::value::SeqAccessDeserializer::new(seq))
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_any(OrEmpty(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Problem, decode};
    use serde_json::json;

    fn parse(text: &str) -> QueryForm {
        QueryForm::parse(text.as_bytes())
    }

    #[test]
    fn nests_structures_lists_and_maps() {
        let form = parse(
            "Action=Publish&TopicArn=t&Message=a%26b\
             &MessageAttributes.entry.1.Name=n&MessageAttributes.entry.1.Value.DataType=String\
             &MessageAttributes.entry.1.Value.StringValue=v\
             &Attributes.entry.1.key=K&Attributes.entry.1.value=V\
             &Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=1\
             &TagKeys.member.1=x&Outer.Inner.Leaf=deep",
        );
        assert_eq!(
            form.value(),
            &json!({
                "Action": "Publish", "TopicArn": "t", "Message": "a&b",
                "MessageAttributes": {"n": {"DataType": "String", "StringValue": "v"}},
                "Attributes": {"K": "V"},
                "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b"}],
                "TagKeys": ["x"],
                "Outer": {"Inner": {"Leaf": "deep"}},
            })
        );
    }

    #[test]
    fn reads_lists_and_maps_up_to_a_gap() {
        let form = parse(
            "L.member.1=a&L.member.3=c\
             &M.entry.1.key=k&M.entry.1.value=v&M.entry.2.value=lost&M.entry.3.key=z&M.entry.3.value=w\
             &E.entry.1.key=k",
        );
        assert_eq!(
            form.value(),
            &json!({"L": ["a"], "M": {"k": "v"}, "E": {"k": null}})
        );
    }

    #[test]
    fn resolves_clashes() {
        // The last of one name wins; a structure wins over a value; a later
        // entry replaces an earlier one with its key.
        let form = parse(
            "A=1&A=2&B=v&B.C=w&D.E=w&D=v\
             &M.entry.1.key=k&M.entry.1.value=1&M.entry.2.key=k&M.entry.2.value=2",
        );
        assert_eq!(
            form.value(),
            &json!({"A": "2", "B": {"C": "w"}, "D": {"E": "w"}, "M": {"k": "2"}})
        );
        assert_eq!(
            form.wire_name(&[Segment::Key("M".into()), Segment::Key("k".into())]),
            "M.entry.2.value"
        );
    }

    #[test]
    fn ignores_names_that_cannot_be_members() {
        let form =
            parse("A..B=1&C.=2&.D=3&L.member=4&L.member.x=5&L.member.01=6&L.member.0=7&M.entry=8");
        assert_eq!(form.value(), &json!({}));
    }

    #[test]
    fn names_members_as_the_wire_does() {
        let form = parse(
            "Entries.member.1.Id=a&Entries.member.2.Id=b\
             &Entries.member.2.MessageAttributes.entry.1.Name=x\
             &Entries.member.2.MessageAttributes.entry.2.Name=n\
             &Entries.member.2.MessageAttributes.entry.2.Value.StringValue=v",
        );
        let key = |k: &str| Segment::Key(k.into());
        let path = [
            key("Entries"),
            Segment::Index(1),
            key("MessageAttributes"),
            key("n"),
            key("DataType"),
        ];
        assert_eq!(
            form.wire_name(&path),
            "Entries.member.2.MessageAttributes.entry.2.Value.DataType"
        );
        assert_eq!(
            form.wire_name(&[key("Entries"), Segment::Index(0), key("Message")]),
            "Entries.member.1.Message"
        );
        assert_eq!(form.wire_name(&[key("TopicArn")]), "TopicArn");
        // A path the form does not have is named by the protocol's rules.
        assert_eq!(
            form.wire_name(&[key("Other"), Segment::Index(4), key("Id")]),
            "Other.member.5.Id"
        );
        assert_eq!(
            form.value()["Entries"][1]["MessageAttributes"]["x"],
            Value::Null
        );
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Request {
        topic_arn: String,
        #[serde(default, deserialize_with = "or_empty")]
        tag_keys: Vec<String>,
        #[serde(default, deserialize_with = "or_empty")]
        attributes: BTreeMap<String, Option<String>>,
        #[serde(default, deserialize_with = "or_empty")]
        entries: Vec<Entry>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        id: Option<String>,
    }

    #[test]
    fn decodes_typed_requests() {
        let form = parse(
            "TopicArn=t&TagKeys=&Attributes.entry.1.key=k\
             &Entries.member.1.Id=a&Entries.member.2.Message=m",
        );
        let request: Request = decode(form.value()).expect("decodes");
        assert_eq!(request.topic_arn, "t");
        assert!(request.tag_keys.is_empty());
        assert_eq!(request.attributes.get("k"), Some(&None));
        let ids: Vec<_> = request.entries.iter().map(|e| e.id.as_deref()).collect();
        assert_eq!(ids, [Some("a"), None]);

        let form = parse("TagKeys.member.1=x&TagKeys.member.2=y");
        let error = decode::<Request>(form.value()).expect_err("TopicArn is missing");
        assert_eq!(error.problem, Problem::Missing);
        assert_eq!(form.wire_name(&error.path), "TopicArn");

        let form = parse("TopicArn=t&TagKeys.member.1.Deep=x");
        let error = decode::<Request>(form.value()).expect_err("not a string");
        assert_eq!(form.wire_name(&error.path), "TagKeys.member.1");
    }
}
