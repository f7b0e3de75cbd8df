//! `stratus stats`: usage of the current month, priced.

use crate::client::{Client, Target};
use anyhow::Result;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Print the raw JSON.
    #[arg(long)]
    pub json: bool,
}

fn ms(value: &serde_json::Value) -> String {
    value
        .as_f64()
        .map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| "-".into())
}

pub fn run(args: Args) -> Result<ExitCode> {
    let target = &args.target;
    let client = Client::from_target(target)?;
    let usage: serde_json::Value = client.get("stats", "/v1/stats")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&usage)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:>11} {:>7} {:>9} {:>6} {:>9} {:>9} {:>12} {:>12}",
        "FUNCTION",
        "INVOCATIONS",
        "ERRORS",
        "THROTTLES",
        "COLD",
        "P50 ms",
        "P99 ms",
        "GB-s",
        "COST $"
    );
    let empty = Vec::new();
    for f in usage["functions"].as_array().unwrap_or(&empty) {
        println!(
            "{:<24} {:>11} {:>7} {:>9} {:>6} {:>9} {:>9} {:>12.4} {:>12.6}",
            f["function"].as_str().unwrap_or("?"),
            f["invocations"].as_u64().unwrap_or(0),
            f["errors"].as_u64().unwrap_or(0),
            f["throttles"].as_u64().unwrap_or(0),
            f["coldStarts"].as_u64().unwrap_or(0),
            ms(&f["p50Ms"]),
            ms(&f["p99Ms"]),
            f["gbSeconds"].as_f64().unwrap_or(0.0),
            f["cost"].as_f64().unwrap_or(0.0),
        );
    }
    let cost = &usage["cost"];
    println!(
        "\nthis month: {} requests, {:.4} GB-s; cost ${:.6} before the free tier, ${:.6} after (free tier credit ${:.6})",
        usage["totalRequests"].as_u64().unwrap_or(0),
        usage["totalGbSeconds"].as_f64().unwrap_or(0.0),
        cost["gross"].as_f64().unwrap_or(0.0),
        cost["net"].as_f64().unwrap_or(0.0),
        cost["freeTierCredit"].as_f64().unwrap_or(0.0),
    );
    print_events(&usage);
    Ok(ExitCode::SUCCESS)
}

/// The queues, the event sources and the asynchronous-invocation queue.
fn print_events(usage: &serde_json::Value) {
    let empty = Vec::new();
    let queues = usage["queues"].as_array().unwrap_or(&empty);
    if !queues.is_empty() {
        println!(
            "
{:<32} {:>9} {:>9} {:>8} {:>12} {:<24} {:>9}",
            "QUEUE", "DEPTH", "IN FLIGHT", "DELAYED", "OLDEST s", "DLQ", "DLQ DEPTH"
        );
        for q in queues {
            println!(
                "{:<32} {:>9} {:>9} {:>8} {:>12} {:<24} {:>9}",
                q["name"].as_str().unwrap_or("?"),
                q["visible"].as_u64().unwrap_or(0),
                q["inFlight"].as_u64().unwrap_or(0),
                q["delayed"].as_u64().unwrap_or(0),
                q["oldestAgeSeconds"]
                    .as_f64()
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_else(|| "-".into()),
                q["dlq"].as_str().unwrap_or("-"),
                q["dlqDepth"]
                    .as_u64()
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
            );
        }
    }
    let sources = usage["sources"].as_array().unwrap_or(&empty);
    if !sources.is_empty() {
        println!(
            "
{:<12} {:<32} {:>11} {:>9} {:>9}",
            "SOURCE", "NAME", "DELIVERIES", "RETRIES", "FAILURES"
        );
        for s in sources {
            println!(
                "{:<12} {:<32} {:>11} {:>9} {:>9}",
                s["kind"].as_str().unwrap_or("?"),
                s["name"].as_str().unwrap_or("?"),
                s["deliveries"].as_u64().unwrap_or(0),
                s["retries"].as_u64().unwrap_or(0),
                s["failures"].as_u64().unwrap_or(0),
            );
        }
    }
    let pending = usage["asyncInvocations"]["pending"].as_u64().unwrap_or(0);
    let failed = usage["asyncInvocations"]["failed"].as_u64().unwrap_or(0);
    if pending + failed > 0 {
        println!(
            "
asynchronous invocations: {pending} pending, {failed} failed for good"
        );
    }
}
