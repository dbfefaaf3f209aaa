//! The Cognito pre-token-generation trigger on Cognito's own event JSON (version 1 and 2; moto
//! does not call triggers): the user's lists and roles from the service's store, only for a
//! verified email.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use reqwest::Client;

mod common;
use common::{dev_token as token, new_list as list};
use serde_json::{Value, json};
use todo::pre_token::{MEMBERSHIPS_CLAIM, handle};

const V1: &str = include_str!("fixtures/cognito_pre_token_v1.json");
const V2: &str = include_str!("fixtures/cognito_pre_token_v2.json");

fn claim(v: &Value) -> BTreeMap<String, String> {
    serde_json::from_str(v.as_str().expect("the claim is a JSON string")).unwrap()
}

#[tokio::test]
async fn tokens_get_the_users_lists_and_roles() {
    let dir = tempfile::tempdir().unwrap();
    let config = todo::Config::local(dir.path());
    let server = todo::Server::start(config.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    let (url, c) = (server.url(), Client::new());
    let ann = token(&c, &url, "ann@example.com").await;
    let (groceries, work) = (
        list(&c, &url, &ann, "groceries").await,
        list(&c, &url, &ann, "work").await,
    );
    let r = c
        .put(format!("{url}/lists/{groceries}/members/bob@example.com"))
        .bearer_auth(&ann)
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;

    let store = todo::open_store(&config).await.unwrap();

    // Version 1, Bob (his email in another case): the ID token gets his one list.
    let answer = handle(&store, serde_json::from_str(V1).unwrap())
        .await
        .unwrap();
    let details = &answer["response"]["claimsOverrideDetails"];
    let bob = claim(&details["claimsToAddOrOverride"][MEMBERSHIPS_CLAIM]);
    assert_eq!(
        bob,
        BTreeMap::from([(groceries.clone(), "TenantViewer".to_owned())])
    );
    assert_eq!(answer["userName"], "3f8e6a2c-0d5b-4c1a-9e7f-2b4d6c8a0e1f");

    // Version 2, Ann: both tokens get her two lists as owner.
    let answer = handle(&store, serde_json::from_str(V2).unwrap())
        .await
        .unwrap();
    let details = &answer["response"]["claimsAndScopeOverrideDetails"];
    let want = BTreeMap::from([
        (groceries.clone(), "TenantAdmin".to_owned()),
        (work.clone(), "TenantAdmin".to_owned()),
    ]);
    assert_eq!(
        claim(&details["idTokenGeneration"]["claimsToAddOrOverride"][MEMBERSHIPS_CLAIM]),
        want
    );
    assert_eq!(
        claim(&details["accessTokenGeneration"]["claimsToAddOrOverride"][MEMBERSHIPS_CLAIM]),
        want
    );

    // An unverified email gets nothing, even one with lists.
    let mut unverified: Value = serde_json::from_str(V2).unwrap();
    unverified["request"]["userAttributes"]["email_verified"] = "false".into();
    let answer = handle(&store, unverified).await.unwrap();
    let details = &answer["response"]["claimsAndScopeOverrideDetails"];
    assert!(
        claim(&details["idTokenGeneration"]["claimsToAddOrOverride"][MEMBERSHIPS_CLAIM]).is_empty()
    );

    // Not a trigger event: an error, so Cognito refuses the sign-in rather than issue a token
    // without its claims.
    assert!(
        handle(&store, json!({"version": "2", "request": 5}))
            .await
            .is_err()
    );
}
