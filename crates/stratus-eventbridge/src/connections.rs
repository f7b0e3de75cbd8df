//! Connections and API destinations: HTTP endpoints rules deliver to.
//!
//! A connection holds how to authorize: `API_KEY` (a header of the key's
//! name with its value), `BASIC` (`Authorization: Basic …`) or
//! `OAUTH_CLIENT_CREDENTIALS` (stored and described; Stratus does not fetch
//! tokens, so such a connection stays `AUTHORIZING` and its API
//! destinations `INACTIVE`, and nothing is delivered through them). Its
//! `InvocationHttpParameters` add headers and query parameters to every
//! request. Secrets are stored with the connection and never described.
//!
//! An API destination is an endpoint, a method and a connection. A rule's
//! target naming one gets the (transformed) event as the request body
//! through the outbox (`targets.rs`): `Content-Type: application/json;
//! charset=utf-8`, `User-Agent: Amazon/EventBridge/ApiDestinations`, the
//! connection's auth header and parameters, the target's `HttpParameters`
//! (headers, query string, and values for the endpoint's `*` path
//! wildcards), a five-second timeout, retried as `targets.rs` says.

use crate::backend::{ApiDestinationRecord, ConnectionRecord};
use crate::targets::{Attempt, TargetParams, retriable_status};
use crate::{EventBridge, ServiceError, now_ms};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use stratus_core::arn::Arn;
use stratus_core::scope::ResourceScope;

/// The authorization types.
pub const AUTH_TYPES: &[&str] = &["BASIC", "OAUTH_CLIENT_CREDENTIALS", "API_KEY"];
/// The methods of API destinations.
pub const HTTP_METHODS: &[&str] = &["HEAD", "POST", "PATCH", "DELETE", "PUT", "GET", "OPTIONS"];
/// `InvocationRateLimitPerSecond` when not given (AWS's default).
pub const DEFAULT_RATE_LIMIT: u32 = 300;
/// The pattern AWS checks a connection ARN against, as its message shows it.
const CONNECTION_ARN_PATTERN: &str = "^arn:aws([a-z]|\\-)*:events:([a-z]|\\d|\\-)*:([0-9]{12})?:connection\\/[\\.\\-_A-Za-z0-9]+\\/[\\-A-Za-z0-9]+$";
/// The pattern of connection and API destination names.
const NAME_PATTERN: &str = "[\\.\\-_A-Za-z0-9]+";

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("ValidationException", message)
}

/// The validation errors of one request, reported together as AWS does.
#[derive(Default)]
pub struct Violations(Vec<String>);

impl Violations {
    /// Records that `value` at `field` breaks `constraint`.
    pub fn add(&mut self, value: &str, field: &str, constraint: &str) {
        self.0.push(format!(
            "Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A name's violations: AWS's pattern and length.
    pub fn name(&mut self, name: &str, max: usize) {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        {
            self.add(
                name,
                "name",
                &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
            );
        }
        if name.len() > max {
            self.add(
                name,
                "name",
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// `value` must be one of `allowed`.
    pub fn one_of(&mut self, value: &str, field: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.add(
                value,
                field,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// `N validation error(s) detected: …`, if any.
    pub fn check(self) -> Result<(), ServiceError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(invalid(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(invalid(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

fn connection_not_found(name: &str) -> ServiceError {
    let name = crate::bus::bare(name);
    ServiceError::not_found(
        "ResourceNotFoundException",
        format!("Failed to describe the connection(s). Connection '{name}' does not exist."),
    )
}

fn destination_not_found(name: &str) -> ServiceError {
    let name = crate::bus::bare(name);
    ServiceError::not_found(
        "ResourceNotFoundException",
        format!(
            "Failed to describe the api-destination(s). An api-destination '{name}' does not exist."
        ),
    )
}

fn already_exists(e: ServiceError) -> ServiceError {
    if e.kind == crate::ErrorKind::Conflict {
        ServiceError::new(e.kind, "ResourceAlreadyExistsException", e.message)
    } else {
        e
    }
}

/// A connection's ARN.
pub fn connection_arn(c: &ConnectionRecord) -> String {
    let (scope, name) = ResourceScope::of_key(&c.name);
    Arn::connection(&scope, name, &c.id).to_string()
}

/// An API destination's ARN.
pub fn destination_arn(d: &ApiDestinationRecord) -> String {
    let (scope, name) = ResourceScope::of_key(&d.name);
    Arn::api_destination(&scope, name, &d.id).to_string()
}

/// The ARN of the secret AWS keeps a connection's credentials in.
pub fn secret_arn(c: &ConnectionRecord) -> String {
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(c.name.as_bytes()));
    let suffix = &digest[..6];
    let (scope, name) = ResourceScope::of_key(&c.name);
    format!(
        "arn:{}:secretsmanager:{}:{}:secret:events!connection/{}/{}-{suffix}",
        scope.partition(),
        scope.region,
        stratus_core::function::ACCOUNT_ID,
        name,
        c.id
    )
}

/// `AuthParameters` as described: without the secrets.
pub fn public_auth(c: &ConnectionRecord) -> Value {
    let Ok(Value::Object(auth)) = serde_json::from_str::<Value>(&c.auth) else {
        return json!({});
    };
    let mut out = Map::new();
    if let Some(basic) = auth.get("BasicAuthParameters") {
        out.insert(
            "BasicAuthParameters".into(),
            json!({"Username": basic.get("Username").cloned().unwrap_or(Value::Null)}),
        );
    }
    if let Some(key) = auth.get("ApiKeyAuthParameters") {
        out.insert(
            "ApiKeyAuthParameters".into(),
            json!({"ApiKeyName": key.get("ApiKeyName").cloned().unwrap_or(Value::Null)}),
        );
    }
    if let Some(oauth) = auth.get("OAuthParameters") {
        let mut o = Map::new();
        for k in ["AuthorizationEndpoint", "HttpMethod", "OAuthHttpParameters"] {
            if let Some(v) = oauth.get(k) {
                o.insert(k.into(), hide_secrets(v));
            }
        }
        if let Some(id) = oauth.pointer("/ClientParameters/ClientID") {
            o.insert("ClientParameters".into(), json!({"ClientID": id}));
        }
        out.insert("OAuthParameters".into(), Value::Object(o));
    }
    if let Some(p) = auth.get("InvocationHttpParameters") {
        out.insert("InvocationHttpParameters".into(), hide_secrets(p));
    }
    Value::Object(out)
}

/// HTTP parameters (`{"HeaderParameters": [{"Key", "Value",
/// "IsValueSecret"}], …}`) without the values marked secret.
fn hide_secrets(params: &Value) -> Value {
    let Some(map) = params.as_object() else {
        return params.clone();
    };
    let mut out = Map::new();
    for (kind, list) in map {
        let items = list
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| {
                        let mut item = item.clone();
                        if item.get("IsValueSecret").and_then(Value::as_bool) == Some(true)
                            && let Some(o) = item.as_object_mut()
                        {
                            o.remove("Value");
                        }
                        item
                    })
                    .collect::<Vec<_>>()
            })
            .map(Value::Array)
            .unwrap_or_else(|| list.clone());
        out.insert(kind.clone(), items);
    }
    Value::Object(out)
}

/// `[{"Key": k, "Value": v}]` pairs of a connection's HTTP parameters.
fn key_values(params: Option<&Value>) -> Vec<(String, String)> {
    params
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    Some((
                        i.get("Key")?.as_str()?.to_string(),
                        i.get("Value")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The auth header a connection adds (API_KEY and BASIC), if any.
pub fn auth_header(c: &ConnectionRecord) -> Option<(String, String)> {
    let auth: Value = serde_json::from_str(&c.auth).ok()?;
    match c.auth_type.as_str() {
        "API_KEY" => {
            let p = auth.get("ApiKeyAuthParameters")?;
            Some((
                p.get("ApiKeyName")?.as_str()?.to_string(),
                p.get("ApiKeyValue")?.as_str()?.to_string(),
            ))
        }
        "BASIC" => {
            let p = auth.get("BasicAuthParameters")?;
            let user = p.get("Username")?.as_str()?;
            let password = p.get("Password")?.as_str()?;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Some(("Authorization".into(), format!("Basic {token}")))
        }
        _ => None,
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL of a request: each `*` of the endpoint replaced by the next
/// path value, then the query parameters.
pub fn request_url(endpoint: &str, path: &[String], query: &[(String, String)]) -> String {
    let mut values = path.iter();
    let mut url = String::with_capacity(endpoint.len());
    for c in endpoint.chars() {
        if c == '*'
            && let Some(v) = values.next()
        {
            url.push_str(&encode(v));
        } else {
            url.push(c);
        }
    }
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        let pairs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        url.push_str(&pairs.join("&"));
    }
    url
}

/// A connection to create.
pub struct NewConnection {
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// `AuthorizationType`.
    pub auth_type: String,
    /// `AuthParameters`.
    pub auth: Value,
}

/// An API destination to create.
pub struct NewApiDestination {
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// `ConnectionArn`.
    pub connection_arn: String,
    /// `InvocationEndpoint`.
    pub endpoint: String,
    /// `HttpMethod`.
    pub method: String,
    /// `InvocationRateLimitPerSecond`.
    pub rate_limit: Option<u32>,
}

/// Checks that `AuthParameters` has what the authorization type needs.
fn check_auth(auth_type: &str, auth: &Value) -> Result<(), ServiceError> {
    let (member, fields): (&str, &[&str]) = match auth_type {
        "BASIC" => ("BasicAuthParameters", &["Username", "Password"]),
        "API_KEY" => ("ApiKeyAuthParameters", &["ApiKeyName", "ApiKeyValue"]),
        _ => ("OAuthParameters", &["AuthorizationEndpoint", "HttpMethod"]),
    };
    let Some(params) = auth.get(member).filter(|v| v.is_object()) else {
        return Err(invalid(format!(
            "The authorization type {auth_type} requires {member} in AuthParameters."
        )));
    };
    for field in fields {
        if !params.get(*field).is_some_and(Value::is_string) {
            return Err(invalid(format!(
                "The authorization type {auth_type} requires {member}.{field}."
            )));
        }
    }
    if auth_type == "OAUTH_CLIENT_CREDENTIALS"
        && !params
            .pointer("/ClientParameters/ClientID")
            .is_some_and(Value::is_string)
    {
        return Err(invalid(format!(
            "The authorization type {auth_type} requires {member}.ClientParameters."
        )));
    }
    Ok(())
}

impl EventBridge {
    /// CreateConnection.
    pub async fn create_connection(
        &self,
        new: NewConnection,
    ) -> Result<ConnectionRecord, ServiceError> {
        let mut v = Violations::default();
        v.name(&new.name, 64);
        v.one_of(&new.auth_type, "authorizationType", AUTH_TYPES);
        v.check()?;
        check_auth(&new.auth_type, &new.auth)?;
        let now = now_ms();
        let authorized = new.auth_type != "OAUTH_CLIENT_CREDENTIALS";
        let record = ConnectionRecord {
            name: self.key_of(&new.name, "name")?,
            id: uuid::Uuid::new_v4().to_string(),
            description: new.description,
            auth_type: new.auth_type,
            auth: new.auth.to_string(),
            state: if authorized {
                "AUTHORIZED"
            } else {
                "AUTHORIZING"
            }
            .into(),
            created_ms: now,
            modified_ms: now,
            // AWS describes a LastAuthorizedTime from the start, OAuth too.
            authorized_ms: Some(now),
        };
        let stored = record.clone();
        self.backend
            .create_connection(&stored)
            .await
            .map_err(crate::backend_error("creating a connection"))
            .map_err(already_exists)?;
        Ok(record)
    }

    /// DescribeConnection.
    pub async fn describe_connection(&self, name: &str) -> Result<ConnectionRecord, ServiceError> {
        let lookup = self.key_of(name, "name")?;
        self.backend
            .connection(&lookup)
            .await
            .map_err(crate::backend_error("reading a connection"))?
            .ok_or_else(|| connection_not_found(name))
    }

    /// ListConnections.
    pub async fn list_connections(
        &self,
        prefix: &str,
        state: Option<&str>,
    ) -> Result<Vec<ConnectionRecord>, ServiceError> {
        let prefix = self.key_prefix(prefix);
        let mut list = self
            .backend
            .connections(&prefix)
            .await
            .map_err(crate::backend_error("listing connections"))?;
        list.retain(|c| self.in_scope(&c.name));
        if let Some(state) = state {
            list.retain(|c| c.state == state);
        }
        Ok(list)
    }

    /// DeleteConnection: the connection as it was.
    pub async fn delete_connection(&self, name: &str) -> Result<ConnectionRecord, ServiceError> {
        let lookup = self.key_of(name, "name")?;
        self.backend
            .delete_connection(&lookup)
            .await
            .map_err(crate::backend_error("deleting a connection"))?
            .ok_or_else(|| connection_not_found(name))
    }

    /// CreateApiDestination.
    pub async fn create_api_destination(
        &self,
        new: NewApiDestination,
    ) -> Result<(ApiDestinationRecord, String), ServiceError> {
        let mut v = Violations::default();
        v.name(&new.name, 64);
        let connection = new
            .connection_arn
            .parse::<Arn>()
            .ok()
            .and_then(|arn| arn.as_connection().ok().map(|(n, _)| arn.regional_key(n)));
        if connection.is_none() {
            v.add(
                &new.connection_arn,
                "connectionArn",
                &format!(
                    "Member must satisfy regular expression pattern: {CONNECTION_ARN_PATTERN}"
                ),
            );
        }
        v.one_of(&new.method, "httpMethod", HTTP_METHODS);
        if let Some(limit) = new.rate_limit
            && limit == 0
        {
            v.add(
                &limit.to_string(),
                "invocationRateLimitPerSecond",
                "Member must have value greater than or equal to 1",
            );
        }
        v.check()?;
        // The connection is named by its key: the service's own call.
        let connection = self
            .unscoped()
            .describe_connection(connection.as_deref().unwrap_or_default())
            .await?;
        let now = now_ms();
        let record = ApiDestinationRecord {
            name: self.key_of(&new.name, "name")?,
            id: uuid::Uuid::new_v4().to_string(),
            description: new.description,
            connection_arn: connection_arn(&connection),
            endpoint: new.endpoint,
            method: new.method,
            rate_limit: new.rate_limit,
            created_ms: now,
            modified_ms: now,
        };
        let stored = record.clone();
        self.backend
            .create_api_destination(&stored)
            .await
            .map_err(crate::backend_error("creating an API destination"))
            .map_err(already_exists)?;
        Ok((record, destination_state(&connection).into()))
    }

    /// DescribeApiDestination, with its state.
    pub async fn describe_api_destination(
        &self,
        name: &str,
    ) -> Result<(ApiDestinationRecord, String), ServiceError> {
        let lookup = self.key_of(name, "name")?;
        let record = self
            .backend
            .api_destination(&lookup)
            .await
            .map_err(crate::backend_error("reading an API destination"))?
            .ok_or_else(|| destination_not_found(name))?;
        let state = self.destination_state(&record).await?;
        Ok((record, state))
    }

    /// ListApiDestinations, with their states.
    pub async fn list_api_destinations(
        &self,
        prefix: &str,
        connection_arn: Option<&str>,
    ) -> Result<Vec<(ApiDestinationRecord, String)>, ServiceError> {
        let (prefix, arn) = (self.key_prefix(prefix), connection_arn.map(str::to_string));
        let list = self
            .backend
            .api_destinations(&prefix, arn.as_deref())
            .await
            .map_err(crate::backend_error("listing API destinations"))?;
        let mut out = Vec::with_capacity(list.len());
        for d in list.into_iter().filter(|d| self.in_scope(&d.name)) {
            let state = self.destination_state(&d).await?;
            out.push((d, state));
        }
        Ok(out)
    }

    /// DeleteApiDestination.
    pub async fn delete_api_destination(&self, name: &str) -> Result<(), ServiceError> {
        let lookup = self.key_of(name, "name")?;
        let deleted = self
            .backend
            .delete_api_destination(&lookup)
            .await
            .map_err(crate::backend_error("deleting an API destination"))?;
        if deleted {
            Ok(())
        } else {
            Err(destination_not_found(name))
        }
    }

    /// The connection an API destination uses, if it still exists.
    async fn connection_of(
        &self,
        d: &ApiDestinationRecord,
    ) -> Result<Option<ConnectionRecord>, ServiceError> {
        let Some(name) = d
            .connection_arn
            .parse::<Arn>()
            .ok()
            .and_then(|arn| arn.as_connection().ok().map(|(n, _)| arn.regional_key(n)))
        else {
            return Ok(None);
        };
        let id = d.connection_arn.clone();
        Ok(self
            .backend
            .connection(&name)
            .await
            .map_err(crate::backend_error("reading a connection"))?
            .filter(|c| connection_arn(c) == id))
    }

    async fn destination_state(&self, d: &ApiDestinationRecord) -> Result<String, ServiceError> {
        Ok(match self.connection_of(d).await? {
            Some(c) => destination_state(&c).into(),
            None => "INACTIVE".into(),
        })
    }

    /// One attempt at delivering `payload` to API destination `name`.
    pub(crate) async fn call_api_destination(
        &self,
        agent: &ureq::Agent,
        name: &str,
        payload: String,
        params: &TargetParams,
    ) -> Attempt {
        let lookup = name.to_string();
        let destination = match self
            .backend
            .api_destination(&lookup)
            .await
            .map_err(crate::backend_error("reading an API destination"))
        {
            Ok(Some(d)) => d,
            Ok(None) => return Attempt::GiveUp(format!("API destination {name} does not exist")),
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let connection = match self.connection_of(&destination).await {
            Ok(Some(c)) if c.state == "AUTHORIZED" => c,
            Ok(Some(c)) => {
                return Attempt::GiveUp(format!(
                    "the connection {} of API destination {name} is {}",
                    c.name, c.state
                ));
            }
            Ok(None) => {
                return Attempt::GiveUp(format!(
                    "the connection of API destination {name} does not exist"
                ));
            }
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let auth: Value = serde_json::from_str(&connection.auth).unwrap_or_default();
        let invocation = auth.get("InvocationHttpParameters");
        let mut query = key_values(invocation.and_then(|p| p.get("QueryStringParameters")));
        query.extend(params.query.iter().cloned());
        let url = request_url(&destination.endpoint, &params.path, &query);
        let mut headers = vec![
            (
                "Content-Type".to_string(),
                "application/json; charset=utf-8".to_string(),
            ),
            (
                "User-Agent".to_string(),
                "Amazon/EventBridge/ApiDestinations".to_string(),
            ),
        ];
        headers.extend(key_values(
            invocation.and_then(|p| p.get("HeaderParameters")),
        ));
        headers.extend(params.headers.iter().cloned());
        headers.extend(auth_header(&connection));
        let method = destination.method.clone();
        let agent = agent.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut request = http::Request::builder().method(method.as_str()).uri(&url);
            for (k, v) in &headers {
                request = request.header(k.as_str(), v.as_str());
            }
            let sent = if matches!(method.as_str(), "GET" | "HEAD") {
                request.body(()).map(|r| agent.run(r))
            } else {
                request.body(payload).map(|r| agent.run(r))
            };
            match sent {
                Ok(Ok(response)) => Ok(response.status().as_u16()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(format!("invalid request: {e}")),
            }
        })
        .await
        .unwrap_or_else(|join| Err(join.to_string()));
        match outcome {
            Ok(status) if (200..300).contains(&status) => Attempt::Done,
            Ok(status) if retriable_status(status) => Attempt::Retry(format!("status {status}")),
            Ok(status) => Attempt::GiveUp(format!("status {status}")),
            Err(e) if e.starts_with("invalid request") => Attempt::GiveUp(e),
            Err(e) => Attempt::Retry(e),
        }
    }
}

/// An API destination is `ACTIVE` while its connection is authorized.
fn destination_state(c: &ConnectionRecord) -> &'static str {
    if c.state == "AUTHORIZED" {
        "ACTIVE"
    } else {
        "INACTIVE"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(auth_type: &str, auth: Value) -> ConnectionRecord {
        ConnectionRecord {
            name: "c".into(),
            id: "0b7c-9f".into(),
            description: None,
            auth_type: auth_type.into(),
            auth: auth.to_string(),
            state: "AUTHORIZED".into(),
            created_ms: 0,
            modified_ms: 0,
            authorized_ms: Some(0),
        }
    }

    #[test]
    fn auth_headers_and_what_is_described() {
        let key = connection(
            "API_KEY",
            json!({"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
                   "InvocationHttpParameters": {"HeaderParameters": [
                       {"Key": "x-open", "Value": "1", "IsValueSecret": false},
                       {"Key": "x-hidden", "Value": "2", "IsValueSecret": true}]}}),
        );
        assert_eq!(
            auth_header(&key),
            Some(("x-api-key".to_string(), "s3cret".to_string()))
        );
        assert_eq!(
            public_auth(&key),
            json!({"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key"},
                   "InvocationHttpParameters": {"HeaderParameters": [
                       {"Key": "x-open", "Value": "1", "IsValueSecret": false},
                       {"Key": "x-hidden", "IsValueSecret": true}]}})
        );
        let basic = connection(
            "BASIC",
            json!({"BasicAuthParameters": {"Username": "user", "Password": "pass"}}),
        );
        assert_eq!(
            auth_header(&basic),
            Some((
                "Authorization".to_string(),
                "Basic dXNlcjpwYXNz".to_string()
            ))
        );
        assert_eq!(
            public_auth(&basic),
            json!({"BasicAuthParameters": {"Username": "user"}})
        );
        let oauth = connection(
            "OAUTH_CLIENT_CREDENTIALS",
            json!({"OAuthParameters": {"AuthorizationEndpoint": "https://a/t", "HttpMethod": "POST",
                   "ClientParameters": {"ClientID": "id", "ClientSecret": "secret"}}}),
        );
        assert_eq!(auth_header(&oauth), None);
        assert_eq!(
            public_auth(&oauth),
            json!({"OAuthParameters": {"AuthorizationEndpoint": "https://a/t", "HttpMethod": "POST",
                   "ClientParameters": {"ClientID": "id"}}})
        );
    }

    #[test]
    fn urls_take_path_values_and_query_parameters() {
        assert_eq!(
            request_url(
                "http://h/orders/*/items/*",
                &["a b".into(), "7".into()],
                &[("q".into(), "x&y".into())]
            ),
            "http://h/orders/a%20b/items/7?q=x%26y"
        );
        assert_eq!(
            request_url("http://h/p?a=1", &[], &[("b".into(), "2".into())]),
            "http://h/p?a=1&b=2"
        );
        assert_eq!(request_url("http://h/*", &[], &[]), "http://h/*");
    }

    #[test]
    fn violations_are_reported_together() {
        let mut v = Violations::default();
        v.name("Invalid Name!", 64);
        assert_eq!(
            v.check().map_err(|e| e.message),
            Err("1 validation error detected: Value 'Invalid Name!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+".to_string())
        );
        let mut v = Violations::default();
        v.add("x", "connectionArn", "c1");
        v.one_of("INVALID", "httpMethod", HTTP_METHODS);
        assert_eq!(
            v.check().map_err(|e| e.message),
            Err("2 validation errors detected: Value 'x' at 'connectionArn' failed to satisfy constraint: c1; Value 'INVALID' at 'httpMethod' failed to satisfy constraint: Member must satisfy enum value set: [HEAD, POST, PATCH, DELETE, PUT, GET, OPTIONS]".to_string())
        );
        assert!(Violations::default().check().is_ok());
    }
}
