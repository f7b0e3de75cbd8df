//! What an EventBridge target receives: the event itself, a constant
//! `Input`, the value at an `InputPath`, or the output of an
//! `InputTransformer` (`InputPathsMap` of variables to JSON paths, and an
//! `InputTemplate` with `<variable>` placeholders).
//!
//! Quoting follows EventBridge: inside a JSON string of the template
//! (`"state: <state>"`) a value is inserted as string content (a string
//! without its quotes, anything else as its JSON text, escaped); outside
//! strings in a JSON template (`{"state": <state>}`) a value is inserted as
//! JSON (a missing one as `null`); in a template that is plain text, strings
//! are inserted as they are and other values as JSON. The predefined
//! variables are `aws.events.rule-arn`, `aws.events.rule-name`,
//! `aws.events.event.ingestion-time`, `aws.events.event` (the event without
//! `detail`) and `aws.events.event.json` (the whole event). A placeholder
//! naming no variable stays as it is.
//!
//! JSON paths are EventBridge's subset: `$`, dot notation with letters,
//! digits, `-`, `_` and `/`, array indices `[0]`, and wildcards `*` / `[*]`
//! (which collect the matching values into an array).

use serde_json::{Map, Value};

/// Why an input configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TransformError {
    /// The offending part, e.g. `InputPathsMap.id`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> TransformError {
    TransformError {
        path: path.into(),
        message: message.into(),
    }
}

/// The most variables an `InputPathsMap` may define.
pub const MAX_VARIABLES: usize = 100;
/// The longest `InputTemplate`.
pub const MAX_TEMPLATE_LEN: usize = 8192;

/// A JSON path of EventBridge's subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    Any,
}

impl JsonPath {
    /// Parses `$`, `$.detail.id`, `$.detail.items[0].sku`, `$.detail.*`.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let rest = text
            .strip_prefix('$')
            .ok_or_else(|| format!("{text:?} is not a JSON path (it must start with $)"))?;
        let bad = || format!("{text:?} is not a JSON path like $.detail.id");
        let mut steps = Vec::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '.' => {
                    let mut key = String::new();
                    while let Some(&k) = chars.peek() {
                        if k == '.' || k == '[' {
                            break;
                        }
                        if !(k.is_alphanumeric() || matches!(k, '-' | '_' | '/' | '*' | ':' | '@'))
                        {
                            return Err(bad());
                        }
                        key.push(k);
                        chars.next();
                    }
                    if key.is_empty() {
                        return Err(bad());
                    }
                    steps.push(if key == "*" {
                        Step::Any
                    } else {
                        Step::Key(key)
                    });
                }
                '[' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some(']') => break,
                            Some(k) => inner.push(k),
                            None => return Err(bad()),
                        }
                    }
                    if inner == "*" {
                        steps.push(Step::Any);
                    } else {
                        steps.push(Step::Index(inner.parse().map_err(|_| bad())?));
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(JsonPath {
            text: text.to_string(),
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at this path, if any.
    pub fn select(&self, value: &Value) -> Option<Value> {
        select(&self.steps, value)
    }
}

fn select(steps: &[Step], value: &Value) -> Option<Value> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(value.clone());
    };
    match step {
        Step::Key(key) => select(rest, value.as_object()?.get(key)?),
        Step::Index(i) => select(rest, value.as_array()?.get(*i)?),
        Step::Any => {
            let children: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                Value::Object(map) => map.values().collect(),
                _ => return None,
            };
            let found: Vec<Value> = children
                .into_iter()
                .filter_map(|c| select(rest, c))
                .collect();
            Some(Value::Array(found))
        }
    }
}

/// What the predefined variables stand for, for one rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleContext<'a> {
    /// `aws.events.rule-arn`.
    pub rule_arn: &'a str,
    /// `aws.events.rule-name`.
    pub rule_name: &'a str,
    /// `aws.events.event.ingestion-time` (ISO 8601).
    pub ingestion_time: &'a str,
}

/// A parsed input transformer.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTransformer {
    variables: Vec<(String, JsonPath)>,
    pieces: Vec<Piece>,
    json: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var { name: String, in_string: bool },
}

const PREDEFINED: [&str; 5] = [
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
];

impl InputTransformer {
    /// Parses `{"InputPathsMap": {...}, "InputTemplate": "..."}` (the API's
    /// spelling, or the manifest's `inputPathsMap` / `inputTemplate`).
    pub fn parse(json: &str) -> Result<InputTransformer, TransformError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| err("InputTransformer", format!("not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(err("InputTransformer", "must be a JSON object"));
        };
        let get = |a: &str, b: &str| map.get(a).or_else(|| map.get(b));
        let paths = match get("InputPathsMap", "inputPathsMap") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(err(
                    "InputTransformer.InputPathsMap",
                    "must be an object of names to JSON paths",
                ));
            }
        };
        let template = match get("InputTemplate", "inputTemplate") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(err("InputTransformer.InputTemplate", "must be a string")),
            None => return Err(err("InputTransformer", "InputTemplate is required")),
        };
        let mut pairs = Vec::new();
        for (name, path) in &paths {
            let path = path.as_str().ok_or_else(|| {
                err(
                    format!("InputTransformer.InputPathsMap.{name}"),
                    "must be a JSON path string",
                )
            })?;
            pairs.push((name.clone(), path.to_string()));
        }
        Self::new(pairs, &template)
    }

    /// Builds a transformer from its variables and template.
    pub fn new(
        paths: impl IntoIterator<Item = (String, String)>,
        template: &str,
    ) -> Result<InputTransformer, TransformError> {
        let mut variables = Vec::new();
        for (name, path) in paths {
            let here = format!("InputTransformer.InputPathsMap.{name}");
            if name.is_empty() {
                return Err(err(here, "a variable needs a name"));
            }
            if name.to_ascii_lowercase().starts_with("aws.") {
                return Err(err(
                    here,
                    "names starting with aws. are reserved for predefined variables",
                ));
            }
            let parsed = JsonPath::parse(&path).map_err(|m| err(here, m))?;
            variables.push((name, parsed));
        }
        if variables.len() > MAX_VARIABLES {
            return Err(err(
                "InputTransformer.InputPathsMap",
                format!("at most {MAX_VARIABLES} variables are allowed"),
            ));
        }
        if template.is_empty() || template.len() > MAX_TEMPLATE_LEN {
            return Err(err(
                "InputTransformer.InputTemplate",
                format!("must be 1 to {MAX_TEMPLATE_LEN} characters long"),
            ));
        }
        let known = |n: &str| PREDEFINED.contains(&n) || variables.iter().any(|(v, _)| v == n);
        let pieces = split_template(template, known);
        let trimmed = template.trim_start();
        let json = trimmed.starts_with('{') || trimmed.starts_with('[');
        Ok(InputTransformer {
            variables,
            pieces,
            json,
        })
    }

    /// The target's input for `event`.
    pub fn apply(&self, event: &Value, rule: &RuleContext<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var { name, in_string } => {
                    let value = self.value_of(name, event, rule);
                    render(&mut out, value.as_ref(), *in_string, self.json);
                }
            }
        }
        out
    }

    fn value_of(&self, name: &str, event: &Value, rule: &RuleContext<'_>) -> Option<Value> {
        match name {
            "aws.events.rule-arn" => Some(Value::String(rule.rule_arn.to_string())),
            "aws.events.rule-name" => Some(Value::String(rule.rule_name.to_string())),
            "aws.events.event.ingestion-time" => {
                Some(Value::String(rule.ingestion_time.to_string()))
            }
            "aws.events.event.json" => Some(event.clone()),
            "aws.events.event" => {
                let mut e = event.clone();
                if let Value::Object(m) = &mut e {
                    m.remove("detail");
                }
                Some(e)
            }
            _ => self
                .variables
                .iter()
                .find(|(v, _)| v == name)
                .and_then(|(_, p)| p.select(event)),
        }
    }
}

/// Splits a template into text and placeholders, noting which ones sit
/// inside a JSON string of the template.
fn split_template(template: &str, known: impl Fn(&str) -> bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest[1..].find('>')
            && known(&rest[1..1 + end])
        {
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Var {
                name: rest[1..1 + end].to_string(),
                in_string,
            });
            rest = &rest[end + 2..];
            escaped = false;
            continue;
        }
        if c == '\\' && in_string {
            escaped = !escaped;
        } else {
            if c == '"' && !escaped {
                in_string = !in_string;
            }
            escaped = false;
        }
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

fn render(out: &mut String, value: Option<&Value>, in_string: bool, json: bool) {
    if in_string {
        let raw = match value {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let quoted = Value::String(raw).to_string();
        out.push_str(&quoted[1..quoted.len() - 1]);
    } else if json {
        match value {
            None => out.push_str("null"),
            Some(v) => out.push_str(&v.to_string()),
        }
    } else {
        match value {
            None => {}
            Some(Value::String(s)) => out.push_str(s),
            Some(v) => out.push_str(&v.to_string()),
        }
    }
}

/// What a target receives, from its `Input`, `InputPath` or
/// `InputTransformer` (at most one of them).
#[derive(Debug, Clone, PartialEq)]
pub enum TargetInput {
    /// The whole event.
    Event,
    /// Constant JSON text.
    Constant(String),
    /// The value at a path of the event.
    Path(JsonPath),
    /// An input transformer.
    Transformer(InputTransformer),
}

impl TargetInput {
    /// Parses a target's input settings; `transformer` is JSON text (see
    /// [`InputTransformer::parse`]).
    pub fn new(
        input: Option<&str>,
        input_path: Option<&str>,
        transformer: Option<&str>,
    ) -> Result<TargetInput, TransformError> {
        let given = [input.is_some(), input_path.is_some(), transformer.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(err(
                "Target",
                "only one of Input, InputPath and InputTransformer may be given",
            ));
        }
        if let Some(text) = input {
            serde_json::from_str::<Value>(text)
                .map_err(|e| err("Input", format!("must be valid JSON text: {e}")))?;
            return Ok(TargetInput::Constant(text.to_string()));
        }
        if let Some(path) = input_path {
            return JsonPath::parse(path)
                .map(TargetInput::Path)
                .map_err(|m| err("InputPath", m));
        }
        if let Some(text) = transformer {
            return InputTransformer::parse(text).map(TargetInput::Transformer);
        }
        Ok(TargetInput::Event)
    }

    /// The input for `event` (JSON text, or any text for a plain template).
    pub fn render(&self, event: &Value, rule: &RuleContext<'_>) -> String {
        match self {
            TargetInput::Event => event.to_string(),
            TargetInput::Constant(text) => text.clone(),
            TargetInput::Path(path) => path.select(event).unwrap_or(Value::Null).to_string(),
            TargetInput::Transformer(t) => t.apply(event, rule),
        }
    }
}
