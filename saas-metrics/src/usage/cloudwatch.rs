//! Reading consumption back from CloudWatch: ListMetrics finds the tenants, GetMetricData sums
//! their figures over the period.

use std::collections::BTreeSet;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat, StatusCode,
};
use aws_smithy_types::DateTime;

use super::{Period, Resource, Usage, UsageError};
use crate::{SERVICE, TENANT_ID};

/// CloudWatch keeps one-hour aggregates for 455 days: the period is read in hours.
const HOUR_MS: i64 = 3_600_000;
/// The most queries one GetMetricData call takes.
const MAX_QUERIES: usize = 500;

/// One tenant's metric (its dimension set) and what a query asks of it.
struct Series {
    tenant: String,
    resource: Resource,
    dimensions: Vec<Dimension>,
}

/// Reads the period's [`crate::consumption`] figures of `namespace` from CloudWatch, one tenant
/// per `tenant_id` dimension value (the consumption metrics carry it unless
/// [`crate::MetricsBuilder::consumption_tenant_dimension`] turned it off; then read the EMF lines
/// with [`super::EmfReader`] instead).
///
/// Only metrics whose dimensions are `tenant_id` and, optionally, `service` are read; with
/// `service` given, only that service's. Summed figures are GetMetricData `Sum`s over the
/// period's hours; storage is the mean of its samples (`Sum` over `SampleCount`). The period
/// must be bounded and fall on whole hours (UTC).
///
/// ```no_run
/// # async fn doc() -> Result<(), saas_metrics::usage::UsageError> {
/// use saas_metrics::usage::{read_cloudwatch, Bill, Period};
///
/// let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let client = aws_sdk_cloudwatch::Client::new(&config);
/// let usage = read_cloudwatch(&client, "TodoApp", Some("todo"), Period::month("2026-11")?).await?;
/// let report = Bill::parse(["compute=1200", "dynamodb-write=310"])?.apportion(&usage);
/// # let _ = report; Ok(()) }
/// ```
pub async fn read_cloudwatch(
    client: &Client,
    namespace: &str,
    service: Option<&str>,
    period: Period,
) -> Result<Usage, UsageError> {
    let (Some(from), Some(to)) = (period.from_ms(), period.to_ms()) else {
        return Err(UsageError::InvalidPeriod(
            "CloudWatch needs a start and an end".into(),
        ));
    };
    if from % HOUR_MS != 0 || to % HOUR_MS != 0 {
        return Err(UsageError::InvalidPeriod(
            "CloudWatch figures are read in whole hours (UTC): start and end on the hour".into(),
        ));
    }
    let series = list_series(client, namespace, service).await?;

    // Per series: Sum, and for storage also SampleCount, so its mean is exact.
    let mut queries = Vec::new();
    for (i, s) in series.iter().enumerate() {
        queries.push((i, "Sum"));
        if s.resource == Resource::Storage {
            queries.push((i, "SampleCount"));
        }
    }
    let mut sums = vec![0.0; series.len()];
    let mut samples = vec![0.0; series.len()];
    for chunk in queries.chunks(MAX_QUERIES) {
        let built: Vec<MetricDataQuery> = chunk
            .iter()
            .enumerate()
            .map(|(q, (i, stat))| {
                let s = &series[*i];
                MetricDataQuery::builder()
                    .id(format!("q{q}"))
                    .return_data(true)
                    .metric_stat(
                        MetricStat::builder()
                            .metric(
                                Metric::builder()
                                    .namespace(namespace)
                                    .metric_name(s.resource.metric().unwrap_or_default())
                                    .set_dimensions(Some(s.dimensions.clone()))
                                    .build(),
                            )
                            .period(3600)
                            .stat(*stat)
                            .build(),
                    )
                    .build()
            })
            .collect();
        let mut next_token = None;
        loop {
            let out = client
                .get_metric_data()
                .set_metric_data_queries(Some(built.clone()))
                .start_time(DateTime::from_millis(from))
                .end_time(DateTime::from_millis(to))
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| cloudwatch_error("GetMetricData", e))?;
            for result in out.metric_data_results() {
                if result.status_code() == Some(&StatusCode::InternalError) {
                    return Err(UsageError::CloudWatch {
                        operation: "GetMetricData",
                        source: format!(
                            "query {} failed: {:?}",
                            result.id().unwrap_or("?"),
                            result.messages()
                        )
                        .into(),
                    });
                }
                let Some((i, stat)) = result
                    .id()
                    .and_then(|id| id.strip_prefix('q')?.parse::<usize>().ok())
                    .and_then(|q| chunk.get(q))
                else {
                    continue;
                };
                let total: f64 = result.values().iter().sum();
                match *stat {
                    "SampleCount" => samples[*i] += total,
                    _ => sums[*i] += total,
                }
            }
            match out.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
    }

    let mut usage = Usage::new(period);
    for (i, s) in series.iter().enumerate() {
        let count = if s.resource == Resource::Storage {
            samples[i]
        } else {
            1.0
        };
        if s.resource == Resource::Storage && count == 0.0 {
            continue;
        }
        usage.record(&s.tenant, s.resource, sums[i], count);
    }
    Ok(usage)
}

/// Every (tenant, consumption metric) series of `namespace` (and `service`, when given).
async fn list_series(
    client: &Client,
    namespace: &str,
    service: Option<&str>,
) -> Result<Vec<Series>, UsageError> {
    let mut series = Vec::new();
    let mut seen = BTreeSet::new();
    for resource in Resource::METERED {
        let Some(name) = resource.metric() else {
            continue;
        };
        let mut filters = vec![DimensionFilter::builder().name(TENANT_ID).build()];
        if let Some(service) = service {
            filters.push(
                DimensionFilter::builder()
                    .name(SERVICE)
                    .value(service)
                    .build(),
            );
        }
        let mut next_token = None;
        loop {
            let out = client
                .list_metrics()
                .namespace(namespace)
                .metric_name(name)
                .set_dimensions(Some(filters.clone()))
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| cloudwatch_error("ListMetrics", e))?;
            for metric in out.metrics() {
                let dims = metric.dimensions();
                let only_ours = dims
                    .iter()
                    .all(|d| matches!(d.name(), Some(TENANT_ID) | Some(SERVICE)));
                let service_ok = service.is_none_or(|want| {
                    dims.iter()
                        .any(|d| d.name() == Some(SERVICE) && d.value() == Some(want))
                });
                let tenant = dims
                    .iter()
                    .find(|d| d.name() == Some(TENANT_ID))
                    .and_then(Dimension::value)
                    .filter(|t| saas_core::TenantId::validate(t).is_ok());
                let (true, true, Some(tenant)) = (only_ours, service_ok, tenant) else {
                    continue;
                };
                let mut key: Vec<(String, String)> = dims
                    .iter()
                    .map(|d| {
                        (
                            d.name().unwrap_or_default().to_owned(),
                            d.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                key.sort();
                if seen.insert((resource, key)) {
                    series.push(Series {
                        tenant: tenant.to_owned(),
                        resource,
                        dimensions: dims.to_vec(),
                    });
                }
            }
            match out.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
    }
    Ok(series)
}

fn cloudwatch_error<E: std::error::Error>(operation: &'static str, e: E) -> UsageError {
    UsageError::CloudWatch {
        operation,
        // The whole chain (service error, dispatch failure, its cause) in one message.
        source: aws_sdk_cloudwatch::error::DisplayErrorContext(e)
            .to_string()
            .into(),
    }
}
