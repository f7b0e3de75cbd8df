//! Rule targets: what a target's ARN names, its parameters, and delivery
//! to it.
//!
//! A target is a function, a queue, a topic, a bus or an API destination,
//! named by ARN (validated at PutTargets with AWS's text). Its other
//! members (`SqsParameters`, `HttpParameters`, `RetryPolicy`, …) are kept
//! as given and read here: a FIFO queue gets `SqsParameters.MessageGroupId`
//! as the message group and the event's id as the deduplication id (what
//! EventBridge does for FIFO queues); an API destination gets
//! `HttpParameters`.
//!
//! # The outbox
//!
//! Deliveries that cannot be committed on the spot wait in the bus's
//! outbox (a store table): every delivery to an API destination (an HTTP
//! request, retried), and a schedule's tick to targets that are not
//! functions (committed with the tick, see `scheduler.rs`). One loop claims
//! due deliveries with a lease (a crash leaves the lease, after which they
//! are delivered again: at least once), delivers them, and removes them or
//! schedules a retry: exponential backoff with jitter, up to the target's
//! `RetryPolicy` (AWS's defaults: 185 retries, 24 hours). A target that
//! refuses for good (it does not exist; an API destination answering a
//! 4xx other than 401, 407, 409 and 429) is not retried.

use crate::backend::{EventDelivery, NewEventDelivery};
use crate::{ErrorKind, EventBridge, EventOrigin, ServiceError, now_ms};
use serde_json::{Map, Value};
use std::time::Duration;
use stratus_core::TargetRef;
use stratus_core::arn::{Arn, ArnResource};
use stratus_service_kit::SendMessage;

/// AWS's default `RetryPolicy.MaximumRetryAttempts`.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 185;
/// AWS's default `RetryPolicy.MaximumEventAgeInSeconds`.
pub const DEFAULT_EVENT_AGE_SECS: u32 = 86_400;
/// How long an API destination may take to answer (AWS's limit).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 300_000;
/// Deliveries claimed at once.
const BATCH: usize = 32;
/// How long a claimed delivery is leased.
const LEASE_MS: i64 = 60_000;
/// The longest sleep of the outbox loop when nothing is due.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// The members of a target PutTargets keeps as its parameters.
pub const PARAMETER_MEMBERS: &[&str] = &[
    "SqsParameters",
    "HttpParameters",
    "RetryPolicy",
    "DeadLetterConfig",
    "RoleArn",
    "KinesisParameters",
    "RunCommandParameters",
    "EcsParameters",
    "BatchParameters",
    "RedshiftDataParameters",
    "SageMakerPipelineParameters",
    "AppSyncParameters",
];

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("ValidationException", message)
}

/// AWS's answer to a target ARN it cannot use.
pub fn bad_target_arn(arn: &str) -> ServiceError {
    invalid(format!(
        "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
    ))
}

/// What a target delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// A function (asynchronous invocation of `$LATEST`).
    Function(String),
    /// A queue, by key (its name, qualified by the ARN's region outside
    /// the default one: [`stratus_core::scope::regional_key`]).
    Queue(String),
    /// A topic, by key.
    Topic(String),
    /// A bus, by key.
    Bus(String),
    /// An API destination, by name.
    ApiDestination(String),
}

impl Dest {
    /// The destination a target's ARN names, or AWS's `ValidationException`.
    pub fn parse(arn: &str) -> Result<Dest, ServiceError> {
        let parsed: Arn = arn.parse().map_err(|_| bad_target_arn(arn))?;
        match parsed.resource_ref().map_err(|_| bad_target_arn(arn))? {
            ArnResource::Queue(name) => Ok(Dest::Queue(parsed.regional_key(name))),
            ArnResource::Topic(name) => Ok(Dest::Topic(parsed.regional_key(name))),
            ArnResource::Function { name, .. }
                if stratus_core::names::function_name(name).is_ok() =>
            {
                Ok(Dest::Function(name.to_string()))
            }
            ArnResource::Bus(name) => Ok(Dest::Bus(parsed.regional_key(name))),
            ArnResource::ApiDestination { name, .. } => {
                Ok(Dest::ApiDestination(parsed.regional_key(name)))
            }
            _ => Err(bad_target_arn(arn)),
        }
    }
}

/// The parameters of a target that delivery reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetParams {
    /// `SqsParameters.MessageGroupId`.
    pub group_id: Option<String>,
    /// Attempts at most (`RetryPolicy.MaximumRetryAttempts` + 1).
    pub max_attempts: u32,
    /// `RetryPolicy.MaximumEventAgeInSeconds`, in ms.
    pub max_age_ms: i64,
    /// `HttpParameters.HeaderParameters`.
    pub headers: Vec<(String, String)>,
    /// `HttpParameters.QueryStringParameters`.
    pub query: Vec<(String, String)>,
    /// `HttpParameters.PathParameterValues`.
    pub path: Vec<String>,
}

impl Default for TargetParams {
    fn default() -> Self {
        TargetParams {
            group_id: None,
            max_attempts: DEFAULT_RETRY_ATTEMPTS + 1,
            max_age_ms: i64::from(DEFAULT_EVENT_AGE_SECS) * 1000,
            headers: Vec::new(),
            query: Vec::new(),
            path: Vec::new(),
        }
    }
}

fn string_map(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl TargetParams {
    /// The parameters in a target's stored parameters (JSON text).
    pub fn from_json(text: Option<&str>) -> TargetParams {
        let mut params = TargetParams::default();
        let Some(value) = text.and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
            return params;
        };
        params.group_id = value
            .pointer("/SqsParameters/MessageGroupId")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(n) = value
            .pointer("/RetryPolicy/MaximumRetryAttempts")
            .and_then(Value::as_u64)
        {
            params.max_attempts = u32::try_from(n).unwrap_or(DEFAULT_RETRY_ATTEMPTS) + 1;
        }
        if let Some(n) = value
            .pointer("/RetryPolicy/MaximumEventAgeInSeconds")
            .and_then(Value::as_i64)
        {
            params.max_age_ms = n.saturating_mul(1000);
        }
        params.headers = string_map(value.pointer("/HttpParameters/HeaderParameters"));
        params.query = string_map(value.pointer("/HttpParameters/QueryStringParameters"));
        params.path = value
            .pointer("/HttpParameters/PathParameterValues")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        params
    }
}

/// `1 validation error detected: …` for a member of the `index`th target.
fn member_error(index: usize, path: &str, value: &Value, constraint: &str) -> ServiceError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    invalid(format!(
        "1 validation error detected: Value '{shown}' at 'targets.{index}.member.{path}' failed to satisfy constraint: {constraint}"
    ))
}

/// The parameters of the `index`th target (from 1) of a PutTargets
/// request, checked, as the JSON text to store (None when it has none).
pub fn target_params(index: usize, target: &Value) -> Result<Option<String>, ServiceError> {
    let mut params = Map::new();
    for member in PARAMETER_MEMBERS {
        match target.get(*member) {
            None | Some(Value::Null) => {}
            Some(value) => {
                params.insert((*member).to_string(), value.clone());
            }
        }
    }
    if let Some(sqs) = params.get("SqsParameters") {
        match sqs.get("MessageGroupId") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) if id.len() <= 100 => {}
            Some(other) => {
                return Err(member_error(
                    index,
                    "sqsParameters.messageGroupId",
                    other,
                    "Member must have length less than or equal to 100",
                ));
            }
        }
    }
    if let Some(retry) = params.get("RetryPolicy") {
        if let Some(n) = retry.get("MaximumRetryAttempts")
            && n.as_u64().is_none_or(|n| n > 185)
        {
            return Err(member_error(
                index,
                "retryPolicy.maximumRetryAttempts",
                n,
                "Member must have value less than or equal to 185",
            ));
        }
        if let Some(n) = retry.get("MaximumEventAgeInSeconds")
            && !n.as_u64().is_some_and(|n| (60..=86_400).contains(&n))
        {
            let constraint = if n.as_u64().is_some_and(|n| n > 86_400) {
                "Member must have value less than or equal to 86400"
            } else {
                "Member must have value greater than or equal to 60"
            };
            return Err(member_error(
                index,
                "retryPolicy.maximumEventAgeInSeconds",
                n,
                constraint,
            ));
        }
    }
    if params.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Object(params).to_string()))
}

/// Whether an HTTP status is worth another attempt (AWS retries 401, 407,
/// 409, 429 and 5xx).
pub fn retriable_status(status: u16) -> bool {
    matches!(status, 401 | 407 | 409 | 429) || (500..600).contains(&status)
}

/// The wait before attempt `attempts + 1`: exponential from one second,
/// at most five minutes, with up to a quarter more of jitter.
pub fn backoff_ms(attempts: u32, jitter: u64) -> i64 {
    let base = 1_000i64
        .saturating_mul(1i64 << attempts.min(20))
        .min(MAX_BACKOFF_MS);
    let spread = u64::try_from(base / 4).unwrap_or(0).max(1);
    base + i64::try_from(jitter % spread).unwrap_or(0)
}

/// How a delivery attempt ended.
#[derive(Debug)]
pub enum Attempt {
    /// Delivered.
    Done,
    /// Failed; another attempt may succeed.
    Retry(String),
    /// Failed for good.
    GiveUp(String),
}

impl EventBridge {
    /// Sends `payload` to queue `name`: on a FIFO queue, in the target's
    /// message group (else the origin's) with the event's id as the
    /// deduplication id, as EventBridge does.
    pub(crate) async fn send_to_queue(
        &self,
        name: &str,
        payload: String,
        origin: &EventOrigin,
        group_id: Option<&str>,
    ) -> Result<String, ServiceError> {
        let (default_group, dedup_id) = origin.fifo_ids(name);
        let group_id = if stratus_core::names::is_fifo(name) {
            group_id.map(str::to_string).or(default_group)
        } else {
            None
        };
        let message = SendMessage {
            body: payload,
            group_id,
            dedup_id,
            ..SendMessage::default()
        };
        self.deliverer()?.send_to_queue(name, message).await
    }

    /// Queues deliveries in the outbox and wakes its loop.
    pub(crate) async fn enqueue_deliveries(
        &self,
        deliveries: Vec<NewEventDelivery>,
    ) -> Result<(), ServiceError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.backend
            .enqueue_deliveries(&deliveries, now_ms())
            .await
            .map_err(crate::backend_error("queuing deliveries"))?;
        self.state.deliveries.notify_one();
        Ok(())
    }

    /// Delivers one delivery of the outbox.
    async fn attempt(&self, agent: &ureq::Agent, delivery: &NewEventDelivery) -> Attempt {
        let dest = match Dest::parse(&delivery.target) {
            Ok(dest) => dest,
            Err(e) => return Attempt::GiveUp(e.message),
        };
        let origin = EventOrigin {
            kind: delivery.kind.clone(),
            source: delivery.source.clone(),
            id: delivery.event_id.clone(),
        };
        let params = TargetParams::from_json(delivery.params.as_deref());
        let payload = delivery.payload.clone();
        let outcome = match dest {
            Dest::ApiDestination(name) => {
                return self
                    .call_api_destination(agent, &name, payload, &params)
                    .await;
            }
            Dest::Function(function) => self.invoke_target(&function, payload, &origin).await,
            Dest::Queue(name) => {
                self.send_to_queue(&name, payload, &origin, params.group_id.as_deref())
                    .await
            }
            Dest::Topic(name) => match self.deliverer() {
                Ok(d) => d.deliver(&TargetRef::Topic(name), payload, &origin).await,
                Err(e) => Err(e),
            },
            Dest::Bus(name) => self.forward_payload(&name, payload, &origin).await,
        };
        match outcome {
            Ok(_) => Attempt::Done,
            Err(e) if matches!(e.kind, ErrorKind::Internal | ErrorKind::Throttled) => {
                Attempt::Retry(e.to_string())
            }
            Err(e) => Attempt::GiveUp(e.to_string()),
        }
    }

    /// Runs the outbox until shutdown.
    pub(crate) async fn delivery_loop(self) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        let cancel = self.cancel().clone();
        loop {
            let now = now_ms();
            let claimed = self
                .backend
                .claim_deliveries(now, BATCH, LEASE_MS)
                .await
                .map_err(crate::backend_error("claiming deliveries"));
            let batch = match claimed {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%error, "could not claim the bus's deliveries");
                    Vec::new()
                }
            };
            let full = batch.len() == BATCH;
            let runs = batch.into_iter().map(|d| {
                let events = self.clone();
                let agent = agent.clone();
                async move { events.finish(&agent, d).await }
            });
            futures::future::join_all(runs).await;
            if full && !cancel.is_cancelled() {
                continue;
            }
            let next = self
                .backend
                .next_delivery_ms()
                .await
                .map_err(crate::backend_error("reading the next delivery"))
                .ok()
                .flatten();
            let wait = next.map_or(IDLE_POLL, |due| {
                Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0).max(10))
                    .min(IDLE_POLL)
            });
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.state.deliveries.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::debug!("the bus's outbox stopped");
    }

    /// Attempts a claimed delivery and records the outcome.
    async fn finish(&self, agent: &ureq::Agent, claimed: EventDelivery) {
        let outcome = self.attempt(agent, &claimed.delivery).await;
        let id = claimed.id;
        let d = &claimed.delivery;
        let rule_name = d
            .rule
            .parse::<Arn>()
            .ok()
            .and_then(|arn| arn.as_rule().ok().map(|(_, name)| name.to_string()))
            .unwrap_or_else(|| d.rule.clone());
        let attempts = claimed.attempts + 1;
        let result = match outcome {
            Attempt::Done => {
                self.metrics().delivered("eventbridge", &rule_name, 1);
                tracing::debug!(target = %d.target, rule = %d.rule, attempts, "delivered an event");
                self.backend
                    .complete_delivery(id)
                    .await
                    .map_err(crate::backend_error("completing a delivery"))
            }
            Attempt::Retry(why)
                if attempts < d.max_attempts && now_ms() - claimed.created_ms < d.max_age_ms =>
            {
                self.metrics().retried("eventbridge", &rule_name, 1);
                let jitter = u64::try_from(uuid::Uuid::new_v4().as_u128() % 1_000_000).unwrap_or(0);
                let due = now_ms() + backoff_ms(claimed.attempts, jitter);
                tracing::debug!(target = %d.target, rule = %d.rule, attempts, %why, "a delivery failed; retrying");
                self.backend
                    .retry_delivery(id, due)
                    .await
                    .map_err(crate::backend_error("rescheduling a delivery"))
            }
            Attempt::Retry(why) | Attempt::GiveUp(why) => {
                self.metrics().failed("eventbridge", &rule_name, 1);
                tracing::warn!(target = %d.target, rule = %d.rule, attempts, %why, "dropping an event a rule's target did not take");
                self.backend
                    .complete_delivery(id)
                    .await
                    .map_err(crate::backend_error("dropping a delivery"))
            }
        };
        if let Err(error) = result {
            tracing::warn!(%error, "could not record a delivery's outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_arns_name_what_a_rule_can_deliver_to() {
        let p = "arn:aws:events:us-east-1:000000000000";
        assert_eq!(
            Dest::parse("arn:aws:sqs:us-east-1:000000000000:q.fifo").ok(),
            Some(Dest::Queue("q.fifo".into()))
        );
        assert_eq!(
            Dest::parse("arn:aws:lambda:us-east-1:000000000000:function:f:3").ok(),
            Some(Dest::Function("f".into()))
        );
        assert_eq!(
            Dest::parse(&format!("{p}:api-destination/d/0b7c")).ok(),
            Some(Dest::ApiDestination("d".into()))
        );
        assert_eq!(
            Dest::parse(&format!("{p}:event-bus/b")).ok(),
            Some(Dest::Bus("b".into()))
        );
        for bad in [
            "not-an-arn",
            "arn:aws:glue:us-east-1:000000000000:job/j",
            "arn:aws:events:us-east-1:000000000000:rule/r",
            "arn:aws:lambda:us-east-1:000000000000:function:bad name",
        ] {
            let e = Dest::parse(bad).expect_err(bad);
            assert_eq!(e.code, "ValidationException");
            assert_eq!(
                e.message,
                format!(
                    "Parameter {bad} is not valid. Reason: Provided Arn is not in correct format."
                )
            );
        }
    }

    #[test]
    fn parameters_are_kept_checked_and_read() {
        let target = serde_json::json!({
            "Id": "t", "Arn": "x",
            "SqsParameters": {"MessageGroupId": "g1"},
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            "HttpParameters": {"HeaderParameters": {"X-A": "1"}, "PathParameterValues": ["p"],
                               "QueryStringParameters": {"q": "v w"}},
        });
        let text = target_params(1, &target).expect("valid").expect("some");
        let params = TargetParams::from_json(Some(&text));
        assert_eq!(params.group_id.as_deref(), Some("g1"));
        assert_eq!((params.max_attempts, params.max_age_ms), (3, 60_000));
        assert_eq!(params.headers, vec![("X-A".to_string(), "1".to_string())]);
        assert_eq!(params.query, vec![("q".to_string(), "v w".to_string())]);
        assert_eq!(params.path, vec!["p".to_string()]);
        assert_eq!(
            target_params(1, &serde_json::json!({"Id": "t"})).expect("valid"),
            None
        );
        let e = target_params(
            2,
            &serde_json::json!({"RetryPolicy": {"MaximumEventAgeInSeconds": 10}}),
        )
        .expect_err("too short");
        assert_eq!(
            e.message,
            "1 validation error detected: Value '10' at 'targets.2.member.retryPolicy.maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"
        );
        assert_eq!(TargetParams::from_json(None), TargetParams::default());
    }

    #[test]
    fn retries_back_off_and_only_for_transient_answers() {
        assert!(retriable_status(500) && retriable_status(429) && retriable_status(401));
        assert!(!retriable_status(400) && !retriable_status(404) && !retriable_status(200));
        assert_eq!(backoff_ms(0, 0), 1_000);
        assert_eq!(backoff_ms(1, 0), 2_000);
        assert_eq!(backoff_ms(30, 0), MAX_BACKOFF_MS);
        assert!((1_000..1_250).contains(&backoff_ms(0, 999_999)));
    }
}
