//! `stratus queue create|send|receive|purge|ls|redrive`: queues through the SQS API, signed with the admin key.

use crate::client::Target;
use anyhow::Result;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
}

pub fn run(_args: Args) -> Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
