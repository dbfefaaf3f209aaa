//! `/lists/{list}/todos` and `/lists/{list}/todos/{todo}`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use saas_core::TenantContext;
use serde::Deserialize;

use super::lists::{PageParams, page};
use super::{caller_email, require};
use crate::app::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::events::{Kind, change, record as record_event};
use crate::model::{
    ListRole, PageView, TodoRecord, TodoView, json_response, new_id, now, todo_key,
};
use crate::pages::PageKey;

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
    let data = state.store.scope(&ctx);
    let event = change(&ctx, Kind::TodoCreated, Some(&id), None)?;
    let tx = state
        .store
        .transaction()
        .create(&data, &todo_key(&id)?, &record);
    record_event(tx, &state.store, &ctx, event)?
        .commit()
        .await?;
    state.events.committed().await;
    Ok((StatusCode::CREATED, Json(TodoView::new(&id, 1, record))))
}

/// `GET /lists/{list}/todos?limit=&cursor=`: oldest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    ctx: TenantContext,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    require(&ctx, ListRole::Viewer)?;
    let (limit, cursor) = page(params)?;
    let scope = state.store.scope(&ctx);
    // The mark is read before the query, so a cached page is never older than it says.
    let cached_as = scope
        .partition_version("todo")
        .await?
        .map(|version| PageKey {
            version,
            limit,
            cursor: cursor.clone(),
        });
    if let Some(body) = cached_as.as_ref().and_then(|key| state.pages.get(key)) {
        return Ok(json_response(body));
    }
    let mut query = saas_data::Query::partition("todo").limit(limit);
    if let Some(cursor) = cursor {
        query = query.after(cursor);
    }
    let page = scope.query::<TodoRecord>(query).await?;
    let items: Vec<TodoView> = page
        .items
        .into_iter()
        .map(|r| {
            let (key, version, item) = r.into_parts();
            TodoView::new(key.sort(), version, item)
        })
        .collect();
    let body = PageView {
        items,
        next_cursor: page.next_cursor,
    }
    .to_json()?;
    if let Some(key) = cached_as {
        state.pages.insert(key, body.clone());
    }
    Ok(json_response(body))
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
    let title = body.title.as_deref().map(valid_title).transpose()?;
    let data = state.store.scope(&ctx);
    let key = todo_key(&todo)?;
    // Read, change, and replace at the version read, with the event in the same transaction: a
    // concurrent change is retried (or, with If-Match, a 412), never lost or half-written.
    for _ in 0..3 {
        let (_, version, mut item) = data
            .get::<TodoRecord>(&key)
            .consistent()
            .await?
            .into_parts();
        if if_match.is_some_and(|v| v != version) {
            return Err(ApiError::PreconditionFailed);
        }
        let was_done = item.done;
        if let Some(title) = &title {
            item.title = title.clone();
        }
        if let Some(done) = body.done {
            item.done = done;
        }
        item.updated_at = now();
        let kind = if item.done && !was_done {
            Kind::TodoCompleted
        } else {
            Kind::TodoUpdated
        };
        let event = change(&ctx, kind, Some(&todo), None)?;
        let tx = state
            .store
            .transaction()
            .replace(&data, &key, &item, version);
        match record_event(tx, &state.store, &ctx, event)?.commit().await {
            Ok(()) => {
                state.events.committed().await;
                return Ok(Json(TodoView::new(&todo, version + 1, item)));
            }
            Err(
                saas_data::Error::TransactionCanceled { .. }
                | saas_data::Error::VersionConflict { .. },
            ) if if_match.is_none() => {}
            Err(
                saas_data::Error::TransactionCanceled { .. }
                | saas_data::Error::VersionConflict { .. },
            ) => {
                return Err(ApiError::PreconditionFailed);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the todo kept changing; try again"))
}

/// `DELETE /lists/{list}/todos/{todo}`: owners and editors.
pub(crate) async fn delete(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, todo)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require(&ctx, ListRole::Editor)?;
    let data = state.store.scope(&ctx);
    let key = todo_key(&todo)?;
    let version = data.get::<TodoRecord>(&key).consistent().await?.version();
    let event = change(&ctx, Kind::TodoDeleted, Some(&todo), None)?;
    let tx = state.store.transaction().delete(&data, &key, Some(version));
    record_event(tx, &state.store, &ctx, event)?
        .commit()
        .await?;
    state.events.committed().await;
    Ok(StatusCode::NO_CONTENT)
}
