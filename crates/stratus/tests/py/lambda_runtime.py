"""Drives Lambda functions running on Stratus's process runtime with the real
boto3 `lambda` client: synchronous and Event invocations, function errors.

Run by the Rust tests in `lambda_runtime.rs` against a server they started;
STRATUS_ENDPOINT is the control API's URL. `--others` checks the Node.js and
`provided` functions instead of the Python ones. Exits non-zero on the first
failed check.
"""
import json
import os
import sys
import time

import boto3
from botocore.config import Config

client = boto3.client(
    "lambda",
    endpoint_url=os.environ["STRATUS_ENDPOINT"],
    region_name="us-east-1",
    # The admin key from the environment (the test passes Server::aws_env).
    config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
)
checks = 0


def check(condition, detail):
    global checks
    if not condition:
        print(f"check {checks + 1} failed: {detail!r}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def sync(name, event):
    r = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    check(r["StatusCode"] == 200, r)
    return r, json.loads(r["Payload"].read())


def event_runs(name, marker):
    """An Event invocation answers 202 at once and runs soon after."""
    r = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(marker).encode())
    check(r["StatusCode"] == 202, r)
    request_id = r["ResponseMetadata"]["RequestId"]
    check(len(request_id) > 0, r)
    # The Rust side checks that each of these ran.
    print(f"event {name} {request_id}")
    return request_id


if "--others" in sys.argv:
    r, body = sync("node", {"from": "boto3"})
    check(body == {"from": "boto3"}, body)
    r, body = sync("shell", {"from": "boto3"})
    check(body["shell"] is True and body["event"] == {"from": "boto3"}, body)
    r, body = sync("rust", {"from": "boto3"})
    check(body["rust"] is True and body["event"] == {"from": "boto3"}, body)
    for name in ["node", "shell", "rust"]:
        check(event_runs(name, {"async": name}), name)
else:
    r, body = sync("echo", {"from": "boto3"})
    check(body == {"from": "boto3"}, body)
    check("FunctionError" not in r, r)
    r, body = sync("counter", {})
    check(body["count"] >= 1, body)
    check(event_runs("echo", {"async": True}), "event")

print(f"{checks} checks ok")
