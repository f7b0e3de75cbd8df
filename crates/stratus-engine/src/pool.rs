//! Instance pools: warm instances per function version, single-flight cold
//! starts, and scale to zero after an idle keep-alive.

use crate::runtime::{Instance, Runtime, RuntimeError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use stratus_core::FunctionConfig;

struct Slot {
    id: u64,
    instance: Arc<dyn Instance>,
    active: usize,
    last_used: Instant,
}

#[derive(Default)]
struct PoolState {
    slots: Vec<Slot>,
    next_id: u64,
}

impl PoolState {
    fn push(&mut self, instance: Arc<dyn Instance>, active: usize) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.slots.push(Slot {
            id,
            instance,
            active,
            last_used: Instant::now(),
        });
        id
    }
}

/// The instances of one function version.
pub struct Pool {
    config: Arc<FunctionConfig>,
    runtime: Arc<dyn Runtime>,
    state: Mutex<PoolState>,
    /// Serialises cold starts so a burst does not load the same artifact N times
    /// when one instance can take them all.
    loading: tokio::sync::Mutex<()>,
}

/// A request's hold on an instance; releases it on drop.
pub struct Lease {
    pool: Arc<Pool>,
    slot: u64,
    pub instance: Arc<dyn Instance>,
    /// Set when this request paid for a cold start: how long loading took.
    pub init: Option<Duration>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        if let Some(index) = state.slots.iter().position(|s| s.id == self.slot) {
            let slot = &mut state.slots[index];
            slot.active = slot.active.saturating_sub(1);
            slot.last_used = Instant::now();
            // A dead instance (crashed, timed out, failed init) leaves the
            // pool once its last request is done; the next request starts a
            // new one.
            if slot.active == 0 && !slot.instance.healthy() {
                let removed = state.slots.remove(index);
                drop(state);
                drop(removed);
            }
        }
    }
}

impl Pool {
    pub fn new(config: Arc<FunctionConfig>, runtime: Arc<dyn Runtime>) -> Arc<Pool> {
        Arc::new(Pool {
            config,
            runtime,
            state: Mutex::new(PoolState::default()),
            loading: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding this lock cannot leave the slot list
        // inconsistent (every mutation is a single step), so recover.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_warm(self: &Arc<Self>) -> Option<Lease> {
        let mut state = self.lock();
        let slot = state
            .slots
            .iter_mut()
            .find(|s| s.active < s.instance.capacity() && s.instance.healthy())?;
        slot.active += 1;
        Some(Lease {
            pool: self.clone(),
            slot: slot.id,
            instance: slot.instance.clone(),
            init: None,
        })
    }

    /// Takes a warm instance, or starts one (a cold start).
    pub async fn acquire(self: &Arc<Self>) -> Result<Lease, RuntimeError> {
        if let Some(lease) = self.try_warm() {
            return Ok(lease);
        }
        let _loading = if self.runtime.parallel_cold_starts() {
            None
        } else {
            let guard = self.loading.lock().await;
            if let Some(lease) = self.try_warm() {
                return Ok(lease);
            }
            Some(guard)
        };
        let started = Instant::now();
        let instance = self.runtime.load(self.config.clone()).await?;
        let init = started.elapsed();
        let slot = self.lock().push(instance.clone(), 1);
        Ok(Lease {
            pool: self.clone(),
            slot,
            instance,
            init: Some(init),
        })
    }

    /// Loads instances until `count` are ready (provisioned concurrency).
    pub async fn provision(self: &Arc<Self>, count: usize) -> Result<(), RuntimeError> {
        let _loading = self.loading.lock().await;
        while self.lock().slots.len() < count {
            let instance = self.runtime.load(self.config.clone()).await?;
            self.lock().push(instance, 0);
        }
        Ok(())
    }

    /// Drops idle instances unused for `keep_alive`, keeping `keep` of them.
    /// Returns how many were retired.
    pub fn retire_idle(&self, keep_alive: Duration, keep: usize, now: Instant) -> usize {
        let mut state = self.lock();
        let mut retired = 0;
        let mut index = 0;
        while index < state.slots.len() {
            let slot = &state.slots[index];
            let dead = slot.active == 0 && !slot.instance.healthy();
            let expired = slot.active == 0 && now.duration_since(slot.last_used) >= keep_alive;
            if dead || (expired && state.slots.len() > keep) {
                state.slots.remove(index);
                retired += 1;
            } else {
                index += 1;
            }
        }
        retired
    }

    /// Number of loaded instances.
    pub fn loaded(&self) -> usize {
        self.lock().slots.len()
    }
}
