//! The store of event buses, rules and targets (EventBridge), and of what
//! hangs off them: tags, bus policies, archives and their events, replays,
//! connections, API destinations, and the outbox of deliveries.
//!
//! The `default` bus is created by the migration and never deleted. A rule
//! belongs to one bus and holds its event pattern (JSON text) or schedule
//! expression as given; the events crate validates them. Targets belong to
//! a rule and go with it, and so do tags. PutEvents hands each matched
//! event to its targets' own durable queues (the async invocation queue, a
//! queue, a topic, the outbox here) before it answers; the events
//! themselves are stored only in the archives whose pattern they match.
//!
//! The outbox holds deliveries not yet made (to API destinations, and a
//! rule's schedule ticks to targets that are not functions): a claim leases
//! them, so a crash leaves them to be claimed again once the lease ends.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::store::error::SqlContext;
use crate::store::{Store, StoreError};
use stratus_eventbridge::backend::{
    ApiDestinationRecord, ArchiveRecord, ArchivedEvent, BusRecord, BusRoutes, ConnectionRecord,
    EventDelivery, NewEventDelivery, NewRule, ReplayRecord, RuleRecord, TagOwner, TargetRecord,
};

/// The second migration of the buses (schema version 10): the default
/// bus's creation time, buses' policies and modification times, targets'
/// parameters, tags, archives and their events, replays, connections, API
/// destinations and the outbox of deliveries.
pub(crate) const MIGRATION_2: &str = "
UPDATE event_buses SET created_ms = CAST(unixepoch('subsec') * 1000 AS INTEGER)
    WHERE name = 'default' AND created_ms = 0;
ALTER TABLE event_buses ADD COLUMN modified_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE event_buses ADD COLUMN policy TEXT;
UPDATE event_buses SET modified_ms = created_ms;
ALTER TABLE event_targets ADD COLUMN params TEXT;
CREATE TABLE event_tags (
    bus TEXT NOT NULL,
    rule TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (bus, rule, key)
);
CREATE TABLE event_archives (
    name TEXT PRIMARY KEY,
    bus TEXT NOT NULL,
    description TEXT,
    pattern TEXT,
    retention_days INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE event_archive_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    archive TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    event TEXT NOT NULL
);
CREATE INDEX event_archive_events_by_time ON event_archive_events (archive, time_ms, seq);
CREATE INDEX event_archive_events_by_expiry ON event_archive_events (expires_ms)
    WHERE expires_ms IS NOT NULL;
CREATE TABLE event_replays (
    name TEXT PRIMARY KEY,
    archive TEXT NOT NULL,
    description TEXT,
    bus TEXT NOT NULL,
    filter_arns TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT,
    replay_start_ms INTEGER NOT NULL,
    replay_end_ms INTEGER,
    last_replayed_ms INTEGER,
    cursor INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE event_connections (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    description TEXT,
    auth_type TEXT NOT NULL,
    auth TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    authorized_ms INTEGER
);
CREATE TABLE event_api_destinations (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    description TEXT,
    connection_arn TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    method TEXT NOT NULL,
    rate_limit INTEGER,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE TABLE event_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    event_id TEXT,
    params TEXT,
    rule TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    max_age_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    leased_until_ms INTEGER
);
CREATE INDEX event_deliveries_due ON event_deliveries (due_ms);
";

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = "
CREATE TABLE event_buses (
    name TEXT PRIMARY KEY,
    description TEXT,
    created_ms INTEGER NOT NULL
);
INSERT INTO event_buses (name, description, created_ms) VALUES ('default', NULL, 0);
CREATE TABLE event_rules (
    bus TEXT NOT NULL REFERENCES event_buses (name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    pattern TEXT,
    schedule TEXT,
    enabled INTEGER NOT NULL,
    description TEXT,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (bus, name)
);
CREATE TABLE event_targets (
    bus TEXT NOT NULL,
    rule TEXT NOT NULL,
    id TEXT NOT NULL,
    arn TEXT NOT NULL,
    input TEXT,
    input_path TEXT,
    input_transformer TEXT,
    PRIMARY KEY (bus, rule, id),
    FOREIGN KEY (bus, rule) REFERENCES event_rules (bus, name) ON DELETE CASCADE
);
";

const RULE_COLUMNS: &str = "bus, name, pattern, schedule, enabled, description, created_ms";

fn rule_from_row(row: &Row<'_>) -> rusqlite::Result<RuleRecord> {
    Ok(RuleRecord {
        bus: row.get(0)?,
        name: row.get(1)?,
        pattern: row.get(2)?,
        schedule: row.get(3)?,
        enabled: row.get::<_, i64>(4)? != 0,
        description: row.get(5)?,
        created_ms: row.get(6)?,
    })
}

const TARGET_COLUMNS: &str = "id, arn, input, input_path, input_transformer, params";

fn target_from_row(row: &Row<'_>) -> rusqlite::Result<TargetRecord> {
    Ok(TargetRecord {
        id: row.get(0)?,
        arn: row.get(1)?,
        input: row.get(2)?,
        input_path: row.get(3)?,
        input_transformer: row.get(4)?,
        params: row.get(5)?,
    })
}

const BUS_COLUMNS: &str = "name, description, created_ms, modified_ms, policy";

fn bus_from_row(row: &Row<'_>) -> rusqlite::Result<BusRecord> {
    Ok(BusRecord {
        name: row.get(0)?,
        description: row.get(1)?,
        created_ms: row.get(2)?,
        modified_ms: row.get(3)?,
        policy: row.get(4)?,
    })
}

const ARCHIVE_COLUMNS: &str = "a.name, a.bus, a.description, a.pattern, a.retention_days, a.state,
    a.created_ms,
    (SELECT count(*) FROM event_archive_events e WHERE e.archive = a.name),
    (SELECT coalesce(sum(length(e.event)), 0) FROM event_archive_events e WHERE e.archive = a.name)";

fn archive_from_row(row: &Row<'_>) -> rusqlite::Result<ArchiveRecord> {
    Ok(ArchiveRecord {
        name: row.get(0)?,
        bus: row.get(1)?,
        description: row.get(2)?,
        pattern: row.get(3)?,
        retention_days: u32::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
        state: row.get(5)?,
        created_ms: row.get(6)?,
        event_count: u64::try_from(row.get::<_, i64>(7)?).unwrap_or(0),
        size_bytes: u64::try_from(row.get::<_, i64>(8)?).unwrap_or(0),
    })
}

const REPLAY_COLUMNS: &str = "name, archive, description, bus, filter_arns, start_ms, end_ms,
    state, state_reason, replay_start_ms, replay_end_ms, last_replayed_ms, cursor";

fn replay_from_row(row: &Row<'_>) -> rusqlite::Result<(ReplayRecord, String)> {
    let filters: String = row.get(4)?;
    Ok((
        ReplayRecord {
            name: row.get(0)?,
            archive: row.get(1)?,
            description: row.get(2)?,
            bus: row.get(3)?,
            filter_arns: Vec::new(),
            start_ms: row.get(5)?,
            end_ms: row.get(6)?,
            state: row.get(7)?,
            state_reason: row.get(8)?,
            replay_start_ms: row.get(9)?,
            replay_end_ms: row.get(10)?,
            last_replayed_ms: row.get(11)?,
            cursor: row.get(12)?,
        },
        filters,
    ))
}

fn with_filters((mut replay, filters): (ReplayRecord, String)) -> Result<ReplayRecord, StoreError> {
    replay.filter_arns = serde_json::from_str(&filters)
        .map_err(|e| StoreError::Corrupt(format!("filter ARNs of replay {}: {e}", replay.name)))?;
    Ok(replay)
}

const CONNECTION_COLUMNS: &str =
    "name, id, description, auth_type, auth, state, created_ms, modified_ms, authorized_ms";

fn connection_from_row(row: &Row<'_>) -> rusqlite::Result<ConnectionRecord> {
    Ok(ConnectionRecord {
        name: row.get(0)?,
        id: row.get(1)?,
        description: row.get(2)?,
        auth_type: row.get(3)?,
        auth: row.get(4)?,
        state: row.get(5)?,
        created_ms: row.get(6)?,
        modified_ms: row.get(7)?,
        authorized_ms: row.get(8)?,
    })
}

const DESTINATION_COLUMNS: &str = "name, id, description, connection_arn, endpoint, method,
    rate_limit, created_ms, modified_ms";

fn destination_from_row(row: &Row<'_>) -> rusqlite::Result<ApiDestinationRecord> {
    Ok(ApiDestinationRecord {
        name: row.get(0)?,
        id: row.get(1)?,
        description: row.get(2)?,
        connection_arn: row.get(3)?,
        endpoint: row.get(4)?,
        method: row.get(5)?,
        rate_limit: row
            .get::<_, Option<i64>>(6)?
            .and_then(|n| u32::try_from(n).ok()),
        created_ms: row.get(7)?,
        modified_ms: row.get(8)?,
    })
}

/// `prefix%` for LIKE, with LIKE's wildcards escaped by `\`.
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Inserts tags (replacing the values of keys already there).
fn insert_tags(
    conn: &rusqlite::Connection,
    bus: &str,
    rule: Option<&str>,
    tags: &[(String, String)],
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO event_tags (bus, rule, key, value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (bus, rule, key) DO UPDATE SET value = excluded.value",
        )
        .sql("preparing to tag")?;
    for (key, value) in tags {
        stmt.execute(params![bus, rule.unwrap_or(""), key, value])
            .sql("tagging")?;
    }
    Ok(())
}

/// `NotFound` (with AWS's text) unless the bus, or the rule of the bus,
/// exists.
fn require_tag_owner(
    conn: &rusqlite::Connection,
    bus: &str,
    rule: Option<&str>,
) -> Result<(), StoreError> {
    match rule {
        Some(rule) => require_rule(conn, bus, rule),
        None => require_bus(conn, bus),
    }
}

/// `NotFound` unless bus `bus` exists.
fn require_bus(conn: &rusqlite::Connection, bus: &str) -> Result<(), StoreError> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM event_buses WHERE name = ?1",
            params![bus],
            |row| row.get(0),
        )
        .optional()
        .sql("reading an event bus")?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!(
            "Event bus {bus} does not exist."
        ))),
    }
}

impl Store {
    /// Creates a bus with its tags; `Conflict` if one of that name exists.
    pub fn create_event_bus(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[(String, String)],
        now_ms: i64,
    ) -> Result<BusRecord, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to create an event bus")?;
        let inserted = tx
            .execute(
                "INSERT INTO event_buses (name, description, created_ms, modified_ms)
                 VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO NOTHING",
                params![name, description, now_ms],
            )
            .sql("creating an event bus")?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "Event bus {name} already exists."
            )));
        }
        // Tags of an earlier bus of that name went with it; be sure.
        tx.execute("DELETE FROM event_tags WHERE bus = ?1", params![name])
            .sql("clearing a new bus's tags")?;
        insert_tags(&tx, name, None, tags)?;
        tx.commit().sql("committing an event bus")?;
        Ok(BusRecord {
            name: name.to_string(),
            description: description.map(str::to_string),
            created_ms: now_ms,
            modified_ms: now_ms,
            policy: None,
        })
    }

    /// Deletes a bus with its rules, their targets and every tag; false if
    /// there was none. The caller refuses `default`.
    pub fn delete_event_bus(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete an event bus")?;
        tx.execute("DELETE FROM event_targets WHERE bus = ?1", params![name])
            .sql("deleting an event bus's targets")?;
        tx.execute("DELETE FROM event_rules WHERE bus = ?1", params![name])
            .sql("deleting an event bus's rules")?;
        tx.execute("DELETE FROM event_tags WHERE bus = ?1", params![name])
            .sql("deleting an event bus's tags")?;
        let deleted = tx
            .execute("DELETE FROM event_buses WHERE name = ?1", params![name])
            .sql("deleting an event bus")?;
        tx.commit().sql("committing an event bus's deletion")?;
        Ok(deleted > 0)
    }

    /// The bus named `name`, if any.
    pub fn event_bus(&self, name: &str) -> Result<Option<BusRecord>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {BUS_COLUMNS} FROM event_buses WHERE name = ?1"),
                params![name],
                bus_from_row,
            )
            .optional()
            .sql("reading an event bus")
        })
    }

    /// The buses whose names start with `prefix`, by name.
    pub fn event_buses(&self, prefix: &str) -> Result<Vec<BusRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {BUS_COLUMNS} FROM event_buses
                     WHERE name LIKE ?1 ESCAPE '\\' ORDER BY name"
                ))
                .sql("listing event buses")?;
            let rows = stmt
                .query_map(params![like_prefix(prefix)], bus_from_row)
                .sql("listing event buses")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading event buses")
        })
    }

    /// Changes a bus's policy in one transaction: `change` gets the
    /// current policy and returns the new one (None removes it), or an
    /// error that leaves it as it was. `NotFound` if the bus does not
    /// exist.
    pub fn update_event_bus_policy(
        &self,
        name: &str,
        now_ms: i64,
        change: impl FnOnce(Option<&str>) -> Result<Option<String>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to change a bus's policy")?;
        let current: Option<Option<String>> = tx
            .query_row(
                "SELECT policy FROM event_buses WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()
            .sql("reading a bus's policy")?;
        let Some(current) = current else {
            return Err(StoreError::NotFound(format!(
                "Event bus {name} does not exist."
            )));
        };
        let policy = change(current.as_deref())?;
        tx.execute(
            "UPDATE event_buses SET policy = ?2, modified_ms = ?3 WHERE name = ?1",
            params![name, policy, now_ms],
        )
        .sql("changing a bus's policy")?;
        tx.commit().sql("committing a bus's policy")?;
        Ok(())
    }

    /// Creates or replaces a rule (its targets stay) and adds `tags`;
    /// `NotFound` if the bus does not exist.
    pub fn put_event_rule(
        &self,
        rule: &NewRule,
        tags: &[(String, String)],
        now_ms: i64,
    ) -> Result<RuleRecord, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to put a rule")?;
        require_bus(&tx, &rule.bus)?;
        tx.execute(
            "INSERT INTO event_rules (bus, name, pattern, schedule, enabled, description, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (bus, name) DO UPDATE SET pattern = excluded.pattern,
                 schedule = excluded.schedule, enabled = excluded.enabled,
                 description = excluded.description",
            params![
                rule.bus,
                rule.name,
                rule.pattern,
                rule.schedule,
                i64::from(rule.enabled),
                rule.description,
                now_ms
            ],
        )
        .sql("putting a rule")?;
        insert_tags(&tx, &rule.bus, Some(&rule.name), tags)?;
        let record = tx
            .query_row(
                &format!("SELECT {RULE_COLUMNS} FROM event_rules WHERE bus = ?1 AND name = ?2"),
                params![rule.bus, rule.name],
                rule_from_row,
            )
            .sql("reading a put rule")?;
        tx.commit().sql("committing a rule")?;
        Ok(record)
    }

    /// The rule `name` of bus `bus`, if any.
    pub fn event_rule(&self, bus: &str, name: &str) -> Result<Option<RuleRecord>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {RULE_COLUMNS} FROM event_rules WHERE bus = ?1 AND name = ?2"),
                params![bus, name],
                rule_from_row,
            )
            .optional()
            .sql("reading a rule")
        })
    }

    /// The rules of `bus` whose names start with `prefix`, by name.
    pub fn event_rules(&self, bus: &str, prefix: &str) -> Result<Vec<RuleRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {RULE_COLUMNS} FROM event_rules
                     WHERE bus = ?1 AND name LIKE ?2 ESCAPE '\\' ORDER BY name"
                ))
                .sql("listing rules")?;
            let rows = stmt
                .query_map(params![bus, like_prefix(prefix)], rule_from_row)
                .sql("listing rules")?;
            rows.collect::<Result<Vec<_>, _>>().sql("reading rules")
        })
    }

    /// The names of the rules of `bus` with a target whose ARN is `arn`,
    /// by name; `NotFound` if the bus does not exist.
    pub fn event_rules_by_target(&self, bus: &str, arn: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            require_bus(conn, bus)?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT DISTINCT rule FROM event_targets WHERE bus = ?1 AND arn = ?2
                     ORDER BY rule",
                )
                .sql("listing rules by target")?;
            let rows = stmt
                .query_map(params![bus, arn], |row| row.get(0))
                .sql("listing rules by target")?;
            rows.collect::<Result<Vec<String>, _>>()
                .sql("reading rules by target")
        })
    }

    /// The enabled rules with a schedule expression, on every bus, by bus
    /// and name.
    pub fn event_schedule_rules(&self) -> Result<Vec<RuleRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {RULE_COLUMNS} FROM event_rules
                     WHERE enabled = 1 AND schedule IS NOT NULL ORDER BY bus, name"
                ))
                .sql("listing scheduled rules")?;
            let rows = stmt
                .query_map([], rule_from_row)
                .sql("listing scheduled rules")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading scheduled rules")
        })
    }

    /// Deletes a rule with its tags; false if there was none. A rule with
    /// targets is refused with `Conflict` unless `force`.
    pub fn delete_event_rule(
        &self,
        bus: &str,
        name: &str,
        force: bool,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete a rule")?;
        let targets: i64 = tx
            .query_row(
                "SELECT count(*) FROM event_targets WHERE bus = ?1 AND rule = ?2",
                params![bus, name],
                |row| row.get(0),
            )
            .sql("counting a rule's targets")?;
        if targets > 0 && !force {
            return Err(StoreError::Conflict(
                "Rule can't be deleted since it has targets.".into(),
            ));
        }
        tx.execute(
            "DELETE FROM event_targets WHERE bus = ?1 AND rule = ?2",
            params![bus, name],
        )
        .sql("deleting a rule's targets")?;
        tx.execute(
            "DELETE FROM event_tags WHERE bus = ?1 AND rule = ?2",
            params![bus, name],
        )
        .sql("deleting a rule's tags")?;
        let deleted = tx
            .execute(
                "DELETE FROM event_rules WHERE bus = ?1 AND name = ?2",
                params![bus, name],
            )
            .sql("deleting a rule")?;
        tx.commit().sql("committing a rule's deletion")?;
        Ok(deleted > 0)
    }

    /// Enables or disables a rule; false if there is none.
    pub fn set_event_rule_enabled(
        &self,
        bus: &str,
        name: &str,
        enabled: bool,
    ) -> Result<bool, StoreError> {
        let conn = self.writer();
        let changed = conn
            .execute(
                "UPDATE event_rules SET enabled = ?3 WHERE bus = ?1 AND name = ?2",
                params![bus, name, i64::from(enabled)],
            )
            .sql("enabling or disabling a rule")?;
        Ok(changed > 0)
    }

    /// Adds or replaces targets of a rule (by id), refusing with `Invalid`
    /// a rule that would have more than `max_targets`; `NotFound` if the
    /// rule does not exist.
    pub fn put_event_targets(
        &self,
        bus: &str,
        rule: &str,
        targets: &[TargetRecord],
        max_targets: usize,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to put targets")?;
        require_rule(&tx, bus, rule)?;
        for t in targets {
            tx.execute(
                "INSERT INTO event_targets (bus, rule, id, arn, input, input_path,
                     input_transformer, params)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (bus, rule, id) DO UPDATE SET arn = excluded.arn,
                     input = excluded.input, input_path = excluded.input_path,
                     input_transformer = excluded.input_transformer,
                     params = excluded.params",
                params![
                    bus,
                    rule,
                    t.id,
                    t.arn,
                    t.input,
                    t.input_path,
                    t.input_transformer,
                    t.params
                ],
            )
            .sql("putting a target")?;
        }
        let count: i64 = tx
            .query_row(
                "SELECT count(*) FROM event_targets WHERE bus = ?1 AND rule = ?2",
                params![bus, rule],
                |row| row.get(0),
            )
            .sql("counting a rule's targets")?;
        if usize::try_from(count).unwrap_or(usize::MAX) > max_targets {
            // Dropping the transaction rolls the targets back.
            return Err(StoreError::Invalid(format!(
                "rule {rule} would have {count} targets (at most {max_targets})"
            )));
        }
        tx.commit().sql("committing targets")?;
        Ok(())
    }

    /// Removes targets of a rule by id; returns the ids that existed.
    /// `NotFound` if the rule does not exist.
    pub fn remove_event_targets(
        &self,
        bus: &str,
        rule: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to remove targets")?;
        require_rule(&tx, bus, rule)?;
        let mut removed = Vec::new();
        for id in ids {
            let n = tx
                .execute(
                    "DELETE FROM event_targets WHERE bus = ?1 AND rule = ?2 AND id = ?3",
                    params![bus, rule, id],
                )
                .sql("removing a target")?;
            if n > 0 {
                removed.push(id.clone());
            }
        }
        tx.commit().sql("committing removed targets")?;
        Ok(removed)
    }

    /// The targets of a rule, by id.
    pub fn event_targets(&self, bus: &str, rule: &str) -> Result<Vec<TargetRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {TARGET_COLUMNS} FROM event_targets
                     WHERE bus = ?1 AND rule = ?2 ORDER BY id"
                ))
                .sql("listing targets")?;
            let rows = stmt
                .query_map(params![bus, rule], target_from_row)
                .sql("listing targets")?;
            rows.collect::<Result<Vec<_>, _>>().sql("reading targets")
        })
    }

    /// The enabled pattern rules of `bus` with their targets and the
    /// enabled archives of the bus, for PutEvents; `None` if the bus does
    /// not exist.
    pub fn event_routes(&self, bus: &str) -> Result<Option<BusRoutes>, StoreError> {
        self.read(|conn| {
            if require_bus(conn, bus).is_err() {
                return Ok(None);
            }
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {RULE_COLUMNS} FROM event_rules
                     WHERE bus = ?1 AND enabled = 1 AND pattern IS NOT NULL ORDER BY name"
                ))
                .sql("listing enabled rules")?;
            let rules = stmt
                .query_map(params![bus], rule_from_row)
                .sql("listing enabled rules")?
                .collect::<Result<Vec<_>, _>>()
                .sql("reading enabled rules")?;
            let mut targets = conn
                .prepare_cached(&format!(
                    "SELECT {TARGET_COLUMNS} FROM event_targets
                     WHERE bus = ?1 AND rule = ?2 ORDER BY id"
                ))
                .sql("listing targets")?;
            let mut routes = Vec::with_capacity(rules.len());
            for rule in rules {
                let list = targets
                    .query_map(params![bus, rule.name], target_from_row)
                    .sql("listing targets")?
                    .collect::<Result<Vec<_>, _>>()
                    .sql("reading targets")?;
                routes.push((rule, list));
            }
            // Counts are not needed to match: zeros.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT name, bus, description, pattern, retention_days, state, created_ms,
                         0, 0
                     FROM event_archives WHERE bus = ?1 AND state = 'ENABLED' ORDER BY name",
                )
                .sql("listing a bus's archives")?;
            let archives = stmt
                .query_map(params![bus], archive_from_row)
                .sql("listing a bus's archives")?
                .collect::<Result<Vec<_>, _>>()
                .sql("reading a bus's archives")?;
            Ok(Some((routes, archives)))
        })
    }

    /// Adds tags to a bus or a rule; `NotFound` (AWS's text) if it does not
    /// exist.
    pub fn tag_event_resource(
        &self,
        (bus, rule): TagOwner<'_>,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to tag")?;
        require_tag_owner(&tx, bus, rule)?;
        insert_tags(&tx, bus, rule, tags)?;
        tx.commit().sql("committing tags")?;
        Ok(())
    }

    /// Removes tags (by key) of a bus or a rule; `NotFound` if it does not
    /// exist.
    pub fn untag_event_resource(
        &self,
        (bus, rule): TagOwner<'_>,
        keys: &[String],
    ) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to untag")?;
        require_tag_owner(&tx, bus, rule)?;
        for key in keys {
            tx.execute(
                "DELETE FROM event_tags WHERE bus = ?1 AND rule = ?2 AND key = ?3",
                params![bus, rule.unwrap_or(""), key],
            )
            .sql("untagging")?;
        }
        tx.commit().sql("committing untagging")?;
        Ok(())
    }

    /// The tags of a bus or a rule, by key; `NotFound` if it does not
    /// exist.
    pub fn event_resource_tags(
        &self,
        (bus, rule): TagOwner<'_>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|conn| {
            require_tag_owner(conn, bus, rule)?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT key, value FROM event_tags WHERE bus = ?1 AND rule = ?2 ORDER BY key",
                )
                .sql("listing tags")?;
            let rows = stmt
                .query_map(params![bus, rule.unwrap_or("")], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .sql("listing tags")?;
            rows.collect::<Result<Vec<_>, _>>().sql("reading tags")
        })
    }

    /// Creates an archive; `Conflict` if one of that name exists,
    /// `NotFound` if its bus does not.
    pub fn create_event_archive(&self, archive: &ArchiveRecord) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to create an archive")?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM event_archives WHERE name = ?1",
                params![archive.name],
                |row| row.get(0),
            )
            .optional()
            .sql("reading an archive")?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "Archive {} already exists.",
                archive.name
            )));
        }
        require_bus(&tx, &archive.bus)?;
        tx.execute(
            "INSERT INTO event_archives (name, bus, description, pattern, retention_days, state,
                 created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                archive.name,
                archive.bus,
                archive.description,
                archive.pattern,
                i64::from(archive.retention_days),
                archive.state,
                archive.created_ms
            ],
        )
        .sql("creating an archive")?;
        tx.commit().sql("committing an archive")?;
        Ok(())
    }

    /// The archive `name` with its counts, if any.
    pub fn event_archive(&self, name: &str) -> Result<Option<ArchiveRecord>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {ARCHIVE_COLUMNS} FROM event_archives a WHERE a.name = ?1"),
                params![name],
                archive_from_row,
            )
            .optional()
            .sql("reading an archive")
        })
    }

    /// The archives whose names start with `prefix`, of bus `bus` if
    /// given, by name.
    pub fn event_archives(
        &self,
        prefix: &str,
        bus: Option<&str>,
    ) -> Result<Vec<ArchiveRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {ARCHIVE_COLUMNS} FROM event_archives a
                     WHERE a.name LIKE ?1 ESCAPE '\\' AND (?2 IS NULL OR a.bus = ?2)
                     ORDER BY a.name"
                ))
                .sql("listing archives")?;
            let rows = stmt
                .query_map(params![like_prefix(prefix), bus], archive_from_row)
                .sql("listing archives")?;
            rows.collect::<Result<Vec<_>, _>>().sql("reading archives")
        })
    }

    /// Changes what is given of an archive; false if there is none.
    pub fn update_event_archive(
        &self,
        name: &str,
        description: Option<&str>,
        pattern: Option<&str>,
        retention_days: Option<u32>,
    ) -> Result<bool, StoreError> {
        let conn = self.writer();
        let changed = conn
            .execute(
                "UPDATE event_archives SET description = coalesce(?2, description),
                     pattern = coalesce(?3, pattern),
                     retention_days = coalesce(?4, retention_days)
                 WHERE name = ?1",
                params![name, description, pattern, retention_days.map(i64::from)],
            )
            .sql("updating an archive")?;
        Ok(changed > 0)
    }

    /// Deletes an archive with its events; false if there was none.
    pub fn delete_event_archive(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete an archive")?;
        tx.execute(
            "DELETE FROM event_archive_events WHERE archive = ?1",
            params![name],
        )
        .sql("deleting an archive's events")?;
        let deleted = tx
            .execute("DELETE FROM event_archives WHERE name = ?1", params![name])
            .sql("deleting an archive")?;
        tx.commit().sql("committing an archive's deletion")?;
        Ok(deleted > 0)
    }

    /// Archives an event in each archive named, each kept until its expiry
    /// (ms; None keeps it); durable when it returns.
    pub fn archive_event(
        &self,
        archives: &[(String, Option<i64>)],
        time_ms: i64,
        event: &str,
    ) -> Result<(), StoreError> {
        if archives.is_empty() {
            return Ok(());
        }
        let archives = archives.to_vec();
        let event = event.to_string();
        self.grouped(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO event_archive_events (archive, time_ms, expires_ms, event)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .sql("preparing to archive an event")?;
            for (archive, expires) in &archives {
                stmt.execute(params![archive, time_ms, expires, event])
                    .sql("archiving an event")?;
            }
            Ok(())
        })
    }

    /// Up to `limit` events of an archive with a time in
    /// `[from_ms, to_ms)` and a `seq` after `after_seq`, by `seq`.
    pub fn archived_events(
        &self,
        archive: &str,
        from_ms: i64,
        to_ms: i64,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ArchivedEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, time_ms, event FROM event_archive_events
                     WHERE archive = ?1 AND time_ms >= ?2 AND time_ms < ?3 AND seq > ?4
                     ORDER BY seq LIMIT ?5",
                )
                .sql("reading archived events")?;
            let rows = stmt
                .query_map(params![archive, from_ms, to_ms, after_seq, limit], |row| {
                    Ok(ArchivedEvent {
                        seq: row.get(0)?,
                        time_ms: row.get(1)?,
                        event: row.get(2)?,
                    })
                })
                .sql("reading archived events")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading archived events")
        })
    }

    /// Deletes the archived events whose retention ended by `now_ms`;
    /// returns how many.
    pub fn prune_archived_events(&self, now_ms: i64) -> Result<usize, StoreError> {
        let conn = self.writer();
        conn.execute(
            "DELETE FROM event_archive_events WHERE expires_ms IS NOT NULL AND expires_ms <= ?1",
            params![now_ms],
        )
        .sql("pruning archived events")
    }

    /// Creates a replay; `Conflict` if one of that name exists.
    pub fn create_event_replay(&self, replay: &ReplayRecord) -> Result<(), StoreError> {
        let filters = serde_json::to_string(&replay.filter_arns)
            .map_err(|e| StoreError::Invalid(format!("filter ARNs: {e}")))?;
        let conn = self.writer();
        let inserted = conn
            .execute(
                "INSERT INTO event_replays (name, archive, description, bus, filter_arns,
                     start_ms, end_ms, state, state_reason, replay_start_ms, replay_end_ms,
                     last_replayed_ms, cursor)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (name) DO NOTHING",
                params![
                    replay.name,
                    replay.archive,
                    replay.description,
                    replay.bus,
                    filters,
                    replay.start_ms,
                    replay.end_ms,
                    replay.state,
                    replay.state_reason,
                    replay.replay_start_ms,
                    replay.replay_end_ms,
                    replay.last_replayed_ms,
                    replay.cursor
                ],
            )
            .sql("creating a replay")?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "Replay {} already exists.",
                replay.name
            )));
        }
        Ok(())
    }

    /// The replay `name`, if any.
    pub fn event_replay(&self, name: &str) -> Result<Option<ReplayRecord>, StoreError> {
        let row = self.read(|conn| {
            conn.query_row(
                &format!("SELECT {REPLAY_COLUMNS} FROM event_replays WHERE name = ?1"),
                params![name],
                replay_from_row,
            )
            .optional()
            .sql("reading a replay")
        })?;
        row.map(with_filters).transpose()
    }

    /// The replays whose names start with `prefix`, by name.
    pub fn event_replays(&self, prefix: &str) -> Result<Vec<ReplayRecord>, StoreError> {
        let rows = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {REPLAY_COLUMNS} FROM event_replays
                     WHERE name LIKE ?1 ESCAPE '\\' ORDER BY name"
                ))
                .sql("listing replays")?;
            let rows = stmt
                .query_map(params![like_prefix(prefix)], replay_from_row)
                .sql("listing replays")?;
            rows.collect::<Result<Vec<_>, _>>().sql("reading replays")
        })?;
        rows.into_iter().map(with_filters).collect()
    }

    /// Records a replay's progress: the last event replayed.
    pub fn advance_event_replay(
        &self,
        name: &str,
        cursor: i64,
        last_replayed_ms: i64,
    ) -> Result<(), StoreError> {
        let name = name.to_string();
        self.grouped(move |tx| {
            tx.execute(
                "UPDATE event_replays SET cursor = ?2, last_replayed_ms = ?3 WHERE name = ?1",
                params![name, cursor, last_replayed_ms],
            )
            .sql("recording a replay's progress")?;
            Ok(())
        })
    }

    /// Moves a replay to `state` if it is in one of `from`; `end_ms` sets
    /// its end. Returns the replay as it is afterwards and whether it
    /// moved; None if there is no replay of that name.
    pub fn set_event_replay_state(
        &self,
        name: &str,
        from: &[&str],
        state: &str,
        reason: Option<&str>,
        end_ms: Option<i64>,
    ) -> Result<Option<(ReplayRecord, bool)>, StoreError> {
        let moved = {
            let mut conn = self.writer();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .sql("starting to change a replay's state")?;
            let current: Option<String> = tx
                .query_row(
                    "SELECT state FROM event_replays WHERE name = ?1",
                    params![name],
                    |row| row.get(0),
                )
                .optional()
                .sql("reading a replay's state")?;
            let Some(current) = current else {
                return Ok(None);
            };
            let moved = from.contains(&current.as_str());
            if moved {
                tx.execute(
                    "UPDATE event_replays SET state = ?2, state_reason = ?3,
                         replay_end_ms = coalesce(?4, replay_end_ms)
                     WHERE name = ?1",
                    params![name, state, reason, end_ms],
                )
                .sql("changing a replay's state")?;
            }
            tx.commit().sql("committing a replay's state")?;
            moved
        };
        Ok(self.event_replay(name)?.map(|replay| (replay, moved)))
    }

    /// Creates a connection; `Conflict` if one of that name exists.
    pub fn create_event_connection(&self, connection: &ConnectionRecord) -> Result<(), StoreError> {
        let conn = self.writer();
        let inserted = conn
            .execute(
                "INSERT INTO event_connections (name, id, description, auth_type, auth, state,
                     created_ms, modified_ms, authorized_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (name) DO NOTHING",
                params![
                    connection.name,
                    connection.id,
                    connection.description,
                    connection.auth_type,
                    connection.auth,
                    connection.state,
                    connection.created_ms,
                    connection.modified_ms,
                    connection.authorized_ms
                ],
            )
            .sql("creating a connection")?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "Connection {} already exists.",
                connection.name
            )));
        }
        Ok(())
    }

    /// The connection `name`, if any.
    pub fn event_connection(&self, name: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {CONNECTION_COLUMNS} FROM event_connections WHERE name = ?1"),
                params![name],
                connection_from_row,
            )
            .optional()
            .sql("reading a connection")
        })
    }

    /// The connections whose names start with `prefix`, by name.
    pub fn event_connections(&self, prefix: &str) -> Result<Vec<ConnectionRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {CONNECTION_COLUMNS} FROM event_connections
                     WHERE name LIKE ?1 ESCAPE '\\' ORDER BY name"
                ))
                .sql("listing connections")?;
            let rows = stmt
                .query_map(params![like_prefix(prefix)], connection_from_row)
                .sql("listing connections")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading connections")
        })
    }

    /// Deletes a connection; returns it as it was, None if there was none.
    pub fn delete_event_connection(
        &self,
        name: &str,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete a connection")?;
        let record = tx
            .query_row(
                &format!("SELECT {CONNECTION_COLUMNS} FROM event_connections WHERE name = ?1"),
                params![name],
                connection_from_row,
            )
            .optional()
            .sql("reading a connection")?;
        tx.execute(
            "DELETE FROM event_connections WHERE name = ?1",
            params![name],
        )
        .sql("deleting a connection")?;
        tx.commit().sql("committing a connection's deletion")?;
        Ok(record)
    }

    /// Creates an API destination; `Conflict` if one of that name exists.
    pub fn create_event_api_destination(
        &self,
        destination: &ApiDestinationRecord,
    ) -> Result<(), StoreError> {
        let conn = self.writer();
        let inserted = conn
            .execute(
                "INSERT INTO event_api_destinations (name, id, description, connection_arn,
                     endpoint, method, rate_limit, created_ms, modified_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (name) DO NOTHING",
                params![
                    destination.name,
                    destination.id,
                    destination.description,
                    destination.connection_arn,
                    destination.endpoint,
                    destination.method,
                    destination.rate_limit.map(i64::from),
                    destination.created_ms,
                    destination.modified_ms
                ],
            )
            .sql("creating an API destination")?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "An api-destination '{}' already exists.",
                destination.name
            )));
        }
        Ok(())
    }

    /// The API destination `name`, if any.
    pub fn event_api_destination(
        &self,
        name: &str,
    ) -> Result<Option<ApiDestinationRecord>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!(
                    "SELECT {DESTINATION_COLUMNS} FROM event_api_destinations WHERE name = ?1"
                ),
                params![name],
                destination_from_row,
            )
            .optional()
            .sql("reading an API destination")
        })
    }

    /// The API destinations whose names start with `prefix`, of the
    /// connection `connection_arn` if given, by name.
    pub fn event_api_destinations(
        &self,
        prefix: &str,
        connection_arn: Option<&str>,
    ) -> Result<Vec<ApiDestinationRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {DESTINATION_COLUMNS} FROM event_api_destinations
                     WHERE name LIKE ?1 ESCAPE '\\' AND (?2 IS NULL OR connection_arn = ?2)
                     ORDER BY name"
                ))
                .sql("listing API destinations")?;
            let rows = stmt
                .query_map(
                    params![like_prefix(prefix), connection_arn],
                    destination_from_row,
                )
                .sql("listing API destinations")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading API destinations")
        })
    }

    /// Deletes an API destination; false if there was none.
    pub fn delete_event_api_destination(&self, name: &str) -> Result<bool, StoreError> {
        let conn = self.writer();
        let deleted = conn
            .execute(
                "DELETE FROM event_api_destinations WHERE name = ?1",
                params![name],
            )
            .sql("deleting an API destination")?;
        Ok(deleted > 0)
    }

    /// Queues deliveries in the outbox, due now; durable when it returns.
    pub fn enqueue_event_deliveries(
        &self,
        deliveries: &[NewEventDelivery],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let deliveries = deliveries.to_vec();
        self.grouped(move |tx| insert_deliveries(tx, &deliveries, now_ms))
    }

    /// Claims up to `limit` due deliveries for `lease_ms` (a crash leaves
    /// the lease, after which they are claimed again), oldest first.
    pub fn claim_event_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<EventDelivery>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to claim deliveries")?;
        let claimed = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, attempts, created_ms, target, payload, kind, source, event_id,
                         params, rule, max_attempts, max_age_ms
                     FROM event_deliveries
                     WHERE due_ms <= ?1 AND (leased_until_ms IS NULL OR leased_until_ms <= ?1)
                     ORDER BY due_ms, id LIMIT ?2",
                )
                .sql("preparing to claim deliveries")?;
            let rows = stmt
                .query_map(params![now_ms, limit], |row| {
                    Ok(EventDelivery {
                        id: row.get(0)?,
                        attempts: u32::try_from(row.get::<_, i64>(1)?).unwrap_or(u32::MAX),
                        created_ms: row.get(2)?,
                        delivery: NewEventDelivery {
                            target: row.get(3)?,
                            payload: row.get(4)?,
                            kind: row.get(5)?,
                            source: row.get(6)?,
                            event_id: row.get(7)?,
                            params: row.get(8)?,
                            rule: row.get(9)?,
                            max_attempts: u32::try_from(row.get::<_, i64>(10)?).unwrap_or(u32::MAX),
                            max_age_ms: row.get(11)?,
                        },
                    })
                })
                .sql("claiming deliveries")?
                .collect::<Result<Vec<_>, _>>()
                .sql("reading claimed deliveries")?;
            let mut lease = tx
                .prepare_cached("UPDATE event_deliveries SET leased_until_ms = ?2 WHERE id = ?1")
                .sql("preparing to lease deliveries")?;
            for d in &rows {
                lease
                    .execute(params![d.id, now_ms + lease_ms])
                    .sql("leasing a delivery")?;
            }
            rows
        };
        tx.commit().sql("committing claimed deliveries")?;
        Ok(claimed)
    }

    /// Removes a delivery from the outbox (done, or given up).
    pub fn complete_event_delivery(&self, id: i64) -> Result<(), StoreError> {
        self.grouped(move |tx| {
            tx.execute("DELETE FROM event_deliveries WHERE id = ?1", params![id])
                .sql("completing a delivery")?;
            Ok(())
        })
    }

    /// Counts an attempt of a delivery and makes it due again at `due_ms`.
    pub fn retry_event_delivery(&self, id: i64, due_ms: i64) -> Result<(), StoreError> {
        self.grouped(move |tx| {
            tx.execute(
                "UPDATE event_deliveries SET attempts = attempts + 1, due_ms = ?2,
                     leased_until_ms = NULL
                 WHERE id = ?1",
                params![id, due_ms],
            )
            .sql("rescheduling a delivery")?;
            Ok(())
        })
    }

    /// When the next delivery of the outbox is due (or its lease ends).
    pub fn next_event_delivery_ms(&self) -> Result<Option<i64>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT min(max(due_ms, coalesce(leased_until_ms, 0))) FROM event_deliveries",
                [],
                |row| row.get(0),
            )
            .sql("reading the next delivery")
        })
    }
}

/// Inserts deliveries into the outbox, due at `now_ms`.
pub(crate) fn insert_deliveries(
    conn: &rusqlite::Connection,
    deliveries: &[NewEventDelivery],
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO event_deliveries (target, payload, kind, source, event_id, params,
                 rule, max_attempts, max_age_ms, created_ms, due_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )
        .sql("preparing to queue a delivery")?;
    for d in deliveries {
        stmt.execute(params![
            d.target,
            d.payload,
            d.kind,
            d.source,
            d.event_id,
            d.params,
            d.rule,
            i64::from(d.max_attempts.max(1)),
            d.max_age_ms,
            now_ms
        ])
        .sql("queuing a delivery")?;
    }
    Ok(())
}

/// Whether rule `rule` of bus `bus` exists, is enabled and has a schedule.
pub(crate) fn schedule_rule_enabled(
    conn: &rusqlite::Connection,
    bus: &str,
    rule: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM event_rules
             WHERE bus = ?1 AND name = ?2 AND enabled = 1 AND schedule IS NOT NULL",
            params![bus, rule],
            |row| row.get(0),
        )
        .optional()
        .sql("reading a scheduled rule")?;
    Ok(found.is_some())
}

/// `NotFound` unless rule `rule` exists on bus `bus`.
fn require_rule(conn: &rusqlite::Connection, bus: &str, rule: &str) -> Result<(), StoreError> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM event_rules WHERE bus = ?1 AND name = ?2",
            params![bus, rule],
            |row| row.get(0),
        )
        .optional()
        .sql("reading a target's rule")?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!(
            "Rule {rule} does not exist on EventBus {bus}."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        (dir, store)
    }

    fn delivery(n: u32) -> NewEventDelivery {
        NewEventDelivery {
            target: format!("arn:aws:events:us-east-1:000000000000:api-destination/d/{n}"),
            payload: format!("{{\"n\": {n}}}"),
            kind: "Order".into(),
            source: "shop".into(),
            event_id: Some(format!("e{n}")),
            params: Some("{\"HttpParameters\": {}}".into()),
            rule: "arn:aws:events:us-east-1:000000000000:rule/r".into(),
            max_attempts: 3,
            max_age_ms: 60_000,
        }
    }

    #[test]
    fn the_default_bus_has_a_creation_time_and_buses_keep_theirs() {
        let (dir, store) = open();
        let default = store.event_bus("default").expect("read").expect("exists");
        assert!(default.created_ms > 1_600_000_000_000, "{default:?}");
        assert_eq!(default.modified_ms, default.created_ms);
        store
            .create_event_bus("shop", Some("d"), &[("k".into(), "v".into())], 42_000)
            .expect("create");
        drop(store);
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(
            store.event_bus("default").expect("read"),
            Some(default),
            "a reopening keeps the default bus's creation time"
        );
        let shop = store.event_bus("shop").expect("read").expect("exists");
        assert_eq!((shop.created_ms, shop.modified_ms), (42_000, 42_000));
        assert_eq!(
            store.event_resource_tags(("shop", None)).expect("tags"),
            vec![("k".to_string(), "v".to_string())]
        );
    }

    #[test]
    fn policies_change_in_one_transaction() {
        let (_dir, store) = open();
        store
            .update_event_bus_policy("default", 5, |current| {
                assert_eq!(current, None);
                Ok(Some("{\"Statement\": []}".into()))
            })
            .expect("set");
        let failed = store.update_event_bus_policy("default", 6, |_| {
            Err(StoreError::NotFound(
                "Statement with the provided id does not exist.".into(),
            ))
        });
        assert!(matches!(failed, Err(StoreError::NotFound(_))));
        let bus = store.event_bus("default").expect("read").expect("exists");
        assert_eq!(bus.policy.as_deref(), Some("{\"Statement\": []}"));
        assert_eq!(bus.modified_ms, 5);
        assert!(matches!(
            store.update_event_bus_policy("nope", 7, |_| Ok(None)),
            Err(StoreError::NotFound(m)) if m == "Event bus nope does not exist."
        ));
    }

    #[test]
    fn tags_go_with_their_rule_and_bus() {
        let (_dir, store) = open();
        store.create_event_bus("b", None, &[], 1).expect("bus");
        let rule = NewRule {
            bus: "b".into(),
            name: "r".into(),
            pattern: Some("{}".into()),
            schedule: None,
            enabled: true,
            description: None,
        };
        store
            .put_event_rule(&rule, &[("t1".into(), "v1".into())], 1)
            .expect("rule");
        store
            .tag_event_resource(("b", Some("r")), &[("t2".into(), "v2".into())])
            .expect("tag");
        store
            .untag_event_resource(("b", Some("r")), &["t1".into(), "absent".into()])
            .expect("untag");
        assert_eq!(
            store.event_resource_tags(("b", Some("r"))).expect("tags"),
            vec![("t2".to_string(), "v2".to_string())]
        );
        assert!(store.delete_event_rule("b", "r", false).expect("delete"));
        store.put_event_rule(&rule, &[], 2).expect("again");
        assert_eq!(
            store.event_resource_tags(("b", Some("r"))).expect("tags"),
            vec![],
            "a rule made again has no tags of the old one"
        );
        assert!(matches!(
            store.event_resource_tags(("b", Some("nope"))),
            Err(StoreError::NotFound(m)) if m == "Rule nope does not exist on EventBus b."
        ));
    }

    #[test]
    fn at_most_the_limit_of_targets_is_kept() {
        let (_dir, store) = open();
        let rule = NewRule {
            bus: "default".into(),
            name: "r".into(),
            pattern: Some("{}".into()),
            schedule: None,
            enabled: true,
            description: None,
        };
        store.put_event_rule(&rule, &[], 1).expect("rule");
        let target = |id: &str| TargetRecord {
            id: id.into(),
            arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            ..TargetRecord::default()
        };
        store
            .put_event_targets("default", "r", &[target("a"), target("b")], 2)
            .expect("two");
        assert!(matches!(
            store.put_event_targets("default", "r", &[target("c")], 2),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.event_targets("default", "r").expect("list").len(), 2);
        assert_eq!(
            store
                .event_rules_by_target("default", "arn:aws:sqs:us-east-1:000000000000:q")
                .expect("by target"),
            vec!["r".to_string()]
        );
    }

    #[test]
    fn archives_keep_events_in_their_window_until_they_expire() {
        let (_dir, store) = open();
        let archive = ArchiveRecord {
            name: "a".into(),
            bus: "default".into(),
            description: None,
            pattern: None,
            retention_days: 1,
            state: "ENABLED".into(),
            created_ms: 1,
            event_count: 0,
            size_bytes: 0,
        };
        store.create_event_archive(&archive).expect("create");
        assert!(matches!(
            store.create_event_archive(&archive),
            Err(StoreError::Conflict(m)) if m == "Archive a already exists."
        ));
        assert!(matches!(
            store.create_event_archive(&ArchiveRecord {
                name: "b".into(),
                bus: "nope".into(),
                ..archive.clone()
            }),
            Err(StoreError::NotFound(_))
        ));
        for (t, expires) in [(1_000, Some(10)), (2_000, None), (3_000, None)] {
            store
                .archive_event(&[("a".into(), expires)], t, &format!("{{\"t\": {t}}}"))
                .expect("archive");
        }
        let got = store.event_archive("a").expect("read").expect("exists");
        assert_eq!((got.event_count, got.size_bytes), (3, 33));
        let window = store
            .archived_events("a", 1_500, 3_000, 0, 10)
            .expect("window");
        assert_eq!(
            window.iter().map(|e| e.time_ms).collect::<Vec<_>>(),
            vec![2_000]
        );
        let all = store.archived_events("a", 0, 10_000, 0, 2).expect("page");
        assert_eq!(all.len(), 2);
        let rest = store
            .archived_events("a", 0, 10_000, all[1].seq, 2)
            .expect("next page");
        assert_eq!(
            rest.iter().map(|e| e.time_ms).collect::<Vec<_>>(),
            vec![3_000]
        );
        assert_eq!(store.prune_archived_events(10).expect("prune"), 1);
        assert_eq!(
            store
                .event_archive("a")
                .expect("read")
                .map(|a| a.event_count),
            Some(2)
        );
        assert!(
            store
                .update_event_archive("a", Some("d"), None, Some(3))
                .expect("update")
        );
        let got = store.event_archive("a").expect("read").expect("exists");
        assert_eq!(
            (got.description.as_deref(), got.retention_days),
            (Some("d"), 3)
        );
        assert!(store.delete_event_archive("a").expect("delete"));
        assert!(
            store
                .archived_events("a", 0, 10_000, 0, 10)
                .expect("gone")
                .is_empty()
        );
    }

    #[test]
    fn replays_move_between_states_only_from_the_expected_ones() {
        let (_dir, store) = open();
        let replay = ReplayRecord {
            name: "r".into(),
            archive: "a".into(),
            description: None,
            bus: "default".into(),
            filter_arns: vec!["arn:aws:events:us-east-1:000000000000:rule/x".into()],
            start_ms: 0,
            end_ms: 10,
            state: "STARTING".into(),
            state_reason: None,
            replay_start_ms: 5,
            replay_end_ms: None,
            last_replayed_ms: None,
            cursor: 0,
        };
        store.create_event_replay(&replay).expect("create");
        assert!(matches!(
            store.create_event_replay(&replay),
            Err(StoreError::Conflict(m)) if m == "Replay r already exists."
        ));
        let (moved, ok) = store
            .set_event_replay_state("r", &["STARTING"], "RUNNING", None, None)
            .expect("run")
            .expect("exists");
        assert!(ok && moved.state == "RUNNING");
        store.advance_event_replay("r", 7, 9).expect("advance");
        let (done, ok) = store
            .set_event_replay_state("r", &["RUNNING"], "COMPLETED", None, Some(20))
            .expect("complete")
            .expect("exists");
        assert!(ok);
        assert_eq!(
            (done.cursor, done.last_replayed_ms, done.replay_end_ms),
            (7, Some(9), Some(20))
        );
        assert_eq!(done.filter_arns, replay.filter_arns);
        let (same, ok) = store
            .set_event_replay_state("r", &["STARTING", "RUNNING"], "CANCELLING", None, None)
            .expect("cancel")
            .expect("exists");
        assert!(!ok && same.state == "COMPLETED");
        assert_eq!(
            store
                .set_event_replay_state("nope", &["RUNNING"], "FAILED", None, None)
                .expect("none"),
            None
        );
    }

    #[test]
    fn deliveries_are_leased_retried_and_survive_a_crash() {
        let (dir, store) = open();
        store
            .enqueue_event_deliveries(&[delivery(1), delivery(2)], 1_000)
            .expect("enqueue");
        let claimed = store
            .claim_event_deliveries(1_000, 1, 30_000)
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].attempts, claimed[0].created_ms), (0, 1_000));
        assert_eq!(claimed[0].delivery, delivery(1));
        // Leased: the next claim takes the other one only.
        let other = store
            .claim_event_deliveries(1_000, 10, 30_000)
            .expect("claim");
        assert_eq!(
            other.iter().map(|d| d.delivery.clone()).collect::<Vec<_>>(),
            vec![delivery(2)]
        );
        store
            .retry_event_delivery(other[0].id, 5_000)
            .expect("retry");
        store
            .complete_event_delivery(claimed[0].id)
            .expect("complete");
        assert_eq!(store.next_event_delivery_ms().expect("next"), Some(5_000));
        assert!(
            store
                .claim_event_deliveries(4_999, 10, 30_000)
                .expect("early")
                .is_empty()
        );
        let again = store
            .claim_event_deliveries(5_000, 10, 30_000)
            .expect("due");
        assert_eq!((again.len(), again[0].attempts), (1, 1));
        // The process dies holding the lease: after it, the delivery is
        // claimed again.
        drop(store);
        let store = Store::open(dir.path()).expect("reopen");
        assert!(
            store
                .claim_event_deliveries(6_000, 10, 30_000)
                .expect("leased")
                .is_empty()
        );
        let after = store
            .claim_event_deliveries(35_000, 10, 30_000)
            .expect("expired");
        assert_eq!(
            after.iter().map(|d| d.delivery.clone()).collect::<Vec<_>>(),
            vec![delivery(2)]
        );
        store
            .complete_event_delivery(after[0].id)
            .expect("complete");
        assert_eq!(store.next_event_delivery_ms().expect("next"), None);
    }

    #[test]
    fn connections_and_api_destinations_are_unique_by_name() {
        let (_dir, store) = open();
        let connection = ConnectionRecord {
            name: "c".into(),
            id: "1".into(),
            description: None,
            auth_type: "API_KEY".into(),
            auth: "{}".into(),
            state: "AUTHORIZED".into(),
            created_ms: 1,
            modified_ms: 1,
            authorized_ms: Some(1),
        };
        store.create_event_connection(&connection).expect("create");
        assert!(matches!(
            store.create_event_connection(&connection),
            Err(StoreError::Conflict(m)) if m == "Connection c already exists."
        ));
        let destination = ApiDestinationRecord {
            name: "d".into(),
            id: "2".into(),
            description: None,
            connection_arn: "arn:c".into(),
            endpoint: "http://h".into(),
            method: "POST".into(),
            rate_limit: Some(7),
            created_ms: 1,
            modified_ms: 1,
        };
        store
            .create_event_api_destination(&destination)
            .expect("create");
        assert!(matches!(
            store.create_event_api_destination(&destination),
            Err(StoreError::Conflict(m)) if m == "An api-destination 'd' already exists."
        ));
        assert_eq!(
            store
                .event_api_destinations("", Some("arn:c"))
                .expect("list"),
            vec![destination.clone()]
        );
        assert!(
            store
                .event_api_destinations("", Some("arn:x"))
                .expect("list")
                .is_empty()
        );
        assert_eq!(
            store.delete_event_connection("c").expect("delete"),
            Some(connection)
        );
        assert_eq!(store.delete_event_connection("c").expect("again"), None);
        assert!(store.delete_event_api_destination("d").expect("delete"));
        assert!(!store.delete_event_api_destination("d").expect("again"));
    }
}
