//! The registry: deployed functions and their versions, the route table,
//! deploys and removals, and resolving a qualifier to a loaded version.

use crate::engine::*;
use crate::pool::Pool;
use crate::records::{AccessKey, DeployResult, FunctionRecord};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratus_core::route::Router;
use stratus_core::{FunctionConfig, RuntimeKind};

impl Engine {
    /// Rebuilds the registry from the store, keeping warm pools of versions
    /// that did not change.
    pub(crate) async fn reload(&self) -> Result<(), EngineError> {
        let records = self.inner.backends.functions.list_functions().await?;
        // The credentials of the functions that get a new pool below.
        let new_pools: Vec<String> = {
            let current = self.read_registry();
            records
                .iter()
                .filter(|r| {
                    current
                        .functions
                        .get(&r.name)
                        .is_none_or(|d| d.record.version != r.version)
                })
                .map(|r| r.name.clone())
                .collect()
        };
        let mut credentials = HashMap::new();
        for name in new_pools {
            if let Some(key) = self.credentials(&name).await {
                credentials.insert(name, key);
            }
        }
        let mut fresh = Registry::default();
        let mut to_provision = Vec::new();
        {
            let current = self.read_registry();
            for record in records {
                let kept = current
                    .functions
                    .get(&record.name)
                    .filter(|d| d.record.version == record.version)
                    .cloned();
                let deployed = match kept {
                    Some(d) => d,
                    None => {
                        let inflight = current
                            .functions
                            .get(&record.name)
                            .map(|d| d.inflight.clone())
                            .unwrap_or_default();
                        let runtime = self.runtime(record.config.runtime)?;
                        let config = self
                            .inner
                            .config
                            .pool_config(&record.config, credentials.get(&record.name));
                        let pool = Pool::new(config, runtime);
                        if record.config.provisioned_concurrency > 0 {
                            to_provision.push((
                                pool.clone(),
                                record.config.provisioned_concurrency as usize,
                            ));
                        }
                        Arc::new(Deployed {
                            metrics: self.inner.metrics.function(&record.name),
                            record,
                            pool,
                            inflight,
                        })
                    }
                };
                for route in &deployed.record.config.routes {
                    if let Err(error) = fresh.router.insert(
                        &route.method,
                        &route.path,
                        deployed.record.name.clone(),
                    ) {
                        tracing::warn!(function = %deployed.record.name, %error, "route skipped");
                    }
                }
                fresh
                    .functions
                    .insert(deployed.record.name.clone(), deployed);
            }
        }
        self.inner
            .pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(name, _), _| fresh.functions.contains_key(name));
        *self
            .inner
            .registry
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fresh;
        self.inner
            .deploys
            .send_modify(|generation| *generation += 1);
        for (pool, count) in to_provision {
            if let Err(error) = pool.provision(count).await {
                tracing::error!(%error, "provisioned concurrency could not be loaded");
            }
        }
        Ok(())
    }

    /// Function `name`'s own AWS credentials, if functions get them
    /// ([`crate::EngineConfig::function_credentials`]); made on first use.
    /// A function whose key cannot be read runs without (logged).
    async fn credentials(&self, name: &str) -> Option<AccessKey> {
        if !self.inner.config.function_credentials {
            return None;
        }
        match self.inner.backends.keys.function_key(name).await {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::warn!(function = name, error = %crate::error_chain(&error), "no access key for the function");
                None
            }
        }
    }

    pub(crate) fn read_registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Validates and compiles an uploaded artifact, then stores it.
    pub async fn upload_artifact(
        &self,
        kind: RuntimeKind,
        sha256: &str,
        bytes: Bytes,
    ) -> Result<(), EngineError> {
        let runtime = self.runtime(kind)?;
        // Verify the hash and keep the source before compiling, so a bad
        // upload is rejected without burning a compile.
        self.inner
            .backends
            .functions
            .put_artifact(sha256, bytes.clone())
            .await?;
        runtime.prepare(sha256, bytes).await?;
        Ok(())
    }

    /// Whether an artifact is kept and compiled on this node.
    pub async fn has_artifact(&self, kind: RuntimeKind, sha256: &str) -> Result<bool, EngineError> {
        let prepared = self
            .inner
            .runtimes
            .get(&kind)
            .is_some_and(|r| r.is_prepared(sha256));
        Ok(prepared && self.inner.backends.functions.has_artifact(sha256).await?)
    }

    /// Deploys a service: a new immutable version for each changed function,
    /// switched in atomically.
    pub async fn deploy(
        &self,
        service: &str,
        configs: Vec<FunctionConfig>,
    ) -> Result<Vec<DeployResult>, EngineError> {
        let _serial = self.inner.deploy_lock.lock().await;
        for config in &configs {
            if !self.has_artifact(config.runtime, &config.artifact).await? {
                return Err(EngineError::Invalid(format!(
                    "artifact {} of function `{}` was not uploaded",
                    config.artifact, config.name
                )));
            }
        }
        self.check_routes(service, &configs)?;
        let mut kinds: Vec<RuntimeKind> = configs.iter().map(|c| c.runtime).collect();
        kinds.sort_by_key(|k| k.as_str());
        kinds.dedup();
        let results = self
            .inner
            .backends
            .functions
            .deploy(service, &configs)
            .await?;
        self.reload().await?;
        for kind in kinds {
            let Ok(runtime) = self.runtime(kind) else {
                continue;
            };
            let cancel = self.inner.cancel.clone();
            self.inner.tasks.spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    result = runtime.prepare_kind(kind) => {
                        if let Err(error) = result {
                            tracing::warn!(runtime = kind.as_str(), error = %crate::error_chain(&error), "could not prepare the runtime; the first cold start will try again");
                        }
                    }
                }
            });
        }
        Ok(results)
    }

    /// Route conflicts against the functions of other services.
    pub(crate) fn check_routes(
        &self,
        service: &str,
        configs: &[FunctionConfig],
    ) -> Result<(), EngineError> {
        let registry = self.read_registry();
        let mut router = Router::new();
        for deployed in registry.functions.values() {
            if deployed.record.service == service {
                continue;
            }
            for route in &deployed.record.config.routes {
                let _ = router.insert(&route.method, &route.path, deployed.record.name.clone());
            }
        }
        for config in configs {
            for route in &config.routes {
                router
                    .insert(&route.method, &route.path, config.name.clone())
                    .map_err(|e| {
                        EngineError::Conflict(format!(
                            "route `{} {}` of function `{}`: {e}",
                            route.method, route.path, config.name
                        ))
                    })?;
            }
        }
        Ok(())
    }

    /// Removes one function.
    pub async fn remove_function(&self, name: &str) -> Result<bool, EngineError> {
        let _serial = self.inner.deploy_lock.lock().await;
        let removed = self.inner.backends.functions.remove_function(name).await?;
        self.reload().await?;
        Ok(removed)
    }

    /// Removes every function of a service.
    pub async fn remove_service(&self, service: &str) -> Result<Vec<String>, EngineError> {
        let _serial = self.inner.deploy_lock.lock().await;
        let removed = self
            .inner
            .backends
            .functions
            .remove_service(service)
            .await?;
        self.reload().await?;
        Ok(removed)
    }

    /// The deployed functions.
    pub fn functions(&self) -> Vec<FunctionRecord> {
        let mut list: Vec<_> = self
            .read_registry()
            .functions
            .values()
            .map(|d| d.record.clone())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// One deployed function.
    pub fn function(&self, name: &str) -> Option<FunctionRecord> {
        self.read_registry()
            .functions
            .get(name)
            .map(|d| d.record.clone())
    }

    /// Loaded instances of a function (0 when scaled to zero).
    pub fn loaded_instances(&self, name: &str) -> usize {
        self.read_registry()
            .functions
            .get(name)
            .map_or(0, |d| d.pool.loaded())
    }

    /// Retires a function's idle instances now, keeping provisioned ones.
    pub fn evict(&self, name: &str) -> Result<usize, EngineError> {
        let registry = self.read_registry();
        let deployed = registry
            .functions
            .get(name)
            .ok_or_else(|| EngineError::NotFound(name.to_string()))?;
        Ok(deployed.pool.retire_idle(
            Duration::ZERO,
            deployed.record.config.provisioned_concurrency as usize,
            Instant::now(),
        ))
    }

    /// Finds the function serving an HTTP route.
    pub fn route(&self, method: &str, path: &str) -> Option<RoutedTo> {
        let registry = self.read_registry();
        let found = registry.router.lookup(method, path)?;
        Some(RoutedTo {
            function: found.value.clone(),
            route_key: found.route_key,
            params: found.params,
        })
    }

    /// The deployed version a qualifier names, loading an older version on
    /// first use.
    pub(crate) async fn resolve(
        &self,
        function: &str,
        qualifier: Qualifier,
    ) -> Result<Arc<Deployed>, EngineError> {
        let current = self
            .read_registry()
            .functions
            .get(function)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(function.to_string()))?;
        let version = match qualifier {
            Qualifier::Latest => return Ok(current),
            Qualifier::Version(v) if v == current.record.version => return Ok(current),
            Qualifier::Version(v) => v,
        };
        let key = (function.to_string(), version);
        if let Some(found) = self
            .inner
            .pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(found.clone());
        }
        let record = self
            .inner
            .backends
            .functions
            .version(function, version)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("{function}:{version}")))?;
        let runtime = self.runtime(record.config.runtime)?;
        let credentials = self.credentials(function).await;
        let deployed = Arc::new(Deployed {
            pool: Pool::new(
                self.inner
                    .config
                    .pool_config(&record.config, credentials.as_ref()),
                runtime,
            ),
            metrics: current.metrics.clone(),
            inflight: current.inflight.clone(),
            record,
        });
        Ok(self
            .inner
            .pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(deployed)
            .clone())
    }
}
