//! The name rules of Stratus's resources, in one place, with AWS's error
//! texts.
//!
//! | resource | rule |
//! | --- | --- |
//! | function | 1 to 64 of `[A-Za-z0-9_-]` (Lambda) |
//! | queue | 1 to 80 of `[A-Za-z0-9_-]`; a FIFO queue's name ends with `.fifo`, counted in the 80 (SQS) |
//! | topic | 1 to 256 of `[A-Za-z0-9_-]`; a FIFO topic's name ends with `.fifo`, counted in the 256 (SNS) |
//! | event bus | 1 to 256 of `[A-Za-z0-9._-]`; no `/`, which only partner buses have (EventBridge) |
//! | rule | 1 to 64 of `[A-Za-z0-9._-]` (EventBridge) |
//!
//! Each check returns a [`NameError`] whose `Display` is the text AWS
//! answers with: SQS's and SNS's own sentences, and for Lambda and
//! EventBridge the `1 validation error detected: …` form, naming the
//! request field (`functionName`, `name`; [`NameError::at`] names
//! another).

use std::fmt;

/// Longest function name.
pub const FUNCTION_NAME_MAX: usize = 64;
/// Longest queue name, `.fifo` included.
pub const QUEUE_NAME_MAX: usize = 80;
/// Longest topic name, `.fifo` included.
pub const TOPIC_NAME_MAX: usize = 256;
/// Longest event bus name.
pub const BUS_NAME_MAX: usize = 256;
/// Longest rule name.
pub const RULE_NAME_MAX: usize = 64;
/// The suffix of FIFO queues' and topics' names.
pub const FIFO_SUFFIX: &str = ".fifo";

/// What was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    Function,
    Queue,
    FifoQueue,
    Topic,
    FifoTopic,
    Bus,
    Rule,
}

impl NameKind {
    /// A short description (`function`, `FIFO queue`, `event bus`…).
    pub fn describe(self) -> &'static str {
        match self {
            NameKind::Function => "function",
            NameKind::Queue => "queue",
            NameKind::FifoQueue => "FIFO queue",
            NameKind::Topic => "topic",
            NameKind::FifoTopic => "FIFO topic",
            NameKind::Bus => "event bus",
            NameKind::Rule => "rule",
        }
    }

    /// The longest name.
    pub fn max_len(self) -> usize {
        match self {
            NameKind::Function => FUNCTION_NAME_MAX,
            NameKind::Queue | NameKind::FifoQueue => QUEUE_NAME_MAX,
            NameKind::Topic | NameKind::FifoTopic => TOPIC_NAME_MAX,
            NameKind::Bus => BUS_NAME_MAX,
            NameKind::Rule => RULE_NAME_MAX,
        }
    }
}

/// What is wrong with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameProblem {
    /// It is empty (or only `.fifo`).
    Empty,
    /// It is longer than the kind allows.
    TooLong,
    /// It has a character the kind does not allow (for a bus, `/` too).
    BadCharacter,
    /// A FIFO queue's or topic's name lacks `.fifo`.
    MissingFifoSuffix,
}

/// A name that breaks its kind's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    pub kind: NameKind,
    pub name: String,
    pub problem: NameProblem,
}

impl NameError {
    fn new(kind: NameKind, name: &str, problem: NameProblem) -> NameError {
        NameError {
            kind,
            name: name.to_string(),
            problem,
        }
    }

    /// AWS's text, naming `field` as the request field in the
    /// `1 validation error detected` form (functions, buses, rules; queue
    /// and topic texts name no field).
    pub fn at(&self, field: &str) -> String {
        let name = &self.name;
        let constraint = match (self.kind, self.problem) {
            (NameKind::Queue, _) => {
                return "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length".into();
            }
            (NameKind::FifoQueue, _) => {
                return "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.".into();
            }
            (NameKind::FifoTopic, NameProblem::MissingFifoSuffix) => {
                return "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.".into();
            }
            (NameKind::Topic | NameKind::FifoTopic, _) => {
                return "Invalid parameter: Topic Name must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.".into();
            }
            (_, NameProblem::Empty) => "Member must have length greater than or equal to 1".into(),
            (kind, NameProblem::TooLong) => format!(
                "Member must have length less than or equal to {}",
                kind.max_len()
            ),
            (NameKind::Function, _) => {
                "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+".into()
            }
            (_, _) => {
                "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+".to_string()
            }
        };
        format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: {constraint}"
        )
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = match self.kind {
            NameKind::Function => "functionName",
            _ => "name",
        };
        f.write_str(&self.at(field))
    }
}

impl std::error::Error for NameError {}

/// Whether `name` ends with `.fifo`.
pub fn is_fifo(name: &str) -> bool {
    name.ends_with(FIFO_SUFFIX)
}

fn check(
    kind: NameKind,
    name: &str,
    stem: &str,
    allowed: impl Fn(u8) -> bool,
) -> Result<(), NameError> {
    if stem.is_empty() {
        return Err(NameError::new(kind, name, NameProblem::Empty));
    }
    if name.len() > kind.max_len() {
        return Err(NameError::new(kind, name, NameProblem::TooLong));
    }
    if !stem.bytes().all(allowed) {
        return Err(NameError::new(kind, name, NameProblem::BadCharacter));
    }
    Ok(())
}

fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn dotted(b: u8) -> bool {
    word(b) || b == b'.'
}

/// A function name: 1 to 64 of `[A-Za-z0-9_-]` (Lambda's rule).
pub fn function_name(name: &str) -> Result<(), NameError> {
    check(NameKind::Function, name, name, word)
}

/// A queue name: 1 to 80 of `[A-Za-z0-9_-]`; with `fifo`, it must end
/// with `.fifo` (counted in the 80), and without it cannot (SQS's rule).
pub fn queue_name(name: &str, fifo: bool) -> Result<(), NameError> {
    if !fifo {
        return check(NameKind::Queue, name, name, word);
    }
    let Some(stem) = name.strip_suffix(FIFO_SUFFIX) else {
        return Err(NameError::new(
            NameKind::FifoQueue,
            name,
            NameProblem::MissingFifoSuffix,
        ));
    };
    check(NameKind::FifoQueue, name, stem, word)
}

/// A topic name: 1 to 256 of `[A-Za-z0-9_-]`; with `fifo`, it must end
/// with `.fifo` (counted in the 256), and without it cannot (SNS's rule).
pub fn topic_name(name: &str, fifo: bool) -> Result<(), NameError> {
    if !fifo {
        return check(NameKind::Topic, name, name, word);
    }
    let Some(stem) = name.strip_suffix(FIFO_SUFFIX) else {
        return Err(NameError::new(
            NameKind::FifoTopic,
            name,
            NameProblem::MissingFifoSuffix,
        ));
    };
    check(NameKind::FifoTopic, name, stem, word)
}

/// A custom event bus's name: 1 to 256 of `[A-Za-z0-9._-]`. `/` is
/// refused: only partner buses (`aws.partner/…`) have it. `default` passes
/// (it names the default bus); whether it may be created, and the
/// reserved `aws.` prefix, are the caller's to check.
pub fn bus_name(name: &str) -> Result<(), NameError> {
    check(NameKind::Bus, name, name, dotted)
}

/// A rule's name: 1 to 64 of `[A-Za-z0-9._-]` (EventBridge's rule).
pub fn rule_name(name: &str) -> Result<(), NameError> {
    check(NameKind::Rule, name, name, dotted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_names_count_the_suffix() {
        let stem = "a".repeat(QUEUE_NAME_MAX - FIFO_SUFFIX.len());
        assert!(queue_name(&format!("{stem}.fifo"), true).is_ok());
        assert_eq!(
            queue_name(&format!("{stem}a.fifo"), true).map_err(|e| e.problem),
            Err(NameProblem::TooLong)
        );
        assert_eq!(
            queue_name(".fifo", true).map_err(|e| e.problem),
            Err(NameProblem::Empty)
        );
        assert_eq!(
            queue_name("x.fifo", false).map_err(|e| e.problem),
            Err(NameProblem::BadCharacter)
        );
        assert_eq!(
            topic_name("x", true).map_err(|e| e.problem),
            Err(NameProblem::MissingFifoSuffix)
        );
    }

    #[test]
    fn texts_name_the_field() {
        let e = rule_name("a b").expect_err("space");
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value 'a b' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        );
        assert_eq!(
            bus_name(&"b".repeat(257))
                .expect_err("long")
                .at("eventBusName"),
            format!(
                "1 validation error detected: Value '{}' at 'eventBusName' failed to satisfy constraint: Member must have length less than or equal to 256",
                "b".repeat(257)
            )
        );
    }
}
