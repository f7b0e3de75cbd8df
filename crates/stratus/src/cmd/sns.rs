//! `stratus sns outbox [--topic T] [--limit N]`: what the topics' `email`,
//! `email-json` and `sms` subscriptions would have been sent. Stratus sends
//! no email and no text message; it records them in a local outbox, read
//! here through the control API.

use crate::client::{Client, Target};
use anyhow::Result;
use std::process::ExitCode;
use stratus_api as api;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SnsCommand,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum SnsCommand {
    /// Prints the newest messages of the local outbox (email and SMS
    /// deliveries, recorded instead of sent), oldest first.
    Outbox {
        /// Only this topic's messages (a name or an ARN).
        #[arg(long)]
        topic: Option<String>,
        /// At most this many messages (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print each message as a JSON line.
        #[arg(long)]
        json: bool,
    },
}

/// `text` percent-encoded for a query string.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn print(message: &api::OutboxMessage) {
    let topic = if message.topic.is_empty() {
        "-"
    } else {
        message.topic.as_str()
    };
    println!(
        "{} {} {} {} topic={topic} id={}",
        super::timestamp(message.ts_ms),
        message.kind,
        message.protocol,
        message.endpoint,
        message.message_id,
    );
    if let Some(subject) = &message.subject {
        println!("  Subject: {subject}");
    }
    for line in message.body.lines() {
        println!("  {line}");
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let client = Client::from_target(&args.target)?;
    match args.command {
        SnsCommand::Outbox { topic, limit, json } => {
            let mut path = format!("/v1/sns/outbox?limit={}", limit.clamp(1, 1000));
            if let Some(topic) = &topic {
                path.push_str(&format!("&topic={}", query_value(topic)));
            }
            let answer: api::OutboxResponse = client.get("the SNS outbox", &path)?;
            for message in &answer.messages {
                if json {
                    println!("{}", serde_json::to_string(message)?);
                } else {
                    print(message);
                }
            }
            if answer.messages.is_empty() && !json {
                eprintln!("the outbox is empty");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            super::query_value("arn:aws:sns:us-east-1:000000000000:a.fifo"),
            "arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Aa.fifo"
        );
        assert_eq!(super::query_value("a b&c"), "a%20b%26c");
    }
}
