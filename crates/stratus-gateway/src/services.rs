//! The AWS service APIs as served to functions on their own Runtime API
//! listener (see `stratus_lambda::Services`): SQS, SNS and EventBridge at
//! `POST /` and the Lambda Invoke API, as on the control API's listener,
//! without the control API itself.

use crate::AppState;
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tower::ServiceExt;

/// Largest answer passed back to a function (Lambda's synchronous limit plus
/// room for the encoding).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// A boxed handler of one buffered request.
pub type ServicesFn = Arc<
    dyn Fn(http::Request<Bytes>) -> Pin<Box<dyn Future<Output = http::Response<Bytes>> + Send>>
        + Send
        + Sync,
>;

/// The router of the AWS service APIs only.
pub fn services_router(state: AppState) -> Router {
    let aws = Arc::new(crate::aws::router(&state));
    Router::new().fallback(move |request: axum::extract::Request| {
        let aws = aws.clone();
        async move { aws.handle(request).await.map(Body::from) }
    })
}

/// [`services_router`] as a function of buffered requests.
pub fn services_handler(state: AppState) -> ServicesFn {
    let router = services_router(state);
    Arc::new(move |request: http::Request<Bytes>| {
        let router = router.clone();
        Box::pin(async move {
            let response = match router.oneshot(request.map(Body::from)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let (parts, body) = response.into_parts();
            match http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
            {
                Ok(collected) => http::Response::from_parts(parts, collected.to_bytes()),
                Err(error) => {
                    tracing::warn!(%error, "an AWS API answer to a function could not be read");
                    let mut response = http::Response::new(Bytes::from_static(
                        b"{\"__type\":\"InternalFailure\",\"message\":\"the answer could not be read\"}",
                    ));
                    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    response
                }
            }
        })
    })
}
