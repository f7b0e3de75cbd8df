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
//! For now the methods answer [`StoreError`] and take and return the
//! store's types ([`TopicRecord`], [`SubscriptionRecord`],
//! [`TopicDelivery`], ...), re-exported from `stratus-store`, as SQS's
//! `QueueBackend` does.

use crate::ServiceError;
use async_trait::async_trait;
use std::collections::BTreeMap;
pub use stratus_store::{
    NewOutboxMessage, NewSubscription, NewTopicDelivery, OutboxKind, OutboxMessage, StoreError,
    SubscriptionRecord, TopicDelivery, TopicRecord,
};

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
