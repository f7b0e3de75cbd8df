//! A request's signature in either form, the `Authorization` header or a
//! presigned URL's query, verified for any region, and what then remains
//! to check of its payload.

use chrono::{DateTime, Utc};
use http::request::Parts;
use sha2::{Digest, Sha256};

use super::chunked::{ChunkDecoder, ChunkSigner, StreamingMode};
use super::{
    ALGORITHM, MAX_PRESIGN_EXPIRES, MAX_SKEW_SECONDS, SigV4Error, UNSIGNED_PAYLOAD,
    build_canonical_request, canonical_query, canonical_query_without, canonical_uri_for,
    check_signature, check_skew, constant_time_eq, hmac, parse_amz_date, parse_authorization,
    parse_credential, parse_signed_headers, percent_decode, signing_key, string_to_sign,
};
use crate::checksum::ChecksumAlgorithm;

/// The query parameter that carries a presigned URL's signature.
const SIGNATURE_PARAM: &str = "X-Amz-Signature";

/// A request's SigV4 credentials, from its `Authorization` header or its
/// presigned query. Nothing in it is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The access key id.
    pub key_id: String,
    /// The credential scope's date, `YYYYMMDD`.
    pub date: String,
    /// The credential scope's region: the caller's namespace.
    pub region: String,
    /// The credential scope's service.
    pub service: String,
    /// The signed headers, lower case, as listed.
    pub signed_headers: Vec<String>,
    /// The hex signature (lower case).
    pub signature: String,
    /// The request's time, `20150830T123600Z`: `x-amz-date` (or the `Date`
    /// header, converted) for the header form, `X-Amz-Date` when presigned.
    pub amz_date: String,
    /// `X-Amz-Expires`, seconds (presigned only).
    pub expires: Option<u64>,
    /// The session token of temporary credentials: the
    /// `x-amz-security-token` header, or `X-Amz-Security-Token` when
    /// presigned.
    pub session_token: Option<String>,
    /// Whether the signature came in the query (a presigned URL).
    pub presigned: bool,
}

impl SignedRequest {
    /// `20150830/us-east-1/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// What is left to check of a request whose signature
/// [`verify_request`] accepted.
#[derive(Debug)]
pub enum PayloadCheck {
    /// Nothing: the body's hash was checked (the caller passed it), or the
    /// payload is not signed (`UNSIGNED-PAYLOAD`).
    Verified,
    /// The request declared this SHA-256 (lower-case hex) in
    /// `x-amz-content-sha256` and signed it, but the caller did not pass
    /// the body's hash: check the body against it while reading it
    /// ([`PayloadHasher`]), and commit nothing before it matched.
    MustHash(String),
    /// The body is `aws-chunked` (`STREAMING-...`): decode it with this
    /// decoder (or [`super::AwsChunkedBody`]), which checks the chunks'
    /// signatures, the decoded length and the trailing checksum. Commit
    /// nothing before [`ChunkDecoder::finish`] succeeded.
    Chunked(ChunkDecoder),
}

/// Checks a body, as it streams, against the SHA-256 its request declared.
#[derive(Debug, Clone)]
pub struct PayloadHasher {
    expected: String,
    hasher: Sha256,
}

impl PayloadHasher {
    /// A hasher expecting `expected_hex` (any case).
    pub fn new(expected_hex: &str) -> PayloadHasher {
        PayloadHasher {
            expected: expected_hex.to_ascii_lowercase(),
            hasher: Sha256::new(),
        }
    }

    /// Adds the next piece of the body.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// Whether the whole body had the declared hash:
    /// [`SigV4Error::ContentSha256Mismatch`] otherwise.
    pub fn finish(self) -> Result<(), SigV4Error> {
        let computed = hex::encode(self.hasher.finalize());
        if constant_time_eq(computed.as_bytes(), self.expected.as_bytes()) {
            Ok(())
        } else {
            Err(SigV4Error::ContentSha256Mismatch)
        }
    }
}

/// The query's pairs, percent-decoded (keys and values lossily as UTF-8).
fn query_params(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                String::from_utf8_lossy(&percent_decode(key)).into_owned(),
                String::from_utf8_lossy(&percent_decode(value)).into_owned(),
            )
        })
        .collect()
}

/// `(region, service)` of a credential, or `None` if it is not one.
fn region_and_service(credential: &str) -> Option<(String, String)> {
    let fields: Vec<&str> = credential.split('/').collect();
    match fields[..] {
        [key, date, region, service, "aws4_request"] if !key.is_empty() && !date.is_empty() => {
            Some((region.to_string(), service.to_string()))
        }
        _ => None,
    }
}

/// The credential scope's `(region, service)`, read cheaply from the
/// `Authorization` header or the presigned query, to pick a service before
/// any key lookup. `None` when there is no SigV4 credential or it is
/// malformed; never an error. Nothing is verified.
pub fn scope_of(parts: &Parts) -> Option<(String, String)> {
    if let Some(rest) = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix(ALGORITHM))
    {
        let start = rest.find("Credential=")? + "Credential=".len();
        let credential = rest[start..].split([',', ' ']).next()?;
        return region_and_service(credential.trim());
    }
    parts
        .uri
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "X-Amz-Credential")
        .and_then(|(_, value)| region_and_service(&String::from_utf8_lossy(&percent_decode(value))))
}

/// The SigV4 credentials of a request: from its `Authorization` header, or
/// from its query when presigned (`X-Amz-Algorithm`, `X-Amz-Credential`,
/// ...). `Ok(None)` when it carries no signature at all. An `Authorization`
/// header that is not `AWS4-HMAC-SHA256` (a bearer token: the caller's
/// business, to handle first) is an error here.
///
/// The header form takes the request's time from `x-amz-date`, else from
/// the `Date` header (RFC 1123), as AWS does.
pub fn parse_request(parts: &Parts) -> Result<Option<SignedRequest>, SigV4Error> {
    let header = parts.headers.get(http::header::AUTHORIZATION);
    let params = query_params(parts.uri.query().unwrap_or(""));
    let presigned = params
        .iter()
        .any(|(k, _)| k == "X-Amz-Algorithm" || k == "X-Amz-Credential");
    match (header, presigned) {
        (None, false) => Ok(None),
        (Some(_), true) => Err(SigV4Error::InvalidArgument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".into(),
        )),
        (Some(value), false) => {
            let value = value
                .to_str()
                .map_err(|_| SigV4Error::Incomplete("Authorization header is not ASCII".into()))?;
            let authorization = parse_authorization(value)?;
            let amz_date = header_amz_date(&parts.headers)?;
            let session_token = header_str(&parts.headers, "x-amz-security-token")?;
            Ok(Some(SignedRequest {
                key_id: authorization.key_id,
                date: authorization.date,
                region: authorization.region,
                service: authorization.service,
                signed_headers: authorization.signed_headers,
                signature: authorization.signature,
                amz_date,
                expires: None,
                session_token,
                presigned: false,
            }))
        }
        (None, true) => parse_presigned(&params).map(Some),
    }
}

fn header_str(headers: &http::HeaderMap, name: &str) -> Result<Option<String>, SigV4Error> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| SigV4Error::Incomplete(format!("The {name} header is not ASCII")))
        })
        .transpose()
}

/// `x-amz-date`, or the `Date` header converted to its form.
fn header_amz_date(headers: &http::HeaderMap) -> Result<String, SigV4Error> {
    if let Some(amz_date) = header_str(headers, "x-amz-date")? {
        parse_amz_date(&amz_date)?;
        return Ok(amz_date);
    }
    if let Some(date) = header_str(headers, "date")? {
        return parse_http_date(&date)
            .map(|time| time.format(super::AMZ_DATE_FORMAT).to_string())
            .ok_or_else(|| {
                SigV4Error::Incomplete(format!("The Date header `{date}` is not an RFC 1123 date"))
            });
    }
    Err(SigV4Error::Incomplete(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            .into(),
    ))
}

/// An RFC 1123 date (`Fri, 24 May 2013 00:00:00 GMT`). The day of the
/// week is not checked (AWS's own test suite has a wrong one); other
/// RFC 2822 forms (numeric zones) are accepted too.
fn parse_http_date(date: &str) -> Option<DateTime<Utc>> {
    let date = date.trim();
    let without_weekday = date.split_once(", ").map_or(date, |(_, rest)| rest);
    chrono::NaiveDateTime::parse_from_str(without_weekday, "%d %b %Y %H:%M:%S GMT")
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc2822(date)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

fn parse_presigned(params: &[(String, String)]) -> Result<SignedRequest, SigV4Error> {
    let one = |name: &str| -> Result<Option<&str>, SigV4Error> {
        let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = values.next();
        if values.next().is_some() {
            return Err(SigV4Error::Incomplete(format!(
                "The query parameter {name} appears more than once"
            )));
        }
        Ok(first.map(String::as_str))
    };
    let (
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(amz_date),
        Some(signed_headers),
        Some(expires),
    ) = (
        one("X-Amz-Algorithm")?,
        one("X-Amz-Credential")?,
        one(SIGNATURE_PARAM)?,
        one("X-Amz-Date")?,
        one("X-Amz-SignedHeaders")?,
        one("X-Amz-Expires")?,
    )
    else {
        return Err(SigV4Error::Incomplete(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".into(),
        ));
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\""
        )));
    }
    let [key_id, date, region, service] = parse_credential(credential)?;
    check_signature(signature)?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    parse_amz_date(amz_date)?;
    let expires = if !expires.is_empty() && expires.bytes().all(|b| b.is_ascii_digit()) {
        expires.parse::<u64>().ok()
    } else {
        None
    }
    .ok_or_else(|| SigV4Error::Incomplete("X-Amz-Expires should be a number".into()))?;
    Ok(SignedRequest {
        key_id: key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: signature.to_ascii_lowercase(),
        amz_date: amz_date.to_string(),
        expires: Some(expires),
        session_token: one("X-Amz-Security-Token")?.map(str::to_string),
        presigned: true,
    })
}

/// The canonical request of `parts` as `signed` describes it, with
/// `payload_hash` as its last line: S3's canonical URI for the service
/// `s3`, botocore's otherwise; without `X-Amz-Signature` when presigned.
pub fn canonical_request_of(parts: &Parts, signed: &SignedRequest, payload_hash: &str) -> String {
    let raw_query = parts.uri.query().unwrap_or("");
    let query = if signed.presigned {
        canonical_query_without(raw_query, Some(SIGNATURE_PARAM))
    } else {
        canonical_query(raw_query)
    };
    build_canonical_request(
        parts.method.as_str(),
        &canonical_uri_for(&signed.service, parts.uri.path()),
        &query,
        &parts.headers,
        parts.uri.authority().map(|a| a.as_str()),
        &signed.signed_headers,
        payload_hash,
    )
}

/// What `x-amz-content-sha256` declares.
enum Declared {
    Hash(String),
    Unsigned,
    Streaming(StreamingMode),
}

fn declared_payload(value: &str) -> Result<Declared, SigV4Error> {
    if value == UNSIGNED_PAYLOAD {
        return Ok(Declared::Unsigned);
    }
    if let Some(mode) = StreamingMode::from_content_sha256(value) {
        return Ok(Declared::Streaming(mode));
    }
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Declared::Hash(value.to_ascii_lowercase()));
    }
    Err(SigV4Error::InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.".into(),
    ))
}

/// The checksum `x-amz-trailer` names, if any.
fn declared_trailer(headers: &http::HeaderMap) -> Result<Option<ChecksumAlgorithm>, SigV4Error> {
    let Some(value) = header_str(headers, "x-amz-trailer")? else {
        return Ok(None);
    };
    let names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    match names[..] {
        [] => Ok(None),
        [name] => ChecksumAlgorithm::from_header_name(name)
            .map(Some)
            .ok_or_else(|| {
                SigV4Error::InvalidArgument(format!(
                    "The value specified in the x-amz-trailer header is not supported: `{name}`"
                ))
            }),
        _ => Err(SigV4Error::InvalidArgument(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                .into(),
        )),
    }
}

fn declared_length(headers: &http::HeaderMap) -> Result<Option<u64>, SigV4Error> {
    header_str(headers, "x-amz-decoded-content-length")?
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                SigV4Error::InvalidArgument(format!(
                    "x-amz-decoded-content-length `{v}` is not a number of bytes"
                ))
            })
        })
        .transpose()
}

/// Checks the time window of `signed`: 15 minutes either way for the
/// header form; for a presigned URL, `X-Amz-Expires` in 1..=604800 and not
/// past.
fn check_time(signed: &SignedRequest, now: DateTime<Utc>) -> Result<(), SigV4Error> {
    let request_time = parse_amz_date(&signed.amz_date)?;
    if !signed.presigned {
        return check_skew(&signed.amz_date, request_time, now);
    }
    let expires = signed
        .expires
        .ok_or_else(|| SigV4Error::Incomplete("X-Amz-Expires should be a number".into()))?;
    if expires == 0 {
        return Err(SigV4Error::Incomplete(
            "X-Amz-Expires must be at least 1 second".into(),
        ));
    }
    if expires > MAX_PRESIGN_EXPIRES {
        return Err(SigV4Error::Incomplete(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}"
        )));
    }
    let age = now.signed_duration_since(request_time).num_seconds();
    if age < -MAX_SKEW_SECONDS {
        return Err(SigV4Error::Expired("Request is not valid yet".into()));
    }
    if age > 0 && age.unsigned_abs() > expires {
        return Err(SigV4Error::Expired("Request has expired".into()));
    }
    Ok(())
}

/// Verifies the signature of `parts` as `signed` describes it, with the
/// key's `secret` and the server's clock `now`.
///
/// Any region is accepted: it is the caller's namespace
/// (`signed.region`). The checks, in order: the time (15 minutes either
/// way for the header form; a presigned URL's `X-Amz-Expires` must be in
/// 1..=604800 and not past), the scope's date against the request's,
/// `host` signed, `x-amz-content-sha256` one of the values AWS knows, then
/// the signature.
///
/// The payload hash signed is `x-amz-content-sha256` when present, else
/// `body_sha256` (the caller buffered and hashed the body); with neither,
/// the request is refused. A presigned URL signs `UNSIGNED-PAYLOAD`
/// (for services other than S3, a signature over `body_sha256`, when
/// given, is accepted too, as botocore presigns them).
///
/// What is left to check of the body is returned: see [`PayloadCheck`].
/// With `body_sha256` given and a declared hash that differs, the error is
/// [`SigV4Error::ContentSha256Mismatch`] (after the signature matched).
pub fn verify_request(
    parts: &Parts,
    signed: &SignedRequest,
    secret: &str,
    now: DateTime<Utc>,
    body_sha256: Option<&str>,
) -> Result<PayloadCheck, SigV4Error> {
    check_time(signed, now)?;
    if signed.amz_date.get(..8) != Some(signed.date.as_str()) {
        return Err(SigV4Error::BadScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            signed.date,
            signed.amz_date.get(..8).unwrap_or_default()
        )));
    }
    if !signed.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::Incomplete(
            "'Host' must be a signed header".into(),
        ));
    }
    let header = header_str(&parts.headers, "x-amz-content-sha256")?;
    let declared = header.as_deref().map(declared_payload).transpose()?;
    let (trailer, length) = match declared {
        Some(Declared::Streaming(_)) => (
            declared_trailer(&parts.headers)?,
            declared_length(&parts.headers)?,
        ),
        _ => (None, None),
    };

    let candidates: Vec<&str> = match (header.as_deref(), signed.presigned) {
        (Some(value), _) => vec![value],
        (None, true) => match body_sha256 {
            Some(hash) if signed.service != "s3" => vec![UNSIGNED_PAYLOAD, hash],
            _ => vec![UNSIGNED_PAYLOAD],
        },
        (None, false) => vec![body_sha256.ok_or_else(|| {
            SigV4Error::Incomplete(
                "Missing required header for this request: x-amz-content-sha256".into(),
            )
        })?],
    };
    let key = signing_key(secret, &signed.date, &signed.region, &signed.service);
    let scope = signed.scope();
    let matched = candidates.iter().any(|payload_hash| {
        let canonical = canonical_request_of(parts, signed, payload_hash);
        let to_sign = string_to_sign(&signed.amz_date, &scope, &canonical);
        let expected = hex::encode(hmac(&key, to_sign.as_bytes()));
        constant_time_eq(expected.as_bytes(), signed.signature.as_bytes())
    });
    if !matched {
        return Err(SigV4Error::Mismatch);
    }

    Ok(match declared {
        None | Some(Declared::Unsigned) => PayloadCheck::Verified,
        Some(Declared::Hash(hash)) => match body_sha256 {
            Some(body) if body.eq_ignore_ascii_case(&hash) => PayloadCheck::Verified,
            Some(_) => return Err(SigV4Error::ContentSha256Mismatch),
            None => PayloadCheck::MustHash(hash),
        },
        Some(Declared::Streaming(mode)) => {
            let mut decoder = match mode {
                StreamingMode::UnsignedPayloadTrailer => ChunkDecoder::unsigned(),
                signed_mode => ChunkDecoder::signed(
                    ChunkSigner::new(key, &signed.amz_date, &scope, &signed.signature),
                    signed_mode == StreamingMode::SignedPayloadTrailer,
                ),
            };
            if let Some(length) = length {
                decoder = decoder.with_decoded_length(length);
            }
            if let Some(algorithm) = trailer
                && mode.has_trailer()
            {
                decoder = decoder.with_trailing_checksum(algorithm);
            }
            PayloadCheck::Chunked(decoder)
        }
    })
}
