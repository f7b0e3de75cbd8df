//! EventBridge as a service of the AWS endpoint.

use crate::{EventBridge, Reply};
use async_trait::async_trait;
use stratus_aws::{AwsError, AwsRequest, Operation, Protocol, Service};
use stratus_core::function::{ACCOUNT_ID, bus_arn, rule_arn};
use stratus_core::scope::{Region, regional_key};

/// Largest request body (256 KiB per message, batch or PutEvents, 1 MiB
/// SQS messages, and room for the JSON or form encoding around them).
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// A string member of a JSON body, if it is one.
fn member<'a>(body: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(serde_json::Value::as_str)
}

/// The key of the bus a request in `region` names (by name or ARN),
/// `default` when none.
fn bus_of(body: &serde_json::Value, key: &str, region: &Region) -> String {
    let name = member(body, key).unwrap_or("default");
    if name.starts_with("arn:") {
        return crate::bus::bus_name(Some(name)).unwrap_or_else(|_| name.to_string());
    }
    regional_key(region, name)
}

/// The ARN of `kind/name` in `region`.
fn events_arn(region: &Region, kind: &str, name: &str) -> String {
    format!(
        "arn:{}:events:{region}:{ACCOUNT_ID}:{kind}/{name}",
        region.partition()
    )
}

/// The resource an operation acts on, for the authorization hook (`*`
/// for those on no one resource, such as the List operations).
fn resource(operation: &str, body: &serde_json::Value, region: &Region) -> String {
    let named = |key: &str, arn: &dyn Fn(&str) -> String| {
        member(body, key).map_or_else(|| "*".to_string(), arn)
    };
    match operation {
        "PutRule" | "DeleteRule" | "DescribeRule" | "EnableRule" | "DisableRule" => {
            let bus = bus_of(body, "EventBusName", region);
            named("Name", &|rule| rule_arn(&bus, rule))
        }
        "PutTargets" | "RemoveTargets" | "ListTargetsByRule" => {
            let bus = bus_of(body, "EventBusName", region);
            named("Rule", &|rule| rule_arn(&bus, rule))
        }
        "CreateEventBus" | "DeleteEventBus" | "DescribeEventBus" => {
            bus_arn(&bus_of(body, "Name", region))
        }
        "PutPermission" | "RemovePermission" => bus_arn(&bus_of(body, "EventBusName", region)),
        "PutEvents" => {
            let first = body.get("Entries").and_then(|e| e.get(0));
            let bus = first.map_or_else(
                || regional_key(region, "default"),
                |e| bus_of(e, "EventBusName", region),
            );
            bus_arn(&bus)
        }
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            named("ResourceARN", &str::to_string)
        }
        "CreateArchive" | "DescribeArchive" | "UpdateArchive" | "DeleteArchive" => {
            named("ArchiveName", &|a| events_arn(region, "archive", a))
        }
        "StartReplay" | "DescribeReplay" | "CancelReplay" => {
            named("ReplayName", &|r| events_arn(region, "replay", r))
        }
        "CreateConnection" | "DescribeConnection" | "DeleteConnection" => named("Name", &|c| {
            events_arn(region, "connection", &format!("{c}/*"))
        }),
        "CreateApiDestination" | "DescribeApiDestination" | "DeleteApiDestination" => {
            named("Name", &|d| {
                events_arn(region, "api-destination", &format!("{d}/*"))
            })
        }
        _ => "*".to_string(),
    }
}

/// EventBridge on the AWS endpoint.
pub struct EventBridgeService(pub EventBridge);

#[async_trait]
impl Service for EventBridgeService {
    fn signing_name(&self) -> &'static str {
        "events"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Json11
    }

    fn target_prefix(&self) -> Option<&'static str> {
        Some("AWSEvents")
    }

    fn body_limit(&self) -> usize {
        MAX_REQUEST_BYTES
    }

    fn operation(&self, request: &AwsRequest) -> Result<Operation, AwsError> {
        let name = request.target_operation().unwrap_or_default();
        let body = crate::json_body(&request.body).unwrap_or_default();
        let region: Region = request.context.region.parse().unwrap_or_default();
        Ok(Operation::new(
            "events",
            name,
            resource(name, &body, &region),
        ))
    }

    async fn call(&self, operation: &Operation, request: AwsRequest) -> Result<Reply, AwsError> {
        crate::wire::handle(&self.0, &operation.name, request).await
    }
}
