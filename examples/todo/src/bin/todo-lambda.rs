//! The todo service on AWS Lambda, behind API Gateway (HTTP API): the same router as the local
//! server, through `lambda_http`. Needs `TODO_ISSUER` (and `TODO_AUDIENCE`), `TODO_STORE=dynamodb`
//! and `TODO_TABLE`; it refuses to start otherwise.

use todo::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    saas_core::logging::init()?;
    // Built once per cold start: verifier (JWKS prewarmed), store client, metrics.
    let config = Config::from_env()?.for_lambda()?;
    let app = todo::build(&config, "").await?;
    lambda_http::run(app.router.clone()).await
}
