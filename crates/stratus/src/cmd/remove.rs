//! `stratus remove [NAME]`: one function, or the whole service of the
//! manifest in the current directory.

use crate::client::{Client, Target};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Function to remove; without it, the service of DIR's stratus.yaml is removed.
    pub name: Option<String>,
    /// Directory holding stratus.yaml, when removing a service.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let target = &args.target;
    let client = Client::from_target(target)?;
    match args.name {
        Some(name) => {
            let _: serde_json::Value =
                client.delete(&format!("remove {name}"), &format!("/v1/functions/{name}"))?;
            println!("removed function {name}");
        }
        None => {
            let (_, manifest) = super::deploy::load_manifest(&args.dir, None)?;
            let answer: serde_json::Value = client.delete(
                &format!("remove service {}", manifest.service),
                &format!("/v1/services/{}", manifest.service),
            )?;
            println!(
                "removed service {}: {}",
                manifest.service,
                answer["removed"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
