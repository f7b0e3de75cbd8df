//! EventBridge over its JSON 1.1 protocol (`X-Amz-Target: AWSEvents.<Op>`,
//! `application/x-amz-json-1.1`), so the real SDKs' `events` clients work:
//! PutEvents, PutRule, DescribeRule, DeleteRule, ListRules, EnableRule,
//! DisableRule, PutTargets, RemoveTargets, ListTargetsByRule,
//! CreateEventBus, DeleteEventBus, DescribeEventBus, ListEventBuses and
//! TestEventPattern.
//!
//! Errors have the JSON protocol's shape, `{"__type": "ResourceNotFoundException",
//! "message": ...}`; PutEvents answers per entry (`ErrorCode`,
//! `ErrorMessage`) with `FailedEntryCount`.

use crate::Reply;
use crate::bus::{FailedTarget, PutEventsEntry, PutRule, PutTarget, check_put_events};
use crate::{ErrorKind, EventBridge as Events, ServiceError};
use http::StatusCode;
use serde_json::{Value, json};
use stratus_aws::AwsRequest;
use stratus_aws::{AwsError, Protocol};
use stratus_core::function::{ACCOUNT_ID, bus_arn, rule_arn};
use stratus_store::{BusRecord, RuleRecord, TargetRecord};

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
        "CreateEventBus" => create_bus(events, &body).await,
        "DeleteEventBus" => delete_bus(events, &body).await,
        "DescribeEventBus" => describe_bus(events, &body).await,
        "ListEventBuses" => list_buses(events, &body).await,
        "TestEventPattern" => test_event_pattern(events, &body),
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

fn req_str<'a>(body: &'a Value, key: &str) -> Result<&'a str, ServiceError> {
    match opt_str(body, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(format!(
            "1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"
        ))),
    }
}

fn bus_of(body: &Value) -> Result<Option<&str>, ServiceError> {
    opt_str(body, "EventBusName")
}

/// `Time`: epoch seconds (what the SDKs send) or an RFC 3339 string.
fn time_of(entry: &Value) -> Result<Option<String>, ServiceError> {
    match entry.get("Time") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let secs = n.as_f64().unwrap_or(f64::NAN);
            let millis = (secs * 1000.0).round();
            if !millis.is_finite() {
                return Err(invalid("Parameter Time is not valid.".into()));
            }
            chrono::DateTime::from_timestamp_millis(millis as i64)
                .map(|t| Some(t.to_rfc3339()))
                .ok_or_else(|| invalid("Parameter Time is not valid.".into()))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid("Parameter Time is not valid.".into())),
    }
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
    let force = body.get("Force").and_then(Value::as_bool).unwrap_or(false);
    events
        .delete_rule(bus_of(body)?, req_str(body, "Name")?, force)
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

async fn list_rules(events: &Events, body: &Value) -> Outcome {
    let prefix = opt_str(body, "NamePrefix")?.unwrap_or("");
    let rules = events.list_rules(bus_of(body)?, prefix).await?;
    let (rules, next) = page(rules, body)?;
    let mut out = json!({"Rules": rules.iter().map(rule_json).collect::<Vec<_>>()});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
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
    for t in list {
        let transformer = match t.get("InputTransformer") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.to_string()),
            Some(_) => return Err(invalid("InputTransformer must be an object.".into())),
        };
        targets.push(PutTarget {
            id: req_str(t, "Id")?.to_string(),
            arn: req_str(t, "Arn")?.to_string(),
            input: opt_str(t, "Input")?.map(str::to_string),
            input_path: opt_str(t, "InputPath")?.map(str::to_string),
            input_transformer: transformer,
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
    out
}

async fn list_targets(events: &Events, body: &Value) -> Outcome {
    let rule = req_str(body, "Rule")?;
    let targets = events.list_targets(bus_of(body)?, rule).await?;
    let (targets, next) = page(targets, body)?;
    let mut out = json!({"Targets": targets.iter().map(target_json).collect::<Vec<_>>()});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

fn bus_json(bus: &BusRecord) -> Value {
    let mut out = json!({"Name": bus.name, "Arn": bus_arn(&bus.name)});
    if let Some(d) = &bus.description {
        out["Description"] = json!(d);
    }
    if bus.created_ms > 0 {
        out["CreationTime"] = json!(bus.created_ms as f64 / 1000.0);
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
    let bus = events.create_event_bus(name, description).await?;
    Ok(json!({"EventBusArn": bus_arn(&bus.name)}))
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
    let mut out = json!({"EventBuses": buses.iter().map(bus_json).collect::<Vec<_>>()});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

fn test_event_pattern(events: &Events, body: &Value) -> Outcome {
    let pattern = req_str(body, "EventPattern")?;
    let event = req_str(body, "Event")?;
    let result = events.test_event_pattern(pattern, event)?;
    Ok(json!({"Result": result}))
}
