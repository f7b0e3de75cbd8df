//! `stratus deploy`: parse the manifest, run build commands, upload artifacts
//! with a progress bar, and switch to the new versions atomically.

use crate::client::{Client, Target};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use stratus_api as api;
use stratus_core::manifest::{Manifest, check_handlers, parse_manifest};

pub const MANIFEST: &str = "stratus.yaml";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Directory holding stratus.yaml (default: the current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Manifest file, instead of DIR/stratus.yaml.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let target = &args.target;
    let client = Client::from_target(target)?;
    deploy_dir(&client, &args.dir, args.config.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Reads and validates a manifest file; errors name file, line and column.
pub fn load_manifest(dir: &Path, config: Option<&Path>) -> Result<(PathBuf, Manifest)> {
    let path = config
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join(MANIFEST));
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let shown = path.display().to_string();
    let manifest = parse_manifest(&shown, &source)?;
    Ok((path, manifest))
}

fn run_builds(base: &Path, manifest: &Manifest) -> Result<()> {
    let mut done: Vec<&str> = Vec::new();
    for function in &manifest.functions {
        let Some(build) = function.build.as_deref() else {
            continue;
        };
        if done.contains(&build) {
            continue;
        }
        done.push(build);
        eprintln!("building {}: {build}", function.name);
        let status = Command::new("sh")
            .arg("-c")
            .arg(build)
            .current_dir(base)
            .status()
            .with_context(|| format!("run the build command of function `{}`", function.name))?;
        if !status.success() {
            bail!(
                "the build command of function `{}` failed ({status}): {build}",
                function.name
            );
        }
    }
    Ok(())
}

fn upload(client: &Client, sha: &str, path: &Path) -> Result<()> {
    if client.has_artifact(sha)? {
        return Ok(());
    }
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let len = file.metadata()?.len();
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!(
        "uploading {}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let reader = bar.wrap_read(file);
    let result = client.put_artifact(sha, len, reader);
    bar.finish_and_clear();
    result?;
    eprintln!(
        "uploaded {} ({} KiB), validated and compiled",
        path.display(),
        len.div_ceil(1024)
    );
    Ok(())
}

/// Deploys the service described in `dir`.
pub fn deploy_dir(client: &Client, dir: &Path, config: Option<&Path>) -> Result<()> {
    let (path, manifest) = load_manifest(dir, config)?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    run_builds(&base, &manifest)?;
    check_handlers(&path.display().to_string(), &manifest, |handler| {
        base.join(handler).is_file()
    })?;

    let mut shas: BTreeMap<String, String> = BTreeMap::new();
    let mut functions = Vec::new();
    for function in &manifest.functions {
        let artifact = base.join(&function.handler);
        let sha = match shas.get(&function.handler) {
            Some(sha) => sha.clone(),
            None => {
                let bytes = std::fs::read(&artifact)
                    .with_context(|| format!("read {}", artifact.display()))?;
                let sha = hex::encode(Sha256::digest(&bytes));
                upload(client, &sha, &artifact)
                    .with_context(|| format!("function `{}`", function.name))?;
                shas.insert(function.handler.clone(), sha.clone());
                sha
            }
        };
        functions.push(serde_json::to_value(function.to_config(&sha))?);
    }
    let request = api::DeploymentRequest {
        format: api::DEPLOYMENT_FORMAT,
        service: manifest.service.clone(),
        functions,
    };
    let response: api::DeploymentResponse = client.post("deploy", "/v1/deployments", &request)?;
    println!("service {} deployed", response.service);
    for function in &response.functions {
        println!(
            "  {}: {} (version {})",
            function.name, function.status, function.version
        );
        for url in &function.urls {
            println!("    {url}");
        }
    }
    Ok(())
}
