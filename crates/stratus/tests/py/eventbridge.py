"""boto3 `events` against Stratus: every API, its error shapes, and routing.

Environment: AWS_* (endpoint, keys, region). A wasm function `tb` is
deployed. Prints `tb-event EVENT_ID` for the event the Rust test looks for
in tb's logs, and `checks ok` at the end.
"""

import datetime
import json
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
code, _, _ = error_of(events.put_rule, Name="sched", ScheduleExpression="rate(five minutes)")
assert code == "ValidationException", code

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
out = events.put_targets(
    Rule="orders",
    EventBusName="shop",
    Targets=[
        {"Id": "queue", "Arn": queue_arn, "InputTransformer": transformer},
        {"Id": "bad-arn", "Arn": "not-an-arn"},
    ],
)
assert out["FailedEntryCount"] == 1 and out["FailedEntries"][0]["TargetId"] == "bad-arn", out
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
assert results[3]["ErrorCode"] == "MalformedDetail", results[3]
assert results[4]["ErrorCode"] == "ResourceNotFoundException" and "nope" in results[4]["ErrorMessage"], results[4]
assert results[5]["ErrorCode"] == "InvalidArgument" and "Source" in results[5]["ErrorMessage"], results[5]
code, _, _ = error_of(events.put_events, Entries=[entry({"n": i}) for i in range(11)])
assert code == "ValidationException", code
code, _, _ = error_of(events.put_events, Entries=[entry({"big": "x" * (256 * 1024)})])
assert code == "ValidationException", code


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
