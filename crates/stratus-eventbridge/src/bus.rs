//! The event bus (EventBridge): buses, rules with event patterns, targets
//! with input transformers, PutEvents.
//!
//! [`EventBridge::put_events`] and [`PutEventsEntry`] are used by destinations;
//! keep their shape.
//!
//! PutEvents validates each entry, wraps it in EventBridge's envelope
//! (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`,
//! `resources`, `detail`) and matches it against every enabled rule of its
//! bus: the rules made through the API and the `eventBridge` events of the
//! current functions' manifests (whose target is their function). Each
//! matched target gets its input (the event, `Input`, `InputPath` or the
//! `InputTransformer`'s output) before PutEvents answers, through its own
//! durable queue: a function an asynchronous invocation (with `ce-type`,
//! `ce-source`, `ce-id` headers), a queue a message, a topic a publication,
//! another bus the same event (loops are cut: an event never enters a bus
//! it has already passed through).
//!
//! As on AWS, an accepted entry is a success even if a target refuses it
//! (the target is gone, say): that is logged and the other targets still
//! get it. A server failure while delivering fails the entry, so the
//! client retries.
//!
//! Rules with a `ScheduleExpression` are stored and listed but do not fire:
//! schedules fire from manifests (`events: - schedule:`) only.

use crate::{ErrorKind, EventBridge, EventOrigin, ServiceError, now_ms};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use stratus_core::TargetRef;
use stratus_core::function::{ACCOUNT_ID, REGION, bus_arn, rule_arn};
use stratus_core::pattern::Pattern;
use stratus_core::transform::{RuleContext, TargetInput};
use stratus_store::{BusRecord, NewRule, RuleRecord, TargetRecord};

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

/// In-memory state of the bus: parsed patterns and the manifest rules of
/// the current deploy generation.
#[derive(Default)]
pub(crate) struct BusState {
    manifest: Mutex<Option<(u64, Arc<ManifestRoutes>)>>,
    patterns: Mutex<HashMap<String, Arc<Pattern>>>,
}

/// Bus name to the manifest rules on it.
type ManifestRoutes = HashMap<String, Vec<Route>>;

/// A rule ready to match, with its targets.
struct Route {
    name: String,
    arn: String,
    pattern: Arc<Pattern>,
    targets: Vec<RouteTarget>,
}

struct RouteTarget {
    id: String,
    target: TargetRef,
    input: TargetInput,
}

/// At most this many patterns stay parsed in memory.
const PATTERN_CACHE: usize = 1024;

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("ValidationException", message)
}

fn not_found(message: impl Into<String>) -> ServiceError {
    ServiceError::not_found("ResourceNotFoundException", message)
}

/// The bus named by `name_or_arn` (`default` when None).
pub fn bus_name(name_or_arn: Option<&str>) -> Result<String, ServiceError> {
    let Some(text) = name_or_arn.filter(|t| !t.is_empty()) else {
        return Ok("default".into());
    };
    if text.starts_with("arn:") {
        return match TargetRef::parse(text) {
            Ok(TargetRef::Bus(name)) => Ok(name),
            _ => Err(invalid(format!("{text} is not an event bus ARN."))),
        };
    }
    Ok(text.to_string())
}

fn check_name(what: &str, name: &str, max: usize, extra: &[char]) -> Result<(), ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') || extra.contains(&c)
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ and have length 1 to {max}"
        )))
    }
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

/// Checks what applies to a PutEvents request as a whole: 1 to 10 entries
/// of at most 256 KiB in total.
pub fn check_put_events(entries: &[PutEventsEntry]) -> Result<(), ServiceError> {
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        return Err(invalid(format!(
            "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and {MAX_ENTRIES}, got {}",
            entries.len()
        )));
    }
    let size: usize = entries.iter().map(entry_size).sum();
    if size > MAX_REQUEST_SIZE {
        return Err(ServiceError::new(
            ErrorKind::TooLarge,
            "ValidationException",
            format!(
                "Total size of the entries in the request is over the limit ({size} > {MAX_REQUEST_SIZE} bytes)."
            ),
        ));
    }
    Ok(())
}

/// The envelope of an accepted entry, or why it was refused.
fn envelope(entry: &PutEventsEntry) -> Result<(String, Value), ServiceError> {
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
                "Detail is malformed: it must be a JSON object.".into(),
            ));
        }
    };
    if entry_size(entry) > MAX_REQUEST_SIZE {
        return Err(entry_error(
            "InvalidArgument",
            format!("Entry size exceeds the limit of {MAX_REQUEST_SIZE} bytes."),
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
    let id = uuid::Uuid::new_v4().to_string();
    let mut event = Map::new();
    event.insert("version".into(), "0".into());
    event.insert("id".into(), id.clone().into());
    event.insert("detail-type".into(), entry.detail_type.clone().into());
    event.insert("source".into(), entry.source.clone().into());
    event.insert("account".into(), ACCOUNT_ID.into());
    event.insert(
        "time".into(),
        time.format("%Y-%m-%dT%H:%M:%SZ").to_string().into(),
    );
    event.insert("region".into(), REGION.into());
    event.insert(
        "resources".into(),
        Value::Array(entry.resources.iter().cloned().map(Value::String).collect()),
    );
    event.insert("detail".into(), detail);
    Ok((id, Value::Object(event)))
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
        let bus = bus_name(entry.bus.as_deref())?;
        let (id, event) = envelope(&entry)?;
        let lookup = bus.clone();
        let stored = self
            .blocking("reading an event bus's rules", move |store| {
                store.event_routes(&lookup)
            })
            .await?
            .ok_or_else(|| not_found(format!("Event bus {bus} does not exist.")))?;
        let ingestion_time = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let origin = EventOrigin {
            kind: entry.detail_type.clone(),
            source: entry.source.clone(),
            id: Some(id.clone()),
        };
        let manifest = self.manifest_routes();
        let mut routes: Vec<Route> = Vec::new();
        for (rule, targets) in stored {
            match self.route(&rule, targets) {
                Ok(route) => routes.push(route),
                Err(error) => {
                    tracing::warn!(bus, rule = %rule.name, %error, "skipping a rule that no longer parses")
                }
            }
        }
        let manifest_routes = manifest.get(&bus).map(Vec::as_slice).unwrap_or(&[]);
        let mut delivered = 0usize;
        for route in routes.iter().chain(manifest_routes) {
            if !route.pattern.matches(&event) {
                continue;
            }
            let context = RuleContext {
                rule_arn: &route.arn,
                rule_name: &route.name,
                ingestion_time: &ingestion_time,
            };
            for target in &route.targets {
                let outcome = match &target.target {
                    TargetRef::Bus(next) => {
                        if next == &bus || visited.contains(next) {
                            tracing::warn!(bus, rule = %route.name, target = %target.id, next, "not forwarding an event to a bus it already passed through");
                            continue;
                        }
                        let mut path = visited.to_vec();
                        path.push(bus.clone());
                        let forward = PutEventsEntry {
                            bus: Some(next.clone()),
                            time: event["time"].as_str().map(str::to_string),
                            ..entry.clone()
                        };
                        self.put_events_via(vec![forward], path)
                            .await
                            .pop()
                            .unwrap_or_else(|| Ok(String::new()))
                    }
                    TargetRef::Function(function) => {
                        let payload = target.input.render(&event, &context);
                        self.invoke_target(function, payload, &origin).await
                    }
                    other => {
                        let payload = target.input.render(&event, &context);
                        self.deliverer()?.deliver(other, payload, &origin).await
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
                        tracing::warn!(bus, rule = %route.name, target = %target.id, event_id = %id, %error, "a rule's target refused an event");
                    }
                }
            }
        }
        tracing::debug!(bus, event_id = %id, delivered, "put an event");
        Ok(id)
    }

    /// An asynchronous invocation of a rule's function, with the event's
    /// CloudEvents headers and the `host` a wasm function's HTTP request
    /// needs.
    async fn invoke_target(
        &self,
        function: &str,
        payload: String,
        origin: &EventOrigin,
    ) -> Result<String, ServiceError> {
        let endpoint = &self.config().endpoint_url;
        let host = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, rest)| rest)
            .trim_end_matches('/')
            .to_string();
        let mut headers = origin.headers();
        headers.push(("host".to_string(), host));
        self.engine()
            .invoke_async(
                function,
                stratus_engine::Qualifier::Latest,
                bytes::Bytes::from(payload),
                headers,
            )
            .await
            .map_err(|e| ServiceError::engine("queuing an asynchronous invocation", e))
    }

    fn pattern(&self, text: &str) -> Result<Arc<Pattern>, ServiceError> {
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

    fn route(&self, rule: &RuleRecord, targets: Vec<TargetRecord>) -> Result<Route, ServiceError> {
        let pattern = self.pattern(rule.pattern.as_deref().unwrap_or("{}"))?;
        let targets = targets
            .into_iter()
            .map(|t| {
                let target = TargetRef::parse(&t.arn).map_err(invalid)?;
                let input = TargetInput::new(
                    t.input.as_deref(),
                    t.input_path.as_deref(),
                    t.input_transformer.as_deref(),
                )
                .map_err(|e| invalid(e.to_string()))?;
                Ok(RouteTarget {
                    id: t.id,
                    target,
                    input,
                })
            })
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
                        target: TargetRef::Function(function.name.clone()),
                        input,
                    }],
                });
            }
        }
        let routes = Arc::new(routes);
        *cache = Some((generation, routes.clone()));
        routes
    }

    /// CreateEventBus.
    pub async fn create_event_bus(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<BusRecord, ServiceError> {
        check_name("name", name, 256, &['/'])?;
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
        let owned = name.to_string();
        self.blocking("creating an event bus", move |store| {
            store.create_event_bus(&owned, description.as_deref(), now_ms())
        })
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Conflict => ServiceError::new(
                ErrorKind::Conflict,
                "ResourceAlreadyExistsException",
                e.message,
            ),
            _ => e,
        })
    }

    /// DeleteEventBus (deleting one that does not exist succeeds, as on AWS).
    pub async fn delete_event_bus(&self, name: &str) -> Result<(), ServiceError> {
        let name = bus_name(Some(name))?;
        if name == "default" {
            return Err(invalid("Cannot delete event bus default."));
        }
        self.blocking("deleting an event bus", move |store| {
            store.delete_event_bus(&name)
        })
        .await?;
        Ok(())
    }

    /// DescribeEventBus.
    pub async fn describe_event_bus(&self, name: Option<&str>) -> Result<BusRecord, ServiceError> {
        let name = bus_name(name)?;
        let lookup = name.clone();
        self.blocking("reading an event bus", move |store| {
            store.event_bus(&lookup)
        })
        .await?
        .ok_or_else(|| not_found(format!("Event bus {name} does not exist.")))
    }

    /// ListEventBuses.
    pub async fn list_event_buses(&self, prefix: &str) -> Result<Vec<BusRecord>, ServiceError> {
        let prefix = prefix.to_string();
        self.blocking("listing event buses", move |store| {
            store.event_buses(&prefix)
        })
        .await
    }

    /// PutRule: creates or updates a rule; returns its ARN.
    pub async fn put_rule(&self, rule: PutRule) -> Result<String, ServiceError> {
        check_name("name", &rule.name, 64, &[])?;
        let bus = bus_name(rule.bus.as_deref())?;
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
            if bus != "default" {
                return Err(invalid(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
            stratus_core::schedule::Schedule::parse(expression, None)
                .map_err(|e| invalid(format!("Parameter ScheduleExpression is not valid: {e}")))?;
            tracing::info!(rule = %rule.name, expression, "a rule with a schedule is stored but does not fire (schedules fire from manifests)");
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
        let stored = self
            .blocking("putting a rule", move |store| {
                store.put_event_rule(&record, now_ms())
            })
            .await
            .map_err(not_found_as_resource)?;
        Ok(rule_arn(&stored.bus, &stored.name))
    }

    /// DescribeRule.
    pub async fn describe_rule(
        &self,
        bus: Option<&str>,
        name: &str,
    ) -> Result<RuleRecord, ServiceError> {
        let bus = bus_name(bus)?;
        let (b, n) = (bus.clone(), name.to_string());
        self.blocking("reading a rule", move |store| store.event_rule(&b, &n))
            .await?
            .ok_or_else(|| not_found(format!("Rule {name} does not exist on EventBus {bus}.")))
    }

    /// ListRules.
    pub async fn list_rules(
        &self,
        bus: Option<&str>,
        prefix: &str,
    ) -> Result<Vec<RuleRecord>, ServiceError> {
        let bus = bus_name(bus)?;
        let (b, p) = (bus.clone(), prefix.to_string());
        let exists = self
            .blocking("reading an event bus", move |store| store.event_bus(&b))
            .await?;
        if exists.is_none() {
            return Err(not_found(format!("Event bus {bus} does not exist.")));
        }
        self.blocking("listing rules", move |store| store.event_rules(&bus, &p))
            .await
    }

    /// DeleteRule: refused while the rule has targets unless `force`;
    /// deleting a rule that does not exist succeeds, as on AWS.
    pub async fn delete_rule(
        &self,
        bus: Option<&str>,
        name: &str,
        force: bool,
    ) -> Result<(), ServiceError> {
        let bus = bus_name(bus)?;
        let name = name.to_string();
        self.blocking("deleting a rule", move |store| {
            store.delete_event_rule(&bus, &name, force)
        })
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Conflict => invalid(e.message),
            _ => e,
        })?;
        Ok(())
    }

    /// EnableRule / DisableRule.
    pub async fn set_rule_enabled(
        &self,
        bus: Option<&str>,
        name: &str,
        enabled: bool,
    ) -> Result<(), ServiceError> {
        let bus = bus_name(bus)?;
        let (b, n) = (bus.clone(), name.to_string());
        let changed = self
            .blocking("enabling or disabling a rule", move |store| {
                store.set_event_rule_enabled(&b, &n, enabled)
            })
            .await?;
        if changed {
            Ok(())
        } else {
            Err(not_found(format!(
                "Rule {name} does not exist on EventBus {bus}."
            )))
        }
    }

    /// PutTargets: returns the targets that failed (others are stored).
    pub async fn put_targets(
        &self,
        bus: Option<&str>,
        rule: &str,
        targets: Vec<PutTarget>,
    ) -> Result<Vec<FailedTarget>, ServiceError> {
        let bus = bus_name(bus)?;
        if targets.is_empty() {
            return Err(invalid(
                "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut good = Vec::new();
        let mut failed = Vec::new();
        for t in targets {
            check_name("targets.member.id", &t.id, 64, &[])?;
            let fail = |message: String| FailedTarget {
                id: t.id.clone(),
                code: "ValidationException".into(),
                message,
            };
            if !t.arn.starts_with("arn:") {
                failed.push(fail(format!("Parameter {} is not valid for Arn.", t.arn)));
                continue;
            }
            if let Err(e) = TargetRef::parse(&t.arn) {
                failed.push(fail(e));
                continue;
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
            });
        }
        let (b, r) = (bus.clone(), rule.to_string());
        let existing = self
            .blocking("listing targets", move |store| store.event_targets(&b, &r))
            .await?;
        let mut ids: Vec<&str> = existing.iter().map(|t| t.id.as_str()).collect();
        ids.extend(good.iter().map(|t| t.id.as_str()));
        ids.sort_unstable();
        ids.dedup();
        if ids.len() > MAX_TARGETS_PER_RULE {
            return Err(ServiceError::invalid(
                "LimitExceededException",
                format!(
                    "The requested resource exceeds the maximum number allowed ({MAX_TARGETS_PER_RULE} targets per rule)."
                ),
            ));
        }
        let r = rule.to_string();
        self.blocking("putting targets", move |store| {
            store.put_event_targets(&bus, &r, &good)
        })
        .await
        .map_err(not_found_as_resource)?;
        Ok(failed)
    }

    /// RemoveTargets: returns the ids that were not there.
    pub async fn remove_targets(
        &self,
        bus: Option<&str>,
        rule: &str,
        ids: Vec<String>,
    ) -> Result<Vec<FailedTarget>, ServiceError> {
        let bus = bus_name(bus)?;
        let r = rule.to_string();
        let wanted = ids.clone();
        let removed = self
            .blocking("removing targets", move |store| {
                store.remove_event_targets(&bus, &r, &wanted)
            })
            .await
            .map_err(not_found_as_resource)?;
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
        let bus = bus_name(bus)?;
        let r = rule.to_string();
        self.blocking("listing targets", move |store| {
            store.event_targets(&bus, &r)
        })
        .await
    }

    /// TestEventPattern.
    pub fn test_event_pattern(&self, pattern: &str, event: &str) -> Result<bool, ServiceError> {
        let pattern = parse_pattern(pattern)?;
        let event: Value = match serde_json::from_str(event) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Err(invalid(
                    "Parameter Event is not valid: it must be a JSON object.",
                ));
            }
        };
        Ok(pattern.matches(&event))
    }

    /// The ARN of a bus.
    pub fn bus_arn(&self, name: &str) -> String {
        bus_arn(name)
    }
}

fn not_found_as_resource(e: ServiceError) -> ServiceError {
    if e.kind == ErrorKind::NotFound {
        not_found(e.message)
    } else {
        e
    }
}
