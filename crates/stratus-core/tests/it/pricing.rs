//! The price sheet: rounding, GB-seconds, worked monthly bills, JSON sheets.

use std::time::Duration;
use stratus_core::pricing::{Cost, PriceSheet, PricingError};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn sheet_with(granularity_ms: u64) -> PriceSheet {
    PriceSheet {
        granularity_ms,
        ..PriceSheet::default()
    }
}

#[test]
fn default_is_lambda_x86() {
    let s = PriceSheet::default();
    assert_eq!(s.per_million_requests, 0.20);
    assert_eq!(s.per_gb_second, 0.0000166667);
    assert_eq!(s.granularity_ms, 1);
    assert_eq!(s.free_requests_per_month, 1_000_000);
    assert_eq!(s.free_gb_seconds_per_month, 400_000.0);
}

#[test]
fn billed_duration_rounds_up_to_the_granularity() {
    let ms = Duration::from_millis;
    let us = Duration::from_micros;
    let cases = [
        (1, Duration::ZERO, 1),
        (1, Duration::from_nanos(1), 1),
        (1, ms(1), 1),
        (1, ms(1) + Duration::from_nanos(1), 2),
        (1, us(1500), 2),
        (1, us(999_200), 1000),
        (1, ms(1000), 1000),
        (1, Duration::from_secs(900), 900_000),
        (100, Duration::ZERO, 100),
        (100, ms(1), 100),
        (100, ms(100), 100),
        (100, us(100_001), 200),
        (1000, ms(1200), 2000),
    ];
    for (granularity, duration, expected) in cases {
        assert_eq!(
            sheet_with(granularity).billed_ms(duration),
            expected,
            "{duration:?} at {granularity} ms"
        );
    }
}

#[test]
fn gb_seconds_count_a_gb_as_1024_mb() {
    let cases = [
        (1000, 128, 0.125),
        (1000, 1024, 1.0),
        (200, 512, 0.1),
        (1, 128, 0.000125),
        (900_000, 10_240, 9000.0),
        (0, 128, 0.0),
    ];
    for (billed_ms, memory_mb, expected) in cases {
        let got = PriceSheet::gb_seconds(billed_ms, memory_mb);
        assert!(
            close(got, expected),
            "{billed_ms} ms at {memory_mb} MB: {got} != {expected}"
        );
    }
}

/// A month's bill computed the way a caller would: per-invocation billed
/// duration, summed GB-seconds, then `cost`.
fn monthly(sheet: &PriceSheet, requests: u64, each: Duration, memory_mb: u32) -> Cost {
    let per_call = PriceSheet::gb_seconds(sheet.billed_ms(each), memory_mb);
    sheet.cost(requests, per_call * requests as f64)
}

#[test]
fn worked_monthly_bills() {
    // The AWS pricing page rounds the GB-s price to $0.00001667.
    let aws_page = PriceSheet {
        per_gb_second: 0.00001667,
        ..PriceSheet::default()
    };
    let ms = Duration::from_millis;
    struct Case {
        what: &'static str,
        sheet: PriceSheet,
        requests: u64,
        each: Duration,
        memory_mb: u32,
        request_cost: f64,
        compute_cost: f64,
        free_tier_credit: f64,
        net: f64,
        net_in_cents: i64,
    }
    let cases = [
        Case {
            // 3M requests at 512 MB, 1 s each: 1.5M GB-s, 1.1M billable,
            // $18.34 compute + $0.40 requests = $18.74.
            what: "AWS example 1 (page price)",
            sheet: aws_page.clone(),
            requests: 3_000_000,
            each: ms(1000),
            memory_mb: 512,
            request_cost: 0.60,
            compute_cost: 25.005,
            free_tier_credit: 0.20 + 6.668,
            net: 18.737,
            net_in_cents: 1874,
        },
        Case {
            what: "AWS example 1 (exact price)",
            sheet: PriceSheet::default(),
            requests: 3_000_000,
            each: ms(1000),
            memory_mb: 512,
            request_cost: 0.60,
            compute_cost: 25.00005,
            free_tier_credit: 0.20 + 6.66668,
            net: 18.73337,
            net_in_cents: 1873,
        },
        Case {
            // 30M requests at 128 MB, 200 ms each: 750,000 GB-s, 350,000
            // billable, $5.83 compute + $5.80 requests = $11.63.
            what: "AWS example 2 (page price)",
            sheet: aws_page.clone(),
            requests: 30_000_000,
            each: ms(200),
            memory_mb: 128,
            request_cost: 6.0,
            compute_cost: 12.5025,
            free_tier_credit: 0.20 + 6.668,
            net: 11.6345,
            net_in_cents: 1163,
        },
        Case {
            what: "inside the free tier",
            sheet: PriceSheet::default(),
            requests: 500_000,
            each: ms(1600),
            memory_mb: 128,
            request_cost: 0.10,
            compute_cost: 100_000.0 * 0.0000166667,
            free_tier_credit: 0.10 + 100_000.0 * 0.0000166667,
            net: 0.0,
            net_in_cents: 0,
        },
        Case {
            what: "requests over, compute under the free tier",
            sheet: PriceSheet::default(),
            requests: 2_000_000,
            each: ms(1),
            memory_mb: 128,
            request_cost: 0.40,
            compute_cost: 250.0 * 0.0000166667,
            free_tier_credit: 0.20 + 250.0 * 0.0000166667,
            net: 0.20,
            net_in_cents: 20,
        },
        Case {
            what: "nothing",
            sheet: PriceSheet::default(),
            requests: 0,
            each: Duration::ZERO,
            memory_mb: 128,
            request_cost: 0.0,
            compute_cost: 0.0,
            free_tier_credit: 0.0,
            net: 0.0,
            net_in_cents: 0,
        },
        Case {
            what: "no free tier, 100 ms granularity",
            sheet: PriceSheet {
                granularity_ms: 100,
                free_requests_per_month: 0,
                free_gb_seconds_per_month: 0.0,
                ..PriceSheet::default()
            },
            // 10 ms bills 100 ms: 1M * 0.1 s * 1 GB = 100,000 GB-s.
            requests: 1_000_000,
            each: ms(10),
            memory_mb: 1024,
            request_cost: 0.20,
            compute_cost: 1.66667,
            free_tier_credit: 0.0,
            net: 1.86667,
            net_in_cents: 187,
        },
    ];
    for c in cases {
        let cost = monthly(&c.sheet, c.requests, c.each, c.memory_mb);
        let checks = [
            ("request_cost", cost.request_cost, c.request_cost),
            ("compute_cost", cost.compute_cost, c.compute_cost),
            ("gross", cost.gross, c.request_cost + c.compute_cost),
            (
                "free_tier_credit",
                cost.free_tier_credit,
                c.free_tier_credit,
            ),
            ("net", cost.net, c.net),
        ];
        for (field, got, expected) in checks {
            assert!(
                close(got, expected),
                "{}: {field} {got} != {expected}",
                c.what
            );
        }
        assert_eq!(
            (cost.net * 100.0).round() as i64,
            c.net_in_cents,
            "{}",
            c.what
        );
    }
}

#[test]
fn price_sheets_from_json() {
    let ok: &[(&str, PriceSheet)] = &[
        ("{}", PriceSheet::default()),
        (
            r#"{"perMillionRequests": 0.25}"#,
            PriceSheet {
                per_million_requests: 0.25,
                ..PriceSheet::default()
            },
        ),
        (
            r#"{"perMillionRequests": 0, "perGbSecond": 0.0000133334, "granularityMs": 100,
                "freeRequestsPerMonth": 0, "freeGbSecondsPerMonth": 0}"#,
            PriceSheet {
                per_million_requests: 0.0,
                per_gb_second: 0.0000133334,
                granularity_ms: 100,
                free_requests_per_month: 0,
                free_gb_seconds_per_month: 0.0,
            },
        ),
    ];
    for (json, expected) in ok {
        match PriceSheet::from_json(json) {
            Ok(sheet) => assert_eq!(&sheet, expected, "{json}"),
            Err(e) => panic!("{json}: {e}"),
        }
    }
    let invalid = [
        (
            r#"{"perGbSecond": -1}"#,
            "invalid price sheet: `perGbSecond` must be a non-negative number, found -1",
        ),
        (
            r#"{"perMillionRequests": -0.2}"#,
            "invalid price sheet: `perMillionRequests` must be a non-negative number, found -0.2",
        ),
        (
            r#"{"freeGbSecondsPerMonth": -0.5}"#,
            "invalid price sheet: `freeGbSecondsPerMonth` must be a non-negative number, found -0.5",
        ),
        (
            r#"{"granularityMs": 0}"#,
            "invalid price sheet: `granularityMs` must be at least 1, found 0",
        ),
    ];
    for (json, message) in invalid {
        match PriceSheet::from_json(json) {
            Err(e @ PricingError::Invalid { .. }) => assert_eq!(e.to_string(), message),
            other => panic!("{json}: expected Invalid, got {other:?}"),
        }
    }
    let malformed = [
        r#"{"granularityMs": -1}"#,
        r#"{"perGBSecond": 1}"#,
        r#"{"perGbSecond": "cheap"}"#,
        "not json",
        "42",
    ];
    for json in malformed {
        match PriceSheet::from_json(json) {
            Err(e @ PricingError::Json(_)) => {
                assert!(e.to_string().starts_with("invalid price sheet: "), "{e}");
            }
            other => panic!("{json}: expected a JSON error, got {other:?}"),
        }
    }
}

#[test]
fn price_sheet_json_round_trips_in_camel_case() {
    let json = serde_json::to_value(PriceSheet::default()).expect("serialize");
    let mut keys: Vec<&str> = json
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "freeGbSecondsPerMonth",
            "freeRequestsPerMonth",
            "granularityMs",
            "perGbSecond",
            "perMillionRequests"
        ]
    );
    let back = PriceSheet::from_json(&json.to_string()).expect("parse back");
    assert_eq!(back, PriceSheet::default());
}
