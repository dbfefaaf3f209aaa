//! A verified [`TenantContext`] for multi-tenant SaaS on AWS Lambda.
//!
//! A `TenantContext` (tenant, user, role, tier) exists only after verification: from a JWT
//! checked against its issuer's cached JWKS ([`jwt`]), from an API Gateway authorizer context
//! ([`extract`]), or from Lambda's own tenant id. [`RequireTenantLayer`] resolves it before a
//! handler runs and answers 401/403/503 itself; [`TenantEnvelope`] carries it into asynchronous
//! work; [`logging`] puts it on every log line.
//!
//! ```
//! use saas_core::{RequireTenantLayer, TenantResolver, Role};
//! use saas_core::test_util::TestIssuer;
//! use tower::{Service, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let issuer = TestIssuer::start().await?;
//! let verifier = issuer.verifier_builder().build()?;     // or Issuer::cognito(region, pool)
//! let resolver = TenantResolver::builder().bearer(verifier).build()?;
//! let mut app = RequireTenantLayer::new(resolver).layer(service_fn(|req: http::Request<String>| async move {
//!     let ctx = req.extensions().get::<saas_core::TenantContext>().cloned();
//!     Ok::<_, std::convert::Infallible>(http::Response::new(format!("{:?}", ctx.map(|c| c.role()))))
//! }));
//! # use tower::Layer;
//!
//! let token = issuer.token().tenant("tenant-a").role("TenantAdmin").sign();
//! let request = http::Request::get("/").header("authorization", format!("Bearer {token}")).body(String::new())?;
//! let response = app.ready().await?.call(request).await?;
//! assert_eq!(response.body(), &format!("{:?}", Some(Role::TenantAdmin)));
//!
//! let anonymous = http::Request::get("/").body(String::new())?;
//! assert_eq!(app.ready().await?.call(anonymous).await?.status(), 401);
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `jwt` | yes | [`jwt::JwtVerifier`]: JWKS-cached verification and a verified-token cache (`jsonwebtoken` for the JWKS, aws-lc-rs, `reqwest`, `quick_cache`) |
//! | `apigw-v1` | | REST API events and authorizer responses (`aws_lambda_events`) |
//! | `apigw-v2` | | HTTP API events and simple authorizer responses |
//! | `lambda` | | Lambda's tenant id (`lambda_runtime::Context`) |
//! | `lambda-http` | | the layer reads authorizer contexts and Lambda's tenant id from `lambda_http` requests |
//! | `axum` | | `TenantContext` and `Identity` as axum extractors |
//! | `json-logs` | | [`logging::init`]: JSON logs for Lambda (`tracing-subscriber`) |
//! | `test-util` | | [`test_util`]: contexts without tokens, a local issuer with a JWKS server |
//! | `dev-issuer` | | [`dev_issuer::DevIssuer`]: a development issuer for local runs (key kept in a data directory); **local development only** |
#![cfg_attr(docsrs, feature(doc_cfg))]

mod claims;
mod context;
mod error_body;
mod membership;
mod resolve;

pub mod authorizer_response;
#[cfg(feature = "dev-issuer")]
pub mod dev_issuer;
mod envelope;
pub mod extract;
#[cfg(feature = "jwt")]
pub mod jwt;
pub mod layer;
#[cfg(feature = "json-logs")]
pub mod logging;
#[cfg(any(feature = "test-util", feature = "dev-issuer"))]
mod rsa_key;
#[cfg(feature = "test-util")]
pub mod test_util;

#[doc(inline)]
pub use claims::{ClaimError, ClaimMapping, Claims};
#[doc(inline)]
pub use context::{
    ContextSource, Identity, MAX_TENANT_ID_LEN, Role, TenantContext, TenantId, TenantIdError, Tier,
    UnknownValue, User,
};
#[doc(inline)]
pub use envelope::{EnvelopeTenant, TenantEnvelope};
#[doc(inline)]
pub use error_body::{ErrorBody, ErrorDetail};
#[doc(inline)]
pub use extract::TenantRejection;
#[doc(inline)]
pub use layer::{RequireTenant, RequireTenantLayer};
#[doc(inline)]
pub use membership::{
    BoxFuture, Membership, MembershipError, MembershipFn, MembershipLookup, TokenMemberships,
    membership_fn,
};
#[doc(inline)]
pub use resolve::{NoSourceError, Resolved, TenantResolver, TenantResolverBuilder, path_segment};
