//! Access keys ([`KeyBackend`]) in PostgreSQL: one admin key for the
//! cluster and one key per function, made by whichever node asks first
//! (an insert that loses a race reads the winner's key).

use crate::{Pg, backend};
use async_trait::async_trait;
use stratus_core::StoreError;
use stratus_engine::backend::KeyBackend;
use stratus_engine::records::{AccessKey, KeyKind};
use tokio_postgres::Row;

/// Access keys in PostgreSQL; cheap to clone.
#[derive(Clone, Debug)]
pub struct PgKeys(Pg);

impl PgKeys {
    /// The keys over `pg`.
    pub fn new(pg: Pg) -> PgKeys {
        PgKeys(pg)
    }

    /// The key of `kind` (of `function`), made if there is none.
    async fn get_or_create(
        &self,
        kind: KeyKind,
        function: Option<&str>,
    ) -> Result<AccessKey, StoreError> {
        let client = self.0.client().await?;
        let find = || async {
            let row = match function {
                Some(name) => {
                    client
                        .query_opt(
                            &format!("SELECT {COLUMNS} FROM access_keys WHERE function = $1"),
                            &[&name],
                        )
                        .await
                }
                None => {
                    client
                        .query_opt(
                            &format!("SELECT {COLUMNS} FROM access_keys WHERE kind = 'admin'"),
                            &[],
                        )
                        .await
                }
            }
            .map_err(|e| backend("reading an access key", e))?;
            row.as_ref().map(key_of).transpose()
        };
        if let Some(key) = find().await? {
            return Ok(key);
        }
        let key = AccessKey::generate(kind, function, stratus_core::store::now_ms());
        let inserted = client
            .execute(
                &format!(
                    "INSERT INTO access_keys ({COLUMNS})
                     SELECT $1, $2, $3, $4, $5, $6
                     WHERE $4::TEXT IS NULL OR EXISTS (SELECT 1 FROM functions WHERE name = $4)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &key.key_id,
                    &key.secret,
                    &kind.as_str(),
                    &key.function,
                    &key.session_token,
                    &key.created_ms,
                ],
            )
            .await
            .map_err(|e| backend("inserting an access key", e))?;
        if inserted > 0 {
            tracing::info!(key_id = %key.key_id, kind = kind.as_str(), function, "created access key");
            return Ok(key);
        }
        // Another node made it first, or the function does not exist.
        find().await?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "function `{}` does not exist",
                function.unwrap_or_default()
            ))
        })
    }
}

const COLUMNS: &str = "key_id, secret, kind, function, session_token, created_ms";

fn key_of(row: &Row) -> Result<AccessKey, StoreError> {
    let key_id: String = row.get(0);
    let kind: String = row.get(2);
    let kind = match kind.as_str() {
        "admin" => KeyKind::Admin,
        "function" => KeyKind::Function,
        other => {
            return Err(StoreError::Corrupt(format!(
                "access key {key_id} has unknown kind {other:?}"
            )));
        }
    };
    Ok(AccessKey {
        key_id,
        secret: row.get(1),
        kind,
        function: row.get(3),
        session_token: row.get(4),
        created_ms: row.get(5),
    })
}

#[async_trait]
impl KeyBackend for PgKeys {
    async fn admin_key(&self) -> Result<AccessKey, StoreError> {
        self.get_or_create(KeyKind::Admin, None).await
    }

    async fn function_key(&self, function: &str) -> Result<AccessKey, StoreError> {
        self.get_or_create(KeyKind::Function, Some(function)).await
    }

    async fn access_key(&self, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        let row = self
            .0
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM access_keys WHERE key_id = $1"),
                &[&key_id],
            )
            .await
            .map_err(|e| backend("reading an access key", e))?;
        row.as_ref().map(key_of).transpose()
    }
}
