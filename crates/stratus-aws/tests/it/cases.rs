//! The data-driven SigV4 cases: one folder per case under
//! `tests/cases/sigv4/`, holding `request.txt` (a raw HTTP request, see
//! [`parse_raw_request`]) and `expected.json`:
//!
//! - `source`: where the case comes from (an AWS example, or our signer);
//! - `secret`, `now` (`20150830T123600Z`): the key's secret, the clock;
//! - `body_crlf` (default false): the body's LFs are CRLFs on the wire;
//! - `caller_body_sha256` (default true): whether the caller passes the
//!   body's SHA-256 to `verify_request` (else `None`); or a hex string;
//! - `scope`: `[region, service]` that `scope_of` reads, or null;
//! - `signed`: fields the parsed `SignedRequest` must have;
//! - `payload_hash`, `canonical_request`, `string_to_sign`: the
//!   intermediate results, as published;
//! - `signer`: `header` or `presign`: our signer must reproduce the
//!   request's signature (and query);
//! - `outcome`: `verified`, `must_hash` or `chunked`; `decoded`: for a
//!   body, its decoded `length`, `sha256`, `trailers`, verified `checksum`;
//! - `error`: `{stage: parse|verify|body, variant, message}`: the refusal.
//!
//! Every accepted case is also refused when mutated: another secret, a
//! changed signature, a clock out of the window.

use std::path::{Path, PathBuf};

use http::request::Parts;
use serde_json::Value;
use stratus_aws::sigv4::{
    self, AwsChunkedBody, ChunkDecoder, Credentials, PayloadCheck, PayloadHasher, SigV4Error,
    SignedRequest, Signer,
};

use crate::support::{Pieces, at, drain, parse_raw_request, sha256_hex, variant};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/sigv4")
}

struct Case {
    name: String,
    parts: Parts,
    body: Vec<u8>,
    expected: Value,
}

impl Case {
    fn load(dir: &Path) -> Case {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let expected: Value = serde_json::from_slice(
            &std::fs::read(dir.join("expected.json"))
                .unwrap_or_else(|e| panic!("{name}/expected.json: {e}")),
        )
        .unwrap_or_else(|e| panic!("{name}/expected.json: {e}"));
        let raw = std::fs::read(dir.join("request.txt"))
            .unwrap_or_else(|e| panic!("{name}/request.txt: {e}"));
        let crlf = expected["body_crlf"].as_bool().unwrap_or(false);
        let (parts, body) = parse_raw_request(&raw, crlf);
        Case {
            name,
            parts,
            body,
            expected,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.expected[key].as_str()
    }

    fn secret(&self) -> &str {
        self.str("secret").expect("`secret`")
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        at(self.str("now").expect("`now`"))
    }

    fn body_sha256(&self) -> Option<String> {
        match &self.expected["caller_body_sha256"] {
            Value::Null | Value::Bool(true) => Some(sha256_hex(&self.body)),
            Value::Bool(false) => None,
            Value::String(hash) => Some(hash.clone()),
            other => panic!("{}: caller_body_sha256 {other}", self.name),
        }
    }
}

/// Where a case was refused.
#[derive(Debug)]
struct Refusal {
    stage: &'static str,
    error: SigV4Error,
}

/// What an accepted case decoded.
#[derive(Debug, Default)]
struct Accepted {
    outcome: &'static str,
    decoded: Option<(Vec<u8>, sigv4::Trailers)>,
}

/// The whole pipeline a server runs: parse, verify, then the body.
fn run(
    parts: &Parts,
    body: &[u8],
    secret: &str,
    now: chrono::DateTime<chrono::Utc>,
    body_sha256: Option<&str>,
    split: usize,
) -> Result<Accepted, Refusal> {
    let refused = |stage| move |error| Refusal { stage, error };
    let signed = sigv4::parse_request(parts)
        .map_err(refused("parse"))?
        .ok_or(Refusal {
            stage: "parse",
            error: SigV4Error::Missing,
        })?;
    let check = sigv4::verify_request(parts, &signed, secret, now, body_sha256)
        .map_err(refused("verify"))?;
    match check {
        PayloadCheck::Verified => Ok(Accepted {
            outcome: "verified",
            decoded: None,
        }),
        PayloadCheck::MustHash(hash) => {
            let mut hasher = PayloadHasher::new(&hash);
            for piece in body.chunks(split.max(1)) {
                hasher.update(piece);
            }
            hasher.finish().map_err(refused("body"))?;
            Ok(Accepted {
                outcome: "must_hash",
                decoded: None,
            })
        }
        PayloadCheck::Chunked(mut decoder) => {
            let mut data = Vec::new();
            for piece in body.chunks(split.max(1)) {
                for bytes in decoder.push(piece).map_err(refused("body"))? {
                    data.extend_from_slice(&bytes);
                }
            }
            let trailers = decoder.finish().map_err(refused("body"))?;
            Ok(Accepted {
                outcome: "chunked",
                decoded: Some((data, trailers)),
            })
        }
    }
}

/// The same body through `AwsChunkedBody`, in pieces of `split` bytes.
fn run_body_adapter(decoder: ChunkDecoder, body: &[u8], split: usize) -> Result<Vec<u8>, String> {
    let drained = drain(&mut AwsChunkedBody::new(Pieces::new(body, split), decoder));
    match drained.error {
        Some(error) => Err(error.to_string()),
        None => Ok(drained.data),
    }
}

const SPLITS: &[usize] = &[1, 7, 100, 8192, 65_536, usize::MAX];

fn check_case(case: &Case) -> Result<(), String> {
    let secret = case.secret();
    let now = case.now();
    let body_sha256 = case.body_sha256();

    // scope_of never fails and reads the credential scope alone.
    if let Some(scope) = case.expected.get("scope") {
        let got = sigv4::scope_of(&case.parts);
        let want = scope.as_array().map(|pair| {
            (
                pair[0].as_str().unwrap_or_default().to_string(),
                pair[1].as_str().unwrap_or_default().to_string(),
            )
        });
        if got != want {
            return Err(format!("scope_of: {got:?}, expected {want:?}"));
        }
    }

    let parsed = sigv4::parse_request(&case.parts);
    if let (Ok(Some(signed)), Some(fields)) = (&parsed, case.expected["signed"].as_object()) {
        check_signed(signed, fields)?;
    }
    if let Ok(Some(signed)) = &parsed {
        check_intermediates(case, signed)?;
        check_signer(case, signed)?;
    }

    if let Some(error) = case.expected.get("error") {
        let stage = error["stage"].as_str().unwrap_or_default();
        let want_variant = error["variant"].as_str().unwrap_or_default();
        let want_message = error["message"].as_str();
        let want_contains = error["message_contains"].as_str();
        for &split in SPLITS {
            let result = run(
                &case.parts,
                &case.body,
                secret,
                now,
                body_sha256.as_deref(),
                split,
            );
            let refusal = match result {
                Ok(accepted) => {
                    return Err(format!(
                        "accepted ({}), expected a refusal at {stage}",
                        accepted.outcome
                    ));
                }
                Err(refusal) => refusal,
            };
            let message = refusal.error.to_string();
            if refusal.stage != stage
                || variant(&refusal.error) != want_variant
                || want_message.is_some_and(|m| m != message)
                || want_contains.is_some_and(|m| !message.contains(m))
            {
                return Err(format!(
                    "split {split}: refused at {} with {:?}, expected {stage} {want_variant} {:?}",
                    refusal.stage,
                    refusal.error,
                    want_message.or(want_contains)
                ));
            }
            if stage != "body" {
                break;
            }
        }
        // The body adapter refuses a chunked body the same way.
        if stage == "body"
            && let Ok(Some(signed)) = &parsed
            && let Ok(PayloadCheck::Chunked(decoder)) =
                sigv4::verify_request(&case.parts, signed, secret, now, body_sha256.as_deref())
        {
            match run_body_adapter(decoder, &case.body, 4096) {
                Ok(_) => return Err("the body adapter accepted the body".into()),
                Err(message) if want_message.is_some_and(|m| m != message) => {
                    return Err(format!("the body adapter said {message:?}"));
                }
                Err(_) => {}
            }
        }
        return Ok(());
    }

    // An accepted case: the same outcome whatever the pieces.
    let want_outcome = case.str("outcome").unwrap_or("verified");
    for &split in SPLITS {
        let accepted = run(
            &case.parts,
            &case.body,
            secret,
            now,
            body_sha256.as_deref(),
            split,
        )
        .map_err(|r| format!("split {split}: refused at {}: {:?}", r.stage, r.error))?;
        if accepted.outcome != want_outcome {
            return Err(format!(
                "outcome {}, expected {want_outcome}",
                accepted.outcome
            ));
        }
        if let Some((data, trailers)) = &accepted.decoded {
            check_decoded(case, data, trailers)?;
        }
    }
    if want_outcome == "chunked" {
        let signed = sigv4::parse_request(&case.parts)
            .ok()
            .flatten()
            .ok_or("parse")?;
        for split in [3, 4096, usize::MAX] {
            let Ok(PayloadCheck::Chunked(decoder)) =
                sigv4::verify_request(&case.parts, &signed, secret, now, body_sha256.as_deref())
            else {
                return Err("not chunked the second time".into());
            };
            let data = run_body_adapter(decoder, &case.body, split)
                .map_err(|e| format!("body adapter, split {split}: {e}"))?;
            let want = case.expected["decoded"]["sha256"].as_str();
            if want.is_some_and(|w| w != sha256_hex(&data)) {
                return Err(format!("body adapter, split {split}: other data"));
            }
        }
    }
    check_mutations(case, body_sha256.as_deref())
}

fn check_signed(
    signed: &SignedRequest,
    fields: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    let got = serde_json::json!({
        "key_id": signed.key_id,
        "date": signed.date,
        "region": signed.region,
        "service": signed.service,
        "signed_headers": signed.signed_headers,
        "signature": signed.signature,
        "amz_date": signed.amz_date,
        "expires": signed.expires,
        "session_token": signed.session_token,
        "presigned": signed.presigned,
    });
    for (key, want) in fields {
        if got.get(key) != Some(want) {
            return Err(format!(
                "parsed {key} = {}, expected {want}",
                got.get(key).unwrap_or(&Value::Null)
            ));
        }
    }
    Ok(())
}

fn check_intermediates(case: &Case, signed: &SignedRequest) -> Result<(), String> {
    let Some(payload_hash) = case.str("payload_hash") else {
        return Ok(());
    };
    let canonical = sigv4::canonical_request_of(&case.parts, signed, payload_hash);
    if let Some(want) = case.str("canonical_request")
        && canonical != want
    {
        return Err(format!(
            "canonical request:\n{canonical}\n--- expected:\n{want}"
        ));
    }
    let to_sign = sigv4::string_to_sign(&signed.amz_date, &signed.scope(), &canonical);
    if let Some(want) = case.str("string_to_sign")
        && to_sign != want
    {
        return Err(format!("string to sign:\n{to_sign}\n--- expected:\n{want}"));
    }
    Ok(())
}

/// Our signer, given the request unsigned, signs it as the case shows.
fn check_signer(case: &Case, signed: &SignedRequest) -> Result<(), String> {
    let Some(form) = case.str("signer") else {
        return Ok(());
    };
    let signer = Signer {
        credentials: Credentials {
            key_id: signed.key_id.clone(),
            secret: case.secret().to_string(),
            session_token: signed.session_token.clone(),
        },
        region: signed.region.clone(),
        service: signed.service.clone(),
    };
    let time = at(&signed.amz_date);
    match form {
        "header" => {
            let mut headers = case.parts.headers.clone();
            headers.remove(http::header::AUTHORIZATION);
            signer
                .sign(
                    case.parts.method.as_str(),
                    &case.parts.uri,
                    &mut headers,
                    &case.body,
                    time,
                )
                .map_err(|e| e.to_string())?;
            let ours = headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(sigv4::parse_authorization)
                .ok_or("no authorization")?
                .map_err(|e| e.to_string())?;
            if ours.signature != signed.signature || ours.signed_headers != signed.signed_headers {
                return Err(format!(
                    "our signer: {} over {:?}, expected {} over {:?}",
                    ours.signature, ours.signed_headers, signed.signature, signed.signed_headers
                ));
            }
        }
        "presign" => {
            let query = case.parts.uri.query().unwrap_or("");
            let own: Vec<&str> = query
                .split('&')
                .filter(|p| !p.starts_with("X-Amz-"))
                .collect();
            let path = case.parts.uri.path();
            let uri: http::Uri = if own.is_empty() {
                path.parse()
            } else {
                format!("{path}?{}", own.join("&")).parse()
            }
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
            let expires = signed.expires.ok_or("no expiry")?;
            let payload_hash = case
                .str("payload_hash")
                .filter(|h| *h != "UNSIGNED-PAYLOAD");
            let ours = signer
                .presign(
                    case.parts.method.as_str(),
                    &uri,
                    &case.parts.headers,
                    expires,
                    payload_hash,
                    time,
                )
                .map_err(|e| e.to_string())?;
            let sorted = |q: &str| {
                let mut pairs: Vec<String> = q.split('&').map(str::to_string).collect();
                pairs.sort();
                pairs
            };
            if sorted(&ours) != sorted(query) {
                return Err(format!(
                    "our presigned query:\n{ours}\n--- expected:\n{query}"
                ));
            }
        }
        other => return Err(format!("signer `{other}`")),
    }
    Ok(())
}

fn check_decoded(case: &Case, data: &[u8], trailers: &sigv4::Trailers) -> Result<(), String> {
    let want = &case.expected["decoded"];
    if let Some(length) = want["length"].as_u64()
        && (data.len() as u64 != length || trailers.decoded_length != length)
    {
        return Err(format!("decoded {} bytes, expected {length}", data.len()));
    }
    if let Some(hash) = want["sha256"].as_str()
        && sha256_hex(data) != hash
    {
        return Err("decoded other data".into());
    }
    if let Some(fields) = want["trailers"].as_object() {
        let got: serde_json::Map<String, Value> = trailers
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        if &got != fields {
            return Err(format!("trailers {got:?}, expected {fields:?}"));
        }
    }
    let checksum = trailers.checksum.as_ref().map(|(a, v)| format!("{a}:{v}"));
    if want["checksum"].as_str() != checksum.as_deref() {
        return Err(format!(
            "verified checksum {checksum:?}, expected {}",
            want["checksum"]
        ));
    }
    Ok(())
}

/// An accepted case must be refused with another secret, another
/// signature, or a clock out of its window.
fn check_mutations(case: &Case, body_sha256: Option<&str>) -> Result<(), String> {
    let signed = sigv4::parse_request(&case.parts)
        .map_err(|e| e.to_string())?
        .ok_or("unsigned")?;
    let now = case.now();
    let expect = |what: &str, result: Result<PayloadCheck, SigV4Error>, want: &str| match result {
        Err(error) if variant(&error) == want => Ok(()),
        other => Err(format!("{what}: {other:?}, expected {want}")),
    };
    let verify = |signed: &SignedRequest, secret: &str, now| {
        sigv4::verify_request(&case.parts, signed, secret, now, body_sha256)
    };
    expect(
        "another secret",
        verify(&signed, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ", now),
        "Mismatch",
    )?;
    let mut flipped = signed.clone();
    let last = if flipped.signature.ends_with('0') {
        "1"
    } else {
        "0"
    };
    flipped.signature.replace_range(63.., last);
    expect(
        "another signature",
        verify(&flipped, case.secret(), now),
        "Mismatch",
    )?;
    let late = match signed.expires {
        Some(expires) => at(&signed.amz_date) + chrono::Duration::seconds(expires as i64 + 1),
        None => now + chrono::Duration::minutes(16),
    };
    expect("too late", verify(&signed, case.secret(), late), "Expired")?;
    let early = at(&signed.amz_date) - chrono::Duration::minutes(16);
    expect(
        "too early",
        verify(&signed, case.secret(), early),
        "Expired",
    )?;
    // The region is part of what is signed: claiming another fails.
    let mut moved = signed.clone();
    moved.region.push('x');
    expect(
        "another region",
        verify(&moved, case.secret(), now),
        "Mismatch",
    )
}

#[test]
fn sigv4_cases() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases/sigv4")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 40, "only {} cases found", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let case = Case::load(dir);
        assert!(
            case.str("source").is_some(),
            "{}: every case says where it comes from",
            case.name
        );
        match check_case(&case) {
            Ok(()) => println!("ok   {}", case.name),
            Err(why) => {
                println!("FAIL {}: {why}", case.name);
                failures.push(format!("{}: {why}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}

/// The raw-request reader the cases rely on.
#[test]
fn the_raw_request_parser_keeps_bytes() {
    let (parts, body) = parse_raw_request(
        b"PUT /a%20b?x=1 HTTP/1.1\nHost: h\nX-A:  v  \n\n3;x\n${repeat:a:3}\n",
        true,
    );
    assert_eq!(parts.method, http::Method::PUT);
    assert_eq!(parts.uri.path(), "/a%20b");
    assert_eq!(parts.uri.query(), Some("x=1"));
    assert_eq!(parts.headers["x-a"], "v");
    assert_eq!(body, b"3;x\r\naaa\r\n");
}
