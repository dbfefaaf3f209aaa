//! Taking a compact JWS apart, before anything in it is trusted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::error::JwtError;
use super::issuer::SUPPORTED_ALGORITHMS;

/// An unverified token, split and decoded.
pub(crate) struct UnverifiedToken<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: String,
    pub(crate) claims: Map<String, Value>,
    /// `header.payload`, the signed message.
    pub(crate) message: &'a str,
    /// The base64url signature.
    pub(crate) signature: &'a str,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

pub(crate) fn parse(token: &str, max_len: usize) -> Result<UnverifiedToken<'_>, JwtError> {
    if token.len() > max_len {
        return Err(JwtError::TooLarge { limit: max_len });
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| JwtError::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|_| JwtError::Malformed("header is not a JSON object with an alg"))?;
    // The algorithm is checked before the signature's presence, so that an unsecured token
    // (`alg: none`, empty signature) is reported as the algorithm it names.
    let alg = algorithm(&header.alg)?;
    if signature.is_empty() {
        return Err(JwtError::Malformed("empty signature"));
    }
    if header.crit.is_some() {
        // RFC 7515 4.1.11: extensions we do not understand must make the token invalid.
        return Err(JwtError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    let kid = header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(JwtError::Malformed("header has no kid"))?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| JwtError::Malformed("payload is not base64url"))?;
    let claims = match serde_json::from_slice::<Value>(&payload) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(JwtError::Malformed("payload is not a JSON object")),
        Err(_) => return Err(JwtError::Malformed("payload is not JSON")),
    };
    let message = &token[..header_b64.len() + 1 + payload_b64.len()];
    Ok(UnverifiedToken {
        alg,
        kid,
        claims,
        message,
        signature,
    })
}

fn algorithm(name: &str) -> Result<Algorithm, JwtError> {
    SUPPORTED_ALGORITHMS
        .into_iter()
        .find(|alg| alg_name(*alg) == name)
        .ok_or_else(|| JwtError::UnsupportedAlgorithm(name.chars().take(16).collect()))
}

pub(crate) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        _ => "unsupported",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    #[test]
    fn splits_a_well_formed_token() {
        let t = token(r#"{"alg":"RS256","kid":"k"}"#, r#"{"sub":"u"}"#);
        let parsed = parse(&t, 16 * 1024).unwrap();
        assert_eq!(parsed.alg, Algorithm::RS256);
        assert_eq!(parsed.kid, "k");
        assert_eq!(parsed.claims["sub"], "u");
        assert_eq!(parsed.signature, "c2ln");
        assert_eq!(format!("{}.c2ln", parsed.message), t);
    }

    #[test]
    fn refuses_bad_shapes() {
        let cases: Vec<(String, &str)> = vec![
            ("a.b".into(), "malformed"),
            ("a.b.c.d".into(), "malformed"),
            (
                format!("{}.{}.", b64(r#"{"alg":"RS256","kid":"k"}"#), b64("{}")),
                "malformed",
            ),
            ("!!!.e30.c2ln".into(), "malformed"),
            (
                token(r#"{"alg":"none","kid":"k"}"#, "{}"),
                "unsupported_algorithm",
            ),
            (
                format!("{}.{}.", b64(r#"{"alg":"none","kid":"k"}"#), b64("{}")),
                "unsupported_algorithm",
            ),
            (
                token(r#"{"alg":"HS256","kid":"k"}"#, "{}"),
                "unsupported_algorithm",
            ),
            (
                token(r#"{"alg":"PS256","kid":"k"}"#, "{}"),
                "unsupported_algorithm",
            ),
            (token(r#"{"alg":"RS256"}"#, "{}"), "malformed"),
            (
                token(r#"{"alg":"RS256","kid":"k","crit":["b64"]}"#, "{}"),
                "malformed",
            ),
            (token(r#"{"alg":"RS256","kid":"k"}"#, "[1,2]"), "malformed"),
            (token(r#"{"alg":"RS256","kid":"k"}"#, "\"s\""), "malformed"),
            (
                token(r#"{"alg":"RS256","kid":"k"}"#, "{not json"),
                "malformed",
            ),
            (token("[]", "{}"), "malformed"),
        ];
        for (t, kind) in cases {
            let err = parse(&t, 16 * 1024)
                .err()
                .unwrap_or_else(|| panic!("{t} parsed"));
            assert_eq!(err.kind(), kind, "{t}: {err}");
        }
    }

    #[test]
    fn size_limit_before_decoding() {
        let t = "a".repeat(100 * 1024);
        assert_eq!(
            parse(&t, 16 * 1024).err(),
            Some(JwtError::TooLarge { limit: 16 * 1024 })
        );
    }
}
