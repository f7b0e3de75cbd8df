//! A small client of Stratus's AWS-compatible APIs for the CLI: requests
//! signed with SigV4 using the admin access key.
//!
//! The server is found as [`crate::client::Client`] finds it (flags, then
//! environment, then `~/.stratus/current.json`); the key is read from
//! `<data_dir>/credentials`, or, with no data directory known, from
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`).

// Used by `stratus queue` and `stratus events` as they land.
#![allow(dead_code)]

use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;
use stratus_aws::sigv4::{Credentials, Signer};
use ureq::http;

use crate::client::{ServerFile, Target, current_file, server_file};

/// The region every Stratus credential scope names.
pub const REGION: &str = "us-east-1";

/// An error answer of an AWS API, with AWS's code (`QueueDoesNotExist`,
/// `InvalidParameterValue`, ...). Callers may `downcast_ref` it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The HTTP status.
    pub status: u16,
    /// AWS's error code.
    pub code: String,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (HTTP {})", self.code, self.message, self.status)
    }
}

impl std::error::Error for AwsError {}

/// A SigV4-signing client of one Stratus server's AWS APIs (used by
/// `stratus queue` and `stratus events`).
pub struct AwsClient {
    agent: ureq::Agent,
    /// The API URL, e.g. `http://127.0.0.1:9070` (what `AWS_ENDPOINT_URL` is).
    pub endpoint: String,
    credentials: Credentials,
}

fn read_server_file(path: &Path) -> Option<ServerFile> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Reads `aws_access_key_id` / `aws_secret_access_key` from a shared
/// credentials file (its first profile).
pub fn read_credentials_file(path: &Path) -> Result<Credentials> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read the access key from {}", path.display()))?;
    let mut key_id = None;
    let mut secret = None;
    for line in text.lines() {
        if let Some((name, value)) = line.split_once('=') {
            match name.trim() {
                "aws_access_key_id" => key_id = Some(value.trim().to_string()),
                "aws_secret_access_key" => secret = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    match (key_id, secret) {
        (Some(key_id), Some(secret)) if !key_id.is_empty() && !secret.is_empty() => {
            Ok(Credentials {
                key_id,
                secret,
                session_token: None,
            })
        }
        _ => bail!(
            "{} holds no aws_access_key_id and aws_secret_access_key",
            path.display()
        ),
    }
}

/// The server's API endpoint and data directory, as the CLI resolves them.
pub fn resolve(target: &Target) -> (String, Option<PathBuf>) {
    let recorded = match &target.data_dir {
        Some(dir) => read_server_file(&server_file(dir)),
        None => current_file().and_then(|f| read_server_file(&f)),
    };
    let endpoint = target
        .endpoint
        .clone()
        .or_else(|| recorded.as_ref().map(|r| r.api.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:9070".to_string());
    let data_dir = target
        .data_dir
        .clone()
        .or_else(|| recorded.as_ref().map(|r| r.data_dir.clone()));
    (endpoint.trim_end_matches('/').to_string(), data_dir)
}

/// The admin key of the server at `data_dir`, or the environment's key.
pub fn credentials(data_dir: Option<&Path>) -> Result<Credentials> {
    if let Some(dir) = data_dir {
        return read_credentials_file(&dir.join(stratus_engine::records::CREDENTIALS_FILE));
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(key_id), Some(secret)) => Ok(Credentials {
            key_id,
            secret,
            session_token: env("AWS_SESSION_TOKEN"),
        }),
        _ => Err(anyhow!(
            "no access key: set --data-dir / STRATUS_DATA_DIR to the server's data directory, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )),
    }
}

impl AwsClient {
    /// Finds the server and its admin key.
    pub fn from_target(target: &Target) -> Result<AwsClient> {
        let (endpoint, data_dir) = resolve(target);
        let credentials = credentials(data_dir.as_deref())?;
        Ok(AwsClient::new(endpoint, credentials))
    }

    /// A client of `endpoint` signing with `credentials`.
    pub fn new(endpoint: String, credentials: Credentials) -> AwsClient {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build();
        AwsClient {
            agent: ureq::Agent::new_with_config(config),
            endpoint,
            credentials,
        }
    }

    /// Sends a signed `POST /` and returns the status and body.
    fn post(
        &self,
        service: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>)> {
        let url = format!("{}{path}", self.endpoint);
        let uri: http::Uri = url
            .parse()
            .with_context(|| format!("bad endpoint URL {url}"))?;
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes())?,
                http::HeaderValue::from_str(value)?,
            );
        }
        let signer = Signer {
            credentials: self.credentials.clone(),
            region: REGION.to_string(),
            service: service.to_string(),
        };
        signer
            .sign("POST", &uri, &mut map, &body, chrono::Utc::now())
            .context("sign the request")?;
        let mut builder = ureq::http::Request::builder().method("POST").uri(&url);
        for (name, value) in &map {
            if name != http::header::HOST {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
        }
        let request = builder.body(body)?;
        let mut response = self.agent.run(request).map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                anyhow!(
                    "cannot reach the Stratus server at {} ({e}); is `stratus serve` running?",
                    self.endpoint
                )
            }
            other => anyhow!("{service} request: {other}"),
        })?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .context("read the response")?;
        Ok((status, body))
    }

    /// A JSON-protocol call: `X-Amz-Target: <prefix>.<target>`, JSON 1.0
    /// for `sqs` (`AmazonSQS`), 1.1 for `events` (`AWSEvents`). `target` is
    /// the operation (`SendMessage`) or the full target
    /// (`AmazonSQS.SendMessage`). AWS errors become [`AwsError`]s.
    pub fn json(
        &self,
        service: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let (prefix, content_type) = match service {
            "sqs" => ("AmazonSQS", "application/x-amz-json-1.0"),
            "events" => ("AWSEvents", "application/x-amz-json-1.1"),
            other => bail!("no JSON protocol known for service `{other}`"),
        };
        let full_target = if target.contains('.') {
            target.to_string()
        } else {
            format!("{prefix}.{target}")
        };
        let (status, bytes) = self.post(
            service,
            "/",
            &[
                ("content-type", content_type),
                ("x-amz-target", &full_target),
            ],
            serde_json::to_vec(body)?,
        )?;
        let value: Option<serde_json::Value> = if bytes.is_empty() {
            Some(serde_json::json!({}))
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if (200..300).contains(&status) {
            return value.ok_or_else(|| {
                anyhow!(
                    "{full_target}: the answer is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            });
        }
        Err(json_error(status, value.as_ref(), &bytes).into())
    }

    /// A query-protocol call (form POST, as SNS takes): `params` include
    /// `Action`; `Version` is added if missing. Returns the XML answer.
    pub fn query(&self, service: &str, params: &[(&str, &str)]) -> Result<String> {
        let mut form: Vec<String> = params
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    stratus_aws::sigv4::uri_encode(k.as_bytes(), false),
                    stratus_aws::sigv4::uri_encode(v.as_bytes(), false)
                )
            })
            .collect();
        if !params.iter().any(|(k, _)| *k == "Version") && service == "sns" {
            form.push("Version=2010-03-31".into());
        }
        let (status, bytes) = self.post(
            service,
            "/",
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            form.join("&").into_bytes(),
        )?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(AwsError {
            status,
            code: xml_element(&text, "Code").unwrap_or_else(|| "UnknownError".into()),
            message: xml_element(&text, "Message").unwrap_or(text),
        }
        .into())
    }
}

/// An [`AwsError`] from a JSON-protocol error answer.
fn json_error(status: u16, value: Option<&serde_json::Value>, bytes: &[u8]) -> AwsError {
    let field = |names: &[&str]| {
        names.iter().find_map(|n| {
            value
                .and_then(|v| v.get(*n))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
    };
    let code = field(&["__type", "code"])
        .map(|t| t.rsplit('#').next().unwrap_or(&t).to_string())
        .unwrap_or_else(|| "UnknownError".into());
    let message = field(&["message", "Message"])
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    AwsError {
        status,
        code,
        message,
    }
}

/// The text of the first `<name>...</name>` (entities decoded).
pub fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}"#,
                "QueueDoesNotExist",
                "gone",
            ),
            (
                r#"{"__type":"InvalidSignatureException","Message":"bad"}"#,
                "InvalidSignatureException",
                "bad",
            ),
            ("not json", "UnknownError", "not json"),
        ];
        for (body, code, message) in cases {
            let value = serde_json::from_str::<serde_json::Value>(body).ok();
            let error = json_error(400, value.as_ref(), body.as_bytes());
            assert_eq!(
                (error.code.as_str(), error.message.as_str()),
                (*code, *message)
            );
        }
    }

    #[test]
    fn xml_elements() {
        let xml = "<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>a &amp; b</Message></Error></ErrorResponse>";
        assert_eq!(xml_element(xml, "Code").as_deref(), Some("NotFound"));
        assert_eq!(xml_element(xml, "Message").as_deref(), Some("a & b"));
        assert_eq!(xml_element(xml, "Nope"), None);
    }

    #[test]
    fn credentials_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cr/t+\n",
        )
        .expect("write");
        let creds = read_credentials_file(&path).expect("read");
        assert_eq!(
            (creds.key_id.as_str(), creds.secret.as_str()),
            ("AKIAEXAMPLE", "s3cr/t+")
        );
        std::fs::write(&path, "[default]\n").expect("write");
        assert!(read_credentials_file(&path).is_err());
    }
}
