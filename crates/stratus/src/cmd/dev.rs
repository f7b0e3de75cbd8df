//! `stratus dev DIR`: serve and deploy in one foreground process.

use crate::client::{Client, Target};
use crate::server::{self, ServerOptions};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory holding stratus.yaml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub server: ServerOptions,
}

pub fn run(args: Args) -> Result<ExitCode> {
    server::block_on(async move {
        let running = server::start(args.server).await?;
        let target = Target {
            endpoint: Some(running.api_url.clone()),
            data_dir: Some(running.data_dir.clone()),
        };
        let dir = args.dir.clone();
        let deployed = tokio::task::spawn_blocking(move || -> Result<()> {
            let client = Client::from_target(&target)?;
            crate::cmd::deploy::deploy_dir(&client, &dir, None)
        })
        .await
        .context("deploy task failed")?;
        if let Err(error) = deployed {
            eprintln!("error: {error:#}");
            eprintln!(
                "the server keeps running; fix the problem and run `stratus deploy` in {}",
                args.dir.display()
            );
        } else {
            eprintln!(
                "stratus dev: functions at {}; press Ctrl-C to stop",
                running.gateway_url
            );
        }
        running.wait_for_signal_and_stop().await
    })?;
    Ok(ExitCode::SUCCESS)
}
