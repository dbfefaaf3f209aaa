//! `saas_metrics::extension` against a Lambda Runtime API emulator (tests/support/runtime_api.rs):
//! a real `lambda_runtime` function process, whose handler flushes through the CloudWatch sink to
//! moto (`SAAS_TEST_CLOUDWATCH_ENDPOINT`, the CBOR proxy) behind a proxy that holds every request
//! for 500 ms (tests/support/delay_proxy.rs).
//!
//! - After the response: the caller gets the response long before PutMetricData could have been
//!   answered, PutMetricData reaches CloudWatch only after the response was posted and before the
//!   invocation completes (the extension's next `/event/next`), and the points arrive.
//! - Inline, the same function answers only after PutMetricData: at least the proxy's delay.
//! - Shutdown: points the last invocation could not send are sent at `SIGTERM`, and the process
//!   exits within the 500 ms Lambda gives.
//! - Outside Lambda (no extension running), the after-response sink sends inline.
//!
//! The function process is this test binary run again (`function_process`, with
//! `SAAS_EXTENSION_TEST_FUNCTION` set): `AWS_LAMBDA_RUNTIME_API` and the other variables are
//! process-wide, and `SIGTERM` must reach a process of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod support;

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{StandardUnit, Statistic};
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use saas_core::TenantContext;
use saas_metrics::extension::DEFAULT_EXTENSION_NAME;
use saas_metrics::{CloudWatchSink, Metrics};
use serde_json::{Value, json};

use common::{cloudwatch_client as client, cloudwatch_endpoint};
use support::delay_proxy::{DelayProxy, Mode};
use support::runtime_api::{Outcome, Registration, RuntimeApi};

/// How long the proxy holds each PutMetricData.
const DELAY: Duration = Duration::from_millis(500);
/// The most a response may take with the sink sending after it: far below `DELAY`.
const FAST: Duration = Duration::from_millis(250);
/// What Lambda leaves a function whose extensions are all internal between SIGTERM and SIGKILL.
const SHUTDOWN_BUDGET: Duration = Duration::from_millis(500);

const FUNCTION: &str = "SAAS_EXTENSION_TEST_FUNCTION";
const FUNCTION_CLOUDWATCH: &str = "SAAS_EXTENSION_TEST_CLOUDWATCH";
const FUNCTION_NAMESPACE: &str = "SAAS_EXTENSION_TEST_NAMESPACE";

/// A namespace of its own per test and run.
fn namespace(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("SaasMetricsTest/{test}/{}-{nanos}", std::process::id())
}

/// Sum and SampleCount of `metric` (no dimensions, Count) over the last and next 30 minutes, or
/// None when CloudWatch has no datapoint.
async fn stats(cw: &Client, ns: &str, metric: &str) -> Option<(f64, f64)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = cw
        .get_metric_statistics()
        .namespace(ns)
        .metric_name(metric)
        .start_time(DateTime::from_secs(now - 1800))
        .end_time(DateTime::from_secs(now + 1800))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .unit(StandardUnit::Count)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetMetricStatistics: {}", DisplayErrorContext(e)));
    let points = out.datapoints();
    if points.is_empty() {
        return None;
    }
    let sum = points.iter().map(|p| p.sum().unwrap()).sum();
    let count = points.iter().map(|p| p.sample_count().unwrap()).sum();
    Some((sum, count))
}

/// The function process: runs only when this binary is started by [`Function::start`].
#[test]
fn function_process() {
    let Ok(mode) = std::env::var(FUNCTION) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(function(&mode));
}

/// A function whose handler counts `TodosCreated` (`count` of the payload) for `tenant`,
/// flushes (a failed flush never fails the request), then answers, or fails when `fail` is set.
async fn function(mode: &str) {
    let endpoint = std::env::var(FUNCTION_CLOUDWATCH).unwrap();
    let ns = std::env::var(FUNCTION_NAMESPACE).unwrap();
    let builder = CloudWatchSink::builder(client(&endpoint));
    let (sink, after_response) = match mode {
        "inline" => (builder.build(), None),
        "after-response" => {
            let (sink, after_response) = builder.build_after_response();
            (sink, Some(after_response))
        }
        other => panic!("unknown mode {other}"),
    };
    let metrics = Metrics::builder(&ns)
        .unwrap()
        .tier_dimension(false)
        .sink(sink)
        .build();
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let metrics = metrics.clone();
        async move {
            let tenant = event.payload["tenant"].as_str().unwrap_or("tenant-a");
            let m = metrics.for_tenant(&TenantContext::builder(tenant).build());
            m.count(
                "TodosCreated",
                event.payload["count"].as_f64().unwrap_or(1.0),
            )?;
            if let Err(e) = m.flush().await {
                eprintln!("flush failed: {e}");
            }
            if event.payload["fail"] == true {
                return Err(lambda_runtime::Error::from("the handler failed"));
            }
            Ok::<Value, lambda_runtime::Error>(
                json!({ "ok": true, "request_id": event.context.request_id }),
            )
        }
    });
    let runtime = Runtime::new(handler);
    match after_response {
        Some(after_response) => after_response.run(runtime).await.unwrap(),
        None => runtime.run().await.unwrap(),
    }
}

/// A function process against its own Runtime API emulator.
struct Function {
    api: RuntimeApi,
    child: tokio::process::Child,
    log: tempfile::NamedTempFile,
}

impl Function {
    async fn start(mode: &str, cloudwatch: &str, ns: &str) -> Function {
        let api = RuntimeApi::start().await;
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "function_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(FUNCTION, mode)
            .env(FUNCTION_CLOUDWATCH, cloudwatch)
            .env(FUNCTION_NAMESPACE, ns)
            .env("AWS_LAMBDA_RUNTIME_API", api.host_port())
            .env("AWS_LAMBDA_FUNCTION_NAME", "metrics-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::select! {
            () = api.wait_for_init(Duration::from_secs(60)) => {}
            status = child.wait() => panic!(
                "the function process exited during init: {status:?}\n{}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            ),
        }
        Function { api, child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Shuts the environment down as Lambda does for a function whose extensions are all
    /// internal: SIGTERM, then SIGKILL after [`SHUTDOWN_BUDGET`]. The exit status, or None when
    /// it had to be killed, and how long it took.
    async fn terminate(&mut self) -> (Option<ExitStatus>, Duration) {
        let pid = self.child.id().unwrap().to_string();
        let started = Instant::now();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        match tokio::time::timeout(SHUTDOWN_BUDGET, self.child.wait()).await {
            Ok(status) => (Some(status.unwrap()), started.elapsed()),
            Err(_) => {
                self.child.kill().await.unwrap();
                (None, started.elapsed())
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_response_the_caller_does_not_wait_for_put_metric_data() {
    let Some(endpoint) = cloudwatch_endpoint() else {
        return;
    };
    let proxy = DelayProxy::start(&endpoint, DELAY).await;
    let ns = namespace("after-response");
    let mut function = Function::start("after-response", &proxy.endpoint(), &ns).await;
    // Registered during init, for INVOKE only (SHUTDOWN is refused to internal extensions).
    assert_eq!(
        function.api.registrations(),
        [Registration {
            name: DEFAULT_EXTENSION_NAME.to_owned(),
            events: vec!["INVOKE".to_owned()],
            accepted: true,
        }]
    );

    let cw = client(&endpoint);
    let mut total = 0.0;
    for (i, payload) in [
        json!({ "tenant": "tenant-a", "count": 1 }),
        json!({ "tenant": "tenant-b", "count": 2 }),
        json!({ "tenant": "tenant-a", "count": 3, "fail": true }),
        json!({ "tenant": "tenant-b", "count": 4 }),
    ]
    .into_iter()
    .enumerate()
    {
        let failing = payload["fail"] == true;
        total += payload["count"].as_f64().unwrap();
        let sent_before = proxy.arrivals().len();
        let invoked = function.api.invoke(payload, Duration::from_secs(30)).await;
        let log = function.log();
        eprintln!(
            "after response, invocation {i}: response after {:?}, complete after {:?}",
            invoked.response_after, invoked.complete_after
        );
        match &invoked.outcome {
            Outcome::Response(body) if !failing => {
                assert!(body.contains(&invoked.request_id), "{body}\n{log}");
            }
            Outcome::Error(body) if failing => {
                assert!(body.contains("the handler failed"), "{body}\n{log}");
            }
            other => panic!("invocation {i}: {other:?}\n{log}"),
        }
        assert!(
            invoked.response_after < FAST,
            "invocation {i}: the response took {:?}, PutMetricData is held {DELAY:?}\n{log}",
            invoked.response_after
        );
        // One PutMetricData, sent only once the response was posted, and answered before the
        // extension asked for its next event (before Lambda could freeze the environment).
        let arrivals = proxy.arrivals();
        assert_eq!(arrivals.len(), sent_before + 1, "invocation {i}\n{log}");
        assert!(
            arrivals[sent_before] > invoked.responded_at,
            "invocation {i}"
        );
        assert!(
            invoked.complete_after >= DELAY,
            "invocation {i} complete after {:?}",
            invoked.complete_after
        );
        assert_eq!(
            stats(&cw, &ns, "TodosCreated").await,
            Some((total, (i + 1) as f64)),
            "invocation {i}: the points are in CloudWatch once it is complete"
        );
    }

    let (status, took) = function.terminate().await;
    let log = function.log();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?} after {took:?}\n{log}"
    );
    assert!(
        function.api.errors().is_empty(),
        "{:?}",
        function.api.errors()
    );
    // Nothing was left to send at shutdown.
    assert_eq!(proxy.arrivals().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_the_caller_waits_for_put_metric_data() {
    let Some(endpoint) = cloudwatch_endpoint() else {
        return;
    };
    let proxy = DelayProxy::start(&endpoint, DELAY).await;
    let ns = namespace("inline");
    let function = Function::start("inline", &proxy.endpoint(), &ns).await;
    assert!(function.api.registrations().is_empty());
    for i in 0..2 {
        let invoked = function
            .api
            .invoke(json!({ "count": 2 }), Duration::from_secs(30))
            .await;
        assert!(
            matches!(invoked.outcome, Outcome::Response(_)),
            "{:?}\n{}",
            invoked.outcome,
            function.log()
        );
        eprintln!(
            "inline, invocation {i}: response after {:?}, complete after {:?}",
            invoked.response_after, invoked.complete_after
        );
        assert!(
            invoked.response_after >= DELAY,
            "invocation {i}: the response took {:?}",
            invoked.response_after
        );
        // PutMetricData was answered before the response was posted.
        assert!(proxy.arrivals()[i] < invoked.responded_at);
    }
    assert_eq!(
        stats(&client(&endpoint), &ns, "TodosCreated").await,
        Some((4.0, 2.0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_sigterm_what_the_last_invocation_left_is_sent() {
    let Some(endpoint) = cloudwatch_endpoint() else {
        return;
    };
    let proxy = DelayProxy::start(&endpoint, DELAY).await;
    let ns = namespace("shutdown");
    let mut function = Function::start("after-response", &proxy.endpoint(), &ns).await;
    let cw = client(&endpoint);

    // CloudWatch refuses the send after the response: the points stay buffered.
    proxy.set_mode(Mode::Refuse);
    let invoked = function
        .api
        .invoke(json!({ "count": 5 }), Duration::from_secs(30))
        .await;
    assert!(matches!(invoked.outcome, Outcome::Response(_)));
    assert!(
        invoked.response_after < FAST,
        "{:?}",
        invoked.response_after
    );
    assert_eq!(proxy.arrivals().len(), 1, "{}", function.log());
    assert_eq!(proxy.forwarded(), 0);
    assert_eq!(stats(&cw, &ns, "TodosCreated").await, None);

    // Reachable again (and quick enough for the shutdown budget): SIGTERM sends them.
    proxy.set_mode(Mode::Delay(Duration::from_millis(100)));
    let (status, took) = function.terminate().await;
    let log = function.log();
    assert!(
        status.is_some_and(|s| s.success()),
        "not exited cleanly within {SHUTDOWN_BUDGET:?}: {status:?} after {took:?}\n{log}"
    );
    assert!(
        took >= Duration::from_millis(100),
        "{took:?}: nothing was sent"
    );
    assert_eq!(proxy.forwarded(), 1, "{log}");
    assert_eq!(stats(&cw, &ns, "TodosCreated").await, Some((5.0, 1.0)));
}

#[tokio::test]
async fn without_its_extension_running_the_after_response_sink_sends_inline() {
    let Some(endpoint) = cloudwatch_endpoint() else {
        return;
    };
    let delay = Duration::from_millis(200);
    let proxy = DelayProxy::start(&endpoint, delay).await;
    let ns = namespace("no-extension");
    // Outside Lambda: the extension is never run.
    let (sink, _after_response) =
        CloudWatchSink::builder(client(&proxy.endpoint())).build_after_response();
    let metrics = Metrics::builder(&ns)
        .unwrap()
        .tier_dimension(false)
        .sink(sink.clone())
        .build();
    let m = metrics.for_tenant(&TenantContext::builder("tenant-a").build());
    m.count("TodosCreated", 7.0).unwrap();
    let started = Instant::now();
    m.flush().await.unwrap();
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!((sink.buffered(), proxy.forwarded()), (0, 1));
    assert_eq!(
        stats(&client(&endpoint), &ns, "TodosCreated").await,
        Some((7.0, 1.0))
    );
}
