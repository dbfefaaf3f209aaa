//! A development issuer (feature `dev-issuer`): **for local development only**.
//!
//! [`DevIssuer`] lets a service run on a laptop without an identity provider: it mints RS256 ID
//! tokens for any email it is given, signed with an RSA key kept in the service's data directory,
//! and publishes the public key as a JWKS. Anyone who can reach the service's `/dev/token` route
//! can sign in as anyone, so never enable this feature (or serve those routes) in a deployed
//! service: trust a real issuer ([`Issuer::cognito`], [`Issuer::oidc`]) there.
//!
//! The key lives in [`KEY_FILE`] (`dev-issuer-key.pem`) inside the directory given to
//! [`DevIssuer::open`]: an unencrypted PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`) holding
//! an RSA key (2048 bits when generated here), readable with `openssl pkey -in
//! dev-issuer-key.pem -noout -text`. When the file is absent a new key is generated and written
//! atomically (a temporary file in the same directory, mode `0600` on unix, then published under
//! the final name without replacing a file another process wrote first). A file that is present
//! but not such a key is an error ([`DevIssuerError::CorruptKey`]) and is left as it is: delete
//! it to start over (every token minted so far then stops verifying). The `kid` is the key's
//! RFC 7638 JWK thumbprint, so it stays the same across restarts and tokens minted before a
//! restart still verify.
//!
//! A service serves two routes with it: `POST /dev/token {"email"}` answering
//! `{"id_token": issuer.mint(email)?}` (400 for a [`MintError::InvalidEmail`]), and
//! `GET /.well-known/jwks.json` answering [`DevIssuer::jwks_json`]. Its verifier trusts
//! [`DevIssuer::issuer_config`], which carries the JWKS itself and fetches nothing.
//!
//! ```
//! use saas_core::dev_issuer::DevIssuer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("saas-core-dev-issuer-doc-{}", std::process::id()));
//! // Loads dir/dev-issuer-key.pem, or creates it (and dir) on the first run.
//! let issuer = DevIssuer::builder(&dir, "http://127.0.0.1:3000")
//!     .audience("todo-local")
//!     .open()?;
//! let verifier = issuer.verifier_builder().build()?;
//!
//! let token = issuer.mint("Ann@Example.com")?; // POST /dev/token
//! let jwks = issuer.jwks_json(); // GET /.well-known/jwks.json
//! # assert!(jwks.contains(issuer.kid()));
//!
//! let claims = verifier.verify(&token).await?;
//! assert_eq!(claims.string("email"), Some("ann@example.com"));
//! assert_eq!(claims.boolean("email_verified"), Some(true));
//! assert_eq!(claims.string("sub"), Some(DevIssuer::subject("ann@example.com")?.as_str()));
//!
//! // A restart reads the same key: same kid, and earlier tokens still verify.
//! let restarted = DevIssuer::open(&dir, "http://127.0.0.1:3000")?;
//! assert_eq!(restarted.kid(), issuer.kid());
//! restarted.verifier_builder().build()?.verify(&token).await?;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use serde_json::{Map, Value, json};

use crate::jwt::{Algorithm, Issuer, JwtVerifier, JwtVerifierBuilder, TokenUse};
use crate::rsa_key::{self, RsaKey};

/// The name of the key file inside the directory given to [`DevIssuer::open`].
pub const KEY_FILE: &str = "dev-issuer-key.pem";

/// The audience (`aud`, the client id) of minted tokens unless
/// [`DevIssuerBuilder::audience`] says otherwise.
pub const DEFAULT_AUDIENCE: &str = "todo-local";

/// How long minted tokens are valid unless [`DevIssuerBuilder::lifetime`] says otherwise: one
/// hour.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The longest email [`DevIssuer::mint`] accepts, in bytes.
pub const MAX_EMAIL_LEN: usize = 254;

/// Why a [`DevIssuer`] could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevIssuerError {
    /// The configuration is unusable (an empty issuer or audience, a lifetime under a second).
    #[error("dev issuer: {0}")]
    Config(&'static str),
    /// The data directory or the key file could not be read or written.
    #[error("dev issuer: cannot {action} {}", path.display())]
    Io {
        /// What was being done (`"read"`, `"create"`, ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The key file exists but does not hold an unencrypted PKCS#8 PEM RSA key. It is left
    /// untouched: fix or delete it.
    #[error(
        "dev issuer: {} is not an unencrypted PKCS#8 PEM RSA key ({reason}); fix or delete it",
        path.display()
    )]
    CorruptKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A new key could not be generated or serialised.
    #[error("dev issuer: RSA key generation failed")]
    KeyGeneration,
}

/// Why an email cannot be signed in with. The message never repeats the email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// The email is empty.
    #[error("email is empty")]
    Empty,
    /// The email is longer than [`MAX_EMAIL_LEN`] bytes.
    #[error("email is longer than {MAX_EMAIL_LEN} bytes")]
    TooLong,
    /// The email contains whitespace or a control character.
    #[error("email contains whitespace or a control character")]
    ForbiddenCharacter,
    /// The email does not contain exactly one `@`.
    #[error("email must contain exactly one '@'")]
    NotOneAt,
    /// Nothing before the `@`.
    #[error("email has an empty local part")]
    EmptyLocalPart,
    /// Nothing after the `@`.
    #[error("email has an empty domain")]
    EmptyDomain,
}

/// Why a token could not be minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The email is not acceptable (a 400 for the caller).
    #[error(transparent)]
    InvalidEmail(#[from] EmailError),
    /// The signature could not be made.
    #[error("dev issuer: signing failed")]
    Signing,
    /// [`DevTokenBuilder::claim`] named a claim the issuer sets itself.
    #[error("dev issuer: the {0} claim is the issuer's to set")]
    ReservedClaim(&'static str),
}

/// The claims a [`DevIssuer`] sets itself, which [`DevTokenBuilder::claim`] cannot change.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "sub",
    "email",
    "email_verified",
    "token_use",
    "iat",
    "exp",
    "nbf",
];

/// A development issuer: mints ID tokens for an email and publishes its JWKS, with a key kept in
/// a data directory. **For local development only**; see the [module docs](self).
///
/// Cheap to clone (one `Arc`); share it between the `/dev/token` and JWKS routes.
#[derive(Clone)]
pub struct DevIssuer(Arc<Inner>);

struct Inner {
    iss: String,
    audience: String,
    lifetime: Duration,
    kid: String,
    key: RsaKey,
    key_path: PathBuf,
    generated: bool,
}

impl fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuer")
            .field("iss", &self.0.iss)
            .field("audience", &self.0.audience)
            .field("kid", &self.0.kid)
            .field("key_path", &self.0.key_path)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Opens the issuer `iss` with its key in `dir` (see [`KEY_FILE`]), with the default
    /// audience and lifetime: the same as `DevIssuer::builder(dir, iss).open()`.
    pub fn open(dir: impl Into<PathBuf>, iss: impl Into<String>) -> Result<Self, DevIssuerError> {
        Self::builder(dir, iss).open()
    }

    /// Starts a configuration for the issuer `iss` (the `iss` claim of its tokens, typically the
    /// service's own base URL) whose key is kept in `dir`.
    pub fn builder(dir: impl Into<PathBuf>, iss: impl Into<String>) -> DevIssuerBuilder {
        DevIssuerBuilder {
            dir: dir.into(),
            iss: iss.into(),
            audience: DEFAULT_AUDIENCE.into(),
            lifetime: DEFAULT_LIFETIME,
        }
    }

    /// The issuer (`iss`) of its tokens.
    pub fn iss(&self) -> &str {
        &self.0.iss
    }

    /// The audience (`aud`) of its tokens.
    pub fn audience(&self) -> &str {
        &self.0.audience
    }

    /// The key's id (`kid`): its RFC 7638 JWK thumbprint, stable across restarts.
    pub fn kid(&self) -> &str {
        &self.0.kid
    }

    /// The key file.
    pub fn key_path(&self) -> &Path {
        &self.0.key_path
    }

    /// Whether [`open`](DevIssuerBuilder::open) generated the key (there was no key file), so a
    /// service can say so in its logs.
    pub fn generated_key(&self) -> bool {
        self.0.generated
    }

    /// The JWKS document (`{"keys":[..]}`) with the public key, to serve at
    /// `GET /.well-known/jwks.json`.
    pub fn jwks_json(&self) -> String {
        json!({ "keys": [self.0.key.jwk(&self.0.kid)] }).to_string()
    }

    /// This issuer as a verifier's [`Issuer`]: its `iss`, its JWKS given inline (nothing is
    /// fetched), its audience, ID tokens only, RS256 only.
    pub fn issuer_config(&self) -> Issuer {
        Issuer::oidc(self.0.iss.clone())
            .jwks(self.jwks_json())
            .audience(self.0.audience.clone())
            .token_use(TokenUse::Id)
            .algorithms([Algorithm::RS256])
    }

    /// A verifier builder that trusts this issuer ([`issuer_config`](Self::issuer_config)).
    pub fn verifier_builder(&self) -> JwtVerifierBuilder {
        JwtVerifier::builder().issuer(self.issuer_config())
    }

    /// An ID token for `email`, issued now, valid for the configured lifetime: the same as
    /// `self.token(email).sign()`. See [`DevTokenBuilder`] for the claims.
    pub fn mint(&self, email: &str) -> Result<String, MintError> {
        self.token(email).sign()
    }

    /// A token for `email` to adjust before signing (issue time, lifetime). The email is checked
    /// when it is signed.
    pub fn token(&self, email: &str) -> DevTokenBuilder {
        DevTokenBuilder {
            issuer: self.clone(),
            email: email.to_owned(),
            issued_at: None,
            lifetime: self.0.lifetime,
            extra: Map::new(),
        }
    }

    /// The `sub` of the tokens minted for `email`: the first 16 bytes of the SHA-256 of the
    /// lowercased email, as 32 lowercase hex digits. The same for every issuer and every run;
    /// not the email itself.
    pub fn subject(email: &str) -> Result<String, EmailError> {
        normalize_email(email).map(|email| subject_of(&email))
    }
}

/// Configuration for a [`DevIssuer`]; see [`DevIssuer::builder`].
///
/// Defaults: audience [`DEFAULT_AUDIENCE`], lifetime [`DEFAULT_LIFETIME`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DevIssuerBuilder {
    dir: PathBuf,
    iss: String,
    audience: String,
    lifetime: Duration,
}

impl DevIssuerBuilder {
    /// The audience (`aud`, a client id) of minted tokens, which the
    /// [`issuer_config`](DevIssuer::issuer_config) accepts.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// How long minted tokens are valid (at least one second; whole seconds count).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Loads the key from the directory, or generates it and writes it there (creating the
    /// directory) when the key file is absent. Blocking file I/O: call it at startup.
    pub fn open(self) -> Result<DevIssuer, DevIssuerError> {
        if self.iss.is_empty() {
            return Err(DevIssuerError::Config("the issuer (iss) is empty"));
        }
        if self.audience.is_empty() {
            return Err(DevIssuerError::Config("the audience is empty"));
        }
        if self.lifetime.as_secs() == 0 {
            return Err(DevIssuerError::Config(
                "the token lifetime is under one second",
            ));
        }
        let key_path = self.dir.join(KEY_FILE);
        let (key, generated) = match read_key(&key_path)? {
            Some(key) => (key, false),
            None => create_key(&self.dir, &key_path)?,
        };
        Ok(DevIssuer(Arc::new(Inner {
            iss: self.iss,
            audience: self.audience,
            lifetime: self.lifetime,
            kid: key.thumbprint(),
            key,
            key_path,
            generated,
        })))
    }
}

/// An ID token being made by a [`DevIssuer`]; see [`DevIssuer::token`].
///
/// Header: `alg` `RS256`, `typ` `JWT`, `kid` the issuer's. Claims: `iss`, `aud`, `sub`
/// ([`DevIssuer::subject`]), `email` (lowercased), `email_verified: true`, `token_use: "id"`,
/// `iat`, `exp` (`iat` plus the lifetime).
#[must_use]
pub struct DevTokenBuilder {
    issuer: DevIssuer,
    email: String,
    issued_at: Option<SystemTime>,
    lifetime: Duration,
    extra: Map<String, Value>,
}

impl fmt::Debug for DevTokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevTokenBuilder")
            .field("iss", &self.issuer.0.iss)
            .field("issued_at", &self.issued_at)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl DevTokenBuilder {
    /// The issue time (`iat`; default now). With a time far enough in the past the token is
    /// already expired, which is how tests make one.
    pub fn issued_at(mut self, at: SystemTime) -> Self {
        self.issued_at = Some(at);
        self
    }

    /// How long this token is valid, from its issue time (default: the issuer's lifetime). Zero
    /// makes a token that is expired when issued.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Adds a claim of your own, such as an administrator-set attribute (`custom:tier`) or
    /// groups (`cognito:groups`), as a real issuer would put it. The claims the issuer sets
    /// ([`RESERVED_CLAIMS`]) cannot be changed: [`sign`](Self::sign) refuses them.
    ///
    /// ```
    /// use saas_core::dev_issuer::{DevIssuer, MintError};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("saas-core-dev-claim-doc-{}", std::process::id()));
    /// let issuer = DevIssuer::open(&dir, "http://127.0.0.1:3000")?;
    /// let premium = issuer.token("pam@example.com").claim("custom:tier", "premium").sign()?;
    /// assert_eq!(premium.split('.').count(), 3);
    /// let forged = issuer.token("pam@example.com").claim("email", "root@example.com").sign();
    /// assert!(matches!(forged, Err(MintError::ReservedClaim(name)) if name == "email"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Checks the email and signs the token (compact JWS).
    pub fn sign(self) -> Result<String, MintError> {
        if let Some(reserved) = RESERVED_CLAIMS
            .iter()
            .find(|name| self.extra.contains_key(**name))
        {
            return Err(MintError::ReservedClaim(reserved));
        }
        let email = normalize_email(&self.email)?;
        let inner = &*self.issuer.0;
        let iat = unix_seconds(self.issued_at.unwrap_or_else(SystemTime::now));
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let exp = iat.saturating_add(lifetime);

        let mut header = Map::new();
        header.insert("alg".into(), "RS256".into());
        header.insert("typ".into(), "JWT".into());
        header.insert("kid".into(), inner.kid.clone().into());

        let mut claims = self.extra;
        claims.insert("iss".into(), inner.iss.clone().into());
        claims.insert("aud".into(), inner.audience.clone().into());
        claims.insert("sub".into(), subject_of(&email).into());
        claims.insert("email".into(), Value::String(email));
        claims.insert("email_verified".into(), true.into());
        claims.insert("token_use".into(), "id".into());
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), exp.into());

        let message = rsa_key::signing_input(header, claims);
        let signature = inner
            .key
            .sign("RS256", message.as_bytes())
            .map_err(|_| MintError::Signing)?;
        Ok(rsa_key::compact(&message, &signature))
    }
}

fn unix_seconds(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The lowercased email, if it has the basic shape of an address.
fn normalize_email(email: &str) -> Result<String, EmailError> {
    if email.is_empty() {
        return Err(EmailError::Empty);
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(EmailError::TooLong);
    }
    let email = email.to_lowercase();
    // Lowercasing can lengthen some non-ASCII characters.
    if email.len() > MAX_EMAIL_LEN {
        return Err(EmailError::TooLong);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EmailError::ForbiddenCharacter);
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(EmailError::NotOneAt);
    };
    if local.is_empty() {
        return Err(EmailError::EmptyLocalPart);
    }
    if domain.is_empty() {
        return Err(EmailError::EmptyDomain);
    }
    Ok(email)
}

/// The `sub` for an already normalised email.
fn subject_of(email: &str) -> String {
    use fmt::Write as _;
    let hash = digest::digest(&digest::SHA256, email.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in hash.as_ref().iter().take(16) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

mod key_file;
#[cfg(test)]
mod tests;

use key_file::{create_key, read_key};
