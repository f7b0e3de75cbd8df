//! SNS over its query protocol: a form-encoded `POST /` with
//! `Action=<Op>&Version=2010-03-31&...`, answered in XML in the
//! `http://sns.amazonaws.com/doc/2010-03-31/` namespace with a
//! `<ResponseMetadata><RequestId>`. Errors take SNS's shape
//! (`<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code>...`),
//! which boto3 reports as `e.response['Error']['Code']`.
//!
//! Operations: CreateTopic, DeleteTopic, ListTopics, GetTopicAttributes,
//! SetTopicAttributes, AddPermission, RemovePermission, TagResource,
//! UntagResource, ListTagsForResource, Subscribe, ConfirmSubscription
//! (subscriptions are confirmed at once; the token of their confirmation
//! message is accepted), Unsubscribe, ListSubscriptions,
//! ListSubscriptionsByTopic, GetSubscriptionAttributes,
//! SetSubscriptionAttributes, Publish (to a topic, or to a phone number:
//! recorded in the local outbox), PublishBatch.

use crate::Reply;
use crate::topics::{MAX_MESSAGE_BYTES, PublishMessage, parse_arn, topic_of};
use crate::{ErrorKind, ServiceError, Sns as Events};
use base64::Engine as _;
use http::StatusCode;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use stratus_aws::AwsError;
use stratus_aws::AwsRequest;
use stratus_aws::protocol::xml_escape as esc;
use stratus_service_kit::MessageAttribute;

/// Most entries of a PublishBatch.
const MAX_BATCH: usize = 10;

/// An SNS error: code, message, status, and whether the caller is at fault.
struct SnsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl SnsError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        SnsError {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    fn missing(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!("The request must contain the parameter {name}."),
        )
    }
}

impl From<ServiceError> for SnsError {
    fn from(error: ServiceError) -> Self {
        let status = match error.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Invalid | ErrorKind::Conflict | ErrorKind::TooLarge => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = match (error.kind, error.code) {
            (ErrorKind::Invalid, "InvalidParameterValue") => "InvalidParameter",
            (ErrorKind::Internal, _) => "InternalError",
            (_, code) => code,
        };
        SnsError {
            status,
            code,
            message: error.message,
        }
    }
}

/// The request's form parameters.
struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(body: &[u8]) -> Self {
        Params(form_urlencoded::parse(body).into_owned().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, SnsError> {
        self.get(name).ok_or_else(|| SnsError::missing(name))
    }

    /// `{prefix}.member.N` values (N from 1).
    fn members(&self, prefix: &str) -> Vec<String> {
        (1..)
            .map_while(|n| self.get(&format!("{prefix}.member.{n}")))
            .map(str::to_string)
            .collect()
    }

    /// `{prefix}.member.N.Key` / `.Value` tags (N from 1); a key given
    /// twice is refused, as on SNS.
    fn tags(&self, prefix: &str) -> Result<BTreeMap<String, String>, SnsError> {
        let mut out = BTreeMap::new();
        for n in 1.. {
            let Some(key) = self.get(&format!("{prefix}.member.{n}.Key")) else {
                break;
            };
            let value = self
                .get(&format!("{prefix}.member.{n}.Value"))
                .unwrap_or_default();
            if out.insert(key.to_string(), value.to_string()).is_some() {
                return Err(SnsError::invalid(
                    "Invalid parameter: Duplicated keys are not allowed.",
                ));
            }
        }
        Ok(out)
    }

    /// `{prefix}.entry.N.key` / `.value` pairs (N from 1).
    fn entries(&self, prefix: &str) -> Result<BTreeMap<String, String>, SnsError> {
        let mut out = BTreeMap::new();
        for n in 1.. {
            let Some(key) = self.get(&format!("{prefix}.entry.{n}.key")) else {
                break;
            };
            let value = self
                .get(&format!("{prefix}.entry.{n}.value"))
                .ok_or_else(|| SnsError::missing(&format!("{prefix}.entry.{n}.value")))?;
            out.insert(key.to_string(), value.to_string());
        }
        Ok(out)
    }

    /// `{prefix}.entry.N.Name` / `.Value.DataType` / `.Value.StringValue` /
    /// `.Value.BinaryValue` (base64): message attributes.
    fn message_attributes(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<String, MessageAttribute>, SnsError> {
        let mut out = BTreeMap::new();
        for n in 1.. {
            let base = format!("{prefix}.entry.{n}");
            let Some(name) = self.get(&format!("{base}.Name")) else {
                break;
            };
            let data_type = self
                .get(&format!("{base}.Value.DataType"))
                .ok_or_else(|| SnsError::missing(&format!("{base}.Value.DataType")))?;
            let binary_value = match self.get(&format!("{base}.Value.BinaryValue")) {
                Some(b64) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|e| {
                            SnsError::new(
                                StatusCode::BAD_REQUEST,
                                "ParameterValueInvalid",
                                format!("The message attribute '{name}' has an invalid binary value: {e}"),
                            )
                        })?,
                ),
                None => None,
            };
            out.insert(
                name.to_string(),
                MessageAttribute {
                    data_type: data_type.to_string(),
                    string_value: self
                        .get(&format!("{base}.Value.StringValue"))
                        .map(str::to_string),
                    binary_value,
                },
            );
        }
        Ok(out)
    }
}

/// The topic of the topic ARN in parameter `name` (required).
fn topic_param(params: &Params, name: &str) -> Result<String, SnsError> {
    Ok(topic_of(name, params.required(name)?)?)
}

/// The subscription ARN in parameter `SubscriptionArn`, with SNS's texts
/// for a missing or malformed one.
fn subscription_param(params: &Params) -> Result<&str, SnsError> {
    let Some(text) = params.get("SubscriptionArn") else {
        return Err(SnsError::invalid(
            "Invalid parameter: SubscriptionArn Reason: no value for required parameter",
        ));
    };
    let arn = parse_arn("SubscriptionArn", text)?;
    if arn.as_subscription().is_ok() {
        Ok(text)
    } else if arn.as_topic().is_ok() {
        Err(SnsError::invalid("Invalid parameter: SubscriptionId"))
    } else {
        Err(SnsError::invalid("Invalid parameter: SubscriptionArn"))
    }
}

/// Where a request's parameters are: the form body, or the query of a
/// `SubscribeURL`/`UnsubscribeURL` GET.
pub(crate) fn params_of(request: &AwsRequest) -> Vec<u8> {
    if request.parts.method == http::Method::GET {
        request
            .parts
            .uri
            .query()
            .unwrap_or_default()
            .as_bytes()
            .to_vec()
    } else {
        request.body.to_vec()
    }
}

pub(crate) async fn handle(
    events: &Events,
    action: &str,
    request: AwsRequest,
) -> Result<Reply, AwsError> {
    let params = Params::parse(&params_of(&request));
    // Each region is its own namespace of topics.
    let region: stratus_core::scope::Region = request.context.region.parse().unwrap_or_default();
    match run(events, &region, action, &params).await {
        Ok(result) => Ok(crate::service::SNS.query_ok(
            action,
            result.as_deref(),
            &request.context.request_id,
        )),
        // A server failure was logged where it was met.
        Err(error) => Err(AwsError::new(error.status, error.code, error.message)),
    }
}

async fn run(
    events: &Events,
    region: &stratus_core::scope::Region,
    action: &str,
    params: &Params,
) -> Result<Option<String>, SnsError> {
    match action {
        "CreateTopic" => {
            let name = params.required("Name")?;
            let mut attributes = params.entries("Attributes")?;
            if let Some(policy) = params.get("DataProtectionPolicy") {
                attributes.insert("DataProtectionPolicy".into(), policy.into());
            }
            let tags = params.tags("Tags")?;
            let arn = events
                .create_tagged_topic(region, name, attributes, tags)
                .await?;
            Ok(Some(format!("<TopicArn>{}</TopicArn>", esc(&arn))))
        }
        "DeleteTopic" => {
            let topic = topic_param(params, "TopicArn")?;
            events.delete_topic(&topic).await?;
            Ok(None)
        }
        "ListTopics" => {
            let (arns, token) = events.list_topics(region, params.get("NextToken")).await?;
            let mut out = String::from("<Topics>");
            for arn in arns {
                let _ = write!(out, "<member><TopicArn>{}</TopicArn></member>", esc(&arn));
            }
            out.push_str("</Topics>");
            if let Some(token) = token {
                let _ = write!(out, "<NextToken>{}</NextToken>", esc(&token));
            }
            Ok(Some(out))
        }
        "GetTopicAttributes" => {
            let topic = topic_param(params, "TopicArn")?;
            let attributes = events.topic_attributes(&topic).await?;
            Ok(Some(attributes_xml(&attributes)))
        }
        "SetTopicAttributes" => {
            let topic = topic_param(params, "TopicArn")?;
            let name = params.required("AttributeName")?;
            let value = params.get("AttributeValue").unwrap_or("");
            events.set_topic_attribute(&topic, name, value).await?;
            Ok(None)
        }
        "AddPermission" => {
            let topic = topic_param(params, "TopicArn")?;
            let label = params.required("Label")?;
            let accounts = params.members("AWSAccountId");
            if accounts.is_empty() {
                return Err(SnsError::missing("AWSAccountId"));
            }
            let actions = params.members("ActionName");
            if actions.is_empty() {
                return Err(SnsError::missing("ActionName"));
            }
            events
                .add_permission(&topic, label, accounts, actions)
                .await?;
            Ok(None)
        }
        "RemovePermission" => {
            let topic = topic_param(params, "TopicArn")?;
            let label = params.required("Label")?;
            events.remove_permission(&topic, label).await?;
            Ok(None)
        }
        "TagResource" => {
            let topic = topic_param(params, "ResourceArn")?;
            let tags = params.tags("Tags")?;
            events.tag(&topic, tags, Vec::new()).await?;
            // An empty result element, which SDKs expect.
            Ok(Some(String::new()))
        }
        "UntagResource" => {
            let topic = topic_param(params, "ResourceArn")?;
            let keys = params.members("TagKeys");
            events.tag(&topic, BTreeMap::new(), keys).await?;
            Ok(Some(String::new()))
        }
        "ListTagsForResource" => {
            let topic = topic_param(params, "ResourceArn")?;
            let mut out = String::from("<Tags>");
            for (key, value) in events.tags(&topic).await? {
                let _ = write!(
                    out,
                    "<member><Key>{}</Key><Value>{}</Value></member>",
                    esc(&key),
                    esc(&value)
                );
            }
            out.push_str("</Tags>");
            Ok(Some(out))
        }
        "Subscribe" => {
            let topic = topic_param(params, "TopicArn")?;
            let protocol = params.required("Protocol")?;
            let endpoint = params
                .get("Endpoint")
                .ok_or_else(|| SnsError::invalid("Invalid parameter: Endpoint"))?;
            let attributes = params.entries("Attributes")?;
            let record = events
                .subscribe(&topic, protocol, endpoint, attributes)
                .await?;
            // Subscriptions are confirmed at once, so the ARN is always
            // returned (ReturnSubscriptionArn changes nothing).
            Ok(Some(format!(
                "<SubscriptionArn>{}</SubscriptionArn>",
                esc(&record.arn)
            )))
        }
        "ConfirmSubscription" => {
            let topic = topic_param(params, "TopicArn")?;
            let token = params.required("Token")?;
            let arn = events.confirm_subscription(&topic, token).await?;
            Ok(Some(format!(
                "<SubscriptionArn>{}</SubscriptionArn>",
                esc(&arn)
            )))
        }
        "Unsubscribe" => {
            events.unsubscribe(subscription_param(params)?).await?;
            Ok(None)
        }
        "ListSubscriptions" | "ListSubscriptionsByTopic" => {
            let topic = if action == "ListSubscriptionsByTopic" {
                Some(topic_param(params, "TopicArn")?)
            } else {
                None
            };
            let (subscriptions, token) = events
                .list_subscriptions(region, topic.as_deref(), params.get("NextToken"))
                .await?;
            let mut out = String::from("<Subscriptions>");
            for s in subscriptions {
                let _ = write!(
                    out,
                    "<member><TopicArn>{}</TopicArn><Protocol>{}</Protocol><SubscriptionArn>{}</SubscriptionArn><Owner>{}</Owner><Endpoint>{}</Endpoint></member>",
                    esc(&stratus_core::function::topic_arn(&s.topic)),
                    esc(&s.protocol),
                    esc(&s.arn),
                    stratus_core::function::ACCOUNT_ID,
                    esc(&s.endpoint)
                );
            }
            out.push_str("</Subscriptions>");
            if let Some(token) = token {
                let _ = write!(out, "<NextToken>{}</NextToken>", esc(&token));
            }
            Ok(Some(out))
        }
        "GetSubscriptionAttributes" => {
            let attributes = events
                .subscription_attributes(subscription_param(params)?)
                .await?;
            Ok(Some(attributes_xml(&attributes)))
        }
        "SetSubscriptionAttributes" => {
            let arn = subscription_param(params)?;
            let name = params.required("AttributeName")?;
            let value = params.get("AttributeValue").unwrap_or("");
            events.set_subscription_attribute(arn, name, value).await?;
            Ok(None)
        }
        "Publish" => {
            let message = publish_message(params, "")?;
            let id = match (
                params.get("TopicArn"),
                params.get("TargetArn"),
                params.get("PhoneNumber"),
            ) {
                (Some(arn), _, _) => {
                    let topic = topic_of("TopicArn", arn)?;
                    events.publish(&topic, message).await?
                }
                (None, Some(arn), _) => {
                    let topic = topic_of("TargetArn", arn)?;
                    events.publish(&topic, message).await?
                }
                (None, None, Some(number)) => events.publish_to_phone(number, message).await?,
                (None, None, None) => return Err(SnsError::missing("TopicArn")),
            };
            Ok(Some(format!("<MessageId>{}</MessageId>", esc(&id))))
        }
        "PublishBatch" => publish_batch(events, params).await.map(Some),
        other => Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

/// The message of a Publish (`prefix` empty) or of a batch entry
/// (`prefix` = `PublishBatchRequestEntries.member.N.`).
fn publish_message(params: &Params, prefix: &str) -> Result<PublishMessage, SnsError> {
    let field = |name: &str| params.get(&format!("{prefix}{name}")).map(str::to_string);
    let message = field("Message").ok_or_else(|| SnsError::missing(&format!("{prefix}Message")))?;
    let (message, per_protocol) = if field("MessageStructure").as_deref() == Some("json") {
        PublishMessage::structured(&message)?
    } else {
        (message, BTreeMap::new())
    };
    Ok(PublishMessage {
        message,
        per_protocol,
        subject: field("Subject"),
        attributes: params.message_attributes(&format!("{prefix}MessageAttributes"))?,
        group_id: field("MessageGroupId"),
        dedup_id: field("MessageDeduplicationId"),
    })
}

/// Longest id of a batch entry.
const MAX_BATCH_ID: usize = 80;

async fn publish_batch(events: &Events, params: &Params) -> Result<String, SnsError> {
    let topic = topic_param(params, "TopicArn")?;
    let prefix = "PublishBatchRequestEntries.member";
    let mut ids = Vec::new();
    for n in 1.. {
        match params.get(&format!("{prefix}.{n}.Id")) {
            Some(id) => ids.push((n, id.to_string())),
            None => break,
        }
    }
    if ids.is_empty() {
        return Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "EmptyBatchRequest",
            "The batch request doesn't contain any entries.",
        ));
    }
    if ids.len() > MAX_BATCH {
        return Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible.",
        ));
    }
    let distinct: HashSet<&str> = ids.iter().map(|(_, id)| id.as_str()).collect();
    if distinct.len() != ids.len() {
        return Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
        ));
    }
    for (_, id) in &ids {
        let why = if id.len() > MAX_BATCH_ID {
            "is too long"
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            "contains an impermissible character"
        } else {
            continue;
        };
        return Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBatchEntryId",
            format!("The Id of a batch entry in the batch request {why}: {id}"),
        ));
    }
    let total: usize = ids
        .iter()
        .filter_map(|(n, _)| params.get(&format!("{prefix}.{n}.Message")))
        .map(str::len)
        .sum();
    if total > MAX_MESSAGE_BYTES {
        return Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "BatchRequestTooLong",
            "The length of all the messages put together is more than the limit.",
        ));
    }
    // A malformed structured message, or a FIFO entry without its ids,
    // fails the whole batch (as on SNS); an entry SNS refuses when
    // publishing it fails alone.
    let mut entries = Vec::new();
    for (n, id) in ids {
        let entry_prefix = format!("{prefix}.{n}.");
        let field = |name: &str| params.get(&format!("{entry_prefix}{name}"));
        if field("MessageStructure") == Some("json")
            && let Some(message) = field("Message")
        {
            PublishMessage::structured(message)?;
        }
        entries.push((id, publish_message(params, &entry_prefix)));
    }
    let messages: Vec<&PublishMessage> = entries
        .iter()
        .filter_map(|(_, entry)| entry.as_ref().ok())
        .collect();
    events.check_batch(&topic, &messages).await?;
    let mut successful = String::new();
    let mut failed = String::new();
    for (id, entry) in entries {
        let outcome = match entry {
            Ok(message) => events
                .publish(&topic, message)
                .await
                .map_err(SnsError::from),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(message_id) => {
                let _ = write!(
                    successful,
                    "<member><Id>{}</Id><MessageId>{}</MessageId></member>",
                    esc(&id),
                    esc(&message_id)
                );
            }
            // A missing topic fails the whole batch, as on SNS.
            Err(error) if error.status == StatusCode::NOT_FOUND => return Err(error),
            Err(error) => {
                let _ = write!(
                    failed,
                    "<member><Id>{}</Id><Code>{}</Code><Message>{}</Message><SenderFault>{}</SenderFault></member>",
                    esc(&id),
                    esc(error.code),
                    esc(&error.message),
                    !error.status.is_server_error()
                );
            }
        }
    }
    Ok(format!(
        "<Successful>{successful}</Successful><Failed>{failed}</Failed>"
    ))
}

fn attributes_xml(attributes: &BTreeMap<String, String>) -> String {
    let mut out = String::from("<Attributes>");
    for (key, value) in attributes {
        let _ = write!(
            out,
            "<entry><key>{}</key><value>{}</value></entry>",
            esc(key),
            esc(value)
        );
    }
    out.push_str("</Attributes>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_parses_forms() {
        assert_eq!(esc("<a b=\"c\">&'"), "&lt;a b=&quot;c&quot;&gt;&amp;&apos;");
        let params = Params::parse(
            b"Action=Publish&MessageAttributes.entry.1.Name=n&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=a%26b&Attributes.entry.1.key=K&Attributes.entry.1.value=V",
        );
        assert_eq!(params.get("Action"), Some("Publish"));
        let attrs = params
            .message_attributes("MessageAttributes")
            .ok()
            .unwrap_or_default();
        assert_eq!(attrs["n"].string_value.as_deref(), Some("a&b"));
        let entries = params.entries("Attributes").ok().unwrap_or_default();
        assert_eq!(entries.get("K").map(String::as_str), Some("V"));
        assert_eq!(
            params.required("Nope").err().map(|e| e.code),
            Some("MissingParameter")
        );
    }
}
