//! Public keys parsed once, when the JWKS is read, and checked against many signatures.
//!
//! `jsonwebtoken::crypto::verify` rebuilds the key from its JWK components on every call (the
//! RSA modulus into a big number, a fresh key object, and its Montgomery context on first use),
//! which cost a cold verification about 15% on top of the RSA check itself (see
//! `docs/performance.md`). Here each
//! key is parsed into an aws-lc-rs [`ParsedPublicKey`] for every algorithm it may check, once
//! per JWKS fetch, and the signature is decoded onto the stack.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};

/// The longest signature any accepted key makes: RSA-8192, 1,024 bytes.
const MAX_SIGNATURE_LEN: usize = 1024;

/// The kind of key a JWK holds, as far as this verifier can use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
}

impl KeyKind {
    /// The kind of `jwk`'s key, if it is one this verifier uses.
    pub(crate) fn of(jwk: &Jwk) -> Option<Self> {
        match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Some(Self::Rsa),
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => Some(Self::P256),
                EllipticCurve::P384 => Some(Self::P384),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether a key of this kind can check a signature made with `alg`.
    pub(crate) fn fits(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (
                Self::Rsa,
                Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
            ) | (Self::P256, Algorithm::ES256)
                | (Self::P384, Algorithm::ES384)
        )
    }
}

/// One JWK's public key, parsed for each algorithm it may check.
pub(crate) struct PublicKey {
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl PublicKey {
    /// Parses `jwk`'s key for each of `algorithms` that its kind fits. `None` if the components
    /// are not base64url, do not form a key (a point off the curve, an empty modulus), or fit
    /// none of `algorithms`.
    pub(crate) fn from_jwk(jwk: &Jwk, kind: KeyKind, algorithms: &[Algorithm]) -> Option<Self> {
        let material = Material::of(jwk)?;
        let parsed = algorithms
            .iter()
            .filter(|alg| kind.fits(**alg))
            .map(|&alg| Some((alg, material.parse(alg)?)))
            .collect::<Option<Vec<_>>>()?;
        (!parsed.is_empty()).then_some(Self { parsed })
    }

    /// Whether `signature` (base64url, as in the token) is this key's signature of `message`
    /// under `alg`.
    ///
    /// # Errors
    /// [`NotBase64`] when the signature is not base64url: refused before any arithmetic.
    pub(crate) fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &str,
    ) -> Result<bool, NotBase64> {
        let mut buffer = [0u8; MAX_SIGNATURE_LEN];
        let signature = match URL_SAFE_NO_PAD.decode_slice(signature, &mut buffer) {
            Ok(len) => buffer.get(..len).unwrap_or_default(),
            // Longer than any key this verifier holds could have made.
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => return Ok(false),
            Err(base64::DecodeSliceError::DecodeError(_)) => return Err(NotBase64),
        };
        let Some((_, key)) = self.parsed.iter().find(|(a, _)| *a == alg) else {
            return Ok(false);
        };
        Ok(key.verify_sig(message, signature).is_ok())
    }
}

/// A JWK's key material, decoded.
enum Material {
    /// The modulus and the exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The SEC 1 uncompressed point: 0x04, x, y.
    Ec(Vec<u8>),
}

impl Material {
    fn of(jwk: &Jwk) -> Option<Self> {
        Some(match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => Self::Rsa {
                n: URL_SAFE_NO_PAD.decode(&rsa.n).ok()?,
                e: URL_SAFE_NO_PAD.decode(&rsa.e).ok()?,
            },
            AlgorithmParameters::EllipticCurve(ec) => {
                let mut point = vec![0x04];
                point.extend(URL_SAFE_NO_PAD.decode(&ec.x).ok()?);
                point.extend(URL_SAFE_NO_PAD.decode(&ec.y).ok()?);
                Self::Ec(point)
            }
            _ => return None,
        })
    }

    /// The key for `alg`; `None` if the material forms no such key.
    fn parse(&self, alg: Algorithm) -> Option<ParsedPublicKey> {
        match self {
            Self::Rsa { n, e } => {
                let components = RsaPublicKeyComponents {
                    n: without_leading_zeros(n),
                    e: without_leading_zeros(e),
                };
                components.to_parsed_public_key(rsa_parameters(alg)?).ok()
            }
            Self::Ec(point) => {
                let curve = match alg {
                    Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
                    _ => return None,
                };
                ParsedPublicKey::new(curve, point).ok()
            }
        }
    }
}

/// A signature that is not base64url.
#[derive(Debug)]
pub(crate) struct NotBase64;

/// The verification parameters of an RSA algorithm: PKCS #1 v1.5 with a 2048 to 8192-bit key,
/// as `jsonwebtoken` uses.
fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

/// A big-endian integer without its leading zero bytes (RFC 7518 says none are sent; some
/// issuers send one anyway, and the integer is the same).
fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

#[cfg(all(test, feature = "test-util"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rsa_key::RsaKey;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

    fn jwk(value: serde_json::Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn checks_what_it_was_parsed_for_only() {
        let key = RsaKey::generate().unwrap();
        let jwk = jwk(key.jwk("k1"));
        let message = b"header.payload";
        let signature = b64(key.sign("RS256", message).unwrap());
        let rs256 = PublicKey::from_jwk(&jwk, KeyKind::Rsa, &[Algorithm::RS256]).unwrap();
        assert!(rs256.verify(Algorithm::RS256, message, &signature).unwrap());
        assert!(!rs256.verify(Algorithm::RS384, message, &signature).unwrap());
        assert!(
            !rs256
                .verify(Algorithm::RS256, b"header.other", &signature)
                .unwrap()
        );
        let both = PublicKey::from_jwk(&jwk, KeyKind::Rsa, &[Algorithm::RS256, Algorithm::RS512]);
        let both = both.unwrap();
        let rs512 = b64(key.sign("RS512", message).unwrap());
        assert!(both.verify(Algorithm::RS512, message, &rs512).unwrap());
        assert!(!both.verify(Algorithm::RS256, message, &rs512).unwrap());
        // An RSA key fits no EC algorithm.
        assert!(PublicKey::from_jwk(&jwk, KeyKind::Rsa, &[Algorithm::ES256]).is_none());
    }

    #[test]
    fn bad_signature_encodings() {
        let key = RsaKey::generate().unwrap();
        let public = PublicKey::from_jwk(&jwk(key.jwk("k1")), KeyKind::Rsa, &[Algorithm::RS256]);
        let public = public.unwrap();
        assert!(
            public
                .verify(Algorithm::RS256, b"m", "not base64!")
                .is_err()
        );
        let too_long = b64([7u8; MAX_SIGNATURE_LEN + 1]);
        assert!(!public.verify(Algorithm::RS256, b"m", &too_long).unwrap());
        assert!(!public.verify(Algorithm::RS256, b"m", "AAAA").unwrap());
        assert!(!public.verify(Algorithm::RS256, b"m", "").unwrap());
    }

    #[test]
    fn a_leading_zero_in_the_modulus_is_the_same_key() {
        let key = RsaKey::generate().unwrap();
        let mut value = key.jwk("k1");
        let mut padded = vec![0];
        padded.extend(
            URL_SAFE_NO_PAD
                .decode(value["n"].as_str().unwrap())
                .unwrap(),
        );
        value["n"] = b64(padded).into();
        let public = PublicKey::from_jwk(&jwk(value), KeyKind::Rsa, &[Algorithm::RS256]).unwrap();
        let signature = b64(key.sign("RS256", b"m").unwrap());
        assert!(public.verify(Algorithm::RS256, b"m", &signature).unwrap());
    }

    #[test]
    fn rsa_components_that_form_no_key_are_refused() {
        for (n, e) in [("", "AQAB"), ("AAAA", "AQAB"), ("not base64!", "AQAB")] {
            let jwk = jwk(serde_json::json!({"kty": "RSA", "kid": "k", "n": n, "e": e}));
            assert!(PublicKey::from_jwk(&jwk, KeyKind::Rsa, &[Algorithm::RS256]).is_none());
        }
    }

    #[test]
    fn ec_keys() {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref();
        let value = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "e1",
            "x": b64(&point[1..33]), "y": b64(&point[33..]),
        });
        let public = PublicKey::from_jwk(&jwk(value), KeyKind::P256, &[Algorithm::ES256]).unwrap();
        let signature = b64(pair.sign(&rng, b"m").unwrap());
        assert!(public.verify(Algorithm::ES256, b"m", &signature).unwrap());
        assert!(!public.verify(Algorithm::ES256, b"n", &signature).unwrap());

        let off_curve = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "e2",
            "x": b64([1u8; 32]), "y": b64([2u8; 32]),
        });
        let parsed = PublicKey::from_jwk(&jwk(off_curve), KeyKind::P256, &[Algorithm::ES256]);
        assert!(parsed.is_none());
    }
}
