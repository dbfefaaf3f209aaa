use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::service::RequireTenant;
use crate::extract::TenantRejection;
use crate::resolve::TenantResolver;

pub(crate) type RejectionFn = dyn Fn(&TenantRejection) -> http::Response<String> + Send + Sync;

/// Resolves the tenant before the inner service runs; see the [module docs](crate::layer).
#[derive(Clone)]
pub struct RequireTenantLayer {
    pub(crate) resolver: TenantResolver,
    pub(crate) on_rejection: Arc<RejectionFn>,
}

impl fmt::Debug for RequireTenantLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireTenantLayer")
            .field("resolver", &self.resolver)
            .finish_non_exhaustive()
    }
}

impl RequireTenantLayer {
    /// A layer that resolves tenants with `resolver`.
    pub fn new(resolver: TenantResolver) -> Self {
        Self {
            resolver,
            on_rejection: Arc::new(TenantRejection::to_response),
        }
    }

    /// Renders rejections with `f` instead of [`TenantRejection::to_response`] (to answer 404
    /// rather than 403 to a non-member, say, so that a list's existence does not leak).
    pub fn on_rejection<F>(mut self, f: F) -> Self
    where
        F: Fn(&TenantRejection) -> http::Response<String> + Send + Sync + 'static,
    {
        self.on_rejection = Arc::new(f);
        self
    }
}

impl<S> Layer<S> for RequireTenantLayer {
    type Service = RequireTenant<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireTenant::new(inner, self.clone())
    }
}
