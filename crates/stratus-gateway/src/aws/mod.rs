//! The AWS-compatible service APIs on the control API's listener (what
//! `AWS_ENDPOINT_URL` names), registered with the protocol layer's router
//! (`stratus_aws::AwsRouter`), which picks the service, authenticates the
//! caller, passes the authorization hook and renders errors:
//!
//! - SQS (JSON 1.0, `X-Amz-Target: AmazonSQS.<Op>`), `stratus-sqs`;
//! - EventBridge (JSON 1.1, `X-Amz-Target: AWSEvents.<Op>`),
//!   `stratus-eventbridge`;
//! - SNS (query protocol, a form with `Action=<Op>`, XML answers),
//!   `stratus-sns`;
//! - Lambda's Invoke API (rest-json,
//!   `POST /2015-03-31/functions/{name}/invocations`), `stratus-lambda-api`.
//!
//! Each service names the IAM action and the resource ARN of every
//! operation for the hook.

use crate::AppState;
use async_trait::async_trait;

use std::sync::Arc;
use std::time::Duration;
use stratus_aws::auth::{AccessKey, AllowAuthenticated, Authenticator, CachedKeys, KeyStore};
use stratus_aws::{AwsError, AwsRouter, Caller};
use stratus_engine::records::KeyKind;
use stratus_eventbridge::EventBridgeService;
use stratus_sns::SnsService;
use stratus_sqs::SqsService;

/// How long a key read from the store is trusted without reading it again
/// (a removed function's key stops working within this time).
const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// The endpoint's router with every service Stratus serves.
pub fn router(state: &AppState) -> AwsRouter {
    let keys = CachedKeys::new(StoreKeys(state.clone()), KEY_CACHE_TTL);
    let auth = Authenticator {
        keys: Arc::new(keys),
        bearer_token: state.token.clone(),
    };
    let mut router = AwsRouter::new(auth, Arc::new(AllowAuthenticated));
    router
        .register(Arc::new(SqsService(state.services.sqs().clone())))
        .register(Arc::new(EventBridgeService(
            state.services.eventbridge().clone(),
        )))
        .register(Arc::new(stratus_lambda_api::LambdaService::new(
            state.engine.clone(),
            &state.gateway_url,
        )))
        .register(Arc::new(SnsService(state.services.sns().clone())));
    router
}

/// The engine's access keys ([`stratus_engine::backend::KeyBackend`]).
struct StoreKeys(AppState);

#[async_trait]
impl KeyStore for StoreKeys {
    async fn key(&self, key_id: &str) -> Result<Option<AccessKey>, AwsError> {
        let found = self
            .0
            .engine
            .backends()
            .keys
            .access_key(key_id)
            .await
            .map_err(|error| {
                AwsError::internal("InternalFailure", "reading an access key", &error)
            })?;
        Ok(found.map(|key| AccessKey {
            caller: match key.kind {
                KeyKind::Admin => Caller::Admin,
                KeyKind::Function => Caller::Function(key.function.unwrap_or_default()),
            },
            secret: key.secret,
            session_token: match key.kind {
                KeyKind::Admin => None,
                // A function key without its token is never accepted.
                KeyKind::Function => Some(key.session_token.unwrap_or_default()),
            },
        }))
    }
}
