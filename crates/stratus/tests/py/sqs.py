"""Drives Stratus's SQS API with the real boto3 `sqs` client.

Run by the Rust test `sqs::boto3_drives_the_sqs_api` against a server it
started; AWS_ENDPOINT_URL (and the key variables) point at it. Exits
non-zero on the first failed check and prints "checks ok" at the end.
"""
import base64
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


def message_of(call, *args, **kwargs):
    """The error's code and message (SQS's words)."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    return None, None


def eventually(probe, detail, timeout=10):
    """Polls `probe` until it answers something true; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            check(value, detail)
            return value
        time.sleep(0.1)


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
                         ("MessageRetentionPeriod", "59"), ("MaximumMessageSize", "1048577"),
                         ("MaximumMessageSize", "1023"),
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
      and attrs["MaximumMessageSize"] == "1048576" and attrs["DelaySeconds"] == "0", attrs)
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

# --- Visibility: hidden while received; on a standard queue every handle a
# message was received with stays valid, as on SQS.
check(sqs.receive_message(QueueUrl=url).get("Messages", []) == [], "in flight")
time.sleep(2.1)
again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                            MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
check(len(again) == 2 and all(a["Attributes"]["ApproximateReceiveCount"] == "2" for a in again), again)
check(all(a["ReceiptHandle"] not in (m["ReceiptHandle"], plain["ReceiptHandle"]) for a in again), again)
by_id = {a["MessageId"]: a for a in again}
# The first receive's handle deletes the message received again since...
sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
check(error_of(sqs.delete_message, QueueUrl=url, ReceiptHandle="garbage")
      == ("ReceiptHandleIsInvalid", 404), "garbage handle")
check(message_of(sqs.delete_message, QueueUrl=url, ReceiptHandle="garbage")
      == ("ReceiptHandleIsInvalid", 'The input receipt handle "garbage" is not a valid receipt handle.'),
      "garbage handle text")
# ... and changes the visibility of the receive in flight.
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=plain["ReceiptHandle"], VisibilityTimeout=0)
back = sqs.receive_message(QueueUrl=url)["Messages"]
check(back[0]["MessageId"] == plain["MessageId"], back)
check(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
      ["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1", "the first one was deleted")
check(error_of(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=back[0]["ReceiptHandle"],
               VisibilityTimeout=43201) == ("InvalidParameterValue", 400), "visibility too long")
changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
    {"Id": "a", "ReceiptHandle": back[0]["ReceiptHandle"], "VisibilityTimeout": 100},
    {"Id": "b", "ReceiptHandle": "garbage", "VisibilityTimeout": 1}])
check([s["Id"] for s in changed["Successful"]] == ["a"], changed)
check(changed["Failed"][0]["Id"] == "b" and changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid", changed)
deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
    {"Id": "one", "ReceiptHandle": back[0]["ReceiptHandle"]},
    {"Id": "two", "ReceiptHandle": by_id[m["MessageId"]]["ReceiptHandle"]},
    {"Id": "bad", "ReceiptHandle": "garbage"}])
check(sorted(s["Id"] for s in deleted["Successful"]) == ["one", "two"], deleted)
check(deleted["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "ReceiptHandleIsInvalid",
                             "Message": deleted["Failed"][0]["Message"]}], deleted)
check(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
      ["ApproximateNumberOfMessagesNotVisible"] == "0", "all deleted")
# A deleted message's visibility cannot change.
check(message_of(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=back[0]["ReceiptHandle"],
                 VisibilityTimeout=5)
      == ("InvalidParameterValue", f"Value {back[0]['ReceiptHandle']} for parameter ReceiptHandle is invalid. "
          "Reason: Message does not exist or is not available for visibility timeout change."), "deleted")

# --- Receive parameters.
for params in [{"MaxNumberOfMessages": 11}, {"MaxNumberOfMessages": 0}, {"WaitTimeSeconds": 21},
               {"VisibilityTimeout": 43201}]:
    check(error_of(sqs.receive_message, QueueUrl=url, **params) == ("InvalidParameterValue", 400), params)
check(message_of(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
      == ("InvalidParameterValue",
          "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."),
      "max text")
check(message_of(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21)
      == ("InvalidParameterValue",
          "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."),
      "wait text")
check(error_of(sqs.receive_message, QueueUrl=ENDPOINT + "/000000000000/nope")
      == ("AWS.SimpleQueueService.NonExistentQueue", 400), "receive unknown")
check(error_of(sqs.send_message, QueueUrl="nope", MessageBody="x")
      == ("AWS.SimpleQueueService.NonExistentQueue", 400), "send unknown")

# --- Message size (1 MiB since 2025) and contents.
check(sqs.send_message(QueueUrl=url, MessageBody="x" * 1048576)["MessageId"], "largest message")
check(message_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 1048577)
      == ("InvalidParameterValue",
          "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."),
      "oversized body")
check(error_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 1048500,
               MessageAttributes={"a": {"DataType": "String", "StringValue": "y" * 100}})
      == ("InvalidParameterValue", 400), "oversized with attributes")
small = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
check(message_of(sqs.send_message, QueueUrl=small, MessageBody="x" * 1025)
      == ("InvalidParameterValue",
          "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."),
      "over the queue's limit")
sized = sqs.send_message_batch(QueueUrl=small, Entries=[{"Id": "fits", "MessageBody": "x" * 1024},
                                                        {"Id": "over", "MessageBody": "x" * 1025}])
check([s["Id"] for s in sized["Successful"]] == ["fits"], sized)
check(sized["Failed"] == [{"Id": "over", "SenderFault": True, "Code": "InvalidParameterValue",
                           "Message": "One or more parameters cannot be validated. "
                                      "Reason: Message must be shorter than 1024 bytes."}], sized)
check(message_of(sqs.send_message, QueueUrl=url, MessageBody="x",
                 MessageAttributes={"e": {"DataType": "String", "StringValue": ""}})
      == ("InvalidParameterValue", "Message (user) attribute 'e' must contain a non-empty value of type 'String'."),
      "empty attribute")
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
check(message_of(sqs.send_message_batch, QueueUrl=url, Entries=[])
      == ("AWS.SimpleQueueService.EmptyBatchRequest",
          "There should be at least one SendMessageBatchRequestEntry in the request."), "empty batch")
check(message_of(sqs.send_message_batch, QueueUrl=url,
                 Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
      == ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
          "Maximum number of entries per request are 10. You have sent 11."), "too many")
check(message_of(sqs.send_message_batch, QueueUrl=url,
                 Entries=[{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}])
      == ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id same repeated."), "same ids")
check(message_of(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a b", "MessageBody": "x"}])
      == ("AWS.SimpleQueueService.InvalidBatchEntryId",
          "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
          "It can be at most 80 letters long."), "bad id")
check(message_of(sqs.send_message_batch, QueueUrl=url,
                 Entries=[{"Id": str(i), "MessageBody": "x" * 400_000} for i in range(3)])
      == ("AWS.SimpleQueueService.BatchRequestTooLong",
          "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes."), "batch too long")
# The largest batch, 1 MiB, also when the SDK escapes every character
# (botocore writes "é" as \u00e9: the request is three times as long).
check(len(sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": str(i), "MessageBody": "x" * 262144} for i in range(4)])["Successful"]) == 4, "1 MiB batch")
check(len(sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": str(i), "MessageBody": "\u00e9" * 131072} for i in range(4)])["Successful"]) == 4, "1 MiB escaped")
empty_entry = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "fine"},
                                                            {"Id": "b", "MessageBody": ""}])
check(empty_entry["Failed"] == [{"Id": "b", "SenderFault": True, "Code": "EmptyValue",
                                 "Message": "No Value Found for SendMessageBatchRequestEntry.2.MessageBody."}],
      empty_entry)
check(message_of(sqs.delete_message_batch, QueueUrl=url, Entries=[])
      == ("AWS.SimpleQueueService.EmptyBatchRequest",
          "There should be at least one DeleteMessageBatchRequestEntry in the request."), "empty delete batch")
check(message_of(sqs.change_message_visibility_batch, QueueUrl=url, Entries=[])
      == ("AWS.SimpleQueueService.EmptyBatchRequest",
          "There should be at least one ChangeMessageVisibilityBatchRequestEntry in the request."),
      "empty visibility batch")
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
check(message_of(sqs.send_message, QueueUrl=fifo, MessageBody="x")
      == ("MissingParameter", "The request must contain the parameter MessageGroupId."), "no group")
check(message_of(sqs.send_message, QueueUrl=fifo, MessageBody="x", MessageGroupId="g")
      == ("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or "
          "MessageDeduplicationId provided explicitly"), "no dedup id")
check(message_of(sqs.send_message, QueueUrl=fifo, MessageBody="x", MessageGroupId="g 1",
                 MessageDeduplicationId="d")
      == ("InvalidParameterValue", "Value g 1 for parameter MessageGroupId is invalid. Reason: MessageGroupId "
          "can only include alphanumeric and punctuation characters. 1 to 128 in length."), "bad group")
# In a batch, SQS refuses the whole batch (not the entry), in other words.
good_entry = {"Id": "good", "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "never-sent"}
check(message_of(sqs.send_message_batch, QueueUrl=fifo,
                 Entries=[good_entry, {"Id": "nogroup", "MessageBody": "x", "MessageDeduplicationId": "d"}])
      == ("InvalidParameterValue", "The request must contain the parameter MessageGroupId."), "batch without group")
check(message_of(sqs.send_message_batch, QueueUrl=fifo,
                 Entries=[good_entry, {"Id": "nodedup", "MessageBody": "x", "MessageGroupId": "g"}])
      == ("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or "
          "MessageDeduplicationId provided explicitly"), "batch without dedup id")
check(sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["ApproximateNumberOfMessages"])
      ["Attributes"]["ApproximateNumberOfMessages"] == "0", "nothing of a refused batch was sent")
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
# A FIFO queue's handle expires with its receive.
sqs.send_message(QueueUrl=fifo, MessageBody="short", MessageGroupId="short", MessageDeduplicationId="short")
short = eventually(lambda: [f for f in sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10,
                                                            VisibilityTimeout=1).get("Messages", [])
                            if f["Body"] == "short"], "the short message")
time.sleep(1.2)
check(message_of(sqs.delete_message, QueueUrl=fifo, ReceiptHandle=short[0]["ReceiptHandle"])
      == ("InvalidParameterValue", f"Value {short[0]['ReceiptHandle']} for parameter ReceiptHandle is invalid. "
          "Reason: The receipt handle has expired."), "expired fifo handle")
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
work_arn = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
source_of = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0,
                                MessageSystemAttributeNames=["DeadLetterQueueSourceArn"])["Messages"]
check(source_of[0]["Attributes"] == {"DeadLetterQueueSourceArn": work_arn}, source_of)
check(message_of(sqs.start_message_move_task, SourceArn=work_arn)
      == ("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue."), "not a DLQ")
check(error_of(sqs.start_message_move_task, SourceArn="arn:aws:sqs:us-east-1:000000000000:none")
      == ("ResourceNotFoundException", 404), "no source")
check(message_of(sqs.start_message_move_task, SourceArn=dlq_arn,
                 DestinationArn="arn:aws:sqs:us-east-1:000000000000:none")
      == ("ResourceNotFoundException",
          "The resource that you specified for the DestinationArn parameter doesn't exist."), "no destination")
sqs.set_queue_attributes(QueueUrl=work, Attributes={"VisibilityTimeout": "30"})
task = sqs.start_message_move_task(SourceArn=dlq_arn)
check(json.loads(base64.b64decode(task["TaskHandle"]))["sourceArn"] == dlq_arn, task)
redriven = sqs.receive_message(QueueUrl=work, WaitTimeSeconds=10)["Messages"]
check(redriven[0]["MessageId"] == poison, redriven)
listed = eventually(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
                             if t["Status"] == "COMPLETED"], "the move completes")
check(listed[0]["ApproximateNumberOfMessagesMoved"] == 1 and listed[0]["ApproximateNumberOfMessagesToMove"] == 1
      and listed[0]["SourceArn"] == dlq_arn and "TaskHandle" not in listed[0]
      and "DestinationArn" not in listed[0] and listed[0]["StartedTimestamp"] > 1_600_000_000_000, listed)
check(error_of(sqs.cancel_message_move_task, TaskHandle=task["TaskHandle"])
      == ("InvalidParameterValue", 400), "a completed task")
check(message_of(sqs.cancel_message_move_task, TaskHandle="foobared")
      == ("InvalidParameterValue", "Value for parameter TaskHandle is invalid."), "bad handle")
bogus = base64.b64encode(json.dumps({"taskId": "nope", "sourceArn": dlq_arn}).encode()).decode()
check(message_of(sqs.cancel_message_move_task, TaskHandle=bogus)
      == ("ResourceNotFoundException", "Task does not exist."), "no such task")
# A slow move (1 message a second) to a fixed destination: listed while it
# runs, one at a time, cancelled.
for i in range(6):
    sqs.send_message(QueueUrl=dlq, MessageBody=f"direct-{i}")
parked = sqs.create_queue(QueueName="parked")["QueueUrl"]
parked_arn = sqs.get_queue_attributes(QueueUrl=parked, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
slow = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=parked_arn, MaxNumberOfMessagesPerSecond=1)
running = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
check(len(running) == 2 and running[0]["Status"] == "RUNNING" and running[0]["TaskHandle"] == slow["TaskHandle"]
      and running[0]["DestinationArn"] == parked_arn and running[0]["MaxNumberOfMessagesPerSecond"] == 1
      and running[0]["ApproximateNumberOfMessagesToMove"] == 6 and running[1]["Status"] == "COMPLETED", running)
check(message_of(sqs.start_message_move_task, SourceArn=dlq_arn)
      == ("InvalidParameterValue", "There is already a task running. Only one active task is allowed for a "
          "source queue arn at a given time."), "one task at a time")
moved = sqs.cancel_message_move_task(TaskHandle=slow["TaskHandle"])["ApproximateNumberOfMessagesMoved"]
check(0 <= moved < 6, moved)
ended = eventually(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
                            if t["Status"] == "CANCELLED"], "the cancel lands")
left = int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
           ["Attributes"]["ApproximateNumberOfMessages"])
arrived = int(sqs.get_queue_attributes(QueueUrl=parked, AttributeNames=["ApproximateNumberOfMessages"])
              ["Attributes"]["ApproximateNumberOfMessages"])
check(arrived == ended[0]["ApproximateNumberOfMessagesMoved"] and arrived + left == 6 and left > 0,
      (arrived, left, ended))

# --- RedriveAllowPolicy: a DLQ names the queues that may use it.
closed = sqs.create_queue(QueueName="closed-dlq", Attributes={
    "RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})["QueueUrl"]
closed_arn = sqs.get_queue_attributes(QueueUrl=closed, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
to_closed = json.dumps({"deadLetterTargetArn": closed_arn, "maxReceiveCount": 3})
check(error_of(sqs.create_queue, QueueName="refused", Attributes={"RedrivePolicy": to_closed})
      == ("InvalidParameterValue", 400), "denyAll")
check("refused" not in str(sqs.list_queues(QueueNamePrefix="refused")), "not created")
picky = sqs.create_queue(QueueName="picky-dlq", Attributes={"RedriveAllowPolicy": json.dumps(
    {"redrivePermission": "byQueue", "sourceQueueArns": ["arn:aws:sqs:us-east-1:000000000000:chosen"]})})["QueueUrl"]
picky_arn = sqs.get_queue_attributes(QueueUrl=picky, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
to_picky = json.dumps({"deadLetterTargetArn": picky_arn, "maxReceiveCount": 3})
sqs.create_queue(QueueName="chosen", Attributes={"RedrivePolicy": to_picky})
other = sqs.create_queue(QueueName="unchosen")["QueueUrl"]
check(error_of(sqs.set_queue_attributes, QueueUrl=other, Attributes={"RedrivePolicy": to_picky})
      == ("InvalidParameterValue", 400), "byQueue")
check(error_of(sqs.set_queue_attributes, QueueUrl=other, Attributes={"RedriveAllowPolicy": json.dumps(
    {"redrivePermission": "byQueue"})}) == ("InvalidAttributeValue", 400), "byQueue without ARNs")
sqs.set_queue_attributes(QueueUrl=picky, Attributes={"RedriveAllowPolicy": json.dumps(
    {"redrivePermission": "allowAll"})})
sqs.set_queue_attributes(QueueUrl=other, Attributes={"RedrivePolicy": to_picky})
check(json.loads(sqs.get_queue_attributes(QueueUrl=picky, AttributeNames=["RedriveAllowPolicy"])
                 ["Attributes"]["RedriveAllowPolicy"]) == {"redrivePermission": "allowAll"}, "allowAll kept")

# --- Tags: stored, limited, per queue.
tagged = sqs.create_queue(QueueName="tagged", tags={"team": "a", "env": ""})["QueueUrl"]
check(sqs.list_queue_tags(QueueUrl=tagged)["Tags"] == {"team": "a", "env": ""}, "created with tags")
sqs.tag_queue(QueueUrl=tagged, Tags={"team": "b", "cost": "1"})
check(sqs.list_queue_tags(QueueUrl=tagged)["Tags"] == {"team": "b", "env": "", "cost": "1"}, "tagged")
sqs.untag_queue(QueueUrl=tagged, TagKeys=["env", "absent"])
check(sqs.list_queue_tags(QueueUrl=tagged)["Tags"] == {"team": "b", "cost": "1"}, "untagged")
check(message_of(sqs.tag_queue, QueueUrl=tagged, Tags={f"k{i}": "v" for i in range(49)})
      == ("InvalidParameterValue", "Too many tags added for queue tagged."), "over 50 tags")
check(sqs.list_queue_tags(QueueUrl=tagged)["Tags"] == {"team": "b", "cost": "1"}, "unchanged")
sqs.tag_queue(QueueUrl=tagged, Tags={f"k{i}": "v" for i in range(48)})
check(len(sqs.list_queue_tags(QueueUrl=tagged)["Tags"]) == 50, "50 tags")
check(error_of(sqs.tag_queue, QueueUrl=tagged, Tags={"k" * 129: "v"}) == ("InvalidParameterValue", 400), "long key")
check(error_of(sqs.tag_queue, QueueUrl=tagged, Tags={"team": "v" * 257})
      == ("InvalidParameterValue", 400), "long value")
sqs.tag_queue(QueueUrl=tagged, Tags={"team": "v" * 256})
check(sqs.list_queue_tags(QueueUrl=tagged)["Tags"]["team"] == "v" * 256, "longest value")
for call, params in [(sqs.tag_queue, {"Tags": {"a": "b"}}), (sqs.untag_queue, {"TagKeys": ["a"]}),
                     (sqs.list_queue_tags, {})]:
    check(error_of(call, QueueUrl=ENDPOINT + "/000000000000/nope", **params)
          == ("AWS.SimpleQueueService.NonExistentQueue", 400), call)
sqs.untag_queue(QueueUrl=tagged, TagKeys=list(sqs.list_queue_tags(QueueUrl=tagged)["Tags"]))
check("Tags" not in sqs.list_queue_tags(QueueUrl=tagged), "no tags left")
check(sqs.create_queue(QueueName="tagged", tags={"other": "x"})["QueueUrl"] == tagged, "create again")
check("Tags" not in sqs.list_queue_tags(QueueUrl=tagged), "an existing queue keeps its tags")

# --- Permissions: AddPermission writes the queue's Policy as SQS does.
sqs.add_permission(QueueUrl=tagged, Label="send", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
tagged_arn = sqs.get_queue_attributes(QueueUrl=tagged, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
policy = json.loads(sqs.get_queue_attributes(QueueUrl=tagged, AttributeNames=["Policy"])["Attributes"]["Policy"])
check(policy == {"Version": "2008-10-17", "Id": f"{tagged_arn}/SQSDefaultPolicy", "Statement": [
    {"Sid": "send", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
     "Action": "SQS:SendMessage", "Resource": tagged_arn}]}, policy)
sqs.add_permission(QueueUrl=tagged, Label="read", AWSAccountIds=["111122223333", "444455556666"],
                   Actions=["ReceiveMessage", "DeleteMessage"])
policy = json.loads(sqs.get_queue_attributes(QueueUrl=tagged, AttributeNames=["All"])["Attributes"]["Policy"])
check([s["Sid"] for s in policy["Statement"]] == ["send", "read"]
      and policy["Statement"][1]["Action"] == ["SQS:ReceiveMessage", "SQS:DeleteMessage"], policy)
check(message_of(sqs.add_permission, QueueUrl=tagged, Label="send", AWSAccountIds=["111122223333"],
                 Actions=["SendMessage"])
      == ("InvalidParameterValue", "Value send for parameter Label is invalid. Reason: Already exists."), "same label")
check(error_of(sqs.add_permission, QueueUrl=tagged, Label="many", AWSAccountIds=["111122223333"],
               Actions=["SendMessage"] * 8) == ("OverLimit", 403), "too many actions")
sqs.remove_permission(QueueUrl=tagged, Label="send")
policy = json.loads(sqs.get_queue_attributes(QueueUrl=tagged, AttributeNames=["Policy"])["Attributes"]["Policy"])
check([s["Sid"] for s in policy["Statement"]] == ["read"], policy)
sqs.remove_permission(QueueUrl=tagged, Label="read")
check("Attributes" not in sqs.get_queue_attributes(QueueUrl=tagged, AttributeNames=["Policy"]), "no policy left")
check(message_of(sqs.remove_permission, QueueUrl=tagged, Label="read")
      == ("InvalidParameterValue", "Value read for parameter Label is invalid. Reason: can't find label."), "gone")
own_policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "mine", "Effect": "Allow",
                         "Principal": "*", "Action": "sqs:SendMessage", "Resource": tagged_arn}]})
sqs.set_queue_attributes(QueueUrl=tagged, Attributes={"Policy": own_policy})
check(sqs.get_queue_attributes(QueueUrl=tagged, AttributeNames=["Policy"])["Attributes"]["Policy"] == own_policy,
      "a set policy")
check(error_of(sqs.set_queue_attributes, QueueUrl=tagged, Attributes={"Policy": "not json"})
      == ("InvalidAttributeValue", 400), "a bad policy")
sqs.set_queue_attributes(QueueUrl=tagged, Attributes={"Policy": ""})
check("Attributes" not in sqs.get_queue_attributes(QueueUrl=tagged, AttributeNames=["Policy"]), "policy removed")

# --- Message system attributes (AWSTraceHeader) and attribute wildcards.
trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
traced = sqs.create_queue(QueueName="traced")["QueueUrl"]
sent = sqs.send_message(QueueUrl=traced, MessageBody="traced",
                        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": trace}},
                        MessageAttributes={"Custom.a": {"DataType": "String", "StringValue": "1"},
                                           "Custom.b": {"DataType": "Number", "StringValue": "2"},
                                           "Customer": {"DataType": "String", "StringValue": "3"}})
check(sent["MD5OfMessageSystemAttributes"] == "5ae4d5d7636402d80f4eb6d213245a88", sent)
got = sqs.receive_message(QueueUrl=traced, MessageSystemAttributeNames=["AWSTraceHeader"],
                          MessageAttributeNames=["Custom.*"], VisibilityTimeout=0)["Messages"][0]
check(got["Attributes"] == {"AWSTraceHeader": trace}, got)
check(sorted(got["MessageAttributes"]) == ["Custom.a", "Custom.b"], got)
check(got["MD5OfMessageAttributes"] == md5_of_attributes({k: v for k, v in got["MessageAttributes"].items()}), got)
plain_receive = sqs.receive_message(QueueUrl=traced, VisibilityTimeout=0)["Messages"][0]
check("Attributes" not in plain_receive and "MessageAttributes" not in plain_receive, plain_receive)
every = sqs.receive_message(QueueUrl=traced, AttributeNames=["All"], MessageAttributeNames=[".*"])["Messages"][0]
check(every["Attributes"]["AWSTraceHeader"] == trace and len(every["MessageAttributes"]) == 3, every)
sqs.purge_queue(QueueUrl=traced)
batch = sqs.send_message_batch(QueueUrl=traced, Entries=[
    {"Id": "t", "MessageBody": "b", "MessageSystemAttributes": {
        "AWSTraceHeader": {"DataType": "String", "StringValue": trace}}},
    {"Id": "u", "MessageBody": "c"}])
by_entry = {s["Id"]: s for s in batch["Successful"]}
check(by_entry["t"]["MD5OfMessageSystemAttributes"] == "5ae4d5d7636402d80f4eb6d213245a88"
      and "MD5OfMessageSystemAttributes" not in by_entry["u"], batch)
check(error_of(sqs.send_message, QueueUrl=traced, MessageBody="x", MessageSystemAttributes={
    "AWSTraceHeader": {"DataType": "Number", "StringValue": "1"}}) == ("InvalidParameterValue", 400), "type")


def add_xray_header(request, **_kwargs):
    request.headers["X-Amzn-Trace-Id"] = trace


sqs.purge_queue(QueueUrl=traced)
sqs.meta.events.register("before-send.sqs.SendMessage", add_xray_header)
sqs.send_message(QueueUrl=traced, MessageBody="from the header")
sqs.meta.events.unregister("before-send.sqs.SendMessage", add_xray_header)
from_header = sqs.receive_message(QueueUrl=traced, MessageSystemAttributeNames=["All"])["Messages"][0]
check(from_header["Attributes"]["AWSTraceHeader"] == trace, from_header)

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
check(status == 400 and body["__type"] == "com.amazonaws.sqs#InvalidParameterValueException", (status, body))
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
