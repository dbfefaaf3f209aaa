use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Span;

use super::layer::RejectionFn;
use crate::extract::TenantRejection;
use crate::membership::BoxFuture;
use crate::resolve::{Resolved, TenantResolver};
use crate::{Identity, TenantContext};

type Resolving = BoxFuture<'static, (Parts, Result<Resolved, TenantRejection>)>;

pin_project! {
    /// The response future of [`RequireTenant`](super::RequireTenant): resolves the tenant, then
    /// either answers the rejection or drives the inner service's future.
    pub struct ResponseFuture<S: Service<Request<ReqBody>>, ReqBody> {
        #[pin]
        state: State<S, ReqBody>,
        span: Span,
        on_rejection: Arc<RejectionFn>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<ReqBody>>, ReqBody> {
        Resolving {
            resolving: Resolving,
            inner: Option<S>,
            body: Option<ReqBody>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn new(
        request: Request<ReqBody>,
        inner: S,
        resolver: TenantResolver,
        on_rejection: Arc<RejectionFn>,
    ) -> Self {
        let (parts, body) = request.into_parts();
        let resolving: Resolving = Box::pin(async move {
            let result = resolver.resolve(&parts).await;
            (parts, result)
        });
        Self {
            state: State::Resolving {
                resolving,
                inner: Some(inner),
                body: Some(body),
            },
            // Opened once the caller is known, with every field at once: recording fields one
            // by one into an open span makes tracing-subscriber's JSON formatter parse and
            // write the span's fields again for each (docs/performance-todo.md).
            span: Span::none(),
            on_rejection,
        }
    }
}

/// The request's span: `tenant.id`, `tenant.tier`, `user.sub` and `aws.request_id`, each where
/// it is known.
fn request_span(parts: &Parts, tenant: Option<&TenantContext>, user: Option<&Identity>) -> Span {
    #[cfg(feature = "lambda-http")]
    let request_id = parts
        .extensions
        .get::<lambda_runtime::Context>()
        .map(|lambda| lambda.request_id.as_str());
    #[cfg(not(feature = "lambda-http"))]
    let request_id: Option<&str> = {
        let _ = parts;
        None
    };
    tracing::info_span!(
        "request",
        tenant.id = tenant.map(|ctx| ctx.tenant_id().as_str()),
        tenant.tier = tenant.map(|ctx| ctx.tier().as_str()),
        user.sub = user.map(|identity| identity.user().sub.as_str()),
        aws.request_id = request_id,
    )
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Resolving {
                    resolving,
                    inner,
                    body,
                } => {
                    let (mut parts, result) = ready!(resolving.as_mut().poll(cx));
                    let (Some(mut service), Some(body)) = (inner.take(), body.take()) else {
                        // Polled again after completion: a caller bug, answered without panic.
                        let rejection = TenantRejection::MissingTenantContext;
                        return Poll::Ready(Ok((this.on_rejection)(&rejection).map(ResBody::from)));
                    };
                    let resolved = match result {
                        Ok(resolved) => resolved,
                        Err(rejection) => {
                            let span = request_span(&parts, None, None);
                            let _entered = span.enter();
                            let status = rejection.status().as_u16();
                            tracing::info!(rejection = rejection.kind(), status, "request refused");
                            return Poll::Ready(Ok(
                                (this.on_rejection)(&rejection).map(ResBody::from)
                            ));
                        }
                    };
                    *this.span = request_span(&parts, resolved.tenant(), resolved.identity());
                    let _entered = this.span.enter();
                    if let Some(identity) = resolved.identity() {
                        parts.extensions.insert(identity.clone());
                    }
                    if let Resolved::Tenant(ctx) = resolved {
                        parts.extensions.insert(ctx);
                    }
                    let future = service.call(Request::from_parts(parts, body));
                    this.state.set(State::Calling { future });
                }
                StateProj::Calling { future } => {
                    let _entered = this.span.enter();
                    return future.poll(cx);
                }
            }
        }
    }
}
