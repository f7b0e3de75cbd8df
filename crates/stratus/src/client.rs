//! The control API client used by the CLI: finds the server and its token,
//! sends requests, and turns API errors into readable messages.

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the CLI finds the server; flags beat environment variables, which
/// beat what the last `stratus serve` recorded in `~/.stratus/current.json`.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Control API endpoint, e.g. http://127.0.0.1:9070.
    #[arg(long, env = "STRATUS_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Data directory of a local server (to read its token and endpoint).
    #[arg(long, env = "STRATUS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// What `stratus serve` writes so CLIs can find it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ServerFile {
    pub api: String,
    pub gateway: String,
    pub data_dir: PathBuf,
    pub pid: u32,
}

/// The file in the data dir describing the running server.
pub fn server_file(data_dir: &Path) -> PathBuf {
    data_dir.join("server.json")
}

/// `~/.stratus/current.json`: the last server started by this user.
pub fn current_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".stratus").join("current.json"))
}

fn read_server_file(path: &Path) -> Option<ServerFile> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

pub struct Client {
    agent: ureq::Agent,
    pub endpoint: String,
    token: String,
}

impl Client {
    /// Resolves endpoint and token.
    pub fn from_target(target: &Target) -> Result<Client> {
        let recorded = match &target.data_dir {
            Some(dir) => read_server_file(&server_file(dir)),
            None => current_file().and_then(|f| read_server_file(&f)),
        };
        let endpoint = target
            .endpoint
            .clone()
            .or_else(|| recorded.as_ref().map(|r| r.api.clone()))
            .unwrap_or_else(|| "http://127.0.0.1:9070".to_string());
        let token = match std::env::var("STRATUS_TOKEN") {
            Ok(token) if !token.is_empty() => token,
            _ => {
                let dir = target
                    .data_dir
                    .clone()
                    .or_else(|| recorded.as_ref().map(|r| r.data_dir.clone()))
                    .ok_or_else(|| {
                        anyhow!(
                            "no token: set STRATUS_TOKEN, or --data-dir / STRATUS_DATA_DIR to the server's data directory"
                        )
                    })?;
                let path = dir.join("token");
                std::fs::read_to_string(&path)
                    .with_context(|| format!("read the token from {}", path.display()))?
                    .trim()
                    .to_string()
            }
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(900)))
            .build();
        Ok(Client {
            agent: ureq::Agent::new_with_config(config),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.endpoint, path)
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    fn finish<T: DeserializeOwned>(
        &self,
        what: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T> {
        let mut response = response.map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                anyhow!(
                    "cannot reach the Stratus server at {} ({e}); is `stratus serve` running?",
                    self.endpoint
                )
            }
            other => anyhow!("{what}: {other}"),
        })?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .with_context(|| format!("{what}: read the response"))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<stratus_api::ApiError>(&body)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            bail!("{what}: {message} (HTTP {})", status.as_u16());
        }
        let body = if body.is_empty() {
            b"null".to_vec()
        } else {
            body
        };
        serde_json::from_slice(&body).with_context(|| format!("{what}: unexpected answer"))
    }

    pub fn get<T: DeserializeOwned>(&self, what: &str, path: &str) -> Result<T> {
        let response = self
            .agent
            .get(self.url(path))
            .header("Authorization", self.auth())
            .call();
        self.finish(what, response)
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self
            .agent
            .post(self.url(path))
            .header("Authorization", self.auth())
            .send_json(body);
        self.finish(what, response)
    }

    pub fn delete<T: DeserializeOwned>(&self, what: &str, path: &str) -> Result<T> {
        let response = self
            .agent
            .delete(self.url(path))
            .header("Authorization", self.auth())
            .call();
        self.finish(what, response)
    }

    /// Whether the server already has an artifact.
    pub fn has_artifact(&self, sha: &str, runtime: &str) -> Result<bool> {
        let response = self
            .agent
            .head(self.url(&format!("/v1/artifacts/{sha}?runtime={runtime}")))
            .header("Authorization", self.auth())
            .call();
        match response {
            Ok(r) if r.status() == 200 => Ok(true),
            Ok(r) if r.status() == 404 => Ok(false),
            Ok(r) => bail!("check artifact {sha}: HTTP {}", r.status().as_u16()),
            Err(e) => bail!(
                "cannot reach the Stratus server at {} ({e}); is `stratus serve` running?",
                self.endpoint
            ),
        }
    }

    /// Uploads an artifact from a reader of `len` bytes.
    pub fn put_artifact(
        &self,
        sha: &str,
        runtime: &str,
        len: u64,
        reader: impl Read + 'static,
    ) -> Result<stratus_api::ArtifactResponse> {
        let content_type = if runtime == "wasm" {
            "application/wasm"
        } else {
            "application/zip"
        };
        let response = self
            .agent
            .put(self.url(&format!("/v1/artifacts/{sha}?runtime={runtime}")))
            .header("Authorization", self.auth())
            .header("Content-Type", content_type)
            .header("Content-Length", len.to_string())
            .send(ureq::SendBody::from_owned_reader(reader));
        self.finish(
            &format!("upload artifact {}", &sha[..12.min(sha.len())]),
            response,
        )
    }
}
