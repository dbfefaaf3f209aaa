//! Test helpers (feature `test-util`): contexts without tokens, and a local issuer that mints
//! tokens and serves its JWKS on 127.0.0.1.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes_shim::Full;
use serde_json::{Map, Value, json};

use crate::claims::Claims;
use crate::context::{ContextSource, Identity, TenantContext, TenantId, User};
use crate::jwt::{Issuer, JwtVerifier, JwtVerifierBuilder};
use crate::rsa_key::{self, RsaKey};
use crate::{Role, Tier};

mod bytes_shim {
    pub(super) type Full = http_body_util::Full<hyper::body::Bytes>;
}

impl TenantContext {
    /// A context for tests, built without a token (source [`ContextSource::Test`]). Defaults:
    /// role `TenantUser`, tier `Basic`, user `sub` `test-user`.
    ///
    /// # Panics
    /// If `tenant` is not a valid [`TenantId`].
    pub fn builder(tenant: &str) -> TestContextBuilder {
        TestContextBuilder {
            tenant: TenantId::new(tenant).expect("test tenant id must be valid"),
            role: Role::TenantUser,
            tier: Tier::Basic,
            user: Some(User {
                sub: "test-user".into(),
                username: None,
                email: None,
                email_verified: false,
            }),
            groups: Vec::new(),
            scopes: Vec::new(),
            claims: Map::new(),
        }
    }
}

/// Builds a [`TenantContext`] for a test; see [`TenantContext::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TestContextBuilder {
    tenant: TenantId,
    role: Role,
    tier: Tier,
    user: Option<User>,
    groups: Vec<String>,
    scopes: Vec<String>,
    claims: Map<String, Value>,
}

impl TestContextBuilder {
    /// The role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// The tier.
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    /// The user's subject.
    pub fn subject(mut self, sub: &str) -> Self {
        if let Some(user) = &mut self.user {
            user.sub = sub.into();
        }
        self
    }

    /// A verified email.
    pub fn email(mut self, email: &str) -> Self {
        if let Some(user) = &mut self.user {
            user.email = Some(email.into());
            user.email_verified = true;
        }
        self
    }

    /// No user: a tenant-only context, as from Lambda's tenant id.
    pub fn without_user(mut self) -> Self {
        self.user = None;
        self
    }

    /// A group.
    pub fn group(mut self, group: &str) -> Self {
        self.groups.push(group.into());
        self
    }

    /// A scope.
    pub fn scope(mut self, scope: &str) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Any other claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// The context.
    pub fn build(self) -> TenantContext {
        let identity = self.user.map(|user| {
            Identity::new(
                user,
                self.groups,
                self.scopes,
                None,
                Claims::new(self.claims),
                ContextSource::Test,
            )
        });
        TenantContext::with_source(
            self.tenant,
            self.role,
            self.tier,
            identity,
            ContextSource::Test,
        )
    }
}

/// A clock that stands still until a test moves it, for a verifier built with
/// [`JwtVerifierBuilder::clock`]: its `exp`/`nbf`/`iat` checks and its token-cache lifetimes
/// read this time. Clones share one time.
///
/// ```
/// use std::time::Duration;
/// use saas_core::jwt::JwtError;
/// use saas_core::test_util::{ManualClock, TestIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::start().await?;
/// let token = issuer.token().tenant("tenant-a").expires_in(60).sign();
/// let clock = ManualClock::new(); // after signing: not before the token's `iat`
/// let verifier = issuer.verifier_builder().clock(clock.clone()).build()?;
/// verifier.verify(&token).await?;
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(verifier.verify(&token).await.unwrap_err(), JwtError::Expired);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock at the system's time now.
    pub fn new() -> Self {
        Self::at(SystemTime::now())
    }

    /// A clock at `time`.
    pub fn at(time: SystemTime) -> Self {
        Self(Arc::new(Mutex::new(time)))
    }

    /// The clock's time.
    pub fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut time = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *time += by;
    }

    /// Sets the clock (backwards too).
    pub fn set(&self, time: SystemTime) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = time;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// The audience [`TestIssuer`] puts into its tokens by default.
pub const TEST_AUDIENCE: &str = "test-client";

enum SigningKey {
    Rsa(RsaKey),
    Ec(sig::EcdsaKeyPair, &'static str),
}

struct TestKey {
    kid: String,
    key: SigningKey,
}

impl TestKey {
    fn rsa(kid: String) -> Self {
        let key = RsaKey::generate().expect("RSA key generation");
        Self {
            kid,
            key: SigningKey::Rsa(key),
        }
    }

    fn ec(kid: String, alg: &'static str) -> Self {
        let signing = if alg == "ES384" {
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING
        } else {
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING
        };
        let key = sig::EcdsaKeyPair::generate(signing).expect("EC key generation");
        Self {
            kid,
            key: SigningKey::Ec(key, alg),
        }
    }

    fn jwk(&self) -> Value {
        match &self.key {
            SigningKey::Rsa(key) => key.jwk(&self.kid),
            SigningKey::Ec(key, alg) => {
                let point = key.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                json!({
                    "kty": "EC", "kid": self.kid, "use": "sig", "alg": alg,
                    "crv": if *alg == "ES384" { "P-384" } else { "P-256" },
                    "x": URL_SAFE_NO_PAD.encode(&point[1..=half]),
                    "y": URL_SAFE_NO_PAD.encode(&point[half + 1..]),
                })
            }
        }
    }

    fn alg(&self) -> &'static str {
        match &self.key {
            SigningKey::Rsa(_) => "RS256",
            SigningKey::Ec(_, alg) => alg,
        }
    }

    fn sign(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        match &self.key {
            SigningKey::Rsa(key) => key.sign(alg, message).expect("RSA signing"),
            SigningKey::Ec(key, _) => key
                .sign(&SystemRandom::new(), message)
                .expect("EC signing")
                .as_ref()
                .to_vec(),
        }
    }
}

struct IssuerState {
    keys: Mutex<VecDeque<Arc<TestKey>>>,
    fetches: AtomicUsize,
    available: AtomicBool,
    next_kid: AtomicUsize,
}

impl IssuerState {
    fn jwks(&self) -> String {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string()
    }

    fn current(&self) -> Arc<TestKey> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .back()
            .cloned()
            .expect("a test issuer always has a key")
    }
}

/// A local OIDC issuer for tests: an RSA-2048 signing key (more keys on request), a JWKS served
/// over real HTTP on 127.0.0.1, and a token builder. It counts JWKS fetches and can be taken
/// down and brought back, for rotation and outage tests. Stops serving when dropped.
///
/// ```
/// use saas_core::test_util::TestIssuer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::start().await?;
/// let verifier = issuer.verifier_builder().build()?;
/// let token = issuer.token().tenant("tenant-a").sign();
/// let claims = verifier.verify(&token).await?;
/// assert_eq!(claims.string("custom:tenantId"), Some("tenant-a"));
/// assert_eq!(issuer.fetches(), 1);
/// # Ok(()) }
/// ```
pub struct TestIssuer {
    state: Arc<IssuerState>,
    addr: SocketAddr,
    iss: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("iss", &self.iss)
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// Generates a key and starts serving its JWKS at
    /// `http://127.0.0.1:{port}/.well-known/jwks.json`; the issuer (`iss`) is
    /// `http://127.0.0.1:{port}`.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(IssuerState {
            keys: Mutex::new(VecDeque::from([Arc::new(TestKey::rsa("key-1".into()))])),
            fetches: AtomicUsize::new(0),
            available: AtomicBool::new(true),
            next_kid: AtomicUsize::new(2),
        });
        let served = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(serve(&state, &req)) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(Self {
            state,
            addr,
            iss: format!("http://{addr}"),
            server,
        })
    }

    /// The issuer (`iss`) of its tokens.
    pub fn iss(&self) -> &str {
        &self.iss
    }

    /// Where the JWKS is served.
    pub fn jwks_url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    /// The JWKS document, as served.
    pub fn jwks_json(&self) -> String {
        self.state.jwks()
    }

    /// How many JWKS requests the server has answered (including refused ones).
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Takes the JWKS endpoint down (`false`: it answers 503) or brings it back.
    pub fn set_available(&self, available: bool) {
        self.state.available.store(available, Ordering::SeqCst);
    }

    /// Adds a new RSA key, which signs tokens from now on, and returns its `kid`. Older keys stay
    /// in the JWKS.
    pub fn rotate(&self) -> String {
        self.add_key(None)
    }

    /// Adds a new EC key (`"ES256"` or `"ES384"`), which signs tokens from now on.
    pub fn rotate_ec(&self, alg: &'static str) -> String {
        self.add_key(Some(alg))
    }

    fn add_key(&self, ec: Option<&'static str>) -> String {
        let kid = format!("key-{}", self.state.next_kid.fetch_add(1, Ordering::SeqCst));
        let key = match ec {
            Some(alg) => TestKey::ec(kid.clone(), alg),
            None => TestKey::rsa(kid.clone()),
        };
        self.state
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Arc::new(key));
        kid
    }

    /// Removes the oldest key from the JWKS (it can no longer verify anything after a refresh).
    pub fn retire_oldest(&self) {
        let mut keys = self
            .state
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if keys.len() > 1 {
            keys.pop_front();
        }
    }

    /// The RSA public key of the current signing key (DER, PKCS#1), as an attacker would know it.
    pub fn public_key_der(&self) -> Vec<u8> {
        match &self.state.current().key {
            SigningKey::Rsa(key) => key.public_key_der().to_vec(),
            SigningKey::Ec(key, _) => key.public_key().as_ref().to_vec(),
        }
    }

    /// A verifier builder that trusts this issuer for [`TEST_AUDIENCE`].
    pub fn verifier_builder(&self) -> JwtVerifierBuilder {
        JwtVerifier::builder().issuer(self.issuer_config())
    }

    /// This issuer as a verifier's [`Issuer`], for [`TEST_AUDIENCE`].
    pub fn issuer_config(&self) -> Issuer {
        Issuer::oidc(self.iss.clone())
            .jwks_url(self.jwks_url())
            .audience(TEST_AUDIENCE)
    }

    /// A token with sensible claims: `iss`, `sub` `user-1`, `aud` [`TEST_AUDIENCE`],
    /// `token_use` `id`, `iat` now, `exp` in an hour, `email` (verified), role `TenantUser`, tier
    /// `Basic`; add `tenant(..)`, change anything.
    pub fn token(&self) -> TokenBuilder {
        let now = now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.iss.clone().into());
        claims.insert("sub".into(), "user-1".into());
        claims.insert("aud".into(), TEST_AUDIENCE.into());
        claims.insert("token_use".into(), "id".into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + 3600).into());
        claims.insert("email".into(), "user-1@example.com".into());
        claims.insert("email_verified".into(), true.into());
        claims.insert("custom:userRole".into(), "TenantUser".into());
        claims.insert("custom:tenantTier".into(), "Basic".into());
        TokenBuilder {
            key: self.state.current(),
            header: Map::new(),
            claims,
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn serve(state: &IssuerState, req: &http::Request<hyper::body::Incoming>) -> http::Response<Full> {
    let mut response = http::Response::new(Full::default());
    if req.uri().path() != "/.well-known/jwks.json" {
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        return response;
    }
    state.fetches.fetch_add(1, Ordering::SeqCst);
    if !state.available.load(Ordering::SeqCst) {
        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        return response;
    }
    *response.body_mut() = Full::from(state.jwks());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Builds and signs a token for a [`TestIssuer`].
#[must_use]
pub struct TokenBuilder {
    key: Arc<TestKey>,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl std::fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl TokenBuilder {
    /// `custom:tenantId`.
    pub fn tenant(self, tenant: &str) -> Self {
        self.claim("custom:tenantId", tenant)
    }

    /// `custom:userRole`.
    pub fn role(self, role: &str) -> Self {
        self.claim("custom:userRole", role)
    }

    /// `custom:tenantTier`.
    pub fn tier(self, tier: &str) -> Self {
        self.claim("custom:tenantTier", tier)
    }

    /// `sub`.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// `email`, verified.
    pub fn email(self, email: &str) -> Self {
        self.claim("email", email).claim("email_verified", true)
    }

    /// `exp` this many seconds from now (negative: in the past).
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", now() + seconds)
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets a header field (`alg`, `kid`, ...) over the defaults. The signature is still made
    /// with the key's own algorithm unless `alg` names another of its family.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.into(), value.into());
        self
    }

    /// The signed compact JWS.
    pub fn sign(self) -> String {
        let mut header = Map::new();
        header.insert("alg".into(), self.key.alg().into());
        header.insert("kid".into(), self.key.kid.clone().into());
        header.insert("typ".into(), "JWT".into());
        header.extend(self.header);
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("RS256")
            .to_owned();
        let message = rsa_key::signing_input(header, self.claims);
        let signature = self.key.sign(&alg, message.as_bytes());
        rsa_key::compact(&message, &signature)
    }
}
