//! The JWKS cache: fetched once and shared, refreshed on an unknown `kid` at most once per
//! cooldown, with concurrent misses merged into one fetch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use serde_json::Value;

use super::error::JwtError;
use super::issuer::SUPPORTED_ALGORITHMS;
use super::public_key::{KeyKind, PublicKey};

/// A public key ready to check signatures, with what it may check.
///
/// A key keeps its identity (the same `Arc`) across JWKS refreshes for as long as the JWKS
/// publishes it unchanged under the same `kid`; the token cache relies on that to tell whether
/// the key that verified a cached token is still trusted.
pub(crate) struct VerifyKey {
    /// Parsed once for each algorithm the key may check.
    pub(crate) public: PublicKey,
    kind: KeyKind,
    alg: Option<Algorithm>,
    kid: String,
    /// SHA-256 of the JWK as published, to recognise the same key in a later fetch.
    material: [u8; 32],
}

impl VerifyKey {
    /// Whether this key may verify a token signed with `alg`: the JWK's own `alg` pins it when
    /// present, and the key type must fit the algorithm in any case.
    pub(crate) fn accepts(&self, alg: Algorithm) -> bool {
        if self.alg.is_some_and(|pinned| pinned != alg) {
            return false;
        }
        self.kind.fits(alg)
    }
}

/// The usable keys of one JWKS document, by `kid`.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, Arc<VerifyKey>>,
}

impl KeySet {
    /// Parses a JWKS document. Keys this verifier cannot use (no `kid`, `use` other than `sig`,
    /// symmetric, other curves or algorithms) are skipped, not errors: a JWKS may carry them.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let doc: Document =
            serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS document: {e}"))?;
        let keys = doc
            .keys
            .into_iter()
            .filter_map(|value| {
                let material = digest(value.to_string().as_bytes());
                let jwk = serde_json::from_value::<Jwk>(value).ok()?;
                let kid = jwk.common.key_id.clone()?;
                let key = usable_key(&jwk, kid.clone(), material)?;
                Some((kid, Arc::new(key)))
            })
            .collect();
        Ok(Self { keys })
    }

    /// Keeps the `Arc` of every key of `previous` that this set publishes unchanged under the
    /// same `kid`, so that what was verified with it stays recognisably verified.
    fn carry_over(&mut self, previous: &KeySet) {
        for (kid, key) in &mut self.keys {
            if let Some(old) = previous.keys.get(kid)
                && old.material == key.material
            {
                *key = old.clone();
            }
        }
    }

    /// Whether `key` is this set's key for its `kid` (the very same key, not merely one with
    /// the same `kid`).
    fn holds(&self, key: &Arc<VerifyKey>) -> bool {
        self.keys
            .get(&key.kid)
            .is_some_and(|current| Arc::ptr_eq(current, key))
    }

    fn get(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        self.keys.get(kid).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref());
    out
}

fn usable_key(jwk: &Jwk, kid: String, material: [u8; 32]) -> Option<VerifyKey> {
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => {
            let alg = key_algorithm(alg)?;
            SUPPORTED_ALGORITHMS.contains(&alg).then_some(alg)?;
            Some(alg)
        }
    };
    let kind = KeyKind::of(jwk)?;
    // A JWK whose pinned alg does not fit its key type can verify nothing.
    if alg.is_some_and(|a| !kind.fits(a)) {
        return None;
    }
    let algorithms = match &alg {
        Some(alg) => std::slice::from_ref(alg),
        None => &SUPPORTED_ALGORITHMS[..],
    };
    let public = PublicKey::from_jwk(jwk, kind, algorithms)?;
    Some(VerifyKey {
        public,
        kind,
        alg,
        kid,
        material,
    })
}

fn key_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        _ => return None,
    })
}

/// Settings shared by every issuer's cache.
#[derive(Debug, Clone)]
pub(crate) struct FetchSettings {
    pub(crate) cooldown: Duration,
    pub(crate) max_bytes: usize,
}

/// Where and how a remote JWKS is fetched.
struct Remote {
    url: String,
    client: reqwest::Client,
    settings: FetchSettings,
}

/// One issuer's keys: fetched from a URL, or given offline (`remote` is `None`).
pub(crate) struct JwksCache {
    remote: Option<Remote>,
    keys: RwLock<Arc<KeySet>>,
    /// Bumped by every successful fetch, so waiters can tell that a fetch happened meanwhile.
    generation: AtomicU64,
    fetch: tokio::sync::Mutex<FetchState>,
}

#[derive(Default)]
struct FetchState {
    /// No refresh before this instant: set after a failed fetch, or after a fetch that still
    /// lacked the `kid` that caused it.
    penalty_until: Option<Instant>,
    last_error: Option<String>,
}

impl JwksCache {
    pub(crate) fn remote(url: String, client: reqwest::Client, settings: FetchSettings) -> Self {
        Self {
            remote: Some(Remote {
                url,
                client,
                settings,
            }),
            keys: RwLock::new(Arc::new(KeySet::default())),
            generation: AtomicU64::new(0),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    pub(crate) fn fixed(keys: KeySet) -> Self {
        Self {
            remote: None,
            keys: RwLock::new(Arc::new(keys)),
            generation: AtomicU64::new(1),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `key` is still the issuer's key for its `kid`: false once a refresh dropped the
    /// `kid` or published other key material under it.
    pub(crate) fn is_current(&self, key: &Arc<VerifyKey>) -> bool {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .holds(key)
    }

    /// Counts successful fetches (1 for a fixed JWKS): it changes whenever the key set may have.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The key for `kid`: from the cache, or after one (merged, rate-limited) refresh.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<VerifyKey>, JwtError> {
        let seen = self.generation.load(Ordering::Acquire);
        if let Some(key) = self.current().get(kid) {
            return Ok(key);
        }
        let Some(remote) = &self.remote else {
            return Err(JwtError::UnknownKid);
        };
        let mut state = self.fetch.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            // Another caller fetched while this one waited: use its result, fetch nothing.
            return self.current().get(kid).ok_or(JwtError::UnknownKid);
        }
        let loaded = seen > 0;
        if state
            .penalty_until
            .is_some_and(|until| Instant::now() < until)
        {
            return Err(match &state.last_error {
                Some(e) => JwtError::JwksUnavailable(e.clone()),
                None if loaded => JwtError::UnknownKid,
                None => JwtError::JwksUnavailable("not fetched yet".into()),
            });
        }
        match remote.fetch().await {
            Ok(keys) => {
                let found = keys.get(kid);
                self.store(keys);
                state.last_error = None;
                state.penalty_until = match found {
                    Some(_) => None,
                    None => Some(Instant::now() + remote.settings.cooldown),
                };
                found.ok_or(JwtError::UnknownKid)
            }
            Err(e) => {
                tracing::warn!(jwks.url = %remote.url, error = %e, "JWKS fetch failed");
                state.penalty_until = Some(Instant::now() + remote.settings.cooldown);
                state.last_error = Some(e.clone());
                Err(JwtError::JwksUnavailable(e))
            }
        }
    }

    /// Fetches now (pre-warm at init), unless another fetch is under way, in which case its result
    /// is used.
    pub(crate) async fn refresh(&self) -> Result<usize, JwtError> {
        let Some(remote) = &self.remote else {
            return Ok(self.current().len());
        };
        let seen = self.generation.load(Ordering::Acquire);
        let mut state = self.fetch.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return Ok(self.current().len());
        }
        match remote.fetch().await {
            Ok(keys) => {
                let n = keys.len();
                self.store(keys);
                *state = FetchState::default();
                Ok(n)
            }
            Err(e) => {
                state.penalty_until = Some(Instant::now() + remote.settings.cooldown);
                state.last_error = Some(e.clone());
                Err(JwtError::JwksUnavailable(e))
            }
        }
    }

    fn store(&self, mut keys: KeySet) {
        let mut current = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.carry_over(&current);
        *current = Arc::new(keys);
        drop(current);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl Remote {
    async fn fetch(&self) -> Result<KeySet, String> {
        tracing::debug!(jwks.url = %self.url, "fetching JWKS");
        let mut response = self
            .client
            .get(&self.url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let limit = self.settings.max_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(format!("JWKS larger than {limit} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading body failed: {}", e.without_url()))?
        {
            if body.len() + chunk.len() > limit {
                return Err(format!("JWKS larger than {limit} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::parse(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_JWK: &str = r#"{"kty":"RSA","kid":"r1","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB","alg":"RS256","use":"sig"}"#;

    fn parse(keys: &[&str]) -> KeySet {
        KeySet::parse(format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes()).unwrap()
    }

    #[test]
    fn skips_unusable_keys() {
        let set = parse(&[
            RSA_JWK,
            r#"{"kty":"oct","kid":"h1","k":"c2VjcmV0"}"#,
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
            &RSA_JWK
                .replace("\"r1\"", "\"enc\"")
                .replace("\"sig\"", "\"enc\""),
            &RSA_JWK
                .replace("\"r1\"", "\"hs\"")
                .replace("RS256", "HS256"),
            r#"{"kty":"EC","kid":"p521","crv":"P-521","x":"AQAB","y":"AQAB"}"#,
            r#"{"unknown":"shape"}"#,
        ]);
        assert_eq!(set.len(), 1);
        assert!(set.get("r1").is_some());
    }

    #[test]
    fn pinned_alg_is_enforced() {
        let set = parse(&[RSA_JWK]);
        let key = set.get("r1").unwrap();
        assert!(key.accepts(Algorithm::RS256));
        assert!(!key.accepts(Algorithm::RS512));
        assert!(!key.accepts(Algorithm::ES256));
        assert!(!key.accepts(Algorithm::HS256));
        let unpinned = parse(&[&RSA_JWK.replace(",\"alg\":\"RS256\"", "")]);
        let key = unpinned.get("r1").unwrap();
        assert!(key.accepts(Algorithm::RS512));
        assert!(!key.accepts(Algorithm::ES384));
        assert!(!key.accepts(Algorithm::PS256));
    }

    #[test]
    fn a_refresh_keeps_unchanged_keys_and_replaces_changed_ones() {
        let old = parse(&[RSA_JWK]);
        let mut same = parse(&[RSA_JWK]);
        let first = old.get("r1").unwrap();
        assert!(!Arc::ptr_eq(&first, &same.get("r1").unwrap()));
        same.carry_over(&old);
        assert!(same.holds(&first), "the same JWK keeps its identity");

        // Other key material under the same kid (the modulus's last character changed).
        let changed = RSA_JWK.replace("3vRw\"", "3vRQ\"");
        assert_ne!(changed, RSA_JWK);
        let mut other = parse(&[&changed]);
        other.carry_over(&old);
        assert!(other.get("r1").is_some());
        assert!(
            !other.holds(&first),
            "a new key under an old kid is a new key"
        );
        assert!(!parse(&[]).holds(&first));
    }

    #[test]
    fn rejects_non_jwks() {
        assert!(KeySet::parse(b"[]").is_err());
        assert!(KeySet::parse(b"{}").is_err());
        assert!(KeySet::parse(b"not json").is_err());
        assert_eq!(KeySet::parse(br#"{"keys":[]}"#).unwrap().len(), 0);
    }
}
