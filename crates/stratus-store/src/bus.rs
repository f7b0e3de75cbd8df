//! The store of event buses, rules and targets (EventBridge).
//!
//! The `default` bus is created by the migration and never deleted. A rule
//! belongs to one bus and holds its event pattern (JSON text) or schedule
//! expression as given; the events crate validates them. Targets belong to
//! a rule and go with it. Events themselves are not stored here: PutEvents
//! hands each matched event to its targets' own durable queues (the async
//! invocation queue, a queue, a topic) before it answers.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::error::SqlContext;
use crate::{Store, StoreError};

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

/// A stored event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusRecord {
    /// Its name.
    pub name: String,
    /// Its description, if any.
    pub description: Option<String>,
    /// When it was created (ms since the epoch; 0 for `default`).
    pub created_ms: i64,
}

/// A rule to create or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    /// The bus's name.
    pub bus: String,
    /// The rule's name.
    pub name: String,
    /// The event pattern (JSON text).
    pub pattern: Option<String>,
    /// The schedule expression.
    pub schedule: Option<String>,
    /// Whether it is `ENABLED`.
    pub enabled: bool,
    /// Its description.
    pub description: Option<String>,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRecord {
    /// The bus's name.
    pub bus: String,
    /// The rule's name.
    pub name: String,
    /// The event pattern (JSON text).
    pub pattern: Option<String>,
    /// The schedule expression.
    pub schedule: Option<String>,
    /// Whether it is `ENABLED`.
    pub enabled: bool,
    /// Its description.
    pub description: Option<String>,
    /// When it was first created (ms since the epoch).
    pub created_ms: i64,
}

/// A target of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRecord {
    /// Its id, unique within the rule.
    pub id: String,
    /// The ARN of the function, queue, topic or bus.
    pub arn: String,
    /// Constant JSON input.
    pub input: Option<String>,
    /// A JSON path into the event.
    pub input_path: Option<String>,
    /// An input transformer (JSON text with `InputPathsMap`, `InputTemplate`).
    pub input_transformer: Option<String>,
}

/// An enabled rule with its targets.
pub type Route = (RuleRecord, Vec<TargetRecord>);

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

const TARGET_COLUMNS: &str = "id, arn, input, input_path, input_transformer";

fn target_from_row(row: &Row<'_>) -> rusqlite::Result<TargetRecord> {
    Ok(TargetRecord {
        id: row.get(0)?,
        arn: row.get(1)?,
        input: row.get(2)?,
        input_path: row.get(3)?,
        input_transformer: row.get(4)?,
    })
}

fn bus_from_row(row: &Row<'_>) -> rusqlite::Result<BusRecord> {
    Ok(BusRecord {
        name: row.get(0)?,
        description: row.get(1)?,
        created_ms: row.get(2)?,
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

impl Store {
    /// Creates a bus; `Conflict` if one of that name exists.
    pub fn create_event_bus(
        &self,
        name: &str,
        description: Option<&str>,
        now_ms: i64,
    ) -> Result<BusRecord, StoreError> {
        let conn = self.writer();
        let inserted = conn
            .execute(
                "INSERT INTO event_buses (name, description, created_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO NOTHING",
                params![name, description, now_ms],
            )
            .sql("creating an event bus")?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "Event bus {name} already exists."
            )));
        }
        Ok(BusRecord {
            name: name.to_string(),
            description: description.map(str::to_string),
            created_ms: now_ms,
        })
    }

    /// Deletes a bus with its rules and their targets; false if there was
    /// none. The caller refuses `default`.
    pub fn delete_event_bus(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to delete an event bus")?;
        tx.execute("DELETE FROM event_targets WHERE bus = ?1", params![name])
            .sql("deleting an event bus's targets")?;
        tx.execute("DELETE FROM event_rules WHERE bus = ?1", params![name])
            .sql("deleting an event bus's rules")?;
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
                "SELECT name, description, created_ms FROM event_buses WHERE name = ?1",
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
                .prepare_cached(
                    "SELECT name, description, created_ms FROM event_buses
                     WHERE name LIKE ?1 ESCAPE '\\' ORDER BY name",
                )
                .sql("listing event buses")?;
            let rows = stmt
                .query_map(params![like_prefix(prefix)], bus_from_row)
                .sql("listing event buses")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("reading event buses")
        })
    }

    /// Creates or replaces a rule (its targets stay); `NotFound` if the bus
    /// does not exist.
    pub fn put_event_rule(&self, rule: &NewRule, now_ms: i64) -> Result<RuleRecord, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to put a rule")?;
        let bus: Option<String> = tx
            .query_row(
                "SELECT name FROM event_buses WHERE name = ?1",
                params![rule.bus],
                |row| row.get(0),
            )
            .optional()
            .sql("reading a rule's bus")?;
        if bus.is_none() {
            return Err(StoreError::NotFound(format!(
                "Event bus {} does not exist.",
                rule.bus
            )));
        }
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

    /// Deletes a rule; false if there was none. A rule with targets is
    /// refused with `Conflict` unless `force`.
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

    /// Adds or replaces targets of a rule (by id); `NotFound` if the rule
    /// does not exist.
    pub fn put_event_targets(
        &self,
        bus: &str,
        rule: &str,
        targets: &[TargetRecord],
    ) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to put targets")?;
        require_rule(&tx, bus, rule)?;
        for t in targets {
            tx.execute(
                "INSERT INTO event_targets (bus, rule, id, arn, input, input_path, input_transformer)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (bus, rule, id) DO UPDATE SET arn = excluded.arn,
                     input = excluded.input, input_path = excluded.input_path,
                     input_transformer = excluded.input_transformer",
                params![
                    bus,
                    rule,
                    t.id,
                    t.arn,
                    t.input,
                    t.input_path,
                    t.input_transformer
                ],
            )
            .sql("putting a target")?;
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

    /// The enabled pattern rules of `bus` with their targets, for
    /// PutEvents; `None` if the bus does not exist.
    pub fn event_routes(&self, bus: &str) -> Result<Option<Vec<Route>>, StoreError> {
        self.read(|conn| {
            let exists: Option<i64> = conn
                .query_row(
                    "SELECT 1 FROM event_buses WHERE name = ?1",
                    params![bus],
                    |row| row.get(0),
                )
                .optional()
                .sql("reading an event bus")?;
            if exists.is_none() {
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
            Ok(Some(routes))
        })
    }
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
