//! JWT verification against cached JWKS: Amazon Cognito first, any OIDC issuer.
//!
//! A [`JwtVerifier`] is built once per cold start and shared (it is one `Arc`). It checks, in
//! order: the token's size and shape, the header's algorithm (RS256/384/512 or ES256/384 only:
//! never `none`, never HMAC), the issuer, the key (`kid` in the issuer's JWKS, whose type and
//! `alg` must fit the header), the signature, then `exp`/`nbf`/`iat` with a leeway that defaults
//! to zero, `token_use`, the audience (`aud` for ID tokens, `client_id` for Cognito access
//! tokens), required groups and scopes, and a custom check.
//!
//! ```no_run
//! use saas_core::jwt::{Issuer, JwtVerifier, TokenUse};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = JwtVerifier::builder()
//!     .issuer(
//!         Issuer::cognito("us-east-1", "us-east-1_AbCdEf123")
//!             .audience("5r1h3v0kq0examplec1ient")
//!             .token_use(TokenUse::Id),
//!     )
//!     .build()?;
//! verifier.prewarm().await?; // at init, so the first request does not wait for the JWKS
//! let claims = verifier.verify("eyJraWQiOi...").await?;
//! println!("tenant {:?}", claims.string("custom:tenantId"));
//! # Ok(()) }
//! ```

mod error;
mod issuer;
mod jwks;
mod token;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};

pub use error::{ConfigError, JwtError};
pub use issuer::{Issuer, TokenUse};
pub use jsonwebtoken::Algorithm;

use crate::claims::Claims;
use issuer::{JwksSource, SUPPORTED_ALGORITHMS};
use jwks::{FetchSettings, JwksCache, KeySet};

type CheckFn = dyn Fn(&Claims) -> Result<(), String> + Send + Sync;

/// Verifies JWTs from one or more trusted issuers. Cheap to clone; build it once at cold start.
///
/// See the [module docs](self) for the checks and an example.
#[derive(Clone)]
pub struct JwtVerifier(Arc<VerifierInner>);

struct VerifierInner {
    issuers: Vec<TrustedIssuer>,
    leeway: u64,
    max_token_len: usize,
    groups_claim: String,
    any_group: Vec<String>,
    any_scope: Vec<String>,
    check: Option<Arc<CheckFn>>,
}

struct TrustedIssuer {
    config: Issuer,
    keys: JwksCache,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field(
                "issuers",
                &self
                    .0
                    .issuers
                    .iter()
                    .map(|i| i.config.iss())
                    .collect::<Vec<_>>(),
            )
            .field("leeway", &self.0.leeway)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Starts a verifier configuration.
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder::default()
    }

    /// Fetches every issuer's JWKS now, so that the first request does not wait for it. Call it at
    /// init; an error means some issuer's keys could not be had (requests for that issuer will
    /// try again after the cooldown).
    pub async fn prewarm(&self) -> Result<(), JwtError> {
        let mut first_error = None;
        for issuer in &self.0.issuers {
            if let Err(e) = issuer.keys.refresh().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Verifies `token` and returns its claims. `token` is the bare JWT, without `Bearer `.
    pub async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let inner = &*self.0;
        let token = token::parse(token, inner.max_token_len)?;
        let iss = match token.claims.get("iss") {
            Some(Value::String(iss)) => iss.as_str(),
            Some(_) => return Err(JwtError::InvalidClaim("iss")),
            None => return Err(JwtError::MissingClaim("iss")),
        };
        let issuer = inner
            .issuers
            .iter()
            .find(|i| i.config.iss == iss)
            .ok_or(JwtError::WrongIssuer)?;
        if !issuer.config.algorithms.contains(&token.alg) {
            return Err(JwtError::UnsupportedAlgorithm(
                token::alg_name(token.alg).to_owned(),
            ));
        }
        let key = issuer.keys.key(&token.kid).await?;
        if !key.accepts(token.alg) {
            return Err(JwtError::AlgorithmMismatch);
        }
        match jsonwebtoken::crypto::verify(
            token.signature,
            token.message.as_bytes(),
            &key.decoding,
            token.alg,
        ) {
            Ok(true) => {}
            Ok(false) => return Err(JwtError::BadSignature),
            Err(e) if matches!(e.kind(), ErrorKind::Base64(_)) => {
                return Err(JwtError::Malformed("signature is not base64url"));
            }
            Err(_) => return Err(JwtError::BadSignature),
        }
        let claims = token.claims;
        inner.check_times(&claims)?;
        check_token_use_and_audience(&issuer.config, &claims)?;
        let claims = Claims::new(claims);
        inner.check_groups_and_scopes(&claims)?;
        if let Some(check) = &inner.check {
            check(&claims).map_err(JwtError::Refused)?;
        }
        Ok(claims)
    }

    /// The issuers this verifier trusts.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.0.issuers.iter().map(|i| i.config.iss())
    }
}

/// The scopes of a token: `scope` (space-separated, OAuth 2) or `scp` (a list).
pub(crate) fn scopes(claims: &Claims) -> Vec<String> {
    let scopes = claims.list("scope");
    if scopes.is_empty() {
        claims.list("scp")
    } else {
        scopes
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(JwtError::InvalidClaim(name)),
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

impl VerifierInner {
    fn check_times(&self, claims: &Map<String, Value>) -> Result<(), JwtError> {
        let now = now();
        let leeway = i64::try_from(self.leeway).unwrap_or(i64::MAX);
        let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
        // RFC 7519 4.1.4: the token must not be accepted on or after `exp`.
        if now >= exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        for name in ["nbf", "iat"] {
            if let Some(t) = numeric_date(claims, name)?
                && t > now.saturating_add(leeway)
            {
                return Err(JwtError::NotYetValid);
            }
        }
        Ok(())
    }

    fn check_groups_and_scopes(&self, claims: &Claims) -> Result<(), JwtError> {
        if !self.any_group.is_empty()
            && !claims
                .list(&self.groups_claim)
                .iter()
                .any(|g| self.any_group.contains(g))
        {
            return Err(JwtError::MissingGroup);
        }
        if !self.any_scope.is_empty() && !scopes(claims).iter().any(|s| self.any_scope.contains(s))
        {
            return Err(JwtError::MissingScope);
        }
        Ok(())
    }
}

fn check_token_use_and_audience(
    issuer: &Issuer,
    claims: &Map<String, Value>,
) -> Result<(), JwtError> {
    let token_use = match claims.get("token_use") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(JwtError::InvalidClaim("token_use")),
    };
    if issuer.cognito || issuer.token_use.is_some() {
        let token_use = token_use.ok_or(JwtError::MissingClaim("token_use"))?;
        let accepted = match issuer.token_use {
            Some(required) => token_use == required.as_str(),
            None => token_use == "id" || token_use == "access",
        };
        if !accepted {
            return Err(JwtError::WrongTokenUse);
        }
    }
    if issuer.any_audience {
        return Ok(());
    }
    let accepts = |s: &str| issuer.audiences.iter().any(|a| a == s);
    let access_token = issuer.cognito && token_use == Some("access");
    match (access_token, claims.get("aud"), claims.get("client_id")) {
        // Cognito access tokens name their app client in `client_id`, and have no `aud`.
        (true, _, Some(Value::String(client))) | (false, None, Some(Value::String(client))) => {
            accepts(client).then_some(()).ok_or(JwtError::WrongAudience)
        }
        (true, _, Some(_)) | (false, None, Some(_)) => Err(JwtError::InvalidClaim("client_id")),
        (true, _, None) => Err(JwtError::MissingClaim("client_id")),
        (false, Some(Value::String(aud)), _) => {
            accepts(aud).then_some(()).ok_or(JwtError::WrongAudience)
        }
        (false, Some(Value::Array(auds)), _) => {
            if auds.iter().any(|a| a.as_str().is_some_and(accepts)) {
                Ok(())
            } else {
                Err(JwtError::WrongAudience)
            }
        }
        (false, Some(_), _) => Err(JwtError::InvalidClaim("aud")),
        (false, None, None) => Err(JwtError::MissingClaim("aud")),
    }
}

/// Configuration for a [`JwtVerifier`].
///
/// Defaults: leeway 0 s, JWKS refresh cooldown 10 s, JWKS fetch timeout 5 s (connect 2 s),
/// tokens up to 16 KiB, JWKS documents up to 512 KiB.
#[must_use]
pub struct JwtVerifierBuilder {
    issuers: Vec<Issuer>,
    leeway: Duration,
    cooldown: Duration,
    timeout: Duration,
    connect_timeout: Duration,
    max_token_len: usize,
    max_jwks_bytes: usize,
    groups_claim: String,
    any_group: Vec<String>,
    any_scope: Vec<String>,
    check: Option<Arc<CheckFn>>,
    client: Option<reqwest::Client>,
}

impl Default for JwtVerifierBuilder {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            leeway: Duration::ZERO,
            cooldown: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_token_len: 16 * 1024,
            max_jwks_bytes: 512 * 1024,
            groups_claim: "cognito:groups".into(),
            any_group: Vec::new(),
            any_scope: Vec::new(),
            check: None,
            client: None,
        }
    }
}

impl fmt::Debug for JwtVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifierBuilder")
            .field("issuers", &self.issuers)
            .field("leeway", &self.leeway)
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

impl JwtVerifierBuilder {
    /// Trusts an issuer. Call again for several issuers; `iss` picks the one a token is checked
    /// against.
    pub fn issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default zero).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two JWKS fetches caused by unknown `kid`s or failures (default
    /// 10 s).
    pub fn jwks_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The time limit on a JWKS fetch (default 5 s).
    pub fn jwks_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest token accepted, checked before any decoding (default 16 KiB).
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// Require the user to be in at least one of these groups (403 otherwise).
    pub fn require_any_group<I, G>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = G>,
        G: Into<String>,
    {
        self.any_group.extend(groups.into_iter().map(Into::into));
        self
    }

    /// The claim that lists groups (default `cognito:groups`).
    pub fn groups_claim(mut self, claim: impl Into<String>) -> Self {
        self.groups_claim = claim.into();
        self
    }

    /// Require at least one of these scopes in `scope`/`scp` (403 otherwise).
    pub fn require_any_scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.any_scope.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// A last check on the verified claims; an `Err` rejects the token with
    /// [`JwtError::Refused`] (401). The message may reach logs, never the caller.
    pub fn check<F>(mut self, check: F) -> Self
    where
        F: Fn(&Claims) -> Result<(), String> + Send + Sync + 'static,
    {
        self.check = Some(Arc::new(check));
        self
    }

    /// The HTTP client for JWKS fetches (the builder makes one with the timeouts otherwise).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks the configuration and builds the verifier. Fetches nothing: call
    /// [`JwtVerifier::prewarm`] for that.
    pub fn build(self) -> Result<JwtVerifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| ConfigError::HttpClient(e.to_string()))?,
        };
        let settings = FetchSettings {
            cooldown: self.cooldown,
            max_bytes: self.max_jwks_bytes,
        };
        let mut issuers: Vec<TrustedIssuer> = Vec::with_capacity(self.issuers.len());
        for config in self.issuers {
            if issuers.iter().any(|i| i.config.iss == config.iss) {
                return Err(ConfigError::DuplicateIssuer(config.iss));
            }
            if config.audiences.is_empty() && !config.any_audience {
                return Err(ConfigError::NoAudience(config.iss));
            }
            if let Some(alg) = config
                .algorithms
                .iter()
                .find(|a| !SUPPORTED_ALGORITHMS.contains(a))
            {
                return Err(ConfigError::Algorithm(format!("{alg:?}")));
            }
            let keys = match &config.jwks {
                JwksSource::Url(url) => {
                    JwksCache::remote(url.clone(), client.clone(), settings.clone())
                }
                JwksSource::Static(json) => {
                    JwksCache::fixed(KeySet::parse(json.as_bytes()).map_err(ConfigError::Jwks)?)
                }
            };
            issuers.push(TrustedIssuer { config, keys });
        }
        Ok(JwtVerifier(Arc::new(VerifierInner {
            issuers,
            leeway: self.leeway.as_secs(),
            max_token_len: self.max_token_len,
            groups_claim: self.groups_claim,
            any_group: self.any_group,
            any_scope: self.any_scope,
            check: self.check,
        })))
    }
}
