//! The `aws-chunked` decoder and its body adapter, beyond the cases.

use bytes::Bytes;
use stratus_aws::checksum::ChecksumAlgorithm;
use stratus_aws::sigv4::{
    self, AwsChunkedBody, AwsChunkedError, ChunkDecoder, ChunkSigner, SigV4Error, StreamingMode,
    Trailers, unsigned_chunk, unsigned_final_chunk,
};

use crate::support::{Pieces, drain, variant};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
/// The seed of AWS's chunked-upload example.
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

fn signer() -> ChunkSigner {
    let key = sigv4::signing_key(SECRET, "20130524", "us-east-1", "s3");
    ChunkSigner::new(key, DATE, SCOPE, SEED)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A signed body of `data` in chunks of `chunk` bytes, with `trailers`.
fn signed_body(data: &[u8], chunk: usize, trailers: &[(&str, &str)]) -> Vec<u8> {
    let mut signer = signer();
    let mut body = Vec::new();
    for piece in data.chunks(chunk) {
        body.extend(signer.chunk(piece));
    }
    body.extend(signer.final_chunk(trailers));
    body
}

fn decode(
    mut decoder: ChunkDecoder,
    body: &[u8],
    split: usize,
) -> Result<(Vec<u8>, Trailers), SigV4Error> {
    let mut out = Vec::new();
    for piece in body.chunks(split) {
        for bytes in decoder.push(piece)? {
            out.extend_from_slice(&bytes);
        }
    }
    Ok((out, decoder.finish()?))
}

/// AWS's example chunk signatures, from the seed: the first chunk of
/// 65536 `a`, the second of 1024, the final empty one.
#[test]
fn the_documented_chunk_signatures() {
    let mut signer = signer();
    assert_eq!(
        signer.sign_chunk(&[b'a'; 65_536]),
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    );
    assert_eq!(
        signer.sign_chunk(&[b'a'; 1024]),
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    );
    assert_eq!(
        signer.sign_chunk(b""),
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    );
    assert_eq!(
        signer.previous_signature(),
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    );
}

/// AWS's trailer example: seed, three chunks, then the CRC32C trailer.
#[test]
fn the_documented_trailer_signature() {
    let key = sigv4::signing_key(SECRET, "20130524", "us-east-1", "s3");
    let mut signer = ChunkSigner::new(
        key,
        DATE,
        SCOPE,
        "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    );
    let chunks = [
        signer.sign_chunk(&[b'a'; 65_536]),
        signer.sign_chunk(&[b'a'; 1024]),
        signer.sign_chunk(b""),
    ];
    assert_eq!(
        chunks,
        [
            "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
            "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
            "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
        ]
    );
    assert_eq!(
        signer.sign_trailers(&[("x-amz-checksum-crc32c", "sOO8/Q==")]),
        "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
    );
}

#[test]
fn round_trip_whatever_the_chunking_and_the_pieces() {
    for algorithm in ChecksumAlgorithm::ALL {
        for (len, chunk) in [
            (3001, 1),
            (200_003, 8192),
            (200_003, 65_536),
            (200_003, 300_000),
        ] {
            let data = data(len);
            let checksum = algorithm.base64_of(&data);
            let trailers = [(algorithm.header_name(), checksum.as_str())];
            let body = signed_body(&data, chunk, &trailers);
            for split in [1, 13, 4096, body.len()] {
                let decoder = ChunkDecoder::signed(signer(), true)
                    .with_decoded_length(data.len() as u64)
                    .with_trailing_checksum(algorithm);
                let (decoded, got) = decode(decoder, &body, split)
                    .unwrap_or_else(|e| panic!("{algorithm} chunk {chunk} split {split}: {e}"));
                assert!(decoded == data, "{algorithm} chunk {chunk} split {split}");
                assert_eq!(got.checksum, Some((algorithm, checksum.clone())));
                assert_eq!(got.get(algorithm.header_name()), Some(checksum.as_str()));
                assert_eq!(got.decoded_length, data.len() as u64);
            }
        }
    }
}

#[test]
fn unsigned_round_trip_and_a_wrong_checksum() {
    let data = data(70_000);
    let good = ChecksumAlgorithm::Crc64Nvme.base64_of(&data);
    let build = |value: &str| {
        let mut body = Vec::new();
        for piece in data.chunks(8192) {
            body.extend(unsigned_chunk(piece));
        }
        body.extend(unsigned_final_chunk(&[("x-amz-checksum-crc64nvme", value)]));
        body
    };
    let decoder = || {
        ChunkDecoder::unsigned()
            .with_decoded_length(data.len() as u64)
            .with_trailing_checksum(ChecksumAlgorithm::Crc64Nvme)
    };
    let (decoded, trailers) = decode(decoder(), &build(&good), 1000).expect("decodes");
    assert!(decoded == data);
    assert_eq!(
        trailers.checksum,
        Some((ChecksumAlgorithm::Crc64Nvme, good.clone()))
    );
    assert_eq!(decoder().mode(), StreamingMode::UnsignedPayloadTrailer);

    let wrong = ChecksumAlgorithm::Crc64Nvme.base64_of(b"other");
    assert_eq!(
        decode(decoder(), &build(&wrong), 1000).map(|_| ()),
        Err(SigV4Error::BadDigest(
            "The CRC64NVME you specified did not match the calculated checksum.".into()
        ))
    );
}

#[test]
fn reordered_or_replayed_chunks_break_the_chain() {
    let mut signer = signer();
    let first = signer.chunk(&[b'x'; 10]);
    let second = signer.chunk(&[b'y'; 10]);
    let last = signer.final_chunk(&[]);
    let swapped = [second.clone(), first.clone(), last.clone()].concat();
    let replayed = [first.clone(), first.clone(), second.clone(), last.clone()].concat();
    let dropped = [first.clone(), last.clone()].concat();
    for body in [swapped, replayed, dropped] {
        let result = decode(ChunkDecoder::signed(self::signer(), false), &body, 5);
        assert_eq!(result.map(|_| ()), Err(SigV4Error::Mismatch));
    }
    let whole = [first, second, last].concat();
    let (decoded, _) =
        decode(ChunkDecoder::signed(self::signer(), false), &whole, 5).expect("decodes");
    assert_eq!(decoded, [[b'x'; 10], [b'y'; 10]].concat());
}

#[test]
fn malformed_framing_is_refused() {
    let mut s = signer();
    let chunk = s.chunk(b"hello");
    let sig = s.sign_chunk(b"");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"zz;chunk-signature=00\r\n".to_vec(), "hexadecimal size"),
        (b"5\r\nhello\r\n".to_vec(), "no chunk-signature"),
        (
            [&chunk[..chunk.len() - 2], b"XX"].concat(),
            "not followed by CRLF",
        ),
        (
            [
                chunk.clone(),
                format!("0;chunk-signature={sig}\r\n\r\nmore").into_bytes(),
            ]
            .concat(),
            "Data follows the end",
        ),
        (
            [
                chunk.clone(),
                format!("0;chunk-signature={sig}\r\nx-amz-meta:1\r\n\r\n").into_bytes(),
            ]
            .concat(),
            "not followed by an empty line",
        ),
        (
            [vec![b'1'; 2000], b"\r\n".to_vec()].concat(),
            "longer than 1024 bytes",
        ),
    ];
    for (body, want) in cases {
        let error = decode(ChunkDecoder::signed(signer(), false), &body, 3)
            .map(|_| ())
            .expect_err(want);
        assert_eq!(variant(&error), "MalformedBody", "{want}: {error}");
        assert!(error.to_string().contains(want), "{want}: {error}");
    }
}

#[test]
fn a_long_line_is_refused_before_it_is_buffered() {
    let mut decoder = ChunkDecoder::unsigned();
    assert_eq!(decoder.push(&[b'1'; 1000]).map(|d| d.len()), Ok(0));
    let error = decoder.push(&[b'1'; 1000]).expect_err("too long");
    assert_eq!(variant(&error), "MalformedBody");
    // The error sticks.
    assert_eq!(decoder.push(b"\r\n"), Err(error.clone()));
    assert_eq!(decoder.finish().map(|_| ()), Err(error));
}

#[test]
fn truncation_anywhere_is_refused() {
    let data = data(3000);
    let body = signed_body(&data, 1000, &[]);
    for cut in [0, 1, 50, 1100, 2000, body.len() - 2] {
        let decoder = ChunkDecoder::signed(signer(), false).with_decoded_length(3000);
        let result = decode(decoder, &body[..cut], 7).map(|_| ());
        assert!(
            matches!(result, Err(SigV4Error::IncompleteBody(_))),
            "cut at {cut}: {result:?}"
        );
    }
    // With trailers, the body may end right after the last one (some
    // clients send no closing empty line).
    let checksum = ChecksumAlgorithm::Crc32.base64_of(&data);
    let body = signed_body(&data, 1000, &[("x-amz-checksum-crc32", &checksum)]);
    let decoder = ChunkDecoder::signed(signer(), true).with_decoded_length(3000);
    assert!(decode(decoder, &body[..body.len() - 2], 7).is_ok());
    let decoder = ChunkDecoder::signed(signer(), true).with_decoded_length(3000);
    let result = decode(decoder, &body[..body.len() - 3], 7).map(|_| ());
    assert!(
        matches!(result, Err(SigV4Error::IncompleteBody(_))),
        "{result:?}"
    );
}

#[test]
fn the_decoded_length_must_match_both_ways() {
    let data = data(3000);
    let body = signed_body(&data, 1000, &[]);
    let short = ChunkDecoder::signed(signer(), false).with_decoded_length(2999);
    let error = decode(short, &body, 100).map(|_| ()).expect_err("longer");
    assert!(error.to_string().contains("more data than"), "{error}");
    let long = ChunkDecoder::signed(signer(), false).with_decoded_length(3001);
    let error = decode(long, &body, 100).map(|_| ()).expect_err("shorter");
    assert_eq!(
        error,
        SigV4Error::IncompleteBody(
            "The aws-chunked body decodes to 3000 bytes, not the 3001 of x-amz-decoded-content-length".into()
        )
    );
}

#[test]
fn signed_trailers_need_their_signature_and_nothing_after_it() {
    let data = data(100);
    let checksum = ChecksumAlgorithm::Crc32.base64_of(&data);
    let mut s = signer();
    let chunk = s.chunk(&data);
    let last = s.sign_chunk(b"");
    let trailer_sig = s.sign_trailers(&[("x-amz-checksum-crc32", &checksum)]);
    let head = [chunk, format!("0;chunk-signature={last}\r\n").into_bytes()].concat();
    let decoder =
        || ChunkDecoder::signed(signer(), true).with_trailing_checksum(ChecksumAlgorithm::Crc32);

    let unsigned = [
        head.clone(),
        format!("x-amz-checksum-crc32:{checksum}\r\n\r\n").into_bytes(),
    ]
    .concat();
    let error = decode(decoder(), &unsigned, 9)
        .map(|_| ())
        .expect_err("no signature");
    assert!(
        error.to_string().contains("no x-amz-trailer-signature"),
        "{error}"
    );

    let after = [
        head.clone(),
        format!("x-amz-checksum-crc32:{checksum}\r\nx-amz-trailer-signature:{trailer_sig}\r\nx-amz-meta:1\r\n\r\n")
            .into_bytes(),
    ]
    .concat();
    let error = decode(decoder(), &after, 9).map(|_| ()).expect_err("after");
    assert!(
        error
            .to_string()
            .contains("follows x-amz-trailer-signature"),
        "{error}"
    );

    // A blank line between the final chunk and the trailers is tolerated.
    let blank = [
        head,
        format!("\r\nx-amz-checksum-crc32:{checksum}\r\nx-amz-trailer-signature:{trailer_sig}\r\n")
            .into_bytes(),
    ]
    .concat();
    let (decoded, trailers) = decode(decoder(), &blank, 9).expect("decodes");
    assert_eq!(decoded, data);
    assert_eq!(
        trailers.checksum,
        Some((ChecksumAlgorithm::Crc32, checksum))
    );
}

#[test]
fn push_bytes_hands_out_slices_of_the_input() {
    let data = data(50_000);
    let body = Bytes::from(signed_body(&data, 20_000, &[]));
    let mut decoder = ChunkDecoder::signed(signer(), false);
    let pieces = decoder.push_bytes(body.clone()).expect("decodes");
    assert_eq!(pieces.len(), 3);
    let range = body.as_ptr_range();
    for piece in &pieces {
        assert!(range.contains(&piece.as_ptr()), "a copy, not a slice");
    }
    assert_eq!(pieces.concat(), data);
    decoder.finish().expect("ends");
}

#[test]
fn the_body_adapter_yields_data_then_trailers() {
    let data = data(100_000);
    let checksum = ChecksumAlgorithm::Sha256.base64_of(&data);
    let body = signed_body(&data, 65_536, &[("x-amz-checksum-sha256", &checksum)]);
    let decoder = ChunkDecoder::signed(signer(), true)
        .with_decoded_length(100_000)
        .with_trailing_checksum(ChecksumAlgorithm::Sha256);
    let mut adapter = AwsChunkedBody::new(Pieces::new(&body, 10_000), decoder);
    let drained = drain(&mut adapter);
    assert!(drained.error.is_none());
    assert!(drained.data == data);
    assert!(drained.frames >= 2, "data streams in several frames");
    let trailers = drained.trailers.expect("a trailers frame");
    assert_eq!(trailers["x-amz-checksum-sha256"], checksum.as_str());
    assert_eq!(
        adapter.trailers().and_then(|t| t.checksum.clone()),
        Some((ChecksumAlgorithm::Sha256, checksum))
    );
    assert!(http_body::Body::is_end_stream(&adapter));
}

#[test]
fn the_body_adapter_reports_both_kinds_of_error() {
    let data = data(1000);
    let mut body = signed_body(&data, 400, &[]);
    // The wrapped body fails.
    let mut adapter = AwsChunkedBody::new(
        Pieces::new(&body, 100).failing(),
        ChunkDecoder::signed(signer(), false),
    );
    let drained = drain(&mut adapter);
    assert!(matches!(drained.error, Some(AwsChunkedError::Body(_))));

    // A byte of data changed: the data before its chunk's end is handed
    // over, then the chunk's signature fails.
    body[200] ^= 1;
    let mut adapter = AwsChunkedBody::new(
        Pieces::new(&body, 50),
        ChunkDecoder::signed(signer(), false),
    );
    let drained = drain(&mut adapter);
    let error = drained.error.expect("refused");
    assert_eq!(error.sigv4(), Some(&SigV4Error::Mismatch));
    assert!(adapter.trailers().is_none());
}
