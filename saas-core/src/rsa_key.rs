//! RSA signing keys, their JWKs and compact JWS signing, shared by the test issuer (`test-util`)
//! and the development issuer (`dev-issuer`).

use aws_lc_rs::error::Unspecified;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// An RSA key pair that signs RS256/384/512 tokens.
pub(crate) struct RsaKey(sig::RsaKeyPair);

impl RsaKey {
    /// A fresh RSA-2048 key.
    pub(crate) fn generate() -> Result<Self, Unspecified> {
        sig::RsaKeyPair::generate(KeySize::Rsa2048).map(Self)
    }

    /// A key from an unencrypted PKCS#8 (v1) DER document.
    #[cfg(feature = "dev-issuer")]
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self, aws_lc_rs::error::KeyRejected> {
        sig::RsaKeyPair::from_pkcs8(der).map(Self)
    }

    /// The private key as an unencrypted PKCS#8 (v1) DER document (zeroed when dropped).
    #[cfg(feature = "dev-issuer")]
    pub(crate) fn to_pkcs8(&self) -> Result<aws_lc_rs::encoding::Pkcs8V1Der<'static>, Unspecified> {
        use aws_lc_rs::encoding::AsDer as _;
        self.0.as_der()
    }

    /// The modulus `n`, base64url without padding, as in a JWK.
    fn n(&self) -> String {
        URL_SAFE_NO_PAD.encode(
            self.0
                .public_key()
                .modulus()
                .big_endian_without_leading_zero(),
        )
    }

    /// The public exponent `e`, base64url without padding, as in a JWK.
    fn e(&self) -> String {
        URL_SAFE_NO_PAD.encode(
            self.0
                .public_key()
                .exponent()
                .big_endian_without_leading_zero(),
        )
    }

    /// The public key as a JWK for RS256 signatures, named `kid`.
    pub(crate) fn jwk(&self, kid: &str) -> Value {
        json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": self.n(),
            "e": self.e(),
        })
    }

    /// The RFC 7638 JWK thumbprint of the public key: base64url(SHA-256 of
    /// `{"e":..,"kty":"RSA","n":..}`), a `kid` that only depends on the key.
    #[cfg(feature = "dev-issuer")]
    pub(crate) fn thumbprint(&self) -> String {
        rsa_thumbprint(&self.e(), &self.n())
    }

    /// The public key, DER (PKCS#1 `RSAPublicKey`).
    #[cfg(feature = "test-util")]
    pub(crate) fn public_key_der(&self) -> &[u8] {
        self.0.public_key().as_ref()
    }

    /// Signs `message` with PKCS#1 v1.5 and the hash `alg` names (`RS384`, `RS512`; anything
    /// else is RS256).
    pub(crate) fn sign(&self, alg: &str, message: &[u8]) -> Result<Vec<u8>, Unspecified> {
        let encoding: &'static dyn sig::RsaEncoding = match alg {
            "RS384" => &sig::RSA_PKCS1_SHA384,
            "RS512" => &sig::RSA_PKCS1_SHA512,
            _ => &sig::RSA_PKCS1_SHA256,
        };
        let mut out = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(encoding, &SystemRandom::new(), message, &mut out)?;
        Ok(out)
    }
}

/// The RFC 7638 thumbprint of an RSA JWK with these (base64url) `e` and `n`.
#[cfg(feature = "dev-issuer")]
fn rsa_thumbprint(e: &str, n: &str) -> String {
    use aws_lc_rs::digest;
    // The required members in lexicographic order, no whitespace (RFC 7638 section 3.2);
    // base64url text needs no JSON escaping.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// The JWS signing input: `base64url(header).base64url(claims)`.
pub(crate) fn signing_input(header: Map<String, Value>, claims: Map<String, Value>) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string()),
    )
}

/// The compact JWS: the signing input and the base64url signature.
pub(crate) fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(all(test, feature = "dev-issuer"))]
mod tests {
    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            super::rsa_thumbprint("AQAB", n),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
