//! A tenant-aware HTTP service on 127.0.0.1, with a local development issuer.
//!
//! Starts a local issuer (its JWKS served on 127.0.0.1), prints two tokens for two tenants, and
//! serves `GET /whoami` behind [`RequireTenantLayer`]: try it with and without a token.
//!
//! ```text
//! cargo run -p saas-core --example local
//! ```
#![allow(clippy::print_stdout, clippy::expect_used)]

use axum::Router;
use axum::routing::get;
use saas_core::test_util::TestIssuer;
use saas_core::{RequireTenantLayer, TenantContext, TenantResolver};

async fn whoami(ctx: TenantContext) -> String {
    tracing::info!("whoami");
    format!(
        "tenant={} role={} tier={} sub={}\n",
        ctx.tenant_id(),
        ctx.role(),
        ctx.tier(),
        ctx.subject().unwrap_or("-")
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    saas_core::logging::init()?;
    let issuer = TestIssuer::start().await?;
    let verifier = issuer.verifier_builder().build()?;
    verifier.prewarm().await?;
    let resolver = TenantResolver::builder().bearer(verifier).build()?;

    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(RequireTenantLayer::new(resolver));

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let a = issuer.token().tenant("tenant-a").role("TenantAdmin").sign();
    let b = issuer.token().tenant("tenant-b").subject("user-2").sign();
    println!("listening on http://{}", listener.local_addr()?);
    println!("\ncurl -s localhost:{port}/whoami -H 'authorization: Bearer {a}'");
    println!("\ncurl -s localhost:{port}/whoami -H 'authorization: Bearer {b}'");
    println!("\ncurl -si localhost:{port}/whoami   # 401\n");
    axum::serve(listener, app).await?;
    Ok(())
}
