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
use stratus_core::RuntimeKind;
use stratus_core::manifest::{Manifest, ManifestError, check_handlers, parse_manifest};

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

fn upload(client: &Client, sha: &str, runtime: &str, shown: &str, bytes: Vec<u8>) -> Result<()> {
    if client.has_artifact(sha, runtime)? {
        return Ok(());
    }
    let len = bytes.len() as u64;
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("uploading {shown}"));
    let reader = bar.wrap_read(std::io::Cursor::new(bytes));
    let result = client.put_artifact(sha, runtime, len, reader);
    bar.finish_and_clear();
    result?;
    let done = if runtime == "wasm" {
        "validated and compiled"
    } else {
        "validated and unpacked"
    };
    eprintln!("uploaded {shown} ({} KiB), {done}", len.div_ceil(1024));
    Ok(())
}

/// The bytes of a function's code: the component (wasm), a package zip as
/// is, or a package directory zipped (deterministically, so an unchanged
/// directory deploys as `unchanged`).
fn artifact_bytes(path: &Path, process: bool) -> Result<Vec<u8>> {
    if process && path.is_dir() {
        let bytes =
            crate::package::zip_dir(path).with_context(|| format!("zip {}", path.display()))?;
        if bytes.len() > stratus_lambda::MAX_ZIPPED_BYTES {
            bail!(
                "the package {} is {} bytes zipped; Lambda packages are limited to {} bytes",
                path.display(),
                bytes.len(),
                stratus_lambda::MAX_ZIPPED_BYTES
            );
        }
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("read {}", path.display()))
}

/// Deploys the service described in `dir`.
pub fn deploy_dir(client: &Client, dir: &Path, config: Option<&Path>) -> Result<()> {
    let (path, manifest) = load_manifest(dir, config)?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    run_builds(&base, &manifest)?;
    let shown = path.display().to_string();
    check_handlers(&shown, &manifest, |code| {
        let code = base.join(code);
        code.is_file() || code.is_dir()
    })?;
    for function in &manifest.functions {
        let code = base.join(function.code_path());
        let fail = |message: String| -> anyhow::Error {
            ManifestError::new(&shown, function.package_at, message).into()
        };
        if function.runtime.is_process() && code.is_file() && !is_zip(&code) {
            return Err(fail(format!(
                "package `{}` of function `{}` is neither a directory nor a zip archive",
                function.code_path(),
                function.name
            )));
        }
        if function.runtime == RuntimeKind::Provided
            && code.is_dir()
            && !code.join("bootstrap").is_file()
        {
            return Err(fail(format!(
                "function `{}` uses a `provided` runtime, but its package `{}` has no `bootstrap` executable at its root",
                function.name,
                function.code_path()
            )));
        }
    }

    let mut shas: BTreeMap<(String, &'static str), String> = BTreeMap::new();
    let mut functions = Vec::new();
    for function in &manifest.functions {
        let runtime = function.runtime.as_str();
        let code = base.join(function.code_path());
        let key = (function.code_path().to_string(), runtime);
        let sha = match shas.get(&key) {
            Some(sha) => sha.clone(),
            None => {
                let bytes = artifact_bytes(&code, function.runtime.is_process())?;
                let sha = hex::encode(Sha256::digest(&bytes));
                upload(client, &sha, runtime, function.code_path(), bytes)
                    .with_context(|| format!("function `{}`", function.name))?;
                shas.insert(key, sha.clone());
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

/// Whether `path` starts like a zip archive.
fn is_zip(path: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06")
}
