//! Amazon Resource Names, parsed and formatted in one place.
//!
//! An [`Arn`] is `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`. Parsing
//! checks the shape only: partition and service are lower-case words,
//! region and account may be empty (`arn:aws:s3:::bucket`) and are not
//! checked beyond their characters ([`Arn::scope`] checks them), and the
//! resource is everything after the fifth `:`. What the resource names is
//! read by [`Arn::resource_ref`] and the `as_*` helpers, one per kind of
//! resource Stratus has:
//!
//! | kind | resource |
//! | --- | --- |
//! | queue | `arn:aws:sqs:R:A:NAME` |
//! | topic | `arn:aws:sns:R:A:NAME` |
//! | subscription | `arn:aws:sns:R:A:TOPIC:ID` |
//! | event bus | `arn:aws:events:R:A:event-bus/NAME` |
//! | rule | `arn:aws:events:R:A:rule/NAME` (default bus), `rule/BUS/NAME` |
//! | function | `arn:aws:lambda:R:A:function:NAME[:QUALIFIER]` |
//! | API destination | `arn:aws:events:R:A:api-destination/NAME/ID` |
//! | connection | `arn:aws:events:R:A:connection/NAME/ID` |
//! | archive | `arn:aws:events:R:A:archive/NAME` |
//!
//! The helpers check structure (the right service and prefix, no empty
//! part, no stray `:` or `/`), not name rules: those are in
//! [`crate::names`]. Constructors take a [`ResourceScope`] and never fail.
//!
//! ```
//! use stratus_core::arn::{Arn, ArnResource};
//! use stratus_core::scope::ResourceScope;
//! let arn = Arn::queue(&ResourceScope::DEFAULT, "jobs");
//! assert_eq!(arn.to_string(), "arn:aws:sqs:us-east-1:000000000000:jobs");
//! let parsed: Arn = "arn:aws:lambda:eu-west-1:123456789012:function:f:3".parse().unwrap();
//! assert_eq!(parsed.resource_ref().unwrap(), ArnResource::Function { name: "f", qualifier: Some("3") });
//! ```

use crate::scope::{ResourceScope, ScopeError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The bus a rule ARN without a bus segment belongs to.
pub const DEFAULT_BUS: &str = "default";

/// A parsed ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arn {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// `sqs`, `sns`, `lambda`, `events`, …
    pub service: String,
    /// May be empty.
    pub region: String,
    /// May be empty.
    pub account: String,
    /// Everything after the fifth `:`; never empty.
    pub resource: String,
}

/// The kinds of resource Stratus names by ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Queue,
    Topic,
    Subscription,
    Bus,
    Rule,
    Function,
    ApiDestination,
    Connection,
    Archive,
}

impl ResourceKind {
    /// The ARN's shape, for messages.
    pub fn shape(self) -> &'static str {
        match self {
            ResourceKind::Queue => "arn:aws:sqs:REGION:ACCOUNT:NAME",
            ResourceKind::Topic => "arn:aws:sns:REGION:ACCOUNT:NAME",
            ResourceKind::Subscription => "arn:aws:sns:REGION:ACCOUNT:TOPIC:ID",
            ResourceKind::Bus => "arn:aws:events:REGION:ACCOUNT:event-bus/NAME",
            ResourceKind::Rule => "arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME",
            ResourceKind::Function => "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]",
            ResourceKind::ApiDestination => "arn:aws:events:REGION:ACCOUNT:api-destination/NAME/ID",
            ResourceKind::Connection => "arn:aws:events:REGION:ACCOUNT:connection/NAME/ID",
            ResourceKind::Archive => "arn:aws:events:REGION:ACCOUNT:archive/NAME",
        }
    }

    /// `queue`, `topic`, `API destination`, …
    pub fn describe(self) -> &'static str {
        match self {
            ResourceKind::Queue => "queue",
            ResourceKind::Topic => "topic",
            ResourceKind::Subscription => "subscription",
            ResourceKind::Bus => "event bus",
            ResourceKind::Rule => "rule",
            ResourceKind::Function => "function",
            ResourceKind::ApiDestination => "API destination",
            ResourceKind::Connection => "connection",
            ResourceKind::Archive => "archive",
        }
    }

    /// `a queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)`, for messages.
    pub fn expected(self) -> String {
        let article = match self {
            ResourceKind::Archive | ResourceKind::ApiDestination | ResourceKind::Bus => "an",
            _ => "a",
        };
        format!("{article} {} ARN ({})", self.describe(), self.shape())
    }
}

/// A malformed ARN, or one that does not name what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// It does not start with `arn:`.
    #[error("`{0}` is not an ARN (it must start with `arn:`)")]
    NotArn(String),
    /// Fewer than six `:`-separated parts, or an empty resource.
    #[error("`{0}` is not an ARN of the form arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE")]
    Shape(String),
    /// A part with characters it cannot have.
    #[error("`{arn}` has an invalid {part} `{value}`")]
    Part {
        arn: String,
        part: &'static str,
        value: String,
    },
    /// Well formed, but not a resource Stratus has.
    #[error(
        "`{0}` does not name a queue, topic, subscription, function, event bus, rule, API destination, connection or archive"
    )]
    Unknown(String),
    /// Well formed, but not of the expected kind (or malformed for it).
    #[error("`{arn}` is not {}", .expected.expected())]
    NotA { arn: String, expected: ResourceKind },
    /// The region or the account is not valid for a scope.
    #[error("`{arn}`: {error}")]
    Scope { arn: String, error: ScopeError },
}

/// What a Stratus ARN names, borrowed from the [`Arn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArnResource<'a> {
    Queue(&'a str),
    Topic(&'a str),
    Subscription {
        topic: &'a str,
        id: &'a str,
    },
    Bus(&'a str),
    /// `bus` is [`DEFAULT_BUS`] when the ARN has no bus segment.
    Rule {
        bus: &'a str,
        name: &'a str,
    },
    Function {
        name: &'a str,
        qualifier: Option<&'a str>,
    },
    ApiDestination {
        name: &'a str,
        id: &'a str,
    },
    Connection {
        name: &'a str,
        id: &'a str,
    },
    Archive(&'a str),
}

impl ArnResource<'_> {
    /// The kind.
    pub fn kind(&self) -> ResourceKind {
        match self {
            ArnResource::Queue(_) => ResourceKind::Queue,
            ArnResource::Topic(_) => ResourceKind::Topic,
            ArnResource::Subscription { .. } => ResourceKind::Subscription,
            ArnResource::Bus(_) => ResourceKind::Bus,
            ArnResource::Rule { .. } => ResourceKind::Rule,
            ArnResource::Function { .. } => ResourceKind::Function,
            ArnResource::ApiDestination { .. } => ResourceKind::ApiDestination,
            ArnResource::Connection { .. } => ResourceKind::Connection,
            ArnResource::Archive(_) => ResourceKind::Archive,
        }
    }
}

fn lower_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn resource_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control()
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(text: &str) -> Result<Arn, ArnError> {
        if !text.starts_with("arn:") {
            return Err(ArnError::NotArn(text.to_string()));
        }
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [_, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(ArnError::Shape(text.to_string()));
        };
        if resource.is_empty() {
            return Err(ArnError::Shape(text.to_string()));
        }
        let part = |part: &'static str, value: &str| ArnError::Part {
            arn: text.to_string(),
            part,
            value: value.to_string(),
        };
        if !lower_word(partition) {
            return Err(part("partition", partition));
        }
        if !lower_word(service) {
            return Err(part("service", service));
        }
        if !region.is_empty() && !lower_word(region) {
            return Err(part("region", region));
        }
        if !account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(part("account", account));
        }
        if !resource.chars().all(resource_char) {
            return Err(part("resource", resource));
        }
        Ok(Arn {
            partition: partition.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

impl Serialize for Arn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Arn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl From<Arn> for String {
    fn from(arn: Arn) -> String {
        arn.to_string()
    }
}

/// `text` split at `sep` into exactly `n` non-empty parts.
fn exact(text: &str, sep: char, n: usize) -> Option<Vec<&str>> {
    let parts: Vec<&str> = text.split(sep).collect();
    (parts.len() == n && parts.iter().all(|p| !p.is_empty())).then_some(parts)
}

/// Whether every `sep`-separated part of `text` is non-empty (so `text`
/// is too).
fn no_empty_part(text: &str, sep: char) -> bool {
    text.split(sep).all(|p| !p.is_empty())
}

impl Arn {
    fn scoped(scope: &ResourceScope, service: &str, resource: String) -> Arn {
        Arn {
            partition: scope.partition().to_string(),
            service: service.to_string(),
            region: scope.region.as_str().to_string(),
            account: scope.account.as_str().to_string(),
            resource,
        }
    }

    /// A queue's ARN: `arn:aws:sqs:R:A:NAME`.
    pub fn queue(scope: &ResourceScope, name: &str) -> Arn {
        Arn::scoped(scope, "sqs", name.to_string())
    }

    /// A topic's ARN: `arn:aws:sns:R:A:NAME`.
    pub fn topic(scope: &ResourceScope, name: &str) -> Arn {
        Arn::scoped(scope, "sns", name.to_string())
    }

    /// A subscription's ARN: `arn:aws:sns:R:A:TOPIC:ID`.
    pub fn subscription(scope: &ResourceScope, topic: &str, id: &str) -> Arn {
        Arn::scoped(scope, "sns", format!("{topic}:{id}"))
    }

    /// An event bus's ARN: `arn:aws:events:R:A:event-bus/NAME`.
    pub fn bus(scope: &ResourceScope, name: &str) -> Arn {
        Arn::scoped(scope, "events", format!("event-bus/{name}"))
    }

    /// A rule's ARN: `rule/NAME` on the default bus (as on AWS),
    /// `rule/BUS/NAME` on others.
    pub fn rule(scope: &ResourceScope, bus: &str, name: &str) -> Arn {
        let resource = if bus == DEFAULT_BUS {
            format!("rule/{name}")
        } else {
            format!("rule/{bus}/{name}")
        };
        Arn::scoped(scope, "events", resource)
    }

    /// A function's ARN, with an optional qualifier (`$LATEST`, a version,
    /// an alias).
    pub fn function(scope: &ResourceScope, name: &str, qualifier: Option<&str>) -> Arn {
        let resource = match qualifier {
            Some(q) => format!("function:{name}:{q}"),
            None => format!("function:{name}"),
        };
        Arn::scoped(scope, "lambda", resource)
    }

    /// An API destination's ARN: `api-destination/NAME/ID`.
    pub fn api_destination(scope: &ResourceScope, name: &str, id: &str) -> Arn {
        Arn::scoped(scope, "events", format!("api-destination/{name}/{id}"))
    }

    /// A connection's ARN: `connection/NAME/ID`.
    pub fn connection(scope: &ResourceScope, name: &str, id: &str) -> Arn {
        Arn::scoped(scope, "events", format!("connection/{name}/{id}"))
    }

    /// An archive's ARN: `archive/NAME`.
    pub fn archive(scope: &ResourceScope, name: &str) -> Arn {
        Arn::scoped(scope, "events", format!("archive/{name}"))
    }

    /// The region and account, checked ([`ResourceScope`]'s rules).
    pub fn scope(&self) -> Result<ResourceScope, ArnError> {
        ResourceScope::parse(&self.region, &self.account).map_err(|error| ArnError::Scope {
            arn: self.to_string(),
            error,
        })
    }

    /// What the ARN names, if it is one of Stratus's kinds of resource.
    pub fn resource_ref(&self) -> Result<ArnResource<'_>, ArnError> {
        let r = self.resource.as_str();
        let not_a = |expected| ArnError::NotA {
            arn: self.to_string(),
            expected,
        };
        match self.service.as_str() {
            "sqs" => {
                if r.contains([':', '/']) {
                    return Err(not_a(ResourceKind::Queue));
                }
                Ok(ArnResource::Queue(r))
            }
            "sns" => match r.split_once(':') {
                None if !r.contains('/') => Ok(ArnResource::Topic(r)),
                None => Err(not_a(ResourceKind::Topic)),
                Some(_) => match exact(r, ':', 2).as_deref() {
                    Some([topic, id]) if !r.contains('/') => {
                        Ok(ArnResource::Subscription { topic, id })
                    }
                    _ => Err(not_a(ResourceKind::Subscription)),
                },
            },
            "lambda" => {
                let rest = r
                    .strip_prefix("function:")
                    .ok_or_else(|| not_a(ResourceKind::Function))?;
                match exact(rest, ':', 1)
                    .or_else(|| exact(rest, ':', 2))
                    .as_deref()
                {
                    Some([name]) => Ok(ArnResource::Function {
                        name,
                        qualifier: None,
                    }),
                    Some([name, qualifier]) => Ok(ArnResource::Function {
                        name,
                        qualifier: Some(qualifier),
                    }),
                    _ => Err(not_a(ResourceKind::Function)),
                }
            }
            "events" => {
                let (prefix, rest) = r
                    .split_once('/')
                    .ok_or_else(|| ArnError::Unknown(self.to_string()))?;
                let kind = match prefix {
                    "event-bus" => ResourceKind::Bus,
                    "rule" => ResourceKind::Rule,
                    "api-destination" => ResourceKind::ApiDestination,
                    "connection" => ResourceKind::Connection,
                    "archive" => ResourceKind::Archive,
                    _ => return Err(ArnError::Unknown(self.to_string())),
                };
                if rest.contains(':') {
                    return Err(not_a(kind));
                }
                let parsed = match kind {
                    // Partner buses' names have `/` in them
                    // (`aws.partner/example.com/123/source`).
                    ResourceKind::Bus => no_empty_part(rest, '/').then_some(ArnResource::Bus(rest)),
                    // A rule's name has no `/`; whatever is before the last
                    // one is the bus (a partner bus's name has some).
                    ResourceKind::Rule => match rest.rsplit_once('/') {
                        None if !rest.is_empty() => Some(ArnResource::Rule {
                            bus: DEFAULT_BUS,
                            name: rest,
                        }),
                        Some((bus, name)) if !name.is_empty() && no_empty_part(bus, '/') => {
                            Some(ArnResource::Rule { bus, name })
                        }
                        _ => None,
                    },
                    ResourceKind::ApiDestination => match exact(rest, '/', 2).as_deref() {
                        Some([name, id]) => Some(ArnResource::ApiDestination { name, id }),
                        _ => None,
                    },
                    ResourceKind::Connection => match exact(rest, '/', 2).as_deref() {
                        Some([name, id]) => Some(ArnResource::Connection { name, id }),
                        _ => None,
                    },
                    _ => exact(rest, '/', 1).map(|_| ArnResource::Archive(rest)),
                };
                parsed.ok_or_else(|| not_a(kind))
            }
            _ => Err(ArnError::Unknown(self.to_string())),
        }
    }

    fn pick<'a, T>(
        &'a self,
        kind: ResourceKind,
        pick: impl FnOnce(ArnResource<'a>) -> Option<T>,
    ) -> Result<T, ArnError> {
        let not_a = || ArnError::NotA {
            arn: self.to_string(),
            expected: kind,
        };
        match self.resource_ref() {
            Ok(resource) => pick(resource).ok_or_else(not_a),
            Err(_) => Err(not_a()),
        }
    }

    /// The key under which the resource `name` of this ARN is kept
    /// ([`crate::scope::regional_key`]): the name qualified by the ARN's
    /// region (bare in the default region, or when the ARN's region is
    /// not a region name).
    pub fn regional_key(&self, name: &str) -> String {
        match crate::scope::Region::new(&self.region) {
            Ok(region) => crate::scope::regional_key(&region, name),
            Err(_) => name.to_string(),
        }
    }

    /// The queue's name.
    pub fn as_queue(&self) -> Result<&str, ArnError> {
        self.pick(ResourceKind::Queue, |r| match r {
            ArnResource::Queue(name) => Some(name),
            _ => None,
        })
    }

    /// The topic's name (not a subscription's topic).
    pub fn as_topic(&self) -> Result<&str, ArnError> {
        self.pick(ResourceKind::Topic, |r| match r {
            ArnResource::Topic(name) => Some(name),
            _ => None,
        })
    }

    /// A subscription's topic and id.
    pub fn as_subscription(&self) -> Result<(&str, &str), ArnError> {
        self.pick(ResourceKind::Subscription, |r| match r {
            ArnResource::Subscription { topic, id } => Some((topic, id)),
            _ => None,
        })
    }

    /// The event bus's name.
    pub fn as_bus(&self) -> Result<&str, ArnError> {
        self.pick(ResourceKind::Bus, |r| match r {
            ArnResource::Bus(name) => Some(name),
            _ => None,
        })
    }

    /// A rule's bus ([`DEFAULT_BUS`] when the ARN has none) and name.
    pub fn as_rule(&self) -> Result<(&str, &str), ArnError> {
        self.pick(ResourceKind::Rule, |r| match r {
            ArnResource::Rule { bus, name } => Some((bus, name)),
            _ => None,
        })
    }

    /// A function's name and qualifier.
    pub fn as_function(&self) -> Result<(&str, Option<&str>), ArnError> {
        self.pick(ResourceKind::Function, |r| match r {
            ArnResource::Function { name, qualifier } => Some((name, qualifier)),
            _ => None,
        })
    }

    /// An API destination's name and id.
    pub fn as_api_destination(&self) -> Result<(&str, &str), ArnError> {
        self.pick(ResourceKind::ApiDestination, |r| match r {
            ArnResource::ApiDestination { name, id } => Some((name, id)),
            _ => None,
        })
    }

    /// A connection's name and id.
    pub fn as_connection(&self) -> Result<(&str, &str), ArnError> {
        self.pick(ResourceKind::Connection, |r| match r {
            ArnResource::Connection { name, id } => Some((name, id)),
            _ => None,
        })
    }

    /// An archive's name.
    pub fn as_archive(&self) -> Result<&str, ArnError> {
        self.pick(ResourceKind::Archive, |r| match r {
            ArnResource::Archive(name) => Some(name),
            _ => None,
        })
    }
}

/// Lambda's `FunctionName` parameter: a name, `NAME:QUALIFIER`, a partial
/// ARN `ACCOUNT:function:NAME[:QUALIFIER]`, or a full ARN
/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`. The name
/// follows [`crate::names::function_name`]; a qualifier is `$LATEST` or 1
/// to 128 of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

/// A `FunctionName` that is none of [`FunctionRef`]'s forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionRefError {
    /// Not one of the forms.
    #[error("`{0}` is not a function name or ARN")]
    Form(String),
    /// The name breaks Lambda's rule.
    #[error("function name `{0}` must be 1 to 64 letters, digits, hyphens or underscores")]
    Name(String),
    /// The qualifier is empty or has other characters.
    #[error(
        "the qualifier `{0}` must be $LATEST or 1 to 128 letters, digits, hyphens or underscores"
    )]
    Qualifier(String),
}

impl FunctionRef {
    /// Parses any of the forms.
    pub fn parse(text: &str) -> Result<FunctionRef, FunctionRefError> {
        let (name, qualifier) = if text.starts_with("arn:") {
            let arn: Arn = text
                .parse()
                .map_err(|_| FunctionRefError::Form(text.to_string()))?;
            if arn.service != "lambda" {
                return Err(FunctionRefError::Form(text.to_string()));
            }
            let rest = arn
                .resource
                .strip_prefix("function:")
                .ok_or_else(|| FunctionRefError::Form(text.to_string()))?;
            match rest.split(':').collect::<Vec<_>>().as_slice() {
                [name] => (name.to_string(), None),
                [name, q] => (name.to_string(), Some(q.to_string())),
                _ => return Err(FunctionRefError::Form(text.to_string())),
            }
        } else {
            match text.split(':').collect::<Vec<_>>().as_slice() {
                [name] => (name.to_string(), None),
                [name, q] => (name.to_string(), Some(q.to_string())),
                [_, "function", name] => (name.to_string(), None),
                [_, "function", name, q] => (name.to_string(), Some(q.to_string())),
                _ => return Err(FunctionRefError::Form(text.to_string())),
            }
        };
        if crate::names::function_name(&name).is_err() {
            return Err(FunctionRefError::Name(name));
        }
        if let Some(q) = &qualifier
            && !valid_qualifier(q)
        {
            return Err(FunctionRefError::Qualifier(q.clone()));
        }
        Ok(FunctionRef { name, qualifier })
    }

    /// The function's ARN in `scope`.
    pub fn arn(&self, scope: &ResourceScope) -> Arn {
        Arn::function(scope, &self.name, self.qualifier.as_deref())
    }
}

/// `$LATEST`, or 1 to 128 of `[A-Za-z0-9_-]` (a version or an alias).
pub fn valid_qualifier(q: &str) -> bool {
    q == "$LATEST"
        || ((1..=128).contains(&q.len())
            && q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let scope = ResourceScope::DEFAULT;
        let arns = [
            Arn::queue(&scope, "jobs"),
            Arn::topic(&scope, "t.fifo"),
            Arn::subscription(&scope, "t", "0b7c"),
            Arn::bus(&scope, "orders"),
            Arn::rule(&scope, "default", "r"),
            Arn::rule(&scope, "orders", "r"),
            Arn::function(&scope, "f", None),
            Arn::function(&scope, "f", Some("$LATEST")),
            Arn::api_destination(&scope, "d", "u"),
            Arn::connection(&scope, "c", "u"),
            Arn::archive(&scope, "a"),
        ];
        for arn in arns {
            let text = arn.to_string();
            assert_eq!(text.parse::<Arn>().as_ref(), Ok(&arn), "{text}");
            assert!(arn.resource_ref().is_ok(), "{text}");
            let json = serde_json::to_string(&arn).expect("serialises");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Arn>(&json).ok(), Some(arn));
        }
        assert!(serde_json::from_str::<Arn>("\"arn:aws\"").is_err());
    }

    #[test]
    fn scopes() {
        let arn: Arn = "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q"
            .parse()
            .expect("valid");
        let scope = arn.scope().expect("valid scope");
        assert_eq!(scope.partition(), "aws-us-gov");
        assert_eq!(Arn::queue(&scope, "q"), arn);
        let bad: Arn = "arn:aws:lambda:eu-west-1:1:function:f"
            .parse()
            .expect("shape");
        assert_eq!(
            bad.scope().map_err(|e| e.to_string()),
            Err("`arn:aws:lambda:eu-west-1:1:function:f`: invalid account id `1`: expected 12 digits".into())
        );
    }
}
