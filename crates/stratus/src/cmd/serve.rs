//! `stratus serve`.

use crate::server::{self, ServerOptions};
use anyhow::Result;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerOptions,
}

pub fn run(args: Args) -> Result<ExitCode> {
    server::block_on(async move {
        let running = server::start(args.server).await?;
        running.wait_for_signal_and_stop().await
    })?;
    Ok(ExitCode::SUCCESS)
}
