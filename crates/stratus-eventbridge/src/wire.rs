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
use serde_json::{Value, json};
use stratus_aws::AwsRequest;
use stratus_aws::{AwsError, Protocol};
use stratus_core::function::{ACCOUNT_ID, bus_arn, rule_arn};

/// Largest page of the List operations.
const MAX_LIST_RESULTS: usize = 100;

type Outcome = Result<Value, ServiceError>;

pub(crate) async fn handle(
    events: &Events,
    operation: &str,
    request: AwsRequest,
) -> Result<Reply, AwsError> {
    let Some(body) = crate::json_body(&request.body) else {
        return Err(to_aws(&invalid(
            "The request body is not a valid JSON object.".to_string(),
        )));
    };
    let reply = match operation {
        "PutEvents" => put_events(events, &body).await,
        "PutRule" => put_rule(events, &body).await,
        "DescribeRule" => describe_rule(events, &body).await,
        "DeleteRule" => delete_rule(events, &body).await,
        "ListRules" => list_rules(events, &body).await,
        "EnableRule" => set_enabled(events, &body, true).await,
        "DisableRule" => set_enabled(events, &body, false).await,
        "PutTargets" => put_targets(events, &body).await,
        "RemoveTargets" => remove_targets(events, &body).await,
        "ListTargetsByRule" => list_targets(events, &body).await,
        "ListRuleNamesByTarget" => list_rule_names_by_target(events, &body).await,
        "CreateEventBus" => create_bus(events, &body).await,
        "DeleteEventBus" => delete_bus(events, &body).await,
        "DescribeEventBus" => describe_bus(events, &body).await,
        "ListEventBuses" => list_buses(events, &body).await,
        "PutPermission" => put_permission(events, &body).await,
        "RemovePermission" => remove_permission(events, &body).await,
        "TagResource" => tag_resource(events, &body).await,
        "UntagResource" => untag_resource(events, &body).await,
        "ListTagsForResource" => list_tags(events, &body).await,
        "TestEventPattern" => test_event_pattern(events, &body),
        "CreateArchive" => create_archive(events, &body).await,
        "DescribeArchive" => describe_archive(events, &body).await,
        "ListArchives" => list_archives(events, &body).await,
        "UpdateArchive" => update_archive(events, &body).await,
        "DeleteArchive" => delete_archive(events, &body).await,
        "StartReplay" => start_replay(events, &body).await,
        "DescribeReplay" => describe_replay(events, &body).await,
        "ListReplays" => list_replays(events, &body).await,
        "CancelReplay" => cancel_replay(events, &body).await,
        "CreateConnection" => create_connection(events, &body).await,
        "DescribeConnection" => describe_connection(events, &body).await,
        "ListConnections" => list_connections(events, &body).await,
        "DeleteConnection" => delete_connection(events, &body).await,
        "CreateApiDestination" => create_api_destination(events, &body).await,
        "DescribeApiDestination" => describe_api_destination(events, &body).await,
        "ListApiDestinations" => list_api_destinations(events, &body).await,
        "DeleteApiDestination" => delete_api_destination(events, &body).await,
        other => Err(ServiceError::invalid(
            "UnknownOperationException",
            format!("The operation {other} is not supported."),
        )),
    };
    let value = reply.map_err(|e| to_aws(&e))?;
    Ok(Protocol::Json11.json_ok(&value, &request.context.request_id))
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

/// An optional string member; present but not a string is refused.
fn opt_str<'a>(body: &'a Value, key: &str) -> Result<Option<&'a str>, ServiceError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!(
            "1 validation error detected: Value at '{key}' failed to satisfy constraint: Member must be a string"
        ))),
    }
}

/// `field` as AWS names it in messages: the member's name, lower camel.
fn field_name(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn req_str<'a>(body: &'a Value, key: &str) -> Result<&'a str, ServiceError> {
    match opt_str(body, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            field_name(key)
        ))),
    }
}

fn opt_bool(body: &Value, key: &str) -> bool {
    body.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn bus_of(body: &Value) -> Result<Option<&str>, ServiceError> {
    opt_str(body, "EventBusName")
}

/// A timestamp in epoch seconds, as the JSON protocol writes them.
fn epoch(ms: i64) -> Value {
    json!(ms.div_euclid(1000))
}

/// A timestamp member (epoch seconds, what the SDKs send, or RFC 3339) in
/// ms.
fn time_member(body: &Value, key: &str) -> Result<Option<i64>, ServiceError> {
    let bad = || invalid(format!("Parameter {key} is not valid."));
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let millis = (n.as_f64().unwrap_or(f64::NAN) * 1000.0).round();
            if !millis.is_finite() || millis.abs() > 1e16 {
                return Err(bad());
            }
            Ok(Some(millis as i64))
        }
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// `Time` of a PutEvents entry as RFC 3339.
fn time_of(entry: &Value) -> Result<Option<String>, ServiceError> {
    if let Some(Value::String(s)) = entry.get("Time") {
        return Ok(Some(s.clone()));
    }
    let Some(ms) = time_member(entry, "Time")? else {
        return Ok(None);
    };
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| Some(t.to_rfc3339()))
        .ok_or_else(|| invalid("Parameter Time is not valid.".into()))
}

/// `Tags`: `[{"Key": .., "Value": ..}]`.
fn tags_of(body: &Value) -> Result<Vec<(String, String)>, ServiceError> {
    let Some(list) = body.get("Tags").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let bad = || {
        invalid("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must be a list of tags with a Key and a Value".into())
    };
    let items = list.as_array().ok_or_else(bad)?;
    items
        .iter()
        .map(|t| {
            let key = t.get("Key").and_then(Value::as_str).ok_or_else(bad)?;
            let value = t.get("Value").and_then(Value::as_str).ok_or_else(bad)?;
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// A list of strings member, required.
fn str_list(body: &Value, key: &str) -> Result<Vec<String>, ServiceError> {
    body.get(key)
        .and_then(Value::as_array)
        .and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            invalid(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                field_name(key)
            ))
        })
}

async fn put_events(events: &Events, body: &Value) -> Outcome {
    let Some(list) = body.get("Entries").and_then(Value::as_array) else {
        return Err(invalid(
            "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    let mut entries = Vec::with_capacity(list.len());
    for entry in list {
        let resources = match entry.get("Resources") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|r| r.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("Parameter Resources must be a list of strings.".into()))?,
            Some(_) => {
                return Err(invalid(
                    "Parameter Resources must be a list of strings.".into(),
                ));
            }
        };
        entries.push(PutEventsEntry {
            source: opt_str(entry, "Source")?.unwrap_or_default().to_string(),
            detail_type: opt_str(entry, "DetailType")?
                .unwrap_or_default()
                .to_string(),
            detail: opt_str(entry, "Detail")?.unwrap_or_default().to_string(),
            bus: opt_str(entry, "EventBusName")?.map(str::to_string),
            resources,
            time: time_of(entry)?,
            trace_header: opt_str(entry, "TraceHeader")?.map(str::to_string),
        });
    }
    check_put_events(&entries)?;
    let results = events.put_events(entries).await;
    let mut failed = 0;
    let answers: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(id) => json!({"EventId": id}),
            Err(e) => {
                failed += 1;
                json!({"ErrorCode": e.code, "ErrorMessage": e.message})
            }
        })
        .collect();
    Ok(json!({"FailedEntryCount": failed, "Entries": answers}))
}

fn rule_json(rule: &RuleRecord) -> Value {
    let mut out = json!({
        "Name": rule.name,
        "Arn": rule_arn(&rule.bus, &rule.name),
        "State": if rule.enabled { "ENABLED" } else { "DISABLED" },
        "EventBusName": rule.bus,
        "CreatedBy": ACCOUNT_ID,
    });
    if let Some(p) = &rule.pattern {
        out["EventPattern"] = json!(p);
    }
    if let Some(s) = &rule.schedule {
        out["ScheduleExpression"] = json!(s);
    }
    if let Some(d) = &rule.description {
        out["Description"] = json!(d);
    }
    out
}

async fn put_rule(events: &Events, body: &Value) -> Outcome {
    let rule = PutRule {
        name: req_str(body, "Name")?.to_string(),
        bus: bus_of(body)?.map(str::to_string),
        pattern: opt_str(body, "EventPattern")?.map(str::to_string),
        schedule: opt_str(body, "ScheduleExpression")?.map(str::to_string),
        state: opt_str(body, "State")?.map(str::to_string),
        description: opt_str(body, "Description")?.map(str::to_string),
        tags: tags_of(body)?,
    };
    let arn = events.put_rule(rule).await?;
    Ok(json!({"RuleArn": arn}))
}

async fn describe_rule(events: &Events, body: &Value) -> Outcome {
    let rule = events
        .describe_rule(bus_of(body)?, req_str(body, "Name")?)
        .await?;
    Ok(rule_json(&rule))
}

async fn delete_rule(events: &Events, body: &Value) -> Outcome {
    events
        .delete_rule(
            bus_of(body)?,
            req_str(body, "Name")?,
            opt_bool(body, "Force"),
        )
        .await?;
    Ok(json!({}))
}

/// A page of `items` from `NextToken` (an offset) of at most `Limit`.
fn page<T>(items: Vec<T>, body: &Value) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let start = match opt_str(body, "NextToken")? {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| invalid("The NextToken is not valid.".into()))?,
    };
    let limit = match body.get("Limit") {
        None | Some(Value::Null) => MAX_LIST_RESULTS,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_LIST_RESULTS as u64).contains(&n) => n as usize,
            _ => {
                return Err(invalid(format!(
                    "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value between 1 and {MAX_LIST_RESULTS}"
                )));
            }
        },
    };
    let total = items.len();
    let end = (start + limit).min(total);
    let next = (end < total).then(|| end.to_string());
    let items = items.into_iter().skip(start).take(limit).collect();
    Ok((items, next))
}

/// `{key: [items...]}` with `NextToken` when there are more.
fn paged(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut out = json!({ key: items });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    out
}

async fn list_rules(events: &Events, body: &Value) -> Outcome {
    let prefix = opt_str(body, "NamePrefix")?.unwrap_or("");
    let rules = events.list_rules(bus_of(body)?, prefix).await?;
    let (rules, next) = page(rules, body)?;
    Ok(paged("Rules", rules.iter().map(rule_json).collect(), next))
}

async fn set_enabled(events: &Events, body: &Value, enabled: bool) -> Outcome {
    events
        .set_rule_enabled(bus_of(body)?, req_str(body, "Name")?, enabled)
        .await?;
    Ok(json!({}))
}

fn failed_json(failed: Vec<FailedTarget>) -> Value {
    let count = failed.len();
    let entries: Vec<Value> = failed
        .into_iter()
        .map(|f| json!({"TargetId": f.id, "ErrorCode": f.code, "ErrorMessage": f.message}))
        .collect();
    json!({"FailedEntryCount": count, "FailedEntries": entries})
}

async fn put_targets(events: &Events, body: &Value) -> Outcome {
    let rule = req_str(body, "Rule")?;
    let Some(list) = body.get("Targets").and_then(Value::as_array) else {
        return Err(invalid(
            "1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    let mut targets = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let transformer = match t.get("InputTransformer") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.to_string()),
            Some(_) => return Err(invalid("InputTransformer must be an object.".into())),
        };
        let Some(id) = opt_str(t, "Id")? else {
            return Err(invalid(format!(
                "1 validation error detected: Value null at 'targets.{}.member.id' failed to satisfy constraint: Member must not be null",
                i + 1
            )));
        };
        targets.push(PutTarget {
            id: id.to_string(),
            arn: req_str(t, "Arn")?.to_string(),
            input: opt_str(t, "Input")?.map(str::to_string),
            input_path: opt_str(t, "InputPath")?.map(str::to_string),
            input_transformer: transformer,
            params: target_params(i + 1, t)?,
        });
    }
    let failed = events.put_targets(bus_of(body)?, rule, targets).await?;
    Ok(failed_json(failed))
}

async fn remove_targets(events: &Events, body: &Value) -> Outcome {
    let rule = req_str(body, "Rule")?;
    let ids = body
        .get("Ids")
        .and_then(Value::as_array)
        .and_then(|ids| {
            ids.iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| {
            invalid("1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must be a non-empty list of strings".into())
        })?;
    let failed = events.remove_targets(bus_of(body)?, rule, ids).await?;
    Ok(failed_json(failed))
}

fn target_json(t: &TargetRecord) -> Value {
    let mut out = json!({"Id": t.id, "Arn": t.arn});
    if let Some(i) = &t.input {
        out["Input"] = json!(i);
    }
    if let Some(p) = &t.input_path {
        out["InputPath"] = json!(p);
    }
    if let Some(text) = &t.input_transformer
        && let Ok(v) = serde_json::from_str::<Value>(text)
    {
        out["InputTransformer"] = v;
    }
    if let Some(text) = &t.params
        && let Ok(Value::Object(params)) = serde_json::from_str::<Value>(text)
    {
        for (k, v) in params {
            out[k] = v;
        }
    }
    out
}

async fn list_targets(events: &Events, body: &Value) -> Outcome {
    let rule = req_str(body, "Rule")?;
    let targets = events.list_targets(bus_of(body)?, rule).await?;
    let (targets, next) = page(targets, body)?;
    Ok(paged(
        "Targets",
        targets.iter().map(target_json).collect(),
        next,
    ))
}

async fn list_rule_names_by_target(events: &Events, body: &Value) -> Outcome {
    let arn = req_str(body, "TargetArn")?;
    let names = events.list_rule_names_by_target(bus_of(body)?, arn).await?;
    let (names, next) = page(names, body)?;
    Ok(paged(
        "RuleNames",
        names.into_iter().map(Value::String).collect(),
        next,
    ))
}

fn bus_json(bus: &BusRecord) -> Value {
    let mut out = json!({"Name": bus.name, "Arn": bus_arn(&bus.name)});
    if let Some(d) = &bus.description {
        out["Description"] = json!(d);
    }
    if bus.created_ms > 0 {
        out["CreationTime"] = epoch(bus.created_ms);
        out["LastModifiedTime"] = epoch(bus.modified_ms.max(bus.created_ms));
    }
    if let Some(p) = &bus.policy {
        out["Policy"] = json!(p);
    }
    out
}

async fn create_bus(events: &Events, body: &Value) -> Outcome {
    let name = req_str(body, "Name")?;
    if opt_str(body, "EventSourceName")?.is_some() {
        return Err(invalid(
            "Partner event sources are not supported by Stratus.".into(),
        ));
    }
    let description = opt_str(body, "Description")?.map(str::to_string);
    let bus = events
        .create_tagged_event_bus(name, description.clone(), tags_of(body)?)
        .await?;
    let mut out = json!({"EventBusArn": bus_arn(&bus.name)});
    if let Some(d) = description {
        out["Description"] = json!(d);
    }
    Ok(out)
}

async fn delete_bus(events: &Events, body: &Value) -> Outcome {
    events.delete_event_bus(req_str(body, "Name")?).await?;
    Ok(json!({}))
}

async fn describe_bus(events: &Events, body: &Value) -> Outcome {
    let bus = events.describe_event_bus(opt_str(body, "Name")?).await?;
    Ok(bus_json(&bus))
}

async fn list_buses(events: &Events, body: &Value) -> Outcome {
    let prefix = opt_str(body, "NamePrefix")?.unwrap_or("");
    let buses = events.list_event_buses(prefix).await?;
    let (buses, next) = page(buses, body)?;
    Ok(paged(
        "EventBuses",
        buses.iter().map(bus_json).collect(),
        next,
    ))
}

async fn put_permission(events: &Events, body: &Value) -> Outcome {
    let policy = opt_str(body, "Policy")?.map(str::to_string);
    let statement = match policy {
        Some(_) => None,
        None => {
            let condition = match body.get("Condition").filter(|c| !c.is_null()) {
                None => None,
                Some(c) => Some((
                    req_str(c, "Type")?.to_string(),
                    req_str(c, "Key")?.to_string(),
                    req_str(c, "Value")?.to_string(),
                )),
            };
            Some(PermissionStatement {
                statement_id: req_str(body, "StatementId")?.to_string(),
                action: req_str(body, "Action")?.to_string(),
                principal: req_str(body, "Principal")?.to_string(),
                condition,
            })
        }
    };
    events
        .put_permission(bus_of(body)?, statement, policy)
        .await?;
    Ok(json!({}))
}

async fn remove_permission(events: &Events, body: &Value) -> Outcome {
    events
        .remove_permission(
            bus_of(body)?,
            opt_str(body, "StatementId")?.map(str::to_string),
            opt_bool(body, "RemoveAllPermissions"),
        )
        .await?;
    Ok(json!({}))
}

async fn tag_resource(events: &Events, body: &Value) -> Outcome {
    let arn = req_str(body, "ResourceARN")?;
    events.tag_resource(arn, tags_of(body)?).await?;
    Ok(json!({}))
}

async fn untag_resource(events: &Events, body: &Value) -> Outcome {
    let arn = req_str(body, "ResourceARN")?;
    events
        .untag_resource(arn, str_list(body, "TagKeys")?)
        .await?;
    Ok(json!({}))
}

async fn list_tags(events: &Events, body: &Value) -> Outcome {
    let arn = req_str(body, "ResourceARN")?;
    let tags = events.list_tags(arn).await?;
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({"Tags": tags}))
}

fn test_event_pattern(events: &Events, body: &Value) -> Outcome {
    let pattern = req_str(body, "EventPattern")?;
    let event = req_str(body, "Event")?;
    let result = events.test_event_pattern(pattern, event)?;
    Ok(json!({"Result": result}))
}

fn archive_json(a: &ArchiveRecord, full: bool) -> Value {
    let mut out = json!({
        "ArchiveName": a.name,
        "EventSourceArn": bus_arn(&a.bus),
        "State": a.state,
        "RetentionDays": a.retention_days,
        "SizeBytes": a.size_bytes,
        "EventCount": a.event_count,
        "CreationTime": epoch(a.created_ms),
    });
    if full {
        out["ArchiveArn"] = json!(archive_arn(&a.name));
        if let Some(d) = &a.description {
            out["Description"] = json!(d);
        }
        if let Some(p) = &a.pattern {
            out["EventPattern"] = json!(p);
        }
    }
    out
}

fn retention_of(body: &Value) -> Result<Option<u32>, ServiceError> {
    match body.get("RetentionDays") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                invalid(format!(
                    "1 validation error detected: Value '{v}' at 'retentionDays' failed to satisfy constraint: Member must have value greater than or equal to 0"
                ))
            }),
    }
}

async fn create_archive(events: &Events, body: &Value) -> Outcome {
    let archive = events
        .create_archive(NewArchive {
            name: req_str(body, "ArchiveName")?.to_string(),
            source_arn: req_str(body, "EventSourceArn")?.to_string(),
            description: opt_str(body, "Description")?.map(str::to_string),
            pattern: opt_str(body, "EventPattern")?.map(str::to_string),
            retention_days: retention_of(body)?.unwrap_or(0),
        })
        .await?;
    Ok(json!({
        "ArchiveArn": archive_arn(&archive.name),
        "State": archive.state,
        "CreationTime": epoch(archive.created_ms),
    }))
}

async fn describe_archive(events: &Events, body: &Value) -> Outcome {
    let archive = events
        .describe_archive(req_str(body, "ArchiveName")?)
        .await?;
    Ok(archive_json(&archive, true))
}

async fn list_archives(events: &Events, body: &Value) -> Outcome {
    let archives = events
        .list_archives(
            opt_str(body, "NamePrefix")?.unwrap_or(""),
            opt_str(body, "EventSourceArn")?,
            opt_str(body, "State")?,
        )
        .await?;
    let (archives, next) = page(archives, body)?;
    Ok(paged(
        "Archives",
        archives.iter().map(|a| archive_json(a, false)).collect(),
        next,
    ))
}

async fn update_archive(events: &Events, body: &Value) -> Outcome {
    let archive = events
        .update_archive(
            req_str(body, "ArchiveName")?,
            opt_str(body, "Description")?.map(str::to_string),
            opt_str(body, "EventPattern")?.map(str::to_string),
            retention_of(body)?,
        )
        .await?;
    Ok(json!({
        "ArchiveArn": archive_arn(&archive.name),
        "State": archive.state,
        "CreationTime": epoch(archive.created_ms),
    }))
}

async fn delete_archive(events: &Events, body: &Value) -> Outcome {
    events.delete_archive(req_str(body, "ArchiveName")?).await?;
    Ok(json!({}))
}

fn replay_json(r: &ReplayRecord, full: bool) -> Value {
    let mut out = json!({
        "ReplayName": r.name,
        "EventSourceArn": archive_arn(&r.archive),
        "State": r.state,
        "EventStartTime": epoch(r.start_ms),
        "EventEndTime": epoch(r.end_ms),
        "ReplayStartTime": epoch(r.replay_start_ms),
    });
    if let Some(reason) = &r.state_reason {
        out["StateReason"] = json!(reason);
    }
    if let Some(t) = r.last_replayed_ms {
        out["EventLastReplayedTime"] = epoch(t);
    }
    if let Some(t) = r.replay_end_ms {
        out["ReplayEndTime"] = epoch(t);
    }
    if full {
        out["ReplayArn"] = json!(replay_arn(&r.name));
        let mut destination = json!({"Arn": bus_arn(&r.bus)});
        if !r.filter_arns.is_empty() {
            destination["FilterArns"] = json!(r.filter_arns);
        }
        out["Destination"] = destination;
        if let Some(d) = &r.description {
            out["Description"] = json!(d);
        }
    }
    out
}

async fn start_replay(events: &Events, body: &Value) -> Outcome {
    let required_time = |key: &str| {
        time_member(body, key)?.ok_or_else(|| {
            invalid(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                field_name(key)
            ))
        })
    };
    let Some(destination) = body.get("Destination").filter(|d| d.is_object()) else {
        return Err(invalid(
            "1 validation error detected: Value null at 'destination' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    let filter_arns = match destination.get("FilterArns") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => str_list(destination, "FilterArns")?,
    };
    let replay = events
        .start_replay(NewReplay {
            name: req_str(body, "ReplayName")?.to_string(),
            description: opt_str(body, "Description")?.map(str::to_string),
            source_arn: req_str(body, "EventSourceArn")?.to_string(),
            start_ms: required_time("EventStartTime")?,
            end_ms: required_time("EventEndTime")?,
            destination: req_str(destination, "Arn")?.to_string(),
            filter_arns,
        })
        .await?;
    Ok(json!({
        "ReplayArn": replay_arn(&replay.name),
        "State": replay.state,
        "ReplayStartTime": epoch(replay.replay_start_ms),
    }))
}

async fn describe_replay(events: &Events, body: &Value) -> Outcome {
    let replay = events.describe_replay(req_str(body, "ReplayName")?).await?;
    Ok(replay_json(&replay, true))
}

async fn list_replays(events: &Events, body: &Value) -> Outcome {
    let replays = events
        .list_replays(
            opt_str(body, "NamePrefix")?.unwrap_or(""),
            opt_str(body, "State")?,
            opt_str(body, "EventSourceArn")?,
        )
        .await?;
    let (replays, next) = page(replays, body)?;
    Ok(paged(
        "Replays",
        replays.iter().map(|r| replay_json(r, false)).collect(),
        next,
    ))
}

async fn cancel_replay(events: &Events, body: &Value) -> Outcome {
    let replay = events.cancel_replay(req_str(body, "ReplayName")?).await?;
    Ok(json!({"ReplayArn": replay_arn(&replay.name), "State": replay.state}))
}

fn connection_times(c: &ConnectionRecord, out: &mut Value) {
    out["CreationTime"] = epoch(c.created_ms);
    out["LastModifiedTime"] = epoch(c.modified_ms);
    if let Some(t) = c.authorized_ms {
        out["LastAuthorizedTime"] = epoch(t);
    }
}

fn connection_json(c: &ConnectionRecord, full: bool) -> Value {
    let mut out = json!({
        "ConnectionArn": connection_arn(c),
        "Name": c.name,
        "ConnectionState": c.state,
        "AuthorizationType": c.auth_type,
    });
    connection_times(c, &mut out);
    if full {
        out["AuthParameters"] = public_auth(c);
        out["SecretArn"] = json!(secret_arn(c));
        if let Some(d) = &c.description {
            out["Description"] = json!(d);
        }
    }
    out
}

async fn create_connection(events: &Events, body: &Value) -> Outcome {
    let auth = body
        .get("AuthParameters")
        .filter(|a| a.is_object())
        .cloned()
        .ok_or_else(|| {
            invalid("1 validation error detected: Value null at 'authParameters' failed to satisfy constraint: Member must not be null".into())
        })?;
    let c = events
        .create_connection(NewConnection {
            name: req_str(body, "Name")?.to_string(),
            description: opt_str(body, "Description")?.map(str::to_string),
            auth_type: req_str(body, "AuthorizationType")?.to_string(),
            auth,
        })
        .await?;
    let mut out = json!({"ConnectionArn": connection_arn(&c), "ConnectionState": c.state});
    out["CreationTime"] = epoch(c.created_ms);
    out["LastModifiedTime"] = epoch(c.modified_ms);
    Ok(out)
}

async fn describe_connection(events: &Events, body: &Value) -> Outcome {
    let c = events.describe_connection(req_str(body, "Name")?).await?;
    Ok(connection_json(&c, true))
}

async fn list_connections(events: &Events, body: &Value) -> Outcome {
    let list = events
        .list_connections(
            opt_str(body, "NamePrefix")?.unwrap_or(""),
            opt_str(body, "ConnectionState")?,
        )
        .await?;
    let (list, next) = page(list, body)?;
    Ok(paged(
        "Connections",
        list.iter().map(|c| connection_json(c, false)).collect(),
        next,
    ))
}

async fn delete_connection(events: &Events, body: &Value) -> Outcome {
    let c = events.delete_connection(req_str(body, "Name")?).await?;
    let mut out = json!({"ConnectionArn": connection_arn(&c), "ConnectionState": "DELETING"});
    connection_times(&c, &mut out);
    Ok(out)
}

fn destination_json(d: &ApiDestinationRecord, state: &str, full: bool) -> Value {
    let mut out = json!({
        "ApiDestinationArn": destination_arn(d),
        "Name": d.name,
        "ApiDestinationState": state,
        "ConnectionArn": d.connection_arn,
        "InvocationEndpoint": d.endpoint,
        "HttpMethod": d.method,
        "InvocationRateLimitPerSecond": d.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        "CreationTime": epoch(d.created_ms),
        "LastModifiedTime": epoch(d.modified_ms),
    });
    if full && let Some(desc) = &d.description {
        out["Description"] = json!(desc);
    }
    out
}

async fn create_api_destination(events: &Events, body: &Value) -> Outcome {
    let rate_limit = match body.get("InvocationRateLimitPerSecond") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "1 validation error detected: Value '{v}' at 'invocationRateLimitPerSecond' failed to satisfy constraint: Member must have value greater than or equal to 1"
                    ))
                })?,
        ),
    };
    let (d, state) = events
        .create_api_destination(NewApiDestination {
            name: req_str(body, "Name")?.to_string(),
            description: opt_str(body, "Description")?.map(str::to_string),
            connection_arn: req_str(body, "ConnectionArn")?.to_string(),
            endpoint: req_str(body, "InvocationEndpoint")?.to_string(),
            method: req_str(body, "HttpMethod")?.to_string(),
            rate_limit,
        })
        .await?;
    Ok(json!({
        "ApiDestinationArn": destination_arn(&d),
        "ApiDestinationState": state,
        "CreationTime": epoch(d.created_ms),
        "LastModifiedTime": epoch(d.modified_ms),
    }))
}

async fn describe_api_destination(events: &Events, body: &Value) -> Outcome {
    let (d, state) = events
        .describe_api_destination(req_str(body, "Name")?)
        .await?;
    Ok(destination_json(&d, &state, true))
}

async fn list_api_destinations(events: &Events, body: &Value) -> Outcome {
    let list = events
        .list_api_destinations(
            opt_str(body, "NamePrefix")?.unwrap_or(""),
            opt_str(body, "ConnectionArn")?,
        )
        .await?;
    let (list, next) = page(list, body)?;
    Ok(paged(
        "ApiDestinations",
        list.iter()
            .map(|(d, state)| destination_json(d, state, false))
            .collect(),
        next,
    ))
}

async fn delete_api_destination(events: &Events, body: &Value) -> Outcome {
    events
        .delete_api_destination(req_str(body, "Name")?)
        .await?;
    Ok(json!({}))
}
