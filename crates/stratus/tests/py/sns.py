"""boto3 `sns` against Stratus: the API, its error shapes, and fan-out.

Environment: AWS_* (endpoint, keys, region) and HTTP_URL (an endpoint the
Rust test serves). Prints `published NAME MESSAGE_ID`, `email-subscription
ARN` and `sms-direct MESSAGE_ID` lines for the Rust test, `parity ok` after
the checks of SNS's finer behaviour, and `checks ok` at the end.
"""

import hashlib
import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3
import botocore.exceptions

sns = boto3.client("sns")
sqs = boto3.client("sqs")
HTTP_URL = os.environ["HTTP_URL"]


def code_of(call, *args, **kwargs):
    """Runs a call that must fail; returns (code, HTTP status)."""
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call.__name__} did not fail")


def error_of(call, *args, **kwargs):
    """Runs a call that must fail; returns (code, message, HTTP status)."""
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        error = e.response["Error"]
        return error["Code"], error["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call.__name__} did not fail")


def attrs(**kw):
    return {k: {"DataType": "String", "StringValue": v} for k, v in kw.items()}


# Topics: create (idempotent), attributes, list with pages.
arn = sns.create_topic(Name="api-topic", Attributes={"DisplayName": "API <&> topic"})["TopicArn"]
assert arn == "arn:aws:sns:us-east-1:000000000000:api-topic", arn
assert sns.create_topic(Name="api-topic")["TopicArn"] == arn
got = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
assert got["DisplayName"] == "API <&> topic", got
assert got["TopicArn"] == arn
sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="renamed")
assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "renamed"
for i in range(105):
    sns.create_topic(Name=f"page-{i:03}")
listed = []
token = None
while True:
    page = sns.list_topics(**({"NextToken": token} if token else {}))
    listed += [t["TopicArn"] for t in page["Topics"]]
    token = page.get("NextToken")
    if not token:
        break
assert len(listed) == len(set(listed)) and arn in listed and len(listed) >= 106, len(listed)
paginated = [t["TopicArn"] for p in sns.get_paginator("list_topics").paginate() for t in p["Topics"]]
assert paginated == listed
for i in range(105):
    sns.delete_topic(TopicArn=f"arn:aws:sns:us-east-1:000000000000:page-{i:03}")
sns.delete_topic(TopicArn="arn:aws:sns:us-east-1:000000000000:never-was")  # idempotent

# Subscriptions: attributes, list, set, unsubscribe.
sub = sns.subscribe(
    TopicArn=arn,
    Protocol="https",
    Endpoint="https://example.invalid/hook",
    Attributes={"FilterPolicy": json.dumps({"kind": ["a"]}), "RawMessageDelivery": "true"},
    ReturnSubscriptionArn=True,
)["SubscriptionArn"]
assert sub.startswith(arn + ":"), sub
again = sns.subscribe(TopicArn=arn, Protocol="https", Endpoint="https://example.invalid/hook")
assert again["SubscriptionArn"] == sub
sa = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
assert sa["RawMessageDelivery"] == "true" and sa["TopicArn"] == arn and sa["Protocol"] == "https", sa
assert json.loads(sa["FilterPolicy"]) == {"kind": ["a"]}, sa
assert sa["FilterPolicyScope"] == "MessageAttributes" and sa["PendingConfirmation"] == "false", sa
sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope", AttributeValue="MessageBody")
assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["FilterPolicyScope"] == "MessageBody"
by_topic = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
assert [s["SubscriptionArn"] for s in by_topic] == [sub], by_topic
assert by_topic[0]["Endpoint"] == "https://example.invalid/hook"
assert sub in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
sns.unsubscribe(SubscriptionArn=sub)
assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
sns.unsubscribe(SubscriptionArn=sub)  # Unsubscribe is idempotent, as on SNS

# Publish and PublishBatch on a standard topic with no subscribers.
mid = sns.publish(TopicArn=arn, Message="hello", Subject="s", MessageAttributes=attrs(a="1"))["MessageId"]
assert len(mid) == 36, mid
assert sns.publish(TargetArn=arn, Message="via target")["MessageId"]
assert sns.publish(TopicArn=arn, Message=json.dumps({"default": "d"}), MessageStructure="json")["MessageId"]
batch = sns.publish_batch(
    TopicArn=arn,
    PublishBatchRequestEntries=[
        {"Id": "ok1", "Message": "one"},
        {"Id": "bad", "Message": "x", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "NaNx"}}},
        {"Id": "ok2", "Message": "two", "Subject": "hi"},
    ],
)
assert sorted(s["Id"] for s in batch["Successful"]) == ["ok1", "ok2"], batch
assert [(f["Id"], f["SenderFault"]) for f in batch["Failed"]] == [("bad", True)], batch
assert batch["Failed"][0]["Code"] == "ParameterValueInvalid", batch

# FIFO topics: group ids, deduplication.
fifo = sns.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
assert sns.get_topic_attributes(TopicArn=fifo)["Attributes"]["FifoTopic"] == "true"
m1 = sns.publish(TopicArn=fifo, Message="same", MessageGroupId="g")["MessageId"]
m2 = sns.publish(TopicArn=fifo, Message="same", MessageGroupId="g")["MessageId"]
assert m1 == m2, (m1, m2)
m3 = sns.publish(TopicArn=fifo, Message="same", MessageGroupId="g", MessageDeduplicationId="other")["MessageId"]
assert m3 != m1
assert code_of(sns.publish, TopicArn=fifo, Message="no group") == ("InvalidParameter", 400)
plain_fifo = sns.create_topic(Name="plain.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
assert code_of(sns.publish, TopicArn=plain_fifo, Message="m", MessageGroupId="g") == ("InvalidParameter", 400)
# Standard topics take a MessageGroupId (since 2025: for SQS fair queues),
# not a MessageDeduplicationId.
assert sns.publish(TopicArn=arn, Message="m", MessageGroupId="g")["MessageId"]
assert error_of(sns.publish, TopicArn=arn, Message="m", MessageDeduplicationId="d") == (
    "InvalidParameter",
    "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
    400,
)

# Error shapes.
missing = "arn:aws:sns:us-east-1:000000000000:nope"
assert code_of(sns.publish, TopicArn=missing, Message="m") == ("NotFound", 404)
assert code_of(sns.get_topic_attributes, TopicArn=missing) == ("NotFound", 404)
assert error_of(sns.subscribe, TopicArn=missing, Protocol="http", Endpoint=HTTP_URL) == ("NotFound", "Topic does not exist", 404)
assert error_of(sns.subscribe, TopicArn=missing, Protocol="email", Endpoint="a@example.com") == ("NotFound", "Topic does not exist", 404)
assert code_of(sns.list_subscriptions_by_topic, TopicArn=missing) == ("NotFound", 404)
assert error_of(sns.get_subscription_attributes, SubscriptionArn=missing + ":x") == ("NotFound", "Subscription does not exist", 404)
sns.unsubscribe(SubscriptionArn=missing + ":x")  # nothing to delete: still a success, as on SNS
assert error_of(sns.unsubscribe, SubscriptionArn=missing) == ("InvalidParameter", "Invalid parameter: SubscriptionId", 400)
assert error_of(sns.unsubscribe, SubscriptionArn="arn:aws:sns:us-east-1:random") == (
    "InvalidParameter",
    "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 5",
    400,
)
assert error_of(sns.get_topic_attributes, TopicArn="randomstring") == (
    "InvalidParameter",
    "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
    400,
)
assert code_of(sns.publish, TopicArn=arn, Message="x" * (256 * 1024 + 1)) == ("InvalidParameter", 400)
assert code_of(sns.publish, TopicArn=arn, Message="x" * (256 * 1024 - 2), MessageAttributes=attrs(big="yyyy")) == ("InvalidParameter", 400)
assert code_of(sns.publish, TopicArn=arn, Message="") == ("InvalidParameter", 400)
assert code_of(sns.publish, TopicArn=arn, Message="m", MessageAttributes={"b": {"DataType": "Blob", "StringValue": "x"}}) == ("ParameterValueInvalid", 400)
assert code_of(sns.publish, TopicArn="not-an-arn", Message="m") == ("InvalidParameter", 400)
for policy in ["not json", json.dumps({"a": [{"numeric": ["<"]}]}), json.dumps({k: ["v"] for k in "abcdef"}), json.dumps({"a": {"b": ["c"]}})]:
    got = code_of(sns.subscribe, TopicArn=arn, Protocol="http", Endpoint=HTTP_URL, Attributes={"FilterPolicy": policy})
    assert got == ("InvalidParameter", 400), (policy, got)
assert error_of(sns.subscribe, TopicArn=arn, Protocol="email", Endpoint="not an address") == ("InvalidParameter", "Invalid parameter: Email address", 400)
assert error_of(sns.subscribe, TopicArn=arn, Protocol="sms", Endpoint="call me") == ("InvalidParameter", "Invalid SMS endpoint: call me", 400)
assert code_of(sns.subscribe, TopicArn=arn, Protocol="http", Endpoint="ftp://x") == ("InvalidParameter", 400)
assert code_of(sns.create_topic, Name="bad name") == ("InvalidParameter", 400)
assert code_of(sns.create_topic, Name="x.fifo") == ("InvalidParameter", 400)
assert code_of(sns.create_topic, Name="t", Attributes={"Bogus": "1"}) == ("InvalidParameter", 400)
assert code_of(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[{"Id": "a", "Message": "1"}, {"Id": "a", "Message": "2"}]) == ("BatchEntryIdsNotDistinct", 400)
assert code_of(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(11)]) == ("TooManyEntriesInBatchRequest", 400)


def wait_for(what, check, timeout=20):
    deadline = time.time() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.time() < deadline, what
        time.sleep(0.05)


def receive_one(url):
    """The one message a queue gets (within 20 s), deleted."""
    messages = wait_for(
        f"a message in {url}",
        lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages"),
    )
    assert len(messages) == 1, messages
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return messages[0]


def assert_empty(url):
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert got == [], got


def queue(name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, queue_arn


class Hook(http.server.BaseHTTPRequestHandler):
    """An HTTP subscription endpoint that keeps what it gets."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        Hook.received.append((self.headers["x-amz-sns-message-type"], json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()
HOOK_URL = f"http://127.0.0.1:{hook.server_address[1]}/hook"


def hook_messages(kind):
    return [body for (k, body) in Hook.received if k == kind]


# GetTopicAttributes: AWS's default Policy and EffectiveDeliveryPolicy.
parity = sns.create_topic(Name="parity")["TopicArn"]
attributes = sns.get_topic_attributes(TopicArn=parity)["Attributes"]
assert attributes["EffectiveDeliveryPolicy"] == (
    '{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,'
    '"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},'
    '"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}'
), attributes
default_policy = {
    "Version": "2008-10-17",
    "Id": "__default_policy_ID",
    "Statement": [{
        "Sid": "__default_statement_ID",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                   "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
        "Resource": parity,
        "Condition": {"StringEquals": {"AWS:SourceOwner": "000000000000"}},
    }],
}
assert json.loads(attributes["Policy"]) == default_policy, attributes["Policy"]
assert attributes["Policy"].startswith('{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":'), attributes["Policy"]
sns.set_topic_attributes(TopicArn=parity, AttributeName="DeliveryPolicy", AttributeValue=json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}}))
effective = json.loads(sns.get_topic_attributes(TopicArn=parity)["Attributes"]["EffectiveDeliveryPolicy"])
assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 5 and effective["http"]["defaultHealthyRetryPolicy"]["minDelayTarget"] == 20, effective

# AddPermission / RemovePermission change the topic's Policy.
sns.add_permission(TopicArn=parity, Label="grant", AWSAccountId=["111122223333"], ActionName=["Publish"])
policy = json.loads(sns.get_topic_attributes(TopicArn=parity)["Attributes"]["Policy"])
assert policy["Statement"][0] == default_policy["Statement"][0], policy
assert policy["Statement"][1] == {"Sid": "grant", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "SNS:Publish", "Resource": parity}, policy
assert error_of(sns.add_permission, TopicArn=parity, Label="grant", AWSAccountId=["111122223333"], ActionName=["Subscribe"]) == ("InvalidParameter", "Invalid parameter: Statement already exists", 400)
assert error_of(sns.add_permission, TopicArn=parity, Label="other", AWSAccountId=["111122223333"], ActionName=["Fly"]) == ("InvalidParameter", "Invalid parameter: Policy statement action out of service scope!", 400)
assert error_of(sns.add_permission, TopicArn=missing, Label="x", AWSAccountId=["111122223333"], ActionName=["Publish"]) == ("NotFound", "Topic does not exist", 404)
sns.add_permission(TopicArn=parity, Label="two", AWSAccountId=["111122223333", "444455556666"], ActionName=["Publish", "Subscribe"])
policy = json.loads(sns.get_topic_attributes(TopicArn=parity)["Attributes"]["Policy"])
assert policy["Statement"][2]["Action"] == ["SNS:Publish", "SNS:Subscribe"], policy
sns.remove_permission(TopicArn=parity, Label="grant")
sns.remove_permission(TopicArn=parity, Label="two")
assert json.loads(sns.get_topic_attributes(TopicArn=parity)["Attributes"]["Policy"]) == default_policy
assert error_of(sns.remove_permission, TopicArn=missing, Label="x") == ("NotFound", "Topic does not exist", 404)

# Tags: CreateTopic's, TagResource, UntagResource, ListTagsForResource.
tagged = sns.create_topic(Name="tagged", Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "dev"}])["TopicArn"]
assert sns.create_topic(Name="tagged", Tags=[{"Key": "team", "Value": "a"}])["TopicArn"] == tagged  # a subset: the same topic
assert sns.create_topic(Name="tagged")["TopicArn"] == tagged
assert error_of(sns.create_topic, Name="tagged", Tags=[{"Key": "team", "Value": "b"}]) == ("InvalidParameter", "Invalid parameter: Tags Reason: Topic already exists with different tags", 400)
tags = lambda: sorted((t["Key"], t["Value"]) for t in sns.list_tags_for_resource(ResourceArn=tagged)["Tags"])
assert tags() == [("env", "dev"), ("team", "a")], tags()
sns.tag_resource(ResourceArn=tagged, Tags=[{"Key": "team", "Value": "b"}, {"Key": "cost", "Value": "1"}])
sns.untag_resource(ResourceArn=tagged, TagKeys=["env"])
assert tags() == [("cost", "1"), ("team", "b")], tags()
assert error_of(sns.tag_resource, ResourceArn=tagged, Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]) == ("InvalidParameter", "Invalid parameter: Duplicated keys are not allowed.", 400)
assert error_of(sns.list_tags_for_resource, ResourceArn=missing) == ("ResourceNotFound", "Resource does not exist", 404)
assert code_of(sns.tag_resource, ResourceArn=tagged, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]) == ("TagLimitExceeded", 400)
sns.delete_topic(TopicArn=tagged)
sns.create_topic(Name="tagged")
assert tags() == [], tags()  # a deleted topic's tags go with it

# MessageStructure=json: each protocol gets its key, else `default`.
structured = sns.create_topic(Name="structured")["TopicArn"]
s_url, s_arn = queue("structured-q")
raw_url, raw_arn = queue("structured-raw")
sns.subscribe(TopicArn=structured, Protocol="sqs", Endpoint=s_arn)
sns.subscribe(TopicArn=structured, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
hook_sub = sns.subscribe(TopicArn=structured, Protocol="http", Endpoint=HOOK_URL)["SubscriptionArn"]
email_sub = sns.subscribe(TopicArn=structured, Protocol="email", Endpoint="ops@example.com")["SubscriptionArn"]
sns.subscribe(TopicArn=structured, Protocol="email-json", Endpoint="robot@example.com")
sns.subscribe(TopicArn=structured, Protocol="sms", Endpoint="+15555550100")
print("email-subscription", email_sub)

# ConfirmSubscription: the token of the confirmation message the HTTP
# endpoint got (subscriptions are confirmed at once; it answers the ARN).
confirmation = wait_for("the HTTP subscription's confirmation", lambda: hook_messages("SubscriptionConfirmation"))[0]
assert confirmation["Type"] == "SubscriptionConfirmation" and confirmation["TopicArn"] == structured, confirmation
assert "Token=" + confirmation["Token"] in confirmation["SubscribeURL"], confirmation
assert sns.confirm_subscription(TopicArn=structured, Token=confirmation["Token"])["SubscriptionArn"] == hook_sub
# The SubscribeURL works as a plain, unsigned GET (what a receiver does
# with the link), and answers ConfirmSubscription's XML.
with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as link:
    page = link.read().decode()
    assert link.status == 200 and "<ConfirmSubscriptionResponse" in page and hook_sub in page, page
# A link for anything else still needs a signature.
try:
    urllib.request.urlopen(confirmation["SubscribeURL"].replace("ConfirmSubscription", "ListTopics"), timeout=10)
    raise AssertionError("an unsigned ListTopics link was served")
except urllib.error.HTTPError as e:
    assert e.code in (400, 403), e.code
assert sns.confirm_subscription(TopicArn=structured, Token=confirmation["Token"], AuthenticateOnUnsubscribe="true")["SubscriptionArn"] == hook_sub
assert error_of(sns.confirm_subscription, TopicArn=structured, Token="randomtoken") == ("InvalidParameter", "Invalid token", 400)
assert error_of(sns.confirm_subscription, TopicArn=structured, Token="ab" * 144) == ("InvalidParameter", "Invalid parameter: Token", 400)
assert error_of(sns.confirm_subscription, TopicArn=parity, Token=confirmation["Token"]) == ("InvalidParameter", "Invalid parameter: Token", 400)
sub_attrs = sns.get_subscription_attributes(SubscriptionArn=hook_sub)["Attributes"]
assert sub_attrs["PendingConfirmation"] == "false", sub_attrs

document = {"default": "plain", "sqs": "for queues", "http": "for endpoints", "email": "for inboxes", "sms": "for phones", "lambda": {"ignored": "not a string"}}
sns.publish(TopicArn=structured, Message=json.dumps(document), MessageStructure="json", Subject="structured")
envelope = json.loads(receive_one(s_url)["Body"])
assert envelope["Message"] == "for queues" and envelope["Subject"] == "structured", envelope
assert receive_one(raw_url)["Body"] == "for queues"
notification = wait_for("the HTTP notification", lambda: hook_messages("Notification"))[0]
assert notification["Message"] == "for endpoints", notification
batch = sns.publish_batch(
    TopicArn=structured,
    PublishBatchRequestEntries=[{"Id": "j", "Message": json.dumps({"default": "batch default", "sqs": "batch for queues"}), "MessageStructure": "json"}],
)
assert [e["Id"] for e in batch["Successful"]] == ["j"] and batch["Failed"] == [], batch
assert json.loads(receive_one(s_url)["Body"])["Message"] == "batch for queues"
assert receive_one(raw_url)["Body"] == "batch for queues"
assert wait_for("the batch's HTTP notification", lambda: [m for m in hook_messages("Notification") if m["Message"] == "batch default"])
no_default = "Invalid parameter: Message Structure - No default entry in JSON message body"
assert error_of(sns.publish, TopicArn=structured, Message=json.dumps({"sqs": "q"}), MessageStructure="json") == ("InvalidParameter", no_default, 400)
assert error_of(sns.publish, TopicArn=structured, Message=json.dumps({"default": 1}), MessageStructure="json") == ("InvalidParameter", no_default, 400)
assert error_of(sns.publish, TopicArn=structured, Message="{not json", MessageStructure="json") == (
    "InvalidParameter", "Invalid parameter: Message Structure - JSON message body failed to parse", 400)
assert error_of(
    sns.publish_batch,
    TopicArn=structured,
    PublishBatchRequestEntries=[{"Id": "ok", "Message": "fine"}, {"Id": "bad", "Message": json.dumps({"sqs": "q"}), "MessageStructure": "json"}],
) == ("InvalidParameter", no_default, 400)
assert_empty(s_url)  # the refused batch published nothing
sms_direct = sns.publish(PhoneNumber="+15555550199", Message="straight to a phone")["MessageId"]
print("sms-direct", sms_direct)
assert error_of(sns.publish, PhoneNumber="not-a-number", Message="m") == (
    "InvalidParameter", "Invalid parameter: PhoneNumber Reason: not-a-number is not valid to publish to", 400)

# FIFO: a FIFO queue gets the publisher's group and deduplication ids.
orders = sns.create_topic(Name="parity-orders.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
fifo_url, fifo_arn = queue("parity-orders.fifo", FifoQueue="true")
sns.subscribe(TopicArn=orders, Protocol="sqs", Endpoint=fifo_arn, Attributes={"RawMessageDelivery": "true"})
sns.publish(TopicArn=orders, Message="order 1", MessageGroupId="customer-7", MessageDeduplicationId="order-1")
got = receive_one(fifo_url)
assert got["Body"] == "order 1", got
assert got["Attributes"]["MessageGroupId"] == "customer-7", got["Attributes"]
assert got["Attributes"]["MessageDeduplicationId"] == "order-1", got["Attributes"]
batch = sns.publish_batch(
    TopicArn=orders,
    PublishBatchRequestEntries=[{"Id": "b1", "Message": "order 2", "MessageGroupId": "customer-8", "MessageDeduplicationId": "order-2"}],
)
assert batch["Failed"] == [], batch
got = receive_one(fifo_url)
assert (got["Body"], got["Attributes"]["MessageGroupId"], got["Attributes"]["MessageDeduplicationId"]) == ("order 2", "customer-8", "order-2"), got
required = "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
assert error_of(sns.publish_batch, TopicArn=orders, PublishBatchRequestEntries=[
    {"Id": "g", "Message": "m", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
    {"Id": "nog", "Message": "m", "MessageDeduplicationId": "d2"},
]) == ("InvalidParameter", required, 400)
assert error_of(sns.publish_batch, TopicArn=orders, PublishBatchRequestEntries=[{"Id": "nod", "Message": "m", "MessageGroupId": "g"}]) == (
    "InvalidParameter", "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly", 400)
assert_empty(fifo_url)  # refused batches published nothing
cbd = sns.create_topic(Name="parity-cbd.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
cbd_url, cbd_arn = queue("parity-cbd.fifo", FifoQueue="true")
sns.subscribe(TopicArn=cbd, Protocol="sqs", Endpoint=cbd_arn)
sns.publish(TopicArn=cbd, Message="hashed", MessageGroupId="g")
got = receive_one(cbd_url)
assert got["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"hashed").hexdigest(), got["Attributes"]
assert got["Attributes"]["MessageGroupId"] == "g", got["Attributes"]
assert error_of(sns.subscribe, TopicArn=parity, Protocol="sqs", Endpoint=fifo_arn) == (
    "InvalidParameter", "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics", 400)
assert error_of(sns.subscribe, TopicArn=orders, Protocol="email", Endpoint="a@example.com") == ("InvalidParameter", "Invalid parameter: Invalid protocol type: email", 400)
# A standard topic's MessageGroupId is accepted and the message delivered.
std_url, std_arn = queue("parity-standard")
sns.subscribe(TopicArn=parity, Protocol="sqs", Endpoint=std_arn, Attributes={"RawMessageDelivery": "true"})
sns.publish(TopicArn=parity, Message="fair", MessageGroupId="tenant-1")
assert receive_one(std_url)["Body"] == "fair"

# Numeric filter policies match to five decimal places (SNS's accuracy).
numeric_url, numeric_arn = queue("parity-numeric")
numeric_sub = sns.subscribe(TopicArn=parity, Protocol="sqs", Endpoint=numeric_arn, Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"price": [{"numeric": ["=", 301.5]}]})})["SubscriptionArn"]
number = lambda v: {"price": {"DataType": "Number", "StringValue": v}}
sns.publish(TopicArn=parity, Message="off by a millionth", MessageAttributes=number("301.500001"))
sns.publish(TopicArn=parity, Message="off by a hundred-thousandth", MessageAttributes=number("301.50001"))
assert receive_one(numeric_url)["Body"] == "off by a millionth"
assert_empty(numeric_url)

# An empty filter policy `{}` is taken and lets everything through;
# removing the policy removes its scope too.
sns.set_subscription_attributes(SubscriptionArn=numeric_sub, AttributeName="FilterPolicyScope", AttributeValue="MessageBody")
sns.set_subscription_attributes(SubscriptionArn=numeric_sub, AttributeName="FilterPolicy", AttributeValue="{}")
sub_attrs = sns.get_subscription_attributes(SubscriptionArn=numeric_sub)["Attributes"]
assert (sub_attrs["FilterPolicy"], sub_attrs["FilterPolicyScope"]) == ("{}", "MessageBody"), sub_attrs
sns.publish(TopicArn=parity, Message="no attributes at all")
assert receive_one(numeric_url)["Body"] == "no attributes at all"
sns.set_subscription_attributes(SubscriptionArn=numeric_sub, AttributeName="FilterPolicy", AttributeValue="")
sub_attrs = sns.get_subscription_attributes(SubscriptionArn=numeric_sub)["Attributes"]
assert "FilterPolicy" not in sub_attrs and "FilterPolicyScope" not in sub_attrs, sub_attrs
empty_sub = sns.subscribe(TopicArn=parity, Protocol="email", Endpoint="all@example.com", Attributes={"FilterPolicy": "{}"})["SubscriptionArn"]
assert sns.get_subscription_attributes(SubscriptionArn=empty_sub)["Attributes"]["FilterPolicy"] == "{}"

# Unsubscribing from a deleted topic succeeds (its subscriptions went
# with it).
gone = sns.create_topic(Name="parity-gone")["TopicArn"]
gone_sub = sns.subscribe(TopicArn=gone, Protocol="sqs", Endpoint=std_arn)["SubscriptionArn"]
sns.delete_topic(TopicArn=gone)
sns.unsubscribe(SubscriptionArn=gone_sub)
sns.unsubscribe(SubscriptionArn=gone_sub)
hook.shutdown()
print("parity ok")


def raw_post(body):
    """A hand-made query request (unsigned; the server's auth decides)."""
    request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/", data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


for body, code in [(b"Action=Frobnicate&Version=2010-03-31", "InvalidAction"), (b"Version=2010-03-31", "MissingAction"), (b"Action=CreateTopic&Version=2010-03-31", "MissingParameter")]:
    status, text = raw_post(body)
    assert status in (400, 403), (status, text)
    assert "<ErrorResponse" in text and "<Code>" in text, text
    if status == 400:
        assert f"<Code>{code}</Code>" in text and "<Type>Sender</Type>" in text and "<RequestId>" in text, text

# Fan-out: a topic the manifest's functions subscribe to, plus an HTTP
# endpoint and queues (one raw), each with a filter policy.
fan = sns.create_topic(Name="fan")["TopicArn"]
sns.subscribe(TopicArn=fan, Protocol="http", Endpoint=HTTP_URL, Attributes={"FilterPolicy": json.dumps({"color": ["red"]})})
sns.subscribe(TopicArn=fan, Protocol="http", Endpoint=HTTP_URL + "/raw", Attributes={"FilterPolicy": json.dumps({"size": [{"numeric": [">", 10]}]}), "RawMessageDelivery": "true"})
queue_url = sqs.create_queue(QueueName="fanq")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=fan, Protocol="sqs", Endpoint=queue_arn, Attributes={"FilterPolicy": json.dumps({"color": ["red"]})})
raw_queue_url = sqs.create_queue(QueueName="fanq-raw")["QueueUrl"]
raw_queue_arn = sqs.get_queue_attributes(QueueUrl=raw_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=fan, Protocol="sqs", Endpoint=raw_queue_arn, Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"color": ["blue"]})})

red = sns.publish(TopicArn=fan, Message="red message", Subject="paint", MessageAttributes={**attrs(color="red"), "size": {"DataType": "Number", "StringValue": "5"}})["MessageId"]
blue = sns.publish(TopicArn=fan, Message="blue message", MessageAttributes={**attrs(color="blue"), "size": {"DataType": "Number", "StringValue": "50"}})["MessageId"]
print("published red", red)
print("published blue", blue)


def receive_all(url, expect):
    got = []
    deadline = time.time() + 20
    while time.time() < deadline and len(got) < expect:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        got += answer.get("Messages", [])
    time.sleep(0.3)
    got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return got


messages = receive_all(queue_url, 1)
assert len(messages) == 1, messages
env = json.loads(messages[0]["Body"])
assert env["Type"] == "Notification" and env["MessageId"] == red and env["TopicArn"] == fan, env
assert env["Message"] == "red message" and env["Subject"] == "paint", env
assert env["MessageAttributes"]["color"] == {"Type": "String", "Value": "red"}, env
raw_messages = receive_all(raw_queue_url, 1)
assert len(raw_messages) == 1, raw_messages
assert raw_messages[0]["Body"] == "blue message", raw_messages
assert raw_messages[0]["MessageAttributes"]["color"]["StringValue"] == "blue", raw_messages
print("sqs ok")

print("checks ok")
