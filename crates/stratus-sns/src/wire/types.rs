//! SNS's requests and results, one type per operation's input and output,
//! named as SNS's query protocol has them (`TopicArn`,
//! `Attributes.entry.N.key`, `Tags.member.N.Key`, ...).
//!
//! Requests are read with [`stratus_aws::decode`] out of the form as
//! [`QueryForm`](stratus_aws::query::QueryForm) nests it, so every scalar is
//! a string. A member SNS wants is a `String` when its absence is the first
//! thing SNS reports (`MissingParameter`); it is an `Option` when SNS checks
//! something else first (a topic ARN's shape) or words its absence
//! otherwise, and the handler checks it. Entries that SNS reads up to the
//! first without its key (tags, batch entries) have that key optional.
//!
//! Results are rendered to SNS's XML ([`ToXml`]): the contents of the
//! `<{Action}Result>` element, members in the order SNS writes them.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use stratus_aws::protocol::xml_escape as esc;
use stratus_aws::query::or_empty;

/// A map of `{Name}.entry.N.key` / `.value` pairs; an entry given without
/// its value has `None` (answered as a missing parameter naming it).
pub type Entries = BTreeMap<String, Option<String>>;

/// `CreateTopic`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicRequest {
    /// The topic's name.
    pub name: String,
    /// Its attributes.
    #[serde(default, deserialize_with = "or_empty")]
    pub attributes: Entries,
    /// Its data protection policy (kept as the attribute of that name).
    pub data_protection_policy: Option<String>,
    /// Its tags.
    #[serde(default, deserialize_with = "or_empty")]
    pub tags: Vec<TagEntry>,
}

/// A tag as a request gives it (`Tags.member.N.Key` / `.Value`); the tags
/// are read up to the first without a key, and a tag without a value has
/// the empty one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagEntry {
    /// The tag's key.
    pub key: Option<String>,
    /// Its value.
    pub value: Option<String>,
}

/// `DeleteTopic`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteTopicRequest {
    /// The topic.
    pub topic_arn: String,
}

/// `ListTopics`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTopicsRequest {
    /// Where the page starts, as the last page said.
    pub next_token: Option<String>,
}

/// `GetTopicAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTopicAttributesRequest {
    /// The topic.
    pub topic_arn: String,
}

/// `SetTopicAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetTopicAttributesRequest {
    /// The topic.
    pub topic_arn: String,
    /// The attribute (required, checked after the topic's ARN).
    pub attribute_name: Option<String>,
    /// Its new value; absent is empty.
    pub attribute_value: Option<String>,
}

/// `AddPermission`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionRequest {
    /// The topic.
    pub topic_arn: String,
    /// The statement's id (required, checked after the topic's ARN).
    pub label: Option<String>,
    /// The principals (`AWSAccountId.member.N`; at least one).
    #[serde(default, rename = "AWSAccountId", deserialize_with = "or_empty")]
    pub aws_account_ids: Vec<String>,
    /// The actions (`ActionName.member.N`; at least one).
    #[serde(default, rename = "ActionName", deserialize_with = "or_empty")]
    pub action_names: Vec<String>,
}

/// `RemovePermission`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionRequest {
    /// The topic.
    pub topic_arn: String,
    /// The statement's id (required, checked after the topic's ARN).
    pub label: Option<String>,
}

/// `TagResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRequest {
    /// The topic.
    pub resource_arn: String,
    /// The tags to set.
    #[serde(default, deserialize_with = "or_empty")]
    pub tags: Vec<TagEntry>,
}

/// `UntagResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceRequest {
    /// The topic.
    pub resource_arn: String,
    /// The keys of the tags to remove.
    #[serde(default, deserialize_with = "or_empty")]
    pub tag_keys: Vec<String>,
}

/// `ListTagsForResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceRequest {
    /// The topic.
    pub resource_arn: String,
}

/// `Subscribe`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeRequest {
    /// The topic.
    pub topic_arn: String,
    /// `lambda`, `sqs`, `http`, ... (required, checked after the topic's
    /// ARN).
    pub protocol: Option<String>,
    /// Where deliveries go (required; SNS calls its absence an invalid
    /// parameter).
    pub endpoint: Option<String>,
    /// The subscription's attributes.
    #[serde(default, deserialize_with = "or_empty")]
    pub attributes: Entries,
    /// Accepted; subscriptions are confirmed at once, so their ARN is
    /// always returned.
    pub return_subscription_arn: Option<String>,
}

/// `ConfirmSubscription`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfirmSubscriptionRequest {
    /// The topic.
    pub topic_arn: String,
    /// The token of the confirmation message (required, checked after the
    /// topic's ARN).
    pub token: Option<String>,
    /// Accepted and ignored.
    pub authenticate_on_unsubscribe: Option<String>,
}

/// `Unsubscribe`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnsubscribeRequest {
    /// The subscription (required, with SNS's own text when absent).
    pub subscription_arn: Option<String>,
}

/// `ListSubscriptions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSubscriptionsRequest {
    /// Where the page starts, as the last page said.
    pub next_token: Option<String>,
}

/// `ListSubscriptionsByTopic`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSubscriptionsByTopicRequest {
    /// The topic.
    pub topic_arn: String,
    /// Where the page starts, as the last page said.
    pub next_token: Option<String>,
}

/// `GetSubscriptionAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSubscriptionAttributesRequest {
    /// The subscription (required, with SNS's own text when absent).
    pub subscription_arn: Option<String>,
}

/// `SetSubscriptionAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetSubscriptionAttributesRequest {
    /// The subscription (required, with SNS's own text when absent).
    pub subscription_arn: Option<String>,
    /// The attribute (required, checked after the subscription's ARN).
    pub attribute_name: Option<String>,
    /// Its new value; absent is empty.
    pub attribute_value: Option<String>,
}

/// A message attribute (`MessageAttributes.entry.N.Name` names it; these
/// are its `.Value.*` members).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttributeValue {
    /// `String`, `Number`, `Binary`, ... (required, checked by the handler
    /// in SNS's order).
    pub data_type: Option<String>,
    /// A string (or number) value.
    pub string_value: Option<String>,
    /// Base64 of a binary value.
    pub binary_value: Option<String>,
}

/// `Publish`: to a topic (`TopicArn` or `TargetArn`) or a phone number.
/// Its message members are checked before its target, as on SNS, so all
/// are optional here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishRequest {
    /// The topic.
    pub topic_arn: Option<String>,
    /// The topic, when `TopicArn` is absent.
    pub target_arn: Option<String>,
    /// The phone number, when neither ARN is given.
    pub phone_number: Option<String>,
    /// The message (required).
    pub message: Option<String>,
    /// Its subject.
    pub subject: Option<String>,
    /// `json` for a message per protocol.
    pub message_structure: Option<String>,
    /// Its attributes.
    #[serde(default, deserialize_with = "or_empty")]
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// A FIFO topic's message group.
    pub message_group_id: Option<String>,
    /// A FIFO topic's deduplication id.
    pub message_deduplication_id: Option<String>,
}

/// `PublishBatch`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchRequest {
    /// The topic.
    pub topic_arn: String,
    /// The entries, read up to the first without an `Id`.
    #[serde(default, deserialize_with = "or_empty")]
    pub publish_batch_request_entries: Vec<PublishBatchRequestEntry>,
}

/// A `PublishBatch` entry: its id and a `Publish`'s message members
/// (a missing one fails the entry alone).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchRequestEntry {
    /// The entry's id in the batch.
    pub id: Option<String>,
    /// The message (required).
    pub message: Option<String>,
    /// Its subject.
    pub subject: Option<String>,
    /// `json` for a message per protocol.
    pub message_structure: Option<String>,
    /// Its attributes.
    #[serde(default, deserialize_with = "or_empty")]
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// A FIFO topic's message group.
    pub message_group_id: Option<String>,
    /// A FIFO topic's deduplication id.
    pub message_deduplication_id: Option<String>,
}

/// A result rendered as SNS's XML.
pub trait ToXml {
    /// Appends the XML of `self` to `out`.
    fn write_xml(&self, out: &mut String);
}

/// What an operation answers inside its `<{Action}Response>`: the contents
/// of its `<{Action}Result>`, or None for an operation without one.
pub trait QueryResult {
    /// The `<{Action}Result>` element's contents, if it has one.
    fn result_xml(&self) -> Option<String>;
}

impl<T: ToXml> QueryResult for T {
    fn result_xml(&self) -> Option<String> {
        let mut out = String::new();
        self.write_xml(&mut out);
        Some(out)
    }
}

/// No `<{Action}Result>` element (`DeleteTopic`, `Unsubscribe`, ...).
impl QueryResult for () {
    fn result_xml(&self) -> Option<String> {
        None
    }
}

/// `<{name}>{text}</{name}>`, the text escaped.
fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", esc(text));
}

/// `<{name}><member>...</member>...</{name}>`.
fn members<T: ToXml>(out: &mut String, name: &str, items: &[T]) {
    let _ = write!(out, "<{name}>");
    for item in items {
        out.push_str("<member>");
        item.write_xml(out);
        out.push_str("</member>");
    }
    let _ = write!(out, "</{name}>");
}

/// `CreateTopic`'s answer.
#[derive(Debug)]
pub struct CreateTopicResult {
    /// The topic's ARN.
    pub topic_arn: String,
}

impl ToXml for CreateTopicResult {
    fn write_xml(&self, out: &mut String) {
        element(out, "TopicArn", &self.topic_arn);
    }
}

/// A topic of `ListTopics`' answer.
#[derive(Debug)]
pub struct Topic {
    /// Its ARN.
    pub topic_arn: String,
}

impl ToXml for Topic {
    fn write_xml(&self, out: &mut String) {
        element(out, "TopicArn", &self.topic_arn);
    }
}

/// `ListTopics`' answer.
#[derive(Debug)]
pub struct ListTopicsResult {
    /// The page's topics.
    pub topics: Vec<Topic>,
    /// Where the next page starts, when there is one.
    pub next_token: Option<String>,
}

impl ToXml for ListTopicsResult {
    fn write_xml(&self, out: &mut String) {
        members(out, "Topics", &self.topics);
        if let Some(token) = &self.next_token {
            element(out, "NextToken", token);
        }
    }
}

/// A topic's or subscription's attributes, as `GetTopicAttributes` and
/// `GetSubscriptionAttributes` answer them.
#[derive(Debug)]
pub struct AttributesResult {
    /// The attributes by name.
    pub attributes: BTreeMap<String, String>,
}

/// `GetTopicAttributes`' answer.
pub type GetTopicAttributesResult = AttributesResult;

/// `GetSubscriptionAttributes`' answer.
pub type GetSubscriptionAttributesResult = AttributesResult;

impl ToXml for AttributesResult {
    fn write_xml(&self, out: &mut String) {
        out.push_str("<Attributes>");
        for (key, value) in &self.attributes {
            out.push_str("<entry>");
            element(out, "key", key);
            element(out, "value", value);
            out.push_str("</entry>");
        }
        out.push_str("</Attributes>");
    }
}

/// An empty `<{Action}Result>` element, which SDKs expect of
/// `TagResource` and `UntagResource`.
#[derive(Debug)]
pub struct EmptyResult;

impl ToXml for EmptyResult {
    fn write_xml(&self, _: &mut String) {}
}

/// A tag of `ListTagsForResource`'s answer.
#[derive(Debug)]
pub struct Tag {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
}

impl ToXml for Tag {
    fn write_xml(&self, out: &mut String) {
        element(out, "Key", &self.key);
        element(out, "Value", &self.value);
    }
}

/// `ListTagsForResource`'s answer.
#[derive(Debug)]
pub struct ListTagsForResourceResult {
    /// The topic's tags.
    pub tags: Vec<Tag>,
}

impl ToXml for ListTagsForResourceResult {
    fn write_xml(&self, out: &mut String) {
        members(out, "Tags", &self.tags);
    }
}

/// `Subscribe`'s and `ConfirmSubscription`'s answer.
#[derive(Debug)]
pub struct SubscriptionArnResult {
    /// The subscription's ARN.
    pub subscription_arn: String,
}

/// `Subscribe`'s answer.
pub type SubscribeResult = SubscriptionArnResult;

/// `ConfirmSubscription`'s answer.
pub type ConfirmSubscriptionResult = SubscriptionArnResult;

impl ToXml for SubscriptionArnResult {
    fn write_xml(&self, out: &mut String) {
        element(out, "SubscriptionArn", &self.subscription_arn);
    }
}

/// A subscription of `ListSubscriptions`' answer.
#[derive(Debug)]
pub struct Subscription {
    /// Its topic's ARN.
    pub topic_arn: String,
    /// Its protocol.
    pub protocol: String,
    /// Its ARN.
    pub subscription_arn: String,
    /// The account that owns it.
    pub owner: String,
    /// Where its deliveries go.
    pub endpoint: String,
}

impl ToXml for Subscription {
    fn write_xml(&self, out: &mut String) {
        element(out, "TopicArn", &self.topic_arn);
        element(out, "Protocol", &self.protocol);
        element(out, "SubscriptionArn", &self.subscription_arn);
        element(out, "Owner", &self.owner);
        element(out, "Endpoint", &self.endpoint);
    }
}

/// `ListSubscriptions`' and `ListSubscriptionsByTopic`'s answer.
#[derive(Debug)]
pub struct ListSubscriptionsResult {
    /// The page's subscriptions.
    pub subscriptions: Vec<Subscription>,
    /// Where the next page starts, when there is one.
    pub next_token: Option<String>,
}

/// `ListSubscriptionsByTopic`'s answer.
pub type ListSubscriptionsByTopicResult = ListSubscriptionsResult;

impl ToXml for ListSubscriptionsResult {
    fn write_xml(&self, out: &mut String) {
        members(out, "Subscriptions", &self.subscriptions);
        if let Some(token) = &self.next_token {
            element(out, "NextToken", token);
        }
    }
}

/// `Publish`'s answer.
#[derive(Debug)]
pub struct PublishResult {
    /// The message's id.
    pub message_id: String,
}

impl ToXml for PublishResult {
    fn write_xml(&self, out: &mut String) {
        element(out, "MessageId", &self.message_id);
    }
}

/// A published entry of `PublishBatch`.
#[derive(Debug)]
pub struct PublishBatchResultEntry {
    /// The entry's id.
    pub id: String,
    /// Its message's id.
    pub message_id: String,
}

impl ToXml for PublishBatchResultEntry {
    fn write_xml(&self, out: &mut String) {
        element(out, "Id", &self.id);
        element(out, "MessageId", &self.message_id);
    }
}

/// A failed entry of `PublishBatch`.
#[derive(Debug)]
pub struct BatchResultErrorEntry {
    /// The entry's id.
    pub id: String,
    /// The error's code.
    pub code: String,
    /// Its message.
    pub message: String,
    /// Whether the caller is at fault.
    pub sender_fault: bool,
}

impl ToXml for BatchResultErrorEntry {
    fn write_xml(&self, out: &mut String) {
        element(out, "Id", &self.id);
        element(out, "Code", &self.code);
        element(out, "Message", &self.message);
        element(out, "SenderFault", &self.sender_fault.to_string());
    }
}

/// `PublishBatch`'s answer.
#[derive(Debug)]
pub struct PublishBatchResult {
    /// The entries published.
    pub successful: Vec<PublishBatchResultEntry>,
    /// The entries that failed.
    pub failed: Vec<BatchResultErrorEntry>,
}

impl ToXml for PublishBatchResult {
    fn write_xml(&self, out: &mut String) {
        members(out, "Successful", &self.successful);
        members(out, "Failed", &self.failed);
    }
}
