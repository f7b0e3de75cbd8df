//! AWS Signature Version 4 (`AWS4-HMAC-SHA256` in the `Authorization`
//! header): signing for clients and verification for servers. Pure: the
//! caller supplies the time and looks up secrets.
//!
//! The canonical request is built as botocore builds it for services other
//! than S3: the canonical URI is the raw path as sent, dot segments removed,
//! URI-encoded once more except `/` and `~`; the query string is decoded and
//! re-encoded with RFC 3986's unreserved set and sorted; headers are
//! lower-cased, trimmed, with runs of spaces collapsed; the payload hash is
//! `x-amz-content-sha256` if present, else the body's SHA-256.
//!
//! S3 differs in one rule: its canonical URI is the path as sent, decoded
//! and encoded once, with no dot-segment removal ([`s3_canonical_uri`]).
//!
//! Besides the header form, this module verifies presigned URLs
//! ([`parse_request`], [`verify_request`]), payloads whose hash is only
//! declared ([`PayloadHasher`]) and `aws-chunked` bodies, signed chunk by
//! chunk or not, with trailing checksums ([`ChunkDecoder`],
//! [`AwsChunkedBody`]). All of it is sans-IO: the caller passes the clock,
//! the secret and the bytes.

mod body;
mod chunked;
mod presign;
mod request;

pub use body::{AwsChunkedBody, AwsChunkedError};
pub use chunked::{
    ChunkDecoder, ChunkSigner, MAX_CHUNK_LINE, MAX_TRAILERS, StreamingMode, Trailers,
    unsigned_chunk, unsigned_final_chunk,
};
pub use request::{
    PayloadCheck, PayloadHasher, SignedRequest, canonical_request_of, parse_request, scope_of,
    verify_request,
};

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};

/// The only algorithm supported.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// `x-amz-date`'s format (`20150830T123600Z`).
pub const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// How far a request's time may be from the server's (AWS: 15 minutes).
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// The longest a presigned URL may be valid (`X-Amz-Expires`): 7 days.
pub const MAX_PRESIGN_EXPIRES: u64 = 7 * 24 * 60 * 60;
/// The payload hash of a request whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `aws-chunked` body, every chunk signed.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `aws-chunked` body, every chunk and the trailers signed.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `aws-chunked` body, chunks not signed, trailers (checksums) follow.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// The SHA-256 of nothing.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Why a request's signature was refused. The caller maps these to the
/// protocol's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    Missing,
    /// The header or a required part is malformed (AWS: `IncompleteSignature`).
    #[error("{0}")]
    Incomplete(String),
    /// The access key id is not known.
    #[error("The security token included in the request is invalid.")]
    UnknownKey(String),
    /// The credential scope names another region or service, or a date
    /// other than the request's.
    #[error("{0}")]
    BadScope(String),
    /// The request's time is more than 15 minutes from the server's
    /// (`Signature expired: ...` or `Signature not yet current: ...`).
    #[error("{0}")]
    Expired(String),
    /// The signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
    /// The body's SHA-256 is not the `x-amz-content-sha256` the request
    /// declared and signed (S3: `XAmzContentSHA256Mismatch`, 400).
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// A trailing checksum does not match the data (S3: `BadDigest`, 400),
    /// e.g. `The CRC32 you specified did not match the calculated checksum.`
    #[error("{0}")]
    BadDigest(String),
    /// The body ended early, or its decoded length is not the declared
    /// `x-amz-decoded-content-length` (S3: `IncompleteBody`, 400).
    #[error("{0}")]
    IncompleteBody(String),
    /// The `aws-chunked` framing is malformed: a chunk header, a missing
    /// CRLF, a trailer (S3: `InvalidRequest`, 400).
    #[error("{0}")]
    MalformedBody(String),
    /// A header that drives verification has a value this layer does not
    /// support: `x-amz-content-sha256`, `x-amz-trailer`,
    /// `x-amz-decoded-content-length` (S3: `InvalidArgument`, 400).
    #[error("{0}")]
    InvalidArgument(String),
}

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id.
    pub key_id: String,
    /// The scope's date, `YYYYMMDD`.
    pub date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service.
    pub service: String,
    /// Signed header names, lower case, as listed.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

impl Authorization {
    /// `20150830/us-east-1/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=...`.
pub fn parse_authorization(value: &str) -> Result<Authorization, SigV4Error> {
    let value = value.trim();
    let Some(rest) = value.strip_prefix(ALGORITHM) else {
        let algorithm = value.split_whitespace().next().unwrap_or("");
        return Err(SigV4Error::Incomplete(format!(
            "Unsupported authorization type `{algorithm}`; only {ALGORITHM} is accepted"
        )));
    };
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            return Err(SigV4Error::Incomplete(format!(
                "Authorization header requires each component to be of the form key=value: `{part}`"
            )));
        };
        match name.trim() {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed_headers = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            _ => {}
        }
    }
    let missing: Vec<&str> = [
        ("Credential", credential.is_none()),
        ("SignedHeaders", signed_headers.is_none()),
        ("Signature", signature.is_none()),
    ]
    .into_iter()
    .filter(|(_, missing)| *missing)
    .map(|(name, _)| name)
    .collect();
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "Authorization header requires '{}' parameter(s). Authorization={value}",
            missing.join("', '")
        )));
    }
    let (credential, signed_headers, signature) = (
        credential.unwrap_or_default(),
        signed_headers.unwrap_or_default(),
        signature.unwrap_or_default(),
    );
    let [key_id, date, region, service] = parse_credential(credential)?;
    check_signature(signature)?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    Ok(Authorization {
        key_id: key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: signature.to_ascii_lowercase(),
    })
}

/// Splits `AKID/20150830/us-east-1/service/aws4_request` into key id, date,
/// region and service, checking the terminator and the date's form.
pub(crate) fn parse_credential(credential: &str) -> Result<[&str; 4], SigV4Error> {
    let fields: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, terminator] = fields[..] else {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should have the form <key id>/<date>/<region>/<service>/aws4_request, not `{credential}`"
        )));
    };
    if terminator != "aws4_request" {
        return Err(SigV4Error::BadScope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    if key_id.is_empty() {
        return Err(SigV4Error::Incomplete(
            "Credential has no access key id".into(),
        ));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::Incomplete(format!(
            "Credential date `{date}` is not of the form YYYYMMDD"
        )));
    }
    Ok([key_id, date, region, service])
}

pub(crate) fn check_signature(signature: &str) -> Result<(), SigV4Error> {
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SigV4Error::Incomplete(
            "Signature should be 64 hexadecimal digits".into(),
        ));
    }
    Ok(())
}

pub(crate) fn parse_signed_headers(signed_headers: &str) -> Result<Vec<String>, SigV4Error> {
    let signed_headers: Vec<String> = signed_headers
        .split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if signed_headers.is_empty() {
        return Err(SigV4Error::Incomplete("SignedHeaders is empty".into()));
    }
    Ok(signed_headers)
}

/// One request to sign or verify. `path` and `query` are as sent on the
/// wire (still percent-encoded; `query` without the `?`).
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The raw path, e.g. `/2015-03-31/functions/f%3Aprod/invocations`.
    pub path: &'a str,
    /// The raw query string, possibly empty.
    pub query: &'a str,
    /// The request's headers (must include `host`).
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> RequestInfo<'a> {
    /// From an `http` request's parts and body.
    pub fn from_parts(parts: &'a http::request::Parts, body: &'a [u8]) -> RequestInfo<'a> {
        RequestInfo {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body,
        }
    }
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key: HMAC chain of `AWS4<secret>`, date, region, service,
/// `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Percent-encodes everything but RFC 3986's unreserved characters (and
/// `/` when `keep_slash`).
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn percent_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Removes `.` and `..` segments (RFC 3986 5.2.4), as botocore's
/// `normalize_url_path` does.
fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "." | "" => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut normalized = format!("/{}", out.join("/"));
    if path.ends_with('/') && normalized != "/" {
        normalized.push('/');
    }
    normalized
}

/// The canonical URI: the raw path, normalized and encoded once more.
pub fn canonical_uri(raw_path: &str) -> String {
    uri_encode(remove_dot_segments(raw_path).as_bytes(), true)
}

/// S3's canonical URI: the path as sent, each segment decoded and
/// URI-encoded once (so `$` becomes `%24`, `%20` stays, an encoded `/`
/// stays `%2F`), with no dot-segment removal and no second encoding.
pub fn s3_canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".into();
    }
    raw_path
        .split('/')
        .map(|segment| uri_encode(&percent_decode(segment), false))
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical URI under the rule of `service`: S3's for `s3`,
/// botocore's for every other service.
pub fn canonical_uri_for(service: &str, raw_path: &str) -> String {
    if service == "s3" {
        s3_canonical_uri(raw_path)
    } else {
        canonical_uri(raw_path)
    }
}

/// The canonical query string: pairs decoded, re-encoded, sorted.
pub fn canonical_query(raw_query: &str) -> String {
    canonical_query_without(raw_query, None)
}

/// The canonical query string without the parameter named `skip` (a
/// presigned URL's `X-Amz-Signature`).
pub(crate) fn canonical_query_without(raw_query: &str, skip: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|pair| {
            skip.is_none_or(|skip| {
                let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
                percent_decode(key) != skip.as_bytes()
            })
        })
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(key), false),
                uri_encode(&percent_decode(value), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The canonical request for `signed_headers` (lower case, sorted or not)
/// and a payload hash.
pub fn canonical_request(
    request: &RequestInfo<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    build_canonical_request(
        request.method,
        &canonical_uri(request.path),
        &canonical_query(request.query),
        request.headers,
        None,
        signed_headers,
        payload_hash,
    )
}

/// The canonical request from its already canonical URI and query.
/// `host_fallback` is the `host` value when `headers` has none (HTTP/2
/// carries it in the URI's authority).
pub(crate) fn build_canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &HeaderMap,
    host_fallback: Option<&str>,
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    let mut names: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = String::new();
    out.push_str(&method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(canonical_uri);
    out.push('\n');
    out.push_str(canonical_query);
    out.push('\n');
    for name in &names {
        out.push_str(name);
        out.push(':');
        match host_fallback {
            Some(host) if *name == "host" && !headers.contains_key(http::header::HOST) => {
                out.push_str(host)
            }
            _ => out.push_str(&canonical_header_value(headers, name)),
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// The string to sign.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// An access key to sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub key_id: String,
    /// The secret access key.
    pub secret: String,
    /// The session token, for temporary credentials.
    pub session_token: Option<String>,
}

/// Signs requests with one key for one region and service.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The key.
    pub credentials: Credentials,
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The service's signing name, e.g. `sqs`.
    pub service: String,
}

impl Signer {
    /// Signs a request to `uri` (absolute, or with `host` already in
    /// `headers`) as botocore does: sets `host` from the URI's authority,
    /// `x-amz-date`, `x-amz-security-token` (with a session token) and
    /// `authorization` in `headers`. Every header present is signed except
    /// `user-agent`, `expect` and `x-amzn-trace-id`.
    ///
    /// For the service `s3` it signs as botocore's S3 signer does: the
    /// canonical URI follows S3's rule ([`s3_canonical_uri`]) and
    /// `x-amz-content-sha256` is set to the body's hash unless present (set
    /// it beforehand to `UNSIGNED-PAYLOAD` or a `STREAMING-...` value; for
    /// the latter, [`Signer::chunk_signer`] then signs the chunks).
    pub fn sign(
        &self,
        method: &str,
        uri: &http::Uri,
        headers: &mut HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), http::header::InvalidHeaderValue> {
        let amz_date = now.format(AMZ_DATE_FORMAT).to_string();
        let date = &amz_date[..8];
        headers.remove(http::header::AUTHORIZATION);
        if let Some(host) = host_of(uri) {
            headers.insert(http::header::HOST, http::HeaderValue::from_str(host)?);
        }
        headers.insert("x-amz-date", http::HeaderValue::from_str(&amz_date)?);
        if let Some(token) = &self.credentials.session_token {
            headers.insert("x-amz-security-token", http::HeaderValue::from_str(token)?);
        }
        if self.service == "s3" && !headers.contains_key("x-amz-content-sha256") {
            headers.insert(
                "x-amz-content-sha256",
                http::HeaderValue::from_str(&sha256_hex(body))?,
            );
        }
        let payload_hash = match headers.get("x-amz-content-sha256") {
            Some(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
            None => sha256_hex(body),
        };
        let mut signed: Vec<String> = headers
            .keys()
            .map(|k| k.as_str().to_string())
            .filter(|k| !matches!(k.as_str(), "user-agent" | "expect" | "x-amzn-trace-id"))
            .collect();
        signed.sort();
        signed.dedup();
        let canonical = build_canonical_request(
            method,
            &canonical_uri_for(&self.service, uri.path()),
            &canonical_query(uri.query().unwrap_or("")),
            headers,
            None,
            &signed,
            &payload_hash,
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let to_sign = string_to_sign(&amz_date, &scope, &canonical);
        let key = signing_key(&self.credentials.secret, date, &self.region, &self.service);
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        let value = format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
            self.credentials.key_id,
            signed.join(";")
        );
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&value)?,
        );
        Ok(())
    }

    /// The signer of the chunks of an `aws-chunked` body whose request
    /// [`Signer::sign`] signed at `now` with the signature `seed_signature`
    /// (the `Signature=` of its `Authorization`).
    pub fn chunk_signer(&self, seed_signature: &str, now: DateTime<Utc>) -> ChunkSigner {
        let amz_date = now.format(AMZ_DATE_FORMAT).to_string();
        let key = signing_key(
            &self.credentials.secret,
            &amz_date[..8],
            &self.region,
            &self.service,
        );
        let scope = format!(
            "{}/{}/{}/aws4_request",
            &amz_date[..8],
            self.region,
            self.service
        );
        ChunkSigner::new(key, &amz_date, &scope, seed_signature)
    }
}

/// The `host` header for `uri`: its authority, without the scheme's
/// default port.
pub(crate) fn host_of(uri: &http::Uri) -> Option<&str> {
    let authority = uri.authority()?;
    Some(match (uri.scheme_str(), authority.port_u16()) {
        (Some("http"), Some(80)) | (Some("https"), Some(443)) => authority.host(),
        _ => authority.as_str(),
    })
}

/// What a verified request was signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The parsed `Authorization` header (its `key_id` signed the request).
    pub authorization: Authorization,
    /// The request's `x-amz-date`.
    pub amz_date: String,
}

/// Verifies a request's signature. `region` and `service` are what the
/// scope must name; `secret_for` returns the secret of a key id (or `None`
/// if unknown); `now` is the server's time.
///
/// The header form only, with the whole body in hand. For presigned URLs,
/// any region, declared or streamed payloads, see [`parse_request`] and
/// [`verify_request`].
pub fn verify(
    request: &RequestInfo<'_>,
    region: &str,
    service: &str,
    now: DateTime<Utc>,
    secret_for: impl FnOnce(&str) -> Option<String>,
) -> Result<Verified, SigV4Error> {
    let header = request
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or(SigV4Error::Missing)?;
    let header = header
        .to_str()
        .map_err(|_| SigV4Error::Incomplete("Authorization header is not ASCII".into()))?;
    let authorization = parse_authorization(header)?;
    let amz_date = request
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            SigV4Error::Incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                    .into(),
            )
        })?
        .to_string();
    let request_time = parse_amz_date(&amz_date)?;
    check_skew(&amz_date, request_time, now)?;
    if authorization.date != amz_date[..8] {
        return Err(SigV4Error::BadScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            authorization.date,
            &amz_date[..8]
        )));
    }
    if authorization.region != region {
        return Err(SigV4Error::BadScope(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            authorization.region
        )));
    }
    if authorization.service != service {
        return Err(SigV4Error::BadScope(format!(
            "Credential should be scoped to correct service: '{service}'. "
        )));
    }
    if !authorization.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::Incomplete(
            "'Host' must be a signed header".into(),
        ));
    }
    let body_hash = sha256_hex(request.body);
    let payload_hash = match request.headers.get("x-amz-content-sha256") {
        Some(value) => {
            let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
            if value != body_hash {
                return Err(SigV4Error::Mismatch);
            }
            value
        }
        None => body_hash,
    };
    let secret = secret_for(&authorization.key_id)
        .ok_or_else(|| SigV4Error::UnknownKey(authorization.key_id.clone()))?;
    let canonical = build_canonical_request(
        request.method,
        &canonical_uri_for(service, request.path),
        &canonical_query(request.query),
        request.headers,
        None,
        &authorization.signed_headers,
        &payload_hash,
    );
    let to_sign = string_to_sign(&amz_date, &authorization.scope(), &canonical);
    let key = signing_key(
        &secret,
        &authorization.date,
        &authorization.region,
        &authorization.service,
    );
    let expected = hex::encode(hmac(&key, to_sign.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), authorization.signature.as_bytes()) {
        return Err(SigV4Error::Mismatch);
    }
    Ok(Verified {
        authorization,
        amz_date,
    })
}

/// Parses an `x-amz-date` (`20150830T123600Z`).
pub(crate) fn parse_amz_date(amz_date: &str) -> Result<DateTime<Utc>, SigV4Error> {
    let parsed = if amz_date.len() == 16 {
        NaiveDateTime::parse_from_str(amz_date, AMZ_DATE_FORMAT).ok()
    } else {
        None
    };
    parsed.map(|t| t.and_utc()).ok_or_else(|| {
        SigV4Error::Incomplete(format!(
            "X-Amz-Date `{amz_date}` is not of the form YYYYMMDD'T'HHMMSS'Z'"
        ))
    })
}

/// Refuses a request time more than 15 minutes from `now`, with AWS's
/// messages.
pub(crate) fn check_skew(
    amz_date: &str,
    request_time: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), SigV4Error> {
    let skew = now.signed_duration_since(request_time).num_seconds();
    if skew.abs() <= MAX_SKEW_SECONDS {
        return Ok(());
    }
    let window = chrono::Duration::seconds(MAX_SKEW_SECONDS);
    let fmt = |t: DateTime<Utc>| t.format(AMZ_DATE_FORMAT).to_string();
    Err(SigV4Error::Expired(if skew > 0 {
        format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            fmt(now - window),
            fmt(now)
        )
    } else {
        format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            fmt(now + window),
            fmt(now)
        )
    }))
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn at(s: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(s, AMZ_DATE_FORMAT)
            .expect("test time")
            .and_utc()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        map
    }

    fn secrets(id: &str) -> Option<String> {
        (id == AKID).then(|| SECRET.to_string())
    }

    /// AWS's `get-vanilla` test-suite case (signature as botocore computes it).
    #[test]
    fn get_vanilla() {
        let now = at("20150830T123600Z");
        let mut map = HeaderMap::new();
        let creds = Credentials {
            key_id: AKID.into(),
            secret: SECRET.into(),
            session_token: None,
        };
        let signer = Signer {
            credentials: creds,
            region: "us-east-1".into(),
            service: "service".into(),
        };
        let uri: http::Uri = "https://example.amazonaws.com/".parse().expect("uri");
        signer.sign("GET", &uri, &mut map, b"", now).expect("sign");
        assert_eq!(
            map.get("authorization").and_then(|v| v.to_str().ok()),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
        let info = RequestInfo {
            method: "GET",
            path: "/",
            query: "",
            headers: &map,
            body: b"",
        };
        let verified = verify(&info, "us-east-1", "service", now, secrets).expect("verifies");
        assert_eq!(verified.authorization.key_id, AKID);
    }

    struct Case {
        method: &'static str,
        path: &'static str,
        query: &'static str,
        host: &'static str,
        service: &'static str,
        body: &'static str,
        headers: &'static [(&'static str, &'static str)],
        authorization: &'static str,
    }

    /// Requests signed by botocore 1.x (`SigV4Auth.add_auth` at
    /// 20150830T123600Z with the example key).
    const BOTOCORE: &[Case] = &[
        Case {
            method: "POST",
            path: "/",
            query: "",
            host: "127.0.0.1:9070",
            service: "sqs",
            body: "{}",
            headers: &[
                ("X-Amz-Target", "AmazonSQS.ListQueues"),
                ("Content-Type", "application/x-amz-json-1.0"),
            ],
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=43f68e8790cc44cac49c075d8f985cb9bc182a87bb6c7c2e3f32e4c2a2c20b55",
        },
        Case {
            method: "POST",
            path: "/",
            query: "",
            host: "127.0.0.1:9070",
            service: "sns",
            body: "Action=ListTopics&Version=2010-03-31",
            headers: &[
                (
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
                ("X-Amz-Security-Token", "FQoGZXIvYXdzEJr//////////wEaDOZ"),
            ],
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sns/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=5be2aa224b60417b1206e7b0614eab2117434c64f87d991e748f62b7bb907e61",
        },
        Case {
            method: "POST",
            path: "/2015-03-31/functions/my-fn%3Aprod/invocations",
            query: "",
            host: "127.0.0.1:9070",
            service: "lambda",
            body: "{\"a\": 1}",
            headers: &[("X-Amz-Invocation-Type", "Event")],
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date;x-amz-invocation-type, Signature=96ebf3ab8177e297f4365ecf6e7b792a71d2b867621aa80ef5f6b69d0ad7f3b2",
        },
        Case {
            method: "GET",
            path: "/path/with%20space/~user",
            query: "b=2&a=x%2Fy&a=1&empty=",
            host: "localhost:8080",
            service: "service",
            body: "",
            headers: &[("X-Amz-Meta", "  a   b  c ")],
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-meta, Signature=26ada30d78a2079cf5e9214cce8f7fb2aa7c681f62379e8bd57c9acc8d8cfd7b",
        },
    ];

    #[test]
    fn botocore_signed_requests_verify() {
        let now = at("20150830T123900Z");
        for case in BOTOCORE {
            let mut pairs = case.headers.to_vec();
            pairs.push(("Host", case.host));
            pairs.push(("X-Amz-Date", "20150830T123600Z"));
            pairs.push(("Authorization", case.authorization));
            pairs.push(("User-Agent", "Boto3/1.44.8"));
            let map = headers(&pairs);
            let info = RequestInfo {
                method: case.method,
                path: case.path,
                query: case.query,
                headers: &map,
                body: case.body.as_bytes(),
            };
            let verified = verify(&info, "us-east-1", case.service, now, secrets)
                .unwrap_or_else(|e| panic!("{} {}: {e}", case.method, case.path));
            assert_eq!(verified.authorization.key_id, AKID);

            // The same request with another body, secret, service or time fails.
            let tampered = RequestInfo {
                body: b"{\"other\":1}",
                ..info
            };
            assert_eq!(
                verify(&tampered, "us-east-1", case.service, now, secrets),
                Err(SigV4Error::Mismatch)
            );
            let wrong = verify(&info, "us-east-1", case.service, now, |_| {
                Some("wrong".into())
            });
            assert_eq!(wrong, Err(SigV4Error::Mismatch));
            let unknown = verify(&info, "us-east-1", case.service, now, |_| None);
            assert_eq!(unknown, Err(SigV4Error::UnknownKey(AKID.into())));
            assert!(matches!(
                verify(&info, "us-east-1", "other", now, secrets),
                Err(SigV4Error::BadScope(_))
            ));
            assert!(matches!(
                verify(&info, "eu-west-1", case.service, now, secrets),
                Err(SigV4Error::BadScope(_))
            ));
            assert!(matches!(
                verify(
                    &info,
                    "us-east-1",
                    case.service,
                    at("20150830T125200Z"),
                    secrets
                ),
                Err(SigV4Error::Expired(_))
            ));

            // Our signer produces botocore's signature.
            let mut ours = headers(case.headers);
            let creds = Credentials {
                key_id: AKID.into(),
                secret: SECRET.into(),
                session_token: None,
            };
            ours.remove("x-amz-security-token");
            let token = case
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-security-token"))
                .map(|(_, v)| v.to_string());
            let creds = Credentials {
                session_token: token,
                ..creds
            };
            let signer = Signer {
                credentials: creds,
                region: "us-east-1".into(),
                service: case.service.into(),
            };
            let query = if case.query.is_empty() {
                String::new()
            } else {
                format!("?{}", case.query)
            };
            let uri: http::Uri = format!("http://{}{}{query}", case.host, case.path)
                .parse()
                .expect("uri");
            signer
                .sign(
                    case.method,
                    &uri,
                    &mut ours,
                    case.body.as_bytes(),
                    at("20150830T123600Z"),
                )
                .expect("sign");
            assert_eq!(
                ours.get("authorization").and_then(|v| v.to_str().ok()),
                Some(case.authorization),
                "{} {}",
                case.method,
                case.path
            );
        }
    }

    #[test]
    fn malformed_headers() {
        let cases: &[(&str, &str)] = &[
            ("Bearer abc", "Unsupported authorization type"),
            (
                "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/s/aws4_request",
                "requires 'SignedHeaders', 'Signature'",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1, SignedHeaders=host, Signature=00",
                "Credential should have the form",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=A/2015/us-east-1/s/aws4_request, SignedHeaders=host, Signature=00",
                "YYYYMMDD",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/s/aws4_request, SignedHeaders=host, Signature=zz",
                "64 hexadecimal",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/s/aws5_request, SignedHeaders=host, Signature=00",
                "terminator",
            ),
        ];
        for (header, expected) in cases {
            let error = parse_authorization(header).expect_err(header);
            assert!(error.to_string().contains(expected), "{header}: {error}");
        }
    }

    #[test]
    fn canonical_parts() {
        assert_eq!(canonical_uri("/a/./b/../c/"), "/a/c/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/f%3Aq"), "/f%253Aq");
        assert_eq!(canonical_query("b=2&a=x%2Fy&a=1&c"), "a=1&a=x%2Fy&b=2&c=");
        assert_eq!(canonical_query("k=a b"), "k=a%20b");
    }
}
