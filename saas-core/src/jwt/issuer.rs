//! One trusted issuer: where its keys are and what its tokens must say.

use jsonwebtoken::Algorithm;

/// Which kind of token a Cognito-style issuer must present (`token_use` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenUse {
    /// ID tokens (`token_use: "id"`, audience in `aud`).
    Id,
    /// Access tokens (`token_use: "access"`, audience in `client_id`).
    Access,
}

impl TokenUse {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum JwksSource {
    Url(String),
    Static(String),
}

/// A trusted token issuer: its `iss`, where its JWKS is, which audiences and token uses it
/// accepts, and which algorithms.
///
/// ```
/// use saas_core::jwt::{Issuer, TokenUse};
///
/// // Amazon Cognito: issuer and JWKS URL follow from the region and user pool id.
/// let cognito = Issuer::cognito("eu-west-1", "eu-west-1_AbCdEf123")
///     .audience("5r1h3v0kq0examplec1ient")
///     .token_use(TokenUse::Id);
///
/// // Any OIDC issuer; the JWKS URL can be set apart from the issuer.
/// let oidc = Issuer::oidc("https://login.example.com")
///     .jwks_url("http://127.0.0.1:9000/keys")
///     .audience("api://todo");
/// # let _ = (cognito, oidc);
/// ```
#[derive(Debug, Clone)]
pub struct Issuer {
    pub(crate) iss: String,
    pub(crate) jwks: JwksSource,
    pub(crate) audiences: Vec<String>,
    pub(crate) any_audience: bool,
    pub(crate) token_use: Option<TokenUse>,
    pub(crate) cognito: bool,
    pub(crate) algorithms: Vec<Algorithm>,
}

/// The algorithms a verifier can accept at all. HMAC and `none` are never among them.
pub(crate) const SUPPORTED_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

impl Issuer {
    /// An Amazon Cognito user pool: `iss` is
    /// `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}` and the JWKS is at
    /// `{iss}/.well-known/jwks.json`. Cognito tokens must carry `token_use`; ID tokens are matched
    /// on `aud`, access tokens on `client_id`.
    pub fn cognito(region: &str, user_pool_id: &str) -> Self {
        let mut issuer = Self::oidc(format!(
            "https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        ));
        issuer.cognito = true;
        issuer
    }

    /// Any OIDC issuer. The JWKS is at `{iss}/.well-known/jwks.json` unless
    /// [`jwks_url`](Issuer::jwks_url) says otherwise (discovery documents are not read).
    pub fn oidc(iss: impl Into<String>) -> Self {
        let iss = iss.into();
        let url = format!("{}/.well-known/jwks.json", iss.trim_end_matches('/'));
        Self {
            iss,
            jwks: JwksSource::Url(url),
            audiences: Vec::new(),
            any_audience: false,
            token_use: None,
            cognito: false,
            algorithms: SUPPORTED_ALGORITHMS.to_vec(),
        }
    }

    /// Fetch the JWKS from `url` instead of the issuer's well-known path (for example a local
    /// stand-in whose tokens carry the real issuer).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks = JwksSource::Url(url.into());
        self
    }

    /// Use this JWKS document (JSON) and never fetch: for offline use. Checked when the verifier
    /// is built.
    pub fn jwks(mut self, jwks_json: impl Into<String>) -> Self {
        self.jwks = JwksSource::Static(jwks_json.into());
        self
    }

    /// Accept tokens for this audience (an app client id). Call again to accept several.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accept tokens for any of these audiences.
    pub fn audiences<I, A>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Skip the audience check: a deliberate choice, since any client of the issuer then gets in.
    pub fn any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// Require this `token_use` (ID or access tokens only).
    pub fn token_use(mut self, token_use: TokenUse) -> Self {
        self.token_use = Some(token_use);
        self
    }

    /// Narrow the accepted algorithms (default: RS256, RS384, RS512, ES256, ES384). Others are
    /// refused when the verifier is built.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The issuer (`iss`) this configuration trusts.
    pub fn iss(&self) -> &str {
        &self.iss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cognito_preset() {
        let issuer = Issuer::cognito("us-east-1", "us-east-1_TEST");
        assert_eq!(
            issuer.iss(),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"
        );
        match &issuer.jwks {
            JwksSource::Url(url) => assert_eq!(
                url,
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST/.well-known/jwks.json"
            ),
            JwksSource::Static(_) => panic!("expected a URL"),
        }
        assert!(issuer.cognito);
    }

    #[test]
    fn oidc_trailing_slash() {
        let issuer = Issuer::oidc("https://id.example.com/");
        assert!(
            matches!(&issuer.jwks, JwksSource::Url(u) if u == "https://id.example.com/.well-known/jwks.json")
        );
        assert_eq!(issuer.iss(), "https://id.example.com/");
    }
}
