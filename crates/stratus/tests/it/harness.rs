//! Starting servers, running the CLI, building guest fixtures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_stratus");

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// The guest components, built from source once per test run.
pub struct Fixtures {
    pub hello: PathBuf,
    pub testbed: PathBuf,
    pub cli_main: PathBuf,
}

pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let root = workspace();
        let f = Fixtures {
            hello: root.join("examples/hello/target/wasm32-wasip2/release/hello.wasm"),
            testbed: root.join("fixtures/target/wasm32-wasip2/release/testbed.wasm"),
            cli_main: root.join("fixtures/target/wasm32-wasip2/release/cli-main.wasm"),
        };
        if !(f.hello.exists() && f.testbed.exists() && f.cli_main.exists()) {
            let status = Command::new("bash")
                .arg(root.join("fixtures/build.sh"))
                .stdout(Stdio::null())
                .status()
                .expect("run fixtures/build.sh");
            assert!(status.success(), "fixtures/build.sh failed");
        }
        f
    })
}

/// A running `stratus serve` with its own data dir and home.
pub struct Server {
    pub child: Child,
    pub home: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub api: String,
    pub gateway: String,
    pub token: String,
    pub extra: Vec<String>,
    /// Where the server's log goes (debug level), if not to the test's
    /// stderr (warnings only).
    pub log: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct ServerFile {
    api: String,
    gateway: String,
}

fn spawn_server(
    home: &Path,
    data_dir: &Path,
    extra: &[String],
    log: Option<&Path>,
) -> (Child, ServerFile) {
    let _ = std::fs::remove_file(data_dir.join("server.json"));
    let (level, stderr) = match log {
        Some(path) => (
            "debug",
            Stdio::from(std::fs::File::create(path).expect("create the server log")),
        ),
        None => ("warn", Stdio::inherit()),
    };
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"])
        .args(extra)
        .env("HOME", home)
        .env("STRATUS_LOG", level)
        .env_remove("STRATUS_TOKEN")
        .env_remove("STRATUS_ENDPOINT")
        .env_remove("STRATUS_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn stratus serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    let file = data_dir.join("server.json");
    loop {
        let info = std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        if let Some(info) = info {
            return (child, info);
        }
        if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not start in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let home = tempfile::tempdir().expect("tempdir");
        let data_dir = home.path().join("data");
        Self::start_in(
            home,
            data_dir,
            extra.iter().map(|s| s.to_string()).collect(),
        )
    }

    /// A server whose debug-level log goes to `log`.
    pub fn start_logged(extra: &[&str], log: &Path) -> Server {
        let home = tempfile::tempdir().expect("tempdir");
        let data_dir = home.path().join("data");
        let extra = extra.iter().map(|s| s.to_string()).collect();
        Self::start_with(home, data_dir, extra, Some(log.to_path_buf()))
    }

    fn start_in(home: tempfile::TempDir, data_dir: PathBuf, extra: Vec<String>) -> Server {
        Self::start_with(home, data_dir, extra, None)
    }

    fn start_with(
        home: tempfile::TempDir,
        data_dir: PathBuf,
        extra: Vec<String>,
        log: Option<PathBuf>,
    ) -> Server {
        let (child, info) = spawn_server(home.path(), &data_dir, &extra, log.as_deref());
        let token = std::fs::read_to_string(data_dir.join("token"))
            .expect("token file")
            .trim()
            .to_string();
        Server {
            child,
            home,
            data_dir,
            api: info.api,
            gateway: info.gateway,
            token,
            extra,
            log,
        }
    }

    /// Stops with SIGTERM and returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        signal(&self.child, libc::SIGTERM);
        wait_exit(&mut self.child, Duration::from_secs(30))
    }

    /// SIGKILLs the server.
    pub fn kill9(&mut self) {
        signal(&self.child, libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Starts a new server process on the same data dir (after stop/kill).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, info) = spawn_server(
            self.home.path(),
            &self.data_dir,
            &self.extra,
            self.log.as_deref(),
        );
        self.child = child;
        self.api = info.api;
        self.gateway = info.gateway;
    }

    /// The CLI, pointed at this server.
    fn cli_command(&self, args: &[&str], cwd: &Path) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(cwd)
            .env("HOME", self.home.path())
            .env("STRATUS_ENDPOINT", &self.api)
            .env("STRATUS_DATA_DIR", &self.data_dir)
            .env_remove("STRATUS_TOKEN")
            .stdin(Stdio::null());
        command
    }

    /// Runs the CLI against this server.
    pub fn cli(&self, args: &[&str], cwd: &Path) -> Output {
        self.cli_command(args, cwd).output().expect("run stratus")
    }

    /// Runs the CLI and asserts success; returns stdout.
    pub fn cli_ok(&self, args: &[&str], cwd: &Path) -> String {
        let out = self.cli(args, cwd);
        assert!(
            out.status.success(),
            "stratus {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Spawns a long-running CLI command (e.g. `logs --follow`).
    pub fn cli_spawn(&self, args: &[&str], cwd: &Path) -> Child {
        self.cli_command(args, cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn stratus")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.gateway, path)
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }

    /// GET on the functions' gateway.
    pub fn get(&self, path: &str) -> Reply {
        request("GET", &self.url(path), None, &[])
    }

    /// An authenticated control API request.
    pub fn api(&self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        let auth = format!("Bearer {}", self.token);
        request(
            method,
            &self.api_url(path),
            body,
            &[("authorization", auth.as_str())],
        )
    }

    /// The admin access key from `<data>/credentials`: `(key id, secret)`.
    pub fn admin_key(&self) -> (String, String) {
        let path = self.data_dir.join("credentials");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let field = |name: &str| {
            text.lines()
                .filter_map(|line| line.split_once('='))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_else(|| panic!("{name} missing in {}", path.display()))
        };
        (field("aws_access_key_id"), field("aws_secret_access_key"))
    }

    /// Environment for an AWS SDK (boto3) talking to this server with the
    /// admin key: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_ENDPOINT_URL` (the API URL), `AWS_DEFAULT_REGION=us-east-1`.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        let (key_id, secret) = self.admin_key();
        vec![
            ("AWS_ACCESS_KEY_ID".into(), key_id),
            ("AWS_SECRET_ACCESS_KEY".into(), secret),
            ("AWS_ENDPOINT_URL".into(), self.api.clone()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
        ]
    }

    /// Asserts the server still answers on both ports.
    pub fn assert_healthy(&self) {
        let health = request("GET", &self.api_url("/v1/health"), None, &[]);
        assert_eq!(
            health.status,
            200,
            "control API unhealthy: {}",
            health.text()
        );
        assert!(self.child_alive(), "server process exited");
    }

    fn child_alive(&self) -> bool {
        // SAFETY: kill with signal 0 only checks the pid.
        unsafe { libc::kill(self.child.id() as i32, 0) == 0 }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A plain HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn request(method: &str, url: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(body.map(<[u8]>::to_vec).unwrap_or_default())
        .expect("request");
    let mut response = agent
        .run(request)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("read body");
    Reply {
        status,
        headers,
        body,
    }
}

/// A temporary app directory with a stratus.yaml.
pub fn app(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("stratus.yaml"), manifest).expect("write manifest");
    dir
}

/// Reads lines from a child's stdout until one contains `needle`.
pub fn read_until(child: &mut Child, needle: &str, timeout: Duration) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let done = line.contains(needle);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }
    panic!("`{needle}` not seen in {timeout:?}; got {lines:#?}");
}

/// The Python with boto3 that `test.sh` prepares (STRATUS_TEST_PYTHON).
pub fn python() -> String {
    std::env::var("STRATUS_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Log messages of function `name`.
pub fn log_lines(server: &Server, name: &str) -> Vec<String> {
    let logs = server
        .api("GET", &format!("/v1/functions/{name}/logs"), None)
        .json();
    logs["records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r["message"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
