//! Integration test against moto's Cognito (cognito-idp) on 127.0.0.1.
//!
//! `scripts/test` starts `moto_server` and sets `SAAS_TEST_MOTO_ENDPOINT`. Without it the test is
//! skipped, unless `SAAS_REQUIRE_MOTO` is set, in which case it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use saas_core::jwt::{Issuer, JwtError, JwtVerifier, TokenUse};
use saas_core::{Role, TenantResolver, Tier};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";

/// The moto endpoint, or `None` when the test should be skipped.
fn moto_endpoint() -> Option<String> {
    match std::env::var("SAAS_TEST_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {
            Some(endpoint.trim().trim_end_matches('/').to_owned())
        }
        _ => {
            if std::env::var_os("SAAS_REQUIRE_MOTO").is_some() {
                panic!(
                    "SAAS_REQUIRE_MOTO is set but SAAS_TEST_MOTO_ENDPOINT is not: \
                     run the tests through scripts/test, which starts moto_server"
                );
            }
            eprintln!(
                "skipping cognito_moto: SAAS_TEST_MOTO_ENDPOINT is not set (scripts/test sets it)"
            );
            None
        }
    }
}

/// A user to create in the pool, with its tenant attributes.
#[derive(Clone, Copy)]
struct NewUser<'a> {
    username: &'a str,
    email: &'a str,
    tenant: &'a str,
    role: &'a str,
    tier: &'a str,
}

struct Cognito {
    endpoint: String,
    http: reqwest::Client,
}

impl Cognito {
    /// One AWS JSON 1.1 call to `AWSCognitoIdentityProviderService.<op>`.
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
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/cognito-idp/aws4_request, \
                     SignedHeaders=host, Signature=x"
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

    async fn create_pool(&self, name: &str) -> String {
        let out = self
            .call(
                "CreateUserPool",
                json!({
                    "PoolName": name,
                    "Schema": [
                        {"Name": "tenantId", "AttributeDataType": "String", "Mutable": true},
                        {"Name": "userRole", "AttributeDataType": "String", "Mutable": true},
                        {"Name": "tenantTier", "AttributeDataType": "String", "Mutable": true},
                    ],
                }),
            )
            .await;
        out["UserPool"]["Id"].as_str().unwrap().to_owned()
    }

    async fn create_client(&self, pool_id: &str, name: &str) -> String {
        let out = self
            .call(
                "CreateUserPoolClient",
                json!({
                    "UserPoolId": pool_id,
                    "ClientName": name,
                    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                    "ReadAttributes": [
                        "email",
                        "email_verified",
                        "custom:tenantId",
                        "custom:userRole",
                        "custom:tenantTier",
                    ],
                }),
            )
            .await;
        out["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a confirmed user and signs in: `(id_token, access_token)`.
    async fn user_tokens(
        &self,
        pool_id: &str,
        client_id: &str,
        user: &NewUser<'_>,
    ) -> (String, String) {
        let NewUser {
            username,
            email,
            tenant,
            role,
            tier,
        } = *user;
        let password = "Correct-Horse-9-Battery!";
        self.call(
            "AdminCreateUser",
            json!({
                "UserPoolId": pool_id,
                "Username": username,
                "MessageAction": "SUPPRESS",
                "UserAttributes": [
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                    {"Name": "custom:tenantId", "Value": tenant},
                    {"Name": "custom:userRole", "Value": role},
                    {"Name": "custom:tenantTier", "Value": tier},
                ],
            }),
        )
        .await;
        self.call(
            "AdminSetUserPassword",
            json!({
                "UserPoolId": pool_id,
                "Username": username,
                "Password": password,
                "Permanent": true,
            }),
        )
        .await;
        let out = self
            .call(
                "InitiateAuth",
                json!({
                    "ClientId": client_id,
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": username, "PASSWORD": password},
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

fn verifier(
    endpoint: &str,
    pool_id: &str,
    audience: &str,
    token_use: Option<TokenUse>,
) -> JwtVerifier {
    let mut issuer = Issuer::cognito(REGION, pool_id)
        .jwks_url(format!("{endpoint}/{pool_id}/.well-known/jwks.json"))
        .audience(audience);
    if let Some(token_use) = token_use {
        issuer = issuer.token_use(token_use);
    }
    JwtVerifier::builder().issuer(issuer).build().unwrap()
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
async fn cognito_tokens_from_moto_verify_and_resolve_tenants() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let cognito = Cognito {
        endpoint: endpoint.clone(),
        http: reqwest::Client::new(),
    };

    let pool_id = cognito.create_pool("saas-core-moto").await;
    let client_id = cognito.create_client(&pool_id, "web").await;
    let other_client_id = cognito.create_client(&pool_id, "other").await;
    assert_ne!(client_id, other_client_id);

    let (id_a, access_a) = cognito
        .user_tokens(
            &pool_id,
            &client_id,
            &NewUser {
                username: "alice",
                email: "alice@tenant-a.example",
                tenant: "tenant-a",
                role: "TenantAdmin",
                tier: "Premium",
            },
        )
        .await;
    let (id_b, access_b) = cognito
        .user_tokens(
            &pool_id,
            &client_id,
            &NewUser {
                username: "bob",
                email: "bob@tenant-b.example",
                tenant: "tenant-b",
                role: "TenantUser",
                tier: "Basic",
            },
        )
        .await;

    // Any token use (the default): both tokens verify.
    let any = verifier(&endpoint, &pool_id, &client_id, None);
    any.prewarm().await.unwrap();
    let id_claims = any.verify(&id_a).await.unwrap();
    assert_eq!(id_claims.string("custom:tenantId").unwrap(), "tenant-a");
    let access_claims = any.verify(&access_a).await.unwrap();
    assert_eq!(access_claims.string("token_use").unwrap(), "access");
    any.verify(&access_b).await.unwrap();

    // The ID token resolves to tenant-a, with role, tier and a verified email.
    let resolver = TenantResolver::builder()
        .bearer(any.clone())
        .build()
        .unwrap();
    let ctx_a = resolver.context_from_token(&id_a).await.unwrap();
    assert_eq!(ctx_a.tenant_id().as_str(), "tenant-a");
    assert_eq!(ctx_a.role(), Role::TenantAdmin);
    assert_eq!(ctx_a.tier(), Tier::Premium);
    let user = ctx_a.user().unwrap();
    assert_eq!(user.username.as_deref(), Some("alice"));
    assert!(
        user.email_verified,
        "moto's \"email_verified\": \"true\" is read as verified"
    );
    assert_eq!(user.verified_email(), Some("alice@tenant-a.example"));

    // A second user in tenant-b stays apart from tenant-a.
    let ctx_b = resolver.context_from_token(&id_b).await.unwrap();
    assert_eq!(ctx_b.tenant_id().as_str(), "tenant-b");
    assert_ne!(ctx_a.tenant_id(), ctx_b.tenant_id());
    assert_ne!(ctx_a.subject(), ctx_b.subject());
    assert_eq!(ctx_b.role(), Role::TenantUser);
    assert_eq!(
        ctx_b.user().unwrap().verified_email(),
        Some("bob@tenant-b.example")
    );

    // token_use is enforced both ways.
    let id_only = verifier(&endpoint, &pool_id, &client_id, Some(TokenUse::Id));
    id_only.verify(&id_a).await.unwrap();
    assert_eq!(
        id_only.verify(&access_a).await.unwrap_err(),
        JwtError::WrongTokenUse
    );
    let access_only = verifier(&endpoint, &pool_id, &client_id, Some(TokenUse::Access));
    access_only.verify(&access_a).await.unwrap();
    assert_eq!(
        access_only.verify(&id_a).await.unwrap_err(),
        JwtError::WrongTokenUse
    );

    // Another app client's verifier rejects both tokens (`aud` and `client_id`).
    let other = verifier(&endpoint, &pool_id, &other_client_id, None);
    assert_eq!(
        other.verify(&id_a).await.unwrap_err(),
        JwtError::WrongAudience
    );
    assert_eq!(
        other.verify(&access_a).await.unwrap_err(),
        JwtError::WrongAudience
    );

    // One changed signature character breaks the signature.
    assert_eq!(
        any.verify(&tamper_signature(&id_a)).await.unwrap_err(),
        JwtError::BadSignature
    );
    assert_eq!(
        any.verify(&tamper_signature(&access_a)).await.unwrap_err(),
        JwtError::BadSignature
    );
}
