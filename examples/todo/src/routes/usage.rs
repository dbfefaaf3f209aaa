//! `GET /lists/{list}/usage`: what the list's members' requests consumed, all together.

use axum::Json;
use axum::extract::State;
use saas_core::TenantContext;

use super::require;
use crate::app::AppState;
use crate::error::ApiError;
use crate::metering::Totals;
use crate::model::ListRole;

/// The owner reads it: stored totals plus what is pending (locally nothing lags).
pub(crate) async fn get(
    State(state): State<AppState>,
    ctx: TenantContext,
) -> Result<Json<Totals>, ApiError> {
    require(&ctx, ListRole::Owner)?;
    Ok(Json(state.usage.read(&state.store, &ctx).await?))
}
