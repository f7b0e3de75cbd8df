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
//!
//! Each operation reads its request type and answers its result type
//! (`types.rs`): the form is nested by the query protocol's rules
//! ([`QueryForm`]) and read with [`decode`]; a missing parameter is
//! answered with SNS's `MissingParameter` naming it as the wire does
//! (`MessageAttributes.entry.2.Value.DataType`).

use crate::Reply;
use crate::topics::{MAX_MESSAGE_BYTES, PublishMessage, parse_arn, topic_of};
use crate::{ErrorKind, ServiceError, Sns as Events};
use base64::Engine as _;
use http::StatusCode;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use stratus_aws::AwsError;
use stratus_aws::AwsRequest;
use stratus_aws::decode::{DecodeError, Problem, Segment, decode};
use stratus_aws::query::QueryForm;
use stratus_core::function::{ACCOUNT_ID, topic_arn};
use stratus_core::scope::Region;
use stratus_service_kit::MessageAttribute;
use types::*;

pub mod types;

/// Most entries of a PublishBatch.
const MAX_BATCH: usize = 10;

/// An SNS error: code, message, status, and whether the caller is at fault.
#[derive(Debug)]
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

/// Reads an operation's request out of the form, in SNS's words when it
/// is not one.
fn read<'a, T: Deserialize<'a>>(form: &'a QueryForm) -> Result<T, SnsError> {
    decode(form.value()).map_err(|error| decode_error(form, &error))
}

/// A form that is not its operation's request: a missing member is a
/// missing parameter; a member that is not of its type (a value where the
/// form gives a structure, as in `Name.x=1`) is an invalid one.
fn decode_error(form: &QueryForm, error: &DecodeError) -> SnsError {
    let name = form.wire_name(&error.path);
    match error.problem {
        Problem::Missing => SnsError::missing(&name),
        Problem::WrongType { .. } | Problem::Invalid(_) => {
            SnsError::invalid(format!("Invalid parameter: {name}"))
        }
    }
}

/// Runs an operation on its typed request, answering its result's XML.
async fn call<'a, Req, Resp, Fut>(
    form: &'a QueryForm,
    operation: impl FnOnce(Req) -> Fut,
) -> Result<Option<String>, SnsError>
where
    Req: Deserialize<'a>,
    Resp: QueryResult,
    Fut: Future<Output = Result<Resp, SnsError>>,
{
    Ok(operation(read(form)?).await?.result_xml())
}

/// A required member the request type leaves optional (SNS checks it
/// after another).
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, SnsError> {
    value.as_deref().ok_or_else(|| SnsError::missing(name))
}

/// The `{member}.entry.N` pairs, each with its value; an entry without one
/// is a missing parameter (`Attributes.entry.1.value`).
fn entries(
    form: &QueryForm,
    member: &str,
    entries: Entries,
) -> Result<BTreeMap<String, String>, SnsError> {
    entries
        .into_iter()
        .map(|(key, value)| match value {
            Some(value) => Ok((key, value)),
            None => {
                Err(SnsError::missing(&form.wire_name(&[
                    Segment::Key(member.to_string()),
                    Segment::Key(key),
                ])))
            }
        })
        .collect()
}

/// The tags up to the first without a key; a key given twice is refused,
/// as on SNS.
fn tags(entries: Vec<TagEntry>) -> Result<BTreeMap<String, String>, SnsError> {
    let mut out = BTreeMap::new();
    for tag in entries {
        let Some(key) = tag.key else {
            break;
        };
        if out.insert(key, tag.value.unwrap_or_default()).is_some() {
            return Err(SnsError::invalid(
                "Invalid parameter: Duplicated keys are not allowed.",
            ));
        }
    }
    Ok(out)
}

/// The topic of the topic ARN `value` of parameter `name`.
fn topic_param(name: &str, value: &str) -> Result<String, SnsError> {
    Ok(topic_of(name, value)?)
}

/// The subscription ARN of parameter `SubscriptionArn`, with SNS's texts
/// for a missing or malformed one.
fn subscription_param(value: Option<&str>) -> Result<&str, SnsError> {
    let Some(text) = value else {
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
    let form = QueryForm::parse(&params_of(&request));
    // Each region is its own namespace of topics.
    let region: Region = request.context.region.parse().unwrap_or_default();
    match run(events, &region, action, &form).await {
        Ok(result) => Ok(crate::service::SNS.query_ok(
            action,
            result.as_deref(),
            &request.context.request_id,
        )),
        // A server failure was logged where it was met.
        Err(error) => Err(AwsError::new(error.status, error.code, error.message)),
    }
}

/// The contents of the `<{action}Result>` element of `action`'s answer
/// (None for an operation without one).
async fn run(
    events: &Events,
    region: &Region,
    action: &str,
    form: &QueryForm,
) -> Result<Option<String>, SnsError> {
    match action {
        "CreateTopic" => call(form, |r| create_topic(events, region, form, r)).await,
        "DeleteTopic" => call(form, |r| delete_topic(events, r)).await,
        "ListTopics" => call(form, |r| list_topics(events, region, r)).await,
        "GetTopicAttributes" => call(form, |r| get_topic_attributes(events, r)).await,
        "SetTopicAttributes" => call(form, |r| set_topic_attributes(events, r)).await,
        "AddPermission" => call(form, |r| add_permission(events, r)).await,
        "RemovePermission" => call(form, |r| remove_permission(events, r)).await,
        "TagResource" => call(form, |r| tag_resource(events, r)).await,
        "UntagResource" => call(form, |r| untag_resource(events, r)).await,
        "ListTagsForResource" => call(form, |r| list_tags_for_resource(events, r)).await,
        "Subscribe" => call(form, |r| subscribe(events, form, r)).await,
        "ConfirmSubscription" => call(form, |r| confirm_subscription(events, r)).await,
        "Unsubscribe" => call(form, |r| unsubscribe(events, r)).await,
        "ListSubscriptions" => call(form, |r| list_subscriptions(events, region, r)).await,
        "ListSubscriptionsByTopic" => {
            call(form, |r| list_subscriptions_by_topic(events, region, r)).await
        }
        "GetSubscriptionAttributes" => call(form, |r| get_subscription_attributes(events, r)).await,
        "SetSubscriptionAttributes" => call(form, |r| set_subscription_attributes(events, r)).await,
        "Publish" => call(form, |r| publish(events, form, r)).await,
        "PublishBatch" => call(form, |r| publish_batch(events, form, r)).await,
        other => Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

async fn create_topic(
    events: &Events,
    region: &Region,
    form: &QueryForm,
    request: CreateTopicRequest,
) -> Result<CreateTopicResult, SnsError> {
    let mut attributes = entries(form, "Attributes", request.attributes)?;
    if let Some(policy) = request.data_protection_policy {
        attributes.insert("DataProtectionPolicy".into(), policy);
    }
    let tags = tags(request.tags)?;
    let topic_arn = events
        .create_tagged_topic(region, &request.name, attributes, tags)
        .await?;
    Ok(CreateTopicResult { topic_arn })
}

async fn delete_topic(events: &Events, request: DeleteTopicRequest) -> Result<(), SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    Ok(events.delete_topic(&topic).await?)
}

async fn list_topics(
    events: &Events,
    region: &Region,
    request: ListTopicsRequest,
) -> Result<ListTopicsResult, SnsError> {
    let (arns, next_token) = events
        .list_topics(region, request.next_token.as_deref())
        .await?;
    Ok(ListTopicsResult {
        topics: arns
            .into_iter()
            .map(|topic_arn| Topic { topic_arn })
            .collect(),
        next_token,
    })
}

async fn get_topic_attributes(
    events: &Events,
    request: GetTopicAttributesRequest,
) -> Result<GetTopicAttributesResult, SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    let attributes = events.topic_attributes(&topic).await?;
    Ok(AttributesResult { attributes })
}

async fn set_topic_attributes(
    events: &Events,
    request: SetTopicAttributesRequest,
) -> Result<(), SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    let name = required(&request.attribute_name, "AttributeName")?;
    let value = request.attribute_value.as_deref().unwrap_or("");
    Ok(events.set_topic_attribute(&topic, name, value).await?)
}

async fn add_permission(events: &Events, request: AddPermissionRequest) -> Result<(), SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    let label = required(&request.label, "Label")?;
    if request.aws_account_ids.is_empty() {
        return Err(SnsError::missing("AWSAccountId"));
    }
    if request.action_names.is_empty() {
        return Err(SnsError::missing("ActionName"));
    }
    Ok(events
        .add_permission(&topic, label, request.aws_account_ids, request.action_names)
        .await?)
}

async fn remove_permission(
    events: &Events,
    request: RemovePermissionRequest,
) -> Result<(), SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    let label = required(&request.label, "Label")?;
    Ok(events.remove_permission(&topic, label).await?)
}

async fn tag_resource(
    events: &Events,
    request: TagResourceRequest,
) -> Result<EmptyResult, SnsError> {
    let topic = topic_param("ResourceArn", &request.resource_arn)?;
    let tags = tags(request.tags)?;
    events.tag(&topic, tags, Vec::new()).await?;
    Ok(EmptyResult)
}

async fn untag_resource(
    events: &Events,
    request: UntagResourceRequest,
) -> Result<EmptyResult, SnsError> {
    let topic = topic_param("ResourceArn", &request.resource_arn)?;
    events
        .tag(&topic, BTreeMap::new(), request.tag_keys)
        .await?;
    Ok(EmptyResult)
}

async fn list_tags_for_resource(
    events: &Events,
    request: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResult, SnsError> {
    let topic = topic_param("ResourceArn", &request.resource_arn)?;
    let tags = events.tags(&topic).await?;
    Ok(ListTagsForResourceResult {
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect(),
    })
}

async fn subscribe(
    events: &Events,
    form: &QueryForm,
    request: SubscribeRequest,
) -> Result<SubscribeResult, SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    let protocol = required(&request.protocol, "Protocol")?;
    let endpoint = request
        .endpoint
        .as_deref()
        .ok_or_else(|| SnsError::invalid("Invalid parameter: Endpoint"))?;
    let attributes = entries(form, "Attributes", request.attributes)?;
    let record = events
        .subscribe(&topic, protocol, endpoint, attributes)
        .await?;
    // Subscriptions are confirmed at once, so the ARN is always returned
    // (ReturnSubscriptionArn changes nothing).
    Ok(SubscriptionArnResult {
        subscription_arn: record.arn,
    })
}

async fn confirm_subscription(
    events: &Events,
    request: ConfirmSubscriptionRequest,
) -> Result<ConfirmSubscriptionResult, SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    let token = required(&request.token, "Token")?;
    let subscription_arn = events.confirm_subscription(&topic, token).await?;
    Ok(SubscriptionArnResult { subscription_arn })
}

async fn unsubscribe(events: &Events, request: UnsubscribeRequest) -> Result<(), SnsError> {
    let arn = subscription_param(request.subscription_arn.as_deref())?;
    Ok(events.unsubscribe(arn).await?)
}

async fn list_subscriptions(
    events: &Events,
    region: &Region,
    request: ListSubscriptionsRequest,
) -> Result<ListSubscriptionsResult, SnsError> {
    subscriptions_page(events, region, None, request.next_token.as_deref()).await
}

async fn list_subscriptions_by_topic(
    events: &Events,
    region: &Region,
    request: ListSubscriptionsByTopicRequest,
) -> Result<ListSubscriptionsByTopicResult, SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    subscriptions_page(events, region, Some(&topic), request.next_token.as_deref()).await
}

/// A page of the subscriptions of `region`'s topics, or of `topic`'s.
async fn subscriptions_page(
    events: &Events,
    region: &Region,
    topic: Option<&str>,
    next_token: Option<&str>,
) -> Result<ListSubscriptionsResult, SnsError> {
    let (subscriptions, next_token) = events.list_subscriptions(region, topic, next_token).await?;
    Ok(ListSubscriptionsResult {
        subscriptions: subscriptions
            .into_iter()
            .map(|s| Subscription {
                topic_arn: topic_arn(&s.topic),
                protocol: s.protocol,
                subscription_arn: s.arn,
                owner: ACCOUNT_ID.to_string(),
                endpoint: s.endpoint,
            })
            .collect(),
        next_token,
    })
}

async fn get_subscription_attributes(
    events: &Events,
    request: GetSubscriptionAttributesRequest,
) -> Result<GetSubscriptionAttributesResult, SnsError> {
    let arn = subscription_param(request.subscription_arn.as_deref())?;
    let attributes = events.subscription_attributes(arn).await?;
    Ok(AttributesResult { attributes })
}

async fn set_subscription_attributes(
    events: &Events,
    request: SetSubscriptionAttributesRequest,
) -> Result<(), SnsError> {
    let arn = subscription_param(request.subscription_arn.as_deref())?;
    let name = required(&request.attribute_name, "AttributeName")?;
    let value = request.attribute_value.as_deref().unwrap_or("");
    Ok(events.set_subscription_attribute(arn, name, value).await?)
}

/// The message members of a `Publish` or of a `PublishBatch` entry.
struct Outgoing {
    message: Option<String>,
    subject: Option<String>,
    message_structure: Option<String>,
    message_attributes: BTreeMap<String, MessageAttributeValue>,
    message_group_id: Option<String>,
    message_deduplication_id: Option<String>,
}

async fn publish(
    events: &Events,
    form: &QueryForm,
    request: PublishRequest,
) -> Result<PublishResult, SnsError> {
    let message = publish_message(
        form,
        &[],
        Outgoing {
            message: request.message,
            subject: request.subject,
            message_structure: request.message_structure,
            message_attributes: request.message_attributes,
            message_group_id: request.message_group_id,
            message_deduplication_id: request.message_deduplication_id,
        },
    )?;
    let message_id = match (
        request.topic_arn.as_deref(),
        request.target_arn.as_deref(),
        request.phone_number.as_deref(),
    ) {
        (Some(arn), _, _) => {
            let topic = topic_param("TopicArn", arn)?;
            events.publish(&topic, message).await?
        }
        (None, Some(arn), _) => {
            let topic = topic_param("TargetArn", arn)?;
            events.publish(&topic, message).await?
        }
        (None, None, Some(number)) => events.publish_to_phone(number, message).await?,
        (None, None, None) => return Err(SnsError::missing("TopicArn")),
    };
    Ok(PublishResult { message_id })
}

/// The message of a Publish (`at` empty) or of a batch entry (`at` the
/// entry's path), its missing members named as the wire names them.
fn publish_message(
    form: &QueryForm,
    at: &[Segment],
    outgoing: Outgoing,
) -> Result<PublishMessage, SnsError> {
    let wire = |steps: &[&str]| {
        let mut path = at.to_vec();
        path.extend(steps.iter().map(|step| Segment::Key(step.to_string())));
        form.wire_name(&path)
    };
    let message = outgoing
        .message
        .ok_or_else(|| SnsError::missing(&wire(&["Message"])))?;
    let (message, per_protocol) = if outgoing.message_structure.as_deref() == Some("json") {
        PublishMessage::structured(&message)?
    } else {
        (message, BTreeMap::new())
    };
    let mut attributes = BTreeMap::new();
    for (name, value) in outgoing.message_attributes {
        let data_type = value
            .data_type
            .ok_or_else(|| SnsError::missing(&wire(&["MessageAttributes", &name, "DataType"])))?;
        let binary_value = match value.binary_value {
            Some(b64) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| {
                        SnsError::new(
                            StatusCode::BAD_REQUEST,
                            "ParameterValueInvalid",
                            format!(
                                "The message attribute '{name}' has an invalid binary value: {e}"
                            ),
                        )
                    })?,
            ),
            None => None,
        };
        attributes.insert(
            name,
            MessageAttribute {
                data_type,
                string_value: value.string_value,
                binary_value,
            },
        );
    }
    Ok(PublishMessage {
        message,
        per_protocol,
        subject: outgoing.subject,
        attributes,
        group_id: outgoing.message_group_id,
        dedup_id: outgoing.message_deduplication_id,
    })
}

/// Longest id of a batch entry.
const MAX_BATCH_ID: usize = 80;

async fn publish_batch(
    events: &Events,
    form: &QueryForm,
    request: PublishBatchRequest,
) -> Result<PublishBatchResult, SnsError> {
    let topic = topic_param("TopicArn", &request.topic_arn)?;
    // The entries up to the first without an id, with their places.
    let entries: Vec<(usize, String, PublishBatchRequestEntry)> = request
        .publish_batch_request_entries
        .into_iter()
        .enumerate()
        .map_while(|(n, entry)| Some((n, entry.id.clone()?, entry)))
        .collect();
    if entries.is_empty() {
        return Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "EmptyBatchRequest",
            "The batch request doesn't contain any entries.",
        ));
    }
    if entries.len() > MAX_BATCH {
        return Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible.",
        ));
    }
    let distinct: HashSet<&str> = entries.iter().map(|(_, id, _)| id.as_str()).collect();
    if distinct.len() != entries.len() {
        return Err(SnsError::new(
            StatusCode::BAD_REQUEST,
            "BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
        ));
    }
    for (_, id, _) in &entries {
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
    let total: usize = entries
        .iter()
        .filter_map(|(_, _, entry)| entry.message.as_deref())
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
    for (_, _, entry) in &entries {
        if entry.message_structure.as_deref() == Some("json")
            && let Some(message) = &entry.message
        {
            PublishMessage::structured(message)?;
        }
    }
    let messages: Vec<(String, Result<PublishMessage, SnsError>)> = entries
        .into_iter()
        .map(|(n, id, entry)| {
            let at = [
                Segment::Key("PublishBatchRequestEntries".into()),
                Segment::Index(n),
            ];
            let outgoing = Outgoing {
                message: entry.message,
                subject: entry.subject,
                message_structure: entry.message_structure,
                message_attributes: entry.message_attributes,
                message_group_id: entry.message_group_id,
                message_deduplication_id: entry.message_deduplication_id,
            };
            (id, publish_message(form, &at, outgoing))
        })
        .collect();
    let checked: Vec<&PublishMessage> = messages
        .iter()
        .filter_map(|(_, message)| message.as_ref().ok())
        .collect();
    events.check_batch(&topic, &checked).await?;
    let mut result = PublishBatchResult {
        successful: Vec::new(),
        failed: Vec::new(),
    };
    for (id, message) in messages {
        let outcome = match message {
            Ok(message) => events
                .publish(&topic, message)
                .await
                .map_err(SnsError::from),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(message_id) => result
                .successful
                .push(PublishBatchResultEntry { id, message_id }),
            // A missing topic fails the whole batch, as on SNS.
            Err(error) if error.status == StatusCode::NOT_FOUND => return Err(error),
            Err(error) => result.failed.push(BatchResultErrorEntry {
                id,
                code: error.code.to_string(),
                sender_fault: !error.status.is_server_error(),
                message: error.message,
            }),
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str) -> QueryForm {
        QueryForm::parse(text.as_bytes())
    }

    #[test]
    fn escapes_and_parses_forms() {
        use stratus_aws::protocol::xml_escape as esc;
        assert_eq!(esc("<a b=\"c\">&'"), "&lt;a b=&quot;c&quot;&gt;&amp;&apos;");
        let form = form(
            "Action=Publish&MessageAttributes.entry.1.Name=n&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=a%26b&Attributes.entry.1.key=K&Attributes.entry.1.value=V",
        );
        assert_eq!(form.value()["Action"], "Publish");
        let request: PublishRequest = read(&form).expect("a Publish");
        let attrs = request.message_attributes;
        assert_eq!(attrs["n"].string_value.as_deref(), Some("a&b"));
        let request: SubscribeRequest = read(&QueryForm::parse(
            b"TopicArn=t&Attributes.entry.1.key=K&Attributes.entry.1.value=V",
        ))
        .expect("a Subscribe");
        let entries = entries(&form, "Attributes", request.attributes)
            .ok()
            .unwrap_or_default();
        assert_eq!(entries.get("K").map(String::as_str), Some("V"));
        assert_eq!(
            read::<DeleteTopicRequest>(&form).err().map(|e| e.code),
            Some("MissingParameter")
        );
    }

    #[test]
    fn reads_a_publish() {
        let form = form(
            "Action=Publish&Message=m&MessageAttributes.entry.1.Name=n\
             &MessageAttributes.entry.1.Value.DataType=String\
             &MessageAttributes.entry.1.Value.StringValue=a%26b\
             &MessageAttributes.entry.2.Name=b&MessageAttributes.entry.2.Value.DataType=Binary\
             &MessageAttributes.entry.2.Value.BinaryValue=AAE%3D",
        );
        let request: PublishRequest = read(&form).expect("a Publish");
        assert_eq!(request.topic_arn, None);
        let outgoing = Outgoing {
            message: request.message,
            subject: request.subject,
            message_structure: request.message_structure,
            message_attributes: request.message_attributes,
            message_group_id: request.message_group_id,
            message_deduplication_id: request.message_deduplication_id,
        };
        let message = publish_message(&form, &[], outgoing).expect("a message");
        assert_eq!(message.message, "m");
        assert_eq!(message.attributes["n"].string_value.as_deref(), Some("a&b"));
        assert_eq!(
            message.attributes["b"].binary_value.as_deref(),
            Some(&[0, 1][..])
        );
    }

    #[test]
    fn names_missing_parameters_as_the_wire_does() {
        let form = form(
            "TopicArn=t&PublishBatchRequestEntries.member.1.Id=a\
             &PublishBatchRequestEntries.member.2.Id=b\
             &PublishBatchRequestEntries.member.2.Message=m\
             &PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Name=n",
        );
        let request: PublishBatchRequest = read(&form).expect("a PublishBatch");
        let mut errors = Vec::new();
        for (n, entry) in request
            .publish_batch_request_entries
            .into_iter()
            .enumerate()
        {
            let at = [
                Segment::Key("PublishBatchRequestEntries".into()),
                Segment::Index(n),
            ];
            let outgoing = Outgoing {
                message: entry.message,
                subject: None,
                message_structure: None,
                message_attributes: entry.message_attributes,
                message_group_id: None,
                message_deduplication_id: None,
            };
            if let Err(error) = publish_message(&form, &at, outgoing) {
                errors.push((error.code, error.message));
            }
        }
        let missing = |name: &str| {
            (
                "MissingParameter",
                format!("The request must contain the parameter {name}."),
            )
        };
        assert_eq!(
            errors,
            [
                missing("PublishBatchRequestEntries.member.1.Message"),
                missing(
                    "PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.DataType"
                ),
            ]
        );

        let form = self::form("Attributes.entry.1.key=K");
        let request = read::<CreateTopicRequest>(&form).err().map(|e| e.message);
        assert_eq!(
            request.as_deref(),
            Some("The request must contain the parameter Name.")
        );
        let form = self::form(
            "TopicArn=t&Attributes.entry.1.key=A&Attributes.entry.1.value=1&Attributes.entry.2.key=K",
        );
        let request: SubscribeRequest = read(&form).expect("a Subscribe");
        assert_eq!(
            entries(&form, "Attributes", request.attributes)
                .err()
                .map(|e| e.message),
            Some("The request must contain the parameter Attributes.entry.2.value.".into())
        );
    }

    #[test]
    fn renders_results_as_sns_does() {
        let result = ListSubscriptionsResult {
            subscriptions: vec![Subscription {
                topic_arn: "arn:t".into(),
                protocol: "email".into(),
                subscription_arn: "arn:t:s".into(),
                owner: ACCOUNT_ID.into(),
                endpoint: "a&b".into(),
            }],
            next_token: Some("n".into()),
        };
        assert_eq!(
            result.result_xml().as_deref(),
            Some(
                "<Subscriptions><member><TopicArn>arn:t</TopicArn><Protocol>email</Protocol>\
                 <SubscriptionArn>arn:t:s</SubscriptionArn><Owner>000000000000</Owner>\
                 <Endpoint>a&amp;b</Endpoint></member></Subscriptions><NextToken>n</NextToken>"
            )
        );
        let batch = PublishBatchResult {
            successful: Vec::new(),
            failed: vec![BatchResultErrorEntry {
                id: "a".into(),
                code: "InvalidParameter".into(),
                message: "<no>".into(),
                sender_fault: true,
            }],
        };
        assert_eq!(
            batch.result_xml().as_deref(),
            Some(
                "<Successful></Successful><Failed><member><Id>a</Id><Code>InvalidParameter</Code>\
                 <Message>&lt;no&gt;</Message><SenderFault>true</SenderFault></member></Failed>"
            )
        );
        assert_eq!(EmptyResult.result_xml().as_deref(), Some(""));
        assert_eq!(().result_xml(), None);
        let attributes = AttributesResult {
            attributes: BTreeMap::from([("k".to_string(), "'v'".to_string())]),
        };
        assert_eq!(
            attributes.result_xml().as_deref(),
            Some(
                "<Attributes><entry><key>k</key><value>&apos;v&apos;</value></entry></Attributes>"
            )
        );
    }
}
