//! The cases: set-up, the sanity checks, and the op each one times.

use std::future::Future;
use std::io::{self, Write};
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use saas_core::jwt::{Issuer, JwtVerifier, TokenUse};
use saas_core::{ClaimMapping, Role, TenantContext, TenantResolver, Tier, extract};
use saas_metrics::{Metrics, Sink};
use serde_json::{Map, Value, json};

use crate::BenchError;
use crate::measure::{Params, Rep, measure};

/// What `gen_fixtures.py` wrote.
pub(crate) struct Fixture {
    token: String,
    jwks: String,
    region: String,
    user_pool_id: String,
    client_id: String,
    tenant_id: String,
}

impl Fixture {
    pub(crate) fn read(dir: &Path) -> Result<Fixture, BenchError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| BenchError::Io {
                path: path.display().to_string(),
                source,
            })
        };
        let meta: Value =
            serde_json::from_str(&read("fixture.json")?).map_err(|source| BenchError::Json {
                what: "fixture.json",
                source,
            })?;
        let field = |name: &'static str| {
            meta[name]
                .as_str()
                .map(str::to_owned)
                .ok_or(BenchError::Fixture(name))
        };
        Ok(Fixture {
            token: read("token.txt")?.trim().to_owned(),
            jwks: read("jwks.json")?,
            region: field("region")?,
            user_pool_id: field("user_pool_id")?,
            client_id: field("client_id")?,
            tenant_id: field("tenant_id")?,
        })
    }

    /// The token with one byte of its signature changed.
    fn tampered(&self) -> String {
        let mut bytes = self.token.clone().into_bytes();
        let at = bytes.len().saturating_sub(5);
        if let Some(b) = bytes.get_mut(at) {
            *b = if *b == b'A' { b'B' } else { b'A' };
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The token's claims, as API Gateway's JWT authorizer passes them to the function: every
    /// value a string.
    fn authorizer_claims(&self) -> Result<Map<String, Value>, BenchError> {
        let payload = self
            .token
            .split('.')
            .nth(1)
            .ok_or(BenchError::Fixture("token.txt is not a JWT"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| BenchError::Fixture("the token's payload is not base64url"))?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&bytes).map_err(|source| BenchError::Json {
                what: "the token's payload",
                source,
            })?;
        Ok(claims
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (name, Value::String(text))
            })
            .collect())
    }
}

/// The fixture's tokens carry no role or tier claim: the teams' mapping then names defaults.
fn mapping() -> ClaimMapping {
    ClaimMapping::default()
        .default_role(Role::TenantUser)
        .default_tier(Tier::Basic)
}

/// One case's figures and labels.
pub(crate) struct CaseResult {
    library: String,
    operation: &'static str,
    group: &'static str,
    reps: Vec<Rep>,
    params: Params,
    emf_document_bytes: Option<usize>,
}

impl CaseResult {
    pub(crate) fn to_json(&self, case: &str) -> Value {
        let reps: Vec<Value> = self
            .reps
            .iter()
            .map(|r| json!({"us_per_op": r.us_per_op, "iterations": r.iterations}))
            .collect();
        let mut doc = json!({
            "case": case,
            "stack": "Rust",
            "library": self.library,
            "operation": self.operation,
            "group": self.group,
            "primary": true,
            "reps": reps,
            "params": self.params.to_json(),
        });
        if let Some(bytes) = self.emf_document_bytes {
            doc["emf_document_bytes"] = json!(bytes);
        }
        doc
    }
}

/// Runs `case` on `fixture`.
pub(crate) fn run(case: &str, fixture: &Fixture) -> Result<CaseResult, BenchError> {
    let params = Params::from_env();
    let core = format!("saas-core {}", env!("CARGO_PKG_VERSION"));
    let result = |library: String, operation, group, reps| CaseResult {
        library,
        operation,
        group,
        reps,
        params,
        emf_document_bytes: None,
    };
    match case {
        "saas-core-verify" => {
            let (resolver, verifier) = resolver(fixture, false)?;
            check_resolver(&resolver, fixture)?;
            let reps = measure(params, || token_op(&resolver, fixture))?;
            let checks = verifier.stats().signature_checks;
            if checks < reps.iter().map(|r| r.iterations).sum() {
                return Err(BenchError::Check(format!(
                    "the cold case checked only {checks} signatures"
                )));
            }
            Ok(result(
                core,
                "JWT verify + TenantContext, token cache off: RS256 check, iss/aud/token_use/exp, claims to context",
                "jwt",
                reps,
            ))
        }
        "saas-core-verify-repeat" => {
            let (resolver, verifier) = resolver(fixture, true)?;
            check_resolver(&resolver, fixture)?;
            let reps = measure(params, || token_op(&resolver, fixture))?;
            // The tampered token of the check and the fixture's: one signature check each.
            let checks = verifier.stats().signature_checks;
            if checks != 2 {
                return Err(BenchError::Check(format!(
                    "the repeat case checked {checks} signatures, not 2"
                )));
            }
            Ok(result(
                core,
                "JWT verify + TenantContext of a token seen before (verified-token cache: SHA-256, lookup, exp/nbf again)",
                "jwt",
                reps,
            ))
        }
        "saas-core-authorizer-claims" => {
            let mapping = mapping();
            let event = authorizer_event(fixture.authorizer_claims()?)?;
            check_authorizer(&event, &mapping, fixture)?;
            let reps = measure(params, || {
                extract::from_apigw_v2(std::hint::black_box(&event), &mapping)
                    .is_ok_and(|ctx| ctx.tenant_id() == fixture.tenant_id.as_str())
            })?;
            Ok(result(
                core,
                "TenantContext from an HTTP API event's JWT authorizer claims (no signature: API Gateway checked it)",
                "jwt-claims",
                reps,
            ))
        }
        "saas-metrics-emf" => emf_case(fixture, params),
        other => Err(BenchError::UnknownCase(other.to_owned())),
    }
}

/// A Cognito verifier for the fixture's pool and client, keys already in memory.
fn resolver(fixture: &Fixture, cache: bool) -> Result<(TenantResolver, JwtVerifier), BenchError> {
    let mut builder = JwtVerifier::builder().issuer(
        Issuer::cognito(&fixture.region, &fixture.user_pool_id)
            .jwks(fixture.jwks.clone())
            .audience(fixture.client_id.clone())
            .token_use(TokenUse::Id),
    );
    if !cache {
        builder = builder
            .token_cache_ttl(Duration::ZERO)
            .rejection_cache_ttl(Duration::ZERO);
    }
    let verifier = builder
        .build()
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let resolver = TenantResolver::builder()
        .bearer(verifier.clone())
        .claim_mapping(mapping())
        .build()
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok((resolver, verifier))
}

/// The op of the two verify cases: the fixture's tenant from its token.
fn token_op(resolver: &TenantResolver, fixture: &Fixture) -> bool {
    match ready(resolver.context_from_token(std::hint::black_box(&fixture.token))) {
        Some(Ok(ctx)) => ctx.tenant_id() == fixture.tenant_id.as_str(),
        _ => false,
    }
}

fn check_resolver(resolver: &TenantResolver, fixture: &Fixture) -> Result<(), BenchError> {
    if !token_op(resolver, fixture) {
        return Err(BenchError::Check(
            "the fixture's token does not give its tenant".into(),
        ));
    }
    match ready(resolver.context_from_token(&fixture.tampered())) {
        Some(Err(_)) => Ok(()),
        Some(Ok(_)) => Err(BenchError::Check("a tampered token was accepted".into())),
        None => Err(BenchError::Check("a verify waited on a warm JWKS".into())),
    }
}

/// An HTTP API (v2) event whose JWT authorizer passed `claims`.
fn authorizer_event(claims: Map<String, Value>) -> Result<ApiGatewayV2httpRequest, BenchError> {
    serde_json::from_value(json!({
        "version": "2.0",
        "routeKey": "GET /lists",
        "rawPath": "/lists",
        "requestContext": {
            "http": {"method": "GET"},
            "authorizer": {"jwt": {"claims": claims, "scopes": null}},
        },
    }))
    .map_err(|source| BenchError::Json {
        what: "the authorizer event",
        source,
    })
}

fn check_authorizer(
    event: &ApiGatewayV2httpRequest,
    mapping: &ClaimMapping,
    fixture: &Fixture,
) -> Result<(), BenchError> {
    match extract::from_apigw_v2(event, mapping) {
        Ok(ctx) if ctx.tenant_id() == fixture.tenant_id.as_str() => {}
        other => {
            return Err(BenchError::Check(format!(
                "the authorizer's claims gave {other:?}"
            )));
        }
    }
    let mut claims = fixture.authorizer_claims()?;
    claims.remove(mapping.tenant());
    match extract::from_apigw_v2(&authorizer_event(claims)?, mapping) {
        Err(_) => Ok(()),
        Ok(ctx) => Err(BenchError::Check(format!(
            "claims without a tenant gave {ctx:?}"
        ))),
    }
}

const EMF_NAMES: [&str; 10] = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"];

/// The peers' EMF document: namespace `bench`, dimension set `[["service"]]`, the tenant a
/// property.
fn emf_metrics(sink: Sink) -> Result<Metrics, BenchError> {
    let setup = |e: saas_metrics::Error| BenchError::Setup(e.to_string());
    Ok(Metrics::builder("bench")
        .map_err(setup)?
        .service("bench")
        .map_err(setup)?
        .tier_dimension(false)
        .sink(sink)
        .build())
}

/// One invocation: its `TenantMetrics`, 10 counters, one flush.
fn emf_invocation(metrics: &Metrics, ctx: &TenantContext) -> bool {
    let m = metrics.for_tenant(ctx);
    for (i, name) in EMF_NAMES.iter().enumerate() {
        if m.count(name, i as f64).is_err() {
            return false;
        }
    }
    matches!(ready(m.flush()), Some(Ok(())))
}

fn emf_case(fixture: &Fixture, params: Params) -> Result<CaseResult, BenchError> {
    // The context a handler has: from the fixture's token.
    let (resolver, _) = resolver(fixture, true)?;
    let ctx = match ready(resolver.context_from_token(&fixture.token)) {
        Some(Ok(ctx)) => ctx,
        other => return Err(BenchError::Check(format!("no context: {other:?}"))),
    };
    let buffer = SharedBuffer::default();
    if !emf_invocation(&emf_metrics(Sink::emf_writer(buffer.clone()))?, &ctx) {
        return Err(BenchError::Check("the checked invocation failed".into()));
    }
    let bytes = check_emf(&buffer.take(), &fixture.tenant_id)?;
    let metrics = emf_metrics(Sink::emf_writer(io::sink()))?;
    let reps = measure(params, || {
        emf_invocation(std::hint::black_box(&metrics), std::hint::black_box(&ctx))
    })?;
    Ok(CaseResult {
        library: format!("saas-metrics {}", env!("CARGO_PKG_VERSION")),
        operation: "EMF: for_tenant(ctx), 10 count() + the tenant property, flush: one document written (io::sink())",
        group: "metrics",
        reps,
        params,
        emf_document_bytes: Some(bytes),
    })
}

/// The peers' check of an EMF output: one document, a timestamp, the 10 metrics (unit Count)
/// under `[["service"]]`, their values, `service` and the tenant property. Returns its size.
fn check_emf(out: &[u8], tenant: &str) -> Result<usize, BenchError> {
    let fail = |what: String| Err(BenchError::Check(format!("EMF: {what}")));
    let text = String::from_utf8_lossy(out);
    let docs: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let [line] = docs.as_slice() else {
        return fail(format!("{} documents: {text}", docs.len()));
    };
    let doc: Value = serde_json::from_str(line).map_err(|source| BenchError::Json {
        what: "the EMF document",
        source,
    })?;
    let aws = &doc["_aws"];
    if !aws["Timestamp"].is_u64() {
        return fail(format!("no timestamp in {line}"));
    }
    let directive = &aws["CloudWatchMetrics"][0];
    if directive["Dimensions"] != json!([["service"]]) || directive["Namespace"] != "bench" {
        return fail(format!("namespace or dimensions in {line}"));
    }
    let mut names: Vec<&str> = directive["Metrics"]
        .as_array()
        .map(|defs| {
            defs.iter()
                .filter(|d| d["Unit"] == "Count")
                .filter_map(|d| d["Name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    names.sort_unstable();
    if names != EMF_NAMES {
        return fail(format!("metric definitions in {line}"));
    }
    for (i, name) in EMF_NAMES.iter().enumerate() {
        if doc[name].as_f64() != Some(i as f64) {
            return fail(format!("the value of {name} in {line}"));
        }
    }
    if doc["service"] != "bench" || doc["tenant_id"] != tenant {
        return fail(format!("service or tenant in {line}"));
    }
    Ok(line.len())
}

/// A writer into a shared buffer, to look at one invocation's output.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Polls a future once: the work measured here never waits (keys in memory, the EMF sink
/// writes synchronously); `None` if it would.
fn ready<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future)
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
