//! Configuration of a [`JwtVerifier`]: the issuers, the checks, the JWKS fetching and the
//! token caches.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use super::cache::TokenCache;
use super::clock::Clock;
use super::issuer::{JwksSource, SUPPORTED_ALGORITHMS};
use super::jwks::{FetchSettings, JwksCache, KeySet};
use super::{CheckFn, ConfigError, Issuer, JwtVerifier, TrustedIssuer, VerifierInner};
use crate::claims::Claims;

/// Configuration for a [`JwtVerifier`].
///
/// Defaults: leeway 0 s, JWKS refresh cooldown 10 s, JWKS fetch timeout 5 s (connect 2 s),
/// tokens up to 16 KiB, JWKS documents up to 512 KiB; a token cache of up to 10,000 accepted
/// tokens for 5 minutes each and up to 1,000 rejected ones for 10 s each (on by default: see
/// [`token_cache_ttl`](Self::token_cache_ttl)).
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
    token_cache_ttl: Duration,
    token_cache_capacity: usize,
    rejection_cache_ttl: Duration,
    rejection_cache_capacity: usize,
    clock: Option<Clock>,
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
            token_cache_ttl: Duration::from_secs(300),
            token_cache_capacity: 10_000,
            rejection_cache_ttl: Duration::from_secs(10),
            rejection_cache_capacity: 1_000,
            clock: None,
        }
    }
}

impl fmt::Debug for JwtVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifierBuilder")
            .field("issuers", &self.issuers)
            .field("leeway", &self.leeway)
            .field("cooldown", &self.cooldown)
            .field("token_cache_ttl", &self.token_cache_ttl)
            .field("token_cache_capacity", &self.token_cache_capacity)
            .field("rejection_cache_ttl", &self.rejection_cache_ttl)
            .field("rejection_cache_capacity", &self.rejection_cache_capacity)
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

    /// How long an accepted token is answered from the token cache (default 300 s, as API
    /// Gateway caches an authorizer's answer); `Duration::ZERO` turns that cache off.
    ///
    /// The cache is keyed by the SHA-256 of the whole token and belongs to this verifier (and
    /// its clones): a token accepted here is never accepted from another verifier's cache. A hit
    /// checks `exp`, `nbf` and `iat` again (with the [leeway](Self::leeway)), runs the
    /// [custom check](Self::check) again, and is refused once a JWKS refresh dropped the key
    /// that verified the token; an entry never outlives this TTL. Concurrent first uses of
    /// one token share one verification.
    ///
    /// ```
    /// use std::time::Duration;
    /// use saas_core::jwt::{Issuer, JwtVerifier};
    ///
    /// let verifier = JwtVerifier::builder()
    ///     .issuer(Issuer::cognito("us-east-1", "us-east-1_AbCdEf123").audience("client"))
    ///     .token_cache_ttl(Duration::from_secs(60))
    ///     .token_cache_capacity(1_000)
    ///     .rejection_cache_ttl(Duration::from_secs(5))
    ///     .build()?;
    /// # let _ = verifier;
    /// # Ok::<(), saas_core::jwt::ConfigError>(())
    /// ```
    pub fn token_cache_ttl(mut self, ttl: Duration) -> Self {
        self.token_cache_ttl = ttl;
        self
    }

    /// The most accepted tokens kept (default 10,000); 0 turns the cache of accepted tokens off.
    /// Past it, the least used entries make room.
    pub fn token_cache_capacity(mut self, entries: usize) -> Self {
        self.token_cache_capacity = entries;
        self
    }

    /// How long a rejection made after a signature check is remembered (default 10 s), so that
    /// a flood of one forged token costs one signature check; `Duration::ZERO` turns that cache
    /// off.
    ///
    /// Remembered: a bad signature, and the refusals of a well-signed token that time cannot
    /// undo (expired, wrong audience or token use, a claim missing or ill-typed, no required
    /// group or scope). Not remembered: `nbf`/`iat` in the future, the custom check's refusals,
    /// and anything found before the signature check (those cost no signature check). A
    /// rejection is forgotten early when a JWKS refresh changes the key it was checked with.
    pub fn rejection_cache_ttl(mut self, ttl: Duration) -> Self {
        self.rejection_cache_ttl = ttl;
        self
    }

    /// The most rejected tokens remembered (default 1,000); 0 turns that cache off. It is
    /// apart from the cache of accepted tokens, so rejections never evict an accepted token.
    pub fn rejection_cache_capacity(mut self, entries: usize) -> Self {
        self.rejection_cache_capacity = entries;
        self
    }

    /// Reads time from `clock` instead of the system: `exp`/`nbf`/`iat` checks and token-cache
    /// lifetimes alike. For tests (feature `test-util`).
    #[cfg(feature = "test-util")]
    pub fn clock(mut self, clock: crate::test_util::ManualClock) -> Self {
        self.clock = Some(Clock::Manual(clock));
        self
    }

    /// Checks the configuration and builds the verifier. Fetches nothing: call
    /// [`JwtVerifier::prewarm`] for that.
    pub fn build(self) -> Result<JwtVerifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        // Built only if an issuer's JWKS is fetched: a client loads the root certificates.
        let mut client = self.client;
        let (timeout, connect_timeout) = (self.timeout, self.connect_timeout);
        let mut http_client = || -> Result<reqwest::Client, ConfigError> {
            if let Some(client) = &client {
                return Ok(client.clone());
            }
            let built = reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(connect_timeout)
                .build()
                .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
            client = Some(built.clone());
            Ok(built)
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
                    JwksCache::remote(url.clone(), http_client()?, settings.clone())
                }
                JwksSource::Static(json) => {
                    JwksCache::fixed(KeySet::parse(json.as_bytes()).map_err(ConfigError::Jwks)?)
                }
            };
            issuers.push(TrustedIssuer {
                config,
                keys,
                purged: AtomicU64::new(0),
            });
        }
        Ok(JwtVerifier(Arc::new(VerifierInner {
            issuers,
            leeway: self.leeway.as_secs(),
            max_token_len: self.max_token_len,
            groups_claim: self.groups_claim,
            any_group: self.any_group,
            any_scope: self.any_scope,
            check: self.check,
            cache: TokenCache::new(
                (self.token_cache_capacity, self.token_cache_ttl),
                (self.rejection_cache_capacity, self.rejection_cache_ttl),
            ),
            clock: self.clock.unwrap_or(Clock::System),
        })))
    }
}
