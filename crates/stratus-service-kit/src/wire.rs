//! What the JSON services' wire layers share: running one operation from
//! its typed request to its typed response.

use crate::{ErrorKind, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Runs an operation: reads its request out of `body` with `read` (the
/// service's decoder, which words a bad member as the service does), and
/// its response as the JSON to answer.
pub async fn call<'a, Req, Resp, Fut>(
    body: &'a Value,
    read: impl FnOnce(&'a Value) -> Result<Req, ServiceError>,
    operation: impl FnOnce(Req) -> Fut,
) -> Result<Value, ServiceError>
where
    Req: Deserialize<'a>,
    Resp: Serialize,
    Fut: Future<Output = Result<Resp, ServiceError>>,
{
    let response = operation(read(body)?).await?;
    serde_json::to_value(response).map_err(|error| {
        ServiceError::new(
            ErrorKind::Internal,
            "InternalFailure",
            format!("a response did not serialize: {error}"),
        )
    })
}
