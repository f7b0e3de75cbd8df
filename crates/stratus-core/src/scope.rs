//! Where a resource lives: its region and account.
//!
//! Stratus runs as one account in one region by default
//! ([`DEFAULT_ACCOUNT`], [`DEFAULT_REGION`]); every ARN constructor takes a
//! [`ResourceScope`] so that services can key their state by account and
//! region later without changing their callers again.
//!
//! ```
//! use stratus_core::scope::{Region, ResourceScope};
//! let region: Region = "eu-west-1".parse().unwrap();
//! assert_eq!(region.partition(), "aws");
//! assert_eq!(ResourceScope::DEFAULT.region.as_str(), "us-east-1");
//! assert!("EU-WEST-1".parse::<Region>().is_err());
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The region shown in ARNs, events and `AWS_REGION` when none is chosen.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The account id shown in ARNs, events and queue URLs (Stratus has one).
pub const DEFAULT_ACCOUNT: &str = "000000000000";

/// A malformed region name or account id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Not a region name like `us-east-1`.
    #[error(
        "invalid region `{0}`: expected a region name like us-east-1, eu-west-1, us-gov-west-1 or cn-north-1"
    )]
    Region(String),
    /// Not twelve digits.
    #[error("invalid account id `{0}`: expected 12 digits")]
    Account(String),
}

/// A region name with AWS's syntax: two letters, an optional `gov` or
/// `iso…` qualifier, a direction and a number (`eu-west-1`,
/// `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`, `ap-southeast-2`).
/// Whether AWS runs such a region is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(Cow<'static, str>);

impl Region {
    /// [`DEFAULT_REGION`].
    pub const DEFAULT: Region = Region(Cow::Borrowed(DEFAULT_REGION));

    /// Checks `name`.
    pub fn new(name: &str) -> Result<Region, ScopeError> {
        if valid_region(name) {
            Ok(Region(Cow::Owned(name.to_string())))
        } else {
            Err(ScopeError::Region(name.to_string()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition the region belongs to: `aws`, `aws-cn`, `aws-us-gov`,
    /// `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`.
    pub fn partition(&self) -> &'static str {
        partition_of(&self.0)
    }
}

impl Default for Region {
    fn default() -> Self {
        Region::DEFAULT
    }
}

/// Whether `name` has AWS's region syntax (see [`Region`]).
pub fn valid_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let (country, qualifier, direction, number) = match parts.as_slice() {
        [c, d, n] => (*c, None, *d, *n),
        [c, q, d, n] => (*c, Some(*q), *d, *n),
        _ => return false,
    };
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let qualifier_ok = match qualifier {
        None => true,
        Some("gov") => true,
        Some(q) => match q.strip_prefix("iso") {
            Some(rest) => rest.len() <= 1 && rest.bytes().all(|b| b.is_ascii_lowercase()),
            None => false,
        },
    };
    country.len() == 2
        && lower(country)
        && qualifier_ok
        && lower(direction)
        && direction.len() <= 16
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The partition of a region name (`aws` for anything not recognised).
fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        return "aws-cn";
    }
    if region.starts_with("us-gov-") {
        return "aws-us-gov";
    }
    match region.split('-').nth(1) {
        Some("iso") => "aws-iso",
        Some("isob") => "aws-iso-b",
        Some("isoe") => "aws-iso-e",
        Some("isof") => "aws-iso-f",
        _ => "aws",
    }
}

impl FromStr for Region {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::new(s)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Region {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A twelve-digit account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(Cow<'static, str>);

impl AccountId {
    /// [`DEFAULT_ACCOUNT`].
    pub const DEFAULT: AccountId = AccountId(Cow::Borrowed(DEFAULT_ACCOUNT));

    /// Checks `id`.
    pub fn new(id: &str) -> Result<AccountId, ScopeError> {
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(Cow::Owned(id.to_string())))
        } else {
            Err(ScopeError::Account(id.to_string()))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AccountId {
    fn default() -> Self {
        AccountId::DEFAULT
    }
}

impl FromStr for AccountId {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountId::new(s)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for AccountId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Region);
string_serde!(AccountId);

/// The account and region a resource belongs to. ARN constructors
/// ([`crate::arn::Arn::queue`] and the others) take one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceScope {
    pub region: Region,
    pub account: AccountId,
}

impl ResourceScope {
    /// [`DEFAULT_REGION`] and [`DEFAULT_ACCOUNT`].
    pub const DEFAULT: ResourceScope = ResourceScope {
        region: Region::DEFAULT,
        account: AccountId::DEFAULT,
    };

    /// A scope.
    pub fn new(region: Region, account: AccountId) -> ResourceScope {
        ResourceScope { region, account }
    }

    /// Checks both parts.
    pub fn parse(region: &str, account: &str) -> Result<ResourceScope, ScopeError> {
        Ok(ResourceScope {
            region: Region::new(region)?,
            account: AccountId::new(account)?,
        })
    }

    /// The partition of the region (`aws`, `aws-cn`, …).
    pub fn partition(&self) -> &'static str {
        self.region.partition()
    }
}

impl fmt::Display for ResourceScope {
    /// `REGION:ACCOUNT`, as in an ARN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.region, self.account)
    }
}

/// The key under which a regional resource (a queue, a topic, a bus) is
/// kept in a backend: its bare name in [`DEFAULT_REGION`], `region:name`
/// in any other. Each region is so its own namespace, and state made
/// before regions were told apart keeps its keys. The names of queues,
/// topics and buses never contain `:`, so a key is never ambiguous.
pub fn regional_key(region: &Region, name: &str) -> String {
    if region.as_str() == DEFAULT_REGION {
        name.to_string()
    } else {
        format!("{region}:{name}")
    }
}

/// The region and name of a key made by [`regional_key`]. A key whose
/// prefix is no region name is a name of the default region.
pub fn split_regional_key(key: &str) -> (Region, &str) {
    match key.split_once(':') {
        Some((region, name)) if valid_region(region) => {
            (Region(Cow::Owned(region.to_string())), name)
        }
        _ => (Region::DEFAULT, key),
    }
}

impl ResourceScope {
    /// The default account in `region`.
    pub fn in_region(region: Region) -> ResourceScope {
        ResourceScope {
            region,
            account: AccountId::DEFAULT,
        }
    }

    /// The scope (default account) and name of a key made by
    /// [`regional_key`].
    pub fn of_key(key: &str) -> (ResourceScope, &str) {
        let (region, name) = split_regional_key(key);
        (ResourceScope::in_region(region), name)
    }

    /// The key of `name` in this scope's region ([`regional_key`]).
    pub fn key(&self, name: &str) -> String {
        regional_key(&self.region, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_keys_are_bare_in_the_default_region() {
        let eu: Region = "eu-west-1".parse().expect("region");
        assert_eq!(regional_key(&Region::DEFAULT, "q"), "q");
        assert_eq!(regional_key(&eu, "q"), "eu-west-1:q");
        assert_eq!(split_regional_key("eu-west-1:q"), (eu.clone(), "q"));
        assert_eq!(split_regional_key("q"), (Region::DEFAULT, "q"));
        assert_eq!(
            split_regional_key("not a region:q"),
            (Region::DEFAULT, "not a region:q")
        );
        let (scope, name) = ResourceScope::of_key("eu-west-1:orders.fifo");
        assert_eq!((scope.region.as_str(), name), ("eu-west-1", "orders.fifo"));
        assert_eq!(ResourceScope::in_region(eu).key("q"), "eu-west-1:q");
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "eu-west-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-2",
            "il-central-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
        ] {
            assert!(Region::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "useast1",
            "u-east-1",
            "usa-east-1",
            "us-east-",
            "us--1",
            "us-foo-east-1",
            "us-isobb-east-1",
            "us-east-123",
            " us-east-1",
            "us_east_1",
            "local",
        ] {
            assert!(Region::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn partitions() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
        ] {
            assert_eq!(Region::new(region).map(|r| r.partition()), Ok(partition));
        }
    }

    #[test]
    fn accounts_and_serde() {
        assert!(AccountId::new("123456789012").is_ok());
        for bad in ["", "12345678901", "1234567890123", "12345678901a"] {
            assert!(AccountId::new(bad).is_err(), "{bad:?}");
        }
        let scope = ResourceScope::parse("eu-west-1", "123456789012").expect("valid");
        let json = serde_json::to_string(&scope).expect("serialises");
        assert_eq!(json, r#"{"region":"eu-west-1","account":"123456789012"}"#);
        assert_eq!(
            serde_json::from_str::<ResourceScope>(&json).ok(),
            Some(scope)
        );
        assert!(
            serde_json::from_str::<ResourceScope>(r#"{"region":"nowhere","account":"1"}"#).is_err()
        );
        assert_eq!(ResourceScope::default(), ResourceScope::DEFAULT);
        assert_eq!(ResourceScope::DEFAULT.to_string(), "us-east-1:000000000000");
        assert_eq!(
            ScopeError::Region("x".into()).to_string(),
            "invalid region `x`: expected a region name like us-east-1, eu-west-1, us-gov-west-1 or cn-north-1"
        );
    }
}
