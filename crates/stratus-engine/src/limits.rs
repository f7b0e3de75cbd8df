//! Concurrency limits: the server-wide cap (reserved concurrency is checked
//! per function in the engine). Fail fast: a caller past a cap is throttled,
//! never queued.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Which limit refused an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    /// Lambda's reason code, e.g. `ReservedFunctionConcurrentInvocationLimitExceeded`.
    pub reason: &'static str,
    /// The limit's name as users configure it.
    pub limit: &'static str,
    /// The limit's value.
    pub value: usize,
    /// Seconds the caller should wait before retrying.
    pub retry_after_secs: u64,
}

impl Throttle {
    /// The function's `reservedConcurrency` is exhausted.
    pub fn reserved(value: u32) -> Throttle {
        Throttle {
            reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
            limit: "reservedConcurrency",
            value: value as usize,
            retry_after_secs: 1,
        }
    }

    /// The server-wide cap is exhausted.
    pub fn global(value: usize) -> Throttle {
        Throttle {
            reason: "ConcurrentInvocationLimitExceeded",
            limit: "maxConcurrency",
            value,
            retry_after_secs: 1,
        }
    }
}

impl std::fmt::Display for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rate exceeded: {} of {} concurrent invocations in use",
            self.limit, self.value
        )
    }
}

/// The server-wide concurrency counter.
pub struct Limits {
    max: usize,
    in_use: AtomicUsize,
}

impl Limits {
    pub fn new(max: usize) -> Limits {
        Limits {
            max,
            in_use: AtomicUsize::new(0),
        }
    }

    /// Takes one unit of concurrency if any is left.
    pub fn try_acquire(&self) -> bool {
        self.in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Returns one unit taken by `try_acquire`.
    pub fn release(&self) {
        self.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_is_enforced_and_released() {
        let limits = Limits::new(2);
        assert!(limits.try_acquire());
        assert!(limits.try_acquire());
        assert!(!limits.try_acquire());
        limits.release();
        assert!(limits.try_acquire());
    }
}
