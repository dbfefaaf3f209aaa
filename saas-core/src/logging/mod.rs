//! JSON logs for Lambda, with the tenant on every line.

mod span_fields;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};

/// Installs a global `tracing` subscriber that writes one JSON object per line to stdout, as
/// Lambda's JSON log format expects: `timestamp`, `level`, `message`, the event's fields, and
/// `spans` with the fields of every enclosing span (so `tenant.id`, `tenant.tier`, `user.sub` and
/// `aws.request_id` from [`RequireTenantLayer`](crate::RequireTenantLayer) are on every line the
/// handler logs).
///
/// The level comes from `AWS_LAMBDA_LOG_LEVEL` (`TRACE` to `ERROR`, and `FATAL` as `ERROR`), else
/// `RUST_LOG` (a level, or `target=level` directives such as `info,hyper=warn`), else `info`; a
/// value that is neither is `info`. With
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
    let filter = log_filter(&level);
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

/// What `init` keeps of the events, from a level or `target=level` directives (no regex-based
/// span filters, as `EnvFilter` has: that would take the regex engine into every binary).
fn log_filter(level: &str) -> Targets {
    let level = level.trim().to_ascii_lowercase();
    let level = if level == "fatal" { "error" } else { &level };
    level
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO))
}

/// The JSON formatting layer [`init`] uses, to compose with other layers.
pub fn json_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    json_layer_to(std::io::stdout)
}

/// [`json_layer`], writing to `writer`.
fn json_layer_to<S, W>(
    writer: W,
) -> fmt::Layer<S, span_fields::JsonSpanFields, fmt::format::Format<fmt::format::Json>, W>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> fmt::MakeWriter<'w> + 'static,
{
    fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .fmt_fields(span_fields::JsonSpanFields)
        .with_target(true)
        .with_ansi(false)
        .with_writer(writer)
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::log_filter;

    #[test]
    fn levels_and_directives_as_lambda_and_rust_log_spell_them() {
        let info = log_filter("INFO");
        assert!(info.would_enable("app", &Level::INFO));
        assert!(!info.would_enable("app", &Level::DEBUG));
        // Lambda's FATAL is tracing's ERROR.
        let fatal = log_filter("FATAL");
        assert!(fatal.would_enable("app", &Level::ERROR));
        assert!(!fatal.would_enable("app", &Level::WARN));
        let directives = log_filter("debug,hyper=warn");
        assert!(directives.would_enable("app", &Level::DEBUG));
        assert!(!directives.would_enable("hyper::proto", &Level::INFO));
        assert!(directives.would_enable("hyper::proto", &Level::WARN));
        // What cannot be read is the default.
        let unreadable = log_filter("info,=;=");
        assert!(unreadable.would_enable("app", &Level::INFO));
        assert!(!unreadable.would_enable("app", &Level::DEBUG));
    }
}
