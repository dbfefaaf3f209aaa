//! The verified-token cache: what a verifier accepted, and (briefly) what it rejected after
//! checking a signature, keyed by the SHA-256 of the whole token.
//!
//! Each verifier owns its caches (clones of a verifier share them), so an entry is always one
//! this very configuration made. An entry holds what a hit must check again (the token's times,
//! the key that verified it, the entry's own deadline), never the token itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use quick_cache::sync::Cache;

use super::error::JwtError;
use super::jwks::VerifyKey;
use crate::claims::Claims;

/// The SHA-256 of a whole compact token.
pub(crate) type TokenDigest = [u8; 32];

pub(crate) fn digest(token: &str) -> TokenDigest {
    let mut out = [0; 32];
    out.copy_from_slice(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref(),
    );
    out
}

/// The token's registered times, as read (and checked) when it was verified.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenTimes {
    pub(crate) exp: i64,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
}

impl TokenTimes {
    /// The checks of a full verification, on the values read then: refused at or after
    /// `exp + leeway`, and while `nbf` or `iat` is beyond `now + leeway`.
    pub(crate) fn check(&self, now: i64, leeway: i64) -> Result<(), JwtError> {
        // RFC 7519 4.1.4: the token must not be accepted on or after `exp`.
        if now >= self.exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        if [self.nbf, self.iat]
            .into_iter()
            .flatten()
            .any(|t| t > now.saturating_add(leeway))
        {
            return Err(JwtError::NotYetValid);
        }
        Ok(())
    }
}

/// A token the verifier accepted.
pub(crate) struct Accepted {
    pub(crate) claims: Claims,
    pub(crate) times: TokenTimes,
    /// The index of the issuer that vouched for it.
    pub(crate) issuer: usize,
    /// The key that verified its signature.
    pub(crate) key: Arc<VerifyKey>,
    /// A key-set generation in which `key` was known to be the issuer's.
    pub(crate) trusted_in: AtomicU64,
    /// The end of the entry's life, on the verifier's clock (since the Unix epoch).
    pub(crate) until: Duration,
    /// What a [`TenantResolver`](crate::TenantResolver) made of the claims, kept so that a hit
    /// does not map them again.
    pub(crate) derived: OnceLock<crate::resolve::Derived>,
}

/// A token the verifier rejected after checking its signature (or, having checked it, for its
/// claims), for a decision that cannot turn into an acceptance while the key stays the same.
pub(crate) struct Rejected {
    pub(crate) error: JwtError,
    pub(crate) issuer: usize,
    pub(crate) key: Arc<VerifyKey>,
    pub(crate) trusted_in: AtomicU64,
    pub(crate) until: Duration,
}

/// Whether a rejection made after the signature check may be remembered: not when time or the
/// outside world can change the answer (`nbf`/`iat` in the future, the custom check), nor for
/// key-set states, which the JWKS cache rate-limits itself.
pub(crate) fn rememberable(error: &JwtError) -> bool {
    !matches!(
        error,
        JwtError::NotYetValid
            | JwtError::Refused(_)
            | JwtError::UnknownKid
            | JwtError::JwksUnavailable(_)
    )
}

/// One bounded cache with the lifetime of its entries.
pub(crate) struct Bounded<V> {
    pub(crate) entries: Cache<TokenDigest, Arc<V>>,
    pub(crate) ttl: Duration,
}

impl<V> Bounded<V> {
    fn new(capacity: usize, ttl: Duration) -> Option<Self> {
        (capacity > 0 && !ttl.is_zero()).then(|| Self {
            entries: Cache::new(capacity),
            ttl,
        })
    }

    /// Removes the entry for `digest` if it is still `entry` (not one a concurrent verification
    /// put there meanwhile).
    pub(crate) fn remove(&self, digest: &TokenDigest, entry: &Arc<V>) {
        self.entries
            .remove_if(digest, |current| Arc::ptr_eq(current, entry));
    }
}

/// A verifier's two caches: accepted tokens and rejected ones, each with its own capacity, so
/// that a flood of rejections cannot evict an accepted token.
pub(crate) struct TokenCache {
    pub(crate) accepted: Option<Bounded<Accepted>>,
    pub(crate) rejected: Option<Bounded<Rejected>>,
    signature_checks: AtomicU64,
    accepted_hits: AtomicU64,
    rejected_hits: AtomicU64,
}

impl TokenCache {
    pub(crate) fn new(accepted: (usize, Duration), rejected: (usize, Duration)) -> Self {
        Self {
            accepted: Bounded::new(accepted.0, accepted.1),
            rejected: Bounded::new(rejected.0, rejected.1),
            signature_checks: AtomicU64::new(0),
            accepted_hits: AtomicU64::new(0),
            rejected_hits: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_off(&self) -> bool {
        self.accepted.is_none() && self.rejected.is_none()
    }

    pub(crate) fn count_signature_check(&self) {
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_accepted_hit(&self) {
        self.accepted_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_rejected_hit(&self) {
        self.rejected_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops every entry of `issuer` whose key `still_trusted` no longer vouches for.
    pub(crate) fn purge(&self, issuer: usize, still_trusted: impl Fn(&Arc<VerifyKey>) -> bool) {
        if let Some(accepted) = &self.accepted {
            accepted
                .entries
                .retain(|_, e| e.issuer != issuer || still_trusted(&e.key));
        }
        if let Some(rejected) = &self.rejected {
            rejected
                .entries
                .retain(|_, e| e.issuer != issuer || still_trusted(&e.key));
        }
    }

    pub(crate) fn stats(&self) -> VerifierStats {
        VerifierStats {
            signature_checks: self.signature_checks.load(Ordering::Relaxed),
            cache_hits: self.accepted_hits.load(Ordering::Relaxed),
            rejection_cache_hits: self.rejected_hits.load(Ordering::Relaxed),
            cached_tokens: self.accepted.as_ref().map_or(0, |c| c.entries.len()),
            cached_rejections: self.rejected.as_ref().map_or(0, |c| c.entries.len()),
        }
    }
}

/// Counters of one verifier (and its clones), for metrics and tests: see
/// [`JwtVerifier::stats`](super::JwtVerifier::stats).
///
/// Counts start at zero when the verifier is built and only grow; entry counts are the
/// caches' sizes now (expired entries included until they are looked up or evicted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifierStats {
    /// Signatures checked (each one an RSA or ECDSA verification).
    pub signature_checks: u64,
    /// Tokens answered from the cache of accepted tokens (then re-checked for `exp`, `nbf` and
    /// the custom check).
    pub cache_hits: u64,
    /// Tokens answered from the cache of rejected tokens.
    pub rejection_cache_hits: u64,
    /// Accepted tokens in the cache now.
    pub cached_tokens: usize,
    /// Rejected tokens in the cache now.
    pub cached_rejections: usize,
}
