//! JWT verification against cached JWKS: Amazon Cognito first, any OIDC issuer.
//!
//! A [`JwtVerifier`] is built once per cold start and shared (it is one `Arc`). It checks, in
//! order: the token's size and shape, the header's algorithm (RS256/384/512 or ES256/384 only:
//! never `none`, never HMAC), the issuer, the key (`kid` in the issuer's JWKS, whose type and
//! `alg` must fit the header), the signature, then `exp`/`nbf`/`iat` with a leeway that defaults
//! to zero, `token_use`, the audience (`aud` for ID tokens, `client_id` for Cognito access
//! tokens), required groups and scopes, and a custom check.
//!
//! It then remembers the token, keyed by its SHA-256: the same token again is answered from the
//! verifier's token cache, with `exp`/`nbf`/`iat` and the custom check checked again and
//! nothing else repeated. Entries live at most 5 minutes and never past `exp`, at most 10,000 of
//! them, and go when a JWKS refresh drops their key; rejections after a signature check are
//! remembered for 10 s in a cache of their own. See
//! [`token_cache_ttl`](JwtVerifierBuilder::token_cache_ttl) and
//! [`rejection_cache_ttl`](JwtVerifierBuilder::rejection_cache_ttl);
//! [`JwtVerifier::stats`] counts signature checks and hits.
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

mod builder;
mod cache;
mod clock;
mod error;
mod issuer;
mod jwks;
mod public_key;
mod token;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};

pub use builder::JwtVerifierBuilder;
pub use cache::VerifierStats;
pub use error::{ConfigError, JwtError};
pub use issuer::{Issuer, TokenUse};
pub use jsonwebtoken::Algorithm;

use crate::claims::Claims;
pub(crate) use cache::Accepted;
use cache::{Rejected, TokenCache, TokenDigest, TokenTimes};
use clock::{Clock, seconds};
use jwks::{JwksCache, VerifyKey};
use public_key::NotBase64;

type CheckFn = dyn Fn(&Claims) -> Result<(), String> + Send + Sync;

/// Verifies JWTs from one or more trusted issuers. Cheap to clone; build it once at cold start.
/// Clones share the JWKS and token caches; two verifiers built apart share nothing.
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
    cache: TokenCache,
    clock: Clock,
}

struct TrustedIssuer {
    config: Issuer,
    keys: JwksCache,
    /// The key-set generation whose dropped keys were last purged from the token cache.
    purged: AtomicU64,
}

/// Why a full verification failed, and with which key, if it got as far as the signature.
struct Failure {
    error: JwtError,
    checked_with: Option<Signer>,
}

/// The issuer and key a signature was checked with, and a key-set generation that had the key.
#[derive(Clone)]
struct Signer {
    issuer: usize,
    key: Arc<VerifyKey>,
    generation: u64,
}

impl From<JwtError> for Failure {
    fn from(error: JwtError) -> Self {
        Self {
            error,
            checked_with: None,
        }
    }
}

/// What a cache lookup found.
enum Lookup {
    /// The answer, from the cache.
    Answer(Result<Arc<Accepted>, JwtError>),
    /// Nothing usable: verify.
    Miss,
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
        for (index, issuer) in self.0.issuers.iter().enumerate() {
            let refreshed = issuer.keys.refresh().await;
            self.0.purge_dropped_keys(index);
            if let Err(e) = refreshed {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Verifies `token` and returns its claims. `token` is the bare JWT, without `Bearer `.
    ///
    /// A token this verifier accepted before is answered from its token cache (see the
    /// [builder](JwtVerifierBuilder::token_cache_ttl)): `exp`, `nbf`, `iat` and the custom check
    /// are checked again, the rest is what the full verification found.
    ///
    /// ```
    /// use saas_core::test_util::TestIssuer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let issuer = TestIssuer::start().await?;
    /// let verifier = issuer.verifier_builder().build()?;
    /// let token = issuer.token().tenant("tenant-a").sign();
    /// let claims = verifier.verify(&token).await?;
    /// assert_eq!(claims.string("custom:tenantId"), Some("tenant-a"));
    /// // Again: from the cache, no second signature check.
    /// verifier.verify(&token).await?;
    /// assert_eq!(verifier.stats().signature_checks, 1);
    /// assert_eq!(verifier.stats().cache_hits, 1);
    /// # Ok(()) }
    /// ```
    pub async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        Ok(self.verify_cached(token).await?.claims.clone())
    }

    /// Verifies `token` as [`verify`](Self::verify) does, returning the cache entry (shared with
    /// every other request for the same token while it lives).
    pub(crate) async fn verify_cached(&self, token: &str) -> Result<Arc<Accepted>, JwtError> {
        let inner = &*self.0;
        if token.len() > inner.max_token_len {
            return Err(JwtError::TooLarge {
                limit: inner.max_token_len,
            });
        }
        if inner.cache.is_off() {
            return inner
                .verify_uncached(token)
                .await
                .map(Arc::new)
                .map_err(|f| f.error);
        }
        let digest = cache::digest(token);
        if let Lookup::Answer(answer) = inner.lookup(&digest) {
            return answer;
        }
        // A miss. Concurrent misses of one token wait for the first one's verification: it
        // either fills the entry or remembers the rejection before letting the next one in.
        let guard = match &inner.cache.accepted {
            Some(accepted) => match accepted.entries.get_value_or_guard_async(&digest).await {
                Ok(entry) => match inner.recheck(&digest, entry) {
                    Lookup::Answer(answer) => return answer,
                    Lookup::Miss => None,
                },
                Err(guard) => Some(guard),
            },
            None => None,
        };
        if let Some(error) = inner.remembered(&digest) {
            return Err(error);
        }
        match inner.verify_uncached(token).await {
            Ok(accepted) => {
                let accepted = Arc::new(accepted);
                match (guard, &inner.cache.accepted) {
                    (Some(guard), _) => {
                        let _ = guard.insert(accepted.clone());
                    }
                    (None, Some(cache)) => cache.entries.insert(digest, accepted.clone()),
                    (None, None) => {}
                }
                Ok(accepted)
            }
            Err(failure) => {
                inner.remember(digest, &failure);
                drop(guard);
                Err(failure.error)
            }
        }
    }

    /// Counters of this verifier and its clones: signature checks, cache hits, cache sizes.
    ///
    /// ```
    /// # use saas_core::test_util::TestIssuer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let issuer = TestIssuer::start().await?;
    /// let verifier = issuer.verifier_builder().build()?;
    /// // Tenant A's header and payload with the signature of tenant B's token.
    /// let a = issuer.token().tenant("tenant-a").sign();
    /// let b = issuer.token().tenant("tenant-b").sign();
    /// let forged = format!("{}.{}", a.rsplit_once('.').unwrap().0, b.rsplit_once('.').unwrap().1);
    /// for _ in 0..3 {
    ///     assert!(verifier.verify(&forged).await.is_err());
    /// }
    /// let stats = verifier.stats();
    /// assert_eq!(stats.signature_checks, 1); // the rejection was remembered
    /// assert_eq!(stats.rejection_cache_hits, 2);
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> VerifierStats {
        self.0.cache.stats()
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
    /// Every check, from the token's bytes to the custom check, with no cache involved.
    async fn verify_uncached(&self, token: &str) -> Result<Accepted, Failure> {
        let token = token::parse(token, self.max_token_len)?;
        let iss = match token.claims.get("iss") {
            Some(Value::String(iss)) => iss.as_str(),
            Some(_) => return Err(JwtError::InvalidClaim("iss").into()),
            None => return Err(JwtError::MissingClaim("iss").into()),
        };
        let (index, issuer) = self
            .issuers
            .iter()
            .enumerate()
            .find(|(_, i)| i.config.iss == iss)
            .ok_or(JwtError::WrongIssuer)?;
        if !issuer.config.algorithms.contains(&token.alg) {
            return Err(
                JwtError::UnsupportedAlgorithm(token::alg_name(token.alg).to_owned()).into(),
            );
        }
        // Read before the key: the key is in this generation's set or a later one.
        let generation = issuer.keys.generation();
        let key = issuer.keys.key(&token.kid).await;
        self.purge_dropped_keys(index);
        let key = key?;
        if !key.accepts(token.alg) {
            return Err(JwtError::AlgorithmMismatch.into());
        }
        self.cache.count_signature_check();
        let signer = Signer {
            issuer: index,
            key,
            generation,
        };
        let signed = |error| Failure {
            error,
            checked_with: Some(signer.clone()),
        };
        match signer
            .key
            .public
            .verify(token.alg, token.message.as_bytes(), token.signature)
        {
            Ok(true) => {}
            Ok(false) => return Err(signed(JwtError::BadSignature)),
            // Refused before any arithmetic: cheap, not worth remembering.
            Err(NotBase64) => {
                return Err(JwtError::Malformed("signature is not base64url").into());
            }
        }
        let claims = token.claims;
        let times = self.check_times(&claims).map_err(signed)?;
        check_token_use_and_audience(&issuer.config, &claims).map_err(signed)?;
        let claims = Claims::new(claims);
        self.check_groups_and_scopes(&claims).map_err(signed)?;
        if let Some(check) = &self.check {
            check(&claims).map_err(|e| signed(JwtError::Refused(e)))?;
        }
        let ttl = self
            .cache
            .accepted
            .as_ref()
            .map_or(Duration::ZERO, |c| c.ttl);
        Ok(Accepted {
            claims,
            times,
            issuer: index,
            trusted_in: AtomicU64::new(signer.generation),
            key: signer.key,
            until: self.clock.now().saturating_add(ttl),
            derived: std::sync::OnceLock::new(),
        })
    }

    fn leeway(&self) -> i64 {
        i64::try_from(self.leeway).unwrap_or(i64::MAX)
    }

    fn check_times(&self, claims: &Map<String, Value>) -> Result<TokenTimes, JwtError> {
        let now = seconds(self.clock.now());
        let leeway = self.leeway();
        let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
        let mut times = TokenTimes {
            exp,
            nbf: None,
            iat: None,
        };
        times.check(now, leeway)?;
        times.nbf = numeric_date(claims, "nbf")?;
        times.check(now, leeway)?;
        times.iat = numeric_date(claims, "iat")?;
        times.check(now, leeway)?;
        Ok(times)
    }

    /// The cached answer for a token, if there is one that still holds.
    fn lookup(&self, digest: &TokenDigest) -> Lookup {
        if let Some(accepted) = &self.cache.accepted
            && let Some(entry) = accepted.entries.get(digest)
            && let answer @ Lookup::Answer(_) = self.recheck(digest, entry)
        {
            return answer;
        }
        match self.remembered(digest) {
            Some(error) => Lookup::Answer(Err(error)),
            None => Lookup::Miss,
        }
    }

    /// What a cached acceptance is worth now: checked again for what can change over time (the
    /// entry's life, the key, `exp`/`nbf`/`iat`, the custom check). A stale entry is removed.
    fn recheck(&self, digest: &TokenDigest, entry: Arc<Accepted>) -> Lookup {
        let Some(cache) = &self.cache.accepted else {
            return Lookup::Miss;
        };
        let now = self.clock.now();
        if now >= entry.until || !self.still_trusted(entry.issuer, &entry.key, &entry.trusted_in) {
            cache.remove(digest, &entry);
            return Lookup::Miss;
        }
        self.cache.count_accepted_hit();
        if let Err(error) = entry.times.check(seconds(now), self.leeway()) {
            if error == JwtError::Expired {
                cache.remove(digest, &entry);
            }
            return Lookup::Answer(Err(error));
        }
        if let Some(check) = &self.check
            && let Err(reason) = check(&entry.claims)
        {
            return Lookup::Answer(Err(JwtError::Refused(reason)));
        }
        Lookup::Answer(Ok(entry))
    }

    /// A remembered rejection of this token that still holds.
    fn remembered(&self, digest: &TokenDigest) -> Option<JwtError> {
        let cache = self.cache.rejected.as_ref()?;
        let entry = cache.entries.get(digest)?;
        if self.clock.now() >= entry.until
            || !self.still_trusted(entry.issuer, &entry.key, &entry.trusted_in)
        {
            cache.remove(digest, &entry);
            return None;
        }
        self.cache.count_rejected_hit();
        Some(entry.error.clone())
    }

    /// Remembers a rejection made with a key, if it cannot turn into an acceptance.
    fn remember(&self, digest: TokenDigest, failure: &Failure) {
        if let (Some(cache), Some(signer)) = (&self.cache.rejected, &failure.checked_with)
            && cache::rememberable(&failure.error)
        {
            let until = self.clock.now().saturating_add(cache.ttl);
            cache.entries.insert(
                digest,
                Arc::new(Rejected {
                    error: failure.error.clone(),
                    issuer: signer.issuer,
                    key: signer.key.clone(),
                    trusted_in: AtomicU64::new(signer.generation),
                    until,
                }),
            );
        }
    }

    /// Whether `key` is still `issuer`'s key for its `kid`. Without a JWKS fetch since
    /// `trusted_in` was confirmed, it is (one atomic load); otherwise the current set is asked,
    /// and a yes is remembered for its generation.
    fn still_trusted(&self, issuer: usize, key: &Arc<VerifyKey>, trusted_in: &AtomicU64) -> bool {
        let Some(issuer) = self.issuers.get(issuer) else {
            return false;
        };
        let generation = issuer.keys.generation();
        if trusted_in.load(Ordering::Relaxed) == generation {
            return true;
        }
        let trusted = issuer.keys.is_current(key);
        if trusted {
            trusted_in.store(generation, Ordering::Relaxed);
        }
        trusted
    }

    /// After a JWKS refresh, drops the cached answers whose key the issuer no longer publishes
    /// (they would be refused on their next lookup anyway; this frees their memory). Once per
    /// key-set generation.
    fn purge_dropped_keys(&self, index: usize) {
        let Some(issuer) = self.issuers.get(index) else {
            return;
        };
        let generation = issuer.keys.generation();
        if issuer.purged.load(Ordering::Acquire) != generation
            && issuer.purged.swap(generation, Ordering::AcqRel) != generation
        {
            self.cache.purge(index, |key| issuer.keys.is_current(key));
        }
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

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use super::*;
    use crate::test_util::TestIssuer;

    #[tokio::test]
    async fn a_hit_is_refused_once_its_key_is_dropped_even_before_a_purge() {
        let issuer = TestIssuer::start().await.unwrap();
        let verifier = issuer
            .verifier_builder()
            .jwks_cooldown(Duration::ZERO)
            .build()
            .unwrap();
        let token = issuer.token().tenant("tenant-a").sign();
        verifier.verify(&token).await.unwrap();
        issuer.rotate();
        issuer.retire_oldest();
        // Refresh the key set behind the verifier's back: nothing is purged.
        verifier.0.issuers[0].keys.refresh().await.unwrap();
        assert_eq!(verifier.stats().cached_tokens, 1);
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            JwtError::UnknownKid
        );
        assert_eq!(verifier.stats().cache_hits, 0);
        assert_eq!(verifier.stats().cached_tokens, 0, "removed on lookup");
    }

    #[tokio::test]
    async fn a_remembered_rejection_is_forgotten_when_its_key_is_dropped() {
        let issuer = TestIssuer::start().await.unwrap();
        let verifier = issuer
            .verifier_builder()
            .jwks_cooldown(Duration::ZERO)
            .build()
            .unwrap();
        let wrong_audience = issuer.token().claim("aud", "other").sign();
        for _ in 0..2 {
            assert_eq!(
                verifier.verify(&wrong_audience).await.unwrap_err(),
                JwtError::WrongAudience
            );
        }
        assert_eq!(verifier.stats().rejection_cache_hits, 1);
        issuer.rotate();
        issuer.retire_oldest();
        verifier.0.issuers[0].keys.refresh().await.unwrap();
        assert_eq!(
            verifier.verify(&wrong_audience).await.unwrap_err(),
            JwtError::UnknownKid
        );
        assert_eq!(verifier.stats().rejection_cache_hits, 1);
    }
}
