//! The seam between SNS's semantics and where topics are kept.
//!
//! [`TopicBackend`] has one async method per operation SNS needs from its
//! state, at the level of SNS's operations, not rows: topics (create,
//! read, list by page, change in one call, delete with everything that
//! hangs off them), subscriptions (subscribe, unsubscribe, read by ARN or
//! by confirmation token, list by page, set attributes), the FIFO
//! deduplication window, a publication committed with all its HTTP
//! deliveries and local-outbox messages, the local outbox's newest
//! messages, and the HTTP delivery outbox (claim with a lease, complete,
//! retry later, drop). An operation that touches two kinds of state (a
//! topic read with its subscriptions, a publication with its deduplication
//! entry and deliveries, a topic deleted with its subscriptions and their
//! deliveries) is one call, so that a backend can make it one transaction.
//!
//! Methods that depend on the time take it as `now_ms` (milliseconds since
//! the epoch), so the conformance suite (`stratus-conformance`) drives any
//! backend through time without sleeping.
//!
//! `stratus-store-sqlite` implements it over the embedded SQLite store;
//! the binary and test harnesses build it and hand it to
//! [`crate::Sns::start`]. This crate never names a backend.
//!
//! The methods answer [`StoreError`] and take and return the records
//! defined here ([`TopicRecord`], [`SubscriptionRecord`],
//! [`TopicDelivery`], ...): the backend depends on this crate, never the
//! other way.

use crate::ServiceError;
use async_trait::async_trait;
use std::collections::BTreeMap;
pub use stratus_core::StoreError;

/// A change of a topic (its attributes and tags), made on the topic as it
/// is inside the backend's transaction; an `Err` changes nothing and is
/// handed back.
pub type TopicChange =
    Box<dyn FnOnce(&mut TopicRecord) -> Result<(), ServiceError> + Send + 'static>;

/// A FIFO publication's deduplication entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dedup<'a> {
    /// The deduplication id.
    pub id: &'a str,
    /// The message id of the publication that takes it.
    pub message_id: &'a str,
    /// When the entry expires (ms since the epoch).
    pub expires_ms: i64,
}

/// Where topics, subscriptions, the FIFO deduplication window, the HTTP
/// delivery outbox and the local outbox are kept.
///
/// Every write that returns `Ok` is durable.
#[async_trait]
pub trait TopicBackend: Send + Sync + 'static {
    /// Creates topic `name` with `attributes` and `tags` unless it exists;
    /// returns the topic and whether it was created now (an existing topic
    /// is returned unchanged).
    async fn create_topic(
        &self,
        name: &str,
        fifo: bool,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<(TopicRecord, bool), StoreError>;

    /// Topic `name`, if it exists.
    async fn topic(&self, name: &str) -> Result<Option<TopicRecord>, StoreError>;

    /// Topic `name` with its subscriptions (oldest first), read together;
    /// None when there is no such topic.
    async fn topic_with_subscriptions(
        &self,
        name: &str,
    ) -> Result<Option<(TopicRecord, Vec<SubscriptionRecord>)>, StoreError>;

    /// Up to `limit` topics in name order, after the name `after` if given.
    async fn list_topics(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TopicRecord>, StoreError>;

    /// Changes topic `name` by `change` in one transaction (concurrent
    /// changes are not lost): what it leaves in the attributes and tags is
    /// kept. None when there is no such topic; the inner `Err` is
    /// `change`'s refusal, and nothing changed then.
    async fn update_topic(
        &self,
        name: &str,
        change: TopicChange,
    ) -> Result<Option<Result<(), ServiceError>>, StoreError>;

    /// Deletes topic `name`, its subscriptions, their pending HTTP
    /// deliveries and its deduplication window; false when there was none.
    async fn delete_topic(&self, name: &str) -> Result<bool, StoreError>;

    /// Creates subscription `new` unless one of its topic has the same
    /// protocol and endpoint; returns the subscription and whether it was
    /// created now. [`StoreError::NotFound`] when the topic does not exist.
    async fn subscribe(
        &self,
        new: &NewSubscription,
        now_ms: i64,
    ) -> Result<(SubscriptionRecord, bool), StoreError>;

    /// Deletes subscription `arn` and its pending HTTP deliveries; false
    /// when there was none.
    async fn unsubscribe(&self, arn: &str) -> Result<bool, StoreError>;

    /// Subscription `arn`, if it exists.
    async fn subscription(&self, arn: &str) -> Result<Option<SubscriptionRecord>, StoreError>;

    /// The subscription whose confirmation token is `token`, if any.
    async fn subscription_by_token(
        &self,
        token: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError>;

    /// Up to `limit` subscriptions (of topic `topic` if given) in ARN
    /// order, after the ARN `after` if given; None when `topic` is given
    /// and does not exist.
    async fn list_subscriptions(
        &self,
        topic: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<SubscriptionRecord>>, StoreError>;

    /// Replaces the attributes of subscription `arn`;
    /// [`StoreError::NotFound`] when there is none.
    async fn set_subscription_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), StoreError>;

    /// The message id of an earlier publication to topic `topic` with
    /// deduplication id `dedup_id`, if its window is still open at
    /// `now_ms`.
    async fn topic_duplicate(
        &self,
        topic: &str,
        dedup_id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError>;

    /// Commits a publication to topic `topic` in one transaction: its
    /// deduplication entry (FIFO topics), its HTTP `deliveries` (due at
    /// `now_ms`) and its `outbox` messages (the local outbox keeps only
    /// its newest messages). When the deduplication id is taken within its
    /// window, nothing is written and the earlier message id is returned.
    async fn commit_publication(
        &self,
        topic: &str,
        dedup: Option<Dedup<'_>>,
        deliveries: &[NewTopicDelivery],
        outbox: &[NewOutboxMessage],
        now_ms: i64,
    ) -> Result<Option<String>, StoreError>;

    /// The newest `limit` messages of the local outbox (of topic `topic`
    /// if given), oldest first.
    async fn local_outbox(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Up to `limit` HTTP deliveries due at `now_ms`, oldest due first,
    /// each leased until `now_ms + lease_ms` (claimed again after that if
    /// it was neither completed nor retried).
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<TopicDelivery>, StoreError>;

    /// Removes HTTP delivery `id`, made.
    async fn complete_delivery(&self, id: i64) -> Result<(), StoreError>;

    /// Counts a failed attempt of HTTP delivery `id` and makes it due
    /// again at `due_ms`.
    async fn retry_delivery(&self, id: i64, due_ms: i64) -> Result<(), StoreError>;

    /// Removes HTTP delivery `id`, given up after its last attempt.
    async fn drop_delivery(&self, id: i64) -> Result<(), StoreError>;

    /// How many HTTP deliveries wait in the outbox (leased ones included).
    async fn pending_deliveries(&self) -> Result<u64, StoreError>;
}

// The records a topic backend stores and returns.

/// Messages the local outbox keeps (the oldest go first).
pub const LOCAL_OUTBOX_KEEP: i64 = 10_000;

/// A stored topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    /// The name (ends with `.fifo` for FIFO topics).
    pub name: String,
    /// Whether it is a FIFO topic.
    pub fifo: bool,
    /// Settable attributes (`DisplayName`, `ContentBasedDeduplication`, ...).
    pub attributes: BTreeMap<String, String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
}

/// A subscription to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    /// Its ARN.
    pub arn: String,
    /// The topic's name.
    pub topic: String,
    /// `lambda`, `sqs`, `http`, `https`, `email`, `email-json` or `sms`.
    pub protocol: String,
    /// The function or queue ARN, the URL, the email address or the phone
    /// number.
    pub endpoint: String,
    /// Settable attributes (`FilterPolicy`, `RawMessageDelivery`, ...).
    pub attributes: BTreeMap<String, String>,
    /// The token `ConfirmSubscription` takes, if it has one.
    pub token: Option<String>,
}

/// A stored subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Its ARN.
    pub arn: String,
    /// The topic's name.
    pub topic: String,
    /// `lambda`, `sqs`, `http`, `https`, `email`, `email-json` or `sms`.
    pub protocol: String,
    /// The function or queue ARN, the URL, the email address or the phone
    /// number.
    pub endpoint: String,
    /// Settable attributes.
    pub attributes: BTreeMap<String, String>,
    /// The token `ConfirmSubscription` takes, if it has one.
    pub token: Option<String>,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
}

/// An HTTP delivery to commit with a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopicDelivery {
    /// The subscription it is for.
    pub subscription_arn: String,
    /// Where to POST.
    pub url: String,
    /// The request headers.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: String,
}

/// A delivery of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDelivery {
    /// The row id.
    pub id: i64,
    /// The subscription it is for.
    pub subscription_arn: String,
    /// Where to POST.
    pub url: String,
    /// The request headers.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was committed (ms since the epoch).
    pub created_ms: i64,
}

/// What a message of the topics' local outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OutboxKind {
    /// A publication delivered to the subscription.
    Notification,
    /// The confirmation request of a new subscription (with its token).
    SubscriptionConfirmation,
}

impl OutboxKind {
    /// SNS's name of the message type.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Notification => "Notification",
            OutboxKind::SubscriptionConfirmation => "SubscriptionConfirmation",
        }
    }

    /// The kind named `text` ([`OutboxKind::as_str`]), if any.
    pub fn parse(text: &str) -> Option<OutboxKind> {
        match text {
            "Notification" => Some(OutboxKind::Notification),
            "SubscriptionConfirmation" => Some(OutboxKind::SubscriptionConfirmation),
            _ => None,
        }
    }
}

/// A message for the topics' local outbox: what an `email`, `email-json`
/// or `sms` subscription (or a publication to a phone number) would have
/// been sent, recorded instead of sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxMessage {
    /// The topic's name; empty for a publication to a phone number.
    pub topic: String,
    /// The subscription's ARN; empty for a publication to a phone number.
    pub subscription_arn: String,
    /// `email`, `email-json` or `sms`.
    pub protocol: String,
    /// The email address or phone number.
    pub endpoint: String,
    /// What the message is.
    pub kind: OutboxKind,
    /// The SNS message id.
    pub message_id: String,
    /// The subject (emails), if any.
    pub subject: Option<String>,
    /// The text that would have been sent.
    pub body: String,
}

/// A message of the topics' local outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The row id (increasing in the order messages were recorded).
    pub id: i64,
    /// The message as it was recorded.
    pub message: NewOutboxMessage,
    /// When it was recorded (ms since the epoch).
    pub created_ms: i64,
}
