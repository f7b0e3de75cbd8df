//! A topic's JSON documents as `GetTopicAttributes` shows them: the access
//! policy (`Policy`, AWS's default one until it is set, changed by
//! `AddPermission` and `RemovePermission`) and the effective delivery
//! policy (`EffectiveDeliveryPolicy`: AWS's defaults under the topic's
//! `DeliveryPolicy`).
//!
//! The documents are written with their keys in AWS's order (`Version`,
//! `Id`, `Statement`; `Sid`, `Effect`, `Principal`, ...), as AWS answers
//! them, rather than in serde_json's alphabetical order.
//!
//! Stratus enforces neither document: any authenticated caller may use a
//! topic, and HTTP deliveries are retried on Stratus's own schedule
//! ([`crate::topics::RETRY_DELAYS_MS`]).

use serde_json::{Map, Value, json};

/// The effective delivery policy of a topic without a `DeliveryPolicy`, as
/// `GetTopicAttributes` answers it on AWS: three retries 20 seconds apart,
/// `text/plain` bodies.
pub const DEFAULT_EFFECTIVE_DELIVERY_POLICY: &str = r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#;

/// The actions `AddPermission` may grant (SNS's topic actions).
pub const POLICY_ACTIONS: &[&str] = &[
    "GetTopicAttributes",
    "SetTopicAttributes",
    "AddPermission",
    "RemovePermission",
    "DeleteTopic",
    "Subscribe",
    "ListSubscriptionsByTopic",
    "Publish",
    "Receive",
];

/// The actions of the default policy's statement, in AWS's order.
const DEFAULT_ACTIONS: &[&str] = &[
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
];

/// Keys written first, in this order, wherever they appear; other keys
/// follow in alphabetical order.
const KEY_ORDER: &[&str] = &[
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "http",
    "defaultHealthyRetryPolicy",
    "minDelayTarget",
    "maxDelayTarget",
    "numRetries",
    "numMaxDelayRetries",
    "numNoDelayRetries",
    "numMinDelayRetries",
    "backoffFunction",
    "disableSubscriptionOverrides",
    "defaultThrottlePolicy",
    "defaultRequestPolicy",
];

/// Why a change of the access policy was refused (the text is AWS's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub &'static str);

/// `value` as compact JSON with its keys in AWS's order.
pub fn to_aws_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|key| {
                (
                    KEY_ORDER
                        .iter()
                        .position(|k| k == key)
                        .unwrap_or(KEY_ORDER.len()),
                    key.as_str(),
                )
            });
            out.push('{');
            for (n, key) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_value(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// AWS's default access policy of the topic `topic_arn` owned by
/// `account`: the owner's account may do every topic action.
pub fn default_policy(topic_arn: &str, account: &str) -> String {
    to_aws_json(&json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": DEFAULT_ACTIONS,
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
        }],
    }))
}

/// Whether `text` is an access policy document SNS can keep: a JSON
/// object.
pub fn is_policy(text: &str) -> bool {
    matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)))
}

/// The statements of a policy document, taken out of it as a list (a
/// single statement object becomes a list of one).
fn take_statements(policy: &mut Map<String, Value>) -> Vec<Value> {
    match policy.remove("Statement") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => Vec::new(),
        Some(single) => vec![single],
    }
}

fn parse_policy(policy: &str) -> Result<Map<String, Value>, PolicyError> {
    match serde_json::from_str::<Value>(policy) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(PolicyError("Invalid parameter: Policy")),
    }
}

fn one_or_many(items: Vec<String>) -> Value {
    if items.len() == 1 {
        Value::String(items.into_iter().next().unwrap_or_default())
    } else {
        Value::Array(items.into_iter().map(Value::String).collect())
    }
}

/// `policy` with the statement `AddPermission` makes: `label` as its
/// `Sid`, allowing `accounts` (account ids become their root users' ARNs)
/// the SNS `actions` on `topic_arn`.
pub fn add_permission(
    policy: &str,
    topic_arn: &str,
    label: &str,
    accounts: &[String],
    actions: &[String],
) -> Result<String, PolicyError> {
    if actions
        .iter()
        .any(|action| !POLICY_ACTIONS.contains(&action.as_str()))
    {
        return Err(PolicyError(
            "Invalid parameter: Policy statement action out of service scope!",
        ));
    }
    let mut document = parse_policy(policy)?;
    let mut list = take_statements(&mut document);
    if list
        .iter()
        .any(|statement| statement.get("Sid").and_then(Value::as_str) == Some(label))
    {
        return Err(PolicyError("Invalid parameter: Statement already exists"));
    }
    let principals = accounts
        .iter()
        .map(|account| {
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
                format!("arn:aws:iam::{account}:root")
            } else {
                account.clone()
            }
        })
        .collect();
    let actions = actions
        .iter()
        .map(|action| format!("SNS:{action}"))
        .collect();
    list.push(json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": one_or_many(principals)},
        "Action": one_or_many(actions),
        "Resource": topic_arn,
    }));
    document.insert("Statement".into(), Value::Array(list));
    Ok(to_aws_json(&Value::Object(document)))
}

/// `policy` without the statements whose `Sid` is `label`.
pub fn remove_permission(policy: &str, label: &str) -> Result<String, PolicyError> {
    let mut document = parse_policy(policy)?;
    let mut list = take_statements(&mut document);
    list.retain(|statement| statement.get("Sid").and_then(Value::as_str) != Some(label));
    document.insert("Statement".into(), Value::Array(list));
    Ok(to_aws_json(&Value::Object(document)))
}

/// The effective delivery policy: AWS's defaults with the topic's
/// `DeliveryPolicy` (if it is a JSON object) laid over them.
pub fn effective_delivery_policy(delivery_policy: Option<&str>) -> String {
    let overlay = match delivery_policy.map(serde_json::from_str::<Value>) {
        Some(Ok(overlay @ Value::Object(_))) => overlay,
        _ => return DEFAULT_EFFECTIVE_DELIVERY_POLICY.to_string(),
    };
    let mut effective: Value =
        serde_json::from_str(DEFAULT_EFFECTIVE_DELIVERY_POLICY).unwrap_or(Value::Null);
    merge(&mut effective, overlay);
    to_aws_json(&effective)
}

fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sns:us-east-1:000000000000:t";

    #[test]
    fn the_default_policy_is_awss() {
        assert_eq!(
            default_policy(ARN, "000000000000"),
            r#"{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":"arn:aws:sns:us-east-1:000000000000:t","Condition":{"StringEquals":{"AWS:SourceOwner":"000000000000"}}}]}"#
        );
        assert_eq!(
            effective_delivery_policy(None),
            DEFAULT_EFFECTIVE_DELIVERY_POLICY
        );
        assert_eq!(
            effective_delivery_policy(Some("not json")),
            DEFAULT_EFFECTIVE_DELIVERY_POLICY
        );
    }

    #[test]
    fn permissions_are_statements() {
        let policy = default_policy(ARN, "000000000000");
        let added = add_permission(
            &policy,
            ARN,
            "grant",
            &["111122223333".into()],
            &["Publish".into()],
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&added).unwrap();
        assert_eq!(
            doc["Statement"][1],
            json!({"Sid": "grant", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "SNS:Publish", "Resource": ARN})
        );
        assert!(added.contains(r#"{"Sid":"grant","Effect":"Allow","Principal""#));
        assert_eq!(
            add_permission(&added, ARN, "grant", &["1".into()], &["Publish".into()]),
            Err(PolicyError("Invalid parameter: Statement already exists"))
        );
        assert_eq!(
            add_permission(&added, ARN, "x", &["1".into()], &["Fly".into()]),
            Err(PolicyError(
                "Invalid parameter: Policy statement action out of service scope!"
            ))
        );
        let two = add_permission(
            &policy,
            ARN,
            "two",
            &["111122223333".into(), "444455556666".into()],
            &["Publish".into(), "Subscribe".into()],
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&two).unwrap();
        assert_eq!(
            doc["Statement"][1]["Action"],
            json!(["SNS:Publish", "SNS:Subscribe"])
        );
        assert_eq!(
            doc["Statement"][1]["Principal"]["AWS"][1],
            "arn:aws:iam::444455556666:root"
        );
        assert_eq!(remove_permission(&added, "grant").unwrap(), policy);
        // A policy whose Statement is one object still takes a statement.
        let single = r#"{"Version":"2012-10-17","Statement":{"Sid":"a","Effect":"Deny"}}"#;
        let grown = add_permission(single, ARN, "b", &["1".into()], &["Receive".into()]).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&grown).unwrap()["Statement"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn delivery_policies_lay_over_the_defaults() {
        let effective = effective_delivery_policy(Some(
            r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":5},"defaultThrottlePolicy":{"maxReceivesPerSecond":1}}}"#,
        ));
        assert_eq!(
            effective,
            r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":5,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultThrottlePolicy":{"maxReceivesPerSecond":1},"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#
        );
    }
}
