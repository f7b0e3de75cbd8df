//! Topics (SNS): topics and subscriptions, publish, fan-out to
//! subscriptions with filter policies, and the HTTP delivery loop.
//!
//! OWNER: the SNS work package. [`Sns::publish`] and [`PublishMessage`]
//! are used by the bus and destinations; keep their shape.
//!
//! A publication reaches every subscription whose filter policy matches:
//! the subscriptions made through the API (`Subscribe`) and those of the
//! current functions' manifests (`events: - sns: ...`, whose endpoint is
//! the function). Each protocol gets its own message when the publisher
//! sent `MessageStructure=json` (its key, else `default`). Before `publish`
//! answers, each delivery is durable:
//!
//! - `lambda`: an asynchronous invocation (`Engine::invoke_async`) with
//!   Lambda's SNS event (`{"Records":[{"EventSource":"aws:sns",...}]}`);
//! - `sqs`: a message (through the kit's [`Deliver`](stratus_service_kit::Deliver))
//!   whose body is SNS's JSON envelope, or the raw message and its
//!   attributes with `RawMessageDelivery`. A FIFO queue gets the
//!   publisher's `MessageGroupId` and the publication's deduplication id
//!   (the publisher's `MessageDeduplicationId`, or the body's SHA-256 with
//!   `ContentBasedDeduplication`); a standard queue subscribed to a standard
//!   topic gets the publisher's `MessageGroupId` (SQS's fair queues);
//! - `http`/`https`: a row of the outbox, committed with the publication
//!   (and its FIFO deduplication entry); the delivery loop POSTs it with
//!   SNS's headers, retrying with backoff ([`RETRY_DELAYS_MS`]) and dropping
//!   it with a warning after the last attempt;
//! - `email`, `email-json`, `sms`: a row of the local outbox, committed with
//!   the publication: Stratus sends no email and no text message; `stratus
//!   sns outbox` shows what would have been sent.
//!
//! Subscriptions are confirmed at once. A new `http`/`https` subscription
//! is still sent SNS's `SubscriptionConfirmation` message (and a new
//! `email`/`email-json` one gets it in the local outbox), whose `Token`
//! `ConfirmSubscription` accepts, answering the subscription's ARN as AWS
//! does for a confirmed subscription. Its `SubscribeURL` names Stratus's
//! endpoint, which takes only signed requests: a receiver must confirm with
//! `ConfirmSubscription` (an SDK call), not by fetching the URL.
//!
//! Messages carry no real signature: `Signature` is a digest of the
//! message and `SigningCertURL` names no certificate, so receivers must not
//! verify SNS signatures against Stratus.

use crate::backend::{
    Dedup, NewOutboxMessage, NewSubscription, NewTopicDelivery, OutboxKind, OutboxMessage,
    SubscriptionRecord, TopicDelivery,
};
use crate::backend_error;
use crate::policy;
use crate::{ErrorKind, EventOrigin, MessageAttribute, SendMessage, ServiceError, Sns, now_ms};
use base64::Engine as _;
use bytes::Bytes;
use rand::Rng as _;
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stratus_core::arn::Arn;
use stratus_core::events::{SnsEvent, SnsMessageAttribute, SnsNotification};
use stratus_core::filter_policy::{FilterAttribute, FilterPolicy, FilterScope};
use stratus_core::function::{ACCOUNT_ID, topic_arn};
use stratus_core::names;
use stratus_core::scope::ResourceScope;
use stratus_core::scope::{Region, regional_key, split_regional_key};
use stratus_engine::{EngineError, Qualifier};
use tokio::sync::Notify;

/// A message to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishMessage {
    /// The message text (with `MessageStructure=json`, the `default` one).
    pub message: String,
    /// With `MessageStructure=json`: the message of each protocol that has
    /// its own (`sqs`, `lambda`, `http`, `email`, ...); the others get
    /// [`PublishMessage::message`].
    pub per_protocol: BTreeMap<String, String>,
    /// The subject, if any.
    pub subject: Option<String>,
    /// Message attributes.
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// The message group: required on FIFO topics; on standard topics it
    /// reaches standard SQS queues only (fair queues).
    pub group_id: Option<String>,
    /// FIFO topics: the deduplication id.
    pub dedup_id: Option<String>,
}

impl PublishMessage {
    /// The message and the per-protocol messages of a `Message` sent with
    /// `MessageStructure=json`: a JSON object whose string values are the
    /// messages by protocol (other values are ignored, as on SNS), with a
    /// `default` one.
    pub fn structured(json: &str) -> Result<(String, BTreeMap<String, String>), ServiceError> {
        let parsed: serde_json::Value = serde_json::from_str(json).map_err(|_| {
            sns_invalid("Invalid parameter: Message Structure - JSON message body failed to parse")
        })?;
        let serde_json::Value::Object(map) = parsed else {
            return Err(sns_invalid(
                "Invalid parameter: Message Structure - JSON message body failed to parse",
            ));
        };
        let mut per_protocol: BTreeMap<String, String> = map
            .into_iter()
            .filter_map(|(key, value)| match value {
                serde_json::Value::String(text) => Some((key, text)),
                _ => None,
            })
            .collect();
        let default = per_protocol.remove("default").ok_or_else(|| {
            sns_invalid(
                "Invalid parameter: Message Structure - No default entry in JSON message body",
            )
        })?;
        Ok((default, per_protocol))
    }
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
pub const PROTOCOLS: &[&str] = &[
    "lambda",
    "sqs",
    "http",
    "https",
    "email",
    "email-json",
    "sms",
];
/// The protocols whose messages go to the local outbox.
pub const LOCAL_PROTOCOLS: &[&str] = &["email", "email-json", "sms"];
/// Most tags on a topic (SNS's limit).
pub const MAX_TAGS: usize = 50;
/// The subject of emails of publications without one (SNS's).
const DEFAULT_EMAIL_SUBJECT: &str = "AWS Notification Message";
/// Page size of the list operations (SNS's).
const PAGE: usize = 100;
/// How often the delivery loop looks for due deliveries at the latest.
const DELIVERY_POLL: Duration = Duration::from_millis(250);
/// Deliveries attempted at once.
const DELIVERY_BATCH: usize = 32;
/// A claimed delivery runs again after this long if the process died.
const DELIVERY_LEASE_MS: i64 = 60_000;
/// Random bytes of a confirmation token (AWS's tokens are 288 hex digits).
const TOKEN_BYTES: usize = 144;

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

fn topic_not_found() -> ServiceError {
    ServiceError::not_found("NotFound", "Topic does not exist")
}

fn subscription_not_found() -> ServiceError {
    ServiceError::not_found("NotFound", "Subscription does not exist")
}

/// A tagged resource that is not there (SNS's tagging operations).
fn resource_not_found() -> ServiceError {
    ServiceError::not_found("ResourceNotFound", "Resource does not exist")
}

/// A store error in SNS's codes.
fn sns_store(error: ServiceError) -> ServiceError {
    match error.kind {
        ErrorKind::NotFound => ServiceError::not_found("NotFound", error.message),
        ErrorKind::Invalid => sns_invalid(error.message),
        _ => error,
    }
}

/// The ARN in parameter `param`, with SNS's texts for a malformed one.
pub fn parse_arn(param: &str, text: &str) -> Result<Arn, ServiceError> {
    let elements = text.split(':').count();
    if elements < 6 {
        return Err(sns_invalid(format!(
            "Invalid parameter: {param} Reason: An ARN must have at least 6 elements, not {elements}"
        )));
    }
    text.parse()
        .map_err(|_| sns_invalid(format!("Invalid parameter: {param}")))
}

/// The key of the topic named by the topic ARN in parameter `param`:
/// its name in the ARN's region ([`stratus_core::scope::regional_key`]),
/// so each region is its own namespace.
pub fn topic_of(param: &str, text: &str) -> Result<String, ServiceError> {
    let arn = parse_arn(param, text)?;
    arn.as_topic()
        .map(|name| arn.regional_key(name))
        .map_err(|_| sns_invalid(format!("Invalid parameter: {param}")))
}

/// The key of the topic of a subscription ARN
/// (`arn:aws:sns:R:A:TOPIC:ID`), if it is one.
fn topic_of_subscription(arn: &str) -> Option<String> {
    let arn: Arn = arn.parse().ok()?;
    arn.as_subscription()
        .ok()
        .map(|(topic, _)| arn.regional_key(topic))
}

/// The ARN of a subscription to the topic kept under `topic`.
fn subscription_arn(topic: &str, id: &str) -> String {
    let (scope, name) = ResourceScope::of_key(topic);
    Arn::subscription(&scope, name, id).to_string()
}

/// Checks a topic name (SNS's rule and texts).
pub fn validate_topic_name(name: &str, fifo: bool) -> Result<(), ServiceError> {
    names::topic_name(name, fifo).map_err(|e| sns_invalid(e.to_string()))
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
        "Policy" if !policy::is_policy(value) => Err(sns_invalid("Invalid parameter: Policy")),
        "DeliveryPolicy" if !value.is_empty() && !policy::is_policy(value) => {
            Err(sns_invalid("Invalid parameter: DeliveryPolicy"))
        }
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

/// Whether `policy` is the empty policy `{}`, which SNS takes and which
/// lets every message through.
fn is_empty_policy(policy: &str) -> bool {
    matches!(
        serde_json::from_str::<serde_json::Value>(policy),
        Ok(serde_json::Value::Object(map)) if map.is_empty()
    )
}

/// The subscription's filter policy, if it has one that filters.
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
        Some(policy) if is_empty_policy(policy) => Ok(None),
        Some(policy) => FilterPolicy::parse(policy, scope)
            .map(Some)
            .map_err(|e| sns_invalid(e.to_string())),
        None => Ok(None),
    }
}

/// The function name of a Lambda ARN or a plain name.
fn function_of(endpoint: &str) -> Option<String> {
    if !endpoint.starts_with("arn:") {
        return names::function_name(endpoint)
            .is_ok()
            .then(|| endpoint.to_string());
    }
    let arn: Arn = endpoint.parse().ok()?;
    arn.as_function().ok().map(|(name, _)| name.to_string())
}

/// The key of the queue an SQS ARN names (in the ARN's region).
fn queue_of(endpoint: &str) -> Option<String> {
    let arn: Arn = endpoint.parse().ok()?;
    arn.as_queue().ok().map(|name| arn.regional_key(name))
}

/// Whether `endpoint` looks like an email address (SNS takes
/// `local@domain`).
fn is_email(endpoint: &str) -> bool {
    match endpoint.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !endpoint
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// Whether `number` is an E.164 phone number (`+` and up to 15 digits).
fn is_phone_number(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn check_endpoint(protocol: &str, endpoint: &str) -> Result<(), ServiceError> {
    let refusal = match protocol {
        "lambda" => function_of(endpoint)
            .is_none()
            .then(|| "Invalid parameter: Lambda endpoint ARN".to_string()),
        "sqs" => queue_of(endpoint)
            .is_none()
            .then(|| "Invalid parameter: SQS endpoint ARN".to_string()),
        "http" | "https" => {
            let scheme = format!("{protocol}://");
            (!endpoint.starts_with(&scheme) || endpoint.len() == scheme.len()).then(|| {
                "Invalid parameter: Endpoint must match the specified protocol".to_string()
            })
        }
        "email" | "email-json" => {
            (!is_email(endpoint)).then(|| "Invalid parameter: Email address".to_string())
        }
        "sms" => (!is_phone_number(endpoint)).then(|| format!("Invalid SMS endpoint: {endpoint}")),
        _ => Some(format!(
            "Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
        )),
    };
    match refusal {
        Some(message) => Err(sns_invalid(message)),
        None => Ok(()),
    }
}

/// Checks a message group id (1 to 128 letters, digits and punctuation).
fn check_group_id(group: &str) -> Result<(), ServiceError> {
    if group.is_empty() || group.len() > 128 || !group.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(sns_invalid("Invalid parameter: MessageGroupId"));
    }
    Ok(())
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

/// Checks what every publication must be: a message (at most
/// [`MAX_MESSAGE_BYTES`] with its attributes) and a printable subject.
fn check_message(message: &PublishMessage) -> Result<(), ServiceError> {
    if message.message.is_empty() {
        return Err(sns_invalid("Invalid parameter: Empty message"));
    }
    let texts = message.message.len()
        + message
            .per_protocol
            .values()
            .map(String::len)
            .sum::<usize>();
    if texts + check_attributes(&message.attributes)? > MAX_MESSAGE_BYTES {
        return Err(sns_invalid("Invalid parameter: Message too long"));
    }
    if let Some(subject) = &message.subject
        && (subject.is_empty() || subject.len() > 100 || subject.chars().any(|c| c.is_control()))
    {
        return Err(sns_invalid("Invalid parameter: Subject"));
    }
    Ok(())
}

/// A new confirmation token: 288 hex digits, like AWS's.
fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill(&mut bytes[..]);
    hex::encode(bytes)
}

/// The pseudo-signature of a message: a digest, not a certificate's
/// signature.
fn signature(message_id: &str, topic_arn: &str, text: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{message_id}\n{topic_arn}\n{text}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn cert_url(endpoint_url: &str) -> String {
    format!("{endpoint_url}/SimpleNotificationService-stratus.pem")
}

fn unsubscribe_url(endpoint_url: &str, subscription: &str) -> String {
    format!("{endpoint_url}/?Action=Unsubscribe&SubscriptionArn={subscription}")
}

fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The `SubscriptionConfirmation` message of a new subscription.
struct Confirmation<'a> {
    topic_arn: String,
    subscription_arn: &'a str,
    token: &'a str,
    message_id: String,
    timestamp: String,
    endpoint_url: &'a str,
}

impl Confirmation<'_> {
    fn subscribe_url(&self) -> String {
        format!(
            "{}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
            self.endpoint_url, self.topic_arn, self.token
        )
    }

    fn text(&self) -> String {
        format!(
            "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            self.topic_arn
        )
    }

    /// SNS's JSON confirmation, as HTTP endpoints and `email-json` get it.
    fn json(&self) -> String {
        let text = self.text();
        serde_json::json!({
            "Type": "SubscriptionConfirmation",
            "MessageId": self.message_id,
            "Token": self.token,
            "TopicArn": self.topic_arn,
            "Message": text,
            "SubscribeURL": self.subscribe_url(),
            "Timestamp": self.timestamp,
            "SignatureVersion": "1",
            "Signature": signature(&self.message_id, &self.topic_arn, &text),
            "SigningCertURL": cert_url(self.endpoint_url),
        })
        .to_string()
    }

    /// The confirmation email's text.
    fn email(&self) -> String {
        format!(
            "You have chosen to subscribe to the topic:\n{}\n\nTo confirm this subscription, click or visit the link below (If this was in error no action is necessary):\nConfirm subscription: {}\n",
            self.topic_arn,
            self.subscribe_url()
        )
    }

    fn http_delivery(&self, url: &str) -> NewTopicDelivery {
        NewTopicDelivery {
            subscription_arn: self.subscription_arn.to_string(),
            url: url.to_string(),
            headers: vec![
                (
                    "content-type".to_string(),
                    "text/plain; charset=UTF-8".to_string(),
                ),
                (
                    "x-amz-sns-message-type".to_string(),
                    "SubscriptionConfirmation".to_string(),
                ),
                ("x-amz-sns-message-id".to_string(), self.message_id.clone()),
                ("x-amz-sns-topic-arn".to_string(), self.topic_arn.clone()),
                (
                    "user-agent".to_string(),
                    "Amazon Simple Notification Service Agent".to_string(),
                ),
            ],
            body: self.json(),
        }
    }

    fn outbox(&self, topic: &str, protocol: &str, endpoint: &str) -> NewOutboxMessage {
        let email = protocol == "email";
        NewOutboxMessage {
            topic: topic.to_string(),
            subscription_arn: self.subscription_arn.to_string(),
            protocol: protocol.to_string(),
            endpoint: endpoint.to_string(),
            kind: OutboxKind::SubscriptionConfirmation,
            message_id: self.message_id.clone(),
            subject: Some("AWS Notification - Subscription Confirmation".to_string()),
            body: if email { self.email() } else { self.json() },
        }
    }
}

/// One publication being fanned out.
struct Publication<'a> {
    topic: String,
    topic_arn: String,
    message_id: String,
    timestamp: String,
    message: &'a PublishMessage,
    endpoint_url: &'a str,
    /// FIFO topics: the sequence number.
    sequence_number: Option<String>,
    /// Whether the topic is a FIFO topic.
    fifo: bool,
    /// FIFO topics: the publication's deduplication id.
    dedup_id: Option<String>,
}

impl Publication<'_> {
    /// The message `protocol` gets: its own with `MessageStructure=json`,
    /// else the default one.
    fn text(&self, protocol: &str) -> &str {
        self.message
            .per_protocol
            .get(protocol)
            .map_or(self.message.message.as_str(), String::as_str)
    }

    /// The notification `protocol`'s subscriber `subscription` gets.
    fn notification(&self, subscription: &str, protocol: &str) -> SnsNotification {
        let text = self.text(protocol);
        SnsNotification {
            message: text.to_string(),
            message_attributes: self
                .message
                .attributes
                .iter()
                .map(|(name, a)| {
                    (
                        name.clone(),
                        SnsMessageAttribute::new(
                            a.data_type.as_str(),
                            a.string_value.as_deref(),
                            a.binary_value.as_deref(),
                        ),
                    )
                })
                .collect(),
            message_id: self.message_id.clone(),
            sequence_number: self.sequence_number.clone(),
            signature: signature(&self.message_id, &self.topic_arn, text),
            signature_version: SnsNotification::SIGNATURE_VERSION.to_string(),
            signing_cert_url: cert_url(self.endpoint_url),
            subject: self.message.subject.clone(),
            timestamp: self.timestamp.clone(),
            topic_arn: self.topic_arn.clone(),
            message_type: SnsNotification::NOTIFICATION.to_string(),
            unsubscribe_url: unsubscribe_url(self.endpoint_url, subscription),
        }
    }

    /// SNS's JSON envelope, as SQS queues, HTTP endpoints and `email-json`
    /// addresses get it.
    fn envelope(&self, subscription: &str, protocol: &str) -> String {
        // Plain strings and string-keyed maps: serialising cannot fail.
        serde_json::to_string(&self.notification(subscription, protocol)).unwrap_or_default()
    }

    /// Lambda's SNS event.
    fn lambda_event(&self, subscription: &str) -> String {
        let event = SnsEvent {
            records: vec![
                self.notification(subscription, "lambda")
                    .lambda_record(subscription),
            ],
        };
        // Plain strings and string-keyed maps: serialising cannot fail.
        serde_json::to_string(&event).unwrap_or_default()
    }

    /// What an `email`, `email-json` or `sms` subscription would be sent.
    fn outbox(&self, target: &Target) -> NewOutboxMessage {
        let subject = || {
            Some(
                self.message
                    .subject
                    .clone()
                    .unwrap_or_else(|| DEFAULT_EMAIL_SUBJECT.to_string()),
            )
        };
        let (subject, body) = match target.protocol.as_str() {
            "email" => (
                subject(),
                format!(
                    "{}\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\n{}\n",
                    self.text("email"),
                    unsubscribe_url(self.endpoint_url, &target.arn)
                ),
            ),
            "email-json" => (subject(), self.envelope(&target.arn, "email-json")),
            _ => (None, self.text(&target.protocol).to_string()),
        };
        NewOutboxMessage {
            topic: self.topic.clone(),
            subscription_arn: target.arn.clone(),
            protocol: target.protocol.clone(),
            endpoint: target.endpoint.clone(),
            kind: OutboxKind::Notification,
            message_id: self.message_id.clone(),
            subject,
            body,
        }
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

/// The subscription's attributes with the ones SNS shows for it: the filter
/// policy's scope only with a filter policy.
fn shown_subscription_attributes(
    mut attributes: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    if attributes.contains_key("FilterPolicy") {
        attributes
            .entry("FilterPolicyScope".into())
            .or_insert_with(|| FilterScope::MessageAttributes.as_str().to_string());
    } else {
        attributes.remove("FilterPolicyScope");
    }
    attributes
}

impl Sns {
    /// Creates a topic (idempotent: an existing one's ARN is returned).
    /// `FifoTopic=true` needs a name ending with `.fifo`.
    pub async fn create_topic(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<String, ServiceError> {
        self.create_tagged_topic(&Region::DEFAULT, name, attributes, BTreeMap::new())
            .await
    }

    /// Creates topic `name` of `region` with `tags` (idempotent: an
    /// existing one's ARN is returned if `tags` are among its tags).
    /// `FifoTopic=true` needs a name ending with `.fifo`.
    pub async fn create_tagged_topic(
        &self,
        region: &Region,
        name: &str,
        mut attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> Result<String, ServiceError> {
        let fifo = is_true(&attributes, "FifoTopic");
        if names::is_fifo(name) && !fifo {
            return Err(sns_invalid(
                "Invalid parameter: Topic Name: a topic name ending with .fifo needs the attribute FifoTopic=true",
            ));
        }
        validate_topic_name(name, fifo)?;
        // Checked before it becomes a key: no topic name has a `:`.
        let key = regional_key(region, name);
        let name = key.as_str();
        for (key, value) in &attributes {
            check_topic_attribute(key, value, fifo)?;
        }
        if tags.len() > MAX_TAGS {
            return Err(tag_limit_exceeded());
        }
        attributes.remove("FifoTopic");
        let (record, created) = self
            .topics
            .create_topic(name, fifo, &attributes, &tags, now_ms())
            .await
            .map_err(backend_error("creating a topic"))?;
        if record.fifo != fifo {
            return Err(sns_invalid(
                "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
            ));
        }
        if !created
            && tags
                .iter()
                .any(|(key, value)| record.tags.get(key) != Some(value))
        {
            return Err(sns_invalid(
                "Invalid parameter: Tags Reason: Topic already exists with different tags",
            ));
        }
        Ok(topic_arn(name))
    }

    /// Deletes a topic, its subscriptions and their pending HTTP deliveries
    /// (no error if there is none, as on SNS).
    pub async fn delete_topic(&self, name: &str) -> Result<(), ServiceError> {
        self.topics
            .delete_topic(name)
            .await
            .map_err(backend_error("deleting a topic"))?;
        Ok(())
    }

    /// A topic's attributes, as GetTopicAttributes answers them.
    pub async fn topic_attributes(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, String>, ServiceError> {
        let (topic, subscriptions) = self
            .topics
            .topic_with_subscriptions(name)
            .await
            .map_err(backend_error("reading a topic"))?
            .ok_or_else(topic_not_found)?;
        let subscriptions = subscriptions.len();
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
                policy::default_policy(&arn, ACCOUNT_ID),
            ),
            (
                "EffectiveDeliveryPolicy".to_string(),
                policy::effective_delivery_policy(
                    topic.attributes.get("DeliveryPolicy").map(String::as_str),
                ),
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
        if key == "FifoTopic" {
            return Err(sns_invalid("Invalid parameter: AttributeName"));
        }
        let (key, value) = (key.to_string(), value.to_string());
        self.topics
            .update_topic(
                name,
                Box::new(move |topic| {
                    check_topic_attribute(&key, &value, topic.fifo)?;
                    if key == "DeliveryPolicy" && value.is_empty() {
                        topic.attributes.remove(&key);
                    } else {
                        topic.attributes.insert(key, value);
                    }
                    Ok(())
                }),
            )
            .await
            .map_err(backend_error("setting a topic's attributes"))?
            .ok_or_else(topic_not_found)?
    }

    /// Adds the statement `label` to a topic's access policy, allowing
    /// `accounts` the SNS `actions` (AddPermission).
    pub async fn add_permission(
        &self,
        name: &str,
        label: &str,
        accounts: Vec<String>,
        actions: Vec<String>,
    ) -> Result<(), ServiceError> {
        let label = label.to_string();
        self.change_policy(name, move |current, arn| {
            policy::add_permission(current, arn, &label, &accounts, &actions)
        })
        .await
    }

    /// Removes the statement `label` from a topic's access policy
    /// (RemovePermission).
    pub async fn remove_permission(&self, name: &str, label: &str) -> Result<(), ServiceError> {
        let label = label.to_string();
        self.change_policy(name, move |current, _| {
            policy::remove_permission(current, &label)
        })
        .await
    }

    /// Changes a topic's access policy (its default one until it has one).
    async fn change_policy(
        &self,
        name: &str,
        change: impl FnOnce(&str, &str) -> Result<String, policy::PolicyError> + Send + 'static,
    ) -> Result<(), ServiceError> {
        self.topics
            .update_topic(
                name,
                Box::new(move |topic| {
                    let arn = topic_arn(&topic.name);
                    let current = topic
                        .attributes
                        .get("Policy")
                        .cloned()
                        .unwrap_or_else(|| policy::default_policy(&arn, ACCOUNT_ID));
                    let changed = change(&current, &arn).map_err(|e| sns_invalid(e.0))?;
                    topic.attributes.insert("Policy".into(), changed);
                    Ok(())
                }),
            )
            .await
            .map_err(backend_error("changing a topic's policy"))?
            .ok_or_else(topic_not_found)?
    }

    /// A topic's tags (ListTagsForResource).
    pub async fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, ServiceError> {
        self.topics
            .topic(name)
            .await
            .map_err(backend_error("reading a topic's tags"))?
            .map(|topic| topic.tags)
            .ok_or_else(resource_not_found)
    }

    /// Adds or replaces tags of a topic (TagResource) and removes the tags
    /// `remove` (UntagResource).
    pub async fn tag(
        &self,
        name: &str,
        add: BTreeMap<String, String>,
        remove: Vec<String>,
    ) -> Result<(), ServiceError> {
        self.topics
            .update_topic(
                name,
                Box::new(move |topic| {
                    let mut tags = topic.tags.clone();
                    tags.extend(add);
                    for key in &remove {
                        tags.remove(key);
                    }
                    if tags.len() > MAX_TAGS {
                        return Err(tag_limit_exceeded());
                    }
                    topic.tags = tags;
                    Ok(())
                }),
            )
            .await
            .map_err(backend_error("tagging a topic"))?
            .ok_or_else(resource_not_found)?
    }

    /// A page of the ARNs of `region`'s topics and the token of the next
    /// page.
    pub async fn list_topics(
        &self,
        region: &Region,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), ServiceError> {
        // Topics are listed by key; the other regions' are skipped.
        let mut keys = Vec::new();
        let mut after = next_token.map(str::to_string);
        loop {
            let topics = self
                .topics
                .list_topics(after.as_deref(), PAGE + 1)
                .await
                .map_err(backend_error("listing topics"))?;
            let last_page = topics.len() <= PAGE;
            after = topics.last().map(|t| t.name.clone());
            keys.extend(
                topics
                    .into_iter()
                    .map(|t| t.name)
                    .filter(|key| split_regional_key(key).0 == *region),
            );
            if last_page || keys.len() > PAGE {
                break;
            }
        }
        let more = keys.len() > PAGE;
        keys.truncate(PAGE);
        let token = more.then(|| keys.last().cloned()).flatten();
        Ok((keys.iter().map(|k| topic_arn(k)).collect(), token))
    }

    /// Subscribes `endpoint` over `protocol` to topic `topic`; confirmed at
    /// once (idempotent for the same protocol and endpoint). A new HTTP
    /// subscription is sent SNS's confirmation message; a new email one
    /// gets it in the local outbox.
    pub async fn subscribe(
        &self,
        topic: &str,
        protocol: &str,
        endpoint: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<SubscriptionRecord, ServiceError> {
        let record = self
            .topics
            .topic(topic)
            .await
            .map_err(backend_error("reading a topic"))?
            .ok_or_else(topic_not_found)?;
        check_endpoint(protocol, endpoint)?;
        if record.fifo && LOCAL_PROTOCOLS.contains(&protocol) {
            return Err(sns_invalid(format!(
                "Invalid parameter: Invalid protocol type: {protocol}"
            )));
        }
        if !record.fifo
            && protocol == "sqs"
            && queue_of(endpoint).is_some_and(|queue| names::is_fifo(&queue))
        {
            return Err(sns_invalid(
                "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
            ));
        }
        check_subscription_attributes(&attributes)?;
        let new = NewSubscription {
            arn: subscription_arn(topic, &uuid::Uuid::new_v4().to_string()),
            topic: topic.to_string(),
            protocol: protocol.to_string(),
            endpoint: endpoint.to_string(),
            attributes,
            token: Some(new_token()),
        };
        let (record, created) = self
            .topics
            .subscribe(&new, now_ms())
            .await
            .map_err(backend_error("subscribing"))
            .map_err(sns_store)?;
        if created {
            tracing::info!(topic, protocol, endpoint, arn = %record.arn, "subscribed");
            self.send_confirmation(&record).await?;
        }
        Ok(record)
    }

    /// Sends a new subscription SNS's `SubscriptionConfirmation`: POSTed to
    /// an HTTP endpoint, recorded in the local outbox for an email address.
    async fn send_confirmation(&self, record: &SubscriptionRecord) -> Result<(), ServiceError> {
        let Some(token) = &record.token else {
            return Ok(());
        };
        let now = now_ms();
        let confirmation = Confirmation {
            topic_arn: topic_arn(&record.topic),
            subscription_arn: &record.arn,
            token,
            message_id: uuid::Uuid::new_v4().to_string(),
            timestamp: timestamp(now),
            endpoint_url: &self.config().endpoint_url,
        };
        let (http, outbox) = match record.protocol.as_str() {
            "http" | "https" => (vec![confirmation.http_delivery(&record.endpoint)], vec![]),
            "email" | "email-json" => (
                vec![],
                vec![confirmation.outbox(&record.topic, &record.protocol, &record.endpoint)],
            ),
            _ => return Ok(()),
        };
        let wake = !http.is_empty();
        self.topics
            .commit_publication(&record.topic, None, &http, &outbox, now)
            .await
            .map_err(backend_error("sending a subscription confirmation"))?;
        if wake {
            self.state.wake.notify_one();
        }
        Ok(())
    }

    /// Confirms a subscription with the token of its confirmation message
    /// (ConfirmSubscription); answers its ARN. Subscriptions are confirmed
    /// when they are made, so this changes nothing.
    pub async fn confirm_subscription(
        &self,
        topic: &str,
        token: &str,
    ) -> Result<String, ServiceError> {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(sns_invalid("Invalid token"));
        }
        let record = self
            .topics
            .subscription_by_token(&token.to_ascii_lowercase())
            .await
            .map_err(backend_error("reading a subscription"))?;
        match record {
            Some(record) if record.topic == topic => Ok(record.arn),
            _ => Err(sns_invalid("Invalid parameter: Token")),
        }
    }

    /// Deletes a subscription and its pending HTTP deliveries; nothing if
    /// there is none (SNS's Unsubscribe is idempotent, and a deleted
    /// topic's subscriptions are gone with it).
    pub async fn unsubscribe(&self, arn: &str) -> Result<(), ServiceError> {
        let deleted = self
            .topics
            .unsubscribe(arn)
            .await
            .map_err(backend_error("unsubscribing"))?;
        if deleted {
            tracing::info!(arn, "unsubscribed");
        }
        Ok(())
    }

    /// A page of the subscriptions of `region`'s topics (of one topic if
    /// given; `NotFound` if that topic does not exist) and the token of
    /// the next page.
    pub async fn list_subscriptions(
        &self,
        region: &Region,
        topic: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<(Vec<SubscriptionRecord>, Option<String>), ServiceError> {
        let mut page = Vec::new();
        let mut after = next_token.map(str::to_string);
        loop {
            let subscriptions = self
                .topics
                .list_subscriptions(topic, after.as_deref(), PAGE + 1)
                .await
                .map_err(backend_error("listing subscriptions"))?
                .ok_or_else(topic_not_found)?;
            let last_page = subscriptions.len() <= PAGE;
            after = subscriptions.last().map(|s| s.arn.clone());
            page.extend(
                subscriptions
                    .into_iter()
                    .filter(|s| topic.is_some() || split_regional_key(&s.topic).0 == *region),
            );
            if last_page || page.len() > PAGE {
                break;
            }
        }
        let more = page.len() > PAGE;
        page.truncate(PAGE);
        let token = more.then(|| page.last().map(|s| s.arn.clone())).flatten();
        Ok((page, token))
    }

    /// A subscription's attributes, as GetSubscriptionAttributes answers
    /// them.
    pub async fn subscription_attributes(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, ServiceError> {
        let record = self
            .topics
            .subscription(arn)
            .await
            .map_err(backend_error("reading a subscription"))?
            .ok_or_else(subscription_not_found)?;
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
        out.extend(shown_subscription_attributes(record.attributes));
        Ok(out)
    }

    /// Sets one attribute of a subscription (an empty `FilterPolicy`
    /// removes the policy and its scope).
    pub async fn set_subscription_attribute(
        &self,
        arn: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ServiceError> {
        let record = self
            .topics
            .subscription(arn)
            .await
            .map_err(backend_error("reading a subscription"))?
            .ok_or_else(subscription_not_found)?;
        let mut attributes = record.attributes;
        if key == "FilterPolicy" && value.trim().is_empty() {
            attributes.remove("FilterPolicy");
            attributes.remove("FilterPolicyScope");
        } else {
            attributes.insert(key.to_string(), value.to_string());
        }
        check_subscription_attributes(&attributes)?;
        self.topics
            .set_subscription_attributes(arn, &attributes)
            .await
            .map_err(backend_error("setting a subscription's attributes"))
            .map_err(sns_store)
    }

    /// The newest `limit` messages of the local outbox (of topic `topic` if
    /// given), oldest first: what `email`, `email-json` and `sms`
    /// subscriptions would have been sent.
    pub async fn local_outbox(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        self.topics
            .local_outbox(topic, limit)
            .await
            .map_err(backend_error("reading the local outbox"))
    }

    /// Publishes straight to a phone number (Publish with `PhoneNumber`):
    /// the text message is recorded in the local outbox.
    pub async fn publish_to_phone(
        &self,
        number: &str,
        message: PublishMessage,
    ) -> Result<String, ServiceError> {
        if !is_phone_number(number) {
            return Err(sns_invalid(format!(
                "Invalid parameter: PhoneNumber Reason: {number} is not valid to publish to"
            )));
        }
        check_message(&message)?;
        let message_id = uuid::Uuid::new_v4().to_string();
        let text = NewOutboxMessage {
            topic: String::new(),
            subscription_arn: String::new(),
            protocol: "sms".into(),
            endpoint: number.to_string(),
            kind: OutboxKind::Notification,
            message_id: message_id.clone(),
            subject: None,
            body: message
                .per_protocol
                .get("sms")
                .cloned()
                .unwrap_or(message.message),
        };
        self.topics
            .commit_publication("", None, &[], &[text], now_ms())
            .await
            .map_err(backend_error("recording a text message"))?;
        Ok(message_id)
    }

    /// Checks a batch's entries against topic `topic` before any of them is
    /// published: on a FIFO topic each needs its message group, and its
    /// deduplication id unless the topic has `ContentBasedDeduplication`.
    /// `NotFound` for an unknown topic.
    pub async fn check_batch(
        &self,
        topic: &str,
        messages: &[&PublishMessage],
    ) -> Result<(), ServiceError> {
        let record = self
            .topics
            .topic(topic)
            .await
            .map_err(backend_error("reading a topic"))?
            .ok_or_else(topic_not_found)?;
        if !record.fifo {
            return Ok(());
        }
        if messages
            .iter()
            .any(|m| m.group_id.as_deref().is_none_or(str::is_empty))
        {
            return Err(sns_invalid(
                "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
            ));
        }
        if !is_true(&record.attributes, "ContentBasedDeduplication")
            && messages.iter().any(|m| m.dedup_id.is_none())
        {
            return Err(sns_invalid(
                "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
        Ok(())
    }

    /// Publishes to topic `topic` (by name) and returns the message id; every
    /// matching subscription's delivery is durable when it returns.
    /// `NotFound` for an unknown topic.
    pub async fn publish(
        &self,
        topic: &str,
        message: PublishMessage,
    ) -> Result<String, ServiceError> {
        check_message(&message)?;
        let (record, subscriptions) = self
            .topics
            .topic_with_subscriptions(topic)
            .await
            .map_err(backend_error("reading a topic"))?
            .ok_or_else(topic_not_found)?;

        let mut dedup = None;
        if record.fifo {
            let Some(group) = message.group_id.as_deref().filter(|g| !g.is_empty()) else {
                return Err(sns_invalid(
                    "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
                ));
            };
            check_group_id(group)?;
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
            if let Some(earlier) = self
                .topics
                .topic_duplicate(topic, &id, now_ms())
                .await
                .map_err(backend_error("reading a topic's deduplication window"))?
            {
                return Ok(earlier);
            }
            dedup = Some(id);
        } else {
            if message.dedup_id.is_some() {
                return Err(sns_invalid(
                    "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
                ));
            }
            if let Some(group) = &message.group_id {
                check_group_id(group)?;
            }
        }

        let now = now_ms();
        let publication = Publication {
            topic: topic.to_string(),
            topic_arn: topic_arn(topic),
            message_id: uuid::Uuid::new_v4().to_string(),
            timestamp: timestamp(now),
            message: &message,
            endpoint_url: &self.config().endpoint_url,
            sequence_number: record
                .fifo
                .then(|| format!("{:020}", now.max(0) as u64 * 1000)),
            fifo: record.fifo,
            dedup_id: dedup.clone(),
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
        let mut outbox = Vec::new();
        for target in targets {
            if !publication.matches(target.policy.as_ref()) {
                continue;
            }
            match target.protocol.as_str() {
                "lambda" => self.deliver_to_function(&publication, &target).await?,
                "sqs" => self.deliver_to_queue(&publication, &target).await?,
                "http" | "https" => http.push(http_delivery(&publication, &target)),
                _ => outbox.push(publication.outbox(&target)),
            }
            self.metrics().delivered("sns", topic, 1);
        }
        let wake = !http.is_empty();
        let dedup = dedup.as_deref().map(|id| Dedup {
            id,
            message_id: &publication.message_id,
            expires_ms: now + DEDUP_WINDOW_MS,
        });
        let earlier = self
            .topics
            .commit_publication(topic, dedup, &http, &outbox, now)
            .await
            .map_err(backend_error("committing a publication"))?;
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
            .invoke_async(&function, Qualifier::Latest, payload, origin.headers())
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
        let (group_id, dedup_id) = if names::is_fifo(&queue) {
            // A FIFO topic's own ids; a standard topic's queue (subscribed
            // before such subscriptions were refused) gets the topic as
            // its group and the message id as its deduplication id.
            (
                Some(
                    publication
                        .message
                        .group_id
                        .clone()
                        .unwrap_or_else(|| publication.topic_arn.clone()),
                ),
                Some(
                    publication
                        .dedup_id
                        .clone()
                        .unwrap_or_else(|| publication.message_id.clone()),
                ),
            )
        } else if publication.fifo {
            (None, None)
        } else {
            (publication.message.group_id.clone(), None)
        };
        let message = SendMessage {
            body: if target.raw {
                publication.text("sqs").to_string()
            } else {
                publication.envelope(&target.arn, "sqs")
            },
            attributes: if target.raw {
                publication.message.attributes.clone()
            } else {
                BTreeMap::new()
            },
            group_id,
            dedup_id,
            ..SendMessage::default()
        };
        match self.deliverer()?.send_to_queue(&queue, message).await {
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
                let policy = match source.filter_policy.as_deref() {
                    None => None,
                    Some(policy) if is_empty_policy(policy) => None,
                    Some(policy) => match FilterPolicy::parse(policy, scope) {
                        Ok(policy) => Some(policy),
                        Err(error) => {
                            tracing::warn!(function = %function.name, topic = %source.topic, %error, "ignoring a manifest subscription");
                            continue;
                        }
                    },
                };
                subs.entry(source.topic.clone())
                    .or_default()
                    .push(ManifestSubscription {
                        arn: subscription_arn(&source.topic, &function.name),
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
                let fifo = names::is_fifo(&topic);
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
                .topics
                .claim_deliveries(now_ms(), DELIVERY_BATCH, DELIVERY_LEASE_MS)
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
                self.topics.complete_delivery(id).await
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
                        let topic =
                            topic_of_subscription(&delivery.subscription_arn).unwrap_or_default();
                        self.metrics().retried("sns", &topic, 1);
                        let due = now_ms() + delay;
                        self.topics.retry_delivery(id, due).await
                    }
                    None => {
                        tracing::warn!(url = %delivery.url, subscription = %delivery.subscription_arn, attempts = attempt + 1, %why, "dropping an HTTP delivery after its last attempt");
                        self.topics.drop_delivery(id).await
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
        publication.text(&target.protocol).to_string()
    } else {
        publication.envelope(&target.arn, &target.protocol)
    };
    NewTopicDelivery {
        subscription_arn: target.arn.clone(),
        url: target.endpoint.clone(),
        headers,
        body,
    }
}

fn tag_limit_exceeded() -> ServiceError {
    ServiceError::invalid(
        "TagLimitExceeded",
        "Could not complete request: tag quota of per resource exceeded",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_endpoints() {
        assert_eq!(
            topic_of("TopicArn", "arn:aws:sns:us-east-1:000000000000:t").unwrap(),
            "t"
        );
        let message = |r: Result<String, ServiceError>| r.err().map(|e| e.message);
        assert_eq!(
            message(topic_of("TopicArn", "t")).as_deref(),
            Some("Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1")
        );
        assert_eq!(
            message(topic_of(
                "TargetArn",
                "arn:aws:sqs:us-east-1:000000000000:t"
            ))
            .as_deref(),
            Some("Invalid parameter: TargetArn")
        );
        assert_eq!(
            message(topic_of(
                "TopicArn",
                "arn:aws:sns:us-east-1:000000000000:t:sub"
            ))
            .as_deref(),
            Some("Invalid parameter: TopicArn")
        );
        assert_eq!(
            topic_of_subscription("arn:aws:sns:us-east-1:000000000000:t:abc").as_deref(),
            Some("t")
        );
        assert!(validate_topic_name("ok-name_1", false).is_ok());
        assert!(validate_topic_name("bad name", false).is_err());
        assert!(validate_topic_name("", false).is_err());
        assert!(validate_topic_name("x.fifo", true).is_ok());
        assert!(validate_topic_name("x", true).is_err());
        assert!(validate_topic_name(&"a".repeat(257), false).is_err());
        assert_eq!(
            function_of("arn:aws:lambda:us-east-1:000000000000:function:f:3").as_deref(),
            Some("f")
        );
        assert_eq!(function_of("f").as_deref(), Some("f"));
        assert_eq!(function_of("arn:aws:sqs:us-east-1:000000000000:q"), None);
        assert_eq!(
            queue_of("arn:aws:sqs:us-east-1:000000000000:q").as_deref(),
            Some("q")
        );
        let refusal = |protocol: &str, endpoint: &str| {
            check_endpoint(protocol, endpoint).err().map(|e| e.message)
        };
        assert_eq!(refusal("email", "a@b.c"), None);
        assert_eq!(refusal("email-json", "first.last@example.com"), None);
        assert_eq!(refusal("sms", "+15555550100"), None);
        assert_eq!(refusal("https", "https://x"), None);
        assert_eq!(
            refusal("email", "not an address").as_deref(),
            Some("Invalid parameter: Email address")
        );
        assert_eq!(
            refusal("email", "a@b@c").as_deref(),
            Some("Invalid parameter: Email address")
        );
        assert_eq!(
            refusal("sms", "+1-555").as_deref(),
            Some("Invalid SMS endpoint: +1-555")
        );
        assert_eq!(
            refusal("http", "ftp://x").as_deref(),
            Some("Invalid parameter: Endpoint must match the specified protocol")
        );
        assert_eq!(
            refusal("sqs", "q").as_deref(),
            Some("Invalid parameter: SQS endpoint ARN")
        );
        assert_eq!(
            refusal("lambda", "arn:aws:sqs:us-east-1:000000000000:q").as_deref(),
            Some("Invalid parameter: Lambda endpoint ARN")
        );
        assert_eq!(
            refusal("firehose", "x").as_deref(),
            Some("Invalid parameter: Amazon SNS does not support this protocol string: firehose")
        );
        assert!(is_phone_number("15555550100") && !is_phone_number("+0123"));
        let token = new_token();
        assert_eq!(token.len(), 2 * TOKEN_BYTES);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(token, new_token());
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

    #[test]
    fn structured_messages() {
        let (default, per_protocol) = PublishMessage::structured(
            r#"{"default":"d","sqs":"q","email":"e","lambda":{"not":"a string"}}"#,
        )
        .unwrap();
        assert_eq!(default, "d");
        assert_eq!(
            per_protocol,
            BTreeMap::from([
                ("email".to_string(), "e".to_string()),
                ("sqs".to_string(), "q".to_string())
            ])
        );
        let refusal = |json: &str| PublishMessage::structured(json).err().map(|e| e.message);
        assert_eq!(
            refusal(r#"{"sqs":"q"}"#).as_deref(),
            Some("Invalid parameter: Message Structure - No default entry in JSON message body")
        );
        assert_eq!(
            refusal(r#"{"default":1}"#).as_deref(),
            Some("Invalid parameter: Message Structure - No default entry in JSON message body")
        );
        assert_eq!(
            refusal("not json").as_deref(),
            Some("Invalid parameter: Message Structure - JSON message body failed to parse")
        );
        assert_eq!(
            refusal(r#"["default"]"#).as_deref(),
            Some("Invalid parameter: Message Structure - JSON message body failed to parse")
        );

        let message = PublishMessage {
            message: "d".into(),
            per_protocol: BTreeMap::from([("sqs".to_string(), "q".to_string())]),
            subject: Some("s".into()),
            ..PublishMessage::default()
        };
        let publication = Publication {
            topic: "t".into(),
            topic_arn: topic_arn("t"),
            message_id: "m".into(),
            timestamp: timestamp(0),
            message: &message,
            endpoint_url: "http://127.0.0.1:9070",
            sequence_number: None,
            fifo: false,
            dedup_id: None,
        };
        assert_eq!(publication.text("sqs"), "q");
        assert_eq!(publication.text("http"), "d");
        let envelope: serde_json::Value =
            serde_json::from_str(&publication.envelope("arn:s", "sqs")).unwrap();
        assert_eq!(envelope["Message"], "q");
        let event: serde_json::Value =
            serde_json::from_str(&publication.lambda_event("arn:s")).unwrap();
        assert_eq!(event["Records"][0]["Sns"]["Message"], "d");
        let target = |protocol: &str, endpoint: &str| Target {
            arn: "arn:s".into(),
            protocol: protocol.into(),
            endpoint: endpoint.into(),
            raw: false,
            policy: None,
        };
        let email = publication.outbox(&target("email", "a@b.c"));
        assert_eq!(email.subject.as_deref(), Some("s"));
        assert!(email.body.starts_with("d\n\n--\n"), "{}", email.body);
        assert!(
            email
                .body
                .contains("Action=Unsubscribe&SubscriptionArn=arn:s")
        );
        let sms = publication.outbox(&target("sms", "+15555550100"));
        assert_eq!((sms.subject, sms.body.as_str()), (None, "d"));
        let json = publication.outbox(&target("email-json", "a@b.c"));
        let json: serde_json::Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(json["Type"], "Notification");
        assert_eq!(json["Message"], "d");
    }

    #[test]
    fn filter_policies_of_subscriptions() {
        let attributes = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        // `{}` and no policy let everything through.
        assert!(
            filter_of(&attributes(&[("FilterPolicy", "{}")]))
                .unwrap()
                .is_none()
        );
        assert!(
            filter_of(&attributes(&[("FilterPolicy", " { } ")]))
                .unwrap()
                .is_none()
        );
        assert!(filter_of(&attributes(&[])).unwrap().is_none());
        assert!(
            filter_of(&attributes(&[("FilterPolicy", r#"{"a":["b"]}"#)]))
                .unwrap()
                .is_some()
        );
        assert!(filter_of(&attributes(&[("FilterPolicy", "[]")])).is_err());
        // The scope shows only with a policy.
        let shown =
            shown_subscription_attributes(attributes(&[("FilterPolicyScope", "MessageBody")]));
        assert!(!shown.contains_key("FilterPolicyScope"));
        let shown = shown_subscription_attributes(attributes(&[("FilterPolicy", "{}")]));
        assert_eq!(shown["FilterPolicyScope"], "MessageAttributes");
    }
}
