"""boto3 `sns` against Stratus: the API, its error shapes, and fan-out.

Environment: AWS_* (endpoint, keys, region) and HTTP_URL (an endpoint the
Rust test serves). Prints `published NAME MESSAGE_ID` lines for the Rust test
and `checks ok` at the end.
"""

import json
import os
import sys
import time
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
assert code_of(sns.publish, TopicArn=arn, Message="m", MessageGroupId="g") == ("InvalidParameter", 400)

# Error shapes.
missing = "arn:aws:sns:us-east-1:000000000000:nope"
assert code_of(sns.publish, TopicArn=missing, Message="m") == ("NotFound", 404)
assert code_of(sns.get_topic_attributes, TopicArn=missing) == ("NotFound", 404)
assert code_of(sns.subscribe, TopicArn=missing, Protocol="http", Endpoint=HTTP_URL) == ("NotFound", 404)
assert code_of(sns.list_subscriptions_by_topic, TopicArn=missing) == ("NotFound", 404)
assert code_of(sns.unsubscribe, SubscriptionArn=missing + ":x") == ("NotFound", 404)
assert code_of(sns.publish, TopicArn=arn, Message="x" * (256 * 1024 + 1)) == ("InvalidParameter", 400)
assert code_of(sns.publish, TopicArn=arn, Message="x" * (256 * 1024 - 2), MessageAttributes=attrs(big="yyyy")) == ("InvalidParameter", 400)
assert code_of(sns.publish, TopicArn=arn, Message="") == ("InvalidParameter", 400)
assert code_of(sns.publish, TopicArn=arn, Message="m", MessageAttributes={"b": {"DataType": "Blob", "StringValue": "x"}}) == ("ParameterValueInvalid", 400)
assert code_of(sns.publish, TopicArn="not-an-arn", Message="m") == ("InvalidParameter", 400)
for policy in ["not json", json.dumps({"a": [{"numeric": ["<"]}]}), json.dumps({k: ["v"] for k in "abcdef"}), json.dumps({"a": {"b": ["c"]}})]:
    got = code_of(sns.subscribe, TopicArn=arn, Protocol="http", Endpoint=HTTP_URL, Attributes={"FilterPolicy": policy})
    assert got == ("InvalidParameter", 400), (policy, got)
assert code_of(sns.subscribe, TopicArn=arn, Protocol="email", Endpoint="a@b.c") == ("InvalidParameter", 400)
assert code_of(sns.subscribe, TopicArn=arn, Protocol="http", Endpoint="ftp://x") == ("InvalidParameter", 400)
assert code_of(sns.create_topic, Name="bad name") == ("InvalidParameter", 400)
assert code_of(sns.create_topic, Name="x.fifo") == ("InvalidParameter", 400)
assert code_of(sns.create_topic, Name="t", Attributes={"Bogus": "1"}) == ("InvalidParameter", 400)
assert code_of(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[{"Id": "a", "Message": "1"}, {"Id": "a", "Message": "2"}]) == ("BatchEntryIdsNotDistinct", 400)
assert code_of(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(11)]) == ("TooManyEntriesInBatchRequest", 400)


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
