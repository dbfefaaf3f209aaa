//! Getting a [`TenantContext`](crate::TenantContext) from the shapes a tenant reaches a Lambda in.
//!
//! | source | where the tenant is | function |
//! |---|---|---|
//! | REST API, Cognito authorizer | `requestContext.authorizer.claims` | [`from_apigw_v1`] |
//! | REST API, Lambda authorizer | flattened `requestContext.authorizer` | [`from_apigw_v1`] |
//! | HTTP API, JWT authorizer | `requestContext.authorizer.jwt.claims` | [`from_apigw_v2`] |
//! | HTTP API, Lambda authorizer | `requestContext.authorizer.lambda` | [`from_apigw_v2`] |
//! | bearer token checked here | `Authorization: Bearer` | [`TenantResolver`](crate::TenantResolver) |
//! | Lambda tenant isolation | `Context::tenant_id` | [`from_lambda_tenant`], [`check_lambda_tenant`] |
//!
//! Each gives a context or a typed [`TenantRejection`]; none panics on a missing or odd shape.

#[cfg(feature = "apigw-v1")]
mod apigw_v1;
#[cfg(feature = "apigw-v2")]
mod apigw_v2;
#[cfg(any(feature = "apigw-v1", feature = "apigw-v2"))]
mod authorizer;
#[cfg(feature = "lambda")]
mod lambda;
mod rejection;

#[cfg(feature = "apigw-v1")]
pub use apigw_v1::from_apigw_v1;
#[cfg(feature = "apigw-v2")]
pub use apigw_v2::from_apigw_v2;
#[cfg(all(
    feature = "lambda-http",
    any(feature = "apigw-v1", feature = "apigw-v2")
))]
pub(crate) use authorizer::authorizer_identity;
#[cfg(any(feature = "apigw-v1", feature = "apigw-v2"))]
pub use authorizer::{context_from_authorizer, identity_from_authorizer};
#[cfg(feature = "lambda")]
pub use lambda::{check_lambda_tenant, from_lambda_tenant};
pub use rejection::TenantRejection;
#[cfg(feature = "axum")]
mod axum;
