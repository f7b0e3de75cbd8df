//! `stratus credentials`: print the admin access key as `export` lines for a shell to eval.

use crate::aws_client::{REGION, credentials, resolve};
use crate::client::Target;
use anyhow::Result;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
}

/// Quotes a value for POSIX shells (single quotes, `'` as `'\''`).
fn shell_quote(value: &str) -> String {
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=:._-@%,".contains(&b))
    {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The `export` lines for a key and an endpoint.
fn exports(key_id: &str, secret: &str, endpoint: &str) -> String {
    [
        ("AWS_ACCESS_KEY_ID", key_id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_DEFAULT_REGION", REGION),
    ]
    .iter()
    .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
    .collect()
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (endpoint, data_dir) = resolve(&args.target);
    let Some(data_dir) = data_dir else {
        anyhow::bail!(
            "no data directory: pass --data-dir (or set STRATUS_DATA_DIR) to the server's data directory, or start `stratus serve` first"
        );
    };
    let key = credentials(Some(&data_dir))?;
    print!("{}", exports(&key.key_id, &key.secret, &endpoint));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let cases = [
            ("AKIAABC", "AKIAABC"),
            ("a+b/c=", "a+b/c="),
            ("http://127.0.0.1:9070", "http://127.0.0.1:9070"),
            ("it's", r"'it'\''s'"),
            ("a b", "'a b'"),
        ];
        for (input, expected) in cases {
            assert_eq!(shell_quote(input), expected);
        }
        assert_eq!(
            exports("AKIAX", "s/+", "http://h:1"),
            "export AWS_ACCESS_KEY_ID=AKIAX\nexport AWS_SECRET_ACCESS_KEY=s/+\nexport AWS_ENDPOINT_URL=http://h:1\nexport AWS_DEFAULT_REGION=us-east-1\n"
        );
    }
}
