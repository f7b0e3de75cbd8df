"""The example app's Python function: an AWS Lambda handler, unmodified.

Behind `GET /py/hello/{name}` it receives API Gateway's HTTP API event
(payload format 2.0) and answers in that format. Globals live as long as the
execution environment, as on Lambda: `calls` counts the requests this
instance has served.
"""
import json
import os

calls = 0


def handler(event, context):
    global calls
    calls += 1
    name = (event.get("pathParameters") or {}).get("name", "world")
    greeting = os.environ.get("GREETING", "hello")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "message": f"{greeting} from Python, {name}",
                "requestId": context.aws_request_id,
                "callsOfThisInstance": calls,
            }
        ),
    }


def on_message(event, context):
    """Behind the `greetings` queue: Lambda's SQS event, one record per
    message. Returns no failures, so every message is deleted."""
    for record in event["Records"]:
        print(f"greeting received: {record['body']}")
    return {"batchItemFailures": []}
