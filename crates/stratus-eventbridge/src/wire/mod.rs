//! EventBridge over its JSON 1.1 protocol (`X-Amz-Target: AWSEvents.<Op>`,
//! `application/x-amz-json-1.1`), so the real SDKs' `events` clients work:
//! PutEvents, PutRule, DescribeRule, DeleteRule, ListRules, EnableRule,
//! DisableRule, PutTargets, RemoveTargets, ListTargetsByRule,
//! ListRuleNamesByTarget, CreateEventBus, DeleteEventBus, DescribeEventBus,
//! ListEventBuses, PutPermission, RemovePermission, TagResource,
//! UntagResource, ListTagsForResource, TestEventPattern, CreateArchive,
//! DescribeArchive, ListArchives, UpdateArchive, DeleteArchive,
//! StartReplay, DescribeReplay, ListReplays, CancelReplay,
//! CreateConnection, DescribeConnection, ListConnections,
//! DeleteConnection, CreateApiDestination, DescribeApiDestination,
//! ListApiDestinations and DeleteApiDestination.
//!
//! Each operation reads its request type and answers its response type
//! (`types.rs`); a member of the wrong type or a missing one is answered
//! with EventBridge's `ValidationException` texts.
//!
//! Errors have the JSON protocol's shape, `{"__type": "ResourceNotFoundException",
//! "message": ...}`; PutEvents answers per entry (`ErrorCode`,
//! `ErrorMessage`) with `FailedEntryCount`. Timestamps are epoch seconds.

use crate::Reply;
use crate::archives::{NewArchive, NewReplay, archive_arn, replay_arn};
use crate::backend::{
    ApiDestinationRecord, ArchiveRecord, BusRecord, ConnectionRecord, ReplayRecord, RuleRecord,
    TargetRecord,
};
use crate::bus::{
    FailedTarget, PermissionStatement, PutEventsEntry, PutRule, PutTarget, check_put_events,
};
use crate::connections::{
    DEFAULT_RATE_LIMIT, NewApiDestination, NewConnection, connection_arn, destination_arn,
    public_auth, secret_arn,
};
use crate::targets::target_params;
use crate::{ErrorKind, EventBridge as Events, ServiceError};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stratus_aws::AwsRequest;
use stratus_aws::decode::{DecodeError, Problem, Segment, decode};
use stratus_aws::{AwsError, Protocol};
use stratus_core::function::{ACCOUNT_ID, bus_arn, rule_arn};
use types::*;

pub mod types;

/// Largest page of the List operations.
const MAX_LIST_RESULTS: usize = 100;

type Outcome = Result<Value, ServiceError>;

pub(crate) async fn handle(
    events: &Events,
    operation: &str,
    request: AwsRequest,
) -> Result<Reply, AwsError> {
    // Each region is its own namespace, with its own default bus.
    let events = &events.in_region(request.context.region.parse().unwrap_or_default());
    events.ensure_default_bus().await.map_err(|e| to_aws(&e))?;
    let Some(body) = crate::json_body(&request.body) else {
        return Err(to_aws(&invalid(
            "The request body is not a valid JSON object.".to_string(),
        )));
    };
    let body = &body;
    let reply = match operation {
        "PutEvents" => call(body, |r| put_events(events, r)).await,
        "PutRule" => call(body, |r| put_rule(events, r)).await,
        "DescribeRule" => call(body, |r| describe_rule(events, r)).await,
        "DeleteRule" => call(body, |r| delete_rule(events, r)).await,
        "ListRules" => call(body, |r| list_rules(events, r)).await,
        "EnableRule" => call(body, |r| set_enabled(events, r, true)).await,
        "DisableRule" => call(body, |r| set_enabled(events, r, false)).await,
        "PutTargets" => call(body, |r| put_targets(events, r)).await,
        "RemoveTargets" => call(body, |r| remove_targets(events, r)).await,
        "ListTargetsByRule" => call(body, |r| list_targets(events, r)).await,
        "ListRuleNamesByTarget" => call(body, |r| list_rule_names_by_target(events, r)).await,
        "CreateEventBus" => call(body, |r| create_bus(events, r)).await,
        "DeleteEventBus" => call(body, |r| delete_bus(events, r)).await,
        "DescribeEventBus" => call(body, |r| describe_bus(events, r)).await,
        "ListEventBuses" => call(body, |r| list_buses(events, r)).await,
        "PutPermission" => call(body, |r| put_permission(events, r)).await,
        "RemovePermission" => call(body, |r| remove_permission(events, r)).await,
        "TagResource" => call(body, |r| tag_resource(events, r)).await,
        "UntagResource" => call(body, |r| untag_resource(events, r)).await,
        "ListTagsForResource" => call(body, |r| list_tags(events, r)).await,
        "TestEventPattern" => call(body, |r| async { test_event_pattern(events, r) }).await,
        "CreateArchive" => call(body, |r| create_archive(events, r)).await,
        "DescribeArchive" => call(body, |r| describe_archive(events, r)).await,
        "ListArchives" => call(body, |r| list_archives(events, r)).await,
        "UpdateArchive" => call(body, |r| update_archive(events, r)).await,
        "DeleteArchive" => call(body, |r| delete_archive(events, r)).await,
        "StartReplay" => call(body, |r| start_replay(events, r)).await,
        "DescribeReplay" => call(body, |r| describe_replay(events, r)).await,
        "ListReplays" => call(body, |r| list_replays(events, r)).await,
        "CancelReplay" => call(body, |r| cancel_replay(events, r)).await,
        "CreateConnection" => call(body, |r| create_connection(events, r)).await,
        "DescribeConnection" => call(body, |r| describe_connection(events, r)).await,
        "ListConnections" => call(body, |r| list_connections(events, r)).await,
        "DeleteConnection" => call(body, |r| delete_connection(events, r)).await,
        "CreateApiDestination" => call(body, |r| create_api_destination(events, r)).await,
        "DescribeApiDestination" => call(body, |r| describe_api_destination(events, r)).await,
        "ListApiDestinations" => call(body, |r| list_api_destinations(events, r)).await,
        "DeleteApiDestination" => call(body, |r| delete_api_destination(events, r)).await,
        other => Err(ServiceError::invalid(
            "UnknownOperationException",
            format!("The operation {other} is not supported."),
        )),
    };
    let value = reply.map_err(|e| to_aws(&e))?;
    Ok(Protocol::Json11.json_ok(&value, &request.context.request_id))
}

/// Runs an operation on its typed request and response
/// ([`stratus_service_kit::wire::call`], with this service's decoder).
async fn call<'a, Req, Resp, Fut>(body: &'a Value, operation: impl FnOnce(Req) -> Fut) -> Outcome
where
    Req: Deserialize<'a>,
    Resp: Serialize,
    Fut: Future<Output = Result<Resp, ServiceError>>,
{
    stratus_service_kit::wire::call(body, read, operation).await
}

/// Reads a request (or a part of one) of type `T` out of `body`.
fn read<'a, T: Deserialize<'a>>(body: &'a Value) -> Result<T, ServiceError> {
    decode(body).map_err(|error| decode_error(&error))
}

/// EventBridge's text for a missing member `key`.
fn null(key: &str) -> ServiceError {
    invalid(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        field_name(key)
    ))
}

/// Lists of strings that EventBridge, when anything in them is wrong,
/// answers as missing.
const NULL_LISTS: &[&str] = &["TagKeys", "FilterArns"];

/// Members that, when they are not the JSON type they should be, are
/// answered as missing.
const NULL_UNLESS_TYPED: &[&str] = &["Entries", "Targets", "AuthParameters", "Destination"];

/// Timestamp members.
const TIMES: &[&str] = &["Time", "EventStartTime", "EventEndTime"];

/// A request that is not its operation's type, in EventBridge's words.
fn decode_error(error: &DecodeError) -> ServiceError {
    let keys: Vec<&str> = error
        .path
        .iter()
        .filter_map(|step| match step {
            Segment::Key(key) => Some(key.as_str()),
            Segment::Index(_) => None,
        })
        .collect();
    let top = error.top();
    let leaf = error.leaf();
    if let Some(list) = keys.iter().find(|key| NULL_LISTS.contains(key)) {
        return null(list);
    }
    if top == "Tags" {
        return invalid("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must be a list of tags with a Key and a Value".into());
    }
    if top == "Ids" {
        return invalid("1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must be a non-empty list of strings".into());
    }
    if keys.contains(&"Resources") {
        return invalid("Parameter Resources must be a list of strings.".into());
    }
    let value = error.value.clone().unwrap_or(Value::Null);
    match &error.problem {
        Problem::Missing => null(leaf),
        Problem::Invalid(message) if message == EMPTY => null(leaf),
        _ if TIMES.contains(&leaf) => invalid(format!("Parameter {leaf} is not valid.")),
        _ if error.path.len() == 1 && NULL_UNLESS_TYPED.contains(&leaf) => null(leaf),
        _ => match leaf {
            "Limit" => invalid(format!(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value between 1 and {MAX_LIST_RESULTS}"
            )),
            "RetentionDays" => invalid(format!(
                "1 validation error detected: Value '{value}' at 'retentionDays' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )),
            "InvocationRateLimitPerSecond" => invalid(format!(
                "1 validation error detected: Value '{value}' at 'invocationRateLimitPerSecond' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )),
            "InputTransformer" => invalid("InputTransformer must be an object.".into()),
            _ => invalid(format!(
                "1 validation error detected: Value at '{leaf}' failed to satisfy constraint: Member must be a string"
            )),
        },
    }
}

/// An event service's error in EventBridge's codes.
fn to_aws(error: &ServiceError) -> AwsError {
    let status = match error.kind {
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Throttled => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let code = match error.code {
        // The store's generic codes, in EventBridge's words.
        "ResourceNotFound" => "ResourceNotFoundException",
        "Conflict" => "ResourceAlreadyExistsException",
        "InvalidParameterValue" => "ValidationException",
        "InternalFailure" => "InternalException",
        other => other,
    };
    AwsError::new(status, code, error.message.clone())
}

fn invalid(message: String) -> ServiceError {
    ServiceError::invalid("ValidationException", message)
}

/// `field` as AWS names it in messages: the member's name, lower camel.
fn field_name(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A member required in this case (not by the request type): present and
/// not empty.
fn required(value: Option<String>, key: &str) -> Result<String, ServiceError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| null(key))
}

/// A timestamp in epoch seconds, as the JSON protocol writes them.
fn epoch(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// A timestamp member `key` (epoch seconds or RFC 3339) in ms.
fn millis(time: &Timestamp, key: &str) -> Result<i64, ServiceError> {
    let bad = || invalid(format!("Parameter {key} is not valid."));
    match time {
        Timestamp::Seconds(seconds) => {
            let millis = (seconds * 1000.0).round();
            if !millis.is_finite() || millis.abs() > 1e16 {
                return Err(bad());
            }
            Ok(millis as i64)
        }
        Timestamp::Text(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .map_err(|_| bad()),
    }
}

/// `Time` of a PutEvents entry as RFC 3339 (text is kept as it is).
fn time_of(time: Option<Timestamp>) -> Result<Option<String>, ServiceError> {
    let ms = match time {
        None => return Ok(None),
        Some(Timestamp::Text(text)) => return Ok(Some(text)),
        Some(time) => millis(&time, "Time")?,
    };
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| Some(t.to_rfc3339()))
        .ok_or_else(|| invalid("Parameter Time is not valid.".into()))
}

fn tag_pairs(tags: Vec<Tag>) -> Vec<(String, String)> {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

async fn put_events(
    events: &Events,
    request: PutEventsRequest,
) -> Result<PutEventsResult, ServiceError> {
    let mut entries = Vec::with_capacity(request.entries.len());
    for entry in request.entries {
        entries.push(PutEventsEntry {
            source: entry.source.unwrap_or_default(),
            detail_type: entry.detail_type.unwrap_or_default(),
            detail: entry.detail.unwrap_or_default(),
            bus: entry.event_bus_name,
            resources: entry.resources,
            time: time_of(entry.time)?,
            trace_header: entry.trace_header,
        });
    }
    check_put_events(&entries)?;
    let results = events.put_events(entries).await;
    let mut failed = 0;
    let entries = results
        .into_iter()
        .map(|r| match r {
            Ok(id) => PutEventsResultEntry {
                event_id: Some(id),
                error_code: None,
                error_message: None,
            },
            Err(e) => {
                failed += 1;
                PutEventsResultEntry {
                    event_id: None,
                    error_code: Some(e.code.to_string()),
                    error_message: Some(e.message),
                }
            }
        })
        .collect();
    Ok(PutEventsResult {
        failed_entry_count: failed,
        entries,
    })
}

fn rule_result(rule: &RuleRecord) -> Rule {
    Rule {
        name: rule.name.clone(),
        arn: rule_arn(&rule.bus, &rule.name),
        state: if rule.enabled { "ENABLED" } else { "DISABLED" },
        event_bus_name: crate::bus::bare(&rule.bus).to_string(),
        created_by: ACCOUNT_ID,
        event_pattern: rule.pattern.clone(),
        schedule_expression: rule.schedule.clone(),
        description: rule.description.clone(),
    }
}

async fn put_rule(events: &Events, request: PutRuleRequest) -> Result<PutRuleResult, ServiceError> {
    let rule = PutRule {
        name: request.name.0,
        bus: request.event_bus_name,
        pattern: request.event_pattern,
        schedule: request.schedule_expression,
        state: request.state,
        description: request.description,
        tags: tag_pairs(request.tags),
    };
    let rule_arn = events.put_rule(rule).await?;
    Ok(PutRuleResult { rule_arn })
}

async fn describe_rule(events: &Events, request: RuleRequest) -> Result<Rule, ServiceError> {
    let rule = events
        .describe_rule(request.event_bus_name.as_deref(), &request.name)
        .await?;
    Ok(rule_result(&rule))
}

async fn delete_rule(events: &Events, request: DeleteRuleRequest) -> Result<Empty, ServiceError> {
    events
        .delete_rule(
            request.event_bus_name.as_deref(),
            &request.name,
            request.force.0,
        )
        .await?;
    Ok(Empty {})
}

/// A page of `items` from `next_token` (an offset) of at most `limit`,
/// and the next page's token.
fn page<T>(
    items: Vec<T>,
    next_token: Option<&str>,
    limit: Option<u64>,
) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let start = match next_token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| invalid("The NextToken is not valid.".into()))?,
    };
    let limit = match limit {
        None => MAX_LIST_RESULTS,
        Some(n) if (1..=MAX_LIST_RESULTS as u64).contains(&n) => n as usize,
        Some(_) => {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value between 1 and {MAX_LIST_RESULTS}"
            )));
        }
    };
    let total = items.len();
    let end = (start + limit).min(total);
    let next = (end < total).then(|| end.to_string());
    let items = items.into_iter().skip(start).take(limit).collect();
    Ok((items, next))
}

async fn list_rules(
    events: &Events,
    request: ListRulesRequest,
) -> Result<ListRulesResult, ServiceError> {
    let prefix = request.name_prefix.as_deref().unwrap_or("");
    let rules = events
        .list_rules(request.event_bus_name.as_deref(), prefix)
        .await?;
    let (rules, next_token) = page(rules, request.next_token.as_deref(), request.limit)?;
    Ok(ListRulesResult {
        items: rules.iter().map(rule_result).collect(),
        next_token,
    })
}

async fn set_enabled(
    events: &Events,
    request: RuleRequest,
    enabled: bool,
) -> Result<Empty, ServiceError> {
    events
        .set_rule_enabled(request.event_bus_name.as_deref(), &request.name, enabled)
        .await?;
    Ok(Empty {})
}

fn targets_result(failed: Vec<FailedTarget>) -> TargetsResult {
    TargetsResult {
        failed_entry_count: failed.len(),
        failed_entries: failed
            .into_iter()
            .map(|f| FailedEntry {
                target_id: f.id,
                error_code: f.code,
                error_message: f.message,
            })
            .collect(),
    }
}

async fn put_targets(
    events: &Events,
    request: PutTargetsRequest,
) -> Result<TargetsResult, ServiceError> {
    let mut targets = Vec::with_capacity(request.targets.len());
    for (i, raw) in request.targets.iter().enumerate() {
        let target: PutTargetsRequestEntry = read(raw)?;
        let Some(id) = target.id else {
            return Err(invalid(format!(
                "1 validation error detected: Value null at 'targets.{}.member.id' failed to satisfy constraint: Member must not be null",
                i + 1
            )));
        };
        targets.push(PutTarget {
            id,
            arn: required(target.arn, "Arn")?,
            input: target.input,
            input_path: target.input_path,
            input_transformer: target
                .input_transformer
                .map(|map| Value::Object(map).to_string()),
            params: target_params(i + 1, raw)?,
        });
    }
    let failed = events
        .put_targets(request.event_bus_name.as_deref(), &request.rule, targets)
        .await?;
    Ok(targets_result(failed))
}

async fn remove_targets(
    events: &Events,
    request: RemoveTargetsRequest,
) -> Result<TargetsResult, ServiceError> {
    if request.ids.is_empty() {
        return Err(invalid("1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must be a non-empty list of strings".into()));
    }
    let failed = events
        .remove_targets(
            request.event_bus_name.as_deref(),
            &request.rule,
            request.ids,
        )
        .await?;
    Ok(targets_result(failed))
}

fn target_result(t: &TargetRecord) -> Target {
    Target {
        id: t.id.clone(),
        arn: t.arn.clone(),
        input: t.input.clone(),
        input_path: t.input_path.clone(),
        input_transformer: t
            .input_transformer
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok()),
        params: match t.params.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(params))) => params,
            _ => serde_json::Map::new(),
        },
    }
}

async fn list_targets(
    events: &Events,
    request: ListTargetsByRuleRequest,
) -> Result<ListTargetsByRuleResult, ServiceError> {
    let targets = events
        .list_targets(request.event_bus_name.as_deref(), &request.rule)
        .await?;
    let (targets, next_token) = page(targets, request.next_token.as_deref(), request.limit)?;
    Ok(ListTargetsByRuleResult {
        items: targets.iter().map(target_result).collect(),
        next_token,
    })
}

async fn list_rule_names_by_target(
    events: &Events,
    request: ListRuleNamesByTargetRequest,
) -> Result<ListRuleNamesByTargetResult, ServiceError> {
    let names = events
        .list_rule_names_by_target(request.event_bus_name.as_deref(), &request.target_arn)
        .await?;
    let (items, next_token) = page(names, request.next_token.as_deref(), request.limit)?;
    Ok(ListRuleNamesByTargetResult { items, next_token })
}

fn bus_result(bus: &BusRecord) -> EventBus {
    let made = bus.created_ms > 0;
    EventBus {
        name: crate::bus::bare(&bus.name).to_string(),
        arn: bus_arn(&bus.name),
        description: bus.description.clone(),
        creation_time: made.then(|| epoch(bus.created_ms)),
        last_modified_time: made.then(|| epoch(bus.modified_ms.max(bus.created_ms))),
        policy: bus.policy.clone(),
    }
}

async fn create_bus(
    events: &Events,
    request: CreateEventBusRequest,
) -> Result<CreateEventBusResult, ServiceError> {
    if request.event_source_name.is_some() {
        return Err(invalid(
            "Partner event sources are not supported by Stratus.".into(),
        ));
    }
    let description = request.description;
    let bus = events
        .create_tagged_event_bus(&request.name, description.clone(), tag_pairs(request.tags))
        .await?;
    Ok(CreateEventBusResult {
        event_bus_arn: bus_arn(&bus.name),
        description,
    })
}

async fn delete_bus(events: &Events, request: NameRequest) -> Result<Empty, ServiceError> {
    events.delete_event_bus(&request.name).await?;
    Ok(Empty {})
}

async fn describe_bus(
    events: &Events,
    request: DescribeEventBusRequest,
) -> Result<EventBus, ServiceError> {
    let bus = events.describe_event_bus(request.name.as_deref()).await?;
    Ok(bus_result(&bus))
}

async fn list_buses(
    events: &Events,
    request: ListEventBusesRequest,
) -> Result<ListEventBusesResult, ServiceError> {
    let prefix = request.name_prefix.as_deref().unwrap_or("");
    let buses = events.list_event_buses(prefix).await?;
    let (buses, next_token) = page(buses, request.next_token.as_deref(), request.limit)?;
    Ok(ListEventBusesResult {
        items: buses.iter().map(bus_result).collect(),
        next_token,
    })
}

async fn put_permission(
    events: &Events,
    request: PutPermissionRequest,
) -> Result<Empty, ServiceError> {
    let statement = match request.policy {
        Some(_) => None,
        None => {
            let condition = match request.condition {
                None => None,
                Some(c) => Some((
                    required(c.r#type, "Type")?,
                    required(c.key, "Key")?,
                    required(c.value, "Value")?,
                )),
            };
            Some(PermissionStatement {
                statement_id: required(request.statement_id, "StatementId")?,
                action: required(request.action, "Action")?,
                principal: required(request.principal, "Principal")?,
                condition,
            })
        }
    };
    events
        .put_permission(request.event_bus_name.as_deref(), statement, request.policy)
        .await?;
    Ok(Empty {})
}

async fn remove_permission(
    events: &Events,
    request: RemovePermissionRequest,
) -> Result<Empty, ServiceError> {
    events
        .remove_permission(
            request.event_bus_name.as_deref(),
            request.statement_id,
            request.remove_all_permissions.0,
        )
        .await?;
    Ok(Empty {})
}

async fn tag_resource(events: &Events, request: TagResourceRequest) -> Result<Empty, ServiceError> {
    events
        .tag_resource(&request.resource_arn, tag_pairs(request.tags))
        .await?;
    Ok(Empty {})
}

async fn untag_resource(
    events: &Events,
    request: UntagResourceRequest,
) -> Result<Empty, ServiceError> {
    events
        .untag_resource(&request.resource_arn, request.tag_keys)
        .await?;
    Ok(Empty {})
}

async fn list_tags(
    events: &Events,
    request: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResult, ServiceError> {
    let tags = events.list_tags(&request.resource_arn).await?;
    Ok(ListTagsForResourceResult {
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect(),
    })
}

fn test_event_pattern(
    events: &Events,
    request: TestEventPatternRequest,
) -> Result<TestEventPatternResult, ServiceError> {
    let result = events.test_event_pattern(&request.event_pattern, &request.event)?;
    Ok(TestEventPatternResult { result })
}

fn archive_result(a: &ArchiveRecord, full: bool) -> Archive {
    Archive {
        archive_name: crate::bus::bare(&a.name).to_string(),
        event_source_arn: bus_arn(&a.bus),
        state: a.state.clone(),
        retention_days: a.retention_days,
        size_bytes: a.size_bytes,
        event_count: a.event_count,
        creation_time: epoch(a.created_ms),
        archive_arn: full.then(|| archive_arn(&a.name)),
        description: a.description.clone().filter(|_| full),
        event_pattern: a.pattern.clone().filter(|_| full),
    }
}

fn archive_change(archive: &ArchiveRecord) -> ArchiveResult {
    ArchiveResult {
        archive_arn: archive_arn(&archive.name),
        state: archive.state.clone(),
        creation_time: epoch(archive.created_ms),
    }
}

async fn create_archive(
    events: &Events,
    request: CreateArchiveRequest,
) -> Result<ArchiveResult, ServiceError> {
    let archive = events
        .create_archive(NewArchive {
            name: request.archive_name.0,
            source_arn: request.event_source_arn.0,
            description: request.description,
            pattern: request.event_pattern,
            retention_days: request.retention_days.unwrap_or(0),
        })
        .await?;
    Ok(archive_change(&archive))
}

async fn describe_archive(
    events: &Events,
    request: ArchiveRequest,
) -> Result<Archive, ServiceError> {
    let archive = events.describe_archive(&request.archive_name).await?;
    Ok(archive_result(&archive, true))
}

async fn list_archives(
    events: &Events,
    request: ListArchivesRequest,
) -> Result<ListArchivesResult, ServiceError> {
    let archives = events
        .list_archives(
            request.name_prefix.as_deref().unwrap_or(""),
            request.event_source_arn.as_deref(),
            request.state.as_deref(),
        )
        .await?;
    let (archives, next_token) = page(archives, request.next_token.as_deref(), request.limit)?;
    Ok(ListArchivesResult {
        items: archives.iter().map(|a| archive_result(a, false)).collect(),
        next_token,
    })
}

async fn update_archive(
    events: &Events,
    request: UpdateArchiveRequest,
) -> Result<ArchiveResult, ServiceError> {
    let archive = events
        .update_archive(
            &request.archive_name,
            request.description,
            request.event_pattern,
            request.retention_days,
        )
        .await?;
    Ok(archive_change(&archive))
}

async fn delete_archive(events: &Events, request: ArchiveRequest) -> Result<Empty, ServiceError> {
    events.delete_archive(&request.archive_name).await?;
    Ok(Empty {})
}

fn replay_result(r: &ReplayRecord, full: bool) -> Replay {
    Replay {
        replay_name: crate::bus::bare(&r.name).to_string(),
        event_source_arn: archive_arn(&r.archive),
        state: r.state.clone(),
        event_start_time: epoch(r.start_ms),
        event_end_time: epoch(r.end_ms),
        replay_start_time: epoch(r.replay_start_ms),
        state_reason: r.state_reason.clone(),
        event_last_replayed_time: r.last_replayed_ms.map(epoch),
        replay_end_time: r.replay_end_ms.map(epoch),
        replay_arn: full.then(|| replay_arn(&r.name)),
        destination: full.then(|| Destination {
            arn: bus_arn(&r.bus),
            filter_arns: r.filter_arns.clone(),
        }),
        description: r.description.clone().filter(|_| full),
    }
}

async fn start_replay(
    events: &Events,
    request: StartReplayRequest,
) -> Result<StartReplayResult, ServiceError> {
    let destination = Value::Object(request.destination);
    let destination: ReplayDestination = read(&destination)?;
    let replay = events
        .start_replay(NewReplay {
            name: request.replay_name.0,
            description: request.description,
            source_arn: request.event_source_arn.0,
            start_ms: millis(&request.event_start_time, "EventStartTime")?,
            end_ms: millis(&request.event_end_time, "EventEndTime")?,
            destination: destination.arn.0,
            filter_arns: destination.filter_arns.unwrap_or_default(),
        })
        .await?;
    Ok(StartReplayResult {
        replay_arn: replay_arn(&replay.name),
        state: replay.state,
        replay_start_time: epoch(replay.replay_start_ms),
    })
}

async fn describe_replay(events: &Events, request: ReplayRequest) -> Result<Replay, ServiceError> {
    let replay = events.describe_replay(&request.replay_name).await?;
    Ok(replay_result(&replay, true))
}

async fn list_replays(
    events: &Events,
    request: ListReplaysRequest,
) -> Result<ListReplaysResult, ServiceError> {
    let replays = events
        .list_replays(
            request.name_prefix.as_deref().unwrap_or(""),
            request.state.as_deref(),
            request.event_source_arn.as_deref(),
        )
        .await?;
    let (replays, next_token) = page(replays, request.next_token.as_deref(), request.limit)?;
    Ok(ListReplaysResult {
        items: replays.iter().map(|r| replay_result(r, false)).collect(),
        next_token,
    })
}

async fn cancel_replay(
    events: &Events,
    request: ReplayRequest,
) -> Result<CancelReplayResult, ServiceError> {
    let replay = events.cancel_replay(&request.replay_name).await?;
    Ok(CancelReplayResult {
        replay_arn: replay_arn(&replay.name),
        state: replay.state,
    })
}

/// A connection; `full` for `DescribeConnection`, `listed` for every
/// answer but `CreateConnection`'s and `DeleteConnection`'s.
fn connection_result(c: &ConnectionRecord, full: bool) -> Connection {
    Connection {
        connection_arn: connection_arn(c),
        name: Some(crate::bus::bare(&c.name).to_string()),
        connection_state: c.state.clone(),
        authorization_type: Some(c.auth_type.clone()),
        creation_time: epoch(c.created_ms),
        last_modified_time: epoch(c.modified_ms),
        last_authorized_time: c.authorized_ms.map(epoch),
        auth_parameters: full.then(|| public_auth(c)),
        secret_arn: full.then(|| secret_arn(c)),
        description: c.description.clone().filter(|_| full),
    }
}

async fn create_connection(
    events: &Events,
    request: CreateConnectionRequest,
) -> Result<Connection, ServiceError> {
    let c = events
        .create_connection(NewConnection {
            name: request.name.0,
            description: request.description,
            auth_type: request.authorization_type.0,
            auth: Value::Object(request.auth_parameters),
        })
        .await?;
    Ok(Connection {
        connection_arn: connection_arn(&c),
        name: None,
        connection_state: c.state.clone(),
        authorization_type: None,
        creation_time: epoch(c.created_ms),
        last_modified_time: epoch(c.modified_ms),
        last_authorized_time: None,
        auth_parameters: None,
        secret_arn: None,
        description: None,
    })
}

async fn describe_connection(
    events: &Events,
    request: NameRequest,
) -> Result<Connection, ServiceError> {
    let c = events.describe_connection(&request.name).await?;
    Ok(connection_result(&c, true))
}

async fn list_connections(
    events: &Events,
    request: ListConnectionsRequest,
) -> Result<ListConnectionsResult, ServiceError> {
    let list = events
        .list_connections(
            request.name_prefix.as_deref().unwrap_or(""),
            request.connection_state.as_deref(),
        )
        .await?;
    let (list, next_token) = page(list, request.next_token.as_deref(), request.limit)?;
    Ok(ListConnectionsResult {
        items: list.iter().map(|c| connection_result(c, false)).collect(),
        next_token,
    })
}

async fn delete_connection(
    events: &Events,
    request: NameRequest,
) -> Result<Connection, ServiceError> {
    let c = events.delete_connection(&request.name).await?;
    Ok(Connection {
        name: None,
        connection_state: "DELETING".into(),
        authorization_type: None,
        ..connection_result(&c, false)
    })
}

fn destination_result(d: &ApiDestinationRecord, state: &str, full: bool) -> ApiDestination {
    ApiDestination {
        api_destination_arn: destination_arn(d),
        name: Some(crate::bus::bare(&d.name).to_string()),
        api_destination_state: state.to_string(),
        connection_arn: Some(d.connection_arn.clone()),
        invocation_endpoint: Some(d.endpoint.clone()),
        http_method: Some(d.method.clone()),
        invocation_rate_limit_per_second: Some(d.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT)),
        creation_time: epoch(d.created_ms),
        last_modified_time: epoch(d.modified_ms),
        description: d.description.clone().filter(|_| full),
    }
}

async fn create_api_destination(
    events: &Events,
    request: CreateApiDestinationRequest,
) -> Result<ApiDestination, ServiceError> {
    let (d, state) = events
        .create_api_destination(NewApiDestination {
            name: request.name.0,
            description: request.description,
            connection_arn: request.connection_arn.0,
            endpoint: request.invocation_endpoint.0,
            method: request.http_method.0,
            rate_limit: request.invocation_rate_limit_per_second,
        })
        .await?;
    Ok(ApiDestination {
        name: None,
        connection_arn: None,
        invocation_endpoint: None,
        http_method: None,
        invocation_rate_limit_per_second: None,
        description: None,
        ..destination_result(&d, &state, false)
    })
}

async fn describe_api_destination(
    events: &Events,
    request: NameRequest,
) -> Result<ApiDestination, ServiceError> {
    let (d, state) = events.describe_api_destination(&request.name).await?;
    Ok(destination_result(&d, &state, true))
}

async fn list_api_destinations(
    events: &Events,
    request: ListApiDestinationsRequest,
) -> Result<ListApiDestinationsResult, ServiceError> {
    let list = events
        .list_api_destinations(
            request.name_prefix.as_deref().unwrap_or(""),
            request.connection_arn.as_deref(),
        )
        .await?;
    let (list, next_token) = page(list, request.next_token.as_deref(), request.limit)?;
    Ok(ListApiDestinationsResult {
        items: list
            .iter()
            .map(|(d, state)| destination_result(d, state, false))
            .collect(),
        next_token,
    })
}

async fn delete_api_destination(
    events: &Events,
    request: NameRequest,
) -> Result<Empty, ServiceError> {
    events.delete_api_destination(&request.name).await?;
    Ok(Empty {})
}
