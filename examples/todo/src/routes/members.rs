//! `/lists/{list}/members` and `/lists/{list}/members/{email}`.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use saas_core::TenantContext;
use serde::Deserialize;
use serde_json::{Value, json};

use super::lists::all;
use super::{caller_email, require};
use crate::app::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::events::{Kind, change, record as record_event};
use crate::model::{IndexRecord, ListRole, MemberRecord, index_key, member_key, normalize_email};

/// `{"role": "editor" | "viewer"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    role: SharedRole,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SharedRole {
    Editor,
    Viewer,
}

/// `GET /lists/{list}/members`.
pub(crate) async fn list(
    State(state): State<AppState>,
    ctx: TenantContext,
) -> Result<Json<Value>, ApiError> {
    require(&ctx, ListRole::Viewer)?;
    let members: Vec<Value> = all::<MemberRecord>(&state.store.scope(&ctx), "member")
        .await?
        .into_iter()
        .map(|(_, m)| json!({"email": m.email, "role": m.role}))
        .collect();
    Ok(Json(json!({"items": members})))
}

/// `PUT /lists/{list}/members/{email}`: the owner shares the list, or changes a role.
pub(crate) async fn put(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, email)): Path<(String, String)>,
    body: Result<JsonBody<RoleBody>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    require(&ctx, ListRole::Owner)?;
    let JsonBody(body) = body?;
    let email = normalize_email(&email)?;
    if email == caller_email(ctx.user())? {
        return Err(ApiError::Conflict("the owner's own role cannot change"));
    }
    let role = match body.role {
        SharedRole::Editor => ListRole::Editor,
        SharedRole::Viewer => ListRole::Viewer,
    };
    let data = state.store.scope(&ctx);
    let index = state.store.system("the user's list index").data();
    let (member_key, index_key) = (member_key(&email)?, index_key(&email, ctx.tenant_id())?);
    let member = MemberRecord {
        email: email.clone(),
        role,
        // The list's tier, as the owner's verified membership carries it.
        tier: ctx.tier(),
    };
    let entry = IndexRecord { role };
    // The member and their index entry together; replaced at the version read, so a
    // concurrent change is a conflict rather than lost.
    let current = match data.get::<MemberRecord>(&member_key).await {
        Ok(found) => Some(found.version()),
        Err(saas_data::Error::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let current_index = match index.get::<IndexRecord>(&index_key).await {
        Ok(found) => Some(found.version()),
        Err(saas_data::Error::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let mut tx = state.store.transaction();
    tx = match current {
        Some(version) => tx.replace(&data, &member_key, &member, version),
        None => tx.create(&data, &member_key, &member),
    };
    tx = match current_index {
        Some(version) => tx.replace(&index, &index_key, &entry, version),
        None => tx.create(&index, &index_key, &entry),
    };
    let event = change(&ctx, Kind::MemberAdded, None, Some(&email))?;
    record_event(tx, &state.store, &ctx, event)?
        .commit()
        .await?;
    state.events.committed().await;
    Ok(Json(json!({"email": email, "role": role})))
}

/// `DELETE /lists/{list}/members/{email}`: the owner revokes a member (not themselves).
pub(crate) async fn delete(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, email)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require(&ctx, ListRole::Owner)?;
    let email = normalize_email(&email).map_err(|_| ApiError::NotFound)?;
    if email == caller_email(ctx.user())? {
        return Err(ApiError::Conflict("the owner cannot remove themselves"));
    }
    let data = state.store.scope(&ctx);
    let index = state.store.system("the user's list index").data();
    let member_key = member_key(&email)?;
    // 404 for someone who is not a member.
    data.get::<MemberRecord>(&member_key).await?;
    let tx = state
        .store
        .transaction()
        .delete(&data, &member_key, None)
        .delete(&index, &index_key(&email, ctx.tenant_id())?, None);
    let event = change(&ctx, Kind::MemberRemoved, None, Some(&email))?;
    record_event(tx, &state.store, &ctx, event)?
        .commit()
        .await?;
    state.events.committed().await;
    Ok(StatusCode::NO_CONTENT)
}
