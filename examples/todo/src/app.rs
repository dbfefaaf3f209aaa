//! Building the service: the store, whom to trust, the tenant layer, the routes.

use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use quick_cache::sync::Cache;
use rustls::client::danger::ServerCertVerifier;
#[cfg(feature = "local")]
pub use saas_core::dev_issuer::DevIssuer;
use saas_core::jwt::{Issuer, JwtVerifier};
use saas_core::{
    Identity, Membership, MembershipError, RequireTenantLayer, TenantId, TenantRejection,
    TenantResolver, Tier, membership_fn, path_segment,
};
use saas_data::{Backend, DataStore, PartitionVersion, TableNames, TierPolicy};

use crate::config::{Config, IdentityConfig, StoreConfig};
use crate::emf_file::EmfFile;
use crate::error::ApiError;
use crate::events::{Bus, Publisher};
use crate::metering::UsageBook;
use crate::model::{MEMBER, MemberRecord, member_key};
use crate::pages::PageCache;
use crate::routes;

/// What the handlers share: built once; a clone is one reference count (axum clones the state
/// for every request). Its fields are [`Shared`]'s. Nothing here belongs to one request; what is
/// kept per list (the usage book, the page cache) is keyed by the list.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The contents of [`AppState`].
pub struct Shared {
    /// The store; handlers reach a list's data only through a scope for its verified context.
    pub store: DataStore,
    /// The development issuer, when the service is its own.
    pub dev: Option<DevIssuer>,
    pub(crate) usage: UsageBook,
    pub(crate) events: Publisher,
    /// Whether lists are placed through the registry (the mixed model).
    pub(crate) registry: bool,
    /// Answered pages of todos, per list and mark of its todos ([`crate::pages`]).
    pub(crate) pages: PageCache,
}

/// The built service: its router, and the task that stores usage (stopped when dropped).
pub struct App {
    /// The routes.
    pub router: Router,
    flusher: tokio::task::JoinHandle<()>,
    publisher: Option<tokio::task::JoinHandle<()>>,
    prewarm: tokio::task::JoinHandle<()>,
    bus: Bus,
    usage: UsageBook,
    store: DataStore,
    /// The local run's buffered `metrics.emf`, and the task that writes it out.
    emf: Option<(EmfFile, tokio::task::JoinHandle<()>)>,
}

impl App {
    /// Stops the background tasks, stores pending usage, delivers pending events and writes out
    /// the buffered metrics.
    pub async fn shutdown(mut self) {
        self.prewarm.abort();
        self.flusher.abort();
        let _ = (&mut self.flusher).await;
        if let Some(publisher) = self.publisher.as_mut() {
            publisher.abort();
            let _ = publisher.await;
        }
        self.usage.flush(&self.store).await;
        while crate::events::deliver(&self.store, &self.bus, crate::events::BACKGROUND_PASS).await {
        }
        // The drop, right after, writes out the buffered metrics.
    }

    fn write_out_metrics(&mut self) {
        if let Some((file, writer)) = &self.emf {
            writer.abort();
            if let Err(e) = file.write_out() {
                tracing::warn!(error = %e, "metrics.emf not written at shutdown");
            }
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.prewarm.abort();
        self.flusher.abort();
        if let Some(publisher) = &self.publisher {
            publisher.abort();
        }
        self.write_out_metrics();
    }
}

/// How often pending usage is stored.
const USAGE_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

/// The tiers whose lists get a table of their own when the mixed model is on
/// ([`Config::silo`](crate::Config::silo)); the owner's tier at creation decides.
pub const SILO_TIERS: &[Tier] = &[Tier::Premium, Tier::Platinum];

/// The table the embedded store and the local run use.
pub const LOCAL_TABLE: &str = "todo";

/// The development issuer: not in a build without the `local` feature, where no value of it
/// exists and [`AppState::dev`] is always `None`.
#[cfg(not(feature = "local"))]
#[derive(Debug, Clone)]
pub enum DevIssuer {}

#[cfg(not(feature = "local"))]
impl DevIssuer {
    pub(crate) fn mint(&self, _email: &str) -> Result<String, std::convert::Infallible> {
        match *self {}
    }

    pub(crate) fn jwks_json(&self) -> String {
        match *self {}
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The development issuer's key.
    #[cfg(feature = "local")]
    #[error("development issuer: {0}")]
    DevIssuer(#[from] saas_core::dev_issuer::DevIssuerError),
    /// The configuration needs a part this build leaves out (built without the `local`
    /// feature, as the Lambda binaries are).
    #[error("{0} is not in this build (the `local` feature is off)")]
    NotBuiltIn(&'static str),
    /// The verifier's configuration.
    #[error("verifier: {0}")]
    Verifier(#[from] saas_core::jwt::ConfigError),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] saas_data::Error),
    /// The tenant resolver.
    #[error("resolver: {0}")]
    Resolver(#[from] saas_core::NoSourceError),
    /// The metrics configuration.
    #[error("metrics: {0}")]
    Metrics(String),
    /// The data directory or the listener.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// The service's store for `config`: the embedded file store in the data directory (its table
/// created on first use), or DynamoDB. Every usage report goes to the request meter.
pub async fn open_store(config: &Config) -> Result<DataStore, StartError> {
    let sdk = match config.store {
        StoreConfig::Dynamodb { .. } => Some(load_sdk_config().await),
        StoreConfig::Embedded => None,
    };
    open_store_with(config, sdk.as_ref()).await
}

/// The AWS SDK's configuration, the standard way (`AWS_REGION`, `AWS_ENDPOINT_URL`, the
/// credentials of the function's role): loaded once per process, for every client.
async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// [`open_store`], with DynamoDB's client made from `sdk` (required for
/// [`StoreConfig::Dynamodb`]; loaded here if `None`).
async fn open_store_with(
    config: &Config,
    sdk: Option<&aws_config::SdkConfig>,
) -> Result<DataStore, StartError> {
    std::fs::create_dir_all(&config.data_dir)?;
    let cursor_key = match &config.cursor_key {
        Some(key) => key.as_bytes().to_vec(),
        None => crate::secret::load_or_create(&config.data_dir.join("cursor.key"))?,
    };
    let (backend, table) = match &config.store {
        #[cfg(feature = "local")]
        StoreConfig::Embedded => (
            Backend::open(config.data_dir.join("store.redb"))?,
            LOCAL_TABLE.to_owned(),
        ),
        #[cfg(not(feature = "local"))]
        StoreConfig::Embedded => return Err(StartError::NotBuiltIn("the embedded store")),
        StoreConfig::Dynamodb { table } => {
            let client = match sdk {
                Some(sdk) => aws_sdk_dynamodb::Client::new(sdk),
                None => aws_sdk_dynamodb::Client::new(&load_sdk_config().await),
            };
            (Backend::dynamodb(client), table.clone())
        }
    };
    let builder = DataStore::builder(backend);
    let builder = match &config.silo {
        None => builder.pool(table.clone()),
        Some(silo) => builder
            .mixed(
                table.clone(),
                TableNames::prefix(&silo.prefix)?,
                TierPolicy::silo_for(SILO_TIERS),
            )
            .control_table(silo.registry_table.clone()),
    };
    let store = builder
        .cursor_key(cursor_key)
        .on_usage(crate::metering::on_usage)
        .build()?;
    if config.store == StoreConfig::Embedded {
        // The local tables are the deployment's business on AWS; here they are ours.
        store.provisioner().create_table(&table).await?;
        if let Some(silo) = &config.silo {
            store
                .provisioner()
                .create_table(&silo.registry_table)
                .await?;
        }
    }

    Ok(store)
}

/// Whom `config` trusts: the configured issuer's verifier, or the development issuer (signing
/// as `public_url`) and its verifier.
pub fn verifier(
    config: &Config,
    public_url: &str,
) -> Result<(JwtVerifier, Option<DevIssuer>), StartError> {
    Ok(match &config.identity {
        #[cfg(feature = "local")]
        IdentityConfig::Development => {
            let dev = DevIssuer::open(&config.data_dir, public_url)?;
            (dev.verifier_builder().build()?, Some(dev))
        }
        #[cfg(not(feature = "local"))]
        IdentityConfig::Development => {
            let _ = public_url;
            return Err(StartError::NotBuiltIn(
                "the development issuer (TODO_ISSUER is not set)",
            ));
        }
        IdentityConfig::Issuer {
            issuer,
            jwks_url,
            audiences,
        } => {
            let verifier = JwtVerifier::builder()
                .issuer(
                    Issuer::oidc(issuer.clone())
                        .jwks_url(jwks_url.clone())
                        .audiences(audiences.iter().cloned()),
                )
                .http_client(jwks_client()?)
                .build()?;
            (verifier, None)
        }
    })
}

/// The JWKS fetches' HTTP client: the timeouts of the verifier's own (5 s, connect 2 s) and the
/// same TLS (rustls on aws-lc-rs, the system's root certificates through
/// `rustls-platform-verifier`, HTTP/1.1), except that the root certificates are read at the
/// first TLS handshake instead of when the client is built. Reading them (`/etc/ssl/certs`)
/// is most of a client's cost, and the SDK's client reads them at init already: so init reads
/// them once, and this client only when it first fetches over HTTPS — in the prewarm, which runs
/// beside init.
fn jwks_client() -> Result<reqwest::Client, StartError> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| StartError::Verifier(saas_core::jwt::ConfigError::HttpClient(e.to_string())))?
        .dangerous() // Not dangerous: the platform verifier, built at first use.
        .with_custom_certificate_verifier(std::sync::Arc::new(LazyPlatformVerifier {
            provider,
            verifier: std::sync::OnceLock::new(),
        }))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(2))
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| StartError::Verifier(saas_core::jwt::ConfigError::HttpClient(e.to_string())))
}

/// `rustls_platform_verifier::Verifier` (what reqwest uses by default), made at the first
/// certificate to check: making it reads the system's root certificates.
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
    verifier: std::sync::OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl LazyPlatformVerifier {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        // What the platform verifier answers (its WebPKI verifier's, from the provider), without
        // making it: this is asked for the ClientHello, before any certificate is seen.
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The service for `config`, its development issuer (if any) signing as `public_url`.
pub async fn build(config: &Config, public_url: &str) -> Result<App, StartError> {
    // The verifier first, and its JWKS prewarm spawned, not awaited: the fetch runs beside the
    // rest of init and the first poll for an event. A request that needs the keys before the
    // fetch is done waits for that same fetch (the verifier merges them); if it failed, the
    // request answers 503 and the keys are fetched again after the cooldown.
    #[cfg(not(feature = "local"))]
    if config.web_dir.is_some() {
        return Err(StartError::NotBuiltIn(
            "serving the web client (TODO_WEB_DIR)",
        ));
    }
    let (verifier, dev) = verifier(config, public_url)?;
    let prewarm = tokio::spawn({
        let verifier = verifier.clone();
        async move {
            if let Err(e) = verifier.prewarm().await {
                tracing::warn!(error = %e, "JWKS not reachable at start; requests answer 503 until it is");
            }
        }
    });

    // One SDK configuration for DynamoDB and EventBridge.
    let sdk = match (&config.store, &config.event_bus) {
        (StoreConfig::Embedded, None) => None,
        _ => Some(load_sdk_config().await),
    };
    let store = open_store_with(config, sdk.as_ref()).await?;

    // Where no background task runs between requests (Lambda), events go out with the request.
    let bus = match (&config.event_bus, &sdk) {
        (Some(bus), Some(sdk)) => Bus::EventBridge {
            client: aws_sdk_eventbridge::Client::new(sdk),
            bus: bus.clone(),
        },
        _ => Bus::Local,
    };
    let (events, publisher) = if config.flush_usage_each_request {
        (Publisher::inline(store.clone(), bus.clone()), None)
    } else {
        let (events, task) = Publisher::spawn(store.clone(), bus.clone());
        (events, Some(task))
    };
    let state = AppState(Arc::new(Shared {
        store,
        dev,
        usage: UsageBook::default(),
        events,
        registry: config.silo.is_some(),
        pages: PageCache::default(),
    }));
    let (emf_sink, emf_file) = emf_sink(config)?;
    let emf_writer = emf_file.as_ref().map(EmfFile::spawn_writer);
    let metrics = saas_metrics::Metrics::builder("TodoApp")
        .and_then(|b| b.service("todo"))
        .map_err(|e| StartError::Metrics(e.to_string()))?
        .sink(emf_sink)
        .on_empty(saas_metrics::OnEmpty::Skip)
        .build();
    // Behind API Gateway, its authorizer's context (JWT authorizer, or todo-authorizer) comes
    // first; clients cannot forge it. Anywhere else there is none and the token is verified here.
    let resolver = TenantResolver::builder()
        .api_gateway_authorizer()
        .bearer(verifier)
        .select_tenant(path_segment("lists", 1), lookup(state.store.clone()))
        .build()?;
    let tenant_layer = RequireTenantLayer::new(resolver).on_rejection(rejection);
    let quota = config.list_rps.map(crate::quota::ListQuota::new);
    let flusher = state.usage.spawn_flusher(state.store.clone(), USAGE_FLUSH);
    Ok(App {
        usage: state.usage.clone(),
        store: state.store.clone(),
        router: routes::router(
            state,
            tenant_layer,
            quota,
            metrics,
            config.flush_usage_each_request,
            config.web_dir.as_deref(),
        ),
        flusher,
        publisher,
        prewarm,
        bus,
        emf: emf_file.zip(emf_writer),
    })
}

/// EMF lines: to `metrics.emf` in the data directory for a local run (`saas-usage --emf` reads
/// it; buffered, [`EmfFile`]), to stdout on Lambda, each invocation's before its response.
fn emf_sink(config: &Config) -> Result<(saas_metrics::Sink, Option<EmfFile>), StartError> {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        return Ok((saas_metrics::Sink::emf_stdout(), None));
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.data_dir.join("metrics.emf"))?;
    let file = EmfFile::new(file);
    Ok((saas_metrics::Sink::emf_writer(file.clone()), Some(file)))
}

/// The membership lookup: a list id chosen in the path is authorised against the list's member
/// record for the caller's verified email, so a revocation takes effect on the next request. No
/// verified email, or no record, is no membership.
///
/// Answers are kept per mark of the list's `member` partition ([`saas_data::PartitionVersion`],
/// read before the record): any acknowledged write to the list's members (an invitation, a new
/// role, a removal, the list's deletion) changes the mark, so a kept answer is never used after a
/// change it does not show. The mark names the list's own partition, so one list's answer never
/// stands for another's. On DynamoDB there is no mark, and every lookup reads the record.
fn lookup(store: DataStore) -> impl saas_core::MembershipLookup + 'static {
    let store = Arc::new(store);
    let known: Arc<Cache<(PartitionVersion, String), Option<Membership>>> =
        Arc::new(Cache::new(MEMBERSHIPS_KEPT));
    membership_fn(move |identity: Identity, list: TenantId| {
        let store = store.clone();
        let known = known.clone();
        async move {
            let Some(email) = identity.user().verified_email() else {
                return Ok(None);
            };
            let email = email.to_lowercase();
            let Ok(key) = member_key(&email) else {
                return Ok(None);
            };
            let members = store.system("membership lookup").tenant(&list);
            let cached_as = match members.partition_version(MEMBER).await {
                Ok(mark) => mark.map(|mark| (mark, email)),
                Err(saas_data::Error::TenantNotProvisioned(_)) => return Ok(None),
                Err(e) => return Err(MembershipError::new(e)),
            };
            if let Some(answer) = cached_as.as_ref().and_then(|key| known.get(key)) {
                return Ok(answer);
            }
            let answer = match members.get::<MemberRecord>(&key).await {
                Ok(member) => Some(Membership::new(
                    member.item().role.role(),
                    member.item().tier,
                )),
                Err(saas_data::Error::NotFound) => None,
                // No such list: none the registry places (not kept: nothing marks its return).
                Err(saas_data::Error::TenantNotProvisioned(_)) => return Ok(None),
                Err(e) => return Err(MembershipError::new(e)),
            };
            if let Some(key) = cached_as {
                known.insert(key, answer);
            }
            Ok(answer)
        }
    })
}

/// At most this many (list, caller) answers are kept; the coldest go first.
const MEMBERSHIPS_KEPT: usize = 100_000;

/// The contract's answers for the tenant layer's refusals: a non-member learns nothing (404).
fn rejection(r: &TenantRejection) -> http::Response<String> {
    let error = match r {
        TenantRejection::NotAMember => ApiError::NotFound,
        r if r.status() == http::StatusCode::UNAUTHORIZED => ApiError::Unauthenticated,
        r if r.status() == http::StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
        r if r.status() == http::StatusCode::FORBIDDEN => ApiError::NotFound,
        _ => ApiError::Internal,
    };
    let body = saas_core::ErrorBody::new(error.code(), error.to_string()).to_json();
    let (parts, _) = error.into_response().into_parts();
    http::Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JWKS client's lazily made verifier does verify: a server whose certificate no root
    /// vouches for (a fresh self-signed one for `localhost`, made here) is refused at the
    /// handshake.
    #[tokio::test]
    async fn the_jwks_client_refuses_an_untrusted_certificate() {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = acceptor.accept(stream).await;
            }
        });
        let client = jwks_client().unwrap();
        let err = client
            .get(format!("https://localhost:{port}/jwks.json"))
            .send()
            .await
            .unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains("InvalidCertificate("), "{text}");
        server.abort();
    }

    /// Built without `local` (as the Lambda binaries are), each local part the configuration
    /// asks for is refused at start with what it is, never served.
    #[cfg(not(feature = "local"))]
    #[tokio::test]
    async fn without_local_the_local_parts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let refused = |config: Config| async move {
            match build(&config, "http://127.0.0.1:1").await {
                Err(StartError::NotBuiltIn(what)) => what,
                Err(other) => panic!("{other}"),
                Ok(_) => panic!("started"),
            }
        };
        let local = Config::local(dir.path());
        assert!(refused(local.clone()).await.contains("development issuer"));

        let mut with_issuer = local.clone();
        with_issuer.identity = IdentityConfig::Issuer {
            issuer: "http://127.0.0.1:1".into(),
            jwks_url: "http://127.0.0.1:1/jwks.json".into(),
            audiences: vec!["app".into()],
        };
        assert!(
            refused(with_issuer.clone())
                .await
                .contains("embedded store")
        );

        let mut with_web = with_issuer;
        with_web.web_dir = Some(dir.path().to_owned());
        assert!(refused(with_web).await.contains("web client"));
    }
}
