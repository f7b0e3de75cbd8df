//! Topics (SNS): topics and subscriptions, publish, fan-out to
//! subscriptions with filter policies, and the HTTP delivery loop.
//!
//! OWNER: the SNS work package. [`Sns::publish`] and [`PublishMessage`]
//! are used by the bus and destinations; keep their shape.
//!
//! A publication reaches every subscription whose filter policy matches:
//! the subscriptions made through the API (`Subscribe`) and those of the
//! current functions' manifests (`events: - sns: ...`, whose endpoint is
//! the function). Before `publish` answers, each delivery is durable:
//!
//! - `lambda`: an asynchronous invocation (`Engine::invoke_async`) with
//!   Lambda's SNS event (`{"Records":[{"EventSource":"aws:sns",...}]}`);
//! - `sqs`: a message (`Events::send_message`) whose body is SNS's JSON
//!   envelope, or the raw message and its attributes with
//!   `RawMessageDelivery`;
//! - `http`/`https`: a row of the outbox, committed with the publication
//!   (and its FIFO deduplication entry); the delivery loop POSTs it with
//!   SNS's headers, retrying with backoff ([`RETRY_DELAYS_MS`]) and dropping
//!   it with a warning after the last attempt.
//!
//! HTTP subscriptions are confirmed at once: Stratus sends no
//! `SubscriptionConfirmation` message (real SNS does, and waits for
//! `ConfirmSubscription`).
//!
//! Messages carry no real signature: `Signature` is a digest of the
//! message and `SigningCertURL` names no certificate, so receivers must not
//! verify SNS signatures against Stratus.

use crate::{ErrorKind, EventOrigin, MessageAttribute, SendMessage, ServiceError, Sns, now_ms};
use base64::Engine as _;
use bytes::Bytes;
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stratus_core::filter_policy::{FilterAttribute, FilterPolicy, FilterScope};
use stratus_core::function::{ACCOUNT_ID, topic_arn};
use stratus_engine::{EngineError, Qualifier};
use stratus_store::{
    NewSubscription, NewTopicDelivery, StoreError, SubscriptionRecord, TopicDelivery,
};
use tokio::sync::Notify;

/// A message to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishMessage {
    /// The message text.
    pub message: String,
    /// The subject, if any.
    pub subject: Option<String>,
    /// Message attributes.
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// FIFO topics: the message group.
    pub group_id: Option<String>,
    /// FIFO topics: the deduplication id.
    pub dedup_id: Option<String>,
}

/// Largest message, attributes included (SNS's limit).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// How long a FIFO topic remembers a deduplication id.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Delays before the 2nd, 3rd, ... attempt of an HTTP delivery; after the
/// last one the delivery is dropped with a warning.
pub const RETRY_DELAYS_MS: &[i64] = &[
    50, 200, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000,
];
/// Time limit of one HTTP delivery attempt.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The protocols a subscription may use.
pub const PROTOCOLS: &[&str] = &["lambda", "sqs", "http", "https"];
/// Page size of the list operations (SNS's).
const PAGE: usize = 100;
/// How often the delivery loop looks for due deliveries at the latest.
const DELIVERY_POLL: Duration = Duration::from_millis(250);
/// Deliveries attempted at once.
const DELIVERY_BATCH: usize = 32;
/// A claimed delivery runs again after this long if the process died.
const DELIVERY_LEASE_MS: i64 = 60_000;

const TOPIC_ATTRIBUTES: &[&str] = &[
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "TracingConfig",
    "SignatureVersion",
    "ContentBasedDeduplication",
    "FifoTopic",
    "ArchivePolicy",
    "FifoThroughputScope",
    "DataProtectionPolicy",
];
const SUBSCRIPTION_ATTRIBUTES: &[&str] = &[
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "DeliveryPolicy",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

/// In-memory state of topics: the manifest subscriptions of the current
/// deploy generation, and the delivery loop's wake-up.
#[derive(Default)]
pub(crate) struct TopicState {
    manifest: Mutex<Option<(u64, Arc<ManifestSubscriptions>)>>,
    wake: Notify,
}

/// Topic name to the functions subscribed in their manifests.
type ManifestSubscriptions = HashMap<String, Vec<ManifestSubscription>>;

struct ManifestSubscription {
    function: String,
    arn: String,
    policy: Option<FilterPolicy>,
}

/// A subscription as the fan-out sees it.
struct Target {
    arn: String,
    protocol: String,
    endpoint: String,
    raw: bool,
    policy: Option<FilterPolicy>,
}

fn sns_invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("InvalidParameter", message)
}

fn topic_not_found(name: &str) -> ServiceError {
    ServiceError::not_found("NotFound", format!("Topic does not exist: {name}"))
}

fn sns_store(context: &'static str, error: ServiceError) -> ServiceError {
    match error.kind {
        ErrorKind::NotFound => ServiceError::not_found("NotFound", error.message),
        ErrorKind::Invalid => sns_invalid(error.message),
        _ => {
            let _ = context;
            error
        }
    }
}

/// The topic name of a topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`).
pub fn topic_name_from_arn(arn: &str) -> Result<&str, ServiceError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "sns", _, _, name] if !name.is_empty() && !name.contains(':') => Ok(name),
        _ => Err(sns_invalid(format!(
            "Invalid parameter: TopicArn: `{arn}` is not a topic ARN"
        ))),
    }
}

/// Checks a topic name (1-256 letters, digits, `-`, `_`; FIFO topics end
/// with `.fifo`).
pub fn validate_topic_name(name: &str, fifo: bool) -> Result<(), ServiceError> {
    let stem = if fifo {
        name.strip_suffix(".fifo").ok_or_else(|| {
            sns_invalid("Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.")
        })?
    } else {
        name
    };
    let valid = !stem.is_empty()
        && name.len() <= 256
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(sns_invalid(
            "Invalid parameter: Topic Name must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
        ));
    }
    Ok(())
}

fn is_true(attributes: &BTreeMap<String, String>, key: &str) -> bool {
    attributes
        .get(key)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn check_bool(key: &str, value: &str) -> Result<(), ServiceError> {
    if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
        Ok(())
    } else {
        Err(sns_invalid(format!(
            "Invalid parameter: Attributes Reason: {key}: Invalid value [{value}]. Must be true or false."
        )))
    }
}

fn check_topic_attribute(key: &str, value: &str, fifo: bool) -> Result<(), ServiceError> {
    if !TOPIC_ATTRIBUTES.contains(&key) {
        return Err(sns_invalid(format!(
            "Invalid parameter: AttributeName: unknown topic attribute {key}"
        )));
    }
    match key {
        "FifoTopic" => check_bool(key, value),
        "ContentBasedDeduplication" => {
            check_bool(key, value)?;
            if !fifo && value.eq_ignore_ascii_case("true") {
                return Err(sns_invalid(
                    "Invalid parameter: Attributes Reason: Content based deduplication can only be set for FIFO topics",
                ));
            }
            Ok(())
        }
        "DisplayName" if value.len() > 100 => Err(sns_invalid(
            "Invalid parameter: DisplayName: at most 100 characters",
        )),
        _ => Ok(()),
    }
}

/// Checks a subscription's attributes together (the policy against its
/// scope).
fn check_subscription_attributes(
    attributes: &BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    for (key, value) in attributes {
        if !SUBSCRIPTION_ATTRIBUTES.contains(&key.as_str()) {
            return Err(sns_invalid(format!(
                "Invalid parameter: AttributeName: unknown subscription attribute {key}"
            )));
        }
        if key == "RawMessageDelivery" {
            check_bool(key, value)?;
        }
    }
    filter_of(attributes)?;
    Ok(())
}

/// The subscription's filter policy, if it has one.
fn filter_of(attributes: &BTreeMap<String, String>) -> Result<Option<FilterPolicy>, ServiceError> {
    let scope = match attributes.get("FilterPolicyScope") {
        Some(scope) => FilterScope::parse(scope)
            .map_err(|e| sns_invalid(format!("Invalid parameter: {}", e.0)))?,
        None => FilterScope::MessageAttributes,
    };
    match attributes
        .get("FilterPolicy")
        .filter(|p| !p.trim().is_empty())
    {
        Some(policy) => FilterPolicy::parse(policy, scope)
            .map(Some)
            .map_err(|e| sns_invalid(e.to_string())),
        None => Ok(None),
    }
}

/// The function name of a Lambda ARN or a plain name.
fn function_of(endpoint: &str) -> Option<&str> {
    if !endpoint.starts_with("arn:") {
        return Some(endpoint).filter(|e| !e.is_empty());
    }
    let parts: Vec<&str> = endpoint.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, ..] if !name.is_empty() => Some(name),
        _ => None,
    }
}

/// The queue name of an SQS ARN.
fn queue_of(endpoint: &str) -> Option<&str> {
    let parts: Vec<&str> = endpoint.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "sqs", _, _, name] if !name.is_empty() => Some(name),
        _ => None,
    }
}

fn check_endpoint(protocol: &str, endpoint: &str) -> Result<(), ServiceError> {
    let ok = match protocol {
        "lambda" => function_of(endpoint).is_some(),
        "sqs" => queue_of(endpoint).is_some(),
        "http" => endpoint.starts_with("http://") && endpoint.len() > 7,
        "https" => endpoint.starts_with("https://") && endpoint.len() > 8,
        _ => {
            return Err(sns_invalid(format!(
                "Invalid parameter: Amazon SNS does not support this protocol string: {protocol} (Stratus supports {})",
                PROTOCOLS.join(", ")
            )));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(sns_invalid(format!(
            "Invalid parameter: Endpoint: `{endpoint}` is not a valid {protocol} endpoint"
        )))
    }
}

/// Checks a message's attributes and returns their size in bytes.
fn check_attributes(
    attributes: &BTreeMap<String, MessageAttribute>,
) -> Result<usize, ServiceError> {
    let mut size = 0;
    for (name, attribute) in attributes {
        let bad = |why: &str| {
            ServiceError::invalid(
                "ParameterValueInvalid",
                format!("The message attribute '{name}' {why}"),
            )
        };
        if name.is_empty() || name.len() > 256 {
            return Err(bad("has an invalid name"));
        }
        let base = attribute.data_type.split('.').next().unwrap_or("");
        let array = attribute.data_type == "String.Array";
        match base {
            "String" | "Number" => {
                let Some(value) = &attribute.string_value else {
                    return Err(bad(
                        "must contain a non-empty value of message attribute type 'String'",
                    ));
                };
                if base == "Number" && !array && value.trim().parse::<f64>().is_err() {
                    return Err(bad(&format!("has an invalid numeric value: {value}")));
                }
                if array
                    && !matches!(
                        serde_json::from_str::<serde_json::Value>(value),
                        Ok(serde_json::Value::Array(_))
                    )
                {
                    return Err(bad("of type String.Array must hold a JSON array"));
                }
                size += value.len();
            }
            "Binary" => {
                let Some(value) = &attribute.binary_value else {
                    return Err(bad(
                        "must contain a non-empty value of message attribute type 'Binary'",
                    ));
                };
                size += value.len();
            }
            _ => {
                return Err(bad(
                    "has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.",
                ));
            }
        }
        size += name.len() + attribute.data_type.len();
    }
    Ok(size)
}

/// `{"name": {"Type": ..., "Value": ...}}`, as SNS's envelopes carry them.
fn attributes_json(attributes: &BTreeMap<String, MessageAttribute>) -> serde_json::Value {
    let map = attributes
        .iter()
        .map(|(name, a)| {
            let value = match (&a.string_value, &a.binary_value) {
                (Some(s), _) => s.clone(),
                (None, Some(b)) => base64::engine::general_purpose::STANDARD.encode(b),
                (None, None) => String::new(),
            };
            (
                name.clone(),
                serde_json::json!({"Type": a.data_type, "Value": value}),
            )
        })
        .collect::<serde_json::Map<_, _>>();
    serde_json::Value::Object(map)
}

/// One publication being fanned out.
struct Publication<'a> {
    topic_arn: String,
    message_id: String,
    timestamp: String,
    message: &'a PublishMessage,
    endpoint_url: &'a str,
    sequence_number: Option<String>,
}

impl Publication<'_> {
    fn signature(&self) -> String {
        let digest = sha2::Sha256::digest(
            format!(
                "{}\n{}\n{}",
                self.message_id, self.topic_arn, self.message.message
            )
            .as_bytes(),
        );
        base64::engine::general_purpose::STANDARD.encode(digest)
    }

    fn unsubscribe_url(&self, subscription: &str) -> String {
        format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={subscription}",
            self.endpoint_url
        )
    }

    fn cert_url(&self) -> String {
        format!(
            "{}/SimpleNotificationService-stratus.pem",
            self.endpoint_url
        )
    }

    /// SNS's JSON envelope, as SQS queues and HTTP endpoints get it.
    fn envelope(&self, subscription: &str) -> String {
        let mut doc = serde_json::Map::new();
        doc.insert("Type".into(), "Notification".into());
        doc.insert("MessageId".into(), self.message_id.clone().into());
        if let Some(seq) = &self.sequence_number {
            doc.insert("SequenceNumber".into(), seq.clone().into());
        }
        doc.insert("TopicArn".into(), self.topic_arn.clone().into());
        if let Some(subject) = &self.message.subject {
            doc.insert("Subject".into(), subject.clone().into());
        }
        doc.insert("Message".into(), self.message.message.clone().into());
        doc.insert("Timestamp".into(), self.timestamp.clone().into());
        doc.insert("SignatureVersion".into(), "1".into());
        doc.insert("Signature".into(), self.signature().into());
        doc.insert("SigningCertURL".into(), self.cert_url().into());
        doc.insert(
            "UnsubscribeURL".into(),
            self.unsubscribe_url(subscription).into(),
        );
        if !self.message.attributes.is_empty() {
            doc.insert(
                "MessageAttributes".into(),
                attributes_json(&self.message.attributes),
            );
        }
        serde_json::Value::Object(doc).to_string()
    }

    /// Lambda's SNS event.
    fn lambda_event(&self, subscription: &str) -> String {
        serde_json::json!({
            "Records": [{
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": self.message_id,
                    "TopicArn": self.topic_arn,
                    "Subject": self.message.subject,
                    "Message": self.message.message,
                    "Timestamp": self.timestamp,
                    "SignatureVersion": "1",
                    "Signature": self.signature(),
                    "SigningCertUrl": self.cert_url(),
                    "UnsubscribeUrl": self.unsubscribe_url(subscription),
                    "MessageAttributes": attributes_json(&self.message.attributes),
                }
            }]
        })
        .to_string()
    }

    fn matches(&self, policy: Option<&FilterPolicy>) -> bool {
        policy.is_none_or(|policy| {
            policy.matches(
                &self.message.message,
                self.message
                    .attributes
                    .iter()
                    .map(|(name, a)| FilterAttribute {
                        name,
                        data_type: &a.data_type,
                        value: a.string_value.as_deref(),
                    }),
            )
        })
    }
}

pub(crate) fn spawn(events: &Sns) {
    let deliveries = events.clone();
    events
        .tasks()
        .spawn(async move { deliveries.delivery_loop().await });
    let deploys = events.clone();
    events
        .tasks()
        .spawn(async move { deploys.manifest_topics_loop().await });
}

impl Sns {
    /// Creates a topic (idempotent: an existing one's ARN is returned).
    /// `FifoTopic=true` needs a name ending with `.fifo`.
    pub async fn create_topic(
        &self,
        name: &str,
        mut attributes: BTreeMap<String, String>,
    ) -> Result<String, ServiceError> {
        let fifo = is_true(&attributes, "FifoTopic");
        if name.ends_with(".fifo") && !fifo {
            return Err(sns_invalid(
                "Invalid parameter: Topic Name: a topic name ending with .fifo needs the attribute FifoTopic=true",
            ));
        }
        validate_topic_name(name, fifo)?;
        for (key, value) in &attributes {
            check_topic_attribute(key, value, fifo)?;
        }
        attributes.remove("FifoTopic");
        let owned = name.to_string();
        let (record, _) = self
            .blocking("creating a topic", move |store| {
                store.create_topic(&owned, fifo, &attributes, now_ms())
            })
            .await?;
        if record.fifo != fifo {
            return Err(sns_invalid(
                "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
            ));
        }
        Ok(topic_arn(name))
    }

    /// Deletes a topic and its subscriptions (no error if there is none,
    /// as on SNS).
    pub async fn delete_topic(&self, name: &str) -> Result<(), ServiceError> {
        let owned = name.to_string();
        self.blocking("deleting a topic", move |store| store.delete_topic(&owned))
            .await?;
        Ok(())
    }

    /// A topic's attributes, as GetTopicAttributes answers them.
    pub async fn topic_attributes(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, String>, ServiceError> {
        let owned = name.to_string();
        let (topic, subscriptions) = self
            .blocking("reading a topic", move |store| {
                let topic = store.topic(&owned)?;
                let count = match &topic {
                    Some(_) => store.topic_subscriptions(&owned)?.len(),
                    None => 0,
                };
                Ok((topic, count))
            })
            .await?;
        let topic = topic.ok_or_else(|| topic_not_found(name))?;
        let manifest = self.manifest_subscriptions().get(name).map_or(0, Vec::len);
        let arn = topic_arn(name);
        let mut out = BTreeMap::from([
            ("TopicArn".to_string(), arn.clone()),
            ("Owner".to_string(), ACCOUNT_ID.to_string()),
            ("DisplayName".to_string(), String::new()),
            (
                "SubscriptionsConfirmed".to_string(),
                (subscriptions + manifest).to_string(),
            ),
            ("SubscriptionsPending".to_string(), "0".to_string()),
            ("SubscriptionsDeleted".to_string(), "0".to_string()),
            (
                "Policy".to_string(),
                serde_json::json!({
                    "Version": "2008-10-17",
                    "Id": "__default_policy_ID",
                    "Statement": [{
                        "Sid": "__default_statement_ID",
                        "Effect": "Allow",
                        "Principal": {"AWS": "*"},
                        "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes"],
                        "Resource": arn,
                    }]
                })
                .to_string(),
            ),
        ]);
        if topic.fifo {
            out.insert("FifoTopic".into(), "true".into());
            out.insert("ContentBasedDeduplication".into(), "false".into());
        }
        out.extend(topic.attributes);
        Ok(out)
    }

    /// Sets one attribute of a topic.
    pub async fn set_topic_attribute(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ServiceError> {
        let owned = name.to_string();
        let topic = self
            .blocking("reading a topic", move |store| store.topic(&owned))
            .await?
            .ok_or_else(|| topic_not_found(name))?;
        if key == "FifoTopic" {
            return Err(sns_invalid(
                "Invalid parameter: AttributeName: FifoTopic cannot be changed",
            ));
        }
        check_topic_attribute(key, value, topic.fifo)?;
        let mut attributes = topic.attributes;
        attributes.insert(key.to_string(), value.to_string());
        let owned = name.to_string();
        self.blocking("setting a topic's attributes", move |store| {
            store.set_topic_attributes(&owned, &attributes)
        })
        .await
        .map_err(|e| sns_store("setting a topic's attributes", e))
    }

    /// A page of topic ARNs and the token of the next page.
    pub async fn list_topics(
        &self,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), ServiceError> {
        let after = next_token.map(str::to_string);
        let topics = self
            .blocking("listing topics", move |store| {
                store.list_topics(after.as_deref(), PAGE + 1)
            })
            .await?;
        let more = topics.len() > PAGE;
        let names: Vec<String> = topics.into_iter().take(PAGE).map(|t| t.name).collect();
        let token = more.then(|| names.last().cloned()).flatten();
        Ok((names.iter().map(|n| topic_arn(n)).collect(), token))
    }

    /// Subscribes `endpoint` over `protocol` to topic `topic`; confirmed at
    /// once (idempotent for the same protocol and endpoint).
    pub async fn subscribe(
        &self,
        topic: &str,
        protocol: &str,
        endpoint: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<SubscriptionRecord, ServiceError> {
        check_endpoint(protocol, endpoint)?;
        check_subscription_attributes(&attributes)?;
        let new = NewSubscription {
            arn: format!("{}:{}", topic_arn(topic), uuid::Uuid::new_v4()),
            topic: topic.to_string(),
            protocol: protocol.to_string(),
            endpoint: endpoint.to_string(),
            attributes,
        };
        let (record, _) = self
            .blocking("subscribing", move |store| store.subscribe(&new, now_ms()))
            .await
            .map_err(|e| sns_store("subscribing", e))?;
        tracing::info!(topic, protocol, endpoint, arn = %record.arn, "subscribed");
        Ok(record)
    }

    /// Deletes a subscription. `NotFound` if there is none.
    pub async fn unsubscribe(&self, arn: &str) -> Result<(), ServiceError> {
        let owned = arn.to_string();
        let deleted = self
            .blocking("unsubscribing", move |store| store.unsubscribe(&owned))
            .await?;
        if !deleted {
            return Err(ServiceError::not_found(
                "NotFound",
                format!("Subscription does not exist: {arn}"),
            ));
        }
        Ok(())
    }

    /// A page of subscriptions (of one topic if given; `NotFound` if that
    /// topic does not exist) and the token of the next page.
    pub async fn list_subscriptions(
        &self,
        topic: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<(Vec<SubscriptionRecord>, Option<String>), ServiceError> {
        let topic = topic.map(str::to_string);
        let after = next_token.map(str::to_string);
        let missing = topic.clone();
        let subscriptions = self
            .blocking("listing subscriptions", move |store| {
                if let Some(name) = &topic
                    && store.topic(name)?.is_none()
                {
                    return Err(StoreError::NotFound(format!(
                        "Topic does not exist: {name}"
                    )));
                }
                store.list_subscriptions(topic.as_deref(), after.as_deref(), PAGE + 1)
            })
            .await
            .map_err(|e| match (e.kind, &missing) {
                (ErrorKind::NotFound, Some(name)) => topic_not_found(name),
                _ => e,
            })?;
        let more = subscriptions.len() > PAGE;
        let page: Vec<_> = subscriptions.into_iter().take(PAGE).collect();
        let token = more.then(|| page.last().map(|s| s.arn.clone())).flatten();
        Ok((page, token))
    }

    /// A subscription's attributes, as GetSubscriptionAttributes answers
    /// them.
    pub async fn subscription_attributes(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, ServiceError> {
        let owned = arn.to_string();
        let record = self
            .blocking("reading a subscription", move |store| {
                store.subscription(&owned)
            })
            .await?
            .ok_or_else(|| {
                ServiceError::not_found("NotFound", format!("Subscription does not exist: {arn}"))
            })?;
        let mut out = BTreeMap::from([
            ("SubscriptionArn".to_string(), record.arn.clone()),
            ("TopicArn".to_string(), topic_arn(&record.topic)),
            ("Protocol".to_string(), record.protocol.clone()),
            ("Endpoint".to_string(), record.endpoint.clone()),
            ("Owner".to_string(), ACCOUNT_ID.to_string()),
            (
                "ConfirmationWasAuthenticated".to_string(),
                "true".to_string(),
            ),
            ("PendingConfirmation".to_string(), "false".to_string()),
            ("RawMessageDelivery".to_string(), "false".to_string()),
        ]);
        if record.attributes.contains_key("FilterPolicy") {
            out.insert("FilterPolicyScope".into(), "MessageAttributes".into());
        }
        out.extend(record.attributes);
        Ok(out)
    }

    /// Sets one attribute of a subscription (an empty `FilterPolicy`
    /// removes the policy).
    pub async fn set_subscription_attribute(
        &self,
        arn: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ServiceError> {
        let owned = arn.to_string();
        let record = self
            .blocking("reading a subscription", move |store| {
                store.subscription(&owned)
            })
            .await?
            .ok_or_else(|| {
                ServiceError::not_found("NotFound", format!("Subscription does not exist: {arn}"))
            })?;
        let mut attributes = record.attributes;
        if key == "FilterPolicy" && value.trim().is_empty() {
            attributes.remove("FilterPolicy");
        } else {
            attributes.insert(key.to_string(), value.to_string());
        }
        check_subscription_attributes(&attributes)?;
        let owned = arn.to_string();
        self.blocking("setting a subscription's attributes", move |store| {
            store.set_subscription_attributes(&owned, &attributes)
        })
        .await
        .map_err(|e| sns_store("setting a subscription's attributes", e))
    }

    /// Publishes to topic `topic` (by name) and returns the message id; every
    /// matching subscription's delivery is durable when it returns.
    /// `NotFound` for an unknown topic.
    pub async fn publish(
        &self,
        topic: &str,
        message: PublishMessage,
    ) -> Result<String, ServiceError> {
        if message.message.is_empty() {
            return Err(sns_invalid("Invalid parameter: Empty message"));
        }
        let size = message.message.len() + check_attributes(&message.attributes)?;
        if size > MAX_MESSAGE_BYTES {
            return Err(sns_invalid(format!(
                "Invalid parameter: Message too long: {size} bytes with attributes; the limit is {MAX_MESSAGE_BYTES}"
            )));
        }
        if let Some(subject) = &message.subject
            && (subject.is_empty()
                || subject.len() > 100
                || subject.chars().any(|c| c.is_control()))
        {
            return Err(sns_invalid(
                "Invalid parameter: Subject: must be 1-100 printable characters without line breaks",
            ));
        }
        let owned = topic.to_string();
        let (record, subscriptions) = self
            .blocking("reading a topic", move |store| {
                let Some(record) = store.topic(&owned)? else {
                    return Ok((None, Vec::new()));
                };
                Ok((Some(record), store.topic_subscriptions(&owned)?))
            })
            .await?;
        let record = record.ok_or_else(|| topic_not_found(topic))?;

        let mut dedup = None;
        if record.fifo {
            if message.group_id.as_deref().is_none_or(str::is_empty) {
                return Err(sns_invalid(
                    "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
                ));
            }
            let id = match &message.dedup_id {
                Some(id) => id.clone(),
                None if is_true(&record.attributes, "ContentBasedDeduplication") => {
                    hex::encode(sha2::Sha256::digest(message.message.as_bytes()))
                }
                None => {
                    return Err(sns_invalid(
                        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ));
                }
            };
            let (owned, key) = (topic.to_string(), id.clone());
            if let Some(earlier) = self
                .blocking("reading a topic's deduplication window", move |store| {
                    store.topic_duplicate(&owned, &key, now_ms())
                })
                .await?
            {
                return Ok(earlier);
            }
            dedup = Some(id);
        } else if message.group_id.is_some() || message.dedup_id.is_some() {
            return Err(sns_invalid(
                "Invalid parameter: MessageGroupId and MessageDeduplicationId are only for FIFO topics",
            ));
        }

        let now = now_ms();
        let publication = Publication {
            topic_arn: topic_arn(topic),
            message_id: uuid::Uuid::new_v4().to_string(),
            timestamp: chrono::DateTime::from_timestamp_millis(now)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            message: &message,
            endpoint_url: &self.config().endpoint_url,
            sequence_number: record
                .fifo
                .then(|| format!("{:020}", now.max(0) as u64 * 1000)),
        };

        let mut targets = Vec::new();
        for sub in subscriptions {
            let policy = match filter_of(&sub.attributes) {
                Ok(policy) => policy,
                Err(error) => {
                    tracing::warn!(subscription = %sub.arn, %error, "skipping a subscription with a bad filter policy");
                    continue;
                }
            };
            targets.push(Target {
                raw: is_true(&sub.attributes, "RawMessageDelivery"),
                arn: sub.arn,
                protocol: sub.protocol,
                endpoint: sub.endpoint,
                policy,
            });
        }
        if let Some(manifest) = self.manifest_subscriptions().get(topic) {
            for sub in manifest {
                targets.push(Target {
                    arn: sub.arn.clone(),
                    protocol: "lambda".into(),
                    endpoint: sub.function.clone(),
                    raw: false,
                    policy: sub.policy.clone(),
                });
            }
        }

        let mut http = Vec::new();
        for target in targets {
            if !publication.matches(target.policy.as_ref()) {
                continue;
            }
            match target.protocol.as_str() {
                "lambda" => self.deliver_to_function(&publication, &target).await?,
                "sqs" => self.deliver_to_queue(&publication, &target).await?,
                _ => http.push(http_delivery(&publication, &target)),
            }
            self.metrics().delivered("sns", topic, 1);
        }
        let wake = !http.is_empty();
        let (owned, message_id) = (topic.to_string(), publication.message_id.clone());
        let earlier = self
            .blocking("committing a publication", move |store| {
                let dedup = dedup
                    .as_deref()
                    .map(|id| (id, message_id.as_str(), now + DEDUP_WINDOW_MS));
                store.commit_publication(&owned, dedup, &http, now)
            })
            .await?;
        if wake {
            self.state.wake.notify_one();
        }
        Ok(earlier.unwrap_or(publication.message_id))
    }

    async fn deliver_to_function(
        &self,
        publication: &Publication<'_>,
        target: &Target,
    ) -> Result<(), ServiceError> {
        let Some(function) = function_of(&target.endpoint) else {
            tracing::warn!(subscription = %target.arn, endpoint = %target.endpoint, "dropping a delivery to a bad Lambda endpoint");
            return Ok(());
        };
        let origin = EventOrigin {
            kind: "aws.sns.notification".into(),
            source: publication.topic_arn.clone(),
            id: Some(publication.message_id.clone()),
        };
        let payload = Bytes::from(publication.lambda_event(&target.arn));
        match self
            .engine()
            .invoke_async(function, Qualifier::Latest, payload, origin.headers())
            .await
        {
            Ok(_) => Ok(()),
            Err(EngineError::NotFound(_)) => {
                tracing::warn!(subscription = %target.arn, function, message_id = %publication.message_id, "dropping a topic message for a function that does not exist");
                Ok(())
            }
            Err(EngineError::PayloadTooLarge { size, limit }) => {
                tracing::warn!(subscription = %target.arn, function, size, limit, "dropping a topic message too large for the function");
                Ok(())
            }
            Err(error) => Err(ServiceError::engine(
                "queuing a topic message for a function",
                error,
            )),
        }
    }

    async fn deliver_to_queue(
        &self,
        publication: &Publication<'_>,
        target: &Target,
    ) -> Result<(), ServiceError> {
        let Some(queue) = queue_of(&target.endpoint) else {
            tracing::warn!(subscription = %target.arn, endpoint = %target.endpoint, "dropping a delivery to a bad SQS endpoint");
            return Ok(());
        };
        let fifo = queue.ends_with(".fifo");
        let message = SendMessage {
            body: if target.raw {
                publication.message.message.clone()
            } else {
                publication.envelope(&target.arn)
            },
            attributes: if target.raw {
                publication.message.attributes.clone()
            } else {
                BTreeMap::new()
            },
            group_id: fifo.then(|| {
                publication
                    .message
                    .group_id
                    .clone()
                    .unwrap_or_else(|| publication.topic_arn.clone())
            }),
            dedup_id: fifo.then(|| publication.message_id.clone()),
            ..SendMessage::default()
        };
        match self.deliverer()?.send_to_queue(queue, message).await {
            Ok(_) => Ok(()),
            Err(error) if error.kind == ErrorKind::Internal => Err(error),
            Err(error) => {
                tracing::warn!(subscription = %target.arn, queue, %error, message_id = %publication.message_id, "dropping a topic message the queue refused");
                Ok(())
            }
        }
    }

    /// The manifest subscriptions of the current deploy generation.
    fn manifest_subscriptions(&self) -> Arc<ManifestSubscriptions> {
        let generation = *self.engine().subscribe_deploys().borrow();
        let mut cache = self
            .state
            .manifest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached, subs)) = cache.as_ref()
            && *cached == generation
        {
            return subs.clone();
        }
        let mut subs = ManifestSubscriptions::new();
        for function in self.engine().functions() {
            for source in &function.config.events.sns {
                let scope = match source
                    .filter_policy_scope
                    .as_deref()
                    .map(FilterScope::parse)
                {
                    None => FilterScope::MessageAttributes,
                    Some(Ok(scope)) => scope,
                    Some(Err(error)) => {
                        tracing::warn!(function = %function.name, topic = %source.topic, %error, "ignoring a manifest subscription");
                        continue;
                    }
                };
                let policy = match source
                    .filter_policy
                    .as_deref()
                    .map(|p| FilterPolicy::parse(p, scope))
                {
                    None => None,
                    Some(Ok(policy)) => Some(policy),
                    Some(Err(error)) => {
                        tracing::warn!(function = %function.name, topic = %source.topic, %error, "ignoring a manifest subscription");
                        continue;
                    }
                };
                subs.entry(source.topic.clone())
                    .or_default()
                    .push(ManifestSubscription {
                        arn: format!("{}:{}", topic_arn(&source.topic), function.name),
                        function: function.name.clone(),
                        policy,
                    });
            }
        }
        let subs = Arc::new(subs);
        *cache = Some((generation, subs.clone()));
        subs
    }

    /// After each deploy, creates the topics that manifests subscribe to
    /// and that do not exist yet.
    async fn manifest_topics_loop(self) {
        let mut deploys = self.engine().subscribe_deploys();
        loop {
            let topics: Vec<String> = self.manifest_subscriptions().keys().cloned().collect();
            for topic in topics {
                let fifo = topic.ends_with(".fifo");
                if validate_topic_name(&topic, fifo).is_err() {
                    tracing::warn!(
                        topic,
                        "a manifest subscribes to a topic with an invalid name"
                    );
                    continue;
                }
                let attributes = if fifo {
                    BTreeMap::from([("FifoTopic".to_string(), "true".to_string())])
                } else {
                    BTreeMap::new()
                };
                if let Err(error) = self.create_topic(&topic, attributes).await {
                    tracing::warn!(topic, %error, "could not create a manifest's topic");
                }
            }
            tokio::select! {
                _ = self.cancel().cancelled() => return,
                changed = deploys.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Posts the outbox's due HTTP deliveries until shutdown.
    async fn delivery_loop(self) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        loop {
            let claimed = self
                .blocking("claiming HTTP deliveries", |store| {
                    store.claim_topic_deliveries(now_ms(), DELIVERY_BATCH, DELIVERY_LEASE_MS)
                })
                .await;
            let batch = match claimed {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%error, "could not claim HTTP deliveries");
                    Vec::new()
                }
            };
            let full = batch.len() == DELIVERY_BATCH;
            let attempts = batch.into_iter().map(|delivery| {
                let agent = agent.clone();
                let events = self.clone();
                async move { events.attempt_delivery(agent, delivery).await }
            });
            futures::future::join_all(attempts).await;
            if full {
                continue;
            }
            tokio::select! {
                _ = self.cancel().cancelled() => return,
                _ = self.state.wake.notified() => {}
                _ = tokio::time::sleep(DELIVERY_POLL) => {}
            }
        }
    }

    async fn attempt_delivery(&self, agent: ureq::Agent, delivery: TopicDelivery) {
        let (url, headers, body) = (
            delivery.url.clone(),
            delivery.headers.clone(),
            delivery.body.clone(),
        );
        let outcome = tokio::task::spawn_blocking(move || {
            let mut request = agent.post(&url);
            for (name, value) in &headers {
                request = request.header(name.as_str(), value.as_str());
            }
            request
                .send(body.as_str())
                .map(|response| response.status().as_u16())
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|join| Err(join.to_string()));
        let id = delivery.id;
        let result = match outcome {
            Ok(status) if (200..300).contains(&status) => {
                tracing::debug!(url = %delivery.url, status, "delivered a topic message");
                self.blocking("completing an HTTP delivery", move |store| {
                    store.complete_topic_delivery(id)
                })
                .await
            }
            failed => {
                let why = match failed {
                    Ok(status) => format!("status {status}"),
                    Err(error) => error,
                };
                let attempt = delivery.attempts as usize;
                match RETRY_DELAYS_MS.get(attempt) {
                    Some(delay) => {
                        tracing::debug!(url = %delivery.url, attempt = attempt + 1, %why, "an HTTP delivery failed; retrying");
                        // arn:aws:sns:REGION:ACCOUNT:TOPIC:ID
                        let topic = delivery
                            .subscription_arn
                            .rsplit(':')
                            .nth(1)
                            .unwrap_or_default()
                            .to_string();
                        self.metrics().retried("sns", &topic, 1);
                        let due = now_ms() + delay;
                        self.blocking("rescheduling an HTTP delivery", move |store| {
                            store.retry_topic_delivery(id, due)
                        })
                        .await
                    }
                    None => {
                        tracing::warn!(url = %delivery.url, subscription = %delivery.subscription_arn, attempts = attempt + 1, %why, "dropping an HTTP delivery after its last attempt");
                        self.blocking("dropping an HTTP delivery", move |store| {
                            store.complete_topic_delivery(id)
                        })
                        .await
                    }
                }
            }
        };
        if let Err(error) = result {
            tracing::warn!(%error, "could not record an HTTP delivery's outcome");
        }
    }
}

fn http_delivery(publication: &Publication<'_>, target: &Target) -> NewTopicDelivery {
    let mut headers = vec![
        (
            "content-type".to_string(),
            "text/plain; charset=UTF-8".to_string(),
        ),
        (
            "x-amz-sns-message-type".to_string(),
            "Notification".to_string(),
        ),
        (
            "x-amz-sns-message-id".to_string(),
            publication.message_id.clone(),
        ),
        (
            "x-amz-sns-topic-arn".to_string(),
            publication.topic_arn.clone(),
        ),
        ("x-amz-sns-subscription-arn".to_string(), target.arn.clone()),
        (
            "user-agent".to_string(),
            "Amazon Simple Notification Service Agent".to_string(),
        ),
    ];
    let body = if target.raw {
        headers.push(("x-amz-sns-rawdelivery".to_string(), "true".to_string()));
        publication.message.message.clone()
    } else {
        publication.envelope(&target.arn)
    };
    NewTopicDelivery {
        subscription_arn: target.arn.clone(),
        url: target.endpoint.clone(),
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_endpoints() {
        assert_eq!(
            topic_name_from_arn("arn:aws:sns:us-east-1:000000000000:t").unwrap(),
            "t"
        );
        assert!(topic_name_from_arn("arn:aws:sqs:us-east-1:000000000000:t").is_err());
        assert!(topic_name_from_arn("t").is_err());
        assert!(validate_topic_name("ok-name_1", false).is_ok());
        assert!(validate_topic_name("bad name", false).is_err());
        assert!(validate_topic_name("", false).is_err());
        assert!(validate_topic_name("x.fifo", true).is_ok());
        assert!(validate_topic_name("x", true).is_err());
        assert!(validate_topic_name(&"a".repeat(257), false).is_err());
        assert_eq!(
            function_of("arn:aws:lambda:us-east-1:000000000000:function:f:3"),
            Some("f")
        );
        assert_eq!(function_of("f"), Some("f"));
        assert_eq!(queue_of("arn:aws:sqs:us-east-1:000000000000:q"), Some("q"));
        assert!(check_endpoint("email", "a@b").is_err());
        assert!(check_endpoint("http", "ftp://x").is_err());
        assert!(check_endpoint("https", "https://x").is_ok());
    }

    #[test]
    fn attribute_checks() {
        let attr = |t: &str, s: Option<&str>, b: Option<&[u8]>| MessageAttribute {
            data_type: t.into(),
            string_value: s.map(str::to_string),
            binary_value: b.map(<[u8]>::to_vec),
        };
        let cases = [
            (attr("String", Some("v"), None), true),
            (attr("Number", Some("1.5"), None), true),
            (attr("Number", Some("x"), None), false),
            (attr("String.Array", Some("[1]"), None), true),
            (attr("String.Array", Some("1"), None), false),
            (attr("Binary", None, Some(b"x")), true),
            (attr("Binary", Some("x"), None), false),
            (attr("Blob", Some("x"), None), false),
            (attr("String", None, None), false),
        ];
        for (attribute, ok) in cases {
            let map = BTreeMap::from([("a".to_string(), attribute.clone())]);
            assert_eq!(check_attributes(&map).is_ok(), ok, "{attribute:?}");
        }
    }
}
