//! Presigning, request parsing and the S3 rule, round trip through our own
//! signer (the published vectors are in the cases).

use http::HeaderMap;
use stratus_aws::sigv4::{self, Credentials, PayloadCheck, SigV4Error, Signer, UNSIGNED_PAYLOAD};

use crate::support::{at, variant};

const SECRET: &str = "a-secret";

fn signer(service: &str, region: &str, token: Option<&str>) -> Signer {
    Signer {
        credentials: Credentials {
            key_id: "AKIASTRATUS".into(),
            secret: SECRET.into(),
            session_token: token.map(str::to_string),
        },
        region: region.into(),
        service: service.into(),
    }
}

fn parts(method: &str, target: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("request").into_parts().0
}

#[test]
fn a_presigned_url_verifies_in_any_region_with_its_token() {
    let now = at("20260101T120000Z");
    let signer = signer("s3", "stratus-local", Some("token/with+chars="));
    let uri: http::Uri = "http://127.0.0.1:9070/bucket/a%20key/./x?versionId=3"
        .parse()
        .expect("uri");
    let query = signer
        .presign("GET", &uri, &HeaderMap::new(), 300, None, now)
        .expect("presign");
    assert!(
        query.starts_with("versionId=3&X-Amz-Algorithm=AWS4-HMAC-SHA256&"),
        "{query}"
    );
    let target = format!("/bucket/a%20key/./x?{query}");
    let request = parts("GET", &target, &[("host", "127.0.0.1:9070")]);
    assert_eq!(
        sigv4::scope_of(&request),
        Some(("stratus-local".into(), "s3".into()))
    );
    let signed = sigv4::parse_request(&request)
        .expect("parses")
        .expect("signed");
    assert!(signed.presigned);
    assert_eq!(signed.expires, Some(300));
    assert_eq!(signed.session_token.as_deref(), Some("token/with+chars="));
    assert_eq!(signed.region, "stratus-local");
    let check = sigv4::verify_request(
        &request,
        &signed,
        SECRET,
        now + chrono::Duration::seconds(300),
        None,
    );
    assert!(matches!(check, Ok(PayloadCheck::Verified)), "{check:?}");
    assert_eq!(
        sigv4::verify_request(
            &request,
            &signed,
            SECRET,
            now + chrono::Duration::seconds(301),
            None
        )
        .map(|_| ()),
        Err(SigV4Error::Expired("Request has expired".into()))
    );

    // Every part of the URL is signed.
    for (what, tampered) in [
        ("a parameter", target.replace("versionId=3", "versionId=4")),
        ("an added parameter", format!("{target}&x-id=GetObject")),
        ("the path", target.replace("/x?", "/y?")),
        (
            "the expiry",
            target.replace("X-Amz-Expires=300", "X-Amz-Expires=301"),
        ),
    ] {
        let request = parts("GET", &tampered, &[("host", "127.0.0.1:9070")]);
        let signed = sigv4::parse_request(&request)
            .expect("parses")
            .expect("signed");
        assert_eq!(
            sigv4::verify_request(&request, &signed, SECRET, now, None).map(|_| ()),
            Err(SigV4Error::Mismatch),
            "{what}"
        );
    }
    let elsewhere = parts("GET", &target, &[("host", "127.0.0.1:9071")]);
    assert_eq!(
        sigv4::verify_request(&elsewhere, &signed, SECRET, now, None).map(|_| ()),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn presigned_other_services_sign_the_body_hash_or_unsigned() {
    let now = at("20260101T120000Z");
    let signer = signer("sqs", "us-west-2", None);
    let uri: http::Uri = "http://localhost/?Action=ListQueues".parse().expect("uri");
    let empty = sigv4::sha256_hex(b"");
    for payload in [None, Some(empty.as_str())] {
        let query = signer
            .presign("GET", &uri, &HeaderMap::new(), 60, payload, now)
            .expect("presign");
        let request = parts("GET", &format!("/?{query}"), &[("host", "localhost")]);
        let signed = sigv4::parse_request(&request)
            .expect("parses")
            .expect("signed");
        let with_hash = sigv4::verify_request(&request, &signed, SECRET, now, Some(&empty));
        assert!(
            matches!(with_hash, Ok(PayloadCheck::Verified)),
            "{payload:?}"
        );
        let without = sigv4::verify_request(&request, &signed, SECRET, now, None);
        assert_eq!(without.is_ok(), payload.is_none(), "{payload:?}");
    }
}

#[test]
fn presigned_parameters_are_checked() {
    let now = at("20260101T120000Z");
    let signer = signer("s3", "us-east-1", None);
    let uri: http::Uri = "http://h/b/k".parse().expect("uri");
    let query = signer
        .presign("PUT", &uri, &HeaderMap::new(), 60, None, now)
        .expect("presign");
    let parse =
        |q: &str| sigv4::parse_request(&parts("PUT", &format!("/b/k?{q}"), &[("host", "h")]));
    let cases = [
        (
            query.replace("X-Amz-Expires=60", "X-Amz-Expires=sixty"),
            "X-Amz-Expires should be a number",
        ),
        (
            query.replace("&X-Amz-Date=20260101T120000Z", ""),
            "requires the X-Amz-Algorithm",
        ),
        (
            query.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
            "only supports",
        ),
        (
            format!("{query}&X-Amz-Date=20260101T120000Z"),
            "more than once",
        ),
    ];
    for (query, want) in cases {
        let error = parse(&query).expect_err(want);
        assert!(error.to_string().contains(want), "{want}: {error}");
    }
    // The Authorization header and a presigned query at once.
    let both = parts(
        "PUT",
        &format!("/b/k?{query}"),
        &[
            ("host", "h"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
        ],
    );
    assert_eq!(
        variant(&sigv4::parse_request(&both).expect_err("both")),
        "InvalidArgument"
    );
    // Nothing signed at all.
    assert_eq!(sigv4::parse_request(&parts("GET", "/?a=1", &[])), Ok(None));
}

#[test]
fn the_s3_rule_signs_the_path_as_sent() {
    assert_eq!(
        sigv4::s3_canonical_uri("/b/a/./b/../c//d"),
        "/b/a/./b/../c//d"
    );
    assert_eq!(
        sigv4::s3_canonical_uri("/test$file.text"),
        "/test%24file.text"
    );
    assert_eq!(
        sigv4::s3_canonical_uri("/a%20b/%E1%88%B4"),
        "/a%20b/%E1%88%B4"
    );
    assert_eq!(sigv4::s3_canonical_uri("/a%2Fb"), "/a%2Fb");
    assert_eq!(sigv4::s3_canonical_uri(""), "/");
    // Other services: normalised, then encoded once more.
    assert_eq!(sigv4::canonical_uri_for("sqs", "/a/./b/../c//d"), "/a/c/d");
    assert_eq!(sigv4::canonical_uri_for("lambda", "/f%3Aq"), "/f%253Aq");

    // A request signed by our signer for S3 verifies with dot segments
    // kept, and fails if they are normalised away.
    let now = at("20260101T120000Z");
    let signer = signer("s3", "us-east-1", None);
    let uri: http::Uri = "http://h/bucket/a/./b/../c%2Fd".parse().expect("uri");
    let mut headers = HeaderMap::new();
    signer
        .sign("PUT", &uri, &mut headers, b"data", now)
        .expect("sign");
    assert_eq!(
        headers["x-amz-content-sha256"],
        sigv4::sha256_hex(b"data").as_str()
    );
    let mut request = parts("PUT", "/bucket/a/./b/../c%2Fd", &[]);
    request.headers = headers.clone();
    let signed = sigv4::parse_request(&request)
        .expect("parses")
        .expect("signed");
    let check = sigv4::verify_request(&request, &signed, SECRET, now, None);
    assert!(
        matches!(check, Ok(PayloadCheck::MustHash(ref h)) if *h == sigv4::sha256_hex(b"data")),
        "{check:?}"
    );
    let mut normalised = parts("PUT", "/bucket/a/c%2Fd", &[]);
    normalised.headers = headers;
    assert_eq!(
        sigv4::verify_request(&normalised, &signed, SECRET, now, None).map(|_| ()),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn header_auth_reads_the_date_header_and_the_token() {
    let request = parts(
        "GET",
        "/",
        &[
            ("host", "h"),
            ("date", "Mon, 09 Sep 2011 23:36:00 GMT"),
            ("x-amz-security-token", "tok"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AK/20110909/us-east-1/host/aws4_request, SignedHeaders=date;host, Signature=be7148d34ebccdc6423b19085378aa0bee970bdc61d144bd1a8c48c33079ab09",
            ),
        ],
    );
    let signed = sigv4::parse_request(&request)
        .expect("parses")
        .expect("signed");
    assert_eq!(signed.amz_date, "20110909T233600Z");
    assert_eq!(signed.session_token.as_deref(), Some("tok"));
    assert!(!signed.presigned);
    assert_eq!(signed.expires, None);

    let bad_date = parts(
        "GET",
        "/",
        &[
            ("date", "yesterday"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AK/20110909/us-east-1/host/aws4_request, SignedHeaders=date;host, Signature=be7148d34ebccdc6423b19085378aa0bee970bdc61d144bd1a8c48c33079ab09",
            ),
        ],
    );
    assert_eq!(
        variant(&sigv4::parse_request(&bad_date).expect_err("date")),
        "Incomplete"
    );
}

/// Headers, target, the scope `scope_of` reads.
type ScopeCase<'a> = (
    &'a [(&'a str, &'a str)],
    &'a str,
    Option<(&'a str, &'a str)>,
);

#[test]
fn scope_of_never_fails() {
    let cases: &[ScopeCase<'_>] = &[
        (&[], "/", None),
        (&[("authorization", "Bearer abc")], "/", None),
        (&[("authorization", "AWS4-HMAC-SHA256")], "/", None),
        (
            &[("authorization", "AWS4-HMAC-SHA256 Credential=")],
            "/",
            None,
        ),
        (
            &[("authorization", "AWS4-HMAC-SHA256 Credential=a/b/c")],
            "/",
            None,
        ),
        (
            &[(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-3/sns/aws4_request,SignedHeaders=host",
            )],
            "/",
            Some(("eu-west-3", "sns")),
        ),
        (&[], "/?X-Amz-Credential", None),
        (&[], "/?X-Amz-Credential=%ZZ", None),
        (
            &[],
            "/?X-Amz-Credential=AK%2F20260101%2Fr%2Fs3%2Faws4_request",
            Some(("r", "s3")),
        ),
        (
            &[("authorization", "Bearer x")],
            "/?X-Amz-Credential=AK/20260101/r/lambda/aws4_request",
            Some(("r", "lambda")),
        ),
    ];
    for (headers, target, want) in cases {
        let got = sigv4::scope_of(&parts("GET", target, headers));
        let want = want.map(|(r, s)| (r.to_string(), s.to_string()));
        assert_eq!(got, want, "{headers:?} {target}");
    }
}

#[test]
fn declared_payloads() {
    let now = at("20260101T120000Z");
    let signer = signer("s3", "us-east-1", None);
    let sign = |declared: &str| {
        let uri: http::Uri = "http://h/b/k".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-content-sha256", declared.parse().expect("value"));
        signer
            .sign("PUT", &uri, &mut headers, b"", now)
            .expect("sign");
        let mut request = parts("PUT", "/b/k", &[]);
        request.headers = headers;
        let signed = sigv4::parse_request(&request)
            .expect("parses")
            .expect("signed");
        (request, signed)
    };
    let (request, signed) = sign(UNSIGNED_PAYLOAD);
    assert!(matches!(
        sigv4::verify_request(&request, &signed, SECRET, now, None),
        Ok(PayloadCheck::Verified)
    ));
    let (request, signed) = sign("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD");
    assert_eq!(
        variant(&sigv4::verify_request(&request, &signed, SECRET, now, None).expect_err("sigv4a")),
        "InvalidArgument"
    );
    let (request, signed) = sign("STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    match sigv4::verify_request(&request, &signed, SECRET, now, None) {
        Ok(PayloadCheck::Chunked(decoder)) => {
            assert_eq!(decoder.mode(), sigv4::StreamingMode::UnsignedPayloadTrailer);
        }
        other => panic!("{other:?}"),
    }
    // Without x-amz-content-sha256 and no body hash, nothing can be checked.
    let uri: http::Uri = "http://h/q".parse().expect("uri");
    let mut headers = HeaderMap::new();
    self::signer("sqs", "us-east-1", None)
        .sign("POST", &uri, &mut headers, b"{}", now)
        .expect("sign");
    let mut request = parts("POST", "/q", &[]);
    request.headers = headers;
    let signed = sigv4::parse_request(&request)
        .expect("parses")
        .expect("signed");
    assert_eq!(
        variant(&sigv4::verify_request(&request, &signed, SECRET, now, None).expect_err("no hash")),
        "Incomplete"
    );
    let hash = sigv4::sha256_hex(b"{}");
    assert!(matches!(
        sigv4::verify_request(&request, &signed, SECRET, now, Some(&hash)),
        Ok(PayloadCheck::Verified)
    ));
    assert_eq!(
        sigv4::verify_request(
            &request,
            &signed,
            SECRET,
            now,
            Some(&sigv4::sha256_hex(b"{ }"))
        )
        .map(|_| ()),
        Err(SigV4Error::Mismatch)
    );
}

/// HTTP/2 requests carry the host in the URI's authority, not a header.
#[test]
fn the_host_may_come_from_the_authority() {
    let now = at("20260101T120000Z");
    let uri: http::Uri = "https://sqs.local:8443/q".parse().expect("uri");
    let mut headers = HeaderMap::new();
    signer("sqs", "r", None)
        .sign("POST", &uri, &mut headers, b"x", now)
        .expect("sign");
    headers.remove(http::header::HOST);
    let mut request = parts("POST", "https://sqs.local:8443/q", &[]);
    request.headers = headers;
    let signed = sigv4::parse_request(&request)
        .expect("parses")
        .expect("signed");
    let hash = sigv4::sha256_hex(b"x");
    assert!(sigv4::verify_request(&request, &signed, SECRET, now, Some(&hash)).is_ok());
}
