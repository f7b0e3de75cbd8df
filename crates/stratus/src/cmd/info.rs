//! `stratus info NAME`.

use crate::client::{Client, Target};
use anyhow::Result;
use std::process::ExitCode;
use stratus_api as api;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Function name.
    pub name: String,
    /// Print the raw JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let target = &args.target;
    let client = Client::from_target(target)?;
    let f: api::FunctionInfo = client.get(
        &format!("function {}", args.name),
        &format!("/v1/functions/{}", args.name),
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("function:  {}", f.name);
    println!("service:   {}", f.service);
    println!("version:   {}", f.version);
    println!("updated:   {}", super::timestamp(f.updated_ms));
    println!("instances: {}", f.instances);
    for key in [
        "runtime",
        "artifact",
        "memorySize",
        "timeout",
        "reservedConcurrency",
        "provisionedConcurrency",
        "allowedOutboundHosts",
        "environment",
    ] {
        if let Some(value) = f.config.get(key).filter(|v| !v.is_null()) {
            println!("{key}: {value}");
        }
    }
    for url in &f.urls {
        println!("route:     {url}");
    }
    Ok(ExitCode::SUCCESS)
}
