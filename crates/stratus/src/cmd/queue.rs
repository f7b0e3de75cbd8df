//! `stratus queue create|send|receive|purge|ls|redrive`: queues through the
//! SQS API, signed with the admin key.

use crate::aws_client::AwsClient;
use crate::client::Target;
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::process::ExitCode;
use stratus_core::function::queue_arn;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: QueueCommand,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Creates a queue (idempotent with the same settings).
    Create {
        /// The queue's name (`.fifo` is added with --fifo).
        name: String,
        /// A FIFO queue.
        #[arg(long)]
        fifo: bool,
        /// Seconds a received message stays invisible (default 30).
        #[arg(long)]
        visibility_timeout: Option<u32>,
        /// A dead-letter queue (it must exist) for messages received too often.
        #[arg(long, requires = "max_receive_count")]
        dlq: Option<String>,
        /// Receives after which a message moves to the DLQ.
        #[arg(long, requires = "dlq")]
        max_receive_count: Option<u32>,
    },
    /// Sends a message; prints its id.
    Send {
        /// The queue.
        name: String,
        /// The message body.
        body: String,
        /// FIFO: the message group.
        #[arg(long)]
        group: Option<String>,
        /// FIFO: the deduplication id.
        #[arg(long)]
        dedup: Option<String>,
        /// Seconds before the message becomes visible.
        #[arg(long)]
        delay: Option<u32>,
    },
    /// Receives messages and prints each as a JSON line.
    Receive {
        /// The queue.
        name: String,
        /// At most this many (1 to 10).
        #[arg(long, default_value_t = 1)]
        max: u32,
        /// Seconds to wait for a message (0 to 20).
        #[arg(long, default_value_t = 0)]
        wait: u32,
        /// Delete the messages after printing them.
        #[arg(long)]
        delete: bool,
    },
    /// Deletes every message of a queue.
    Purge {
        /// The queue.
        name: String,
    },
    /// Lists queues with their depth.
    Ls,
    /// Moves the messages of a dead-letter queue back to their source
    /// queues (or to --to).
    Redrive {
        /// The dead-letter queue.
        dlq: String,
        /// Move to this queue instead.
        #[arg(long)]
        to: Option<String>,
    },
}

pub fn run(args: Args) -> Result<ExitCode> {
    let client = AwsClient::from_target(&args.target)?;
    let call = |op: &str, body: Value| client.json("sqs", op, &body);
    match args.command {
        QueueCommand::Create {
            name,
            fifo,
            visibility_timeout,
            dlq,
            max_receive_count,
        } => {
            let name = if fifo && !name.ends_with(".fifo") {
                format!("{name}.fifo")
            } else {
                name
            };
            let mut attributes = serde_json::Map::new();
            if name.ends_with(".fifo") {
                attributes.insert("FifoQueue".into(), json!("true"));
            }
            if let Some(secs) = visibility_timeout {
                attributes.insert("VisibilityTimeout".into(), json!(secs.to_string()));
            }
            if let (Some(dlq), Some(count)) = (dlq, max_receive_count) {
                let policy =
                    json!({"deadLetterTargetArn": queue_arn(&dlq), "maxReceiveCount": count});
                attributes.insert("RedrivePolicy".into(), json!(policy.to_string()));
            }
            let reply = call(
                "CreateQueue",
                json!({"QueueName": name, "Attributes": attributes}),
            )?;
            println!("{}", text(&reply, "QueueUrl"));
        }
        QueueCommand::Send {
            name,
            body,
            group,
            dedup,
            delay,
        } => {
            let mut request = json!({"QueueUrl": name, "MessageBody": body});
            if let Some(group) = group {
                request["MessageGroupId"] = json!(group);
            }
            if let Some(dedup) = dedup {
                request["MessageDeduplicationId"] = json!(dedup);
            }
            if let Some(delay) = delay {
                request["DelaySeconds"] = json!(delay);
            }
            let reply = call("SendMessage", request)?;
            match reply.get("SequenceNumber").and_then(Value::as_str) {
                Some(sequence) => println!("{} (sequence {sequence})", text(&reply, "MessageId")),
                None => println!("{}", text(&reply, "MessageId")),
            }
        }
        QueueCommand::Receive {
            name,
            max,
            wait,
            delete,
        } => {
            let reply = call(
                "ReceiveMessage",
                json!({
                    "QueueUrl": name,
                    "MaxNumberOfMessages": max,
                    "WaitTimeSeconds": wait,
                    "MessageSystemAttributeNames": ["All"],
                    "MessageAttributeNames": ["All"],
                }),
            )?;
            let messages = reply
                .get("Messages")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut entries = Vec::new();
            for (i, message) in messages.iter().enumerate() {
                let attributes = message.get("Attributes").cloned().unwrap_or(json!({}));
                let mut line = json!({
                    "messageId": message.get("MessageId"),
                    "body": message.get("Body"),
                    "receiveCount": attributes.get("ApproximateReceiveCount")
                        .and_then(Value::as_str)
                        .and_then(|c| c.parse::<u64>().ok()),
                });
                if let Some(group) = attributes.get("MessageGroupId") {
                    line["groupId"] = group.clone();
                }
                if let Some(attrs) = message.get("MessageAttributes") {
                    line["attributes"] = attrs.clone();
                }
                if !delete {
                    line["receiptHandle"] =
                        message.get("ReceiptHandle").cloned().unwrap_or(Value::Null);
                }
                println!("{line}");
                entries.push(
                    json!({"Id": i.to_string(), "ReceiptHandle": message.get("ReceiptHandle")}),
                );
            }
            if delete && !entries.is_empty() {
                let reply = call(
                    "DeleteMessageBatch",
                    json!({"QueueUrl": name, "Entries": entries}),
                )?;
                if let Some(failed) = reply.get("Failed").and_then(Value::as_array)
                    && !failed.is_empty()
                {
                    anyhow::bail!(
                        "some messages were not deleted: {}",
                        Value::Array(failed.clone())
                    );
                }
            }
            if messages.is_empty() {
                eprintln!("no messages");
            }
        }
        QueueCommand::Purge { name } => {
            call("PurgeQueue", json!({"QueueUrl": name}))?;
            println!("purged {name}");
        }
        QueueCommand::Ls => {
            let reply = call("ListQueues", json!({}))?;
            let urls: Vec<String> = reply
                .get("QueueUrls")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            println!(
                "{:<40} {:>9} {:>9} {:>9}  DLQ",
                "QUEUE", "VISIBLE", "IN-FLIGHT", "DELAYED"
            );
            for url in urls {
                let name = url.rsplit('/').next().unwrap_or(&url).to_string();
                let attributes = call(
                    "GetQueueAttributes",
                    json!({"QueueUrl": url, "AttributeNames": ["All"]}),
                )
                .with_context(|| format!("read the attributes of {name}"))?;
                let attributes = attributes.get("Attributes").cloned().unwrap_or(json!({}));
                let dlq = attributes
                    .get("RedrivePolicy")
                    .and_then(Value::as_str)
                    .and_then(|p| serde_json::from_str::<Value>(p).ok())
                    .and_then(|p| {
                        p.get("deadLetterTargetArn")
                            .and_then(Value::as_str)
                            .map(|arn| arn.rsplit(':').next().unwrap_or(arn).to_string())
                    })
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<40} {:>9} {:>9} {:>9}  {dlq}",
                    name,
                    text(&attributes, "ApproximateNumberOfMessages"),
                    text(&attributes, "ApproximateNumberOfMessagesNotVisible"),
                    text(&attributes, "ApproximateNumberOfMessagesDelayed"),
                );
            }
        }
        QueueCommand::Redrive { dlq, to } => {
            let mut request = json!({"SourceArn": queue_arn(&dlq)});
            if let Some(to) = &to {
                request["DestinationArn"] = json!(queue_arn(to));
            }
            call("StartMessageMoveTask", request)?;
            // The move runs as a task on the server; follow it to its end.
            let source = json!({"SourceArn": queue_arn(&dlq), "MaxResults": 1});
            loop {
                let reply = call("ListMessageMoveTasks", source.clone())?;
                let task = reply
                    .get("Results")
                    .and_then(|r| r.get(0))
                    .cloned()
                    .unwrap_or_default();
                let moved = task
                    .get("ApproximateNumberOfMessagesMoved")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                match task.get("Status").and_then(Value::as_str) {
                    Some("COMPLETED") => {
                        println!("moved {moved} messages from {dlq}");
                        break;
                    }
                    Some("CANCELLED") => {
                        println!("redrive of {dlq} cancelled after {moved} messages");
                        break;
                    }
                    Some("FAILED") => {
                        anyhow::bail!(
                            "redrive of {dlq} failed after {moved} messages: {}",
                            text(&task, "FailureReason")
                        );
                    }
                    _ => std::thread::sleep(std::time::Duration::from_millis(200)),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_string()
}
