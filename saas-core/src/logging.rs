//! JSON logs for Lambda, with the tenant on every line.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};
use tracing_subscriber::{EnvFilter, fmt};

/// Installs a global `tracing` subscriber that writes one JSON object per line to stdout, as
/// Lambda's JSON log format expects: `timestamp`, `level`, `message`, the event's fields, and
/// `spans` with the fields of every enclosing span (so `tenant.id`, `tenant.tier`, `user.sub` and
/// `aws.request_id` from [`RequireTenantLayer`](crate::RequireTenantLayer) are on every line).
///
/// The level comes from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`. With
/// `AWS_LAMBDA_LOG_FORMAT=Text` it writes plain text instead. Call it once in `main`; a second
/// call is an error, never a panic. Binaries install subscribers, libraries never do.
///
/// ```no_run
/// saas_core::logging::init()?;
/// tracing::info!("cold start");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn init() -> Result<(), TryInitError> {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter =
        EnvFilter::try_new(level.to_ascii_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    let registry = tracing_subscriber::registry().with(filter);
    if text {
        registry
            .with(fmt::layer().with_ansi(false).with_target(false))
            .try_init()
    } else {
        registry.with(json_layer()).try_init()
    }
}

/// The JSON formatting layer [`init`] uses, to compose with other layers.
pub fn json_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(true)
        .with_ansi(false)
}
