//! `GET /lists/{list}/activity`: the list's changes, newest first, fed by the event consumer.

use axum::Json;
use axum::extract::State;
use saas_core::TenantContext;
use serde_json::{Value, json};

use super::require;
use crate::app::AppState;
use crate::error::ApiError;
use crate::events::{ACTIVITY, Change};
use crate::model::ListRole;

/// Any member reads it; the 50 newest changes.
pub(crate) async fn list(
    State(state): State<AppState>,
    ctx: TenantContext,
) -> Result<Json<Value>, ApiError> {
    require(&ctx, ListRole::Viewer)?;
    let page = state
        .store
        .scope(&ctx)
        .query::<Change>(saas_data::Query::partition(ACTIVITY).descending().limit(50))
        .await?;
    let items: Vec<Change> = page.items.into_iter().map(|r| r.into_item()).collect();
    Ok(Json(json!({"items": items})))
}
