//! The checksums of `x-amz-checksum-*`.

use stratus_aws::checksum::{Checksum, ChecksumAlgorithm};

/// AWS's trailing-checksum example (S3 API reference, "Signature
/// calculations for trailing headers"): 66560 bytes of `a` have the
/// CRC32C `sOO8/Q==`.
#[test]
fn the_documented_crc32c_trailer() {
    let data = vec![b'a'; 66_560];
    assert_eq!(ChecksumAlgorithm::Crc32c.base64_of(&data), "sOO8/Q==");
    let mut checksum = Checksum::new(ChecksumAlgorithm::Crc32c);
    for piece in data.chunks(1000) {
        checksum.update(piece);
    }
    assert_eq!(checksum.finalize(), [0xb0, 0xe3, 0xbc, 0xfd]);
}

/// The catalogue's check values (CRC of `123456789`) and well-known
/// digests, as AWS renders them: base64 of the big-endian value.
#[test]
fn values_are_base64_of_big_endian() {
    let cases = [
        (ChecksumAlgorithm::Crc32, "123456789", "y/Q5Jg=="),
        (ChecksumAlgorithm::Crc32c, "123456789", "4waSgw=="),
        (ChecksumAlgorithm::Crc64Nvme, "123456789", "rosUhgp5mIg="),
        (ChecksumAlgorithm::Crc32, "", "AAAAAA=="),
        (ChecksumAlgorithm::Crc32c, "", "AAAAAA=="),
        (ChecksumAlgorithm::Crc64Nvme, "", "AAAAAAAAAAA="),
        (ChecksumAlgorithm::Sha1, "", "2jmj7l5rSw0yVb/vlWAYkK/YBwk="),
        (
            ChecksumAlgorithm::Sha256,
            "",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ),
    ];
    for (algorithm, data, want) in cases {
        assert_eq!(
            algorithm.base64_of(data.as_bytes()),
            want,
            "{algorithm} of {data:?}"
        );
    }
}

/// Fed byte by byte or at once, every algorithm gives the same value.
#[test]
fn incremental_equals_one_shot() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    for algorithm in ChecksumAlgorithm::ALL {
        let whole = algorithm.base64_of(&data);
        let mut checksum = algorithm.checksum();
        for byte in &data {
            checksum.update(std::slice::from_ref(byte));
        }
        assert_eq!(checksum.algorithm(), algorithm);
        let value = checksum.clone().finalize();
        assert_eq!(value.len(), algorithm.value_len(), "{algorithm}");
        assert_eq!(checksum.finalize_base64(), whole, "{algorithm}");
        // Another input gives another value.
        assert_ne!(algorithm.base64_of(&data[1..]), whole, "{algorithm}");
    }
}

#[test]
fn names_as_aws_spells_them() {
    let names: Vec<(&str, &str)> = ChecksumAlgorithm::ALL
        .iter()
        .map(|a| (a.name(), a.header_name()))
        .collect();
    assert_eq!(
        names,
        [
            ("CRC32", "x-amz-checksum-crc32"),
            ("CRC32C", "x-amz-checksum-crc32c"),
            ("CRC64NVME", "x-amz-checksum-crc64nvme"),
            ("SHA1", "x-amz-checksum-sha1"),
            ("SHA256", "x-amz-checksum-sha256"),
        ]
    );
    assert_eq!(
        "sha256".parse::<ChecksumAlgorithm>(),
        Ok(ChecksumAlgorithm::Sha256)
    );
    assert!("MD5".parse::<ChecksumAlgorithm>().is_err());
}
