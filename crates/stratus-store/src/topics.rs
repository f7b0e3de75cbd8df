//! The store of topics and subscriptions (SNS), the deduplication window of
//! FIFO topics, and the outbox of HTTP deliveries.
//!
//! A topic's and a subscription's settable attributes are kept as a JSON
//! object of strings (SNS's attributes are all strings on the wire); the
//! events crate validates them. The outbox holds one row per HTTP delivery,
//! committed in the publish before it answers and removed once delivered
//! or given up.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::error::SqlContext;
use crate::{Store, StoreError, from_sql_int};

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = "
CREATE TABLE topics (
    name TEXT PRIMARY KEY,
    fifo INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE topic_subscriptions (
    arn TEXT PRIMARY KEY,
    topic TEXT NOT NULL REFERENCES topics (name) ON DELETE CASCADE,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX topic_subscriptions_by_topic ON topic_subscriptions (topic, created_ms);
CREATE TABLE topic_dedup (
    topic TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, dedup_id)
);
CREATE TABLE topic_deliveries (
    id INTEGER PRIMARY KEY,
    subscription_arn TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX topic_deliveries_by_due ON topic_deliveries (due_ms);
";

/// A stored topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    /// The name (ends with `.fifo` for FIFO topics).
    pub name: String,
    /// Whether it is a FIFO topic.
    pub fifo: bool,
    /// Settable attributes (`DisplayName`, `ContentBasedDeduplication`, ...).
    pub attributes: BTreeMap<String, String>,
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
    /// `lambda`, `sqs`, `http` or `https`.
    pub protocol: String,
    /// The function or queue ARN, or the URL.
    pub endpoint: String,
    /// Settable attributes (`FilterPolicy`, `RawMessageDelivery`, ...).
    pub attributes: BTreeMap<String, String>,
}

/// A stored subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Its ARN.
    pub arn: String,
    /// The topic's name.
    pub topic: String,
    /// `lambda`, `sqs`, `http` or `https`.
    pub protocol: String,
    /// The function or queue ARN, or the URL.
    pub endpoint: String,
    /// Settable attributes.
    pub attributes: BTreeMap<String, String>,
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

fn parse_map(text: &str, what: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("attributes of {what}: {e}")))
}

fn to_json(map: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(map).map_err(|e| StoreError::Invalid(format!("attributes: {e}")))
}

fn topic_from_row(row: &Row<'_>) -> rusqlite::Result<(String, bool, String, i64)> {
    Ok((
        row.get(0)?,
        row.get::<_, i64>(1)? != 0,
        row.get(2)?,
        row.get(3)?,
    ))
}

fn topic_record(raw: (String, bool, String, i64)) -> Result<TopicRecord, StoreError> {
    let (name, fifo, attributes, created_ms) = raw;
    let attributes = parse_map(&attributes, &name)?;
    Ok(TopicRecord {
        name,
        fifo,
        attributes,
        created_ms,
    })
}

const SUBSCRIPTION_COLUMNS: &str = "arn, topic, protocol, endpoint, attributes, created_ms";

type RawSubscription = (String, String, String, String, String, i64);

fn subscription_from_row(row: &Row<'_>) -> rusqlite::Result<RawSubscription> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn subscription_record(raw: RawSubscription) -> Result<SubscriptionRecord, StoreError> {
    let (arn, topic, protocol, endpoint, attributes, created_ms) = raw;
    let attributes = parse_map(&attributes, &arn)?;
    Ok(SubscriptionRecord {
        arn,
        topic,
        protocol,
        endpoint,
        attributes,
        created_ms,
    })
}

impl Store {
    /// Creates a topic; if one of that name exists, returns it unchanged
    /// (`Ok((record, false))`), as SNS's CreateTopic is idempotent.
    pub fn create_topic(
        &self,
        name: &str,
        fifo: bool,
        attributes: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<(TopicRecord, bool), StoreError> {
        let conn = self.writer();
        let inserted = conn
            .execute(
                "INSERT INTO topics (name, fifo, attributes, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO NOTHING",
                params![name, i64::from(fifo), to_json(attributes)?, now_ms],
            )
            .sql("creating a topic")?;
        let raw = conn
            .query_row(
                "SELECT name, fifo, attributes, created_ms FROM topics WHERE name = ?1",
                params![name],
                topic_from_row,
            )
            .sql("reading a created topic")?;
        Ok((topic_record(raw)?, inserted > 0))
    }

    /// Deletes a topic and its subscriptions; false if there was none.
    pub fn delete_topic(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete a topic")?;
        tx.execute(
            "DELETE FROM topic_subscriptions WHERE topic = ?1",
            params![name],
        )
        .sql("deleting a topic's subscriptions")?;
        tx.execute("DELETE FROM topic_dedup WHERE topic = ?1", params![name])
            .sql("deleting a topic's deduplication window")?;
        let deleted = tx
            .execute("DELETE FROM topics WHERE name = ?1", params![name])
            .sql("deleting a topic")?;
        tx.commit().sql("committing a topic's deletion")?;
        Ok(deleted > 0)
    }

    /// The topic named `name`, if any.
    pub fn topic(&self, name: &str) -> Result<Option<TopicRecord>, StoreError> {
        let raw = self.read(|conn| {
            conn.query_row(
                "SELECT name, fifo, attributes, created_ms FROM topics WHERE name = ?1",
                params![name],
                topic_from_row,
            )
            .optional()
            .sql("reading a topic")
        })?;
        raw.map(topic_record).transpose()
    }

    /// Up to `limit` topics in name order, after `after` if given.
    pub fn list_topics(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TopicRecord>, StoreError> {
        let raws = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT name, fifo, attributes, created_ms FROM topics
                     WHERE name > ?1 ORDER BY name LIMIT ?2",
                )
                .sql("preparing to list topics")?;
            let rows = stmt
                .query_map(params![after.unwrap_or(""), limit as i64], topic_from_row)
                .sql("listing topics")?;
            rows.collect::<Result<Vec<_>, _>>().sql("reading topics")
        })?;
        raws.into_iter().map(topic_record).collect()
    }

    /// Replaces a topic's settable attributes. `NotFound` if it does not
    /// exist.
    pub fn set_topic_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let changed = self
            .writer()
            .execute(
                "UPDATE topics SET attributes = ?2 WHERE name = ?1",
                params![name, to_json(attributes)?],
            )
            .sql("setting a topic's attributes")?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "Topic does not exist: {name}"
            )));
        }
        Ok(())
    }

    /// Creates a subscription. If the topic already has one with the same
    /// protocol and endpoint, that one is returned instead (`false`), as
    /// SNS's Subscribe is idempotent. `NotFound` if the topic does not
    /// exist.
    pub fn subscribe(
        &self,
        new: &NewSubscription,
        now_ms: i64,
    ) -> Result<(SubscriptionRecord, bool), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting a subscription")?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM topics WHERE name = ?1",
                params![new.topic],
                |r| r.get(0),
            )
            .optional()
            .sql("reading a topic")?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "Topic does not exist: {}",
                new.topic
            )));
        }
        let existing = tx
            .query_row(
                &format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions
                     WHERE topic = ?1 AND protocol = ?2 AND endpoint = ?3"
                ),
                params![new.topic, new.protocol, new.endpoint],
                subscription_from_row,
            )
            .optional()
            .sql("reading an existing subscription")?;
        if let Some(raw) = existing {
            return Ok((subscription_record(raw)?, false));
        }
        tx.execute(
            "INSERT INTO topic_subscriptions (arn, topic, protocol, endpoint, attributes, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                new.arn,
                new.topic,
                new.protocol,
                new.endpoint,
                to_json(&new.attributes)?,
                now_ms
            ],
        )
        .sql("creating a subscription")?;
        tx.commit().sql("committing a subscription")?;
        Ok((
            SubscriptionRecord {
                arn: new.arn.clone(),
                topic: new.topic.clone(),
                protocol: new.protocol.clone(),
                endpoint: new.endpoint.clone(),
                attributes: new.attributes.clone(),
                created_ms: now_ms,
            },
            true,
        ))
    }

    /// Deletes a subscription; false if there was none.
    pub fn unsubscribe(&self, arn: &str) -> Result<bool, StoreError> {
        let deleted = self
            .writer()
            .execute(
                "DELETE FROM topic_subscriptions WHERE arn = ?1",
                params![arn],
            )
            .sql("deleting a subscription")?;
        Ok(deleted > 0)
    }

    /// The subscription `arn`, if any.
    pub fn subscription(&self, arn: &str) -> Result<Option<SubscriptionRecord>, StoreError> {
        let raw = self.read(|conn| {
            conn.query_row(
                &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions WHERE arn = ?1"),
                params![arn],
                subscription_from_row,
            )
            .optional()
            .sql("reading a subscription")
        })?;
        raw.map(subscription_record).transpose()
    }

    /// Up to `limit` subscriptions (of `topic` if given) in ARN order,
    /// after `after` if given.
    pub fn list_subscriptions(
        &self,
        topic: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let raws = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions
                     WHERE (?1 IS NULL OR topic = ?1) AND arn > ?2 ORDER BY arn LIMIT ?3"
                ))
                .sql("preparing to list subscriptions")?;
            let rows = stmt
                .query_map(
                    params![topic, after.unwrap_or(""), limit as i64],
                    subscription_from_row,
                )
                .sql("listing subscriptions")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading subscriptions")
        })?;
        raws.into_iter().map(subscription_record).collect()
    }

    /// Every subscription of `topic`, oldest first (for fan-out).
    pub fn topic_subscriptions(&self, topic: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let raws = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions
                     WHERE topic = ?1 ORDER BY created_ms, arn"
                ))
                .sql("preparing to read a topic's subscriptions")?;
            let rows = stmt
                .query_map(params![topic], subscription_from_row)
                .sql("reading a topic's subscriptions")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading a topic's subscriptions")
        })?;
        raws.into_iter().map(subscription_record).collect()
    }

    /// Replaces a subscription's settable attributes. `NotFound` if it
    /// does not exist.
    pub fn set_subscription_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let changed = self
            .writer()
            .execute(
                "UPDATE topic_subscriptions SET attributes = ?2 WHERE arn = ?1",
                params![arn, to_json(attributes)?],
            )
            .sql("setting a subscription's attributes")?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "Subscription does not exist: {arn}"
            )));
        }
        Ok(())
    }

    /// The message id of an earlier publication to FIFO topic `topic` with
    /// deduplication id `dedup_id`, if it is still within its window.
    pub fn topic_duplicate(
        &self,
        topic: &str,
        dedup_id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT message_id FROM topic_dedup
                 WHERE topic = ?1 AND dedup_id = ?2 AND expires_ms > ?3",
                params![topic, dedup_id, now_ms],
                |r| r.get(0),
            )
            .optional()
            .sql("reading a topic's deduplication window")
        })
    }

    /// Commits a publication: its deduplication entry (`(dedup id, message
    /// id, expiry)`, FIFO topics) and its HTTP deliveries, in one
    /// transaction. If another publication took the deduplication id
    /// meanwhile, nothing is written and its message id is returned.
    pub fn commit_publication(
        &self,
        topic: &str,
        dedup: Option<(&str, &str, i64)>,
        deliveries: &[NewTopicDelivery],
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting a publication")?;
        if let Some((dedup_id, message_id, expires_ms)) = dedup {
            tx.execute(
                "DELETE FROM topic_dedup WHERE topic = ?1 AND expires_ms <= ?2",
                params![topic, now_ms],
            )
            .sql("expiring a topic's deduplication window")?;
            let earlier: Option<String> = tx
                .query_row(
                    "SELECT message_id FROM topic_dedup WHERE topic = ?1 AND dedup_id = ?2",
                    params![topic, dedup_id],
                    |r| r.get(0),
                )
                .optional()
                .sql("reading a topic's deduplication window")?;
            if earlier.is_some() {
                return Ok(earlier);
            }
            tx.execute(
                "INSERT INTO topic_dedup (topic, dedup_id, message_id, expires_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![topic, dedup_id, message_id, expires_ms],
            )
            .sql("recording a deduplication id")?;
        }
        for delivery in deliveries {
            let headers = serde_json::to_string(&delivery.headers)
                .map_err(|e| StoreError::Invalid(format!("delivery headers: {e}")))?;
            tx.execute(
                "INSERT INTO topic_deliveries (subscription_arn, url, headers, body, due_ms, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![
                    delivery.subscription_arn,
                    delivery.url,
                    headers,
                    delivery.body,
                    now_ms
                ],
            )
            .sql("queuing an HTTP delivery")?;
        }
        tx.commit().sql("committing a publication")?;
        Ok(None)
    }

    /// Up to `limit` HTTP deliveries due at `now_ms`, oldest first, each
    /// leased until `now_ms + lease_ms` (so a crash mid-delivery retries it
    /// after the lease).
    pub fn claim_topic_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<TopicDelivery>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting a claim of HTTP deliveries")?;
        let mut claimed = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, subscription_arn, url, headers, body, attempts, created_ms
                     FROM topic_deliveries WHERE due_ms <= ?1 ORDER BY due_ms, id LIMIT ?2",
                )
                .sql("preparing a claim of HTTP deliveries")?;
            let rows = stmt
                .query_map(params![now_ms, limit as i64], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, i64>(5)?,
                        row.get::<_, i64>(6)?,
                    ))
                })
                .sql("reading due HTTP deliveries")?;
            for row in rows {
                let (id, subscription_arn, url, headers, body, attempts, created_ms) =
                    row.sql("reading an HTTP delivery")?;
                let headers = serde_json::from_str(&headers).map_err(|e| {
                    StoreError::Corrupt(format!("headers of HTTP delivery {id}: {e}"))
                })?;
                claimed.push(TopicDelivery {
                    id,
                    subscription_arn,
                    url,
                    headers,
                    body,
                    attempts: u32::try_from(from_sql_int(attempts, "attempts")?)
                        .unwrap_or(u32::MAX),
                    created_ms,
                });
            }
        }
        for delivery in &claimed {
            tx.execute(
                "UPDATE topic_deliveries SET due_ms = ?2 WHERE id = ?1",
                params![delivery.id, now_ms + lease_ms],
            )
            .sql("leasing an HTTP delivery")?;
        }
        tx.commit().sql("committing a claim of HTTP deliveries")?;
        Ok(claimed)
    }

    /// Removes a delivery that was made or given up.
    pub fn complete_topic_delivery(&self, id: i64) -> Result<(), StoreError> {
        self.writer()
            .execute("DELETE FROM topic_deliveries WHERE id = ?1", params![id])
            .sql("completing an HTTP delivery")?;
        Ok(())
    }

    /// Counts a failed attempt of a delivery and makes it due again at
    /// `due_ms`.
    pub fn retry_topic_delivery(&self, id: i64, due_ms: i64) -> Result<(), StoreError> {
        self.writer()
            .execute(
                "UPDATE topic_deliveries SET attempts = attempts + 1, due_ms = ?2 WHERE id = ?1",
                params![id, due_ms],
            )
            .sql("rescheduling an HTTP delivery")?;
        Ok(())
    }

    /// How many HTTP deliveries wait in the outbox.
    pub fn pending_topic_deliveries(&self) -> Result<u64, StoreError> {
        let n: i64 = self.read(|conn| {
            conn.query_row("SELECT COUNT(*) FROM topic_deliveries", [], |r| r.get(0))
                .sql("counting HTTP deliveries")
        })?;
        from_sql_int(n, "count")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn topics_subscriptions_and_outbox() {
        let (_dir, store) = store();
        let attrs = BTreeMap::from([("DisplayName".to_string(), "d".to_string())]);
        let (t, created) = store.create_topic("t1", false, &attrs, 1).unwrap();
        assert!(created);
        assert_eq!(t.attributes, attrs);
        let (_, again) = store
            .create_topic("t1", false, &BTreeMap::new(), 2)
            .unwrap();
        assert!(!again);
        store
            .create_topic("t2.fifo", true, &BTreeMap::new(), 3)
            .unwrap();
        let names: Vec<_> = store
            .list_topics(Some("t1"), 10)
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["t2.fifo"]);

        let new = NewSubscription {
            arn: "arn:s1".into(),
            topic: "t1".into(),
            protocol: "http".into(),
            endpoint: "http://x".into(),
            attributes: BTreeMap::new(),
        };
        assert!(store.subscribe(&new, 5).unwrap().1);
        let dup = NewSubscription {
            arn: "arn:s2".into(),
            ..new.clone()
        };
        let (existing, created) = store.subscribe(&dup, 6).unwrap();
        assert!(!created);
        assert_eq!(existing.arn, "arn:s1");
        let missing = NewSubscription {
            topic: "nope".into(),
            ..new.clone()
        };
        assert!(matches!(
            store.subscribe(&missing, 7),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.topic_subscriptions("t1").unwrap().len(), 1);

        let delivery = NewTopicDelivery {
            subscription_arn: "arn:s1".into(),
            url: "http://x".into(),
            headers: vec![("a".into(), "b".into())],
            body: "{}".into(),
        };
        assert_eq!(
            store
                .commit_publication(
                    "t2.fifo",
                    Some(("d1", "m1", 100)),
                    std::slice::from_ref(&delivery),
                    10
                )
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .topic_duplicate("t2.fifo", "d1", 50)
                .unwrap()
                .as_deref(),
            Some("m1")
        );
        assert_eq!(
            store
                .commit_publication("t2.fifo", Some(("d1", "m2", 200)), &[delivery], 20)
                .unwrap()
                .as_deref(),
            Some("m1")
        );
        assert_eq!(store.topic_duplicate("t2.fifo", "d1", 100).unwrap(), None);
        let claimed = store.claim_topic_deliveries(30, 10, 1000).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].headers, vec![("a".to_string(), "b".to_string())]);
        assert!(
            store
                .claim_topic_deliveries(31, 10, 1000)
                .unwrap()
                .is_empty()
        );
        store.retry_topic_delivery(claimed[0].id, 40).unwrap();
        let again = store.claim_topic_deliveries(40, 10, 1000).unwrap();
        assert_eq!(again[0].attempts, 1);
        store.complete_topic_delivery(again[0].id).unwrap();
        assert_eq!(store.pending_topic_deliveries().unwrap(), 0);

        assert!(store.delete_topic("t1").unwrap());
        assert!(store.subscription("arn:s1").unwrap().is_none());
        assert!(!store.delete_topic("t1").unwrap());
    }
}
