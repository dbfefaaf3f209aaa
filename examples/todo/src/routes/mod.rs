//! The contract's routes (`../shared/todo-api.md`).

mod account;
mod activity;
mod lists;
mod members;
mod todos;
mod usage;

use axum::Router;
use axum::extract::MatchedPath;
use axum::routing::{get, post, put};
use saas_core::{RequireTenantLayer, TenantContext};
use saas_metrics::layer::InvocationMetricsLayer;

use crate::app::AppState;
use crate::error::ApiError;
use crate::metering::MeterState;
use crate::model::ListRole;
use crate::quota::ListQuota;

/// Every route: the public ones as they are, the rest behind the tenant layer (a verified caller,
/// and for `/lists/{list}/...` a verified membership of that list), the list routes metered
/// under their list and held to its quota.
pub(crate) fn router(
    state: AppState,
    tenant_layer: RequireTenantLayer,
    quota: Option<ListQuota>,
    metrics: saas_metrics::Metrics,
    flush_each_request: bool,
    web_dir: Option<&std::path::Path>,
) -> Router {
    let public = Router::new()
        .route("/health", get(account::health))
        .route("/dev/token", post(account::dev_token))
        .route("/.well-known/jwks.json", get(account::jwks));
    let caller = Router::new()
        .route("/me", get(account::me))
        .route("/lists", post(lists::create).get(lists::list))
        .route_layer(tenant_layer.clone());
    let list = Router::new()
        .route(
            "/lists/{list}",
            get(lists::get).patch(lists::rename).delete(lists::delete),
        )
        .route("/lists/{list}/todos", post(todos::create).get(todos::list))
        .route(
            "/lists/{list}/todos/{todo}",
            get(todos::get).patch(todos::update).delete(todos::delete),
        )
        .route("/lists/{list}/members", get(members::list))
        .route(
            "/lists/{list}/members/{email}",
            put(members::put).delete(members::delete),
        )
        .route("/lists/{list}/usage", get(usage::get))
        .route("/lists/{list}/activity", get(activity::list))
        // Layers run last-added first: the tenant layer, saas-metrics' invocation metrics,
        // the list's quota, then the meter of the request's own consumption.
        .route_layer(axum::middleware::from_fn_with_state(
            MeterState {
                book: state.usage.clone(),
                store: flush_each_request.then(|| state.store.clone()),
            },
            crate::metering::meter,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            quota,
            crate::quota::limit,
        ))
        .route_layer(InvocationMetricsLayer::new(metrics).operation(operation))
        .route_layer(tenant_layer);
    let routes = public.merge(caller).merge(list);
    match web_dir {
        // What no route answers may be one of the web client's files.
        #[cfg(feature = "local")]
        Some(dir) => routes.fallback_service(crate::web::router(dir)),
        // Without `local`, a web directory is refused at start (`app::build`).
        _ => routes.fallback(|| async { ApiError::NotFound }),
    }
    .with_state(state)
}

/// The `operation` dimension: the method and the route's pattern, never an id.
fn operation(parts: &http::request::Parts) -> Option<String> {
    let route = parts.extensions.get::<MatchedPath>()?;
    Some(format!("{} {}", parts.method, route.as_str()))
}

/// The caller's role in the list of `ctx`, if it is at least `needed`.
fn require(ctx: &TenantContext, needed: ListRole) -> Result<ListRole, ApiError> {
    let role = ListRole::from_role(ctx.role());
    let allowed = match needed {
        ListRole::Owner => role == ListRole::Owner,
        ListRole::Editor => role != ListRole::Viewer,
        ListRole::Viewer => true,
    };
    if allowed {
        Ok(role)
    } else {
        Err(ApiError::Forbidden)
    }
}

/// The caller's verified email, normalized; a context without one cannot act.
pub(crate) fn caller_email(user: Option<&saas_core::User>) -> Result<String, ApiError> {
    user.and_then(saas_core::User::verified_email)
        .map(str::to_lowercase)
        .ok_or(ApiError::Forbidden)
}
