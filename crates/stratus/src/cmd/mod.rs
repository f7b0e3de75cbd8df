//! One file per subcommand.

pub mod credentials;
pub mod deploy;
pub mod dev;
pub mod events;
pub mod info;
pub mod invoke;
pub mod logs;
pub mod ls;
pub mod queue;
pub mod remove;
pub mod serve;
pub mod sns;
pub mod stats;

/// Formats epoch milliseconds as an RFC 3339 UTC timestamp.
pub fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}
