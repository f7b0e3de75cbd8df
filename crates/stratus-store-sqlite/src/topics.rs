//! SNS's topics in the embedded SQLite store: [`SqliteTopics`] implements
//! [`TopicBackend`], each operation one call of the store (its rules and
//! transactions are there), run on the blocking pool.

use async_trait::async_trait;
use std::collections::BTreeMap;
use stratus_sns::ServiceError;
use stratus_sns::backend::{
    Dedup, NewOutboxMessage, NewSubscription, NewTopicDelivery, OutboxMessage, StoreError,
    SubscriptionRecord, TopicBackend, TopicChange, TopicDelivery, TopicRecord,
};

sqlite_backend! {
    /// SNS's topics, subscriptions and outboxes in the embedded SQLite store;
    /// cheap to clone.
    SqliteTopics
}

#[async_trait]
impl TopicBackend for SqliteTopics {
    async fn create_topic(
        &self,
        name: &str,
        fifo: bool,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<(TopicRecord, bool), StoreError> {
        let (name, attributes, tags) = (name.to_string(), attributes.clone(), tags.clone());
        self.run("creating a topic", move |store| {
            store.create_topic(&name, fifo, &attributes, &tags, now_ms)
        })
        .await
    }

    async fn topic(&self, name: &str) -> Result<Option<TopicRecord>, StoreError> {
        let name = name.to_string();
        self.run("reading a topic", move |store| store.topic(&name))
            .await
    }

    async fn topic_with_subscriptions(
        &self,
        name: &str,
    ) -> Result<Option<(TopicRecord, Vec<SubscriptionRecord>)>, StoreError> {
        let name = name.to_string();
        self.run("reading a topic and its subscriptions", move |store| {
            let Some(topic) = store.topic(&name)? else {
                return Ok(None);
            };
            Ok(Some((topic, store.topic_subscriptions(&name)?)))
        })
        .await
    }

    async fn list_topics(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TopicRecord>, StoreError> {
        let after = after.map(str::to_string);
        self.run("listing topics", move |store| {
            store.list_topics(after.as_deref(), limit)
        })
        .await
    }

    async fn update_topic(
        &self,
        name: &str,
        change: TopicChange,
    ) -> Result<Option<Result<(), ServiceError>>, StoreError> {
        let name = name.to_string();
        self.run("changing a topic", move |store| {
            store.update_topic(&name, move |topic| {
                let before = topic.clone();
                let outcome = change(topic);
                if outcome.is_err() {
                    *topic = before;
                }
                outcome
            })
        })
        .await
    }

    async fn delete_topic(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.run("deleting a topic", move |store| store.delete_topic(&name))
            .await
    }

    async fn subscribe(
        &self,
        new: &NewSubscription,
        now_ms: i64,
    ) -> Result<(SubscriptionRecord, bool), StoreError> {
        let new = new.clone();
        self.run("subscribing", move |store| store.subscribe(&new, now_ms))
            .await
    }

    async fn unsubscribe(&self, arn: &str) -> Result<bool, StoreError> {
        let arn = arn.to_string();
        self.run("unsubscribing", move |store| store.unsubscribe(&arn))
            .await
    }

    async fn subscription(&self, arn: &str) -> Result<Option<SubscriptionRecord>, StoreError> {
        let arn = arn.to_string();
        self.run("reading a subscription", move |store| {
            store.subscription(&arn)
        })
        .await
    }

    async fn subscription_by_token(
        &self,
        token: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        let token = token.to_string();
        self.run("reading a subscription by token", move |store| {
            store.subscription_by_token(&token)
        })
        .await
    }

    async fn list_subscriptions(
        &self,
        topic: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<SubscriptionRecord>>, StoreError> {
        let (topic, after) = (topic.map(str::to_string), after.map(str::to_string));
        self.run("listing subscriptions", move |store| {
            if let Some(name) = &topic
                && store.topic(name)?.is_none()
            {
                return Ok(None);
            }
            store
                .list_subscriptions(topic.as_deref(), after.as_deref(), limit)
                .map(Some)
        })
        .await
    }

    async fn set_subscription_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let (arn, attributes) = (arn.to_string(), attributes.clone());
        self.run("setting a subscription's attributes", move |store| {
            store.set_subscription_attributes(&arn, &attributes)
        })
        .await
    }

    async fn topic_duplicate(
        &self,
        topic: &str,
        dedup_id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let (topic, dedup_id) = (topic.to_string(), dedup_id.to_string());
        self.run("reading a topic's deduplication window", move |store| {
            store.topic_duplicate(&topic, &dedup_id, now_ms)
        })
        .await
    }

    async fn commit_publication(
        &self,
        topic: &str,
        dedup: Option<Dedup<'_>>,
        deliveries: &[NewTopicDelivery],
        outbox: &[NewOutboxMessage],
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let topic = topic.to_string();
        let dedup = dedup.map(|d| (d.id.to_string(), d.message_id.to_string(), d.expires_ms));
        let (deliveries, outbox) = (deliveries.to_vec(), outbox.to_vec());
        self.run("committing a publication", move |store| {
            let dedup = dedup.as_ref().map(|(id, message_id, expires_ms)| {
                (id.as_str(), message_id.as_str(), *expires_ms)
            });
            store.commit_publication(&topic, dedup, &deliveries, &outbox, now_ms)
        })
        .await
    }

    async fn local_outbox(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let topic = topic.map(str::to_string);
        self.run("reading the local outbox", move |store| {
            store.local_outbox(topic.as_deref(), limit)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<TopicDelivery>, StoreError> {
        self.run("claiming HTTP deliveries", move |store| {
            store.claim_topic_deliveries(now_ms, limit, lease_ms)
        })
        .await
    }

    async fn complete_delivery(&self, id: i64) -> Result<(), StoreError> {
        self.run("completing an HTTP delivery", move |store| {
            store.complete_topic_delivery(id)
        })
        .await
    }

    async fn retry_delivery(&self, id: i64, due_ms: i64) -> Result<(), StoreError> {
        self.run("rescheduling an HTTP delivery", move |store| {
            store.retry_topic_delivery(id, due_ms)
        })
        .await
    }

    async fn drop_delivery(&self, id: i64) -> Result<(), StoreError> {
        self.run("dropping an HTTP delivery", move |store| {
            store.complete_topic_delivery(id)
        })
        .await
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        self.run("counting HTTP deliveries", |store| {
            store.pending_topic_deliveries()
        })
        .await
    }
}
