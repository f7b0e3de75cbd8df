//! The event bus (EventBridge): buses, rules with event patterns, targets
//! with input transformers, PutEvents, permissions and tags.
//!
//! [`EventBridge::put_events`] and [`PutEventsEntry`] are used by destinations;
//! keep their shape.
//!
//! PutEvents validates each entry, wraps it in EventBridge's envelope
//! (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`,
//! `resources`, `detail`), stores it in the bus's archives whose pattern it
//! matches, and matches it against every enabled rule of its bus: the rules
//! made through the API and the `eventBridge` events of the current
//! functions' manifests (whose target is their function). Each matched
//! target gets its input (the event, `Input`, `InputPath` or the
//! `InputTransformer`'s output) before PutEvents answers, through its own
//! durable queue: a function an asynchronous invocation (with `ce-type`,
//! `ce-source`, `ce-id` headers), a queue a message (a FIFO queue in the
//! target's `SqsParameters.MessageGroupId`, deduplicated by the event's
//! id), a topic a publication, another bus the same event (loops are cut:
//! an event never enters a bus it has already passed through), an API
//! destination a row of the outbox (`targets.rs`).
//!
//! As on AWS, an accepted entry is a success even if a target refuses it
//! (the target is gone, say): that is logged and the other targets still
//! get it. A server failure while delivering fails the entry, so the
//! client retries.
//!
//! Rules with a `ScheduleExpression` fire from the scheduler
//! (`scheduler.rs`), like manifest schedules.

use crate::backend::{
    ArchiveRecord, BusRecord, NewEventDelivery, NewRule, RuleRecord, StoreError, TargetRecord,
};
use crate::targets::{Dest, TargetParams, bad_target_arn};
use crate::{ErrorKind, EventBridge, EventOrigin, ServiceError, now_ms};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use stratus_core::arn::Arn;
use stratus_core::events::{EventBridgeEvent, event_time};
use stratus_core::function::{bus_arn, rule_arn};
use stratus_core::names::{NameProblem, bus_name as check_bus_name, rule_name as check_rule_name};
use stratus_core::pattern::Pattern;
use stratus_core::scope::{Region, ResourceScope, regional_key, split_regional_key};
use stratus_core::transform::{RuleContext, TargetInput};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One entry of PutEvents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutEventsEntry {
    /// `Source`.
    pub source: String,
    /// `DetailType`.
    pub detail_type: String,
    /// `Detail`: a JSON object as text.
    pub detail: String,
    /// `EventBusName` (name or ARN); `default` when None.
    pub bus: Option<String>,
    /// `Resources`.
    pub resources: Vec<String>,
    /// `Time` (RFC 3339); now when None.
    pub time: Option<String>,
    /// `TraceHeader`.
    pub trace_header: Option<String>,
}

/// The most entries of one PutEvents.
pub const MAX_ENTRIES: usize = 10;
/// The largest total size of one PutEvents (AWS's way of counting).
pub const MAX_REQUEST_SIZE: usize = 256 * 1024;
/// The most targets of one rule.
pub const MAX_TARGETS_PER_RULE: usize = 5;

/// A rule to put (PutRule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutRule {
    /// The rule's name.
    pub name: String,
    /// The bus (name or ARN); `default` when None.
    pub bus: Option<String>,
    /// `EventPattern` (JSON text).
    pub pattern: Option<String>,
    /// `ScheduleExpression`.
    pub schedule: Option<String>,
    /// `State`: `ENABLED` (default) or `DISABLED`.
    pub state: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `Tags`.
    pub tags: Vec<(String, String)>,
}

/// A target to put (PutTargets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutTarget {
    /// `Id`.
    pub id: String,
    /// `Arn`.
    pub arn: String,
    /// `Input`.
    pub input: Option<String>,
    /// `InputPath`.
    pub input_path: Option<String>,
    /// `InputTransformer` as JSON text (`{"InputPathsMap":..,"InputTemplate":..}`).
    pub input_transformer: Option<String>,
    /// The other members kept (`SqsParameters`, `HttpParameters`,
    /// `RetryPolicy`, …) as a JSON object's text.
    pub params: Option<String>,
}

/// A target PutTargets or RemoveTargets could not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTarget {
    /// The target's id.
    pub id: String,
    /// The error code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// In-memory state of the bus: parsed patterns, the manifest rules of the
/// current deploy generation, and what wakes the background loops.
#[derive(Default)]
pub(crate) struct BusState {
    manifest: Mutex<Option<(u64, Arc<ManifestRoutes>)>>,
    patterns: Mutex<HashMap<String, Arc<Pattern>>>,
    /// Wakes the outbox loop.
    pub(crate) deliveries: Notify,
    /// Wakes the scheduler: a rule changed.
    pub(crate) rules_changed: Notify,
    /// The running replays, to cancel them.
    pub(crate) replays: Mutex<HashMap<String, CancellationToken>>,
    /// The regions whose `default` bus is known to exist.
    default_buses: Mutex<std::collections::HashSet<Region>>,
}

impl BusState {
    fn has_default_bus(&self, region: &Region) -> bool {
        self.default_buses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(region)
    }

    fn default_bus_made(&self, region: Region) {
        self.default_buses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(region);
    }
}

/// Bus name to the manifest rules on it.
type ManifestRoutes = HashMap<String, Vec<Route>>;

/// A rule ready to match, with its targets.
pub(crate) struct Route {
    pub(crate) name: String,
    pub(crate) arn: String,
    pattern: Arc<Pattern>,
    pub(crate) targets: Vec<RouteTarget>,
}

/// A target ready to deliver to.
pub(crate) struct RouteTarget {
    pub(crate) id: String,
    pub(crate) arn: String,
    pub(crate) dest: Dest,
    pub(crate) input: TargetInput,
    pub(crate) params: TargetParams,
    /// The stored parameters, for the outbox.
    pub(crate) params_text: Option<String>,
}

/// At most this many patterns stay parsed in memory.
const PATTERN_CACHE: usize = 1024;

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("ValidationException", message)
}

pub(crate) fn not_found(message: impl Into<String>) -> ServiceError {
    ServiceError::not_found("ResourceNotFoundException", message)
}

/// The store's not-found and conflict in EventBridge's codes.
pub(crate) fn aws_codes(e: ServiceError) -> ServiceError {
    match e.kind {
        ErrorKind::NotFound => not_found(e.message),
        ErrorKind::Conflict => {
            ServiceError::new(e.kind, "ResourceAlreadyExistsException", e.message)
        }
        _ => e,
    }
}

/// The bus name of a bus key ([`stratus_core::scope::regional_key`]),
/// as answers show it.
pub fn bare(key: &str) -> &str {
    split_regional_key(key).1
}

impl EventBridge {
    /// The key of the bus named by `name_or_arn` (`default` when None): a
    /// name in the request's region, or an event bus's ARN in its own. The
    /// service's own calls (no region) pass keys through.
    pub fn bus_key(&self, name_or_arn: Option<&str>) -> Result<String, ServiceError> {
        let text = name_or_arn.filter(|t| !t.is_empty());
        let Some(region) = &self.region else {
            return bus_name(text);
        };
        match text {
            Some(arn) if arn.starts_with("arn:") => {
                let parsed: Arn = arn.parse().map_err(|_| bad_bus_name(arn))?;
                let bus = parsed.as_bus().map_err(|_| bad_bus_name(arn))?;
                Ok(parsed.regional_key(bus))
            }
            Some(name) if name.contains(':') => Err(bad_bus_name(name)),
            Some(name) => Ok(regional_key(region, name)),
            None => Ok(regional_key(region, "default")),
        }
    }

    /// Makes sure the request's region has its `default` bus (the first
    /// request in a region other than the default one makes it).
    pub(crate) async fn ensure_default_bus(&self) -> Result<(), ServiceError> {
        let Some(region) = self.region.clone() else {
            return Ok(());
        };
        if region == Region::DEFAULT || self.state.has_default_bus(&region) {
            return Ok(());
        }
        let key = regional_key(&region, "default");
        let found = self
            .backend
            .bus(&key)
            .await
            .map_err(crate::backend_error("reading an event bus"))?;
        if found.is_none() {
            match self.backend.create_bus(&key, None, &[], now_ms()).await {
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(error) => return Err(crate::backend_error("creating a default bus")(error)),
            }
        }
        self.state.default_bus_made(region);
        Ok(())
    }
}

/// EventBridge's refusal of a bus name or ARN.
fn bad_bus_name(text: &str) -> ServiceError {
    invalid(format!(
        "1 validation error detected: Value '{text}' at 'eventBusName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:aws[\\w-]*:events:[a-z]+-[a-z]+-[\\w-]+:[0-9]{{12}}:event-bus\\/)?[/\\.\\-_A-Za-z0-9]+"
    ))
}

/// The bus named by `name_or_arn` (`default` when None): a name, or an
/// event bus's ARN.
pub fn bus_name(name_or_arn: Option<&str>) -> Result<String, ServiceError> {
    let Some(text) = name_or_arn.filter(|t| !t.is_empty()) else {
        return Ok("default".into());
    };
    if text.starts_with("arn:") {
        return text
            .parse::<Arn>()
            .ok()
            .and_then(|arn| arn.as_bus().ok().map(|bus| arn.regional_key(bus)))
            .ok_or_else(|| {
                invalid(format!(
                    "1 validation error detected: Value '{text}' at 'eventBusName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:aws[\\w-]*:events:[a-z]+-[a-z]+-[\\w-]+:[0-9]{{12}}:event-bus\\/)?[/\\.\\-_A-Za-z0-9]+"
                ))
            });
    }
    Ok(text.to_string())
}

/// A rule's name, checked (`field` names it in the message).
fn check_rule(name: &str, field: &str) -> Result<(), ServiceError> {
    check_rule_name(name).map_err(|e| invalid(e.at(field)))
}

/// A new custom bus's name, checked with AWS's texts: no `/` (only
/// partner buses have it), then CreateEventBus's pattern and length.
fn check_new_bus(name: &str) -> Result<(), ServiceError> {
    if name.contains('/') {
        return Err(invalid("Event bus name must not contain '/'."));
    }
    match check_bus_name(name) {
        Ok(()) => Ok(()),
        Err(e) if e.problem == NameProblem::BadCharacter => Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+"
        ))),
        Err(e) => Err(invalid(e.at("name"))),
    }
}

/// A target's id, checked: AWS's texts name its position.
fn check_target_id(index: usize, id: &str) -> Result<(), ServiceError> {
    let field = format!("targets.{index}.member.id");
    if id.len() > 64 {
        return Err(invalid(format!(
            "1 validation error detected: Value '{id}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to 64"
        )));
    }
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(invalid(format!(
            "1 validation error detected: Value '{id}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        )));
    }
    Ok(())
}

/// Parses an event pattern, or `InvalidEventPatternException` with the
/// pattern's precise message.
pub fn parse_pattern(text: &str) -> Result<Pattern, ServiceError> {
    Pattern::parse(text).map_err(|e| {
        ServiceError::invalid(
            "InvalidEventPatternException",
            format!("Event pattern is not valid. Reason: {e}"),
        )
    })
}

/// AWS's size of one entry: its strings' UTF-8 lengths, plus 14 for `Time`.
pub fn entry_size(entry: &PutEventsEntry) -> usize {
    entry.source.len()
        + entry.detail_type.len()
        + entry.detail.len()
        + entry.resources.iter().map(String::len).sum::<usize>()
        + if entry.time.is_some() { 14 } else { 0 }
}

/// An entry as AWS's service shows it in a validation message (its Java
/// model's `toString`).
fn entry_text(entry: &PutEventsEntry) -> String {
    let or_null = |v: Option<&str>| v.map_or_else(|| "null".to_string(), str::to_string);
    let time = entry.time.as_deref().map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .format("%a %b %d %H:%M:%S UTC %Y")
                    .to_string()
            })
            .unwrap_or_else(|_| t.to_string())
    });
    let resources =
        (!entry.resources.is_empty()).then(|| format!("[{}]", entry.resources.join(", ")));
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    format!(
        "PutEventsRequestEntry(time={}, source={}, resources={}, detailType={}, detail={}, eventBusName={}, traceHeader={}, kmsKeyIdentifier=null, internalMetadata=null)",
        or_null(time.as_deref()),
        or_null(nonempty(&entry.source).as_deref()),
        or_null(resources.as_deref()),
        or_null(nonempty(&entry.detail_type).as_deref()),
        or_null(nonempty(&entry.detail).as_deref()),
        or_null(entry.bus.as_deref()),
        or_null(entry.trace_header.as_deref()),
    )
}

/// Checks what applies to a PutEvents request as a whole: 1 to 10 entries
/// of at most 256 KiB in total, with AWS's texts.
pub fn check_put_events(entries: &[PutEventsEntry]) -> Result<(), ServiceError> {
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        let listed: Vec<String> = entries.iter().map(entry_text).collect();
        let constraint = if entries.is_empty() {
            "Member must have length greater than or equal to 1".to_string()
        } else {
            format!("Member must have length less than or equal to {MAX_ENTRIES}")
        };
        return Err(invalid(format!(
            "1 validation error detected: Value '[{}]' at 'entries' failed to satisfy constraint: {constraint}",
            listed.join(", ")
        )));
    }
    let size: usize = entries.iter().map(entry_size).sum();
    if size > MAX_REQUEST_SIZE {
        return Err(ServiceError::new(
            ErrorKind::TooLarge,
            "ValidationException",
            "Total size of the entries in the request is over the limit.",
        ));
    }
    Ok(())
}

/// The envelope of an accepted entry, or why it was refused.
fn envelope(
    entry: &PutEventsEntry,
    scope: &ResourceScope,
) -> Result<(String, Value), ServiceError> {
    let entry_error = |code: &'static str, message: String| ServiceError::invalid(code, message);
    if entry.source.trim().is_empty() {
        return Err(entry_error(
            "InvalidArgument",
            "Parameter Source is not valid. Reason: Source is a required argument.".into(),
        ));
    }
    if entry.detail_type.trim().is_empty() {
        return Err(entry_error(
            "InvalidArgument",
            "Parameter DetailType is not valid. Reason: DetailType is a required argument.".into(),
        ));
    }
    if entry.detail.trim().is_empty() {
        return Err(entry_error(
            "InvalidArgument",
            "Parameter Detail is not valid. Reason: Detail is a required argument.".into(),
        ));
    }
    let detail: Value = match serde_json::from_str(&entry.detail) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => {
            return Err(entry_error(
                "MalformedDetail",
                "Detail is malformed.".into(),
            ));
        }
    };
    if entry_size(entry) > MAX_REQUEST_SIZE {
        return Err(entry_error(
            "InvalidArgument",
            "Total size of the entries in the request is over the limit.".into(),
        ));
    }
    let time = match &entry.time {
        None => chrono::Utc::now(),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| {
                entry_error(
                    "InvalidArgument",
                    format!(
                        "Parameter Time is not valid. Reason: {text:?} is not an RFC 3339 time."
                    ),
                )
            })?,
    };
    let time = event_time(time.timestamp_millis()).ok_or_else(|| {
        entry_error(
            "InvalidArgument",
            "Parameter Time is not valid. Reason: the time is out of range.".into(),
        )
    })?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut event = EventBridgeEvent::new(
        scope,
        id.as_str(),
        entry.source.as_str(),
        entry.detail_type.as_str(),
        time,
        detail,
    );
    event.resources = entry.resources.clone();
    let event = serde_json::to_value(&event)
        .map_err(|e| ServiceError::internal("building an event's envelope", &e))?;
    Ok((id, event))
}

/// An event's `time` in ms (now if it has none that parses).
pub(crate) fn event_time_ms(event: &Value) -> i64 {
    event["time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(now_ms, |t| t.timestamp_millis())
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a route sends an event to, beyond its bus.
pub(crate) struct Routing<'a> {
    /// The buses the event passed through.
    pub(crate) visited: &'a [String],
    /// Only the rules with these ARNs (a replay's `FilterArns`), when some.
    pub(crate) only: &'a [String],
}

impl EventBridge {
    /// Puts events on their buses, matching every rule; one result per
    /// entry (its event id, or why it was refused), like PutEvents.
    pub async fn put_events(
        &self,
        entries: Vec<PutEventsEntry>,
    ) -> Vec<Result<String, ServiceError>> {
        self.put_events_via(entries, Vec::new()).await
    }

    /// PutEvents for events that already passed through `visited` buses.
    fn put_events_via(
        &self,
        entries: Vec<PutEventsEntry>,
        visited: Vec<String>,
    ) -> Boxed<'_, Vec<Result<String, ServiceError>>> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(entries.len());
            for entry in entries {
                results.push(self.put_event(entry, &visited).await);
            }
            results
        })
    }

    async fn put_event(
        &self,
        entry: PutEventsEntry,
        visited: &[String],
    ) -> Result<String, ServiceError> {
        let bus = self.bus_key(entry.bus.as_deref())?;
        let (id, event) = envelope(&entry, &ResourceScope::of_key(&bus).0)?;
        self.archive_and_route(&bus, &event, &Routing { visited, only: &[] }, true)
            .await?;
        Ok(id)
    }

    /// Stores `event` in the archives of `bus` that match it (unless it is
    /// replayed) and delivers it to the targets of every matching rule.
    pub(crate) async fn archive_and_route(
        &self,
        bus: &str,
        event: &Value,
        routing: &Routing<'_>,
        archive: bool,
    ) -> Result<(), ServiceError> {
        let lookup = bus.to_string();
        let (stored, archives) = self
            .backend
            .routes(&lookup)
            .await
            .map_err(crate::backend_error("reading an event bus's rules"))?
            .ok_or_else(|| not_found(format!("Event bus {} does not exist.", bare(bus))))?;
        if archive && event.get("replay-name").is_none() {
            self.archive(&archives, event).await?;
        }
        let mut routes: Vec<Route> = Vec::new();
        for (rule, targets) in stored {
            match self.route(&rule, targets) {
                Ok(route) => routes.push(route),
                Err(error) => {
                    tracing::warn!(bus, rule = %rule.name, %error, "skipping a rule that no longer parses")
                }
            }
        }
        let manifest = self.manifest_routes();
        let manifest_routes = manifest.get(bus).map(Vec::as_slice).unwrap_or(&[]);
        let ingestion_time = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let origin = EventOrigin {
            kind: event["detail-type"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            source: event["source"].as_str().unwrap_or_default().to_string(),
            id: event["id"].as_str().map(str::to_string),
        };
        let mut delivered = 0usize;
        let mut outbox = Vec::new();
        for route in routes.iter().chain(manifest_routes) {
            if !routing.only.is_empty() && !routing.only.contains(&route.arn) {
                continue;
            }
            if !route.pattern.matches(event) {
                continue;
            }
            let context = RuleContext {
                rule_arn: &route.arn,
                rule_name: &route.name,
                ingestion_time: &ingestion_time,
            };
            for target in &route.targets {
                let outcome = match &target.dest {
                    Dest::Bus(next) => {
                        if next == bus || routing.visited.iter().any(|v| v == next) {
                            tracing::warn!(bus, rule = %route.name, target = %target.id, next, "not forwarding an event to a bus it already passed through");
                            continue;
                        }
                        let mut path = routing.visited.to_vec();
                        path.push(bus.to_string());
                        // `next` is a key: the service's own call.
                        self.unscoped()
                            .put_events_via(vec![forward_entry(event, next)], path)
                            .await
                            .pop()
                            .unwrap_or_else(|| Ok(String::new()))
                    }
                    Dest::Function(function) => {
                        let payload = target.input.render(event, &context);
                        self.invoke_target(function, payload, &origin).await
                    }
                    Dest::Queue(name) => {
                        let payload = target.input.render(event, &context);
                        self.send_to_queue(
                            name,
                            payload,
                            &origin,
                            target.params.group_id.as_deref(),
                        )
                        .await
                    }
                    Dest::Topic(name) => {
                        let payload = target.input.render(event, &context);
                        self.deliverer()?
                            .deliver(
                                &stratus_core::TargetRef::Topic(name.clone()),
                                payload,
                                &origin,
                            )
                            .await
                    }
                    Dest::ApiDestination(_) => {
                        outbox.push(NewEventDelivery {
                            target: target.arn.clone(),
                            payload: target.input.render(event, &context),
                            kind: origin.kind.clone(),
                            source: origin.source.clone(),
                            event_id: origin.id.clone(),
                            params: target.params_text.clone(),
                            rule: route.arn.clone(),
                            max_attempts: target.params.max_attempts,
                            max_age_ms: target.params.max_age_ms,
                        });
                        continue;
                    }
                };
                match outcome {
                    Ok(_) => {
                        delivered += 1;
                        self.metrics().delivered("eventbridge", &route.name, 1);
                    }
                    Err(error) if error.kind == ErrorKind::Internal => return Err(error),
                    Err(error) => {
                        self.metrics().failed("eventbridge", &route.name, 1);
                        tracing::warn!(bus, rule = %route.name, target = %target.id, event_id = ?origin.id, %error, "a rule's target refused an event");
                    }
                }
            }
        }
        let queued = outbox.len();
        self.enqueue_deliveries(outbox).await?;
        tracing::debug!(bus, event_id = ?origin.id, delivered, queued, "put an event");
        Ok(())
    }

    /// Forwards a payload delivered to a bus: an event's envelope keeps its
    /// source, detail type, resources, time and detail; anything else
    /// becomes the detail.
    pub(crate) async fn forward_payload(
        &self,
        bus: &str,
        payload: String,
        origin: &EventOrigin,
    ) -> Result<String, ServiceError> {
        let entry = match serde_json::from_str::<Value>(&payload) {
            Ok(event) if event.get("detail-type").is_some() && event["detail"].is_object() => {
                forward_entry(&event, bus)
            }
            _ => PutEventsEntry {
                source: origin.source.clone(),
                detail_type: origin.kind.clone(),
                detail: payload,
                bus: Some(bus.to_string()),
                ..PutEventsEntry::default()
            },
        };
        self.put_events_via(vec![entry], Vec::new())
            .await
            .pop()
            .unwrap_or_else(|| Ok(String::new()))
    }

    /// An asynchronous invocation of a rule's function, with the event's
    /// CloudEvents headers and the `host` a wasm function's HTTP request
    /// needs.
    pub(crate) async fn invoke_target(
        &self,
        function: &str,
        payload: String,
        origin: &EventOrigin,
    ) -> Result<String, ServiceError> {
        self.engine()
            .invoke_async(
                function,
                stratus_engine::Qualifier::Latest,
                bytes::Bytes::from(payload),
                self.function_headers(origin),
            )
            .await
            .map_err(|e| ServiceError::engine("queuing an asynchronous invocation", e))
    }

    /// The headers of a rule's asynchronous invocation.
    pub(crate) fn function_headers(&self, origin: &EventOrigin) -> Vec<(String, String)> {
        let endpoint = &self.config().endpoint_url;
        let host = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, rest)| rest)
            .trim_end_matches('/')
            .to_string();
        let mut headers = origin.headers();
        headers.push(("host".to_string(), host));
        headers
    }

    pub(crate) fn pattern(&self, text: &str) -> Result<Arc<Pattern>, ServiceError> {
        let mut cache = self
            .state
            .patterns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(p) = cache.get(text) {
            return Ok(p.clone());
        }
        let parsed = Arc::new(parse_pattern(text)?);
        if cache.len() >= PATTERN_CACHE {
            cache.clear();
        }
        cache.insert(text.to_string(), parsed.clone());
        Ok(parsed)
    }

    /// A stored rule ready to match.
    pub(crate) fn route(
        &self,
        rule: &RuleRecord,
        targets: Vec<TargetRecord>,
    ) -> Result<Route, ServiceError> {
        let pattern = self.pattern(rule.pattern.as_deref().unwrap_or("{}"))?;
        let targets = targets
            .into_iter()
            .map(route_target)
            .collect::<Result<Vec<_>, ServiceError>>()?;
        Ok(Route {
            name: rule.name.clone(),
            arn: rule_arn(&rule.bus, &rule.name),
            pattern,
            targets,
        })
    }

    /// The manifest rules of the current deploy generation.
    fn manifest_routes(&self) -> Arc<ManifestRoutes> {
        let generation = *self.engine().subscribe_deploys().borrow();
        let mut cache = self
            .state
            .manifest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached, routes)) = cache.as_ref()
            && *cached == generation
        {
            return routes.clone();
        }
        let mut routes = ManifestRoutes::new();
        for function in self.engine().functions() {
            for (i, source) in function.config.events.event_bridge.iter().enumerate() {
                let name = format!("{}-eventbridge-{}", function.name, i + 1);
                let pattern = match Pattern::parse(&source.pattern) {
                    Ok(p) => Arc::new(p),
                    Err(error) => {
                        tracing::warn!(function = %function.name, rule = name, %error, "ignoring a manifest rule");
                        continue;
                    }
                };
                let input = match TargetInput::new(
                    source.input.as_deref(),
                    source.input_path.as_deref(),
                    source.input_transformer.as_deref(),
                ) {
                    Ok(input) => input,
                    Err(error) => {
                        tracing::warn!(function = %function.name, rule = name, %error, "ignoring a manifest rule");
                        continue;
                    }
                };
                routes.entry(source.bus.clone()).or_default().push(Route {
                    arn: rule_arn(&source.bus, &name),
                    name,
                    pattern,
                    targets: vec![RouteTarget {
                        id: function.name.clone(),
                        arn: stratus_core::function::function_arn(&function.name, None),
                        dest: Dest::Function(function.name.clone()),
                        input,
                        params: TargetParams::default(),
                        params_text: None,
                    }],
                });
            }
        }
        let routes = Arc::new(routes);
        *cache = Some((generation, routes.clone()));
        routes
    }

    /// Wakes the scheduler after a rule changed.
    fn rules_changed(&self) {
        self.state.rules_changed.notify_one();
    }

    /// CreateEventBus without tags.
    pub async fn create_event_bus(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<BusRecord, ServiceError> {
        self.create_tagged_event_bus(name, description, Vec::new())
            .await
    }

    /// CreateEventBus.
    pub async fn create_tagged_event_bus(
        &self,
        name: &str,
        description: Option<String>,
        tags: Vec<(String, String)>,
    ) -> Result<BusRecord, ServiceError> {
        check_new_bus(name)?;
        if name == "default" {
            return Err(ServiceError::new(
                ErrorKind::Conflict,
                "ResourceAlreadyExistsException",
                "Event bus default already exists.",
            ));
        }
        if name.starts_with("aws.") {
            return Err(invalid(
                "Event bus names starting with aws. are reserved for partner event sources.",
            ));
        }
        let key = self.bus_key(Some(name))?;
        self.backend
            .create_bus(&key, description.as_deref(), &tags, now_ms())
            .await
            .map_err(crate::backend_error("creating an event bus"))
            .map_err(aws_codes)
    }

    /// DeleteEventBus (deleting one that does not exist succeeds, as on AWS).
    pub async fn delete_event_bus(&self, name: &str) -> Result<(), ServiceError> {
        let name = self.bus_key(Some(name))?;
        if bare(&name) == "default" {
            return Err(invalid("Cannot delete event bus default."));
        }
        self.backend
            .delete_bus(&name)
            .await
            .map_err(crate::backend_error("deleting an event bus"))?;
        self.rules_changed();
        Ok(())
    }

    /// DescribeEventBus.
    pub async fn describe_event_bus(&self, name: Option<&str>) -> Result<BusRecord, ServiceError> {
        let name = self.bus_key(name)?;
        let lookup = name.clone();
        self.backend
            .bus(&lookup)
            .await
            .map_err(crate::backend_error("reading an event bus"))?
            .ok_or_else(|| not_found(format!("Event bus {} does not exist.", bare(&name))))
    }

    /// ListEventBuses: the buses of the request's region (their `name` a
    /// key) whose names start with `prefix`.
    pub async fn list_event_buses(&self, prefix: &str) -> Result<Vec<BusRecord>, ServiceError> {
        self.ensure_default_bus().await?;
        let region = self.region.clone().unwrap_or_default();
        let buses = self
            .backend
            .buses(&regional_key(&region, prefix))
            .await
            .map_err(crate::backend_error("listing event buses"))?;
        Ok(buses
            .into_iter()
            .filter(|bus| split_regional_key(&bus.name).0 == region)
            .collect())
    }

    /// PutPermission: adds (or replaces, by `StatementId`) a statement
    /// allowing `principal` (an account, or `*`) to put events on the bus,
    /// or replaces the whole policy with `policy`.
    pub async fn put_permission(
        &self,
        bus: Option<&str>,
        statement: Option<PermissionStatement>,
        policy: Option<String>,
    ) -> Result<(), ServiceError> {
        let bus = self.bus_key(bus)?;
        let arn = bus_arn(&bus);
        let new_policy = match (policy, statement) {
            (Some(text), _) => {
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(_)) => {}
                    _ => return Err(invalid("Parameter Policy is not valid.")),
                }
                Some(text)
            }
            (None, Some(s)) => {
                let statement = s.to_json(&arn);
                let sid = s.statement_id.clone();
                self.backend
                    .update_bus_policy(
                        &bus,
                        now_ms(),
                        Box::new(move |current| {
                            let mut policy = current
                                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                                .filter(Value::is_object)
                                .unwrap_or_else(
                                    || json!({"Version": "2012-10-17", "Statement": []}),
                                );
                            let list = policy["Statement"].as_array().cloned().unwrap_or_default();
                            let mut list: Vec<Value> = list
                                .into_iter()
                                .filter(|st| st["Sid"] != sid.as_str())
                                .collect();
                            list.push(statement);
                            policy["Statement"] = Value::Array(list);
                            Ok(Some(policy.to_string()))
                        }),
                    )
                    .await
                    .map_err(crate::backend_error("changing a bus's policy"))
                    .map_err(aws_codes)?;
                return Ok(());
            }
            (None, None) => {
                return Err(invalid(
                    "Parameter(s) Action, Principal and StatementId, or Policy must be specified.",
                ));
            }
        };
        self.backend
            .update_bus_policy(&bus, now_ms(), Box::new(move |_| Ok(new_policy)))
            .await
            .map_err(crate::backend_error("changing a bus's policy"))
            .map_err(aws_codes)
    }

    /// RemovePermission: one statement, or all of them.
    pub async fn remove_permission(
        &self,
        bus: Option<&str>,
        statement_id: Option<String>,
        all: bool,
    ) -> Result<(), ServiceError> {
        let bus = self.bus_key(bus)?;
        if !all && statement_id.is_none() {
            return Err(invalid("Parameter StatementId is required."));
        }
        const MISSING: &str = "Statement with the provided id does not exist.";
        self.backend
            .update_bus_policy(
                &bus,
                now_ms(),
                Box::new(move |current| {
                    if all {
                        return Ok(None);
                    }
                    let sid = statement_id.unwrap_or_default();
                    let mut policy = current
                        .and_then(|t| serde_json::from_str::<Value>(t).ok())
                        .ok_or_else(|| StoreError::NotFound(MISSING.into()))?;
                    let list = policy["Statement"].as_array().cloned().unwrap_or_default();
                    let before = list.len();
                    let kept: Vec<Value> = list
                        .into_iter()
                        .filter(|st| st["Sid"] != sid.as_str())
                        .collect();
                    if kept.len() == before {
                        return Err(StoreError::NotFound(MISSING.into()));
                    }
                    if kept.is_empty() {
                        return Ok(None);
                    }
                    policy["Statement"] = Value::Array(kept);
                    Ok(Some(policy.to_string()))
                }),
            )
            .await
            .map_err(crate::backend_error("changing a bus's policy"))
            .map_err(aws_codes)
    }

    /// PutRule: creates or updates a rule; returns its ARN.
    pub async fn put_rule(&self, rule: PutRule) -> Result<String, ServiceError> {
        check_rule(&rule.name, "name")?;
        let bus = self.bus_key(rule.bus.as_deref())?;
        let pattern = rule.pattern.filter(|p| !p.is_empty());
        let schedule = rule.schedule.filter(|s| !s.is_empty());
        if pattern.is_none() && schedule.is_none() {
            return Err(invalid(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ));
        }
        if let Some(text) = &pattern {
            parse_pattern(text)?;
        }
        if let Some(expression) = &schedule {
            if bare(&bus) != "default" {
                return Err(invalid(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
            stratus_core::schedule::Schedule::parse(expression, None)
                .map_err(|_| invalid("Parameter ScheduleExpression is not valid."))?;
        }
        let enabled = match rule.state.as_deref() {
            None | Some("ENABLED") => true,
            Some("DISABLED") => false,
            Some(other) => {
                return Err(invalid(format!(
                    "1 validation error detected: Value '{other}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
                )));
            }
        };
        let record = NewRule {
            bus: bus.clone(),
            name: rule.name.clone(),
            pattern,
            schedule,
            enabled,
            description: rule.description,
        };
        let tags = rule.tags;
        let stored = self
            .backend
            .put_rule(&record, &tags, now_ms())
            .await
            .map_err(crate::backend_error("putting a rule"))
            .map_err(aws_codes)?;
        self.rules_changed();
        Ok(rule_arn(&stored.bus, &stored.name))
    }

    /// DescribeRule.
    pub async fn describe_rule(
        &self,
        bus: Option<&str>,
        name: &str,
    ) -> Result<RuleRecord, ServiceError> {
        let bus = self.bus_key(bus)?;
        let (b, n) = (bus.clone(), name.to_string());
        self.backend
            .rule(&b, &n)
            .await
            .map_err(crate::backend_error("reading a rule"))?
            .ok_or_else(|| {
                not_found(format!(
                    "Rule {name} does not exist on EventBus {}.",
                    bare(&bus)
                ))
            })
    }

    /// ListRules.
    pub async fn list_rules(
        &self,
        bus: Option<&str>,
        prefix: &str,
    ) -> Result<Vec<RuleRecord>, ServiceError> {
        let bus = self.bus_key(bus)?;
        let (b, p) = (bus.clone(), prefix.to_string());
        let exists = self
            .backend
            .bus(&b)
            .await
            .map_err(crate::backend_error("reading an event bus"))?;
        if exists.is_none() {
            return Err(not_found(format!(
                "Event bus {} does not exist.",
                bare(&bus)
            )));
        }
        self.backend
            .rules(&bus, &p)
            .await
            .map_err(crate::backend_error("listing rules"))
    }

    /// ListRuleNamesByTarget.
    pub async fn list_rule_names_by_target(
        &self,
        bus: Option<&str>,
        target_arn: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let bus = self.bus_key(bus)?;
        let arn = target_arn.to_string();
        self.backend
            .rule_names_by_target(&bus, &arn)
            .await
            .map_err(crate::backend_error("listing rules by target"))
            .map_err(aws_codes)
    }

    /// DeleteRule: refused while the rule has targets unless `force`;
    /// deleting a rule that does not exist succeeds, as on AWS.
    pub async fn delete_rule(
        &self,
        bus: Option<&str>,
        name: &str,
        force: bool,
    ) -> Result<(), ServiceError> {
        let bus = self.bus_key(bus)?;
        let name = name.to_string();
        self.backend
            .delete_rule(&bus, &name, force)
            .await
            .map_err(crate::backend_error("deleting a rule"))
            .map_err(|e| match e.kind {
                ErrorKind::Conflict => invalid(e.message),
                _ => e,
            })?;
        self.rules_changed();
        Ok(())
    }

    /// EnableRule / DisableRule.
    pub async fn set_rule_enabled(
        &self,
        bus: Option<&str>,
        name: &str,
        enabled: bool,
    ) -> Result<(), ServiceError> {
        let bus = self.bus_key(bus)?;
        let (b, n) = (bus.clone(), name.to_string());
        let changed = self
            .backend
            .set_rule_enabled(&b, &n, enabled)
            .await
            .map_err(crate::backend_error("enabling or disabling a rule"))?;
        if changed {
            self.rules_changed();
            Ok(())
        } else {
            Err(not_found(format!(
                "Rule {name} does not exist on EventBus {}.",
                bare(&bus)
            )))
        }
    }

    /// PutTargets: checks every target as AWS does (a request error for a
    /// malformed id or ARN, a FIFO queue without `SqsParameters`), then
    /// stores them. Returns the targets that failed (none: AWS's per-target
    /// failures are for what Stratus cannot fail).
    pub async fn put_targets(
        &self,
        bus: Option<&str>,
        rule: &str,
        targets: Vec<PutTarget>,
    ) -> Result<Vec<FailedTarget>, ServiceError> {
        let bus = self.bus_key(bus)?;
        check_rule(rule, "rule")?;
        if targets.is_empty() {
            return Err(invalid(
                "1 validation error detected: Value '[]' at 'targets' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut good = Vec::with_capacity(targets.len());
        for (i, t) in targets.into_iter().enumerate() {
            check_target_id(i + 1, &t.id)?;
            let dest = Dest::parse(&t.arn)?;
            if let Dest::Queue(name) = &dest
                && stratus_core::names::is_fifo(name)
                && TargetParams::from_json(t.params.as_deref())
                    .group_id
                    .is_none()
            {
                return Err(invalid(format!(
                    "Parameter(s) SqsParameters must be specified for target: {}.",
                    t.id
                )));
            }
            if let Err(e) = TargetInput::new(
                t.input.as_deref(),
                t.input_path.as_deref(),
                t.input_transformer.as_deref(),
            ) {
                return Err(invalid(format!("Target {}: {e}", t.id)));
            }
            good.push(TargetRecord {
                id: t.id,
                arn: t.arn,
                input: t.input,
                input_path: t.input_path,
                input_transformer: t.input_transformer,
                params: t.params,
            });
        }
        let r = rule.to_string();
        self.backend
            .put_targets(&bus, &r, &good, MAX_TARGETS_PER_RULE)
            .await
            .map_err(crate::backend_error("putting targets"))
            .map_err(|e| match e.kind {
                ErrorKind::Invalid => ServiceError::invalid(
                    "LimitExceededException",
                    "The requested resource exceeds the maximum number allowed.",
                ),
                _ => aws_codes(e),
            })?;
        self.rules_changed();
        Ok(Vec::new())
    }

    /// RemoveTargets: returns the ids that were not there.
    pub async fn remove_targets(
        &self,
        bus: Option<&str>,
        rule: &str,
        ids: Vec<String>,
    ) -> Result<Vec<FailedTarget>, ServiceError> {
        let bus = self.bus_key(bus)?;
        let r = rule.to_string();
        let wanted = ids.clone();
        let removed = self
            .backend
            .remove_targets(&bus, &r, &wanted)
            .await
            .map_err(crate::backend_error("removing targets"))
            .map_err(aws_codes)?;
        self.rules_changed();
        Ok(ids
            .into_iter()
            .filter(|id| !removed.contains(id))
            .map(|id| FailedTarget {
                id,
                code: "ResourceNotFoundException".into(),
                message: "The target does not exist.".into(),
            })
            .collect())
    }

    /// ListTargetsByRule.
    pub async fn list_targets(
        &self,
        bus: Option<&str>,
        rule: &str,
    ) -> Result<Vec<TargetRecord>, ServiceError> {
        self.describe_rule(bus, rule).await?;
        let bus = self.bus_key(bus)?;
        let r = rule.to_string();
        self.backend
            .targets(&bus, &r)
            .await
            .map_err(crate::backend_error("listing targets"))
    }

    /// TestEventPattern.
    pub fn test_event_pattern(&self, pattern: &str, event: &str) -> Result<bool, ServiceError> {
        let pattern = parse_pattern(pattern)?;
        let event: Value = match serde_json::from_str(event) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Err(invalid("Parameter Event is not valid.")),
        };
        Ok(pattern.matches(&event))
    }

    /// TagResource: tags of a bus or a rule.
    pub async fn tag_resource(
        &self,
        arn: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), ServiceError> {
        let (bus, rule) = tag_owner(arn)?;
        self.backend
            .tag((&bus, rule.as_deref()), &tags)
            .await
            .map_err(crate::backend_error("tagging"))
            .map_err(aws_codes)
    }

    /// UntagResource.
    pub async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<(), ServiceError> {
        let (bus, rule) = tag_owner(arn)?;
        self.backend
            .untag((&bus, rule.as_deref()), &keys)
            .await
            .map_err(crate::backend_error("untagging"))
            .map_err(aws_codes)
    }

    /// ListTagsForResource.
    pub async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, ServiceError> {
        let (bus, rule) = tag_owner(arn)?;
        self.backend
            .tags((&bus, rule.as_deref()))
            .await
            .map_err(crate::backend_error("listing tags"))
            .map_err(aws_codes)
    }

    /// The ARN of a bus.
    pub fn bus_arn(&self, name: &str) -> String {
        bus_arn(name)
    }
}

/// A statement of PutPermission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionStatement {
    /// `StatementId`.
    pub statement_id: String,
    /// `Action`.
    pub action: String,
    /// `Principal`: an account id or `*`.
    pub principal: String,
    /// `Condition` (`Type`, `Key`, `Value`).
    pub condition: Option<(String, String, String)>,
}

impl PermissionStatement {
    /// The statement as the bus's policy holds it.
    fn to_json(&self, bus_arn: &str) -> Value {
        let principal = if self.principal == "*" {
            json!("*")
        } else {
            json!({"AWS": format!("arn:aws:iam::{}:root", self.principal)})
        };
        let mut out = json!({
            "Sid": self.statement_id,
            "Effect": "Allow",
            "Principal": principal,
            "Action": self.action,
            "Resource": bus_arn,
        });
        if let Some((kind, key, value)) = &self.condition {
            out["Condition"] = json!({ kind: { key: value } });
        }
        out
    }
}

/// The bus, and rule if any, an ARN of TagResource and its kin names.
fn tag_owner(arn: &str) -> Result<(String, Option<String>), ServiceError> {
    let parsed: Arn = arn.parse().map_err(|_| bad_target_arn(arn))?;
    if let Ok(bus) = parsed.as_bus() {
        return Ok((parsed.regional_key(bus), None));
    }
    if let Ok((bus, rule)) = parsed.as_rule() {
        return Ok((parsed.regional_key(bus), Some(rule.to_string())));
    }
    Err(bad_target_arn(arn))
}

/// The entry that forwards `event` to bus `next`.
fn forward_entry(event: &Value, next: &str) -> PutEventsEntry {
    PutEventsEntry {
        source: event["source"].as_str().unwrap_or_default().to_string(),
        detail_type: event["detail-type"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        detail: event["detail"].to_string(),
        bus: Some(next.to_string()),
        resources: event["resources"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        time: event["time"].as_str().map(str::to_string),
        trace_header: None,
    }
}

/// A stored target ready to deliver to.
fn route_target(t: TargetRecord) -> Result<RouteTarget, ServiceError> {
    let dest = Dest::parse(&t.arn)?;
    let input = TargetInput::new(
        t.input.as_deref(),
        t.input_path.as_deref(),
        t.input_transformer.as_deref(),
    )
    .map_err(|e| invalid(e.to_string()))?;
    Ok(RouteTarget {
        id: t.id,
        arn: t.arn,
        dest,
        input,
        params: TargetParams::from_json(t.params.as_deref()),
        params_text: t.params,
    })
}

/// The ready targets of a stored rule.
pub(crate) fn route_targets(targets: Vec<TargetRecord>) -> Vec<RouteTarget> {
    targets
        .into_iter()
        .filter_map(|t| {
            let id = t.id.clone();
            match route_target(t) {
                Ok(target) => Some(target),
                Err(error) => {
                    tracing::warn!(target = %id, %error, "skipping a target that no longer parses");
                    None
                }
            }
        })
        .collect()
}

impl EventBridge {
    /// Stores `event` in each archive it matches.
    async fn archive(&self, archives: &[ArchiveRecord], event: &Value) -> Result<(), ServiceError> {
        let now = now_ms();
        let mut into = Vec::new();
        for a in archives {
            let matches = match &a.pattern {
                None => true,
                Some(text) => match self.pattern(text) {
                    Ok(p) => p.matches(event),
                    Err(error) => {
                        tracing::warn!(archive = %a.name, %error, "skipping an archive whose pattern no longer parses");
                        false
                    }
                },
            };
            if matches {
                let expires =
                    (a.retention_days > 0).then(|| now + i64::from(a.retention_days) * 86_400_000);
                into.push((a.name.clone(), expires));
            }
        }
        if into.is_empty() {
            return Ok(());
        }
        let time = event_time_ms(event);
        let text = event.to_string();
        self.backend
            .archive_event(&into, time, &text)
            .await
            .map_err(crate::backend_error("archiving an event"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> PutEventsEntry {
        PutEventsEntry {
            source: "core.update-account-command".into(),
            detail_type: "core.update-account-command".into(),
            detail: format!("{{\"n\": {n}}}"),
            bus: Some("b".into()),
            ..PutEventsEntry::default()
        }
    }

    #[test]
    fn request_limits_answer_with_aws_texts() {
        let e = check_put_events(&(0..11).map(entry).collect::<Vec<_>>()).expect_err("11");
        let one = "PutEventsRequestEntry(time=null, source=core.update-account-command, resources=null, detailType=core.update-account-command, detail={\"n\": 0}, eventBusName=b, traceHeader=null, kmsKeyIdentifier=null, internalMetadata=null)";
        assert!(
            e.message.starts_with(&format!(
                "1 validation error detected: Value '[{one}, PutEventsRequestEntry(time=null"
            )),
            "{}",
            e.message
        );
        assert!(e.message.ends_with(
            ")]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10"
        ));
        assert_eq!(e.code, "ValidationException");
        let e = check_put_events(&[]).expect_err("none");
        assert_eq!(
            e.message,
            "1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let big = PutEventsEntry {
            detail: format!("{{\"x\": \"{}\"}}", "x".repeat(MAX_REQUEST_SIZE)),
            ..entry(0)
        };
        assert_eq!(
            check_put_events(&[big]).map_err(|e| e.message),
            Err("Total size of the entries in the request is over the limit.".into())
        );
        let timed = PutEventsEntry {
            time: Some("2026-01-02T03:04:05Z".into()),
            resources: vec!["a".into(), "b".into()],
            ..entry(1)
        };
        assert!(entry_text(&timed).starts_with(
            "PutEventsRequestEntry(time=Fri Jan 02 03:04:05 UTC 2026, source=core.update-account-command, resources=[a, b],"
        ));
    }

    #[test]
    fn malformed_details_are_refused_per_entry() {
        for detail in ["[1, 2]", "\"text\"", "{not json"] {
            let e = envelope(
                &PutEventsEntry {
                    detail: detail.into(),
                    ..entry(0)
                },
                &ResourceScope::DEFAULT,
            )
            .expect_err(detail);
            assert_eq!(
                (e.code, e.message.as_str()),
                ("MalformedDetail", "Detail is malformed.")
            );
        }
        let (id, event) = envelope(&entry(3), &ResourceScope::DEFAULT).expect("valid");
        assert_eq!(event["id"], id.as_str());
        assert_eq!(event["detail"], json!({"n": 3}));
    }

    #[test]
    fn bus_names_follow_aws_rules() {
        assert_eq!(
            check_new_bus("team/bus").map_err(|e| e.message),
            Err("Event bus name must not contain '/'.".into())
        );
        assert_eq!(
            check_new_bus("bad name!").map_err(|e| e.message),
            Err("1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+".into())
        );
        assert!(check_new_bus("orders.v2_x-y").is_ok());
        assert_eq!(
            bus_name(Some("arn:aws:events:us-east-1:000000000000:event-bus/shop")).ok(),
            Some("shop".into())
        );
        assert!(bus_name(Some("arn:aws:events:us-east-1:000000000000:rule/r")).is_err());
        assert_eq!(bus_name(None).ok(), Some("default".into()));
    }

    #[test]
    fn target_ids_are_checked_by_position() {
        assert_eq!(
            check_target_id(2, "!@#").map_err(|e| e.message),
            Err("1 validation error detected: Value '!@#' at 'targets.2.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+".into())
        );
        assert!(check_target_id(1, &"a".repeat(65)).is_err());
        assert!(check_target_id(1, "ok.id-1_x").is_ok());
    }

    #[test]
    fn permission_statements_have_aws_shape() {
        let s = PermissionStatement {
            statement_id: "s1".into(),
            action: "events:PutEvents".into(),
            principal: "111111111111".into(),
            condition: None,
        };
        assert_eq!(
            s.to_json("arn:b"),
            json!({"Sid": "s1", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                   "Action": "events:PutEvents", "Resource": "arn:b"})
        );
        let s = PermissionStatement {
            principal: "*".into(),
            condition: Some((
                "StringEquals".into(),
                "aws:PrincipalOrgID".into(),
                "o-1".into(),
            )),
            ..s
        };
        assert_eq!(s.to_json("arn:b")["Principal"], "*");
        assert_eq!(
            s.to_json("arn:b")["Condition"],
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-1"}})
        );
    }
}
