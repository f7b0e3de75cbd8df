//! Prometheus metrics, per function.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FunctionLabels {
    pub function: String,
}

fn duration_histogram() -> Histogram {
    // 100 µs .. ~6.5 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The engine's metric families.
pub struct Metrics {
    registry: Registry,
    pub invocations: Family<FunctionLabels, Counter>,
    pub errors: Family<FunctionLabels, Counter>,
    pub throttles: Family<FunctionLabels, Counter>,
    pub cold_starts: Family<FunctionLabels, Counter>,
    pub duration: Family<FunctionLabels, Histogram, fn() -> Histogram>,
    pub concurrent: Family<FunctionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("stratus");
        let invocations = Family::<FunctionLabels, Counter>::default();
        let errors = Family::<FunctionLabels, Counter>::default();
        let throttles = Family::<FunctionLabels, Counter>::default();
        let cold_starts = Family::<FunctionLabels, Counter>::default();
        let duration = Family::<FunctionLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let concurrent = Family::<FunctionLabels, Gauge>::default();
        registry.register(
            "function_invocations",
            "Invocations that ran (throttled ones excluded)",
            invocations.clone(),
        );
        registry.register(
            "function_errors",
            "Invocations that ended in an error or timeout",
            errors.clone(),
        );
        registry.register(
            "function_throttles",
            "Invocations refused by a concurrency limit",
            throttles.clone(),
        );
        registry.register(
            "function_cold_starts",
            "Invocations that started a new instance",
            cold_starts.clone(),
        );
        registry.register(
            "function_duration_seconds",
            "Time the function ran, excluding init",
            duration.clone(),
        );
        registry.register(
            "function_concurrent_executions",
            "Invocations running right now",
            concurrent.clone(),
        );
        Metrics {
            registry,
            invocations,
            errors,
            throttles,
            cold_starts,
            duration,
            concurrent,
        }
    }
}

/// One function's metric handles, resolved once so that recording is a few
/// atomic operations.
#[derive(Clone)]
pub struct FunctionMetrics {
    pub invocations: Counter,
    pub errors: Counter,
    pub throttles: Counter,
    pub cold_starts: Counter,
    pub duration: Histogram,
    pub concurrent: Gauge,
}

impl Metrics {
    /// The handles of one function's series.
    pub fn function(&self, function: &str) -> FunctionMetrics {
        let labels = Self::labels(function);
        FunctionMetrics {
            invocations: self.invocations.get_or_create(&labels).clone(),
            errors: self.errors.get_or_create(&labels).clone(),
            throttles: self.throttles.get_or_create(&labels).clone(),
            cold_starts: self.cold_starts.get_or_create(&labels).clone(),
            duration: self.duration.get_or_create(&labels).clone(),
            concurrent: self.concurrent.get_or_create(&labels).clone(),
        }
    }

    /// Labels for one function.
    pub fn labels(function: &str) -> FunctionLabels {
        FunctionLabels {
            function: function.to_string(),
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "failed to encode metrics");
        }
        out
    }
}
