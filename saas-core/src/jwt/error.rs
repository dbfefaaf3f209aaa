//! Why a token was not accepted.

use http::StatusCode;

/// Why a JWT was rejected, or why it could not be checked.
///
/// Each variant maps to an HTTP status through [`JwtError::status`]: 401 for a token that is not
/// acceptable, 403 for a valid token that lacks a required group or scope, and 503 when the
/// issuer's keys cannot be had at all (retry later). The `Display` text never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a JWS compact serialization: wrong number of parts, bad base64url, header or payload
    /// not a JSON object, a `crit` header, a missing `kid`.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Longer than the verifier's limit (checked before any decoding).
    #[error("token is longer than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The header names an algorithm this verifier never accepts (`none`, HMAC, ...) or one
    /// outside the issuer's allowed set.
    #[error("algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The header's algorithm does not match the key's `alg` or key type.
    #[error("the token's algorithm does not match its key")]
    AlgorithmMismatch,
    /// The signature does not verify with the issuer's key.
    #[error("signature does not verify")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` is not one of the configured issuers.
    #[error("token issuer is not trusted")]
    WrongIssuer,
    /// Neither `aud` nor (for access tokens) `client_id` is an accepted audience.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// `token_use` is not the one required (an access token where an ID token is required, or the
    /// reverse).
    #[error("token use is not accepted")]
    WrongTokenUse,
    /// A required claim is absent.
    #[error("claim {0:?} is missing")]
    MissingClaim(&'static str),
    /// A registered claim has the wrong type (`exp` not a number, `aud` not a string or array).
    #[error("claim {0:?} has the wrong type")]
    InvalidClaim(&'static str),
    /// The `kid` is not in the issuer's JWKS, even after a refresh.
    #[error("no key with the token's kid")]
    UnknownKid,
    /// The user is in none of the required groups.
    #[error("user is not in a required group")]
    MissingGroup,
    /// The token has none of the required scopes.
    #[error("token lacks a required scope")]
    MissingScope,
    /// The verifier's custom check refused the token.
    #[error("token refused: {0}")]
    Refused(String),
    /// The issuer's JWKS could not be fetched and no usable key is cached.
    #[error("issuer keys unavailable: {0}")]
    JwksUnavailable(String),
}

impl JwtError {
    /// The HTTP status a caller should get for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            JwtError::MissingGroup | JwtError::MissingScope => StatusCode::FORBIDDEN,
            JwtError::JwksUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short, fixed, snake_case name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            JwtError::Malformed(_) => "malformed",
            JwtError::TooLarge { .. } => "too_large",
            JwtError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            JwtError::AlgorithmMismatch => "algorithm_mismatch",
            JwtError::BadSignature => "bad_signature",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::WrongIssuer => "wrong_issuer",
            JwtError::WrongAudience => "wrong_audience",
            JwtError::WrongTokenUse => "wrong_token_use",
            JwtError::MissingClaim(_) => "missing_claim",
            JwtError::InvalidClaim(_) => "invalid_claim",
            JwtError::UnknownKid => "unknown_kid",
            JwtError::MissingGroup => "missing_group",
            JwtError::MissingScope => "missing_scope",
            JwtError::Refused(_) => "refused",
            JwtError::JwksUnavailable(_) => "jwks_unavailable",
        }
    }
}

/// A configuration mistake found when building a verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was added.
    #[error("a verifier needs at least one issuer")]
    NoIssuer,
    /// The same `iss` was added twice.
    #[error("issuer {0:?} is configured twice")]
    DuplicateIssuer(String),
    /// An issuer has no audience and did not opt out with `any_audience()`.
    #[error("issuer {0:?} has no audience: set audience(..) or, deliberately, any_audience()")]
    NoAudience(String),
    /// An issuer allows an algorithm outside RS256/384/512 and ES256/384.
    #[error("algorithm {0:?} cannot be allowed")]
    Algorithm(String),
    /// A static JWKS could not be parsed.
    #[error("JWKS is invalid: {0}")]
    Jwks(String),
    /// The HTTP client for JWKS fetching could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(String),
}
