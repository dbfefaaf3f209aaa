//! Builds a store per test: in memory, in a file, or on DynamoDB (moto), in the pool, silo or
//! mixed model, with tenants A (basic) and B (premium) ready to use.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use saas_core::{TenantContext, TenantId, Tier};
use saas_data::{Backend, DataStore, DataStoreBuilder, Operation, TableNames, TierPolicy, Usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Memory,
    File,
    Dynamo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Pool,
    Silo,
    Mixed,
}

/// One recorded usage: tenant, operation, read units, write units.
pub(crate) type UsageLog = Arc<Mutex<Vec<(Option<String>, Operation, f64, f64)>>>;

pub(crate) struct Harness {
    pub(crate) engine: Engine,
    pub(crate) layout: Layout,
    pub(crate) store: DataStore,
    pub(crate) backend: Backend,
    pub(crate) a: TenantContext,
    pub(crate) b: TenantContext,
    pub(crate) usage: UsageLog,
    /// Table names of this harness: pool (or None), control, silo prefix.
    pub(crate) pool_table: String,
    pub(crate) prefix: String,
    _dir: Option<tempfile::TempDir>,
}

/// The moto endpoint, or `None` when DynamoDB tests should be skipped.
pub(crate) fn moto_endpoint() -> Option<String> {
    match std::env::var("SAAS_TEST_MOTO_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("SAAS_REQUIRE_MOTO").is_none(),
                "SAAS_REQUIRE_MOTO is set but SAAS_TEST_MOTO_ENDPOINT is not: run scripts/test"
            );
            None
        }
    }
}

pub(crate) fn dynamo_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A name no other test of this run (or an earlier run against the same server) uses.
pub(crate) fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() % 1_000_000_000)
        .unwrap_or(0);
    format!("{prefix}{}-{t}-{n}", std::process::id())
}

pub(crate) fn ctx(tenant: &str, tier: Tier) -> TenantContext {
    TenantContext::builder(tenant).tier(tier).build()
}

impl Harness {
    /// `None` when the engine is DynamoDB and no moto server is configured.
    pub(crate) async fn new(engine: Engine, layout: Layout) -> Option<Harness> {
        let (backend, dir) = match engine {
            Engine::Memory => (Backend::in_memory(), None),
            Engine::File => {
                let dir = tempfile::tempdir().unwrap();
                let backend = Backend::open(dir.path().join("data.redb")).unwrap();
                (backend, Some(dir))
            }
            Engine::Dynamo => {
                let endpoint = moto_endpoint()?;
                let client = dynamo_client(&endpoint);
                (Backend::dynamodb(client), None)
            }
        };
        let prefix = format!("{}-", unique("cf"));
        let pool_table = format!("{prefix}pool");
        let control = format!("{prefix}control");
        let usage: UsageLog = Arc::default();
        let store = builder(&backend, layout, &prefix, &usage).build().unwrap();
        let provisioner = store
            .provisioner()
            .poll_interval(std::time::Duration::from_millis(50));
        match layout {
            Layout::Pool => provisioner.create_table(&pool_table).await.unwrap(),
            Layout::Silo => provisioner.create_table(&control).await.unwrap(),
            Layout::Mixed => {
                provisioner.create_table(&control).await.unwrap();
                provisioner.create_table(&pool_table).await.unwrap();
            }
        }
        let mut harness = Harness {
            engine,
            layout,
            store,
            backend,
            a: ctx("tenant-a", Tier::Basic),
            b: ctx("tenant-b", Tier::Premium),
            usage,
            pool_table,
            prefix,
            _dir: dir,
        };
        harness.a = harness.tenant("tenant-a", Tier::Basic).await;
        harness.b = harness.tenant("tenant-b", Tier::Premium).await;
        Some(harness)
    }

    /// Another store on the same backend and tables, with `f` applied to its builder.
    pub(crate) fn rebuilt(
        &self,
        f: impl FnOnce(DataStoreBuilder) -> DataStoreBuilder,
    ) -> DataStore {
        f(builder(
            &self.backend,
            self.layout,
            &self.prefix,
            &self.usage,
        ))
        .build()
        .unwrap()
    }

    /// A context for `tenant`, with its table or registry entry provisioned as the model needs.
    pub(crate) async fn tenant(&self, tenant: &str, tier: Tier) -> TenantContext {
        let id = TenantId::new(tenant).unwrap();
        match self.layout {
            Layout::Pool => {}
            Layout::Silo => {
                self.store
                    .provisioner()
                    .poll_interval(std::time::Duration::from_millis(50))
                    .create_tenant_table(&id)
                    .await
                    .unwrap();
            }
            Layout::Mixed => {
                self.store
                    .system("conformance test onboarding")
                    .registry()
                    .onboard(&id, tier)
                    .await
                    .unwrap();
            }
        }
        ctx(tenant, tier)
    }
}

/// The harness's store configuration: tables named after `prefix`, usage logged into `usage`.
fn builder(backend: &Backend, layout: Layout, prefix: &str, usage: &UsageLog) -> DataStoreBuilder {
    let log = usage.clone();
    let builder = DataStore::builder(backend.clone())
        .cursor_key([7u8; 32])
        .on_usage(move |u: &Usage<'_>| {
            log.lock().unwrap().push((
                u.tenant.map(|t| t.to_string()),
                u.operation,
                u.capacity.read_units,
                u.capacity.write_units,
            ));
        });
    let names = TableNames::prefix(prefix).unwrap();
    let pool_table = format!("{prefix}pool");
    let control = format!("{prefix}control");
    match layout {
        Layout::Pool => builder.pool(&pool_table),
        Layout::Silo => builder.silo(names).control_table(&control),
        Layout::Mixed => builder
            .mixed(
                &pool_table,
                names,
                TierPolicy::silo_for(&[Tier::Premium, Tier::Platinum]),
            )
            .control_table(&control),
    }
}

/// Runs `case` on a fresh harness, or skips it when the engine is not available.
pub(crate) async fn run<F, Fut>(engine: Engine, layout: Layout, case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    match Harness::new(engine, layout).await {
        Some(h) => case(h).await,
        None => eprintln!("skipping {engine:?}/{layout:?}: SAAS_TEST_MOTO_ENDPOINT is not set"),
    }
}
