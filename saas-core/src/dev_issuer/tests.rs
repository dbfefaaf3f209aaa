#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;

use super::key_file::{pem_encode, publish};

use super::*;
use crate::jwt::JwtError;
use crate::{Resolved, TenantResolver, membership_fn, path_segment};

const ISS: &str = "http://127.0.0.1:3000";

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "saas-core-dev-issuer-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn key_file(&self) -> PathBuf {
        self.0.join(KEY_FILE)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn minted_token_verifies_with_a_verified_email() {
    let dir = TempDir::new();
    let issuer = DevIssuer::open(&dir.0, ISS).unwrap();
    assert!(issuer.generated_key());
    assert_eq!(issuer.audience(), DEFAULT_AUDIENCE);
    let verifier = JwtVerifier::builder()
        .issuer(issuer.issuer_config())
        .build()
        .unwrap();
    let token = issuer.mint("Ann@Example.com").unwrap();

    let claims = verifier.verify(&token).await.unwrap();
    let sub = DevIssuer::subject("ann@example.com").unwrap();
    assert_eq!(sub.len(), 32);
    assert!(sub.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(claims.string("sub"), Some(sub.as_str()));
    assert!(!sub.contains("ann"));
    assert_eq!(claims.string("iss"), Some(ISS));
    assert_eq!(claims.string("aud"), Some(DEFAULT_AUDIENCE));
    assert_eq!(claims.string("token_use"), Some("id"));
    let (iat, exp) = (
        claims.seconds("iat").unwrap(),
        claims.seconds("exp").unwrap(),
    );
    assert_eq!(exp - iat, 3600);

    // Through a resolver, as the todo service will: a route naming no tenant yields the
    // caller's identity, with the email verified.
    let resolver = TenantResolver::builder()
        .bearer(verifier)
        .select_tenant(
            path_segment("lists", 1),
            membership_fn(|_, _| async { Ok::<_, crate::MembershipError>(None) }),
        )
        .build()
        .unwrap();
    let (parts, ()) = http::Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts();
    let Resolved::Identity(identity) = resolver.resolve(&parts).await.unwrap() else {
        panic!("expected an identity");
    };
    assert_eq!(identity.user().verified_email(), Some("ann@example.com"));
    assert_eq!(identity.user().sub, sub);
}

#[test]
fn header_names_the_key_and_the_jwks_has_it() {
    let dir = TempDir::new();
    let issuer = DevIssuer::builder(&dir.0, ISS)
        .audience("my-client")
        .open()
        .unwrap();
    let token = issuer.mint("bob@example.com").unwrap();
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], issuer.kid());

    let jwks: Value = serde_json::from_str(&issuer.jwks_json()).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], issuer.kid());
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    // A SHA-256 thumbprint, base64url without padding.
    assert_eq!(issuer.kid().len(), 43);
}

#[tokio::test]
async fn reopening_keeps_the_key_and_old_tokens_verify() {
    let dir = TempDir::new();
    let first = DevIssuer::open(&dir.0, ISS).unwrap();
    let token = first.mint("ann@example.com").unwrap();
    let file = fs::read(dir.key_file()).unwrap();
    drop(first);

    let second = DevIssuer::open(&dir.0, ISS).unwrap();
    assert!(!second.generated_key());
    assert_eq!(fs::read(dir.key_file()).unwrap(), file);
    let verifier = second.verifier_builder().build().unwrap();
    verifier.verify(&token).await.unwrap();
    assert_eq!(
        DevIssuer::open(&dir.0, ISS).unwrap().kid(),
        second.kid(),
        "the kid is derived from the key"
    );
    assert_eq!(
        second.jwks_json(),
        DevIssuer::open(&dir.0, ISS).unwrap().jwks_json()
    );
}

#[test]
fn key_file_is_pkcs8_pem_and_private() {
    let dir = TempDir::new();
    let nested = dir.0.join("a/b");
    let issuer = DevIssuer::open(&nested, ISS).unwrap();
    assert_eq!(issuer.key_path(), nested.join(KEY_FILE));
    let text = fs::read_to_string(issuer.key_path()).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(text.ends_with("-----END PRIVATE KEY-----\n"));
    assert!(text.lines().all(|l| l.len() <= 64));
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(&nested).unwrap().count(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(issuer.key_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_corrupt_key_file_is_an_error_and_left_untouched() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "not a PEM \"PRIVATE KEY\" block"),
        (b"garbage", "not a PEM \"PRIVATE KEY\" block"),
        (
            b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
            "the PEM body is not base64",
        ),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "",
        ),
        (&[0xff, 0xfe, 0x00], "not UTF-8 text"),
    ];
    for (contents, expected) in cases {
        let dir = TempDir::new();
        fs::write(dir.key_file(), contents).unwrap();
        let err = DevIssuer::open(&dir.0, ISS).unwrap_err();
        let DevIssuerError::CorruptKey { path, reason } = &err else {
            panic!("expected CorruptKey, got {err:?}");
        };
        assert_eq!(path, &dir.key_file());
        if !expected.is_empty() {
            assert_eq!(*reason, expected);
        }
        assert_eq!(fs::read(dir.key_file()).unwrap(), contents);
        assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1);
    }

    // A valid PEM of a key that is not RSA (an EC key) is refused too.
    let dir = TempDir::new();
    let der = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let pem = pem_encode(der.as_ref());
    fs::write(dir.key_file(), &pem).unwrap();
    assert!(matches!(
        DevIssuer::open(&dir.0, ISS),
        Err(DevIssuerError::CorruptKey { .. })
    ));
    assert_eq!(fs::read_to_string(dir.key_file()).unwrap(), pem);
}

#[test]
fn bad_emails_are_typed_errors() {
    let dir = TempDir::new();
    let issuer = DevIssuer::open(&dir.0, ISS).unwrap();
    let long = format!("{}@example.com", "a".repeat(250));
    let cases = [
        ("", EmailError::Empty),
        (long.as_str(), EmailError::TooLong),
        ("ann @example.com", EmailError::ForbiddenCharacter),
        ("ann@example.com\n", EmailError::ForbiddenCharacter),
        ("ann\u{7}@example.com", EmailError::ForbiddenCharacter),
        ("ann.example.com", EmailError::NotOneAt),
        ("ann@b@example.com", EmailError::NotOneAt),
        ("@example.com", EmailError::EmptyLocalPart),
        ("ann@", EmailError::EmptyDomain),
    ];
    for (email, expected) in cases {
        assert_eq!(
            issuer.mint(email),
            Err(MintError::InvalidEmail(expected)),
            "{email:?}"
        );
        assert_eq!(DevIssuer::subject(email), Err(expected), "{email:?}");
    }
    let max = format!("{}@example.com", "a".repeat(MAX_EMAIL_LEN - 12));
    assert_eq!(max.len(), MAX_EMAIL_LEN);
    assert!(issuer.mint(&max).is_ok());
    assert_eq!(
        DevIssuer::subject("Ann@Example.COM"),
        DevIssuer::subject("ann@example.com")
    );
    assert_ne!(
        DevIssuer::subject("ann@example.com"),
        DevIssuer::subject("bob@example.com")
    );
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let dir = TempDir::new();
    let issuer = DevIssuer::open(&dir.0, ISS).unwrap();
    let verifier = issuer.verifier_builder().build().unwrap();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    let expired = issuer
        .token("ann@example.com")
        .issued_at(two_hours_ago)
        .sign()
        .unwrap();
    assert_eq!(
        verifier.verify(&expired).await.unwrap_err(),
        JwtError::Expired
    );
    let short = issuer
        .token("ann@example.com")
        .lifetime(Duration::ZERO)
        .sign()
        .unwrap();
    assert_eq!(
        verifier.verify(&short).await.unwrap_err(),
        JwtError::Expired
    );
}

#[tokio::test]
async fn tokens_of_another_directory_are_refused() {
    let (a, b) = (TempDir::new(), TempDir::new());
    let ours = DevIssuer::open(&a.0, ISS).unwrap();
    let theirs = DevIssuer::open(&b.0, ISS).unwrap();
    assert_ne!(ours.kid(), theirs.kid());
    let verifier = ours.verifier_builder().build().unwrap();
    let token = theirs.mint("ann@example.com").unwrap();
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        JwtError::UnknownKid
    );

    // The same key under another kid still fails: the signature is checked.
    let forged = {
        let mut parts = token.splitn(2, '.');
        let _ = parts.next();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"alg": "RS256", "typ": "JWT", "kid": ours.kid()}).to_string());
        format!("{header}.{}", parts.next().unwrap())
    };
    assert_eq!(
        verifier.verify(&forged).await.unwrap_err(),
        JwtError::BadSignature
    );

    // Another audience is refused as well.
    let other_aud = DevIssuer::builder(&a.0, ISS)
        .audience("other-client")
        .open()
        .unwrap();
    let token = other_aud.mint("ann@example.com").unwrap();
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        JwtError::WrongAudience
    );
}

#[test]
fn bad_configuration_is_refused() {
    let dir = TempDir::new();
    for builder in [
        DevIssuer::builder(&dir.0, ""),
        DevIssuer::builder(&dir.0, ISS).audience(""),
        DevIssuer::builder(&dir.0, ISS).lifetime(Duration::from_millis(500)),
    ] {
        assert!(matches!(builder.open(), Err(DevIssuerError::Config(_))));
    }
    // Nothing was written for a refused configuration.
    assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 0);
}

#[test]
fn lifetime_is_configurable() {
    let dir = TempDir::new();
    let issuer = DevIssuer::builder(&dir.0, ISS)
        .lifetime(Duration::from_secs(600))
        .open()
        .unwrap();
    let token = issuer.mint("ann@example.com").unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert_eq!(claims["email_verified"], true);
}

#[test]
fn a_key_published_first_by_another_process_is_kept() {
    let dir = TempDir::new();
    let first = DevIssuer::open(&dir.0, ISS).unwrap();
    let tmp = dir.0.join("other.tmp");
    fs::write(&tmp, b"x").unwrap();
    assert!(!publish(&tmp, &dir.key_file()).unwrap());
    assert_eq!(DevIssuer::open(&dir.0, ISS).unwrap().kid(), first.kid());
}

#[tokio::test]
async fn extra_claims_are_signed_and_the_issuers_own_cannot_be_replaced() {
    let dir = TempDir::new();
    let issuer = DevIssuer::open(&dir.0, ISS).unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(issuer.issuer_config())
        .build()
        .unwrap();
    let token = issuer
        .token("pam@example.com")
        .claim("custom:tier", "premium")
        .claim("cognito:groups", serde_json::json!(["admins"]))
        .sign()
        .unwrap();
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.string("custom:tier"), Some("premium"));
    assert_eq!(claims.list("cognito:groups"), ["admins"]);
    assert_eq!(claims.string("email"), Some("pam@example.com"));

    for reserved in RESERVED_CLAIMS {
        let refused = issuer
            .token("pam@example.com")
            .claim(*reserved, "forged")
            .sign();
        assert!(
            matches!(refused, Err(MintError::ReservedClaim(name)) if name == *reserved),
            "{reserved}: {refused:?}"
        );
    }
}
