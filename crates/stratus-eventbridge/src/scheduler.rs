//! Schedules: the manifests' (`events: - schedule: rate(5 minutes) |
//! cron(...)`) and the rules made through the API with a
//! `ScheduleExpression` (on the default bus, as AWS allows). Each tick
//! fires exactly once, across restarts too.
//!
//! One loop follows the deployed functions' enabled schedules and the
//! enabled scheduled rules, sleeps until the earliest next tick (waking
//! early for deploys, rule changes and shutdown) and fires each due tick:
//! a manifest schedule as an asynchronous invocation of the function's
//! `$LATEST`; a rule by delivering the envelope (through each target's
//! `Input`, `InputPath` or `InputTransformer`) to every target of the rule,
//! a function as an asynchronous invocation, any other target as a row of
//! the bus's outbox (`targets.rs`). The tick is recorded and everything it
//! enqueues committed in one store transaction
//! ([`BusBackend::fire_schedule_ticks`](crate::backend::BusBackend::fire_schedule_ticks)), so a tick fires once
//! even if the process dies right after; a rule's tick fires only if the
//! rule still exists, enabled, at that commit, so a disabled or deleted
//! rule stops at once.
//!
//! # The event
//!
//! The payload is EventBridge's scheduled-event envelope, or the
//! schedule's constant `input` when it has one:
//!
//! ```json
//! {"version": "0", "id": "<uuid>", "detail-type": "Scheduled Event",
//!  "source": "aws.events", "account": "000000000000",
//!  "time": "2024-01-01T02:00:00Z", "region": "us-east-1",
//!  "resources": ["arn:aws:events:us-east-1:000000000000:rule/<function>-schedule-<n>"],
//!  "detail": {}}
//! ```
//!
//! `time` is the tick (not when it fired), `n` the schedule's position
//! among the function's schedules, from 1 (a rule's resource is the rule's
//! ARN). Headers: `ce-type: Scheduled Event`, `ce-source: aws.events`,
//! `ce-id` the envelope's id.
//!
//! # Missed ticks
//!
//! A schedule's first tick is the first one after it was first seen (its
//! deploy, rounded down to the second: rate ticks fall on whole seconds);
//! ticks before that never fire. Ticks missed while the server was
//! down (or while the loop could not keep up) fire **once**: the latest of
//! them, with `"detail": {"missedTicks": N}` where N ≥ 1 is how many ticks
//! that one firing stands for (the ones not fired on time, itself
//! included). A tick is missed when others were due with it, or when it is
//! more than [`MISSED_GRACE_MS`] late. With a constant `input` there is no
//! envelope to mark; the `ce-missed-ticks` header carries N instead (it is
//! also set with the envelope).
//!
//! Disabled schedules (`enabled: false`, a disabled rule) and those of
//! removed functions or deleted rules do not fire and are forgotten:
//! re-enabled, a schedule starts afresh.

use crate::backend::{NewEventDelivery, ScheduleKey, ScheduleState, ScheduleTick};
use crate::bus::route_targets;
use crate::targets::Dest;
use crate::{EventBridge, EventOrigin};
use bytes::Bytes;
use std::time::Duration;
use stratus_core::events::{EventBridgeEvent, scheduled_time};
use stratus_core::function::rule_arn;
use stratus_core::schedule::Schedule;
use stratus_core::scope::ResourceScope;
use stratus_core::transform::RuleContext;
use stratus_engine::Qualifier;

/// How late a lone due tick may fire before it counts as missed.
pub const MISSED_GRACE_MS: i64 = 2_000;
/// Counting missed ticks stops here (a long outage of a frequent cron).
const MISSED_COUNT_LIMIT: u64 = 1_000_000;
/// How long to wait before trying again after a store error.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Whose schedule an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A manifest schedule.
    Function {
        /// The function invoked.
        function: String,
        /// Position among the function's schedules, from 1.
        position: usize,
        /// Constant input (JSON text) replacing the envelope.
        input: Option<String>,
    },
    /// A rule with a `ScheduleExpression`.
    Rule {
        /// Its bus.
        bus: String,
        /// Its name.
        name: String,
    },
}

/// One followed schedule.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The stable key in the store.
    pub key: String,
    /// Whose it is.
    pub owner: Owner,
    /// The parsed expression.
    pub schedule: Schedule,
    /// When it was first seen (ms).
    pub anchor_ms: i64,
    /// The last tick fired (ms), or the anchor.
    pub last_tick_ms: i64,
}

impl Entry {
    /// The next tick after the last one fired.
    pub fn next_tick(&self) -> Option<i64> {
        self.schedule
            .next_after_anchored(self.anchor_ms, self.last_tick_ms)
    }

    /// The name of the rule in the envelope's resource.
    pub fn rule_name(&self) -> String {
        match &self.owner {
            Owner::Function {
                function, position, ..
            } => format!("{function}-schedule-{position}"),
            Owner::Rule { name, .. } => name.clone(),
        }
    }

    /// What it is, for logs.
    fn describe(&self) -> String {
        match &self.owner {
            Owner::Function { function, .. } => format!("function {function}"),
            Owner::Rule { bus, name } => format!("rule {name} of bus {bus}"),
        }
    }
}

/// A tick to fire now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Index into the entries.
    pub entry: usize,
    /// The tick (ms).
    pub tick_ms: i64,
    /// Ticks this firing stands for when some were missed (0 when on time).
    pub missed: u64,
}

/// What is due at `now_ms`: for each entry with ticks in
/// `(last tick, now]`, the latest of them, counted as missed when there
/// are several or it is over [`MISSED_GRACE_MS`] late. Pure.
pub fn due(entries: &[Entry], now_ms: i64) -> Vec<Due> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let (count, latest) = e.schedule.ticks_between(
                e.anchor_ms,
                e.last_tick_ms,
                now_ms,
                MISSED_COUNT_LIMIT,
            )?;
            let missed = if count > 1 || now_ms - latest > MISSED_GRACE_MS {
                count
            } else {
                0
            };
            Some(Due {
                entry: i,
                tick_ms: latest,
                missed,
            })
        })
        .collect()
}

/// The key under which a schedule's state is stored: stable across
/// restarts and redeploys that keep the function, the schedule's position,
/// its expression and its time zone.
pub fn schedule_key(function: &str, position: usize, expression: &str, timezone: &str) -> String {
    format!("{function}/{position}/{expression}/{timezone}")
}

/// The key of a rule's schedule: stable while the rule keeps its
/// expression (a function's name has no `:`, so the two never meet).
pub fn rule_schedule_key(bus: &str, name: &str, expression: &str) -> String {
    format!("rule:{bus}/{name}/{expression}")
}

/// The scheduled-event envelope of a tick of rule `rule` of the default
/// bus of `scope`'s region.
pub fn envelope(
    scope: &ResourceScope,
    id: &str,
    rule: &str,
    tick_ms: i64,
    missed: u64,
) -> EventBridgeEvent {
    let detail = if missed > 0 {
        serde_json::json!({ "missedTicks": missed })
    } else {
        serde_json::json!({})
    };
    EventBridgeEvent::scheduled(
        scope,
        id,
        rule,
        scheduled_time(tick_ms).unwrap_or_default(),
        detail,
    )
}

pub(crate) fn spawn(events: &EventBridge) {
    let events = events.clone();
    events
        .tasks()
        .clone()
        .spawn(async move { run(events).await });
}

/// A schedule to follow: its key, whose it is, its expression.
type Wanted = (ScheduleKey, Owner, Schedule);

/// The enabled schedules of the deployed functions and the enabled
/// scheduled rules, with their keys.
async fn wanted(events: &EventBridge) -> Result<Vec<Wanted>, crate::ServiceError> {
    let mut out = Vec::new();
    for function in events.engine().functions() {
        for (i, source) in function.config.events.schedules.iter().enumerate() {
            if !source.enabled {
                continue;
            }
            let schedule = match Schedule::parse(&source.expression, source.timezone.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(function = %function.name, error = %e, "ignoring an invalid schedule");
                    continue;
                }
            };
            let position = i + 1;
            let key = ScheduleKey {
                key: schedule_key(
                    &function.name,
                    position,
                    schedule.expression(),
                    schedule.timezone(),
                ),
                function: function.name.clone(),
                expression: schedule.expression().to_string(),
            };
            let owner = Owner::Function {
                function: function.name.clone(),
                position,
                input: source.input.clone(),
            };
            out.push((key, owner, schedule));
        }
    }
    let rules = events
        .backend
        .schedule_rules()
        .await
        .map_err(crate::backend_error("listing scheduled rules"))?;
    for rule in rules {
        let Some(expression) = rule.schedule.as_deref() else {
            continue;
        };
        let schedule = match Schedule::parse(expression, None) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(rule = %rule.name, error = %e, "ignoring a rule's invalid schedule");
                continue;
            }
        };
        let key = ScheduleKey {
            key: rule_schedule_key(&rule.bus, &rule.name, schedule.expression()),
            function: rule_arn(&rule.bus, &rule.name),
            expression: schedule.expression().to_string(),
        };
        let owner = Owner::Rule {
            bus: rule.bus,
            name: rule.name,
        };
        out.push((key, owner, schedule));
    }
    Ok(out)
}

/// Syncs the store with the schedules to follow and returns the entries.
async fn load(events: &EventBridge) -> Result<Vec<Entry>, crate::ServiceError> {
    let wanted = wanted(events).await?;
    let keys: Vec<ScheduleKey> = wanted.iter().map(|w| w.0.clone()).collect();
    // Anchored on a whole second, so rate ticks (whole seconds apart) fall
    // on whole seconds, as EventBridge's second-precision `time` reads.
    let now = crate::now_ms().div_euclid(1000) * 1000;
    let states: Vec<ScheduleState> = events
        .backend
        .sync_schedules(&keys, now)
        .await
        .map_err(crate::backend_error("syncing schedules"))?;
    let entries: Vec<Entry> = wanted
        .into_iter()
        .zip(states)
        .map(|((key, owner, schedule), state)| Entry {
            key: key.key,
            owner,
            schedule,
            anchor_ms: state.anchor_ms,
            last_tick_ms: state.last_tick_ms,
        })
        .collect();
    tracing::debug!(schedules = entries.len(), "following schedules");
    Ok(entries)
}

async fn run(events: EventBridge) {
    let cancel = events.cancel().clone();
    let mut deploys = events.engine().subscribe_deploys();
    deploys.mark_unchanged();
    let mut entries: Option<Vec<Entry>> = None;
    loop {
        if cancel.is_cancelled() {
            break;
        }
        let list = match &mut entries {
            Some(list) => list,
            None => match load(&events).await {
                Ok(list) => entries.insert(list),
                Err(e) => {
                    tracing::warn!(error = %e, "could not load schedules; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(RETRY_AFTER) => continue,
                    }
                }
            },
        };
        let mut wait = events.config().scheduler_poll;
        if let Err(e) = fire_due(&events, list).await {
            tracing::warn!(error = %e, "could not fire schedule ticks; retrying");
            wait = RETRY_AFTER;
        }
        let now = crate::now_ms();
        if let Some(next) = list.iter().filter_map(Entry::next_tick).min() {
            let until = u64::try_from(next.saturating_sub(now)).unwrap_or(0);
            wait = wait.min(Duration::from_millis(until));
        }
        let deadline = tokio::time::Instant::now() + wait;
        tokio::select! {
            _ = cancel.cancelled() => break,
            changed = deploys.changed() => {
                if changed.is_err() {
                    break;
                }
                entries = None;
            }
            _ = events.state.rules_changed.notified() => entries = None,
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
    tracing::debug!("scheduler stopped");
}

/// Fires the ticks due now, in one transaction.
async fn fire_due(events: &EventBridge, entries: &mut [Entry]) -> Result<(), crate::ServiceError> {
    let now = crate::now_ms();
    let due = due(entries, now);
    if due.is_empty() {
        return Ok(());
    }
    let mut ticks = Vec::with_capacity(due.len());
    let mut fired_for = Vec::with_capacity(due.len());
    for d in &due {
        let entry = &entries[d.entry];
        let built = match &entry.owner {
            Owner::Function {
                function, input, ..
            } => function_tick(events, entry, function, input.as_deref(), d).await,
            Owner::Rule { bus, name } => rule_tick(events, entry, bus, name, d).await,
        };
        match built {
            Ok(tick) => {
                ticks.push(tick);
                fired_for.push(*d);
            }
            Err(e) => {
                // Skipped in memory only: after a restart it counts as missed.
                tracing::warn!(schedule = %entry.describe(), tick_ms = d.tick_ms, error = %e,
                    "could not build a scheduled invocation; skipping the tick");
                entries[d.entry].last_tick_ms = d.tick_ms;
            }
        }
    }
    if ticks.is_empty() {
        return Ok(());
    }
    let queued = ticks.iter().any(|t| !t.deliveries.is_empty());
    let fired = events
        .backend
        .fire_schedule_ticks(&ticks, now)
        .await
        .map_err(crate::backend_error("firing schedule ticks"))?;
    events.engine().wake_async();
    if queued {
        events.state.deliveries.notify_one();
    }
    let committed = crate::now_ms();
    for (d, fired) in fired_for.iter().zip(fired) {
        let entry = &mut entries[d.entry];
        entry.last_tick_ms = entry.last_tick_ms.max(d.tick_ms);
        if fired {
            events
                .metrics()
                .delivered("schedule", &entry.rule_name(), 1);
            tracing::debug!(schedule = %entry.describe(), tick_ms = d.tick_ms, missed = d.missed,
                lateness_ms = committed - d.tick_ms, "fired a schedule tick");
            if d.missed > 0 {
                tracing::info!(schedule = %entry.describe(), expression = %entry.schedule,
                    missed = d.missed, "fired the latest of missed schedule ticks once");
            }
        }
    }
    Ok(())
}

/// A manifest schedule's tick: one invocation of its function.
async fn function_tick(
    events: &EventBridge,
    entry: &Entry,
    function: &str,
    input: Option<&str>,
    d: &Due,
) -> Result<ScheduleTick, crate::ServiceError> {
    let id = uuid::Uuid::new_v4().to_string();
    let payload = match input {
        Some(input) => input.to_string(),
        None => serde_json::to_string(&envelope(
            &ResourceScope::DEFAULT,
            &id,
            &entry.rule_name(),
            d.tick_ms,
            d.missed,
        ))
        .map_err(|e| crate::ServiceError::internal("building a scheduled event", &e))?,
    };
    let mut headers = vec![
        ("ce-type".to_string(), "Scheduled Event".to_string()),
        ("ce-source".to_string(), "aws.events".to_string()),
        ("ce-id".to_string(), id.clone()),
    ];
    if d.missed > 0 {
        headers.push(("ce-missed-ticks".to_string(), d.missed.to_string()));
    }
    let event = events
        .engine()
        .async_event(
            function,
            Qualifier::Latest,
            Bytes::from(payload),
            headers,
            Some(id),
        )
        .await
        .map_err(|e| crate::ServiceError::engine("building a scheduled invocation", e))?;
    Ok(ScheduleTick {
        key: entry.key.clone(),
        tick_ms: d.tick_ms,
        events: vec![event],
        ..ScheduleTick::default()
    })
}

/// A rule's tick: the envelope, through each target's input, to every
/// target the rule has now. A function target that refuses (it does not
/// exist) is skipped, as PutEvents skips it.
async fn rule_tick(
    events: &EventBridge,
    entry: &Entry,
    bus: &str,
    name: &str,
    d: &Due,
) -> Result<ScheduleTick, crate::ServiceError> {
    let (b, n) = (bus.to_string(), name.to_string());
    let targets = events
        .backend
        .targets(&b, &n)
        .await
        .map_err(crate::backend_error("reading a rule's targets"))?;
    let id = uuid::Uuid::new_v4().to_string();
    let scope = ResourceScope::of_key(bus).0;
    let event = serde_json::to_value(envelope(&scope, &id, name, d.tick_ms, d.missed))
        .map_err(|e| crate::ServiceError::internal("building a scheduled event", &e))?;
    let arn = rule_arn(bus, name);
    let ingestion_time = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let context = RuleContext {
        rule_arn: &arn,
        rule_name: name,
        ingestion_time: &ingestion_time,
    };
    let origin = EventOrigin {
        kind: "Scheduled Event".into(),
        source: "aws.events".into(),
        id: Some(id.clone()),
    };
    let mut tick = ScheduleTick {
        key: entry.key.clone(),
        tick_ms: d.tick_ms,
        rule: Some((bus.to_string(), name.to_string())),
        ..ScheduleTick::default()
    };
    for target in route_targets(targets) {
        let payload = target.input.render(&event, &context);
        match &target.dest {
            Dest::Function(function) => {
                let mut headers = events.function_headers(&origin);
                if d.missed > 0 {
                    headers.push(("ce-missed-ticks".to_string(), d.missed.to_string()));
                }
                match events
                    .engine()
                    .async_event(
                        function,
                        Qualifier::Latest,
                        Bytes::from(payload),
                        headers,
                        None,
                    )
                    .await
                {
                    Ok(invocation) => tick.events.push(invocation),
                    Err(stratus_engine::EngineError::ShuttingDown) => {
                        return Err(crate::ServiceError::engine(
                            "building a scheduled invocation",
                            stratus_engine::EngineError::ShuttingDown,
                        ));
                    }
                    Err(error) => {
                        events.metrics().failed("schedule", name, 1);
                        tracing::warn!(rule = name, target = %target.id, %error,
                            "a scheduled rule's function target refused its event");
                    }
                }
            }
            _ => tick.deliveries.push(NewEventDelivery {
                target: target.arn.clone(),
                payload,
                kind: origin.kind.clone(),
                source: origin.source.clone(),
                event_id: origin.id.clone(),
                params: target.params_text.clone(),
                rule: arn.clone(),
                max_attempts: target.params.max_attempts,
                max_age_ms: target.params.max_age_ms,
            }),
        }
    }
    Ok(tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expr: &str, anchor: i64, last: i64) -> Entry {
        Entry {
            key: "k".into(),
            owner: Owner::Function {
                function: "f".into(),
                position: 1,
                input: None,
            },
            schedule: Schedule::parse(expr, None).expect("valid"),
            anchor_ms: anchor,
            last_tick_ms: last,
        }
    }

    #[test]
    fn rules_and_functions_have_distinct_keys_and_names() {
        assert_eq!(
            rule_schedule_key("default", "tick", "rate(1 minute)"),
            "rule:default/tick/rate(1 minute)"
        );
        let mut e = entry("rate(1 minute)", 0, 0);
        assert_eq!(e.rule_name(), "f-schedule-1");
        e.owner = Owner::Rule {
            bus: "default".into(),
            name: "tick".into(),
        };
        assert_eq!(e.rule_name(), "tick");
        assert_eq!(
            envelope(&ResourceScope::DEFAULT, "i", &e.rule_name(), 0, 0).resources,
            [rule_arn("default", "tick")]
        );
    }

    #[test]
    fn nothing_is_due_before_the_first_tick_after_the_anchor() {
        let e = [entry("rate(1 minute)", 10_000, 10_000)];
        assert_eq!(due(&e, 10_000), vec![]);
        assert_eq!(due(&e, 69_999), vec![]);
        assert_eq!(
            due(&e, 70_000),
            vec![Due {
                entry: 0,
                tick_ms: 70_000,
                missed: 0
            }]
        );
        // A little late is on time.
        assert_eq!(due(&e, 71_500)[0].missed, 0);
    }

    #[test]
    fn missed_ticks_fire_once_as_the_latest_marked_with_their_count() {
        // Last fired at 70 s; down until 320 s: ticks at 130, 190, 250, 310 s.
        let e = [entry("rate(1 minute)", 10_000, 70_000)];
        assert_eq!(
            due(&e, 320_000),
            vec![Due {
                entry: 0,
                tick_ms: 310_000,
                missed: 4
            }]
        );
        // One tick, fired well after its time, is missed too.
        let e = [entry("rate(1 minute)", 10_000, 70_000)];
        assert_eq!(due(&e, 135_000)[0].missed, 1);
    }

    #[test]
    fn each_entry_is_judged_on_its_own() {
        let e = [
            entry("rate(1 second)", 0, 0),
            entry("cron(0 * * * ? *)", 0, 0),
            entry("rate(1 day)", 0, 0),
        ];
        let d = due(&e, 3_600_000);
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].entry, d[0].tick_ms, d[0].missed),
            (0, 3_600_000, 3_600)
        );
        assert_eq!((d[1].entry, d[1].tick_ms, d[1].missed), (1, 3_600_000, 0));
    }

    #[test]
    fn the_envelope_has_eventbridge_shape() {
        let v = serde_json::to_value(envelope(
            &ResourceScope::DEFAULT,
            "id-1",
            "f-schedule-1",
            1_704_067_200_000,
            0,
        ))
        .expect("serialises");
        assert_eq!(
            v,
            serde_json::json!({
                "version": "0", "id": "id-1", "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "000000000000",
                "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
                "resources": ["arn:aws:events:us-east-1:000000000000:rule/f-schedule-1"],
                "detail": {}
            })
        );
        let v = serde_json::to_value(envelope(
            &ResourceScope::DEFAULT,
            "id-2",
            "f-schedule-2",
            1_704_067_200_250,
            3,
        ))
        .expect("serialises");
        assert_eq!(v["time"], "2024-01-01T00:00:00.250Z");
        assert_eq!(v["detail"], serde_json::json!({"missedTicks": 3}));
    }
}
