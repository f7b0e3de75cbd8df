//! The price sheet: what a request and a GB-second cost, how durations are
//! rounded, and the monthly free tier. The defaults are AWS Lambda's public
//! x86 prices, so that Stratus can tell users what the same work would cost
//! there.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Prices and billing rules. JSON field names are camelCase; fields missing
/// from a JSON sheet take their [`Default`] values.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PriceSheet {
    /// Price of one million requests.
    pub per_million_requests: f64,
    /// Price of one GB-second of compute (memory in GB times seconds).
    pub per_gb_second: f64,
    /// Durations are rounded up to a multiple of this many milliseconds.
    pub granularity_ms: u64,
    /// Requests per month that cost nothing.
    pub free_requests_per_month: u64,
    /// GB-seconds per month that cost nothing.
    pub free_gb_seconds_per_month: f64,
}

impl Default for PriceSheet {
    /// AWS Lambda x86: $0.20 per million requests, $0.0000166667 per GB-s,
    /// billed per 1 ms, with 1,000,000 requests and 400,000 GB-s free a month.
    fn default() -> Self {
        Self {
            per_million_requests: 0.20,
            per_gb_second: 0.000_016_666_7,
            granularity_ms: 1,
            free_requests_per_month: 1_000_000,
            free_gb_seconds_per_month: 400_000.0,
        }
    }
}

/// What a month of usage costs. All amounts are in the sheet's currency.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// Requests times the request price, before the free tier.
    pub request_cost: f64,
    /// GB-seconds times the compute price, before the free tier.
    pub compute_cost: f64,
    /// `request_cost + compute_cost`.
    pub gross: f64,
    /// The part of `gross` the free tier covers.
    pub free_tier_credit: f64,
    /// `gross - free_tier_credit`: what is owed.
    pub net: f64,
}

/// Why a price sheet was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The text is not a JSON price sheet.
    #[error("invalid price sheet: {0}")]
    Json(#[from] serde_json::Error),
    /// A field has a value out of range.
    #[error("invalid price sheet: `{field}` {message}")]
    Invalid {
        /// The JSON name of the field.
        field: &'static str,
        /// What is wrong, e.g. "must be at least 1, found 0".
        message: String,
    },
}

impl PriceSheet {
    /// The billed duration in milliseconds: rounded up to a multiple of
    /// `granularity_ms`, and at least one granularity unit (a zero-length
    /// invocation bills one unit, as Lambda bills at least 1 ms).
    pub fn billed_ms(&self, duration: Duration) -> u64 {
        let unit_ns = u128::from(self.granularity_ms.max(1)) * 1_000_000;
        let units = duration.as_nanos().div_ceil(unit_ns).max(1);
        let billed = units * u128::from(self.granularity_ms.max(1));
        u64::try_from(billed).unwrap_or(u64::MAX)
    }

    /// GB-seconds of `billed_ms` at `memory_mb`; a GB is 1024 MB, as Lambda
    /// counts it (128 MB for 1 s is 0.125 GB-s).
    pub fn gb_seconds(billed_ms: u64, memory_mb: u32) -> f64 {
        (billed_ms as f64 / 1000.0) * (f64::from(memory_mb) / 1024.0)
    }

    /// The cost of one month's `requests` and `gb_seconds`, before and after
    /// the monthly free tier. The free tier covers requests and compute
    /// separately, each up to its own allowance.
    pub fn cost(&self, requests: u64, gb_seconds: f64) -> Cost {
        let per_request = self.per_million_requests / 1_000_000.0;
        let gb_seconds = if gb_seconds.is_finite() {
            gb_seconds.max(0.0)
        } else {
            0.0
        };
        let request_cost = requests as f64 * per_request;
        let compute_cost = gb_seconds * self.per_gb_second;
        let free_requests = requests.min(self.free_requests_per_month);
        let free_gb_seconds = gb_seconds.min(self.free_gb_seconds_per_month);
        let free_tier_credit =
            free_requests as f64 * per_request + free_gb_seconds * self.per_gb_second;
        let gross = request_cost + compute_cost;
        Cost {
            request_cost,
            compute_cost,
            gross,
            free_tier_credit,
            net: (gross - free_tier_credit).max(0.0),
        }
    }

    /// Parses a JSON price sheet and validates it (see [`PriceSheet::validate`]).
    pub fn from_json(s: &str) -> Result<Self, PricingError> {
        let sheet: Self = serde_json::from_str(s)?;
        sheet.validate()?;
        Ok(sheet)
    }

    /// Checks that prices and free allowances are finite and non-negative and
    /// that the granularity is at least 1 ms.
    pub fn validate(&self) -> Result<(), PricingError> {
        let amounts = [
            ("perMillionRequests", self.per_million_requests),
            ("perGbSecond", self.per_gb_second),
            ("freeGbSecondsPerMonth", self.free_gb_seconds_per_month),
        ];
        for (field, value) in amounts {
            if !value.is_finite() || value < 0.0 {
                return Err(PricingError::Invalid {
                    field,
                    message: format!("must be a non-negative number, found {value}"),
                });
            }
        }
        if self.granularity_ms < 1 {
            return Err(PricingError::Invalid {
                field: "granularityMs",
                message: format!("must be at least 1, found {}", self.granularity_ms),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_saturate() {
        let sheet = PriceSheet {
            granularity_ms: u64::MAX,
            ..PriceSheet::default()
        };
        assert_eq!(sheet.billed_ms(Duration::MAX), u64::MAX);
        assert_eq!(PriceSheet::default().billed_ms(Duration::MAX), u64::MAX);
    }

    #[test]
    fn non_finite_gb_seconds_cost_nothing() {
        let cost = PriceSheet::default().cost(0, f64::NAN);
        assert_eq!(cost.gross, 0.0);
        assert_eq!(cost.net, 0.0);
    }
}
