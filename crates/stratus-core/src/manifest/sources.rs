//! The manifest's event sources other than `httpApi` (`sqs`, `sns`,
//! `schedule`, `eventBridge`) and a function's asynchronous-invocation
//! settings (`maximumRetryAttempts`, `maximumEventAge`, `destinations`,
//! `onError`), in the Serverless Framework's spelling.
//!
//! ```yaml
//! events:
//!   - sqs: jobs                       # or an ARN, or:
//!   - sqs: {arn: jobs, batchSize: 10, maximumBatchingWindow: 1,
//!           maximumConcurrency: 5, functionResponseType: ReportBatchItemFailures}
//!   - sns: alerts                     # or {topicName: alerts, filterPolicy: {...}}
//!   - schedule: rate(5 minutes)       # or {rate: 'cron(0 2 * * ? *)', timezone, input, enabled}
//!   - eventBridge: {eventBus: orders, pattern: {source: [shop]}, inputTransformer: {...}}
//! maximumRetryAttempts: 1
//! maximumEventAge: 3600
//! destinations: {onSuccess: other-function, onFailure: arn:aws:sqs:us-east-1:000000000000:failed}
//! onError: arn:aws:sqs:us-east-1:000000000000:dlq
//! ```

use super::yaml::{Scalar, classify, describe, key_location, value_location};
use super::{Location, Parser, Result};
use crate::arn::Arn;
use crate::function::{
    AsyncConfig, BusSource, DEFAULT_SQS_BATCH_SIZE, MAX_EVENT_AGE_SECS, MAX_RETRY_ATTEMPTS,
    MAX_SQS_CONCURRENCY, MIN_EVENT_AGE_SECS, ScheduleSource, SnsSource, SqsSource, TargetRef,
};
use crate::names;
use marked_yaml::Node;
use marked_yaml::types::MarkedScalarNode;

const SQS_KEYS: &[&str] = &[
    "arn",
    "queue",
    "batchSize",
    "maximumBatchingWindow",
    "maximumConcurrency",
    "functionResponseType",
    "enabled",
];
const SNS_KEYS: &[&str] = &[
    "arn",
    "topicName",
    "topic",
    "filterPolicy",
    "filterPolicyScope",
];
const SCHEDULE_KEYS: &[&str] = &[
    "rate",
    "enabled",
    "input",
    "timezone",
    "name",
    "description",
];
const BUS_KEYS: &[&str] = &[
    "eventBus",
    "bus",
    "pattern",
    "input",
    "inputPath",
    "inputTransformer",
];
const TRANSFORMER_KEYS: &[&str] = &["inputPathsMap", "inputTemplate"];
const DESTINATION_KEYS: &[&str] = &["onSuccess", "onFailure"];

/// Lambda's largest SQS batch.
const MAX_SQS_BATCH_SIZE: i128 = 10_000;
/// Lambda's largest SQS batching window, in seconds.
const MAX_BATCHING_WINDOW: i128 = 300;

/// A YAML value as JSON (mappings become objects, scalars keep their
/// YAML type: `10` is a number, `"10"` a string).
pub(super) fn to_json(node: &Node) -> serde_json::Value {
    match node {
        Node::Mapping(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().to_string(), to_json(v)))
                .collect(),
        ),
        Node::Sequence(s) => serde_json::Value::Array(s.iter().map(to_json).collect()),
        Node::Scalar(s) => match classify(s) {
            Scalar::Null => serde_json::Value::Null,
            Scalar::Bool(b) => serde_json::Value::Bool(b),
            Scalar::Int(i) => i64::try_from(i)
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| serde_json::Value::String(s.as_str().to_string())),
            Scalar::Float(f) => serde_json::Number::from_f64(f)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|| serde_json::Value::String(s.as_str().to_string())),
            Scalar::Str(text) => serde_json::Value::String(text.to_string()),
        },
    }
}

/// A queue (`service` `sqs`) or topic (`sns`) named by a bare name or an
/// ARN of `service`. A bare name follows the manifest's rule
/// ([`valid_resource_name`]); a name in an ARN follows its service's rule
/// ([`names::queue_name`], [`names::topic_name`]).
fn resource_name(text: &str, service: &str) -> std::result::Result<String, String> {
    let text = text.trim();
    if text.starts_with("arn:") {
        let wrong_form =
            || format!("`{text}` is not an ARN of the form arn:aws:{service}:REGION:ACCOUNT:NAME");
        let arn: Arn = text.parse().map_err(|_| wrong_form())?;
        let name = match service {
            "sqs" if arn.service == "sqs" => arn.as_queue().map_err(|_| wrong_form())?,
            "sns" if arn.service == "sns" => arn.as_topic().map_err(|_| wrong_form())?,
            _ => return Err(wrong_form()),
        };
        let fifo = names::is_fifo(name);
        let (checked, max) = if service == "sqs" {
            (names::queue_name(name, fifo), names::QUEUE_NAME_MAX)
        } else {
            (names::topic_name(name, fifo), names::TOPIC_NAME_MAX)
        };
        // Kept under its regional key: a queue or topic of another region
        // is that region's.
        return match checked {
            Ok(()) => Ok(arn.regional_key(name)),
            Err(_) => Err(format!(
                "invalid name `{name}` in `{text}`: use 1 to {max} letters, digits, `-` or `_` (a `.fifo` suffix for FIFO)"
            )),
        };
    }
    if valid_resource_name(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "invalid name `{text}`: use 1 to 80 letters, digits, `-` or `_` (a `.fifo` suffix for FIFO)"
        ))
    }
}

/// The manifest's rule for a queue or topic given by name: SQS's, 1 to 80
/// of `[A-Za-z0-9_-]`, optionally ending in `.fifo` (counted in the 80).
/// Topics get SQS's limit too, tighter than SNS's 256
/// ([`names::topic_name`]), so that the manifest's message stays one.
pub fn valid_resource_name(name: &str) -> bool {
    names::queue_name(name, names::is_fifo(name)).is_ok()
}

/// An event bus's name rule: 1 to 256 of `[A-Za-z0-9._-]`
/// ([`names::bus_name`]).
pub fn valid_bus_name(name: &str) -> bool {
    names::bus_name(name).is_ok()
}

impl Parser<'_> {
    fn expect_mapping<'n>(
        &self,
        key: &MarkedScalarNode,
        value: &'n Node,
        shape: &str,
    ) -> Result<&'n marked_yaml::types::MarkedMappingNode> {
        match value {
            Node::Mapping(m) => Ok(m),
            other => Err(self.err(
                value_location(key, value),
                format!("{shape}, found {}", describe(other)),
            )),
        }
    }

    fn boolean(&self, key: &MarkedScalarNode, value: &Node) -> Result<bool> {
        match value {
            Node::Scalar(s) => match classify(s) {
                Scalar::Bool(b) => Ok(b),
                _ => Err(self.err(
                    value_location(key, value),
                    format!(
                        "`{}` must be true or false, found {}",
                        key.as_str(),
                        describe(value)
                    ),
                )),
            },
            other => Err(self.err(
                value_location(key, value),
                format!(
                    "`{}` must be true or false, found {}",
                    key.as_str(),
                    describe(other)
                ),
            )),
        }
    }

    fn bounded(
        &self,
        key: &MarkedScalarNode,
        value: &Node,
        range: std::ops::RangeInclusive<i128>,
    ) -> Result<u32> {
        let what = format!("an integer from {} to {}", range.start(), range.end());
        let (n, at) = self.integer(key, value, &what)?;
        if !range.contains(&n) {
            return Err(self.err(at, format!("`{}` must be {what}, found {n}", key.as_str())));
        }
        u32::try_from(n).map_err(|_| self.err(at, format!("`{}` is too large", key.as_str())))
    }

    /// A JSON document written as a YAML mapping (or as a JSON string).
    fn json_value(&self, key: &MarkedScalarNode, value: &Node) -> Result<serde_json::Value> {
        match value {
            Node::Scalar(s) if matches!(classify(s), Scalar::Str(_)) => {
                serde_json::from_str(s.as_str()).map_err(|e| {
                    self.err(
                        value_location(key, value),
                        format!("`{}` is not valid JSON: {e}", key.as_str()),
                    )
                })
            }
            other => Ok(to_json(other)),
        }
    }

    /// A JSON object written as a YAML mapping or a JSON string, as text.
    fn json_object_text(&self, key: &MarkedScalarNode, value: &Node) -> Result<String> {
        let json = self.json_value(key, value)?;
        if !json.is_object() {
            return Err(self.err(
                value_location(key, value),
                format!("`{}` must be a mapping (a JSON object)", key.as_str()),
            ));
        }
        Ok(json.to_string())
    }

    pub(super) fn sqs_source(
        &self,
        function: &str,
        timeout: Option<(f64, Location)>,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> Result<SqsSource> {
        let at = value_location(key, value);
        let mut queue = None;
        let mut batch_size = None;
        let mut window = 0;
        let mut concurrency = None;
        let mut report = false;
        let mut enabled = true;
        match value {
            Node::Scalar(s) if classify(s) != Scalar::Null => {
                queue = Some((s.as_str().to_string(), at));
            }
            Node::Mapping(map) => {
                for (k, v) in map.iter() {
                    match k.as_str() {
                        "arn" | "queue" => queue = Some((self.string(k, v)?, value_location(k, v))),
                        "batchSize" => {
                            batch_size = Some((
                                self.bounded(k, v, 1..=MAX_SQS_BATCH_SIZE)?,
                                value_location(k, v),
                            ))
                        }
                        "maximumBatchingWindow" => {
                            window = self.bounded(k, v, 0..=MAX_BATCHING_WINDOW)?
                        }
                        "maximumConcurrency" => {
                            concurrency =
                                Some(self.bounded(k, v, 2..=i128::from(MAX_SQS_CONCURRENCY))?)
                        }
                        "functionResponseType" => {
                            let text = self.string(k, v)?;
                            if text != "ReportBatchItemFailures" {
                                return Err(self.err(
                                    value_location(k, v),
                                    format!(
                                        "`functionResponseType` must be `ReportBatchItemFailures`, found `{text}`"
                                    ),
                                ));
                            }
                            report = true;
                        }
                        "enabled" => enabled = self.boolean(k, v)?,
                        _ => {
                            return Err(self.unknown_key(
                                k,
                                &format!("in the `sqs` event of function `{function}`"),
                                SQS_KEYS,
                            ));
                        }
                    }
                }
            }
            other => {
                return Err(self.err(
                    at,
                    format!(
                        "`sqs` must be a queue name or ARN, or a mapping with `arn`, found {}",
                        describe(other)
                    ),
                ));
            }
        }
        let (queue, queue_at) = queue.ok_or_else(|| {
            self.err(
                at,
                format!("missing required key `arn` (the queue) in the `sqs` event of function `{function}`"),
            )
        })?;
        let queue = resource_name(&queue, "sqs").map_err(|m| self.err(queue_at, m))?;
        let batch = batch_size.map(|(b, _)| b).unwrap_or(DEFAULT_SQS_BATCH_SIZE);
        if let Some((size, size_at)) = batch_size {
            if queue.ends_with(".fifo") && size > 10 {
                return Err(self.err(
                    size_at,
                    format!("`batchSize` of a FIFO queue is at most 10, found {size}"),
                ));
            }
            if size > 10 && window == 0 {
                return Err(self.err(
                    size_at,
                    format!(
                        "a `batchSize` over 10 ({size}) needs a `maximumBatchingWindow` of at least 1 second, as on Lambda"
                    ),
                ));
            }
        }
        let _ = timeout;
        Ok(SqsSource {
            queue,
            batch_size: batch,
            maximum_batching_window: window,
            maximum_concurrency: concurrency,
            report_batch_item_failures: report,
            enabled,
        })
    }

    pub(super) fn sns_source(
        &self,
        function: &str,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> Result<SnsSource> {
        let at = value_location(key, value);
        let mut topic = None;
        let mut policy = None;
        let mut scope = None;
        match value {
            Node::Scalar(s) if classify(s) != Scalar::Null => {
                topic = Some((s.as_str().to_string(), at));
            }
            Node::Mapping(map) => {
                for (k, v) in map.iter() {
                    match k.as_str() {
                        "arn" | "topicName" | "topic" => {
                            topic = Some((self.string(k, v)?, value_location(k, v)))
                        }
                        "filterPolicy" => {
                            let text = self.json_object_text(k, v)?;
                            crate::pattern::Pattern::parse(&text).map_err(|e| {
                                self.err(
                                    value_location(k, v),
                                    format!("invalid `filterPolicy`: {e}"),
                                )
                            })?;
                            policy = Some(text);
                        }
                        "filterPolicyScope" => {
                            let text = self.string(k, v)?;
                            if text != "MessageAttributes" && text != "MessageBody" {
                                return Err(self.err(
                                    value_location(k, v),
                                    format!(
                                        "`filterPolicyScope` must be `MessageAttributes` or `MessageBody`, found `{text}`"
                                    ),
                                ));
                            }
                            scope = Some(text);
                        }
                        _ => {
                            return Err(self.unknown_key(
                                k,
                                &format!("in the `sns` event of function `{function}`"),
                                SNS_KEYS,
                            ));
                        }
                    }
                }
            }
            other => {
                return Err(self.err(
                    at,
                    format!(
                        "`sns` must be a topic name or ARN, or a mapping with `topicName` or `arn`, found {}",
                        describe(other)
                    ),
                ));
            }
        }
        let (topic, topic_at) = topic.ok_or_else(|| {
            self.err(
                at,
                format!("missing required key `topicName` (or `arn`) in the `sns` event of function `{function}`"),
            )
        })?;
        let topic = resource_name(&topic, "sns").map_err(|m| self.err(topic_at, m))?;
        Ok(SnsSource {
            topic,
            filter_policy: policy,
            filter_policy_scope: scope,
        })
    }

    pub(super) fn schedule_sources(
        &self,
        function: &str,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> Result<Vec<ScheduleSource>> {
        let at = value_location(key, value);
        let mut expressions: Vec<(String, Location)> = Vec::new();
        let mut enabled = true;
        let mut input = None;
        let mut timezone = None;
        match value {
            Node::Scalar(s) if classify(s) != Scalar::Null => {
                expressions.push((s.as_str().to_string(), at));
            }
            Node::Mapping(map) => {
                for (k, v) in map.iter() {
                    match k.as_str() {
                        "rate" => match v {
                            Node::Sequence(list) => {
                                for item in list.iter() {
                                    let item_at = super::yaml::node_location(item).unwrap_or(at);
                                    match item {
                                        Node::Scalar(s) if classify(s) != Scalar::Null => {
                                            expressions.push((s.as_str().to_string(), item_at))
                                        }
                                        other => {
                                            return Err(self.err(
                                                item_at,
                                                format!(
                                                    "each `rate` must be `rate(...)` or `cron(...)`, found {}",
                                                    describe(other)
                                                ),
                                            ));
                                        }
                                    }
                                }
                            }
                            _ => expressions.push((self.string(k, v)?, value_location(k, v))),
                        },
                        "enabled" => enabled = self.boolean(k, v)?,
                        "input" => {
                            let json = self.json_value(k, v)?;
                            input = Some(json.to_string());
                        }
                        "timezone" => {
                            timezone = Some((self.non_empty_string(k, v)?, value_location(k, v)))
                        }
                        "name" | "description" => {
                            self.string(k, v)?;
                        }
                        _ => {
                            return Err(self.unknown_key(
                                k,
                                &format!("in the `schedule` event of function `{function}`"),
                                SCHEDULE_KEYS,
                            ));
                        }
                    }
                }
            }
            other => {
                return Err(self.err(
                    at,
                    format!(
                        "`schedule` must be `rate(...)`, `cron(...)`, or a mapping with `rate`, found {}",
                        describe(other)
                    ),
                ));
            }
        }
        if expressions.is_empty() {
            return Err(self.err(
                at,
                format!(
                    "missing required key `rate` in the `schedule` event of function `{function}`"
                ),
            ));
        }
        let mut sources = Vec::new();
        for (expression, expression_at) in expressions {
            let expression = expression.trim().to_string();
            let tz = timezone.as_ref().map(|(t, _)| t.as_str());
            if let Err(error) = crate::schedule::Schedule::parse(&expression, tz) {
                let error_at = match (&timezone, error.to_string().contains("time zone")) {
                    (Some((_, tz_at)), true) => *tz_at,
                    _ => expression_at,
                };
                return Err(self.err(error_at, format!("invalid schedule: {error}")));
            }
            sources.push(ScheduleSource {
                expression,
                timezone: timezone.as_ref().map(|(t, _)| t.clone()),
                input: input.clone(),
                enabled,
            });
        }
        Ok(sources)
    }

    pub(super) fn bus_source(
        &self,
        function: &str,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> Result<BusSource> {
        let at = value_location(key, value);
        let map = self.expect_mapping(
            key,
            value,
            "`eventBridge` must be a mapping with `pattern` (and optionally `eventBus`)",
        )?;
        let mut bus = "default".to_string();
        let mut pattern = None;
        let mut input = None;
        let mut input_path = None;
        let mut transformer = None;
        for (k, v) in map.iter() {
            match k.as_str() {
                "eventBus" | "bus" => {
                    let text = self.non_empty_string(k, v)?;
                    let from_arn = text
                        .trim()
                        .parse::<Arn>()
                        .ok()
                        .and_then(|arn| arn.as_bus().ok().map(|bus| arn.regional_key(bus)));
                    let name = match from_arn {
                        Some(name) => name,
                        None if !text.starts_with("arn:") => text,
                        None => {
                            return Err(self.err(
                                value_location(k, v),
                                format!("`{}` must be a bus name or an arn:aws:events:…:event-bus/NAME ARN, found `{text}`", k.as_str()),
                            ));
                        }
                    };
                    if !valid_bus_name(&name) {
                        return Err(self.err(
                            value_location(k, v),
                            format!("invalid event bus name `{name}`: use 1 to 256 letters, digits, `.`, `-` or `_`"),
                        ));
                    }
                    bus = name;
                }
                "pattern" => {
                    let text = self.json_object_text(k, v)?;
                    crate::pattern::Pattern::parse(&text).map_err(|e| {
                        self.err(value_location(k, v), format!("invalid event pattern: {e}"))
                    })?;
                    pattern = Some(text);
                }
                "input" => input = Some(self.json_value(k, v)?.to_string()),
                "inputPath" => input_path = Some(self.non_empty_string(k, v)?),
                "inputTransformer" => {
                    let map = self.expect_mapping(
                        k,
                        v,
                        "`inputTransformer` must be a mapping with `inputTemplate` (and optionally `inputPathsMap`)",
                    )?;
                    let mut paths = serde_json::Map::new();
                    let mut template = None;
                    for (tk, tv) in map.iter() {
                        match tk.as_str() {
                            "inputPathsMap" => {
                                let json = self.json_value(tk, tv)?;
                                let Some(object) = json.as_object() else {
                                    return Err(self.err(
                                        value_location(tk, tv),
                                        "`inputPathsMap` must be a mapping of names to paths like `$.detail.id`",
                                    ));
                                };
                                paths = object.clone();
                            }
                            "inputTemplate" => template = Some(self.string(tk, tv)?),
                            _ => {
                                return Err(self.unknown_key(
                                    tk,
                                    &format!("in the `inputTransformer` of function `{function}`"),
                                    TRANSFORMER_KEYS,
                                ));
                            }
                        }
                    }
                    let template = template.ok_or_else(|| {
                        self.err(
                            key_location(k),
                            format!("missing required key `inputTemplate` in the `inputTransformer` of function `{function}`"),
                        )
                    })?;
                    let text =
                        serde_json::json!({"inputPathsMap": paths, "inputTemplate": template})
                            .to_string();
                    crate::transform::InputTransformer::parse(&text).map_err(|e| {
                        self.err(
                            value_location(k, v),
                            format!("invalid `inputTransformer`: {e}"),
                        )
                    })?;
                    transformer = Some(text);
                }
                _ => {
                    return Err(self.unknown_key(
                        k,
                        &format!("in the `eventBridge` event of function `{function}`"),
                        BUS_KEYS,
                    ));
                }
            }
        }
        let pattern = pattern.ok_or_else(|| {
            self.err(
                at,
                format!("missing required key `pattern` in the `eventBridge` event of function `{function}`"),
            )
        })?;
        let given = [input.is_some(), input_path.is_some(), transformer.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(self.err(
                at,
                format!(
                    "the `eventBridge` event of function `{function}` may have only one of `input`, `inputPath` and `inputTransformer`"
                ),
            ));
        }
        Ok(BusSource {
            bus,
            pattern,
            input,
            input_path,
            input_transformer: transformer,
        })
    }

    /// `maximumRetryAttempts`, `maximumEventAge`, `destinations`, `onError`
    /// into `config`.
    pub(super) fn async_setting(
        &self,
        function: &str,
        key: &MarkedScalarNode,
        value: &Node,
        config: &mut AsyncConfig,
    ) -> Result<()> {
        match key.as_str() {
            "maximumRetryAttempts" => {
                config.maximum_retry_attempts =
                    Some(self.bounded(key, value, 0..=i128::from(MAX_RETRY_ATTEMPTS))?);
            }
            "maximumEventAge" => {
                config.maximum_event_age = Some(self.bounded(
                    key,
                    value,
                    i128::from(MIN_EVENT_AGE_SECS)..=i128::from(MAX_EVENT_AGE_SECS),
                )?);
            }
            "onError" => {
                let text = self.non_empty_string(key, value)?;
                let target =
                    TargetRef::parse(&text).map_err(|m| self.err(value_location(key, value), m))?;
                if !matches!(target, TargetRef::Queue(_) | TargetRef::Topic(_)) {
                    return Err(self.err(
                        value_location(key, value),
                        format!(
                            "`onError` (the dead-letter queue) of function `{function}` must be an SQS queue or SNS topic ARN, found `{text}`"
                        ),
                    ));
                }
                config.dead_letter = Some(target);
            }
            "destinations" => {
                let map = self.expect_mapping(
                    key,
                    value,
                    "`destinations` must be a mapping with `onSuccess` and/or `onFailure`",
                )?;
                for (k, v) in map.iter() {
                    let text = self.non_empty_string(k, v)?;
                    let target =
                        TargetRef::parse(&text).map_err(|m| self.err(value_location(k, v), m))?;
                    if target == TargetRef::Function(function.to_string()) {
                        return Err(self.err(
                            value_location(k, v),
                            format!("function `{function}` cannot be its own destination"),
                        ));
                    }
                    match k.as_str() {
                        "onSuccess" => config.on_success = Some(target),
                        "onFailure" => config.on_failure = Some(target),
                        _ => {
                            return Err(self.unknown_key(
                                k,
                                &format!("in the `destinations` of function `{function}`"),
                                DESTINATION_KEYS,
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
