//! `stratus logs NAME [--follow]`.

use crate::client::{Client, Target};
use anyhow::Result;
use std::process::ExitCode;
use std::time::Duration;
use stratus_api as api;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Function name.
    pub name: String,
    /// Keep printing new records as they arrive.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Print only the last N records first (0: all kept records).
    #[arg(long, short = 'n', default_value_t = 100)]
    pub tail: usize,
}

fn print(records: &[api::LogLine]) {
    for r in records {
        println!("{} {}", super::timestamp(r.ts_ms), r.message);
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let target = &args.target;
    let client = Client::from_target(target)?;
    let path = |after: i64| format!("/v1/functions/{}/logs?after={after}&limit=1000", args.name);
    let what = format!("logs of {}", args.name);
    // Page through what is kept, printing only the tail.
    let mut after = 0;
    let mut backlog: std::collections::VecDeque<api::LogLine> = Default::default();
    loop {
        let page: api::LogsResponse = client.get(&what, &path(after))?;
        let done = page.records.is_empty();
        after = page.next;
        backlog.extend(page.records);
        if args.tail > 0 {
            while backlog.len() > args.tail {
                backlog.pop_front();
            }
        }
        if done {
            break;
        }
    }
    print(backlog.make_contiguous());
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        let page: api::LogsResponse = client.get(&what, &path(after))?;
        if page.records.is_empty() {
            std::thread::sleep(Duration::from_millis(250));
            continue;
        }
        after = page.next;
        print(&page.records);
        use std::io::Write;
        std::io::stdout().flush()?;
    }
}
