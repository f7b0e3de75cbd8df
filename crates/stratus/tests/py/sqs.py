"""Drives Stratus's SQS API with the real boto3 `sqs` client.

Run by the Rust test `sqs::boto3_drives_the_sqs_api` against a server it
started; AWS_ENDPOINT_URL (and the key variables) point at it. Exits
non-zero on the first failed check and prints "checks ok" at the end.
"""
import hashlib
import json
import os
import struct
import sys
import threading
import time
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
sqs = boto3.client(
    "sqs",
    endpoint_url=ENDPOINT,
    region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
)
checks = 0


def check(condition, detail):
    global checks
    if not condition:
        print(f"check {checks + 1} failed: {detail!r}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def error_of(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, None


def md5_of_attributes(attributes):
    """SQS's MD5 of message attributes, computed independently."""
    buf = b""
    for name in sorted(attributes):
        value = attributes[name]
        kind = value["DataType"]
        buf += struct.pack(">I", len(name.encode())) + name.encode()
        buf += struct.pack(">I", len(kind.encode())) + kind.encode()
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(raw)) + raw
        else:
            raw = value["StringValue"].encode()
            buf += b"\x01" + struct.pack(">I", len(raw)) + raw
    return hashlib.md5(buf).hexdigest()


# --- Queues: create (idempotent), conflict, URLs, list, bad names.
url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
check(url.endswith("/000000000000/jobs"), url)
check(sqs.create_queue(QueueName="jobs")["QueueUrl"] == url, "create again")
check(error_of(sqs.create_queue, QueueName="jobs", Attributes={"VisibilityTimeout": "5"})
      == ("QueueAlreadyExists", 400), "different attributes")
check(sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url, "get url")
check(error_of(sqs.get_queue_url, QueueName="nope") == ("AWS.SimpleQueueService.NonExistentQueue", 400),
      "unknown queue url")
try:
    sqs.get_queue_url(QueueName="nope")
    check(False, "no error")
except sqs.exceptions.QueueDoesNotExist as e:
    check("does not exist" in e.response["Error"]["Message"], e.response)
check(error_of(sqs.create_queue, QueueName="bad name!") == ("InvalidParameterValue", 400), "bad name")
check(error_of(sqs.create_queue, QueueName="x" * 81) == ("InvalidParameterValue", 400), "long name")
for attribute, value in [("VisibilityTimeout", "43201"), ("DelaySeconds", "901"),
                         ("MessageRetentionPeriod", "59"), ("MaximumMessageSize", "262145"),
                         ("ReceiveMessageWaitTimeSeconds", "21"), ("VisibilityTimeout", "soon")]:
    check(error_of(sqs.create_queue, QueueName="badattr", Attributes={attribute: value})
          == ("InvalidAttributeValue", 400), (attribute, value))
check(error_of(sqs.create_queue, QueueName="badattr", Attributes={"Colour": "blue"})
      == ("InvalidAttributeName", 400), "unknown attribute")
check(error_of(sqs.create_queue, QueueName="badattr",
               Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:none",
                                                        "maxReceiveCount": 3})})
      == ("InvalidParameterValue", 400), "redrive to a missing queue")
for name in ["alpha-1", "alpha-2", "beta"]:
    sqs.create_queue(QueueName=name)
listed = sqs.list_queues(QueueNamePrefix="alpha")["QueueUrls"]
check([u.rsplit("/", 1)[1] for u in listed] == ["alpha-1", "alpha-2"], listed)
page = sqs.list_queues(MaxResults=2)
check(len(page["QueueUrls"]) == 2 and "NextToken" in page, page)
rest = sqs.list_queues(MaxResults=2, NextToken=page["NextToken"])
check(rest["QueueUrls"][0].rsplit("/", 1)[1] > page["QueueUrls"][1].rsplit("/", 1)[1], rest)
check("QueueUrls" not in sqs.list_queues(QueueNamePrefix="zzz"), "empty list")
sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="beta")["QueueUrl"])
check(error_of(sqs.delete_queue, QueueUrl=ENDPOINT + "/000000000000/beta")
      == ("AWS.SimpleQueueService.NonExistentQueue", 400), "delete twice")

# --- Attributes.
attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
check(attrs["VisibilityTimeout"] == "30" and attrs["MessageRetentionPeriod"] == "345600"
      and attrs["MaximumMessageSize"] == "262144" and attrs["DelaySeconds"] == "0", attrs)
check(attrs["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:jobs", attrs)
check(int(attrs["CreatedTimestamp"]) > 1_600_000_000 and "LastModifiedTimestamp" in attrs, attrs)
check(attrs["ApproximateNumberOfMessages"] == "0", attrs)
sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "2", "DelaySeconds": "0"})
only = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
check(only == {"VisibilityTimeout": "2"}, only)
check(error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"VisibilityTimeout": "-1"})
      == ("InvalidAttributeValue", 400), "bad set")
check(error_of(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["Nope"])
      == ("InvalidAttributeName", 400), "unknown attribute name")

# --- Send and receive, attributes and their MD5s; a bare name as QueueUrl.
user_attrs = {
    "colour": {"DataType": "String", "StringValue": "blue"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    "kind": {"DataType": "String.custom", "StringValue": "x"},
}
sent = sqs.send_message(QueueUrl="jobs", MessageBody="hello", MessageAttributes=user_attrs)
check(sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest(), sent)
check(sent["MD5OfMessageAttributes"] == md5_of_attributes(user_attrs), sent)
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                          MessageSystemAttributeNames=["All"])["Messages"]
check(len(got) == 1, got)
m = got[0]
check(m["MessageId"] == sent["MessageId"] and m["Body"] == "hello", m)
check(m["MD5OfBody"] == sent["MD5OfMessageBody"], m)
check(m["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\xff", m)
check(m["MessageAttributes"]["count"] == {"DataType": "Number", "StringValue": "42"}, m)
check(m["MD5OfMessageAttributes"] == md5_of_attributes(user_attrs), m)
check(m["Attributes"]["ApproximateReceiveCount"] == "1", m)
check(abs(int(m["Attributes"]["SentTimestamp"]) - time.time() * 1000) < 60_000, m)
check("SenderId" in m["Attributes"] and "ApproximateFirstReceiveTimestamp" in m["Attributes"], m)
# Filters: no attributes unless asked; a prefix filter.
sqs.send_message(QueueUrl=url, MessageBody="plain", MessageAttributes=user_attrs)
plain = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["col.*", "count"])["Messages"][0]
check("Attributes" not in plain, plain)
check(sorted(plain["MessageAttributes"]) == ["count"], plain)
counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
check(counts["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "2", counts)

# --- Visibility: hidden while received; an outdated receipt handle.
check(sqs.receive_message(QueueUrl=url).get("Messages", []) == [], "in flight")
time.sleep(2.1)
again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                            MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
check(len(again) == 2 and all(a["Attributes"]["ApproximateReceiveCount"] == "2" for a in again), again)
check(error_of(sqs.delete_message, QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
      == ("ReceiptHandleIsInvalid", 400), "old handle")
check(error_of(sqs.delete_message, QueueUrl=url, ReceiptHandle="garbage")
      == ("ReceiptHandleIsInvalid", 400), "garbage handle")
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"], VisibilityTimeout=0)
back = sqs.receive_message(QueueUrl=url)["Messages"]
check(back[0]["MessageId"] == again[0]["MessageId"], back)
check(error_of(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=back[0]["ReceiptHandle"],
               VisibilityTimeout=43201) == ("InvalidParameterValue", 400), "visibility too long")
changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
    {"Id": "a", "ReceiptHandle": back[0]["ReceiptHandle"], "VisibilityTimeout": 100},
    {"Id": "b", "ReceiptHandle": "garbage", "VisibilityTimeout": 1}])
check([s["Id"] for s in changed["Successful"]] == ["a"], changed)
check(changed["Failed"][0]["Id"] == "b" and changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid", changed)
deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
    {"Id": "one", "ReceiptHandle": back[0]["ReceiptHandle"]},
    {"Id": "two", "ReceiptHandle": again[1]["ReceiptHandle"]},
    {"Id": "bad", "ReceiptHandle": "garbage"}])
check(sorted(s["Id"] for s in deleted["Successful"]) == ["one", "two"], deleted)
check(deleted["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "ReceiptHandleIsInvalid",
                             "Message": deleted["Failed"][0]["Message"]}], deleted)
check(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
      ["ApproximateNumberOfMessagesNotVisible"] == "0", "all deleted")

# --- Receive parameters.
for params in [{"MaxNumberOfMessages": 11}, {"MaxNumberOfMessages": 0}, {"WaitTimeSeconds": 21},
               {"VisibilityTimeout": 43201}]:
    check(error_of(sqs.receive_message, QueueUrl=url, **params) == ("InvalidParameterValue", 400), params)
check(error_of(sqs.receive_message, QueueUrl=ENDPOINT + "/000000000000/nope")
      == ("AWS.SimpleQueueService.NonExistentQueue", 400), "receive unknown")
check(error_of(sqs.send_message, QueueUrl="nope", MessageBody="x")
      == ("AWS.SimpleQueueService.NonExistentQueue", 400), "send unknown")

# --- Message size and contents.
check(sqs.send_message(QueueUrl=url, MessageBody="x" * 262144)["MessageId"], "largest message")
check(error_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 262145) == ("InvalidParameterValue", 400),
      "oversized body")
check(error_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 262100,
               MessageAttributes={"a": {"DataType": "String", "StringValue": "y" * 100}})
      == ("InvalidParameterValue", 400), "oversized with attributes")
check(error_of(sqs.send_message, QueueUrl=url, MessageBody="bad \x01 char") == ("InvalidMessageContents", 400),
      "bad characters")
check(error_of(sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901)
      == ("InvalidParameterValue", 400), "delay too long")
check(error_of(sqs.send_message, QueueUrl=url, MessageBody="x",
               MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}})
      == ("InvalidParameterValue", 400), "bad number")
check(error_of(sqs.send_message, QueueUrl=url, MessageBody="x",
               MessageAttributes={"n": {"DataType": "Text", "StringValue": "abc"}})
      == ("InvalidParameterValue", 400), "bad type")
sqs.purge_queue(QueueUrl=url)
check(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
      ["Attributes"]["ApproximateNumberOfMessages"] == "0", "purged")

# --- Batches.
result = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "a", "MessageBody": "one"},
    {"Id": "b", "MessageBody": "two", "DelaySeconds": 1},
    {"Id": "c", "MessageBody": "x", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "z"}}}])
check(sorted(s["Id"] for s in result["Successful"]) == ["a", "b"], result)
check(result["Failed"][0]["Id"] == "c" and result["Failed"][0]["Code"] == "InvalidParameterValue"
      and result["Failed"][0]["SenderFault"] is True, result)
delayed = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
check(delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1", delayed)
check(error_of(sqs.send_message_batch, QueueUrl=url, Entries=[]) == ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
      "empty batch")
check(error_of(sqs.send_message_batch, QueueUrl=url,
               Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
      == ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400), "too many")
check(error_of(sqs.send_message_batch, QueueUrl=url,
               Entries=[{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}])
      == ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400), "same ids")
check(error_of(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a b", "MessageBody": "x"}])
      == ("AWS.SimpleQueueService.InvalidBatchEntryId", 400), "bad id")
check(error_of(sqs.send_message_batch, QueueUrl=url,
               Entries=[{"Id": str(i), "MessageBody": "x" * 100_000} for i in range(3)])
      == ("AWS.SimpleQueueService.BatchRequestTooLong", 400), "batch too long")
check(error_of(sqs.delete_message_batch, QueueUrl=url, Entries=[])
      == ("AWS.SimpleQueueService.EmptyBatchRequest", 400), "empty delete batch")
sqs.purge_queue(QueueUrl=url)

# --- Long polling returns when a message arrives.
def send_later():
    time.sleep(0.7)
    sqs.send_message(QueueUrl=url, MessageBody="late")


started = time.monotonic()
sender = threading.Thread(target=send_later)
sender.start()
polled = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
sender.join()
elapsed = time.monotonic() - started
check([p["Body"] for p in polled.get("Messages", [])] == ["late"], polled)
check(0.6 < elapsed < 5, elapsed)
started = time.monotonic()
check(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == [], "nothing")
check(time.monotonic() - started >= 0.9, "waited")

# --- FIFO: groups, order, dedupe, sequence numbers.
check(error_of(sqs.create_queue, QueueName="orders.fifo") == ("InvalidParameterValue", 400),
      "fifo name needs FifoQueue")
check(error_of(sqs.create_queue, QueueName="orders", Attributes={"FifoQueue": "true"})
      == ("InvalidParameterValue", 400), "FifoQueue needs a .fifo name")
fifo = sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
fattrs = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
check(fattrs["FifoQueue"] == "true" and fattrs["ContentBasedDeduplication"] == "false", fattrs)
check(error_of(sqs.send_message, QueueUrl=fifo, MessageBody="x") == ("MissingParameter", 400), "no group")
check(error_of(sqs.send_message, QueueUrl=fifo, MessageBody="x", MessageGroupId="g")
      == ("InvalidParameterValue", 400), "no dedup id")
first = sqs.send_message(QueueUrl=fifo, MessageBody="a1", MessageGroupId="a", MessageDeduplicationId="a1")
dup = sqs.send_message(QueueUrl=fifo, MessageBody="a1 again", MessageGroupId="a", MessageDeduplicationId="a1")
check(dup["MessageId"] == first["MessageId"] and dup["SequenceNumber"] == first["SequenceNumber"], (first, dup))
seqs = [first["SequenceNumber"]]
for body, group in [("b1", "b"), ("a2", "a"), ("a3", "a")]:
    seqs.append(sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId=group,
                                 MessageDeduplicationId=body)["SequenceNumber"])
check(seqs == sorted(seqs, key=int) and len(set(seqs)) == 4, seqs)
f1 = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=2, VisibilityTimeout=30,
                         MessageSystemAttributeNames=["All"])["Messages"]
check([f["Body"] for f in f1] == ["a1", "b1"] or [f["Body"] for f in f1] == ["a1", "a2"], f1)
check(f1[0]["Attributes"]["MessageGroupId"] == "a" and f1[0]["Attributes"]["MessageDeduplicationId"] == "a1"
      and f1[0]["Attributes"]["SequenceNumber"] == first["SequenceNumber"], f1)
f2 = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, VisibilityTimeout=30)
bodies = [f["Body"] for f in f1] + [f["Body"] for f in f2.get("Messages", [])]
check(len(bodies) == len(set(bodies)), bodies)
check(all("a3" != b for b in bodies[:2]), bodies)
check(error_of(sqs.send_message, QueueUrl=fifo, MessageBody="x", MessageGroupId="g",
               MessageDeduplicationId="d", DelaySeconds=5) == ("InvalidParameterValue", 400), "fifo delay")
cbd = sqs.create_queue(QueueName="cbd.fifo", Attributes={"FifoQueue": "true",
                                                        "ContentBasedDeduplication": "true"})["QueueUrl"]
one = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
two = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
check(one["MessageId"] == two["MessageId"], (one, two))
check(sqs.get_queue_attributes(QueueUrl=cbd, AttributeNames=["ApproximateNumberOfMessages"])
      ["Attributes"]["ApproximateNumberOfMessages"] == "1", "content dedupe")

# --- Redrive: to the DLQ after maxReceiveCount, then back.
dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
work = sqs.create_queue(QueueName="work", Attributes={
    "VisibilityTimeout": "0",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
    "RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})})["QueueUrl"]
policy = json.loads(sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["RedrivePolicy"])
                    ["Attributes"]["RedrivePolicy"])
check(policy == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}, policy)
sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]
check(sources == [work], sources)
poison = sqs.send_message(QueueUrl=work, MessageBody="poison")["MessageId"]
for attempt in range(2):
    r = sqs.receive_message(QueueUrl=work)["Messages"]
    check(r[0]["MessageId"] == poison, (attempt, r))
check(sqs.receive_message(QueueUrl=work).get("Messages", []) == [], "moved to the DLQ")
in_dlq = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0)["Messages"]
check(in_dlq[0]["MessageId"] == poison and in_dlq[0]["Body"] == "poison", in_dlq)
check(error_of(sqs.start_message_move_task, SourceArn=sqs.get_queue_attributes(
    QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
      == ("InvalidParameterValue", 400), "not a DLQ")
task = sqs.start_message_move_task(SourceArn=dlq_arn)
check(task["TaskHandle"], task)
sqs.set_queue_attributes(QueueUrl=work, Attributes={"VisibilityTimeout": "30"})
redriven = sqs.receive_message(QueueUrl=work)["Messages"]
check(redriven[0]["MessageId"] == poison, redriven)

# --- Malformed requests, straight over HTTP.
def raw(target, body):
    """A signed request whose body boto3 would never send."""
    signed = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers={
        "X-Amz-Target": f"AmazonSQS.{target}", "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(boto3.Session().get_credentials(), "sqs", "us-east-1").add_auth(signed)
    request = urllib.request.Request(ENDPOINT + "/", data=body, method="POST",
                                     headers=dict(signed.headers.items()))
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


status, headers, body = raw("SendMessage", b"{not json")
check(status == 400 and body["__type"] == "com.amazonaws.sqs#InvalidParameterValue", (status, body))
check(headers["x-amzn-query-error"] == "InvalidParameterValue;Sender", dict(headers))
status, headers, body = raw("SendMessage", json.dumps({"QueueUrl": url}).encode())
check(status == 400 and headers["x-amzn-query-error"] == "MissingParameter;Sender", (status, body))
status, headers, body = raw("ReceiveMessage", json.dumps({"QueueUrl": url, "MaxNumberOfMessages": "ten"}).encode())
check(status == 400 and headers["x-amzn-query-error"] == "InvalidParameterValue;Sender", (status, body))
status, headers, body = raw("GetQueueUrl", json.dumps({"QueueName": "nope"}).encode())
check(status == 400 and body["__type"] == "com.amazonaws.sqs#QueueDoesNotExist", body)
check(headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender", dict(headers))
check(headers["content-type"] == "application/x-amz-json-1.0", dict(headers))
status, headers, body = raw("Frobnicate", b"{}")
check(status == 400 and "UnsupportedOperation" in headers["x-amzn-query-error"], body)

print(f"{checks} checks ok")
