"""Small boto3 steps for Stratus's event tests, one per command line.

Run by tests/it/queue_trigger.rs and tests/it/events_async.rs with the
server's credentials and endpoint in the environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL). Prints JSON results on stdout and
exits non-zero on failure.

  create-queue NAME [ATTRIBUTES_JSON]
  send NAME COUNT PREFIX             sends PREFIX-0 .. PREFIX-(COUNT-1) in batches of 10
  send-fifo NAME GROUPS PER_GROUP    sends g<G>-<N> to group g<G>, interleaving the groups
  drain NAME COUNT TIMEOUT_S         receives (and deletes) COUNT messages; prints them
  attributes NAME                    prints the queue's attributes
  invoke-event FUNCTION PAYLOAD      Lambda Invoke with InvocationType=Event; prints the request id
  produce ENDPOINT_FILE ACKED_FILE TOTAL QUEUE THREADS
      sends TOTAL messages m-0 .. in batches of 10 from THREADS threads, appending
      each acknowledged body to ACKED_FILE; a failed batch is sent again (after
      re-reading the endpoint from ENDPOINT_FILE) until it is acknowledged
"""
import json
import os
import sys
import threading
import time

import boto3
from botocore.config import Config

CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=30)


def client(service, endpoint=None):
    return boto3.client(
        service,
        endpoint_url=endpoint or os.environ["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        config=CONFIG,
    )


def queue_url(sqs, name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def main(argv):
    command = argv[1]
    if command == "create-queue":
        attributes = json.loads(argv[3]) if len(argv) > 3 else {}
        print(json.dumps(client("sqs").create_queue(QueueName=argv[2], Attributes=attributes)["QueueUrl"]))
    elif command == "send":
        sqs = client("sqs")
        url = queue_url(sqs, argv[2])
        count, prefix = int(argv[3]), argv[4]
        for start in range(0, count, 10):
            entries = [
                {"Id": str(i), "MessageBody": f"{prefix}-{i}"}
                for i in range(start, min(start + 10, count))
            ]
            result = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            if result.get("Failed"):
                raise SystemExit(f"batch failed: {result['Failed']}")
        print(json.dumps(count))
    elif command == "send-fifo":
        sqs = client("sqs")
        url = queue_url(sqs, argv[2])
        groups, per_group = int(argv[3]), int(argv[4])
        messages = [(g, n) for n in range(per_group) for g in range(groups)]
        for start in range(0, len(messages), 10):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": f"g{g}-{n}",
                    "MessageGroupId": f"g{g}",
                    "MessageDeduplicationId": f"g{g}-{n}",
                }
                for i, (g, n) in enumerate(messages[start:start + 10])
            ]
            result = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            if result.get("Failed"):
                raise SystemExit(f"batch failed: {result['Failed']}")
        print(json.dumps(len(messages)))
    elif command == "drain":
        sqs = client("sqs")
        url = queue_url(sqs, argv[2])
        count, deadline = int(argv[3]), time.time() + float(argv[4])
        got = []
        while len(got) < count and time.time() < deadline:
            result = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            for message in result.get("Messages", []):
                got.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        print(json.dumps(got))
        if len(got) < count:
            raise SystemExit(f"drained {len(got)} of {count} messages from {argv[2]}")
    elif command == "attributes":
        sqs = client("sqs")
        print(json.dumps(sqs.get_queue_attributes(QueueUrl=queue_url(sqs, argv[2]), AttributeNames=["All"])["Attributes"]))
    elif command == "invoke-event":
        result = client("lambda").invoke(FunctionName=argv[2], InvocationType="Event", Payload=argv[3].encode())
        if result["StatusCode"] != 202:
            raise SystemExit(f"Event invoke answered {result['StatusCode']}")
        print(json.dumps(result["ResponseMetadata"]["RequestId"]))
    elif command == "produce":
        produce(argv[2], argv[3], int(argv[4]), argv[5], int(argv[6]))
    else:
        raise SystemExit(f"unknown command {command}")


def produce(endpoint_file, acked_file, total, queue, threads):
    lock = threading.Lock()
    acked = open(acked_file, "a", buffering=1)
    batches = [list(range(start, min(start + 10, total))) for start in range(0, total, 10)]
    next_batch = [0]
    retries = [0]

    def endpoint():
        with open(endpoint_file) as f:
            return f.read().strip()

    def worker():
        sqs, current = None, None
        while True:
            with lock:
                if next_batch[0] >= len(batches):
                    return
                batch = batches[next_batch[0]]
                next_batch[0] += 1
            entries = [{"Id": str(i), "MessageBody": f"m-{i}"} for i in batch]
            while True:
                try:
                    url = endpoint()
                    if sqs is None or url != current:
                        sqs, current = client("sqs", url), url
                    result = sqs.send_message_batch(
                        QueueUrl=f"{url}/000000000000/{queue}", Entries=entries
                    )
                    failed = {f["Id"] for f in result.get("Failed", [])}
                    done = [e for e in entries if e["Id"] not in failed]
                    with lock:
                        for e in done:
                            acked.write(e["MessageBody"] + "\n")
                    entries = [e for e in entries if e["Id"] in failed]
                    if not entries:
                        break
                except Exception:  # the server is down or restarting: send again
                    with lock:
                        retries[0] += 1
                    sqs = None
                    time.sleep(0.2)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    acked.close()
    print(json.dumps({"sent": total, "retried_batches": retries[0]}))


if __name__ == "__main__":
    main(sys.argv)
