//! The store of queues and their messages (SQS semantics).
//!
//! Every function takes the current time (`now_ms`) as a parameter, so the
//! rules (visibility, delay, retention, FIFO groups, the deduplication
//! window, redrive) are tested without clocks or sleeps. Every batch
//! operation is one transaction, committed (durably) before it returns.
//!
//! Layout:
//! - `queues`: one row per queue; its settings as JSON, plus the DLQ name
//!   in its own indexed column (for `ListDeadLetterSourceQueues`).
//! - `queue_messages`: one row per message. `visible_ms` is when it may be
//!   received next (send time + delay, or receive time + visibility
//!   timeout); `receive_count` > 0 and `visible_ms` > now means in flight,
//!   `receive_count` = 0 and `visible_ms` > now means delayed. `receipt` is
//!   a random token drawn at the first receive: a receipt handle names the
//!   queue, the row, the receive (its count) and that token, so every
//!   handle a message was received with stays valid, as on SQS: a standard
//!   queue deletes by any of them and changes the visibility of the
//!   message by any of them; a FIFO queue only by the handle of the
//!   receive in flight (the others have expired).
//! - `queue_dedup`: FIFO deduplication ids, each until its window ends.
//! - `queue_tags`: the tags of each queue.
//! - `queue_move_tasks`: message move tasks (DLQ redrives), each as a
//!   document the caller writes and reads (the store only knows its
//!   source queue, when it started and whether it runs).
//!
//! Receiving from a standard queue reads the `(queue_id, visible_ms, ...)`
//! index from its start: O(batch). A FIFO receive first finds the head
//! (lowest id) of every message group by a skip-scan of the partial
//! `(queue_id, group_id, id)` index, O(groups · log n), and takes the
//! visible prefix of each group whose head is visible.

use std::collections::BTreeMap;

use rand::Rng;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use crate::store::error::SqlContext;
use crate::store::{Store, StoreError};
use stratus_sqs::backend::{
    DEDUP_WINDOW_MS, HandleOutcome, MoveOutcome, NewQueueMessage, QueueCounts, QueueInfo,
    QueueSettings, ReceiveOutcome, SendOutcome, StoredMessage,
};

/// The second migration of the queues (schema version 8): the trace
/// header of messages, queue tags and message move tasks.
pub(crate) const MIGRATION_2: &str = r#"
-- The AWSTraceHeader a message was sent with (SQS's message system
-- attribute).
ALTER TABLE queue_messages ADD COLUMN trace_header TEXT;

CREATE TABLE queue_tags (
    queue_id INTEGER NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (queue_id, key)
) WITHOUT ROWID;

-- A message move task of a source queue (a DLQ): `document` is the task as
-- the service describes it; `running` is 1 until it completes, fails or is
-- cancelled (at most one running task per source queue).
CREATE TABLE queue_move_tasks (
    task_id    TEXT PRIMARY KEY,
    queue_id   INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    running    INTEGER NOT NULL,
    document   TEXT NOT NULL
);
CREATE INDEX queue_move_tasks_by_queue ON queue_move_tasks (queue_id, started_ms);
CREATE INDEX queue_move_tasks_running ON queue_move_tasks (running) WHERE running = 1;
"#;

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE queues (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    fifo        INTEGER NOT NULL,
    settings    TEXT NOT NULL,
    dlq         TEXT,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE INDEX queues_by_dlq ON queues (dlq) WHERE dlq IS NOT NULL;

-- AUTOINCREMENT: ids are never reused, so they serve as FIFO sequence
-- numbers and a receipt handle never names a later message.
CREATE TABLE queue_messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id         INTEGER NOT NULL,
    message_id       TEXT NOT NULL,
    body             TEXT NOT NULL,
    md5_of_body      TEXT NOT NULL,
    attributes       TEXT,
    md5_of_attributes TEXT,
    sender           TEXT NOT NULL,
    sent_ms          INTEGER NOT NULL,
    visible_ms       INTEGER NOT NULL,
    expires_ms       INTEGER NOT NULL,
    receive_count    INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt          INTEGER NOT NULL DEFAULT 0,
    group_id         TEXT,
    dedup_id         TEXT,
    source_queue     TEXT
);
-- Covering for the counts (visible, in flight, delayed) and the age of the
-- oldest message; receive reads it in order.
CREATE INDEX queue_messages_ready
    ON queue_messages (queue_id, visible_ms, receive_count, sent_ms);
CREATE INDEX queue_messages_groups
    ON queue_messages (queue_id, group_id, id) WHERE group_id IS NOT NULL;
CREATE INDEX queue_messages_expiry ON queue_messages (expires_ms);

CREATE TABLE queue_dedup (
    queue_id   INTEGER NOT NULL,
    dedup_id   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence   INTEGER,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue_id, dedup_id)
) WITHOUT ROWID;
CREATE INDEX queue_dedup_expiry ON queue_dedup (expires_ms);
"#;

const QUEUE_COLUMNS: &str = "id, name, fifo, settings, created_ms, modified_ms";

fn queue_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(QueueInfo, String)> {
    Ok((
        QueueInfo {
            id: row.get(0)?,
            name: row.get(1)?,
            fifo: row.get::<_, i64>(2)? != 0,
            settings: QueueSettings {
                visibility_timeout_s: 0,
                delay_s: 0,
                retention_s: 0,
                content_based_dedup: false,
                redrive: None,
                attributes: BTreeMap::new(),
            },
            created_ms: row.get(4)?,
            modified_ms: row.get(5)?,
        },
        row.get(3)?,
    ))
}

fn parse_queue(pair: (QueueInfo, String)) -> Result<QueueInfo, StoreError> {
    let (mut info, settings) = pair;
    info.settings = serde_json::from_str(&settings)
        .map_err(|e| StoreError::Corrupt(format!("settings of queue {}: {e}", info.name)))?;
    Ok(info)
}

fn load_queue(conn: &rusqlite::Connection, name: &str) -> Result<Option<QueueInfo>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {QUEUE_COLUMNS} FROM queues WHERE name = ?1"
    ))
    .sql("preparing to read a queue")?
    .query_row(params![name], queue_from_row)
    .optional()
    .sql("reading a queue")?
    .map(parse_queue)
    .transpose()
}

fn require_queue(conn: &rusqlite::Connection, name: &str) -> Result<QueueInfo, StoreError> {
    load_queue(conn, name)?.ok_or_else(|| no_queue(name))
}

fn no_queue(name: &str) -> StoreError {
    StoreError::NotFound(format!("queue {name} does not exist"))
}

fn settings_json(settings: &QueueSettings) -> Result<String, StoreError> {
    serde_json::to_string(settings).map_err(|e| StoreError::Invalid(format!("queue settings: {e}")))
}

/// The sequence number of the message with row id `id`, as SQS writes
/// them (20 digits).
fn sequence_of(id: i64) -> String {
    format!("{id:020}")
}

/// A receipt handle: opaque to clients, it names the queue, the row, the
/// receive (the message's receive count then) and the message's token.
fn receipt_handle(queue_id: i64, id: i64, receive: i64, token: i64) -> String {
    hex::encode(format!(
        "stratus:{queue_id}:{id}:{receive}:{:016x}",
        token as u64
    ))
}

/// A receipt handle read back.
struct Handle {
    queue_id: i64,
    id: i64,
    /// Which receive issued it; None for a handle of an earlier build,
    /// which named only the latest receive's token.
    receive: Option<i64>,
    token: i64,
}

fn parse_handle(handle: &str) -> Option<Handle> {
    let raw = hex::decode(handle).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let parts: Vec<&str> = text.strip_prefix("stratus:")?.split(':').collect();
    let (queue_id, id, receive, token) = match parts.as_slice() {
        [queue_id, id, receive, token] => (queue_id, id, Some(receive.parse().ok()?), token),
        [queue_id, id, token] => (queue_id, id, None, token),
        _ => return None,
    };
    Some(Handle {
        queue_id: queue_id.parse().ok()?,
        id: id.parse().ok()?,
        receive,
        token: u64::from_str_radix(token, 16).ok()? as i64,
    })
}

fn secs_ms(secs: u32) -> i64 {
    i64::from(secs) * 1000
}

impl Store {
    /// Creates queue `name` unless it exists. Returns the queue and whether
    /// it was created now (an existing queue is returned unchanged).
    pub fn create_queue(
        &self,
        name: &str,
        fifo: bool,
        settings: &QueueSettings,
        now_ms: i64,
    ) -> Result<(QueueInfo, bool), StoreError> {
        self.create_queue_tagged(name, fifo, settings, &BTreeMap::new(), now_ms)
    }

    /// [`Store::create_queue`] with the new queue's tags (an existing
    /// queue keeps its own).
    pub fn create_queue_tagged(
        &self,
        name: &str,
        fifo: bool,
        settings: &QueueSettings,
        tags: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<(QueueInfo, bool), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to create a queue")?;
        if let Some(existing) = load_queue(&tx, name)? {
            return Ok((existing, false));
        }
        tx.execute(
            "INSERT INTO queues (name, fifo, settings, dlq, created_ms, modified_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![
                name,
                fifo,
                settings_json(settings)?,
                settings.redrive.as_ref().map(|r| r.dlq.as_str()),
                now_ms
            ],
        )
        .sql("creating a queue")?;
        let created = require_queue(&tx, name)?;
        put_tags(&tx, created.id, tags)?;
        tx.commit().sql("committing a new queue")?;
        Ok((created, true))
    }

    /// Queue `name`, if it exists.
    pub fn queue(&self, name: &str) -> Result<Option<QueueInfo>, StoreError> {
        self.read(|conn| load_queue(conn, name))
    }

    /// Names of the queues starting with `prefix`, sorted.
    pub fn list_queues(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut select = conn
                .prepare_cached(
                    "SELECT name FROM queues WHERE substr(name, 1, ?2) = ?1 ORDER BY name",
                )
                .sql("preparing to list queues")?;
            let rows = select
                .query_map(params![prefix, prefix.chars().count() as i64], |row| {
                    row.get::<_, String>(0)
                })
                .sql("listing queues")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading queue names")
        })
    }

    /// Every queue.
    pub fn queues(&self) -> Result<Vec<QueueInfo>, StoreError> {
        self.read(|conn| {
            let mut select = conn
                .prepare_cached(&format!("SELECT {QUEUE_COLUMNS} FROM queues ORDER BY name"))
                .sql("preparing to read queues")?;
            let rows = select
                .query_map([], queue_from_row)
                .sql("reading queues")?
                .collect::<Result<Vec<_>, _>>()
                .sql("reading a queue row")?;
            rows.into_iter().map(parse_queue).collect()
        })
    }

    /// Deletes queue `name` with its messages, tags and move tasks.
    /// `NotFound` if there is none.
    pub fn delete_queue(&self, name: &str) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete a queue")?;
        let queue = require_queue(&tx, name)?;
        for sql in [
            "DELETE FROM queue_messages WHERE queue_id = ?1",
            "DELETE FROM queue_dedup WHERE queue_id = ?1",
            "DELETE FROM queue_tags WHERE queue_id = ?1",
            "DELETE FROM queue_move_tasks WHERE queue_id = ?1",
            "DELETE FROM queues WHERE id = ?1",
        ] {
            tx.execute(sql, params![queue.id]).sql("deleting a queue")?;
        }
        tx.commit().sql("committing the deletion of a queue")
    }

    /// Replaces queue `name`'s settings.
    pub fn set_queue_settings(
        &self,
        name: &str,
        settings: &QueueSettings,
        now_ms: i64,
    ) -> Result<QueueInfo, StoreError> {
        let settings = settings.clone();
        self.update_queue_settings(name, now_ms, move |_| Ok::<_, StoreError>(settings))?
    }

    /// Changes queue `name`'s settings in one transaction: `change` gets
    /// the queue as it is and answers its new settings, or an error of its
    /// own that leaves the queue unchanged (the outer result).
    pub fn update_queue_settings<E>(
        &self,
        name: &str,
        now_ms: i64,
        change: impl FnOnce(&QueueInfo) -> Result<QueueSettings, E>,
    ) -> Result<Result<QueueInfo, E>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to change a queue")?;
        let queue = require_queue(&tx, name)?;
        let settings = match change(&queue) {
            Ok(settings) => settings,
            Err(error) => return Ok(Err(error)),
        };
        tx.execute(
            "UPDATE queues SET settings = ?2, dlq = ?3, modified_ms = ?4 WHERE id = ?1",
            params![
                queue.id,
                settings_json(&settings)?,
                settings.redrive.as_ref().map(|r| r.dlq.as_str()),
                now_ms
            ],
        )
        .sql("changing a queue's settings")?;
        let queue = require_queue(&tx, name)?;
        tx.commit().sql("committing a queue's settings")?;
        Ok(Ok(queue))
    }

    /// The tags of queue `name`.
    pub fn queue_tags(&self, name: &str) -> Result<BTreeMap<String, String>, StoreError> {
        self.read(|conn| {
            let queue = require_queue(conn, name)?;
            let mut select = conn
                .prepare_cached("SELECT key, value FROM queue_tags WHERE queue_id = ?1")
                .sql("preparing to read queue tags")?;
            let rows = select
                .query_map(params![queue.id], |row| Ok((row.get(0)?, row.get(1)?)))
                .sql("reading queue tags")?;
            rows.collect::<Result<BTreeMap<_, _>, _>>()
                .sql("reading a queue tag")
        })
    }

    /// Adds `tags` to queue `name` (replacing the values of keys it has),
    /// unless the queue would then have more than `max_tags`: then nothing
    /// changes and the answer is false.
    pub fn tag_queue(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
        max_tags: usize,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to tag a queue")?;
        let queue = require_queue(&tx, name)?;
        put_tags(&tx, queue.id, tags)?;
        let count: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM queue_tags WHERE queue_id = ?1",
                params![queue.id],
                |row| row.get(0),
            )
            .sql("counting queue tags")?;
        if usize::try_from(count).unwrap_or(usize::MAX) > max_tags {
            // Dropped without commit: rolled back.
            return Ok(false);
        }
        tx.commit().sql("committing queue tags")?;
        Ok(true)
    }

    /// Removes the tags `keys` of queue `name` (keys it does not have are
    /// ignored).
    pub fn untag_queue(&self, name: &str, keys: &[String]) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to untag a queue")?;
        let queue = require_queue(&tx, name)?;
        for key in keys {
            tx.prepare_cached("DELETE FROM queue_tags WHERE queue_id = ?1 AND key = ?2")
                .sql("preparing to remove a queue tag")?
                .execute(params![queue.id, key])
                .sql("removing a queue tag")?;
        }
        tx.commit().sql("committing removed queue tags")
    }

    /// Stores messages in queue `name`, in one transaction. A FIFO message
    /// whose deduplication id was seen in the last five minutes is not
    /// stored; its outcome names the original.
    pub fn send_messages(
        &self,
        name: &str,
        messages: &[NewQueueMessage],
        now_ms: i64,
    ) -> Result<Vec<SendOutcome>, StoreError> {
        let name = name.to_string();
        let messages = messages.to_vec();
        self.grouped(move |tx| {
            let queue = require_queue(tx, &name)?;
            let mut outcomes = Vec::with_capacity(messages.len());
            for message in &messages {
                outcomes.push(insert_message(tx, &queue, message, None, None, now_ms)?);
            }
            Ok(outcomes)
        })
    }

    /// Receives up to `max` messages from queue `name`, making each
    /// invisible for `visibility_timeout_s` (else the queue's). Messages
    /// already received `maxReceiveCount` times move to the dead-letter
    /// queue instead. One transaction.
    pub fn receive_messages(
        &self,
        name: &str,
        max: usize,
        visibility_timeout_s: Option<u32>,
        now_ms: i64,
    ) -> Result<ReceiveOutcome, StoreError> {
        let name = name.to_string();
        self.grouped(move |tx| receive_in(tx, &name, max, visibility_timeout_s, now_ms))
    }

    /// [`Store::delete_messages`] then [`Store::receive_messages`] in one
    /// transaction: a queue trigger deletes the batch it processed and
    /// takes the next with one commit instead of two.
    pub fn delete_and_receive(
        &self,
        name: &str,
        handles: &[&str],
        max: usize,
        visibility_timeout_s: Option<u32>,
        now_ms: i64,
    ) -> Result<(Vec<HandleOutcome>, ReceiveOutcome), StoreError> {
        let name = name.to_string();
        let handles: Vec<String> = handles.iter().map(|h| h.to_string()).collect();
        self.grouped(move |tx| {
            let refs: Vec<&str> = handles.iter().map(String::as_str).collect();
            let deleted = delete_in(tx, &name, &refs, now_ms)?;
            let received = receive_in(tx, &name, max, visibility_timeout_s, now_ms)?;
            Ok((deleted, received))
        })
    }

    /// Deletes the messages of queue `name` named by receipt handles, in
    /// one transaction. A standard queue deletes by any handle the message
    /// was received with; a FIFO queue only by the handle of the receive in
    /// flight at `now_ms` (`Expired` otherwise). A handle of a message
    /// already gone is `Done`.
    pub fn delete_messages(
        &self,
        name: &str,
        handles: &[&str],
        now_ms: i64,
    ) -> Result<Vec<HandleOutcome>, StoreError> {
        let name = name.to_string();
        let handles: Vec<String> = handles.iter().map(|h| h.to_string()).collect();
        self.grouped(move |tx| {
            let refs: Vec<&str> = handles.iter().map(String::as_str).collect();
            delete_in(tx, &name, &refs, now_ms)
        })
    }

    /// Changes the visibility of received messages of queue `name`: each
    /// becomes visible `secs` after `now_ms`. On a standard queue any
    /// handle the message was received with will do (the change applies
    /// to the message as it is now); on a FIFO queue only the handle of the
    /// receive in flight. One transaction.
    pub fn change_visibility(
        &self,
        name: &str,
        entries: &[(&str, u32)],
        now_ms: i64,
    ) -> Result<Vec<HandleOutcome>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to change visibility")?;
        let queue = require_queue(&tx, name)?;
        let mut outcomes = Vec::with_capacity(entries.len());
        for (handle, secs) in entries {
            let outcome = match check_handle(&tx, &queue, handle, now_ms)? {
                Checked::Usable(id) => {
                    tx.prepare_cached("UPDATE queue_messages SET visible_ms = ?2 WHERE id = ?1")
                        .sql("preparing to change visibility")?
                        .execute(params![id, now_ms + secs_ms(*secs)])
                        .sql("changing a message's visibility")?;
                    HandleOutcome::Done
                }
                Checked::Expired => HandleOutcome::Expired,
                Checked::Gone => HandleOutcome::Gone,
                Checked::Invalid => HandleOutcome::InvalidHandle,
            };
            outcomes.push(outcome);
        }
        tx.commit().sql("committing visibility changes")?;
        Ok(outcomes)
    }

    /// Deletes every message of queue `name`; returns how many.
    pub fn purge_queue(&self, name: &str) -> Result<u64, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to purge a queue")?;
        let queue = require_queue(&tx, name)?;
        let deleted = tx
            .execute(
                "DELETE FROM queue_messages WHERE queue_id = ?1",
                params![queue.id],
            )
            .sql("purging a queue")?;
        tx.commit().sql("committing a purge")?;
        Ok(deleted as u64)
    }

    /// Counts of queue `name` at `now_ms`.
    pub fn queue_counts(&self, name: &str, now_ms: i64) -> Result<QueueCounts, StoreError> {
        self.read(|conn| {
            let queue = require_queue(conn, name)?;
            counts(conn, queue.id, now_ms)
        })
    }

    /// Every queue with its counts at `now_ms`.
    pub fn queue_stats(&self, now_ms: i64) -> Result<Vec<(QueueInfo, QueueCounts)>, StoreError> {
        let queues = self.queues()?;
        self.read(|conn| {
            queues
                .into_iter()
                .map(|queue| {
                    let counts = counts(conn, queue.id, now_ms)?;
                    Ok((queue, counts))
                })
                .collect()
        })
    }

    /// Names of the queues whose redrive policy names `dlq`.
    pub fn dead_letter_sources(&self, dlq: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut select = conn
                .prepare_cached("SELECT name FROM queues WHERE dlq = ?1 ORDER BY name")
                .sql("preparing to list dead-letter sources")?;
            let rows = select
                .query_map(params![dlq], |row| row.get::<_, String>(0))
                .sql("listing dead-letter sources")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading queue names")
        })
    }

    /// The row id of the newest message of queue `name`, if it has any: a
    /// bound for [`Store::move_messages`], so that a move leaves alone the
    /// messages that arrive while it runs.
    pub fn newest_message_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.read(|conn| {
            let queue = require_queue(conn, name)?;
            conn.prepare_cached("SELECT MAX(id) FROM queue_messages WHERE queue_id = ?1")
                .sql("preparing to find the newest message")?
                .query_row(params![queue.id], |row| row.get(0))
                .sql("finding the newest message")
        })
    }

    /// Moves messages of queue `from` (a DLQ) that are not in flight: to
    /// `to`, or else each back to the queue it was dead-lettered from
    /// (messages sent to `from` directly stay). Looks at up to `limit`
    /// messages with row ids after `after_id` (and up to `until_id`), in
    /// one transaction; their receive counts start over. `NotFound` when
    /// `from` or `to` does not exist.
    pub fn move_messages(
        &self,
        from: &str,
        to: Option<&str>,
        after_id: i64,
        until_id: Option<i64>,
        limit: usize,
        now_ms: i64,
    ) -> Result<MoveOutcome, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to move messages")?;
        let source = require_queue(&tx, from)?;
        let fixed = match to {
            Some(name) => Some(require_queue(&tx, name)?),
            None => None,
        };
        let candidates: Vec<(i64, Option<String>, bool)> = {
            let mut select = tx
                .prepare_cached(
                    "SELECT id, source_queue, visible_ms <= ?2 FROM queue_messages
                     WHERE queue_id = ?1 AND id > ?3 AND id <= ?4 ORDER BY id LIMIT ?5",
                )
                .sql("preparing to read messages to move")?;
            let rows = select
                .query_map(
                    params![
                        source.id,
                        now_ms,
                        after_id,
                        until_id.unwrap_or(i64::MAX),
                        limit as i64
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .sql("reading messages to move")?;
            rows.collect::<Result<_, _>>()
                .sql("reading a message to move")?
        };
        let mut outcome = MoveOutcome {
            moved: 0,
            destinations: Vec::new(),
            last_id: candidates.last().map(|(id, _, _)| *id),
        };
        let mut destinations: BTreeMap<String, Option<QueueInfo>> = BTreeMap::new();
        for (id, origin, visible) in candidates {
            if !visible {
                continue;
            }
            let target = match (&fixed, origin) {
                (Some(queue), _) => Some(queue.clone()),
                (None, Some(origin)) => {
                    if !destinations.contains_key(&origin) {
                        let found = load_queue(&tx, &origin)?;
                        destinations.insert(origin.clone(), found);
                    }
                    destinations.get(&origin).cloned().flatten()
                }
                (None, None) => None,
            };
            let Some(target) = target else { continue };
            if target.id == source.id {
                continue;
            }
            move_to(&tx, id, &source, &target, None, now_ms)?;
            outcome.moved += 1;
            if !outcome.destinations.contains(&target.name) {
                outcome.destinations.push(target.name.clone());
            }
        }
        tx.commit().sql("committing moved messages")?;
        Ok(outcome)
    }

    /// Records a new move task of queue `source`, running, unless one of
    /// its tasks runs already (then nothing is stored and the answer is
    /// false).
    pub fn start_move_task(
        &self,
        source: &str,
        task_id: &str,
        started_ms: i64,
        document: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to record a move task")?;
        let queue = require_queue(&tx, source)?;
        let running: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM queue_move_tasks WHERE queue_id = ?1 AND running = 1",
                params![queue.id],
                |row| row.get(0),
            )
            .sql("looking for a running move task")?;
        if running > 0 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO queue_move_tasks (task_id, queue_id, started_ms, running, document)
             VALUES (?1, ?2, ?3, 1, ?4)",
            params![task_id, queue.id, started_ms, document],
        )
        .sql("recording a move task")?;
        tx.commit().sql("committing a move task")?;
        Ok(true)
    }

    /// Replaces the document of running move task `task_id`, and whether it
    /// still runs. False (nothing changed) when the task does not run (it
    /// ended, or its queue was deleted).
    pub fn update_move_task(
        &self,
        task_id: &str,
        running: bool,
        document: &str,
    ) -> Result<bool, StoreError> {
        let conn = self.writer();
        let changed = conn
            .execute(
                "UPDATE queue_move_tasks SET running = ?2, document = ?3
                 WHERE task_id = ?1 AND running = 1",
                params![task_id, running, document],
            )
            .sql("updating a move task")?;
        Ok(changed > 0)
    }

    /// The documents of the newest `limit` move tasks of queue `source`,
    /// newest first.
    pub fn move_tasks(&self, source: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let queue = require_queue(conn, source)?;
            let mut select = conn
                .prepare_cached(
                    "SELECT document FROM queue_move_tasks WHERE queue_id = ?1
                     ORDER BY started_ms DESC, rowid DESC LIMIT ?2",
                )
                .sql("preparing to list move tasks")?;
            let rows = select
                .query_map(params![queue.id, limit as i64], |row| row.get(0))
                .sql("listing move tasks")?;
            rows.collect::<Result<Vec<String>, _>>()
                .sql("reading a move task")
        })
    }

    /// The document of move task `task_id` of queue `source`, if it has
    /// that task.
    pub fn move_task(&self, source: &str, task_id: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            let queue = require_queue(conn, source)?;
            conn.prepare_cached(
                "SELECT document FROM queue_move_tasks WHERE queue_id = ?1 AND task_id = ?2",
            )
            .sql("preparing to read a move task")?
            .query_row(params![queue.id, task_id], |row| row.get(0))
            .optional()
            .sql("reading a move task")
        })
    }

    /// The documents of every running move task (to resume them after a
    /// restart).
    pub fn running_move_tasks(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut select = conn
                .prepare_cached(
                    "SELECT document FROM queue_move_tasks WHERE running = 1 ORDER BY started_ms",
                )
                .sql("preparing to list running move tasks")?;
            let rows = select
                .query_map([], |row| row.get(0))
                .sql("listing running move tasks")?;
            rows.collect::<Result<Vec<String>, _>>()
                .sql("reading a running move task")
        })
    }

    /// Removes messages past their retention period and deduplication ids
    /// past their window. Returns how many messages were removed.
    pub fn sweep_queues(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting a sweep of queues")?;
        let removed = tx
            .execute(
                "DELETE FROM queue_messages WHERE expires_ms <= ?1",
                params![now_ms],
            )
            .sql("removing expired messages")?;
        tx.execute(
            "DELETE FROM queue_dedup WHERE expires_ms <= ?1",
            params![now_ms],
        )
        .sql("removing expired deduplication ids")?;
        tx.commit().sql("committing a sweep of queues")?;
        Ok(removed as u64)
    }
}

/// Inserts or replaces the tags `tags` of queue `queue_id`.
fn put_tags(
    tx: &Transaction<'_>,
    queue_id: i64,
    tags: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    for (key, value) in tags {
        tx.prepare_cached(
            "INSERT INTO queue_tags (queue_id, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (queue_id, key) DO UPDATE SET value = excluded.value",
        )
        .sql("preparing to tag a queue")?
        .execute(params![queue_id, key, value])
        .sql("tagging a queue")?;
    }
    Ok(())
}

fn counts(
    conn: &rusqlite::Connection,
    queue_id: i64,
    now_ms: i64,
) -> Result<QueueCounts, StoreError> {
    conn.prepare_cached(
        "SELECT
             COALESCE(SUM(visible_ms <= ?2), 0),
             COALESCE(SUM(visible_ms > ?2 AND receive_count > 0), 0),
             COALESCE(SUM(visible_ms > ?2 AND receive_count = 0), 0),
             MIN(sent_ms)
         FROM queue_messages WHERE queue_id = ?1",
    )
    .sql("preparing to count messages")?
    .query_row(params![queue_id, now_ms], |row| {
        Ok(QueueCounts {
            visible: row.get::<_, i64>(0)?.max(0) as u64,
            in_flight: row.get::<_, i64>(1)?.max(0) as u64,
            delayed: row.get::<_, i64>(2)?.max(0) as u64,
            oldest_sent_ms: row.get(3)?,
        })
    })
    .sql("counting messages")
}

/// Inserts a message, or finds its duplicate. `carried` keeps an earlier
/// message's id, sender and send time (a move between queues).
fn insert_message(
    tx: &Transaction<'_>,
    queue: &QueueInfo,
    message: &NewQueueMessage,
    carried: Option<i64>,
    source_queue: Option<&str>,
    now_ms: i64,
) -> Result<SendOutcome, StoreError> {
    let dedup_id = if queue.fifo {
        message.dedup_id.as_deref()
    } else {
        None
    };
    if let Some(dedup_id) = dedup_id {
        let seen: Option<(String, Option<i64>)> = tx
            .prepare_cached(
                "SELECT message_id, sequence FROM queue_dedup
                 WHERE queue_id = ?1 AND dedup_id = ?2 AND expires_ms > ?3",
            )
            .sql("preparing to look up a deduplication id")?
            .query_row(params![queue.id, dedup_id, now_ms], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .sql("looking up a deduplication id")?;
        if let Some((message_id, sequence)) = seen {
            return Ok(SendOutcome {
                message_id,
                sequence_number: sequence.map(sequence_of),
                duplicate: true,
            });
        }
    }
    let (sent_ms, delay_s) = match carried {
        Some(sent_ms) => (sent_ms, 0),
        None => (now_ms, message.delay_s.unwrap_or(queue.settings.delay_s)),
    };
    let expires_ms = sent_ms + secs_ms(queue.settings.retention_s);
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO queue_messages (queue_id, message_id, body, md5_of_body, attributes,
                 md5_of_attributes, sender, sent_ms, visible_ms, expires_ms, group_id, dedup_id,
                 source_queue, trace_header)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             RETURNING id",
        )
        .sql("preparing to store a message")?
        .query_row(
            params![
                queue.id,
                message.message_id,
                message.body,
                message.md5_of_body,
                message.attributes,
                message.md5_of_attributes,
                message.sender,
                sent_ms,
                now_ms + secs_ms(delay_s),
                expires_ms,
                if queue.fifo {
                    message.group_id.as_deref()
                } else {
                    None
                },
                dedup_id,
                source_queue,
                message.trace_header,
            ],
            |row| row.get(0),
        )
        .sql("storing a message")?;
    if let Some(dedup_id) = dedup_id {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO queue_dedup (queue_id, dedup_id, message_id, sequence, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .sql("preparing to remember a deduplication id")?
        .execute(params![
            queue.id,
            dedup_id,
            message.message_id,
            id,
            now_ms + DEDUP_WINDOW_MS
        ])
        .sql("remembering a deduplication id")?;
    }
    Ok(SendOutcome {
        message_id: message.message_id.clone(),
        sequence_number: queue.fifo.then(|| sequence_of(id)),
        duplicate: false,
    })
}

/// Moves message `id` from `from` to `to`: same id, body, attributes, trace
/// header and send time, receive count from zero. `source_queue` is remembered with
/// it: the queue a dead-lettered message came from, for redrive back.
fn move_to(
    tx: &Transaction<'_>,
    id: i64,
    from: &QueueInfo,
    to: &QueueInfo,
    source_queue: Option<&str>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let (message, sent_ms): (NewQueueMessage, i64) = tx
        .prepare_cached(
            "SELECT message_id, body, md5_of_body, attributes, md5_of_attributes, sender,
                 group_id, sent_ms, trace_header
             FROM queue_messages WHERE id = ?1",
        )
        .sql("preparing to read a message to move")?
        .query_row(params![id], |row| {
            Ok((
                NewQueueMessage {
                    message_id: row.get(0)?,
                    body: row.get(1)?,
                    md5_of_body: row.get(2)?,
                    attributes: row.get(3)?,
                    md5_of_attributes: row.get(4)?,
                    sender: row.get(5)?,
                    delay_s: None,
                    group_id: row.get(6)?,
                    // Not carried: a redriven message must not be dropped
                    // as a duplicate of itself.
                    dedup_id: None,
                    trace_header: row.get(8)?,
                },
                row.get(7)?,
            ))
        })
        .sql("reading a message to move")?;
    let message = NewQueueMessage {
        group_id: message
            .group_id
            .clone()
            .or_else(|| to.fifo.then(|| from.name.clone())),
        ..message
    };
    insert_message(tx, to, &message, Some(sent_ms), source_queue, now_ms)?;
    tx.prepare_cached("DELETE FROM queue_messages WHERE id = ?1")
        .sql("preparing to delete a moved message")?
        .execute(params![id])
        .sql("deleting a moved message")?;
    Ok(())
}

enum Checked {
    /// A handle the message was received with, usable now: the row.
    Usable(i64),
    /// FIFO: a handle of the message, but not of its receive in flight.
    Expired,
    /// Well-formed, but the message is gone.
    Gone,
    /// Malformed, another queue's, or never issued.
    Invalid,
}

/// What `handle` names in `queue` at `now_ms`. A handle is the message's if
/// its token is the message's and its receive has happened; on a FIFO
/// queue it is usable only while that receive is the latest and in
/// flight.
fn check_handle(
    tx: &Transaction<'_>,
    queue: &QueueInfo,
    handle: &str,
    now_ms: i64,
) -> Result<Checked, StoreError> {
    let Some(handle) = parse_handle(handle) else {
        return Ok(Checked::Invalid);
    };
    if handle.queue_id != queue.id {
        return Ok(Checked::Invalid);
    }
    let found: Option<(i64, i64, i64, i64)> = tx
        .prepare_cached(
            "SELECT queue_id, receipt, receive_count, visible_ms FROM queue_messages WHERE id = ?1",
        )
        .sql("preparing to check a receipt handle")?
        .query_row(params![handle.id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()
        .sql("checking a receipt handle")?;
    let Some((queue_id, token, receive_count, visible_ms)) = found else {
        return Ok(Checked::Gone);
    };
    if queue_id != queue.id || token == 0 || token != handle.token {
        return Ok(Checked::Invalid);
    }
    // A handle of an earlier build named the latest receive.
    let receive = handle.receive.unwrap_or(receive_count);
    if !(1..=receive_count).contains(&receive) {
        return Ok(Checked::Invalid);
    }
    if queue.fifo && (receive != receive_count || visible_ms <= now_ms) {
        return Ok(Checked::Expired);
    }
    Ok(Checked::Usable(handle.id))
}

fn standard_candidates(
    tx: &Transaction<'_>,
    queue_id: i64,
    limit: usize,
    now_ms: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut select = tx
        .prepare_cached(
            "SELECT id, receive_count FROM queue_messages INDEXED BY queue_messages_ready
             WHERE queue_id = ?1 AND visible_ms <= ?2 AND expires_ms > ?2
             ORDER BY visible_ms, receive_count, sent_ms LIMIT ?3",
        )
        .sql("preparing to find visible messages")?;
    let rows = select
        .query_map(params![queue_id, now_ms, limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .sql("finding visible messages")?;
    rows.collect::<Result<_, _>>()
        .sql("reading a visible message")
}

/// FIFO: the heads of the message groups in order, then each visible
/// head's group's visible prefix.
fn fifo_candidates(
    tx: &Transaction<'_>,
    queue_id: i64,
    limit: usize,
    now_ms: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let heads: Vec<(i64, String)> = {
        let mut select = tx
            .prepare_cached(
                "WITH RECURSIVE groups(g) AS (
                     SELECT (SELECT group_id FROM queue_messages
                             WHERE queue_id = ?1 AND group_id IS NOT NULL
                             ORDER BY group_id LIMIT 1)
                     UNION ALL
                     SELECT (SELECT group_id FROM queue_messages
                             WHERE queue_id = ?1 AND group_id > groups.g
                             ORDER BY group_id LIMIT 1)
                     FROM groups WHERE groups.g IS NOT NULL
                 )
                 SELECT m.id, m.group_id FROM groups
                 JOIN queue_messages AS m ON m.id =
                     (SELECT id FROM queue_messages WHERE queue_id = ?1 AND group_id = groups.g
                      ORDER BY id LIMIT 1)
                 WHERE groups.g IS NOT NULL AND m.visible_ms <= ?2 AND m.expires_ms > ?2
                 ORDER BY m.id",
            )
            .sql("preparing to find message groups")?;
        let rows = select
            .query_map(params![queue_id, now_ms], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .sql("finding message groups")?;
        rows.collect::<Result<_, _>>()
            .sql("reading a message group")?
    };
    let mut ids = Vec::new();
    for (_, group) in heads {
        if ids.len() >= limit {
            break;
        }
        let mut select = tx
            .prepare_cached(
                "SELECT id, visible_ms <= ?3 AND expires_ms > ?3, receive_count FROM queue_messages
                 WHERE queue_id = ?1 AND group_id = ?2 ORDER BY id LIMIT ?4",
            )
            .sql("preparing to read a message group")?;
        let rows = select
            .query_map(
                params![queue_id, group, now_ms, (limit - ids.len()) as i64],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, bool>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                },
            )
            .sql("reading a message group")?;
        for row in rows {
            let (id, visible, count) = row.sql("reading a message of a group")?;
            if !visible {
                break;
            }
            ids.push((id, count));
        }
    }
    Ok(ids)
}

/// The body of a receive, inside the caller's transaction.
fn receive_in(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    max: usize,
    visibility_timeout_s: Option<u32>,
    now_ms: i64,
) -> Result<ReceiveOutcome, StoreError> {
    let queue = require_queue(tx, name)?;
    let visible_until =
        now_ms + secs_ms(visibility_timeout_s.unwrap_or(queue.settings.visibility_timeout_s));
    let dlq = match &queue.settings.redrive {
        Some(redrive) => load_queue(tx, &redrive.dlq)?
            .filter(|dlq| dlq.id != queue.id)
            .map(|dlq| (dlq, redrive.max_receive_count)),
        None => None,
    };
    let mut outcome = ReceiveOutcome::default();
    // Candidates in delivery order; a few more than asked when some may
    // move to the DLQ.
    let mut budget = max;
    let mut rounds = 0;
    let mut taken = std::collections::HashSet::new();
    while outcome.messages.len() < max && rounds < 8 {
        rounds += 1;
        let ids = if queue.fifo {
            fifo_candidates(tx, queue.id, budget, now_ms)?
        } else {
            standard_candidates(tx, queue.id, budget, now_ms)?
        };
        if ids.is_empty() {
            break;
        }
        let mut moved_now = 0usize;
        for (id, count) in ids {
            if outcome.messages.len() >= max {
                break;
            }
            // A visibility timeout of 0 leaves a message visible: never
            // twice in one batch.
            if !taken.insert(id) {
                continue;
            }
            if let Some((dlq, max_receives)) = &dlq
                && count >= i64::from(*max_receives)
            {
                move_to(tx, id, &queue, dlq, Some(&queue.name), now_ms)?;
                outcome.moved_to_dlq += 1;
                outcome.dlq = Some(dlq.name.clone());
                moved_now += 1;
                continue;
            }
            // The message's token, drawn at its first receive (never 0).
            let token: i64 = rand::rng().random_range(1..=i64::MAX);
            let message = tx
                .prepare_cached(
                    "UPDATE queue_messages SET visible_ms = ?2, receive_count = receive_count + 1,
                             first_receive_ms = COALESCE(first_receive_ms, ?3),
                             receipt = CASE receipt WHEN 0 THEN ?4 ELSE receipt END
                         WHERE id = ?1
                         RETURNING message_id, body, md5_of_body, attributes, md5_of_attributes,
                             sender, sent_ms, receive_count, first_receive_ms, group_id, dedup_id,
                             receipt, trace_header, source_queue",
                )
                .sql("preparing to receive a message")?
                .query_row(params![id, visible_until, now_ms, token], |row| {
                    let receive_count: i64 = row.get(7)?;
                    Ok(StoredMessage {
                        message_id: row.get(0)?,
                        receipt_handle: receipt_handle(queue.id, id, receive_count, row.get(11)?),
                        body: row.get(1)?,
                        md5_of_body: row.get(2)?,
                        attributes: row.get(3)?,
                        md5_of_attributes: row.get(4)?,
                        sender: row.get(5)?,
                        sent_ms: row.get(6)?,
                        receive_count: u32::try_from(receive_count).unwrap_or(u32::MAX),
                        first_receive_ms: row.get(8)?,
                        group_id: row.get(9)?,
                        dedup_id: row.get(10)?,
                        sequence_number: None,
                        trace_header: row.get(12)?,
                        dead_letter_source: row.get(13)?,
                    })
                })
                .sql("receiving a message")?;
            let sequence_number = queue.fifo.then(|| sequence_of(id));
            outcome.messages.push(StoredMessage {
                sequence_number,
                ..message
            });
        }
        if moved_now == 0 {
            break;
        }
        budget = max - outcome.messages.len();
    }
    Ok(outcome)
}

/// The body of a delete, inside the caller's transaction.
fn delete_in(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    handles: &[&str],
    now_ms: i64,
) -> Result<Vec<HandleOutcome>, StoreError> {
    let queue = require_queue(tx, name)?;
    let mut outcomes = Vec::with_capacity(handles.len());
    for handle in handles {
        let outcome = match check_handle(tx, &queue, handle, now_ms)? {
            Checked::Usable(id) => {
                tx.prepare_cached("DELETE FROM queue_messages WHERE id = ?1")
                    .sql("preparing to delete a message")?
                    .execute(params![id])
                    .sql("deleting a message")?;
                HandleOutcome::Done
            }
            Checked::Expired => HandleOutcome::Expired,
            Checked::Gone => HandleOutcome::Done,
            Checked::Invalid => HandleOutcome::InvalidHandle,
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
