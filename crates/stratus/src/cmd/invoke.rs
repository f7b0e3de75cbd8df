//! `stratus invoke NAME`: runs a function once through the control API.

use crate::client::{Client, Target};
use anyhow::{Context, Result, bail};
use base64::Engine as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use stratus_api as api;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Function name.
    pub name: String,
    /// Request body (for wasm functions, the body of a POST with CloudEvents headers).
    #[arg(long, short = 'd')]
    pub data: Option<String>,
    /// Read the request body from a file (`-` for stdin).
    #[arg(long, conflicts_with = "data")]
    pub data_file: Option<PathBuf>,
    /// Path and query the function sees.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// HTTP method the function sees.
    #[arg(long, short = 'X', default_value = "POST")]
    pub method: String,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(long, short = 'H')]
    pub header: Vec<String>,
    /// Print the invocation's log lines (START .. REPORT) to stderr.
    #[arg(long)]
    pub log: bool,
    /// Print the whole answer as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let target = &args.target;
    let client = Client::from_target(target)?;
    let body = match (&args.data, &args.data_file) {
        (Some(data), _) => data.as_bytes().to_vec(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
            buf
        }
        (None, Some(path)) => {
            std::fs::read(path).with_context(|| format!("read {}", path.display()))?
        }
        (None, None) => Vec::new(),
    };
    let mut headers = Vec::new();
    for header in &args.header {
        let Some((name, value)) = header.split_once(':') else {
            bail!("header `{header}` must look like `Name: value`");
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let request = api::InvokeRequest {
        method: Some(args.method.clone()),
        path: Some(args.path.clone()),
        headers,
        body_base64: base64::engine::general_purpose::STANDARD.encode(&body),
    };
    let response: api::InvokeResponse = client.post(
        &format!("invoke {}", args.name),
        &format!("/v1/functions/{}/invoke", args.name),
        &request,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else {
        let body = base64::engine::general_purpose::STANDARD
            .decode(response.body_base64.as_bytes())
            .context("decode the response body")?;
        let mut out = std::io::stdout().lock();
        out.write_all(&body)?;
        if !body.ends_with(b"\n") && !body.is_empty() {
            out.write_all(b"\n")?;
        }
    }
    if args.log {
        for line in &response.log {
            eprintln!("{line}");
        }
    }
    if let Some(error_type) = &response.error_type {
        eprintln!(
            "function error: {error_type}: {}",
            response.error_message.as_deref().unwrap_or("")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
