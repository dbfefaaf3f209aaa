//! The todo service's Lambda authorizer (HTTP API, payload 2.0, simple responses): verifies the
//! bearer token against `TODO_ISSUER`'s keys and allows the caller with their identity as context;
//! the service behind decides, per request, which list they may touch.

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{LambdaEvent, service_fn};
use todo::{Config, IdentityConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    saas_core::logging::init()?;
    let config = Config::from_env()?;
    if config.identity == IdentityConfig::Development {
        return Err(
            "TODO_ISSUER must be set: the development issuer lets anyone sign in as anyone".into(),
        );
    }
    let (verifier, _) = todo::verifier(&config, "")?;
    // Beside init, not before the first poll: a request that needs the keys meanwhile waits for
    // this same fetch.
    let prewarm = verifier.clone();
    tokio::spawn(async move {
        if let Err(e) = prewarm.prewarm().await {
            tracing::warn!(error = %e, "JWKS not reachable at cold start; callers are denied until it is");
        }
    });
    let authorizer = todo::authorizer::Authorizer::new(verifier)?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| {
            let authorizer = authorizer.clone();
            async move { Ok::<_, lambda_runtime::Error>(authorizer.authorize(&event.payload).await) }
        },
    ))
    .await
}
