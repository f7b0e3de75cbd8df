//! The store of topics and subscriptions (SNS), the deduplication window of
//! FIFO topics, the outbox of HTTP deliveries, and the local outbox of
//! `email`, `email-json` and `sms` messages.
//!
//! A topic's and a subscription's settable attributes, and a topic's tags,
//! are kept as JSON objects of strings (SNS's attributes are all strings on
//! the wire); the SNS crate validates them. The HTTP outbox holds one row
//! per HTTP delivery, committed in the publish before it answers and
//! removed once delivered or given up. The local outbox keeps what would
//! have been emailed or texted (Stratus sends neither), the newest
//! [`LOCAL_OUTBOX_KEEP`] messages, for `stratus sns outbox` to show.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::store::error::SqlContext;
use crate::store::{Store, StoreError, from_sql_int};
use stratus_sns::backend::{
    LOCAL_OUTBOX_KEEP, NewOutboxMessage, NewSubscription, NewTopicDelivery, OutboxKind,
    OutboxMessage, SubscriptionRecord, TopicDelivery, TopicRecord,
};

/// The second migration of the topics: topics' tags, subscriptions'
/// confirmation tokens, and the local outbox of `email`, `email-json` and
/// `sms` messages.
pub(crate) const MIGRATION_2: &str = "
ALTER TABLE topics ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
ALTER TABLE topic_subscriptions ADD COLUMN token TEXT;
CREATE UNIQUE INDEX topic_subscriptions_by_token ON topic_subscriptions (token);
CREATE TABLE topic_outbox (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    subscription_arn TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX topic_outbox_by_topic ON topic_outbox (topic, id);
";

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

fn parse_map(text: &str, what: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("attributes of {what}: {e}")))
}

fn to_json(map: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(map).map_err(|e| StoreError::Invalid(format!("attributes: {e}")))
}

const TOPIC_COLUMNS: &str = "name, fifo, attributes, tags, created_ms";

type RawTopic = (String, bool, String, String, i64);

fn topic_from_row(row: &Row<'_>) -> rusqlite::Result<RawTopic> {
    Ok((
        row.get(0)?,
        row.get::<_, i64>(1)? != 0,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn topic_record(raw: RawTopic) -> Result<TopicRecord, StoreError> {
    let (name, fifo, attributes, tags, created_ms) = raw;
    let attributes = parse_map(&attributes, &name)?;
    let tags = parse_map(&tags, &name)?;
    Ok(TopicRecord {
        name,
        fifo,
        attributes,
        tags,
        created_ms,
    })
}

const SUBSCRIPTION_COLUMNS: &str = "arn, topic, protocol, endpoint, attributes, token, created_ms";

type RawSubscription = (String, String, String, String, String, Option<String>, i64);

fn subscription_from_row(row: &Row<'_>) -> rusqlite::Result<RawSubscription> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn subscription_record(raw: RawSubscription) -> Result<SubscriptionRecord, StoreError> {
    let (arn, topic, protocol, endpoint, attributes, token, created_ms) = raw;
    let attributes = parse_map(&attributes, &arn)?;
    Ok(SubscriptionRecord {
        arn,
        topic,
        protocol,
        endpoint,
        attributes,
        token,
        created_ms,
    })
}

fn read_topic(conn: &rusqlite::Connection, name: &str) -> Result<Option<TopicRecord>, StoreError> {
    let raw = conn
        .query_row(
            &format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE name = ?1"),
            params![name],
            topic_from_row,
        )
        .optional()
        .sql("reading a topic")?;
    raw.map(topic_record).transpose()
}

impl Store {
    /// Creates a topic with `tags`; if one of that name exists, returns it
    /// unchanged (`Ok((record, false))`), as SNS's CreateTopic is
    /// idempotent.
    pub fn create_topic(
        &self,
        name: &str,
        fifo: bool,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<(TopicRecord, bool), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to create a topic")?;
        let inserted = tx
            .execute(
                "INSERT INTO topics (name, fifo, attributes, tags, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO NOTHING",
                params![
                    name,
                    i64::from(fifo),
                    to_json(attributes)?,
                    to_json(tags)?,
                    now_ms
                ],
            )
            .sql("creating a topic")?;
        let record = read_topic(&tx, name)?.ok_or_else(|| {
            StoreError::Corrupt(format!("topic {name} is missing right after its creation"))
        })?;
        tx.commit().sql("committing a topic")?;
        Ok((record, inserted > 0))
    }

    /// Changes a topic in one transaction: `change` gets the stored topic
    /// and what it leaves in its attributes and tags is stored (nothing is
    /// written if it changes neither). `Ok(None)` if there is no such topic.
    pub fn update_topic<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut TopicRecord) -> T,
    ) -> Result<Option<T>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to change a topic")?;
        let Some(before) = read_topic(&tx, name)? else {
            return Ok(None);
        };
        let mut after = before.clone();
        let out = change(&mut after);
        if after.attributes != before.attributes || after.tags != before.tags {
            tx.execute(
                "UPDATE topics SET attributes = ?2, tags = ?3 WHERE name = ?1",
                params![name, to_json(&after.attributes)?, to_json(&after.tags)?],
            )
            .sql("changing a topic")?;
        }
        tx.commit().sql("committing a topic's change")?;
        Ok(Some(out))
    }

    /// Deletes a topic, its subscriptions and their pending HTTP deliveries;
    /// false if there was none.
    pub fn delete_topic(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete a topic")?;
        tx.execute(
            "DELETE FROM topic_deliveries WHERE subscription_arn IN
             (SELECT arn FROM topic_subscriptions WHERE topic = ?1)",
            params![name],
        )
        .sql("deleting a topic's pending HTTP deliveries")?;
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
        self.read(|conn| read_topic(conn, name))
    }

    /// Up to `limit` topics in name order, after `after` if given.
    pub fn list_topics(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TopicRecord>, StoreError> {
        let raws = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {TOPIC_COLUMNS} FROM topics WHERE name > ?1 ORDER BY name LIMIT ?2"
                ))
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
            return Err(StoreError::NotFound("Topic does not exist".into()));
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
            return Err(StoreError::NotFound("Topic does not exist".into()));
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
            "INSERT INTO topic_subscriptions (arn, topic, protocol, endpoint, attributes, token, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                new.arn,
                new.topic,
                new.protocol,
                new.endpoint,
                to_json(&new.attributes)?,
                new.token,
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
                token: new.token.clone(),
                created_ms: now_ms,
            },
            true,
        ))
    }

    /// Deletes a subscription and its pending HTTP deliveries; false if
    /// there was none.
    pub fn unsubscribe(&self, arn: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete a subscription")?;
        tx.execute(
            "DELETE FROM topic_deliveries WHERE subscription_arn = ?1",
            params![arn],
        )
        .sql("deleting a subscription's pending HTTP deliveries")?;
        let deleted = tx
            .execute(
                "DELETE FROM topic_subscriptions WHERE arn = ?1",
                params![arn],
            )
            .sql("deleting a subscription")?;
        tx.commit().sql("committing a subscription's deletion")?;
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

    /// The subscription whose confirmation token is `token`, if any.
    pub fn subscription_by_token(
        &self,
        token: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        let raw = self.read(|conn| {
            conn.query_row(
                &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions WHERE token = ?1"),
                params![token],
                subscription_from_row,
            )
            .optional()
            .sql("reading a subscription by its token")
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
            return Err(StoreError::NotFound("Subscription does not exist".into()));
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
    /// id, expiry)`, FIFO topics), its HTTP deliveries and its messages for
    /// the local outbox, in one transaction. If another publication took
    /// the deduplication id meanwhile, nothing is written and its message
    /// id is returned.
    pub fn commit_publication(
        &self,
        topic: &str,
        dedup: Option<(&str, &str, i64)>,
        deliveries: &[NewTopicDelivery],
        outbox: &[NewOutboxMessage],
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
        for message in outbox {
            tx.execute(
                "INSERT INTO topic_outbox
                 (topic, subscription_arn, protocol, endpoint, kind, message_id, subject, body, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    message.topic,
                    message.subscription_arn,
                    message.protocol,
                    message.endpoint,
                    message.kind.as_str(),
                    message.message_id,
                    message.subject,
                    message.body,
                    now_ms
                ],
            )
            .sql("recording a message in the local outbox")?;
        }
        if !outbox.is_empty() {
            tx.execute(
                "DELETE FROM topic_outbox WHERE id <= (SELECT MAX(id) FROM topic_outbox) - ?1",
                params![LOCAL_OUTBOX_KEEP],
            )
            .sql("trimming the local outbox")?;
        }
        tx.commit().sql("committing a publication")?;
        Ok(None)
    }

    /// The newest `limit` messages of the local outbox (of `topic` if
    /// given), oldest first.
    pub fn local_outbox(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, topic, subscription_arn, protocol, endpoint, kind, message_id,
                            subject, body, created_ms
                     FROM topic_outbox WHERE (?1 IS NULL OR topic = ?1)
                     ORDER BY id DESC LIMIT ?2",
                )
                .sql("preparing to read the local outbox")?;
            let rows = stmt
                .query_map(params![topic, limit], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, String>(6)?,
                        row.get::<_, Option<String>>(7)?,
                        row.get::<_, String>(8)?,
                        row.get::<_, i64>(9)?,
                    ))
                })
                .sql("reading the local outbox")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading the local outbox")
        })?;
        let mut messages = rows
            .into_iter()
            .map(
                |(
                    id,
                    topic,
                    subscription_arn,
                    protocol,
                    endpoint,
                    kind,
                    message_id,
                    subject,
                    body,
                    created_ms,
                )| {
                    let kind = OutboxKind::parse(&kind).ok_or_else(|| {
                        StoreError::Corrupt(format!("local outbox message {id} has kind {kind}"))
                    })?;
                    Ok(OutboxMessage {
                        id,
                        message: NewOutboxMessage {
                            topic,
                            subscription_arn,
                            protocol,
                            endpoint,
                            kind,
                            message_id,
                            subject,
                            body,
                        },
                        created_ms,
                    })
                },
            )
            .collect::<Result<Vec<_>, StoreError>>()?;
        messages.reverse();
        Ok(messages)
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
        let (t, created) = store
            .create_topic("t1", false, &attrs, &BTreeMap::new(), 1)
            .unwrap();
        assert!(created);
        assert_eq!(t.attributes, attrs);
        let (_, again) = store
            .create_topic("t1", false, &BTreeMap::new(), &BTreeMap::new(), 2)
            .unwrap();
        assert!(!again);
        store
            .create_topic("t2.fifo", true, &BTreeMap::new(), &BTreeMap::new(), 3)
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
            token: Some("tok1".into()),
        };
        assert!(store.subscribe(&new, 5).unwrap().1);
        let dup = NewSubscription {
            arn: "arn:s2".into(),
            token: Some("tok2".into()),
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
        assert_eq!(
            store
                .subscription_by_token("tok1")
                .unwrap()
                .map(|s| s.arn)
                .as_deref(),
            Some("arn:s1")
        );
        assert!(store.subscription_by_token("tok2").unwrap().is_none());

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
                    &[],
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
                .commit_publication("t2.fifo", Some(("d1", "m2", 200)), &[delivery], &[], 20)
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

    #[test]
    fn tags_and_changes_of_topics() {
        let (_dir, store) = store();
        let tags = BTreeMap::from([("team".to_string(), "a".to_string())]);
        let (t, created) = store
            .create_topic("t", false, &BTreeMap::new(), &tags, 1)
            .unwrap();
        assert!(created);
        assert_eq!(t.tags, tags);
        // An existing topic keeps its tags.
        let (again, created) = store
            .create_topic("t", false, &BTreeMap::new(), &BTreeMap::new(), 2)
            .unwrap();
        assert!(!created);
        assert_eq!(again.tags, tags);

        let changed = store
            .update_topic("t", |topic| {
                topic.tags.insert("env".into(), "dev".into());
                topic.attributes.insert("Policy".into(), "{}".into());
                7
            })
            .unwrap();
        assert_eq!(changed, Some(7));
        let read = store.topic("t").unwrap().unwrap();
        assert_eq!(read.tags.len(), 2);
        assert_eq!(read.attributes["Policy"], "{}");
        // A change that changes nothing writes nothing and still answers.
        assert_eq!(store.update_topic("t", |_| "same").unwrap(), Some("same"));
        assert_eq!(store.update_topic("missing", |_| ()).unwrap(), None);

        // Deleting a topic drops its tags with it.
        store.delete_topic("t").unwrap();
        let (fresh, _) = store
            .create_topic("t", false, &BTreeMap::new(), &BTreeMap::new(), 3)
            .unwrap();
        assert!(fresh.tags.is_empty() && fresh.attributes.is_empty());
    }

    #[test]
    fn unsubscribing_drops_pending_deliveries() {
        let (_dir, store) = store();
        store
            .create_topic("t", false, &BTreeMap::new(), &BTreeMap::new(), 1)
            .unwrap();
        let subscribe = |arn: &str| {
            let new = NewSubscription {
                arn: arn.into(),
                topic: "t".into(),
                protocol: "http".into(),
                endpoint: format!("http://x/{arn}"),
                attributes: BTreeMap::new(),
                token: None,
            };
            store.subscribe(&new, 2).unwrap();
        };
        subscribe("arn:a");
        subscribe("arn:b");
        let delivery = |arn: &str| NewTopicDelivery {
            subscription_arn: arn.into(),
            url: "http://x".into(),
            headers: Vec::new(),
            body: "{}".into(),
        };
        store
            .commit_publication("t", None, &[delivery("arn:a"), delivery("arn:b")], &[], 3)
            .unwrap();
        assert_eq!(store.pending_topic_deliveries().unwrap(), 2);
        assert!(store.unsubscribe("arn:a").unwrap());
        assert!(!store.unsubscribe("arn:a").unwrap());
        assert_eq!(store.pending_topic_deliveries().unwrap(), 1);
        assert!(store.delete_topic("t").unwrap());
        assert_eq!(store.pending_topic_deliveries().unwrap(), 0);
    }

    #[test]
    fn local_outbox_keeps_the_newest_messages() {
        let (_dir, store) = store();
        let message = |topic: &str, n: usize| NewOutboxMessage {
            topic: topic.into(),
            subscription_arn: format!("arn:aws:sns:us-east-1:000000000000:{topic}:s"),
            protocol: "email".into(),
            endpoint: "a@example.com".into(),
            kind: OutboxKind::Notification,
            message_id: format!("m{n}"),
            subject: n.is_multiple_of(2).then(|| format!("s{n}")),
            body: format!("body {n}"),
        };
        store
            .commit_publication("a", None, &[], &[message("a", 1), message("b", 2)], 5)
            .unwrap();
        store
            .commit_publication("a", None, &[], &[message("a", 3)], 6)
            .unwrap();
        let all = store.local_outbox(None, 10).unwrap();
        let ids: Vec<&str> = all.iter().map(|m| m.message.message_id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2", "m3"]);
        assert_eq!(all[1].message, message("b", 2));
        assert_eq!(all[2].created_ms, 6);
        let newest_of_a = store.local_outbox(Some("a"), 1).unwrap();
        assert_eq!(newest_of_a.len(), 1);
        assert_eq!(newest_of_a[0].message.message_id, "m3");
        assert!(store.local_outbox(Some("c"), 10).unwrap().is_empty());

        // Past the limit, the oldest go.
        let many: Vec<NewOutboxMessage> = (0..LOCAL_OUTBOX_KEEP as usize + 5)
            .map(|n| message("z", n + 10))
            .collect();
        store.commit_publication("z", None, &[], &many, 7).unwrap();
        let kept = store.local_outbox(None, usize::MAX).unwrap();
        assert_eq!(kept.len() as i64, LOCAL_OUTBOX_KEEP);
        assert_eq!(
            kept.last().map(|m| m.message.message_id.clone()),
            Some(format!("m{}", LOCAL_OUTBOX_KEEP as usize + 14))
        );
        assert!(kept.iter().all(|m| m.message.topic == "z"));
    }
}
