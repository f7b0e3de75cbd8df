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

# The Invoke API with the admin key runs the function.
answer = client("lambda", *ADMIN).invoke(FunctionName="tb", Payload=b'"/version"')
check(answer["Payload"].read() == b"testbed v1", "invoke answer")

print(f"checks ok {checks}")
