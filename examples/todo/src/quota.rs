//! The per-list request quota (`TODO_LIST_RPS`): a token bucket per list, so one noisy list is
//! answered 429 while every other list goes on as before.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quick_cache::sync::Cache;
use saas_core::{TenantContext, TenantId};

use crate::error::ApiError;

/// The buckets of the lists seen lately, at most 100,000 (the coldest are forgotten, and their
/// next request finds a full bucket, which is what an idle one would have refilled to anyway).
#[derive(Clone)]
pub(crate) struct ListQuota {
    rps: f64,
    buckets: Arc<Cache<TenantId, Arc<Mutex<Bucket>>>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ListQuota {
    /// `rps` requests per second per list, with bursts of one second's worth.
    pub(crate) fn new(rps: u32) -> ListQuota {
        ListQuota {
            rps: f64::from(rps.max(1)),
            buckets: Arc::new(Cache::new(100_000)),
        }
    }

    /// Takes one request from `list`'s bucket: `Err(wait)` when it is empty.
    pub(crate) fn take(&self, list: &TenantId, now: Instant) -> Result<(), Duration> {
        let full = || {
            Ok::<_, Infallible>(Arc::new(Mutex::new(Bucket {
                tokens: self.rps,
                at: now,
            })))
        };
        let bucket = match self.buckets.get_or_insert_with(list, full) {
            Ok(bucket) => bucket,
            Err(never) => match never {},
        };
        let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rps).min(self.rps);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rps))
        }
    }
}

/// The middleware: inside the tenant layer, on the list routes; a request that names no list
/// passes.
pub(crate) async fn limit(
    State(quota): State<Option<ListQuota>>,
    request: Request,
    next: Next,
) -> Response {
    if let (Some(quota), Some(ctx)) = (&quota, request.extensions().get::<TenantContext>())
        && let Err(wait) = quota.take(ctx.tenant_id(), Instant::now())
    {
        return ApiError::TooManyRequests(wait.as_secs().max(1)).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_a_second_through_then_refills_at_the_rate() {
        let quota = ListQuota::new(5);
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(quota.take(&a, t0).is_ok());
        }
        let wait = quota.take(&a, t0).unwrap_err();
        assert!(
            wait <= Duration::from_millis(200) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another list is not slowed.
        assert!(quota.take(&b, t0).is_ok());
        // 200 ms later one more token is there, and only one.
        let later = t0 + Duration::from_millis(200);
        assert!(quota.take(&a, later).is_ok());
        assert!(quota.take(&a, later).is_err());
    }
}
