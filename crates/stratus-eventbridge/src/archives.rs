//! Archives and replays.
//!
//! An archive keeps the events PutEvents accepts on its bus that match its
//! pattern (every event without one), each for `RetentionDays` (0: for
//! ever); replayed events are not archived again. A loop prunes expired
//! events.
//!
//! A replay re-delivers the archived events whose `time` falls in
//! `[EventStartTime, EventEndTime)` to the rules of the archive's bus (only
//! those of `FilterArns`, when given), in arrival order, each marked with
//! `"replay-name"` as EventBridge marks them. It runs as a background task
//! joined at shutdown: `STARTING`, `RUNNING`, then `COMPLETED`; CancelReplay
//! moves it to `CANCELLING` and the task to `CANCELLED`. Its progress is
//! stored after each event, so a replay cut by a restart resumes where it
//! was (an event being delivered at the crash may be delivered twice).

use crate::bus::{Routing, aws_codes, bus_name, not_found, parse_pattern};
use crate::connections::Violations;
use crate::{EventBridge, ServiceError, now_ms};
use std::time::Duration;
use stratus_core::arn::Arn;
use stratus_core::events::EventBridgeEvent;
use stratus_core::function::{ACCOUNT_ID, REGION};
use stratus_store::{ArchiveRecord, ReplayRecord};
use tokio_util::sync::CancellationToken;

/// Archived events replayed per store read.
const REPLAY_PAGE: usize = 100;
/// How often expired archived events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The replay states a replay still runs in.
const ACTIVE: &[&str] = &["STARTING", "RUNNING"];

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("ValidationException", message)
}

/// An archive's ARN.
pub fn archive_arn(name: &str) -> String {
    Arn::archive(&stratus_core::scope::ResourceScope::DEFAULT, name).to_string()
}

/// A replay's ARN.
pub fn replay_arn(name: &str) -> String {
    format!("arn:aws:events:{REGION}:{ACCOUNT_ID}:replay/{name}")
}

/// An archive to create.
pub struct NewArchive {
    /// `ArchiveName`.
    pub name: String,
    /// `EventSourceArn`: the bus's ARN.
    pub source_arn: String,
    /// `Description`.
    pub description: Option<String>,
    /// `EventPattern`.
    pub pattern: Option<String>,
    /// `RetentionDays`.
    pub retention_days: u32,
}

/// A replay to start.
pub struct NewReplay {
    /// `ReplayName`.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// `EventSourceArn`: the archive's ARN.
    pub source_arn: String,
    /// `EventStartTime` (ms).
    pub start_ms: i64,
    /// `EventEndTime` (ms).
    pub end_ms: i64,
    /// `Destination.Arn`: the bus's ARN.
    pub destination: String,
    /// `Destination.FilterArns`.
    pub filter_arns: Vec<String>,
}

fn archive_not_found(name: &str) -> ServiceError {
    not_found(format!("Archive {name} does not exist."))
}

fn replay_not_found(name: &str) -> ServiceError {
    not_found(format!("Replay {name} does not exist."))
}

/// The bus an `EventSourceArn` names, or AWS's pattern error.
fn source_bus(arn: &str) -> Result<String, ServiceError> {
    arn.parse::<Arn>()
        .ok()
        .and_then(|a| a.as_bus().ok().map(str::to_string))
        .ok_or_else(|| {
            invalid(format!(
                "1 validation error detected: Value '{arn}' at 'eventSourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:aws([a-z]|\\-)*:events:([a-z]|\\d|\\-)*:([0-9]{{12}})?:.+\\/.+$"
            ))
        })
}

impl EventBridge {
    /// CreateArchive.
    pub async fn create_archive(&self, new: NewArchive) -> Result<ArchiveRecord, ServiceError> {
        let mut v = Violations::default();
        v.name(&new.name, 48);
        v.check().map_err(|e| {
            ServiceError::invalid(e.code, e.message.replace("at 'name'", "at 'archiveName'"))
        })?;
        let bus = source_bus(&new.source_arn)?;
        if let Some(p) = &new.pattern {
            parse_pattern(p)?;
        }
        let record = ArchiveRecord {
            name: new.name,
            bus,
            description: new.description,
            pattern: new.pattern,
            retention_days: new.retention_days,
            state: "ENABLED".into(),
            created_ms: now_ms(),
            event_count: 0,
            size_bytes: 0,
        };
        let stored = record.clone();
        self.blocking("creating an archive", move |store| {
            store.create_event_archive(&stored)
        })
        .await
        .map_err(aws_codes)?;
        Ok(record)
    }

    /// DescribeArchive.
    pub async fn describe_archive(&self, name: &str) -> Result<ArchiveRecord, ServiceError> {
        let lookup = name.to_string();
        self.blocking("reading an archive", move |store| {
            store.event_archive(&lookup)
        })
        .await?
        .ok_or_else(|| archive_not_found(name))
    }

    /// ListArchives.
    pub async fn list_archives(
        &self,
        prefix: &str,
        source_arn: Option<&str>,
        state: Option<&str>,
    ) -> Result<Vec<ArchiveRecord>, ServiceError> {
        let bus = match source_arn {
            Some(arn) => {
                let bus = source_bus(arn)?;
                self.describe_event_bus(Some(&bus)).await?;
                Some(bus)
            }
            None => None,
        };
        let prefix = prefix.to_string();
        let mut list = self
            .blocking("listing archives", move |store| {
                store.event_archives(&prefix, bus.as_deref())
            })
            .await?;
        if let Some(state) = state {
            list.retain(|a| a.state == state);
        }
        Ok(list)
    }

    /// UpdateArchive.
    pub async fn update_archive(
        &self,
        name: &str,
        description: Option<String>,
        pattern: Option<String>,
        retention_days: Option<u32>,
    ) -> Result<ArchiveRecord, ServiceError> {
        if description.is_none() && pattern.is_none() && retention_days.is_none() {
            return Err(invalid(
                "At least one of EventPattern, RetentionDays or Description must be provided.",
            ));
        }
        if let Some(p) = &pattern {
            parse_pattern(p)?;
        }
        let lookup = name.to_string();
        let changed = self
            .blocking("updating an archive", move |store| {
                store.update_event_archive(
                    &lookup,
                    description.as_deref(),
                    pattern.as_deref(),
                    retention_days,
                )
            })
            .await?;
        if !changed {
            return Err(archive_not_found(name));
        }
        self.describe_archive(name).await
    }

    /// DeleteArchive.
    pub async fn delete_archive(&self, name: &str) -> Result<(), ServiceError> {
        let lookup = name.to_string();
        let deleted = self
            .blocking("deleting an archive", move |store| {
                store.delete_event_archive(&lookup)
            })
            .await?;
        if deleted {
            Ok(())
        } else {
            Err(archive_not_found(name))
        }
    }

    /// StartReplay: checks it as AWS does, records it `STARTING` and starts
    /// its task.
    pub async fn start_replay(&self, new: NewReplay) -> Result<ReplayRecord, ServiceError> {
        let mut v = Violations::default();
        v.name(&new.name, 64);
        v.check().map_err(|e| {
            ServiceError::invalid(e.code, e.message.replace("at 'name'", "at 'replayName'"))
        })?;
        let lookup = new.name.clone();
        if self
            .blocking("reading a replay", move |store| store.event_replay(&lookup))
            .await?
            .is_some()
        {
            return Err(ServiceError::new(
                crate::ErrorKind::Conflict,
                "ResourceAlreadyExistsException",
                format!("Replay {} already exists.", new.name),
            ));
        }
        if new.end_ms <= new.start_ms {
            return Err(invalid(
                "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.",
            ));
        }
        let Some(archive_name) = new
            .source_arn
            .parse::<Arn>()
            .ok()
            .and_then(|a| a.as_archive().ok().map(str::to_string))
        else {
            return Err(invalid(format!(
                "Parameter EventSourceArn is not valid. Reason: {} is not an archive ARN.",
                new.source_arn
            )));
        };
        let lookup = archive_name.clone();
        let Some(archive) = self
            .blocking("reading an archive", move |store| {
                store.event_archive(&lookup)
            })
            .await?
        else {
            return Err(invalid(format!(
                "Parameter EventSourceArn is not valid. Reason: Archive {archive_name} does not exist."
            )));
        };
        let bus = bus_name(Some(&new.destination))?;
        self.describe_event_bus(Some(&bus)).await?;
        if bus != archive.bus {
            return Err(invalid(
                "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
            ));
        }
        for arn in &new.filter_arns {
            let ok = arn
                .parse::<Arn>()
                .ok()
                .and_then(|a| a.as_rule().ok().map(|(b, _)| b == bus))
                .unwrap_or(false);
            if !ok {
                return Err(invalid(format!(
                    "Parameter Destination.FilterArns is not valid. Reason: {arn} is not a rule of event bus {bus}."
                )));
            }
        }
        let record = ReplayRecord {
            name: new.name,
            archive: archive.name,
            description: new.description,
            bus,
            filter_arns: new.filter_arns,
            start_ms: new.start_ms,
            end_ms: new.end_ms,
            state: "STARTING".into(),
            state_reason: None,
            replay_start_ms: now_ms(),
            replay_end_ms: None,
            last_replayed_ms: None,
            cursor: 0,
        };
        let stored = record.clone();
        self.blocking("creating a replay", move |store| {
            store.create_event_replay(&stored)
        })
        .await
        .map_err(aws_codes)?;
        self.spawn_replay(record.name.clone());
        Ok(record)
    }

    /// DescribeReplay.
    pub async fn describe_replay(&self, name: &str) -> Result<ReplayRecord, ServiceError> {
        let lookup = name.to_string();
        self.blocking("reading a replay", move |store| store.event_replay(&lookup))
            .await?
            .ok_or_else(|| replay_not_found(name))
    }

    /// ListReplays.
    pub async fn list_replays(
        &self,
        prefix: &str,
        state: Option<&str>,
        source_arn: Option<&str>,
    ) -> Result<Vec<ReplayRecord>, ServiceError> {
        let prefix = prefix.to_string();
        let mut list = self
            .blocking("listing replays", move |store| store.event_replays(&prefix))
            .await?;
        if let Some(state) = state {
            list.retain(|r| r.state == state);
        }
        if let Some(arn) = source_arn {
            list.retain(|r| archive_arn(&r.archive) == arn);
        }
        Ok(list)
    }

    /// CancelReplay: a replay still starting or running moves to
    /// `CANCELLING` and its task stops.
    pub async fn cancel_replay(&self, name: &str) -> Result<ReplayRecord, ServiceError> {
        let lookup = name.to_string();
        let (replay, moved) = self
            .blocking("cancelling a replay", move |store| {
                store.set_event_replay_state(&lookup, ACTIVE, "CANCELLING", None, None)
            })
            .await?
            .ok_or_else(|| replay_not_found(name))?;
        if !moved {
            return Err(ServiceError::invalid(
                "IllegalStatusException",
                format!("Replay {name} is not in a valid state for this operation."),
            ));
        }
        let token = self
            .state
            .replays
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        match token {
            Some(token) => token.cancel(),
            // No task runs it (it was cut by a restart and not resumed yet):
            // it ends here.
            None => self.end_replay(name).await,
        }
        Ok(replay)
    }

    /// Starts a replay's task, tracked by the kit.
    fn spawn_replay(&self, name: String) {
        let token = self.cancel().child_token();
        self.state
            .replays
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone(), token.clone());
        let events = self.clone();
        self.tasks().spawn(async move {
            events.run_replay(&name, &token).await;
            events
                .state
                .replays
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
        });
    }

    /// Resumes the replays a restart cut, and ends those being cancelled.
    pub(crate) async fn resume_replays(&self) {
        let list = match self
            .blocking("listing replays", |store| store.event_replays(""))
            .await
        {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!(%error, "could not resume replays");
                return;
            }
        };
        for replay in list {
            match replay.state.as_str() {
                "STARTING" | "RUNNING" => {
                    tracing::info!(replay = %replay.name, cursor = replay.cursor, "resuming a replay");
                    self.spawn_replay(replay.name);
                }
                "CANCELLING" => self.end_replay(&replay.name).await,
                _ => {}
            }
        }
    }

    /// Moves a cancelled replay to `CANCELLED`.
    async fn end_replay(&self, name: &str) {
        let lookup = name.to_string();
        if let Err(error) = self
            .blocking("ending a replay", move |store| {
                store.set_event_replay_state(
                    &lookup,
                    &["CANCELLING"],
                    "CANCELLED",
                    None,
                    Some(now_ms()),
                )
            })
            .await
        {
            tracing::warn!(replay = name, %error, "could not end a cancelled replay");
        }
    }

    /// Runs a replay to its end, its cancellation or shutdown (which
    /// leaves it to resume).
    async fn run_replay(&self, name: &str, token: &CancellationToken) {
        let lookup = name.to_string();
        let replay = match self
            .blocking("starting a replay", move |store| {
                store.set_event_replay_state(&lookup, ACTIVE, "RUNNING", None, None)
            })
            .await
        {
            Ok(Some((replay, true))) => replay,
            // Cancelled before it started.
            Ok(Some((replay, false))) if replay.state == "CANCELLING" => {
                self.end_replay(name).await;
                return;
            }
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(replay = name, %error, "could not start a replay");
                return;
            }
        };
        let outcome = self.replay_events(&replay, token).await;
        if self.cancel().is_cancelled() {
            // Shutdown: the replay resumes at the next start.
            return;
        }
        let lookup = name.to_string();
        let result = if token.is_cancelled() {
            self.blocking("ending a replay", move |store| {
                store.set_event_replay_state(
                    &lookup,
                    &["CANCELLING"],
                    "CANCELLED",
                    None,
                    Some(now_ms()),
                )
            })
            .await
        } else {
            let (state, reason) = match &outcome {
                Ok(n) => {
                    tracing::info!(replay = name, events = n, "replay completed");
                    ("COMPLETED", None)
                }
                Err(error) => {
                    tracing::warn!(replay = name, %error, "replay failed");
                    ("FAILED", Some(error.message.clone()))
                }
            };
            self.blocking("ending a replay", move |store| {
                store.set_event_replay_state(
                    &lookup,
                    &["RUNNING"],
                    state,
                    reason.as_deref(),
                    Some(now_ms()),
                )
            })
            .await
        };
        if let Err(error) = result {
            tracing::warn!(replay = name, %error, "could not record a replay's end");
        }
    }

    /// Delivers the replay's events from its cursor on; how many.
    async fn replay_events(
        &self,
        replay: &ReplayRecord,
        token: &CancellationToken,
    ) -> Result<u64, ServiceError> {
        let mut cursor = replay.cursor;
        let mut count = 0u64;
        loop {
            let (archive, from, to) = (replay.archive.clone(), replay.start_ms, replay.end_ms);
            let page = self
                .blocking("reading archived events", move |store| {
                    store.archived_events(&archive, from, to, cursor, REPLAY_PAGE)
                })
                .await?;
            if page.is_empty() {
                return Ok(count);
            }
            for archived in page {
                if token.is_cancelled() {
                    return Ok(count);
                }
                let replayed = serde_json::from_str::<EventBridgeEvent>(&archived.event)
                    .ok()
                    .and_then(|mut event| {
                        event.replay_name = Some(replay.name.clone());
                        serde_json::to_value(&event).ok()
                    });
                match replayed {
                    Some(event) => {
                        self.archive_and_route(
                            &replay.bus,
                            &event,
                            &Routing {
                                visited: &[],
                                only: &replay.filter_arns,
                            },
                            false,
                        )
                        .await?;
                        count += 1;
                    }
                    None => {
                        tracing::warn!(replay = %replay.name, seq = archived.seq, "skipping an archived event that is not an EventBridge event");
                    }
                }
                cursor = archived.seq;
                let (name, time) = (replay.name.clone(), archived.time_ms);
                self.blocking("recording a replay's progress", move |store| {
                    store.advance_event_replay(&name, cursor, time)
                })
                .await?;
            }
        }
    }

    /// Prunes expired archived events until shutdown.
    pub(crate) async fn prune_loop(self) {
        let cancel = self.cancel().clone();
        loop {
            match self
                .blocking("pruning archived events", |store| {
                    store.prune_archived_events(now_ms())
                })
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(events = n, "pruned expired archived events"),
                Err(error) => tracing::warn!(%error, "could not prune archived events"),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(PRUNE_EVERY) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::PutEventsEntry;
    use stratus_engine::{Engine, EngineConfig};
    use stratus_service_kit::{Kit, ServicesConfig};
    use stratus_store::Store;

    async fn start(dir: &std::path::Path) -> (Engine, EventBridge) {
        let store = Store::open(dir).expect("store");
        let engine = Engine::start(store, Vec::new(), EngineConfig::default())
            .await
            .expect("engine");
        let events = EventBridge::start(Kit::new(engine.clone(), ServicesConfig::default()));
        (engine, events)
    }

    async fn stop(engine: Engine, events: EventBridge) {
        events.shutdown().await;
        engine.shutdown(Duration::from_secs(1)).await;
    }

    /// Polls until the replay is in `state`.
    async fn reaches(events: &EventBridge, name: &str, state: &str) -> ReplayRecord {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let replay = events.describe_replay(name).await.expect("replay");
            if replay.state == state {
                return replay;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never reached {state}: {replay:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// An archive of every event of the default bus, holding `n` of them.
    async fn archive_of(events: &EventBridge, n: usize) -> String {
        events
            .create_archive(NewArchive {
                name: "a".into(),
                source_arn: stratus_core::function::bus_arn("default"),
                description: None,
                pattern: None,
                retention_days: 0,
            })
            .await
            .expect("archive");
        let entries: Vec<PutEventsEntry> = (0..n)
            .map(|i| PutEventsEntry {
                source: "shop".into(),
                detail_type: "Order".into(),
                detail: format!("{{\"n\": {i}}}"),
                ..PutEventsEntry::default()
            })
            .collect();
        for chunk in entries.chunks(10) {
            for result in events.put_events(chunk.to_vec()).await {
                result.expect("put");
            }
        }
        assert_eq!(
            events.describe_archive("a").await.expect("a").event_count,
            n as u64
        );
        archive_arn("a")
    }

    fn replay(name: &str, archive: &str) -> NewReplay {
        NewReplay {
            name: name.into(),
            description: None,
            source_arn: archive.into(),
            start_ms: 0,
            end_ms: now_ms() + 60_000,
            destination: stratus_core::function::bus_arn("default"),
            filter_arns: Vec::new(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_replay_ends_cancelled_and_a_finished_one_cannot_be() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (engine, events) = start(dir.path()).await;
        let archive = archive_of(&events, 200).await;

        let started = events
            .start_replay(replay("slow", &archive))
            .await
            .expect("start");
        assert_eq!(started.state, "STARTING");
        let cancelled = events.cancel_replay("slow").await.expect("cancel");
        assert_eq!(cancelled.state, "CANCELLING");
        let ended = reaches(&events, "slow", "CANCELLED").await;
        assert!(ended.replay_end_ms.is_some(), "{ended:?}");

        events
            .start_replay(replay("fast", &archive))
            .await
            .expect("start");
        let done = reaches(&events, "fast", "COMPLETED").await;
        assert!(
            done.cursor > 0 && done.last_replayed_ms.is_some(),
            "{done:?}"
        );
        let e = events.cancel_replay("fast").await.expect_err("completed");
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                "IllegalStatusException",
                "Replay fast is not in a valid state for this operation."
            )
        );
        // Replayed events are not archived again.
        assert_eq!(
            events.describe_archive("a").await.expect("a").event_count,
            200
        );
        stop(engine, events).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replay_cut_by_a_restart_resumes_where_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (engine, events) = start(dir.path()).await;
        archive_of(&events, 5).await;
        stop(engine, events).await;

        // As a crash leaves them: one replay midway, one being cancelled.
        let store = Store::open(dir.path()).expect("store");
        let archived = store
            .archived_events("a", 0, i64::MAX, 0, 10)
            .expect("archived");
        let record = |name: &str, state: &str| ReplayRecord {
            name: name.into(),
            archive: "a".into(),
            description: None,
            bus: "default".into(),
            filter_arns: Vec::new(),
            start_ms: 0,
            end_ms: i64::MAX,
            state: state.into(),
            state_reason: None,
            replay_start_ms: 1,
            replay_end_ms: None,
            last_replayed_ms: None,
            cursor: archived[1].seq,
        };
        store
            .create_event_replay(&record("midway", "RUNNING"))
            .expect("midway");
        store
            .create_event_replay(&record("cut", "CANCELLING"))
            .expect("cut");
        drop(store);

        let (engine, events) = start(dir.path()).await;
        let done = reaches(&events, "midway", "COMPLETED").await;
        assert_eq!(done.cursor, archived[4].seq);
        assert_eq!(done.last_replayed_ms, Some(archived[4].time_ms));
        reaches(&events, "cut", "CANCELLED").await;
        stop(engine, events).await;
    }
}
