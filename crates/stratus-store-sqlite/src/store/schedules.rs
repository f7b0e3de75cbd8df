//! The store of the state of schedules: per schedule (a stable key the
//! scheduler derives from the function, the event's index, the expression
//! and the time zone), when it was first seen (the anchor of its rate ticks)
//! and the last tick fired.
//!
//! A tick is recorded and its asynchronous invocation enqueued in one
//! transaction, and only if it is after the last one recorded, so each tick
//! fires exactly once, across crashes and restarts too.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::store::async_events::insert_async;
use crate::store::bus::{insert_deliveries, schedule_rule_enabled};
use crate::store::error::SqlContext;
use crate::store::{Store, StoreError, from_sql_int};
use stratus_engine::records::NewAsyncEvent;
use stratus_eventbridge::backend::{ScheduleKey, ScheduleState, ScheduleTick};

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = "CREATE TABLE schedules (
    key          TEXT PRIMARY KEY,
    function     TEXT NOT NULL,
    expression   TEXT NOT NULL,
    anchor_ms    INTEGER NOT NULL,
    last_tick_ms INTEGER NOT NULL,
    fired        INTEGER NOT NULL DEFAULT 0,
    updated_ms   INTEGER NOT NULL
);
CREATE INDEX schedules_by_function ON schedules (function);";

fn state_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ScheduleState, i64)> {
    Ok((
        ScheduleState {
            key: row.get(0)?,
            function: row.get(1)?,
            expression: row.get(2)?,
            anchor_ms: row.get(3)?,
            last_tick_ms: row.get(4)?,
            fired: 0,
        },
        row.get(5)?,
    ))
}

const COLUMNS: &str = "key, function, expression, anchor_ms, last_tick_ms, fired";

impl Store {
    /// Makes the stored schedules exactly `schedules`: those seen for the
    /// first time start now (anchor = last tick = `now_ms`, so no past tick
    /// fires), those no longer listed are forgotten (a schedule that comes
    /// back starts afresh). Returns the state of each, in the order given.
    pub fn sync_schedules(
        &self,
        schedules: &[ScheduleKey],
        now_ms: i64,
    ) -> Result<Vec<ScheduleState>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to sync schedules")?;
        let mut states = Vec::with_capacity(schedules.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO schedules (key, function, expression, anchor_ms, last_tick_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?4)
                     ON CONFLICT (key) DO NOTHING",
                )
                .sql("preparing to record a schedule")?;
            let mut select = tx
                .prepare_cached(&format!("SELECT {COLUMNS} FROM schedules WHERE key = ?1"))
                .sql("preparing to read a schedule")?;
            for s in schedules {
                insert
                    .execute(params![s.key, s.function, s.expression, now_ms])
                    .sql("recording a schedule")?;
                let (mut state, fired) = select
                    .query_row(params![s.key], state_from_row)
                    .sql("reading a schedule")?;
                state.fired = from_sql_int(fired, "schedule tick count")?;
                states.push(state);
            }
            // Forget the schedules that are gone.
            let mut keys = tx
                .prepare_cached("SELECT key FROM schedules")
                .sql("preparing to list schedules")?;
            let stored: Vec<String> = keys
                .query_map([], |row| row.get(0))
                .sql("listing schedules")?
                .collect::<Result<_, _>>()
                .sql("listing schedules")?;
            let wanted: std::collections::HashSet<&str> =
                schedules.iter().map(|s| s.key.as_str()).collect();
            let mut delete = tx
                .prepare_cached("DELETE FROM schedules WHERE key = ?1")
                .sql("preparing to forget a schedule")?;
            for key in stored.iter().filter(|k| !wanted.contains(k.as_str())) {
                delete.execute(params![key]).sql("forgetting a schedule")?;
                tracing::debug!(key = %key, "forgot a schedule that is no longer deployed");
            }
        }
        tx.commit().sql("committing schedules")?;
        Ok(states)
    }

    /// The stored state of one schedule, if it is known.
    pub fn schedule_state(&self, key: &str) -> Result<Option<ScheduleState>, StoreError> {
        self.read(|conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {COLUMNS} FROM schedules WHERE key = ?1"),
                    params![key],
                    state_from_row,
                )
                .optional()
                .sql("reading a schedule")?;
            row.map(|(mut state, fired)| {
                state.fired = from_sql_int(fired, "schedule tick count")?;
                Ok(state)
            })
            .transpose()
        })
    }

    /// The stored states of all schedules, by key.
    pub fn schedule_states(&self) -> Result<Vec<ScheduleState>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare(&format!("SELECT {COLUMNS} FROM schedules ORDER BY key"))
                .sql("preparing to list schedules")?;
            let rows = stmt
                .query_map([], state_from_row)
                .sql("listing schedules")?
                .collect::<Result<Vec<_>, _>>()
                .sql("listing schedules")?;
            rows.into_iter()
                .map(|(mut state, fired)| {
                    state.fired = from_sql_int(fired, "schedule tick count")?;
                    Ok(state)
                })
                .collect()
        })
    }

    /// Fires one tick: in one transaction, checks that `tick_ms` is after
    /// the schedule's last tick, records it and enqueues `event`. Returns
    /// false, changing nothing, if that tick (or a later one) already fired
    /// or the schedule is unknown.
    pub fn fire_schedule_tick(
        &self,
        key: &str,
        tick_ms: i64,
        event: &NewAsyncEvent,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let tick = ScheduleTick {
            key: key.to_string(),
            tick_ms,
            events: vec![event.clone()],
            ..ScheduleTick::default()
        };
        Ok(self
            .fire_schedule_ticks(std::slice::from_ref(&tick), now_ms)?
            .first()
            .copied()
            .unwrap_or(false))
    }

    /// Fires several ticks (of different schedules, or in increasing order
    /// for one) in one transaction and one durable commit, each as
    /// [`Store::fire_schedule_tick`] with all its invocations and
    /// deliveries; a rule's tick fires only while its rule exists, enabled,
    /// with a schedule. Returns, per tick, whether it fired.
    pub fn fire_schedule_ticks(
        &self,
        ticks: &[ScheduleTick],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        if ticks.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting to fire schedule ticks")?;
        let mut fired = Vec::with_capacity(ticks.len());
        {
            let mut advance = tx
                .prepare_cached(
                    "UPDATE schedules SET last_tick_ms = ?2, fired = fired + 1, updated_ms = ?3
                     WHERE key = ?1 AND last_tick_ms < ?2",
                )
                .sql("preparing to record a schedule tick")?;
            for tick in ticks {
                if let Some((bus, rule)) = &tick.rule
                    && !schedule_rule_enabled(&tx, bus, rule)?
                {
                    fired.push(false);
                    continue;
                }
                let advanced = advance
                    .execute(params![tick.key, tick.tick_ms, now_ms])
                    .sql("recording a schedule tick")?;
                if advanced == 0 {
                    fired.push(false);
                    continue;
                }
                for event in &tick.events {
                    insert_async(&tx, event, now_ms)?;
                }
                insert_deliveries(&tx, &tick.deliveries, now_ms)?;
                fired.push(true);
            }
        }
        tx.commit().sql("committing schedule ticks")?;
        Ok(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratus_eventbridge::backend::{NewEventDelivery, NewRule};

    fn key(k: &str) -> ScheduleKey {
        ScheduleKey {
            key: k.into(),
            function: "f".into(),
            expression: "rate(1 minute)".into(),
        }
    }

    fn event(id: &str) -> NewAsyncEvent {
        NewAsyncEvent {
            request_id: id.into(),
            function: "f".into(),
            qualifier: None,
            payload: b"{}".to_vec(),
            headers: vec![("ce-type".into(), "Scheduled Event".into())],
            max_attempts: 3,
            max_age_ms: 21_600_000,
        }
    }

    #[test]
    fn ticks_fire_once_and_state_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let states = store.sync_schedules(&[key("a")], 1_000).expect("sync");
        assert_eq!(states[0].anchor_ms, 1_000);
        assert_eq!(states[0].last_tick_ms, 1_000);

        // The anchor itself, or anything before it, never fires.
        assert!(
            !store
                .fire_schedule_tick("a", 1_000, &event("r0"), 1_000)
                .expect("fire")
        );
        assert!(
            store
                .fire_schedule_tick("a", 61_000, &event("r1"), 61_001)
                .expect("fire")
        );
        assert!(
            !store
                .fire_schedule_tick("a", 61_000, &event("r2"), 61_002)
                .expect("fire")
        );
        assert!(
            !store
                .fire_schedule_tick("unknown", 61_000, &event("r3"), 61_002)
                .expect("fire")
        );
        assert_eq!(store.async_stats().expect("stats").pending, 1);
        drop(store);

        let store = Store::open(dir.path()).expect("reopen");
        // Seeing it again keeps the anchor and the last tick.
        let states = store
            .sync_schedules(&[key("a"), key("b")], 500_000)
            .expect("sync");
        assert_eq!(states[0].anchor_ms, 1_000);
        assert_eq!(states[0].last_tick_ms, 61_000);
        assert_eq!(states[0].fired, 1);
        assert_eq!(states[1].anchor_ms, 500_000);
        let fired = store
            .fire_schedule_ticks(
                &[
                    ScheduleTick {
                        key: "a".into(),
                        tick_ms: 61_000,
                        events: vec![event("r4")],
                        ..ScheduleTick::default()
                    },
                    ScheduleTick {
                        key: "a".into(),
                        tick_ms: 121_000,
                        events: vec![event("r5")],
                        ..ScheduleTick::default()
                    },
                    ScheduleTick {
                        key: "b".into(),
                        tick_ms: 560_000,
                        events: vec![event("r6")],
                        ..ScheduleTick::default()
                    },
                ],
                600_000,
            )
            .expect("fire");
        assert_eq!(fired, vec![false, true, true]);
        assert_eq!(store.async_stats().expect("stats").pending, 3);

        // A schedule no longer listed is forgotten, and starts afresh.
        store.sync_schedules(&[key("b")], 700_000).expect("sync");
        assert_eq!(store.schedule_state("a").expect("read"), None);
        let states = store
            .sync_schedules(&[key("a"), key("b")], 800_000)
            .expect("sync");
        assert_eq!(states[0].anchor_ms, 800_000);
        assert_eq!(store.schedule_states().expect("list").len(), 2);
    }

    fn delivery(target: &str) -> NewEventDelivery {
        NewEventDelivery {
            target: target.into(),
            payload: "{}".into(),
            kind: "Scheduled Event".into(),
            source: "aws.events".into(),
            event_id: Some("e".into()),
            params: None,
            rule: "arn:aws:events:us-east-1:000000000000:rule/tick".into(),
            max_attempts: 185,
            max_age_ms: 86_400_000,
        }
    }

    #[test]
    fn a_rule_tick_fires_with_its_targets_only_while_the_rule_is_enabled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let rule = NewRule {
            bus: "default".into(),
            name: "tick".into(),
            pattern: None,
            schedule: Some("rate(1 minute)".into()),
            enabled: true,
            description: None,
        };
        store.put_event_rule(&rule, &[], 0).expect("rule");
        store.sync_schedules(&[key("r")], 1_000).expect("sync");
        let tick = |tick_ms: i64| ScheduleTick {
            key: "r".into(),
            tick_ms,
            events: vec![event(&format!("f{tick_ms}")), event(&format!("g{tick_ms}"))],
            deliveries: vec![delivery("arn:aws:sqs:us-east-1:000000000000:q")],
            rule: Some(("default".into(), "tick".into())),
        };
        assert_eq!(
            store
                .fire_schedule_ticks(&[tick(61_000)], 61_000)
                .expect("fire"),
            vec![true]
        );
        assert_eq!(store.async_stats().expect("stats").pending, 2);
        let claimed = store
            .claim_event_deliveries(61_000, 10, 30_000)
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            claimed[0].delivery,
            delivery("arn:aws:sqs:us-east-1:000000000000:q")
        );

        // Disabled, the rule's ticks do not fire and are not recorded.
        assert!(
            store
                .set_event_rule_enabled("default", "tick", false)
                .expect("disable")
        );
        assert_eq!(
            store
                .fire_schedule_ticks(&[tick(121_000)], 121_000)
                .expect("fire"),
            vec![false]
        );
        assert_eq!(
            store
                .schedule_state("r")
                .expect("state")
                .map(|s| s.last_tick_ms),
            Some(61_000)
        );
        // Deleted, neither.
        assert!(
            store
                .set_event_rule_enabled("default", "tick", true)
                .expect("enable")
        );
        assert!(
            store
                .delete_event_rule("default", "tick", true)
                .expect("delete")
        );
        assert_eq!(
            store
                .fire_schedule_ticks(&[tick(181_000)], 181_000)
                .expect("fire"),
            vec![false]
        );
        assert_eq!(store.async_stats().expect("stats").pending, 2);
    }
}
