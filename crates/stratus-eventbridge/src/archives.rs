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

use crate::backend::{ArchiveRecord, ReplayRecord};
use crate::bus::{Routing, aws_codes, not_found, parse_pattern};
use crate::connections::Violations;
use crate::{EventBridge, ServiceError, now_ms};
use std::time::Duration;
use stratus_core::arn::Arn;
use stratus_core::events::EventBridgeEvent;
use stratus_core::function::ACCOUNT_ID;
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
pub fn archive_arn(key: &str) -> String {
    let (scope, name) = stratus_core::scope::ResourceScope::of_key(key);
    Arn::archive(&scope, name).to_string()
}

/// A replay's ARN.
pub fn replay_arn(key: &str) -> String {
    let (scope, name) = stratus_core::scope::ResourceScope::of_key(key);
    format!(
        "arn:{}:events:{}:{ACCOUNT_ID}:replay/{name}",
        scope.partition(),
        scope.region
    )
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
    let name = crate::bus::bare(name);
    not_found(format!("Archive {name} does not exist."))
}

fn replay_not_found(name: &str) -> ServiceError {
    let name = crate::bus::bare(name);
    not_found(format!("Replay {name} does not exist."))
}

/// The bus an `EventSourceArn` names, or AWS's pattern error.
fn source_bus(arn: &str) -> Result<String, ServiceError> {
    arn.parse::<Arn>()
        .ok()
        .and_then(|a| a.as_bus().ok().map(|bus| a.regional_key(bus)))
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
            name: self.key_of(&new.name, "archiveName")?,
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
        self.backend
            .create_archive(&stored)
            .await
            .map_err(crate::backend_error("creating an archive"))
            .map_err(aws_codes)?;
        Ok(record)
    }

    /// DescribeArchive.
    pub async fn describe_archive(&self, name: &str) -> Result<ArchiveRecord, ServiceError> {
        let lookup = self.key_of(name, "archiveName")?;
        self.backend
            .archive(&lookup)
            .await
            .map_err(crate::backend_error("reading an archive"))?
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
                self.unscoped().describe_event_bus(Some(&bus)).await?;
                Some(bus)
            }
            None => None,
        };
        let prefix = self.key_prefix(prefix);
        let mut list = self
            .backend
            .archives(&prefix, bus.as_deref())
            .await
            .map_err(crate::backend_error("listing archives"))?;
        list.retain(|a| self.in_scope(&a.name));
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
        let lookup = self.key_of(name, "archiveName")?;
        let changed = self
            .backend
            .update_archive(
                &lookup,
                description.as_deref(),
                pattern.as_deref(),
                retention_days,
            )
            .await
            .map_err(crate::backend_error("updating an archive"))?;
        if !changed {
            return Err(archive_not_found(name));
        }
        self.describe_archive(name).await
    }

    /// DeleteArchive.
    pub async fn delete_archive(&self, name: &str) -> Result<(), ServiceError> {
        let lookup = self.key_of(name, "archiveName")?;
        let deleted = self
            .backend
            .delete_archive(&lookup)
            .await
            .map_err(crate::backend_error("deleting an archive"))?;
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
        let replay_key = self.key_of(&new.name, "replayName")?;
        if self
            .backend
            .replay(&replay_key)
            .await
            .map_err(crate::backend_error("reading a replay"))?
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
            .and_then(|a| a.as_archive().ok().map(|name| a.regional_key(name)))
        else {
            return Err(invalid(format!(
                "Parameter EventSourceArn is not valid. Reason: {} is not an archive ARN.",
                new.source_arn
            )));
        };
        let lookup = archive_name.clone();
        let Some(archive) = self
            .backend
            .archive(&lookup)
            .await
            .map_err(crate::backend_error("reading an archive"))?
        else {
            return Err(invalid(format!(
                "Parameter EventSourceArn is not valid. Reason: Archive {} does not exist.",
                crate::bus::bare(&archive_name)
            )));
        };
        let bus = self.bus_key(Some(&new.destination))?;
        self.unscoped().describe_event_bus(Some(&bus)).await?;
        if bus != archive.bus {
            return Err(invalid(
                "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
            ));
        }
        for arn in &new.filter_arns {
            let ok = arn
                .parse::<Arn>()
                .ok()
                .and_then(|a| a.as_rule().ok().map(|(b, _)| a.regional_key(b) == bus))
                .unwrap_or(false);
            if !ok {
                return Err(invalid(format!(
                    "Parameter Destination.FilterArns is not valid. Reason: {arn} is not a rule of event bus {}.",
                    crate::bus::bare(&bus)
                )));
            }
        }
        let record = ReplayRecord {
            name: replay_key,
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
        self.backend
            .create_replay(&stored)
            .await
            .map_err(crate::backend_error("creating a replay"))
            .map_err(aws_codes)?;
        self.spawn_replay(record.name.clone());
        Ok(record)
    }

    /// DescribeReplay.
    pub async fn describe_replay(&self, name: &str) -> Result<ReplayRecord, ServiceError> {
        let lookup = self.key_of(name, "replayName")?;
        self.backend
            .replay(&lookup)
            .await
            .map_err(crate::backend_error("reading a replay"))?
            .ok_or_else(|| replay_not_found(name))
    }

    /// ListReplays.
    pub async fn list_replays(
        &self,
        prefix: &str,
        state: Option<&str>,
        source_arn: Option<&str>,
    ) -> Result<Vec<ReplayRecord>, ServiceError> {
        let prefix = self.key_prefix(prefix);
        let mut list = self
            .backend
            .replays(&prefix)
            .await
            .map_err(crate::backend_error("listing replays"))?;
        list.retain(|r| self.in_scope(&r.name));
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
        let lookup = self.key_of(name, "replayName")?;
        let (replay, moved) = self
            .backend
            .set_replay_state(&lookup, ACTIVE, "CANCELLING", None, None)
            .await
            .map_err(crate::backend_error("cancelling a replay"))?
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
            .backend
            .replays("")
            .await
            .map_err(crate::backend_error("listing replays"))
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
            .backend
            .set_replay_state(&lookup, &["CANCELLING"], "CANCELLED", None, Some(now_ms()))
            .await
            .map_err(crate::backend_error("ending a replay"))
        {
            tracing::warn!(replay = name, %error, "could not end a cancelled replay");
        }
    }

    /// Runs a replay to its end, its cancellation or shutdown (which
    /// leaves it to resume).
    async fn run_replay(&self, name: &str, token: &CancellationToken) {
        let lookup = name.to_string();
        let replay = match self
            .backend
            .set_replay_state(&lookup, ACTIVE, "RUNNING", None, None)
            .await
            .map_err(crate::backend_error("starting a replay"))
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
            self.backend
                .set_replay_state(&lookup, &["CANCELLING"], "CANCELLED", None, Some(now_ms()))
                .await
                .map_err(crate::backend_error("ending a replay"))
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
            self.backend
                .set_replay_state(
                    &lookup,
                    &["RUNNING"],
                    state,
                    reason.as_deref(),
                    Some(now_ms()),
                )
                .await
                .map_err(crate::backend_error("ending a replay"))
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
                .backend
                .archived_events(&archive, from, to, cursor, REPLAY_PAGE)
                .await
                .map_err(crate::backend_error("reading archived events"))?;
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
                self.backend
                    .advance_replay(&name, cursor, time)
                    .await
                    .map_err(crate::backend_error("recording a replay's progress"))?;
            }
        }
    }

    /// Prunes expired archived events until shutdown.
    pub(crate) async fn prune_loop(self) {
        let cancel = self.cancel().clone();
        loop {
            match self
                .backend
                .prune_archived_events(now_ms())
                .await
                .map_err(crate::backend_error("pruning archived events"))
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
