//! The todo service's event consumer, as its own Lambda behind an EventBridge rule on the
//! service's events (`source: todo.service`): turns each into its list's activity item. Reads
//! and writes the service's store (`TODO_STORE=dynamodb`, `TODO_TABLE`).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    saas_core::logging::init()?;
    let store = todo::open_store(&todo::Config::from_env()?).await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| {
            let store = store.clone();
            async move {
                todo::events::consume_detail(&store, event.payload.detail)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }
        },
    ))
    .await
}
