//! The tower layer that resolves the tenant before the handler runs.
//!
//! [`RequireTenantLayer`] wraps any `http` service: `lambda_http` handlers, axum routers, or a
//! plain hyper server. For every request it:
//!
//! 1. resolves the tenant with a [`TenantResolver`](crate::TenantResolver); on failure it answers
//!    itself (401/403/503 with a JSON body, the refusal logged in a `request` span with
//!    `aws.request_id`) and the handler never runs;
//! 2. opens the `request` span with `tenant.id`, `tenant.tier`, `user.sub` and `aws.request_id`,
//!    so every log line of the handler carries them (lines logged while resolving carry the
//!    enclosing spans: on Lambda, the runtime's `Lambda runtime invoke` with its `requestId`);
//! 3. puts the [`TenantContext`](crate::TenantContext) (or, on routes that name no tenant, the
//!    [`Identity`](crate::Identity)) into the request extensions, and calls the handler in the
//!    span.
//!
//! Nothing is kept between requests: the context lives in the request, the span ends with it.
//!
//! ```
//! use saas_core::{RequireTenantLayer, TenantContext, TenantResolver};
//! use saas_core::jwt::{Issuer, JwtVerifier};
//! use tower::{ServiceBuilder, service_fn};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = JwtVerifier::builder()
//!     .issuer(Issuer::cognito("us-east-1", "us-east-1_AbCdEf123").audience("client-id"))
//!     .build()?;
//! let resolver = TenantResolver::builder().bearer(verifier).build()?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(RequireTenantLayer::new(resolver))
//!     .service(service_fn(|req: http::Request<String>| async move {
//!         // The layer guarantees a context here.
//!         let tenant = req.extensions().get::<TenantContext>().map(|c| c.tenant_id().to_string());
//!         Ok::<_, std::convert::Infallible>(http::Response::new(format!("{tenant:?}")))
//!     }));
//! # let _ = service;
//! # Ok(()) }
//! ```

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::RequireTenantLayer;
pub use service::RequireTenant;
