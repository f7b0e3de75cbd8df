//! EventBridge's requests and responses, one type per operation's input
//! and output, named as EventBridge's JSON protocol has them.
//!
//! Requests are read with [`stratus_aws::decode`]; what EventBridge checks
//! beyond a member's type (names, patterns, ranges) the handlers and the
//! semantics check. A response's optional member is absent, not `null`,
//! when it has nothing; timestamps are epoch seconds.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// What [`Required`] says of an empty text, which EventBridge answers as a
/// missing member.
pub(crate) const EMPTY: &str = "empty text";

/// A required text member: EventBridge refuses an empty one as it does a
/// missing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required(pub String);

impl<'de> Deserialize<'de> for Required {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            return Err(D::Error::custom(EMPTY));
        }
        Ok(Required(text))
    }
}

impl std::ops::Deref for Required {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// A flag member, true only when it is JSON `true` (anything else is
/// false, as EventBridge has always read `Force` and
/// `RemoveAllPermissions` here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Flag(
            Value::deserialize(deserializer)?.as_bool().unwrap_or(false),
        ))
    }
}

/// A timestamp member: epoch seconds (what the SDKs send) or RFC 3339.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    /// Seconds since the epoch.
    Seconds(f64),
    /// RFC 3339 text.
    Text(String),
}

/// A tag.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// The answer of an operation that answers nothing.
#[derive(Debug, Serialize)]
pub struct Empty {}

/// A `PutEvents` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsRequestEntry {
    /// The resources the event is about.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The event's source.
    pub source: Option<String>,
    /// Its `detail-type`.
    pub detail_type: Option<String>,
    /// Its detail, a JSON object as text.
    pub detail: Option<String>,
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// Its time.
    pub time: Option<Timestamp>,
    /// An X-Ray trace header.
    pub trace_header: Option<String>,
}

/// `PutEvents`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsRequest {
    /// The events.
    pub entries: Vec<PutEventsRequestEntry>,
}

/// An entry of `PutEvents`'s answer: the event's id, or why it failed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsResultEntry {
    /// The event's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Why it failed: the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Why it failed: the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// `PutEvents`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsResult {
    /// How many entries failed.
    pub failed_entry_count: usize,
    /// Each entry's outcome, in order.
    pub entries: Vec<PutEventsResultEntry>,
}

/// `PutRule`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleRequest {
    /// The rule's name.
    pub name: Required,
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// Its event pattern.
    pub event_pattern: Option<String>,
    /// Its schedule.
    pub schedule_expression: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub state: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// `PutRule`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleResult {
    /// The rule's ARN.
    pub rule_arn: String,
}

/// A request naming a rule: `DescribeRule`, `EnableRule`, `DisableRule`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleRequest {
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// The rule's name.
    pub name: Required,
}

/// `DeleteRule`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRuleRequest {
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// The rule's name.
    pub name: Required,
    /// Delete a managed rule too.
    #[serde(default)]
    pub force: Flag,
}

/// A rule, as `DescribeRule` and `ListRules` answer it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// `ENABLED` or `DISABLED`.
    pub state: &'static str,
    /// Its bus.
    pub event_bus_name: String,
    /// The account that made it.
    pub created_by: &'static str,
    /// Its event pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// Its schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `ListRules`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRulesRequest {
    /// Only the rules whose names start with it.
    pub name_prefix: Option<String>,
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// Where the page starts.
    pub next_token: Option<String>,
    /// The largest page.
    pub limit: Option<u64>,
}

/// The answer of a `List` operation: a page of items under the
/// operation's member, and `NextToken` when there are more.
macro_rules! page {
    ($(#[$doc:meta])* $name:ident, $member:literal, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize)]
        pub struct $name {
            /// The page's items.
            #[serde(rename = $member)]
            pub items: Vec<$item>,
            /// Where the next page starts.
            #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
            pub next_token: Option<String>,
        }
    };
}

page!(
    /// `ListRules`'s answer.
    ListRulesResult, "Rules", Rule
);
page!(
    /// `ListTargetsByRule`'s answer.
    ListTargetsByRuleResult, "Targets", Target
);
page!(
    /// `ListRuleNamesByTarget`'s answer.
    ListRuleNamesByTargetResult, "RuleNames", String
);
page!(
    /// `ListEventBuses`'s answer.
    ListEventBusesResult, "EventBuses", EventBus
);
page!(
    /// `ListArchives`'s answer.
    ListArchivesResult, "Archives", Archive
);
page!(
    /// `ListReplays`'s answer.
    ListReplaysResult, "Replays", Replay
);
page!(
    /// `ListConnections`'s answer.
    ListConnectionsResult, "Connections", Connection
);
page!(
    /// `ListApiDestinations`'s answer.
    ListApiDestinationsResult, "ApiDestinations", ApiDestination
);

/// A target of `PutTargets` (its other members, the per-target
/// parameters, are read by [`crate::targets::target_params`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutTargetsRequestEntry {
    /// Its input transformer (kept as JSON).
    pub input_transformer: Option<Map<String, Value>>,
    /// Its id (required; checked first, with the target's index).
    pub id: Option<String>,
    /// What it invokes (required; checked after the id).
    pub arn: Option<String>,
    /// Its constant input.
    pub input: Option<String>,
    /// The part of the event it passes.
    pub input_path: Option<String>,
}

/// `PutTargets` (each target is read apart, with its index).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutTargetsRequest {
    /// The rule.
    pub rule: Required,
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// The targets, each a [`PutTargetsRequestEntry`].
    pub targets: Vec<Value>,
}

/// `RemoveTargets`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTargetsRequest {
    /// The rule.
    pub rule: Required,
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// The targets' ids (at least one).
    #[serde(default)]
    pub ids: Vec<String>,
}

/// A target that could not be put or removed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailedEntry {
    /// The target's id.
    pub target_id: String,
    /// Why: the code.
    pub error_code: String,
    /// Why: the message.
    pub error_message: String,
}

/// `PutTargets`'s and `RemoveTargets`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetsResult {
    /// How many failed.
    pub failed_entry_count: usize,
    /// The failed ones.
    pub failed_entries: Vec<FailedEntry>,
}

/// `ListTargetsByRule`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTargetsByRuleRequest {
    /// The rule.
    pub rule: Required,
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// Where the page starts.
    pub next_token: Option<String>,
    /// The largest page.
    pub limit: Option<u64>,
}

/// A target, as `ListTargetsByRule` answers it.
#[derive(Debug, Serialize)]
pub struct Target {
    /// Its id.
    #[serde(rename = "Id")]
    pub id: String,
    /// What it invokes.
    #[serde(rename = "Arn")]
    pub arn: String,
    /// Its constant input.
    #[serde(rename = "Input", skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The part of the event it passes.
    #[serde(rename = "InputPath", skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    /// Its input transformer.
    #[serde(rename = "InputTransformer", skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<Value>,
    /// Its per-target parameters (`SqsParameters`, `RetryPolicy`, ...) as
    /// they were put.
    #[serde(flatten)]
    pub params: Map<String, Value>,
}

/// `ListRuleNamesByTarget`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRuleNamesByTargetRequest {
    /// The target's ARN.
    pub target_arn: Required,
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// Where the page starts.
    pub next_token: Option<String>,
    /// The largest page.
    pub limit: Option<u64>,
}

/// `CreateEventBus`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventBusRequest {
    /// The bus's name.
    pub name: Required,
    /// A partner event source (not supported).
    pub event_source_name: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// `CreateEventBus`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventBusResult {
    /// The bus's ARN.
    pub event_bus_arn: String,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A request naming something by a required `Name`: `DeleteEventBus`,
/// `DescribeConnection`, `DeleteConnection`, `DescribeApiDestination`,
/// `DeleteApiDestination`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameRequest {
    /// The name.
    pub name: Required,
}

/// `DescribeEventBus`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEventBusRequest {
    /// The bus, by name or ARN; the default bus without.
    pub name: Option<String>,
}

/// A bus, as `DescribeEventBus` and `ListEventBuses` answer it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventBus {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was made (unknown for the default bus).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<i64>,
    /// When it last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<i64>,
    /// Its resource policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// A `List` request with only a name prefix and a page: `ListEventBuses`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEventBusesRequest {
    /// Only the buses whose names start with it.
    pub name_prefix: Option<String>,
    /// Where the page starts.
    pub next_token: Option<String>,
    /// The largest page.
    pub limit: Option<u64>,
}

/// `PutPermission`'s condition.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Condition {
    /// `StringEquals`.
    pub r#type: Option<String>,
    /// `aws:PrincipalOrgID`.
    pub key: Option<String>,
    /// The organization.
    pub value: Option<String>,
}

/// `PutPermission`: a whole `Policy`, or one statement.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutPermissionRequest {
    /// A whole policy.
    pub policy: Option<String>,
    /// The statement's condition.
    pub condition: Option<Condition>,
    /// The statement's id.
    pub statement_id: Option<String>,
    /// `events:PutEvents`.
    pub action: Option<String>,
    /// An account, or `*`.
    pub principal: Option<String>,
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
}

/// `RemovePermission`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionRequest {
    /// The bus, by name or ARN.
    pub event_bus_name: Option<String>,
    /// The statement to remove.
    pub statement_id: Option<String>,
    /// Remove them all.
    #[serde(default)]
    pub remove_all_permissions: Flag,
}

/// `TagResource`.
#[derive(Debug, Deserialize)]
pub struct TagResourceRequest {
    /// The resource.
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Required,
    /// The tags to set.
    #[serde(rename = "Tags", default)]
    pub tags: Vec<Tag>,
}

/// `UntagResource`.
#[derive(Debug, Deserialize)]
pub struct UntagResourceRequest {
    /// The resource.
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Required,
    /// The tags to remove.
    #[serde(rename = "TagKeys")]
    pub tag_keys: Vec<String>,
}

/// `ListTagsForResource`.
#[derive(Debug, Deserialize)]
pub struct ListTagsForResourceRequest {
    /// The resource.
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Required,
}

/// `ListTagsForResource`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceResult {
    /// The tags.
    pub tags: Vec<Tag>,
}

/// `TestEventPattern`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEventPatternRequest {
    /// The pattern.
    pub event_pattern: Required,
    /// The event, as JSON text.
    pub event: Required,
}

/// `TestEventPattern`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEventPatternResult {
    /// Whether the pattern matches the event.
    pub result: bool,
}

/// `CreateArchive`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateArchiveRequest {
    /// The archive's name.
    pub archive_name: Required,
    /// The bus it archives.
    pub event_source_arn: Required,
    /// Its description.
    pub description: Option<String>,
    /// Only the events that match it.
    pub event_pattern: Option<String>,
    /// How long it keeps events; 0 for ever.
    pub retention_days: Option<u32>,
}

/// `UpdateArchive`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateArchiveRequest {
    /// The archive's name.
    pub archive_name: Required,
    /// Its new description.
    pub description: Option<String>,
    /// Its new pattern.
    pub event_pattern: Option<String>,
    /// Its new retention.
    pub retention_days: Option<u32>,
}

/// The answer of `CreateArchive` and `UpdateArchive`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveResult {
    /// The archive's ARN.
    pub archive_arn: String,
    /// Its state.
    pub state: String,
    /// When it was made.
    pub creation_time: i64,
}

/// A request naming an archive: `DescribeArchive`, `DeleteArchive`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveRequest {
    /// The archive's name.
    pub archive_name: Required,
}

/// An archive, as `DescribeArchive` (all of it) and `ListArchives` answer
/// it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Archive {
    /// Its name.
    pub archive_name: String,
    /// The bus it archives.
    pub event_source_arn: String,
    /// Its state.
    pub state: String,
    /// How long it keeps events.
    pub retention_days: u32,
    /// The size of its events.
    pub size_bytes: u64,
    /// How many events it has.
    pub event_count: u64,
    /// When it was made.
    pub creation_time: i64,
    /// Its ARN (`DescribeArchive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_arn: Option<String>,
    /// Its description (`DescribeArchive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its pattern (`DescribeArchive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
}

/// `ListArchives`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListArchivesRequest {
    /// Only the archives whose names start with it.
    pub name_prefix: Option<String>,
    /// Only the archives of this bus.
    pub event_source_arn: Option<String>,
    /// Only the archives in this state.
    pub state: Option<String>,
    /// Where the page starts.
    pub next_token: Option<String>,
    /// The largest page.
    pub limit: Option<u64>,
}

/// `StartReplay`'s destination.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayDestination {
    /// Only the rules of these ARNs.
    pub filter_arns: Option<Vec<String>>,
    /// The bus to replay to.
    pub arn: Required,
}

/// `StartReplay` (its destination is read apart: anything but an object
/// is a missing one).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartReplayRequest {
    /// Where to replay to, a [`ReplayDestination`].
    pub destination: Map<String, Value>,
    /// The replay's name.
    pub replay_name: Required,
    /// Its description.
    pub description: Option<String>,
    /// The archive's ARN.
    pub event_source_arn: Required,
    /// From when.
    pub event_start_time: Timestamp,
    /// Until when.
    pub event_end_time: Timestamp,
}

/// `StartReplay`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartReplayResult {
    /// The replay's ARN.
    pub replay_arn: String,
    /// Its state.
    pub state: String,
    /// When it started.
    pub replay_start_time: i64,
}

/// A request naming a replay: `DescribeReplay`, `CancelReplay`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayRequest {
    /// The replay's name.
    pub replay_name: Required,
}

/// A replay's destination, as `DescribeReplay` answers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    /// The bus.
    pub arn: String,
    /// The rules, if only some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_arns: Vec<String>,
}

/// A replay, as `DescribeReplay` (all of it) and `ListReplays` answer it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Replay {
    /// Its name.
    pub replay_name: String,
    /// The archive's ARN.
    pub event_source_arn: String,
    /// Its state.
    pub state: String,
    /// From when.
    pub event_start_time: i64,
    /// Until when.
    pub event_end_time: i64,
    /// When it started.
    pub replay_start_time: i64,
    /// Why it is in its state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// The time of the last event replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_last_replayed_time: Option<i64>,
    /// When it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_end_time: Option<i64>,
    /// Its ARN (`DescribeReplay`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_arn: Option<String>,
    /// Where it replays to (`DescribeReplay`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// Its description (`DescribeReplay`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `ListReplays`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListReplaysRequest {
    /// Only the replays whose names start with it.
    pub name_prefix: Option<String>,
    /// Only the replays in this state.
    pub state: Option<String>,
    /// Only the replays of this archive.
    pub event_source_arn: Option<String>,
    /// Where the page starts.
    pub next_token: Option<String>,
    /// The largest page.
    pub limit: Option<u64>,
}

/// `CancelReplay`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelReplayResult {
    /// The replay's ARN.
    pub replay_arn: String,
    /// Its state.
    pub state: String,
}

/// `CreateConnection` (its `AuthParameters` go to the semantics as JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateConnectionRequest {
    /// How it authorizes.
    pub auth_parameters: Map<String, Value>,
    /// Its name.
    pub name: Required,
    /// Its description.
    pub description: Option<String>,
    /// `BASIC`, `API_KEY` or `OAUTH_CLIENT_CREDENTIALS`.
    pub authorization_type: Required,
}

/// A connection, as `DescribeConnection` (all of it), `ListConnections`,
/// `CreateConnection` and `DeleteConnection` answer it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Connection {
    /// Its ARN.
    pub connection_arn: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its state.
    pub connection_state: String,
    /// How it authorizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_type: Option<String>,
    /// When it was made.
    pub creation_time: i64,
    /// When it last changed.
    pub last_modified_time: i64,
    /// When it was last authorized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_authorized_time: Option<i64>,
    /// Its authorization, secrets left out (`DescribeConnection`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_parameters: Option<Value>,
    /// The secret holding its authorization (`DescribeConnection`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// Its description (`DescribeConnection`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `ListConnections`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListConnectionsRequest {
    /// Only the connections whose names start with it.
    pub name_prefix: Option<String>,
    /// Only the connections in this state.
    pub connection_state: Option<String>,
    /// Where the page starts.
    pub next_token: Option<String>,
    /// The largest page.
    pub limit: Option<u64>,
}

/// `CreateApiDestination`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateApiDestinationRequest {
    /// Its rate limit.
    pub invocation_rate_limit_per_second: Option<u32>,
    /// Its name.
    pub name: Required,
    /// Its description.
    pub description: Option<String>,
    /// Its connection's ARN.
    pub connection_arn: Required,
    /// Its endpoint.
    pub invocation_endpoint: Required,
    /// Its HTTP method.
    pub http_method: Required,
}

/// An API destination, as `DescribeApiDestination` (with its description),
/// `ListApiDestinations` and `CreateApiDestination` answer it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestination {
    /// Its ARN.
    pub api_destination_arn: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its state.
    pub api_destination_state: String,
    /// Its connection's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_arn: Option<String>,
    /// Its endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_endpoint: Option<String>,
    /// Its HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    /// Its rate limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_rate_limit_per_second: Option<u32>,
    /// When it was made.
    pub creation_time: i64,
    /// When it last changed.
    pub last_modified_time: i64,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `ListApiDestinations`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListApiDestinationsRequest {
    /// Only the destinations whose names start with it.
    pub name_prefix: Option<String>,
    /// Only the destinations of this connection.
    pub connection_arn: Option<String>,
    /// Where the page starts.
    pub next_token: Option<String>,
    /// The largest page.
    pub limit: Option<u64>,
}
