//! The Cognito pre-token-generation trigger: adds the user's lists and roles to their tokens as
//! the `memberships` claim, a JSON object from list id to saas-core role (`TenantAdmin` for an
//! owner, `TenantUser` for an editor, `TenantViewer` for a viewer), which saas-core's
//! `TokenMemberships` reads.
//!
//! The service itself does not trust this claim for access: it checks the list's member record on
//! every request, so a revocation takes effect on the next request and not when the token
//! expires. The claim is for clients (which lists to show) and for authorizers that cannot reach
//! the store. Only a verified email gets memberships; at most [`MAX_LISTS`] lists go in a token.

use std::collections::BTreeMap;

use aws_lambda_events::event::cognito::{
    ClaimsAndScopeOverrideDetailsV2, CognitoEventUserPoolsPreTokenGen,
    CognitoEventUserPoolsPreTokenGenV2,
};
use saas_data::DataStore;
use serde_json::Value;

use crate::model::{IndexRecord, index_partition, normalize_email};

/// The claim the trigger adds.
pub const MEMBERSHIPS_CLAIM: &str = "memberships";
/// The most lists put in one token (tokens travel in every request's headers).
pub const MAX_LISTS: u32 = 100;

/// Why the trigger could not answer. Cognito then refuses the sign-in: better than a token
/// without its claims.
#[derive(Debug, thiserror::Error)]
pub enum PreTokenError {
    /// The event is not a pre-token-generation event of version 1 or 2.
    #[error("not a pre-token-generation event: {0}")]
    Event(#[from] serde_json::Error),
    /// The store could not be read.
    #[error("store: {0}")]
    Store(#[from] saas_data::Error),
}

/// Answers one trigger event (version 1: ID token; version 2: ID and access tokens), read from
/// the service's store.
pub async fn handle(store: &DataStore, event: Value) -> Result<Value, PreTokenError> {
    let version = event.get("version").and_then(Value::as_str).unwrap_or("1");
    if version == "1" {
        let mut event: CognitoEventUserPoolsPreTokenGen = serde_json::from_value(event)?;
        let claim = memberships(store, &event.request.user_attributes).await?;
        let mut details = event
            .response
            .claims_override_details
            .take()
            .unwrap_or_default();
        details
            .claims_to_add_or_override
            .insert(MEMBERSHIPS_CLAIM.to_owned(), claim);
        event.response.claims_override_details = Some(details);
        Ok(serde_json::to_value(event)?)
    } else {
        let mut event: CognitoEventUserPoolsPreTokenGenV2 = serde_json::from_value(event)?;
        let claim = Value::String(memberships(store, &event.request.user_attributes).await?);
        let mut details: ClaimsAndScopeOverrideDetailsV2 = event
            .response
            .claims_and_scope_override_details
            .take()
            .unwrap_or_default();
        let mut id = details.id_token_generation.take().unwrap_or_default();
        id.claims_to_add_or_override
            .insert(MEMBERSHIPS_CLAIM.to_owned(), claim.clone());
        let mut access = details.access_token_generation.take().unwrap_or_default();
        access
            .claims_to_add_or_override
            .insert(MEMBERSHIPS_CLAIM.to_owned(), claim);
        details.id_token_generation = Some(id);
        details.access_token_generation = Some(access);
        event.response.claims_and_scope_override_details = Some(details);
        Ok(serde_json::to_value(event)?)
    }
}

/// The claim's value for a user with these attributes: `{}` without a verified email.
async fn memberships(
    store: &DataStore,
    attributes: &std::collections::HashMap<String, String>,
) -> Result<String, PreTokenError> {
    let verified = attributes.get("email_verified").map(String::as_str) == Some("true");
    let email = attributes
        .get("email")
        .and_then(|e| normalize_email(e).ok());
    let mut lists = BTreeMap::new();
    if let (true, Some(email)) = (verified, email) {
        let page = store
            .system("the user's list index")
            .data()
            .query::<IndexRecord>(
                saas_data::Query::partition(index_partition(&email)).limit(MAX_LISTS),
            )
            .await?;
        for entry in page.items {
            lists.insert(
                entry.key().sort().to_owned(),
                entry.item().role.role().as_str(),
            );
        }
    }
    Ok(serde_json::to_string(&lists)?)
}
