//! The checksums AWS names in `x-amz-checksum-<algorithm>` and
//! `x-amz-sdk-checksum-algorithm`: CRC32, CRC32C, CRC64NVME, SHA1 and
//! SHA256, computed incrementally and rendered as AWS renders them, the
//! base64 of the big-endian value (of the digest for the SHA family).
//!
//! Used for the trailers of `aws-chunked` bodies, and by S3 for its
//! object checksums.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// One of AWS's checksum algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC, as zlib).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in AWS's order.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The name in `x-amz-sdk-checksum-algorithm` and in S3's
    /// `ChecksumAlgorithm`: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The header (or trailer) that carries the value:
    /// `x-amz-checksum-crc32`, ... `x-amz-checksum-sha256`.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm named `name` (`CRC32`, `crc32c`, ...), whatever its case.
    pub fn from_name(name: &str) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The algorithm whose value the header `name` carries
    /// (`x-amz-checksum-crc32`, whatever its case).
    pub fn from_header_name(name: &str) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The length of the raw value in bytes.
    pub fn value_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// A fresh incremental checksum.
    pub fn checksum(self) -> Checksum {
        Checksum::new(self)
    }

    /// The checksum of `data`, base64 as in `x-amz-checksum-*`.
    pub fn base64_of(self, data: &[u8]) -> String {
        let mut checksum = self.checksum();
        checksum.update(data);
        checksum.finalize_base64()
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Not one of AWS's checksum algorithms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Value for x-amz-checksum-algorithm header is invalid: `{0}`")]
pub struct UnknownChecksumAlgorithm(pub String);

impl FromStr for ChecksumAlgorithm {
    type Err = UnknownChecksumAlgorithm;

    /// Accepts a name (`CRC32`) or a header name (`x-amz-checksum-crc32`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChecksumAlgorithm::from_name(s)
            .or_else(|| ChecksumAlgorithm::from_header_name(s))
            .ok_or_else(|| UnknownChecksumAlgorithm(s.to_string()))
    }
}

/// An incremental checksum: [`Checksum::update`] with the data as it
/// arrives, then [`Checksum::finalize`] (raw big-endian bytes) or
/// [`Checksum::finalize_base64`] (as in `x-amz-checksum-*`).
#[derive(Clone)]
pub struct Checksum {
    state: State,
}

#[derive(Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Checksum {
    /// A fresh checksum of nothing yet.
    pub fn new(algorithm: ChecksumAlgorithm) -> Checksum {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => State::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(Sha256::new()),
        };
        Checksum { state }
    }

    /// Which algorithm this is.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            State::Crc32(_) => ChecksumAlgorithm::Crc32,
            State::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            State::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            State::Sha1(_) => ChecksumAlgorithm::Sha1,
            State::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            State::Crc64Nvme(d) => d.write(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The value: the CRC big-endian, or the digest.
    pub fn finalize(self) -> Vec<u8> {
        match self.state {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            State::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            State::Crc64Nvme(d) => d.sum64().to_be_bytes().to_vec(),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The value in base64, as AWS sends it in `x-amz-checksum-*`.
    pub fn finalize_base64(self) -> String {
        BASE64.encode(self.finalize())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checksum")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalogue's check values (the checksum of `123456789`) and the
    /// digests of FIPS 180's `abc`.
    #[test]
    fn check_values() {
        let cases: &[(ChecksumAlgorithm, &[u8], &str)] = &[
            (ChecksumAlgorithm::Crc32, b"123456789", "cbf43926"),
            (ChecksumAlgorithm::Crc32c, b"123456789", "e3069283"),
            (
                ChecksumAlgorithm::Crc64Nvme,
                b"123456789",
                "ae8b14860a799888",
            ),
            (
                ChecksumAlgorithm::Sha1,
                b"abc",
                "a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            (
                ChecksumAlgorithm::Sha256,
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (algorithm, data, hex_value) in cases {
            let mut checksum = algorithm.checksum();
            // Fed in two pieces: incremental must equal one-shot.
            checksum.update(&data[..2]);
            checksum.update(&data[2..]);
            assert_eq!(hex::encode(checksum.finalize()), *hex_value, "{algorithm}");
            assert_eq!(
                algorithm.base64_of(data),
                BASE64.encode(hex::decode(hex_value).expect("hex")),
                "{algorithm}"
            );
            assert_eq!(algorithm.checksum().finalize().len(), algorithm.value_len());
        }
    }

    #[test]
    fn names() {
        for algorithm in ChecksumAlgorithm::ALL {
            assert_eq!(
                ChecksumAlgorithm::from_name(algorithm.name()),
                Some(algorithm)
            );
            assert_eq!(
                ChecksumAlgorithm::from_header_name(algorithm.header_name()),
                Some(algorithm)
            );
            assert_eq!(algorithm.name().parse(), Ok(algorithm));
            assert_eq!(algorithm.header_name().parse(), Ok(algorithm));
        }
        assert_eq!("crc64nvme".parse(), Ok(ChecksumAlgorithm::Crc64Nvme));
        assert_eq!(
            "X-Amz-Checksum-CRC32C".parse(),
            Ok(ChecksumAlgorithm::Crc32c)
        );
        assert!("md5".parse::<ChecksumAlgorithm>().is_err());
        assert!("x-amz-checksum-md5".parse::<ChecksumAlgorithm>().is_err());
    }
}
