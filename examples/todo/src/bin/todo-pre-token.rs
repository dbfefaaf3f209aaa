//! The Cognito pre-token-generation trigger of the todo service, as its own Lambda: adds the
//! user's lists and roles to their tokens (`memberships`). Reads the service's store
//! (`TODO_STORE=dynamodb`, `TODO_TABLE`).

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    saas_core::logging::init()?;
    let store = todo::open_store(&todo::Config::from_env()?).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let store = store.clone();
        async move {
            todo::pre_token::handle(&store, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
