"""Checks SigV4 authentication of Stratus's AWS APIs with the real boto3
clients: wrong secret, unknown key, no signature, a stale date and a
function key without its session token each get AWS's error code, for SQS,
SNS, EventBridge and Lambda; the admin key gets past authentication.

Run by `sigv4::boto3_gets_aws_auth_errors` with Server::aws_env (the admin
key, AWS_ENDPOINT_URL) plus FUNCTION_KEY_ID / FUNCTION_SECRET /
FUNCTION_TOKEN (a function's own key). Exits non-zero on the first failed
check; prints `checks ok N` at the end.
"""
import datetime
import json
import os
import sys
from unittest import mock

import boto3
import botocore
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
ADMIN = (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
FUNCTION = (
    os.environ["FUNCTION_KEY_ID"],
    os.environ["FUNCTION_SECRET"],
    os.environ["FUNCTION_TOKEN"],
)
AUTH_CODES = {
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
}
checks = 0


def check(condition, detail):
    global checks
    if not condition:
        print(f"check {checks + 1} failed: {detail!r}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def client(service, key_id, secret, token=None, unsigned=False, region="us-east-1"):
    config = Config(retries={"total_max_attempts": 1}, read_timeout=30)
    if unsigned:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=config,
    )


# One cheap call per service.
CALLS = {
    "sqs": lambda c: c.list_queues(),
    "sns": lambda c: c.list_topics(),
    "events": lambda c: c.put_events(
        Entries=[{"Source": "sigv4.test", "DetailType": "t", "Detail": "{}"}]
    ),
    "lambda": lambda c: c.invoke(FunctionName="tb", Payload=b'"/version"'),
}


def outcome(service, c):
    """(error code or None, HTTP status) of the service's call."""
    try:
        answer = CALLS[service](c)
        return None, answer["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


JSON = {"sqs", "events", "lambda"}


def expected(service, json_code, query_code):
    return json_code if service in JSON else query_code


for service in CALLS:
    # The admin key gets past authentication (the operation itself may
    # still be missing while its service is being written).
    code, status = outcome(service, client(service, *ADMIN))
    check(code not in AUTH_CODES, (service, "admin", code, status))

    code, status = outcome(service, client(service, ADMIN[0], "wrong" + ADMIN[1][5:]))
    want = expected(service, "InvalidSignatureException", "SignatureDoesNotMatch")
    check((code, status) == (want, 403), (service, "wrong secret", code, status))

    code, status = outcome(service, client(service, "AKIAUNKNOWNKEY000000", ADMIN[1]))
    want = expected(service, "UnrecognizedClientException", "InvalidClientTokenId")
    check((code, status) == (want, 403), (service, "unknown key", code, status))

    code, status = outcome(service, client(service, *ADMIN, unsigned=True))
    want = "MissingAuthenticationTokenException" if service == "lambda" else "MissingAuthenticationToken"
    check((code, status) == (want, 403), (service, "unsigned", code, status))

    stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=stale.replace(tzinfo=None)):
        code, status = outcome(service, client(service, *ADMIN))
    want = expected(service, "InvalidSignatureException", "SignatureDoesNotMatch")
    check((code, status) == (want, 403), (service, "stale date", code, status))

    # A function's own key works with its session token, not without.
    code, status = outcome(service, client(service, *FUNCTION))
    check(code not in AUTH_CODES, (service, "function key", code, status))
    for token in (None, FUNCTION[2][:-4] + "AAAA"):
        code, status = outcome(service, client(service, FUNCTION[0], FUNCTION[1], token))
        want = expected(service, "UnrecognizedClientException", "InvalidClientTokenId")
        check((code, status) == (want, 403), (service, "function token", token, code, status))

# An SDK configured for any region works, with the admin key and with a
# function's own key.
for region in ("eu-west-1", "ap-southeast-2", "us-gov-west-1"):
    for service in CALLS:
        code, status = outcome(service, client(service, *ADMIN, region=region))
        check(code is None and status in (200, 202), (service, region, "admin", code, status))
        code, status = outcome(service, client(service, *FUNCTION, region=region))
        check(code is None and status in (200, 202), (service, region, "function key", code, status))

# Each region is its own namespace, as on AWS: a queue made in eu-west-1
# is not seen from us-east-1, its ARN names its region, and a queue of the
# same name in another region is another queue.
sqs_eu = client("sqs", *ADMIN, region="eu-west-1")
sqs_us = client("sqs", *ADMIN)
eu_url = sqs_eu.create_queue(QueueName="regional", Attributes={"VisibilityTimeout": "7"})["QueueUrl"]
us_url = sqs_us.create_queue(QueueName="regional", Attributes={"VisibilityTimeout": "9"})["QueueUrl"]
for c, url, region, timeout in ((sqs_eu, eu_url, "eu-west-1", "7"), (sqs_us, us_url, "us-east-1", "9")):
    attrs = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    check(attrs["QueueArn"] == f"arn:aws:sqs:{region}:000000000000:regional", (region, attrs["QueueArn"]))
    check(attrs["VisibilityTimeout"] == timeout, (region, attrs))
    listed = c.list_queues(QueueNamePrefix="regional").get("QueueUrls", [])
    check(listed == [url], (region, listed))
sqs_eu.send_message(QueueUrl=eu_url, MessageBody="in eu-west-1")
got_us = sqs_us.receive_message(QueueUrl=us_url, WaitTimeSeconds=0).get("Messages", [])
check(got_us == [], ("us-east-1 sees eu-west-1's message", got_us))
got_eu = sqs_eu.receive_message(QueueUrl=eu_url, WaitTimeSeconds=0).get("Messages", [])
check([m["Body"] for m in got_eu] == ["in eu-west-1"], got_eu)
# A queue ARN names its region whatever the client's.
arn_attrs = sqs_us.get_queue_attributes(
    QueueUrl="arn:aws:sqs:eu-west-1:000000000000:regional", AttributeNames=["VisibilityTimeout"]
)["Attributes"]
check(arn_attrs["VisibilityTimeout"] == "7", arn_attrs)
try:
    client("sqs", *ADMIN, region="ap-southeast-2").get_queue_url(QueueName="regional")
    check(False, "ap-southeast-2 found another region's queue")
except ClientError as e:
    check(e.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue", e.response["Error"])
sqs_eu.delete_queue(QueueUrl=eu_url)
check(sqs_us.get_queue_url(QueueName="regional")["QueueUrl"] == us_url, "us-east-1 queue kept")
sqs_us.delete_queue(QueueUrl=us_url)

# Topics too: a topic's ARN names its region, each region lists its own,
# and a topic of eu-west-1 delivers to a queue of eu-west-1.
sns_eu = client("sns", *ADMIN, region="eu-west-1")
sns_us = client("sns", *ADMIN)
topic_eu = sns_eu.create_topic(Name="regional")["TopicArn"]
topic_us = sns_us.create_topic(Name="regional")["TopicArn"]
check(topic_eu == "arn:aws:sns:eu-west-1:000000000000:regional", topic_eu)
check(topic_us == "arn:aws:sns:us-east-1:000000000000:regional", topic_us)
for c, arn in ((sns_eu, topic_eu), (sns_us, topic_us)):
    listed = [t["TopicArn"] for t in c.list_topics()["Topics"] if t["TopicArn"].endswith(":regional")]
    check(listed == [arn], listed)
inbox_url = sqs_eu.create_queue(QueueName="regional-inbox")["QueueUrl"]
inbox_arn = sqs_eu.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sub = sns_eu.subscribe(TopicArn=topic_eu, Protocol="sqs", Endpoint=inbox_arn,
                       Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
check(sub.startswith(topic_eu + ":"), sub)
subs_us = [s["SubscriptionArn"] for s in sns_us.list_subscriptions()["Subscriptions"]]
check(sub not in subs_us, ("us-east-1 lists eu-west-1's subscription", subs_us))
sns_eu.publish(TopicArn=topic_eu, Message="to eu-west-1")
got = sqs_eu.receive_message(QueueUrl=inbox_url, WaitTimeSeconds=5).get("Messages", [])
check([m["Body"] for m in got] == ["to eu-west-1"], got)
sns_eu.delete_topic(TopicArn=topic_eu)
check(sns_us.get_topic_attributes(TopicArn=topic_us)["Attributes"]["TopicArn"] == topic_us, "us topic kept")
sns_us.delete_topic(TopicArn=topic_us)
sqs_eu.delete_queue(QueueUrl=inbox_url)

# Buses too: each region has its own default bus and its own buses, rules
# on a bus of eu-west-1 match its events, and events carry their region.
ev_eu = client("events", *ADMIN, region="eu-west-1")
ev_us = client("events", *ADMIN)
check(ev_eu.describe_event_bus()["Arn"] == "arn:aws:events:eu-west-1:000000000000:event-bus/default",
      ev_eu.describe_event_bus())
bus_arn = ev_eu.create_event_bus(Name="regional")["EventBusArn"]
check(bus_arn == "arn:aws:events:eu-west-1:000000000000:event-bus/regional", bus_arn)
try:
    ev_us.describe_event_bus(Name="regional")
    check(False, "us-east-1 found eu-west-1's bus")
except ClientError as e:
    check(e.response["Error"]["Code"] == "ResourceNotFoundException", e.response["Error"])
names_eu = sorted(b["Name"] for b in ev_eu.list_event_buses()["EventBuses"])
check(names_eu == ["default", "regional"], names_eu)
check("regional" not in [b["Name"] for b in ev_us.list_event_buses()["EventBuses"]], "us lists eu bus")
events_inbox = sqs_eu.create_queue(QueueName="regional-events")["QueueUrl"]
events_inbox_arn = sqs_eu.get_queue_attributes(
    QueueUrl=events_inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
rule_arn = ev_eu.put_rule(Name="to-inbox", EventBusName="regional",
                          EventPattern='{"source": ["regional.test"]}')["RuleArn"]
check(rule_arn == "arn:aws:events:eu-west-1:000000000000:rule/regional/to-inbox", rule_arn)
ev_eu.put_targets(Rule="to-inbox", EventBusName="regional",
                  Targets=[{"Id": "inbox", "Arn": events_inbox_arn}])
put = ev_eu.put_events(Entries=[{"Source": "regional.test", "DetailType": "t", "Detail": "{}",
                                 "EventBusName": "regional"}])
check(put["FailedEntryCount"] == 0, put)
got = sqs_eu.receive_message(QueueUrl=events_inbox, WaitTimeSeconds=10).get("Messages", [])
check(len(got) == 1 and json.loads(got[0]["Body"])["region"] == "eu-west-1", got)
# Archives and connections are regional too.
archive = ev_eu.create_archive(ArchiveName="regional-archive", EventSourceArn=bus_arn)
check(archive["ArchiveArn"] == "arn:aws:events:eu-west-1:000000000000:archive/regional-archive", archive)
check([a["ArchiveName"] for a in ev_eu.list_archives()["Archives"]] == ["regional-archive"],
      ev_eu.list_archives())
check("regional-archive" not in [a["ArchiveName"] for a in ev_us.list_archives()["Archives"]], "us archive")
conn = ev_eu.create_connection(Name="regional-conn", AuthorizationType="API_KEY", AuthParameters={
    "ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "secret"}})
check(conn["ConnectionArn"].startswith("arn:aws:events:eu-west-1:000000000000:connection/regional-conn/"), conn)
check(ev_eu.describe_connection(Name="regional-conn")["Name"] == "regional-conn", "eu connection")
try:
    ev_us.describe_connection(Name="regional-conn")
    check(False, "us-east-1 found eu-west-1's connection")
except ClientError as e:
    check(e.response["Error"]["Code"] == "ResourceNotFoundException", e.response["Error"])
ev_eu.delete_connection(Name="regional-conn")
ev_eu.delete_archive(ArchiveName="regional-archive")
ev_eu.remove_targets(Rule="to-inbox", EventBusName="regional", Ids=["inbox"])
ev_eu.delete_rule(Name="to-inbox", EventBusName="regional")
ev_eu.delete_event_bus(Name="regional")
sqs_eu.delete_queue(QueueUrl=events_inbox)

# The Invoke API with the admin key runs the function.
answer = client("lambda", *ADMIN).invoke(FunctionName="tb", Payload=b'"/version"')
check(answer["Payload"].read() == b"testbed v1", "invoke answer")

print(f"checks ok {checks}")
