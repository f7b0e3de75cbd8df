"""boto3 `events` against Stratus: every API, its error shapes, and routing.

Environment: AWS_* (endpoint, keys, region). A wasm function `tb` is
deployed. Prints `tb-event EVENT_ID` for the event the Rust test looks for
in tb's logs, and `checks ok` at the end.

Covers, besides buses, rules, targets and PutEvents: FIFO queue targets
with SqsParameters, rules with a ScheduleExpression firing (and stopping
when disabled or deleted), archives and replays, connections and API
destinations delivering to an HTTP endpoint served here on 127.0.0.1
(its first answer is a 500, so a delivery must be retried), permissions,
tags and ListRuleNamesByTarget.
"""

import base64
import datetime
import http.server
import json
import threading
import time

import boto3
import botocore.exceptions

events = boto3.client("events")
sqs = boto3.client("sqs")

ACCOUNT = "000000000000"
PREFIX = f"arn:aws:events:us-east-1:{ACCOUNT}"


def error_of(call, **kwargs):
    """Runs a call that must fail; returns (code, message, HTTP status)."""
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        return err["Code"], err.get("Message", ""), e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call.__name__} did not fail")


# Buses: default always exists; custom buses; their errors.
default = events.describe_event_bus()
assert default["Name"] == "default" and default["Arn"] == f"{PREFIX}:event-bus/default", default
assert isinstance(default["CreationTime"], datetime.datetime), default
assert default["CreationTime"] <= default["LastModifiedTime"], default
assert events.describe_event_bus(Name="default")["CreationTime"] == default["CreationTime"]
code, msg, status = error_of(events.create_event_bus, Name="team/bus")
assert (code, msg, status) == ("ValidationException", "Event bus name must not contain '/'.", 400), (code, msg)
arn = events.create_event_bus(Name="shop", Description="the shop")["EventBusArn"]
assert arn == f"{PREFIX}:event-bus/shop", arn
code, msg, status = error_of(events.create_event_bus, Name="shop")
assert (code, status) == ("ResourceAlreadyExistsException", 400), (code, msg, status)
code, _, _ = error_of(events.create_event_bus, Name="default")
assert code == "ResourceAlreadyExistsException", code
code, _, _ = error_of(events.create_event_bus, Name="bad name!")
assert code == "ValidationException", code
got = events.describe_event_bus(Name="shop")
assert got["Name"] == "shop" and got["Description"] == "the shop", got
assert isinstance(got["CreationTime"], datetime.datetime), got
listed = {b["Name"]: b for b in events.list_event_buses()["EventBuses"]}
assert listed["shop"]["CreationTime"] == got["CreationTime"], listed
assert listed["default"]["CreationTime"] == default["CreationTime"], listed
assert events.describe_event_bus(Name=arn)["Name"] == "shop"
code, msg, _ = error_of(events.describe_event_bus, Name="nope")
assert code == "ResourceNotFoundException" and "nope" in msg, (code, msg)
names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
assert "default" in names and "shop" in names, names
assert [b["Name"] for b in events.list_event_buses(NamePrefix="sh")["EventBuses"]] == ["shop"]
code, msg, _ = error_of(events.delete_event_bus, Name="default")
assert code == "ValidationException", (code, msg)
events.create_event_bus(Name="doomed")
events.delete_event_bus(Name="doomed")
code, _, _ = error_of(events.describe_event_bus, Name="doomed")
assert code == "ResourceNotFoundException", code

# Rules: patterns are validated with a precise message.
code, msg, status = error_of(
    events.put_rule,
    Name="bad",
    EventBusName="shop",
    EventPattern=json.dumps({"detail": {"price": [{"numeric": [">", 0, "<"]}]}}),
)
assert (code, status) == ("InvalidEventPatternException", 400), (code, msg)
assert "pattern.detail.price: numeric expects pairs of operator and number" in msg, msg
code, msg, _ = error_of(events.put_rule, Name="bad", EventPattern="{not json")
assert code == "InvalidEventPatternException" and "not valid JSON" in msg, (code, msg)
code, msg, _ = error_of(events.put_rule, Name="empty")
assert code == "ValidationException" and "EventPattern or ScheduleExpression" in msg, (code, msg)
code, msg, _ = error_of(events.put_rule, Name="r", EventBusName="nope", EventPattern='{"source": ["x"]}')
assert code == "ResourceNotFoundException", (code, msg)
code, _, _ = error_of(events.put_rule, Name="r", EventPattern='{"source": ["x"]}', State="SOMETIMES")
assert code == "ValidationException", code
code, msg, _ = error_of(events.put_rule, Name="sched", ScheduleExpression="rate(five minutes)")
assert (code, msg) == ("ValidationException", "Parameter ScheduleExpression is not valid."), (code, msg)

orders_pattern = {
    "source": ["com.shop"],
    "detail-type": ["Order Placed"],
    "detail": {"amount": [{"numeric": [">", 10]}], "$or": [{"vip": [True]}, {"country": [{"prefix": "D"}]}]},
}
rule_arn = events.put_rule(
    Name="orders", EventBusName="shop", EventPattern=json.dumps(orders_pattern), Description="big orders"
)["RuleArn"]
assert rule_arn == f"{PREFIX}:rule/shop/orders", rule_arn
events.put_rule(Name="to-tb", EventBusName="shop", EventPattern=json.dumps({"detail-type": [{"prefix": "Wasm"}]}))
events.put_rule(Name="tick", ScheduleExpression="rate(5 minutes)")
got = events.describe_rule(Name="orders", EventBusName="shop")
assert got["Arn"] == rule_arn and got["State"] == "ENABLED" and got["Description"] == "big orders", got
assert json.loads(got["EventPattern"]) == orders_pattern, got
assert got["EventBusName"] == "shop", got
tick = events.describe_rule(Name="tick")
assert tick["ScheduleExpression"] == "rate(5 minutes)" and tick["Arn"] == f"{PREFIX}:rule/tick", tick
code, _, _ = error_of(events.describe_rule, Name="nope", EventBusName="shop")
assert code == "ResourceNotFoundException", code
names = [r["Name"] for r in events.list_rules(EventBusName="shop")["Rules"]]
assert names == ["orders", "to-tb"], names
assert [r["Name"] for r in events.list_rules(EventBusName="shop", NamePrefix="to")["Rules"]] == ["to-tb"]
page = events.list_rules(EventBusName="shop", Limit=1)
assert len(page["Rules"]) == 1 and "NextToken" in page, page
rest = events.list_rules(EventBusName="shop", Limit=1, NextToken=page["NextToken"])
assert [r["Name"] for r in rest["Rules"]] == ["to-tb"], rest
assert [r["Name"] for r in events.list_rules()["Rules"]] == ["tick"]
code, _, _ = error_of(events.list_rules, EventBusName="nope")
assert code == "ResourceNotFoundException", code
code, _, _ = error_of(events.enable_rule, Name="nope", EventBusName="shop")
assert code == "ResourceNotFoundException", code

# Targets: a queue with an input transformer, the wasm function.
queue_url = sqs.create_queue(QueueName="eb-out")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
transformer = {
    "InputPathsMap": {"amount": "$.detail.amount", "id": "$.detail.order-id", "src": "$.source"},
    "InputTemplate": '{"order": <id>, "amount": <amount>, "text": "order <id> from <src>", "rule": "<aws.events.rule-name>"}',
}
# A target ARN AWS cannot use fails the whole request, as AWS answers.
for bad in ["not-an-arn", f"arn:aws:glue:us-east-1:{ACCOUNT}:job/j"]:
    code, msg, status = error_of(
        events.put_targets,
        Rule="orders",
        EventBusName="shop",
        Targets=[{"Id": "queue", "Arn": queue_arn}, {"Id": "bad-arn", "Arn": bad}],
    )
    assert (code, status) == ("ValidationException", 400), (code, msg)
    assert msg == f"Parameter {bad} is not valid. Reason: Provided Arn is not in correct format.", msg
assert events.list_targets_by_rule(Rule="orders", EventBusName="shop")["Targets"] == []
out = events.put_targets(
    Rule="orders",
    EventBusName="shop",
    Targets=[{"Id": "queue", "Arn": queue_arn, "InputTransformer": transformer}],
)
assert out["FailedEntryCount"] == 0, out
tb_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:tb"
assert events.put_targets(Rule="to-tb", EventBusName="shop", Targets=[{"Id": "tb", "Arn": tb_arn}])["FailedEntryCount"] == 0
code, msg, _ = error_of(
    events.put_targets,
    Rule="orders",
    EventBusName="shop",
    Targets=[{"Id": "t2", "Arn": queue_arn, "InputTransformer": {"InputPathsMap": {"aws.x": "$.id"}, "InputTemplate": "<aws.x>"}}],
)
assert code == "ValidationException" and "reserved" in msg, (code, msg)
code, _, _ = error_of(events.put_targets, Rule="nope", EventBusName="shop", Targets=[{"Id": "q", "Arn": queue_arn}])
assert code == "ResourceNotFoundException", code
targets = events.list_targets_by_rule(Rule="orders", EventBusName="shop")["Targets"]
assert [t["Id"] for t in targets] == ["queue"], targets
assert targets[0]["Arn"] == queue_arn and targets[0]["InputTransformer"] == transformer, targets
code, _, _ = error_of(events.list_targets_by_rule, Rule="nope", EventBusName="shop")
assert code == "ResourceNotFoundException", code
code, msg, _ = error_of(events.delete_rule, Name="orders", EventBusName="shop")
assert code == "ValidationException" and "targets" in msg, (code, msg)

# PutEvents: per-entry errors, request-wide limits.
def entry(detail, detail_type="Order Placed", bus="shop", source="com.shop"):
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}


out = events.put_events(
    Entries=[
        entry({"order-id": "o-1", "amount": 25, "vip": True}),
        entry({"order-id": "o-2", "amount": 5, "vip": True}),
        entry({"order-id": "o-3", "amount": 30, "country": "FR"}),
        {"Source": "com.shop", "DetailType": "Order Placed", "Detail": "[1, 2]", "EventBusName": "shop"},
        {"Source": "com.shop", "DetailType": "Order Placed", "Detail": "{}", "EventBusName": "nope"},
        {"DetailType": "Order Placed", "Detail": "{}", "EventBusName": "shop"},
        entry({"order-id": "o-4", "amount": 40, "country": "DE"}, bus=f"{PREFIX}:event-bus/shop"),
    ]
)
assert out["FailedEntryCount"] == 3, out
results = out["Entries"]
assert all("EventId" in results[i] for i in (0, 1, 2, 6)), results
assert results[3] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}, results[3]
assert results[4]["ErrorCode"] == "ResourceNotFoundException" and "nope" in results[4]["ErrorMessage"], results[4]
assert results[5]["ErrorCode"] == "InvalidArgument" and "Source" in results[5]["ErrorMessage"], results[5]
code, msg, _ = error_of(events.put_events, Entries=[entry({"n": i}) for i in range(11)])
assert code == "ValidationException", code
first = (
    "PutEventsRequestEntry(time=null, source=com.shop, resources=null, detailType=Order Placed, "
    'detail={"n": 0}, eventBusName=shop, traceHeader=null, kmsKeyIdentifier=null, internalMetadata=null)'
)
assert msg.startswith(f"1 validation error detected: Value '[{first}, PutEventsRequestEntry("), msg
assert msg.endswith(
    "internalMetadata=null)]' at 'entries' failed to satisfy constraint: "
    "Member must have length less than or equal to 10"
), msg
assert msg.count("PutEventsRequestEntry(") == 11, msg
code, msg, _ = error_of(events.put_events, Entries=[entry({"big": "x" * (256 * 1024)})])
assert (code, msg) == ("ValidationException", "Total size of the entries in the request is over the limit."), msg


def receive(expected, timeout=20):
    got = []
    deadline = time.time() + timeout
    while len(got) < expected and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            got.append(m["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return got


bodies = sorted(receive(2), key=lambda b: json.loads(b)["order"])
assert [json.loads(b) for b in bodies] == [
    {"order": "o-1", "amount": 25, "text": "order o-1 from com.shop", "rule": "orders"},
    {"order": "o-4", "amount": 40, "text": "order o-4 from com.shop", "rule": "orders"},
], bodies

# A disabled rule delivers nothing; enabled again, it does.
events.disable_rule(Name="orders", EventBusName="shop")
assert events.describe_rule(Name="orders", EventBusName="shop")["State"] == "DISABLED"
events.put_events(Entries=[entry({"order-id": "o-5", "amount": 50, "vip": True})])
assert receive(1, timeout=1.5) == [], "a disabled rule delivered"
events.enable_rule(Name="orders", EventBusName="shop")
events.put_events(Entries=[entry({"order-id": "o-6", "amount": 60, "vip": True})])
assert [json.loads(b)["order"] for b in receive(1)] == ["o-6"]

# The wasm function gets the event (asynchronously).
wasm_entry = dict(entry({"hello": "wasm"}, detail_type="Wasm Hello"), Time=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
out = events.put_events(Entries=[wasm_entry])
assert out["FailedEntryCount"] == 0, out
print("tb-event", out["Entries"][0]["EventId"], flush=True)

# Bus to bus: shop -> relay -> (shop again: cut) and a queue; once only.
events.create_event_bus(Name="relay")
events.put_rule(Name="fwd", EventBusName="shop", EventPattern='{"detail-type": ["Relay Me"]}')
events.put_targets(Rule="fwd", EventBusName="shop", Targets=[{"Id": "relay", "Arn": f"{PREFIX}:event-bus/relay"}])
events.put_rule(Name="back", EventBusName="relay", EventPattern='{"source": ["com.shop"]}')
events.put_targets(
    Rule="back",
    EventBusName="relay",
    Targets=[{"Id": "shop", "Arn": f"{PREFIX}:event-bus/shop"}, {"Id": "q", "Arn": queue_arn, "InputPath": "$.detail"}],
)
out = events.put_events(Entries=[entry({"hop": 1}, detail_type="Relay Me")])
assert out["FailedEntryCount"] == 0, out
assert [json.loads(b) for b in receive(1)] == [{"hop": 1}]
assert receive(1, timeout=1) == [], "the loop back to shop was not cut"
events.delete_rule(Name="fwd", EventBusName="shop", Force=True)
events.delete_event_bus(Name="relay")
code, _, _ = error_of(events.describe_rule, Name="back", EventBusName="relay")
assert code == "ResourceNotFoundException", code

# TestEventPattern.
sample = {
    "id": "1", "account": ACCOUNT, "source": "com.shop", "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1", "resources": [], "detail-type": "Order Placed", "detail": {"amount": 11, "vip": True},
}
assert events.test_event_pattern(EventPattern=json.dumps(orders_pattern), Event=json.dumps(sample))["Result"] is True
sample["detail"]["amount"] = 10
assert events.test_event_pattern(EventPattern=json.dumps(orders_pattern), Event=json.dumps(sample))["Result"] is False
code, msg, _ = error_of(events.test_event_pattern, EventPattern='{"a": [{"wildcard": "x**"}]}', Event=json.dumps(sample))
assert code == "InvalidEventPatternException" and "consecutive wildcard" in msg, (code, msg)
code, _, _ = error_of(events.test_event_pattern, EventPattern='{"a": ["x"]}', Event="[]")
assert code == "ValidationException", code

def drain(url, timeout):
    """Receives (and deletes) every message arriving within `timeout` seconds."""
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        )
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def receive_n(url, n, timeout=30):
    """Receives (and deletes) messages until `n` arrived."""
    got = []
    deadline = time.time() + timeout
    while len(got) < n and time.time() < deadline:
        r = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        )
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(got) >= n, (n, got)
    return got


def queue(name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


# FIFO queue targets: SqsParameters.MessageGroupId is the group, the event's id the dedup id.
fifo_url, fifo_arn = queue("eb-fifo.fifo", FifoQueue="true")
events.put_rule(Name="fifo", EventBusName="shop", EventPattern='{"detail-type": ["Fifo Me"]}')
code, msg, _ = error_of(events.put_targets, Rule="fifo", EventBusName="shop", Targets=[{"Id": "fifo", "Arn": fifo_arn}])
assert (code, msg) == ("ValidationException", "Parameter(s) SqsParameters must be specified for target: fifo."), msg
out = events.put_targets(
    Rule="fifo",
    EventBusName="shop",
    Targets=[{"Id": "fifo", "Arn": fifo_arn, "SqsParameters": {"MessageGroupId": "orders-group"}}],
)
assert out["FailedEntryCount"] == 0, out
listed = events.list_targets_by_rule(Rule="fifo", EventBusName="shop")["Targets"]
assert listed == [{"Id": "fifo", "Arn": fifo_arn, "SqsParameters": {"MessageGroupId": "orders-group"}}], listed
assert events.list_rule_names_by_target(TargetArn=fifo_arn, EventBusName="shop")["RuleNames"] == ["fifo"]
assert events.list_rule_names_by_target(TargetArn=fifo_arn)["RuleNames"] == []
ids = [r["EventId"] for r in events.put_events(Entries=[entry({"n": i}, detail_type="Fifo Me") for i in range(2)])["Entries"]]
got = receive_n(fifo_url, 2)
assert [json.loads(m["Body"])["id"] for m in got] == ids, (ids, got)
for m, event_id in zip(got, ids):
    assert m["Attributes"]["MessageGroupId"] == "orders-group", m
    assert m["Attributes"]["MessageDeduplicationId"] == event_id, m
events.delete_rule(Name="fifo", EventBusName="shop", Force=True)

# Rules with a ScheduleExpression fire, to every target, with the
# scheduled-event envelope; disabled or deleted, they stop.
ticks_url, ticks_arn = queue("eb-ticks")
raw_url, raw_arn = queue("eb-ticks-raw")
tick_arn = events.put_rule(Name="every-second", ScheduleExpression="rate(1 second)")["RuleArn"]
assert tick_arn == f"{PREFIX}:rule/every-second", tick_arn
events.put_targets(
    Rule="every-second",
    Targets=[
        {
            "Id": "shaped",
            "Arn": ticks_arn,
            "InputTransformer": {
                "InputPathsMap": {"t": "$.time", "r": "$.resources[0]"},
                "InputTemplate": '{"tick": <t>, "rule": <r>, "name": "<aws.events.rule-name>"}',
            },
        },
        {"Id": "raw", "Arn": raw_arn},
    ],
)
raw = [json.loads(m["Body"]) for m in receive_n(raw_url, 2)]
for e in raw:
    assert e["detail-type"] == "Scheduled Event" and e["source"] == "aws.events", e
    assert e["resources"] == [tick_arn] and e["detail"] == {} and e["account"] == ACCOUNT, e
times = sorted(datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in raw)
assert len(set(times)) == len(times), raw
shaped = [json.loads(m["Body"]) for m in receive_n(ticks_url, 2)]
assert all(s["rule"] == tick_arn and s["name"] == "every-second" for s in shaped), shaped
events.disable_rule(Name="every-second")
drain(raw_url, 1.5)
assert drain(raw_url, 2.5) == [], "a disabled scheduled rule fired"
events.enable_rule(Name="every-second")
receive_n(raw_url, 1)
events.delete_rule(Name="every-second", Force=True)
drain(raw_url, 1.5)
assert drain(raw_url, 2.5) == [], "a deleted scheduled rule fired"
drain(ticks_url, 0.5)

# Archives keep the matching events of their bus; a replay re-delivers them,
# marked with replay-name, to the rules it names.
archive_arn = events.create_archive(
    ArchiveName="shop-archive",
    EventSourceArn=f"{PREFIX}:event-bus/shop",
    Description="archive me",
    EventPattern=json.dumps({"detail-type": ["Archive Me"]}),
    RetentionDays=1,
)["ArchiveArn"]
assert archive_arn == f"{PREFIX}:archive/shop-archive", archive_arn
code, msg, _ = error_of(events.create_archive, ArchiveName="shop-archive", EventSourceArn=f"{PREFIX}:event-bus/shop")
assert (code, msg) == ("ResourceAlreadyExistsException", "Archive shop-archive already exists."), (code, msg)
replay_url, replay_queue_arn = queue("eb-replay")
archived_rule = events.put_rule(
    Name="archived", EventBusName="shop", EventPattern='{"detail-type": ["Archive Me"]}'
)["RuleArn"]
events.put_rule(Name="not-replayed", EventBusName="shop", EventPattern='{"detail-type": ["Archive Me"]}')
events.put_targets(Rule="archived", EventBusName="shop", Targets=[{"Id": "q", "Arn": replay_queue_arn}])
events.put_targets(Rule="not-replayed", EventBusName="shop", Targets=[{"Id": "q", "Arn": replay_queue_arn, "InputPath": "$.detail"}])
start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
originals = [
    r["EventId"]
    for r in events.put_events(
        Entries=[entry({"n": i}, detail_type="Archive Me") for i in range(3)] + [entry({"n": 9}, detail_type="Not Archived")]
    )["Entries"][:3]
]
assert len(receive_n(replay_url, 6)) == 6  # each event to both rules
described = events.describe_archive(ArchiveName="shop-archive")
assert described["EventCount"] == 3 and described["SizeBytes"] > 0 and described["State"] == "ENABLED", described
assert described["EventSourceArn"] == f"{PREFIX}:event-bus/shop" and described["RetentionDays"] == 1, described
assert [a["ArchiveName"] for a in events.list_archives(EventSourceArn=f"{PREFIX}:event-bus/shop")["Archives"]] == ["shop-archive"]
end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
started = events.start_replay(
    ReplayName="again",
    EventSourceArn=archive_arn,
    EventStartTime=start,
    EventEndTime=end,
    Destination={"Arn": f"{PREFIX}:event-bus/shop", "FilterArns": [archived_rule]},
)
assert started["State"] == "STARTING" and started["ReplayArn"] == f"{PREFIX}:replay/again", started
deadline = time.time() + 30
while events.describe_replay(ReplayName="again")["State"] != "COMPLETED":
    assert time.time() < deadline, events.describe_replay(ReplayName="again")
    time.sleep(0.2)
replay = events.describe_replay(ReplayName="again")
assert replay["Destination"] == {"Arn": f"{PREFIX}:event-bus/shop", "FilterArns": [archived_rule]}, replay
assert "ReplayEndTime" in replay and "EventLastReplayedTime" in replay, replay
replayed = [json.loads(m["Body"]) for m in receive_n(replay_url, 3)]
assert sorted(e["id"] for e in replayed) == sorted(originals), (replayed, originals)
assert all(e["replay-name"] == "again" for e in replayed), replayed
assert drain(replay_url, 1) == [], "a replay went to a rule it did not name"
assert events.describe_archive(ArchiveName="shop-archive")["EventCount"] == 3, "replayed events were archived again"
assert [r["ReplayName"] for r in events.list_replays(NamePrefix="ag")["Replays"]] == ["again"]
code, msg, _ = error_of(events.cancel_replay, ReplayName="again")
assert (code, msg) == ("IllegalStatusException", "Replay again is not in a valid state for this operation."), (code, msg)
code, msg, _ = error_of(
    events.start_replay,
    ReplayName="again",
    EventSourceArn=archive_arn,
    EventStartTime=start,
    EventEndTime=end,
    Destination={"Arn": f"{PREFIX}:event-bus/shop"},
)
assert (code, msg) == ("ResourceAlreadyExistsException", "Replay again already exists."), (code, msg)
events.update_archive(ArchiveName="shop-archive", RetentionDays=3)
assert events.describe_archive(ArchiveName="shop-archive")["RetentionDays"] == 3
events.delete_archive(ArchiveName="shop-archive")
code, msg, _ = error_of(events.describe_archive, ArchiveName="shop-archive")
assert (code, msg) == ("ResourceNotFoundException", "Archive shop-archive does not exist."), (code, msg)
events.delete_rule(Name="archived", EventBusName="shop", Force=True)
events.delete_rule(Name="not-replayed", EventBusName="shop", Force=True)


# Connections and API destinations, delivering to an endpoint served here.
class Endpoint(http.server.BaseHTTPRequestHandler):
    received = []
    lock = threading.Lock()

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        with Endpoint.lock:
            first = not Endpoint.received
            Endpoint.received.append(
                {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            )
        self.send_response(500 if first else 200)
        self.send_header("content-length", "0")
        self.end_headers()

    do_PUT = do_POST = do_GET = answer

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
threading.Thread(target=server.serve_forever, daemon=True).start()
endpoint = f"http://127.0.0.1:{server.server_address[1]}"

key = events.create_connection(
    Name="hook-key",
    AuthorizationType="API_KEY",
    AuthParameters={
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
        "InvocationHttpParameters": {
            "HeaderParameters": [{"Key": "x-conn", "Value": "c1", "IsValueSecret": False}],
            "QueryStringParameters": [{"Key": "conn", "Value": "yes", "IsValueSecret": False}],
        },
    },
)
assert key["ConnectionState"] == "AUTHORIZED" and key["ConnectionArn"].startswith(f"{PREFIX}:connection/hook-key/"), key
basic = events.create_connection(
    Name="hook-basic", AuthorizationType="BASIC", AuthParameters={"BasicAuthParameters": {"Username": "user", "Password": "pass"}}
)
oauth = events.create_connection(
    Name="hook-oauth",
    AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
    AuthParameters={
        "OAuthParameters": {
            "AuthorizationEndpoint": f"{endpoint}/token",
            "HttpMethod": "POST",
            "ClientParameters": {"ClientID": "id", "ClientSecret": "secret"},
        }
    },
)
assert oauth["ConnectionState"] == "AUTHORIZING", oauth
described = events.describe_connection(Name="hook-key")
assert described["AuthorizationType"] == "API_KEY" and described["Name"] == "hook-key", described
assert described["AuthParameters"]["ApiKeyAuthParameters"] == {"ApiKeyName": "x-api-key"}, described
assert "s3cret" not in json.dumps(described, default=str) and described["SecretArn"].startswith("arn:aws:secretsmanager:"), described
basic_described = events.describe_connection(Name="hook-basic")
assert basic_described["AuthParameters"] == {"BasicAuthParameters": {"Username": "user"}}, basic_described
assert [c["Name"] for c in events.list_connections(NamePrefix="hook-")["Connections"]] == ["hook-basic", "hook-key", "hook-oauth"]
code, msg, _ = error_of(events.create_connection, Name="hook-key", AuthorizationType="BASIC",
                        AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}})
assert (code, msg) == ("ResourceAlreadyExistsException", "Connection hook-key already exists."), (code, msg)

orders_dest = events.create_api_destination(
    Name="orders-hook",
    ConnectionArn=key["ConnectionArn"],
    InvocationEndpoint=f"{endpoint}/orders/*",
    HttpMethod="PUT",
    InvocationRateLimitPerSecond=10,
)
assert orders_dest["ApiDestinationState"] == "ACTIVE", orders_dest
assert orders_dest["ApiDestinationArn"].startswith(f"{PREFIX}:api-destination/orders-hook/"), orders_dest
basic_dest = events.create_api_destination(
    Name="basic-hook", ConnectionArn=basic["ConnectionArn"], InvocationEndpoint=f"{endpoint}/basic", HttpMethod="POST"
)
oauth_dest = events.create_api_destination(
    Name="oauth-hook", ConnectionArn=oauth["ConnectionArn"], InvocationEndpoint=f"{endpoint}/oauth", HttpMethod="POST"
)
assert oauth_dest["ApiDestinationState"] == "INACTIVE", oauth_dest
got = events.describe_api_destination(Name="orders-hook")
assert got["HttpMethod"] == "PUT" and got["InvocationRateLimitPerSecond"] == 10, got
assert got["ConnectionArn"] == key["ConnectionArn"] and got["InvocationEndpoint"] == f"{endpoint}/orders/*", got
listed = events.list_api_destinations(ConnectionArn=basic["ConnectionArn"])["ApiDestinations"]
assert [d["Name"] for d in listed] == ["basic-hook"] and listed[0]["InvocationRateLimitPerSecond"] == 300, listed
code, msg, _ = error_of(
    events.create_api_destination,
    Name="orders-hook",
    ConnectionArn=key["ConnectionArn"],
    InvocationEndpoint=endpoint,
    HttpMethod="POST",
)
assert (code, msg) == ("ResourceAlreadyExistsException", "An api-destination 'orders-hook' already exists."), (code, msg)

events.put_rule(Name="to-hook", EventBusName="shop", EventPattern='{"detail-type": ["Hook Me"]}')
events.put_targets(
    Rule="to-hook",
    EventBusName="shop",
    Targets=[
        {
            "Id": "orders",
            "Arn": orders_dest["ApiDestinationArn"],
            "InputTransformer": {
                "InputPathsMap": {"id": "$.detail.order-id"},
                "InputTemplate": '{"order": <id>, "rule": "<aws.events.rule-name>"}',
            },
            "HttpParameters": {
                "PathParameterValues": ["o-9"],
                "QueryStringParameters": {"q": "a b"},
                "HeaderParameters": {"x-target": "t1"},
            },
        },
        {"Id": "basic", "Arn": basic_dest["ApiDestinationArn"]},
    ],
)
hook_id = events.put_events(Entries=[entry({"order-id": "o-9"}, detail_type="Hook Me")])["Entries"][0]["EventId"]
deadline = time.time() + 30
while len(Endpoint.received) < 3:
    assert time.time() < deadline, Endpoint.received
    time.sleep(0.1)
time.sleep(0.5)
received = list(Endpoint.received)
assert len(received) == 3, received
puts = [r for r in received if r["method"] == "PUT"]
posts = [r for r in received if r["method"] == "POST"]
assert len(puts) + len(posts) == 3 and puts and posts, received
# The first answer was a 500: that delivery came again, the same.
retried = puts if len(puts) == 2 else posts
assert retried[0] == retried[1], retried
put = puts[0]
assert put["path"] == "/orders/o-9?conn=yes&q=a%20b", put
assert json.loads(put["body"]) == {"order": "o-9", "rule": "to-hook"}, put
h = put["headers"]
assert h["x-api-key"] == "s3cret" and h["x-conn"] == "c1" and h["x-target"] == "t1", h
assert h["content-type"] == "application/json; charset=utf-8", h
assert h["user-agent"] == "Amazon/EventBridge/ApiDestinations", h
post = posts[0]
assert post["path"] == "/basic", post
assert post["headers"]["authorization"] == "Basic " + base64.b64encode(b"user:pass").decode(), post
event = json.loads(post["body"])
assert event["id"] == hook_id and event["detail"] == {"order-id": "o-9"}, event
events.delete_rule(Name="to-hook", EventBusName="shop", Force=True)
events.delete_api_destination(Name="orders-hook")
code, msg, _ = error_of(events.describe_api_destination, Name="orders-hook")
assert (code, msg) == (
    "ResourceNotFoundException",
    "Failed to describe the api-destination(s). An api-destination 'orders-hook' does not exist.",
), (code, msg)
deleted = events.delete_connection(Name="hook-key")
assert deleted["ConnectionState"] == "DELETING" and deleted["ConnectionArn"] == key["ConnectionArn"], deleted
code, msg, _ = error_of(events.describe_connection, Name="hook-key")
assert (code, msg) == (
    "ResourceNotFoundException",
    "Failed to describe the connection(s). Connection 'hook-key' does not exist.",
), (code, msg)
server.shutdown()

# Permissions (the bus's Policy) and tags.
events.put_permission(EventBusName="shop", Action="events:PutEvents", Principal="111111111111", StatementId="s1")
events.put_permission(EventBusName="shop", Action="events:PutEvents", Principal="*", StatementId="s2")
policy = json.loads(events.describe_event_bus(Name="shop")["Policy"])
assert policy["Version"] == "2012-10-17", policy
assert [s["Sid"] for s in policy["Statement"]] == ["s1", "s2"], policy
assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}, policy
assert policy["Statement"][1]["Principal"] == "*" and policy["Statement"][1]["Resource"] == f"{PREFIX}:event-bus/shop", policy
code, msg, _ = error_of(events.remove_permission, EventBusName="shop", StatementId="nope")
assert (code, msg) == ("ResourceNotFoundException", "Statement with the provided id does not exist."), (code, msg)
events.remove_permission(EventBusName="shop", StatementId="s1")
assert [s["Sid"] for s in json.loads(events.describe_event_bus(Name="shop")["Policy"])["Statement"]] == ["s2"]
events.remove_permission(EventBusName="shop", RemoveAllPermissions=True)
assert "Policy" not in events.describe_event_bus(Name="shop")
events.tag_resource(ResourceARN=f"{PREFIX}:rule/shop/orders", Tags=[{"Key": "team", "Value": "a"}, {"Key": "tier", "Value": "1"}])
events.untag_resource(ResourceARN=f"{PREFIX}:rule/shop/orders", TagKeys=["tier"])
assert events.list_tags_for_resource(ResourceARN=f"{PREFIX}:rule/shop/orders")["Tags"] == [{"Key": "team", "Value": "a"}]
events.tag_resource(ResourceARN=f"{PREFIX}:event-bus/shop", Tags=[{"Key": "k", "Value": "v"}])
assert events.list_tags_for_resource(ResourceARN=f"{PREFIX}:event-bus/shop")["Tags"] == [{"Key": "k", "Value": "v"}]
code, msg, _ = error_of(events.list_tags_for_resource, ResourceARN=f"{PREFIX}:rule/shop/nope")
assert (code, msg) == ("ResourceNotFoundException", "Rule nope does not exist on EventBus shop."), (code, msg)

# Clean up: remove targets (one unknown id fails), delete rules and the bus.
out = events.remove_targets(Rule="orders", EventBusName="shop", Ids=["queue", "ghost"])
assert out["FailedEntryCount"] == 1 and out["FailedEntries"][0]["TargetId"] == "ghost", out
events.delete_rule(Name="orders", EventBusName="shop")
events.delete_rule(Name="to-tb", EventBusName="shop", Force=True)
code, _, _ = error_of(events.describe_rule, Name="orders", EventBusName="shop")
assert code == "ResourceNotFoundException", code
events.delete_event_bus(Name="shop")
assert "shop" not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]

print("checks ok")
