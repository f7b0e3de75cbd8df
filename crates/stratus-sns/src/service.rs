//! SNS as a service of the AWS endpoint.

use crate::{Reply, Sns};
use async_trait::async_trait;
use http::request::Parts;
use stratus_aws::{AwsError, AwsRequest, Operation, Protocol, Service};
use stratus_core::function::topic_arn;

/// Largest request body (256 KiB per message, batch or PutEvents, 1 MiB
/// SQS messages, and room for the JSON or form encoding around them).
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// SNS on the AWS endpoint.
pub struct SnsService(pub Sns);

pub(crate) const SNS: Protocol = Protocol::Query {
    namespace: "http://sns.amazonaws.com/doc/2010-03-31/",
};

#[async_trait]
impl Service for SnsService {
    fn signing_name(&self) -> &'static str {
        "sns"
    }

    fn protocol(&self) -> Protocol {
        SNS
    }

    /// A form POST with no scope and no target (an unsigned or
    /// bearer-token query request).
    fn claims_unsigned(&self, parts: &Parts) -> bool {
        parts.method == http::Method::POST
            && parts.uri.path() == "/"
            && parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
    }

    /// `SubscribeURL` and `UnsubscribeURL`: a GET of `/` whose query is
    /// the operation, as AWS serves them to whoever holds the link.
    fn claims(&self, parts: &Parts) -> bool {
        self.allows_unsigned(parts)
    }

    fn allows_unsigned(&self, parts: &Parts) -> bool {
        parts.method == http::Method::GET && parts.uri.path() == "/" && link_action(parts).is_some()
    }

    fn body_limit(&self) -> usize {
        MAX_REQUEST_BYTES
    }

    fn operation(&self, request: &AwsRequest) -> Result<Operation, AwsError> {
        let params: std::collections::HashMap<String, String> =
            form_urlencoded::parse(&crate::wire::params_of(request))
                .into_owned()
                .collect();
        let Some(action) = params.get("Action") else {
            return Err(AwsError::sender(
                "MissingAction",
                "The request must contain the parameter Action (a form-encoded SNS query request).",
            ));
        };
        let resource = if let Some(arn) = params
            .get("TopicArn")
            .or_else(|| params.get("TargetArn"))
            .or_else(|| params.get("SubscriptionArn"))
            .or_else(|| params.get("ResourceArn"))
        {
            arn.clone()
        } else if action == "CreateTopic"
            && let Some(name) = params.get("Name")
        {
            topic_arn(name)
        } else {
            "*".to_string()
        };
        Ok(Operation::new("sns", action, resource))
    }

    async fn call(&self, operation: &Operation, request: AwsRequest) -> Result<Reply, AwsError> {
        crate::wire::handle(&self.0, &operation.name, request).await
    }
}

/// The operation of a `SubscribeURL` or `UnsubscribeURL` link.
fn link_action(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    let action = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())?;
    matches!(action.as_str(), "ConfirmSubscription" | "Unsubscribe").then_some(action)
}
