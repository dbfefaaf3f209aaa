//! What can go wrong recording or flushing metrics.

use std::fmt;

/// Which kind of name a validation error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameKind {
    /// A CloudWatch namespace.
    Namespace,
    /// A metric name.
    Metric,
    /// A dimension name.
    Dimension,
    /// A dimension value.
    DimensionValue,
    /// A property key.
    Property,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Namespace => "namespace",
            NameKind::Metric => "metric name",
            NameKind::Dimension => "dimension name",
            NameKind::DimensionValue => "dimension value",
            NameKind::Property => "property key",
        })
    }
}

/// An error of this crate. Recording errors are the caller's mistake and name it; nothing was
/// recorded. Flush errors ([`Error::Sink`]) never lose the metrics silently: see each sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A namespace, metric name, dimension or property key breaks CloudWatch's rules.
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidName {
        /// What was named.
        kind: NameKind,
        /// The offending text (cut to 64 characters).
        value: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A value CloudWatch refuses: NaN, infinite, or beyond ±2^360.
    #[error("metric {metric:?}: value {value} is not a finite number within ±2^360")]
    InvalidValue {
        /// The metric.
        metric: String,
        /// The value.
        value: f64,
    },
    /// More dimensions than CloudWatch takes in one set (30).
    #[error("{count} dimensions in one set; CloudWatch takes at most {max}")]
    TooManyDimensions {
        /// How many there would be.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A timestamp CloudWatch refuses: more than 14 days in the past or 2 hours in the future.
    #[error("timestamp is {0}; CloudWatch takes 14 days back to 2 hours ahead")]
    TimestampOutOfRange(&'static str),
    /// One metric recorded with two units or two resolutions under the same dimensions.
    #[error("metric {metric:?} was recorded as {first} and now as {second}")]
    Conflict {
        /// The metric.
        metric: String,
        /// How it was first recorded.
        first: String,
        /// How it is recorded now.
        second: String,
    },
    /// More distinct metrics, values or properties than one invocation may hold; raise the limit
    /// with [`crate::MetricsBuilder::max_values`] if this is intended.
    #[error("more than {0} values recorded in one invocation")]
    TooManyValues(usize),
    /// A flush found nothing to publish and the policy is [`crate::OnEmpty::Error`].
    #[error("no metrics to flush")]
    Empty,
    /// A property whose text alone would not fit in one EMF document.
    #[error("property {key:?} is {size} bytes; the properties of a document must stay under {max}")]
    PropertyTooLarge {
        /// The property key.
        key: String,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A sink could not publish. What it kept for a later flush is in its own report.
    #[error("metrics sink failed: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The Lambda Runtime API or Extensions API failed, so the function cannot go on: returned by
    /// [`crate::extension::AfterResponse::run`] (feature `extension`) when the runtime's loop or
    /// the extension's ends with an error.
    #[error("Lambda {api} failed: {source}")]
    Lambda {
        /// Which loop: `"runtime"` or `"extension"`.
        api: &'static str,
        /// What it returned.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    pub(crate) fn invalid(kind: NameKind, value: &str, reason: &'static str) -> Self {
        Error::InvalidName {
            kind,
            value: value.chars().take(64).collect(),
            reason,
        }
    }
}

/// `Result<T, saas_metrics::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
