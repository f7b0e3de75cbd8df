//! Parsing and validation of `stratus.yaml`, in the Serverless Framework's
//! vocabulary.
//!
//! ```yaml
//! service: hello
//! provider:
//!   name: stratus          # optional, accepted and ignored
//!   runtime: wasm          # default runtime of the functions
//!   memorySize: 128        # default memory of the functions, in MB
//!   timeout: 3             # default timeout, in seconds
//!   environment: {LOG_LEVEL: info}
//! functions:
//!   hello:
//!     handler: target/wasm32-wasip2/release/hello.wasm
//!     build: cargo build --target wasm32-wasip2 --release
//!     memorySize: 256
//!     timeout: 5
//!     environment: {GREETING: hello}
//!     reservedConcurrency: 10
//!     provisionedConcurrency: 1
//!     allowedOutboundHosts: ["example.com", "127.0.0.1:8080", "*.example.org"]
//!     events:
//!       - httpApi: {method: GET, path: /hello/{name}}
//!       - httpApi: 'POST /items/{proxy+}'
//!       - httpApi: '*'
//! ```
//!
//! Rules beyond the obvious:
//!
//! - Unknown keys are errors at every level, with a "did you mean" when a
//!   valid key is close, else the list of valid keys.
//! - Required: `service`, `functions` (not empty), and `handler` in each
//!   function. `handler` is a path relative to the manifest's directory;
//!   [`check_handlers`] checks that it exists once the `build` commands ran.
//! - Defaults: runtime `wasm`, [`DEFAULT_MEMORY_MB`], [`DEFAULT_TIMEOUT_SECS`];
//!   `provider` values override these, function values override `provider`.
//!   `environment` is merged: function variables over provider variables.
//! - `memorySize` is an integer number of MB within the runtime's limits
//!   (see [`memory_limits`]); `timeout` a number of seconds in
//!   (0, [`MAX_TIMEOUT_SECS`]].
//! - `reservedConcurrency: 0` is allowed: as in Lambda it disables the
//!   function (every invocation is throttled). `provisionedConcurrency`
//!   (default 0) must not exceed `reservedConcurrency` when both are set.
//! - Function names follow Lambda: 1 to 64 of `[A-Za-z0-9_-]`. The service
//!   name: a letter, then letters, digits, `-` or `_`, at most 64 in all.
//! - Environment variable names match `[A-Za-z][A-Za-z0-9_]*`. Values are
//!   scalars: numbers and booleans become strings, spelt as written
//!   (`1.50` stays `"1.50"`). An empty value (`KEY:`) is an error; write
//!   `KEY: ""`.
//! - Containers written empty (`events:`, `environment:`) count as empty;
//!   a scalar key written empty (`timeout:`) is a type error.
//! - Quoted scalars are strings: `memorySize: "128"` is a type error.
//! - `allowedOutboundHosts` entries are `host`, `host:port`, `*.domain`,
//!   `*.domain:port`, `[ipv6]:port` or `*` (every host).
//! - Events: `httpApi` (below), and `sqs`, `sns`, `schedule` and
//!   `eventBridge` with the function's `maximumRetryAttempts`,
//!   `maximumEventAge`, `destinations` and `onError` (see `sources.rs`).
//! - `httpApi` events are written `{method, path}`, `'METHOD /path'`, or
//!   `'*'`. The method is one of [`route::METHODS`] in any case, or
//!   `ANY`/`*`; it is stored upper-case, with `*` for any. `httpApi: '*'` is
//!   the catch-all route (API Gateway's `$default`, stored as method `*`,
//!   path `*`): it takes every request no other route matches, `/` included.
//!   Paths follow [`RoutePattern`]. The same method and path pattern
//!   (parameter names ignored) may appear only once in the whole manifest;
//!   `ANY /x` and `GET /x` may coexist (the exact method wins).
//! - YAML anchors, aliases, tags and duplicate keys are errors. Only the first
//!   YAML document is read.
//!
//! Every error carries the file name and the 1-based line and column of the
//! offending key or value ([`ManifestError`]). Parsing stops at the first
//! error.

mod sources;
mod yaml;

pub use sources::{valid_bus_name, valid_resource_name};

use crate::function::{
    DEFAULT_EPHEMERAL_STORAGE_MB, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_SECS, FunctionConfig,
    HttpRoute, MAX_EPHEMERAL_STORAGE_MB, MAX_PROCESS_MEMORY_MB, MAX_TIMEOUT_SECS,
    MAX_WASM_MEMORY_MB, MIN_EPHEMERAL_STORAGE_MB, MIN_MEMORY_MB, MIN_PROCESS_MEMORY_MB,
    RuntimeKind,
};
use crate::route::{self, RouteError, RoutePattern};
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoadError, LoaderOptions, Node};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::RangeInclusive;
use yaml::{
    Scalar, classify, describe, is_empty_null, key_location, node_location, quote,
    suggestion_or_list, value_location,
};

/// The conventional manifest file name.
pub const MANIFEST_FILE_NAME: &str = "stratus.yaml";

/// Runtimes a manifest may name, by their manifest spelling (families are
/// written with their pattern). Adding a runtime means adding a
/// [`RuntimeKind`] variant, a row here, an arm in [`parse_runtime`] and one in
/// [`memory_limits`].
pub const RUNTIMES: &[(&str, RuntimeKind)] = &[
    ("wasm", RuntimeKind::Wasm),
    ("python3.x", RuntimeKind::Python),
    ("nodejsNN.x", RuntimeKind::Nodejs),
    ("provided", RuntimeKind::Provided),
    ("provided.al2", RuntimeKind::Provided),
    ("provided.al2023", RuntimeKind::Provided),
];

const TOP_KEYS: &[&str] = &["service", "provider", "functions"];
const PROVIDER_KEYS: &[&str] = &["name", "runtime", "memorySize", "timeout", "environment"];
const FUNCTION_KEYS: &[&str] = &[
    "handler",
    "package",
    "ephemeralStorageSize",
    "runtime",
    "build",
    "memorySize",
    "timeout",
    "environment",
    "reservedConcurrency",
    "provisionedConcurrency",
    "allowedOutboundHosts",
    "events",
    "maximumRetryAttempts",
    "maximumEventAge",
    "destinations",
    "onError",
];
const EVENT_TYPES: &[&str] = &["httpApi", "sqs", "sns", "schedule", "eventBridge"];
const HTTP_API_KEYS: &[&str] = &["method", "path"];
const METHOD_NAMES: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY", "*",
];

/// The runtime named `name` in a manifest, if supported: `wasm`,
/// `python3.<minor>`, `nodejs<major>.x`, `provided`, `provided.al2` or
/// `provided.al2023`. Process runtimes run the host's interpreter whatever
/// minor version is named; the spelling is kept for `AWS_EXECUTION_ENV`.
pub fn parse_runtime(name: &str) -> Option<RuntimeKind> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if name == "wasm" {
        Some(RuntimeKind::Wasm)
    } else if name.strip_prefix("python3.").is_some_and(digits) {
        Some(RuntimeKind::Python)
    } else if name
        .strip_prefix("nodejs")
        .and_then(|rest| rest.strip_suffix(".x"))
        .is_some_and(digits)
    {
        Some(RuntimeKind::Nodejs)
    } else if matches!(name, "provided" | "provided.al2" | "provided.al2023") {
        Some(RuntimeKind::Provided)
    } else {
        None
    }
}

/// The manifest spelling of a runtime (its family for process runtimes).
pub fn runtime_name(kind: RuntimeKind) -> &'static str {
    RUNTIMES
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("unknown", |(n, _)| n)
}

/// The accepted `memorySize` range of a runtime, in MB.
pub fn memory_limits(kind: RuntimeKind) -> RangeInclusive<u32> {
    match kind {
        RuntimeKind::Wasm => MIN_MEMORY_MB..=MAX_WASM_MEMORY_MB,
        RuntimeKind::Python | RuntimeKind::Nodejs | RuntimeKind::Provided => {
            MIN_PROCESS_MEMORY_MB..=MAX_PROCESS_MEMORY_MB
        }
    }
}

/// A 1-based position in the manifest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A parsed, validated manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// The service name.
    pub service: String,
    /// The functions, in file order; never empty.
    pub functions: Vec<ManifestFunction>,
}

/// One function of a manifest, with the provider defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManifestFunction {
    /// The function name (its key under `functions`).
    pub name: String,
    /// Where the name is.
    pub name_at: Location,
    /// wasm: path of the component, relative to the manifest's directory, as
    /// written. Process runtimes: the Lambda handler (`module.function`;
    /// empty when a `provided` function names none).
    pub handler: String,
    /// Where the handler value is (the function's name when absent).
    pub handler_at: Location,
    /// Process runtimes: the code, a directory or a `.zip` relative to the
    /// manifest's directory (default `.`, the manifest's directory).
    pub package: Option<String>,
    /// Where the package value is (the function's name when absent).
    pub package_at: Location,
    /// The runtime as written, e.g. `python3.11` (process runtimes).
    pub runtime_version: Option<String>,
    /// Size of `/tmp` in MB (process runtimes; default 512).
    pub ephemeral_storage: Option<u32>,
    /// Shell command that builds the artifact, run in the manifest's
    /// directory.
    pub build: Option<String>,
    /// Where the build command is, if any.
    pub build_at: Option<Location>,
    /// The runtime.
    pub runtime: RuntimeKind,
    /// Memory in MB.
    pub memory_size: u32,
    /// Timeout in seconds.
    pub timeout: f64,
    /// Environment variables, provider's merged under the function's.
    pub environment: BTreeMap<String, String>,
    /// Reserved concurrency; `Some(0)` disables the function.
    pub reserved_concurrency: Option<u32>,
    /// Instances kept warm.
    pub provisioned_concurrency: u32,
    /// Hosts the function may connect to.
    pub allowed_outbound_hosts: Vec<String>,
    /// HTTP routes with where each `httpApi` event is.
    pub routes: Vec<(HttpRoute, Location)>,
    /// Queue, topic, schedule and event-bus triggers.
    pub events: crate::EventSources,
    /// Asynchronous invocation: retries, age, destinations, DLQ.
    pub async_config: crate::AsyncConfig,
}

impl ManifestFunction {
    /// The deployable configuration of this function, given the SHA-256
    /// (lower-case hex) of its uploaded artifact.
    pub fn to_config(&self, artifact_sha256: &str) -> FunctionConfig {
        FunctionConfig {
            name: self.name.clone(),
            runtime: self.runtime,
            artifact: artifact_sha256.to_string(),
            memory_size: self.memory_size,
            timeout: self.timeout,
            environment: self.environment.clone(),
            reserved_concurrency: self.reserved_concurrency,
            provisioned_concurrency: self.provisioned_concurrency,
            allowed_outbound_hosts: self.allowed_outbound_hosts.clone(),
            routes: self.routes.iter().map(|(r, _)| r.clone()).collect(),
            runtime_version: self.runtime_version.clone(),
            handler: (self.runtime.is_process() && !self.handler.is_empty())
                .then(|| self.handler.clone()),
            ephemeral_storage: self.ephemeral_storage,
            events: self.events.clone(),
            async_config: self.async_config.clone(),
        }
    }

    /// What holds the function's code, relative to the manifest's
    /// directory: the component (wasm) or the package (process runtimes).
    pub fn code_path(&self) -> &str {
        if self.runtime.is_process() {
            self.package.as_deref().unwrap_or(".")
        } else {
            &self.handler
        }
    }
}

/// A manifest error at a position: `stratus.yaml:3:5: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ManifestError {
    /// The file name given to [`parse_manifest`].
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// What is wrong, without the position.
    pub message: String,
}

impl ManifestError {
    /// An error in `file` at `at`.
    pub fn new(file: &str, at: Location, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line: at.line,
            column: at.column,
            message: message.into(),
        }
    }

    /// The position of the error.
    pub fn location(&self) -> Location {
        Location {
            line: self.line,
            column: self.column,
        }
    }
}

type Result<T> = std::result::Result<T, ManifestError>;

/// Parses and validates a manifest. `file_name` is used in errors only.
pub fn parse_manifest(file_name: &str, source: &str) -> Result<Manifest> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    Parser {
        file: file_name,
        source,
    }
    .manifest()
}

/// Checks, after the build commands ran, that every function's code exists:
/// the handler of wasm functions, the package of process functions. `exists`
/// receives each path as written in the manifest ([`ManifestFunction::code_path`]).
pub fn check_handlers(file_name: &str, m: &Manifest, exists: impl Fn(&str) -> bool) -> Result<()> {
    for f in &m.functions {
        if f.runtime.is_process() {
            let package = f.code_path();
            if !exists(package) {
                return Err(ManifestError::new(
                    file_name,
                    f.package_at,
                    format!(
                        "package `{package}` of function `{}` does not exist (a directory or a .zip, relative to the manifest's directory)",
                        f.name
                    ),
                ));
            }
            continue;
        }
        if !exists(&f.handler) {
            let hint = if f.build.is_some() {
                "did the build succeed?"
            } else {
                "the path is relative to the manifest's directory"
            };
            return Err(ManifestError::new(
                file_name,
                f.handler_at,
                format!(
                    "handler `{}` of function `{}` does not exist ({hint})",
                    f.handler, f.name
                ),
            ));
        }
    }
    Ok(())
}

/// Provider-level defaults, with where each was written.
#[derive(Default)]
struct Defaults {
    runtime: Option<(RuntimeKind, String, Location)>,
    memory: Option<(i128, Location)>,
    timeout: Option<(f64, Location)>,
    environment: BTreeMap<String, String>,
}

/// Where a route was first defined, for duplicate detection.
struct RouteSite {
    function: String,
    route_key: String,
    at: Location,
}

struct Parser<'a> {
    file: &'a str,
    /// The manifest text, without a byte order mark.
    source: &'a str,
}

impl Parser<'_> {
    /// An error at `at`, moved inside the file if the parser placed it past
    /// the end.
    fn err(&self, at: Location, message: impl Into<String>) -> ManifestError {
        ManifestError::new(self.file, clamp(at, self.source), message)
    }

    /// Where item `index` of `list` is. The parser places an empty item
    /// (`-` with nothing after it) at the next token, so for those find the
    /// item's `-`: in a block sequence, the `index`-th line from the
    /// sequence's start with a `-` indicator in the sequence's column.
    fn item_location(
        &self,
        list: &MarkedSequenceNode,
        index: usize,
        fallback: Location,
    ) -> Location {
        let start = list.span().start().map(|m| yaml::marker_location(Some(m)));
        let Some(item) = list.get(index) else {
            return start.unwrap_or(fallback);
        };
        if !is_empty_null(item) {
            return node_location(item).unwrap_or(fallback);
        }
        let Some(start) = start else {
            return fallback;
        };
        let column = start.column;
        let is_indicator = |line: &str| {
            let mut chars = line.chars().skip(column - 1);
            line.chars().take(column - 1).all(|c| c == ' ')
                && chars.next() == Some('-')
                && chars.next().is_none_or(char::is_whitespace)
        };
        self.source
            .split('\n')
            .enumerate()
            .skip(start.line - 1)
            .filter(|(_, line)| is_indicator(line))
            .nth(index)
            .map_or(start, |(n, _)| Location {
                line: n + 1,
                column,
            })
    }

    fn manifest(&self) -> Result<Manifest> {
        let source = self.source;
        let options = LoaderOptions::default()
            .error_on_duplicate_keys(true)
            .prevent_coercion(true);
        // The loader has `unreachable!()`s; a bad manifest must not crash us.
        let loaded =
            std::panic::catch_unwind(|| marked_yaml::parse_yaml_with_options(0, source, options))
                .map_err(|_| {
                self.err(
                    Location { line: 1, column: 1 },
                    "the YAML parser failed on this file",
                )
            })?;
        let root = loaded.map_err(|e| self.load_error(e))?;
        let Some(root) = root.as_mapping() else {
            return Err(self.err(
                Location { line: 1, column: 1 },
                "the top level of the manifest must be a mapping",
            ));
        };
        self.root(root)
    }

    fn load_error(&self, e: LoadError) -> ManifestError {
        let at = |m: &marked_yaml::Marker| yaml::marker_location(Some(m));
        match e {
            LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => self.err(
                at(&m),
                "the top level of the manifest must be a mapping with `service` and `functions`",
            ),
            LoadError::UnexpectedAnchor(m) => {
                self.err(at(&m), "YAML anchors and aliases are not supported")
            }
            LoadError::MappingKeyMustBeScalar(m) => {
                self.err(at(&m), "mapping keys must be plain strings")
            }
            LoadError::UnexpectedTag(m) => self.err(at(&m), "YAML tags are not supported"),
            LoadError::ScanError(m, scan) => {
                self.err(at(&m), format!("invalid YAML: {}", scan.info()))
            }
            LoadError::DuplicateKey(inner) => {
                let first = key_location(&inner.prev_key);
                self.err(
                    key_location(&inner.key),
                    format!(
                        "duplicate key `{}`; it is already defined at {}:{first}",
                        inner.key.as_str(),
                        self.file
                    ),
                )
            }
        }
    }

    fn unknown_key(&self, key: &MarkedScalarNode, context: &str, valid: &[&str]) -> ManifestError {
        self.err(
            key_location(key),
            format!(
                "unknown key `{}` {context}; {}",
                key.as_str(),
                suggestion_or_list(key.as_str(), valid, "valid keys are")
            ),
        )
    }

    fn root(&self, root: &MarkedMappingNode) -> Result<Manifest> {
        let root_at = root
            .iter()
            .next()
            .map_or(Location { line: 1, column: 1 }, |(k, _)| key_location(k));
        if root.is_empty() {
            return Err(self.err(
                Location { line: 1, column: 1 },
                "the manifest is empty; it needs at least `service` and `functions`",
            ));
        }
        let mut service = None;
        let mut provider = None;
        let mut functions = None;
        for (key, value) in root.iter() {
            match key.as_str() {
                "service" => service = Some((key, value)),
                "provider" => provider = Some((key, value)),
                "functions" => functions = Some((key, value)),
                _ => return Err(self.unknown_key(key, "at the top level", TOP_KEYS)),
            }
        }
        let Some((service_key, service_value)) = service else {
            return Err(self.err(root_at, "missing required key `service` at the top level"));
        };
        let service = self.non_empty_string(service_key, service_value)?;
        if !valid_service_name(&service) {
            return Err(self.err(
                value_location(service_key, service_value),
                format!(
                    "invalid service name `{}`: use a letter, then letters, digits, `-` or `_`, at most 64 characters",
                    service
                ),
            ));
        }
        let defaults = match provider {
            Some((key, value)) => self.provider(key, value)?,
            None => Defaults::default(),
        };
        let Some((functions_key, functions_value)) = functions else {
            return Err(self.err(root_at, "missing required key `functions` at the top level"));
        };
        let functions = self.functions(functions_key, functions_value, &defaults)?;
        Ok(Manifest { service, functions })
    }

    fn provider(&self, key: &MarkedScalarNode, value: &Node) -> Result<Defaults> {
        let mut defaults = Defaults::default();
        let map = match value {
            Node::Mapping(m) => m,
            Node::Scalar(s) if classify(s) == Scalar::Null => return Ok(defaults),
            other => {
                return Err(self.err(
                    value_location(key, value),
                    format!("`provider` must be a mapping, found {}", describe(other)),
                ));
            }
        };
        for (k, v) in map.iter() {
            match k.as_str() {
                "name" => {
                    self.string(k, v)?;
                }
                "runtime" => defaults.runtime = Some(self.runtime(k, v)?),
                "memorySize" => defaults.memory = Some(self.memory(k, v)?),
                "timeout" => defaults.timeout = Some(self.timeout(k, v)?),
                "environment" => defaults.environment = self.environment(k, v)?,
                _ => return Err(self.unknown_key(k, "in `provider`", PROVIDER_KEYS)),
            }
        }
        Ok(defaults)
    }

    fn functions(
        &self,
        key: &MarkedScalarNode,
        value: &Node,
        defaults: &Defaults,
    ) -> Result<Vec<ManifestFunction>> {
        let map = match value {
            Node::Mapping(m) => m,
            Node::Scalar(s) if classify(s) == Scalar::Null => {
                return Err(self.empty_functions(key));
            }
            other => {
                return Err(self.err(
                    value_location(key, value),
                    format!(
                        "`functions` must be a mapping of function names to definitions, found {}",
                        describe(other)
                    ),
                ));
            }
        };
        if map.is_empty() {
            return Err(self.empty_functions(key));
        }
        let mut functions = Vec::new();
        let mut routes: HashMap<(String, String), RouteSite> = HashMap::new();
        for (name, body) in map.iter() {
            let function = self.function(name, body, defaults)?;
            for (route, at) in &function.routes {
                let route_key = route::route_key(&route.method, &route.path);
                let canonical = RoutePattern::parse(&route.path)
                    .map(|p| p.canonical())
                    .unwrap_or_else(|_| route.path.clone());
                let slot = (route.method.clone(), canonical);
                if let Some(first) = routes.get(&slot) {
                    let same_spelling = if first.route_key == route_key {
                        String::new()
                    } else {
                        format!(" as `{}`", first.route_key)
                    };
                    return Err(self.err(
                        *at,
                        format!(
                            "duplicate route `{route_key}`: already defined{same_spelling} for function `{}` at {}:{}",
                            first.function, self.file, first.at
                        ),
                    ));
                }
                routes.insert(
                    slot,
                    RouteSite {
                        function: function.name.clone(),
                        route_key,
                        at: *at,
                    },
                );
            }
            functions.push(function);
        }
        Ok(functions)
    }

    fn empty_functions(&self, key: &MarkedScalarNode) -> ManifestError {
        self.err(
            key_location(key),
            "`functions` is empty; define at least one function",
        )
    }

    fn function(
        &self,
        name_key: &MarkedScalarNode,
        body: &Node,
        defaults: &Defaults,
    ) -> Result<ManifestFunction> {
        let name = name_key.as_str().to_string();
        let name_at = key_location(name_key);
        if !valid_function_name(&name) {
            return Err(self.err(
                name_at,
                format!("invalid function name `{name}`: use 1 to 64 letters, digits, `-` or `_`"),
            ));
        }
        let map = match body {
            Node::Mapping(m) if !m.is_empty() => m,
            Node::Mapping(_) => {
                return Err(self.err(
                    name_at,
                    format!("missing required key `handler` in function `{name}`"),
                ));
            }
            Node::Scalar(s) if classify(s) == Scalar::Null => {
                return Err(self.err(
                    name_at,
                    format!("function `{name}` has no definition; it needs at least `handler`"),
                ));
            }
            other => {
                return Err(self.err(
                    value_location(name_key, body),
                    format!(
                        "function `{name}` must be a mapping with at least `handler`, found {}",
                        describe(other)
                    ),
                ));
            }
        };
        let context = format!("in function `{name}`");
        let mut handler = None;
        let mut build = None;
        let mut runtime = None;
        let mut memory = None;
        let mut timeout = None;
        let mut environment = None;
        let mut reserved = None;
        let mut provisioned = None;
        let mut hosts = Vec::new();
        let mut routes = Vec::new();
        let mut package = None;
        let mut storage = None;
        let mut sources = crate::EventSources::default();
        let mut async_config = crate::AsyncConfig::default();
        for (k, v) in map.iter() {
            match k.as_str() {
                "handler" => {
                    handler = Some((self.non_empty_string(k, v)?, value_location(k, v)));
                }
                "package" => package = Some(self.package(k, v)?),
                "ephemeralStorageSize" => storage = Some(self.storage(k, v)?),
                "build" => build = Some((self.non_empty_string(k, v)?, value_location(k, v))),
                "runtime" => runtime = Some(self.runtime(k, v)?),
                "memorySize" => memory = Some(self.memory(k, v)?),
                "timeout" => timeout = Some(self.timeout(k, v)?),
                "environment" => environment = Some(self.environment(k, v)?),
                "reservedConcurrency" => reserved = Some(self.concurrency(k, v)?),
                "provisionedConcurrency" => provisioned = Some(self.concurrency(k, v)?),
                "allowedOutboundHosts" => hosts = self.hosts(k, v)?,
                "events" => (routes, sources) = self.events(&name, k, v)?,
                "maximumRetryAttempts" | "maximumEventAge" | "destinations" | "onError" => {
                    self.async_setting(&name, k, v, &mut async_config)?
                }
                _ => return Err(self.unknown_key(k, &context, FUNCTION_KEYS)),
            }
        }
        let function_at = node_location(body).unwrap_or(name_at);
        let (runtime, spelling, _) = runtime.or_else(|| defaults.runtime.clone()).unwrap_or((
            RuntimeKind::Wasm,
            "wasm".to_string(),
            name_at,
        ));
        let (handler, handler_at) = match handler {
            Some(found) => found,
            None if runtime == RuntimeKind::Provided => (String::new(), name_at),
            None => {
                let hint = if runtime.is_process() {
                    " (the Lambda handler, e.g. `app.handler`)"
                } else {
                    " (the path of the component)"
                };
                return Err(self.err(
                    function_at,
                    format!("missing required key `handler` in function `{name}`{hint}"),
                ));
            }
        };
        if matches!(runtime, RuntimeKind::Python | RuntimeKind::Nodejs)
            && !valid_lambda_handler(&handler)
        {
            return Err(self.err(
                handler_at,
                format!(
                    "handler `{handler}` of function `{name}` must be `module.function` for runtime `{spelling}`, e.g. `app.handler` or `src/index.handler`"
                ),
            ));
        }
        if !runtime.is_process() {
            let misplaced = package
                .as_ref()
                .map(|(_, at)| ("package", *at))
                .or(storage.map(|(_, at)| ("ephemeralStorageSize", at)));
            if let Some((key, at)) = misplaced {
                return Err(self.err(
                    at,
                    format!(
                        "`{key}` applies to Lambda runtimes (python3.x, nodejsNN.x, provided); function `{name}` runs on `wasm`, whose code is its `handler`"
                    ),
                ));
            }
        }
        let memory_size = match memory.or(defaults.memory) {
            Some((mb, at)) => self.check_memory(mb, at, runtime, &spelling)?,
            None => DEFAULT_MEMORY_MB,
        };
        let timeout = timeout
            .or(defaults.timeout)
            .map_or(DEFAULT_TIMEOUT_SECS, |(t, _)| t);
        let mut env = defaults.environment.clone();
        env.extend(environment.unwrap_or_default());
        if let (Some((r, r_at)), Some((p, p_at))) = (reserved, provisioned)
            && p > r
        {
            return Err(self.err(
                p_at,
                format!(
                    "`provisionedConcurrency` ({p}) must not exceed `reservedConcurrency` ({r}, at {}:{r_at})",
                    self.file
                ),
            ));
        }
        let process = runtime.is_process();
        Ok(ManifestFunction {
            name,
            name_at,
            handler,
            handler_at,
            package_at: package.as_ref().map_or(name_at, |(_, at)| *at),
            package: package.map(|(p, _)| p),
            runtime_version: process.then_some(spelling),
            ephemeral_storage: process
                .then(|| storage.map_or(DEFAULT_EPHEMERAL_STORAGE_MB, |(mb, _)| mb)),
            build_at: build.as_ref().map(|(_, at)| *at),
            build: build.map(|(b, _)| b),
            runtime,
            memory_size,
            timeout,
            environment: env,
            reserved_concurrency: reserved.map(|(r, _)| r),
            provisioned_concurrency: provisioned.map_or(0, |(p, _)| p),
            allowed_outbound_hosts: hosts,
            routes,
            events: sources,
            async_config,
        })
    }

    // ----- typed values -------------------------------------------------

    /// A string; a number is taken as written, a boolean is refused.
    fn string(&self, key: &MarkedScalarNode, value: &Node) -> Result<String> {
        match value {
            Node::Scalar(s) if !matches!(classify(s), Scalar::Null | Scalar::Bool(_)) => {
                Ok(s.as_str().to_string())
            }
            other => Err(self.err(
                value_location(key, value),
                format!(
                    "`{}` must be a string, found {}",
                    key.as_str(),
                    describe(other)
                ),
            )),
        }
    }

    fn non_empty_string(&self, key: &MarkedScalarNode, value: &Node) -> Result<String> {
        let s = self.string(key, value)?;
        if s.trim().is_empty() {
            return Err(self.err(
                value_location(key, value),
                format!("`{}` must not be empty", key.as_str()),
            ));
        }
        Ok(s)
    }

    /// An integer; `what` completes "`key` must be …".
    fn integer(
        &self,
        key: &MarkedScalarNode,
        value: &Node,
        what: &str,
    ) -> Result<(i128, Location)> {
        let at = value_location(key, value);
        match value {
            Node::Scalar(s) => match classify(s) {
                Scalar::Int(i) => Ok((i, at)),
                _ => Err(self.err(
                    at,
                    format!(
                        "`{}` must be {what}, found {}",
                        key.as_str(),
                        describe(value)
                    ),
                )),
            },
            other => Err(self.err(
                at,
                format!(
                    "`{}` must be {what}, found {}",
                    key.as_str(),
                    describe(other)
                ),
            )),
        }
    }

    fn memory(&self, key: &MarkedScalarNode, value: &Node) -> Result<(i128, Location)> {
        self.integer(key, value, "an integer number of MB")
    }

    fn check_memory(
        &self,
        mb: i128,
        at: Location,
        runtime: RuntimeKind,
        spelling: &str,
    ) -> Result<u32> {
        let limits = memory_limits(runtime);
        match u32::try_from(mb) {
            Ok(mb) if limits.contains(&mb) => Ok(mb),
            _ => Err(self.err(
                at,
                format!(
                    "`memorySize` must be between {} and {} MB for runtime `{}`, found {mb}",
                    limits.start(),
                    limits.end(),
                    spelling
                ),
            )),
        }
    }

    fn timeout(&self, key: &MarkedScalarNode, value: &Node) -> Result<(f64, Location)> {
        let at = value_location(key, value);
        let seconds = match value {
            Node::Scalar(s) => match classify(s) {
                Scalar::Int(i) => Some(i as f64),
                Scalar::Float(f) => Some(f),
                _ => None,
            },
            _ => None,
        };
        let Some(seconds) = seconds else {
            return Err(self.err(
                at,
                format!(
                    "`timeout` must be a number of seconds, found {}",
                    describe(value)
                ),
            ));
        };
        if !(seconds > 0.0 && seconds <= MAX_TIMEOUT_SECS) {
            let written = value.as_scalar().map_or("?", |s| s.as_str());
            return Err(self.err(
                at,
                format!(
                    "`timeout` must be more than 0 and at most {MAX_TIMEOUT_SECS} seconds, found {written}"
                ),
            ));
        }
        Ok((seconds, at))
    }

    fn concurrency(&self, key: &MarkedScalarNode, value: &Node) -> Result<(u32, Location)> {
        let (n, at) = self.integer(key, value, "a non-negative integer")?;
        u32::try_from(n).map(|n| (n, at)).map_err(|_| {
            self.err(
                at,
                format!(
                    "`{}` must be between 0 and {}, found {n}",
                    key.as_str(),
                    u32::MAX
                ),
            )
        })
    }

    /// `package: dir`, `package: code.zip`, or Serverless's
    /// `package: {artifact: code.zip}`.
    fn package(&self, key: &MarkedScalarNode, value: &Node) -> Result<(String, Location)> {
        if let Node::Mapping(map) = value {
            let mut artifact = None;
            for (k, v) in map.iter() {
                match k.as_str() {
                    "artifact" => {
                        artifact = Some((self.non_empty_string(k, v)?, value_location(k, v)))
                    }
                    _ => return Err(self.unknown_key(k, "in `package`", &["artifact"])),
                }
            }
            return artifact.ok_or_else(|| {
                self.err(
                    value_location(key, value),
                    "`package` needs `artifact`: a directory or a .zip with the function's code",
                )
            });
        }
        Ok((
            self.non_empty_string(key, value)?,
            value_location(key, value),
        ))
    }

    fn storage(&self, key: &MarkedScalarNode, value: &Node) -> Result<(u32, Location)> {
        let (mb, at) = self.integer(key, value, "an integer number of MB")?;
        let range = MIN_EPHEMERAL_STORAGE_MB..=MAX_EPHEMERAL_STORAGE_MB;
        match u32::try_from(mb) {
            Ok(mb) if range.contains(&mb) => Ok((mb, at)),
            _ => Err(self.err(
                at,
                format!(
                    "`ephemeralStorageSize` must be between {} and {} MB, found {mb}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    fn runtime(
        &self,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> Result<(RuntimeKind, String, Location)> {
        let name = self.string(key, value)?;
        let at = value_location(key, value);
        match parse_runtime(&name) {
            Some(kind) => Ok((kind, name, at)),
            None => {
                let supported: Vec<&str> = RUNTIMES.iter().map(|(n, _)| *n).collect();
                Err(self.err(
                    at,
                    format!(
                        "runtime `{name}` is not supported; supported runtimes: {}",
                        supported.join(", ")
                    ),
                ))
            }
        }
    }

    fn environment(
        &self,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> Result<BTreeMap<String, String>> {
        let map = match value {
            Node::Mapping(m) => m,
            Node::Scalar(s) if classify(s) == Scalar::Null => return Ok(BTreeMap::new()),
            other => {
                return Err(self.err(
                    value_location(key, value),
                    format!(
                        "`environment` must be a mapping of variable names to values, found {}",
                        describe(other)
                    ),
                ));
            }
        };
        let mut env = BTreeMap::new();
        for (k, v) in map.iter() {
            let name = k.as_str();
            if !valid_env_name(name) {
                return Err(self.err(
                    key_location(k),
                    format!(
                        "invalid environment variable name `{name}`: use a letter, then letters, digits or `_`"
                    ),
                ));
            }
            let text = match v {
                Node::Scalar(s) if classify(s) == Scalar::Null => {
                    return Err(self.err(
                        key_location(k),
                        format!(
                            "environment variable `{name}` has no value; write `{name}: \"\"` for an empty string"
                        ),
                    ));
                }
                Node::Scalar(s) => s.as_str().to_string(),
                other => {
                    return Err(self.err(
                        value_location(k, v),
                        format!(
                            "environment variable `{name}` must be a string, number or boolean, found {}",
                            describe(other)
                        ),
                    ));
                }
            };
            env.insert(name.to_string(), text);
        }
        Ok(env)
    }

    fn hosts(&self, key: &MarkedScalarNode, value: &Node) -> Result<Vec<String>> {
        let list = match value {
            Node::Sequence(l) => l,
            Node::Scalar(s) if classify(s) == Scalar::Null => return Ok(Vec::new()),
            other => {
                return Err(self.err(
                    value_location(key, value),
                    format!(
                        "`allowedOutboundHosts` must be a list of hosts, found {}",
                        describe(other)
                    ),
                ));
            }
        };
        let mut hosts = Vec::new();
        for (index, item) in list.iter().enumerate() {
            let at = self.item_location(list, index, key_location(key));
            let host = match item {
                Node::Scalar(s) if classify(s) != Scalar::Null => s.as_str(),
                other => {
                    return Err(self.err(
                        at,
                        format!(
                            "each entry of `allowedOutboundHosts` must be a host name, found {}",
                            describe(other)
                        ),
                    ));
                }
            };
            if !valid_host_pattern(host) {
                return Err(self.err(
                    at,
                    format!(
                        "invalid host {} in `allowedOutboundHosts`: expected `host`, `host:port`, `*.domain` or `*`, without scheme or path",
                        quote(host)
                    ),
                ));
            }
            hosts.push(host.to_string());
        }
        Ok(hosts)
    }

    // ----- events -------------------------------------------------------

    fn events(
        &self,
        function: &str,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> Result<(Vec<(HttpRoute, Location)>, crate::EventSources)> {
        let list = match value {
            Node::Sequence(l) => l,
            Node::Scalar(s) if classify(s) == Scalar::Null => {
                return Ok((Vec::new(), crate::EventSources::default()));
            }
            other => {
                return Err(self.err(
                    value_location(key, value),
                    format!(
                        "`events` must be a list (each item like `- httpApi: GET /path`), found {}",
                        describe(other)
                    ),
                ));
            }
        };
        let mut routes = Vec::new();
        let mut sources = crate::EventSources::default();
        for (index, item) in list.iter().enumerate() {
            let at = self.item_location(list, index, key_location(key));
            let map = match item {
                Node::Mapping(m) if !m.is_empty() => m,
                other => {
                    return Err(self.err(
                        at,
                        format!(
                            "each event must be a mapping naming its type, like `- httpApi: GET /path`, found {}",
                            describe(other)
                        ),
                    ));
                }
            };
            let mut entries = map.iter();
            let Some((kind, body)) = entries.next() else {
                continue;
            };
            if let Some((extra, _)) = entries.next() {
                let hint = if HTTP_API_KEYS.contains(&extra.as_str()) {
                    format!(
                        "; should `{}` be indented under `{}`?",
                        extra.as_str(),
                        kind.as_str()
                    )
                } else {
                    String::new()
                };
                return Err(self.err(
                    key_location(extra),
                    format!(
                        "unexpected key `{}`: an event has exactly one key, its type (here `{}`){hint}",
                        extra.as_str(),
                        kind.as_str()
                    ),
                ));
            }
            match kind.as_str() {
                "httpApi" => routes.push(self.http_api(function, kind, body)?),
                "sqs" => sources
                    .sqs
                    .push(self.sqs_source(function, None, kind, body)?),
                "sns" => sources.sns.push(self.sns_source(function, kind, body)?),
                "schedule" => sources
                    .schedules
                    .extend(self.schedule_sources(function, kind, body)?),
                "eventBridge" => sources
                    .event_bridge
                    .push(self.bus_source(function, kind, body)?),
                other => {
                    return Err(self.err(
                        key_location(kind),
                        format!(
                            "unknown event type `{other}` in function `{function}`; {}",
                            suggestion_or_list(other, EVENT_TYPES, "supported event types are")
                        ),
                    ));
                }
            }
        }
        Ok((routes, sources))
    }

    fn http_api(
        &self,
        function: &str,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> Result<(HttpRoute, Location)> {
        let at = value_location(key, value);
        let shape = "`httpApi` must be `METHOD /path`, `*`, or a mapping with `method` and `path`";
        match value {
            Node::Scalar(s) if classify(s) != Scalar::Null => {
                let text = s.as_str().trim();
                if text == route::CATCH_ALL_PATH {
                    let route = HttpRoute {
                        method: route::ANY_METHOD.to_string(),
                        path: route::CATCH_ALL_PATH.to_string(),
                    };
                    return Ok((route, at));
                }
                let parts: Vec<&str> = text.split_whitespace().collect();
                let [method, path] = parts[..] else {
                    let hint = match parts[..] {
                        [path] if path.starts_with('/') => {
                            format!("; add a method, e.g. `GET {path}` or `ANY {path}`")
                        }
                        [_, path, ..] if path.starts_with('/') => {
                            "; the path must not contain spaces".to_string()
                        }
                        _ => String::new(),
                    };
                    return Err(self.err(at, format!("{shape}, found {}{hint}", describe(value))));
                };
                let path_at = shorthand_path_location(s, at, path);
                let route = self.route(function, method, at, path, path_at)?;
                Ok((route, at))
            }
            Node::Mapping(map) => {
                let mut method = None;
                let mut path = None;
                for (k, v) in map.iter() {
                    match k.as_str() {
                        "method" => method = Some((self.string(k, v)?, value_location(k, v))),
                        "path" => path = Some((self.string(k, v)?, value_location(k, v))),
                        _ => {
                            return Err(self.unknown_key(
                                k,
                                &format!("in the `httpApi` event of function `{function}`"),
                                HTTP_API_KEYS,
                            ));
                        }
                    }
                }
                let missing = |what: &str| {
                    self.err(
                        at,
                        format!(
                            "missing required key `{what}` in the `httpApi` event of function `{function}`"
                        ),
                    )
                };
                let (method, method_at) = method.ok_or_else(|| missing("method"))?;
                let (path, path_at) = path.ok_or_else(|| missing("path"))?;
                let route = self.route(function, &method, method_at, &path, path_at)?;
                Ok((route, at))
            }
            other => Err(self.err(at, format!("{shape}, found {}", describe(other)))),
        }
    }

    fn route(
        &self,
        function: &str,
        method: &str,
        method_at: Location,
        path: &str,
        path_at: Location,
    ) -> Result<HttpRoute> {
        let Some(method) = route::normalize_method(method) else {
            return Err(self.err(
                method_at,
                format!(
                    "invalid HTTP method `{method}` in function `{function}`; {}",
                    suggestion_or_list(method, METHOD_NAMES, "expected one of")
                ),
            ));
        };
        let pattern = RoutePattern::parse(path).map_err(|e| {
            let reason = match e {
                RouteError::Invalid { reason, .. } => reason,
                other => other.to_string(),
            };
            self.err(
                path_at,
                format!("invalid path `{path}` in function `{function}`: {reason}"),
            )
        })?;
        if pattern.is_catch_all() && method != route::ANY_METHOD {
            return Err(self.err(
                path_at,
                format!(
                    "the catch-all path `*` takes every method; use the method `*` (or write `httpApi: '*'`), not `{method}`"
                ),
            ));
        }
        Ok(HttpRoute {
            method: method.to_string(),
            path: path.to_string(),
        })
    }
}

/// The scanner reports errors at the end of a file without a final newline
/// one line past the last; such positions move to the end of the last line.
fn clamp(at: Location, source: &str) -> Location {
    let lines: Vec<&str> = source.split('\n').collect();
    match lines.get(at.line.saturating_sub(1)) {
        Some(line) if at.column <= line.chars().count() + 1 => at,
        Some(line) => Location {
            line: at.line,
            column: line.chars().count() + 1,
        },
        None => Location {
            line: lines.len(),
            column: lines.last().map_or(0, |l| l.chars().count()) + 1,
        },
    }
}

/// Where `path` starts inside the shorthand scalar `s` starting at `at`:
/// exact for one-line scalars, else the scalar's start.
fn shorthand_path_location(s: &MarkedScalarNode, at: Location, path: &str) -> Location {
    let text = s.as_str();
    if text.contains('\n') {
        return at;
    }
    let Some(byte) = text.rfind(path) else {
        return at;
    };
    let quote = usize::from(!s.may_coerce());
    Location {
        line: at.line,
        column: at.column + quote + text[..byte].chars().count(),
    }
}

/// Lambda's rule: 1 to 64 of `[A-Za-z0-9_-]` ([`crate::names::function_name`]).
pub fn valid_function_name(name: &str) -> bool {
    crate::names::function_name(name).is_ok()
}

/// A Lambda handler for Python and Node.js: `module.function`, where the
/// module may have a directory part (`src/app.handler`).
fn valid_lambda_handler(handler: &str) -> bool {
    let Some((module, function)) = handler.rsplit_once('.') else {
        return false;
    };
    let is_ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    !module.is_empty()
        && !module.starts_with('/')
        && !module
            .split('/')
            .any(|part| part.is_empty() || part == "..")
        && !handler.chars().any(char::is_whitespace)
        && is_ident(function)
}

/// A letter, then letters, digits, `-` or `_`; at most 64 characters.
pub fn valid_service_name(name: &str) -> bool {
    name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `[A-Za-z][A-Za-z0-9_]*`.
pub fn valid_env_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `*`, or a host with an optional `*.` prefix and an optional `:port`; the
/// host is a DNS name, an IPv4 address or a bracketed IPv6 address.
pub fn valid_host_pattern(entry: &str) -> bool {
    if entry == "*" {
        return true;
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        let v6_ok = v6.contains(':')
            && v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if !v6_ok {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => return valid_port(port),
                None => return false,
            },
        }
    } else {
        match entry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (entry, None),
        }
    };
    if port.is_some_and(|p| !valid_port(p)) {
        return false;
    }
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let cases = [
            ("example.com", true),
            ("127.0.0.1:8080", true),
            ("*.example.org", true),
            ("*.example.org:443", true),
            ("*", true),
            ("[::1]:8080", true),
            ("[::1]", true),
            ("localhost", true),
            ("https://example.com", false),
            ("example.com/path", false),
            ("example.com:0", false),
            ("example.com:99999", false),
            ("example.com:", false),
            ("a..b", false),
            ("-a.com", false),
            ("*.", false),
            ("", false),
            ("ex ample.com", false),
            ("[::1", false),
            ("[zz]:1", false),
            ("a:1:2", false),
        ];
        for (entry, ok) in cases {
            assert_eq!(valid_host_pattern(entry), ok, "{entry}");
        }
    }

    #[test]
    fn names() {
        let functions = [
            ("hello", true),
            ("a-b_c9", true),
            ("", false),
            ("my.fn", false),
            ("héllo", false),
        ];
        for (name, ok) in functions {
            assert_eq!(valid_function_name(name), ok, "{name}");
        }
        assert!(valid_function_name(&"a".repeat(64)));
        assert!(!valid_function_name(&"a".repeat(65)));
        let env = [
            ("A", true),
            ("LOG_LEVEL", true),
            ("a1_", true),
            ("_A", false),
            ("1A", false),
            ("A-B", false),
            ("", false),
        ];
        for (name, ok) in env {
            assert_eq!(valid_env_name(name), ok, "{name}");
        }
    }

    #[test]
    fn runtimes_round_trip() {
        for (name, kind) in RUNTIMES {
            // Families are listed by their pattern; the others parse as is.
            if !name.contains(".x") {
                assert_eq!(parse_runtime(name), Some(*kind));
            }
        }
        assert_eq!(parse_runtime("python3.12"), Some(RuntimeKind::Python));
        assert_eq!(parse_runtime("nodejs20.x"), Some(RuntimeKind::Nodejs));
        assert_eq!(parse_runtime("python2.7"), None);
        assert_eq!(parse_runtime("nodejs"), None);
        assert_eq!(parse_runtime("java21"), None);
    }
}
