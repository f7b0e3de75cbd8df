//! Functions and their immutable versions.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use stratus_core::FunctionConfig;

use crate::store::error::SqlContext;
use crate::store::{Store, StoreError, from_sql_int, now_ms};
use stratus_engine::backend::{prepare_deploy, same_config};
use stratus_engine::records::{DeployResult, DeployStatus, FunctionRecord};

/// Columns of a [`FunctionRecord`], in the order [`record_from_row`] reads.
const RECORD_COLUMNS: &str = "f.name, f.service, v.version, v.config, f.created_ms, v.created_ms";

/// The current state of one function, as `deploy` needs it.
struct Existing {
    service: String,
    version: i64,
    config_json: String,
}

impl Store {
    /// Makes `configs` the complete set of functions of `service`, in one
    /// transaction:
    ///
    /// - a function that does not exist gets version 1 (`Created`);
    /// - one whose current config equals the given one is `Unchanged`;
    /// - otherwise version N+1 is inserted and made current (`Updated`);
    /// - functions of the service not in `configs` are deleted with all
    ///   their versions (`Removed`).
    ///
    /// Results come in the order of `configs`, then the removed functions by
    /// name. Errors, with nothing changed: `Invalid` for an empty service,
    /// an empty or repeated function name or a malformed artifact hash;
    /// `NotFound` if an artifact is not stored; `Conflict` if a name belongs
    /// to another service.
    pub fn deploy(
        &self,
        service: &str,
        configs: &[FunctionConfig],
    ) -> Result<Vec<DeployResult>, StoreError> {
        let json = prepare_deploy(service, configs)?;
        let names: BTreeSet<&str> = configs.iter().map(|c| c.name.as_str()).collect();

        let mut conn = self.writer();
        // Checked under the write lock so that `remove_artifact` cannot
        // delete an artifact between this check and the commit.
        for config in configs {
            if !self.has_artifact(&config.artifact) {
                return Err(StoreError::NotFound(format!(
                    "artifact {} of function {:?} has not been uploaded",
                    config.artifact, config.name
                )));
            }
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting deploy")?;

        let mut existing = HashMap::new();
        for config in configs {
            if let Some(found) = load_existing(&tx, &config.name)? {
                if found.service != service {
                    return Err(StoreError::Conflict(format!(
                        "function {:?} belongs to service {:?}, not {:?}",
                        config.name, found.service, service
                    )));
                }
                existing.insert(config.name.as_str(), found);
            }
        }

        let now = now_ms();
        let mut results = Vec::with_capacity(configs.len());
        for (config, json) in configs.iter().zip(&json) {
            let (status, version) = match existing.get(config.name.as_str()) {
                None => {
                    tx.execute(
                        "INSERT INTO functions (name, service, current_version, created_ms)
                         VALUES (?1, ?2, 1, ?3)",
                        params![config.name, service, now],
                    )
                    .sql("creating function")?;
                    insert_version(&tx, config, 1, json, now)?;
                    (DeployStatus::Created, 1)
                }
                Some(found) if same_config(&found.config_json, json, config) => {
                    (DeployStatus::Unchanged, found.version)
                }
                Some(found) => {
                    let next = found.version + 1;
                    insert_version(&tx, config, next, json, now)?;
                    tx.execute(
                        "UPDATE functions SET current_version = ?2 WHERE name = ?1",
                        params![config.name, next],
                    )
                    .sql("switching current version")?;
                    (DeployStatus::Updated, next)
                }
            };
            results.push(DeployResult {
                name: config.name.clone(),
                status,
                version: from_sql_int(version, "version")?,
            });
        }

        let stale: Vec<(String, i64)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT name, current_version FROM functions WHERE service = ?1 ORDER BY name",
                )
                .sql("listing functions of service")?;
            let rows = stmt
                .query_map([service], |row| Ok((row.get(0)?, row.get(1)?)))
                .sql("listing functions of service")?;
            rows.collect::<Result<Vec<_>, _>>()
                .sql("listing functions of service")?
                .into_iter()
                .filter(|(name, _): &(String, i64)| !names.contains(name.as_str()))
                .collect()
        };
        for (name, version) in stale {
            tx.execute("DELETE FROM functions WHERE name = ?1", [&name])
                .sql("removing function")?;
            results.push(DeployResult {
                name,
                status: DeployStatus::Removed,
                version: from_sql_int(version, "version")?,
            });
        }
        tx.commit().sql("committing deploy")?;
        drop(conn);

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

    /// The current version of every function, sorted by name.
    pub fn list_functions(&self) -> Result<Vec<FunctionRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM functions f
                     JOIN versions v ON v.name = f.name AND v.version = f.current_version
                     ORDER BY f.name"
                ))
                .sql("listing functions")?;
            let mut rows = stmt.query([]).sql("listing functions")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().sql("listing functions")? {
                out.push(record_from_row(row)?);
            }
            Ok(out)
        })
    }

    /// The current version of a function, if it exists.
    pub fn get_function(&self, name: &str) -> Result<Option<FunctionRecord>, StoreError> {
        self.read(|conn| {
            query_record(
                conn,
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM functions f
                     JOIN versions v ON v.name = f.name AND v.version = f.current_version
                     WHERE f.name = ?1"
                ),
                params![name],
            )
        })
    }

    /// One version of a function, current or not, if it exists.
    pub fn get_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<FunctionRecord>, StoreError> {
        let Ok(version) = i64::try_from(version) else {
            return Ok(None);
        };
        self.read(|conn| {
            query_record(
                conn,
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM functions f
                     JOIN versions v ON v.name = f.name
                     WHERE f.name = ?1 AND v.version = ?2"
                ),
                params![name, version],
            )
        })
    }

    /// Deletes a function and all its versions. Returns whether it existed.
    pub fn remove_function(&self, name: &str) -> Result<bool, StoreError> {
        let conn = self.writer();
        let n = conn
            .execute("DELETE FROM functions WHERE name = ?1", [name])
            .sql("removing function")?;
        drop(conn);
        if n > 0 {
            tracing::info!(function = name, "removed function");
        }
        Ok(n > 0)
    }

    /// Deletes every function of a service with all their versions, in one
    /// transaction. Returns the names removed, sorted.
    pub fn remove_service(&self, service: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting service removal")?;
        let names: Vec<String> = {
            let mut stmt = tx
                .prepare_cached("SELECT name FROM functions WHERE service = ?1 ORDER BY name")
                .sql("listing functions of service")?;
            let rows = stmt
                .query_map([service], |row| row.get(0))
                .sql("listing functions of service")?;
            rows.collect::<Result<_, _>>()
                .sql("listing functions of service")?
        };
        tx.execute("DELETE FROM functions WHERE service = ?1", [service])
            .sql("removing service")?;
        tx.commit().sql("committing service removal")?;
        drop(conn);
        for name in &names {
            tracing::info!(service, function = %name, "removed function");
        }
        Ok(names)
    }
}

fn load_existing(conn: &Connection, name: &str) -> Result<Option<Existing>, StoreError> {
    conn.prepare_cached(
        "SELECT f.service, f.current_version, v.config FROM functions f
         JOIN versions v ON v.name = f.name AND v.version = f.current_version
         WHERE f.name = ?1",
    )
    .sql("reading function")?
    .query_row([name], |row| {
        Ok(Existing {
            service: row.get(0)?,
            version: row.get(1)?,
            config_json: row.get(2)?,
        })
    })
    .optional()
    .sql("reading function")
}

fn insert_version(
    conn: &Connection,
    config: &FunctionConfig,
    version: i64,
    json: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO versions (name, version, artifact, config, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .sql("inserting version")?
    .execute(params![config.name, version, config.artifact, json, now])
    .sql("inserting version")?;
    Ok(())
}

fn query_record(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<FunctionRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).sql("reading function")?;
    let mut rows = stmt.query(params).sql("reading function")?;
    match rows.next().sql("reading function")? {
        Some(row) => record_from_row(row).map(Some),
        None => Ok(None),
    }
}

fn record_from_row(row: &Row<'_>) -> Result<FunctionRecord, StoreError> {
    let name: String = row.get(0).sql("reading function")?;
    let config_json: String = row.get(3).sql("reading function")?;
    let version: i64 = row.get(2).sql("reading function")?;
    let config = serde_json::from_str(&config_json).map_err(|e| {
        StoreError::Corrupt(format!(
            "stored config of function {name:?} version {version} is unreadable: {e}"
        ))
    })?;
    Ok(FunctionRecord {
        service: row.get(1).sql("reading function")?,
        version: from_sql_int(version, "version")?,
        config,
        created_ms: row.get(4).sql("reading function")?,
        updated_ms: row.get(5).sql("reading function")?,
        name,
    })
}
