//! `stratus events put`: put an event on a bus through the EventBridge API
//! (PutEvents, signed with the admin key).

use crate::aws_client::AwsClient;
use crate::client::Target;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: EventsCommand,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Puts one event on a bus; prints its event id.
    Put {
        /// The event's `source`, e.g. `com.example.orders`.
        #[arg(long)]
        source: String,
        /// The event's `detail-type`, e.g. `Order Placed`.
        #[arg(long)]
        detail_type: String,
        /// The event's `detail`: a JSON object.
        #[arg(long)]
        detail: String,
        /// The bus (name or ARN).
        #[arg(long, default_value = "default")]
        bus: String,
        /// A resource ARN the event concerns (repeatable).
        #[arg(long = "resource")]
        resources: Vec<String>,
    },
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        EventsCommand::Put {
            source,
            detail_type,
            detail,
            bus,
            resources,
        } => {
            match serde_json::from_str::<Value>(&detail) {
                Ok(Value::Object(_)) => {}
                Ok(_) => bail!("--detail must be a JSON object, like '{{\"id\": 1}}'"),
                Err(e) => bail!("--detail is not valid JSON: {e}"),
            }
            let client = AwsClient::from_target(&args.target)?;
            let entry = json!({
                "Source": source,
                "DetailType": detail_type,
                "Detail": detail,
                "EventBusName": bus,
                "Resources": resources,
            });
            let answer = client
                .json("events", "PutEvents", &json!({"Entries": [entry]}))
                .context("put the event")?;
            let first = answer
                .get("Entries")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
                .cloned()
                .unwrap_or(Value::Null);
            if let Some(id) = first.get("EventId").and_then(Value::as_str) {
                println!("{id}");
                return Ok(ExitCode::SUCCESS);
            }
            let code = first
                .get("ErrorCode")
                .and_then(Value::as_str)
                .unwrap_or("UnknownError");
            let message = first
                .get("ErrorMessage")
                .and_then(Value::as_str)
                .unwrap_or("the bus refused the event");
            bail!("{code}: {message}")
        }
    }
}
