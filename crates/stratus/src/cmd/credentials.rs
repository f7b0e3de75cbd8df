//! `stratus credentials`: print the admin access key as `export` lines for a shell to eval.

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
