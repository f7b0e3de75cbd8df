//! Prometheus metrics of the event sources: deliveries and retries per
//! source (counters kept here), and per queue, rendered at scrape time from
//! the store: depth, messages in flight, age of the oldest message and the
//! depth of its dead-letter queue.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// A source of deliveries: `kind` is `sqs`, `sns`, `schedule`,
/// `eventbridge`, `destination` or `dlq`; `name` the queue, topic, rule or
/// function.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// What kind of source.
    pub kind: String,
    /// Which one.
    pub name: String,
}

/// Counters kept in memory.
pub struct EventMetrics {
    registry: Registry,
    deliveries: Family<SourceLabels, Counter>,
    retries: Family<SourceLabels, Counter>,
    failures: Family<SourceLabels, Counter>,
}

impl Default for EventMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("stratus");
        let deliveries = Family::<SourceLabels, Counter>::default();
        let retries = Family::<SourceLabels, Counter>::default();
        let failures = Family::<SourceLabels, Counter>::default();
        registry.register(
            "source_deliveries",
            "Events (messages, notifications, ticks, records) a source handed to a function or target",
            deliveries.clone(),
        );
        registry.register(
            "source_retries",
            "Deliveries a source made again after a failure (a message received again, a batch item reported failed)",
            retries.clone(),
        );
        registry.register(
            "source_failures",
            "Deliveries that failed (the function erred, or the target refused)",
            failures.clone(),
        );
        EventMetrics {
            registry,
            deliveries,
            retries,
            failures,
        }
    }
}

fn labels(kind: &str, name: &str) -> SourceLabels {
    SourceLabels {
        kind: kind.to_string(),
        name: name.to_string(),
    }
}

impl EventMetrics {
    /// `n` deliveries from a source.
    pub fn delivered(&self, kind: &str, name: &str, n: u64) {
        self.deliveries.get_or_create(&labels(kind, name)).inc_by(n);
    }

    /// `n` retries by a source.
    pub fn retried(&self, kind: &str, name: &str, n: u64) {
        self.retries.get_or_create(&labels(kind, name)).inc_by(n);
    }

    /// `n` failed deliveries by a source.
    pub fn failed(&self, kind: &str, name: &str, n: u64) {
        self.failures.get_or_create(&labels(kind, name)).inc_by(n);
    }

    /// A destination record sent for `function`.
    pub fn destination(&self, function: &str, _success: bool) {
        self.delivered("destination", function, 1);
    }

    /// A failed event sent to `function`'s DLQ.
    pub fn dead_lettered(&self, function: &str) {
        self.delivered("dlq", function, 1);
    }

    /// The counters of one source kind, for `stats`: (name, deliveries,
    /// retries, failures).
    pub fn snapshot(&self) -> Vec<(SourceLabels, u64, u64, u64)> {
        // prometheus-client has no iteration over a family; render and
        // parse our own three families instead.
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            return Vec::new();
        }
        let mut rows: std::collections::BTreeMap<(String, String), (u64, u64, u64)> =
            Default::default();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let Some((metric, label_text)) = series.split_once('{') else {
                continue;
            };
            let label = |key: &str| -> String {
                label_text
                    .split(',')
                    .find_map(|kv| kv.trim_end_matches('}').strip_prefix(&format!("{key}=\"")))
                    .map(|v| v.trim_end_matches('"').to_string())
                    .unwrap_or_default()
            };
            let entry = rows.entry((label("kind"), label("name"))).or_default();
            let n = value as u64;
            match metric {
                "stratus_source_deliveries_total" => entry.0 = n,
                "stratus_source_retries_total" => entry.1 = n,
                "stratus_source_failures_total" => entry.2 = n,
                _ => {}
            }
        }
        rows.into_iter()
            .map(|((kind, name), (d, r, f))| (SourceLabels { kind, name }, d, r, f))
            .collect()
    }

    /// The counters in Prometheus text format (without the `# EOF` line).
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            return String::new();
        }
        text.lines()
            .filter(|l| *l != "# EOF")
            .map(|l| format!("{l}\n"))
            .collect()
    }
}
