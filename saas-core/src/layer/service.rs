use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::RequireTenantLayer;

/// The service [`RequireTenantLayer`] makes; see the [module docs](crate::layer).
#[derive(Clone, Debug)]
pub struct RequireTenant<S> {
    inner: S,
    layer: RequireTenantLayer,
}

impl<S> RequireTenant<S> {
    pub(crate) fn new(inner: S, layer: RequireTenantLayer) -> Self {
        Self { inner, layer }
    }

    /// A layer that resolves tenants with `resolver` (same as [`RequireTenantLayer::new`]).
    pub fn layer(resolver: crate::TenantResolver) -> RequireTenantLayer {
        RequireTenantLayer::new(resolver)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireTenant<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: Send + 'static,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The ready service goes with this request; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(
            request,
            inner,
            self.layer.resolver.clone(),
            self.layer.on_rejection.clone(),
        )
    }
}
