//! `stratus ls`.

use crate::client::{Client, Target};
use anyhow::Result;
use std::process::ExitCode;
use stratus_api as api;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Print the raw JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let target = &args.target;
    let client = Client::from_target(target)?;
    let list: api::FunctionList = client.get("list functions", "/v1/functions")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:<16} {:>7} {:>9}  ROUTES",
        "FUNCTION", "SERVICE", "VERSION", "INSTANCES"
    );
    for f in &list.functions {
        println!(
            "{:<24} {:<16} {:>7} {:>9}  {}",
            f.name,
            f.service,
            f.version,
            f.instances,
            f.urls.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
