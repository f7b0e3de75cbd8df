//! Queue policies: the `Policy` document `AddPermission` and
//! `RemovePermission` edit, and the `RedriveAllowPolicy` a dead-letter
//! queue names its allowed source queues with.
//!
//! A permission is a statement of the queue's policy, as SQS writes it:
//!
//! ```json
//! {"Version": "2008-10-17", "Id": "arn:aws:sqs:us-east-1:000000000000:jobs/SQSDefaultPolicy",
//!  "Statement": [{"Sid": "LABEL", "Effect": "Allow",
//!                 "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
//!                 "Action": "SQS:SendMessage",
//!                 "Resource": "arn:aws:sqs:us-east-1:000000000000:jobs"}]}
//! ```
//!
//! (`Principal.AWS` and `Action` are lists when there are several.) The
//! statement of the last permission removed takes the policy with it.

use crate::ServiceError;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use stratus_core::arn::Arn;

/// Most actions one `AddPermission` grants.
pub const MAX_PERMISSION_ACTIONS: usize = 7;

/// The actions a permission may grant another account (`*` for all).
const SHARED_ACTIONS: &[&str] = &[
    "*",
    "ChangeMessageVisibility",
    "DeleteMessage",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "SendMessage",
];

/// Actions only the queue's owner may call.
const OWNER_ACTIONS: &[&str] = &[
    "AddPermission",
    "CancelMessageMoveTask",
    "CreateQueue",
    "DeleteQueue",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "RemovePermission",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
];

/// Most source queues a `byQueue` redrive allow policy names.
const MAX_SOURCE_QUEUES: usize = 10;

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("InvalidParameterValue", message)
}

/// A policy document, with the keys SQS writes in SQS's order and any
/// others after them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PolicyDocument {
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    version: Option<Value>,
    #[serde(rename = "Id", default, skip_serializing_if = "Option::is_none")]
    id: Option<Value>,
    #[serde(rename = "Statement", default, deserialize_with = "one_or_many")]
    statement: Vec<Statement>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// A statement, keys in SQS's order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Statement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    sid: Option<Value>,
    #[serde(rename = "Effect", default, skip_serializing_if = "Option::is_none")]
    effect: Option<Value>,
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    principal: Option<Value>,
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    action: Option<Value>,
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    resource: Option<Value>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// `Statement` may be one statement or a list of them.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Statement>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Statement>),
        One(Box<Statement>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(all) => all,
        OneOrMany::One(one) => vec![*one],
    })
}

/// Whether `value` is a policy document this module can edit (a JSON
/// object whose statements are objects); the check of the `Policy`
/// attribute.
pub fn is_policy_document(value: &str) -> bool {
    serde_json::from_str::<Value>(value).is_ok_and(|v| v.is_object())
        && serde_json::from_str::<PolicyDocument>(value).is_ok()
}

fn parse(policy: Option<&str>) -> Result<Option<PolicyDocument>, ServiceError> {
    match policy {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => serde_json::from_str(text).map(Some).map_err(|_| {
            ServiceError::invalid(
                "InvalidAttributeValue",
                "Invalid value for the parameter Policy.",
            )
        }),
    }
}

fn render(document: &PolicyDocument) -> Result<String, ServiceError> {
    serde_json::to_string(document)
        .map_err(|e| ServiceError::internal("writing a queue policy", &e))
}

/// One value, or a list when there are several (as SQS writes principals
/// and actions).
fn one_or_list(mut values: Vec<String>) -> Value {
    if values.len() == 1 {
        Value::String(values.remove(0))
    } else {
        Value::Array(values.into_iter().map(Value::String).collect())
    }
}

/// Checks a permission's label: 1 to 80 letters, digits, `-` and `_`.
fn check_label(label: &str) -> Result<(), ServiceError> {
    let ok = !label.is_empty()
        && label.len() <= 80
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length."
        )))
    }
}

/// The policy with a statement `label` granting `actions` to the accounts
/// `account_ids` on the queue `queue_arn`, added to `policy` (the queue's
/// `Policy`, if it has one).
pub fn add_permission(
    policy: Option<&str>,
    queue_arn: &str,
    label: &str,
    account_ids: &[String],
    actions: &[String],
) -> Result<String, ServiceError> {
    check_label(label)?;
    if account_ids.is_empty() {
        return Err(invalid(
            "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify.",
        ));
    }
    if let Some(bad) = account_ids
        .iter()
        .find(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(format!(
            "Value {bad} for parameter PrincipalId is invalid. Reason: Unable to verify."
        )));
    }
    if actions.is_empty() {
        return Err(ServiceError::invalid(
            "MissingParameter",
            "The request must contain the parameter Actions.",
        ));
    }
    if actions.len() > MAX_PERMISSION_ACTIONS {
        return Err(ServiceError::invalid(
            "OverLimit",
            format!(
                "{} Actions were found, maximum allowed is {MAX_PERMISSION_ACTIONS}.",
                actions.len()
            ),
        ));
    }
    for action in actions {
        if OWNER_ACTIONS.contains(&action.as_str()) {
            return Err(invalid(format!(
                "Value SQS:{action} for parameter ActionName is invalid. Reason: Only the queue owner is allowed to invoke this action."
            )));
        }
        if !SHARED_ACTIONS.contains(&action.as_str()) {
            return Err(invalid(format!(
                "Value SQS:{action} for parameter ActionName is invalid. Reason: Please refer to the appropriate WSDL for a list of valid actions."
            )));
        }
    }
    let mut document = parse(policy)?.unwrap_or_else(|| PolicyDocument {
        version: Some(Value::String("2008-10-17".into())),
        id: Some(Value::String(format!("{queue_arn}/SQSDefaultPolicy"))),
        ..PolicyDocument::default()
    });
    if document
        .statement
        .iter()
        .any(|s| s.sid.as_ref().and_then(Value::as_str) == Some(label))
    {
        return Err(invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: Already exists."
        )));
    }
    let principals = account_ids
        .iter()
        .map(|id| format!("arn:aws:iam::{id}:root"))
        .collect();
    let actions = actions.iter().map(|a| format!("SQS:{a}")).collect();
    document.statement.push(Statement {
        sid: Some(Value::String(label.to_string())),
        effect: Some(Value::String("Allow".into())),
        principal: Some(serde_json::json!({ "AWS": one_or_list(principals) })),
        action: Some(one_or_list(actions)),
        resource: Some(Value::String(queue_arn.to_string())),
        rest: BTreeMap::new(),
    });
    render(&document)
}

/// The policy without the statement `label`; None when no statement is
/// left (the queue then has no policy).
pub fn remove_permission(
    policy: Option<&str>,
    label: &str,
) -> Result<Option<String>, ServiceError> {
    let not_found = || {
        invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: can't find label."
        ))
    };
    let mut document = parse(policy)?.ok_or_else(not_found)?;
    let before = document.statement.len();
    document
        .statement
        .retain(|s| s.sid.as_ref().and_then(Value::as_str) != Some(label));
    if document.statement.len() == before {
        return Err(not_found());
    }
    if document.statement.is_empty() {
        return Ok(None);
    }
    render(&document).map(Some)
}

/// Which queues may name a queue as their dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveAllow {
    /// Any queue (the default).
    AllowAll,
    /// None.
    DenyAll,
    /// The queues with these names.
    ByQueue(Vec<String>),
}

impl RedriveAllow {
    /// Whether queue `source` may use the queue as its dead-letter queue.
    pub fn allows(&self, source: &str) -> bool {
        match self {
            RedriveAllow::AllowAll => true,
            RedriveAllow::DenyAll => false,
            RedriveAllow::ByQueue(names) => names.iter().any(|n| n == source),
        }
    }
}

/// Reads a `RedriveAllowPolicy`: `{"redrivePermission": "allowAll" |
/// "denyAll" | "byQueue", "sourceQueueArns": [...]}`, the ARNs (1 to 10)
/// only with `byQueue`. An empty value is `allowAll`.
pub fn parse_redrive_allow_policy(value: &str) -> Result<RedriveAllow, ServiceError> {
    let bad = |why: &str| {
        ServiceError::invalid(
            "InvalidAttributeValue",
            format!("Invalid value for the parameter RedriveAllowPolicy. Reason: {why}"),
        )
    };
    if value.trim().is_empty() {
        return Ok(RedriveAllow::AllowAll);
    }
    let doc: serde_json::Map<String, Value> = serde_json::from_str(value)
        .map_err(|_| bad("Redrive allow policy is not a valid JSON map."))?;
    if let Some(unknown) = doc
        .keys()
        .find(|k| !matches!(k.as_str(), "redrivePermission" | "sourceQueueArns"))
    {
        return Err(bad(&format!(
            "Redrive allow policy has an unknown attribute: {unknown}."
        )));
    }
    let permission = doc
        .get("redrivePermission")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("Redrive allow policy does not contain mandatory attribute: redrivePermission.")
        })?;
    let arns = match doc.get("sourceQueueArns") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| {
                    item.as_str()
                        .and_then(|text| text.parse::<Arn>().ok())
                        .and_then(|arn| arn.as_queue().ok().map(|name| arn.regional_key(name)))
                        .ok_or_else(|| bad("sourceQueueArns must list queue ARNs."))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(bad("sourceQueueArns must list queue ARNs.")),
    };
    match (permission, arns) {
        ("allowAll", None) => Ok(RedriveAllow::AllowAll),
        ("denyAll", None) => Ok(RedriveAllow::DenyAll),
        ("allowAll" | "denyAll", Some(_)) => Err(bad(
            "sourceQueueArns can be specified only when redrivePermission is byQueue.",
        )),
        ("byQueue", Some(names)) if (1..=MAX_SOURCE_QUEUES).contains(&names.len()) => {
            Ok(RedriveAllow::ByQueue(names))
        }
        ("byQueue", _) => Err(bad(&format!(
            "sourceQueueArns must list 1 to {MAX_SOURCE_QUEUES} queue ARNs when redrivePermission is byQueue."
        ))),
        _ => Err(bad(
            "redrivePermission must be one of allowAll, denyAll and byQueue.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sqs:us-east-1:000000000000:jobs";

    #[test]
    fn permissions_build_sqs_policy_document() {
        let one = add_permission(
            None,
            ARN,
            "send",
            &["111122223333".into()],
            &["SendMessage".into()],
        )
        .expect("add");
        assert_eq!(
            one,
            r#"{"Version":"2008-10-17","Id":"arn:aws:sqs:us-east-1:000000000000:jobs/SQSDefaultPolicy","Statement":[{"Sid":"send","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"SQS:SendMessage","Resource":"arn:aws:sqs:us-east-1:000000000000:jobs"}]}"#
        );
        let two = add_permission(
            Some(&one),
            ARN,
            "both",
            &["111122223333".into(), "444455556666".into()],
            &["ReceiveMessage".into(), "DeleteMessage".into()],
        )
        .expect("add");
        let doc: Value = serde_json::from_str(&two).expect("json");
        assert_eq!(
            doc["Statement"][1]["Principal"]["AWS"],
            serde_json::json!([
                "arn:aws:iam::111122223333:root",
                "arn:aws:iam::444455556666:root"
            ])
        );
        assert_eq!(
            doc["Statement"][1]["Action"],
            serde_json::json!(["SQS:ReceiveMessage", "SQS:DeleteMessage"])
        );
        let again = add_permission(
            Some(&two),
            ARN,
            "send",
            &["111122223333".into()],
            &["*".into()],
        );
        assert_eq!(
            again.map_err(|e| e.message).err().as_deref(),
            Some("Value send for parameter Label is invalid. Reason: Already exists.")
        );
        let left = remove_permission(Some(&two), "send").expect("remove");
        let doc: Value = serde_json::from_str(left.as_deref().unwrap_or("")).expect("json");
        assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(1));
        assert_eq!(doc["Statement"][0]["Sid"], "both");
        assert_eq!(
            remove_permission(left.as_deref(), "both").expect("remove"),
            None
        );
        let missing = remove_permission(Some(&one), "nope").map_err(|e| e.message);
        assert_eq!(
            missing.err().as_deref(),
            Some("Value nope for parameter Label is invalid. Reason: can't find label.")
        );
    }

    #[test]
    fn permissions_check_their_parameters() {
        let cases: &[(&str, &[&str], &[&str], &str)] = &[
            (
                "bad label!",
                &["111122223333"],
                &["SendMessage"],
                "InvalidParameterValue",
            ),
            ("l", &[], &["SendMessage"], "InvalidParameterValue"),
            ("l", &["12"], &["SendMessage"], "InvalidParameterValue"),
            ("l", &["111122223333"], &[], "MissingParameter"),
            ("l", &["111122223333"], &["SendMessage"; 8], "OverLimit"),
            (
                "l",
                &["111122223333"],
                &["DeleteQueue"],
                "InvalidParameterValue",
            ),
            (
                "l",
                &["111122223333"],
                &["Frobnicate"],
                "InvalidParameterValue",
            ),
        ];
        for (label, ids, actions, code) in cases {
            let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
            let actions: Vec<String> = actions.iter().map(|s| s.to_string()).collect();
            let error = add_permission(None, ARN, label, &ids, &actions).expect_err("refused");
            assert_eq!(error.code, *code, "{label} {ids:?} {actions:?}: {error}");
        }
    }

    #[test]
    fn a_set_policy_keeps_its_statements_when_a_permission_is_added() {
        let own = r#"{"Version":"2012-10-17","Statement":{"Sid":"mine","Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#;
        assert!(is_policy_document(own));
        assert!(!is_policy_document("[1]"));
        assert!(!is_policy_document(r#"{"Statement": 3}"#));
        let added = add_permission(
            Some(own),
            ARN,
            "send",
            &["111122223333".into()],
            &["SendMessage".into()],
        )
        .expect("add");
        let doc: Value = serde_json::from_str(&added).expect("json");
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(
            doc["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
            "false"
        );
        assert_eq!(doc["Statement"][1]["Sid"], "send");
    }

    #[test]
    fn redrive_allow_policies_are_read_and_enforced() {
        let by_queue = parse_redrive_allow_policy(
            r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:a"]}"#,
        )
        .expect("byQueue");
        assert!(by_queue.allows("a"));
        assert!(!by_queue.allows("b"));
        assert!(
            parse_redrive_allow_policy(r#"{"redrivePermission":"allowAll"}"#)
                .expect("allowAll")
                .allows("b")
        );
        assert!(
            !parse_redrive_allow_policy(r#"{"redrivePermission":"denyAll"}"#)
                .expect("denyAll")
                .allows("a")
        );
        assert_eq!(
            parse_redrive_allow_policy("").expect("empty"),
            RedriveAllow::AllowAll
        );
        for bad in [
            "nope",
            r#"{"redrivePermission":"byQueue"}"#,
            r#"{"redrivePermission":"byQueue","sourceQueueArns":[]}"#,
            r#"{"redrivePermission":"byQueue","sourceQueueArns":["not-an-arn"]}"#,
            r#"{"redrivePermission":"denyAll","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:a"]}"#,
            r#"{"redrivePermission":"sometimes"}"#,
            r#"{"sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:a"]}"#,
            r#"{"redrivePermission":"allowAll","extra":1}"#,
        ] {
            let error = parse_redrive_allow_policy(bad).expect_err(bad);
            assert_eq!(error.code, "InvalidAttributeValue", "{bad}");
        }
        let eleven: Vec<String> = (0..11)
            .map(|i| format!("\"arn:aws:sqs:us-east-1:000000000000:q{i}\""))
            .collect();
        assert!(
            parse_redrive_allow_policy(&format!(
                r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{}]}}"#,
                eleven.join(",")
            ))
            .is_err()
        );
    }
}
