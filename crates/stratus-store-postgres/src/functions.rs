//! Functions, their immutable versions and their artifacts
//! ([`FunctionBackend`]) in PostgreSQL. An artifact is kept in chunks of at
//! most 1 MiB (`artifact_chunks`), committed together with its row, so
//! every node reads what any node uploaded. A deploy is one transaction
//! that locks the functions it names (`FOR UPDATE`), so deploys through
//! two nodes at once serialize.

use crate::{Pg, backend};
use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use stratus_core::{FunctionConfig, StoreError};
use stratus_engine::backend::{FunctionBackend, prepare_deploy, same_config, validate_sha256};
use stratus_engine::records::{DeployResult, DeployStatus, FunctionRecord};
use tokio_postgres::Row;

/// The largest chunk of an artifact.
const CHUNK: usize = 1 << 20;

/// Functions, versions and artifacts in PostgreSQL; cheap to clone.
#[derive(Clone, Debug)]
pub struct PgFunctions(Pg);

impl PgFunctions {
    /// The backend over `pg`.
    pub fn new(pg: Pg) -> PgFunctions {
        PgFunctions(pg)
    }
}

const RECORD_COLUMNS: &str = "f.name, f.service, v.version, v.config, f.created_ms, v.created_ms";

fn record_of(row: &Row) -> Result<FunctionRecord, StoreError> {
    let name: String = row.get(0);
    let config: String = row.get(3);
    let version: i64 = row.get(2);
    let config = serde_json::from_str(&config).map_err(|e| {
        StoreError::Corrupt(format!(
            "stored config of function {name:?} is not valid: {e}"
        ))
    })?;
    Ok(FunctionRecord {
        name,
        service: row.get(1),
        version: u64::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("stored version {version} is negative")))?,
        config,
        created_ms: row.get(4),
        updated_ms: row.get(5),
    })
}

fn version_of(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("stored version {version} is negative")))
}

#[async_trait]
impl FunctionBackend for PgFunctions {
    async fn put_artifact(&self, sha256: &str, bytes: Bytes) -> Result<(), StoreError> {
        validate_sha256(sha256)?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != sha256 {
            return Err(StoreError::Invalid(format!(
                "artifact hash mismatch: expected {sha256}, content hashes to {actual}"
            )));
        }
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let mut client = self.0.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| backend("starting to store an artifact", e))?;
        let inserted = tx
            .execute(
                "INSERT INTO artifacts (sha256, size, created_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (sha256) DO NOTHING",
                &[&sha256, &size, &stratus_core::store::now_ms()],
            )
            .await
            .map_err(|e| backend("storing an artifact", e))?;
        if inserted == 0 {
            // Kept already (its chunks committed with it).
            return Ok(());
        }
        for (seq, chunk) in bytes.chunks(CHUNK).enumerate() {
            let seq = i32::try_from(seq).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO artifact_chunks (sha256, seq, data) VALUES ($1, $2, $3)",
                &[&sha256, &seq, &chunk],
            )
            .await
            .map_err(|e| backend("storing an artifact's chunk", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| backend("committing an artifact", e))?;
        tracing::info!(artifact = sha256, size, "stored artifact");
        Ok(())
    }

    async fn has_artifact(&self, sha256: &str) -> Result<bool, StoreError> {
        if validate_sha256(sha256).is_err() {
            return Ok(false);
        }
        let row = self
            .0
            .client()
            .await?
            .query_opt("SELECT 1 FROM artifacts WHERE sha256 = $1", &[&sha256])
            .await
            .map_err(|e| backend("looking for an artifact", e))?;
        Ok(row.is_some())
    }

    async fn artifact(&self, sha256: &str) -> Result<Option<Bytes>, StoreError> {
        validate_sha256(sha256)?;
        let client = self.0.client().await?;
        let Some(head) = client
            .query_opt("SELECT size FROM artifacts WHERE sha256 = $1", &[&sha256])
            .await
            .map_err(|e| backend("reading an artifact", e))?
        else {
            return Ok(None);
        };
        let size: i64 = head.get(0);
        let rows = client
            .query(
                "SELECT data FROM artifact_chunks WHERE sha256 = $1 ORDER BY seq",
                &[&sha256],
            )
            .await
            .map_err(|e| backend("reading an artifact's chunks", e))?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        for row in &rows {
            bytes.extend_from_slice(row.get::<_, &[u8]>(0));
        }
        if i64::try_from(bytes.len()).ok() != Some(size) {
            return Err(StoreError::Corrupt(format!(
                "artifact {sha256} has {} bytes of its {size}",
                bytes.len()
            )));
        }
        Ok(Some(Bytes::from(bytes)))
    }

    async fn deploy(
        &self,
        service: &str,
        configs: &[FunctionConfig],
    ) -> Result<Vec<DeployResult>, StoreError> {
        let json = prepare_deploy(service, configs)?;
        let names: BTreeSet<&str> = configs.iter().map(|c| c.name.as_str()).collect();

        let mut client = self.0.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| backend("starting a deploy", e))?;
        // The service's functions and the named ones, locked: a concurrent
        // deploy of the same functions waits for this one.
        let listed: Vec<&str> = names.iter().copied().collect();
        tx.execute(
            "SELECT 1 FROM functions WHERE service = $1 OR name = ANY($2) FOR UPDATE",
            &[&service, &listed],
        )
        .await
        .map_err(|e| backend("locking the functions of a deploy", e))?;
        for config in configs {
            let kept = tx
                .query_opt(
                    "SELECT 1 FROM artifacts WHERE sha256 = $1",
                    &[&config.artifact],
                )
                .await
                .map_err(|e| backend("looking for an artifact", e))?;
            if kept.is_none() {
                return Err(StoreError::NotFound(format!(
                    "artifact {} of function {:?} has not been uploaded",
                    config.artifact, config.name
                )));
            }
        }
        let now = stratus_core::store::now_ms();
        let mut existing = std::collections::HashMap::new();
        for config in configs {
            let row = tx
                .query_opt(
                    "SELECT f.service, f.current_version, v.config FROM functions f
                     JOIN versions v ON v.name = f.name AND v.version = f.current_version
                     WHERE f.name = $1",
                    &[&config.name],
                )
                .await
                .map_err(|e| backend("reading a function", e))?;
            if let Some(row) = row {
                let owner: String = row.get(0);
                if owner != service {
                    return Err(StoreError::Conflict(format!(
                        "function {:?} belongs to service {owner:?}, not {service:?}",
                        config.name
                    )));
                }
                existing.insert(
                    config.name.as_str(),
                    (row.get::<_, i64>(1), row.get::<_, String>(2)),
                );
            }
        }
        let mut results = Vec::with_capacity(configs.len());
        for (config, json) in configs.iter().zip(&json) {
            let (status, version) = match existing.get(config.name.as_str()) {
                None => {
                    tx.execute(
                        "INSERT INTO functions (name, service, current_version, created_ms)
                         VALUES ($1, $2, 1, $3)",
                        &[&config.name, &service, &now],
                    )
                    .await
                    .map_err(|e| backend("creating a function", e))?;
                    insert_version(&tx, config, 1, json, now).await?;
                    (DeployStatus::Created, 1)
                }
                Some((version, stored)) if same_config(stored, json, config) => {
                    (DeployStatus::Unchanged, *version)
                }
                Some((version, _)) => {
                    let next = version + 1;
                    insert_version(&tx, config, next, json, now).await?;
                    tx.execute(
                        "UPDATE functions SET current_version = $2 WHERE name = $1",
                        &[&config.name, &next],
                    )
                    .await
                    .map_err(|e| backend("switching a function's version", e))?;
                    (DeployStatus::Updated, next)
                }
            };
            results.push(DeployResult {
                name: config.name.clone(),
                status,
                version: version_of(version)?,
            });
        }
        let stale = tx
            .query(
                "SELECT name, current_version FROM functions WHERE service = $1 ORDER BY name",
                &[&service],
            )
            .await
            .map_err(|e| backend("listing a service's functions", e))?;
        for row in &stale {
            let name: String = row.get(0);
            if names.contains(name.as_str()) {
                continue;
            }
            tx.execute("DELETE FROM functions WHERE name = $1", &[&name])
                .await
                .map_err(|e| backend("removing a function", e))?;
            results.push(DeployResult {
                name,
                status: DeployStatus::Removed,
                version: version_of(row.get(1))?,
            });
        }
        tx.commit()
            .await
            .map_err(|e| backend("committing a deploy", e))?;
        for result in &results {
            tracing::info!(
                service,
                function = %result.name,
                version = result.version,
                status = result.status.as_str(),
                "deployed function"
            );
        }
        Ok(results)
    }

    async fn list_functions(&self) -> Result<Vec<FunctionRecord>, StoreError> {
        let rows = self
            .0
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM functions f
                     JOIN versions v ON v.name = f.name AND v.version = f.current_version
                     ORDER BY f.name"
                ),
                &[],
            )
            .await
            .map_err(|e| backend("listing functions", e))?;
        rows.iter().map(record_of).collect()
    }

    async fn version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<FunctionRecord>, StoreError> {
        let Ok(version) = i64::try_from(version) else {
            return Ok(None);
        };
        let row = self
            .0
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM functions f
                     JOIN versions v ON v.name = f.name
                     WHERE f.name = $1 AND v.version = $2"
                ),
                &[&name, &version],
            )
            .await
            .map_err(|e| backend("reading a version", e))?;
        row.as_ref().map(record_of).transpose()
    }

    async fn remove_function(&self, name: &str) -> Result<bool, StoreError> {
        let removed = self
            .0
            .client()
            .await?
            .execute("DELETE FROM functions WHERE name = $1", &[&name])
            .await
            .map_err(|e| backend("removing a function", e))?;
        if removed > 0 {
            tracing::info!(function = name, "removed function");
        }
        Ok(removed > 0)
    }

    async fn remove_service(&self, service: &str) -> Result<Vec<String>, StoreError> {
        let rows = self
            .0
            .client()
            .await?
            .query(
                "DELETE FROM functions WHERE service = $1 RETURNING name",
                &[&service],
            )
            .await
            .map_err(|e| backend("removing a service", e))?;
        let mut names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        names.sort();
        for name in &names {
            tracing::info!(service, function = %name, "removed function");
        }
        Ok(names)
    }
}

async fn insert_version(
    tx: &tokio_postgres::Transaction<'_>,
    config: &FunctionConfig,
    version: i64,
    json: &str,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO versions (name, version, artifact, config, created_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[&config.name, &version, &config.artifact, &json, &now],
    )
    .await
    .map_err(|e| backend("inserting a version", e))?;
    Ok(())
}
