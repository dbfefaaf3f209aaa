//! `/lists` and `/lists/{list}`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use futures_util::future::join_all;
use http::StatusCode;
use saas_core::{Identity, TenantContext, TenantId, Tier};
use saas_data::{Key, Update};
use serde::Deserialize;

use super::{caller_email, require};
use crate::app::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::model::{
    IndexRecord, ListRecord, ListRole, ListView, MemberRecord, PageView, index_key,
    index_partition, member_key, meta_key, new_id, now,
};

/// `{"name"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameBody {
    name: String,
}

fn valid_name(name: &str) -> Result<String, ApiError> {
    let count = name.chars().count();
    if (1..=200).contains(&count) && !name.trim().is_empty() {
        Ok(name.to_owned())
    } else {
        Err(ApiError::InvalidRequest("name must be 1-200 characters"))
    }
}

/// `limit` and `cursor` of a paged read.
#[derive(Debug, Deserialize)]
pub(crate) struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

/// The query's limit (1-100, default 50) and cursor, or 400.
pub(crate) fn page(
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<(u32, Option<String>), ApiError> {
    let Query(params) = params.map_err(|_| ApiError::InvalidRequest("bad query string"))?;
    let limit = match params.limit.as_deref() {
        None => 50,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or(ApiError::InvalidRequest("limit must be 1-100"))?,
    };
    Ok((limit, params.cursor.filter(|c| !c.is_empty())))
}

/// `POST /lists`: a new list, the caller its owner.
pub(crate) async fn create(
    State(state): State<AppState>,
    identity: Identity,
    body: Result<JsonBody<NameBody>, ApiError>,
) -> Result<(StatusCode, Json<ListView>), ApiError> {
    let JsonBody(body) = body?;
    let name = valid_name(&body.name)?;
    let email = caller_email(Some(identity.user()))?;
    let tier = owner_tier(&identity)?;
    let id = new_id("l", false)?;
    let list = TenantId::new(&id).map_err(|_| ApiError::Internal)?;
    if state.registry {
        // Placed by its owner's tier: premium lists get a table of their own, created here.
        state
            .store
            .system("place a new list")
            .registry()
            .onboard(&list, tier)
            .await?;
    }
    let created = create_records(&state, &list, &email, tier, name).await;
    if created.is_err() && state.registry {
        // Nothing of the list was written: take back its place (and its table).
        let registry = state.store.system("take back a list's place").registry();
        if let Err(e) = registry.offboard(&list).await {
            tracing::warn!(error = %e, list = %list, "could not take back a new list's place");
        }
    }
    let record = created?;
    Ok((
        StatusCode::CREATED,
        Json(ListView {
            id,
            name: record.name,
            role: ListRole::Owner,
            created_at: record.created_at,
        }),
    ))
}

/// The tier a new list of this owner gets: their verified `custom:tier` claim (set by an
/// administrator, never by the user), basic without one. A tier the service does not know is
/// refused rather than read as basic.
fn owner_tier(identity: &Identity) -> Result<Tier, ApiError> {
    match identity.claims().string(crate::model::TIER_CLAIM) {
        None => Ok(Tier::Basic),
        Some(tier) => tier.parse().map_err(|_| ApiError::Forbidden),
    }
}

/// The list, its owner and the owner's index entry: all or nothing.
async fn create_records(
    state: &AppState,
    list: &TenantId,
    email: &str,
    tier: Tier,
    name: String,
) -> Result<ListRecord, ApiError> {
    let record = ListRecord {
        name,
        created_at: now(),
        owner: email.to_owned(),
    };
    let scope = state.store.system("create a list").tenant(list);
    let index = state.store.system("the user's list index").data();
    state
        .store
        .transaction()
        .create(&scope, &meta_key()?, &record)
        .create(
            &scope,
            &member_key(email)?,
            &MemberRecord {
                email: email.to_owned(),
                role: ListRole::Owner,
                tier,
            },
        )
        .create(
            &index,
            &index_key(email, list)?,
            &IndexRecord {
                role: ListRole::Owner,
            },
        )
        .commit()
        .await?;
    Ok(record)
}

/// `GET /lists`: the lists the caller may see.
pub(crate) async fn list(
    State(state): State<AppState>,
    identity: Identity,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<PageView<ListView>, ApiError> {
    let (limit, cursor) = page(params)?;
    let email = caller_email(Some(identity.user()))?;
    let index = state.store.system("the user's list index").data();
    let mut query = saas_data::Query::partition(index_partition(&email)).limit(limit);
    if let Some(cursor) = cursor {
        query = query.after(cursor);
    }
    let page = index.query::<IndexRecord>(query).await?;
    let reads = page.items.iter().map(|entry| {
        let store = state.store.clone();
        let id = entry.key().sort().to_owned();
        async move {
            let list = TenantId::new(&id).ok()?;
            let key = meta_key().ok()?;
            let meta = store
                .system("the user's list index")
                .tenant(&list)
                .get::<ListRecord>(&key)
                .await;
            Some((id, meta))
        }
    });
    let mut items = Vec::with_capacity(page.items.len());
    for (entry, read) in page.items.iter().zip(join_all(reads).await) {
        match read {
            Some((id, Ok(meta))) => {
                let meta = meta.into_item();
                items.push(ListView {
                    id,
                    name: meta.name,
                    role: entry.item().role,
                    created_at: meta.created_at,
                });
            }
            // A list deleted while its index entry lingers: not shown.
            Some((
                _,
                Err(saas_data::Error::NotFound | saas_data::Error::TenantNotProvisioned(_)),
            ))
            | None => {}
            Some((_, Err(e))) => return Err(e.into()),
        }
    }
    Ok(PageView {
        items,
        next_cursor: page.next_cursor,
    })
}

async fn view(state: &AppState, ctx: &TenantContext) -> Result<ListView, ApiError> {
    let meta = state
        .store
        .scope(ctx)
        .get::<ListRecord>(&meta_key()?)
        .await?;
    let meta = meta.into_item();
    Ok(ListView {
        id: ctx.tenant_id().as_str().to_owned(),
        name: meta.name,
        role: ListRole::from_role(ctx.role()),
        created_at: meta.created_at,
    })
}

/// `GET /lists/{list}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    ctx: TenantContext,
) -> Result<Json<ListView>, ApiError> {
    require(&ctx, ListRole::Viewer)?;
    Ok(Json(view(&state, &ctx).await?))
}

/// `PATCH /lists/{list}`: the owner renames it.
pub(crate) async fn rename(
    State(state): State<AppState>,
    ctx: TenantContext,
    body: Result<JsonBody<NameBody>, ApiError>,
) -> Result<Json<ListView>, ApiError> {
    require(&ctx, ListRole::Owner)?;
    let JsonBody(body) = body?;
    let name = valid_name(&body.name)?;
    let meta = state
        .store
        .scope(&ctx)
        .update::<ListRecord>(&meta_key()?, Update::new().set("name", &name))
        .await?
        .into_item();
    Ok(Json(ListView {
        id: ctx.tenant_id().as_str().to_owned(),
        name: meta.name,
        role: ListRole::Owner,
        created_at: meta.created_at,
    }))
}

/// `DELETE /lists/{list}`: the owner deletes it with its todos and members.
pub(crate) async fn delete(
    State(state): State<AppState>,
    ctx: TenantContext,
) -> Result<StatusCode, ApiError> {
    require(&ctx, ListRole::Owner)?;
    let data = state.store.scope(&ctx);
    // Members first: from the first batch on, those removed can no longer reach the list, and
    // a failure half-way leaves data nobody can reach rather than access nobody meant.
    let members: Vec<MemberRecord> = all(&data, "member")
        .await?
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let index = state.store.system("the user's list index").data();
    let mut index_keys = Vec::with_capacity(members.len());
    let mut member_keys = Vec::with_capacity(members.len());
    for m in &members {
        index_keys.push(index_key(&m.email, ctx.tenant_id())?);
        member_keys.push(member_key(&m.email)?);
    }
    index.batch_delete(&index_keys).await?;
    data.batch_delete(&member_keys).await?;
    let todos: Vec<Key> = all::<serde_json::Value>(&data, "todo")
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    data.batch_delete(&todos).await?;
    let activity: Vec<Key> = all::<serde_json::Value>(&data, crate::events::ACTIVITY)
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    data.batch_delete(&activity).await?;
    state.usage.forget(ctx.tenant_id());
    if let Ok(usage) = Key::new("usage", "totals") {
        match data.delete(&usage).await {
            Ok(()) | Err(saas_data::Error::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    data.delete(&meta_key()?).await?;
    if state.registry {
        // Its place in the registry, and its table if it has one of its own.
        state
            .store
            .system("delete a list")
            .registry()
            .offboard(ctx.tenant_id())
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Every item of `partition` in `data`, page by page.
pub(crate) async fn all<T: serde::de::DeserializeOwned>(
    data: &saas_data::DataScope,
    partition: &str,
) -> Result<Vec<(Key, T)>, ApiError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = saas_data::Query::partition(partition).limit(100);
        if let Some(c) = cursor.take() {
            query = query.after(c);
        }
        let page = data.query::<T>(query).await?;
        for record in page.items {
            let (key, _, item) = record.into_parts();
            out.push((key, item));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}
