//! `/lists/{list}/todos` and `/lists/{list}/todos/{todo}`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use http::{HeaderMap, StatusCode, header};
use saas_core::TenantContext;
use saas_data::Update;
use serde::Deserialize;
use serde_json::{Value, json};

use super::lists::{PageParams, page};
use super::{caller_email, require};
use crate::app::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::model::{ListRole, TodoRecord, TodoView, new_id, now, todo_key};

/// `{"title"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    title: String,
}

/// `{"title"?, "done"?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    title: Option<String>,
    done: Option<bool>,
}

fn valid_title(title: &str) -> Result<String, ApiError> {
    let count = title.chars().count();
    if (1..=500).contains(&count) && !title.trim().is_empty() {
        Ok(title.to_owned())
    } else {
        Err(ApiError::InvalidRequest("title must be 1-500 characters"))
    }
}

/// `POST /lists/{list}/todos`: owners and editors.
pub(crate) async fn create(
    State(state): State<AppState>,
    ctx: TenantContext,
    body: Result<JsonBody<CreateBody>, ApiError>,
) -> Result<(StatusCode, Json<TodoView>), ApiError> {
    require(&ctx, ListRole::Editor)?;
    let JsonBody(body) = body?;
    let title = valid_title(&body.title)?;
    let at = now();
    let record = TodoRecord {
        title,
        done: false,
        created_at: at.clone(),
        updated_at: at,
        created_by: caller_email(ctx.user())?,
    };
    let id = new_id("t", true)?;
    let stored = state
        .store
        .scope(&ctx)
        .put(&todo_key(&id)?, &record)
        .create_only()
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TodoView::new(&id, stored, record)),
    ))
}

/// `GET /lists/{list}/todos?limit=&cursor=`: oldest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    ctx: TenantContext,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    require(&ctx, ListRole::Viewer)?;
    let (limit, cursor) = page(params)?;
    let mut query = saas_data::Query::partition("todo").limit(limit);
    if let Some(cursor) = cursor {
        query = query.after(cursor);
    }
    let page = state.store.scope(&ctx).query::<TodoRecord>(query).await?;
    let items: Vec<TodoView> = page
        .items
        .into_iter()
        .map(|r| {
            let (key, version, item) = r.into_parts();
            TodoView::new(key.sort(), version, item)
        })
        .collect();
    Ok(Json(
        json!({"items": items, "next_cursor": page.next_cursor}),
    ))
}

/// `GET /lists/{list}/todos/{todo}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, todo)): Path<(String, String)>,
) -> Result<Json<TodoView>, ApiError> {
    require(&ctx, ListRole::Viewer)?;
    let (_, version, item) = state
        .store
        .scope(&ctx)
        .get::<TodoRecord>(&todo_key(&todo)?)
        .await?
        .into_parts();
    Ok(Json(TodoView::new(&todo, version, item)))
}

/// `PATCH /lists/{list}/todos/{todo}`: owners and editors; `If-Match: <version>` makes it
/// conditional (412 when the version differs).
pub(crate) async fn update(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, todo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<JsonBody<UpdateBody>, ApiError>,
) -> Result<Json<TodoView>, ApiError> {
    require(&ctx, ListRole::Editor)?;
    let if_match = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(|s| s.trim().trim_matches('"'))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(ApiError::InvalidRequest(
                    "If-Match must be a version number",
                ))?,
        ),
    };
    let JsonBody(body) = body?;
    let mut update = Update::new().set("updated_at", &now());
    if let Some(title) = &body.title {
        update = update.set("title", &valid_title(title)?);
    }
    if let Some(done) = body.done {
        update = update.set("done", &done);
    }
    let data = state.store.scope(&ctx);
    let key = todo_key(&todo)?;
    let mut request = data.update::<TodoRecord>(&key, update);
    if let Some(version) = if_match {
        request = request.if_version(version);
    }
    let (_, version, item) = request.await?.into_parts();
    Ok(Json(TodoView::new(&todo, version, item)))
}

/// `DELETE /lists/{list}/todos/{todo}`: owners and editors.
pub(crate) async fn delete(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, todo)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require(&ctx, ListRole::Editor)?;
    state.store.scope(&ctx).delete(&todo_key(&todo)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
