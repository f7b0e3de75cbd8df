"""Drives Stratus's Lambda Invoke API with the real boto3 `lambda` client.

Run by the Rust test `lambda_api::boto3_invokes_functions` against a server it
started; STRATUS_ENDPOINT is the control API's URL. Exits non-zero on the
first failed check.
"""
import base64
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

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


def error_of(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, None


# A synchronous call, with the log tail.
r = client.invoke(FunctionName="tb", Payload=b'"/version"', LogType="Tail")
check(r["StatusCode"] == 200, r)
check(r["Payload"].read() == b"testbed v1", "payload")
check(r["ExecutedVersion"] == "2", r["ExecutedVersion"])
check("FunctionError" not in r, r)
tail = base64.b64decode(r["LogResult"]).decode()
check("START RequestId" in tail and "REPORT RequestId" in tail, tail)

# Qualifiers: version 1 has COLOR=red, version 2 (current) COLOR=blue.
for name, qualifier, expected, version in [
    ("tb", None, b"blue", "2"),
    ("tb:1", None, b"red", "1"),
    ("tb:$LATEST", None, b"blue", "2"),
    ("tb", "1", b"red", "1"),
    ("arn:aws:lambda:us-east-1:000000000000:function:tb:1", None, b"red", "1"),
    ("000000000000:function:tb", None, b"blue", "2"),
]:
    kwargs = {"FunctionName": name, "Payload": b'"/env/COLOR"'}
    if qualifier:
        kwargs["Qualifier"] = qualifier
    r = client.invoke(**kwargs)
    check(r["Payload"].read() == expected, (name, qualifier))
    check(r["ExecutedVersion"] == version, (name, r["ExecutedVersion"]))

# DryRun checks the function and runs nothing.
r = client.invoke(FunctionName="tb", InvocationType="DryRun")
check(r["StatusCode"] == 204, r["StatusCode"])

# Function errors: status 200, X-Amz-Function-Error, Lambda's error body.
r = client.invoke(FunctionName="tb", Payload=b'"/trap"')
check(r["StatusCode"] == 200 and r.get("FunctionError") == "Unhandled", r)
body = json.loads(r["Payload"].read())
check(body["errorType"] == "Runtime.Trap", body)
r = client.invoke(FunctionName="tb", Payload=b'"/sleep/5000"')
check(r.get("FunctionError") == "Unhandled", r)
body = json.loads(r["Payload"].read())
check("Task timed out after 1.00 seconds" in body["errorMessage"], body)
check(body["errorType"] == "Sandbox.Timedout", body)

# Service errors, in the shapes botocore maps to exceptions.
check(error_of(lambda: client.invoke(FunctionName="ghost")) == ("ResourceNotFoundException", 404), "unknown function")
check(error_of(lambda: client.invoke(FunctionName="tb:9")) == ("ResourceNotFoundException", 404), "unknown version")
check(error_of(lambda: client.invoke(FunctionName="tb", Qualifier="prod")) == ("ResourceNotFoundException", 404), "alias")
check(error_of(lambda: client.invoke(FunctionName="zero")) == ("TooManyRequestsException", 429), "reserved 0")
big = b"x" * (6 * 1024 * 1024 + 1)
check(error_of(lambda: client.invoke(FunctionName="tb", Payload=big)) == ("RequestTooLargeException", 413), "too large")
# Event: queued durably, 202 at once, with the request id the function runs under.
r = client.invoke(FunctionName="tb", InvocationType="Event", Payload=b'"/version"')
check(r["StatusCode"] == 202, r)
check(len(r["ResponseMetadata"]["RequestId"]) == 36, r)
check(r["Payload"].read() == b"", r)
check(error_of(lambda: client.invoke(FunctionName="ghost", InvocationType="Event", Payload=b"{}")) == ("ResourceNotFoundException", 404), "event to unknown function")
async_big = b'"' + b"x" * (1024 * 1024) + b'"'
check(error_of(lambda: client.invoke(FunctionName="tb", InvocationType="Event", Payload=async_big)) == ("RequestTooLargeException", 413), "event too large")
check(error_of(lambda: client.invoke(FunctionName="tb", InvocationType="Sideways", Payload=b"{}")) == ("InvalidParameterValueException", 400), "bad invocation type")

print(f"lambda invoke api: {checks} checks ok")
