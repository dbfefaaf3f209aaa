//! End to end with real Cognito-issued tokens from moto: a user pool and its app client, users
//! created and signed in (`USER_PASSWORD_AUTH`), and the `todo` binary on DynamoDB (moto)
//! configured with `TODO_ISSUER` (moto's `iss`, the real AWS form), `TODO_JWKS_URL` (moto's
//! JWKS for the pool) and `TODO_AUDIENCE` (the client id). Black-box over real HTTP.
//!
//! `scripts/test` starts `moto_server` and sets `SAAS_TEST_MOTO_ENDPOINT`. Without it the test is
//! skipped, unless `SAAS_REQUIRE_MOTO` is set, in which case it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use todo::IdentityConfig;

const PASSWORD: &str = "Correct-Horse-9-Battery!";

/// moto's cognito-idp, by AWS JSON 1.1 calls (as `saas-core/tests/cognito_moto.rs` drives it).
struct Cognito {
    endpoint: String,
    region: String,
    http: reqwest::Client,
}

impl Cognito {
    /// One `AWSCognitoIdentityProviderService.<op>` call; its answer.
    async fn call(&self, op: &str, body: Value) -> Value {
        let response = self
            .http
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "X-Amz-Target",
                format!("AWSCognitoIdentityProviderService.{op}"),
            )
            .header(
                "Authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/cognito-idp/aws4_request, \
                     SignedHeaders=host, Signature=x",
                    self.region
                ),
            )
            .body(serde_json::to_vec(&body).unwrap())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{op}: request to moto failed: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{op} failed with {status}: {text}");
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{op}: bad JSON {e}: {text}"))
        }
    }

    /// A user pool with `email` as an attribute: its id.
    async fn create_pool(&self, name: &str) -> String {
        let out = self
            .call(
                "CreateUserPool",
                json!({
                    "PoolName": name,
                    "Schema": [
                        {"Name": "email", "AttributeDataType": "String", "Mutable": true},
                    ],
                }),
            )
            .await;
        out["UserPool"]["Id"].as_str().unwrap().to_owned()
    }

    /// An app client that signs in with a password and puts the email in ID tokens: its id.
    async fn create_client(&self, pool: &str, name: &str) -> String {
        let out = self
            .call(
                "CreateUserPoolClient",
                json!({
                    "UserPoolId": pool,
                    "ClientName": name,
                    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                    "ReadAttributes": ["email", "email_verified"],
                }),
            )
            .await;
        out["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A confirmed user with this email (verified or not), with a permanent password.
    async fn create_user(&self, pool: &str, username: &str, email: &str, verified: bool) {
        self.call(
            "AdminCreateUser",
            json!({
                "UserPoolId": pool,
                "Username": username,
                "MessageAction": "SUPPRESS",
                "UserAttributes": [
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": verified.to_string()},
                ],
            }),
        )
        .await;
        self.call(
            "AdminSetUserPassword",
            json!({
                "UserPoolId": pool,
                "Username": username,
                "Password": PASSWORD,
                "Permanent": true,
            }),
        )
        .await;
    }

    /// Signs in through `client`: `(id_token, access_token)`.
    async fn sign_in(&self, client: &str, username: &str) -> (String, String) {
        let out = self
            .call(
                "InitiateAuth",
                json!({
                    "ClientId": client,
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": username, "PASSWORD": PASSWORD},
                }),
            )
            .await;
        let result = &out["AuthenticationResult"];
        (
            result["IdToken"].as_str().unwrap().to_owned(),
            result["AccessToken"].as_str().unwrap().to_owned(),
        )
    }
}

/// The token with one character of its signature changed.
fn tamper_signature(token: &str) -> String {
    let dot = token.rfind('.').unwrap();
    let mut bytes = token.as_bytes().to_vec();
    // A character in the middle of the signature: every one of its 6 bits is signature data.
    let i = dot + 1 + (token.len() - dot - 1) / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn cognito_users_sign_in_and_share_a_list_on_the_real_binary() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let region = aws_region();
    let cognito = Cognito {
        endpoint: endpoint.clone(),
        region: region.clone(),
        http: client(),
    };
    let pool = cognito.create_pool("todo-e2e").await;
    let web = cognito.create_client(&pool, "web").await;
    let other_client = cognito.create_client(&pool, "other").await;
    cognito
        .create_user(&pool, "ann", "ann@example.com", true)
        .await;
    cognito
        .create_user(&pool, "bob", "Bob@Example.com", true)
        .await;
    cognito
        .create_user(&pool, "carol", "carol@example.com", false)
        .await;
    let (ann_id, ann_access) = cognito.sign_in(&web, "ann").await;
    let (bob_id, bob_access) = cognito.sign_in(&web, "bob").await;
    let (carol_id, _) = cognito.sign_in(&web, "carol").await;
    let (ann_other_client, _) = cognito.sign_in(&other_client, "ann").await;
    // Another pool: another issuer, whose tokens moto signs with the same key.
    let other_pool = cognito.create_pool("todo-e2e-other").await;
    let other_pool_client = cognito.create_client(&other_pool, "web").await;
    cognito
        .create_user(&other_pool, "ann", "ann@example.com", true)
        .await;
    let (ann_other_pool, _) = cognito.sign_in(&other_pool_client, "ann").await;

    // The tokens are moto's, as ../shared/local-aws.md describes them.
    let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
    let ann_claims = claims(&ann_id);
    assert_eq!(ann_claims["iss"], issuer);
    assert_eq!(ann_claims["aud"], web);
    assert_eq!(ann_claims["token_use"], "id");
    assert_eq!(ann_claims["email"], "ann@example.com");
    assert_eq!(
        ann_claims["email_verified"], "true",
        "moto writes the string"
    );
    let access_claims = claims(&ann_access);
    assert_eq!(access_claims["token_use"], "access");
    assert_eq!(access_claims["client_id"], web);
    assert!(access_claims.get("email").is_none(), "{access_claims}");
    assert_eq!(claims(&carol_id)["email_verified"], "false");

    let svc = Target::Dynamodb
        .start_with(IdentityConfig::Issuer {
            issuer: issuer.clone(),
            jwks_url: format!("{endpoint}/{pool}/.well-known/jwks.json"),
            audiences: vec![web.clone()],
        })
        .await;
    let ann = Api {
        email: "ann@example.com".into(),
        ..svc.with_token(&ann_id)
    };
    let bob = Api {
        email: "bob@example.com".into(),
        ..svc.with_token(&bob_id)
    };

    // No development sign-in with an issuer configured.
    svc.anonymous()
        .post("/dev/token", &json!({"email": "ann@example.com"}))
        .await
        .not_found();
    svc.anonymous()
        .get("/.well-known/jwks.json")
        .await
        .not_found();

    // Cognito's sub and verified email are the caller.
    assert_eq!(
        ann.get("/me").await.expect(StatusCode::OK),
        json!({"sub": ann_claims["sub"], "email": "ann@example.com"})
    );
    assert_eq!(
        bob.get("/me").await.expect(StatusCode::OK),
        json!({"sub": claims(&bob_id)["sub"], "email": "bob@example.com"})
    );

    // ann makes a list and shares it with bob as a viewer.
    let list = ann.new_list("groceries").await;
    let l = format!("/lists/{list}");
    let todo = ann.create_todo(&list, "milk").await;
    assert_eq!(todo["created_by"], "ann@example.com");
    ann.share(&list, "bob@example.com", "viewer").await;
    ann.share(&list, "carol@example.com", "editor").await;

    // bob reads it, and may not write.
    let seen = bob.get(&l).await.expect(StatusCode::OK);
    assert_eq!(
        (&seen["name"], &seen["role"]),
        (&json!("groceries"), &json!("viewer"))
    );
    assert!(
        bob.my_lists()
            .await
            .contains(&(list.clone(), "viewer".to_owned()))
    );
    let (todos, _) = bob.all_todos(&list, 50).await;
    assert_eq!(todos, vec![todo.clone()]);
    let members = bob
        .get(&format!("{l}/members"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(items(&members).len(), 3);
    bob.post(&format!("{l}/todos"), &json!({"title": "beer"}))
        .await
        .forbidden();
    bob.patch(&format!("{l}/todos/{}", id(&todo)), &json!({"done": true}))
        .await
        .forbidden();
    bob.patch(&l, &json!({"name": "bob's now"}))
        .await
        .forbidden();

    // Access tokens carry no email: they match no membership, even the owner's.
    for access in [&ann_access, &bob_access] {
        let api = svc.with_token(access);
        api.get(&l).await.not_found();
        api.get(&format!("{l}/todos")).await.not_found();
        api.post(&format!("{l}/todos"), &json!({"title": "x"}))
            .await
            .not_found();
        // Signed in, with no email to be anyone's member by.
        let me = api.get("/me").await.expect(StatusCode::OK);
        assert_eq!(me, json!({"sub": claims(access)["sub"], "email": null}));
    }
    // Nor does an email Cognito has not verified (moto's "email_verified": "false").
    let carol = svc.with_token(&carol_id);
    carol.get(&l).await.not_found();
    carol
        .post(&format!("{l}/todos"), &json!({"title": "x"}))
        .await
        .not_found();

    // A tampered token, another app client's and another pool's are not signed in at all.
    for token in [
        tamper_signature(&ann_id),
        tamper_signature(&ann_access),
        ann_other_client,
        ann_other_pool,
    ] {
        let api = svc.with_token(&token);
        api.get("/me").await.unauthenticated();
        api.get(&l).await.unauthenticated();
        api.post("/lists", &json!({"name": "x"}))
            .await
            .unauthenticated();
    }

    // Nothing the refused requests tried happened.
    let (todos, _) = ann.all_todos(&list, 50).await;
    assert_eq!(todos, vec![todo]);
    let now = ann.get(&l).await.expect(StatusCode::OK);
    assert_eq!(
        (&now["name"], &now["role"]),
        (&json!("groceries"), &json!("owner"))
    );
    assert_eq!(
        ann.my_lists().await,
        [(list.clone(), "owner".to_owned())].into_iter().collect()
    );
}
